"""Mappings in the params file (issue 17): a force's headers, codes and worksheets, validated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from msht import cli
from msht.clean import check, recording
from msht.clean import rules as clean
from msht.config import ParamsError, load_params, validate_params
from msht.ingest import coding
from msht.ingest import extracts as ingest

ROOT = Path(__file__).parents[1]


def _default_raw() -> dict:
    return load_params(ROOT / "params" / "default.yaml").as_dict()


@pytest.mark.parametrize(
    ("extract", "field"), [(e, f) for e, fields in ingest.load_dictionary()["codes"].items() for f in fields]
)
def test_each_code_spelling_is_read_as_its_code(extract, field):
    """The spelling the reader writes for a mapped raw code is coded as that code."""
    spellings = ingest.value_codes(extract)[field]
    coded = recording.MAPPED_FIELDS[extract][field](pd.Series(list(spellings.values())))
    assert list(coded) == list(spellings)


def _refused(**mapping) -> str:
    with pytest.raises(ParamsError) as info:
        validate_params({**_default_raw(), **mapping}, source="params file p.yaml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_an_unknown_field_in_a_header_mapping_is_one_line_naming_it():
    message = _refused(columns={"victims": {"Vic_URN": "person_idd"}})
    assert "key 'columns'" in message and "'person_idd'" in message and "did you mean 'person_id'" in message
    assert "'Vic_URN'" in message


def test_an_unknown_extract_or_code_is_one_line_naming_it():
    assert "unknown extract 'victim'" in _refused(columns={"victim": {"Vic_URN": "person_id"}})
    message = _refused(values={"victims": {"sex": {1: "femal"}}})
    assert "key 'values': unknown code 'femal' for raw code '1' of victims.sex (did you mean 'female'?)" in message
    assert "unknown coded field 'age' of victims" in _refused(values={"victims": {"age": {"x": "y"}}})


def test_two_headers_for_one_field_are_refused():
    assert "both map to person_id" in _refused(columns={"victims": {"Vic_URN": "person_id", "PID": "person_id"}})


def test_mappings_are_accepted_and_injected_only_when_given():
    params = validate_params({**_default_raw(), "values": {"victims": {"sex": {1: "male", "2": "female"}}}})
    assert params.values == {"victims": {"sex": {"1": "male", "2": "female"}}}
    assert "values" in params.as_dict() and "columns" not in params.as_dict()
    assert not set(load_params(ROOT / "params" / "default.yaml").as_dict()) & {"columns", "values", "sheets"}


def _coded_layout(src: Path, dst: Path) -> None:
    """``src``'s extracts in another layout: victims with the force's own headers and sex as 1/2."""
    shutil.copytree(src, dst)
    victims = pd.read_csv(dst / "victims.csv", dtype=str, keep_default_na=False, encoding="cp1252")
    sex = coding.code_sex(victims["sex"])
    victims["sex"] = victims["sex"].mask(sex == "male", "1").mask(sex == "female", "2")
    victims = victims.rename(columns={"person_id": "Vic_URN", "occurrence_number": "OccRef", "sex": "Gender_Code"})
    victims.to_csv(dst / "victims.csv", index=False, encoding="cp1252")


LAYOUT = {
    "columns": {"victims": {"Vic_URN": "person_id", "OccRef": "occurrence_number", "Gender_Code": "sex"}},
    "values": {"victims": {"sex": {"1": "male", "2": "female"}}},
}


def test_a_coded_layout_read_through_mappings_cleans_to_the_same_tables(small_raw, tmp_path):
    folder = tmp_path / "raw"
    _coded_layout(small_raw[0], folder)
    params = validate_params({**_default_raw(), **LAYOUT})
    mapped = ingest.read_all(folder, ingest.mappings_from(params))
    plain = ingest.read_all(small_raw[0])
    assert not any("read as" in note for note, _ in mapped["victims"].notes)  # configuration, not a repair
    a = clean.clean({k: e.frame for k, e in mapped.items()})
    b = clean.clean({k: e.frame for k, e in plain.items()})
    for table in ("cases", "victims", "offenders", "exclusions"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))


def test_without_the_mapping_the_check_places_no_header_and_suggests_the_closest_fields(small_raw, tmp_path):
    folder = tmp_path / "raw"
    _coded_layout(small_raw[0], folder)
    result = check.check(folder, period=("1900-01-01", "2100-12-31"), force_words=["police"])
    unplaced = result.problems[result.problems["code"] == "unplaced_header"].set_index("column")
    assert set(unplaced.index) == {"Vic_URN", "OccRef", "Gender_Code"}
    assert (unplaced["severity"] == "error").all()  # required fields are missing
    assert "closest: person_id" in unplaced.at["Vic_URN", "problem"]
    assert "closest: occurrence_number" in unplaced.at["OccRef", "problem"]
    params = validate_params({**_default_raw(), **LAYOUT})
    result = check.check(folder, period=("1900-01-01", "2100-12-31"), force_words=["police"],
                         mappings=ingest.mappings_from(params))
    assert result.n_errors == 0 and result.unrecognised.empty
    applied = result.mapping[result.mapping["kind"] == "params values: sex"]
    assert applied[["source", "target"]].values.tolist() == [["1", "male"], ["2", "female"]]


def _workbook(path: Path, frame: pd.DataFrame) -> None:
    """``frame`` on the second sheet of a workbook, under a title row, after a cover sheet."""
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"About": ["Exported from the force's system"]}).to_excel(writer, sheet_name="Cover", index=False)
        frame.to_excel(writer, sheet_name="Victim Data", index=False, startrow=1)
        writer.sheets["Victim Data"].cell(row=1, column=1, value="Victims extract 2018-2023")

def _victims_in_a_workbook(small_raw, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """A copy of the small extracts whose victims extract is a workbook (:func:`_workbook`):
    the folder and the victims' rows."""
    folder = tmp_path / "raw"
    shutil.copytree(small_raw[0], folder)
    victims = pd.read_csv(folder / "victims.csv", dtype=str, keep_default_na=False, encoding="cp1252")
    (folder / "victims.csv").unlink()
    _workbook(folder / "victims.xlsx", victims)
    return folder, victims



