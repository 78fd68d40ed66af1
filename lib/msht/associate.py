"""Section 4: factor × outcome tests in the seed's convention, and what a reviewer adds to them.

Units of analysis: victim and case factors are tested on **cases** (a victim's attributes repeat
on each of their cases); offender factors on **case-offender pairs** (a case with three recorded
offenders counts three times), because Appendix 4's offender denominators exceed the number of
cases with an offender.

Populations (the seed's Appendix 4 footnotes): engagement compares positive with negative
engagement, leaving out unknown, ongoing and no-crime cases; "offered" compares offered with not
offered among cases with a recorded offer status; "accepted" compares accepted with declined among
cases offered support. A unit whose factor level is unknown is left out of that test only.

Every test is run by :func:`run_test`. A table on which no test is defined (a factor level or an
outcome level with no cases, or a single level) does not stop the run: the test is recorded as
*not computable* with the reason, its level counts are still reported, and its statistics are
empty.

The frames built here are the results files ``associations.csv`` (:func:`association_rows`,
:func:`overall_rows`), ``association_tests.csv`` (:func:`test_table`),
``association_residuals.csv`` (:func:`residual_rows`) and ``association_vs_published.csv``
(:func:`vs_published`); see :mod:`msht.results` for their columns. The ``*_display`` functions
shape those frames for the notebook's tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from msht import reference, stats, vocab
from msht.results import CONTRACT
from msht.describe import fmt_count, fmt_pct_n, pct

#: The compared levels of each outcome (positive level first) and who is in its population.
OUTCOME_LEVELS: Final[dict[str, tuple[str, str]]] = {
    "engagement": ("positive", "negative"),  # excludes ongoing, no crime and unknown (seed footnote 19)
    "offered": ("yes", "no"),  # all cases with a recorded offer status
    "accepted": ("yes", "no"),  # cases offered support (seed footnote 20)
}

#: Factors measured on offenders: tested on case-offender pairs.
OFFENDER_FACTORS: Final[frozenset[str]] = frozenset(
    {"offender_sex", "offender_age3", "offender_ethnicity2", "offender_uk_national"}
)

#: Unit-of-analysis names written to ``association_tests.csv``.
UNIT_CASES: Final[str] = "cases"
UNIT_PAIRS: Final[str] = "case-offender pairs"

#: ``test`` / ``test_chosen`` value of a test that could not be computed.
NOT_COMPUTABLE: Final[str] = "not computable"

#: ``factor`` and ``level`` of the "Overall % (n)" rows of ``associations.csv``.
OVERALL: Final[str] = "overall"

#: Columns of ``association_tests.csv`` (one row per test).
TEST_COLUMNS: Final[tuple[str, ...]] = CONTRACT["association_tests"]

#: Columns of ``association_residuals.csv`` (one row per level of a test with more than two levels).
RESIDUAL_COLUMNS: Final[tuple[str, ...]] = CONTRACT["association_residuals"]

#: Columns of ``association_vs_published.csv`` (one row per outcome × factor level, and per outcome overall).
VS_PUBLISHED_COLUMNS: Final[tuple[str, ...]] = CONTRACT["association_vs_published"]


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


@dataclass(frozen=True, eq=False)
class SeedTest:
    """One outcome × factor test as run on the data, computable or not.

    Attributes:
        outcome: Outcome code.
        factor: Factor code.
        unit: Unit of analysis (:data:`UNIT_CASES` or :data:`UNIT_PAIRS`).
        counts: Factor level × outcome level counts (positive outcome level first).
        row_labels: Factor level codes, one per row of ``counts``.
        col_labels: Outcome level codes, one per column of ``counts``.
        result: The :class:`msht.stats.AssociationResult`, or ``None`` when not computable.
        reason: Why the test could not be computed (empty when it was).
    """

    outcome: str
    factor: str
    unit: str
    counts: npt.NDArray[np.int64]
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    result: stats.AssociationResult | None
    reason: str = ""

    @property
    def computable(self) -> bool:
        """Whether the test was computed."""
        return self.result is not None

    @property
    def n(self) -> int:
        """Units in the test (those with a known factor level and a compared outcome level)."""
        return int(self.counts.sum())


def seed_pairs() -> list[tuple[str, str]]:
    """The 51 (outcome, factor) tests of Appendix 4, in its column-major order."""
    return [(o, f) for o in vocab.OUTCOMES for f in vocab.APPENDIX4_FACTORS]


def with_indicator_levels(cases: pd.DataFrame) -> pd.DataFrame:
    """Return ``cases`` with the boolean exploitation-type flags coded ``yes``/``no``.

    A case whose exploitation type was not recorded (``exploitation_known`` false) gets the
    missing code for every type, so it is left out of the exploitation-type tests. Columns that
    are already coded (text) are left as they are.
    """
    out = cases.copy()
    known = (
        out["exploitation_known"].astype(bool).to_numpy()
        if "exploitation_known" in out
        else np.ones(len(out), dtype=bool)
    )
    for col in vocab.EXPLOITATION_TYPES:
        if col in out and pd.api.types.is_bool_dtype(out[col]):
            out[col] = np.where(known, np.where(out[col].to_numpy(), "yes", "no"), vocab.UNKNOWN)
    return out


def unit_of(factor: str) -> str:
    """The unit of analysis of ``factor``'s tests."""
    return UNIT_PAIRS if factor in OFFENDER_FACTORS else UNIT_CASES


