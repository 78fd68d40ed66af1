"""Forces compared (issue 19): forest plots, funnel plots, display tables and their disclosure control.

Reads the results of :mod:`msht.analysis.stratified` (``forces_pooled``, ``forces_odds_ratios``,
``forces_funnel``). Figures are :class:`matplotlib.figure.Figure` objects made without ``pyplot``
(as :mod:`msht.publish.figures`); save them with :func:`msht.publish.figures.save`, whose fixed
metadata and SVG ids make the files byte-stable.

Disclosure control (``min_cell_count`` = m > 1), reusing :mod:`msht.publish.sdc`
-----------------------------------------------------------------------------
* **Per-force odds ratios** (:func:`protect_odds_ratios`): each force's cells of a factor ×
  outcome are exactly that force's Appendix 4 block (``n`` = a or c, ``denominator`` = a + b or
  c + d), so they are protected by :func:`msht.publish.sdc.protect_associations`, force by force
  (with the ``accepted``-within-``offered`` link). A hidden count hides the cells computed from it
  (``b = (a + b) - a``); a row with any hidden cell has its odds ratio and CI withheld (they would
  give the cells back); its ``n`` is hidden when a denominator is. Notebook 05 passes the forces'
  protected Appendix 4 instead (``appendix4``), so a cell is hidden exactly where the Appendix 4 cell
  it is computed from is, whatever further cells a release's audit chose there.
* **Pooled rows** (:func:`protect_pooled`): in a release, a factor is pooled across the forces
  whose block of the factor is published only (notebook 05 passes
  :func:`msht.publish.forces_tables.withheld_blocks` to :func:`msht.analysis.stratified.stratified_tests`;
  the note names the forces left out), so its statistics are computed from published counts. Their ``n`` is hidden when a
  pooled force's ``n`` is (the difference would give it back) and shown as ``"<m"`` when it is from
  1 to m-1. Their statistics are withheld when a pooled force has a hidden cell in the comparison
  (for a three-level factor's generalized CMH: in any comparison of the factor, of any force,
  also one whose comparison is not computable, since the generalized CMH still uses it) or the pooled ``n``
  is below m: the odds ratio, its CI, the CMH and the homogeneity statistics are as many equations
  in the hidden cells, which, with the other forces' cells and the published margins, can pin
  them down. So a release with small forces publishes fewer pooled rows; the default
  ``min_cell_count: 0`` publishes all.
* **Funnel rows** (:func:`protect_funnel`): the forces × (events, non-events) table of an outcome is
  an association block with the force as the factor, protected by
  :func:`msht.publish.sdc.protect_associations` (primary and secondary suppression; ``accepted``
  linked to ``offered``). A hidden ``events`` hides ``rate`` and ``position`` (the point is not
  drawn); a hidden ``n`` also hides the control limits at ``n``. With the forces' protected
  Appendix 4 (``appendix4``, a run's), a force's events and cases are its ``overall`` row's counts,
  published there: hidden exactly where that row hides them.

Protected frames keep their contract columns (a hidden value is missing, and is written empty by
:func:`msht.publish.results.write_csv`) and add ``<column>_display`` marks (``"<m"``, ``"[c]"``)
for the display layer; each ``protect_*`` also returns its ``suppression.csv`` rows (files
``forces_odds_ratios``, ``forces_pooled``, ``forces_funnel``).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Collection, Sequence
from typing import Final

import numpy as np
import pandas as pd
from great_tables import GT
from matplotlib.figure import Figure

from msht.analysis import stats, stratified
from msht.base import vocab
from msht.base.formats import fmt_count, fmt_pct_n
from msht.publish import sdc, tables
from msht.publish.association_tables import factor_name
from msht.publish.forest import log_odds_axis

#: Colours (Okabe-Ito, as :mod:`msht.publish.figures`).
COLOURS: Final[dict[str, str]] = {
    "force": "#0072B2", "pooled": "#D55E00", "limit_95": "#009E73", "limit_998": "#CC79A7", "text": "#333333",
    "reference": "#999999",
}
#: Candidate ticks of the forest plot's log axis.
TICKS: Final[tuple[float, ...]] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
#: ``force`` label of the pooled row of a forest plot.
POOLED_LABEL: Final[str] = "Pooled (Mantel-Haenszel)"
#: Cells of a ``forces_odds_ratios`` row and the statistics of a ``forces_pooled`` row.
CELLS: Final[tuple[str, ...]] = ("a", "b", "c", "d", "n")
OR_VALUES: Final[tuple[str, ...]] = ("odds_ratio", "ci_low", "ci_high")
POOLED_OR: Final[tuple[str, ...]] = ("mh_or", "ci_low", "ci_high", "homogeneity_statistic", "homogeneity_df",
                                     "homogeneity_p")
POOLED_CMH: Final[tuple[str, ...]] = ("cmh_statistic", "cmh_df", "cmh_p")
FUNNEL_LIMITS: Final[tuple[str, ...]] = ("lower_95", "upper_95", "lower_998", "upper_998")

POOLED_NOTE: Final[str] = (
    "Mantel-Haenszel odds ratio of the outcome in the first level over the reference, pooled across forces, with its "
    "95% CI. CMH: Cochran-Mantel-Haenszel test of no association within forces (continuity-corrected, 1 df; for "
    "three-level factors the generalized CMH of the whole factor, 2 df). Homogeneity: Breslow-Day test with Tarone's "
    "correction that the forces' odds ratios are equal. Forces: those with units in both levels and both outcomes. "
    "Note: the forces left out of a comparison (not pooled) or of the generalized CMH (fewer than 2 units), and "
    "where the homogeneity test is significant (odds ratios differ between forces: the pooled odds ratio averages "
    "unequal effects)."
)
ODDS_RATIOS_NOTE: Final[str] = (
    "% (n): share (number) of the level's units with the outcome, in each force. OR: odds of the outcome in the "
    "level over the reference, 95% Wald CI (0.5 added to every cell where one is zero). n/c: not computable (a level "
    "or an outcome has no units in the force)."
)
FUNNEL_NOTE: Final[str] = (
    "Rate: share of the force's cases with the outcome. Limits: exact binomial 95% and 99.8% control limits around "
    "the overall rate at the force's number of cases (Spiegelhalter 2005). A force outside the 99.8% limits differs "
    "from the overall rate by more than chance would give about once in 500."
)


#: The funnel plot's x axis: the cases each outcome's rate is measured on.
FUNNEL_XLABELS: Final[dict[str, str]] = {
    "offered": "Cases with an offer of support recorded (yes or no)",
    "accepted": "Cases offered support, with acceptance recorded",
    "engagement": "Cases with positive or negative engagement",
}


def forest_name(outcome: str, factor: str) -> str:
    """File name (no extension) of the forest plot of ``factor`` × ``outcome``."""
    return f"forces_forest_{outcome}_{factor}"


def funnel_name(outcome: str) -> str:
    """File name (no extension) of the funnel plot of ``outcome``."""
    return f"forces_funnel_{outcome}"


def comparison_label(factor: str, level: str, reference: str) -> str:
    """"Males vs Females": the level against its reference, in Tables 2-4's short labels."""
    return f"{vocab.finding_label(factor, level)} vs {vocab.finding_label(factor, reference)}"


