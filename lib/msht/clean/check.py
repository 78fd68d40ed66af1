"""``msht check``: every problem of a force's four extracts, in one pass, before the analysis.

The check runs the pipeline's own reader, validators and section 2.5 rules (it has none of its
own, so the check and the run agree on what is an error) in a collecting mode: where the run
stops at the first bad value, the check lists them all. A params file's mappings (``columns:``,
``values:``, ``sheets:``, ``files:``) are applied as the run applies them; a header the check cannot place is listed with the closest
dictionary fields (rapidfuzz).

* **Errors** (the run would stop): a file that cannot be read, a required column missing, an
  identifier Excel has damaged, an empty value in a column that must have one (pandera's lazy
  validation, :func:`msht.ingest.extracts.schema_failures`), a date or an age that is not one.
* **Warnings** (the run counts and handles them): every repair the reader makes (its notes),
  every row the section 2.5 rules exclude (no victim ID, outside the period, conflicting,
  duplicate, update, IDs that do not link across extracts...), values no vocabulary recognises
  (coded ``unknown``), dates of birth after the period, ages outside 0-110.

Also: completeness per field, the unrecognised values with their counts, and the mapping
applied (which header was read as which field, which raw spelling became which code).

Output (:func:`write_check`), in the run's git-ignored processed folder, ``<processed_dir>/check/``:
``check.html`` (a page for the data owner: a summary by extract and by rule, then sections with
their counts; one self-contained file, no script), ``problems.csv`` (``severity, extract, sheet, column,
row, value, problem, code``), ``completeness.csv``, ``unrecognised.csv`` and ``mapping.csv``.
They show raw values: they are for the data owner only and never go into results or the report.
"""

from __future__ import annotations

import html
import logging
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from msht.clean import recording
from msht.clean import rules as clean
from msht.ingest import coding
from msht.ingest.extracts import (
    ERROR, EXTRACTS, SOURCE_ROW, WARNING, Extract, ExtractError, ExtractMapping, Problem, extract_fields,
    column_label, header_aliases, normalise_header, read_extract,
)

log = logging.getLogger(__name__)

#: Columns of ``problems.csv``.
PROBLEM_COLUMNS = ("severity", "extract", "sheet", "column", "row", "value", "problem", "code")
#: The columns that identify a row of each extract (joined with ``|`` in a rule's ``value``).
KEYS = {
    "cases": ("occurrence_number",),
    "victims": ("occurrence_number", "person_id"),
    "police_records": ("person_id", "incident_reference"),
    "offenders": ("occurrence_number", "offender_person_id"),
}


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found: ``problems`` (the columns of :data:`PROBLEM_COLUMNS`, one row per
    problem), ``completeness`` (``extract, field, rows, missing, pct_complete``), ``unrecognised``
    (``extract, field, raw_value, n, first_row``), ``mapping`` (``extract, kind, source, target, n``)
    and the files read (``extract, file, sheet, rows``)."""

    problems: pd.DataFrame
    completeness: pd.DataFrame
    unrecognised: pd.DataFrame
    mapping: pd.DataFrame
    files: pd.DataFrame

    @property
    def n_errors(self) -> int:
        """Number of problems the run would stop on."""
        return int((self.problems["severity"] == ERROR).sum())

    @property
    def n_warnings(self) -> int:
        """Number of problems the run counts and handles."""
        return int((self.problems["severity"] == WARNING).sum())


def _read(raw_dir: Path, problems: list[Problem], mappings: dict[str, ExtractMapping]) -> dict[str, Extract]:
    """Read every extract in collecting mode; a file that cannot be read at all is one error."""
    extracts: dict[str, Extract] = {}
    for name in EXTRACTS:
        try:
            extracts[name] = read_extract(raw_dir, name, problems, mappings.get(name))
        except ExtractError as exc:
            problems.append(Problem(name, "", None, None, str(exc), ERROR, "unreadable"))
    return extracts


def _note_problems(extracts: dict[str, Extract]) -> list[Problem]:
    """The reader's repairs (its notes), one warning each, with the rows concerned."""
    return [
        Problem(e.name, "", None, None, f"{note} ({n:,} rows)", WARNING, "repair", e.sheet)
        for e in extracts.values()
        for note, n in e.notes
    ]


#: How many dictionary fields are suggested for a header the check cannot place.
N_SUGGESTIONS = 3


