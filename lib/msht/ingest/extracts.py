"""Read the raw police extracts and validate them against the data dictionary.

Every field is read as text: identifier fields (``kind: id``) as pyarrow-backed ``string``
columns (``<NA>`` missing; millions of police-record references are never a Python string each,
and the pseudonymisation reads them as they are), the others as ``object`` columns of ``str``
(in which equal cells share one string). A file that cannot be used stops the run with an
:class:`ExtractError` that names the file and, where there is one, the column, row and value; a
problem the reader can repair is repaired and *counted* (:attr:`Extract.notes`, reported by
:func:`input_warnings` in the data-quality report). Row numbers are those a person sees in a
spreadsheet: the header is row 1, the first record row 2 (blank lines and multi-line cells do
not shift them).

What is accepted, and how
-------------------------
* **CSV** in UTF-8 (with or without a byte-order mark), Windows-1252, or UTF-16 with a BOM
  (Excel's "Unicode text"). The delimiter is detected among ``,`` ``;`` tab and ``|`` (a note
  says when it is not a comma). Quoted fields may hold delimiters and line breaks; line endings
  may be mixed. A quoted field that never ends, or text after a closing quote, is an error.
* **XLSX**: the sheet named like the extract (``cases``, any case) if there is one, else the
  first visible sheet; a note says which when the workbook has several. Cached cell values are
  read, formulas are never evaluated. A ``.csv`` file that is really an XLSX workbook is read as
  one (with a note); an old ``.xls``, an HTML page, a PDF or other binary data is an error.
* **Headers** are matched after normalisation (:func:`normalise_header`: case, spaces and
  punctuation ignored, so ``" Occurrence Number "`` is ``occurrence_number``) and through the
  small alias table of the data dictionary (``aliases:``; ``"Occurrence No"`` is read as
  ``occurrence_number``, with a note). Title lines above the header are skipped (with a note).
  Two columns that map to the same field, or a missing required column, are errors. Columns the
  dictionary does not know are kept, not used, and noted.
* **Records**: an empty file, or a ``cases``/``victims`` file with a header and no records, is
  an error (``police_records`` and ``offenders`` may be empty: a force may record no offender).
  Blank lines are skipped; a record with fewer fields than the header is padded with blanks and
  noted; one with more fields is an error unless the extra fields are empty.
* **Values**: a cell of only white space is empty. Identifier fields (``kind: id``) lose every
  format character (Unicode Cf: zero-width spaces, BOMs, soft hyphens, wherever they are), are
  NFKC-folded (:mod:`msht.base.plaintext`) and lose surrounding white space; an identifier written as
  a number (``0012345``, ``12345.0``) is normalised to its digits without leading zeros, so
  that an extract saved through Excel, which drops them, still matches the others (all
  counted). A missing-value marker (``NULL``, ``N/K``, ``Not Stated``... the dictionary's one
  ``missing_markers`` list) in an identifier is a blank identifier: counted, and an error in a
  field that must have a value. Identifiers Excel has damaged are errors naming file, (sheet,)
  column, row and value: scientific notation (``1.23457E+11``), text shaped like a date Excel
  made of an ID (``01-Feb``), and in an XLSX a numeric cell of 10^15 or more (Excel keeps 15
  significant digits: two IDs may have become one), a number with a fraction, a date or a
  TRUE/FALSE cell. Ages outside 0-110 are counted here and coded unknown by the cleaning.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

if TYPE_CHECKING:  # pandera is imported where a schema is built (0.6 s, not needed to read clean tables)
    import pandera.pandas as pa

from msht.base.plaintext import plain, plain_series

#: Column added to every extract: the record's row number in the source file (header = 1).
SOURCE_ROW = "source_row"
#: Encodings tried, in order, for CSV extracts without a UTF-16 byte-order mark.
CSV_ENCODINGS = ("utf-8-sig", "cp1252")
#: Delimiters a CSV extract may use (the first wins a tie).
DELIMITERS = (",", ";", "\t", "|")
#: Extract names, in the order the pipeline reads them.
EXTRACTS = ("cases", "victims", "police_records", "offenders")
#: Longest value shown in an error message (longer ones are cut, with their length).
SHOWN_VALUE_MAX = 60
#: Invisible characters removed around identifiers (zero-width spaces, joiners, BOM).
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
#: Every character Python's ``str.strip()`` removes (those with ``str.isspace()``), for pyarrow.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_NUMERIC_ID = re.compile(r"^\d+(?:\.0+)?$")
_SCIENTIFIC_ID = re.compile(r"^\d+(?:\.\d+)?[eE][+-]?\d+$")


class ExtractError(ValueError):
    """A raw extract cannot be used as it is; the message says which file, column, row and value."""


#: Severity of a :class:`Problem` the run stops on.
ERROR = "error"
#: Severity of a :class:`Problem` the run counts and handles (a repair, a row excluded by rule...).
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem found in an extract by ``msht check`` (see :mod:`msht.clean.check`).

    ``row`` is the spreadsheet row (header = 1; ``None`` for a file- or column-level problem),
    ``value`` the raw value as text (``None`` when there is none). ``severity`` is
    :data:`ERROR` when the run would stop on it, :data:`WARNING` when the run counts and
    handles it; ``code`` names the check (``not_nullable``, ``id_scientific``, an exclusion rule...).
    """

    extract: str
    column: str
    row: int | None
    value: str | None
    problem: str
    severity: str
    code: str
    sheet: str = ""


#: Where lazy validation collects problems instead of raising at the first (``None``: raise).
Problems = list[Problem] | None


def column_label(column: str, headers: Mapping[str, str] | None = None, quote: str = "'") -> str:
    """How a message names ``column`` (a dictionary field) of a file: ``'date_of_birth'`` when the
    file's header is the field's name, else the file's own header and the field it was read as,
    ``'Vic_Birth_Dt' (date_of_birth)`` (a params file's ``columns:`` mapping, or an alias), so that
    the analyst finds the column in the file. ``headers``: field -> the file's header
    (:attr:`Extract.headers`); a field not in it is named as it is. ``quote=""`` for a table's
    cell (``Vic_Birth_Dt (date_of_birth)``)."""
    header = (headers or {}).get(column)
    if header is None or header.strip() == column:
        return f"{quote}{column}{quote}"
    return f"{quote}{header.strip()}{quote} ({column})"


class SourceFile(str):
    """A file's name as messages give it (``victims.csv``), carrying the file's own header of each
    field (``headers``: field -> header, :attr:`Extract.headers`) for :func:`column_label`. Behaves
    as the plain name everywhere else."""

    headers: dict[str, str]

    def __new__(cls, name: str, headers: Mapping[str, str] | None = None) -> SourceFile:
        self = super().__new__(cls, name)
        self.headers = dict(headers or {})
        return self


def _headers_of(frame: pd.DataFrame, raw_header: Sequence[str]) -> dict[str, str]:
    """Field -> the file's own header, for the fields of ``frame`` (in the order of ``raw_header``,
    the kept columns' headers that :func:`_finish_frame` records)."""
    return dict(zip([c for c in frame.columns if c != SOURCE_ROW], (str(h) for h in raw_header)))


def show_value(value: object, limit: int = SHOWN_VALUE_MAX) -> str:
    """A value for an error message: quoted, and cut to ``limit`` characters with its length."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


# ----------------------------------------------------------------------------------------------
# The data dictionary
# ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def load_dictionary() -> dict[str, Any]:
    """Return the machine-readable data dictionary (``msht/data/dictionary.yaml``)."""
    text = resources.files("msht").joinpath("data/dictionary.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def extract_fields(name: str) -> dict[str, dict[str, Any]]:
    """Return the dictionary's field specifications of extract ``name``."""
    return load_dictionary()["extracts"][name]["fields"]


def normalise_header(text: object) -> str:
    """A header as a field name: format characters (Cf) dropped, NFKC, casefold, every run of
    characters other than letters and digits -> ``_``, no ``_`` at either end."""
    s = plain(str(text)).casefold()
    s = re.sub(r"[^0-9a-z]+", "_", s)
    return s.strip("_")


@lru_cache(maxsize=None)
def header_aliases(name: str) -> dict[str, str]:
    """Normalised header -> field of extract ``name``: each field's own name and its ``aliases``."""
    out: dict[str, str] = {}
    for fname, spec in extract_fields(name).items():
        for spelling in (fname, *spec.get("aliases", ())):
            key = normalise_header(spelling)
            if out.get(key, fname) != fname:
                raise ValueError(f"dictionary.yaml: header {spelling!r} of {name} maps to both {out[key]} and {fname}")
            out[key] = fname
    return out


