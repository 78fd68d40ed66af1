"""Unit tests of msht.analysis.stats on small hand-made tables with hand-computed answers."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from hypothesis_profiles import examples
from msht.analysis.stats import (
    TEST_FISHER,
    TEST_PEARSON,
    TEST_YATES,
    AssociationResult,
    DegenerateTableError,
    association_test,
    bh_qvalues,
    crosstab,
    format_p,
    p_threshold_label,
    test_factor,
)

Z975 = 1.959963984540054  # standard normal 97.5% quantile

# Expected counts: rows 50/50, columns 40/60 -> E = [[20, 30], [20, 30]], all >= 5.
T2X2 = np.array([[30, 20], [10, 40]])
# Expected counts all 15: Pearson chi2 = 4 * 25 / 15 = 20/3 on 2 df.
T3X2 = np.array([[10, 20], [20, 10], [15, 15]])


def yn(table: np.ndarray) -> AssociationResult:
    rows = [f"r{i}" for i in range(table.shape[0])]
    cols = [f"c{j}" for j in range(table.shape[1])]
    return association_test(table, rows, cols)


# --- test selection ------------------------------------------------------------------


def test_2x2_large_counts_uses_yates_by_hand() -> None:
    res = yn(T2X2)
    assert res.test == TEST_YATES
    # Yates: sum (|O - E| - 0.5)^2 / E = 9.5^2 * (2/20 + 2/30)
    yates = 9.5**2 * (2 / 20 + 2 / 30)
    assert res.statistic == pytest.approx(yates, rel=1e-12)
    assert res.statistic == pytest.approx(15.041666666666666)
    assert res.chi2_study == res.statistic
    assert res.df == 1
    assert res.p == pytest.approx(sps.chi2.sf(yates, 1), rel=1e-12)
    assert res.p_study == res.p
    # Not the uncorrected Pearson value 100/6.
    assert res.statistic != pytest.approx(100 / 6)


def test_3x2_uses_uncorrected_pearson_by_hand() -> None:
    res = yn(T3X2)
    assert res.test == TEST_PEARSON
    assert res.statistic == pytest.approx(20 / 3, rel=1e-12)
    assert res.df == 2
    # The chi-square survival function on 2 df is exp(-x / 2).
    assert res.p == pytest.approx(math.exp(-10 / 3), rel=1e-12)
    assert res.min_expected == pytest.approx(15.0)
    assert res.n_cells_expected_below_5 == 0
    assert res.note == ""


def test_2x2_small_expected_chooses_fisher_by_hand() -> None:
    # Margins 3/3 x 3/3: the two-sided Fisher p sums P(x=3) + P(x=0) = 2 / C(6, 3) = 0.1.
    res = yn(np.array([[3, 0], [0, 3]]))
    assert res.test == TEST_FISHER
    assert math.isnan(res.statistic)
    assert res.p == pytest.approx(0.1, rel=1e-12)
    # The study-convention chi-square is still there: Yates = 4 * 1^2 / 1.5.
    assert res.chi2_study == pytest.approx(4 / 1.5)
    assert res.p_study == pytest.approx(sps.chi2.sf(4 / 1.5, 1))
    assert res.min_expected == pytest.approx(1.5)
    assert res.n_cells_expected_below_5 == 4
    assert res.pct_cells_expected_below_5 == 100.0
    assert "Fisher" in res.note


def test_fisher_threshold_is_configurable() -> None:
    # min expected 20: Fisher only when the threshold is above it.
    assert association_test(T2X2, ["a", "b"], ["y", "n"], fisher_when_expected_below=20.5).test == TEST_FISHER
    assert association_test(T2X2, ["a", "b"], ["y", "n"], fisher_when_expected_below=20).test == TEST_YATES
    small = np.array([[3, 0], [0, 3]])
    assert association_test(small, ["a", "b"], ["y", "n"], fisher_when_expected_below=0).test == TEST_YATES


def _exact_freeman_halton_3x2(table: np.ndarray) -> float:
    """Exact r×2 Fisher-Freeman-Halton p by enumerating first columns (test reference)."""
    rows = table.sum(axis=1)
    c1 = int(table[:, 0].sum())
    total = math.comb(int(rows.sum()), c1)

    def prob(col: tuple[int, ...]) -> float:
        return math.prod(math.comb(int(r), x) for r, x in zip(rows, col, strict=True)) / total

    observed = prob(tuple(int(v) for v in table[:, 0]))
    p = 0.0
    for x1 in range(rows[0] + 1):
        for x2 in range(rows[1] + 1):
            x3 = c1 - x1 - x2
            if 0 <= x3 <= rows[2]:
                pr = prob((x1, x2, x3))
                if pr <= observed * (1 + 1e-9):
                    p += pr
    return p


def test_rxc_fisher_is_deterministic_monte_carlo_close_to_exact() -> None:
    table = np.array([[5, 0], [0, 5], [2, 3]])
    res = yn(table)
    assert res.test == TEST_FISHER
    assert res.df == 2
    assert "Monte Carlo" in res.note and "seed" in res.note
    exact = _exact_freeman_halton_3x2(table)
    assert 0.001 < exact < 0.05  # the example is not trivially extreme
    assert res.p == pytest.approx(exact, abs=0.003)  # ~4 Monte Carlo SEs at 1e5 draws
    assert yn(table).p == res.p  # fixed seed: identical on re-run
    # The Pearson chi-square (study convention) is still reported.
    assert res.chi2_study == pytest.approx(sps.chi2_contingency(table, correction=False).statistic)


# --- degenerate input ----------------------------------------------------------------


def test_zero_row_names_factor_outcome_and_level() -> None:
    with pytest.raises(DegenerateTableError) as err:
        association_test(
            [[10, 20], [0, 0]], ["male", "female"], ["yes", "no"], factor="victim_sex", outcome="offered"
        )
    assert str(err.value) == "cannot test victim_sex × offered: level 'female' has no cases"


def test_zero_column_names_outcome_level() -> None:
    with pytest.raises(DegenerateTableError, match=r"outcome level 'yes' has no cases"):
        association_test([[0, 20], [0, 7]], ["uk", "non_uk"], ["yes", "no"], factor="victim_uk_national")


def test_single_level_outcome_and_factor() -> None:
    with pytest.raises(DegenerateTableError, match=r"outcome has a single level \['yes'\]"):
        association_test([[3], [4]], ["male", "female"], ["yes"])
    with pytest.raises(DegenerateTableError, match=r"factor has a single level \['male'\]"):
        association_test([[3, 4]], ["male"], ["yes", "no"])


def test_degenerate_error_is_a_value_error_and_bad_input_rejected() -> None:
    assert issubclass(DegenerateTableError, ValueError)
    with pytest.raises(ValueError, match="does not match"):
        association_test(T2X2, ["a", "b", "c"], ["y", "n"])
    with pytest.raises(ValueError, match="non-negative integer"):
        association_test([[1, -2], [3, 4]], ["a", "b"], ["y", "n"])
    with pytest.raises(ValueError, match="non-negative integer"):
        association_test([[1.5, 2], [3, 4]], ["a", "b"], ["y", "n"])


def test_test_factor_on_frame_with_an_empty_outcome_level() -> None:
    df = pd.DataFrame({"victim_sex": ["male", "female", "male"], "offered": ["no", "no", "unknown"]})
    with pytest.raises(DegenerateTableError, match=r"victim_sex × offered: outcome level 'yes'"):
        test_factor(df, "victim_sex", "offered", ["male", "female"], ["yes", "no"])


# --- effect sizes, odds ratio, residuals ----------------------------------------------


def test_phi_is_signed_and_cramers_v_by_hand() -> None:
    res = yn(T2X2)
    phi = (30 * 40 - 20 * 10) / math.sqrt(50 * 50 * 40 * 60)
    assert res.effect_size_name == "phi"
    assert res.effect_size == pytest.approx(phi, rel=1e-12)
    assert yn(T2X2[::-1]).effect_size == pytest.approx(-phi, rel=1e-12)
    v = yn(T3X2)
    assert v.effect_size_name == "Cramér's V"
    assert v.effect_size == pytest.approx(math.sqrt((20 / 3) / 90), rel=1e-12)


def test_odds_ratio_and_wald_ci_by_hand() -> None:
    res = yn(T2X2)
    se = math.sqrt(1 / 30 + 1 / 20 + 1 / 10 + 1 / 40)
    assert res.odds_ratio == pytest.approx(6.0)
    assert res.or_ci_low == pytest.approx(6 * math.exp(-Z975 * se), rel=1e-9)
    assert res.or_ci_high == pytest.approx(6 * math.exp(Z975 * se), rel=1e-9)
    assert res.or_ci_low == pytest.approx(2.4526, abs=1e-4)
    assert res.or_ci_high == pytest.approx(14.678, abs=1e-3)
    flipped = yn(T2X2[::-1])
    assert flipped.odds_ratio == pytest.approx(1 / 6)
    assert flipped.or_ci_low == pytest.approx(1 / res.or_ci_high)


def test_odds_ratio_zero_cell_uses_haldane_correction() -> None:
    res = yn(np.array([[3, 0], [0, 3]]))
    se = math.sqrt(2 / 3.5 + 2 / 0.5)
    assert res.odds_ratio == pytest.approx(3.5 * 3.5 / (0.5 * 0.5))
    assert res.or_ci_low == pytest.approx(49 * math.exp(-Z975 * se), rel=1e-9)
    assert res.or_ci_high == pytest.approx(49 * math.exp(Z975 * se), rel=1e-9)
    assert "Haldane" in res.note
    assert "Haldane" not in yn(T2X2).note


def test_larger_tables_have_no_odds_ratio() -> None:
    res = yn(T3X2)
    assert math.isnan(res.odds_ratio) and math.isnan(res.or_ci_low) and math.isnan(res.or_ci_high)


def test_adjusted_residuals_are_adjusted_not_plain_pearson() -> None:
    # (O - E) / sqrt(E (1 - row share) (1 - col share)) = -5 / sqrt(15 * 2/3 * 1/2) = -sqrt(5)
    res = yn(T3X2)
    expected = math.sqrt(5) * np.array([[-1, 1], [1, -1], [0, 0]])
    np.testing.assert_allclose(res.adjusted_residuals, expected, atol=1e-12)
    # For a 2x2 table each adjusted residual is ±sqrt(uncorrected Pearson chi2).
    res2 = yn(T2X2)
    np.testing.assert_allclose(np.abs(res2.adjusted_residuals), math.sqrt(100 / 6), rtol=1e-12)
    assert res2.adjusted_residuals[0, 0] > 0


def test_adjusted_residuals_with_a_zero_cell_are_not_shifted() -> None:
    table = np.array([[12, 0], [5, 9], [7, 6]])
    res = association_test(table, ["a", "b", "c"], ["y", "n"], fisher_when_expected_below=0)
    n = table.sum()
    row, col = table.sum(axis=1) / n, table.sum(axis=0) / n
    e = np.outer(row, col) * n
    hand = (table - e) / np.sqrt(e * np.outer(1 - row, 1 - col))
    np.testing.assert_allclose(res.adjusted_residuals, hand, rtol=1e-12)


def test_result_is_frozen_and_carries_labels() -> None:
    res = association_test(T2X2, ["male", "female"], ["yes", "no"])
    assert res.row_labels == ("male", "female") and res.col_labels == ("yes", "no")
    assert res.n == 100 and res.is_2x2
    np.testing.assert_array_equal(res.table, T2X2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.p = 0.5  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        res.table[0, 0] = 99
    with pytest.raises(ValueError, match="read-only"):
        res.adjusted_residuals[0, 0] = 0.0


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), min_size=4, max_size=4))
def test_row_swap_keeps_test_and_inverts_effect(cells: list[int]) -> None:
    table = np.array(cells).reshape(2, 2)
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        with pytest.raises(DegenerateTableError):
            yn(table)
        return
    a, b = yn(table), yn(table[::-1])
    assert a.test == b.test
    assert a.p == pytest.approx(b.p, rel=1e-9, abs=1e-15)
    assert a.chi2_study == pytest.approx(b.chi2_study, rel=1e-9, abs=1e-12)
    assert a.effect_size == pytest.approx(-b.effect_size, abs=1e-12)
    assert a.odds_ratio * b.odds_ratio == pytest.approx(1.0)
    assert 0 <= a.p <= 1 and a.or_ci_low <= a.odds_ratio <= a.or_ci_high


# --- crosstab / test_factor ----------------------------------------------------------


@pytest.fixture()
def cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "victim_sex": ["male", "male", "female", "female", "male", "unknown", None, "female", "male"],
            "engagement": ["positive", "negative", "positive", "ongoing", "no_crime", "positive", "negative",
                           "negative", "unknown"],
        }
    )


def test_crosstab_counts_listed_levels_only(cases: pd.DataFrame) -> None:
    got = crosstab(cases, "victim_sex", "engagement", ["male", "female"], ["positive", "negative"])
    np.testing.assert_array_equal(got, [[1, 1], [1, 1]])
    assert got.dtype == np.int64
    # Order follows the level lists.
    got = crosstab(cases, "victim_sex", "engagement", ["female", "male"], ["negative", "positive"])
    np.testing.assert_array_equal(got, [[1, 1], [1, 1]])


def test_crosstab_accepts_categoricals_and_rejects_bad_levels(cases: pd.DataFrame) -> None:
    cat = cases.astype("category")
    got = crosstab(cat, "victim_sex", "engagement", ["male", "female"], ["positive", "negative", "ongoing"])
    np.testing.assert_array_equal(got, [[1, 1, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match="missing code"):
        crosstab(cases, "victim_sex", "engagement", ["male", "unknown"], ["positive", "negative"])
    with pytest.raises(ValueError, match="repeated"):
        crosstab(cases, "victim_sex", "engagement", ["male", "male"], ["positive", "negative"])
    with pytest.raises(KeyError):
        crosstab(cases, "victim_age3", "engagement", ["male"], ["positive", "negative"])


def test_test_factor_matches_association_test_on_the_crosstab() -> None:
    df = pd.DataFrame(
        {
            "referral_form": ["ms1"] * 50 + ["nrm"] * 50 + ["unknown"] * 7,
            "offered": ["yes"] * 30 + ["no"] * 20 + ["yes"] * 10 + ["no"] * 40 + ["yes"] * 7,
        }
    )
    res = test_factor(df, "referral_form", "offered", ["ms1", "nrm"], ["yes", "no"])
    np.testing.assert_array_equal(res.table, T2X2)
    assert res.row_labels == ("ms1", "nrm")
    assert res.statistic == pytest.approx(yn(T2X2).statistic)


# --- multiple testing and p formatting ------------------------------------------------


def test_bh_qvalues_by_hand_with_nan() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 (m = 4): raw 0.02, 0.02, 0.04, 0.04 (already monotone).
    q = bh_qvalues([0.01, np.nan, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(q, [0.02, np.nan, 0.04, 0.04, 0.02], rtol=1e-12)
    # Step-up monotonicity: 0.8 * 2 / 1 = 1.6 is capped by the next q (0.9).
    np.testing.assert_allclose(bh_qvalues([0.9, 0.8]), [0.9, 0.9])
    # NaNs are not counted: one real p-value is its own q-value.
    np.testing.assert_allclose(bh_qvalues([np.nan, 0.03, np.nan]), [np.nan, 0.03, np.nan])
    assert np.isnan(bh_qvalues([np.nan, np.nan])).all()
    assert bh_qvalues([]).shape == (0,)
    assert bh_qvalues(np.array([[0.01, 0.04], [0.03, 0.005]])).shape == (2, 2)


@pytest.mark.parametrize(
    ("p", "printed", "label"),
    [
        (0.0, "<0.001", "p<0.001"),
        (0.00099, "<0.001", "p<0.001"),
        (0.001, "0.001", "p<0.01"),
        (0.0099, "0.010", "p<0.01"),
        (0.01, "0.010", "p<0.05"),
        (0.0499, "0.050", "p<0.05"),
        (0.05, "0.050", "p=0.050"),
        (0.2346, "0.235", "p=0.235"),
        (1.0, "1.000", "p=1.000"),
    ],
)
def test_p_formatting(p: float, printed: str, label: str) -> None:
    assert format_p(p) == printed
    assert p_threshold_label(p) == label


@pytest.mark.parametrize("bad", [math.nan, -0.1, 1.01])
def test_p_formatting_rejects_non_p_values(bad: float) -> None:
    with pytest.raises(ValueError):
        format_p(bad)
    with pytest.raises(ValueError):
        p_threshold_label(bad)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "unknown", None]), st.sampled_from(["yes", "no", "x", None])),
                max_size=40))
@settings(max_examples=examples(100), deadline=None)
def test_crosstab_of_categoricals_counts_as_of_text(rows: list[tuple[str | None, str | None]]) -> None:
    """The categorical path (codes) counts exactly what the text path counts, whatever the
    categories hold (unused ones, levels absent, missing values)."""
    frame = pd.DataFrame(rows, columns=["f", "o"], dtype=object)
    cat = frame.astype({"f": pd.CategoricalDtype(["c", "unknown", "z", "a", "b"]), "o": "category"})
    for levels in (["a", "b"], ["b", "c", "a"], ["z"]):
        np.testing.assert_array_equal(crosstab(cat, "f", "o", levels, ["yes", "no"]),
                                      crosstab(frame, "f", "o", levels, ["yes", "no"]))


@pytest.mark.parametrize("table", [[[0, 1], [0, 1], [1, 0]], [[1, 0], [1, 0], [0, 1]], [[0, 1], [1, 0], [0, 1]]])
def test_rxc_fisher_gives_a_p_value_where_scipy_returns_a_one_element_array(table) -> None:
    """scipy 1.17's Monte Carlo ``fisher_exact`` returns ``array([1.])`` for some tables (a column
    total of 1): the test reads the one value instead of stopping a run (a tiny force's table
    stopped notebook 05 with a TypeError)."""
    res = association_test(np.array(table), ["a", "b", "c"], ["yes", "no"])
    assert res.test == TEST_FISHER and isinstance(res.p, float) and 0 <= res.p <= 1
