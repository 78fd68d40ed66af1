"""Stratified (several-force) statistics: counting, edge cases, invariants and the results frames.

Reference values from R are checked in tests/test_stratified_reference.py; here: tiny hand-made
tables and frames, and Hypothesis properties of the Mantel-Haenszel estimator, the CMH and
Breslow-Day tests and the funnel-plot limits.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats as sps
from statsmodels.stats.contingency_tables import StratifiedTable

from hypothesis_profiles import examples
from msht.analysis import associate, stats, stratified
from msht.base import vocab
from msht.base.contract import CONTRACT
from test_associate import tiny_tables

FORCES = ["Force A", "Force B", "Force C"]


def forces_frames(sizes: tuple[int, ...] = (300, 120, 40), *, categories: list[str] | None = None,
                  no_offenders: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases and case-offender pairs of several tiny random forces, with a categorical ``force``."""
    names = categories or FORCES
    cases, pairs = [], []
    for i, size in enumerate(sizes):
        c, o = tiny_tables(n=size, seed=10 + i)
        for frame in (c, o):
            frame["occurrence_number"] = f"F{i}-" + frame["occurrence_number"]
            frame["force"] = names[i]
        cases.append(c)
        if names[i] not in no_offenders:
            pairs.append(o)
    dtype = pd.CategoricalDtype(names)
    return (pd.concat(cases, ignore_index=True).astype({"force": dtype}),
            pd.concat(pairs, ignore_index=True).astype({"force": dtype}))


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return forces_frames()


