"""Association tests for factor × outcome contingency tables.

The published study (section 2.4) ran "Chi-square test[s] for independence" in SPSS. Its
Appendix 4 numbers are reproduced by the following convention, which this module
implements as the *study convention*:

* 2×2 tables: Pearson chi-square **with** Yates' continuity correction;
* larger tables: Pearson chi-square without correction.

Because several of the study's tables have small cells, :func:`association_test`
additionally runs Fisher's exact test whenever an expected count falls below a
threshold (5 by default) and reports it as the *chosen* test; the study-convention
chi-square is always kept alongside (``chi2_study``/``p_study``) so that published
numbers can still be compared.

All distributions come from :mod:`scipy.stats` and :mod:`statsmodels`; nothing here
hand-codes a distribution function. Every result is deterministic (the only
resampling step, the r×c Fisher test, uses a fixed seed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from scipy.stats import contingency
from statsmodels.stats.contingency_tables import Table, Table2x2
from statsmodels.stats.multitest import multipletests

from msht.base.vocab import UNKNOWN

__all__ = [
    "FISHER_RXC_N_RESAMPLES",
    "FISHER_RXC_SEED",
    "TEST_FISHER",
    "TEST_PEARSON",
    "TEST_YATES",
    "AssociationResult",
    "DegenerateTableError",
    "association_test",
    "bh_qvalues",
    "crosstab",
    "format_p",
    "odds_ratio_ci",
    "p_threshold_label",
    "test_factor",
]

TEST_YATES = "Yates chi-square"
TEST_PEARSON = "Pearson chi-square"
TEST_FISHER = "Fisher exact"

#: Seed of the random generator used by the Monte Carlo r×c Fisher test.
FISHER_RXC_SEED = 20240601
#: Number of random tables drawn by the Monte Carlo r×c Fisher test.
FISHER_RXC_N_RESAMPLES = 99_999


class DegenerateTableError(ValueError):
    """A contingency table on which no association test is defined.

    Raised when the factor or the outcome has fewer than two levels, or when a
    factor level (row) or outcome level (column) has no cases at all.
    """


@dataclass(frozen=True, eq=False)
class AssociationResult:
    """Result of one factor × outcome association test.

    Frozen, with read-only arrays; compared by identity (``eq=False``), since
    field-wise ``==`` on numpy arrays is ambiguous.

    Attributes:
        table: r×c integer counts; rows are factor levels, columns are outcome levels
            with the "yes"/positive outcome level first.
        row_labels: Factor level codes, one per row.
        col_labels: Outcome level codes, one per column.
        test: The chosen test: ``"Yates chi-square"``, ``"Pearson chi-square"`` or
            ``"Fisher exact"``.
        statistic: Chi-square value of the chosen test (NaN when Fisher is chosen).
        df: Degrees of freedom, ``(r - 1) * (c - 1)``.
        p: p-value of the chosen test. For a Fisher test on a table larger than 2×2 it
            is a Monte Carlo estimate ``(k + 1) / (B + 1)`` (never below ``1 / (B + 1)``,
            1e-5 by default), reproducible because the generator is seeded.
        chi2_study: Study-convention chi-square (Yates for 2×2, Pearson otherwise),
            always computed, even when Fisher is chosen.
        p_study: p-value of ``chi2_study``.
        min_expected: Smallest expected count under independence.
        n_cells_expected_below_5: Number of cells with an expected count below 5.
        pct_cells_expected_below_5: Percentage of such cells (0-100).
        effect_size: For 2×2 tables the **signed** phi coefficient
            ``(ad - bc) / sqrt(r1 r2 c1 c2)`` for ``table = [[a, b], [c, d]]``: positive
            when the first factor level has the higher share of the first (positive)
            outcome level; ``abs(phi)`` equals Cramér's V. For larger tables Cramér's V
            (always >= 0). Both use the uncorrected Pearson chi-square.
        effect_size_name: ``"phi"`` or ``"Cramér's V"``.
        odds_ratio: 2×2 only (else NaN): ``(a d) / (b c)``, the odds of the positive
            outcome in the first factor level over those in the second. When a cell is
            zero, 0.5 is added to every cell first (Haldane-Anscombe) and ``note`` says so.
        or_ci_low: Lower bound of the 95% Wald CI of the odds ratio (log scale),
            from :class:`statsmodels.stats.contingency_tables.Table2x2`.
        or_ci_high: Upper bound of that CI.
        adjusted_residuals: r×c adjusted standardized residuals
            ``(O - E) / sqrt(E (1 - row share) (1 - column share))``, from
            :attr:`statsmodels.stats.contingency_tables.Table.standardized_resids`.
        note: Warnings and choices made (small expected counts, zero cells, Fisher
            method); empty when there is nothing to report.
    """

    table: npt.NDArray[np.int64]
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    test: str
    statistic: float
    df: int
    p: float
    chi2_study: float
    p_study: float
    min_expected: float
    n_cells_expected_below_5: int
    pct_cells_expected_below_5: float
    effect_size: float
    effect_size_name: str
    odds_ratio: float = math.nan
    or_ci_low: float = math.nan
    or_ci_high: float = math.nan
    adjusted_residuals: npt.NDArray[np.float64] = field(
        default_factory=lambda: np.empty((0, 0), dtype=np.float64)
    )
    note: str = ""

    @property
    def n(self) -> int:
        """Total number of cases in the table."""
        return int(self.table.sum())

    @property
    def is_2x2(self) -> bool:
        """Whether the table has two rows and two columns."""
        return self.table.shape == (2, 2)


def _subject(factor: str | None, outcome: str | None) -> str:
    return f"{factor or 'factor'} × {outcome or 'outcome'}"


def _validate(
    table: npt.ArrayLike,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    factor: str | None,
    outcome: str | None,
) -> npt.NDArray[np.int64]:
    """Return ``table`` as a 2-D int array, or raise for unusable input."""
    arr = np.asarray(table)
    if arr.ndim != 2:
        raise ValueError(f"table must be 2-dimensional, got shape {arr.shape}")
    if arr.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"table shape {arr.shape} does not match {len(row_labels)} row labels "
            f"and {len(col_labels)} column labels"
        )
    if arr.size and (np.any(arr < 0) or not np.all(np.equal(np.mod(arr, 1), 0))):
        raise ValueError("table must hold non-negative integer counts")
    counts = arr.astype(np.int64)
    subject = _subject(factor, outcome)
    if len(col_labels) < 2:
        raise DegenerateTableError(
            f"cannot test {subject}: the outcome has a single level {list(col_labels)}"
        )
    if len(row_labels) < 2:
        raise DegenerateTableError(
            f"cannot test {subject}: the factor has a single level {list(row_labels)}"
        )
    empty_rows = [lab for lab, s in zip(row_labels, counts.sum(axis=1), strict=True) if s == 0]
    empty_cols = [lab for lab, s in zip(col_labels, counts.sum(axis=0), strict=True) if s == 0]
    problems = [f"level '{lab}' has no cases" for lab in empty_rows]
    problems += [f"outcome level '{lab}' has no cases" for lab in empty_cols]
    if problems:
        raise DegenerateTableError(f"cannot test {subject}: " + "; ".join(problems))
    return counts


def _fisher(counts: npt.NDArray[np.int64], n_resamples: int, seed: int) -> tuple[float, str]:
    """Fisher's exact test p-value and a description of how it was computed."""
    if counts.shape == (2, 2):
        return float(stats.fisher_exact(counts).pvalue), "exact (scipy.stats.fisher_exact)"
    # scipy >= 1.15 supports r×c tables (Freeman-Halton statistic: the probability of
    # the table under fixed margins) via a resampling method; the default draws from an
    # unseeded generator, so pass a seeded MonteCarloMethod for reproducibility.
    method = stats.MonteCarloMethod(n_resamples=n_resamples, rng=np.random.default_rng(seed))
    # scipy 1.17 returns a one-element array, not a scalar, for some tables (a column total of 1:
    # [[0, 1], [0, 1], [1, 0]]): read the one value either way
    p = float(np.asarray(stats.fisher_exact(counts, method=method).pvalue, dtype=np.float64).reshape(-1)[0])
    how = f"Monte Carlo Freeman-Halton (scipy.stats.fisher_exact, {n_resamples} tables, seed {seed})"
    return p, how