def unit_frame(factor: str, cases: pd.DataFrame, offenders: pd.DataFrame) -> pd.DataFrame:
    """The frame a factor is tested on: offender pairs for offender factors, cases otherwise."""
    return offenders if factor in OFFENDER_FACTORS else cases


def run_test(
    outcome: str,
    factor: str,
    cases: pd.DataFrame,
    offenders: pd.DataFrame,
    *,
    fisher_when_expected_below: float = 5.0,
    fisher_n_resamples: int = stats.FISHER_RXC_N_RESAMPLES,
) -> SeedTest:
    """Cross-tabulate and test ``factor`` × ``outcome`` (see :func:`msht.stats.association_test`).

    ``cases`` must have its exploitation types coded (:func:`with_indicator_levels`). A
    :class:`msht.stats.DegenerateTableError` is caught and recorded as the test's ``reason``.
    """
    frame = unit_frame(factor, cases, offenders)
    levels = vocab.levels(factor)
    outcome_levels = list(OUTCOME_LEVELS[outcome])
    counts = stats.crosstab(frame, factor, outcome, levels, outcome_levels)
    counts.setflags(write=False)
    try:
        result = stats.association_test(
            counts, levels, outcome_levels, fisher_when_expected_below=fisher_when_expected_below,
            factor=factor, outcome=outcome, fisher_n_resamples=fisher_n_resamples,
        )
    except stats.DegenerateTableError as exc:
        return SeedTest(outcome, factor, unit_of(factor), counts, tuple(levels), tuple(outcome_levels), None, str(exc))
    return SeedTest(outcome, factor, unit_of(factor), counts, tuple(levels), tuple(outcome_levels), result)


def _seed_test_name(test: SeedTest) -> str:
    if not test.computable:
        return NOT_COMPUTABLE
    return stats.TEST_YATES if test.counts.shape == (2, 2) else stats.TEST_PEARSON


def association_rows(test: SeedTest) -> pd.DataFrame:
    """Rows of ``associations.csv`` for one test: per factor level, the count and share with the
    outcome's positive level, and the seed-convention statistic, df, p and test name (empty
    statistics and test ``"not computable"`` when the test could not be run)."""
    n = test.counts[:, 0]
    denominator = test.counts.sum(axis=1)
    r = test.result
    return pd.DataFrame(
        {
            "outcome": test.outcome,
            "factor": test.factor,
            "level": list(test.row_labels),
            "n": n,
            "denominator": denominator,
            "pct": [pct(int(a), int(b)) for a, b in zip(n, denominator, strict=True)],
            "statistic": r.chi2_seed if r else math.nan,
            "df": pd.array([r.df if r else pd.NA] * len(n), dtype="Int64"),
            "p": r.p_seed if r else math.nan,
            "test": _seed_test_name(test),
        }
    )


