"""Section 3's table builders on tiny frames with known answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from msht.analysis import describe, stats
from msht.publish import descriptive_tables
from msht.base import formats

TYPES = ("criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude", "other_exploitation")


def make_cases(n: int, **columns: list) -> pd.DataFrame:
    """``n`` analysed cases with neutral defaults; ``columns`` override them."""
    base: dict[str, list] = {
        "occurrence_number": [f"MS/{i:03d}" for i in range(n)],
        "person_id": [f"P{i}" for i in range(n)],
        "date": [pd.Timestamp("2020-06-01")] * n,
        "referral_form": ["nrm"] * n,
        "referring_agency": ["external"] * n,
        "exploitation_known": [True] * n,
        "exploitation_location": ["unknown"] * n,
        "county_lines": ["unknown"] * n,
        "engagement": ["unknown"] * n,
        "offered": ["no"] * n,
        "accepted": ["unknown"] * n,
        "victim_sex": ["male"] * n,
        "victim_age2": ["adult"] * n,
        "victim_uk_national": ["uk"] * n,
        "period": ["before_2021"] * n,
        "n_offenders": [0] * n,
        **{t: [False] * n for t in TYPES},
    }
    base.update(columns)
    return pd.DataFrame(base)


def by(rows: pd.DataFrame, *keys: str) -> pd.DataFrame:
    return rows.set_index(list(keys))


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize("value,text", [(8, "8"), (8.0, "8"), (7.5, "7.5"), (1828, "1,828"), (2475.0, "2,475")])
def test_fmt_number(value, text):
    assert formats.fmt_number(value) == text


# --- section 3.1, Appendix 1 ------------------------------------------------------------------


def test_overview_rows_count_victims_and_their_range_of_cases():
    cases = make_cases(5)
    victims = pd.DataFrame({"person_id": ["a", "b", "c"], "n_cases": [1, 1, 3]})
    rows = by(describe.overview_rows(cases, victims), "variable", "level")
    assert rows.loc[("cases", "all"), "n"] == 5
    assert rows.loc[("victims", "all"), "n"] == 3
    assert rows.loc[("victim_case_count", "one"), ["n", "denominator", "pct"]].tolist() == [2, 3, 66.7]
    assert rows.loc[("victim_case_count", "several"), "n"] == 1
    assert rows.loc[("victim_case_count", "min"), "n"] == 1 and rows.loc[("victim_case_count", "max"), "n"] == 3
    assert math.isnan(rows.loc[("victim_case_count", "max"), "pct"])


def test_victim_summary_rows_share_of_adults_and_uk_nationals():
    victims = pd.DataFrame({"victim_age2": ["adult", "adult", "17_and_under", "unknown"],
                            "victim_uk_national": ["uk", "non_uk", "non_uk", "non_uk"]})
    rows = by(describe.victim_summary_rows(victims), "variable", "level")
    assert rows.loc[("victim_age2", "adult"), ["n", "denominator", "pct"]].tolist() == [2, 3, 66.7]
    assert rows.loc[("victim_age2", "unknown"), "n"] == 1
    assert rows.loc[("victim_uk_national", "uk"), "pct"] == 25.0


# --- Appendix 2, Table 1 ----------------------------------------------------------------------


def test_location2_groups_overseas_and_both():
    codes = describe.location2(pd.Series(["uk_only", "overseas_only", "both", "unknown", None]))
    assert codes.tolist() == ["uk_only", "overseas_or_both", "overseas_or_both", "unknown", "unknown"]


def test_appendix2_rows_flags_share_the_known_type_denominator():
    cases = make_cases(
        4,
        exploitation_known=[True, True, True, False],
        criminal_exploitation=[True, True, False, False],
        labour_exploitation=[True, False, True, False],
        exploitation_location=["uk_only", "both", "unknown", "unknown"],
        county_lines=["yes", "no", "no", "unknown"],
        referring_agency=["internal", "external", "unknown", "external"],
    )
    rows = by(describe.appendix2_rows(cases), "variable", "level")
    assert rows.loc[("criminal_exploitation", "yes"), ["n", "denominator", "pct"]].tolist() == [2, 3, 66.7]
    assert rows.loc[("labour_exploitation", "yes"), "n"] == 2
    assert rows.loc[("domestic_servitude", "yes"), "n"] == 0
    assert rows.loc[("exploitation_type", "unknown"), "n"] == 1
    assert rows.loc[("exploitation_location", "both"), ["n", "denominator"]].tolist() == [1, 2]
    assert rows.loc[("exploitation_location", "unknown"), "n"] == 2
    assert rows.loc[("county_lines", "yes"), ["n", "denominator", "pct"]].tolist() == [1, 3, 33.3]
    assert rows.loc[("referring_agency", "unknown"), "n"] == 1
    assert set(rows["table"]) == {"appendix2"}


def test_table1_rows_are_case_level_by_exploitation_type():
    cases = make_cases(
        5,
        victim_sex=["male", "male", "female", "female", "unknown"],
        exploitation_known=[True, True, True, True, False],
        sexual_exploitation=[False, False, True, True, True],  # the last case's type is not known
        criminal_exploitation=[True, True, True, False, False],
        exploitation_location=["uk_only", "overseas_only", "both", "unknown", "uk_only"],
    )
    rows = describe.table1_rows(cases)
    assert set(rows["table"]) == {f"table1_{c}" for c in describe.TABLE1_COLUMNS}
    all_cases = by(rows[rows["table"] == "table1_all_cases"], "variable", "level")
    assert all_cases.loc[("victim_sex", "male"), ["n", "denominator", "pct"]].tolist() == [2, 4, 50.0]
    assert all_cases.loc[("victim_sex", "unknown"), "n"] == 1
    assert all_cases.loc[("exploitation_location2", "overseas_or_both"), ["n", "denominator"]].tolist() == [2, 4]
    sexual = by(rows[rows["table"] == "table1_sexual_exploitation"], "variable", "level")
    assert sexual.loc[("victim_sex", "female"), ["n", "denominator", "pct"]].tolist() == [2, 2, 100.0]
    assert ("victim_sex", "unknown") not in sexual.index  # the unknown-sex case has no type recorded
    criminal = by(rows[rows["table"] == "table1_criminal_exploitation"], "variable", "level")
    assert criminal.loc[("exploitation_location2", "uk_only"), ["n", "denominator"]].tolist() == [1, 3]
    domestic = by(rows[rows["table"] == "table1_domestic_servitude"], "variable", "level")
    assert domestic.loc[("victim_sex", "male"), "denominator"] == 0 and math.isnan(domestic.loc[("victim_sex", "male"), "pct"])


def test_table1_display_is_wide_with_unknown_rows_filled():
    cases = make_cases(3, victim_sex=["male", "female", "unknown"], sexual_exploitation=[False, True, False])
    shown = descriptive_tables.table1_display(describe.table1_rows(cases))
    assert list(shown.columns) == ["group", "characteristic", *describe.TABLE1_COLUMNS]
    sex = shown[shown["group"] == "Victim sex"].set_index("characteristic")
    assert sex.loc["Male", "all_cases"] == "50.0 (1)"
    assert sex.loc["Unknown", "all_cases"] == "n=1 not recorded"
    assert sex.loc["Female", "sexual_exploitation"] == "100.0 (1)"
    assert sex.loc["Unknown", "sexual_exploitation"] == "n=0 not recorded"
    assert sex.loc["Male", "domestic_servitude"] == "- (0)"
    assert shown["group"].drop_duplicates().tolist() == list(descriptive_tables.TABLE1_GROUPS.values())


def test_table1_headers_give_each_type_its_share_of_cases():
    cases = make_cases(4, exploitation_known=[True, True, True, False], labour_exploitation=[True, False, False, False])
    headers = descriptive_tables.table1_headers(describe.appendix2_rows(cases), len(cases))
    assert headers["all_cases"] == ("All MSHT cases", "N=4")
    assert headers["labour_exploitation"] == ("Labour exploitation", "33.3% (n=1) of cases")


def test_display_table_groups_exploitation_flags_and_note_states_their_denominator():
    cases = make_cases(3, exploitation_known=[True, True, False], criminal_exploitation=[True, False, False])
    rows = describe.appendix2_rows(cases)
    shown = descriptive_tables.display_table(rows)
    types = shown[shown["group"] == "Police recorded exploitation type"]
    assert types["characteristic"].tolist() == ["Criminal exploitation", "Labour exploitation", "Sexual exploitation",
                                                "Domestic servitude", "Other types of/undefined exploitation", "Unknown"]
    assert types["value"].tolist()[0] == "50.0 (1)" and types["value"].tolist()[-1] == "n=1 not recorded"
    note = descriptive_tables.denominator_note(rows, unit="cases")
    assert "police recorded exploitation type: N=2 (1 not recorded)" in note
    assert note.count("exploitation type") == 1


# --- section 3.2 ------------------------------------------------------------------------------


def victims_with_entries() -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": ["a", "b", "c", "d", "e"],
        "n_entries": [0, 1, 5, 2, 2000],
        "n_as_victim": [0, 1, 1, 1, 10],
        "n_as_perpetrator": [0, 0, 4, 1, 1990],
    })


def test_police_record_rows_leave_out_outliers_and_victims_without_data():
    rows = by(describe.police_record_rows(victims_with_entries(), 1500), "variable", "level")
    assert rows.loc[("entries_outliers", "threshold"), "n"] == 1500
    assert rows.loc[("entries_outliers", "left_out"), ["n", "denominator"]].tolist() == [1, 4]
    assert rows.loc[("police_entries", "several"), ["n", "denominator", "pct"]].tolist() == [2, 3, 66.7]
    assert rows.loc[("police_entries", "unknown"), "n"] == 1  # victim "a": no police-record data
    assert rows.loc[("entries_per_victim", "median"), "n"] == 2
    assert rows.loc[("entries_per_victim", "min"), "n"] == 1
    assert rows.loc[("entries_per_victim", "max"), "n"] == 5
    assert rows.loc[("has_victim_entry", "yes"), ["n", "denominator"]].tolist() == [3, 3]
    assert rows.loc[("has_perpetrator_entry", "yes"), ["n", "denominator"]].tolist() == [2, 3]
    assert rows.loc[("more_perp_than_victim", "yes"), "n"] == 1  # only "c"; "d" has as many as victim
    assert rows.loc[("more_perp_than_victim", "no"), "n"] == 2


def test_police_record_rows_threshold_zero_keeps_everyone_and_median_can_be_half():
    victims = victims_with_entries().iloc[1:]  # entries 1, 5, 2, 2000
    rows = by(describe.police_record_rows(victims, 0), "variable", "level")
    assert rows.loc[("entries_outliers", "left_out"), "n"] == 0
    assert rows.loc[("entries_per_victim", "median"), "n"] == 3.5
    assert rows.loc[("entries_per_victim", "max"), "n"] == 2000
    assert rows.loc[("police_entries", "several"), "denominator"] == 4


# --- section 3.3, Appendix 3 ------------------------------------------------------------------


def test_offender_persons_count_each_person_once_with_their_first_case():
    cases = make_cases(3, occurrence_number=["A", "B", "C"],
                       date=pd.to_datetime(["2021-01-01", "2019-01-01", "2020-01-01"]).tolist())
    offenders = pd.DataFrame({
        "occurrence_number": ["A", "B", "C", "C", "A"],
        "offender_id": ["X", "X", "Y", None, None],
        "offender_sex": ["female", "male", "male", "female", "male"],
        "offender_age": pd.array([30, 28, 16, None, 40], dtype="Int64"),
        "offender_age6": ["25_34", "25_34", "17_and_under", "unknown", "35_44"],
        "offender_ethnicity5": ["white"] * 5,
        "offender_uk_national": ["uk"] * 5,
        "offender_nationality_region": ["uk"] * 5,
    })
    people = describe.offender_persons(offenders, cases)
    assert len(people) == 4  # X, Y and two rows without an ID
    x = people[people["offender_id"] == "X"].iloc[0]
    assert x["offender_sex"] == "male" and x["n_cases"] == 2  # case B (2019) is X's first
    assert people["offender_age2"].tolist().count("17_and_under") == 1
    assert people["offender_age2"].tolist().count("unknown") == 1
    rows = by(describe.appendix3_rows(people), "variable", "level")
    assert rows.loc[("offender_sex", "male"), ["n", "denominator"]].tolist() == [3, 4]


def test_offender_rows_count_cases_by_number_of_offenders():
    cases = make_cases(5, n_offenders=[0, 1, 2, 4, 0])
    people = pd.DataFrame({"offender_age2": ["adult", "adult", "17_and_under"],
                           "offender_uk_national": ["uk", "non_uk", "unknown"]})
    rows = by(describe.offender_rows(cases, people), "variable", "level")
    assert rows.loc[("offenders_per_case", "none"), ["n", "denominator", "pct"]].tolist() == [2, 5, 40.0]
    assert rows.loc[("offenders_per_case", "one"), "n"] == 1
    assert rows.loc[("offenders_per_case", "several"), "n"] == 2
    assert rows.loc[("offenders_per_case_range", "min"), "n"] == 2
    assert rows.loc[("offenders_per_case_range", "max"), "n"] == 4
    assert rows.loc[("offender_persons", "all"), "n"] == 3
    assert rows.loc[("offender_age2", "adult"), "pct"] == 66.7
    assert rows.loc[("offender_uk_national", "uk"), ["n", "denominator"]].tolist() == [1, 2]


def test_offender_rows_without_several_have_no_range():
    rows = describe.offender_rows(make_cases(2, n_offenders=[0, 1]), pd.DataFrame({"offender_age2": [], "offender_uk_national": []}))
    assert "offenders_per_case_range" not in set(rows["variable"])


# --- section 3.4 ------------------------------------------------------------------------------


def test_support_rows_accepted_is_of_offered_cases():
    cases = make_cases(5, offered=["yes", "yes", "yes", "no", "unknown"], accepted=["yes", "no", "unknown", "unknown", "unknown"])
    rows = by(describe.support_rows(cases), "variable", "level")
    assert rows.loc[("offered", "yes"), ["n", "denominator", "pct"]].tolist() == [3, 4, 75.0]
    assert rows.loc[("offered", "unknown"), "n"] == 1
    assert rows.loc[("accepted", "yes"), ["n", "denominator", "pct"]].tolist() == [1, 2, 50.0]
    assert rows.loc[("accepted", "unknown"), "n"] == 1


def test_engagement_rows_leave_out_ongoing_and_no_crime():
    cases = make_cases(6, engagement=["positive", "negative", "unknown", "ongoing", "no_crime", "unknown"])
    rows = by(describe.engagement_rows(cases), "variable", "level")
    assert rows.loc[("engagement_excluded", "ongoing"), ["n", "denominator"]].tolist() == [1, 6]
    assert rows.loc[("engagement_excluded", "no_crime"), "n"] == 1
    assert rows.loc[("engagement_level", "positive"), ["n", "denominator", "pct"]].tolist() == [1, 4, 25.0]
    assert rows.loc[("engagement_level", "not_determined"), ["n", "pct"]].tolist() == [2, 50.0]
    assert ("engagement_level", "unknown") not in rows.index


def test_period_rows_compare_offers_with_the_study_test():
    offered = ["yes"] * 10 + ["no"] * 90 + ["yes"] * 30 + ["no"] * 70 + ["unknown"] * 5
    period = ["before_2021"] * 100 + ["from_2021"] * 105
    accepted = ["yes"] * 3 + ["no"] * 7 + ["unknown"] * 90 + ["yes"] * 9 + ["no"] * 21 + ["unknown"] * 75
    cases = make_cases(205, offered=offered, period=period, accepted=accepted)
    rows = by(describe.period_rows(cases), "variable", "level")
    assert rows.loc[("period_split", "first_year"), "n"] == 2021
    assert rows.loc[("offered_by_period", "before_2021"), ["n", "denominator", "pct"]].tolist() == [10, 100, 10.0]
    assert rows.loc[("offered_by_period", "from_2021"), ["n", "denominator", "pct"]].tolist() == [30, 100, 30.0]
    expected = stats.association_test([[10, 90], [30, 70]], ["before_2021", "from_2021"], ["yes", "no"])
    assert rows.loc[("offered_by_period", "statistic"), "n"] == pytest.approx(expected.chi2_study)
    assert rows.loc[("offered_by_period", "p"), "n"] == pytest.approx(expected.p_study)
    assert rows.loc[("offered_by_period", "df"), "n"] == 1
    assert rows.loc[("offered_by_period", "p"), "denominator"] == 200
    assert rows.loc[("accepted_by_period", "from_2021"), ["n", "denominator"]].tolist() == [9, 30]


def test_period_rows_without_a_later_period_have_no_test():
    rows = describe.period_rows(make_cases(4, offered=["yes", "no", "no", "yes"]))
    offered = rows[rows["variable"] == "offered_by_period"]
    assert offered["level"].tolist() == ["before_2021", "from_2021"]
    assert offered.set_index("level").loc["from_2021", "denominator"] == 0


def test_period_years():
    assert describe.period_years("2018-01-01", "2023-12-31") == [2018, 2019, 2020, 2021, 2022, 2023]


# --- all of section 3 -------------------------------------------------------------------------


def test_section3_parts_and_their_rows_follow_the_contract(small_raw):
    from msht.clean import rules as clean
    from msht.ingest import extracts as ingest
    from msht.base.contract import CONTRACT

    folder, _, _ = small_raw
    extracts = ingest.read_all(folder)
    result = clean.clean({k: e.frame for k, e in extracts.items()})
    parts = describe.section3(result.cases, result.victims, result.offenders, outlier_min_entries=50,
                              years=describe.period_years("2018-01-01", "2023-12-31"))
    rows = describe.combine(parts)
    assert tuple(rows.columns) == CONTRACT["descriptives"]
    assert not rows.duplicated(["table", "variable", "level"]).any()
    shares = rows.dropna(subset=["pct"])
    assert ((shares["pct"] >= 0) & (shares["pct"] <= 100)).all()
    assert (shares["n"] <= shares["denominator"]).all()
    per_variable = shares[~shares["variable"].isin([*TYPES, "engagement_excluded", "offered_by_year", "accepted_by_year",
                                                      "cases", "victims", "offender_persons", "entries_outliers",
                                                      "offered_by_period", "accepted_by_period"])]
    sums = per_variable.groupby(["table", "variable"])["n"].sum()
    dens = per_variable.groupby(["table", "variable"])["denominator"].first()
    assert (sums == dens).all()  # the known levels of a variable add up to its denominator


def test_offender_rows_count_cases_whose_number_of_offenders_is_not_known_as_unknown():
    """Issue 19: a case of a force that sent no offender extract has n_offenders missing: it is in
    the unknown row, not "none", and the shares are of the cases whose number is known."""
    n_offenders = pd.array([0, 1, 2, None, None, 4, 0, 0], dtype="Int64")
    rows = by(describe.offender_rows(make_cases(8, n_offenders=n_offenders), pd.DataFrame(
        {"offender_age2": ["adult"], "offender_uk_national": ["uk"]})), "variable", "level")
    assert rows.loc[("offenders_per_case", "none"), ["n", "denominator", "pct"]].tolist() == [3, 6, 50.0]
    assert rows.loc[("offenders_per_case", "one"), ["n", "denominator"]].tolist() == [1, 6]
    assert rows.loc[("offenders_per_case", "several"), ["n", "denominator"]].tolist() == [2, 6]
    unknown = rows.loc[("offenders_per_case", "unknown")]
    assert unknown["n"] == 2 and pd.isna(unknown["denominator"]) and math.isnan(unknown["pct"])
    assert rows.loc[("offenders_per_case_range", "min"), ["n", "denominator"]].tolist() == [2, 2]
    assert rows.loc[("offenders_per_case_range", "max"), "n"] == 4


def test_disclosure_control_hides_a_small_unknown_number_of_offenders_with_its_denominator():
    """The unknown row of offenders per case is protected as any block's: a count below m hidden,
    the denominator (all cases minus it) with it, and a level as a secondary (the levels add up to
    the denominator)."""
    n_offenders = pd.array([0] * 40 + [1] * 20 + [2] * 10 + [None] * 3, dtype="Int64")
    rows = describe.offender_rows(make_cases(73, n_offenders=n_offenders),
                                  pd.DataFrame({"offender_age2": ["adult"] * 30, "offender_uk_national": ["uk"] * 30}))
    protected, _ = descriptive_tables.protect({"section3_3": rows}, 5)
    block = by(protected[protected["variable"] == "offenders_per_case"], "level")
    assert bool(block.at["unknown", "suppressed"]) and pd.isna(block.at["unknown", "n"])
    assert block.loc[["none", "one", "several"], "denominator"].isna().all()
    assert block.loc[["none", "one", "several"], "suppressed"].astype(bool).any()
