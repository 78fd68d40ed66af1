"""Each section 2.5 exclusion rule on tiny hand-made extracts, and row accounting."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples

from msht.clean import rules as clean
from msht.ingest import extracts as ingest
from msht.ingest.extracts import SOURCE_ROW


def frame(rows: list[dict], name: str) -> pd.DataFrame:
    cols = list(ingest.extract_fields(name))
    out = pd.DataFrame([{c: r.get(c, pd.NA) for c in cols} for r in rows], columns=cols, dtype=object)
    out.insert(0, SOURCE_ROW, range(2, len(out) + 2))
    return out


def case(occ, person="P1", date="01/03/2020", entered="01/03/2020 09:00", **kw):
    row = {
        "occurrence_number": occ, "recorded_date": date, "entered_on": entered, "victim_person_id": person,
        "referral_form": "NRM", "referring_agency": "Salvation Army", "exploitation_type": "Labour exploitation",
        "exploitation_location": "UK", "county_lines": "No", "offence_outcome": "No crime",
        "support_offered": "Yes", "support_accepted": "No",
    }
    row.update(kw)
    return row


def victim(occ, person="P1", sex="Male", dob="01/01/1990", nationality="Albania"):
    return {"occurrence_number": occ, "person_id": person, "sex": sex, "date_of_birth": dob, "age": pd.NA, "nationality": nationality}


def run(cases, victims, records=None, offenders=None, **kw):
    extracts = {
        "cases": frame(cases, "cases"),
        "victims": frame(victims, "victims"),
        "police_records": frame(records or [], "police_records"),
        "offenders": frame(offenders or [], "offenders"),
    }
    return clean.clean(extracts, **kw)


def statuses(result, extract):
    return list(result.status[extract]["status"])


def test_no_victim_id_is_excluded():
    r = run([case("A", person=None), case("B")], [victim("B")])
    assert statuses(r, "cases") == ["no_victim_id", "analysed"]


def test_same_victim_date_everything_equal_is_kept_once():
    r = run(
        [case("A", entered="01/03/2020 09:00"), case("B", entered="02/03/2020 09:00", referral_form="nrm ")],
        [victim("A"), victim("B", sex="M")],
    )
    assert statuses(r, "cases") == ["analysed", "duplicate"]
    assert list(r.cases["occurrence_number"]) == ["A"]
    assert statuses(r, "victims") == ["analysed", "case_excluded"]


def test_same_victim_date_different_sociodemographics_excludes_both():
    r = run([case("A"), case("B")], [victim("A"), victim("B", sex="Female")])
    assert statuses(r, "cases") == ["conflicting", "conflicting"]
    assert r.cases.empty


def test_update_entered_as_new_row_keeps_the_latest():
    r = run(
        [case("A", entered="05/03/2020 09:00", support_offered="Yes"), case("B", entered="01/03/2020 09:00", support_offered=None)],
        [victim("A"), victim("B")],
    )
    assert statuses(r, "cases") == ["analysed", "update_superseded"]
    assert r.cases.loc[0, "offered"] == "yes"


def test_same_victim_different_dates_are_two_cases():
    r = run([case("A"), case("B", date="02/04/2020")], [victim("A"), victim("B")])
    assert statuses(r, "cases") == ["analysed", "analysed"]
    assert r.victims.loc[0, "n_cases"] == 2


def test_victim_not_in_case_file_and_their_entries_are_excluded():
    r = run(
        [case("A")],
        [victim("A"), victim("Z", person="P9")],
        records=[{"person_id": "P1", "incident_reference": "I1", "role": "Victim"},
                 {"person_id": "P9", "incident_reference": "I2", "role": "Victim"}],
    )
    assert statuses(r, "victims") == ["analysed", "not_in_case_file"]
    assert statuses(r, "police_records") == ["analysed", "not_in_case_file"]


def test_offender_not_matched_by_occurrence_number_is_excluded():
    off = {"offender_person_id": "O1", "sex": "F", "age": "30", "nationality": "UK", "ethnicity": "W1"}
    r = run([case("A")], [victim("A")], offenders=[{**off, "occurrence_number": "A"}, {**off, "occurrence_number": "X"}])
    assert statuses(r, "offenders") == ["analysed", "unmatched_offender"]
    assert r.cases.loc[0, "recorded_offender"] == "yes"
    assert r.offenders.loc[0, "offender_sex"] == "female"


def test_outside_period_is_excluded():
    r = run([case("A", date="31/12/2017"), case("B", person="P2")], [victim("A"), victim("B", person="P2")],
            period=("2018-01-01", "2023-12-31"))
    assert statuses(r, "cases") == ["outside_period", "analysed"]


def test_police_record_counts_and_more_perp_than_victim():
    recs = [{"person_id": "P1", "incident_reference": f"I{i}", "role": role}
            for i, role in enumerate(["Victim", "Suspect", "Offender", "Witness"])]
    recs.append({"person_id": "P1", "incident_reference": "I0", "role": "Victim"})  # the same entry twice
    r = run([case("A")], [victim("A")], records=recs)
    assert statuses(r, "police_records")[-1] == "duplicate_record"
    row = r.cases.iloc[0]
    assert (row["n_entries"], row["police_entries"], row["more_perp_than_victim"]) == (4, "several", "yes")


def test_age_from_date_of_birth_at_case_date_or_recorded_age():
    v = victim("A", dob=None)
    v["age"] = "17"
    r = run([case("A", date="01/03/2020"), case("B", person="P2")], [v, victim("B", person="P2", dob="02/03/2002")])
    assert list(r.cases["victim_age"]) == [17, 17]
    assert list(r.cases["victim_age3"]) == ["17_and_under", "17_and_under"]


def test_bad_date_names_file_column_row_and_value():
    with pytest.raises(ingest.ExtractError, match=r"cases: column 'recorded_date', row 3: value 'soon'"):
        run([case("A"), case("B", date="soon")], [victim("A")])


def test_exclusions_table_accounts_for_every_row():
    r = run([case("A", person=None), case("B"), case("C")], [victim("B"), victim("C", sex="F")])
    ex = r.exclusions[r.exclusions["entity"] == "cases"]
    assert ex["rows_in"].iloc[0] == 3
    assert int(ex["excluded"].sum()) + int(ex["rows_out"].iloc[-1]) == 3
    assert (ex["rows_in"] - ex["excluded"] == ex["rows_out"]).all()


def test_date_failures_once_per_distinct_value_read_as_every_value():
    # repeated values take the per-distinct path; plain dates skip the text normalisation
    raw = ["05/05/2020", " 05/05/2020 ", "N/K", "31/02/2020", "2020-01-05", None, "07/05/2020 21:37", "\u200b06/05/2020"]
    values = pd.Series(raw * 3, dtype=object)
    parsed, text, bad = clean.date_failures(values)
    day = pd.Timestamp
    expected = [day("2020-05-05"), day("2020-05-05"), pd.NaT, pd.NaT, day("2020-01-05"), pd.NaT, day("2020-05-07 21:37"),
                day("2020-05-06")]
    assert [v if pd.notna(v) else pd.NaT for v in parsed.tolist()[:8]] == expected
    assert text.tolist()[:8] == ["05/05/2020", "05/05/2020", pd.NA, "31/02/2020", "2020-01-05", pd.NA, "07/05/2020 21:37",
                                 "06/05/2020"]
    assert bad.tolist() == [False, False, False, True, False, False, False, False] * 3
    assert parsed.index.equals(values.index) and parsed.tolist()[8:16] == parsed.tolist()[:8]


def test_dates_read_in_an_earlier_call_read_the_same():
    """date_failures remembers the date texts it read: a later call mixing known and new texts
    (missing values, markers and bad dates among them) returns what a first call returns."""
    from msht.clean import rules as cleaning

    first = pd.Series(["01/02/2020", "N/K", None, "31/02/2020", "2020-03-04"] * 2, dtype=object)
    later = pd.Series(["01/02/2020", "05/06/2021 10:30", None, "31/02/2020", "soon", "N/K", "2020-03-04"],
                      index=range(10, 17), dtype=object)
    for nullable in (True, False):
        cleaning._DATES_READ.clear()
        cleaning.date_failures(first, nullable=nullable)
        remembered = cleaning.date_failures(later, nullable=nullable)
        cleaning._DATES_READ.clear()
        fresh = cleaning._date_failures(later, nullable=nullable)
        for got, expected in zip(remembered, fresh):
            pd.testing.assert_series_equal(got, expected, check_names=False)
    assert remembered[2].tolist() == [False, False, False, True, True, True, False]


def _every_rule_extracts() -> dict[str, pd.DataFrame]:
    """Extracts that hit every exclusion rule, with IDs padded by white space and missing IDs."""
    cases = [case("A"), case("B", person=None), case("C", date="01/03/2000"), case(" D", person="P2 "),
             case("E", person="P2", entered="02/03/2020 09:00", referral_form="nrm "),
             case("F", person="P3"), case("G", person="P3", entered="02/03/2020 09:00"),
             case("H", person="P4", entered="01/03/2020 08:00", offence_outcome="Ongoing"),
             case("I", person="P4", entered="01/03/2020 10:00"), case("J", person="P5", date="02/03/2020")]
    victims = [victim("A"), victim("A"), victim("C", person="P6"), victim("D", person="P2"), victim("E", person="P2"),
               victim("F", person="P3"), victim("G", person="P3", sex="Female"), victim("H", person="P4"),
               victim("I", person="P4"), victim("J", person="P5"), victim("Z", person="P9"), victim("J", person="P1")]
    records = [{"person_id": p, "incident_reference": i, "role": r} for p, i, r in
               [("P1", "I1", "Victim"), (" P1", "I1 ", "Suspect"), ("P1", "I2", "Suspect"), ("P9", "I3", "Victim"),
                ("P3", "I4", "Witness"), ("P5", None, "Offender"), ("P5", None, "victim"), (None, "I6", "Victim")]]
    offenders = [{"occurrence_number": o, "offender_person_id": p, "sex": "M", "age": "30", "nationality": "UK",
                  "ethnicity": "W1"} for o, p in [("A", "O1"), ("A ", "O1"), ("Q", "O2"), ("C", "O3"), ("J", "O4")]]
    return {"cases": frame(cases, "cases"), "victims": frame(victims, "victims"),
            "police_records": frame(records, "police_records"), "offenders": frame(offenders, "offenders")}


def test_rules_read_ids_alike_as_python_or_pyarrow_strings():
    """The rules give the same tables and statuses whether the identifier columns hold Python
    strings (object) or pyarrow strings (as pseudonymisation leaves them), and every rule is hit."""
    import pyarrow as pa

    from msht.ingest.privacy import ID_FIELDS

    as_objects = _every_rule_extracts()
    as_arrow = {}
    for name, table in as_objects.items():
        table = table.copy()
        for field in ID_FIELDS[name]:
            values = pa.array(table[field].to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
            table[field] = pd.Series(pd.arrays.ArrowStringArray(values), index=table.index)
        as_arrow[name] = table
    one = clean.clean(as_objects, period=("2019-01-01", "2021-12-31"))
    other = clean.clean(as_arrow, period=("2019-01-01", "2021-12-31"))
    for table in ("cases", "victims", "offenders", "exclusions"):
        pd.testing.assert_frame_equal(getattr(one, table), getattr(other, table))
    for name in one.status:
        pd.testing.assert_frame_equal(one.status[name], other.status[name])
        assert one.status[name]["status"].dtype == pd.DataFrame({"status": ["analysed"]})["status"].dtype  # text, as before
    hit = {(e, r) for e, r, n in one.exclusions[["entity", "rule", "excluded"]].itertuples(index=False) if n}
    assert hit == {(entity, rule) for _, rule, entity, _ in clean.RULES}


_ID_TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from(["P", "1", " ", "\t", "\u00a0", "\u2003", "\x1c", "\u200b",
                                                                   "é", "\n"]), max_size=6))


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(_ID_TEXT, max_size=30), st.booleans())
def test_ids_stripped_by_pyarrow_as_python_strips_them(values, as_arrow):
    """_stripped is ``.astype("string").str.strip()`` (every white space Python strips, nothing else),
    on Python or pyarrow strings."""
    series = pd.Series(values, dtype=object, name="person_id")
    if as_arrow:
        series = series.astype(pd.StringDtype("pyarrow"))
    expected = pd.Series(values, dtype=object, name="person_id").astype("string").str.strip()
    pd.testing.assert_series_equal(clean._stripped(series), expected)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 3), st.integers(-1, 4)), max_size=40))
def test_repeated_police_record_entries_are_the_duplicated_pairs(pairs):
    """Rule 8 on police records compares only entries sharing an incident: the same verdict as
    duplicated(keep="first") on every (person, incident) pair, missing equal to missing."""
    import numpy as np

    person = np.array([p for p, _ in pairs], dtype=np.intp)
    incident = np.array([i for _, i in pairs], dtype=np.intp)
    expected = pd.DataFrame({"p": person, "i": incident}).duplicated(keep="first").tolist()
    assert clean._repeated_entries(person, incident, 5).tolist() == expected


@settings(max_examples=examples(200), deadline=None)
@given(st.sets(st.text(max_size=5).filter(lambda t: not any(0xD800 <= ord(ch) <= 0xDFFF for ch in t)), max_size=30))
def test_person_ids_ordered_by_pyarrow_as_python_orders_them(values):
    import numpy as np

    values = np.array(sorted(values, key=hash), dtype=object)
    assert values[clean._text_order(values)].tolist() == sorted(values.tolist())


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(0, 3)), st.integers(0, 50)),
                max_size=30, unique_by=lambda r: r[2]))
def test_case_rows_ordered_as_sort_values_orders_them(rows):
    """The case table's order: date, entry time (missing last), source row, as sort_values."""
    day = pd.Timestamp("2020-01-01")
    frame = pd.DataFrame({"date": pd.Series([day + pd.Timedelta(days=d) for d, _, _ in rows], dtype="datetime64[ns]"),
                          "entered_on": pd.Series([pd.NaT if e is None else day + pd.Timedelta(hours=e) for _, e, _ in rows],
                                                  dtype="datetime64[ns]"),
                          SOURCE_ROW: pd.Series([r for _, _, r in rows], dtype="int64")})
    expected = frame.sort_values(["date", "entered_on", SOURCE_ROW], kind="stable").index.tolist()
    assert clean._entry_order(frame).tolist() == expected


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["1", "2", "1.5", "x", "", " 2 ", "N/K", "-3", "40.0", "1e2"])),
                max_size=30))
