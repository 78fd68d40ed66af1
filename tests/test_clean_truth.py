"""On synthetic extracts, cleaning removes exactly the rows the generator marked defective, and
the analysis tables equal the clean population it started from."""

from __future__ import annotations

import pandas as pd

from msht.clean import rules as clean

#: The status the cleaning should give a row carrying each injected defect, per extract.
from msht.ingest import extracts as ingest

#: The status the cleaning should give a row carrying each injected defect, per extract.
EXPECTED = {
    "cases": {"duplicate": "duplicate", "update_superseded": "update_superseded", "no_victim_id": "no_victim_id",
              "conflicting": "conflicting"},
    "victims": {"duplicate": "case_excluded", "update_superseded": "case_excluded", "conflicting": "case_excluded",
                "not_in_case_file": "not_in_case_file"},
    "police_records": {"not_in_case_file": "not_in_case_file"},
    "offenders": {"unmatched_offender": "unmatched_offender"},
}

KEYS = {
    "cases": ["occurrence_number"],
    "victims": ["occurrence_number", "person_id"],
    "police_records": ["person_id", "incident_reference"],
    "offenders": ["occurrence_number", "offender_person_id"],
}


def _keys(frame: pd.DataFrame, extract: str) -> pd.Series:
    parts = [frame[k].astype(str).str.strip() for k in KEYS[extract]]
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out


def assert_matches_ground_truth(folder, truth: pd.DataFrame) -> None:
    """Clean the extracts in ``folder``; each row's status must be what its injected defect implies."""
    extracts = ingest.read_all(folder)
    result = clean.clean({k: e.frame for k, e in extracts.items()})
    for extract, table in extracts.items():
        status = result.status[extract].assign(key=_keys(table.frame, extract).to_numpy())
        marked = truth[truth["extract"] == extract].set_index("key")["defect"]
        expected = status["key"].map(marked).map(EXPECTED[extract]).fillna(clean.ANALYSED)
        wrong = status[status["status"] != expected]
        assert wrong.empty, f"{extract}: {len(wrong)} rows misclassified, e.g. {wrong.head(3).to_dict('records')}"


def test_cleaning_removes_exactly_the_marked_rows(small_raw):
    folder, _, truth = small_raw
    assert_matches_ground_truth(folder, truth)


def test_analysis_tables_equal_the_population(small_raw):
    folder, pop, _ = small_raw
    extracts = ingest.read_all(folder)
    result = clean.clean({k: e.frame for k, e in extracts.items()})
    assert len(result.cases) == len(pop.cases)
    assert len(result.victims) == len(pop.victims)
    assert len(result.offenders) == len(pop.offenders)
    for col in ("engagement", "offered", "referral_form", "referring_agency", "county_lines", "exploitation_location"):
        got = result.cases[col].value_counts().sort_index()
        want = pop.cases[col].fillna("unknown").value_counts().sort_index()
        pd.testing.assert_series_equal(got, want, check_names=False, check_index_type=False, obj=col)
    for col in ("criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude", "other_exploitation"):
        assert int(result.cases[col].sum()) == int(pop.cases[col].sum()), col
    got_sex = result.victims["victim_sex"].value_counts().sort_index()
    want_sex = pop.victims["sex"].fillna("unknown").value_counts().sort_index()
    pd.testing.assert_series_equal(got_sex, want_sex, check_names=False, check_index_type=False)
    ages = result.victims.set_index("person_id")["victim_age"]
    assert ages.isna().sum() == pop.victims["age"].isna().sum()
    assert sorted(ages.dropna().astype(int)) == sorted(pop.victims["age"].dropna().astype(int))
    assert int(result.cases["recorded_offender"].eq("yes").sum()) == int(pop.cases["recorded_offender"].eq("yes").sum())


def test_default_twin_cleaning_matches_its_ground_truth(root, default_extracts):
    """The same check on the default synthetic twin (calibrated population, scale 1)."""
    from msht.config import RunPaths

    params = default_extracts
    folder = RunPaths.from_params(params, root).raw_dir
    truth = pd.read_csv(folder / "_truth" / "defects.csv", dtype=str)
    assert_matches_ground_truth(folder, truth)