def overall_rows(cases: pd.DataFrame, outcomes: Iterable[str] = vocab.OUTCOMES) -> pd.DataFrame:
    """The "Overall % (n)" rows: per outcome, cases with its positive level among its population."""
    rows = []
    for outcome in outcomes:
        positive, negative = OUTCOME_LEVELS[outcome]
        values = cases[outcome].astype(object)
        n = int((values == positive).sum())
        denominator = int(values.isin([positive, negative]).sum())
        rows.append({"outcome": outcome, "factor": OVERALL, "level": OVERALL, "n": n, "denominator": denominator,
                     "pct": pct(n, denominator), "statistic": math.nan, "df": pd.NA, "p": math.nan, "test": ""})
    out = pd.DataFrame(rows)
    out["df"] = out["df"].astype("Int64")
    return out


def run_all(
    cases: pd.DataFrame,
    offenders: pd.DataFrame,
    pairs: Iterable[tuple[str, str]] | None = None,
    *,
    fisher_when_expected_below: float = 5.0,
    fisher_n_resamples: int = stats.FISHER_RXC_N_RESAMPLES,
) -> tuple[pd.DataFrame, dict[tuple[str, str], SeedTest]]:
    """Run each (outcome, factor) test (default: the 51 of Appendix 4).

    ``cases`` may hold the exploitation types as booleans (they are coded here). Returns the
    ``associations.csv`` rows (overall rows first, then the level rows of each test) and the
    tests keyed by (outcome, factor).
    """
    coded = with_indicator_levels(cases)
    pair_list = list(pairs) if pairs is not None else seed_pairs()
    tests = {
        (o, f): run_test(o, f, coded, offenders, fisher_when_expected_below=fisher_when_expected_below,
                         fisher_n_resamples=fisher_n_resamples)
        for o, f in pair_list
    }
    outcomes = list(dict.fromkeys(o for o, _ in pair_list))
    frames = [overall_rows(coded, outcomes), *(association_rows(t) for t in tests.values())]
    return pd.concat(frames, ignore_index=True), tests


def _test_record(test: SeedTest) -> dict[str, object]:
    """One ``association_tests.csv`` row, before the family-wide q-values."""
    r = test.result
    base: dict[str, object] = {"outcome": test.outcome, "factor": test.factor, "unit": test.unit, "N": test.n,
                               "test_seed": _seed_test_name(test)}
    if r is None:
        return {**base, "test_chosen": NOT_COMPUTABLE, "note": test.reason}
    contrast = f"{test.row_labels[0]} vs {test.row_labels[1]}" if r.is_2x2 else ""
    return {
        **base, "chi2_seed": r.chi2_seed, "df": r.df, "p_seed": r.p_seed, "min_expected": r.min_expected,
        "n_cells_expected_below_5": r.n_cells_expected_below_5,
        "fisher_p": r.p if r.test == stats.TEST_FISHER else math.nan,
        "test_chosen": r.test, "p_chosen": r.p, "effect_size_name": r.effect_size_name, "effect_size": r.effect_size,
        "odds_ratio": r.odds_ratio, "or_contrast": contrast, "or_ci_low": r.or_ci_low, "or_ci_high": r.or_ci_high,
        "note": r.note,
    }


def test_table(tests: Mapping[tuple[str, str], SeedTest], alpha: float) -> pd.DataFrame:
    """``association_tests.csv``: one row per test, with the family-wide Benjamini-Hochberg q-values.

    The q-values adjust ``p_chosen`` (Fisher's p where an expected count is below 5, else the
    seed-convention p) across every computable test in ``tests``. ``significant_seed`` is
    ``p_seed < alpha`` and ``significant_bh`` is ``q_bh < alpha``; both are empty for a test
    that was not computable.
    """
    frame = pd.DataFrame([_test_record(t) for t in tests.values()]).reindex(columns=list(TEST_COLUMNS))
    frame["q_bh"] = stats.bh_qvalues(frame["p_chosen"].astype(float).to_numpy())
    computable = frame["test_chosen"] != NOT_COMPUTABLE
    frame["significant_seed"] = pd.array((frame["p_seed"] < alpha).where(computable, pd.NA), dtype="boolean")
    frame["significant_bh"] = pd.array((frame["q_bh"] < alpha).where(computable, pd.NA), dtype="boolean")
    for col in ("df", "n_cells_expected_below_5", "N"):
        frame[col] = frame[col].astype("Int64")
    for col in ("effect_size_name", "or_contrast", "note"):
        # object first: a column no record fills is float NaN, which pandas 4 will not fill with text
        frame[col] = frame[col].astype(object).fillna("")
    return frame


