"""Issue 19: several forces in one analysis -- each factor tested within forces and pooled across them.

Why stratify
------------
Forces differ in how they record and in whom they meet, so stacking their extracts would confound
force with every factor. The standard epidemiological answer is a stratified analysis: the
factor × outcome table is counted within each force (the *strata*), the association is tested
within forces and pooled across them (Cochran-Mantel-Haenszel), and a homogeneity test says whether
the forces agree.

What is computed (results ``forces_pooled.csv``, :func:`stratified_tests`)
------------------------------------------------------------------------
Every Appendix 4 test (:func:`msht.analysis.associate.published_pairs`), on the same units and
populations as the single-force tests (:mod:`msht.analysis.associate`: cases, or case-offender
pairs for offender factors; the outcome's compared levels). One row per comparison of a factor
level with its reference level (:func:`comparisons`): the first level against the second for a
two-level factor (as ``association_tests.csv``'s ``or_contrast``), each other level against the
first (``17_and_under``) for a three-level factor (as ``regression.csv``).

* **Mantel-Haenszel pooled odds ratio** with its 95% CI (Robins-Breslow-Greenland variance, log
  scale) and the **CMH test** (1 df) of the 2×2×K table of the comparison, from
  :class:`statsmodels.stats.contingency_tables.StratifiedTable`. The CMH statistic has the
  continuity correction by default (``correct = TRUE``, R's ``mantelhaen.test`` default, and the
  study's Yates convention for 2×2 tables); as in R, the correction is applied only when the
  uncorrected difference ``|sum(a - E[a])|`` is at least 0.5 (statsmodels subtracts 0.5 whatever
  the difference, which squares a negative number when it is smaller). p-values are
  :func:`scipy.stats.chi2.sf` of the statistic (statsmodels computes ``1 - cdf``, which is 0 below
  about 1e-16).
* **Breslow-Day test** of equal odds ratios across forces **with Tarone's correction** (K - 1 df;
  Breslow & Day 1980, eq. 4.30; Tarone 1985), as statsmodels' ``test_equal_odds(adjust=True)``
  computes it, but with the expected first cell taken from the numerically stable root of its
  quadratic (:func:`expected_first_cell`): statsmodels divides by ``1 - OR_MH``, which gives NaN
  when the pooled odds ratio is exactly 1 (a symmetric set of tables) and loses digits near 1.
  ``tests/test_stratified.py`` checks the two agree elsewhere.
* **Three-level factors: the generalized CMH test** (the *general association* statistic, (I - 1)
  (J - 1) df; Landis, Heyman & Koch 1978; Agresti, *Categorical Data Analysis*, 3rd ed., section
  6.4.2), which is what R's ``mantelhaen.test`` computes for an I×J×K table
  (:func:`generalized_cmh`). statsmodels has none, so it is written here in small functions. Chosen
  over the likelihood-ratio test of a logistic model with force as a fixed effect because it is
  the stratified analogue of the study's own Pearson test of the whole three-level table, needs no
  model fit (no convergence failures on a small force's sparse table, no cell left out for
  separation), is exact to compute, and has an external reference implementation (R) that the
  fixtures check it against. The cmh columns of a three-level factor's rows hold this test of the
  whole factor (the same on each of its rows); ``mh_or`` and the homogeneity test are those of the
  row's level against the reference.

Strata that cannot contribute
-----------------------------
A force in which one of the compared levels, or one outcome level, has no units (an empty row or
column of its 2×2 table; also a force that sent no offender extract, for the offender factors and
``recorded_offender``, unknown for its cases) is left out of the pooled strata and named in
``note``. Its terms in the Mantel-Haenszel sums and in the
CMH statistic are zero, so leaving it out changes neither; it only makes the Breslow-Day test
defined (its expected cells would be zero). ``n_strata`` counts the forces that remain and ``n``
their units. A zero cell that is not a whole row or column needs no correction: the Mantel-Haenszel
estimator is defined as long as some force has ``a d > 0`` and some has ``b c > 0``; when not, the
pooled odds ratio is 0 or infinite, its CI and the homogeneity test are not computable, and
``note`` says so. With a single force remaining there is no homogeneity test (``homogeneity_test``
"none: one force"). For the generalized CMH, a force with fewer than two units is left out (its
variance is not defined), and a level with no units in any force makes the test not computable.
Nothing here raises on small data: what could not be computed is empty, with the reason in
``note``.

Per-force odds ratios and funnel plots
--------------------------------------
:func:`per_stratum_odds_ratios` (``forces_odds_ratios.csv``) gives each force's 2×2 cells and odds
ratio with its 95% Wald CI (Haldane-Anscombe +0.5 only where a cell is zero, said in ``note``; not
computable where a row or column is empty), for the forest plots. :func:`funnel_rates`
(``forces_funnel.csv``) gives each force's rate of an outcome against its number of cases with the
overall rate's exact binomial control limits at that number (:func:`funnel_limits`; Spiegelhalter
2005, "Funnel plots for comparing institutional performance", Statistics in Medicine 24:1185-1202,
appendix A.1.1: the p-quantile r_p of Binomial(n, p0), interpolated as
``(r_p - alpha) / n`` with ``alpha = (P(R <= r_p) - p) / P(R = r_p)``, clipped to [0, 1]).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.contingency_tables import StratifiedTable

from msht.analysis import associate, stats
from msht.base import vocab
from msht.base.contract import CONTRACT

#: Columns of ``forces_pooled.csv`` (:func:`stratified_tests`).
POOLED_COLUMNS: Final[tuple[str, ...]] = CONTRACT["forces_pooled"]
#: Columns of ``forces_odds_ratios.csv`` (:func:`per_stratum_odds_ratios`).
ODDS_RATIO_COLUMNS: Final[tuple[str, ...]] = CONTRACT["forces_odds_ratios"]
#: Columns of ``forces_funnel.csv`` (:func:`funnel_rates`).
FUNNEL_COLUMNS: Final[tuple[str, ...]] = CONTRACT["forces_funnel"]

#: ``method`` of a two-level factor's rows and of a three-level factor's rows.
METHOD_2X2: Final[str] = "CMH (2x2xK)"
METHOD_GENERALIZED: Final[str] = "generalized CMH (general association)"
#: ``homogeneity_test`` when it was computed.
HOMOGENEITY_BD: Final[str] = "Breslow-Day (Tarone)"
#: Coverage of the funnel plot's control limits (Spiegelhalter 2005: about 2 and 3 standard errors).
FUNNEL_LEVELS: Final[tuple[float, float]] = (0.95, 0.998)
#: ``position`` of a force in the funnel plot.
WITHIN_95: Final[str] = "within 95%"
BETWEEN: Final[str] = "between 95% and 99.8%"
OUTSIDE_998: Final[str] = "outside 99.8%"
NO_CASES: Final[str] = "no cases"


@dataclass(frozen=True)
class PooledResult:
    """The pooled statistics of one 2×2×K table (see the module docstring); NaN where not computable.

    Attributes:
        n_strata: Strata pooled (both compared levels and both outcome levels have units).
        n: Units in the pooled strata.
        mh_or: Mantel-Haenszel odds ratio (0 or inf when no stratum has ``b c > 0`` or ``a d > 0``).
        ci_low: Lower end of its 95% CI (Robins-Breslow-Greenland); ci_high: upper end.
        cmh_statistic: Mantel-Haenszel chi-square (1 df), continuity-corrected when asked.
        cmh_p: Its p-value.
        homogeneity_test: :data:`HOMOGENEITY_BD`, ``"none: one <stratum>"`` or ``"not computable"``.
        homogeneity_statistic: Tarone-corrected Breslow-Day statistic; homogeneity_df: K - 1.
        homogeneity_p: Its p-value.
        notes: What was left out or could not be computed, and why.
    """

    n_strata: int
    n: int
    mh_or: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    cmh_statistic: float = math.nan
    cmh_p: float = math.nan
    homogeneity_test: str = associate.NOT_COMPUTABLE
    homogeneity_statistic: float = math.nan
    homogeneity_df: float = math.nan
    homogeneity_p: float = math.nan
    notes: tuple[str, ...] = field(default_factory=tuple)


# --- counting -------------------------------------------------------------------------------------


def strata_of(frame: pd.DataFrame, stratum: str) -> list[str]:
    """The strata of ``frame``: the categories of a categorical ``stratum`` column (params order,
    including a force with no rows here), else its values in order of first appearance."""
    if stratum not in frame.columns:
        raise KeyError(f"the frame has no stratum column '{stratum}' (columns: {list(frame.columns)})")
    column = frame[stratum]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(c) for c in column.cat.categories]
    return [str(v) for v in pd.unique(column.dropna().astype(str))]


def stratum_tables(
    frame: pd.DataFrame, factor: str, outcome: str, *, stratum: str, strata: Sequence[str],
    levels: Sequence[str], outcome_levels: Sequence[str],
) -> npt.NDArray[np.int64]:
    """Count ``frame`` into a K×I×J array: stratum × factor level × outcome level.

    As :func:`msht.analysis.stats.crosstab` per stratum: only rows whose factor value is one of
    ``levels`` and whose outcome value is one of ``outcome_levels`` are counted (unknown and other
    levels are left out of the test); rows of a stratum not in ``strata`` are not counted.
    """
    s_code = stats.level_codes(frame[stratum], strata, as_text=True)
    f_code = stats.level_codes(frame[factor], levels)
    o_code = stats.level_codes(frame[outcome], outcome_levels)
    ok = (s_code >= 0) & (f_code >= 0) & (o_code >= 0)
    k, i, j = len(strata), len(levels), len(outcome_levels)
    flat = (s_code[ok].astype(np.int64) * i + f_code[ok]) * j + o_code[ok]
    return np.bincount(flat, minlength=k * i * j).reshape(k, i, j).astype(np.int64)


def _categorised(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``frame`` with ``columns`` (those it has) as categoricals, so that each is hashed once for all
    the tests that count it (:func:`msht.analysis.stats.level_codes` then reads the categorical's codes)."""
    present = [c for c in dict.fromkeys(columns) if c in frame.columns
               and not isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(present, "category")) if present else frame