def test_ages_read_once_per_distinct_text_as_read_row_by_row(values):
    """age_failures reads each distinct text once: the numbers, their dtype and the bad mask are
    those of pd.to_numeric on every row."""
    series = pd.Series(values, dtype=object, index=range(5, 5 + len(values)), name="age")
    text = clean.coding.normalise_text(series)
    expected = pd.to_numeric(text, errors="coerce")
    num, bad = clean.age_failures(series)
    pd.testing.assert_series_equal(num, expected)
    assert bad.tolist() == (text.notna() & expected.isna()).tolist()


def test_a_status_mask_given_as_a_series_is_read_by_its_index_not_its_order():
    frame = pd.DataFrame({SOURCE_ROW: [2, 3, 4]}, index=[10, 11, 12])
    status = clean._Status(frame)
    rule = next(name for name in clean._STATUS_NAMES if name != clean.ANALYSED)
    status.mark(pd.Series([True, False, False], index=[12, 10, 11]), rule)  # row 12 only
    assert status.frame()["status"].tolist() == [clean.ANALYSED, clean.ANALYSED, rule]
    status.mark(pd.Series([True, False, True], index=[10, 11, 12]), rule)  # row 10; 12 keeps its reason
    assert status.frame()["status"].tolist() == [rule, clean.ANALYSED, rule]
    assert status.counted().to_dict() == {clean.ANALYSED: 1, rule: 2}
    with pytest.raises(KeyError):
        status.mark(pd.Series([True], index=[10]), rule)


