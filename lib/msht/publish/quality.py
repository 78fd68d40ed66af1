"""The data-quality report (study recommendation 1): completeness, spellings, problems found.

Three tidy results files:

* ``completeness.csv`` - ``extract, field, rows, missing, pct_complete``: a value is missing when
  blank or written as a missing marker (``N/K``, ``Not known``, ``Unknown``... see
  :data:`msht.ingest.coding.MISSING_MARKERS`).
* ``spellings.csv`` - ``extract, field, code, raw_value, n``: which raw spellings were mapped to
  each code, unknown codes included (an unrecognised value is never dropped: it is coded
  ``unknown`` and counted here). Spellings seen fewer than ``min_count`` times are pooled as
  ``(N other spellings)`` so that no rare free-text value, which could identify a person, leaves
  the pipeline. Invisible characters are shown escaped (``Female[U+200B]``,
  :func:`msht.base.plaintext.show_invisible`), so that two spellings that look alike can be told apart.
* ``problems.csv`` - ``extract, problem, n``: duplicates, conflicts, updates entered as new rows
  and unmatched IDs found by the cleaning, read off its row statuses.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from msht.base.plaintext import show_invisible
from msht.clean import recording
from msht.clean import rules as clean
from msht.ingest import coding

#: Coded fields (extract -> field -> coding function), the recording problems the cleaning
#: counts (row status -> name) and the completeness table: defined in the cleaning stage, where
#: ``msht check`` (:mod:`msht.clean.check`) uses them too.
CODED_FIELDS = recording.CODED_FIELDS
PROBLEMS = recording.PROBLEMS
completeness = recording.completeness


def spellings(frames: dict[str, pd.DataFrame], min_count: int = 5) -> pd.DataFrame:
    """Raw spellings mapped to each code, rare spellings pooled (see module docstring)."""
    parts = []
    for extract, fields in CODED_FIELDS.items():
        frame = frames.get(extract)
        if frame is None:
            continue
        for field, coder in fields.items():
            raw = frame[field]
            report = coding.mapping_report(raw, coder(raw), field)
            report["raw_value"] = report["raw_value"].map(show_invisible, na_action="ignore").fillna("(blank)")
            rare = report["n"] < min_count
            pooled = (
                report[rare].groupby("code", as_index=False)
                .agg(n=("n", "sum"), k=("n", "size"))
                .assign(raw_value=lambda d: "(" + d["k"].astype(str) + " other spellings)", field=field)
                .drop(columns="k")
            )
            kept = [f for f in (report[~rare], pooled) if len(f)]
            if not kept:  # a header-only extract: no spelling to report
                continue
            block = pd.concat(kept, ignore_index=True).assign(extract=extract)
            parts.append(block)
    columns = ["extract", "field", "code", "raw_value", "n"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    return out[["extract", "field", "code", "raw_value", "n"]].sort_values(
        ["extract", "field", "code", "n"], ascending=[True, True, True, False], kind="stable"
    ).reset_index(drop=True)


def problems(status: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Counts of recording problems the cleaning found, per extract."""
    rows = []
    for extract, st in status.items():
        counts = st["status"].value_counts()
        for code, name in PROBLEMS.items():
            if int(counts.get(code, 0)):
                rows.append({"extract": extract, "problem": name, "n": int(counts[code])})
    return pd.DataFrame(rows, columns=["extract", "problem", "n"])


# ----------------------------------------------------------------------------------------------
# Disclosure control of the data-quality tables
# ----------------------------------------------------------------------------------------------

def _supp_row(file: str, extract: str, field: str, level: str, column: str, reason: str, display: str) -> dict:
    return {"file": file, "table": extract, "variable": field, "level": level, "column": column,
            "reason": reason, "display": display}


def _suppression_frame(rows: list[dict]) -> pd.DataFrame:
    """``suppression.csv`` rows as a frame with the contract's columns (empty when ``rows`` is)."""
    from msht.publish import sdc

    return pd.DataFrame(rows, columns=list(sdc.SUPPRESSION_COLUMNS))


def _to_protect(frame: pd.DataFrame, min_cell_count: int, column: str) -> pd.DataFrame | None:
    """A copy of ``frame`` with ``column`` as nullable integers, ready for cells to be hidden; None
    when there is nothing to protect (``min_cell_count`` 0 or 1, or an empty frame)."""
    if int(min_cell_count) <= 1 or frame.empty:
        return None
    out = frame.copy()
    out[column] = out[column].astype("Int64")
    return out


