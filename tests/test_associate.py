"""Section 4 tests as result rows: populations, units, degenerate tables, q-values, Tables 2-4."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from msht.analysis import associate, reference, stats
from msht.base import vocab
from msht.publish import association_tables, results

FAST = 999  # Monte Carlo tables for r×c Fisher tests in unit tests


def tiny_tables(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small random cases table (every Appendix 4 column) and its offender pairs."""
    rng = np.random.default_rng(seed)

    def pick(levels: list[str], p_unknown: float = 0.05) -> np.ndarray:
        values = rng.choice(levels, size=n)
        return np.where(rng.random(n) < p_unknown, vocab.UNKNOWN, values)

    cases = pd.DataFrame({
        "occurrence_number": [f"OCC{i:04d}" for i in range(n)],
        "person_id": [f"P{i % (n - 20):04d}" for i in range(n)],
        "engagement": rng.choice(["positive", "negative", "ongoing", "no_crime", "unknown"], size=n),
        "offered": pick(["yes", "no"]),
        "exploitation_known": rng.random(n) > 0.1,
    })
    cases["accepted"] = np.where(cases["offered"] == "yes", rng.choice(["yes", "no"], size=n), vocab.UNKNOWN)
    for factor in ("victim_sex", "victim_age3", "victim_uk_national", "referral_form", "referring_agency",
                   "county_lines", "police_entries", "more_perp_than_victim", "recorded_offender"):
        cases[factor] = pick(vocab.levels(factor))
    for col in vocab.EXPLOITATION_TYPES:
        cases[col] = rng.random(n) < 0.3
    offenders = pd.DataFrame({"occurrence_number": rng.choice(cases["occurrence_number"], size=n // 2)})
    for factor in associate.OFFENDER_FACTORS:
        offenders[factor] = rng.choice(vocab.levels(factor), size=len(offenders))
    offenders = offenders.merge(cases[["occurrence_number", "engagement", "offered", "accepted"]], on="occurrence_number")
    return cases, offenders


@pytest.fixture(scope="module")
def tiny() -> tuple[pd.DataFrame, pd.DataFrame]:
    return tiny_tables()


@pytest.fixture(scope="module")
def run(tiny: tuple[pd.DataFrame, pd.DataFrame]) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    rows, tests = associate.run_all(*tiny, fisher_n_resamples=FAST)
    return rows, tests, associate.test_table(tests, 0.05)


# --- populations, units, codes ---------------------------------------------------------------------


def test_with_indicator_levels_codes_flags_and_unknown_types() -> None:
    cases = pd.DataFrame({"exploitation_known": [True, True, False],
                          "criminal_exploitation": [True, False, True], "labour_exploitation": ["yes", "no", "no"]})
    out = associate.with_indicator_levels(cases)
    assert out["criminal_exploitation"].tolist() == ["yes", "no", vocab.UNKNOWN]
    assert out["labour_exploitation"].tolist() == ["yes", "no", "no"]  # already coded: untouched
    assert cases["criminal_exploitation"].dtype == bool  # input not modified


def test_engagement_population_leaves_out_unknown_ongoing_and_no_crime() -> None:
    cases = pd.DataFrame({
        "engagement": ["positive", "negative", "ongoing", "no_crime", "unknown", "positive"],
        "victim_sex": ["male", "female", "male", "female", "male", "unknown"],
    })
    t = associate.run_test("engagement", "victim_sex", cases, cases.iloc[:0])
    assert t.counts.tolist() == [[1, 0], [0, 1]]
    assert t.unit == associate.UNIT_CASES


def test_offender_factors_use_pairs_and_others_cases(tiny: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    cases, offenders = tiny
    coded = associate.with_indicator_levels(cases)
    t_off = associate.run_test("offered", "offender_sex", coded, offenders, fisher_n_resamples=FAST)
    t_vic = associate.run_test("offered", "victim_sex", coded, offenders, fisher_n_resamples=FAST)
    assert t_off.unit == associate.UNIT_PAIRS and t_vic.unit == associate.UNIT_CASES
    assert t_off.n == int(offenders["offered"].isin(["yes", "no"]).sum())
    expected = stats.test_factor(coded, "victim_sex", "offered", vocab.levels("victim_sex"), ["yes", "no"])
    assert t_vic.result is not None and t_vic.result.p_study == pytest.approx(expected.p_study)


def test_run_all_covers_the_51_published_tests_and_keeps_the_contract(run: tuple) -> None:
    rows, tests, table = run
    assert len(tests) == 51 and list(tests) == associate.published_pairs()
    n_level_rows = 3 * sum(len(vocab.levels(f)) for f in vocab.APPENDIX4_FACTORS)
    assert len(rows) == 3 + n_level_rows == 111
    assert list(results.conform(rows, "associations").columns) == list(results.CONTRACT["associations"])
    assert list(table.columns) == list(results.CONTRACT["association_tests"])
    assert set(rows.loc[rows["factor"] != associate.OVERALL, "test"]) <= {stats.TEST_YATES, stats.TEST_PEARSON}


def test_overall_rows_by_hand() -> None:
    cases = pd.DataFrame({"engagement": ["positive", "negative", "negative", "unknown"],
                          "offered": ["yes", "no", "unknown", "no"], "accepted": ["yes", "unknown", "unknown", "unknown"]})
    out = associate.overall_rows(cases).set_index("outcome")
    assert out.loc["engagement", ["n", "denominator"]].tolist() == [1, 3]
    assert out.loc["offered", ["n", "denominator"]].tolist() == [1, 3]
    assert out.loc["accepted", "pct"] == 100.0
    assert (out["level"] == associate.OVERALL).all()


def test_study_test_names_and_rows_match_the_result(run: tuple) -> None:
    rows, tests, _ = run
    t = tests[("offered", "victim_age3")]
    block = rows[(rows["outcome"] == "offered") & (rows["factor"] == "victim_age3")]
    assert block["test"].unique().tolist() == [stats.TEST_PEARSON]
    assert block["n"].tolist() == t.counts[:, 0].tolist()
    assert block["denominator"].tolist() == t.counts.sum(axis=1).tolist()
    assert block["statistic"].iloc[0] == pytest.approx(t.result.chi2_study)


# --- degenerate tables ----------------------------------------------------------------------------


def test_a_level_with_no_cases_is_reported_not_computable_with_reason(tiny: tuple) -> None:
    cases, offenders = tiny
    cases = cases.copy()
    cases["domestic_servitude"] = False  # no case has it on this data
    rows, tests = associate.run_all(cases, offenders, [("offered", "domestic_servitude"), ("offered", "victim_sex")])
    t = tests[("offered", "domestic_servitude")]
    assert not t.computable and "level 'yes' has no cases" in t.reason
    block = rows[rows["factor"] == "domestic_servitude"]
    assert block["test"].unique().tolist() == [associate.NOT_COMPUTABLE]
    assert block["statistic"].isna().all() and block["p"].isna().all() and block["df"].isna().all()
    assert block.loc[block["level"] == "yes", "n"].item() == 0
    assert math.isnan(block.loc[block["level"] == "yes", "pct"].item())
    table = associate.test_table(tests, 0.05).set_index("factor")
    assert table.loc["domestic_servitude", "test_chosen"] == associate.NOT_COMPUTABLE
    assert "has no cases" in table.loc["domestic_servitude", "note"]
    assert pd.isna(table.loc["domestic_servitude", "q_bh"])
    assert pd.isna(table.loc["domestic_servitude", "significant_seed"])
    # the family of the q-values is the computable tests only
    assert table.loc["victim_sex", "q_bh"] == pytest.approx(table.loc["victim_sex", "p_chosen"])


def test_an_outcome_with_a_single_level_is_not_computable(tiny: tuple) -> None:
    cases, offenders = tiny
    cases = cases.assign(accepted=np.where(cases["offered"] == "yes", "yes", vocab.UNKNOWN))
    offenders = offenders.assign(accepted=np.where(offenders["offered"] == "yes", "yes", vocab.UNKNOWN))
    _, tests = associate.run_all(cases, offenders, [("accepted", "victim_sex"), ("accepted", "offender_sex")])
    for t in tests.values():
        assert not t.computable
        assert "outcome level 'no' has no cases" in t.reason
    table = associate.test_table(tests, 0.05)
    assert table["q_bh"].isna().all() and (table["test_chosen"] == associate.NOT_COMPUTABLE).all()


def test_not_computable_tests_flow_through_every_display(tiny: tuple) -> None:
    cases, offenders = tiny
    cases = cases.assign(domestic_servitude=False)
    rows, tests = associate.run_all(cases, offenders, [(o, "domestic_servitude") for o in vocab.OUTCOMES])
    table = associate.test_table(tests, 0.05)
    display = association_tables.appendix4_display(rows, table, ["domestic_servitude"])
    assert display.loc[display["row"] == "χ²", list(vocab.OUTCOMES)].iloc[0].tolist() == ["n/c"] * 3
    extras = association_tables.extras_display(table)
    assert extras["note"].str.contains("has no cases").all()
    assert associate.residual_rows(tests).empty
    found = associate.findings(rows, table, "offered", 0.05)
    assert found.empty
    assert association_tables.findings_display(found, 0.05)["heading"].tolist() == ["No factor had p < 0.05"]


# --- association_tests.csv -------------------------------------------------------------------------


def test_fisher_p_only_where_an_expected_count_is_below_5() -> None:
    small = pd.DataFrame({"offered": ["yes"] * 2 + ["no"] * 41 + ["yes"] * 4 + ["no"] * 26,
                          "victim_sex": ["female"] * 43 + ["male"] * 30})
    big = pd.DataFrame({"offered": ["yes"] * 30 + ["no"] * 40 + ["yes"] * 35 + ["no"] * 20,
                        "victim_uk_national": ["uk"] * 70 + ["non_uk"] * 55})
    frame = pd.concat([small, big], ignore_index=True).fillna(vocab.UNKNOWN)
    _, tests = associate.run_all(frame, frame.iloc[:0], [("offered", "victim_sex"), ("offered", "victim_uk_national")])
    table = associate.test_table(tests, 0.05).set_index("factor")
    sex, nat = table.loc["victim_sex"], table.loc["victim_uk_national"]
    assert sex["min_expected"] < 5 and sex["test_chosen"] == stats.TEST_FISHER
    assert sex["fisher_p"] == pytest.approx(stats.association_test([[4, 26], [2, 41]], ["m", "f"], ["y", "n"]).p)
    assert sex["p_chosen"] == sex["fisher_p"] and sex["n_cells_expected_below_5"] >= 1
    assert nat["test_chosen"] == stats.TEST_YATES and pd.isna(nat["fisher_p"]) and nat["p_chosen"] == nat["p_seed"]
    assert sex["or_contrast"] == "male vs female" and nat["or_contrast"] == "uk vs non_uk"


def test_q_values_and_flags(run: tuple) -> None:
    _, _, table = run
    q = stats.bh_qvalues(table["p_chosen"].to_numpy(dtype=float))
    np.testing.assert_allclose(table["q_bh"], q)
    assert (table["significant_seed"] == (table["p_seed"] < 0.05)).all()
    assert (table["significant_bh"] == (table["q_bh"] < 0.05)).all()
    two = table["effect_size_name"] == "phi"
    assert table.loc[two, "odds_ratio"].notna().all() and table.loc[~two, "odds_ratio"].isna().all()
    assert (table.loc[~two, "effect_size_name"] == "Cramér's V").all()


def test_residual_rows_for_three_level_tables_by_hand(run: tuple) -> None:
    _, tests, _ = run
    res = associate.residual_rows(tests)
    assert set(res["factor"]) == {"victim_age3", "offender_age3"}
    t = tests[("engagement", "victim_age3")]
    block = res[(res["outcome"] == "engagement") & (res["factor"] == "victim_age3")]
    table = t.counts.astype(float)
    expected = table.sum(axis=1) * table[:, 0].sum() / table.sum()
    np.testing.assert_allclose(block["expected_n"], expected)
    row_share, col_share = table.sum(axis=1) / table.sum(), table[:, 0].sum() / table.sum()
    adjusted = (table[:, 0] - expected) / np.sqrt(expected * (1 - row_share) * (1 - col_share))
    np.testing.assert_allclose(block["adjusted_residual"], adjusted)
    assert list(res.columns) == list(results.CONTRACT["association_residuals"])


# --- Tables 2-4 -------------------------------------------------------------------------------------


def _uk_frame(uk_yes: int, non_uk_yes: int) -> pd.DataFrame:
    values = (["uk"] * 100) + (["non_uk"] * 100)
    offered = ["yes"] * uk_yes + ["no"] * (100 - uk_yes) + ["yes"] * non_uk_yes + ["no"] * (100 - non_uk_yes)
    return pd.DataFrame({"victim_uk_national": values, "offered": offered})


@pytest.mark.parametrize(("uk_yes", "non_uk_yes", "heading", "higher"), [
    (40, 15, "Those with UK nationality", "uk"),
    (15, 40, "Those with non-UK nationality", "non_uk"),
])
def test_direction_and_p_label_come_from_the_row(uk_yes: int, non_uk_yes: int, heading: str, higher: str) -> None:
    frame = _uk_frame(uk_yes, non_uk_yes)
    rows, tests = associate.run_all(frame, frame.iloc[:0], [("offered", "victim_uk_national")])
    table = associate.test_table(tests, 0.05)
    found = associate.findings(rows, table, "offered", 0.05)
    assert found["higher_level"].unique().tolist() == [higher]
    display = association_tables.findings_display(found, 0.05)
    p = float(rows.loc[rows["factor"] == "victim_uk_national", "p"].iloc[0])
    assert display["heading"].item() == f"{heading} ({stats.p_threshold_label(p)})"
    assert display["level_1"].item() == f"UK nationals ({uk_yes:.1f}%, n={uk_yes})"
    assert display["level_2"].item() == f"non-UK nationals ({non_uk_yes:.1f}%, n={non_uk_yes})"
    assert display["level_3"].item() == ""


def _published_run() -> tuple[pd.DataFrame, pd.DataFrame]:
    """This module's result frames built from the study's Appendix 4 counts (implied tables)."""
    implied = reference.implied_tables()
    tests = {}
    for outcome, factor in associate.published_pairs():
        counts, levels, outcome_levels = reference.contingency_table(implied, outcome, factor)
        result = stats.association_test(counts, levels, outcome_levels, fisher_n_resamples=FAST)
        tests[(outcome, factor)] = associate.StudyTest(outcome, factor, associate.unit_of(factor), counts,
                                                      tuple(levels), tuple(outcome_levels), result)
    overall = implied[implied["factor"] == reference.OVERALL]
    overall_rows = pd.DataFrame({"outcome": overall["outcome"], "factor": overall["factor"], "level": overall["level"],
                                 "n": overall["n"], "denominator": overall["N"], "pct": overall["pct_printed"],
                                 "statistic": math.nan, "df": pd.array([pd.NA] * len(overall), dtype="Int64"),
                                 "p": math.nan, "test": ""})
    rows = pd.concat([overall_rows, *(associate.association_rows(t) for t in tests.values())], ignore_index=True)
    return rows, associate.test_table(tests, 0.05)


def test_tables_2_to_4_from_the_published_counts_list_the_published_factors() -> None:
    rows, table = _published_run()
    printed = reference.load_published_findings()
    for outcome in vocab.OUTCOMES:
        found = associate.findings(rows, table, outcome, 0.05)
        pub = printed[printed["outcome"] == outcome]
        assert set(found["factor"]) == set(pub["factor"]), outcome
        ours = found.drop_duplicates("factor").set_index("factor")["higher_level"]
        theirs = pub.drop_duplicates("factor").set_index("factor")["heading_level"]
        differ = {f for f in theirs.index if ours[f] != theirs[f]}
        # the one direction that differs is Table 4's swapped nationality labels
        assert differ == ({"victim_uk_national"} if outcome == "engagement" else set())


def test_vs_published_on_the_published_counts_agrees_everywhere() -> None:
    rows, _ = _published_run()
    comparison = associate.vs_published(rows, 0.05)
    assert list(comparison.columns) == list(results.CONTRACT["association_vs_published"])
    assert len(comparison) == 111
    assert (comparison["pct_diff"] == 0).all()
    assert (comparison["n_run"] == comparison["n_published"]).all()
    tests = comparison[comparison["factor"] != associate.OVERALL]
    assert tests["verdict_agrees"].all()
    assert comparison.loc[comparison["factor"] == associate.OVERALL, "verdict_agrees"].isna().all()


def test_vs_published_flags_a_changed_verdict() -> None:
    rows, _ = _published_run()
    mask = (rows["outcome"] == "offered") & (rows["factor"] == "victim_sex")
    rows.loc[mask, "p"] = 0.001
    comparison = associate.vs_published(rows, 0.05)
    flagged = comparison[comparison["verdict_agrees"].eq(False)]
    assert set(zip(flagged["outcome"], flagged["factor"])) == {("offered", "victim_sex")}


def test_vs_published_text_calls_a_twin_a_calibration_check_and_several_forces_context() -> None:
    from msht.publish import prose_associations

    comparison = associate.vs_published(_published_run()[0], 0.05)
    twin = prose_associations.vs_published_text(comparison, 0.05, synthetic=True)
    forces = prose_associations.vs_published_text(comparison, 0.05, synthetic=True, forces=5)
    real = prose_associations.vs_published_text(comparison, 0.05, synthetic=False)
    assert "check of that calibration" in twin and "calibration" not in forces and "calibration" not in real
    assert "combined cases of 5 forces" in forces and "context, not a check" in forces
    assert twin.split("calibration. ", 1)[1] == forces.split("section. ", 1)[1], "the same findings follow"


# --- display frames ---------------------------------------------------------------------------------


def test_appendix4_display_layout_and_dagger(run: tuple) -> None:
    rows, _, table = run
    factors = vocab.APPENDIX4_BLOCKS["victim"][1]
    display = association_tables.appendix4_display(rows, table, factors)
    assert len(display) == 1 + sum(len(vocab.levels(f)) + 2 for f in factors)
    assert tuple(display.iloc[0][["group", "row"]]) == ("Overall % (n)", "All cases")
    assert list(display.columns) == ["group", "row", *vocab.OUTCOMES]
    forced = table.assign(test_chosen=stats.TEST_FISHER)
    shown = association_tables.appendix4_display(rows, forced, factors)
    assert shown.loc[shown["row"] == "χ²", "offered"].str.endswith("†").all()


def test_other_displays_have_one_row_per_input_row(run: tuple) -> None:
    rows, tests, table = run
    assert len(association_tables.extras_display(table)) == len(table)
    residuals = associate.residual_rows(tests)
    assert len(association_tables.residuals_display(residuals)) == len(residuals)
    comparison = associate.vs_published(rows, 0.05)
    shown = association_tables.vs_published_display(comparison)
    assert len(shown) == len(comparison)
    assert (shown["agrees"] != "").sum() == 51


def test_factor_names_say_whose_attribute() -> None:
    assert association_tables.factor_name("victim_age3") == "Victim age group (years)"
    assert association_tables.factor_name("offender_sex") == "Offender gender"
    assert association_tables.factor_name("county_lines") == "County lines involvement"


def test_residuals_display_shows_a_blanked_expected_count_as_c(run: tuple) -> None:
    """Issue 15 item 3: a release of a short period stopped with ``TypeError`` here, because
    disclosure control blanks ``expected_n`` to ``pd.NA`` in an object column."""
    _, tests, _ = run
    residuals = associate.residual_rows(tests)
    blanked = residuals.copy()
    for col in ("n", "denominator", "expected_n", "adjusted_residual"):
        blanked[col] = blanked[col].astype(object)
    blanked.loc[blanked.index[0], ["n", "denominator", "expected_n", "adjusted_residual"]] = pd.NA
    shown = association_tables.residuals_display(blanked)
    assert shown.iloc[0]["expected_n"] == "[c]"
    assert shown.iloc[0]["adjusted_residual"] == "[c]"
    assert shown.iloc[1]["expected_n"] == f"{float(residuals.iloc[1]['expected_n']):.1f}"
