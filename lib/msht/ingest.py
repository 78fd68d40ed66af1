"""Read the raw police extracts and validate them against the data dictionary.

Extracts are CSV (UTF-8, UTF-8 with BOM or Windows-1252) or XLSX. Every field is read as
text. A missing required column, an unreadable file or an empty required value stops the run
with an :class:`ExtractError` naming the file, column, row and value. Row numbers are those a
person sees in a spreadsheet: the header is row 1, the first record row 2.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml

#: Column added to every extract: the record's row number in the source file (header = 1).
SOURCE_ROW = "source_row"
#: Encodings tried, in order, for CSV extracts.
CSV_ENCODINGS = ("utf-8-sig", "cp1252")
#: Extract names, in the order the pipeline reads them.
EXTRACTS = ("cases", "victims", "police_records", "offenders")


class ExtractError(ValueError):
    """A raw extract cannot be used as it is; the message says which file, column, row and value."""


@lru_cache(maxsize=1)
def load_dictionary() -> dict[str, Any]:
    """Return the machine-readable data dictionary (``msht/data/dictionary.yaml``)."""
    text = resources.files("msht").joinpath("data/dictionary.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def extract_fields(name: str) -> dict[str, dict[str, Any]]:
    """Return the dictionary's field specifications of extract ``name``."""
    return load_dictionary()["extracts"][name]["fields"]


def find_extract(raw_dir: Path, name: str) -> Path:
    """Return the file of extract ``name`` in ``raw_dir`` (``.csv`` preferred, else ``.xlsx``)."""
    stem = load_dictionary()["extracts"][name]["file"]
    for suffix in (".csv", ".xlsx"):
        path = raw_dir / f"{stem}{suffix}"
        if path.exists():
            return path
    raise ExtractError(f"{raw_dir / (stem + '.csv')}: extract '{name}' not found (looked for {stem}.csv and {stem}.xlsx)")


def _read_csv(path: Path) -> pd.DataFrame:
    last_error: Exception | None = None
    for encoding in CSV_ENCODINGS:
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
            header = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, header=None, nrows=1)
            frame.attrs["raw_header"] = [str(v) for v in header.iloc[0]] if len(header) else list(frame.columns)
            return frame
        except UnicodeDecodeError as exc:
            last_error = exc
        except pd.errors.EmptyDataError as exc:
            raise ExtractError(f"{path}: the file is empty (no header row)") from exc
        except pd.errors.ParserError as exc:
            raise ExtractError(f"{path}: not a readable CSV file: {exc}") from exc
    raise ExtractError(f"{path}: cannot decode the file as {' or '.join(CSV_ENCODINGS)}: {last_error}")


def _read_xlsx(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_excel(path, dtype=str, keep_default_na=False, sheet_name=0, engine="openpyxl")
        header = pd.read_excel(path, dtype=str, keep_default_na=False, sheet_name=0, engine="openpyxl", header=None, nrows=1)
        frame.attrs["raw_header"] = [str(v) for v in header.iloc[0]] if len(header) else list(frame.columns)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise ExtractError(f"{path}: not a readable XLSX workbook: {exc}") from exc
    return frame


def read_raw(path: Path) -> pd.DataFrame:
    """Read one extract file as text, with normalised headers and a ``source_row`` column."""
    frame = _read_xlsx(path) if path.suffix.lower() == ".xlsx" else _read_csv(path)
    raw_header = frame.attrs.get("raw_header", list(frame.columns))
    names = [str(c).strip().lower().replace(" ", "_") for c in raw_header]
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise ExtractError(f"{path}: duplicate column header(s) {dupes}")
    frame.columns = names
    frame = frame.replace({"": pd.NA})
    frame.insert(0, SOURCE_ROW, range(2, len(frame) + 2))
    return frame


def schema_for(name: str) -> pa.DataFrameSchema:
    """Build the pandera schema of extract ``name`` from the data dictionary."""
    columns = {
        col: pa.Column(str, nullable=bool(spec["nullable"]), required=bool(spec["required"]), coerce=False)
        for col, spec in extract_fields(name).items()
    }
    columns[SOURCE_ROW] = pa.Column(int)
    return pa.DataFrameSchema(columns, strict=False, name=name)


def validate(frame: pd.DataFrame, name: str, path: Path) -> pd.DataFrame:
    """Validate ``frame`` against the dictionary; raise :class:`ExtractError` with file, column,
    row and value of the first few failures."""
    fields = extract_fields(name)
    missing = [c for c, spec in fields.items() if spec["required"] and c not in frame.columns]
    if missing:
        raise ExtractError(
            f"{path}: missing required column(s) {missing}; found {[c for c in frame.columns if c != SOURCE_ROW]}"
        )
    frame = frame.astype({c: "object" for c in fields if c in frame.columns})
    try:
        return schema_for(name).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        lines = []
        for _, fc in cases.head(5).iterrows():
            idx = fc.get("index")
            row = frame.loc[idx, SOURCE_ROW] if idx is not None and idx in frame.index else "?"
            lines.append(f"column '{fc['column']}', row {row}: value {fc['failure_case']!r} fails {fc['check']}")
        more = f" (and {len(cases) - 5} more)" if len(cases) > 5 else ""
        raise ExtractError(f"{path}: " + "; ".join(lines) + more) from None


@dataclass(frozen=True)
class Extract:
    """One validated extract: its name, file, SHA-256 checksum and text frame."""

    name: str
    path: Path
    sha256: str
    frame: pd.DataFrame


def sha256_of(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_extract(raw_dir: Path, name: str) -> Extract:
    """Find, read and validate extract ``name`` in ``raw_dir``."""
    path = find_extract(raw_dir, name)
    frame = validate(read_raw(path), name, path)
    return Extract(name=name, path=path, sha256=sha256_of(path), frame=frame)


def read_all(raw_dir: Path) -> dict[str, Extract]:
    """Read and validate the four extracts of ``raw_dir``."""
    return {name: read_extract(raw_dir, name) for name in EXTRACTS}


def inputs_table(extracts: dict[str, Extract]) -> pd.DataFrame:
    """One row per extract read: ``extract, file, rows, sha256`` (file name only, no folder)."""
    return pd.DataFrame(
        [{"extract": e.name, "file": e.path.name, "rows": len(e.frame), "sha256": e.sha256} for e in extracts.values()]
    )