def closest_fields(header: str, name: str, limit: int = N_SUGGESTIONS) -> list[str]:
    """The dictionary fields of extract ``name`` closest to ``header`` (best first), compared
    with rapidfuzz's ``WRatio`` against each field's name and aliases after
    :func:`normalise_header` (so ``Vic_URN`` is compared as ``vic_urn``)."""
    from rapidfuzz import fuzz, process

    spellings = header_aliases(name)
    scored = process.extract(normalise_header(header), list(spellings), scorer=fuzz.WRatio, limit=None)
    out: list[str] = []
    for spelling, _, _ in scored:
        target = spellings[spelling]
        if target not in out:
            out.append(target)
        if len(out) == limit:
            break
    return out


def _sheet_hints(extracts: dict[str, Extract], problems: list[Problem]) -> list[Problem]:
    """For a workbook whose sheet read lacks required columns while it has other sheets: an
    error saying which sheet was read and that ``sheets:`` in the params file names another."""
    unusable = {p.extract for p in problems if p.code == "structure"}
    out = []
    for e in extracts.values():
        several = [note for note, _ in e.notes if note.startswith("workbook has ")]
        if e.name in unusable and e.sheet and several:
            out.append(Problem(e.name, "", None, None, f"{several[0]}; if the records are on another sheet, name it "
                               "in the params file's sheets:", ERROR, "sheet", e.sheet))
    return out


def _unplaced_headers(extracts: dict[str, Extract]) -> list[Problem]:
    """Headers read as no dictionary field (kept, not used), each with the closest fields: a
    warning, or an error when a required field is missing (the header may be the one it is under)."""
    out: list[Problem] = []
    for e in extracts.values():
        known = extract_fields(e.name)
        fields = e.headers
        missing = [f for f, spec in known.items() if spec["required"] and f not in fields]
        for target, header in fields.items():
            if target in known:
                continue
            near = ", ".join(closest_fields(header, e.name))
            out.append(Problem(e.name, header, 1, None, f"header is not a field of the data dictionary (closest: {near}); "
                               "map it in the params file's columns: if it is one", ERROR if missing else WARNING,
                               "unplaced_header", e.sheet))
    return out


def _unused_column_mappings(extracts: dict[str, Extract], mappings: dict[str, ExtractMapping]) -> list[Problem]:
    """``columns:`` entries whose header is not in the file read (a typo such as ``Birth_Date``
    for ``Birth_Dt``): a warning naming the header, its field and the file's closest header
    (rapidfuzz), since the mapping otherwise does nothing without a word."""
    from rapidfuzz import process

    out: list[Problem] = []
    for name, m in mappings.items():
        e = extracts.get(name)
        if e is None or not m.columns:
            continue
        present = {normalise_header(h) for h in e.header}
        for header, target in m.columns.items():
            if normalise_header(header) in present:
                continue
            near = process.extractOne(header, list(e.header))
            hint = f" (closest header in the file: {near[0]!r})" if near else ""
            out.append(Problem(name, header, 1, None, f"params columns: maps header {header!r} to {target}, but the "
                               f"file has no such header{hint}", WARNING, "unused_mapping", e.sheet))
    return out


def _value_problems(extract: Extract) -> tuple[list[Problem], pd.DataFrame]:
    """Dates and ages that are not dates or ages (errors: the run stops on them), dates of birth
    after the period and ages outside 0-110 are left to :func:`_range_problems`. Returns the
    problems and a copy of the frame with those values blanked, for the rules to run on."""
    out: list[Problem] = []
    frame = extract.frame.copy()
    for col, spec in extract_fields(extract.name).items():
        if col not in frame.columns or spec["kind"] not in ("date", "datetime", "integer"):
            continue
        if spec["kind"] == "integer":
            _, bad = clean.age_failures(frame[col])
            what = {i: clean.AGE_ERROR for i in frame.index[bad]}
        else:
            _, text, bad = clean.date_failures(frame[col], nullable=bool(spec["nullable"]))
            what = {i: clean.date_error(text[i]) for i in frame.index[bad]}
        for i, why in what.items():
            out.append(Problem(extract.name, col, int(frame.at[i, SOURCE_ROW]), str(frame.at[i, col]), why, ERROR,
                               f"not_a_{spec['kind']}", extract.sheet))
        frame.loc[bad, col] = pd.NA
    return out, frame


