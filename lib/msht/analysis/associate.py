"""Section 4: factor × outcome tests in the study's convention, and what a reviewer adds to them.

Units of analysis: victim and case factors are tested on **cases** (a victim's attributes repeat
on each of their cases); offender factors on **case-offender pairs** (a case with three recorded
offenders counts three times), because Appendix 4's offender denominators exceed the number of
cases with an offender.

Populations (the study's Appendix 4 footnotes): engagement compares positive with negative
engagement, leaving out unknown, ongoing and no-crime cases; "offered" compares offered with not
offered among cases with a recorded offer status; "accepted" compares accepted with declined among
cases offered support. A unit whose factor level is unknown is left out of that test only: so,
in a run of several forces, are the cases of a force that sent no offender extract from the tests of
``recorded_offender`` (unknown for them: :func:`msht.clean.forces.offenders_not_known`).

Every test is run by :func:`run_test`. A table on which no test is defined (a factor level or an
outcome level with no cases, or a single level) does not stop the run: the test is recorded as
*not computable* with the reason, its level counts are still reported, and its statistics are
empty.

The frames built here are the results files ``associations.csv`` (:func:`association_rows`,
:func:`overall_rows`), ``association_tests.csv`` (:func:`test_table`),
``association_residuals.csv`` (:func:`residual_rows`) and ``association_vs_published.csv``
(:func:`vs_published`); see :mod:`msht.base.contract` for their columns. Their disclosure
control and the notebook's display frames are in :mod:`msht.publish.association_tables`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from msht.analysis import reference, stats
from msht.base import vocab
from msht.base.contract import CONTRACT
from msht.base.formats import pct

#: The compared levels of each outcome (positive level first) and who is in its population.
OUTCOME_LEVELS: Final[dict[str, tuple[str, str]]] = {
    "engagement": ("positive", "negative"),  # excludes ongoing, no crime and unknown (study footnote 19)
    "offered": ("yes", "no"),  # all cases with a recorded offer status
    "accepted": ("yes", "no"),  # cases offered support (study footnote 20)
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


@dataclass(frozen=True, eq=False)
class StudyTest:
    """One outcome × factor test as run on the data, computable or not.

    Attributes:
        outcome: Outcome code.
        factor: Factor code.
        unit: Unit of analysis (:data:`UNIT_CASES` or :data:`UNIT_PAIRS`).
        counts: Factor level × outcome level counts (positive outcome level first).
        row_labels: Factor level codes, one per row of ``counts``.
        col_labels: Outcome level codes, one per column of ``counts``.
        result: The :class:`msht.analysis.stats.AssociationResult`, or ``None`` when not computable.
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


def published_pairs() -> list[tuple[str, str]]:
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


def categorised(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``frame`` with those of ``columns`` it has (text columns) as categoricals: each column hashed
    once for all the tests that count it (:func:`msht.analysis.stats.crosstab` then reads the
    categories' codes). Other columns are left as they are."""
    present = [c for c in dict.fromkeys(columns) if c in frame.columns
               and not isinstance(frame[c].dtype, pd.CategoricalDtype) and not pd.api.types.is_bool_dtype(frame[c])]
    return frame.astype(dict.fromkeys(present, "category")) if present else frame


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
) -> StudyTest:
    """Cross-tabulate and test ``factor`` × ``outcome`` (see :func:`msht.analysis.stats.association_test`).

    ``cases`` must have its exploitation types coded (:func:`with_indicator_levels`). A
    :class:`msht.analysis.stats.DegenerateTableError` is caught and recorded as the test's ``reason``.
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
        return StudyTest(outcome, factor, unit_of(factor), counts, tuple(levels), tuple(outcome_levels), None, str(exc))
    return StudyTest(outcome, factor, unit_of(factor), counts, tuple(levels), tuple(outcome_levels), result)


def _study_test_name(test: StudyTest) -> str:
    if not test.computable:
        return NOT_COMPUTABLE
    return stats.TEST_YATES if test.counts.shape == (2, 2) else stats.TEST_PEARSON


def association_rows(test: StudyTest) -> pd.DataFrame:
    """Rows of ``associations.csv`` for one test: per factor level, the count and share with the
    outcome's positive level, and the study-convention statistic, df, p and test name (empty
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
            "statistic": r.chi2_study if r else math.nan,
            "df": pd.array([r.df if r else pd.NA] * len(n), dtype="Int64"),
            "p": r.p_study if r else math.nan,
            "test": _study_test_name(test),
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
) -> tuple[pd.DataFrame, dict[tuple[str, str], StudyTest]]:
    """Run each (outcome, factor) test (default: the 51 of Appendix 4).

    ``cases`` may hold the exploitation types as booleans (they are coded here). Returns the
    ``associations.csv`` rows (overall rows first, then the level rows of each test) and the
    tests keyed by (outcome, factor).
    """
    pair_list = list(pairs) if pairs is not None else published_pairs()
    columns = [c for pair in pair_list for c in pair]
    coded = categorised(with_indicator_levels(cases), columns)
    offenders = categorised(offenders, columns)
    tests = {
        (o, f): run_test(o, f, coded, offenders, fisher_when_expected_below=fisher_when_expected_below,
                         fisher_n_resamples=fisher_n_resamples)
        for o, f in pair_list
    }
    outcomes = list(dict.fromkeys(o for o, _ in pair_list))
    frames = [overall_rows(coded, outcomes), *(association_rows(t) for t in tests.values())]
    return pd.concat(frames, ignore_index=True), tests


def _test_record(test: StudyTest) -> dict[str, object]:
    """One ``association_tests.csv`` row, before the family-wide q-values."""
    r = test.result
    base: dict[str, object] = {"outcome": test.outcome, "factor": test.factor, "unit": test.unit, "N": test.n,
                               "test_seed": _study_test_name(test)}
    if r is None:
        return {**base, "test_chosen": NOT_COMPUTABLE, "note": test.reason}
    contrast = f"{test.row_labels[0]} vs {test.row_labels[1]}" if r.is_2x2 else ""
    return {
        **base, "chi2_seed": r.chi2_study, "df": r.df, "p_seed": r.p_study, "min_expected": r.min_expected,
        "n_cells_expected_below_5": r.n_cells_expected_below_5,
        "fisher_p": r.p if r.test == stats.TEST_FISHER else math.nan,
        "test_chosen": r.test, "p_chosen": r.p, "effect_size_name": r.effect_size_name, "effect_size": r.effect_size,
        "odds_ratio": r.odds_ratio, "or_contrast": contrast, "or_ci_low": r.or_ci_low, "or_ci_high": r.or_ci_high,
        "note": r.note,
    }


def test_table(tests: Mapping[tuple[str, str], StudyTest], alpha: float) -> pd.DataFrame:
    """``association_tests.csv``: one row per test, with the family-wide Benjamini-Hochberg q-values.

    The q-values adjust ``p_chosen`` (Fisher's p where an expected count is below 5, else the
    study-convention p) across every computable test in ``tests``. ``significant_seed`` is
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


def residual_rows(tests: Mapping[tuple[str, str], StudyTest]) -> pd.DataFrame:
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
    """The level rows of ``outcome``'s tests significant at ``alpha`` (study convention: ``p_seed``).

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
    """``association_vs_published.csv``: this run's Appendix 4 against the study's.

    Published ``N`` come from :func:`msht.analysis.reference.implied_tables` (rebuilt from the printed %
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