def _fmt_or(value: object, low: object, high: object) -> str:
    """"1.23 (0.80–1.90)"; "0" or "∞" (without a CI) for a pooled odds ratio that is not estimable;
    "" when missing."""
    if pd.isna(value):
        return ""
    if math.isinf(float(value)):
        return "∞"
    if any(pd.isna(v) for v in (low, high)):
        return f"{float(value):.2f}" if float(value) else "0"
    return f"{float(value):.2f} ({float(low):.2f}–{float(high):.2f})"


def _mark(value: object, m: int, withheld: bool = False) -> str:
    """The mark of a hidden count: ``"<m"`` for 1..m-1, else ``"[c]"`` (always ``"[c]"`` when withheld)."""
    v = int(value)
    return sdc.SMALL_MARK.format(m=m) if 1 <= v < m and not withheld else sdc.SECONDARY_MARK


# --- disclosure control ------------------------------------------------------------------------------


def _level_rows(odds_ratios: pd.DataFrame) -> pd.DataFrame:
    """Association rows (force, outcome, factor, level, n, denominator) of the forces' blocks."""
    keys = ["force", "outcome", "factor"]
    first = odds_ratios[keys + ["level"]].assign(n=odds_ratios["a"], denominator=odds_ratios["a"] + odds_ratios["b"])
    second = odds_ratios[keys].assign(level=odds_ratios["reference"], n=odds_ratios["c"],
                                      denominator=odds_ratios["c"] + odds_ratios["d"])
    rows = pd.concat([first, second], ignore_index=True).drop_duplicates(keys + ["level"])
    return rows.assign(pct=np.nan, statistic=np.nan, df=pd.NA, p=np.nan, test="")


def _hidden_levels(odds_ratios: pd.DataFrame, m: int) -> dict[tuple[str, str, str, str], tuple[bool, bool, bool]]:
    """Per (force, outcome, factor, level): (count hidden, denominator hidden, block withheld), each
    force's blocks protected on their own (:func:`msht.publish.sdc.protect_associations`), as
    :func:`appendix4_hidden` reads a run's protected Appendix 4."""
    protected = [sdc.protect_associations(grp.drop(columns="force").reset_index(drop=True), m).assign(force=force)
                 for force, grp in _level_rows(odds_ratios).groupby("force", sort=False, observed=True)]
    return appendix4_hidden(pd.concat(protected, ignore_index=True)) if protected else {}


def _suppression_row(file: str, table: str, variable: str, level: str, column: str, reason: str,
                     display: str) -> dict[str, str]:
    return {"file": file, "table": table, "variable": variable, "level": level, "column": column, "reason": reason,
            "display": display}