def id_fields(name: str) -> list[str]:
    """The identifier fields (``kind: id``) of extract ``name``."""
    return [f for f, spec in extract_fields(name).items() if spec["kind"] == "id"]


#: The ``codes:`` entry of a field whose codes are the country names of ``who_regions.csv``.
COUNTRIES = "countries"
#: Fields that may hold several values: a raw value whose parts (split on ``; , / | +``) are
#: all mapped is read as the parts' spellings joined by ``"; "`` (``"1;3"``).
SEVERAL_VALUES = {("cases", "exploitation_type"), ("victims", "nationality"), ("offenders", "nationality")}
_PARTS_RE = re.compile(r"\s*[;,/|+]\s*")


def value_codes(name: str) -> dict[str, dict[str, str]]:
    """Field -> code -> spelling, for the fields of extract ``name`` that take a value mapping
    (the dictionary's ``codes:``): the codes a force's raw codes may be mapped to, and the
    spelling the reader writes in place of a mapped raw code. A field whose entry is
    :data:`COUNTRIES` takes the country names of ``msht/data/who_regions.csv``, each as itself."""
    out: dict[str, dict[str, str]] = {}
    for f, codes in load_dictionary()["codes"].get(name, {}).items():
        if codes == COUNTRIES:
            from msht.ingest import coding

            out[f] = {c: c for c in coding.who_regions()["country"]}
        else:
            out[f] = {str(c): str(v) for c, v in codes.items()}
    return out


@dataclass(frozen=True)
class ExtractMapping:
    """How a force's file of one extract differs from the dictionary (a params file's
    ``columns:``, ``values:``, ``sheets:`` and ``files:``, validated by :mod:`msht.params_schema`).

    ``columns``: header as the force writes it -> field (compared after :func:`normalise_header`;
    it wins over the dictionary's aliases, and is not noted: it is configuration, not a repair).
    ``values``: field -> raw code -> project code (see :func:`value_codes`; raw codes compared
    after NFKC, stripping and casefolding). ``sheet``: the worksheet of an ``.xlsx`` to read
    (title lines above its header are then part of the layout, skipped without a note).
    ``file``: the file's name in the folder (``.csv`` or ``.xlsx``) when it is not the extract's
    own (``cases.csv``...).
    """

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    sheet: str | None = None
    file: str | None = None


def mappings_from(params: Any) -> dict[str, ExtractMapping]:
    """The :class:`ExtractMapping` of each extract from a run's params (its ``columns``,
    ``values``, ``sheets`` and ``files``: extract -> ...); extracts with no mapping are left out."""
    columns, values, sheets = params.columns, params.values, params.sheets
    files = getattr(params, "files", {}) or {}
    return {
        name: ExtractMapping(columns=dict(columns.get(name, {})), values=dict(values.get(name, {})),
                             sheet=sheets.get(name), file=files.get(name))
        for name in EXTRACTS
        if name in columns or name in values or name in sheets or name in files
    }


def _aliases(name: str, mapping: ExtractMapping | None) -> dict[str, str]:
    """:func:`header_aliases` of extract ``name`` with the mapping's headers on top."""
    if mapping is None or not mapping.columns:
        return header_aliases(name)
    return {**header_aliases(name), **{normalise_header(h): f for h, f in mapping.columns.items()}}


def _map_key(value: object) -> str:
    """A raw code as a value mapping compares it: NFKC, no format characters, stripped, casefolded."""
    return plain(str(value)).strip().casefold()


def _mapped_value(value: str, lookup: dict[str, str], several: bool) -> str | None:
    """The spelling ``value`` is read as under ``lookup`` (mapping key -> spelling), or ``None``.
    With ``several``, a value whose parts are all mapped gives their spellings joined by ``"; "``."""
    key = _map_key(value)
    if key in lookup:
        return lookup[key]
    if several:
        parts = [p for p in _PARTS_RE.split(key) if p]
        if len(parts) > 1 and all(p in lookup for p in parts):
            return "; ".join(dict.fromkeys(lookup[p] for p in parts))
    return None


def apply_value_mapping(frame: pd.DataFrame, name: str, mapping: ExtractMapping | None) -> pd.DataFrame:
    """``frame`` with each raw code of the mapping's ``values`` replaced by the spelling of its
    project code (:func:`value_codes`); values the mapping does not name are left as they are.
    In a field of :data:`SEVERAL_VALUES`, a value made of mapped raw codes (``"1;3"``) is read as
    their spellings joined by ``"; "``."""
    if mapping is None or not mapping.values:
        return frame
    spellings = value_codes(name)
    frame = frame.copy()
    for col, table in mapping.values.items():
        if col not in frame.columns:
            continue
        lookup = {_map_key(raw): spellings[col][str(code)] for raw, code in table.items()}
        several = (name, col) in SEVERAL_VALUES
        distinct = pd.unique(frame[col].dropna().to_numpy(dtype=object))
        replace = {v: s for v in distinct if isinstance(v, str) and (s := _mapped_value(v, lookup, several)) is not None}
        if replace:
            frame[col] = frame[col].map(lambda v: replace.get(v, v) if isinstance(v, str) else v)
    return frame


def _name_for(path: Path) -> str | None:
    stem = path.stem.casefold()
    for name, spec in load_dictionary()["extracts"].items():
        if spec["file"].casefold() == stem:
            return name
    return None


#: At most this many file names are listed when an extract is not found.
MAX_FILES_LISTED = 20