def test_the_named_sheet_of_a_workbook_is_read_and_a_missing_sheet_is_one_line(small_raw, tmp_path):
    folder, victims = _victims_in_a_workbook(small_raw, tmp_path)
    ok = ingest.ExtractMapping(sheet="Victim Data")
    read = ingest.read_extract(folder, "victims", mapping=ok)
    assert read.sheet == "Victim Data" and len(read.frame) == len(victims)
    assert not any("sheets" in note for note, _ in read.notes)
    with pytest.raises(ingest.ExtractError) as info:
        ingest.read_extract(folder, "victims", mapping=ingest.ExtractMapping(sheet="Victims"))
    assert "sheet 'Victims' (params sheets:) is not in the workbook; its sheets: 'Cover', 'Victim Data'" in str(info.value)


def test_cli_gives_one_clear_line_for_a_bad_mapping(tmp_path, capsys):
    text = (ROOT / "params" / "default.yaml").read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(text + "columns:\n  victims:\n    Vic_URN: person_idd\n", encoding="utf-8")
    assert cli.main(["check", "--params", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("msht: error: params file") and "'person_idd'" in err and "\n" not in err


def test_the_check_says_which_sheet_it_read_when_the_records_are_on_another(small_raw, tmp_path):
    folder, victims = _victims_in_a_workbook(small_raw, tmp_path)
    result = check.check(folder, period=("1900-01-01", "2100-12-31"), force_words=["police"])
    hint = result.problems[result.problems["code"] == "sheet"]
    assert hint["extract"].tolist() == ["victims"] and hint["sheet"].tolist() == ["Cover"]
    assert "read 'Cover' (the first sheet)" in hint["problem"].iloc[0] and "sheets:" in hint["problem"].iloc[0]
    mapped = check.check(folder, period=("1900-01-01", "2100-12-31"), force_words=["police"],
                         mappings={"victims": ingest.ExtractMapping(sheet="Victim Data")})
    assert mapped.n_errors == 0
