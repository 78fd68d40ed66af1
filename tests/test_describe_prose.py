"""Section 3's computed prose: directions chosen by the data, and every number traced to a row."""

from __future__ import annotations

import pandas as pd
import pytest

from msht.analysis import describe
from msht.publish import prose, prose_section3

TYPES = ("criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude", "other_exploitation")


def freq(table: str, variable: str, counts: dict[str, int], unknown: int = 0) -> pd.DataFrame:
    """Rows as :func:`describe.frequency` makes them, from counts per level."""
    frame = pd.DataFrame({variable: [lv for lv, k in counts.items() for _ in range(k)] + ["unknown"] * unknown})
    return describe.frequency(frame, variable, table=table, levels=list(counts))


@pytest.mark.parametrize(
    "share,text",
    [(99.8, "nearly all victims"), (73.1, "most victims"), (53.3, "just over half of the victims"),
     (50.0, "half of the victims"), (47.0, "just under half of the victims"), (30.8, "a minority of victims"),
     (17.2, "a small minority of victims"), (100.0, "all victims"), (0.0, "none of the victims")],
)
def test_quantify_is_chosen_by_the_share(share, text):
    assert prose_section3.quantify(share, "victims") == text


def table1_desc(sexual_female: int) -> pd.DataFrame:
    """Table 1 rows: all cases and criminal exploitation mostly male; sexual exploitation as given."""
    parts = []
    for column, male, female in (("all_cases", 70, 30), ("criminal_exploitation", 80, 20),
                                 ("sexual_exploitation", 10 - sexual_female, sexual_female)):
        parts.append(freq(f"table1_{column}", "victim_sex", {"male": male, "female": female}))
    return pd.concat(parts, ignore_index=True)


def test_table1_text_names_the_exceptions_chosen_by_the_data():
    text = prose_section3.table1_text(table1_desc(sexual_female=9))
    assert "Across all MSHT cases, most victims were male: 70.0% (n=70); victims of sexual exploitation were " \
           "mostly female." in text
    assert "90.0%" not in text, "the exceptions' shares are left to Table 1"
    flipped = prose_section3.table1_text(table1_desc(sexual_female=2))
    assert "most victims were male: 70.0% (n=70), in every exploitation type." in flipped
    even = prose_section3.table1_text(table1_desc(sexual_female=5))
    assert "; victims of sexual exploitation were split evenly." in even


def test_table1_text_groups_the_exceptions_by_level_in_one_short_sentence():
    parts = [freq("table1_all_cases", "victim_sex", {"male": 70, "female": 30})]
    for column, male, female in (("criminal_exploitation", 80, 20), ("sexual_exploitation", 1, 9),
                                 ("domestic_servitude", 2, 8), ("labour_exploitation", 5, 5)):
        parts.append(freq(f"table1_{column}", "victim_sex", {"male": male, "female": female}))
    text = prose_section3.table1_text(pd.concat(parts, ignore_index=True))
    sentence = [s for s in text.split(". ") if "male" in s][0]
    assert sentence == ("Across all MSHT cases, most victims were male: 70.0% (n=70); victims of labour exploitation "
                        "were split evenly; and victims of sexual exploitation and domestic servitude were mostly "
                        "female.")
    assert len(sentence.split()) < 40


def period_desc(before: tuple[int, int], after: tuple[int, int], p: float) -> pd.DataFrame:
    rows = [describe.value_row("section3_4", "period_split", "first_year", 2021)]
    for variable in ("offered_by_period", "accepted_by_period"):
        rows += [describe.count_row("section3_4", variable, "before_2021", *before),
                 describe.count_row("section3_4", variable, "from_2021", *after),
                 describe.value_row("section3_4", variable, "statistic", 12.3456, before[1] + after[1]),
                 describe.value_row("section3_4", variable, "df", 1, before[1] + after[1]),
                 describe.value_row("section3_4", variable, "p", p, before[1] + after[1])]
    rows += [describe.count_row("section3_4", "offered", "yes", 40, 200), describe.count_row("section3_4", "offered", "no", 160, 200),
             describe.count_row("section3_4", "accepted", "yes", 10, 40), describe.count_row("section3_4", "accepted", "no", 30, 40)]
    rows += [describe.count_row("section3_4", "engagement_excluded", lv, k, 200) for lv, k in (("ongoing", 10), ("no_crime", 40))]
    rows += [describe.count_row("section3_4", "engagement_level", lv, k, 150)
             for lv, k in (("positive", 20), ("negative", 30), ("not_determined", 100))]
    return describe.tidy(rows)


