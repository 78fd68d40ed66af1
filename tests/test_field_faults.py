"""Issue 14: faults from the field, each tested as a whole *kind*, not only the example.

1. identifiers Excel has damaged (XLSX numeric cells, floats, dates, CSV date shapes);
2. missing-value markers in identifier fields;
3. invisible (format, Cf) characters and compatibility forms (NFKC), in every field.

Every test starts from a small synthetic extract set (``base``), puts one field fault in it, and
reads and cleans it as the pipeline does. The right values stated in the issue are asserted.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from hypothesis_profiles import examples
from msht.clean import rules as clean
from msht.ingest import coding
from msht.ingest import extracts as ingest
from msht.publish import quality
from msht.base.plaintext import format_characters, plain, show_invisible
from msht.synth.raw import SPELLINGS, ProblemRates, write_extracts
from msht.synth.sampler import sample_population

# The extracts' encodings, a fresh copy of ``pristine`` per test, the CSV reader, the cleaning run,
# its key-free summary and the one-line error check are shared with the hostile-input tests.
from test_hostile_input import ENCODING, base, error, load, run, summary  # noqa: E402,F401  (base is a fixture)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("field_base")
    write_extracts(sample_population(60, seed=5), folder, seed=5, rates=ProblemRates(conflict=0.05))
    return folder


def save(frame: pd.DataFrame, folder: Path, name: str, encoding: str = "utf-8") -> None:
    frame.to_csv(folder / f"{name}.csv", index=False, encoding=encoding)


def excluded(result, rule: str, entity: str = "cases") -> int:
    ex = result.exclusions
    return int(ex.loc[(ex["rule"] == rule) & (ex["entity"] == entity), "excluded"].sum())


# ----------------------------------------------------------------------------------------------
# 1. Identifiers Excel has damaged
# ----------------------------------------------------------------------------------------------


def _xlsx(path: Path, frame: pd.DataFrame, typed: dict[tuple[int, str], object], title: str = "cases") -> None:
    """Write ``frame`` as text cells, except ``typed`` cells: (frame row, column) -> typed value."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(list(frame.columns))
    for i, row in enumerate(frame.itertuples(index=False)):
        values = list(row)
        for (r, col), v in typed.items():
            if r == i:
                values[list(frame.columns).index(col)] = v
        ws.append(values)
    wb.save(path)


def test_f02_sixteen_digit_ids_excel_merged_are_refused_with_file_sheet_column_row_value(base):
    """F02: two victims whose 16-digit IDs Excel stored as the same number 1234567890123450."""
    frame = load(base, "cases")
    (base / "cases.csv").unlink()
    _xlsx(base / "cases.xlsx", frame, {(0, "victim_person_id"): 1234567890123450, (1, "victim_person_id"): 1234567890123450})
    message = error(base)
    assert "cases.xlsx" in message and "sheet 'cases'" in message
    assert "column 'victim_person_id', row 2" in message and "'1234567890123450'" in message
    assert "15 significant digits" in message


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (10**15, "16 digits or more"),
        (98765432109876543, "16 digits or more"),
        (1.2345678901234e17, "16 digits or more"),
        (-(10**15), "16 digits or more"),
        (12345.5, "with a fraction"),
        (datetime(2021, 2, 1), "is a date"),
        (date(2021, 2, 1), "is a date"),
        (time(1, 2), "is a date"),
        (True, "TRUE/FALSE"),
    ],
)
@pytest.mark.parametrize(("extract", "column"), [(n, c) for n in ingest.EXTRACTS for c in ingest.id_fields(n)])
def test_every_id_field_of_every_extract_refuses_typed_cells_that_cannot_be_ids(base, extract, column, value, why):
    frame = load(base, extract)
    (base / f"{extract}.csv").unlink()
    _xlsx(base / f"{extract}.xlsx", frame, {(3, column): value}, title=extract)
    message = error(base)
    assert f"{extract}.xlsx: sheet '{extract}', column '{column}', row 5: value" in message
    assert why in message


