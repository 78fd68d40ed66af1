"""Ingest: encodings, XLSX, header normalisation and clear errors naming file, column, row, value."""

import pandas as pd
import pytest

from msht.ingest import extracts as ingest

CASE_HEADER = ",".join(ingest.extract_fields("cases"))


def _case_line(occ="MS/2020/000001", date="01/02/2020", victim="P1"):
    return f"{occ},{date},01/02/2020 10:00,{victim},NRM,Police,Criminal,UK,Yes,No crime,No,"


def test_reads_utf8_bom_and_cp1252(tmp_path):
    for enc in ("utf-8-sig", "cp1252", "utf-8"):
        folder = tmp_path / enc
        folder.mkdir()
        (folder / "cases.csv").write_text(CASE_HEADER + "\n" + _case_line().replace("Police", "Policé") + "\n", encoding=enc)
        ext = ingest.read_extract(folder, "cases")
        assert ext.frame.loc[0, "referring_agency"] == "Policé"
        assert list(ext.frame.columns)[1] == "occurrence_number"  # BOM stripped from the first header


def test_reads_xlsx(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(CASE_HEADER + "\n" + _case_line() + "\n"), dtype=str)
    frame.to_excel(tmp_path / "cases.xlsx", index=False)
    ext = ingest.read_extract(tmp_path, "cases")
    assert len(ext.frame) == 1 and ext.frame.loc[0, ingest.SOURCE_ROW] == 2


def test_missing_required_column_names_file_and_column(tmp_path):
    (tmp_path / "cases.csv").write_text(CASE_HEADER.replace(",county_lines", "") + "\n")
    with pytest.raises(ingest.ExtractError, match=r"cases\.csv: missing required column\(s\) \['county_lines'\]"):
        ingest.read_extract(tmp_path, "cases")


def test_empty_required_value_names_column_row_and_value(tmp_path):
    (tmp_path / "cases.csv").write_text(CASE_HEADER + "\n" + _case_line() + "\n" + _case_line(occ="") + "\n")
    with pytest.raises(ingest.ExtractError, match=r"cases\.csv: column 'occurrence_number', row 3"):
        ingest.read_extract(tmp_path, "cases")


def test_empty_file_and_missing_file(tmp_path):
    (tmp_path / "cases.csv").write_text("")
    with pytest.raises(ingest.ExtractError, match="empty"):
        ingest.read_extract(tmp_path, "cases")
    with pytest.raises(ingest.ExtractError, match="extract 'offenders' not found"):
        ingest.read_extract(tmp_path, "offenders")


def test_duplicate_headers_are_refused(tmp_path):
    (tmp_path / "cases.csv").write_text(CASE_HEADER + ",county_lines\n")
    with pytest.raises(ingest.ExtractError, match="duplicate column header"):
        ingest.read_extract(tmp_path, "cases")


def test_headers_are_normalised(tmp_path):
    header = CASE_HEADER.replace("occurrence_number", " Occurrence Number ")
    (tmp_path / "cases.csv").write_text(header + "\n" + _case_line() + "\n")
    assert "occurrence_number" in ingest.read_extract(tmp_path, "cases").frame.columns


def test_inputs_table_has_no_folder_names(small_raw):
    folder, _, _ = small_raw
    table = ingest.inputs_table(ingest.read_all(folder))
    assert list(table["extract"]) == list(ingest.EXTRACTS)
    assert not table["file"].str.contains("/").any()
    assert table["sha256"].str.len().eq(64).all()