#: Fields whose missing count is also an exclusion rule's count: ``completeness.csv``'s
#: (extract, field) -> ``exclusions.csv``'s (entity, rule) (a case entry with no victim ID is
#: excluded by rule 1).
COMPLETENESS_RULES: dict[tuple[str, str], tuple[str, str]] = {("cases", "victim_person_id"): ("cases", "no_victim_id")}


def protect_completeness(frame: pd.DataFrame, min_cell_count: int,
                         exclusions_suppression: pd.DataFrame | None = None,
                         forced: Collection[tuple] = frozenset()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of ``completeness.csv``: per field, ``missing`` (and so
    ``pct_complete``, which gives it back from ``rows``) is hidden when it, or the number of rows
    with a value (``rows - missing``), is from 1 to m-1. ``rows`` (the extract's size, printed in
    the inputs table) is public, so a lone hidden count keeps its m-1 possible values. A field
    whose missing count is an exclusion rule's count (:data:`COMPLETENESS_RULES`) is hidden
    (``linked``) when ``exclusions_suppression`` (:func:`protect_exclusions`' rows) hides that
    count: published here, it would give the hidden exclusion back. ``forced``: cells
    (``("completeness", extract, field, "", "missing")``) hidden as complementary suppressions
    (``secondary``, chosen across tables by :func:`msht.pipeline.protect_release`).

    Returns the frame (``missing`` as nullable integers when anything is hidden) and its
    ``suppression.csv`` rows. With ``min_cell_count`` 0 or 1 the frame is returned unchanged.
    """
    from msht.publish import sdc

    m = int(min_cell_count)
    out = _to_protect(frame, m, "missing")
    if out is None:
        return frame, _suppression_frame([])
    rows: list[dict] = []
    hidden_rules = set() if exclusions_suppression is None else {
        (r.table, r.variable) for r in exclusions_suppression.itertuples() if r.column == "excluded"}
    for idx, r in frame.iterrows():
        missing, present = int(r["missing"]), int(r["rows"]) - int(r["missing"])
        linked = COMPLETENESS_RULES.get((r["extract"], r["field"])) in hidden_rules
        reason = ("small_count" if 1 <= missing < m else "small_complement" if 1 <= present < m
                  else "linked" if linked
                  else "secondary" if ("completeness", r["extract"], r["field"], "", "missing") in forced else "")
        if not reason:
            continue
        display = sdc.SMALL_MARK.format(m=m) if reason == "small_count" else sdc.SECONDARY_MARK
        out.at[idx, "missing"] = pd.NA
        out.at[idx, "pct_complete"] = float("nan")
        rows.append(_supp_row("completeness", r["extract"], r["field"], "", "missing", reason, display))
        rows.append(_supp_row("completeness", r["extract"], r["field"], "", "pct_complete", reason, sdc.SECONDARY_MARK))
    return out, _suppression_frame(rows)


def protect_spellings(frame: pd.DataFrame, min_cell_count: int,
                      forced: Collection[tuple] = frozenset()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of ``spellings.csv``: the spellings of one field of one extract add up
    to the extract's rows (public), so each field is protected as one frequency block
    (:func:`msht.publish.sdc.protect_frequency_block`: counts from 1 to m-1 hidden, plus the secondary
    suppression that keeps them from being worked back from the total).

    Returns the frame (``n`` as nullable integers when anything is hidden) and its
    ``suppression.csv`` rows. With ``min_cell_count`` 0 or 1 the frame is returned unchanged.
    ``forced``: cells (``("spellings", extract, field, level, "n")``) hidden as complementary
    suppressions (:func:`msht.pipeline.protect_release`).
    """
    from msht.publish import sdc

    m = int(min_cell_count)
    out = _to_protect(frame, m, "n")
    if out is None:
        return frame, _suppression_frame([])
    rows: list[dict] = []
    for (extract, field), blk in frame.groupby(["extract", "field"], sort=False):
        values = [int(v) for v in blk["n"]]
        pushed = [i for i, (_, r) in enumerate(blk.iterrows())
                  if ("spellings", extract, field, spelling_level(r), "n") in forced]
        b = sdc.protect_frequency_block(values, None, m, denominator=sum(values), forced=pushed)
        for i, reason in b.hide.items():
            idx = blk.index[i]
            small = reason == "small_count" and not b.withheld
            display = sdc.SMALL_MARK.format(m=m) if small else sdc.SECONDARY_MARK
            out.at[idx, "n"] = pd.NA
            level = spelling_level(blk.loc[idx])
            rows.append(_supp_row("spellings", extract, field, level, "n", reason, display))
    return out, _suppression_frame(rows)


#: Problems that are also exclusion rules: ``problems.csv``'s (extract, problem) -> the
#: ``exclusions.csv`` (entity, rule) whose ``excluded`` count is the same rows.
PROBLEM_RULES: dict[tuple[str, str], tuple[str, str]] = {
    (extract, name): (clean.ENTITY[extract], code)
    for extract in clean.ENTITY
    for code, name in PROBLEMS.items()
    if any(rule == code and entity == clean.ENTITY[extract] for _, rule, entity, _ in clean.RULES)
}


def protect_exclusions(frame: pd.DataFrame, min_cell_count: int,
                       forced: Collection[tuple] = frozenset()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of ``exclusions.csv`` (and so of the flow diagram and the cleaning
    summary, drawn from it).

    Per entity the steps form a chain: ``rows_out = rows_in - excluded`` and each step's
    ``rows_in`` is the previous ``rows_out``; the first ``rows_in`` (rows read, in the inputs
    table) and the last ``rows_out`` (rows analysed, all over the report) are public, so the
    ``excluded`` counts of an entity add up to a public total and are protected as one
    frequency block (:func:`msht.publish.sdc.protect_frequency_block`: counts from 1 to m-1 hidden, plus
    the secondary suppressions, a zero included, that keep each hidden count three values wide).
    A hidden count also hides every ``rows_out`` (and the next ``rows_in``) that is a partial sum
    of some but not all of the entity's hidden counts; ``rows_in``/``rows_out`` before the first
    and after the last hidden step are sums of shown counts and stay.

    Returns the frame (counts as nullable integers when anything is hidden) and its
    ``suppression.csv`` rows (``table``: entity, ``variable``: rule, ``level``: step). With
    ``min_cell_count`` 0 or 1 the frame is returned unchanged. ``forced``: cells
    (``("exclusions", entity, rule, step, "excluded")``) hidden as complementary suppressions
    (:func:`msht.pipeline.protect_release`).
    """
    from msht.publish import sdc

    m = int(min_cell_count)
    if m <= 1 or frame.empty:
        return frame, _suppression_frame([])
    out = frame.copy()
    for column in ("rows_in", "excluded", "rows_out"):
        out[column] = out[column].astype("Int64")
    rows: list[dict] = []
    for entity, blk in frame.groupby("entity", sort=False):
        values = [int(v) for v in blk["excluded"]]
        pushed = [i for i, (_, r) in enumerate(blk.iterrows())
                  if ("exclusions", entity, r["rule"], str(r["step"]), "excluded") in forced]
        b = sdc.protect_frequency_block(values, None, m, denominator=sum(values), forced=pushed)
        if not b.hide:
            continue
        positions = sorted(b.hide)
        for i, reason in sorted(b.hide.items()):
            idx = blk.index[i]
            small = reason == "small_count" and not b.withheld
            out.at[idx, "excluded"] = pd.NA
            rows.append(_supp_row("exclusions", entity, blk.at[idx, "rule"], str(blk.at[idx, "step"]), "excluded",
                                  reason, sdc.SMALL_MARK.format(m=m) if small else sdc.SECONDARY_MARK))
        for i in range(positions[0], positions[-1]):  # partial sums of some of the hidden counts
            idx, nxt = blk.index[i], blk.index[i + 1]
            out.at[idx, "rows_out"] = pd.NA
            out.at[nxt, "rows_in"] = pd.NA
            for at, column in ((idx, "rows_out"), (nxt, "rows_in")):
                rows.append(_supp_row("exclusions", entity, blk.at[at, "rule"], str(blk.at[at, "step"]), column,
                                      "secondary", sdc.SECONDARY_MARK))
    return out, _suppression_frame(rows)


def protect_problems(frame: pd.DataFrame, exclusions_suppression: pd.DataFrame, min_cell_count: int,
                     forced: Collection[tuple] = frozenset()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of ``problems.csv``: a count from 1 to m-1 is hidden (``small_count``),
    and so is a problem that is an exclusion rule (:data:`PROBLEM_RULES`) whose ``excluded``
    count ``exclusions_suppression`` (:func:`protect_exclusions`' rows) hides (``linked``: the
    same rows); such a problem is listed (hidden) even when none was found, since leaving it out
    would say the hidden exclusion is 0. The problems do not partition anything published (a row
    can have several), so a lone hidden count keeps its m-1 values.

    Returns the frame (``n`` as nullable integers when anything is hidden) and its
    ``suppression.csv`` rows (``table``: extract, ``variable``: problem). With
    ``min_cell_count`` 0 or 1 the frame is returned unchanged. ``forced``: cells
    (``("problems", extract, problem, "", "n")``) hidden as complementary suppressions
    (:func:`msht.pipeline.protect_release`).
    """
    from msht.publish import sdc

    m = int(min_cell_count)
    out = _to_protect(frame, m, "n")
    if out is None:
        return frame, _suppression_frame([])
    hidden_rules = {(r.table, r.variable) for r in exclusions_suppression.itertuples() if r.column == "excluded"}
    listed = set(zip(frame["extract"], frame["problem"]))
    absent = [{"extract": extract, "problem": problem, "n": 0} for (extract, problem), rule in PROBLEM_RULES.items()
              if rule in hidden_rules and (extract, problem) not in listed]
    if absent:  # a problem is listed only when found: its absence would say the hidden count is 0
        frame = pd.concat([frame, pd.DataFrame(absent)], ignore_index=True)
        out = _to_protect(frame, m, "n")
    rows: list[dict] = []
    for idx, r in frame.iterrows():
        linked = PROBLEM_RULES.get((r["extract"], r["problem"])) in hidden_rules
        reason = ("small_count" if 1 <= int(r["n"]) < m else "linked" if linked
                  else "secondary" if ("problems", r["extract"], r["problem"], "", "n") in forced else "")
        if not reason:
            continue
        out.at[idx, "n"] = pd.NA
        display = sdc.SMALL_MARK.format(m=m) if reason == "small_count" else sdc.SECONDARY_MARK
        rows.append(_supp_row("problems", r["extract"], r["problem"], "", "n", reason, display))
    return out, _suppression_frame(rows)


def exclusion_marks(suppression: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(entity, rule) -> the mark of each hidden ``excluded`` count in ``suppression`` (rows of
    :func:`protect_exclusions`), for the flow diagram and the cleaning summary."""
    hidden = suppression[(suppression["file"] == "exclusions") & (suppression["column"] == "excluded")]
    return {(r.table, r.variable): r.display for r in hidden.itertuples()}


#: Per data-quality file: the columns that key a row of it in ``suppression.csv``
#: (``table``, ``variable``, ``level``).
_KEYS: dict[str, tuple[str, str, str | None]] = {
    "completeness": ("extract", "field", None),
    "spellings": ("extract", "field", "spelling"),
    "problems": ("extract", "problem", None),
    "exclusions": ("entity", "rule", "step"),
}


def _level(file: str, row: pd.Series) -> str:
    how = _KEYS[file][2]
    return spelling_level(row) if how == "spelling" else str(row[how]) if how else ""


def shown(frame: pd.DataFrame, suppression: pd.DataFrame, file: str) -> pd.DataFrame:
    """``frame`` (protected) for a notebook table: each hidden value replaced by its mark
    (``"<5"``, ``"[c]"``), as listed in ``suppression`` for ``file`` (``completeness``,
    ``spellings``, ``problems`` or ``exclusions``; for ``exclusions`` the other counts of a column
    with a mark are written as text with thousands separators). Returns ``frame`` itself when nothing is hidden
    (the default run)."""
    hidden = suppression[suppression["file"] == file]
    if hidden.empty:
        return frame
    marks = {(r.table, r.variable, r.level, r.column): r.display for r in hidden.itertuples()}
    table_col, var_col, _ = _KEYS[file]
    out = frame.copy()
    for column in hidden["column"].unique():
        out[column] = out[column].astype(object)
        if file == "exclusions":  # counts formatted here: the table's integer format cannot take a mark
            out[column] = [v if pd.isna(v) else f"{int(v):,}" for v in out[column]]
    for idx, r in frame.iterrows():
        level = _level(file, r)
        for column in hidden["column"].unique():
            mark = marks.get((r[table_col], r[var_col], level, column))
            if mark is not None:
                out.at[idx, column] = mark
    return out


def spelling_level(row: pd.Series) -> str:
    """The ``level`` of a spelling row in ``suppression.csv``: ``"<code>: <raw value>"``."""
    return f"{row['code']}: {row['raw_value']}"
