"""Figures 1 and 2 of section 3.4, drawn from the tidy rows of :mod:`msht.analysis.describe`.

Figures are :class:`matplotlib.figure.Figure` objects made without ``pyplot``, so building one
changes no global state (no backend is chosen) and shows nothing by itself. :func:`save` writes
PNG and SVG files with fixed metadata, so two runs give the same files; :func:`show` displays the
saved PNG in a notebook, so the notebook shows exactly the file the report embeds.
"""

from __future__ import annotations

import math
from pathlib import Path
from collections.abc import Sequence
from typing import Final

import matplotlib as mpl
import pandas as pd
from IPython.display import Image
from matplotlib.figure import Figure

from msht.base import vocab
from msht.analysis.describe import PERIOD_SPLIT_YEAR
from msht.base.formats import fmt_count, fmt_pct_n

#: Okabe-Ito colours (distinguishable with colour-vision deficiency).
COLOURS: Final[dict[str, str]] = {
    "offered_by_year": "#0072B2",
    "accepted_by_year": "#E69F00",
    "positive": "#009E73",
    "negative": "#D55E00",
    "not_determined": "#999999",
    "later_period": "#F0F0F0",
    "text": "#333333",
}

#: Figure 1's series labels.
SERIES_LABELS: Final[dict[str, str]] = {
    "offered_by_year": "Offered support (% of cases with an offer status recorded)",
    "accepted_by_year": "Accepted support (% of cases offered support)",
}

#: File names (without extension) of the figures in ``<results_dir>/figures/``.
FIG1_NAME: Final[str] = "fig1_offers_by_year"
FIG2_NAME: Final[str] = "fig2_engagement"


def _style(ax) -> None:  # type: ignore[no-untyped-def]
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(colors=COLOURS["text"])
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
    ax.set_axisbelow(True)


def offers_by_year(rows: pd.DataFrame, *, split_year: int = PERIOD_SPLIT_YEAR) -> Figure:
    """Figure 1: per year of referral, the share of cases in which the victim was offered support
    and the share of offers accepted, with the years from ``split_year`` on shaded.

    ``rows`` are :func:`msht.analysis.describe.support_by_year` rows (``level`` is the year); years
    without cases leave a gap. The y axis starts at 0.
    """
    fig = Figure(figsize=(8, 4.6), layout="constrained")
    ax = fig.add_subplot()
    years = sorted({int(y) for y in rows["level"]})
    if years and years[-1] >= split_year:
        ax.axvspan(max(split_year, years[0]) - 0.5, years[-1] + 0.5, color=COLOURS["later_period"], zorder=0)
        ax.axvline(split_year - 0.5, color=COLOURS["text"], linestyle="--", linewidth=1)
    wide = (
        rows[rows["variable"].isin(list(SERIES_LABELS))]
        .assign(year=lambda f: f["level"].astype(int))
        .pivot(index="year", columns="variable", values="pct")
        .reindex(columns=list(SERIES_LABELS))
        .astype(float)
    )
    for variable, label in SERIES_LABELS.items():
        series = wide[variable]
        other = wide.drop(columns=variable).max(axis=1)
        ax.plot(wide.index, series, marker="o", color=COLOURS[variable], label=label, linewidth=2)
        for year, share in series.dropna().items():
            above = not share < other.get(year, math.nan)  # label on the side away from the other line
            ax.annotate(f"{share:.1f}%", (year, share), textcoords="offset points", xytext=(0, 7 if above else -14),
                        ha="center", fontsize=8, color=COLOURS[variable])
    top = float(wide.max().max()) if wide.notna().any().any() else 0.0
    ymax = max(10.0, math.ceil(top * 1.25 / 10) * 10)
    ax.set_ylim(0, ymax)
    if years:
        ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
        ax.set_xticks(years, [str(y) for y in years])
        if years[0] < split_year <= years[-1]:
            ax.text(split_year - 0.6, ymax * 0.97, f"Before {split_year}", ha="right", va="top", fontsize=9, color=COLOURS["text"])
            ax.text(split_year - 0.4, ymax * 0.97, f"{split_year} and later", ha="left", va="top", fontsize=9, color=COLOURS["text"])
    ax.set_xlabel("Year of referral")
    ax.set_ylabel("% of cases")
    _style(ax)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1, frameon=False, fontsize=9)
    return fig


def engagement_levels(rows: pd.DataFrame) -> Figure:
    """Figure 2: the distribution of engagement levels (positive, negative, not determined) among
    the cases not recorded as investigation ongoing or no crime, with a note of those left out.

    ``rows`` are :func:`msht.analysis.describe.engagement_rows` rows.
    """
    levels = rows[rows["variable"] == "engagement_level"].set_index("level").reindex(vocab.levels("engagement_level"))
    excluded = rows[rows["variable"] == "engagement_excluded"].set_index("level")["n"]
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.add_subplot()
    labels = [vocab.label("engagement_level", lv) for lv in levels.index]
    positions = list(range(len(labels)))[::-1]
    shares = levels["pct"].fillna(0.0).to_numpy()
    ax.barh(positions, shares, color=[COLOURS[lv] for lv in levels.index], height=0.6)
    marks = levels["display"].fillna("") if "display" in levels.columns else pd.Series("", index=levels.index)
    for y, share, n, d, mark in zip(positions, shares, levels["n"], levels["denominator"], marks):
        # a share hidden by disclosure control is drawn as no bar, labelled with its mark
        ax.text(share + 1, y, fmt_pct_n(n, d, display=mark), va="center", fontsize=9, color=COLOURS["text"])
    ax.set_yticks(positions, labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of cases (excluding investigations ongoing and no-crime cases)")
    _style(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.6)
    total = fmt_count(levels["denominator"].dropna().iloc[0]) if levels["denominator"].notna().any() else (
        "[c]" if "denominator_suppressed" in levels.columns and levels["denominator_suppressed"].any() else "0")
    ex_rows = rows[rows["variable"] == "engagement_excluded"].set_index("level")
    ex_marks = ex_rows["display"] if "display" in ex_rows.columns else pd.Series("", index=ex_rows.index)
    ongoing, no_crime = (fmt_count(excluded.get(lv, 0), ex_marks.get(lv, "")) for lv in ("ongoing", "no_crime"))
    note = f"N={total} cases. Left out: {ongoing} with the investigation ongoing, {no_crime} recorded as no crime."
    fig.text(0.01, 0.0, note, fontsize=8, color=COLOURS["text"], ha="left", va="bottom")
    fig.get_layout_engine().set(rect=(0, 0.06, 1, 0.94))
    return fig


def save(fig: Figure, folder: Path, name: str, *, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``<folder>/<name>.png`` and ``.svg`` (fixed metadata and SVG ids, so the
    files are the same on every run); return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    with mpl.rc_context({"svg.hashsalt": name, "svg.fonttype": "none"}):
        fig.savefig(png, dpi=dpi, metadata={"Software": None})
        fig.savefig(svg, metadata={"Date": None, "Creator": None})
    return [png, svg]


def show(paths: Sequence[Path], *, width: int = 800) -> Image:
    """Display the PNG among ``paths`` (as returned by :func:`save`) at ``width`` pixels."""
    png = next((p for p in paths if p.suffix == ".png"), None)
    if png is None:
        raise ValueError(f"no .png file among {[str(p) for p in paths]}")
    return Image(filename=str(png), width=width)