# Pytest would otherwise collect ``test_table`` when it is imported into a test module.
test_table.__test__ = False  # type: ignore[attr-defined]


def residual_rows(tests: Mapping[tuple[str, str], SeedTest]) -> pd.DataFrame:
    """``association_residuals.csv``: adjusted standardized residuals of the tables with more than
    two factor levels, for the outcome's positive level (the negative level's residual is its
    negation). ``|residual| > 1.96`` marks a level whose share differs from the others' at 5%."""
    frames = []
    for t in tests.values():
        if t.result is None or t.counts.shape[0] <= 2:
            continue
        row_sum = t.counts.sum(axis=1)
        expected = row_sum * t.counts[:, 0].sum() / t.counts.sum()
        frames.append(pd.DataFrame({
            "outcome": t.outcome, "factor": t.factor, "level": list(t.row_labels), "n": t.counts[:, 0],
            "denominator": row_sum, "expected_n": expected, "adjusted_residual": t.result.adjusted_residuals[:, 0],
        }))
    if not frames:
        return pd.DataFrame(columns=list(RESIDUAL_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(RESIDUAL_COLUMNS)]


def findings(rows: pd.DataFrame, tests: pd.DataFrame, outcome: str, alpha: float) -> pd.DataFrame:
    """The level rows of ``outcome``'s tests significant at ``alpha`` (seed convention: ``p_seed``).

    Returns ``rows``' columns plus ``higher_level`` (the level with the highest share: the data
    decide the direction), ``q_bh``, ``test_chosen`` and ``p_chosen``, in Appendix 4's factor order.
    """
    sig = tests[(tests["outcome"] == outcome) & tests["significant_seed"].fillna(False).astype(bool)]
    keep = sig[["outcome", "factor", "q_bh", "test_chosen", "p_chosen"]]
    levels = rows[(rows["outcome"] == outcome) & (rows["factor"] != OVERALL)].merge(keep, on=["outcome", "factor"])
    top = levels.loc[levels.groupby("factor", sort=False)["pct"].idxmax(), ["factor", "level"]]
    levels = levels.merge(top.rename(columns={"level": "higher_level"}), on="factor")
    order = {f: i for i, f in enumerate(vocab.APPENDIX4_FACTORS)}
    return levels.sort_values("factor", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def vs_published(rows: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """``association_vs_published.csv``: this run's Appendix 4 against the seed's.

    Published ``N`` come from :func:`msht.reference.implied_tables` (rebuilt from the printed %
    and n); ``chi2_published``/``p_published`` are as printed (p as text), and
    ``significant_published`` uses the p rebuilt from the printed counts. ``pct_diff`` is this
    run's % minus the published %.
    """
    implied = reference.implied_tables().rename(columns={
        "n": "n_published", "N": "N_published", "pct_printed": "pct_published", "chi2_printed": "chi2_published",
        "p_printed": "p_published",
    })
    run = rows.rename(columns={"n": "n_run", "denominator": "N_run", "pct": "pct_run", "statistic": "chi2_run",
                               "p": "p_run"})
    out = implied.merge(run[["outcome", "factor", "level", "n_run", "N_run", "pct_run", "chi2_run", "p_run"]],
                        on=["outcome", "factor", "level"], how="left")
    out["pct_diff"] = (out["pct_run"] - out["pct_published"]).round(1)
    is_test = out["factor"] != reference.OVERALL
    out["significant_published"] = pd.array((out["p_rebuilt"] < alpha).where(is_test, pd.NA), dtype="boolean")
    computed = is_test & out["p_run"].notna()
    out["significant_run"] = pd.array((out["p_run"] < alpha).where(computed, pd.NA), dtype="boolean")
    out["verdict_agrees"] = pd.array(
        (out["significant_run"] == out["significant_published"]).where(computed, pd.NA), dtype="boolean"
    )
    for col in ("n_run", "N_run"):
        out[col] = out[col].astype("Int64")
    return out[list(VS_PUBLISHED_COLUMNS)]


# --- display frames for the notebook's tables ----------------------------------------------------


def _fmt(value: float, digits: int = 3) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _fmt_p(value: float) -> str:
    return "" if value is None or pd.isna(value) else stats.format_p(float(value))


def appendix4_display(rows: pd.DataFrame, tests: pd.DataFrame, factors: Iterable[str],
                      outcomes: Iterable[str] = vocab.OUTCOMES) -> pd.DataFrame:
    """One Appendix 4 block in the seed's layout.

    Returns columns ``group, row`` and one ``"% (n)"`` column per outcome: an "Overall % (n)"
    group first, then per factor its level rows and a ``χ²`` and a ``p`` row. A test that was
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
    out = [{"group": "Overall % (n)", "row": "Overall % (n)",
            **{o: keyed.get((o, OVERALL, OVERALL), "") for o in outcomes}}]
    for factor in factors:
        group = vocab.variable_label(factor)
        for level in vocab.levels(factor):
            out.append({"group": group, "row": vocab.label(factor, level),
                        **{o: keyed.get((o, factor, level), "") for o in outcomes}})
        chi2_row, p_row = {"group": group, "row": "χ²"}, {"group": group, "row": "p"}
        for o in outcomes:
            rec = t.loc[(o, factor)] if (o, factor) in t.index else None
            if (o, factor) in bands:  # withheld under disclosure control: only the p band
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


def factor_name(factor: str) -> str:
    """A factor's name outside Appendix 4's blocks: "Victim sex", "Offender age group (years)" ..."""
    name = vocab.variable_label(factor)
    if factor in OFFENDER_FACTORS:
        return f"Offender {name[0].lower()}{name[1:]}"
    if factor.startswith("victim_"):
        return f"Victim {name[0].lower()}{name[1:]}"
    return name


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
    and the test chosen where it is not the seed's); a single "No factor had p < alpha" row when none is
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

#: Columns of ``association_vs_published.csv`` that are the seed's printed values (kept under SDC).
PUBLISHED_COLUMNS: Final[tuple[str, ...]] = (
    "n_published", "N_published", "pct_published", "chi2_published", "p_published", "significant_published",
)
#: Columns of ``association_tests.csv`` that say nothing about the counts (kept under SDC).
TESTS_KEEP: Final[tuple[str, ...]] = ("unit", "test_seed", "df")


def protect(rows: pd.DataFrame, tests: pd.DataFrame, residuals: pd.DataFrame, comparison: pd.DataFrame,
            min_cell_count: int) -> dict[str, pd.DataFrame]:
    """Disclosure control of notebook 03's results (:mod:`msht.sdc`).

    ``rows`` (``associations.csv``) go through :func:`msht.sdc.protect_associations`; the files
    derived from the same cross-tables (tests, residuals, comparison with the seed) are blanked
    block by block (:func:`msht.sdc.withhold_for_blocks`) where a block has a suppression.
    Returns ``associations``, ``association_tests``, ``association_residuals``,
    ``association_vs_published`` and ``suppression`` (the rows of ``suppression.csv`` for these
    files). With ``min_cell_count`` 0 the frames are returned unchanged (plus marker columns).
    """
    from msht import sdc

    protected = sdc.protect_associations(rows, min_cell_count)
    out = {"associations": protected, "association_tests": tests, "association_residuals": residuals,
           "association_vs_published": comparison}
    supp = [sdc.suppression_table(associations=protected)]
    if int(min_cell_count) > 1:
        for name, keep in (("association_tests", TESTS_KEEP), ("association_residuals", ()),
                           ("association_vs_published", PUBLISHED_COLUMNS)):
            out[name], extra = sdc.withhold_for_blocks(out[name], protected, file=name, keep=keep)
            supp.append(extra)
    out["suppression"] = pd.concat(supp, ignore_index=True)
    return out