def test_numeric_xlsx_ids_below_fifteen_digits_are_read_and_normalised(base):
    frame = load(base, "offenders")
    (base / "offenders.csv").unlink()
    _xlsx(base / "offenders.xlsx", frame, {(0, "offender_person_id"): 999999999999999, (1, "offender_person_id"): 12.0},
          title="offenders")
    extracts, _ = run(base)
    ids = extracts["offenders"].frame["offender_person_id"]
    assert ids.iloc[0] == "999999999999999" and ids.iloc[1] == "12"


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=10**15, max_value=10**20))
def test_property_any_xlsx_number_of_sixteen_digits_or_more_in_an_id_column_is_refused(tmp_path, number):
    folder = tmp_path / f"x{number}"
    folder.mkdir(exist_ok=True)  # Hypothesis may draw a number twice
    frame = pd.DataFrame({"person_id": ["P1", "P2"], "incident_reference": ["I1", "I2"], "role": ["Victim", "Victim"]})
    _xlsx(folder / "police_records.xlsx", frame, {(1, "incident_reference"): number}, title="police_records")
    with pytest.raises(ingest.ExtractError, match=r"column 'incident_reference', row 3: .*16 digits or more"):
        ingest.read_extract(folder, "police_records")


@pytest.mark.parametrize("value", ["01-Feb", "1-Feb-21", "Feb-21", "03/04/2024", "3/4/24", "2021-02-01", "2021-02-01 00:00:00",
                                   "12-DEC-2020", "1 Mar"])
def test_ids_that_excel_turned_into_dates_are_refused_in_csv(base, value):
    frame = load(base, "cases")
    frame.loc[2, "occurrence_number"] = value
    save(frame, base, "cases")
    message = error(base)
    assert f"column 'occurrence_number', row 4: value {value!r} looks like a date" in message


# ----------------------------------------------------------------------------------------------
# 2. Missing-value markers in identifier fields
# ----------------------------------------------------------------------------------------------

ISSUE_MARKERS = ["NULL", "Not Stated", "N/K", "Unknown", "n/a", "-"]


def test_id_markers_of_the_issue_are_no_victim_id_and_never_one_person(base):
    frame = load(base, "cases")
    clean_extracts, clean_run = run(base)
    before = sum(n for p, n in dict(clean_extracts["cases"].notes).items() if "'victim_person_id': missing-value marker" in p)
    rows = list(range(0, 4 * len(ISSUE_MARKERS), 4))
    for k, i in enumerate(rows):
        frame.loc[i, "victim_person_id"] = ISSUE_MARKERS[k % len(ISSUE_MARKERS)]
    save(frame, base, "cases")
    extracts, marked = run(base)
    blank = frame.copy()
    blank.loc[rows, "victim_person_id"] = ""
    save(blank, base, "cases")
    _, blanked = run(base)
    assert summary(marked) == summary(blanked), "a marker in an ID is exactly a blank ID"
    assert excluded(marked, "no_victim_id") == excluded(clean_run, "no_victim_id") + len(rows)
    assert not extracts["cases"].frame["victim_person_id"].isin(ISSUE_MARKERS).any()
    notes = dict(extracts["cases"].notes)
    assert sum(n for p, n in notes.items() if "'victim_person_id': missing-value marker" in p) == before + len(rows)


def test_null_victim_ids_are_not_merged_into_one_person(base):
    frame = load(base, "cases")
    frame.loc[[1, 5, 9], "victim_person_id"] = "NULL"
    save(frame, base, "cases")
    _, result = run(base)
    assert result.status["cases"]["status"].iloc[[1, 5, 9]].eq("no_victim_id").all()


@settings(max_examples=examples(200), deadline=None)
@given(
    marker=st.sampled_from(sorted(coding.MISSING_MARKERS)),
    case=st.sampled_from([str.upper, str.lower, str.title, lambda s: s]),
    pad=st.sampled_from(["", " ", "  ", "\u00a0", "\u200b", "\ufeff", "\t"]),
)
def test_property_every_marker_of_the_one_list_in_an_id_field_is_missing(marker, case, pad):
    """The whole list (dictionary.yaml ``missing_markers``), in any case and padding."""
    text = pad + case(marker) + pad
    canon, *_ = ingest.normalise_ids(pd.Series([text, "P0000001"], dtype=object))
    marker_u, datey_u = ingest.id_suspects(canon.to_numpy(dtype=object))
    assert pd.isna(canon.iloc[0]) or bool(marker_u[0])
    assert not marker_u[1] and not datey_u.any()


