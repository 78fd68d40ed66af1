"""The synthetic twin in another force's layout: the layout a params file's mappings describe.

A force's export differs from the data dictionary in its headers, its codes and its files; a
params file describes the difference with ``columns:``, ``values:`` and ``sheets:`` (see
:mod:`msht.params_schema`). :func:`write_layout` runs that description backwards: it rewrites
extracts written in the dictionary's layout (by :func:`msht.synth.raw.write_extracts`) so that
reading them through the mappings gives the same frames back. So the same population can be
written as another force would export it, and a run through the mappings alone can be checked
against the default run (``params/other_layout.yaml``, ``tests/test_other_layout.py``).

* ``columns:`` field -> the force's header (each field's header renamed);
* ``values:`` each value whose code (by the coding layer, :data:`msht.clean.recording.CODED_FIELDS`)
  has a raw code in the mapping is written as that raw code (the first one listed for the code);
  other values keep their text;
* ``sheets:`` the extract is written as an ``.xlsx`` workbook: a cover sheet first, then the named
  sheet with a title row above the header (every cell text, as a police export holds it).

The ground truth (``_truth/``) and ``MANIFEST.json`` are copied as they are: rows keep their keys.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from msht.clean import recording
from msht.ingest.extracts import EXTRACTS, load_dictionary

#: How :func:`msht.synth.raw.write_extracts` encodes each CSV extract.
ENCODINGS = {"cases": "utf-8-sig", "victims": "cp1252", "police_records": "utf-8", "offenders": "utf-8"}


def _read_text(path: Path, encoding: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)


def recode(frame: pd.DataFrame, name: str, values: dict[str, dict[str, str]]) -> pd.DataFrame:
    """``frame`` (extract ``name``, dictionary headers) with each value whose code has a raw code
    in ``values`` (field -> raw code -> code) written as that raw code."""
    out = frame.copy()
    for field, table in values.items():
        raw_of: dict[str, str] = {}
        for raw, code in table.items():
            raw_of.setdefault(str(code), str(raw))
        coded = recording.CODED_FIELDS[name][field](out[field])
        mapped = coded.map(raw_of)
        out[field] = mapped.where(mapped.notna(), out[field])
    return out


def _write_workbook(frame: pd.DataFrame, path: Path, sheet: str, title: str) -> None:
    """``frame`` as text cells on sheet ``sheet`` under a title row, after a cover sheet."""
    from openpyxl import Workbook

    wb = Workbook()
    cover = wb.active
    cover.title = "Cover"
    cover.append(["Exported from the force's records system"])
    cover.append([title])
    ws = wb.create_sheet(sheet)
    ws.append([title])
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append([None if v == "" else v for v in row])
    wb.save(path)


def write_layout(src: Path, dst: Path, *, columns: dict, values: dict, sheets: dict) -> None:
    """Rewrite the dictionary-layout extracts of ``src`` into ``dst`` in the layout the mappings
    describe (see the module docstring); ``dst`` is created, its old extracts replaced."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in EXTRACTS:
        stem = load_dictionary()["extracts"][name]["file"]
        frame = recode(_read_text(src / f"{stem}.csv", ENCODINGS[name]), name, values.get(name, {}))
        header_of = {field: header for header, field in columns.get(name, {}).items()}
        frame = frame.rename(columns=header_of)
        for old in (dst / f"{stem}.csv", dst / f"{stem}.xlsx"):
            old.unlink(missing_ok=True)
        if name in sheets:
            _write_workbook(frame, dst / f"{stem}.xlsx", sheets[name], f"{name} extract (SYNTHETIC DATA)")
        else:
            frame.to_csv(dst / f"{stem}.csv", index=False, encoding=ENCODINGS[name])
    if (src / "_truth").is_dir():
        shutil.copytree(src / "_truth", dst / "_truth", dirs_exist_ok=True)
    if (src / "MANIFEST.json").exists():
        shutil.copy2(src / "MANIFEST.json", dst / "MANIFEST.json")
