"""The synthetic twin in another force's layout: the layout a params file's mappings describe.

A force's export differs from the data dictionary in its headers, its codes and its files; a
params file describes the difference with ``columns:``, ``values:``, ``sheets:`` and ``files:`` (see
:mod:`msht.params_schema`). :func:`write_layout` runs that description backwards: it rewrites
extracts written in the dictionary's layout (by :func:`msht.synth.raw.write_extracts`) so that
reading them through the mappings gives the same frames back. So the same population can be
written as another force would export it, and a run through the mappings alone can be checked
against the default run (``params/other_layout.yaml``, ``tests/test_other_layout.py``).

* ``columns:`` field -> the force's header (each field's header renamed);
* ``values:`` each value whose code (by the coding layer, :data:`msht.clean.recording.MAPPED_FIELDS`)
  has a raw code in the mapping is written as that raw code (the first one listed for the code);
  a value of several codes (exploitation types, countries) whose codes all have one is written
  as those raw codes joined by ``;``; blank values and missing-value markers, and other values,
  keep their text;
* ``sheets:`` the extract is written as an ``.xlsx`` workbook: a cover sheet first, then the named
  sheet with a title row above the header (every cell text, as a police export holds it);
* ``files:`` the extract is written under that name (its suffix, ``.csv`` or ``.xlsx``, gives the
  format; an ``.xlsx`` without a sheet in ``sheets:`` has its records on a sheet named after the
  extract).

The ground truth (``_truth/``) and ``MANIFEST.json`` are copied as they are: rows keep their keys.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from msht.clean import recording
from msht.ingest import coding
from msht.ingest.extracts import EXTRACTS, load_dictionary

#: How :func:`msht.synth.raw.write_extracts` encodes each CSV extract.
ENCODINGS = {"cases": "utf-8-sig", "victims": "cp1252", "police_records": "utf-8", "offenders": "utf-8"}


def _read_text(path: Path, encoding: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)


def recode(frame: pd.DataFrame, name: str, values: dict[str, dict[str, str]]) -> pd.DataFrame:
    """``frame`` (extract ``name``, dictionary headers) with each value whose code(s) all have a
    raw code in ``values`` (field -> raw code -> code) written as that raw code (several joined
    by ``;``); blank values and missing-value markers are left as they are."""
    out = frame.copy()
    for field, table in values.items():
        raw_of: dict[str, str] = {}
        for raw, code in table.items():
            raw_of.setdefault(str(code), str(raw))
        codes = recording.MAPPED_FIELDS[name][field](out[field])
        present = coding.normalise_text(out[field]).notna() & codes.notna()

        def as_raw(code: str) -> str | None:
            parts = str(code).split("; ")
            return ";".join(raw_of[p] for p in parts) if all(p in raw_of for p in parts) else None

        mapped = codes[present].map(as_raw)
        out.loc[mapped.index, field] = mapped.where(mapped.notna(), out.loc[mapped.index, field])
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


def write_layout(src: Path, dst: Path, *, columns: dict, values: dict, sheets: dict, files: dict | None = None) -> None:
    """Rewrite the dictionary-layout extracts of ``src`` into ``dst`` in the layout the mappings
    describe (see the module docstring); ``dst`` is created, its old extracts replaced."""
    dst.mkdir(parents=True, exist_ok=True)
    files = files or {}
    for name in EXTRACTS:
        stem = load_dictionary()["extracts"][name]["file"]
        frame = recode(_read_text(src / f"{stem}.csv", ENCODINGS[name]), name, values.get(name, {}))
        header_of = {field: header for header, field in columns.get(name, {}).items()}
        frame = frame.rename(columns=header_of)
        for old in (dst / f"{stem}.csv", dst / f"{stem}.xlsx", *([dst / files[name]] if name in files else [])):
            old.unlink(missing_ok=True)
        target = files.get(name) or (f"{stem}.xlsx" if name in sheets else f"{stem}.csv")
        if target.casefold().endswith(".xlsx"):
            _write_workbook(frame, dst / target, sheets.get(name, name), f"{name} extract (SYNTHETIC DATA)")
        else:
            frame.to_csv(dst / target, index=False, encoding=ENCODINGS[name])
    if (src / "_truth").is_dir():
        shutil.copytree(src / "_truth", dst / "_truth", dirs_exist_ok=True)
    if (src / "MANIFEST.json").exists():
        shutil.copy2(src / "MANIFEST.json", dst / "MANIFEST.json")