@pytest.mark.parametrize(("extract", "column"), [("cases", "occurrence_number"), ("victims", "person_id"),
                                                 ("police_records", "incident_reference"), ("offenders", "offender_person_id")])
@pytest.mark.parametrize("marker", ISSUE_MARKERS)
def test_marker_in_an_id_that_must_have_a_value_is_an_error_naming_row_and_value(base, extract, column, marker):
    frame = load(base, extract)
    frame.loc[1, column] = marker
    save(frame, base, extract, encoding=ENCODING[extract])
    message = error(base)
    assert f"{extract}.csv: column '{column}', row 3: value {marker!r} is a missing-value marker" in message


def test_the_one_marker_list_lives_in_the_data_dictionary():
    lists = ingest.load_dictionary()["missing_markers"]
    assert coding.MISSING_MARKERS == frozenset(lists["blank"]) | frozenset(lists["stated_unknown"])
    assert {"null", "not stated", "n/k", "unknown", "n/a", "-"} <= coding.MISSING_MARKERS
    from msht.synth import raw

    spelled = coding.normalise_text(pd.Series(list(raw.MISSING_MARKERS + raw.BLANK_MARKERS + raw.ID_MARKERS)))
    assert spelled.isna().all(), "the twin writes only markers of the one list"


# ----------------------------------------------------------------------------------------------
# 3. Invisible characters and compatibility forms
# ----------------------------------------------------------------------------------------------


def test_f09_values_with_invisible_characters_code_like_the_plain_text():
    """F09: the issue's right values."""
    sex = coding.code_sex(pd.Series(["Female\u200b", "\ufeffMale", "Female\u00a0"]))
    assert sex.tolist() == ["female", "male", "female"]
    region = coding.code_nationality(pd.Series(["Albania\u200b", "Viet\u00adnam", "Albania\u00a0", "Alba\u2060nia"]))["region"]
    assert region.tolist() == ["european", "western_pacific", "european", "european"]
    engagement = coding.code_engagement(pd.Series(["Outcome\u200b16", "Outcome\u00a016", "\u200bOutcome 15"]))
    assert engagement.tolist() == ["negative", "negative", "positive"]


CODERS = {
    "sex": (coding.code_sex, SPELLINGS["sex"]),
    "yes_no": (coding.code_yes_no, SPELLINGS["yes_no"]),
    "referral_form": (coding.code_referral_form, SPELLINGS["referral_form"]),
    "exploitation_location": (coding.code_location, SPELLINGS["exploitation_location"]),
    "engagement": (coding.code_engagement, SPELLINGS["engagement"]),
    "role": (clean.code_role, SPELLINGS["role"]),
    "nationality": (lambda s: coding.code_nationality(s)["countries"],
                    {"x": ("Albania", "Vietnam", "British / Albanian", "Romanian", "Eritrea")}),
    "ethnicity": (lambda s: coding.code_ethnicity(s)["group5"], {"x": ("W1", "IC3", "A2", "M9")}),
    "agency": (lambda s: coding.code_referring_agency(s, ["police"]), SPELLINGS["referring_agency"]),
}
ALL_SPELLINGS = [(field, spelling) for field, (_, table) in CODERS.items() for spellings in table.values() for spelling in spellings]
FORMAT_CHARS = format_characters()