def _folder_files(raw_dir: Path) -> str:
    """The names of the files in ``raw_dir`` (for an error saying what is there: the first
    :data:`MAX_FILES_LISTED`, then how many more), or why there are none."""
    if not raw_dir.is_dir():
        return "the folder does not exist"
    names = sorted(p.name for p in raw_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    more = f" and {len(names) - MAX_FILES_LISTED:,} more" if len(names) > MAX_FILES_LISTED else ""
    return "the folder holds: " + (", ".join(names[:MAX_FILES_LISTED]) + more if names else "no files")


def find_extract(raw_dir: Path, name: str, file: str | None = None) -> Path:
    """Return the file of extract ``name`` in ``raw_dir``: ``file`` when given (a params file's
    ``files:``), else ``<extract>.csv`` or, failing that, ``<extract>.xlsx``; the file name's case
    does not matter. A missing file is an :class:`ExtractError` listing the folder's files."""
    stem = load_dictionary()["extracts"][name]["file"]
    wanted = [file] if file else [f"{stem}.csv", f"{stem}.xlsx"]
    for candidate in wanted:
        if (raw_dir / candidate).exists():
            return raw_dir / candidate
    if raw_dir.is_dir():
        order = {w.casefold(): i for i, w in enumerate(wanted)}
        found = sorted((order[p.name.casefold()], p.name, p) for p in raw_dir.iterdir() if p.name.casefold() in order)
        if found:
            return found[0][2]
    looked = f"the params file's files: names {file}" if file else f"looked for {stem}.csv and {stem}.xlsx"
    raise ExtractError(f"{raw_dir / wanted[0]}: extract '{name}' not found ({looked}); {_folder_files(raw_dir)}")


# ----------------------------------------------------------------------------------------------
# Reading files into (header, records)
# ----------------------------------------------------------------------------------------------

Notes = list[tuple[str, int]]
Records = list[tuple[int, list[str]]]  # (spreadsheet row number, fields)


#: A byte that is not white space, a NUL or part of a UTF-8 BOM: the file holds something.
_NOT_BLANK = re.compile(rb"[^ \t\r\n\xef\xbb\xbf\x00]")


def _sniff_format(path: Path, data: bytes) -> str:
    """``"xlsx"``, ``"utf16"`` or ``"text"``; raise for formats that cannot be an extract."""
    head = data[:65536]
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf16"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExtractError(
            f"{path}: this is an old Excel .xls (or other Office) file, not CSV or XLSX: "
            "open it in Excel and save it as .xlsx or as CSV UTF-8"
        )
    if head.startswith(b"%PDF"):
        raise ExtractError(f"{path}: this is a PDF document, not a CSV or XLSX extract")
    if head.startswith(b"\x1f\x8b"):
        raise ExtractError(f"{path}: this is a compressed (gzip) file: unpack it first")
    lowered = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")):
        raise ExtractError(
            f"{path}: this is an HTML/XML page (some systems save one under a .csv or .xls name), "
            "not a CSV extract: open it in Excel and save it as CSV UTF-8 or .xlsx"
        )
    control = sum(1 for b in head[:8192] if b < 32 and b not in (9, 10, 13))
    if b"\x00" in head or control > max(8, len(head[:8192]) // 50):
        raise ExtractError(
            f"{path}: the file holds binary data, not text: it is not a CSV extract " "(expected CSV or XLSX)"
        )
    return "text"


def _decode(path: Path, data: bytes, kind: str) -> tuple[str, memoryview | None]:
    """The text of ``data`` (UTF-16 with a BOM, else UTF-8 with or without a BOM, else
    Windows-1252), and, when it was UTF-8, its bytes without the BOM (a view of ``data``: the
    text's own UTF-8, which the pyarrow reader then reads without encoding the text again)."""
    if kind == "utf16":
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as exc:
            raise ExtractError(
                f"{path}: the file starts with a UTF-16 byte-order mark but is not valid UTF-16: {exc}"
            ) from None
    body = memoryview(data)[3:] if data.startswith(b"\xef\xbb\xbf") else memoryview(data)
    try:
        return str(body, "utf-8"), body
    except UnicodeDecodeError:
        pass
    try:
        return str(body, "cp1252"), None
    except UnicodeDecodeError as exc:
        line = body[: exc.start].tobytes().count(b"\n") + 1
        raise ExtractError(
            f"{path}: line {line}: byte 0x{body[exc.start]:02x} is neither UTF-8 nor Windows-1252 text; "
            "save the file as CSV UTF-8"
        ) from None


def _first_lines(text: str, n: int) -> list[str]:
    """``text.splitlines()[:n]``, splitting only the start of a large text when it holds them."""
    head = text[: 1 << 16].splitlines()
    return head[:n] if len(head) > n + 1 else text.splitlines()[:n]


def _sniff_delimiter(text: str) -> str:
    lines = [ln for ln in _first_lines(text, 50) if ln.strip()][:20]
    best, best_score = ",", 0
    for delim in DELIMITERS:
        score = max((ln.count(delim) for ln in lines), default=0)
        if score > best_score:
            best, best_score = delim, score
    return best


def _parse_csv(path: Path, text: str, delimiter: str) -> Records:
    old_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    records: Records = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    row = 0
    try:
        for fields in reader:
            row += 1
            records.append((row, fields))
    except csv.Error as exc:
        where = f"line {reader.line_num}" + (f" (record on row {row + 1})" if row + 1 != reader.line_num else "")
        hint = "a quoted field never ends" if "end of data" in str(exc) else "check the quoting"
        raise ExtractError(f"{path}: {where}: not readable as CSV ({exc}; {hint})") from None
    finally:
        csv.field_size_limit(old_limit)
    return records


#: Files smaller than this, and with fewer lines than :data:`FAST_PATH_MIN_LINES`, are always read
#: by the careful parser (the fast path pays off on big files).
FAST_PATH_MIN_CHARS = 1 << 20
#: Files with at least this many lines take the fast path whatever their size: the careful parser
#: costs per record (a published force's 880 KB police-record file of 29,000 short lines reads 5
#: times faster by pyarrow), the fast path per column (a 400 KB case file of 2,700 wide lines
#: reads faster by the careful parser).
FAST_PATH_MIN_LINES = 10_000


def _fast_csv(path: Path, name: str, text: str, delimiter: str, notes: Notes,
              mapping: ExtractMapping | None = None, utf8: memoryview | None = None) -> pd.DataFrame | None:
    """Read a well-formed CSV with pyarrow's CSV reader; ``None`` when anything is irregular.

    Used only when the result is provably that of :func:`_parse_csv` + :func:`_frame`: no NUL
    or leading BOM, every quote part of a well-formed quoted field (opened at the start of a
    field, closed at its end), the header on the first row, every record as wide as the header
    and none blank. Anything else (and any parser error) goes to the careful parser.
    ``utf8``: the text's UTF-8 bytes when at hand (else the text is encoded for pyarrow).
    """
    if len(text) < FAST_PATH_MIN_CHARS and text.count("\n", 0, FAST_PATH_MIN_CHARS) < FAST_PATH_MIN_LINES:
        return None
    if "\x00" in text or text.startswith("\ufeff"):
        return None
    if _stray_quote(text, delimiter):
        return None
    try:
        import pyarrow as pa_
        import pyarrow.csv as pacsv

        head = text[: text.find("\n", 1 << 16) + 1 or None]  # the header row, without copying the whole text
        first = next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter, strict=True))
        width = len(first)
        names = [f"f{j}" for j in range(width)]
        arrow = pacsv.read_csv(
            pa_.BufferReader(pa_.py_buffer(utf8) if utf8 is not None else text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, quote_char='"', double_quote=True, escape_char=False,
                newlines_in_values=True, ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa_.string() for n in names}, null_values=[], strings_can_be_null=False,
                quoted_strings_can_be_null=False, check_utf8=True,
            ),
        )
        import pyarrow.compute as pc

        # blank cells (empty or white space only, as str.strip() sees it), found in arrow
        blank_cols = [
            pc.equal(pc.utf8_length(pc.utf8_trim(col, characters=PY_WHITESPACE)), 0).to_numpy() for col in arrow.columns
        ]
        if not arrow.num_rows or any(col.null_count for col in arrow.columns):
            return None
        ids = _id_columns(name, [col[0].as_py() for col in arrow.columns], mapping)
        table = pd.DataFrame({j: pd.Series(pd.arrays.ArrowStringArray(col)) if j in ids
                              else pd.Series(_shared_strings(col), dtype=object) for j, col in enumerate(arrow.columns)})
        del arrow
    except Exception:  # any parser complaint (ragged rows...): the careful parser reports it properly
        return None
    head = [(i + 1, [str(v) for v in table.iloc[i].tolist()]) for i in range(min(len(table), 20))]
    if any(not any(v.strip() for v in f) for _, f in head):
        return None
    probe: Notes = []
    if _find_header(path, name, head, probe, mapping) != 0 or probe:
        return None
    body = table.iloc[1:].reset_index(drop=True)
    blanks = pd.DataFrame({j: b[1:] for j, b in enumerate(blank_cols)}, index=body.index)
    if len(body) and blanks.all(axis=1).any():
        return None
    body.columns = range(width)
    return _finish_frame(path, name, head[0][1], body, range(2, len(body) + 2), notes, blanks=blanks, mapping=mapping)


#: A quoted field: an opening quote, then text in which quotes come in pairs, then a closing quote.
_QUOTED_FIELD = re.compile('"[^"]*(?:""[^"]*)*"')


def _stray_quote(text: str, delimiter: str) -> bool:
    """Whether ``text`` holds a quote that is not part of a well-formed quoted field: one that
    opens at the start of a field (the text's start, or after ``delimiter``, ``\\r`` or
    ``\\n``) and closes at its end (before one of those, or the text's end).

    The quoted fields are found left to right (:data:`_QUOTED_FIELD`, which starts with a
    quote, so ``re`` jumps from quote to quote instead of trying every character); the text is
    well-formed when each of them starts and ends a field and together they hold every quote.
    A stray quote either makes a match start or end inside a field, or is left outside every
    match. (Each match is the quoted field a scan anchored at field starts would find there:
    within a well-formed field, quotes come in pairs up to the closing one, which no quote follows.)
    """
    n_quotes = text.count('"')
    if not n_quotes:
        return False
    ends = {delimiter, "\r", "\n"}
    found = 0
    for m in _QUOTED_FIELD.finditer(text):
        start, end = m.span()
        if (start and text[start - 1] not in ends) or (end < len(text) and text[end] not in ends):
            return True
        found += text.count('"', start, end)
    return found != n_quotes


def _id_columns(name: str | None, raw_header: list[str], mapping: ExtractMapping | None = None) -> set[int]:
    """Positions of the columns of ``raw_header`` that :func:`_finish_frame` reads as identifier fields."""
    if not name:
        return set()
    aliases, ids = _aliases(name, mapping), set(id_fields(name))
    return {j for j, raw in enumerate(raw_header) if aliases.get(normalise_header(raw), normalise_header(raw)) in ids}


def is_arrow_text(values: pd.Series) -> bool:
    """Whether ``values`` is a pyarrow-backed ``string`` column with ``<NA>`` for missing (the
    dtype of identifier fields in an extract frame: every value is a ``str`` or missing)."""
    dtype = values.dtype
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and dtype.na_value is pd.NA


