"""Forest plot of the 2×2 tests' odds ratios with 95% CIs, one panel per outcome (matplotlib).

:func:`forest_frame` returns exactly the numbers :func:`forest_plot` draws, so they can be
unit-tested; both read ``association_tests.csv`` (:func:`msht.analysis.associate.test_table`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Final

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, NullLocator
import pandas as pd
from matplotlib.figure import Figure

from msht.base import vocab
from msht.analysis.associate import NOT_COMPUTABLE

#: Candidate x ticks of the log axis (those inside the plotted range are drawn).
TICKS: Final[tuple[float, ...]] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)

#: Columns of :func:`forest_frame`.
FOREST_COLUMNS: Final[tuple[str, ...]] = (
    "outcome", "factor", "label", "odds_ratio", "ci_low", "ci_high", "q_bh", "significant_bh", "row",
)


def _contrast(factor: str, contrast: str) -> str:
    first, second = contrast.split(" vs ")
    return f"{vocab.finding_label(factor, first)} vs {vocab.finding_label(factor, second)}"


def forest_frame(tests: pd.DataFrame) -> pd.DataFrame:
    """The odds ratios the forest plot draws: one row per computable 2×2 test.

    ``label`` names the contrast ("Males vs Females": odds of the outcome's positive level in the
    first level over the second); ``row`` is the vertical position shared by all panels (0 at the
    top, in Appendix 4's factor order); ``significant_bh`` is false where the q-value is missing.
    """
    ok = (tests["test_chosen"] != NOT_COMPUTABLE) & tests["odds_ratio"].notna()
    sub = tests[ok]
    order = {f: i for i, f in enumerate(vocab.APPENDIX4_FACTORS)}
    outcome_order = {o: i for i, o in enumerate(vocab.OUTCOMES)}
    sub = sub.assign(_o=sub["outcome"].map(outcome_order), _f=sub["factor"].map(order)).sort_values(["_o", "_f"])
    frame = pd.DataFrame({
        "outcome": sub["outcome"].to_numpy(),
        "factor": sub["factor"].to_numpy(),
        "label": [_contrast(f, c) for f, c in zip(sub["factor"], sub["or_contrast"], strict=True)],
        "odds_ratio": sub["odds_ratio"].astype(float).to_numpy(),
        "ci_low": sub["or_ci_low"].astype(float).to_numpy(),
        "ci_high": sub["or_ci_high"].astype(float).to_numpy(),
        "q_bh": sub["q_bh"].astype(float).to_numpy(),
        "significant_bh": sub["significant_bh"].fillna(False).astype(bool).to_numpy(),
    })
    factors = [f for f in vocab.APPENDIX4_FACTORS if f in set(frame["factor"])]
    frame["row"] = frame["factor"].map({f: i for i, f in enumerate(factors)}).astype(int)
    return frame[list(FOREST_COLUMNS)]


def log_odds_axis(ax, lo: float, hi: float, candidates: tuple[float, ...] = TICKS) -> None:  # type: ignore[no-untyped-def]
    """Give ``ax`` a log x axis from ``lo`` to ``hi`` with the odds-ratio ticks of ``candidates``
    (default :data:`TICKS`) in that range, labelled plainly (``0.5``, ``2``), no minor ticks."""
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ticks = [t for t in candidates if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])


def forest_plot(frame: pd.DataFrame, outcomes: tuple[str, ...] = vocab.OUTCOMES) -> Figure:
    """Draw :func:`forest_frame` output: one panel per outcome, odds ratios on a log axis with
    their 95% CIs, a dashed line at 1, filled markers where the BH q-value is below alpha."""
    labels = frame.drop_duplicates("row").sort_values("row")[["row", "label"]]
    n_rows = max(len(labels), 1)
    fig, axes = plt.subplots(1, len(outcomes), sharey=True, figsize=(3.4 * len(outcomes) + 2.8, 0.36 * n_rows + 1.4))
    axes = np.atleast_1d(axes)
    finite = frame[["ci_low", "ci_high"]].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo, hi = (finite.min() / 1.3, finite.max() * 1.3) if finite.size else (0.1, 10.0)
    for ax, outcome in zip(axes, outcomes, strict=True):
        sub = frame[frame["outcome"] == outcome]
        err = np.vstack([sub["odds_ratio"] - sub["ci_low"], sub["ci_high"] - sub["odds_ratio"]])
        ax.errorbar(sub["odds_ratio"], sub["row"], xerr=err, fmt="none", ecolor="#475569", elinewidth=1, capsize=2)
        sig = sub["significant_bh"].to_numpy(dtype=bool)
        ax.scatter(sub["odds_ratio"][sig], sub["row"][sig], marker="s", color="#1d4ed8", zorder=3, s=22,
                   label="BH q < α")
        ax.scatter(sub["odds_ratio"][~sig], sub["row"][~sig], marker="s", facecolor="white", edgecolor="#1d4ed8",
                   zorder=3, s=22, label="BH q ≥ α")
        ax.axvline(1.0, color="#94a3b8", linestyle="--", linewidth=0.8)
        log_odds_axis(ax, lo, hi)
        ax.set_title(vocab.variable_label(outcome), fontsize=9)
        ax.set_xlabel("Odds ratio (95% CI), log scale", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_yticks(labels["row"].to_numpy(), [textwrap.fill(t, 42) for t in labels["label"]])
    axes[0].set_ylim(n_rows - 0.5, -0.5)
    axes[-1].legend(fontsize=7, loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, figures_dir: Path, name: str) -> tuple[Path, Path]:
    """Save ``fig`` as ``<name>.png`` (150 dpi) and ``<name>.svg`` (no date, so reruns are identical)."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    png, svg = figures_dir / f"{name}.png", figures_dir / f"{name}.svg"
    with plt.rc_context({"svg.hashsalt": name}):
        fig.savefig(png, dpi=150, bbox_inches="tight")
        fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})
    return png, svg
