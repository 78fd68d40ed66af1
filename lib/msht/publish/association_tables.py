"""What notebook 03 shows of :mod:`msht.analysis.associate`'s results: their disclosure control,
the display frames of Appendix 4, the extras, the residuals, the comparison with the published
study and Tables 2-4, and the tables' notes and column labels.

:func:`protect` applies :mod:`msht.publish.sdc` to ``associations.csv`` and blanks the files
derived from the same cross-tables where a block has a suppression; the ``*_display`` functions
shape (protected) results frames for :mod:`msht.publish.tables`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

import numpy as np
import pandas as pd

from msht.analysis import stats
from msht.analysis.associate import NOT_COMPUTABLE, OFFENDER_FACTORS, OVERALL
from msht.base import vocab
from msht.base.formats import fmt_count, fmt_pct_n
from msht.publish import sdc

#: Source notes and column labels of the notebook's tables.
APPENDIX4_NOTE: Final[str] = (
    "% (n): share (number) of the level's units with the outcome. Positive engagement excludes cases whose "
    "engagement was unknown, ongoing or no crime; accepted support is among those offered. χ²: Yates-corrected for "
    "two levels, Pearson for three (the seed's convention). †: an expected count below 5 (Fisher's exact test is "
    "among the tests beyond the published ones). n/c: not computable (the reason is given with the summary of the "
    "association tests)."
)


OFFENDER_UNIT_NOTE: Final[str] = (
    "Offender factors are counted on case-offender pairs: a case with several offenders counts once per offender."
)


EXTRAS_NOTE: Final[str] = (
    "Test: Fisher's exact test where an expected count is below 5, else the seed's chi-square. Effect: phi (signed, "
    "two levels) or Cramér's V (three levels). OR: odds of the outcome in the first level of the contrast over the "
    "second, 95% Wald CI. q: Benjamini-Hochberg q-value across all tests."
)


EXTRAS_LABELS: Final[dict[str, str]] = {
    "min_expected": "Min expected", "cells_below_5": "Cells < 5", "test": "Test used", "p": "p",
    "effect": "Effect size", "odds_ratio": "OR (95% CI)", "contrast": "OR contrast", "q": "q (BH)", "note": "Note",
}


RESIDUALS_NOTE: Final[str] = (
    "Adjusted standardized residual of the positive outcome in each level: beyond ±1.96, the level's share differs "
    "from that expected under independence at the 5% level."
)


RESIDUALS_LABELS: Final[dict[str, str]] = {
    "value": "% (n)", "expected_n": "Expected n", "adjusted_residual": "Adjusted residual",
}


VS_PUBLISHED_NOTE: Final[str] = (
    "Published N: the level's denominator rebuilt from Appendix 4's printed % and n (msht.reference). Difference: "
    "this run's % minus the published %, in percentage points. Agrees: both, or neither, have p below alpha."
)


VS_PUBLISHED_LABELS: Final[dict[str, str]] = {
    "published": "Published % (n) of N", "run": "This run % (n) of N", "pct_diff": "Difference",
    "test_published": "Published χ² (p)", "test_run": "This run χ² (p)", "agrees": "Agrees",
}


def factor_name(factor: str) -> str:
    """A factor's name outside Appendix 4's blocks: "Victim sex", "Offender age group (years)" ..."""
    name = vocab.variable_label(factor)
    if factor in OFFENDER_FACTORS:
        return f"Offender {name[0].lower()}{name[1:]}"
    if factor.startswith("victim_"):
        return f"Victim {name[0].lower()}{name[1:]}"
    return name


# --- display frames for the notebook's tables ----------------------------------------------------


def _fmt(value: float, digits: int = 3) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _fmt_p(value: float) -> str:
    return "" if value is None or pd.isna(value) else stats.format_p(float(value))


def appendix4_display(rows: pd.DataFrame, tests: pd.DataFrame, factors: Iterable[str],
                      outcomes: Iterable[str] = vocab.OUTCOMES) -> pd.DataFrame:
    """One Appendix 4 block in the study's layout.

    Returns columns ``group, row`` and one ``"% (n)"`` column per outcome: an "Overall % (n)"
    group first (its one row "All cases"), then per factor its level rows and a ``χ²`` and a ``p`` row. A test that was
    not computable shows "n/c" in its χ² and p rows; a χ² whose table has an expected count
    below 5 is marked with a dagger (Fisher's test is in the extras table).
    """
    outcomes = list(outcomes)
    marks = rows["display"].fillna("").tolist() if "display" in rows.columns else [""] * len(rows)
    values = rows.assign(cell=[fmt_pct_n(n, d, style="table", display=m)
                               for n, d, m in zip(rows["n"], rows["denominator"], marks, strict=True)])
    bands = {}
    if "test_suppressed" in rows.columns:
        hidden = rows[rows["test_suppressed"].astype(bool)]
        bands = {(o, f): str(b) for o, f, b in zip(hidden["outcome"], hidden["factor"], hidden["p_display"])}
    keyed = values.set_index(["outcome", "factor", "level"])["cell"]
    t = tests.set_index(["outcome", "factor"])
    out = [{"group": "Overall % (n)", "row": "All cases",
            **{o: keyed.get((o, OVERALL, OVERALL), "") for o in outcomes}}]
    for factor in factors:
        group = vocab.variable_label(factor)
        for level in vocab.levels(factor):
            out.append({"group": group, "row": vocab.label(factor, level),
                        **{o: keyed.get((o, factor, level), "") for o in outcomes}})
        chi2_row, p_row = {"group": group, "row": "χ²"}, {"group": group, "row": "p"}
        for o in outcomes:
            rec = t.loc[(o, factor)] if (o, factor) in t.index else None
            if (o, factor) in bands:  # withheld under disclosure control (statistic, p and its band)
                chi2_row[o], p_row[o] = "[c]", bands[(o, factor)] or "[c]"
                continue
            if rec is None or rec["test_chosen"] == NOT_COMPUTABLE:
                chi2_row[o] = p_row[o] = "n/c"
                continue
            dagger = "†" if rec["test_chosen"] == stats.TEST_FISHER else ""
            chi2_row[o] = _fmt(rec["chi2_seed"]) + dagger
            p_row[o] = _fmt_p(rec["p_seed"])
        out += [chi2_row, p_row]
    return pd.DataFrame(out, columns=["group", "row", *outcomes])


def extras_display(tests: pd.DataFrame) -> pd.DataFrame:
    """The extras table: per test N, smallest expected count, cells below 5, the chosen test and
    its p, the effect size, the odds ratio with its 95% CI and the BH q-value."""
    ok = tests["test_chosen"] != NOT_COMPUTABLE
    effect = [f"{name} = {value:.3f}" if isinstance(name, str) and name else ""
              for name, value in zip(tests["effect_size_name"], tests["effect_size"], strict=True)]
    odds = [
        f"{o:.2f} ({lo:.2f}-{hi:.2f})" if pd.notna(o) else ""
        for o, lo, hi in zip(tests["odds_ratio"], tests["or_ci_low"], tests["or_ci_high"], strict=True)
    ]
    return pd.DataFrame({
        "outcome": [vocab.variable_label(o) for o in tests["outcome"]],
        "factor": [factor_name(f) for f in tests["factor"]],
        "N": tests["N"].astype("Int64"),
        "min_expected": [_fmt(v, 1) for v in tests["min_expected"]],
        "cells_below_5": [("" if pd.isna(v) else str(int(v))) for v in tests["n_cells_expected_below_5"]],
        "test": tests["test_chosen"],
        "p": [_fmt_p(v) for v in tests["p_chosen"]],
        "effect": effect,
        "odds_ratio": odds,
        "contrast": [_contrast_label(f, c) for f, c in zip(tests["factor"], tests["or_contrast"], strict=True)],
        "q": [_fmt_p(v) for v in tests["q_bh"]],
        "note": np.where(ok, "", tests["note"]),
    })


def _contrast_label(factor: str, contrast: object) -> str:
    """``"male vs female"`` codes as Tables 2-4 labels (``"Males vs Females"``)."""
    if not isinstance(contrast, str) or " vs " not in contrast:
        return ""
    first, second = contrast.split(" vs ")
    return f"{vocab.finding_label(factor, first)} vs {vocab.finding_label(factor, second)}"


def residuals_display(residuals: pd.DataFrame) -> pd.DataFrame:
    """Adjusted residuals for the notebook: group (outcome · factor), level, % (n), N, expected n, residual."""
    return pd.DataFrame({
        "group": [f"{vocab.variable_label(o)} · {factor_name(f)}"
                  for o, f in zip(residuals["outcome"], residuals["factor"], strict=True)],
        "level": [vocab.label(f, lv) for f, lv in zip(residuals["factor"], residuals["level"], strict=True)],
        "value": [fmt_pct_n(n, d, style="table") for n, d in
                  zip(residuals["n"], residuals["denominator"], strict=True)],
        "N": [fmt_count(d) for d in residuals["denominator"]] if residuals["denominator"].isna().any()
        else residuals["denominator"].astype(int),
        "expected_n": ["[c]" if pd.isna(v) else f"{v:.1f}" for v in _floats(residuals["expected_n"])],
        "adjusted_residual": ["[c]" if pd.isna(v) else f"{v:.2f}" for v in _floats(residuals["adjusted_residual"])],
    })


def _floats(values: pd.Series) -> pd.Series:
    """A column as floats, a value blanked by disclosure control (``pd.NA`` in an object column)
    as NaN. ``Series.astype(float)`` raises ``TypeError`` on ``pd.NA``."""
    return pd.to_numeric(values, errors="coerce").astype(float)


def vs_published_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The published-vs-run table: per level "% (n) of N" published and in this run, the
    difference in percentage points, and per test the published and the run's χ² and p."""
    first = ~comparison.duplicated(["outcome", "factor"])
    return pd.DataFrame({
        "group": [f"{vocab.variable_label(o)} · {_factor_label(f)}"
                  for o, f in zip(comparison["outcome"], comparison["factor"], strict=True)],
        "level": [_level_label(f, lv) for f, lv in zip(comparison["factor"], comparison["level"], strict=True)],
        "published": _pct_of(comparison["n_published"], comparison["N_published"]),
        "run": _pct_of(comparison["n_run"], comparison["N_run"]),
        "pct_diff": [_fmt(v, 1) for v in comparison["pct_diff"]],
        "test_published": [f"{_fmt(c)} (p {p})" if f and pd.notna(c) else ""
                           for f, c, p in zip(first, comparison["chi2_published"], comparison["p_published"],
                                              strict=True)],
        "test_run": [f"{_fmt(c)} (p {_fmt_p(p)})" if f and pd.notna(c) else ""
                     for f, c, p in zip(first, comparison["chi2_run"], comparison["p_run"], strict=True)],
        "agrees": ["" if not f or pd.isna(a) else ("yes" if a else "no")
                   for f, a in zip(first, comparison["verdict_agrees"], strict=True)],
    })


def _pct_of(n: pd.Series, big_n: pd.Series) -> list[str]:
    """``"38.4 (182) of 474"`` per row (empty where a count is missing)."""
    return [fmt_pct_n(int(a), int(b), style="table") + f" of {int(b)}" if pd.notna(a) and pd.notna(b) and b
            else "" for a, b in zip(n, big_n, strict=True)]


def _factor_label(factor: str) -> str:
    return "Overall" if factor == OVERALL else factor_name(factor)


def _level_label(factor: str, level: str) -> str:
    return "Overall % (n)" if factor == OVERALL else vocab.label(factor, level)


def findings_display(found: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Tables 2-4 for one outcome: per significant factor a heading naming the level with the
    higher share and the p threshold, then one "label (pct%, n=n)" cell per level.

    Returns columns ``heading, level_1, level_2, level_3, check`` (``check``: the BH q-value,
    and the test chosen where it is not the study's); a single "No factor had p < alpha" row when none is
    significant. Factors have at most three levels (Appendix 4).
    """
    columns = ["heading", "level_1", "level_2", "level_3", "check"]
    out = []
    for factor, block in found.groupby("factor", sort=False):
        first = block.iloc[0]
        heading = f"{vocab.finding_heading(str(factor), str(first['higher_level']))} " \
                  f"({stats.p_threshold_label(float(first['p']))})"
        cells = [f"{vocab.finding_label(str(factor), str(r.level))} ({r.pct:.1f}%, n={int(r.n)})"
                 if not pd.isna(r.n) and not pd.isna(r.pct) else
                 f"{vocab.finding_label(str(factor), str(r.level))} ({fmt_pct_n(r.n, r.denominator, display=getattr(r, 'display', ''))})"
                 for r in block.itertuples()]
        q = float(first["q_bh"])
        q_text = stats.format_p(q)
        check = (f"q {q_text[0]} {q_text[1:]}" if q_text[:1] in "<>" else f"q = {q_text}") + \
            ("" if q < alpha else f" (not significant after BH at α = {alpha:g})")
        if first["test_chosen"] == stats.TEST_FISHER:
            check += f"; Fisher p = {stats.format_p(float(first['p_chosen']))}"
        out.append(dict(zip(columns, [heading, *cells, *[""] * (3 - len(cells)), check], strict=True)))
    if not out:
        out.append(dict(zip(columns, [f"No factor had p < {alpha:g}", "", "", "", ""], strict=True)))
    return pd.DataFrame(out, columns=columns)



# --- disclosure control ------------------------------------------------------------------------

#: Columns of ``association_vs_published.csv`` that are the study's printed values (kept under SDC).
PUBLISHED_COLUMNS: Final[tuple[str, ...]] = (
    "n_published", "N_published", "pct_published", "chi2_published", "p_published", "significant_published",
)


#: Columns of ``association_tests.csv`` that say nothing about the counts (kept under SDC).
TESTS_KEEP: Final[tuple[str, ...]] = ("unit", "test_seed", "df")


def protect(rows: pd.DataFrame, tests: pd.DataFrame, residuals: pd.DataFrame, comparison: pd.DataFrame,
            min_cell_count: int, forced: Collection[tuple[str, str, str, str, str]] = frozenset(), *,
            alpha: float, cases: int | None = None, hidden_totals: Collection[str] = (),
            withheld: Collection[tuple[str, str]] = frozenset()) -> dict[str, pd.DataFrame]:
    """Disclosure control of notebook 03's results (:mod:`msht.publish.sdc`).

    ``rows`` (``associations.csv``) go through :func:`msht.publish.sdc.protect_associations`; the files
    derived from the same cross-tables (tests, residuals, comparison with the published study) are blanked
    block by block (:func:`msht.publish.sdc.withhold_for_blocks`) where a block has a suppression.
    Returns ``associations``, ``association_tests``, ``association_residuals``,
    ``association_vs_published`` and ``suppression`` (the rows of ``suppression.csv`` for these
    files). With ``min_cell_count`` 0 the frames are returned unchanged (plus marker columns).
    ``forced``: cells to hide as complementary suppressions (:func:`msht.publish.sdc.forced_cells`).
    Under disclosure control the q-values are recomputed over the published tests only
    (:func:`published_qvalues`, ``alpha`` the run's significance level), and an outcome whose
    number of cases with a status recorded would give a hidden unknown count back
    (:func:`status_hidden`; ``cases``: the published number of cases) has its denominators,
    percentages and tests hidden (:func:`msht.publish.sdc.hide_status_total`); so has each outcome of
    ``hidden_totals`` (a force's, chosen by a release's audit of a run of several forces).
    ``withheld``: blocks ``(outcome, factor)`` withheld whole (a force's, in a run of several
    forces: :func:`msht.publish.forces_tables.across_forces`).
    """
    protected = sdc.protect_associations(rows, min_cell_count, forced=forced, withheld=withheld)
    hidden_totals = set(hidden_totals) if int(min_cell_count) > 1 else set()
    for outcome in sorted(status_hidden(rows, cases, min_cell_count) | hidden_totals):
        sdc.hide_status_total(protected, protected["outcome"] == outcome)
    out = {"associations": protected, "association_tests": tests, "association_residuals": residuals,
           "association_vs_published": comparison}
    supp = [sdc.suppression_table(associations=protected)]
    if int(min_cell_count) > 1:
        for name, keep in (("association_tests", TESTS_KEEP), ("association_residuals", ()),
                           ("association_vs_published", PUBLISHED_COLUMNS)):
            out[name], extra = sdc.withhold_for_blocks(out[name], protected, file=name, keep=keep)
            supp.append(extra)
        out["association_tests"] = published_qvalues(out["association_tests"], alpha)
    out["suppression"] = pd.concat(supp, ignore_index=True)
    return out


def published_qvalues(published: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """``association_tests.csv`` under disclosure control with its Benjamini-Hochberg q-values
    recomputed over the published tests only (those whose ``p_chosen`` is still shown), so that
    no shown q-value depends on a withheld p-value; ``significant_bh`` is ``q_bh < alpha`` (as in
    :func:`msht.analysis.associate.test_table`), empty where the test is withheld or not computable."""
    out = published.copy()
    shown = out["p_chosen"].notna().to_numpy()
    q = stats.bh_qvalues(pd.to_numeric(out["p_chosen"]).astype(float).to_numpy())
    out["q_bh"] = pd.Series(q, index=out.index).where(shown)
    out["significant_bh"] = pd.array(pd.Series(q < alpha, index=out.index).where(shown, pd.NA), dtype="boolean")
    return out


def status_hidden(rows: pd.DataFrame, cases: int | None, min_cell_count: int) -> set[str]:
    """The outcomes whose number of cases with a status recorded must be hidden: those whose
    ``unknown`` count (section 3.4, hidden there) is from 1 to m-1, so that the published total
    minus that number would give it back. ``rows`` are the unprotected ``associations.csv`` rows;
    offered's total is ``cases`` (the published number of cases; ``None``: not checked),
    accepted's is offered's "yes" count (the cases offered support)."""
    m = int(min_cell_count)
    overall = rows[rows["factor"] == OVERALL].set_index("outcome")
    if m <= 1:
        return set()
    totals = {"offered": cases, "accepted": overall.at["offered", "n"] if "offered" in overall.index else None}
    out = set()
    for outcome, total in totals.items():
        if total is not None and outcome in overall.index and 1 <= int(total) - int(overall.at[outcome, "denominator"]) < m:
            out.add(outcome)
    return out