def _shared_strings(column: Any) -> np.ndarray:
    """A pyarrow string column as an object array of ``str`` in which equal cells share one
    Python string: each distinct value is made a Python string once (a national extract repeats
    a few thousand codes and dates over millions of rows, which then take a pointer each)."""
    encoded = column.combine_chunks().dictionary_encode()
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False)
    return distinct[encoded.indices.to_numpy(zero_copy_only=False)]


def _cell_text(value: object) -> str:
    """An XLSX cell as the text an export would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d") if value.time() == time(0, 0) else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


#: Largest magnitude of a number Excel stores exactly as a whole identifier (15 significant digits).
EXCEL_EXACT_DIGITS_LIMIT = 10**15


def _suspect_cell(value: object) -> str | None:
    """Why a typed XLSX cell cannot be an identifier (``None`` when it can): a number of 10^15 or
    more (Excel keeps 15 significant digits, so digits are lost), a number with a fraction, a
    date or time, or TRUE/FALSE."""
    if isinstance(value, bool):
        return "is TRUE/FALSE, not an identifier"
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            return "is a number with a fraction, not an identifier (Excel may have rounded or reformatted it)"
        if abs(value) >= EXCEL_EXACT_DIGITS_LIMIT:
            return ("is a number of 16 digits or more: Excel keeps only 15 significant digits, so the identifier "
                    "has lost digits and two different IDs may now be the same")
        return None
    if isinstance(value, datetime | date | time):
        return "is a date, not an identifier (Excel turns identifiers such as 1-2 into dates)"
    return None


#: Typed XLSX cells that cannot be identifiers: (spreadsheet row, column index) -> (why, cell text).
SuspectCells = dict[tuple[int, int], tuple[str, str]]


def _number_text(value: float | int) -> str:
    """A number as Excel shows it in full (no exponent): ``1234567890123450``, ``12345.5``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int) else repr(value)


def _check_xlsx_ids(path: Path, sheet: str, frame: pd.DataFrame, name: str, suspects: SuspectCells,
                    problems: Problems = None) -> None:
    """Raise :class:`ExtractError` for the first typed cell of an identifier column that cannot be
    an identifier (file, sheet, column, row and value); with ``problems``, add them all there."""
    if not suspects:
        return
    columns = frame.attrs.get("source_columns", [])
    fields = [c for c in frame.columns if c != SOURCE_ROW]
    by_index = {j: f for j, f in zip(columns, fields)}
    headers = _headers_of(frame, frame.attrs.get("raw_header", []))
    ids = set(id_fields(name))
    rows = set(frame[SOURCE_ROW].tolist())
    for (row, j), (why, text) in sorted(suspects.items()):
        col = by_index.get(j)
        if col in ids and row in rows and problems is not None:
            problems.append(Problem(name, col, row, text, why, ERROR, "id_xlsx_cell", sheet))
        elif col in ids and row in rows:
            raise ExtractError(
                f"{path}: sheet {sheet!r}, column {column_label(col, headers)}, row {row}: value {show_value(text)} {why}: "
                "re-export the column formatted as text"
            )


def _pick_sheet(path: Path, wb: Any, name: str | None, sheet: str | None) -> tuple[Any, str]:
    """The worksheet to read and why: ``sheet`` (a params file's ``sheets:``; its name compared
    after :func:`normalise_header`) if given, which must exist; else the visible sheet named like
    the extract, else the first visible sheet."""
    if sheet is not None:
        chosen = [ws for ws in wb.worksheets if normalise_header(ws.title) == normalise_header(sheet)]
        if not chosen:
            titles = ", ".join(repr(ws.title) for ws in wb.worksheets)
            raise ExtractError(f"{path}: sheet {sheet!r} (params sheets:) is not in the workbook; its sheets: {titles}")
        return chosen[0], "named in the params file"
    visible = [ws for ws in wb.worksheets if getattr(ws, "sheet_state", "visible") == "visible"]
    if not visible:
        raise ExtractError(f"{path}: the workbook has no visible sheet")
    wanted = {normalise_header(name or ""), normalise_header(path.stem)} - {""}
    named = [ws for ws in visible if normalise_header(ws.title) in wanted]
    return (named[0], "named like the extract") if named else (visible[0], "the first sheet")


def _read_xlsx(path: Path, name: str | None, notes: Notes, suspects: SuspectCells | None = None,
               sheet_title: list[str] | None = None, sheet_name: str | None = None) -> Records:
    """Read the extract's sheet as text records (``sheet_name``: the sheet a params file names).
    ``suspects`` (if given) receives the typed cells that cannot be identifiers (see
    :func:`_suspect_cell`), ``sheet_title`` the sheet read."""
    from openpyxl import load_workbook

    try:
        # a file object: openpyxl would refuse a workbook saved under a .csv name by its extension
        wb = load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise ExtractError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet, reason = _pick_sheet(path, wb, name, sheet_name)
        records: Records = []
        for row, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            texts = [_cell_text(v) for v in values]
            if suspects is not None:
                for j, v in enumerate(values):
                    why = None if v is None or isinstance(v, str) else _suspect_cell(v)
                    if why:
                        suspects[(row, j)] = (why, texts[j] if not isinstance(v, int | float) else _number_text(v))
            records.append((row, texts))
        if sheet_title is not None:
            sheet_title.append(sheet.title)
        if len(wb.worksheets) > 1 and sheet_name is None:
            titles = ", ".join(repr(ws.title) for ws in wb.worksheets)
            notes.append((f"workbook has {len(wb.worksheets)} sheets ({titles}): read {sheet.title!r} ({reason})", 0))
        return records
    finally:
        wb.close()


def _find_header(path: Path, name: str | None, records: Records, notes: Notes,
                 mapping: ExtractMapping | None = None) -> int:
    """Index in ``records`` of the header row: the first non-blank record, or, when that names no
    field of the extract, a later one among the first 20 that names most of its required fields."""
    # the first 20 non-blank records are all the search looks at ("".join(f).strip(): a field not blank)
    nonblank = list(itertools.islice((i for i, (_, f) in enumerate(records) if "".join(f).strip()), 20))
    if not nonblank:
        raise ExtractError(f"{path}: the file is empty (no header row)")
    first = nonblank[0]
    if name is None:
        return first
    aliases = _aliases(name, mapping)
    required = {f for f, spec in extract_fields(name).items() if spec["required"]}

    def hits(i: int) -> int:
        return len({aliases.get(normalise_header(v)) for v in records[i][1]} & required)

    if hits(first):
        return first
    for i in nonblank[1:20]:
        if hits(i) * 2 >= len(required):
            if mapping is None or mapping.sheet is None:  # a sheet the params file names: its layout, not a repair
                notes.append((f"header found on row {records[i][0]}: {records[i][0] - 1} line(s) above it skipped", 0))
            return i
    return first


def _frame(path: Path, name: str | None, records: Records, delimiter: str, notes: Notes,
           mapping: ExtractMapping | None = None) -> pd.DataFrame:
    """Build the text frame: header mapped to fields, records padded or checked, ``source_row``."""
    h = _find_header(path, name, records, notes, mapping)
    header_row, raw_header = records[h]
    body = [(row, f) for row, f in records[h + 1 :] if "".join(f).strip()]  # a record with a field not blank
    blank = len(records) - h - 1 - len(body)
    if blank:
        notes.append(("blank lines skipped", blank))
    width = len(raw_header)
    short = 0
    trimmed = 0
    fixed: list[list[str]] = []
    for row, f in body:
        if len(f) < width:
            short += 1
            f = f + [""] * (width - len(f))
        elif len(f) > width:
            extra = f[width:]
            if any(v.strip() for v in extra):
                value = next(v for v in extra if v.strip())
                raise ExtractError(
                    f"{path}: row {row} has {len(f)} fields but the header has {width} (is there an unquoted "
                    f"{delimiter!r} in a free-text field?); first value beyond the last column: {show_value(value)}"
                )
            trimmed += 1
            f = f[:width]
        fixed.append(f)
    if short:
        notes.append(("records with fewer fields than the header (padded with blanks)", short))
    if trimmed:
        notes.append(("records with empty fields beyond the header (ignored)", trimmed))
    frame = (
        pd.DataFrame(fixed, columns=range(width), dtype=object)
        if fixed
        else pd.DataFrame(columns=range(width), dtype=object)
    )
    return _finish_frame(path, name, raw_header, frame, [row for row, _ in body], notes, mapping=mapping)


