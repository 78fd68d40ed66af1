"""The results contract: tidy CSVs with stable, documented columns.

Every table a reader sees is also written here, in the run's ``results_dir``. Later work adds
rows, or new files, never changes a file's columns. Codes in ``variable``/``factor``/``level``
come from :mod:`msht.vocab`.

========================  ============================================================
file                      columns
========================  ============================================================
``descriptives.csv``      table, variable, level, n, denominator, pct
``associations.csv``      outcome, factor, level, n, denominator, pct, statistic, df, p, test
``exclusions.csv``        step, rule, entity, rows_in, excluded, rows_out
========================  ============================================================

``pct`` is ``100 * n / denominator`` rounded to one decimal, as printed. ``denominator`` is the
number of units with a known value; an ``unknown`` level row carries the missing count in ``n``
and leaves ``denominator`` and ``pct`` empty. In ``associations.csv`` the test columns repeat on
each level row of a factor.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Final

import pandas as pd

CONTRACT: Final[dict[str, tuple[str, ...]]] = {
    "descriptives": ("table", "variable", "level", "n", "denominator", "pct"),
    "associations": ("outcome", "factor", "level", "n", "denominator", "pct", "statistic", "df", "p", "test"),
    "exclusions": ("step", "rule", "entity", "rows_in", "excluded", "rows_out"),
}


class ResultsContractError(ValueError):
    """A results frame does not have its contract's columns."""


def conform(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return ``frame`` restricted to, and ordered by, the contract columns of ``name``."""
    if name not in CONTRACT:
        return frame
    cols = list(CONTRACT[name])
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ResultsContractError(f"results '{name}' lacks contract columns {missing}")
    return frame[cols]


def write_csv(frame: pd.DataFrame, name: str, results_dir: Path) -> Path:
    """Write results ``name`` atomically (temporary file, then rename) as ``<results_dir>/<name>.csv``.

    Floats are written with 6 significant digits so that two runs on the same input give
    byte-identical files.
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    out = conform(frame, name)
    target = results_dir / f"{name}.csv"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".csv", dir=results_dir)
    os.close(fd)
    try:
        out.to_csv(tmp, index=False, float_format="%.6g", lineterminator="\n")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def read_csv(name: str, results_dir: Path) -> pd.DataFrame:
    """Read results ``name`` back (level codes stay text)."""
    return pd.read_csv(results_dir / f"{name}.csv", dtype={"level": str, "variable": str, "factor": str})