def _range_problems(name: str, frame: pd.DataFrame, period_end: str, sheet: str) -> list[Problem]:
    """Dates of birth after the end of the period and ages outside 0-110: warnings (age unknown)."""
    out: list[Problem] = []
    if "date_of_birth" in frame.columns:
        dob, _, _ = clean.date_failures(frame["date_of_birth"])
        late = dob > pd.Timestamp(period_end)
        for i in frame.index[late]:
            out.append(Problem(name, "date_of_birth", int(frame.at[i, SOURCE_ROW]), str(frame.at[i, "date_of_birth"]),
                               "is after the end of the period (age unknown)", WARNING, "date_of_birth_after_period",
                               sheet))
    if "age" in frame.columns:
        num, _ = clean.age_failures(frame["age"])
        outside = (num < 0) | (num > coding.MAX_AGE)
        for i in frame.index[outside]:
            out.append(Problem(name, "age", int(frame.at[i, SOURCE_ROW]), str(frame.at[i, "age"]),
                               f"is outside 0-{coding.MAX_AGE} (coded unknown)", WARNING, "age_out_of_range", sheet))
    return out


#: Values the run checks only on the rows it keeps: (extract, column) (offenders' ages are parsed
#: after the offender rules, so a bad age on an excluded offender row does not stop the run).
CHECKED_ON_KEPT_ROWS = {("offenders", "age")}


def _agree_with_the_run(problems: list[Problem], status: dict[str, pd.DataFrame]) -> list[Problem]:
    """``problems`` with the errors the run does not stop on turned into warnings: a value of
    :data:`CHECKED_ON_KEPT_ROWS` on a row the rules exclude."""
    excluded = {name: set(st.loc[st["status"] != clean.ANALYSED, SOURCE_ROW].astype(int)) for name, st in status.items()}
    out = []
    for p in problems:
        if p.severity == ERROR and (p.extract, p.column) in CHECKED_ON_KEPT_ROWS and p.row in excluded.get(p.extract, ()):
            p = Problem(p.extract, p.column, p.row, p.value, p.problem + " (the row is excluded, so the run goes on)",
                        WARNING, p.code, p.sheet)
        out.append(p)
    return out


def _rule_problems(frames: dict[str, pd.DataFrame], status: dict[str, pd.DataFrame],
                   sheets: dict[str, str]) -> list[Problem]:
    """Every row a section 2.5 rule excludes: one warning naming the rule, with the row's key."""
    describe = {(entity, rule): desc for _, rule, entity, desc in clean.RULES}
    out: list[Problem] = []
    for name, st in status.items():
        frame = frames[name]
        keys = KEYS[name]
        excluded = st["status"] != clean.ANALYSED
        parts = [frame.loc[excluded, k].astype("string").fillna("") for k in keys]
        key = parts[0].str.cat(parts[1:], sep="|") if len(parts) > 1 else parts[0]
        for i in st.index[excluded]:
            rule = st.at[i, "status"]
            out.append(Problem(name, "|".join(keys), int(st.at[i, SOURCE_ROW]), key[i],
                               describe[(clean.ENTITY[name], rule)], WARNING, rule, sheets.get(name, "")))
    return out


#: The columns of ``unrecognised.csv``.
UNRECOGNISED_COLUMNS: Final = ("extract", "field", "raw_value", "n", "first_row", "coded_as")


def _counted_values(frame: pd.DataFrame, field: str, rows: np.ndarray, extract: str, coded_as: str) -> pd.DataFrame:
    """The distinct raw values of ``field`` in the ``rows`` (boolean mask) of ``frame``, each with
    its count and first source row (:data:`UNRECOGNISED_COLUMNS`)."""
    block = pd.DataFrame({"raw_value": frame.loc[rows, field].astype(str), SOURCE_ROW: frame.loc[rows, SOURCE_ROW]})
    agg = block.groupby("raw_value", sort=False)[SOURCE_ROW].agg(["size", "min"]).reset_index()
    return pd.DataFrame({"extract": extract, "field": field, "raw_value": agg["raw_value"], "n": agg["size"].astype(int),
                         "first_row": agg["min"].astype(int), "coded_as": coded_as})