def _blank_cells(column: pd.Series) -> pd.Series:
    """``column.astype(str).str.strip().eq("")``, computed on the distinct values only."""
    uniques = pd.unique(column.to_numpy(dtype=object))
    blank = [u for u in uniques if not str(u).strip()]
    return column.isin(blank) if blank else pd.Series(False, index=column.index)


def _finish_frame(
    path: Path, name: str | None, raw_header: list[str], frame: pd.DataFrame, source_rows: Any, notes: Notes,
    blanks: pd.DataFrame | None = None, mapping: ExtractMapping | None = None,
) -> pd.DataFrame:
    """Map the header of a text frame (columns ``0..width-1``) to fields; add ``source_row``.

    ``blanks``, when given, holds :func:`_blank_cells` of every column (same labels), already computed.
    """
    if blanks is None:
        blanks = pd.DataFrame({j: _blank_cells(frame[j]) for j in frame.columns}, index=frame.index)
    # header: normalise, map aliases, drop empty unnamed columns, refuse duplicates
    aliases = _aliases(name, mapping) if name else {}
    configured = {normalise_header(h) for h in mapping.columns} if mapping is not None else set()
    names: list[str] = []
    keep: list[int] = []
    for j, raw in enumerate(raw_header):
        norm = normalise_header(raw)
        if not norm:
            if blanks[j].all():
                notes.append((f"empty column {j + 1} with no header (ignored)", 0))
                continue
            norm = f"column_{j + 1}"
            notes.append((f"column {j + 1} has values but no header (kept as {norm}, not used)", len(frame)))
        target = aliases.get(norm, norm)
        if norm in configured:
            pass  # the params file's columns: mapping is configuration, not a repair
        elif name and target != norm and normalise_header(target) != norm:
            notes.append((f"column {raw.strip()!r} read as {target}", 0))
        elif name and target not in extract_fields(name):
            notes.append((f"column {raw.strip()!r} is not in the data dictionary (kept, not used)", 0))
        names.append(target)
        keep.append(j)
    seen: dict[str, int] = {}
    for j, target in zip(keep, names):
        if target in seen:
            first = seen[target]
            raise ExtractError(
                f"{path}: duplicate column header(s) ['{target}']: columns {first + 1} ({raw_header[first].strip()!r}) "
                f"and {j + 1} ({raw_header[j].strip()!r}) are both read as {target}"
            )
        seen[target] = j
    frame = frame[keep]
    frame.columns = names
    if name:  # identifier fields: pyarrow-backed text (the careful parser's too), read without conversion later
        ids = [c for c in id_fields(name) if c in names and not is_arrow_text(frame[c])]
        frame = frame.astype(dict.fromkeys(ids, pd.StringDtype("pyarrow"))) if ids else frame
    blanks = blanks[keep]
    blanks.columns = names
    if len(frame):  # blank cells -> missing, column by column where there are any
        frame = frame.assign(**{col: frame[col].mask(blanks[col], pd.NA)
                                for col in blanks.columns[blanks.any().to_numpy(dtype=bool)]})
    frame.insert(0, SOURCE_ROW, source_rows)
    frame[SOURCE_ROW] = frame[SOURCE_ROW].astype(int)
    frame = frame.reset_index(drop=True)
    # set last: pandas deep-copies a frame's attrs on every operation on it
    frame.attrs = {"raw_header": [raw_header[j] for j in keep], "source_columns": list(keep)}
    return frame


def read_raw(path: Path, name: str | None = None, problems: Problems = None,
             mapping: ExtractMapping | None = None) -> pd.DataFrame:
    """Read one extract file as text, with field-name headers and a ``source_row`` column.

    ``name`` (the extract, e.g. ``cases``; default: from the file name) selects the header
    aliases and the XLSX sheet. The frame's ``attrs["notes"]`` lists what was repaired, as
    ``(problem, rows)`` pairs. With ``problems``, typed XLSX cells that cannot be identifiers
    are all added there instead of raising at the first. ``mapping``: the force's headers and
    worksheet (see :class:`ExtractMapping`; its values are applied by :func:`read_extract`).
    """
    name = name or _name_for(path)
    notes: Notes = []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if not _NOT_BLANK.search(data):
        raise ExtractError(f"{path}: the file is empty (no header row)")
    kind = "xlsx" if path.suffix.lower() == ".xlsx" else _sniff_format(path, data)
    delimiter = ","
    frame = None
    suspects: SuspectCells = {}
    sheet_title: list[str] = []
    if kind == "xlsx":
        if path.suffix.lower() != ".xlsx":
            notes.append((f"the file is an XLSX workbook named {path.suffix}: read as XLSX", 0))
        records = _read_xlsx(path, name, notes, suspects, sheet_title, mapping.sheet if mapping else None)
    else:
        text, utf8 = _decode(path, data, kind)
        delimiter = _sniff_delimiter(text)
        if delimiter != ",":
            notes.append((f"the file uses {delimiter!r} as its delimiter (read as such)", 0))
        frame = _fast_csv(path, name, text, delimiter, notes, mapping, utf8) if name else None
        if frame is None:
            records = _parse_csv(path, text, delimiter)
    if frame is None:
        frame = _frame(path, name, records, delimiter, notes, mapping)
    if kind == "xlsx" and name:
        _check_xlsx_ids(path, sheet_title[0] if sheet_title else "?", frame, name, suspects, problems)
    frame.attrs["sheet"] = sheet_title[0] if sheet_title else ""
    rows = len(frame)
    frame.attrs["notes"] = [(problem, n if n else rows) for problem, n in notes]
    return frame


# ----------------------------------------------------------------------------------------------
# Values: identifiers and ages
# ----------------------------------------------------------------------------------------------