# --- issue 19: a force that sends no offender extract ------------------------------------------


def test_offenders_not_known_marks_the_cases_offenders_unknown_and_leaves_the_rest():
    from msht.clean import forces as clean_forces

    off = {"offender_person_id": "O1", "sex": "F", "age": "30", "nationality": "UK", "ethnicity": "W1",
           "occurrence_number": "A"}
    r = run([case("A"), case("B", person="P2")], [victim("A"), victim("B", person="P2")], offenders=[off])
    marked = clean_forces.offenders_not_known(r)
    assert marked.cases["recorded_offender"].tolist() == ["unknown", "unknown"]
    assert str(marked.cases["n_offenders"].dtype) == "Int64" and marked.cases["n_offenders"].isna().all()
    assert list(marked.cases.columns) == list(r.cases.columns)
    others = [c for c in r.cases.columns if c not in ("recorded_offender", "n_offenders")]
    pd.testing.assert_frame_equal(marked.cases[others], r.cases[others])
    assert marked.victims is r.victims and marked.offenders is r.offenders and marked.status is r.status
    assert r.cases["recorded_offender"].tolist() == ["yes", "no"], "the result given is not changed"


def _two_forces(tmp_path, root, make_forces_params):
    """Two forces from one small synthetic population: one sends a header-only offender extract,
    one sends none; their params (as validated) and run folders."""
    from msht import config
    from msht.synth.raw import write_extracts
    from msht.synth.sampler import sample_population

    pop = sample_population(40, seed=31)
    forces = []
    for name, sent in (("Sent empty", True), ("Not sent", False)):
        raw = tmp_path / name.replace(" ", "_").lower()
        raw.mkdir()
        write_extracts(pop, raw, seed=31)
        offenders = raw / "offenders.csv"
        if sent:
            offenders.write_text(offenders.read_text(encoding="cp1252").splitlines()[0] + "\n", encoding="utf-8")
            forces.append({"name": name, "raw_dir": str(raw)})
        else:
            offenders.unlink()
            forces.append({"name": name, "raw_dir": str(raw), "extracts": ["cases", "victims", "police_records"]})
    raw_params = make_forces_params(root, forces)
    raw_params.update(synthetic=False, processed_dir=str(tmp_path / "processed"),
                      results_dir=str(tmp_path / "results"), report_dir=str(tmp_path / "report"))
    params = config.validate_params(raw_params)
    return params, config.RunPaths.from_params(params)


def test_a_force_without_an_offender_extract_has_its_cases_offenders_unknown_not_none(tmp_path, root,
                                                                                      make_forces_params):
    """Not sent means not known: recorded_offender "unknown" and n_offenders missing for every case
    of the force (in its written tables too); a force that sends an empty offender extract says no
    offender was recorded, and keeps "no" and 0."""
    from msht import config
    from msht.clean import forces as clean_forces

    params, paths = _two_forces(tmp_path, root, make_forces_params)
    sent, not_sent = (clean_forces.clean_force(params, force, paths, b"a fixed test key") for force in params.forces)
    assert sent.force.has_offenders and not not_sent.force.has_offenders
    cases = sent.result.cases
    assert len(cases) and (cases["recorded_offender"] == "no").all() and (cases["n_offenders"] == 0).all()
    assert cases["n_offenders"].dtype == "int64"
    written = clean.read_tables(config.force_paths(paths, not_sent.force).processed_dir)["cases"]
    for mine in (not_sent.result.cases, written):
        assert len(mine) == len(cases)
        assert (mine["recorded_offender"] == "unknown").all()
        assert str(mine["n_offenders"].dtype) == "Int64" and mine["n_offenders"].isna().all()