def _unrecognised(frames: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Values no vocabulary recognises (``extract, field, raw_value, n, first_row``) and the
    spellings mapped to each code (``extract, kind, source, target, n``) of the coded fields."""
    unknown, mapping = [], []
    for name, fields in recording.CODED_FIELDS.items():
        frame = frames.get(name)
        if frame is None:
            continue
        for field, coder in fields.items():
            if field not in frame.columns:
                continue
            raw = frame[field]
            coded = coder(raw)
            report = coding.mapping_report(raw, coded, field)
            mapping.append(pd.DataFrame({"extract": name, "kind": f"value of {field}", "source": report["raw_value"],
                                         "target": report["code"], "n": report["n"]}))
            stray = (coded == coding.UNKNOWN) & coding.normalise_text(raw).notna()
            if stray.any() and (name, field) not in recording.UNKNOWN_BY_DESIGN:
                unknown.append(_counted_values(frame, field, stray.to_numpy(), name, coding.UNKNOWN))
    cols_u = list(UNRECOGNISED_COLUMNS)
    cols_m = ["extract", "kind", "source", "target", "n"]
    u = pd.concat(unknown, ignore_index=True) if unknown else pd.DataFrame(columns=cols_u)
    m = pd.concat(mapping, ignore_index=True) if mapping else pd.DataFrame(columns=cols_m)
    return u.sort_values(["extract", "field", "n"], ascending=[True, True, False], kind="stable")[cols_u], m[cols_m]


#: Free-text coded fields whose last rule codes any other text (not ``unknown``): the raw values
#: that reach their code only through it, and what they are coded as.
DEFAULT_RULE_FIELDS: Final = {
    ("cases", "exploitation_type"): ("other_exploitation", lambda s, words: coding.exploitation_default_rule(s)),
    ("cases", "referring_agency"): ("external", coding.referring_agency_default_rule),
}


def _default_rule_values(frames: dict[str, pd.DataFrame], force_words: list[str]) -> pd.DataFrame:
    """Values of the free-text coded fields that no rule recognises and that the last rule codes
    anyway (:data:`DEFAULT_RULE_FIELDS`): ``extract, field, raw_value, n, first_row, coded_as``.
    A force's own codes (exploitation type "3", referrer "P") land here until the params file's
    ``values:`` maps them."""
    out = []
    for (name, field), (coded_as, rule) in DEFAULT_RULE_FIELDS.items():
        frame = frames.get(name)
        if frame is None or field not in frame.columns:
            continue
        hit = rule(frame[field], force_words).to_numpy()
        if hit.any():
            out.append(_counted_values(frame, field, hit, name, coded_as))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=list(UNRECOGNISED_COLUMNS))


def _configured_values(mappings: dict[str, ExtractMapping]) -> pd.DataFrame:
    """The params file's ``values:`` mappings (``extract, kind, source, target, n``; ``n`` blank:
    the rows they apply to are counted under the spellings they become)."""
    rows = [{"extract": name, "kind": f"params values: {field}", "source": raw, "target": code, "n": pd.NA}
            for name, m in mappings.items() for field, table in m.values.items() for raw, code in table.items()]
    return pd.DataFrame(rows, columns=["extract", "kind", "source", "target", "n"])


def _header_mapping(extracts: dict[str, Extract], mappings: dict[str, ExtractMapping]) -> pd.DataFrame:
    """Which file was read for each extract (``kind`` ``file``, or ``file (params files:)`` when
    the params file names it) and which of its headers as which field (``extract, kind, source,
    target, n``)."""
    rows = []
    for name, m in mappings.items():
        if m.file and name not in extracts:
            rows.append({"extract": name, "kind": "file (params files:)", "source": m.file, "target": "(not found)",
                         "n": pd.NA})
    for e in extracts.values():
        configured = e.name in mappings and mappings[e.name].file
        rows.append({"extract": e.name, "kind": "file (params files:)" if configured else "file",
                     "source": e.path.name, "target": e.name, "n": len(e.frame)})
        for target, source in e.headers.items():
            rows.append({"extract": e.name, "kind": "header", "source": source, "target": target,
                         "n": len(e.frame)})
    return pd.DataFrame(rows, columns=["extract", "kind", "source", "target", "n"])


def _as_the_file_names_it(table: pd.DataFrame, extracts: dict) -> list[str]:
    """The ``column`` of each problem as the analyst finds it in the file: a field read from a
    header of another name (``columns:``, an alias) as ``Vic_Birth_Dt (date_of_birth)``, as the
    run's messages name it (:func:`msht.ingest.extracts.column_label`, without quotes)."""
    headers = {name: e.headers for name, e in extracts.items()}
    return [column_label(column, headers.get(extract), quote="") if isinstance(column, str) else column
            for extract, column in zip(table["extract"], table["column"])]


