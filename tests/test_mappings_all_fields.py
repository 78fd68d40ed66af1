"""``values:`` for every coded field of the dictionary (referring agency, exploitation type,
nationality) and the ``files:`` mapping: validated in one line, applied by the reader, the check
and the twin's second layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msht.clean import check, recording
from msht.config import ParamsError, load_params, validate_params
from msht.ingest import coding
from msht.ingest import extracts as ingest
from msht.synth import layout

from hypothesis_profiles import examples

ROOT = Path(__file__).parents[1]
PERIOD = ("1900-01-01", "2100-12-31")
WORDS = ["police"]


def _params(**mapping):
    return validate_params({**load_params(ROOT / "params" / "default.yaml").as_dict(), **mapping})


def _refused(**mapping) -> str:
    with pytest.raises(ParamsError) as info:
        _params(**mapping)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_every_field_the_project_codes_from_text_takes_a_value_mapping():
    codes = ingest.load_dictionary()["codes"]
    assert {"referring_agency", "exploitation_type"} <= set(codes["cases"])
    assert codes["victims"]["nationality"] == codes["offenders"]["nationality"] == ingest.COUNTRIES
    assert set(ingest.value_codes("victims")["nationality"]) == set(coding.who_regions()["country"])


def test_an_unknown_country_or_exploitation_type_is_one_line_naming_it_with_a_suggestion():
    message = _refused(values={"victims": {"nationality": {"ALB": "Albnia"}}})
    assert "unknown code 'Albnia' for raw code 'ALB' of victims.nationality (did you mean 'Albania'?)" in message
    assert "Zimbabwe" not in message  # the country list is not spelled out
    message = _refused(values={"cases": {"exploitation_type": {1: "criminal"}}})
    assert "unknown code 'criminal' for raw code '1' of cases.exploitation_type" in message
    assert "did you mean 'criminal_exploitation'?" in message
    assert "unknown coded field 'nationalty' of offenders (did you mean 'nationality'?)" in _refused(
        values={"offenders": {"nationalty": {"1": "France"}}})


def _mapping(name: str, values: dict) -> ingest.ExtractMapping:
    params = _params(values={name: values})
    return ingest.mappings_from(params)[name]


def test_mapped_codes_are_coded_as_the_spelled_values():
    """A mapped raw code gives the coded result of the value it stands for."""
    nat = _mapping("victims", {"nationality": {"826": "United Kingdom", "8": "Albania", "704": "Vietnam"}})
    raw = pd.DataFrame({"nationality": ["826", "8", " 704 ", "8;826", "8 / 999", "British", None]})
    mapped = ingest.apply_value_mapping(raw, "victims", nat)["nationality"]
    spelled = pd.Series(["United Kingdom", "Albania", "Vietnam", "Albania; United Kingdom", "8 / 999", "British", None])
    pd.testing.assert_frame_equal(coding.code_nationality(mapped), coding.code_nationality(spelled))
    assert mapped.iloc[4] == "8 / 999"  # a part is not mapped: the value is read as it is

    expl = _mapping("cases", {"exploitation_type": {"1": "criminal_exploitation", "3": "sexual_exploitation",
                                                    "5": "other_exploitation"},
                              "referring_agency": {"P": "internal", "X": "external"}})
    raw = pd.DataFrame({"exploitation_type": ["1", "1;3", "3, 1", "5", "-", "Labour"],
                        "referring_agency": ["P", "X", "p", "Police", "Salvation Army", None]})
    mapped = ingest.apply_value_mapping(raw, "cases", expl)
    want = coding.code_exploitation_types(pd.Series(["Criminal", "Criminal; Sexual", "Criminal; Sexual", "Other", "-",
                                                     "Labour"]))
    pd.testing.assert_frame_equal(coding.code_exploitation_types(mapped["exploitation_type"]), want)
    agency = coding.code_referring_agency(mapped["referring_agency"], WORDS)
    assert agency.tolist() == ["internal", "external", "internal", "internal", "external", "unknown"]


TYPES = ["criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude",
         "other_exploitation"]
SPELLINGS = ["CCE", "Forced labour", "CSE", "Domestic servitude", "Undefined", "Criminal; Labour",
             "CCE & domestic servitude", "Not specified", "-", "", "Labour, Other exploitation"]


@settings(max_examples=examples(200))
@given(st.lists(st.sampled_from(SPELLINGS), min_size=1, max_size=12))
def test_the_twin_layout_recode_read_back_through_the_mapping_gives_the_same_codes(values):
    """:func:`msht.synth.layout.recode` runs the reader's value mapping backwards."""
    table = {str(i + 1): t for i, t in enumerate(TYPES)}
    frame = pd.DataFrame({"exploitation_type": values})
    written = layout.recode(frame, "cases", {"exploitation_type": table})
    assert set(written["exploitation_type"]) <= set(values) | {"1", "2", "3", "4", "5", "1;2", "1;4", "2;5"}
    read = ingest.apply_value_mapping(written, "cases", ingest.ExtractMapping(values={"exploitation_type": table}))
    pd.testing.assert_frame_equal(coding.code_exploitation_types(read["exploitation_type"]),
                                  coding.code_exploitation_types(frame["exploitation_type"]))
    code = recording.MAPPED_FIELDS["cases"]["exploitation_type"]
    pd.testing.assert_series_equal(code(read["exploitation_type"]), code(frame["exploitation_type"]))