def _normalise_distinct(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The identifier normalisation of distinct values ``text`` (``string`` dtype): canonical
    values (``string``), whether white space or format characters were removed, whether a
    numeric ID was rewritten. Format characters (Unicode Cf) are removed wherever they are and
    compatibility forms folded (NFKC: :func:`msht.base.plaintext.plain`), then white space stripped."""
    stripped = plain_series(text).str.strip(" \t\r\n\u00a0" + _INVISIBLE).str.strip()
    was_stripped = (stripped != text).fillna(False).astype(bool)
    numeric = stripped.str.fullmatch(_NUMERIC_ID).fillna(False).astype(bool)
    canon = stripped.copy()
    if numeric.any():
        canon[numeric] = stripped[numeric].str.replace(r"\.0+$", "", regex=True).str.lstrip("0").replace({"": "0"})
    rewritten = (canon != stripped).fillna(False).astype(bool)
    return canon, was_stripped, rewritten


def _normalise_ids_python(values: pd.Series) -> tuple[pd.Series, int, int, np.ndarray, np.ndarray]:
    """:func:`_normalise_ids_coded` with pandas string methods (the reference implementation)."""
    text = values.astype("string")
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype="string")
    canon_u, stripped_u, rewritten_u = _normalise_distinct(distinct)
    present = codes >= 0
    n_stripped = int(stripped_u.to_numpy()[codes[present]].sum())
    n_numeric = int(rewritten_u.to_numpy()[codes[present]].sum())
    canon_u = canon_u.replace({"": pd.NA})
    sci_u = canon_u.str.fullmatch(_SCIENTIFIC_ID).fillna(False).astype(bool).to_numpy()
    lookup = canon_u.astype(object).where(canon_u.notna(), pd.NA).to_numpy(dtype=object)
    out = np.empty(len(codes), dtype=object)
    out[:] = pd.NA
    out[present] = lookup[codes[present]]
    series = pd.Series(out, index=values.index, name=values.name, dtype=object)
    try:  # pyarrow-backed text, as the pyarrow path gives it (objects for text pyarrow cannot hold: lone surrogates)
        series = series.astype(pd.StringDtype("pyarrow"))
    except UnicodeError:
        pass
    return series, n_stripped, n_numeric, codes, sci_u


def arrow_distinct(values: pd.Series) -> tuple[np.ndarray, Any] | None:
    """``values`` as pyarrow sees them: the code of each row in the distinct values (-1:
    missing) and the distinct values (a pyarrow string array, in order of first appearance, as
    :func:`pandas.factorize` gives them); ``None`` when the values are not all text or missing."""
    import pyarrow as pa_

    arrow = getattr(values.array, "_pa_array", None)  # a pyarrow-backed string column: used as it is
    if arrow is not None and pa_.types.is_large_string(arrow.type):
        encoded = arrow.combine_chunks().dictionary_encode()
        return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp), encoded.dictionary
    try:
        raw = pa_.array(values.to_numpy(dtype=object), type=pa_.large_string(), from_pandas=True)
    except (pa_.ArrowInvalid, pa_.ArrowTypeError, UnicodeError):
        return None
    encoded = raw.dictionary_encode()
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp), encoded.dictionary


#: Rows of an identifier column looked at to tell whether its values are mostly distinct.
DISTINCT_SAMPLE = 1 << 16
#: Share of distinct values among :data:`DISTINCT_SAMPLE` rows above which a column's values are
#: normalised row by row (one incident reference per police-record entry) rather than once each.
MOSTLY_DISTINCT = 0.9


def _values_to_normalise(values: pd.Series) -> tuple[np.ndarray, Any] | None:
    """The values :func:`_normalise_ids_arrow` normalises, as a pyarrow array, and the code of
    each row among them (-1: missing): the distinct values (:func:`arrow_distinct`) or, for a
    pyarrow-backed column of more than :data:`DISTINCT_SAMPLE` rows whose first
    :data:`DISTINCT_SAMPLE` are mostly distinct (:data:`MOSTLY_DISTINCT`), the present rows
    themselves, in order: the normalisation of a value is the same wherever it stands, and a
    table of millions of distinct values would only cost time. ``None``: not all text."""
    import pyarrow as pa_
    import pyarrow.compute as pc

    arrow = getattr(values.array, "_pa_array", None)
    if arrow is not None and pa_.types.is_large_string(arrow.type) and len(arrow) > DISTINCT_SAMPLE:
        if len(pc.unique(arrow.slice(0, DISTINCT_SAMPLE))) > MOSTLY_DISTINCT * DISTINCT_SAMPLE:
            column = arrow.combine_chunks()
            present = column.is_valid().to_numpy(zero_copy_only=False)
            codes = np.where(present, np.cumsum(present) - 1, -1).astype(np.intp)
            return codes, column.drop_null()
    return arrow_distinct(values)


def _normalise_ids_arrow(values: pd.Series) -> tuple[pd.Series, int, int, np.ndarray, np.ndarray] | None:
    """:func:`_normalise_ids_python` computed with pyarrow's string kernels (several times faster
    on millions of rows); ``None`` when the values are not all text or missing. The codes (and
    the scientific-notation flags) are those of :func:`_values_to_normalise`: of the distinct
    values, or of the present rows of a column of mostly distinct values.

    Pyarrow handles the distinct values that are pure ASCII, where its regular expressions
    (RE2) and Python's agree exactly; the few others (accents, other scripts' digits, whose
    Unicode tables differ between RE2 and Python) go through :func:`_normalise_distinct`.
    """
    import pyarrow as pa_
    import pyarrow.compute as pc

    encoded = _values_to_normalise(values)
    if encoded is None:
        return None
    codes, distinct = encoded
    stripped = pc.utf8_trim(pc.utf8_trim(distinct, characters=" \t\r\n\u00a0" + _INVISIBLE), characters=PY_WHITESPACE)
    stripped_u = pc.not_equal(stripped, distinct).to_numpy(zero_copy_only=False)
    numeric = pc.match_substring_regex(stripped, r"^[0-9]+(?:\.0+)?$")
    canon = stripped
    if pc.any(numeric).as_py():
        rewritten = pc.utf8_ltrim(pc.replace_substring_regex(stripped, r"\.0+$", ""), characters="0")
        canon = pc.if_else(numeric, pc.if_else(pc.equal(rewritten, ""), "0", rewritten), stripped)
    rewritten_u = pc.not_equal(canon, stripped).to_numpy(zero_copy_only=False)
    canon = pc.if_else(pc.equal(canon, ""), pa_.scalar(None, pa_.large_string()), canon)
    sci_u = pc.fill_null(pc.match_substring_regex(canon, r"^[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]+$"), False)
    sci_u = sci_u.to_numpy(zero_copy_only=False)
    ascii_u = pc.string_is_ascii(distinct)
    other = np.flatnonzero(~ascii_u.to_numpy(zero_copy_only=False))
    if len(other):
        text = pd.Series(distinct.take(pa_.array(other)).to_pylist(), dtype="string")
        canon_o, stripped_o, rewritten_o = _normalise_distinct(text)
        canon_o = canon_o.replace({"": pd.NA})
        stripped_u[other] = stripped_o.to_numpy()
        rewritten_u[other] = rewritten_o.to_numpy()
        sci_u[other] = canon_o.str.fullmatch(_SCIENTIFIC_ID).fillna(False).astype(bool).to_numpy()
        replaced = pa_.array(canon_o.to_numpy(dtype=object, na_value=None), type=pa_.large_string())
        canon = pc.replace_with_mask(canon, pc.invert(ascii_u), replaced)
    present = codes >= 0
    n_stripped = int(stripped_u[codes[present]].sum())
    n_numeric = int(rewritten_u[codes[present]].sum())
    out = pd.arrays.ArrowStringArray(canon.take(pa_.array(codes, type=pa_.int64(), mask=~present)))
    return pd.Series(out, index=values.index, name=values.name), n_stripped, n_numeric, codes, sci_u


def _normalise_ids_coded(values: pd.Series) -> tuple[pd.Series, int, int, np.ndarray, np.ndarray]:
    """:func:`normalise_ids`, computed once per distinct value; also the codes of each row in
    the distinct values (-1: missing) and, per distinct value, whether its canonical form is
    an identifier in scientific notation. Uses pyarrow, or pandas for values that are not text.
    (A large column of mostly distinct values is normalised row by row: its codes are then
    those of the present rows, see :func:`_values_to_normalise`.)"""
    fast = _normalise_ids_arrow(values)
    return fast if fast is not None else _normalise_ids_python(values)


def normalise_ids(values: pd.Series) -> tuple[pd.Series, int, int]:
    """Normalise identifiers (see the module docstring); return them with the number of values
    stripped of white space and the number of numeric IDs rewritten."""
    out, n_stripped, n_numeric, _, _ = _normalise_ids_coded(values)
    return out, n_stripped, n_numeric


#: Identifier text that Excel made of a date or a number typed into a General-format cell
#: ("1-2" -> "01-Feb", "3/4" -> "03/04/2024"): an identifier that looks like a date has lost
#: what it was. Read with ``re`` and with pyarrow (RE2): keep to their common syntax.
DATE_LIKE_ID = (
    r"(?i)^(?:"
    r"\d{1,2}[-/ ](?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*(?:[-/ ]\d{2,4})?"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[-/ ]\d{2,4}"
    r"|\d{1,2}/\d{1,2}/\d{2,4}(?: \d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?"
    r")$"
)
#: Longest missing-value marker looked for among identifiers (longer values are real IDs).
_MARKER_MAX_CHARS = 40


def _distinct_canonical(values: pd.Series, codes: np.ndarray, n_distinct: int) -> Any:
    """The canonical value of each distinct code (the value of its first row): a pyarrow array
    when ``values`` are pyarrow-backed text, else objects (``<NA>`` for missing)."""
    first = np.full(n_distinct, -1, dtype=np.intp)
    rows = np.flatnonzero(codes >= 0)
    first[codes[rows][::-1]] = rows[::-1]
    have = first >= 0
    arrow = getattr(values.array, "_pa_array", None)
    if arrow is not None:
        import pyarrow as pa_

        return arrow.take(pa_.array(first, type=pa_.int64(), mask=~have))
    out = np.empty(n_distinct, dtype=object)
    out[:] = pd.NA
    out[have] = values.iloc[first[have]].to_numpy(dtype=object)
    return out


def id_suspects(canonical: Any) -> tuple[np.ndarray, np.ndarray]:
    """For distinct canonical identifiers (objects, ``<NA>`` for missing; or a pyarrow string
    array, null for missing): whether each is a
    missing-value marker (``NULL``, ``N/K``, ``Unknown``, ``-``... the dictionary's
    ``missing_markers``, compared after :func:`msht.ingest.coding.normalise_text`) and whether it looks
    like a date Excel made of an identifier (:data:`DATE_LIKE_ID`). Two boolean arrays.

    Only short values with no ASCII digit can be markers, so the markers are looked for among
    those alone; the date shapes are matched with pyarrow (the values are all text here).
    """
    from msht.ingest import coding

    n = len(canonical)
    marker = np.zeros(n, dtype=bool)
    datey = np.zeros(n, dtype=bool)
    if not n:
        return marker, datey
    import pyarrow as pa_
    import pyarrow.compute as pc

    arr = canonical if isinstance(canonical, pa_.Array | pa_.ChunkedArray) else pa_.array(
        canonical, type=pa_.large_string(), from_pandas=True)
    candidate = pc.and_(
        pc.less_equal(pc.utf8_length(arr), _MARKER_MAX_CHARS), pc.invert(pc.match_substring_regex(arr, "[0-9]"))
    )
    idx = np.flatnonzero(pc.fill_null(candidate, False).to_numpy(zero_copy_only=False))
    if len(idx):
        text = pd.Series(arr.take(pa_.array(idx)).to_pylist(), dtype="string")
        marker[idx] = (coding.normalise_text(text).isna() & text.notna()).to_numpy(dtype=bool)
    datey[:] = pc.fill_null(pc.match_substring_regex(arr, DATE_LIKE_ID), False).to_numpy(zero_copy_only=False)
    return marker, datey


def _all_rows(frame: pd.DataFrame, values: pd.Series, codes: np.ndarray, flags: np.ndarray) -> list[tuple[int, object]]:
    """The spreadsheet row and the value of every row whose distinct code is flagged."""
    hits = np.flatnonzero((codes >= 0) & flags[np.where(codes >= 0, codes, 0)])
    idx = values.index[hits]
    return list(zip(frame.loc[idx, SOURCE_ROW].astype(int).tolist(), values[idx].tolist()))


#: Identifier problems the run stops on: code -> what is wrong (after the value).
ID_ERRORS = {
    "id_scientific": ("is an identifier in scientific notation (Excel shortened a long number and its digits are "
                      "lost): re-export the column formatted as text"),
    "id_date_like": ("looks like a date, not an identifier (Excel turns identifiers such as 1-2 into dates): "
                     "re-export the column formatted as text"),
    "id_marker_not_nullable": "is a missing-value marker, but the column must have a value in every row",
}


def _id_error(path: Path, name: str, col: str, code: str, hits: list[tuple[int, object]], problems: Problems,
              headers: Mapping[str, str] | None = None) -> None:
    """Raise :class:`ExtractError` for the first of ``hits``, or, collecting, add them all to ``problems``."""
    if problems is None:
        row, value = hits[0]
        raise ExtractError(f"{path}: column {column_label(col, headers)}, row {row}: value {show_value(value)} "
                           f"{ID_ERRORS[code]}")
    problems.extend(Problem(name, col, row, str(value), ID_ERRORS[code], ERROR, code) for row, value in hits)


def _normalise_id_fields(frame: pd.DataFrame, name: str, path: Path, problems: Problems = None,
                         headers: Mapping[str, str] | None = None) -> Notes:
    """Normalise the identifier fields of ``frame`` in place (see the module docstring).

    A missing-value marker becomes blank: counted in a note where the field may be blank (the
    case entry then has no victim ID), an error naming row and value where it may not. An
    identifier Excel has damaged (scientific notation, a date) is an error. With ``problems``,
    every such error is added there (all rows, not only the first) instead of raised.
    """
    notes: Notes = []
    fields = extract_fields(name)
    for col in id_fields(name):
        if col not in frame.columns:
            continue
        raw = frame[col]
        values, n_stripped, n_numeric, codes, sci_u = _normalise_ids_coded(raw)
        if sci_u.any():
            _id_error(path, name, col, "id_scientific", _all_rows(frame, values, codes, sci_u), problems, headers)
        marker_u, datey_u = id_suspects(_distinct_canonical(values, codes, len(sci_u)))
        if datey_u.any():
            _id_error(path, name, col, "id_date_like", _all_rows(frame, values, codes, datey_u), problems, headers)
        if marker_u.any() and not fields[col]["nullable"]:
            # raised; or collected, and then the markers stay (listed once, not again as empty values)
            _id_error(path, name, col, "id_marker_not_nullable", _all_rows(frame, raw, codes, marker_u), problems, headers)
        elif marker_u.any():
            is_marker = (codes >= 0) & marker_u[np.where(codes >= 0, codes, 0)]
            shown = sorted({str(v) for v in values[is_marker].unique()})[:5]
            values = values.mask(is_marker, pd.NA)
            notes.append((f"'{col}': missing-value marker ({', '.join(shown)}) read as blank", int(is_marker.sum())))
        frame[col] = values
        if n_stripped:
            notes.append((f"'{col}': spaces or invisible characters around the identifier removed", n_stripped))
        if n_numeric:
            notes.append((f"'{col}': numeric identifier normalised (leading zeros or '.0' removed)", n_numeric))
    return notes


def _age_notes(frame: pd.DataFrame) -> Notes:
    if "age" not in frame.columns:
        return []
    from msht.ingest import coding

    num = pd.to_numeric(coding.normalise_text(frame["age"]), errors="coerce")
    out = int(((num < 0) | (num > coding.MAX_AGE)).sum())
    return [(f"'age' outside 0-{coding.MAX_AGE} (coded unknown)", out)] if out else []


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


def schema_for(name: str) -> pa.DataFrameSchema:
    """Build the pandera schema of extract ``name`` from the data dictionary.

    Text columns are checked as Python strings in an ``object`` column (pandera's ``NpString``),
    as :func:`schema_failures` hands them over (identifier fields, pyarrow-backed in the frame,
    converted for the check): under pandas 3 a bare ``str`` would mean pandas' own string dtype
    instead, and every object column would fail."""
    import pandera.pandas as pa
    from pandera.engines.pandas_engine import NpString

    columns = {
        col: pa.Column(NpString, nullable=bool(spec["nullable"]), required=bool(spec["required"]), coerce=False)
        for col, spec in extract_fields(name).items()
    }
    columns[SOURCE_ROW] = pa.Column(int)
    return pa.DataFrameSchema(columns, strict=False, name=name)


_CHECK_WORDS = {"not_nullable": "is empty, but the column must have a value in every row"}


def _structure_error(frame: pd.DataFrame, name: str) -> str | None:
    """What makes ``frame`` unusable as extract ``name`` (a required column missing, no records), or ``None``."""
    fields = extract_fields(name)
    missing = [c for c, spec in fields.items() if spec["required"] and c not in frame.columns]
    if missing:
        found = [c for c in frame.columns if c != SOURCE_ROW]
        shown = ", ".join(show_value(c, 40) for c in found[:20]) + (
            f" and {len(found) - 20} more" if len(found) > 20 else ""
        )
        hint = ""
        if len(found) == 1 and any(d in str(found[0]) for d in DELIMITERS[1:]):
            hint = " (is the delimiter right?)"
        return f"missing required column(s) {missing}; found [{shown}]{hint}"
    if frame.empty and not load_dictionary()["extracts"][name].get("may_be_empty", False):
        return "no records: the file has a header row but no data rows"
    return None


def _passes_schema(frame: pd.DataFrame, name: str) -> bool:
    """Whether ``frame`` certainly passes :func:`schema_for`: what the schema checks, each in one
    vectorised pass (every field present an ``object`` column of Python strings and missing
    values, none missing where the field must have a value; ``source_row`` integers). ``False``
    means only "ask pandera", which then names every failure."""
    if SOURCE_ROW not in frame.columns or frame[SOURCE_ROW].dtype != np.int64:
        return False
    for col, spec in extract_fields(name).items():
        if col not in frame.columns:
            if spec["required"]:
                return False
            continue
        values = frame[col]
        if is_arrow_text(values):  # every value a str or missing, by its dtype
            pass
        elif values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            return False
        if not spec["nullable"] and values.isna().any():
            return False
    return True


def schema_failures(frame: pd.DataFrame, name: str) -> list[Problem]:
    """Every failure of ``frame`` against the dictionary's pandera schema, validated lazily (all
    failures in one pass): one :class:`Problem` (an error) per failing cell or column.

    pandera checks a column of text one value at a time in Python; a frame that
    :func:`_passes_schema` shows to be valid (the usual case: millions of rows at national
    scale) is not handed to it."""
    if _passes_schema(frame, name):
        return []
    import pandera.pandas as pa

    # the schema checks Python strings in object columns: pyarrow-backed text is handed over as such
    frame = frame.astype({c: object for c in frame.columns if is_arrow_text(frame[c])})

    try:
        schema_for(name).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        out = []
        for fc in exc.failure_cases.itertuples(index=False):
            idx = getattr(fc, "index", None)
            row = int(frame.loc[idx, SOURCE_ROW]) if idx is not None and not pd.isna(idx) and idx in frame.index else None
            value = fc.failure_case
            what = _CHECK_WORDS.get(str(fc.check), f"fails {fc.check}")
            shown = None if value is None or pd.isna(value) else str(value)
            out.append(Problem(name, str(fc.column), row, shown, what, ERROR, str(fc.check)))
        return out
    return []


def validate(frame: pd.DataFrame, name: str, path: Path, problems: Problems = None,
             headers: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Validate ``frame`` against the dictionary; raise :class:`ExtractError` with file, column
    (:func:`column_label`, from ``headers``), row and value of the first few failures. With
    ``problems``, add every failure there instead (an unusable frame -- a required column
    missing -- is one problem) and return the frame."""
    structure = _structure_error(frame, name)
    if structure is not None:
        if problems is None:
            raise ExtractError(f"{path}: {structure}")
        problems.append(Problem(name, "", None, None, structure, ERROR, "structure"))
        return frame
    frame = frame.astype({c: "object" for c in extract_fields(name) if c in frame.columns and not
                          (c in id_fields(name) and is_arrow_text(frame[c]))})
    failures = schema_failures(frame, name)
    if not failures:
        return frame
    if problems is not None:
        problems.extend(failures)
        return frame
    lines = []
    for fc in failures[:5]:
        shown = "" if fc.value is None else f" value {show_value(fc.value)}"
        lines.append(f"column {column_label(fc.column, headers)}, row {fc.row if fc.row is not None else '?'}:{shown} "
                     f"{fc.problem}")
    more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
    raise ExtractError(f"{path}: " + "; ".join(lines) + more)