def association_test(
    table: npt.ArrayLike,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    fisher_when_expected_below: float = 5.0,
    factor: str | None = None,
    outcome: str | None = None,
    fisher_n_resamples: int = FISHER_RXC_N_RESAMPLES,
    fisher_seed: int = FISHER_RXC_SEED,
) -> AssociationResult:
    """Test a factor × outcome contingency table for association.

    The study convention is Yates-corrected chi-square for 2×2 tables and Pearson
    chi-square otherwise (:func:`scipy.stats.chi2_contingency` with
    ``correction=True``, which scipy applies only when ``df == 1``). When any expected
    count is below ``fisher_when_expected_below``, Fisher's exact test is also run and
    reported as the chosen test: exactly for 2×2 tables, and for larger tables by the
    Monte Carlo version of :func:`scipy.stats.fisher_exact` with a fixed seed.

    Args:
        table: r×c counts; rows are factor levels, columns outcome levels with the
            positive level first.
        row_labels: Factor level codes, one per row.
        col_labels: Outcome level codes, one per column.
        fisher_when_expected_below: Choose Fisher's test when the smallest expected
            count is below this value (use ``0`` to never choose Fisher).
        factor: Factor code, used only in error messages.
        outcome: Outcome code, used only in error messages.
        fisher_n_resamples: Monte Carlo tables for the r×c Fisher test.
        fisher_seed: Seed of the Monte Carlo r×c Fisher test.

    Returns:
        The :class:`AssociationResult`.

    Raises:
        DegenerateTableError: If a variable has a single level or a row or column of
            ``table`` sums to zero.
        ValueError: If ``table`` is not a 2-D array of non-negative integer counts
            matching the labels.
    """
    counts = _validate(table, row_labels, col_labels, factor, outcome)
    study_res = stats.chi2_contingency(counts, correction=True)
    expected = np.asarray(study_res.expected_freq, dtype=np.float64)
    chi2_study, p_study, dof = float(study_res.statistic), float(study_res.pvalue), int(study_res.dof)
    min_expected = float(expected.min())
    n_below_5 = int((expected < 5).sum())
    notes: list[str] = []
    if n_below_5:
        notes.append(f"{n_below_5} of {counts.size} cells have expected count < 5")
    if min_expected < fisher_when_expected_below:
        p_fisher, how = _fisher(counts, fisher_n_resamples, fisher_seed)
        test, statistic, p = TEST_FISHER, math.nan, p_fisher
        notes.append(f"min expected {min_expected:.2f} < {fisher_when_expected_below:g}: Fisher's test chosen, {how}")
    else:
        test, statistic, p = TEST_YATES if counts.shape == (2, 2) else TEST_PEARSON, chi2_study, p_study
    effect_size, effect_size_name, odds_ratio, ci_low, ci_high = _effect_sizes(counts, notes)
    # shift_zeros=False: statsmodels would otherwise replace zero cells by 0.5.
    adjusted = np.array(Table(counts, shift_zeros=False).standardized_resids, dtype=np.float64)
    counts.setflags(write=False)
    adjusted.setflags(write=False)
    return AssociationResult(
        table=counts, row_labels=tuple(row_labels), col_labels=tuple(col_labels), test=test, statistic=statistic,
        df=dof, p=p, chi2_study=chi2_study, p_study=p_study, min_expected=min_expected,
        n_cells_expected_below_5=n_below_5, pct_cells_expected_below_5=100.0 * n_below_5 / counts.size,
        effect_size=effect_size, effect_size_name=effect_size_name, odds_ratio=odds_ratio, or_ci_low=ci_low,
        or_ci_high=ci_high, adjusted_residuals=adjusted, note="; ".join(notes),
    )


