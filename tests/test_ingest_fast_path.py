"""The pyarrow fast path of CSV reading gives exactly what the careful parser gives, or steps aside.

``read_raw`` reads a large well-formed CSV with pyarrow and everything else with Python's csv
module. These tests lower the size threshold so that small generated files take the fast path,
and compare every outcome (frame, notes, or the error) with the careful parser's.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from msht.ingest import extracts as ingest

HEADER = ["occurrence_number", "offender_person_id", "sex", "age", "nationality", "ethnicity"]
CELL_CHARS = list('ab1 0,"\n\r\t') + ["\u00a0", "\u3000", "\x1c", "\u200b", "é", "\u2028"]


def _read(text: str, *, fast: bool, monkeypatch: pytest.MonkeyPatch, encoding: str = "utf-8"):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "offenders.csv"
        path.write_bytes(text.encode(encoding))
        with monkeypatch.context() as m:
            m.setattr(ingest, "FAST_PATH_MIN_CHARS", 0 if fast else 10**12)
            m.setattr(ingest, "FAST_PATH_MIN_LINES", 0 if fast else 10**12)
            try:
                frame = ingest.read_raw(path, "offenders")
            except ingest.ExtractError as exc:
                return ("error", str(exc).replace(str(path), "<file>"))
            return ("frame", frame, frame.attrs.get("notes"))


def _same(a, b) -> None:
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a[1] == b[1]
        return
    pd.testing.assert_frame_equal(a[1], b[1])
    assert a[2] == b[2]
    assert a[1].attrs.get("raw_header") == b[1].attrs.get("raw_header")


cells = st.text(st.sampled_from(CELL_CHARS), max_size=6)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cells, min_size=6, max_size=6), max_size=8), extra=st.booleans())
def test_well_formed_csv_reads_the_same_on_both_paths(monkeypatch, rows, extra):
    header = HEADER + (["  "] if extra else [])
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow(r + ([""] if extra else []))
    text = buf.getvalue()
    _same(_read(text, fast=True, monkeypatch=monkeypatch), _read(text, fast=False, monkeypatch=monkeypatch))


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(st.sampled_from(CELL_CHARS + [","] * 4 + ["\n"] * 2), max_size=80))
def test_irregular_text_reads_the_same_on_both_paths(monkeypatch, body):
    text = ",".join(HEADER) + "\n" + body
    _same(_read(text, fast=True, monkeypatch=monkeypatch), _read(text, fast=False, monkeypatch=monkeypatch))


def test_blank_cells_become_missing_on_the_fast_path(monkeypatch):
    text = ",".join(HEADER) + "\nOCC1, P1 ,\u00a0,\u3000\x1c, ,W1\nOCC2,P2,M,30,UK,\n"
    got = _read(text, fast=True, monkeypatch=monkeypatch)
    frame = got[1]
    assert frame.loc[0, "sex"] is pd.NA and frame.loc[0, "age"] is pd.NA and frame.loc[0, "nationality"] is pd.NA
    assert frame.loc[0, "offender_person_id"] == " P1 "  # identifiers are normalised later, not here
    assert ingest.is_arrow_text(frame["offender_person_id"]) and frame["sex"].dtype == object
    assert frame.loc[1, "ethnicity"] is pd.NA
    _same(got, _read(text, fast=False, monkeypatch=monkeypatch))


def test_a_small_file_of_many_lines_takes_the_fast_path(monkeypatch):
    """A file under the size threshold but of FAST_PATH_MIN_LINES lines or more (a published
    force's police-record file) is read by pyarrow, and reads as the careful parser reads it."""
    lines = [",".join(HEADER)] + [f"OCC{i},P{i % 97}, M ,{i % 90},UK,W1" for i in range(ingest.FAST_PATH_MIN_LINES)]
    text = "\n".join(lines) + "\n"
    assert len(text) < ingest.FAST_PATH_MIN_CHARS
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "offenders.csv"
        path.write_text(text, encoding="utf-8")
        with monkeypatch.context() as m:
            m.setattr(ingest, "_parse_csv", lambda *a: pytest.fail("the careful parser was used"))
            fast = ingest.read_raw(path, "offenders")
    careful = _read(text, fast=False, monkeypatch=monkeypatch)
    _same(("frame", fast, fast.attrs.get("notes")), careful)


def test_python_whitespace_table_is_exactly_what_str_strip_removes():
    import sys

    expected = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert ingest.PY_WHITESPACE == expected


# digits of other scripts: U+1E4F1 (Nag Mundari, Unicode 15) is a digit to RE2 but not to Python 3.11
ID_CHARS = list(" \t\r\n0123456789.eE+-aZ") + [
    "\u00a0", "\u200b", "\ufeff", "\x1c", "\u3000", "\u0661", "\uff10", "\u2028", "\U0001e4f1", "é",
]


@settings(max_examples=examples(1000), deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(pd.NA), st.text(st.sampled_from(ID_CHARS), max_size=7)), max_size=25))
def test_identifier_normalisation_is_the_same_in_arrow_and_in_pandas(raw):
    values = pd.Series(raw, dtype=object, index=pd.RangeIndex(10, 10 + len(raw)), name="person_id")
    fast = ingest._normalise_ids_arrow(values)
    slow = ingest._normalise_ids_python(values)
    assert fast is not None
    pd.testing.assert_series_equal(fast[0], slow[0])
    assert fast[1:3] == slow[1:3]
    assert list(fast[3]) == list(slow[3])
    assert list(fast[4]) == list(slow[4])