# ----------------------------------------------------------------------------------------------
# Extracts
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extract:
    """One validated extract: its name, file, SHA-256 checksum, text frame, the repairs made
    on reading (``notes``: ``(problem, rows)`` pairs, counted in the data-quality report) and,
    for an XLSX workbook, the sheet read; ``header``: the file's headers, in the order of the
    frame's fields."""

    name: str
    path: Path
    sha256: str
    frame: pd.DataFrame
    notes: tuple[tuple[str, int], ...] = field(default=())
    sheet: str = ""
    header: tuple[str, ...] = ()

    @property
    def headers(self) -> dict[str, str]:
        """Field -> the file's own header (of the fields the file has)."""
        return _headers_of(self.frame, self.header)

    @property
    def source(self) -> SourceFile:
        """The file's name as messages give it, with its headers (:class:`SourceFile`)."""
        return SourceFile(self.path.name, self.headers)


def sha256_of(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_extract(raw_dir: Path, name: str, problems: Problems = None, mapping: ExtractMapping | None = None) -> Extract:
    """Find, read and validate extract ``name`` in ``raw_dir``. With ``problems``, the values
    that would stop the run (damaged identifiers, schema failures) are all added there instead
    of raising at the first; a file that cannot be read at all still raises. ``mapping``: the
    force's headers, codes and worksheet (:class:`ExtractMapping`)."""
    path = find_extract(raw_dir, name, mapping.file if mapping else None)
    frame = read_raw(path, name, problems, mapping)
    attrs = dict(frame.attrs)
    frame.attrs = {}  # pandas deep-copies attrs on every operation on the frame
    notes = list(attrs.get("notes", []))
    headers = _headers_of(frame, attrs.get("raw_header", ()))
    notes += _normalise_id_fields(frame, name, path, problems, headers)
    frame = validate(frame, name, path, problems, headers)
    frame = apply_value_mapping(frame, name, mapping)
    notes += _age_notes(frame)
    if frame.empty:
        from msht.base.vocab import empty_extract_note

        notes.append((empty_extract_note(name), 0))
    sheet = str(attrs.get("sheet", ""))
    header = tuple(str(h).strip() for h in attrs.get("raw_header", ()))
    return Extract(name=name, path=path, sha256=sha256_of(path), frame=frame, notes=tuple(notes), sheet=sheet,
                   header=header)


def read_all(raw_dir: Path, mappings: dict[str, ExtractMapping] | None = None) -> dict[str, Extract]:
    """Read and validate the four extracts of ``raw_dir`` (with a progress bar: see
    :mod:`msht.base.progress`); ``mappings``: extract -> :class:`ExtractMapping` (see
    :func:`mappings_from`, or :meth:`msht.config.Params.mappings`)."""
    from msht.base import progress

    mappings = mappings or {}
    return {name: read_extract(raw_dir, name, mapping=mappings.get(name))
            for name in progress.iterate(EXTRACTS, "reading extracts", unit="file")}


#: What :func:`read_sent` puts in place of the file of an extract a force does not send.
NOT_SENT = "(not sent)"


def not_sent(name: str) -> Extract:
    """Extract ``name`` as a force that does not send it: no rows, the data dictionary's fields (text)
    and a ``source_row`` column, file :data:`NOT_SENT`, no checksum. The cleaning then counts 0 rows
    read and analysed, and the analysis has none of its units (``offenders``: the offender
    factors are not available for that force, and :func:`msht.clean.forces.offenders_not_known`
    makes its cases' number of offenders and ``recorded_offender`` unknown, not 0 and "no")."""
    columns = [*extract_fields(name), SOURCE_ROW]
    frame = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    frame[SOURCE_ROW] = frame[SOURCE_ROW].astype("int64")
    return Extract(name=name, path=Path(NOT_SENT), sha256="", frame=frame)


def read_sent(raw_dir: Path, mappings: dict[str, ExtractMapping] | None, sent: list[str] | tuple[str, ...],
              force: str | None = None) -> dict[str, Extract]:
    """:func:`read_all` for a force that sends only the extracts ``sent`` (a run with ``forces:``):
    those are read and validated from ``raw_dir``; each other extract is :func:`not_sent`. A file
    in ``raw_dir`` for an extract the force does not list (:func:`unlisted_extract_error`) is an
    :class:`ExtractError` (``force``: the force's name, for that message): its rows would be
    neither analysed nor counted under an exclusion rule."""
    mappings = mappings or {}
    for name in EXTRACTS:
        if name not in sent:
            unlisted_extract_error(raw_dir, name, mappings.get(name), force)
    return {name: read_extract(raw_dir, name, mapping=mappings.get(name)) if name in sent else not_sent(name)
            for name in EXTRACTS}


def unlisted_extract_error(raw_dir: Path, name: str, mapping: ExtractMapping | None, force: str | None) -> None:
    """Raise :class:`ExtractError` (one line: the force, the file, the fix) when ``raw_dir`` holds
    the file of extract ``name`` (as :func:`find_extract` would find it) although the force does
    not list ``name`` among its ``extracts:``; return quietly when there is no such file."""
    try:
        path = find_extract(raw_dir, name, mapping.file if mapping else None)
    except ExtractError:
        return
    who = f"force '{force}'" if force else "this force"
    raise ExtractError(f"{path}: {who} does not list the '{name}' extract (its 'extracts:' in the params file), "
                       f"but its folder holds this file for it; add '{name}' to the force's extracts, or remove "
                       "the file")


def inputs_table(extracts: dict[str, Extract]) -> pd.DataFrame:
    """One row per extract read: ``extract, file, rows, sha256`` (file name only, no folder)."""
    return pd.DataFrame(
        [{"extract": e.name, "file": e.path.name, "rows": len(e.frame), "sha256": e.sha256} for e in extracts.values()]
    )


def input_warnings(extracts: dict[str, Extract], *, period_end: str | None = None) -> pd.DataFrame:
    """What the reading repaired, per extract: ``extract, problem, n`` (the columns of
    ``problems.csv``; ``n`` is the number of rows concerned, all of the file's rows for a
    file-level note). With ``period_end``, also dates of birth after the end of the period.

    Notes name columns and sheets, never values (but the missing-value markers of the data
    dictionary, which identify no one), so they can be published.
    """
    rows = [{"extract": e.name, "problem": problem, "n": int(n)} for e in extracts.values() for problem, n in e.notes]
    if period_end is not None:
        from msht.ingest import coding

        end = pd.Timestamp(period_end)
        for e in extracts.values():
            if "date_of_birth" in e.frame.columns:
                late = int((coding.to_datetime(e.frame["date_of_birth"]) > end).sum())
                if late:
                    rows.append(
                        {
                            "extract": e.name,
                            "problem": "'date_of_birth' after the end of the period (age unknown)",
                            "n": late,
                        }
                    )
    return pd.DataFrame(rows, columns=["extract", "problem", "n"])