def check(raw_dir: Path, *, period: tuple[str, str], force_words: list[str],
          mappings: dict[str, ExtractMapping] | None = None) -> CheckResult:
    """Check the four extracts of ``raw_dir`` in one pass (see the module docstring).

    ``period`` is the run's ``(period_start, period_end)`` (ISO dates), ``force_words`` its
    internal agency words, ``mappings`` the force's layout (:func:`msht.ingest.extracts.mappings_from`).
    Never raises for bad data: every problem is a row of the result.
    """
    problems: list[Problem] = []
    extracts = _read(raw_dir, problems, mappings or {})
    problems += _sheet_hints(extracts, problems)
    problems += _unplaced_headers(extracts) + _unused_column_mappings(extracts, mappings or {})
    problems += _note_problems(extracts)
    frames: dict[str, pd.DataFrame] = {}
    for name, e in extracts.items():
        found, frames[name] = _value_problems(e)
        problems += found
        problems += _range_problems(name, frames[name], period[1], e.sheet)
    structural = {p.extract for p in problems if p.code in ("unreadable", "structure")}
    if not structural:
        result = clean.clean(frames, paths={n: e.source for n, e in extracts.items()}, period=period,
                             force_words=force_words)
        problems = _agree_with_the_run(problems, result.status)
        problems += _rule_problems(frames, result.status, {n: e.sheet for n, e in extracts.items()})
    readable = {n: f for n, f in frames.items() if n not in structural}
    unrecognised, value_mapping = _unrecognised(readable)
    unrecognised = pd.concat([unrecognised, _default_rule_values(readable, force_words)], ignore_index=True)
    for u in unrecognised.itertuples(index=False):
        how = "coded unknown" if u.coded_as == coding.UNKNOWN else f"coded {u.coded_as} by the default rule; map it under values:"
        problems.append(Problem(u.extract, u.field, int(u.first_row), u.raw_value,
                                f"is not recognised by the vocabulary: {how} ({u.n:,} rows; the first shown)",
                                WARNING, "unrecognised_value", extracts[u.extract].sheet))
    table = pd.DataFrame([p.__dict__ for p in problems], columns=list(Problem.__dataclass_fields__))
    table = table[list(PROBLEM_COLUMNS)]
    table["column"] = _as_the_file_names_it(table, extracts)
    sheets = table["extract"].map({name: e.sheet for name, e in extracts.items()}).fillna("")
    table["sheet"] = table["sheet"].where(table["sheet"].fillna("") != "", sheets)  # every problem of a workbook names its sheet
    table["row"] = table["row"].astype("Int64")
    files = pd.DataFrame([{"extract": e.name, "file": e.path.name, "sheet": e.sheet, "rows": len(e.frame)}
                          for e in extracts.values()], columns=["extract", "file", "sheet", "rows"])
    return CheckResult(
        problems=table,
        completeness=recording.completeness({n: e.frame for n, e in extracts.items() if n not in structural}),
        unrecognised=unrecognised.reset_index(drop=True),
        mapping=pd.concat([_header_mapping(extracts, mappings or {})] + [f for f in (_configured_values(mappings or {}), value_mapping)
                                                          if len(f)], ignore_index=True),
        files=files,
    )