def test_identifier_normalisation_examples():
    values = pd.Series([" 007 ", "12.00", "\u200bAB1", "1.5E+12", None, "0", "000", "\u200b"], dtype=object)
    out, n_stripped, n_numeric, codes, sci = ingest._normalise_ids_coded(values)
    assert out.tolist()[:4] == ["7", "12", "AB1", "1.5E+12"]
    assert out[4] is pd.NA and out[5] == "0" and out[6] == "0" and out[7] is pd.NA
    assert n_stripped == 3 and n_numeric == 3
    assert sci[codes[3]] and not sci[codes[0]]


def test_identifiers_agree_where_unicode_tables_differ_and_with_lone_surrogates():
    values = pd.Series(["\U0001e4f10.0", "\U0001e4f1", "\ud800x", " 12.0 "], dtype=object)
    fast = ingest._normalise_ids_coded(values)
    slow = ingest._normalise_ids_python(values)
    pd.testing.assert_series_equal(fast[0], slow[0])
    assert fast[1:3] == slow[1:3] == (1, 1)


def test_identifiers_that_are_not_text_use_the_pandas_path():
    values = pd.Series([7, "007", None], dtype=object)
    assert ingest._normalise_ids_arrow(values) is None
    out, *_ = ingest._normalise_ids_coded(values)
    assert out.tolist()[:2] == ["7", "7"]


def test_a_column_of_mostly_distinct_identifiers_is_normalised_row_by_row_with_the_same_result(monkeypatch):
    """Incident references (one per police-record entry) are normalised row by row, not once per
    distinct value: the same identifiers, counts and flags as the pandas reference."""
    import pyarrow as pa

    raw = [f" INC{i:03d}" if i % 7 == 0 else f"INC{i:03d}" for i in range(40)]
    raw[3], raw[5], raw[9], raw[11], raw[13] = None, "1.5E+12", "0012.0", "INC001", "\u200bINC\uff10"
    values = pd.Series(pd.array(raw, dtype=pd.StringDtype("pyarrow")), index=pd.RangeIndex(5, 45), name="incident_reference")
    monkeypatch.setattr(ingest, "DISTINCT_SAMPLE", 8)
    codes, normalised = ingest._values_to_normalise(values)
    assert len(normalised) == 39 and codes[3] == -1 and list(codes[:5]) == [0, 1, 2, -1, 3]  # the rows themselves
    fast = ingest._normalise_ids_arrow(values)
    slow = ingest._normalise_ids_python(values)
    pd.testing.assert_series_equal(fast[0], slow[0])
    assert fast[1:3] == slow[1:3] == (7, 1)
    assert [bool(fast[4][c]) if c >= 0 else None for c in fast[3]] == [bool(slow[4][c]) if c >= 0 else None for c in slow[3]]
    monkeypatch.setattr(ingest, "MOSTLY_DISTINCT", 1.0)  # never mostly distinct: the distinct values, as before
    assert len(ingest._values_to_normalise(values)[1]) == 38