def _effect_sizes(counts: npt.NDArray[np.int64], notes: list[str]) -> tuple[float, str, float, float, float]:
    """Effect size, its name, and for 2×2 tables the odds ratio with its 95% CI (else NaN);
    appends the odds ratio's note to ``notes``. See :class:`AssociationResult`."""
    # scipy's association() uses the uncorrected Pearson chi-square.
    cramer_v = float(contingency.association(counts, method="cramer", correction=False))
    if counts.shape != (2, 2):
        return cramer_v, "Cramér's V", math.nan, math.nan, math.nan
    (a, b), (c, d) = counts
    odds_ratio, ci_low, ci_high, or_note = odds_ratio_ci(counts)
    if or_note:
        notes.append(or_note)
    return math.copysign(cramer_v, float(a * d - b * c)), "phi", odds_ratio, ci_low, ci_high


def odds_ratio_ci(counts: npt.NDArray[np.int64]) -> tuple[float, float, float, str]:
    """Odds ratio ``(a d) / (b c)`` of a 2×2 table ``[[a, b], [c, d]]``, its 95% Wald CI (log scale,
    :class:`statsmodels.stats.contingency_tables.Table2x2`) and a note: when a cell is zero, 0.5 is
    added to every cell first (Haldane-Anscombe) and the note says so (else it is empty)."""
    note = ""
    values = counts.astype(np.float64)
    if (counts == 0).any():
        values = values + 0.5
        note = "zero cell: odds ratio and CI use the Haldane-Anscombe correction (+0.5 to every cell)"
    t2 = Table2x2(values, shift_zeros=False)
    low, high = t2.oddsratio_confint(alpha=0.05, method="normal")
    return float(t2.oddsratio), float(low), float(high), note


