"""Hostile and broken extracts: each gives a clear error naming file, column, row and value, or is
repaired and counted in the data-quality report -- never a traceback, never a silent change.

Every test starts from the same small synthetic extract set (``base``), breaks one thing, and
reads and cleans it as the pipeline does. ``KINDS`` at the bottom lists the kinds covered.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from msht import cli
from msht.clean import rules as clean
from msht.ingest import extracts as ingest
from msht.publish import quality, results
from msht.synth.raw import ProblemRates, write_extracts
from msht.synth.sampler import sample_population

ENCODING = {"cases": "utf-8-sig", "victims": "cp1252", "police_records": "utf-8", "offenders": "utf-8"}


class Params:
    """The three params ``clean.clean_extracts`` reads."""

    period_start, period_end, force_words = "2018-01-01", "2023-12-31", ["police", "constabulary", "force"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile_base")
    # without the field kinds of issue 14 (tests/test_field_faults.py), so that each test here
    # sees only the fault it puts in
    rates = ProblemRates(unmatched_offender=0.1, id_marker=0, invisible=0, official_spelling=0)
    write_extracts(sample_population(40, seed=3), folder, seed=3, rates=rates)
    return folder


@pytest.fixture
def base(pristine, tmp_path) -> Path:
    """A fresh copy of the extracts to break."""
    folder = tmp_path / "raw"
    folder.mkdir()
    for name in ingest.EXTRACTS:
        shutil.copy(pristine / f"{name}.csv", folder / f"{name}.csv")
    return folder


@pytest.fixture(scope="module")
def baseline(pristine):
    return summary(run(pristine)[1])


def load(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, encoding=ENCODING[name])


def save(frame: pd.DataFrame, folder: Path, name: str, **kw) -> Path:
    path = folder / f"{name}.csv"
    kw.setdefault("encoding", ENCODING[name])
    frame.to_csv(path, index=False, **kw)
    return path


def text(folder: Path, name: str) -> str:
    return (folder / f"{name}.csv").read_text(encoding=ENCODING[name])


def put(folder: Path, name: str, content: str | bytes, suffix: str = ".csv") -> Path:
    path = folder / f"{name}{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding=ENCODING[name], newline="")
    return path


def run(folder: Path):
    extracts = ingest.read_all(folder)
    return extracts, clean.clean_extracts(extracts, Params, key=b"hostile-test")


def summary(result) -> tuple:
    """What the analysis sees, without the (keyed) identifiers."""
    cases = result.cases.drop(columns=["occurrence_number", "person_id"]).to_csv(index=False)
    return result.exclusions.to_csv(index=False), cases, len(result.victims), len(result.offenders)


def notes(extracts, name: str) -> dict[str, int]:
    return dict(extracts[name].notes)


def error(folder: Path) -> str:
    with pytest.raises(ingest.ExtractError) as info:
        run(folder)
    message = str(info.value)
    assert "\n" not in message and len(message) < 600, "one clear, short line"
    return message


# ----------------------------------------------------------------------------------------------
# Files that are not extracts at all
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "\ufeff", "  \r\n\r\n"])
def test_empty_file(base, content):
    put(base, "cases", content.encode("utf-8"))
    assert "cases.csv: the file is empty (no header row)" in error(base)


def test_header_only_is_no_records_for_cases(base):
    put(base, "cases", text(base, "cases").splitlines()[0] + "\n")
    assert "cases.csv: no records: the file has a header row but no data rows" in error(base)


def test_header_only_is_allowed_for_offenders_and_counted(base):
    put(base, "offenders", text(base, "offenders").splitlines()[0] + "\n")
    extracts, result = run(base)
    assert result.offenders.empty
    assert notes(extracts, "offenders") == {
        "the extract has no records: there were no offender entries, so the tests of recorded_offender, "
        "offender_sex, offender_age3, offender_ethnicity2, offender_uk_national against engagement, offered and "
        "accepted could not be run": 0}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (bytes(range(256)) * 64, "holds binary data"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old Excel .xls"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
        (b"<html><body><table><tr><td>occurrence_number</td></tr></table></body></html>", "HTML/XML page"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 50, "compressed (gzip)"),
    ],
)
def test_binary_and_wrong_formats(base, content, expected):
    put(base, "cases", content)
    message = error(base)
    assert "cases.csv" in message and expected in message


def test_xlsx_renamed_csv_is_read_as_xlsx(base, baseline):
    frame = load(base, "cases")
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, sheet_name="cases")
    put(base, "cases", buffer.getvalue())
    extracts, result = run(base)
    assert summary(result) == baseline
    assert "the file is an XLSX workbook named .csv: read as XLSX" in notes(extracts, "cases")


# ----------------------------------------------------------------------------------------------
# Encodings, delimiters, line endings, quoting
# ----------------------------------------------------------------------------------------------


def test_windows_1252_characters(base):
    frame = load(base, "cases")
    frame.loc[0, "referring_agency"] = "Policé – Brigade des mœurs’ €"
    save(frame, base, "cases", encoding="cp1252")
    extracts, _ = run(base)
    assert extracts["cases"].frame.loc[0, "referring_agency"] == "Policé – Brigade des mœurs’ €"


def test_bom_is_not_part_of_the_first_header(base):
    assert (base / "cases.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    extracts, _ = run(base)
    assert list(extracts["cases"].frame.columns)[1] == "occurrence_number"


def test_utf16_unicode_text_from_excel(base, baseline):
    save(load(base, "victims"), base, "victims", encoding="utf-16", sep="\t")
    extracts, result = run(base)
    assert summary(result) == baseline
    assert "the file uses '\\t' as its delimiter (read as such)" in notes(extracts, "victims")


def test_bytes_neither_utf8_nor_cp1252(base):
    raw = (base / "cases.csv").read_bytes().split(b"\n")
    raw[4] = raw[4].replace(b"Home Office", b"Home \x81Office", 1) if b"Home Office" in raw[4] else raw[4] + b"\x81"
    put(base, "cases", b"\n".join(raw))
    message = error(base)
    assert "cases.csv: line 5: byte 0x81 is neither UTF-8 nor Windows-1252" in message


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_wrong_delimiter_is_detected_and_counted(base, baseline, sep):
    save(load(base, "cases"), base, "cases", sep=sep)
    extracts, result = run(base)
    assert summary(result) == baseline
    assert notes(extracts, "cases")[f"the file uses {sep!r} as its delimiter (read as such)"] == len(
        extracts["cases"].frame
    )


def test_mixed_line_endings(base, baseline):
    lines = text(base, "victims").split("\n")
    mixed = "".join(line + ("\r\n", "\n", "\r")[i % 3] for i, line in enumerate(lines[:-1]))
    put(base, "victims", mixed)
    assert summary(run(base)[1]) == baseline


def test_quoted_fields_with_embedded_newlines_keep_row_numbers(base):
    frame = load(base, "cases")
    frame.loc[1, "referring_agency"] = 'Salvation\nArmy, "North"\r\nteam'
    frame.loc[9, "recorded_date"] = "not yet"
    save(frame, base, "cases")
    message = error(base)
    assert "cases.csv: column 'recorded_date', row 11: value 'not yet' is not a date" in message
    frame.loc[9, "recorded_date"] = frame.loc[8, "recorded_date"]
    save(frame, base, "cases")
    extracts, _ = run(base)
    assert extracts["cases"].frame.loc[1, "referring_agency"] == 'Salvation\nArmy, "North"\r\nteam'


def test_blank_lines_are_skipped_and_rows_keep_their_spreadsheet_numbers(base):
    lines = text(base, "cases").split("\n")
    frame = load(base, "cases")
    bad = lines[10].split(",")
    bad[1] = "31/13/2020"
    lines[10] = ",".join(bad)
    put(base, "cases", "\n".join(lines[:3] + ["", ",,,,,,,,,,,"] + lines[3:]))
    message = error(base)
    assert "cases.csv: column 'recorded_date', row 13: value '31/13/2020' is not a valid calendar date" in message
    lines[10] = ",".join(frame.iloc[9].tolist())
    put(base, "cases", "\n".join(lines[:3] + ["", ",,,,,,,,,,,"] + lines[3:]))
    extracts, _ = run(base)
    assert notes(extracts, "cases")["blank lines skipped"] == 2  # an empty line and one of empty fields


def test_unclosed_quote(base):
    lines = text(base, "offenders").split("\n")
    lines[3] = lines[3].replace(",", ',"unclosed ', 1)
    put(base, "offenders", "\n".join(lines))
    message = error(base)
    assert "offenders.csv: line" in message and "a quoted field never ends" in message


def test_text_after_a_closing_quote(base):
    lines = text(base, "offenders").split("\n")
    parts = lines[2].split(",")
    parts[4] = '"United Kingdom" (dual)'
    lines[2] = ",".join(parts)
    put(base, "offenders", "\n".join(lines))
    assert "offenders.csv: line 3: not readable as CSV" in error(base)


def test_row_with_too_many_fields(base):
    lines = text(base, "offenders").split("\n")
    lines[5] += ",Smith, John"
    put(base, "offenders", "\n".join(lines))
    message = error(base)
    assert "offenders.csv: row 6 has 8 fields but the header has 6" in message and "'Smith'" in message


def test_trailing_empty_fields_and_short_rows_are_repaired_and_counted(base):
    frame = load(base, "offenders")
    frame.loc[3, "ethnicity"] = ""
    save(frame, base, "offenders")
    before = summary(run(base)[1])
    lines = text(base, "offenders").split("\n")
    lines[2] += ",,"  # empty fields beyond the header
    assert lines[4].endswith(",")
    lines[4] = lines[4][:-1]  # the empty last field left out
    put(base, "offenders", "\n".join(lines))
    extracts, result = run(base)
    assert summary(result) == before
    found = notes(extracts, "offenders")
    assert found["records with empty fields beyond the header (ignored)"] == 1
    assert found["records with fewer fields than the header (padded with blanks)"] == 1


def test_huge_free_text_field(base, baseline):
    frame = load(base, "cases")
    frame.loc[2, "referring_agency"] = "x" * 1_000_000
    frame.loc[3, "exploitation_type"] = "Labour exploitation " + "y" * 1_000_000
    save(frame, base, "cases")
    extracts, result = run(base)
    assert len(extracts["cases"].frame.loc[2, "referring_agency"]) == 1_000_000
    assert summary(result)[0] == baseline[0]


def test_huge_value_in_a_date_field_is_cut_in_the_message(base):
    frame = load(base, "cases")
    frame.loc[2, "recorded_date"] = "z" * 1_000_000
    save(frame, base, "cases")
    message = error(base)
    assert "column 'recorded_date', row 4: value 'zzzz" in message and "(1,000,000 characters)" in message


# ----------------------------------------------------------------------------------------------
# Headers
# ----------------------------------------------------------------------------------------------


def test_missing_required_column(base):
    save(load(base, "cases").drop(columns=["county_lines"]), base, "cases")
    assert "cases.csv: missing required column(s) ['county_lines']" in error(base)


def test_renamed_columns_through_the_alias_table(base, baseline):
    save(
        load(base, "cases").rename(columns={"occurrence_number": "Occurrence No.", "recorded_date": "Date Recorded"}),
        base,
        "cases",
    )
    save(load(base, "victims").rename(columns={"sex": "Gender", "date_of_birth": "D.O.B."}), base, "victims")
    extracts, result = run(base)
    assert summary(result) == baseline
    assert "column 'Occurrence No.' read as occurrence_number" in notes(extracts, "cases")
    assert "column 'D.O.B.' read as date_of_birth" in notes(extracts, "victims")


def test_header_spelling_differences_are_ignored(base, baseline):
    frame = load(base, "cases")
    frame.columns = [
        f"  {c.replace('_', ' ').title()} " if i % 2 else c.upper().replace("_", "-")
        for i, c in enumerate(frame.columns)
    ]
    save(frame, base, "cases")
    extracts, result = run(base)
    assert summary(result) == baseline and notes(extracts, "cases") == {}


def test_alias_table_is_unambiguous():
    for name in ingest.EXTRACTS:
        table = ingest.header_aliases(name)  # raises if one header maps to two fields
        fields = set(ingest.extract_fields(name))
        assert fields <= set(table.values())
        for header, target in table.items():
            assert header not in fields or header == target


def test_extra_columns_are_kept_and_ignored(base, baseline):
    frame = load(base, "cases")
    frame.insert(3, "Officer notes", "free text, not used")
    frame["Unnamed extra"] = "1"
    save(frame, base, "cases")
    extracts, result = run(base)
    assert summary(result) == baseline
    assert "officer_notes" in extracts["cases"].frame.columns
    assert "column 'Officer notes' is not in the data dictionary (kept, not used)" in notes(extracts, "cases")


def test_empty_unnamed_column_from_trailing_commas(base, baseline):
    lines = text(base, "police_records").split("\n")
    put(base, "police_records", "\n".join(line + "," if line else line for line in lines))
    extracts, result = run(base)
    assert summary(result) == baseline
    assert "empty column 4 with no header (ignored)" in notes(extracts, "police_records")


def test_duplicate_headers(base):
    frame = load(base, "cases")
    frame["county lines"] = frame["county_lines"]
    save(frame, base, "cases")
    message = error(base)
    assert (
        "cases.csv: duplicate column header(s) ['county_lines']" in message
        and "columns 9 ('county_lines') and 13" in message
    )


def test_an_alias_next_to_its_field_is_a_duplicate(base):
    frame = load(base, "victims")
    frame["Gender"] = frame["sex"]
    save(frame, base, "victims")
    assert "victims.csv: duplicate column header(s) ['sex']" in error(base)


def test_title_lines_above_the_header_are_skipped(base, baseline):
    put(base, "cases", "MSHT extract for the research team,,\nRun on 01/02/2024 by the analyst\n" + text(base, "cases"))
    extracts, result = run(base)
    assert summary(result) == baseline
    assert "header found on row 3: 2 line(s) above it skipped" in notes(extracts, "cases")


def test_file_name_in_capitals(base, baseline):
    (base / "cases.csv").rename(base / "CASES.CSV")
    assert summary(run(base)[1]) == baseline


# ----------------------------------------------------------------------------------------------
# XLSX
# ----------------------------------------------------------------------------------------------


def _workbook(path: Path, sheets: dict[str, pd.DataFrame], *, dates: bool = False) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    for title, frame in sheets.items():
        ws = wb.create_sheet(title)
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            values = list(row)
            if dates and "recorded_date" in frame.columns:
                i = list(frame.columns).index("recorded_date")
                values[i] = pd.to_datetime(values[i], format="%d/%m/%Y").to_pydatetime()
            ws.append(values)
    wb.save(path)


def test_xlsx_with_several_sheets_reads_the_one_named_like_the_extract(base, baseline):
    frame = load(base, "cases")
    notes_sheet = pd.DataFrame({"note": ["Extract run for the study", "Do not share"]})
    _workbook(base / "cases.xlsx", {"Read me": notes_sheet, "Cases": frame}, dates=True)
    (base / "cases.csv").unlink()
    extracts, result = run(base)
    assert summary(result) == baseline
    assert "workbook has 2 sheets ('Read me', 'Cases'): read 'Cases' (named like the extract)" in notes(
        extracts, "cases"
    )


def test_xlsx_with_several_sheets_and_none_named_reads_the_first(base, baseline):
    _workbook(base / "cases.xlsx", {"Sheet1": load(base, "cases"), "Sheet2": pd.DataFrame({"x": ["1"]})})
    (base / "cases.csv").unlink()
    extracts, result = run(base)
    assert summary(result) == baseline
    assert "workbook has 2 sheets ('Sheet1', 'Sheet2'): read 'Sheet1' (the first sheet)" in notes(extracts, "cases")


def test_broken_xlsx(base):
    (base / "cases.csv").unlink()
    put(base, "cases", b"PK\x03\x04 this is not really a workbook", suffix=".xlsx")
    assert "cases.xlsx: not a readable XLSX workbook" in error(base)


# ----------------------------------------------------------------------------------------------
# Values: dates, ages, identifiers
# ----------------------------------------------------------------------------------------------


def test_text_in_a_date_field(base):
    frame = load(base, "cases")
    frame.loc[4, "recorded_date"] = "last Tuesday"
    save(frame, base, "cases")
    assert (
        "cases.csv: column 'recorded_date', row 6: value 'last Tuesday' is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"
        in error(base)
    )


@pytest.mark.parametrize("value", ["31/02/2020", "29/02/2021", "00/01/2020", "12/13/2020"])
def test_impossible_dates(base, value):
    frame = load(base, "victims")
    frame.loc[2, "date_of_birth"] = value
    save(frame, base, "victims")
    assert f"victims.csv: column 'date_of_birth', row 4: value '{value}' is not a valid calendar date" in error(base)


def test_two_digit_year_is_refused(base):
    frame = load(base, "cases")
    frame.loc[0, "recorded_date"] = "05/10/18"
    save(frame, base, "cases")
    assert "column 'recorded_date', row 2: value '05/10/18' is not a date" in error(base)


def test_missing_markers_in_dates(base):
    frame = load(base, "victims")
    frame.loc[0, "date_of_birth"] = "N/K"
    save(frame, base, "victims")
    run(base)  # a nullable date: missing
    frame = load(base, "cases")
    frame.loc[0, "recorded_date"] = "Unknown"
    save(frame, base, "cases")
    assert "cases.csv: column 'recorded_date', row 2: value 'Unknown' is not a date" in error(base)


def test_dates_with_a_time_part_are_accepted(base, baseline):
    frame = load(base, "cases")
    frame["recorded_date"] = frame["recorded_date"] + " 00:00"
    frame["entered_on"] = frame["entered_on"].str[:10]
    save(frame, base, "cases")
    assert summary(run(base)[1])[0] == baseline[0]


def test_dates_with_utc_offsets_are_the_local_dates_as_written(base, baseline):
    """Review finding 7: ISO date-times with an offset (mixed in one column) or ``Z`` are read as
    the date the force wrote, so the analysis sees what it sees with plain dates."""
    frame = load(base, "cases")
    day = pd.to_datetime(frame["recorded_date"], format="%d/%m/%Y").dt.strftime("%Y-%m-%d")
    # midnight, as the plain dates are (a time of day matters to the duplicate rules); in UTC the
    # second and fourth would fall on the day before
    offsets = pd.Series(["T00:00:00-05:00", "T00:00:00+01:00", " 00:00:00Z", "T00:00:00.000+05:30"])
    frame["recorded_date"] = day + offsets.iloc[frame.index % 4].to_numpy()
    save(frame, base, "cases")
    victims = load(base, "victims")
    born = victims["date_of_birth"].str.fullmatch(r"\d{2}/\d{2}/\d{4}")
    victims.loc[born, "date_of_birth"] = pd.to_datetime(victims.loc[born, "date_of_birth"], format="%d/%m/%Y"
                                                        ).dt.strftime("%Y-%m-%dT00:30:00+02:00")
    save(victims, base, "victims")
    assert summary(run(base)[1])[:2] == baseline[:2]


@pytest.mark.parametrize(("value", "why"), [
    ("9999-12-31", "is outside the dates the analysis can hold (years 1678 to 2261)"),
    ("0201-01-01", "is outside the dates the analysis can hold (years 1678 to 2261)"),
    ("43101", "is a number, not a date (a spreadsheet's date serial? expected dd/mm/yyyy)"),
    ("2018-02", "is a year (or month) alone, not a date (expected dd/mm/yyyy)"),
])
def test_dates_the_analysis_cannot_hold_stop_the_run_in_one_line(base, value, why):
    frame = load(base, "cases")
    frame.loc[3, "recorded_date"] = value
    save(frame, base, "cases")
    assert f"cases.csv: column 'recorded_date', row 5: value '{value}' {why}" in error(base)


def test_dates_in_the_future_are_excluded_and_counted(base):
    frame = load(base, "cases")
    frame.loc[0, "recorded_date"] = "01/06/2031"
    save(frame, base, "cases")
    victims = load(base, "victims")
    victims.loc[1, "date_of_birth"] = "01/01/2030"
    save(victims, base, "victims")
    extracts, result = run(base)
    assert result.status["cases"]["status"].iloc[0] == "outside_period"
    warnings = ingest.input_warnings(extracts, period_end=Params.period_end)
    row = warnings[warnings["problem"].str.startswith("'date_of_birth' after the end of the period")]
    assert list(row["n"]) == [1]


def test_negative_and_absurd_ages_are_unknown_and_counted(base):
    frame = load(base, "offenders")
    frame.loc[0, "age"] = "-3"
    frame.loc[1, "age"] = "250"
    save(frame, base, "offenders")
    extracts, result = run(base)
    assert notes(extracts, "offenders")["'age' outside 0-110 (coded unknown)"] == 2
    assert result.offenders["offender_age"].dropna().between(0, 110).all()


def test_age_as_words_is_an_error(base):
    frame = load(base, "victims")
    frame.loc[3, "age"] = "thirty"
    save(frame, base, "victims")
    assert "victims.csv: column 'age', row 5: value 'thirty' is not a number of years" in error(base)


def test_ids_with_stray_whitespace_are_stripped_matched_and_counted(base, baseline):
    victims = load(base, "victims")
    victims["person_id"] = [
        f" {p}\u00a0" if i % 3 == 0 else (f"\u200b{p}" if i % 3 == 1 else p) for i, p in enumerate(victims["person_id"])
    ]
    save(victims, base, "victims", encoding="utf-8")
    extracts, result = run(base)
    assert summary(result) == baseline
    changed = sum(1 for i in range(len(victims)) if i % 3 != 2)
    assert (
        notes(extracts, "victims")["'person_id': spaces or invisible characters around the identifier removed"]
        == changed
    )


def test_leading_zeros_lost_by_excel_still_match(base, baseline):
    def digits(s):
        return s.str.replace(r"^P", "00", regex=True)  # "P1000231" -> "001000231"

    cases = load(base, "cases")
    cases["victim_person_id"] = digits(cases["victim_person_id"])
    save(cases, base, "cases")
    records = load(base, "police_records")
    records["person_id"] = digits(records["person_id"])
    save(records, base, "police_records")
    victims = load(base, "victims")  # opened and saved by Excel: the zeros are gone, or ".0" added
    victims["person_id"] = [p[1:].lstrip("0") + (".0" if i % 2 else "") for i, p in enumerate(victims["person_id"])]
    save(victims, base, "victims")
    extracts, result = run(base)
    assert summary(result) == baseline
    assert (
        notes(extracts, "cases")["'victim_person_id': numeric identifier normalised (leading zeros or '.0' removed)"]
        > 0
    )
    assert notes(extracts, "victims")["'person_id': numeric identifier normalised (leading zeros or '.0' removed)"] > 0


def test_id_in_scientific_notation_is_an_error(base):
    frame = load(base, "offenders")
    frame.loc[2, "offender_person_id"] = "1.23457E+11"
    save(frame, base, "offenders")
    message = error(base)
    assert "offenders.csv: column 'offender_person_id', row 4: value '1.23457E+11'" in message
    assert "scientific notation" in message


def test_blank_required_id(base):
    frame = load(base, "police_records")
    frame.loc[6, "incident_reference"] = "   "
    save(frame, base, "police_records")
    assert (
        "police_records.csv: column 'incident_reference', row 8: is empty, but the column must have a value "
        "in every row"
    ) in error(base)


# ----------------------------------------------------------------------------------------------
# Formula injection
# ----------------------------------------------------------------------------------------------

PAYLOADS = [
    "=cmd|' /C calc'!A0",
    '+HYPERLINK("http://x.invalid")',
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
]


def test_formula_injection_is_never_evaluated_and_neutralised_on_output(base, tmp_path):
    frame = load(base, "cases")
    for i, payload in enumerate(PAYLOADS):
        frame.loc[i * 5 : i * 5 + 4, "offence_outcome"] = payload  # five times each: not pooled as rare
        frame.loc[i, "referring_agency"] = payload
    save(frame, base, "cases")
    extracts, result = run(base)
    assert extracts["cases"].frame.loc[0, "offence_outcome"] == PAYLOADS[0]  # read as text, nothing run
    spellings = quality.spellings({n: e.frame for n, e in extracts.items()})
    echoed = spellings[spellings["raw_value"].isin(PAYLOADS)]
    assert len(echoed) == len(PAYLOADS) and set(echoed["code"]) == {"unknown"}
    path = results.write_csv(spellings, "spellings", tmp_path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    for payload in PAYLOADS:
        assert ("'" + payload) in set(back["raw_value"])
    assert (
        not back.map(
            lambda v: v.startswith(results.FORMULA_TRIGGERS)
            and not v.lstrip("-").replace(".", "").isdigit()
            and v != "-"
        )
        .any()
        .any()
    )


def test_neutralise_formula_rules():
    assert results.neutralise_formula("=1+1") == "'=1+1"
    assert results.neutralise_formula("-12.5") == "-12.5"
    assert results.neutralise_formula("-") == "-"
    assert results.neutralise_formula("Home Office") == "Home Office"
    assert results.neutralise_formula(3) == 3


# ----------------------------------------------------------------------------------------------
# The data-quality report counts the repairs; the command line never shows a traceback
# ----------------------------------------------------------------------------------------------


def test_input_warnings_table(base):
    save(load(base, "cases").rename(columns={"occurrence_number": "Occurrence No"}), base, "cases", sep=";")
    extracts, _ = run(base)
    table = ingest.input_warnings(extracts)
    assert list(table.columns) == ["extract", "problem", "n"]
    assert set(table["extract"]) == {"cases"}
    assert "the file uses ';' as its delimiter (read as such)" in set(table["problem"])
    assert not table["problem"].str.contains("MS/|P1", regex=True).any(), "notes never echo values"


def test_command_line_reports_bad_data_in_one_line(root, base, tmp_path, capsys):
    import yaml

    frame = load(base, "cases")
    frame.loc[4, "recorded_date"] = "31/02/2020"
    save(frame, base, "cases")
    params = yaml.safe_load((root / "params" / "default.yaml").read_text())
    name = "test_hostile_cli"
    params.update(
        {
            "run_name": name,
            "synthetic": False,
            "raw_dir": str(base),
            "processed_dir": f"_output/{name}/processed",
            "results_dir": f"_output/{name}/results",
            "report_dir": f"_output/{name}/report",
        }
    )
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    try:
        code = cli.main(["run", "--params", str(path)])
    finally:
        shutil.rmtree(root / "_output" / name, ignore_errors=True)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert (
        "msht: error: cases.csv: column 'recorded_date', row 6: value '31/02/2020' is not a valid calendar date" in err
    )


#: The kinds of bad input covered above, and what each gets (E: ExtractError; W: repaired and
#: counted in the extract's notes / ``input_warnings``; X: excluded and counted in exclusions.csv).
KINDS = {
    "empty file (0 bytes, BOM only, blank lines only)": "E",
    "header only, cases/victims": "E",
    "header only, police_records/offenders": "W",
    "binary garbage": "E",
    "old .xls / PDF / HTML / gzip under a .csv name": "E",
    "XLSX renamed .csv": "W",
    "Windows-1252 characters": "read",
    "UTF-8 BOM": "read",
    "UTF-16 (Excel Unicode text, tab-delimited)": "W",
    "bytes neither UTF-8 nor Windows-1252": "E",
    "semicolon / tab / pipe delimiter": "W",
    "mixed line endings": "read",
    "quoted fields with embedded newlines": "read",
    "blank lines inside the file": "W",
    "unclosed quote": "E",
    "text after a closing quote": "E",
    "row with too many fields": "E",
    "trailing empty fields / short rows": "W",
    "huge (1 MB) free-text field": "read",
    "huge value in a date field": "E (value cut)",
    "missing required column": "E",
    "renamed columns (aliases)": "W",
    "header case/spacing/punctuation": "read",
    "extra columns": "W",
    "empty unnamed column (trailing commas)": "W",
    "duplicate headers": "E",
    "alias next to its own field": "E",
    "title lines above the header": "W",
    "file name in capitals": "read",
    "XLSX with several sheets": "W",
    "broken XLSX": "E",
    "text in a date field": "E",
    "impossible dates": "E",
    "two-digit year": "E",
    "missing marker in a date (nullable / required)": "read / E",
    "date with a time part": "read",
    "dates in the future": "X + W",
    "negative or absurd ages": "W",
    "age in words": "E",
    "IDs with stray whitespace / invisible characters": "W",
    "leading zeros lost by Excel, '.0' added": "W",
    "ID in scientific notation": "E",
    "blank required ID": "E",
    "CSV formula injection in free text": "read, neutralised on output",
}


def test_at_least_twenty_kinds_are_covered():
    assert len(KINDS) >= 20


# ----------------------------------------------------------------------------------------------
# A force's own headers (params columns: or an alias) are named as the file names them
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extract", "field", "header", "bad", "expected"),
    [
        ("victims", "date_of_birth", "Vic_Birth_Dt", "31/02/1990", "column 'Vic_Birth_Dt' (date_of_birth), row 4: value '31/02/1990'"),
        ("victims", "age", "Vic Age", "twenty", "column 'Vic Age' (age), row 4: value 'twenty'"),
        ("offenders", "age", "OFF_AGE", "old", "column 'OFF_AGE' (age), row 4: value 'old'"),
        ("cases", "recorded_date", "Date Recorded", "2021-13-01", "column 'Date Recorded' (recorded_date), row 4: value '2021-13-01'"),
        ("cases", "victim_person_id", "Victim URN", "1.23457E+11", "column 'Victim URN' (victim_person_id), row 4: value '1.23457E+11'"),
        ("cases", "occurrence_number", "Occ No", "N/K", "column 'Occ No' (occurrence_number), row 4: value 'N/K'"),
    ],
)
def test_a_bad_value_under_a_mapped_header_is_named_by_the_files_header(base, extract, field, header, bad, expected):
    """Run and check name the column the analyst can find in the file, with the field it was read as."""
    from msht.clean import check

    frame = load(base, extract)
    frame.loc[2, field] = bad
    save(frame.rename(columns={field: header}), base, extract)
    mappings = {extract: ingest.ExtractMapping(columns={header: field}, values={}, sheet=None, file=None)}
    with pytest.raises(ingest.ExtractError) as info:
        clean.clean_extracts(ingest.read_all(base, mappings), Params, key=b"hostile-test")
    assert expected in str(info.value) and "\n" not in str(info.value)
    found = check.check(base, period=(Params.period_start, Params.period_end), force_words=Params.force_words,
                        mappings=mappings).problems
    errors = found[(found["severity"] == "error") & (found["row"] == 4)]
    assert errors["column"].tolist() == [f"{header} ({field})"], errors.to_dict("records")


def test_a_header_that_is_the_fields_name_is_named_as_before(base):
    frame = load(base, "victims")
    frame.loc[2, "date_of_birth"] = "31/02/1990"
    save(frame, base, "victims")
    assert "column 'date_of_birth', row 4: value '31/02/1990'" in error(base)
