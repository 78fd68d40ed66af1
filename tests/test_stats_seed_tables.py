"""The study's Tables 2-4 against its Appendix 4: transcription and the disagreements found."""

from __future__ import annotations

import pandas as pd
import pytest

from msht.analysis import reference
from msht.base import vocab
from msht.publish import results


@pytest.fixture(scope="module")
def findings() -> pd.DataFrame:
    return reference.load_published_findings()


@pytest.fixture(scope="module")
def disagreements() -> pd.DataFrame:
    return reference.published_disagreements(0.05)


def test_transcription_uses_vocabulary_codes_and_complete_levels(findings: pd.DataFrame) -> None:
    assert len(findings) == 46
    assert findings.groupby("table")["outcome"].unique().map(list).to_dict() == {
        "Table 2": ["offered"], "Table 3": ["accepted"], "Table 4": ["engagement"]}
    for (_, factor), block in findings.groupby(["outcome", "factor"]):
        assert sorted(block["level"]) == sorted(vocab.levels(factor))
        assert block["heading_level"].nunique() == 1 and block["heading_level"].iloc[0] in vocab.levels(factor)
        assert block["p_label"].iloc[0] in {"p<0.05", "p<0.01", "p<0.001"}
    # Tables 2-4 list 7, 6 and 8 factors
    assert findings.drop_duplicates(["outcome", "factor"])["outcome"].value_counts().to_dict() == {
        "engagement": 8, "offered": 7, "accepted": 6}


def test_disagreements_are_exactly_the_known_ones(disagreements: pd.DataFrame) -> None:
    found = set(zip(disagreements["kind"], disagreements["outcome"], disagreements["factor"], disagreements["level"]))
    assert found == {
        ("chi2_misprint", "engagement", "county_lines", ""),
        ("value", "accepted", "victim_age3", "25_plus"),
        ("value", "accepted", "victim_sex", "male"),
        ("p_label", "accepted", "more_perp_than_victim", ""),
        ("labels_swapped", "engagement", "victim_uk_national", "uk;non_uk"),
    }
    assert list(disagreements.columns) == list(results.CONTRACT["seed_disagreements"])
    assert list(reference.DISAGREEMENT_COLUMNS) == list(results.CONTRACT["seed_disagreements"])


def test_disagreement_values_are_read_not_typed(disagreements: pd.DataFrame) -> None:
    by = disagreements.set_index(["kind", "factor"])
    assert by.loc[("chi2_misprint", "county_lines"), "printed"] == "0.686"
    assert by.loc[("chi2_misprint", "county_lines"), "reference"] == "0.676"
    assert by.loc[("value", "victim_sex"), "printed"] == "24.6% (n=14)"
    assert by.loc[("value", "victim_sex"), "reference"] == "24.6% (n=67)"
    assert by.loc[("value", "victim_age3"), "reference"] == "42.8% (n=83)"
    assert by.loc[("p_label", "more_perp_than_victim"), "reference"] == "p<0.01"
    assert "mislabelled" in by.loc[("labels_swapped", "victim_uk_national"), "message"]


def test_a_stricter_alpha_reports_listed_factors_as_extra() -> None:
    strict = reference.published_disagreements(0.01)
    extra = strict[strict["kind"] == "extra"]
    # every factor headed "p<0.05" is no longer significant at 0.01
    assert {("accepted", "victim_sex"), ("accepted", "county_lines"), ("engagement", "labour_exploitation")} <= set(
        zip(extra["outcome"], extra["factor"]))
    assert strict[strict["kind"] == "missing"].empty