def _fullwidth(text: str) -> str:
    """ASCII letters and digits as their full-width compatibility forms (NFKC folds them back)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@settings(max_examples=examples(300), deadline=None)
@given(
    item=st.sampled_from(ALL_SPELLINGS),
    inserts=st.lists(st.tuples(st.integers(min_value=0, max_value=200), st.sampled_from(FORMAT_CHARS)), max_size=4),
    wide=st.booleans(),
)
def test_property_format_characters_and_compatibility_forms_code_like_the_plain_text(item, inserts, wide):
    field, spelling = item
    coder = CODERS[field][0]
    text = _fullwidth(spelling) if wide else spelling
    for pos, ch in inserts:
        k = pos % (len(text) + 1)
        text = text[:k] + ch + text[k:]
    got = coder(pd.Series([text, spelling], dtype=object))
    assert got.iloc[0] == got.iloc[1], (repr(text), repr(spelling))


@settings(max_examples=examples(200), deadline=None)
@given(
    ident=st.from_regex(r"\A[A-Z]{1,3}[0-9]{3,9}\Z"),
    inserts=st.lists(st.tuples(st.integers(min_value=0, max_value=20), st.sampled_from(FORMAT_CHARS)), min_size=1, max_size=3),
)
def test_property_ids_with_format_characters_anywhere_are_the_same_id(ident, inserts):
    text = ident
    for pos, ch in inserts:
        k = pos % (len(text) + 1)
        text = text[:k] + ch + text[k:]
    canon, *_ = ingest.normalise_ids(pd.Series([text, ident, _fullwidth(ident)], dtype=object))
    assert canon.iloc[0] == canon.iloc[1] == canon.iloc[2] == ident


def test_plain_removes_every_format_character_and_folds_compatibility_forms():
    every = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"]
    assert set(FORMAT_CHARS) == set(every), "the plane scan misses no format character"
    assert plain("A" + "".join(every) + "B") == "AB"
    assert plain("Ｆｅｍａｌｅ") == "Female" and plain("ﬁ") == "fi"


def test_dates_with_invisible_characters_parse(base):
    _, before = run(base)
    frame = load(base, "cases")
    frame["recorded_date"] = "\ufeff" + frame["recorded_date"] + "\u200b"
    frame["entered_on"] = frame["entered_on"].str.replace("/", "/\u2060", n=1, regex=False)
    save(frame, base, "cases")
    _, after = run(base)
    assert summary(after) == summary(before)


def test_spellings_table_shows_invisible_characters_escaped():
    frames = {"victims": pd.DataFrame({"sex": ["Female\u200b"] * 6 + ["Female"] * 6, "nationality": ["Albania\u00a0"] * 12})}
    table = quality.spellings(frames)
    raw = set(table["raw_value"])
    assert {"Female[U+200B]", "Female", "Albania[U+00A0]"} <= raw
    assert show_invisible("Viet\u00adnam") == "Viet[U+00AD]nam"


def test_invisible_characters_change_no_deduplication_decision(base):
    """The kind of the issue's twin experiment (40 Female and 40 Albania values with a trailing
    U+200B raised conflicting entries and lost cases): every value of every coded victim field,
    and every ID, given format characters, and the results are those of the clean run."""
    _, before = run(base)
    victims = load(base, "victims")
    cases = load(base, "cases")
    zw = ["\u200b", "\ufeff", "\u2060", "\u00ad"]
    for k, col in enumerate(["sex", "nationality", "age", "date_of_birth", "person_id", "occurrence_number"]):
        filled = victims[col] != ""
        victims.loc[filled, col] = victims.loc[filled, col] + zw[k % len(zw)]
    for k, col in enumerate(["offence_outcome", "support_offered", "county_lines", "victim_person_id"]):
        filled = cases[col] != ""
        cases.loc[filled, col] = zw[k % len(zw)] + cases.loc[filled, col]
    save(victims, base, "victims")
    save(cases, base, "cases")
    _, after = run(base)
    assert summary(after) == summary(before)


# ----------------------------------------------------------------------------------------------
# 7. Duplicate or update
# ----------------------------------------------------------------------------------------------


def _case(occ, entered, outcome="Investigation ongoing", person="P1", date="01/03/2020"):
    return {"occurrence_number": occ, "recorded_date": date, "entered_on": entered, "victim_person_id": person,
            "referral_form": "NRM", "referring_agency": "Salvation Army", "exploitation_type": "Labour exploitation",
            "exploitation_location": "UK", "county_lines": "No", "offence_outcome": outcome,
            "support_offered": "Yes", "support_accepted": "No"}


def _victim(occ, person="P1"):
    return {"occurrence_number": occ, "person_id": person, "sex": "Female", "date_of_birth": "01/01/1990", "age": pd.NA,
            "nationality": "Albania"}


def _frame(rows, name):
    from msht.ingest.extracts import SOURCE_ROW

    cols = list(ingest.extract_fields(name))
    out = pd.DataFrame([{c: r.get(c, pd.NA) for c in cols} for r in rows], columns=cols, dtype=object)
    out.insert(0, SOURCE_ROW, range(2, len(out) + 2))
    return out


def test_original_copy_and_later_update_are_one_duplicate_and_one_update_everywhere():
    """The issue's three entries: the original, a copy identical but for its occurrence number,
    and a later entry that changes the outcome."""
    from msht.publish import flow

    cases = [_case("A", "01/03/2020 09:00"), _case("B", "01/03/2020 10:00"),
             _case("C", "05/03/2020 09:00", outcome="Outcome 16 - Suspect identified - evidential difficulties - victim not supporting")]
    extracts = {"cases": _frame(cases, "cases"), "victims": _frame([_victim(o) for o in "ABC"], "victims"),
                "police_records": _frame([], "police_records"), "offenders": _frame([], "offenders")}
    result = clean.clean(extracts)
    assert list(result.status["cases"]["status"]) == ["update_superseded", "duplicate", "analysed"]
    assert list(result.cases["occurrence_number"]) == ["C"] and list(result.cases["engagement"]) == ["negative"]
    ex = result.exclusions.set_index(["entity", "rule"])["excluded"]
    assert ex[("cases", "duplicate")] == 1 and ex[("cases", "update_superseded")] == 1
    problems = quality.problems(result.status).set_index("problem")["n"]
    assert problems["duplicate entry"] == 1 and problems["update entered as a new row"] == 1
    boxes = flow.flow_boxes(result.exclusions)
    excluded_boxes = boxes[(boxes["entity"] == "cases") & (boxes["kind"] == "excluded")].set_index("rule")["n"]
    assert excluded_boxes.to_dict() == {"duplicate": 1, "update_superseded": 1}


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=6), min_size=1, max_size=6))
def test_property_each_version_counts_once_and_the_last_version_is_kept(groups):
    """Generated groups: each a sequence of versions (details) in the order entered."""
    rows, details, expected = [], [], {}
    for g, versions in enumerate(groups):
        for k, v in enumerate(versions):
            rows.append({"person_id": f"P{g}", "date": pd.Timestamp("2020-01-01"),
                         "entered_on": pd.Timestamp("2020-01-01") + pd.Timedelta(hours=k), "source_row": len(rows) + 2})
            details.append(v)
        expected[f"P{g}"] = (len(versions) - len(set(versions)), len(set(versions)) - 1, versions[-1])
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # file order need not be entry order
    sig = pd.Series(details, index=range(len(details))).reindex(frame.index)
    verdict = clean.duplicate_or_update(frame, ["person_id", "date"], sig)
    for person, (n_dup, n_upd, last) in expected.items():
        mine = verdict[frame["person_id"] == person]
        assert (mine == "duplicate").sum() == n_dup
        assert (mine == "update_superseded").sum() == n_upd
        kept = mine[mine == "analysed"]
        assert len(kept) == 1 and sig[kept.index[0]] == last


# ----------------------------------------------------------------------------------------------
# The synthetic twin exercises the new kinds, and they change no result
# ----------------------------------------------------------------------------------------------


def test_twin_injects_the_new_kinds_and_they_change_no_result(tmp_path):
    from msht.base.plaintext import format_characters

    pop = sample_population(150, seed=21)
    with_kinds, without = tmp_path / "with", tmp_path / "without"
    write_extracts(pop, with_kinds, seed=21)
    write_extracts(pop, without, seed=21, rates=ProblemRates(id_marker=0, invisible=0, official_spelling=0))
    cases = load(with_kinds, "cases")
    assert cases["victim_person_id"].isin(["NULL", "Not Stated", "N/K", "Unknown", "n/a", "-"]).any()
    utf8 = pd.concat([cases.astype(str), load(with_kinds, "offenders").astype(str)], axis=1).to_numpy().ravel()
    assert any(ch in v for v in utf8 for ch in format_characters()), "format characters are hidden in values"
    official = set(pd.read_csv(Path(coding.__file__).parents[1] / "data" / "govuk_nationalities.csv")["nationality"])
    countries = set(coding.who_regions()["country"])
    victims = load(with_kinds, "victims")
    assert victims["nationality"].isin(official - countries).any(), "nationalities written as in the UK list"
    assert summary(run(with_kinds)[1]) == summary(run(without)[1])
