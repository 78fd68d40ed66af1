"""Descriptive tables in the seed's "% (n)" style, and the formatting helpers prose uses."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from msht import vocab
from msht.vocab import UNKNOWN


def pct(n: int, denominator: int, digits: int = 1) -> float:
    """Return ``100 * n / denominator`` rounded half-up to ``digits`` decimals (NaN if no denominator).

    Half-up (not Python's banker's rounding) matches SPSS and the seed's printed tables.
    """
    if denominator <= 0:
        return math.nan
    scale = 10**digits
    return math.floor(100 * n * scale / denominator + 0.5) / scale


def fmt_pct_n(n: int, denominator: int, *, digits: int = 1, style: str = "prose") -> str:
    """Format a count with its share: ``"17.2% (n=394)"`` (prose) or ``"17.2 (394)"`` (table)."""
    share = pct(n, denominator, digits)
    number = "-" if math.isnan(share) else f"{share:.{digits}f}"
    if style == "prose":
        return f"{number}% (n={n:,})"
    if style == "table":
        return f"{number} ({n})"
    raise ValueError(f"unknown style {style!r}; use 'prose' or 'table'")


def frequency(frame: pd.DataFrame, variable: str, *, table: str, column: str | None = None,
              levels: Iterable[str] | None = None) -> pd.DataFrame:
    """Count each level of a coded column, in vocabulary order, with its share of the known values.

    Returns tidy rows ``table, variable, level, n, denominator, pct``; a final ``unknown`` row
    holds the missing count (with empty denominator and pct) when there is any.
    """
    column = column or variable
    levels = list(levels) if levels is not None else vocab.levels(variable)
    values = frame[column].fillna(UNKNOWN).astype(str)
    unexpected = sorted(set(values) - set(levels) - {UNKNOWN})
    if unexpected:
        raise ValueError(f"{table}: column '{column}' has codes {unexpected} outside the vocabulary of {variable}")
    counts = values.value_counts()
    known = int(sum(int(counts.get(lv, 0)) for lv in levels))
    rows = [
        {"table": table, "variable": variable, "level": lv, "n": int(counts.get(lv, 0)), "denominator": known,
         "pct": pct(int(counts.get(lv, 0)), known)}
        for lv in levels
    ]
    missing = int(counts.get(UNKNOWN, 0))
    if missing:
        rows.append({"table": table, "variable": variable, "level": UNKNOWN, "n": missing, "denominator": pd.NA, "pct": math.nan})
    out = pd.DataFrame(rows)
    out["denominator"] = out["denominator"].astype("Int64")
    return out


def flags(frame: pd.DataFrame, columns: Iterable[str], *, table: str, known: pd.Series | None = None) -> pd.DataFrame:
    """Count units with each boolean flag set (a unit may have several), as shares of ``known`` units.

    ``known`` marks the units whose flags were recorded (default: all units).
    """
    known = known if known is not None else pd.Series(True, index=frame.index)
    denominator = int(known.sum())
    rows = []
    for col in columns:
        n = int((frame[col].astype(bool) & known).sum())
        rows.append({"table": table, "variable": col, "level": "yes", "n": n, "denominator": denominator, "pct": pct(n, denominator)})
    missing = int((~known).sum())
    if missing:
        rows.append({"table": table, "variable": "exploitation_type", "level": UNKNOWN, "n": missing, "denominator": pd.NA, "pct": math.nan})
    out = pd.DataFrame(rows)
    out["denominator"] = out["denominator"].astype("Int64")
    return out


def display_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Turn tidy rows into the seed's two-column layout: a bold variable header row, then
    ``level label | "% (n)"`` rows (Unknown rows show ``n`` only)."""
    out = []
    for variable, block in rows.groupby("variable", sort=False):
        header = vocab.VARIABLE_LABELS.get(variable, variable)
        if block["level"].eq("yes").all() and variable in vocab.LEVELS and len(block) == 1:
            label = vocab.label(variable, "yes")
            r = block.iloc[0]
            out.append({"group": "Police recorded exploitation type", "characteristic": label,
                        "value": fmt_pct_n(int(r["n"]), int(r["denominator"]), style="table")})
            continue
        for _, r in block.iterrows():
            if r["level"] == UNKNOWN:
                value = f"n={int(r['n'])} not recorded"
                label = "Unknown"
            else:
                value = fmt_pct_n(int(r["n"]), int(r["denominator"]), style="table")
                label = vocab.label(variable, r["level"])
            out.append({"group": header, "characteristic": label, "value": value})
    return pd.DataFrame(out)


def overview_rows(cases: pd.DataFrame, victims: pd.DataFrame) -> pd.DataFrame:
    """Section 3.1's counts: cases analysed, and victims with one vs several MSHT cases."""
    n_cases = len(cases)
    n_victims = len(victims)
    several = int((victims["n_cases"] > 1).sum())
    rows = [
        {"table": "section3_1", "variable": "cases", "level": "all", "n": n_cases, "denominator": n_cases, "pct": pct(n_cases, n_cases)},
        {"table": "section3_1", "variable": "victim_case_count", "level": "one", "n": n_victims - several,
         "denominator": n_victims, "pct": pct(n_victims - several, n_victims)},
        {"table": "section3_1", "variable": "victim_case_count", "level": "several", "n": several,
         "denominator": n_victims, "pct": pct(several, n_victims)},
        {"table": "section3_1", "variable": "victim_case_count", "level": "max", "n": int(victims["n_cases"].max()) if n_victims else 0,
         "denominator": n_victims, "pct": math.nan},
    ]
    out = pd.DataFrame(rows)
    out["denominator"] = out["denominator"].astype("Int64")
    return out


def appendix1_rows(victims: pd.DataFrame) -> pd.DataFrame:
    """Appendix 1: victims' sex, age group (six bands) and nationality (UK, WHO regions, multiple)."""
    return pd.concat(
        [
            frequency(victims, "victim_sex", table="appendix1"),
            frequency(victims, "victim_age6", table="appendix1"),
            frequency(victims, "victim_nationality_region", table="appendix1"),
        ],
        ignore_index=True,
    )


def denominator_note(rows: pd.DataFrame, *, unit: str) -> str:
    """A footnote stating each variable's denominator and missing count."""
    parts = []
    for variable, block in rows.groupby("variable", sort=False):
        known = block.loc[block["level"] != UNKNOWN, "denominator"].dropna()
        missing = block.loc[block["level"] == UNKNOWN, "n"]
        n_known = int(known.iloc[0]) if len(known) else 0
        n_missing = int(missing.iloc[0]) if len(missing) else 0
        parts.append(f"{vocab.VARIABLE_LABELS.get(variable, variable).lower()}: N={n_known:,} ({n_missing:,} not recorded)")
    return f"Percentages are of {unit} with a recorded value; " + "; ".join(parts) + "."
