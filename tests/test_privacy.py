"""Pseudonymisation, and a canary run: identifiers planted in the raw extracts appear in no output."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from msht import pipeline
from msht.clean import rules as clean
from msht.ingest import extracts as ingest
from msht.ingest import privacy
from msht.publish import render
from msht.config import load_params
from msht.synth.raw import write_extracts
from msht.synth.sampler import sample_population


def test_pseudonyms_are_keyed_stripped_and_keep_missing():
    s = pd.Series(["P1", " P1 ", "P2", None, ""])
    a = privacy.pseudonymise_series(s, b"k1")
    b = privacy.pseudonymise_series(s, b"k2")
    assert a[0] == a[1] != a[2]
    assert a[0] != b[0]
    assert a[3] is pd.NA and a[4] is pd.NA
    assert "P1" not in "".join(a.dropna())


def test_pseudonym_is_keyed_blake2b_of_the_stripped_value():
    # reference: BLAKE2b keyed with 64 bytes 00..3f over the empty message, the official test
    # vector of the BLAKE2 reference code (blake2b-kat.txt, first keyed entry), truncated to 10 bytes
    import hashlib

    key = bytes(range(64))
    assert hashlib.blake2b(b"", key=key).hexdigest().startswith("10ebb67700b1868efb4417987acf4690ae9d972f")
    got = privacy.pseudonymise_series(pd.Series([" ABC123 "]), b"secret")[0]
    assert got == hashlib.blake2b(b"ABC123", key=b"secret", digest_size=10).hexdigest()
    assert len(got) == 20


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="key is empty"):
        privacy.pseudonymise_series(pd.Series(["P1"]), b"")


def test_a_key_longer_than_blake2b_allows_still_works_and_still_matters():
    s = pd.Series(["P1"])
    long_a, long_b = b"a" * 100, b"a" * 99 + b"b"
    assert privacy.pseudonymise_series(s, long_a)[0] != privacy.pseudonymise_series(s, long_b)[0]


def test_incident_references_are_coded_by_first_appearance_and_say_nothing_else():
    refs = pd.Series(["INC9", " INC2", "INC9\u3000", None, "  ", "INC2", "INC7"], index=range(10, 17))
    coded = privacy.code_series(refs)
    assert coded.dtype == "Int64" and list(coded.index) == list(refs.index)
    assert coded.tolist() == [0, 1, 0, pd.NA, pd.NA, 1, 2]
    # other references in the same pattern get the same codes: a code tells which rows share a
    # reference, nothing of the reference itself
    other = pd.Series(["A", "B", "A", "", None, " B", "C"], index=range(10, 17))
    assert privacy.code_series(other).tolist() == coded.tolist()
    assert privacy.code_series(pd.Series(["INC1", "INC1"])).tolist() == [0, 0]


def test_pseudonymise_hashes_each_distinct_identifier_once_and_codes_incidents(monkeypatch):
    frames = {
        "cases": pd.DataFrame({"occurrence_number": ["O1", "O2"], "victim_person_id": ["P1", " P2"], "x": [1, 2]}),
        "victims": pd.DataFrame({"occurrence_number": ["O1", "O2"], "person_id": ["P1", "P2"]}),
        "police_records": pd.DataFrame({"person_id": ["P2", "P1", "P3"], "incident_reference": ["I5", "I5", "I1"]}),
    }
    hashed: list[list[str]] = []
    digests = privacy._keyed_digests

    def counted(values, key):
        hashed.append(list(values))
        return digests(hashed[-1], key)

    monkeypatch.setattr(privacy, "_keyed_digests", counted)
    out = privacy.pseudonymise(frames, b"k")
    assert sorted(hashed[0]) == ["O1", "O2", "P1", "P2", "P3"] and len(hashed) == 1  # one dictionary of all IDs
    one = privacy.pseudonymise_series(pd.Series(["P1", "P2", "O1"]), b"k")
    assert out["cases"]["victim_person_id"].tolist() == out["victims"]["person_id"].tolist() == one[:2].tolist()
    assert out["police_records"]["person_id"].tolist() == [one[1], one[0], out["police_records"]["person_id"][2]]
    assert out["victims"]["occurrence_number"][0] == one[2]
    assert out["police_records"]["incident_reference"].tolist() == [0, 0, 1]
    assert out["cases"]["x"].tolist() == [1, 2] and list(out["cases"].columns) == ["occurrence_number", "victim_person_id", "x"]
    assert frames["police_records"]["incident_reference"].tolist() == ["I5", "I5", "I1"]  # the input is not changed


def test_results_do_not_depend_on_the_key(small_raw):
    folder, _, _ = small_raw
    extracts = ingest.read_all(folder)

    class P:  # the two params clean_extracts reads
        period_start, period_end, force_words = "1900-01-01", "2100-12-31", ["police"]

    r1 = clean.clean_extracts(extracts, P, key=b"one")
    r2 = clean.clean_extracts(extracts, P, key=b"two")
    pd.testing.assert_frame_equal(r1.exclusions, r2.exclusions)
    cols = [c for c in r1.cases.columns if c not in ("occurrence_number", "person_id")]
    pd.testing.assert_frame_equal(r1.cases[cols], r2.cases[cols])
    assert set(r1.cases["person_id"]).isdisjoint(set(r2.cases["person_id"]))


CANARY = "CANARY"


def _plant(folder):
    cases = pd.read_csv(folder / "cases.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    victims = pd.read_csv(folder / "victims.csv", dtype=str, keep_default_na=False, encoding="cp1252")
    records = pd.read_csv(folder / "police_records.csv", dtype=str, keep_default_na=False)
    offenders = pd.read_csv(folder / "offenders.csv", dtype=str, keep_default_na=False)
    i = cases.index[cases["victim_person_id"] != ""][0]
    old_person, old_occ = cases.at[i, "victim_person_id"], cases.at[i, "occurrence_number"]
    new_person, new_occ = f"{CANARY}PERSON1", f"{CANARY}/OCC/1"
    cases.loc[cases["victim_person_id"] == old_person, "victim_person_id"] = new_person
    cases.loc[cases["occurrence_number"] == old_occ, "occurrence_number"] = new_occ
    cases.at[i, "referring_agency"] = f"{CANARY} agency of one"
    victims.loc[victims["person_id"] == old_person, "person_id"] = new_person
    victims.loc[victims["occurrence_number"] == old_occ, "occurrence_number"] = new_occ
    records.loc[records["person_id"] == old_person, "person_id"] = new_person
    records.loc[records.index[0], "incident_reference"] = f"{CANARY}INC1"
    offenders.loc[offenders.index[0], "offender_person_id"] = f"{CANARY}OFFENDER1"
    cases.to_csv(folder / "cases.csv", index=False, encoding="utf-8-sig")
    victims.to_csv(folder / "victims.csv", index=False, encoding="cp1252")
    records.to_csv(folder / "police_records.csv", index=False)
    offenders.to_csv(folder / "offenders.csv", index=False)


@pytest.mark.slow
def test_canary_identifiers_reach_no_output(root, tmp_path):
    raw = tmp_path / "raw"
    write_extracts(sample_population(200, seed=5), raw, seed=5)
    _plant(raw)
    name = "canary"
    params = yaml.safe_load((root / "params" / "default.yaml").read_text())
    params.update({"run_name": name, "raw_dir": str(raw), "processed_dir": f"_output/{name}/processed",
                   "results_dir": f"_output/{name}/results", "report_dir": f"_output/{name}/report"})
    path = tmp_path / "canary.yaml"
    path.write_text(yaml.safe_dump(params))
    pipeline.run_notebooks(path)
    render.render_fallback(load_params(path))
    out = root / "_output" / name
    scanned = 0
    for file in out.rglob("*"):
        if file.is_file() and file.suffix in {".ipynb", ".csv", ".html", ".md", ".yaml", ".svg", ".txt", ".json"}:
            assert CANARY not in file.read_text(encoding="utf-8", errors="replace"), f"{file.relative_to(root)} leaks a canary"
            scanned += 1
        if file.suffix == ".parquet":
            table = pd.read_parquet(file)
            for col in table.columns:
                assert not table[col].astype(str).str.contains(CANARY).any(), f"{file.name}:{col} leaks a canary"
            scanned += 1
    assert scanned >= 10


@pytest.mark.property
def test_pseudonyms_are_the_same_whether_values_are_read_by_pyarrow_or_by_pandas():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hypothesis_profiles import examples

    chars = st.sampled_from(list(" \t\nAP0123") + ["\u00a0", "\u3000", "\x1c", "\u200b", "é"])

    @settings(max_examples=examples(300), deadline=None)
    @given(st.lists(st.one_of(st.none(), st.just(pd.NA), st.text(chars, max_size=5)), max_size=15))
    def check(raw):
        text = pd.Series(raw, dtype=object)
        arrow = privacy.pseudonymise_series(text, b"k")
        # a non-text value sends the whole column down the pandas path; compare the rest
        mixed = privacy.pseudonymise_series(pd.concat([text, pd.Series([7], dtype=object)], ignore_index=True), b"k")
        pd.testing.assert_series_equal(arrow, mixed.iloc[: len(text)], check_index=False)
        assert mixed.iloc[-1] == privacy.pseudonymise_series(pd.Series(["7"]), b"k")[0]

    check()