def _unit_frames(cases: pd.DataFrame, offenders: pd.DataFrame, pairs: list[tuple[str, str]],
                 stratum: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cases (exploitation types coded) and case-offender pairs, with the columns of ``pairs``
    as categoricals and ``stratum`` as one categorical for both: the cases' strata
    (:func:`strata_of`), then any only the pairs have. So a force with no offender rows is still a
    stratum of the offender tests (with no units)."""
    strata = strata_of(cases, stratum)
    strata += [s for s in strata_of(offenders, stratum) if s not in strata]
    columns = [c for pair in pairs for c in pair]
    out = []
    for frame in (associate.with_indicator_levels(cases), offenders):
        text = frame[stratum].astype(object).map(str, na_action="ignore")
        out.append(_categorised(frame.assign(**{stratum: pd.Categorical(text, categories=strata)}), columns))
    return out[0], out[1]


def comparisons(factor: str) -> list[tuple[str, str]]:
    """The (level, reference) pairs of ``factor``'s rows: the first level against the second for
    two levels; every other level against the first for more."""
    levels = vocab.levels(factor)
    if len(levels) == 2:
        return [(levels[0], levels[1])]
    return [(level, levels[0]) for level in levels[1:]]


# --- Mantel-Haenszel, CMH and Breslow-Day on a 2×2×K table ------------------------------------------


def _contributing(tables: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Strata of a K×2×2 array whose rows and columns all have units."""
    return (tables.sum(axis=2) > 0).all(axis=1) & (tables.sum(axis=1) > 0).all(axis=1)


def expected_first_cell(
    row1: npt.ArrayLike, col1: npt.ArrayLike, total: npt.ArrayLike, odds_ratio: float
) -> npt.NDArray[np.float64]:
    """Per stratum, the expected ``a`` of a 2×2 table with margins ``row1 = a + b``, ``col1 = a + c``
    and ``total`` whose odds ratio equals ``odds_ratio`` (Breslow & Day 1980, eq. 4.30).

    ``x`` solves ``x (total - row1 - col1 + x) = odds_ratio (row1 - x) (col1 - x)``, the quadratic
    ``(1 - R) x² + (R (row1 + col1) + total - row1 - col1) x - R row1 col1 = 0``, taken at the root
    in ``[max(0, row1 + col1 - total), min(row1, col1)]``. The root is computed as ``c / q`` or
    ``q / a`` with ``q = -(b + sign(b) sqrt(b² - 4ac)) / 2`` (no cancellation), which is also
    right at ``R = 1`` (``row1 col1 / total``). Needs ``0 < odds_ratio < inf`` and positive margins.
    """
    n1, m1, n = (np.asarray(v, dtype=np.float64) for v in (row1, col1, total))
    a = 1.0 - odds_ratio
    b = odds_ratio * (n1 + m1) + n - n1 - m1
    c = -odds_ratio * n1 * m1
    q = -0.5 * (b + np.where(b >= 0, 1.0, -1.0) * np.sqrt(b * b - 4.0 * a * c))
    with np.errstate(divide="ignore", invalid="ignore"):
        first = c / q
        second = q / a if a != 0 else np.full_like(first, np.nan)
    lo, hi = np.maximum(0.0, n1 + m1 - n), np.minimum(n1, m1)
    tol = 1e-9 * np.maximum(1.0, n)
    inside = (first >= lo - tol) & (first <= hi + tol)
    return np.clip(np.where(inside, first, second), lo, hi)


def breslow_day(tables: npt.NDArray[np.int64], odds_ratio: float) -> tuple[float, float]:
    """Breslow-Day statistic of equal odds ratios across the K strata of a K×2×2 array, without
    and with Tarone's correction: ``BD = sum (a - A)² / V`` and ``BD - (sum a - sum A)² / sum V``,
    with ``A`` the expected cell at the common ``odds_ratio`` (:func:`expected_first_cell`) and
    ``V = 1 / (1/A + 1/B + 1/C + 1/D)`` over its four expected cells. Refer both to chi-square
    with K - 1 df. Every stratum must have units in both rows and both columns."""
    t = tables.astype(np.float64)
    a = t[:, 0, 0]
    n1, m1, n = t[:, 0, :].sum(axis=1), t[:, :, 0].sum(axis=1), t.sum(axis=(1, 2))
    e = expected_first_cell(n1, m1, n, odds_ratio)
    var = 1.0 / (1.0 / e + 1.0 / (n1 - e) + 1.0 / (m1 - e) + 1.0 / (n - n1 - m1 + e))
    bd = float(np.sum((a - e) ** 2 / var))
    tarone = bd - float((a.sum() - e.sum()) ** 2 / var.sum())
    return bd, tarone


def _dropped_note(strata: Sequence[str], keep: npt.NDArray[np.bool_], stratum: str) -> list[str]:
    dropped = [str(s) for s, k in zip(strata, keep, strict=True) if not k]
    if not dropped:
        return []
    return [f"left out of the pooled {stratum}s (a compared level or an outcome level has no units there): "
            + ", ".join(dropped)]


def _cmh(st: StratifiedTable, correction: bool) -> tuple[float, float]:
    """CMH chi-square and p, with R's rule for the continuity correction (only when |delta| >= 0.5)."""
    t = st.table
    delta = float(np.sum(t[0, 0, :] - t[0, :, :].sum(axis=0) * t[:, 0, :].sum(axis=0) / t.sum(axis=(0, 1))))
    statistic = float(st.test_null_odds(correction=correction and abs(delta) >= 0.5).statistic)
    return statistic, float(sps.chi2.sf(statistic, 1))


def _homogeneity(kept: npt.NDArray[np.int64], mh_or: float, stratum: str) -> dict[str, object]:
    k = kept.shape[0]
    if k == 1:
        return {"homogeneity_test": f"none: one {stratum}"}
    if not 0 < mh_or < math.inf:
        return {}
    _, tarone = breslow_day(kept, mh_or)
    return {"homogeneity_test": HOMOGENEITY_BD, "homogeneity_statistic": tarone, "homogeneity_df": float(k - 1),
            "homogeneity_p": float(sps.chi2.sf(tarone, k - 1))}


def mantel_haenszel(
    tables: npt.ArrayLike, strata: Sequence[str], *, correction: bool = True, stratum: str = "force"
) -> PooledResult:
    """Pool a K×2×2 array (stratum × level/reference × outcome yes/no) across its strata.

    Returns the Mantel-Haenszel odds ratio (odds of the first column in the first row over the
    second row) with its 95% CI, the CMH test (``correction``: continuity correction as R's
    ``mantelhaen.test(correct = TRUE)``) and the Tarone-corrected Breslow-Day test; strata with an
    empty row or column are left out and named (see the module docstring). Never raises on
    small or sparse tables: what is not computable stays NaN, with the reason in ``notes``.
    """
    arr = np.asarray(tables, dtype=np.int64).reshape(-1, 2, 2)
    keep = _contributing(arr)
    notes = _dropped_note(strata, keep, stratum)
    kept = arr[keep]
    if kept.shape[0] == 0:
        return PooledResult(0, 0, notes=(*notes, f"not computable: no {stratum} has units in both compared levels "
                                                  "and both outcome levels"))
    st = StratifiedTable(np.transpose(kept, (1, 2, 0)).astype(np.float64))
    n_k = kept.sum(axis=(1, 2)).astype(np.float64)
    ad = float(np.sum(kept[:, 0, 0] * kept[:, 1, 1] / n_k))
    bc = float(np.sum(kept[:, 0, 1] * kept[:, 1, 0] / n_k))
    cmh_statistic, cmh_p = _cmh(st, correction)
    if ad > 0 and bc > 0:
        mh_or = float(st.oddsratio_pooled)
        ci_low, ci_high = (float(v) for v in st.oddsratio_pooled_confint(alpha=0.05, method="normal"))
    else:
        mh_or, ci_low, ci_high = (0.0 if ad == 0 and bc > 0 else math.inf if bc == 0 and ad > 0 else math.nan,
                                  math.nan, math.nan)
        notes.append(f"pooled odds ratio not estimable: no {stratum} has {'a·d' if ad == 0 else 'b·c'} > 0 (a zero "
                     "cell in each), so its CI and the homogeneity test are not computable")
    return PooledResult(
        n_strata=int(kept.shape[0]), n=int(kept.sum()), mh_or=mh_or, ci_low=ci_low, ci_high=ci_high,
        cmh_statistic=cmh_statistic, cmh_p=cmh_p, notes=tuple(notes),
        **_homogeneity(kept, mh_or, stratum),  # type: ignore[arg-type]
    )


# --- generalized CMH (general association) on an I×J×K table ----------------------------------------


def _gcmh_terms(table: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """One stratum's ``n - m`` and covariance ``V`` of its first (I - 1)(J - 1) cells (row-major)
    under conditional independence given the margins (Landis, Heyman & Koch 1978, eq. 2.3-2.5):
    ``m = r c' / t`` and ``V = t² (t - 1)⁻¹ [diag(r)/t - r r'/t²] ⊗ [diag(c)/t - c c'/t²]``, with
    ``r``, ``c`` the first I - 1 row and J - 1 column totals and ``t`` the stratum's total."""
    t = table.sum()
    r, c = table.sum(axis=1)[:-1], table.sum(axis=0)[:-1]
    diff = (table[:-1, :-1] - np.outer(r, c) / t).ravel()
    cov_r = t * np.diag(r) - np.outer(r, r)
    cov_c = t * np.diag(c) - np.outer(c, c)
    return diff, np.kron(cov_r, cov_c) / (t * t * (t - 1))


def generalized_cmh(
    tables: npt.ArrayLike, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
    strata: Sequence[str] | None = None,
) -> tuple[float, int, float, str]:
    """The generalized CMH (general association) test of a K×I×J array (stratum × row × column).

    ``Q = d' V⁻¹ d`` with ``d`` and ``V`` the sums over strata of :func:`_gcmh_terms`, referred to
    chi-square with (I - 1)(J - 1) df: R's ``mantelhaen.test`` on an I×J×K table (Agresti,
    *Categorical Data Analysis*, 3rd ed., section 6.4.2). Strata with fewer than two units are left
    out (named by ``strata`` when given). Returns (statistic, df, p, note); statistic and p are NaN, with the reason in the note,
    when ``V`` is singular (a row or column with no units in any stratum, named by ``row_labels`` /
    ``col_labels`` when given) or no stratum is left.
    """
    arr = np.asarray(tables, dtype=np.float64)
    _, n_rows, n_cols = arr.shape
    df = (n_rows - 1) * (n_cols - 1)
    totals = arr.sum(axis=(1, 2))
    names = list(strata) if strata is not None else [f"stratum {k + 1}" for k in range(arr.shape[0])]
    few = [name for name, total in zip(names, totals, strict=True) if total < 2]
    notes = [f"left out of the generalized CMH (fewer than 2 units): {', '.join(few)}"] if few else []
    used = arr[totals >= 2]
    if used.shape[0] == 0 or df == 0:
        return math.nan, df, math.nan, "; ".join([*notes, "not computable: no stratum with 2 or more units"])
    d, v = np.zeros(df), np.zeros((df, df))
    for table in used:
        di, vi = _gcmh_terms(table)
        d, v = d + di, v + vi
    if np.linalg.matrix_rank(v) < df:
        rows = list(row_labels) if row_labels is not None else [f"row {i + 1}" for i in range(n_rows)]
        cols = list(col_labels) if col_labels is not None else [f"column {j + 1}" for j in range(n_cols)]
        empty = [f"'{rows[i]}'" for i in range(n_rows) if used[:, i, :].sum() == 0]
        empty += [f"outcome '{cols[j]}'" for j in range(n_cols) if used[:, :, j].sum() == 0]
        why = ", ".join(empty) or "the margins are collinear"
        return math.nan, df, math.nan, "; ".join([*notes, f"not computable: no units in {why} of any stratum"])
    statistic = float(d @ np.linalg.solve(v, d))
    return statistic, df, float(sps.chi2.sf(statistic, df)), "; ".join(notes)


# --- the results files ------------------------------------------------------------------------------


def _pooled_row(outcome: str, factor: str, level: str, reference: str, res: PooledResult) -> dict[str, object]:
    return {
        "outcome": outcome, "factor": factor, "level": level, "reference": reference,
        "unit": associate.unit_of(factor), "n_strata": res.n_strata, "n": res.n, "mh_or": res.mh_or,
        "ci_low": res.ci_low, "ci_high": res.ci_high, "cmh_statistic": res.cmh_statistic,
        "cmh_df": 1 if not math.isnan(res.cmh_statistic) else pd.NA, "cmh_p": res.cmh_p,
        "homogeneity_test": res.homogeneity_test, "homogeneity_statistic": res.homogeneity_statistic,
        "homogeneity_df": res.homogeneity_df, "homogeneity_p": res.homogeneity_p, "method": METHOD_2X2,
        "note": "; ".join(res.notes),
    }


def _heterogeneity_note(row: dict[str, object], alpha: float, stratum: str) -> None:
    p = row["homogeneity_p"]
    if isinstance(p, float) and not math.isnan(p) and p < alpha:
        text = (f"odds ratios differ between {stratum}s (homogeneity p < {alpha:g}): the pooled odds ratio "
                f"averages unequal effects")
        row["note"] = "; ".join(s for s in (str(row["note"]), text) if s)


def _factor_rows(outcome: str, factor: str, tables: npt.NDArray[np.int64], strata: Sequence[str], *,
                 stratum: str, alpha: float, correction: bool) -> list[dict[str, object]]:
    """``forces_pooled`` rows of one outcome × factor from its K×I×2 counts."""
    levels = vocab.levels(factor)
    rows = []
    general = (generalized_cmh(tables, levels, associate.OUTCOME_LEVELS[outcome], strata) if len(levels) > 2
               else None)
    for level, reference in comparisons(factor):
        sub = tables[:, [levels.index(level), levels.index(reference)], :]
        row = _pooled_row(outcome, factor, level, reference,
                          mantel_haenszel(sub, strata, correction=correction, stratum=stratum))
        if general is not None:
            statistic, df, p, note = general
            row.update(cmh_statistic=statistic, cmh_df=df, cmh_p=p, method=METHOD_GENERALIZED)
            text = (f"cmh columns: generalized CMH of all {len(levels)} levels ({df} df), mh_or and homogeneity: "
                    f"{level} vs {reference}")
            row["note"] = "; ".join(s for s in (text, note, str(row["note"])) if s)
        _heterogeneity_note(row, alpha, stratum)
        rows.append(row)
    return rows


def _typed(frame: pd.DataFrame, columns: Sequence[str], ints: Iterable[str], texts: Iterable[str]) -> pd.DataFrame:
    out = frame.reindex(columns=list(columns))
    for col in ints:
        out[col] = out[col].astype("Int64")
    for col in texts:
        out[col] = out[col].astype(object).fillna("")
    return out


#: The start of a pooled row's note naming the strata left out because their tables are withheld
#: by disclosure control (formatted with ``stratum``; the names follow, ``", "``-separated).
WITHHELD_NOTE: Final[str] = "left out of the pooled {stratum}s (their tables are withheld by disclosure control): "


def withheld_note(left_out: Sequence[str], stratum: str = "force") -> str:
    """The note part naming the strata of ``left_out`` (:data:`WITHHELD_NOTE`); "" when none."""
    return WITHHELD_NOTE.format(stratum=stratum) + ", ".join(left_out) if left_out else ""


def withheld_strata(note: str, stratum: str = "force") -> list[str]:
    """The strata a pooled row's ``note`` names as left out because their tables are withheld
    (:func:`withheld_note`); [] when it names none. A stratum's name holds no ``", "`` or ``"; "``
    (the params refuse neither; a force's name is one line)."""
    start = WITHHELD_NOTE.format(stratum=stratum)
    part = next((p for p in str(note).split("; ") if p.startswith(start)), "")
    return part[len(start):].split(", ") if part else []


def stratified_tests(
    cases: pd.DataFrame, offenders: pd.DataFrame, *, stratum: str = "force", alpha: float,
    pairs: Iterable[tuple[str, str]] | None = None, correction: bool = True,
    left_out: Mapping[tuple[str, str], Collection[str]] | None = None,
) -> pd.DataFrame:
    """``forces_pooled.csv``: per Appendix 4 test (default :func:`msht.analysis.associate.published_pairs`)
    and per (level, reference) comparison (:func:`comparisons`), the pooled statistics across the
    strata in ``stratum`` (see the module docstring and :mod:`msht.publish.results`).

    ``cases`` and ``offenders`` are the frames :func:`msht.analysis.associate.run_all` takes, with a
    ``stratum`` column (categorical in params order, or text). ``alpha``: a homogeneity p below it
    adds a note that the forces' odds ratios differ. ``correction``: continuity correction of the
    2×2×K CMH test (R's default). ``left_out``: per (outcome, factor), strata whose tables a
    release withholds (:func:`msht.publish.forces_tables.withheld_blocks`): the pooled statistics
    are computed without them, from published tables only, and the note names them first
    (:func:`withheld_note`).
    """
    rows: list[dict[str, object]] = []
    for outcome, factor, strata, tables in _test_tables(cases, offenders, pairs, stratum):
        gone = [s for s in strata if s in (left_out or {}).get((outcome, factor), ())]
        keep = [i for i, s in enumerate(strata) if s not in gone]
        found = _factor_rows(outcome, factor, tables[keep], [strata[i] for i in keep], stratum=stratum, alpha=alpha,
                             correction=correction)
        for row in found:
            row["note"] = "; ".join(p for p in (withheld_note(gone, stratum), str(row["note"])) if p)
        rows += found
    return _typed(pd.DataFrame(rows), POOLED_COLUMNS, ("n_strata", "n", "cmh_df"),
                  ("homogeneity_test", "method", "note"))


def _test_tables(
    cases: pd.DataFrame, offenders: pd.DataFrame, pairs: Iterable[tuple[str, str]] | None, stratum: str,
) -> Iterator[tuple[str, str, list[str], npt.NDArray[np.int64]]]:
    """For each Appendix 4 test (``pairs``, default :func:`msht.analysis.associate.published_pairs`):
    ``(outcome, factor, strata, tables)``, the strata in order and their factor-level × outcome-level
    tables (:func:`stratum_tables`, shape ``(K, levels, 2)``), on the test's units."""
    pair_list = list(pairs) if pairs is not None else associate.published_pairs()
    coded, pairs_frame = _unit_frames(cases, offenders, pair_list, stratum)
    for outcome, factor in pair_list:
        frame = associate.unit_frame(factor, coded, pairs_frame)
        strata = strata_of(frame, stratum)
        tables = stratum_tables(frame, factor, outcome, stratum=stratum, strata=strata,
                                levels=vocab.levels(factor), outcome_levels=associate.OUTCOME_LEVELS[outcome])
        yield outcome, factor, strata, tables


def _stratum_or(cells: npt.NDArray[np.int64]) -> tuple[float, float, float, str]:
    """One stratum's odds ratio, 95% Wald CI and note (not computable for an empty row or column)."""
    if not _contributing(cells.reshape(1, 2, 2))[0]:
        return math.nan, math.nan, math.nan, "not computable: a compared level or an outcome level has no units"
    return stats.odds_ratio_ci(cells)


def per_stratum_odds_ratios(
    cases: pd.DataFrame, offenders: pd.DataFrame, *, stratum: str = "force",
    pairs: Iterable[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """``forces_odds_ratios.csv``: per stratum, Appendix 4 test and (level, reference) comparison
    (:func:`comparisons`), the 2×2 cells ``a`` (level, outcome's positive level), ``b`` (level,
    negative), ``c`` (reference, positive), ``d`` (reference, negative), ``n = a + b + c + d`` and
    the odds ratio ``a d / (b c)`` with its 95% Wald CI (:func:`msht.analysis.stats.odds_ratio_ci`;
    Haldane-Anscombe +0.5 only where a cell is zero, said in ``note``). Empty odds ratio where a row
    or column of the force's table has no units. Rows in stratum order within each test."""
    rows: list[dict[str, object]] = []
    for outcome, factor, strata, tables in _test_tables(cases, offenders, pairs, stratum):
        levels = vocab.levels(factor)
        for level, reference in comparisons(factor):
            sub = tables[:, [levels.index(level), levels.index(reference)], :]
            for name, cells in zip(strata, sub, strict=True):
                odds_ratio, ci_low, ci_high, note = _stratum_or(cells)
                (a, b), (c, d) = cells.tolist()
                rows.append({"force": name, "outcome": outcome, "factor": factor, "level": level,
                             "reference": reference, "n": a + b + c + d, "a": a, "b": b, "c": c, "d": d,
                             "odds_ratio": odds_ratio, "ci_low": ci_low, "ci_high": ci_high, "note": note})
    return _typed(pd.DataFrame(rows), ODDS_RATIO_COLUMNS, ("n", "a", "b", "c", "d"), ("note",))


# --- funnel plots -----------------------------------------------------------------------------------


def level_tag(level: float) -> str:
    """Column suffix of a control limit's coverage: 0.95 -> ``"95"``, 0.998 -> ``"998"``."""
    return f"{100 * level:g}".replace(".", "")


def binomial_limit(n: npt.ArrayLike, p0: float, prob: float) -> npt.NDArray[np.float64]:
    """The exact binomial control limit of a proportion at quantile ``prob`` (Spiegelhalter 2005,
    appendix A.1.1): ``r`` = the smallest count with ``P(R <= r) >= prob`` for R ~ Binomial(n, p0),
    then ``(r - alpha) / n`` with ``alpha = (P(R <= r) - prob) / P(R = r)``, clipped to [0, 1]
    (the interpolation smooths the steps of the discrete quantile). NaN where ``n`` is 0."""
    size = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = sps.binom.ppf(prob, size, p0)
        alpha = (sps.binom.cdf(r, size, p0) - prob) / sps.binom.pmf(r, size, p0)
        limit = (r - alpha) / size
    return np.where(size > 0, np.clip(limit, 0.0, 1.0), np.nan)


def funnel_limits(n: npt.ArrayLike, p0: float, levels: Sequence[float] = FUNNEL_LEVELS) -> pd.DataFrame:
    """Control limits around the overall rate ``p0`` for each number of cases in ``n``.

    Returns columns ``n`` and, per coverage level (default 95% and 99.8%), ``lower_<tag>`` and
    ``upper_<tag>`` (:func:`level_tag`): the ``(1 - level) / 2`` and ``(1 + level) / 2`` exact
    binomial limits (:func:`binomial_limit`). Raises ``ValueError`` if ``p0`` is not in [0, 1]."""
    if not 0.0 <= p0 <= 1.0:
        raise ValueError(f"the overall rate p0 must be in [0, 1], got {p0!r}")
    size = np.asarray(n, dtype=np.int64)
    out = pd.DataFrame({"n": size})
    for level in levels:
        tag = level_tag(level)
        out[f"lower_{tag}"] = binomial_limit(size, p0, (1 - level) / 2)
        out[f"upper_{tag}"] = binomial_limit(size, p0, (1 + level) / 2)
    return out


def _position(rate: float, limits: pd.Series) -> str:
    if math.isnan(rate):
        return NO_CASES
    if limits["lower_95"] <= rate <= limits["upper_95"]:
        return WITHIN_95
    if limits["lower_998"] <= rate <= limits["upper_998"]:
        return BETWEEN
    return OUTSIDE_998


def funnel_rates(cases: pd.DataFrame, *, stratum: str = "force", outcome: str) -> pd.DataFrame:
    """``forces_funnel.csv`` rows of ``outcome``: per stratum, ``n`` cases with one of the outcome's
    compared levels (:data:`msht.analysis.associate.OUTCOME_LEVELS`: offer status recorded; offered
    support with acceptance recorded; positive or negative engagement), ``events`` with its positive
    level, ``rate = events / n``, ``overall_rate`` (all strata's events over their cases), the 95% and
    99.8% control limits at ``n`` (:func:`funnel_limits`) and ``position``: "within 95%", "between
    95% and 99.8%", "outside 99.8%" or "no cases"."""
    positive, negative = associate.OUTCOME_LEVELS[outcome]
    strata = strata_of(cases, stratum)
    tables = stratum_tables(cases.assign(_all="all"), "_all", outcome, stratum=stratum, strata=strata,
                            levels=["all"], outcome_levels=[positive, negative])[:, 0, :]
    events, n = tables[:, 0], tables.sum(axis=1)
    total = int(n.sum())
    overall = float(events.sum() / total) if total else math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, events / np.maximum(n, 1), np.nan)
    limits = (funnel_limits(n, overall) if total else
              pd.DataFrame({"n": n, **{c: np.nan for c in FUNNEL_COLUMNS[6:10]}}))
    out = pd.DataFrame({"force": strata, "outcome": outcome, "n": n, "events": events, "rate": rate,
                        "overall_rate": overall})
    out = pd.concat([out, limits.drop(columns="n")], axis=1)
    out["position"] = [_position(r, lim) for r, (_, lim) in zip(out["rate"], limits.iterrows(), strict=True)]
    return _typed(out, FUNNEL_COLUMNS, ("n", "events"), ("position",))