def level_codes(values: pd.Series, labels: Sequence[str], *, as_text: bool = False) -> npt.NDArray[np.int64]:
    """Each value's position in ``labels`` (-1 when it is not one of them, or missing), in one hash
    pass over the values (:func:`pandas.factorize`, or a categorical's codes: one lookup per
    category, none per row). ``as_text``: compare the values' text (a stratum column may hold
    numbers)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(), pd.Index(values.cat.categories)
    else:
        codes, uniques = pd.factorize(values)
    uniques = pd.Index(uniques, dtype=object)
    if as_text:
        uniques = uniques.map(str)
    lut = pd.Index(list(labels), dtype=object).get_indexer(uniques)
    return np.append(lut, -1).astype(np.int64)[codes]  # code -1 (missing): the last, -1


def crosstab(
    df: pd.DataFrame,
    factor: str,
    outcome: str,
    factor_levels: Sequence[str],
    outcome_levels: Sequence[str],
) -> npt.NDArray[np.int64]:
    """Count a tidy frame into a factor × outcome table.

    Only rows whose ``factor`` value is one of ``factor_levels`` **and** whose
    ``outcome`` value is one of ``outcome_levels`` are counted. Rows with a missing
    value, the ``"unknown"`` code, or any other unlisted level are left out; this is
    how an analysis population is chosen (e.g. engagement is tested on
    ``["positive", "negative"]`` only, leaving out ongoing, no-crime and unknown cases,
    as in the study's Appendix 4 footnotes).

    Args:
        df: One row per case (or per case × offender), one column per variable.
        factor: Column holding the factor level codes.
        outcome: Column holding the outcome level codes.
        factor_levels: Factor levels, in row order.
        outcome_levels: Outcome levels, in column order (positive level first).

    Returns:
        ``len(factor_levels)`` × ``len(outcome_levels)`` integer counts.

    Raises:
        KeyError: If ``factor`` or ``outcome`` is not a column of ``df``.
        ValueError: If ``"unknown"`` is given as a level, or a level is repeated.

    When both columns are categorical (:func:`msht.analysis.associate.run_all` converts each
    column once for all its tests), the rows are counted from the categories' codes.
    """
    for name, lvls in (("factor_levels", factor_levels), ("outcome_levels", outcome_levels)):
        if UNKNOWN in lvls:
            raise ValueError(f"{name} must not contain the missing code {UNKNOWN!r}")
        if len(set(lvls)) != len(lvls):
            raise ValueError(f"{name} has repeated levels: {list(lvls)}")
    if isinstance(df[factor].dtype, pd.CategoricalDtype) and isinstance(df[outcome].dtype, pd.CategoricalDtype):
        f_code, o_code = level_codes(df[factor], factor_levels), level_codes(df[outcome], outcome_levels)
        ok = (f_code >= 0) & (o_code >= 0)
        flat = f_code[ok] * len(outcome_levels) + o_code[ok]
        size = len(factor_levels) * len(outcome_levels)
        return np.bincount(flat, minlength=size).reshape(len(factor_levels), len(outcome_levels)).astype(np.int64)
    f_values = df[factor].astype(object).to_numpy()
    o_values = df[outcome].astype(object).to_numpy()
    out = np.zeros((len(factor_levels), len(outcome_levels)), dtype=np.int64)
    in_column = [o_values == o_level for o_level in outcome_levels]  # each compared once
    for i, f_level in enumerate(factor_levels):
        in_row = f_values == f_level
        for j, column in enumerate(in_column):
            out[i, j] = int(np.count_nonzero(in_row & column))
    return out


def test_factor(
    df: pd.DataFrame,
    factor: str,
    outcome: str,
    factor_levels: Sequence[str],
    outcome_levels: Sequence[str],
    *,
    fisher_when_expected_below: float = 5.0,
    fisher_n_resamples: int = FISHER_RXC_N_RESAMPLES,
    fisher_seed: int = FISHER_RXC_SEED,
) -> AssociationResult:
    """Cross-tabulate ``factor`` × ``outcome`` in ``df`` and test the association.

    See :func:`crosstab` for which rows are counted and :func:`association_test` for
    the test. Error messages name ``factor``, ``outcome`` and the offending levels.
    """
    counts = crosstab(df, factor, outcome, factor_levels, outcome_levels)
    return association_test(
        counts,
        list(factor_levels),
        list(outcome_levels),
        fisher_when_expected_below=fisher_when_expected_below,
        factor=factor,
        outcome=outcome,
        fisher_n_resamples=fisher_n_resamples,
        fisher_seed=fisher_seed,
    )


# pytest would otherwise try to collect ``test_factor`` when it is imported into a test module.
test_factor.__test__ = False  # type: ignore[attr-defined]


def bh_qvalues(pvalues: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Benjamini-Hochberg false-discovery-rate q-values.

    Uses :func:`statsmodels.stats.multitest.multipletests` with ``method="fdr_bh"``.
    NaN p-values stay NaN and are not counted among the tests.

    Args:
        pvalues: p-values, any shape.

    Returns:
        q-values with the shape of ``pvalues``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q


def _check_p(p: float) -> float:
    p = float(p)
    if math.isnan(p) or not 0.0 <= p <= 1.0:
        raise ValueError(f"not a p-value: {p!r}")
    return p


def format_p(p: float) -> str:
    """Format a p-value as the study prints it: ``"<0.001"`` or three decimals.

    Examples:
        >>> format_p(0.0004), format_p(0.0412), format_p(1.0)
        ('<0.001', '0.041', '1.000')
    """
    p = _check_p(p)
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_threshold_label(p: float) -> str:
    """Label a p-value with the study's thresholds (Tables 2-4).

    Returns ``"p<0.001"``, ``"p<0.01"`` or ``"p<0.05"`` for significant values and
    ``"p=0.xyz"`` (three decimals) otherwise.

    Examples:
        >>> p_threshold_label(0.0004), p_threshold_label(0.009), p_threshold_label(0.2)
        ('p<0.001', 'p<0.01', 'p=0.200')
    """
    p = _check_p(p)
    for threshold, text in ((0.001, "p<0.001"), (0.01, "p<0.01"), (0.05, "p<0.05")):
        if p < threshold:
            return text
    return f"p={p:.3f}"