@pytest.fixture(scope="module")
def pooled(frames: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return stratified.stratified_tests(*frames, alpha=0.05)


@pytest.fixture(scope="module")
def odds_ratios(frames: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return stratified.per_stratum_odds_ratios(*frames)


# --- counting ---------------------------------------------------------------------------------------


def test_stratum_tables_count_each_force_as_crosstab(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cases = associate.with_indicator_levels(frames[0])
    levels, outcome_levels = vocab.levels("victim_age3"), ["yes", "no"]
    tables = stratified.stratum_tables(cases, "victim_age3", "offered", stratum="force", strata=FORCES,
                                       levels=levels, outcome_levels=outcome_levels)
    assert tables.shape == (3, 3, 2)
    for k, force in enumerate(FORCES):
        sub = cases[cases["force"] == force]
        np.testing.assert_array_equal(tables[k], stats.crosstab(sub, "victim_age3", "offered", levels, outcome_levels))


def test_strata_follow_the_categories_even_without_rows() -> None:
    frame = pd.DataFrame({"force": pd.Categorical(["B", "A", "B"], categories=["A", "B", "C"])})
    assert stratified.strata_of(frame, "force") == ["A", "B", "C"]
    assert stratified.strata_of(frame.astype({"force": str}), "force") == ["B", "A"]
    with pytest.raises(KeyError, match="no stratum column 'region'"):
        stratified.strata_of(frame, "region")


def test_comparisons_first_vs_second_or_against_the_first_level() -> None:
    assert stratified.comparisons("victim_sex") == [("male", "female")]
    assert stratified.comparisons("victim_age3") == [("18_24", "17_and_under"), ("25_plus", "17_and_under")]


# --- Mantel-Haenszel, CMH, Breslow-Day: edge cases ----------------------------------------------------


def test_one_stratum_has_no_homogeneity_test_and_its_cmh_is_the_scaled_pearson() -> None:
    table = np.array([[[12, 5], [7, 9]]])
    res = stratified.mantel_haenszel(table, ["Force A"], correction=False)
    assert res.homogeneity_test == "none: one force" and math.isnan(res.homogeneity_p)
    pearson = sps.chi2_contingency(table[0], correction=False).statistic
    assert res.cmh_statistic == pytest.approx(pearson * (table.sum() - 1) / table.sum(), rel=1e-12)
    assert res.mh_or == pytest.approx(12 * 9 / (5 * 7), rel=1e-12)


def test_a_force_with_an_empty_level_is_left_out_and_named() -> None:
    tables = np.array([[[10, 5], [4, 9]], [[0, 0], [3, 4]], [[6, 6], [5, 9]], [[2, 3], [0, 0]]])
    res = stratified.mantel_haenszel(tables, ["A", "B", "C", "D"])
    assert res.n_strata == 2 and res.n == int(tables[[0, 2]].sum())
    assert res.notes == ("left out of the pooled forces (a compared level or an outcome level has no units there): "
                         "B, D",)
    kept = stratified.mantel_haenszel(tables[[0, 2]], ["A", "C"])
    assert (res.mh_or, res.ci_low, res.ci_high, res.cmh_statistic, res.homogeneity_statistic) == (
        kept.mh_or, kept.ci_low, kept.ci_high, kept.cmh_statistic, kept.homogeneity_statistic)


def test_empty_outcome_column_is_left_out_too() -> None:
    tables = np.array([[[10, 5], [4, 9]], [[3, 0], [5, 0]]])
    assert stratified.mantel_haenszel(tables, ["A", "B"]).n_strata == 1


def test_no_usable_force_is_not_computable_without_raising() -> None:
    res = stratified.mantel_haenszel(np.zeros((2, 2, 2), dtype=int), ["A", "B"])
    assert res.n_strata == 0 and res.n == 0 and math.isnan(res.mh_or) and math.isnan(res.cmh_p)
    assert res.homogeneity_test == associate.NOT_COMPUTABLE
    assert res.notes[-1].startswith("not computable: no force has units")


def test_zero_cells_need_no_correction_until_no_force_has_ad() -> None:
    sparse = np.array([[[0, 5], [3, 4]], [[2, 0], [3, 6]]])
    res = stratified.mantel_haenszel(sparse, ["A", "B"])
    assert res.mh_or == pytest.approx((0 + 2 * 6 / 11) / (5 * 3 / 12 + 0), rel=1e-12)
    assert res.notes == () and np.isfinite(res.ci_low) and np.isfinite(res.homogeneity_p)
    no_ad = np.array([[[0, 5], [3, 4]], [[1, 3], [4, 0]]])
    res = stratified.mantel_haenszel(no_ad, ["A", "B"])
    assert res.mh_or == 0.0 and math.isnan(res.ci_low) and math.isnan(res.ci_high)
    assert res.homogeneity_test == associate.NOT_COMPUTABLE and np.isfinite(res.cmh_statistic)
    assert "no force has a·d > 0" in res.notes[0]
    no_bc = no_ad[:, ::-1, :]
    assert stratified.mantel_haenszel(no_bc, ["A", "B"]).mh_or == math.inf


def test_breslow_day_is_defined_at_a_pooled_odds_ratio_of_one() -> None:
    tables = np.array([[[20, 10], [10, 20]], [[10, 20], [20, 10]]])
    res = stratified.mantel_haenszel(tables, ["A", "B"])
    assert res.mh_or == 1.0
    expected = stratified.expected_first_cell([30, 30], [30, 30], [60, 60], 1.0)
    np.testing.assert_allclose(expected, [15.0, 15.0])
    var = 1 / (4 / 15)
    assert res.homogeneity_statistic == pytest.approx(2 * 25 / var, rel=1e-12)  # Tarone term is 0 here


def test_generalized_cmh_not_computable_when_a_level_is_empty_everywhere() -> None:
    tables = np.array([[[3, 4], [0, 0], [5, 2]], [[1, 6], [0, 0], [4, 4]]])
    statistic, df, p, note = stratified.generalized_cmh(tables, ["17_and_under", "18_24", "25_plus"], ["yes", "no"])
    assert math.isnan(statistic) and math.isnan(p) and df == 2
    assert note == "not computable: no units in '18_24' of any stratum"


def test_generalized_cmh_leaves_out_forces_with_fewer_than_two_units() -> None:
    tables = np.array([[[3, 4], [2, 5], [5, 2]], [[1, 0], [0, 0], [0, 0]], [[2, 6], [3, 3], [4, 4]]])
    with_small = stratified.generalized_cmh(tables, strata=["A", "B", "C"])
    without = stratified.generalized_cmh(tables[[0, 2]])
    assert with_small[0] == pytest.approx(without[0], rel=1e-12)
    assert with_small[3] == "left out of the generalized CMH (fewer than 2 units): B"


# --- properties -------------------------------------------------------------------------------------

cells = arrays(np.int64, st.tuples(st.integers(1, 6), st.just(2), st.just(2)), elements=st.integers(0, 40))


@settings(max_examples=examples(300), deadline=None)
@given(cells)
def test_mh_or_lies_between_the_strata_odds_ratios(tables: np.ndarray) -> None:
    res = stratified.mantel_haenszel(tables, [f"s{k}" for k in range(len(tables))])
    kept = tables[stratified._contributing(tables)]
    ad, bc = kept[:, 0, 0] * kept[:, 1, 1], kept[:, 0, 1] * kept[:, 1, 0]
    defined = (ad > 0) | (bc > 0)
    assume(defined.any())
    with np.errstate(divide="ignore"):
        ors = np.where(bc > 0, ad / np.maximum(bc, 1), np.inf)[defined]
    assert ors.min() * (1 - 1e-12) <= res.mh_or <= ors.max() * (1 + 1e-12)


@settings(max_examples=examples(300), deadline=None)
@given(cells, st.integers(0, 5), st.booleans())
def test_a_stratum_with_an_empty_row_changes_nothing(tables: np.ndarray, where: int, column: bool) -> None:
    empty = np.array([[[0, 0], [7, 3]]]) if not column else np.array([[[0, 5], [0, 8]]])
    where = min(where, len(tables))
    more = np.concatenate([tables[:where], empty, tables[where:]])
    a = stratified.mantel_haenszel(tables, [f"s{k}" for k in range(len(tables))])
    b = stratified.mantel_haenszel(more, [f"s{k}" for k in range(len(more))])
    for field in ("n_strata", "n", "mh_or", "ci_low", "ci_high", "cmh_statistic", "homogeneity_statistic"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-12, nan_ok=True), field


@settings(max_examples=examples(300), deadline=None)
@given(cells)
def test_swapping_the_levels_inverts_the_odds_ratio_and_keeps_the_tests(tables: np.ndarray) -> None:
    names = [f"s{k}" for k in range(len(tables))]
    a = stratified.mantel_haenszel(tables, names)
    b = stratified.mantel_haenszel(tables[:, ::-1, :], names)
    assume(0 < a.mh_or < math.inf)
    assert b.mh_or == pytest.approx(1 / a.mh_or, rel=1e-9)
    assert b.ci_low == pytest.approx(1 / a.ci_high, rel=1e-9)
    assert b.cmh_statistic == pytest.approx(a.cmh_statistic, rel=1e-9, abs=1e-12)
    assert b.homogeneity_statistic == pytest.approx(a.homogeneity_statistic, rel=1e-7, abs=1e-9, nan_ok=True)


@settings(max_examples=examples(300), deadline=None)
@given(cells)
def test_breslow_day_agrees_with_statsmodels_away_from_one(tables: np.ndarray) -> None:
    kept = tables[stratified._contributing(tables)]
    assume(len(kept) >= 2)
    st_ = StratifiedTable(np.transpose(kept, (1, 2, 0)).astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):  # statsmodels divides by zero where no ad or bc: assumed away
        odds_ratio = float(st_.oddsratio_pooled)
    assume(0 < odds_ratio < math.inf and abs(odds_ratio - 1) > 1e-3)
    bd, tarone = stratified.breslow_day(kept, odds_ratio)
    assert bd == pytest.approx(float(st_.test_equal_odds(adjust=False).statistic), rel=1e-6, abs=1e-9)
    assert tarone == pytest.approx(float(st_.test_equal_odds(adjust=True).statistic), rel=1e-6, abs=1e-9)
    assert 0 <= tarone <= bd + 1e-9


@settings(max_examples=examples(300), deadline=None)
@given(cells, st.randoms(use_true_random=False))
def test_generalized_cmh_of_2x2_tables_is_the_uncorrected_cmh_in_any_stratum_order(tables: np.ndarray,
                                                                                  rnd) -> None:
    statistic, df, p, _ = stratified.generalized_cmh(tables)
    res = stratified.mantel_haenszel(tables, [f"s{k}" for k in range(len(tables))], correction=False)
    assume(not math.isnan(statistic))
    assert df == 1 and statistic == pytest.approx(res.cmh_statistic, rel=1e-9, abs=1e-12)
    order = list(range(len(tables)))
    rnd.shuffle(order)
    assert stratified.generalized_cmh(tables[order])[0] == pytest.approx(statistic, rel=1e-9, abs=1e-12)


@settings(max_examples=examples(500), deadline=None)
@given(st.integers(1, 5000), st.floats(0.001, 0.999))
def test_funnel_limits_nest_and_contain_the_overall_rate(n: int, p0: float) -> None:
    lim = stratified.funnel_limits([n], p0).iloc[0]
    assert 0 <= lim["lower_998"] <= lim["lower_95"] <= lim["upper_95"] <= lim["upper_998"] <= 1
    # The interpolated limits contain p0 unless a single count (0 or n) holds a tail's whole probability.
    if (1 - p0) ** n < 0.975 and p0**n < 0.975:
        assert lim["lower_95"] <= p0 <= lim["upper_95"]
    if (1 - p0) ** n < 0.999 and p0**n < 0.999:
        assert lim["lower_998"] <= p0 <= lim["upper_998"]


@settings(max_examples=examples(500), deadline=None)
@given(st.integers(1, 2500), st.floats(0.001, 0.999))
def test_funnel_limits_narrow_as_the_number_of_cases_doubles(n: int, p0: float) -> None:
    """Fewer cases, wider limits: the limits at 2n lie within those at n once n·min(p0, 1-p0) >= 1.
    (Between neighbouring n the discrete quantile makes the interpolated limits zigzag slightly.)"""
    assume(n * min(p0, 1 - p0) >= 1)
    lim = stratified.funnel_limits([n, 2 * n], p0)
    for tag in ("95", "998"):
        assert lim.at[1, f"lower_{tag}"] >= lim.at[0, f"lower_{tag}"] - 1e-12
        assert lim.at[1, f"upper_{tag}"] <= lim.at[0, f"upper_{tag}"] + 1e-12


def test_funnel_limits_frame_and_errors() -> None:
    lim = stratified.funnel_limits(np.array([0, 10]), 0.2)
    assert list(lim.columns) == ["n", "lower_95", "upper_95", "lower_998", "upper_998"]
    assert lim.iloc[0, 1:].isna().all() and lim.iloc[1, 1:].notna().all()
    with pytest.raises(ValueError, match="p0 must be in"):
        stratified.funnel_limits([10], 1.5)
    assert stratified.level_tag(0.95) == "95" and stratified.level_tag(0.998) == "998"


# --- the results frames -------------------------------------------------------------------------------


def test_pooled_rows_columns_and_methods(pooled: pd.DataFrame) -> None:
    assert tuple(pooled.columns) == CONTRACT["forces_pooled"]
    expected = [(o, f, lv, ref) for o, f in associate.published_pairs() for lv, ref in stratified.comparisons(f)]
    assert list(zip(pooled["outcome"], pooled["factor"], pooled["level"], pooled["reference"])) == expected
    three = pooled["factor"].isin(["victim_age3", "offender_age3"])
    assert (pooled.loc[three, "method"] == stratified.METHOD_GENERALIZED).all()
    assert (pooled.loc[~three, "method"] == stratified.METHOD_2X2).all()
    assert set(pooled.loc[three, "cmh_df"]) == {2} and set(pooled.loc[~three, "cmh_df"]) == {1}
    assert (pooled.loc[pooled["unit"] == associate.UNIT_PAIRS, "factor"].isin(associate.OFFENDER_FACTORS)).all()
    assert (pooled["homogeneity_test"] == stratified.HOMOGENEITY_BD).all()


def test_pooled_rows_agree_with_the_per_force_cells(pooled: pd.DataFrame, odds_ratios: pd.DataFrame) -> None:
    keys = ["outcome", "factor", "level", "reference"]
    for key, grp in odds_ratios.groupby(keys, sort=False):
        row = pooled.set_index(keys).loc[key]
        used = grp[~grp["note"].str.startswith("not computable")]
        w = used[["a", "b", "c", "d"]].to_numpy(dtype=float)
        n = w.sum(axis=1)
        assert row["n"] == int(n.sum()) and row["n_strata"] == len(used)
        mh = np.sum(w[:, 0] * w[:, 3] / n) / np.sum(w[:, 1] * w[:, 2] / n)
        assert row["mh_or"] == pytest.approx(mh, rel=1e-12)


def test_three_level_rows_share_the_generalized_test(pooled: pd.DataFrame, frames) -> None:
    rows = pooled[(pooled["outcome"] == "offered") & (pooled["factor"] == "victim_age3")]
    assert rows["cmh_statistic"].nunique() == 1
    cases = associate.with_indicator_levels(frames[0])
    tables = stratified.stratum_tables(cases, "victim_age3", "offered", stratum="force", strata=FORCES,
                                       levels=vocab.levels("victim_age3"), outcome_levels=["yes", "no"])
    assert rows["cmh_statistic"].iloc[0] == pytest.approx(stratified.generalized_cmh(tables)[0], rel=1e-12)
    assert rows["note"].iloc[0].startswith("cmh columns: generalized CMH of all 3 levels (2 df), "
                                           "mh_or and homogeneity: 18_24 vs 17_and_under")


def test_a_force_without_offenders_is_named_on_offender_rows() -> None:
    cases, offenders = forces_frames(no_offenders=("Force B",))
    out = stratified.stratified_tests(cases, offenders, alpha=0.05)
    offender_rows = out[out["unit"] == associate.UNIT_PAIRS]
    assert offender_rows["note"].str.contains("left out of the pooled forces .*: Force B", regex=True).all()
    assert (offender_rows["n_strata"] <= 2).all()
    assert not out.loc[out["unit"] == associate.UNIT_CASES, "note"].str.contains("Force B").any()


def test_one_force_gives_no_homogeneity_test() -> None:
    cases, offenders = forces_frames((200,), categories=["Only force"])
    out = stratified.stratified_tests(cases, offenders, alpha=0.05)
    assert (out["homogeneity_test"] == "none: one force").all()
    assert out["homogeneity_p"].isna().all() and out["cmh_p"].notna().all()


def test_heterogeneity_is_noted_below_alpha() -> None:
    row = {"homogeneity_p": 0.01, "note": ""}
    stratified._heterogeneity_note(row, 0.05, "force")
    assert row["note"].startswith("odds ratios differ between forces (homogeneity p < 0.05)")
    row = {"homogeneity_p": 0.2, "note": "x"}
    stratified._heterogeneity_note(row, 0.05, "force")
    assert row["note"] == "x"


def test_per_force_odds_ratios(odds_ratios: pd.DataFrame, frames) -> None:
    assert tuple(odds_ratios.columns) == CONTRACT["forces_odds_ratios"]
    assert len(odds_ratios) == 3 * sum(len(stratified.comparisons(f)) for _, f in associate.published_pairs())
    cases = associate.with_indicator_levels(frames[0])
    row = odds_ratios[(odds_ratios["force"] == "Force B") & (odds_ratios["outcome"] == "offered")
                      & (odds_ratios["factor"] == "victim_sex")].iloc[0]
    table = stats.crosstab(cases[cases["force"] == "Force B"], "victim_sex", "offered", ["male", "female"],
                           ["yes", "no"])
    assert [row["a"], row["b"], row["c"], row["d"]] == table.ravel().tolist()
    assert row["n"] == table.sum()
    assert (row["odds_ratio"], row["ci_low"], row["ci_high"]) == pytest.approx(stats.odds_ratio_ci(table)[:3])


def test_per_force_odds_ratio_notes() -> None:
    assert stratified._stratum_or(np.array([[0, 4], [3, 5]]))[3].startswith("zero cell")
    res = stratified._stratum_or(np.array([[0, 0], [3, 5]]))
    assert math.isnan(res[0]) and res[3].startswith("not computable")


def test_funnel_rates(frames) -> None:
    cases = frames[0].copy()
    cases["force"] = cases["force"].cat.add_categories(["Force D"])
    out = stratified.funnel_rates(cases, outcome="offered")
    assert tuple(out.columns) == CONTRACT["forces_funnel"]
    assert out["force"].tolist() == [*FORCES, "Force D"]
    for force in FORCES:
        sub = cases[cases["force"] == force]
        r = out.set_index("force").loc[force]
        assert r["n"] == sub["offered"].isin(["yes", "no"]).sum() and r["events"] == (sub["offered"] == "yes").sum()
        assert r["rate"] == pytest.approx(r["events"] / r["n"])
    recorded = cases["offered"].isin(["yes", "no"])
    assert out["overall_rate"].iloc[0] == pytest.approx((cases["offered"] == "yes").sum() / recorded.sum())
    d = out.set_index("force").loc["Force D"]
    assert d["n"] == 0 and math.isnan(d["rate"]) and d["position"] == stratified.NO_CASES


def test_funnel_position_classes() -> None:
    cases = pd.DataFrame({
        "force": ["A"] * 1000 + ["B"] * 1000 + ["C"] * 1000,
        "offered": ["yes"] * 200 + ["no"] * 800 + ["yes"] * 240 + ["no"] * 760 + ["yes"] * 400 + ["no"] * 600,
    })
    out = stratified.funnel_rates(cases, outcome="offered").set_index("force")
    p0 = out["overall_rate"].iloc[0]
    assert p0 == pytest.approx(0.28)
    assert out.loc["A", "position"] == stratified.OUTSIDE_998  # 20% vs 28%, n=1000
    assert out.loc["B", "position"] == stratified.BETWEEN  # 24%: outside 95%, inside 99.8%
    assert out.loc["B", "lower_998"] <= 0.24 < out.loc["B", "lower_95"]
    assert out.loc["C", "position"] == stratified.OUTSIDE_998
    same = stratified.funnel_rates(cases.assign(force="A"), outcome="offered")
    assert same["position"].tolist() == [stratified.WITHIN_95]


def test_text_strata_keep_their_order_and_offender_tests_see_every_force() -> None:
    cases, offenders = forces_frames(no_offenders=("Force A",))
    cases = cases.astype({"force": str}).iloc[::-1].reset_index(drop=True)  # Force C first
    offenders = offenders.astype({"force": str})
    odds = stratified.per_stratum_odds_ratios(cases, offenders)
    assert list(dict.fromkeys(odds["force"])) == ["Force C", "Force B", "Force A"]
    sex = odds[(odds["factor"] == "offender_sex") & (odds["outcome"] == "offered")]
    assert sex["force"].tolist() == ["Force C", "Force B", "Force A"]
    assert sex.set_index("force").loc["Force A", "n"] == 0


@pytest.mark.parametrize(("sizes", "names"), [((6, 3, 1), FORCES), ((1,), ["Only"]), ((4,), ["Force A", "Empty"])])
def test_tiny_forces_never_raise(sizes: tuple[int, ...], names: list[str]) -> None:
    cases, offenders = forces_frames(sizes, categories=names)
    with np.errstate(all="raise"):  # no silent division by zero either
        pooled = stratified.stratified_tests(cases, offenders, alpha=0.05)
        odds = stratified.per_stratum_odds_ratios(cases, offenders)
        funnel = stratified.funnel_rates(cases, outcome="accepted")
    assert len(pooled) == 57 and len(odds) == 57 * len(names)
    not_computable = pooled["mh_or"].isna() & pooled["cmh_statistic"].isna()
    assert pooled.loc[not_computable, "note"].str.contains("not computable").all()
    assert (funnel["position"] == stratified.NO_CASES).sum() == (funnel["n"] == 0).sum()