def _plural(n: int, word: str) -> str:
    """``"1 error"``, ``"2 errors"``, ``"1,234 warnings"``."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def summary(result: CheckResult, folder: Path) -> str:
    """The one-line terminal summary of a check."""
    n_files = len(result.files)
    verdict = "the run would stop" if result.n_errors else "the run can go ahead"
    return (f"msht check: {n_files} of {len(EXTRACTS)} extracts read; {_plural(result.n_errors, 'error')}, "
            f"{_plural(result.n_warnings, 'warning')} ({verdict}); see {folder / 'check.html'}")


#: What each check code means, for the page's summary by rule (the section 2.5 rules are
#: described by :data:`msht.clean.rules.RULES`; an identifier Excel damaged is ``id_...``).
CODE_LABELS = {
    "unreadable": "the file cannot be read, or is not there",
    "structure": "a required column is missing",
    "sheet": "the records may be on another sheet",
    "unplaced_header": "a header is not a field of the data dictionary",
    "repair": "the reader repaired something (spaces, invisible characters, markers...)",
    "not_nullable": "empty where a value is required",
    "not_a_date": "a date that is not one",
    "not_a_datetime": "a date and time that is not one",
    "not_a_integer": "an age that is not a whole number",
    "date_of_birth_after_period": "a date of birth after the end of the period",
    "age_out_of_range": "an age outside 0-110",
    "unrecognised_value": "a value no vocabulary recognises (coded unknown, or coded by a field's default rule)",
    "unused_mapping": "a params columns: entry names a header the file does not have",
}

#: The page's style: plain, printable, no external resources.
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:75em;padding:0 1em;color:#222;line-height:1.4}"
    "table{border-collapse:collapse;font-size:90%;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".verdict{padding:.8em 1em;border-radius:4px;font-size:110%}.stop{background:#fde2e1;border:1px solid #e0a3a0}"
    ".go{background:#e3f4e1;border:1px solid #a5cf9f}.note{color:#555}"
    "tr.error td:first-child{color:#a61b1b;font-weight:bold}tr.low td{background:#fff6db}"
    "nav ul{columns:2}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}"
)


def _cell(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "<td></td>"
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(frame: pd.DataFrame, row_class: pd.Series | None = None) -> str:
    """``frame`` as an HTML table (values escaped; numbers right-aligned with thousands
    separators); ``row_class``: a CSS class per row (aligned with ``frame``'s index)."""
    if frame.empty:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(str(c).replace('_', ' '))}</th>" for c in frame.columns)
    rows = []
    for i, row in enumerate(frame.astype(object).itertuples(index=False)):
        cls = "" if row_class is None or not row_class.iloc[i] else f' class="{row_class.iloc[i]}"'
        rows.append(f"<tr{cls}>" + "".join(_cell(v) for v in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"


def _section(anchor: str, title: str, count: str, body: str, note: str = "") -> str:
    return (f'<section id="{anchor}"><h2>{html.escape(title)} <small>({html.escape(count)})</small></h2>\n'
            + (f'<p class="note">{html.escape(note)}</p>\n' if note else "") + body + "</section>")


def _label(extract: str, code: str, problem: str) -> str:
    """What a check code means for ``extract`` (``problem``: the text of one of its problems)."""
    rules = {(entity, rule): desc for _, rule, entity, desc in clean.RULES}
    if code in CODE_LABELS:
        return CODE_LABELS[code]
    if (clean.ENTITY[extract], code) in rules:
        return rules[(clean.ENTITY[extract], code)]
    return problem if code.startswith("id_") else code.replace("_", " ")


def summary_tables(problems: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The page's summary: problems per extract (``extract, errors, warnings``, all four extracts,
    zeros included) and per rule and extract (``severity, extract, rule, what, problems``,
    errors first, then by count)."""
    count = problems.groupby(["extract", "severity"]).size().unstack(fill_value=0)
    by_extract = count.reindex(index=list(EXTRACTS), columns=[ERROR, WARNING], fill_value=0)
    by_extract = by_extract.rename(columns={ERROR: "errors", WARNING: "warnings"}).rename_axis(index="extract", columns=None)
    by_extract = by_extract.reset_index().astype({"errors": int, "warnings": int})
    columns = ["severity", "extract", "rule", "what", "problems"]
    if problems.empty:
        return by_extract, pd.DataFrame(columns=columns)
    by_rule = problems.groupby(["severity", "extract", "code"], sort=False).agg(
        problems=("problem", "size"), first=("problem", "first")).reset_index()
    by_rule["what"] = [_label(e, c, f) for e, c, f in zip(by_rule["extract"], by_rule["code"], by_rule["first"])]
    by_rule["order"] = (by_rule["severity"] != ERROR).astype(int)
    by_rule = by_rule.sort_values(["order", "problems"], ascending=[True, False], kind="stable")
    return by_extract, by_rule.rename(columns={"code": "rule"})[columns].reset_index(drop=True)


def _problem_sections(problems: pd.DataFrame, severity: str) -> str:
    """The problems of one severity, one sub-heading per extract with its count."""
    chosen = problems[problems["severity"] == severity].drop(columns="severity")
    if chosen.empty:
        return "<p>None.</p>"
    parts = []
    for name in EXTRACTS:
        block = chosen[chosen["extract"] == name].drop(columns="extract")
        if len(block):
            parts.append(f"<h3>{html.escape(name)} ({len(block):,})</h3>\n" + _table(block))
    return "\n".join(parts)


def _summary_html(result: CheckResult) -> str:
    by_extract, by_rule = summary_tables(result.problems)
    stop = result.n_errors > 0
    verdict = (f"{result.n_errors:,} errors: the run would stop. Fix or map them (see the errors below)." if stop else
               "No error: the run can go ahead. The warnings are what it will count and handle.")
    return (f'<section id="summary"><h2>Summary</h2>\n<p class="verdict {"stop" if stop else "go"}"><strong>'
            f"{result.n_errors:,} errors, {result.n_warnings:,} warnings.</strong> {html.escape(verdict)}</p>\n"
            "<h3>By extract</h3>\n" + _table(by_extract) + "\n<h3>By rule</h3>\n"
            + _table(by_rule, by_rule["severity"].where(by_rule["severity"] == ERROR, "")) + "\n<h3>Files read</h3>\n"
            + _table(result.files) + "</section>")


#: A field is highlighted on the page when less than this % of its rows have a value.
LOW_COMPLETENESS = 90.0


def render_html(result: CheckResult, title: str) -> str:
    """The check as one self-contained HTML page for the data owner: a summary (errors and
    warnings by extract and by rule, the files read), then errors, warnings, unrecognised
    values, completeness and the mapping applied, each with its count. No script, no external
    resource. It shows raw values: for the data owner only."""
    u, c, m = result.unrecognised, result.completeness, result.mapping
    low = (c["pct_complete"] < LOW_COMPLETENESS) if len(c) else pd.Series(dtype=bool)
    sections = [
        ("errors", "Errors: the run stops on these", f"{result.n_errors:,}",
         _problem_sections(result.problems, ERROR), "Rows are spreadsheet rows (the header is row 1)."),
        ("warnings", "Warnings: the run counts and handles these", f"{result.n_warnings:,}",
         _problem_sections(result.problems, WARNING), "The recording problems the report will count."),
        ("unrecognised", "Values no vocabulary recognises", f"{len(u):,} values, {int(u['n'].sum()) if len(u) else 0:,} rows",
         _table(u), "Coded unknown by the run; map them in the params file's values: if they mean a code."),
        ("completeness", "Completeness per field", f"{int(low.sum()):,} of {len(c):,} fields under {LOW_COMPLETENESS:g}%",
         _table(c, low.map({True: "low", False: ""}) if len(c) else None),
         f"Missing: blank or a missing-value marker (N/K, NULL...). Fields under {LOW_COMPLETENESS:g}% complete are shaded."),
        ("mapping", "Mapping applied", f"{len(m):,} rows", _table(m),
         "Files read for each extract, headers read as fields, the params file's values: and raw spellings read as codes."),
    ]
    nav = "".join(f'<li><a href="#{a}">{html.escape(t)}</a> ({html.escape(n)})</li>' for a, t, n, _, _ in sections)
    head = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
            '<p class="note">This page shows raw values from the extracts (identifiers included): it is for the '
            "data owner only. Keep it out of results, reports, issues and emails.</p>\n"
            f'<nav><ul><li><a href="#summary">Summary</a></li>{nav}</ul></nav>\n')
    return head + _summary_html(result) + "\n" + "\n".join(_section(*s) for s in sections) + "\n</body></html>\n"


def write_check(result: CheckResult, folder: Path, title: str) -> None:
    """Write ``check.html``, ``problems.csv``, ``completeness.csv``, ``unrecognised.csv`` and
    ``mapping.csv`` into ``folder`` (created if needed; the run's git-ignored processed folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    result.problems.to_csv(folder / "problems.csv", index=False)
    result.completeness.to_csv(folder / "completeness.csv", index=False)
    result.unrecognised.to_csv(folder / "unrecognised.csv", index=False)
    result.mapping.to_csv(folder / "mapping.csv", index=False)
    (folder / "check.html").write_text(render_html(result, title), encoding="utf-8")
    log.debug("check written to %s", folder)