def test_engagement_text_direction_and_verdict_come_from_the_data():
    lower = prose_section3.engagement_text(period_desc((10, 100), (30, 100), p=0.0004), alpha=0.05)
    assert "was significantly lower for referrals before 2021, 10.0% (n=10) of 100, than for referrals in 2021 and later" in lower
    assert "χ² = 12.346, df = 1, p<0.001" in lower
    higher = prose_section3.engagement_text(period_desc((30, 100), (10, 100), p=0.0004), alpha=0.05)
    assert "was significantly higher for referrals before 2021" in higher
    same = prose_section3.engagement_text(period_desc((10, 100), (12, 100), p=0.6543), alpha=0.05)
    assert "did not differ significantly between referrals before 2021" in same and "p=0.654" in same
    strict = prose_section3.engagement_text(period_desc((10, 100), (30, 100), p=0.03), alpha=0.01)
    assert "did not differ significantly" in strict  # the verdict uses alpha, not the printed threshold
    assert "positive in 13.3% (n=20) of the remaining 150 cases" in lower
    assert "In most cases, 66.7% (n=100), the victim's level of engagement could not be determined" in lower


@pytest.mark.parametrize(
    "threshold,entries,expected",
    [(0, [1, 5], "No outlier rule was applied"), (100, [1, 5], "No victim had 100 or more entries"),
     (3, [1, 5], "1 victim with 3 or more entries was left out"), (3, [1, 5, 7], "2 victims with 3 or more entries were left out")],
)
def test_police_records_text_says_how_many_outliers_were_left_out(threshold, entries, expected):
    victims = pd.DataFrame({"n_entries": entries + [0], "n_as_victim": [1] * len(entries) + [0],
                            "n_as_perpetrator": [0] * len(entries) + [0]})
    rows = describe.police_record_rows(victims, threshold)
    text = prose_section3.police_records_text(rows)
    assert expected in text
    assert "1 victim has no police-record data" in text
    assert prose.untraced_numbers(text, rows) == []


def test_untraced_numbers():
    rows = pd.DataFrame({"n": [1299, 0.040487, 8], "denominator": [1776, None, None], "pct": [73.1, None, None]})
    text = "n=1,299 of 1,776 (73.1%), see Appendix 1 and section 3.2, p<0.001, χ² = 0.040, median 8, MS1; 9 and 73.2"
    assert prose.untraced_numbers(text, rows) == ["9", "73.2"]


def test_every_number_in_section3_prose_is_in_the_rows(small_raw):
    """End to end on a small synthetic extract: clean, describe, write prose, trace its numbers."""
    from msht.clean import rules as clean
    from msht.ingest import extracts as ingest

    folder, _, _ = small_raw
    extracts = ingest.read_all(folder)
    result = clean.clean({k: e.frame for k, e in extracts.items()})
    for outlier_min_entries in (0, 10):
        rows = describe.combine(describe.section3(result.cases, result.victims, result.offenders,
                                                  outlier_min_entries=outlier_min_entries,
                                                  years=describe.period_years("2018-01-01", "2023-12-31")))
        texts = [prose_section3.section3_1_text(rows), prose_section3.table1_text(rows), prose_section3.police_records_text(rows),
                 prose_section3.offenders_text(rows), prose_section3.engagement_text(rows, 0.05)]
        for text in texts:
            assert text and prose.untraced_numbers(text, rows) == [], text