# ---------------------------------------------------------------------------------------------
# files:
# ---------------------------------------------------------------------------------------------


def test_a_bad_files_mapping_is_one_line():
    assert "unknown extract 'case'" in _refused(files={"case": "x.csv"})
    assert "file 'cases.txt' must be a .csv or .xlsx file" in _refused(files={"cases": "cases.txt"})
    assert "is a path" in _refused(files={"cases": "sub/cases.csv"})
    assert "extracts cases and victims are both given file 'all.csv'" in _refused(
        files={"cases": "All.csv", "victims": "all.csv"})
    message = _refused(files={"cases": "Cases.csv"}, sheets={"cases": "Data"})
    assert "key 'sheets': cases: sheet 'Data' is named but files: gives 'Cases.csv'" in message


def test_files_are_accepted_and_injected_only_when_given():
    params = _params(files={"cases": "OccExport.XLSX"})
    assert params.files == {"cases": "OccExport.XLSX"} and params.as_dict()["files"] == params.files
    assert "files" not in load_params(ROOT / "params" / "default.yaml").as_dict()


def _renamed(src: Path, dst: Path) -> dict[str, str]:
    shutil.copytree(src, dst)
    names = {"cases": "Occurrences.csv", "victims": "VictimNominals.csv"}
    for extract, name in names.items():
        (dst / f"{extract}.csv").rename(dst / name)
    return names


def test_extracts_under_other_names_are_read_through_files_alone(small_raw, tmp_path):
    folder = tmp_path / "raw"
    names = _renamed(small_raw[0], folder)
    mappings = ingest.mappings_from(_params(files=names))
    read = ingest.read_all(folder, mappings)
    plain = ingest.read_all(small_raw[0])
    assert [e.path.name for e in read.values()] == ["Occurrences.csv", "VictimNominals.csv", "police_records.csv",
                                                     "offenders.csv"]
    for name in ingest.EXTRACTS:
        pd.testing.assert_frame_equal(read[name].frame, plain[name].frame)
    result = check.check(folder, period=PERIOD, force_words=WORDS, mappings=mappings)
    assert result.n_errors == 0
    files = result.mapping[result.mapping["kind"].str.startswith("file")]
    assert files[["extract", "kind", "source"]].values.tolist() == [
        ["cases", "file (params files:)", "Occurrences.csv"], ["victims", "file (params files:)", "VictimNominals.csv"],
        ["police_records", "file", "police_records.csv"], ["offenders", "file", "offenders.csv"]]
    assert "Occurrences.csv" in check.render_html(result, "t").split('id="mapping"')[1]


def test_a_missing_file_is_one_line_naming_it_and_listing_the_folder(small_raw, tmp_path):
    folder = tmp_path / "raw"
    _renamed(small_raw[0], folder)
    mapping = ingest.ExtractMapping(file="Occurences.csv")
    with pytest.raises(ingest.ExtractError) as info:
        ingest.read_extract(folder, "cases", mapping=mapping)
    message = str(info.value)
    assert "\n" not in message and "Occurences.csv: extract 'cases' not found (the params file's files: names" in message
    assert ("the folder holds: MANIFEST.json, Occurrences.csv, VictimNominals.csv, offenders.csv, police_records.csv"
            in message)
    result = check.check(folder, period=PERIOD, force_words=WORDS, mappings={"cases": mapping})
    unreadable = result.problems[result.problems["code"] == "unreadable"]
    assert unreadable["extract"].tolist() == ["cases", "victims"]  # victims.csv is not there either
    assert "the folder holds: " in unreadable["problem"].iloc[1]
    for i in range(25):
        (folder / f"other_{i:02}.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ingest.ExtractError, match=r"offenders\.csv, other_00\.txt, .*other_15\.txt and 10 more$"):
        ingest.read_extract(folder, "cases", mapping=mapping)