def _hide_cells(out: pd.DataFrame, idx: object, hidden: dict[str, bool], withheld: bool, m: int,
                supp: list[dict[str, str]]) -> None:
    """Hide one ``forces_odds_ratios`` row's hidden cells and, if any, its odds ratio and CI."""
    r = out.loc[idx]
    level = f"{r['force']}: {r['level']} vs {r['reference']}"
    for col in CELLS:
        if hidden[col]:
            mark = _mark(r[col], m, withheld)
            reason = "withheld" if withheld else ("small_count" if mark != sdc.SECONDARY_MARK else "secondary")
            out.at[idx, f"{col}_display"] = mark
            supp.append(_suppression_row("forces_odds_ratios", r["outcome"], r["factor"], level, col, reason, mark))
    for col in OR_VALUES:
        supp.append(_suppression_row("forces_odds_ratios", r["outcome"], r["factor"], level, col, "test_withheld",
                                     sdc.SECONDARY_MARK))
    for col in (*[c for c in CELLS if hidden[c]], *OR_VALUES):
        out.at[idx, col] = pd.NA
    out.at[idx, "note"] = ""  # "zero cell ...", "not computable ..." would say a hidden cell is 0
    out.at[idx, "or_withheld"] = True


def _with_displays(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = frame.copy()
    for col in columns:
        out[f"{col}_display"] = ""
    return out


def appendix4_hidden(appendix4: pd.DataFrame) -> dict[tuple[str, str, str, str], tuple[bool, bool, bool]]:
    """Per (force, outcome, factor, level) of the forces' protected Appendix 4
    (:func:`msht.publish.forces_tables.appendix4_by_force`'s ``rows``, with their marker columns):
    (count hidden, denominator hidden, block withheld), as :func:`_hidden_levels` gives them."""
    withheld = appendix4.groupby(["force", "outcome", "factor"], observed=True)["reason"].transform(
        lambda r: r.isin(sdc.WITHHELD_REASONS).any())
    return {(str(r.force), r.outcome, r.factor, r.level): (bool(r.suppressed), bool(r.denominator_suppressed), bool(w))
            for r, w in zip(appendix4.itertuples(), withheld, strict=True)}


def protect_odds_ratios(odds_ratios: pd.DataFrame, min_cell_count: int,
                        appendix4: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of ``forces_odds_ratios`` (see the module docstring). With ``appendix4``
    (the forces' protected Appendix 4, in which a release's audit may have hidden further cells)
    a cell is hidden exactly where the Appendix 4 cell it is computed from is
    (:func:`appendix4_hidden`), so the two files never show what the other hides; a level without
    an Appendix 4 row (the offender factors and ``recorded_offender`` of a force without offenders:
    zero cells) is shown.

    Returns the protected frame (hidden values missing; ``<cell>_display`` marks for ``a``, ``b``,
    ``c``, ``d``, ``n``; ``or_withheld`` true where the odds ratio and CI are withheld) and its
    ``suppression.csv`` rows (``level`` is ``"<force>: <level> vs <reference>"``). With
    ``min_cell_count`` 0 or 1 the frame is returned unchanged (plus the marker columns).
    """
    out = _with_displays(odds_ratios, CELLS).assign(or_withheld=False)
    supp: list[dict[str, str]] = []
    m = int(min_cell_count)
    if m > 1 and not out.empty:
        for col in CELLS:
            out[col] = out[col].astype("Int64")
        for col in OR_VALUES:
            out[col] = out[col].astype(float)
        levels = _hidden_levels(odds_ratios, m) if appendix4 is None else appendix4_hidden(appendix4)
        shown = (False, False, False)
        for idx, r in odds_ratios.iterrows():
            key = (str(r["force"]), r["outcome"], r["factor"])
            n_l, d_l, w_l = levels.get((*key, r["level"]), shown)
            n_r, d_r, w_r = levels.get((*key, r["reference"]), shown)
            hidden = {"a": n_l, "b": n_l or d_l, "c": n_r, "d": n_r or d_r, "n": d_l or d_r}
            if any(hidden.values()):
                _hide_cells(out, idx, hidden, w_l or w_r, m, supp)
    return out, pd.DataFrame(supp, columns=list(sdc.SUPPRESSION_COLUMNS))


def _pooled_flags(pooled: pd.DataFrame, protected_odds_ratios: pd.DataFrame) -> pd.DataFrame:
    """Per ``pooled`` row (same order): ``_cells``, whether a force it pools has a hidden cell in its
    comparison; ``_n``, a hidden ``n``; ``_factor``, a hidden cell of any comparison of the factor
    in a force it pools (the generalized CMH uses them all). A force the row names as left out
    (:func:`msht.analysis.stratified.withheld_strata`) is not pooled, nor is a comparison that is
    not computable in a force."""
    odds = protected_odds_ratios.assign(_force=protected_odds_ratios["force"].astype(str))
    flags = []
    for r in pooled.itertuples():
        left_out = set(stratified.withheld_strata(str(r.note)))
        mine = odds[(odds["outcome"] == r.outcome) & (odds["factor"] == r.factor) & ~odds["_force"].isin(left_out)]
        same = mine[(mine["level"] == r.level) & (mine["reference"] == r.reference)]
        same = same[~same["note"].astype(str).str.startswith("not computable")]
        flags.append({"_cells": bool(same["or_withheld"].astype(bool).any()),
                      "_n": bool((same["n_display"] != "").any()),
                      "_factor": bool(mine["or_withheld"].astype(bool).any())})
    return pd.DataFrame(flags, columns=["_cells", "_n", "_factor"], index=pooled.index)


def protect_pooled(pooled: pd.DataFrame, protected_odds_ratios: pd.DataFrame,
                   min_cell_count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of ``forces_pooled`` given the protected per-force odds ratios
    (:func:`protect_odds_ratios`): see the module docstring. Returns the protected frame (with
    ``n_display`` and ``stats_withheld``) and its ``suppression.csv`` rows."""
    out = _with_displays(pooled, ("n",)).assign(stats_withheld=False)
    supp: list[dict[str, str]] = []
    m = int(min_cell_count)
    if m <= 1 or out.empty:
        return out, pd.DataFrame(supp, columns=list(sdc.SUPPRESSION_COLUMNS))
    out["n"] = out["n"].astype("Int64")
    for col in (*POOLED_OR, "cmh_statistic", "cmh_p"):
        out[col] = out[col].astype(float)
    out["cmh_df"] = out["cmh_df"].astype("Int64")
    flags = _pooled_flags(out, protected_odds_ratios)
    for idx in out.index:
        r = out.loc[idx]
        level = f"{r['level']} vs {r['reference']}"
        small_n = pd.notna(r["n"]) and 1 <= int(r["n"]) < m
        if bool(flags.at[idx, "_n"]):  # a pooled force's n is hidden: "[c]" whatever its value, saying nothing
            out.at[idx, "n"], out.at[idx, "n_display"] = pd.NA, sdc.SECONDARY_MARK
            supp.append(_suppression_row("forces_pooled", r["outcome"], r["factor"], level, "n", "withheld",
                                         sdc.SECONDARY_MARK))
        elif small_n:
            mark = sdc.SMALL_MARK.format(m=m)
            out.at[idx, "n"], out.at[idx, "n_display"] = pd.NA, mark
            supp.append(_suppression_row("forces_pooled", r["outcome"], r["factor"], level, "n", "small_count", mark))
        general = r["method"] == stratified.METHOD_GENERALIZED
        cols = [*(POOLED_OR if small_n or flags.at[idx, "_cells"] else ()),
                *(POOLED_CMH if small_n or flags.at[idx, "_factor" if general else "_cells"] else ())]
        for col in cols:
            out.at[idx, col] = pd.NA
            supp.append(_suppression_row("forces_pooled", r["outcome"], r["factor"], level, col, "test_withheld",
                                         sdc.SECONDARY_MARK))
        out.at[idx, "stats_withheld"] = bool(cols)
    return out, pd.DataFrame(supp, columns=list(sdc.SUPPRESSION_COLUMNS))


def protect_funnel(funnel: pd.DataFrame, min_cell_count: int, appendix4: pd.DataFrame | None = None,
                   combined_hidden: Collection[str] = frozenset()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of ``forces_funnel`` (see the module docstring). Returns the protected
    frame (``events_display``, ``n_display``; hidden rates, positions and limits missing) and its
    ``suppression.csv`` rows (``variable`` ``force``, ``level`` the force). With ``appendix4`` (the
    forces' protected Appendix 4) a force's events and cases are its ``overall`` row's n and
    denominator, published there: they are hidden exactly where that row hides them, and nowhere
    else (hiding a count the same release prints elsewhere protects nothing; the forces' overall
    rows protect each other in :func:`msht.publish.forces_tables.across_forces`). An outcome of
    ``combined_hidden`` (whose all-forces number of cases with a status recorded the combined tables
    hide: :func:`msht.publish.forces_tables.combined_status_hidden`) has its overall rate withheld
    with everything computed from it: the control limits and every force's position."""
    out = _with_displays(funnel, ("events", "n"))
    supp: list[dict[str, str]] = []
    m = int(min_cell_count)
    if m <= 1 or out.empty:
        return out, pd.DataFrame(supp, columns=list(sdc.SUPPRESSION_COLUMNS))
    rows = pd.DataFrame({"outcome": funnel["outcome"], "factor": "force", "level": funnel["force"].astype(str),
                         "n": funnel["events"], "denominator": funnel["n"], "pct": np.nan, "statistic": np.nan,
                         "df": pd.NA, "p": np.nan, "test": ""}).reset_index(drop=True)
    forced = set()
    if appendix4 is not None:
        for (force, outcome, factor, _), (n_hidden, d_hidden, _) in appendix4_hidden(appendix4).items():
            if factor == "overall":
                forced |= {("associations", outcome, "force", force, c)
                           for c, hidden in (("n", n_hidden), ("denominator", d_hidden)) if hidden}
    prot = sdc.protect_associations(rows, m, forced=forced) if appendix4 is None else _mirrored(rows, forced)
    for col in ("n", "events"):
        out[col] = out[col].astype("Int64")
    for col in ("rate", *FUNNEL_LIMITS):
        out[col] = out[col].astype(float)
    out["position"] = out["position"].astype(object)
    for idx, p in zip(out.index, prot.itertuples(), strict=True):
        hide = {"events": (bool(p.suppressed), p.display, p.reason),
                "n": (bool(p.denominator_suppressed), p.denominator_display, p.denominator_reason)}
        for col, (hidden, mark, reason) in hide.items():
            if hidden:
                out.at[idx, col], out.at[idx, f"{col}_display"] = pd.NA, mark
                supp.append(_suppression_row("forces_funnel", p.outcome, "force", p.level, col, reason, mark))
        combined = p.outcome in combined_hidden
        derived = (["rate"] if p.suppressed or p.denominator_suppressed else [])
        derived += ["position"] if p.suppressed or p.denominator_suppressed or combined else []
        derived += list(FUNNEL_LIMITS) if p.denominator_suppressed or combined else []
        derived += ["overall_rate"] if combined else []
        for col in derived:
            out.at[idx, col] = pd.NA
            supp.append(_suppression_row("forces_funnel", p.outcome, "force", p.level, col, "test_withheld",
                                         sdc.SECONDARY_MARK))
    return out, pd.DataFrame(supp, columns=list(sdc.SUPPRESSION_COLUMNS))


def _mirrored(rows: pd.DataFrame, forced: set) -> pd.DataFrame:
    """The funnel's rows (as :func:`protect_funnel` builds them) hidden exactly at ``forced``
    (secondary marks), as :func:`msht.publish.sdc.protect_associations` would return them."""
    out = rows.copy()
    for column, flag, display, reason in (("n", "suppressed", "display", "reason"),
                                          ("denominator", "denominator_suppressed", "denominator_display",
                                           "denominator_reason")):
        hidden = [("associations", o, "force", f, column) in forced for o, f in zip(rows["outcome"], rows["level"])]
        out[flag] = hidden
        out[display] = [sdc.SECONDARY_MARK if h else "" for h in hidden]
        out[reason] = ["secondary" if h else "" for h in hidden]
    return out


# --- display tables ---------------------------------------------------------------------------------


def _shown(frame: pd.DataFrame, col: str) -> list[str]:
    marks = frame[f"{col}_display"] if f"{col}_display" in frame.columns else pd.Series("", index=frame.index)
    return [fmt_count(v, m) for v, m in zip(frame[col], marks, strict=True)]


def _fmt_p(value: object) -> str:
    return "" if pd.isna(value) else stats.format_p(float(value))


def _chi2(statistic: object, df: object, p: object) -> str:
    if pd.isna(statistic):
        return ""
    return f"{float(statistic):.3f} ({int(df)} df), p {_fmt_p(p)}"


def pooled_display(pooled: pd.DataFrame) -> pd.DataFrame:
    """The pooled table, one row per comparison grouped by outcome: factor, comparison, forces
    pooled, units, MH OR (95% CI), CMH test, homogeneity test and note. A value withheld by
    disclosure control shows ``"[c]"``; a statistic not computable shows ``"n/c"``."""
    withheld = pooled["stats_withheld"] if "stats_withheld" in pooled.columns else pd.Series(False, index=pooled.index)
    rows = []
    for (_, r), n, hidden in zip(pooled.iterrows(), _shown(pooled, "n"), withheld, strict=True):
        blank = sdc.SECONDARY_MARK if hidden else "n/c"
        homogeneity = (str(r["homogeneity_test"]) if str(r["homogeneity_test"]).startswith("none")
                       else _chi2(r["homogeneity_statistic"], r["homogeneity_df"], r["homogeneity_p"]) or blank)
        rows.append({
            "group": vocab.variable_label(r["outcome"]), "factor": factor_name(r["factor"]),
            "comparison": comparison_label(r["factor"], r["level"], r["reference"]), "forces": str(r["n_strata"]),
            "n": n, "mh_or": _fmt_or(r["mh_or"], r["ci_low"], r["ci_high"]) or blank,
            "cmh": _chi2(r["cmh_statistic"], r["cmh_df"], r["cmh_p"]) or blank, "homogeneity": homogeneity,
            "note": pooled_note(str(r["note"])),
        })
    return pd.DataFrame(rows, columns=["group", "factor", "comparison", "forces", "n", "mh_or", "cmh", "homogeneity",
                                       "note"])


#: How the pooled table shows the parts of a ``forces_pooled`` note (:mod:`msht.analysis.stratified`
#: writes them, parts joined by ``"; "``): (start of the part, what the table shows, whether the
#: forces the part names after its ``"): "`` follow). A part that :data:`POOLED_NOTE` already
#: explains shows nothing; a part not listed (a reason a test is not computable) shows whole.
#: What the pooled table says, under its notes, when a row leaves out a force whose table is withheld.
WITHHELD_POOLED_NOTE: Final[str] = (
    "Withheld, not pooled: forces whose table of the factor is withheld by disclosure control; the pooled "
    "statistics are those of the other forces, computed from published counts."
)


def withheld_pooled_note(pooled: pd.DataFrame) -> str:
    """:data:`WITHHELD_POOLED_NOTE` when a row of ``pooled`` (``forces_pooled`` rows) leaves out a
    force whose table is withheld (:func:`msht.analysis.stratified.withheld_strata`), else ""."""
    named = any(stratified.withheld_strata(str(note)) for note in pooled["note"])
    return WITHHELD_POOLED_NOTE if named else ""


POOLED_NOTE_PARTS: Final[tuple[tuple[str, str, bool], ...]] = (
    ("cmh columns: generalized CMH", "", False),
    ("left out of the pooled forces (their tables are withheld", "withheld, not pooled: ", True),
    ("left out of the pooled", "not pooled: ", True),
    ("left out of the generalized CMH", "not in the CMH: ", True),
    ("odds ratios differ between", "odds ratios differ between forces", False),
    ("pooled odds ratio not estimable", "OR not estimable (a zero cell in every force)", False),
)


def pooled_note(note: str) -> str:
    """The pooled table's short note for a ``forces_pooled`` ``note`` (parts joined by ``"; "``):
    each known part shortened by :data:`POOLED_NOTE_PARTS` (the forces it names kept), an unknown
    part shown whole; the results file keeps the full note."""
    shown = []
    for part in (p for p in note.split("; ") if p):
        rule = next((r for r in POOLED_NOTE_PARTS if part.startswith(r[0])), None)
        if rule is None:
            shown.append(part)
        elif rule[1]:
            shown.append(rule[1] + (part.split("): ", 1)[-1] if rule[2] else ""))
    return "; ".join(shown)


POOLED_LABELS: Final[dict[str, str]] = {
    "factor": "Factor", "comparison": "Comparison", "forces": "Forces", "n": "N", "mh_or": "MH OR (95% CI)",
    "cmh": "CMH χ²", "homogeneity": "Homogeneity (Breslow-Day, Tarone)", "note": "Note",
}


def odds_ratios_display(odds_ratios: pd.DataFrame, outcome: str, factor: str) -> pd.DataFrame:
    """The per-force table of one factor × outcome: per comparison (the group) and force, the
    level's and the reference's "% (n)" with the outcome and the odds ratio (95% CI); hidden counts
    show their marks, a withheld odds ratio ``"[c]"``, one not computable ``"n/c"``."""
    sub = odds_ratios[(odds_ratios["outcome"] == outcome) & (odds_ratios["factor"] == factor)]
    rows = []
    for _, r in sub.iterrows():
        mark = {c: r.get(f"{c}_display", "") for c in CELLS}
        level_d = r["a"] + r["b"] if not (pd.isna(r["a"]) or pd.isna(r["b"])) else pd.NA
        ref_d = r["c"] + r["d"] if not (pd.isna(r["c"]) or pd.isna(r["d"])) else pd.NA
        withheld = bool(r.get("or_withheld", False))
        rows.append({
            "group": comparison_label(factor, r["level"], r["reference"]), "force": str(r["force"]),
            "n": fmt_count(r["n"], mark["n"]),
            "level": fmt_pct_n(r["a"], level_d, style="table", display=mark["a"] or mark["b"]),
            "reference": fmt_pct_n(r["c"], ref_d, style="table", display=mark["c"] or mark["d"]),
            "odds_ratio": sdc.SECONDARY_MARK if withheld else (_fmt_or(r["odds_ratio"], r["ci_low"], r["ci_high"])
                                                                or "n/c"),
        })
    return pd.DataFrame(rows, columns=["group", "force", "n", "level", "reference", "odds_ratio"])


ODDS_RATIOS_LABELS: Final[dict[str, str]] = {
    "force": "Force", "n": "N", "level": "Level % (n)", "reference": "Reference % (n)", "odds_ratio": "OR (95% CI)",
}


def _pct(value: object) -> str:
    return "" if pd.isna(value) else f"{100 * float(value):.1f}%"


def funnel_display(funnel: pd.DataFrame) -> pd.DataFrame:
    """The funnel table: per outcome (the group) and force, cases, events, rate, the 95% and
    99.8% control limits at the force's number of cases and its position."""
    rows = []
    for (_, r), n, events in zip(funnel.iterrows(), _shown(funnel, "n"), _shown(funnel, "events"), strict=True):
        hidden = pd.isna(r["rate"]) and not (pd.notna(r["position"]) and r["position"] == stratified.NO_CASES)
        rows.append({
            "group": vocab.variable_label(r["outcome"]), "force": str(r["force"]), "n": n, "events": events,
            "rate": sdc.SECONDARY_MARK if hidden else _pct(r["rate"]),
            "limits_95": "" if pd.isna(r["lower_95"]) else f"{_pct(r['lower_95'])}–{_pct(r['upper_95'])}",
            "limits_998": "" if pd.isna(r["lower_998"]) else f"{_pct(r['lower_998'])}–{_pct(r['upper_998'])}",
            "position": sdc.SECONDARY_MARK if pd.isna(r["position"]) else str(r["position"]),
        })
    return pd.DataFrame(rows, columns=["group", "force", "n", "events", "rate", "limits_95", "limits_998", "position"])


FUNNEL_LABELS: Final[dict[str, str]] = {
    "force": "Force", "n": "Cases", "events": "With the outcome", "rate": "Rate", "limits_95": "95% limits",
    "limits_998": "99.8% limits", "position": "Position",
}


def pooled_table(display: pd.DataFrame, *, table_id: str, title: str, notes: Sequence[str] = ()) -> GT:
    """The pooled table (:func:`pooled_display`) with fixed HTML id ``table_id``, :data:`POOLED_NOTE` and
    then ``notes`` (the built-in note is not repeated when ``notes`` has it too)."""
    gt = tables.plain_table(display, table_id=table_id, title=title, labels=POOLED_LABELS, groupname_col="group",
                            source_note=POOLED_NOTE)
    return tables.add_notes(gt, [n for n in notes if n != POOLED_NOTE])


def odds_ratios_table(display: pd.DataFrame, *, table_id: str, title: str, notes: Sequence[str] = ()) -> GT:
    """The per-force table (:func:`odds_ratios_display`) with fixed HTML id ``table_id``,
    :data:`ODDS_RATIOS_NOTE` and then ``notes`` (not repeating the built-in note)."""
    gt = tables.plain_table(display, table_id=table_id, title=title, labels=ODDS_RATIOS_LABELS,
                            groupname_col="group", source_note=ODDS_RATIOS_NOTE)
    return tables.add_notes(gt, [n for n in notes if n != ODDS_RATIOS_NOTE])


def funnel_table(display: pd.DataFrame, *, table_id: str, title: str, notes: Sequence[str] = ()) -> GT:
    """The funnel table (:func:`funnel_display`) with fixed HTML id ``table_id``, :data:`FUNNEL_NOTE`
    and then ``notes`` (not repeating the built-in note)."""
    gt = tables.plain_table(display, table_id=table_id, title=title, labels=FUNNEL_LABELS, groupname_col="group",
                            source_note=FUNNEL_NOTE)
    return tables.add_notes(gt, [n for n in notes if n != FUNNEL_NOTE])


# --- figures ----------------------------------------------------------------------------------------


def forest_frame(odds_ratios: pd.DataFrame, pooled: pd.DataFrame, outcome: str, factor: str) -> pd.DataFrame:
    """The rows :func:`forest_by_force` draws: per comparison (``panel``), one row per force in
    the frame's order and then the pooled row (``kind`` "force" or "pooled"), with ``odds_ratio``,
    ``ci_low``, ``ci_high`` (missing where withheld or not computable) and ``text``, the value
    printed at the right ("1.23 (0.80–1.90)", "[c]" withheld, "n/c" not computable)."""
    rows = []
    for level, reference in stratified.comparisons(factor):
        key = ((odds_ratios["outcome"] == outcome) & (odds_ratios["factor"] == factor)
               & (odds_ratios["level"] == level) & (odds_ratios["reference"] == reference))
        panel = comparison_label(factor, level, reference)
        for _, r in odds_ratios[key].iterrows():
            withheld = bool(r.get("or_withheld", False))
            text = sdc.SECONDARY_MARK if withheld else (_fmt_or(r["odds_ratio"], r["ci_low"], r["ci_high"]) or "n/c")
            rows.append({"panel": panel, "label": str(r["force"]), "kind": "force", "odds_ratio": r["odds_ratio"],
                         "ci_low": r["ci_low"], "ci_high": r["ci_high"], "text": text})
        pkey = ((pooled["outcome"] == outcome) & (pooled["factor"] == factor) & (pooled["level"] == level)
                & (pooled["reference"] == reference))
        for _, r in pooled[pkey].iterrows():
            withheld = bool(r.get("stats_withheld", False))
            text = sdc.SECONDARY_MARK if withheld else (_fmt_or(r["mh_or"], r["ci_low"], r["ci_high"]) or "n/c")
            rows.append({"panel": panel, "label": POOLED_LABEL, "kind": "pooled", "odds_ratio": r["mh_or"],
                         "ci_low": r["ci_low"], "ci_high": r["ci_high"], "text": text})
    out = pd.DataFrame(rows, columns=["panel", "label", "kind", "odds_ratio", "ci_low", "ci_high", "text"])
    for col in ("odds_ratio", "ci_low", "ci_high"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


def _drawable(frame: pd.DataFrame) -> pd.Series:
    values = frame[["odds_ratio", "ci_low", "ci_high"]].to_numpy(dtype=float)
    return pd.Series(np.isfinite(values).all(axis=1) & (values > 0).all(axis=1), index=frame.index)


def _log_range(frame: pd.DataFrame) -> tuple[float, float]:
    ok = frame[_drawable(frame)]
    if ok.empty:
        return 0.1, 10.0
    lo, hi = float(ok["ci_low"].min()), float(ok["ci_high"].max())
    return min(lo, 1.0) / 1.3, max(hi, 1.0) * 1.3


def _diamond(ax, row: pd.Series, y: float) -> None:  # type: ignore[no-untyped-def]
    xs = [row["ci_low"], row["odds_ratio"], row["ci_high"], row["odds_ratio"]]
    ax.fill(xs, [y, y - 0.3, y, y + 0.3], color=COLOURS["pooled"], zorder=3)


def _forest_panel(ax, sub: pd.DataFrame, lo: float, hi: float) -> None:  # type: ignore[no-untyped-def]
    """One comparison's rows: squares with CI bars for forces, a diamond for the pooled estimate."""
    sub = sub.reset_index(drop=True)
    ok = _drawable(sub)
    for y, r in sub.iterrows():
        if ok[y] and r["kind"] == "pooled":
            _diamond(ax, r, float(y))
        elif ok[y]:
            ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=COLOURS["force"], linewidth=1)
            ax.plot([r["odds_ratio"]], [y], marker="s", color=COLOURS["force"], markersize=5)
        ax.annotate(r["text"], (1.02, y), xycoords=("axes fraction", "data"), va="center", fontsize=7,
                    color=COLOURS["text"])
    ax.axvline(1.0, color=COLOURS["reference"], linestyle="--", linewidth=0.8)
    log_odds_axis(ax, lo, hi, TICKS)
    ax.set_yticks(range(len(sub)), [textwrap.fill(t, 30) for t in sub["label"]])
    ax.set_ylim(len(sub) - 0.5, -0.5)
    ax.tick_params(labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)


def forest_by_force(odds_ratios: pd.DataFrame, pooled: pd.DataFrame, outcome: str, factor: str) -> Figure:
    """Forest plot of ``factor`` × ``outcome``: one panel per comparison (one for a two-level factor,
    two for a three-level one), one row per force (odds ratio and 95% CI) and the pooled
    Mantel-Haenszel estimate as a diamond, on a log axis with a dashed line at 1; the value of
    each row is printed at the right (``"[c]"`` withheld, ``"n/c"`` not computable, drawn as no
    marker). Takes the (protected or not) ``forces_odds_ratios`` and ``forces_pooled`` frames."""
    frame = forest_frame(odds_ratios, pooled, outcome, factor)
    panels = list(dict.fromkeys(frame["panel"])) or [comparison_label(factor, *stratified.comparisons(factor)[0])]
    n_rows = max(int(frame.groupby("panel").size().max()) if not frame.empty else 1, 1)
    fig = Figure(figsize=(6.4, len(panels) * (0.28 * n_rows + 1.0) + 0.4), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    lo, hi = _log_range(frame)
    for ax, panel in zip(axes, panels, strict=True):
        _forest_panel(ax, frame[frame["panel"] == panel], lo, hi)
        ax.set_title(panel, fontsize=9, loc="left")
    axes[-1].set_xlabel("Odds ratio (95% CI), log scale", fontsize=8)
    fig.suptitle(f"{vocab.variable_label(outcome)} by {factor_name(factor).lower()}", fontsize=10)
    return fig


def funnel_curve(funnel: pd.DataFrame, outcome: str, *, points: int = 200) -> pd.DataFrame:
    """The control limits to draw for ``outcome``: :func:`msht.analysis.stratified.funnel_limits` at
    ``points`` numbers of cases from 1 to 1.1 times the largest force (log-spaced, whole numbers),
    around the overall rate of ``funnel`` (``forces_funnel`` rows). Empty when no force has cases."""
    sub = funnel[funnel["outcome"] == outcome]
    p0 = sub["overall_rate"].dropna()
    n_max = pd.to_numeric(sub["n"], errors="coerce").max()
    if p0.empty or pd.isna(n_max) or n_max < 1:
        return stratified.funnel_limits(np.array([], dtype=np.int64), 0.5)
    grid = np.unique(np.round(np.geomspace(1, max(2.0, 1.1 * float(n_max)), points)).astype(np.int64))
    return stratified.funnel_limits(grid, float(p0.iloc[0]))


def funnel_plot(funnel: pd.DataFrame, limits: pd.DataFrame, outcome: str) -> Figure:
    """Funnel plot of ``outcome``: each force's rate (%) against its number of cases, labelled, with
    the overall rate and its 95% (dashed) and 99.8% (dotted) exact binomial control limits
    (``limits``: :func:`funnel_curve`). A force whose rate is hidden by disclosure control or
    that has no cases is not drawn and is named in a note under the plot."""
    sub = funnel[funnel["outcome"] == outcome]
    fig = Figure(figsize=(7, 4.6), layout="constrained")
    ax = fig.add_subplot()
    if not limits.empty:
        for tag, style in (("95", "--"), ("998", ":")):
            colour = COLOURS[f"limit_{tag}"]
            label = f"{'95' if tag == '95' else '99.8'}% control limits"
            ax.plot(limits["n"], 100 * limits[f"lower_{tag}"], style, color=colour, linewidth=1, label=label)
            ax.plot(limits["n"], 100 * limits[f"upper_{tag}"], style, color=colour, linewidth=1)
    p0 = sub["overall_rate"].dropna()
    if not p0.empty:
        ax.axhline(100 * float(p0.iloc[0]), color=COLOURS["reference"], linewidth=1,
                   label=f"Overall rate {100 * float(p0.iloc[0]):.1f}%")
    drawn = sub[sub["rate"].notna() & sub["n"].notna()]
    ax.scatter(drawn["n"].astype(float), 100 * drawn["rate"].astype(float), color=COLOURS["force"], zorder=3, s=24)
    for _, r in drawn.iterrows():
        ax.annotate(str(r["force"]), (float(r["n"]), 100 * float(r["rate"])), textcoords="offset points",
                    xytext=(4, 4), fontsize=7, color=COLOURS["text"], zorder=4,
                    # a label over a control limit stays readable: the line passes behind it
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    missing = [str(f) for f in sub.loc[~sub.index.isin(drawn.index), "force"]]
    if missing:
        fig.text(0.01, 0.0, "Not shown (no cases, or hidden by disclosure control): " + ", ".join(missing),
                 fontsize=7, color=COLOURS["text"], ha="left", va="bottom")
        fig.get_layout_engine().set(rect=(0, 0.05, 1, 0.95))
    ax.set_xlabel(FUNNEL_XLABELS.get(outcome, "Cases with the outcome recorded"))
    ax.set_ylabel(f"{vocab.variable_label(outcome)} (%)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    return fig