def test_table1_text_says_across_all_cases_once():
    parts = [freq("table1_all_cases", "victim_sex", {"male": 70, "female": 30}),
             freq("table1_all_cases", "victim_age2", {"17_and_under": 40, "adult": 60}),
             freq("table1_criminal_exploitation", "victim_sex", {"male": 8, "female": 2}),
             freq("table1_criminal_exploitation", "victim_age2", {"17_and_under": 7, "adult": 3})]
    text = prose_section3.table1_text(pd.concat(parts, ignore_index=True))
    assert text.count("Across all MSHT cases") == 1
    assert "Most victims were adults: 60.0% (n=60); victims of criminal exploitation were mostly aged 17 or under." in text


def _hide_levels(desc: pd.DataFrame, table: str, variable: str, level: str) -> pd.DataFrame:
    """``desc`` with one count (and so its percentage) hidden, the way disclosure control does."""
    out = desc.copy()
    out["n"] = out["n"].astype(object)
    hit = (out["table"] == table) & (out["variable"] == variable) & (out["level"] == level)
    out.loc[hit, ["n", "pct"]] = [pd.NA, float("nan")]
    out["display"] = ""
    out.loc[hit, "display"] = "<5"
    return out


def test_table1_text_never_picks_a_level_from_a_hidden_count(root):
    """Issue 15 item 4: with one level of domestic servitude's age hidden, the sentence must not
    name a level for domestic servitude (nor count it in "in every exploitation type"): the level
    it would name is chosen by the hidden value."""
    desc = pd.read_csv(root / "results" / "default" / "descriptives.csv")
    hidden = _hide_levels(desc, "table1_domestic_servitude", "victim_age2", "17_and_under")
    text = prose_section3._s3_table1_sentence(hidden, "victim_age2")
    assert "in every exploitation type." not in text
    assert "domestic servitude were mostly" not in text
    assert "n=0" not in text and "[c]%" not in text
    assert "withholds counts" in text


def test_majority_sentence_is_dropped_when_a_level_is_hidden(root):
    """Issue 15 item 4: "most victims were ..." is chosen by comparing the levels' counts; with
    one of them hidden the sentence is not written."""
    desc = pd.read_csv(root / "results" / "default" / "descriptives.csv")
    hidden = _hide_levels(desc, "section3_1", "victim_age2", "17_and_under")
    assert prose_section3._s3_majority(hidden, "section3_1", "victim_age2", "victims") == []
    assert prose_section3._s3_majority(desc, "section3_1", "victim_age2", "victims") != []


def test_offenders_text_gives_shares_of_the_cases_whose_offenders_are_known():
    """Issue 19: the cases of a force that sent no offender extract are in the unknown row of
    offenders per case; the prose takes its shares of the others and says how many are left out."""
    n_offenders = pd.array([0, 0, 0, 1, 2, 3, None, None], dtype="Int64")
    cases = pd.DataFrame({"n_offenders": n_offenders})
    persons = pd.DataFrame({"offender_age2": ["adult"] * 4, "offender_uk_national": ["uk"] * 4,
                            "offender_sex": ["male"] * 4, "offender_ethnicity5": ["white"] * 4})
    rows = pd.concat([describe.offender_rows(cases, persons), describe.appendix3_rows(persons.assign(
        offender_age6="unknown", offender_nationality_region="uk"))], ignore_index=True)
    text = prose_section3.offenders_text(rows)
    assert text.startswith("Of the 6 MSHT cases whose offenders are known, 16.7% (n=1) had one identified offender")
    assert "no offender was recorded in 50.0% (n=3)" in text
    assert ("2 cases have no known number of offenders (no offender extract was sent for them) and are not counted "
            "here.") in text
    assert prose.untraced_numbers(text, rows) == []
    known = pd.concat([describe.offender_rows(cases.iloc[:6], persons), describe.appendix3_rows(persons.assign(
        offender_age6="unknown", offender_nationality_region="uk"))], ignore_index=True)
    single = prose_section3.offenders_text(known)
    assert single.startswith("Of the 6 MSHT cases analysed,") and "not known" not in single and "no known" not in single
