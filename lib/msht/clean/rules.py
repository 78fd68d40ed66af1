"""Clean and merge the raw extracts by the study's section 2.5 rules, accounting for every row.

The exclusion steps, in order (each raw row gets exactly one status: ``analysed`` or the rule
that excluded it):

Cases (one row per MSHT case entry)
  1. ``no_victim_id`` - the entry has no victim person ID (blank, or a missing-value marker
     such as ``NULL``, ``N/K`` or ``Not Stated``: the dictionary's ``missing_markers``).
  2. ``outside_period`` - the case date is outside the run's period (params).
  3. ``conflicting`` - two or more entries for the same victim ID and date, with different
     occurrence numbers and different sociodemographics: all of them are excluded.
  4. ``duplicate`` - an entry for the same victim and date that is the same as an earlier
     entry in every coded variable except the occurrence number: the first entered is kept.
     ``update_superseded`` - an earlier version of the case details, updated in a later entry
     for the same victim and date (same sociodemographics): the last version is kept (study 2.5,
     "data duplication"). See :func:`duplicate_or_update`: an original, its copy and a later
     entry changing the outcome are one duplicate and one update superseded.
Victim records
  5. ``not_in_case_file`` - the person ID matches no victim ID in the MSHT case file.
  6. ``case_excluded`` - the record belongs to a case entry excluded above.
  7. ``occurrence_not_in_case_file`` - the person is a victim in the case file, but not on
     this occurrence.
  8. ``duplicate_record`` - a second record for the same occurrence and person (the last kept).
Police-record entries
  5. ``not_in_case_file``; 9. ``victim_not_analysed`` - all of the person's cases were
  excluded; 8. ``duplicate_record`` - the same person and incident twice.
Offenders
  10. ``unmatched_offender`` - the occurrence number matches no case entry;
  6. ``case_excluded``; 8. ``duplicate_record``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msht.base import progress
from msht.ingest import coding
from msht.ingest.extracts import SOURCE_ROW, ExtractError, show_value
from msht.base.plaintext import plain_series

ANALYSED = "analysed"

#: The steps of :func:`clean` shown by its progress bar.
CLEAN_STEPS = ("coding cases", "coding victim records", "case rules", "victim records", "police-record entries",
               "offenders", "analysis tables")

#: Exclusion rules: (step number, rule code, entity, description). Order is the order applied.
RULES: tuple[tuple[int, str, str, str], ...] = (
    (1, "no_victim_id", "cases", "The case entry has no victim ID"),
    (2, "outside_period", "cases", "The case date is outside the analysed period"),
    (3, "conflicting", "cases", "Same victim and date, different occurrence numbers and different sociodemographics"),
    (4, "duplicate", "cases", "Same victim and date, identical except the occurrence number (one kept)"),
    (4, "update_superseded", "cases", "Same victim and date, case details updated in a new entry (the last kept)"),
    (5, "not_in_case_file", "victim_records", "Victim ID not in the MSHT case file"),
    (6, "case_excluded", "victim_records", "The record's case entry was excluded"),
    (7, "occurrence_not_in_case_file", "victim_records", "The victim is in the case file, but not on this occurrence"),
    (8, "duplicate_record", "victim_records", "A second record for the same occurrence and person"),
    (5, "not_in_case_file", "police_records", "Person ID not in the MSHT case file"),
    (9, "victim_not_analysed", "police_records", "All of the person's case entries were excluded"),
    (8, "duplicate_record", "police_records", "The same person and incident recorded twice"),
    (10, "unmatched_offender", "offenders", "Occurrence number matches no MSHT case entry"),
    (6, "case_excluded", "offenders", "The offender's case entry was excluded"),
    (8, "duplicate_record", "offenders", "The same offender recorded twice on one occurrence"),
)

#: Extract name -> entity name used in the exclusions table.
ENTITY = {"cases": "cases", "victims": "victim_records", "police_records": "police_records", "offenders": "offenders"}

VICTIM_FIELDS = ("victim_sex", "victim_age", "victim_countries")
CASE_FIELDS = (
    "referral_form", "referring_agency", "criminal_exploitation", "labour_exploitation", "sexual_exploitation",
    "domestic_servitude", "other_exploitation", "exploitation_location", "county_lines", "engagement",
    "offered", "accepted",
)


@dataclass
class CleanResult:
    """The analysis tables, the exclusions table and every raw row's status."""

    cases: pd.DataFrame
    victims: pd.DataFrame
    offenders: pd.DataFrame
    exclusions: pd.DataFrame
    status: dict[str, pd.DataFrame] = field(default_factory=dict)
    mappings: pd.DataFrame = field(default_factory=pd.DataFrame)


#: Day-first formats tried for date fields, then ISO 8601 (a date exported with a time, or a
#: datetime without one, is accepted either way; so are fractional seconds). An ISO date-time with
#: a UTC offset or ``Z`` is read as the local date as written (:func:`msht.ingest.coding.read_dates`).
DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S.%f")
_DMY_SHAPE = r"^\d{1,2}/\d{1,2}/\d{4}(?: \d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
#: Year-first text read as a date: a whole date (``2018-02-01``, ``2018/2/1``, ``2018.02.01``: one
#: separator throughout; ``20180201``), maybe with a time; never a year or a month alone
#: (``2018-02`` is no day of February).
_ISO_WHOLE_DATE = r"^(?:\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{8})(?:$|[T ])"
#: A year alone, or a year and month (``2018``, ``2018-02``, ``2018/2``).
_YEAR_OR_MONTH = r"^\d{4}(?:[-/](?:0?[1-9]|1[0-2]))?$"
#: The year of a dd/mm/yyyy or year-first date (8 digits only when they are a plausible yyyymmdd:
#: ``31122020`` has no year), to say when it is one a ``datetime64[ns]`` column cannot hold.
_YEAR = (r"^(?:\d{1,2}/\d{1,2}/(\d{4})|(\d{4})-\d{1,2}-\d{1,2}|(\d{4})/\d{1,2}/\d{1,2}|(\d{4})\.\d{1,2}\.\d{1,2}"
         r"|(\d{4})(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?!\d)")
#: A whole number such as a spreadsheet writes for a date (days since 1899-12-30) in a CSV.
_SERIAL = r"^\d{4,5}(?:\.\d+)?$"


#: Most distinct date texts :func:`date_failures` remembers between calls; past it the memory
#: starts again (and a column with more distinct values than this is read without it).
DATES_REMEMBERED_MAX = 200_000

#: ``nullable`` -> (the distinct date texts read so far, then per text, after a first entry for
#: a missing value: its parsed date, normalised text and whether it is not a date). Reading a
#: text is the same in every call, and the forces of a national run share their dates (a few
#: thousand days of one period), so each force reads only the dates no earlier force had.
_DATES_READ: dict[bool, tuple[pd.Index, np.ndarray, pd.api.extensions.ExtensionArray, np.ndarray]] = {}


def date_failures(values: pd.Series, *, nullable: bool = True) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse dd/mm/yyyy (optionally with ``HH:MM[:SS]``) or ISO dates, as :func:`parse_dates`
    does, without raising: returns the parsed dates (``NaT`` where missing or bad), the
    normalised text, and a boolean mask of the values that are not dates. Each distinct value
    is read once (a national extract holds a few thousand dates in hundreds of thousands of
    rows), and once only across calls (:data:`_DATES_READ`)."""
    codes, uniques = pd.factorize(values.astype("string"))
    read = _read_distinct_dates(uniques, nullable) if len(values) else None
    if read is None:
        if not len(values) or len(uniques) * 2 > len(values):  # mostly distinct values: nothing to gain
            return _date_failures(values, nullable=nullable)
        distinct = pd.Series(pd.array([*uniques, pd.NA], dtype="string"))  # the last one: missing
        parsed, text, bad = _date_failures(distinct, nullable=nullable)
        read = parsed.to_numpy(), text.array, bad.to_numpy(dtype=bool)
    parsed, text, bad = read
    rows = np.where(codes >= 0, codes, len(uniques))
    return (pd.Series(parsed[rows], index=values.index, dtype=parsed.dtype),
            pd.Series(text.take(rows), index=values.index, name=values.name),
            pd.Series(bad[rows], index=values.index))


def _read_distinct_dates(uniques: object, nullable: bool) -> tuple[np.ndarray, object, np.ndarray] | None:
    """:func:`_date_failures` of ``[*uniques, <NA>]`` as arrays (parsed ``datetime64[ns]``, text,
    bad), reading only the texts no earlier call read (:data:`_DATES_READ`). ``None`` when the
    column has too many distinct values to remember, or a reading is not in ``datetime64[ns]``
    (then the caller reads as before)."""
    values = pd.Index(np.asarray(uniques, dtype=object))
    if len(values) > DATES_REMEMBERED_MAX:
        return None
    known = _DATES_READ.get(nullable)
    if known is None or len(known[0]) + len(values) > DATES_REMEMBERED_MAX:
        parsed, text, bad = _date_failures(pd.Series(pd.array([pd.NA], dtype="string")), nullable=nullable)
        known = (pd.Index([], dtype=object), parsed.to_numpy(), text.array, bad.to_numpy(dtype=bool))
    index, parsed, text, bad = known
    rows = index.get_indexer(values)
    new = rows < 0
    if new.any():
        more = _date_failures(pd.Series(pd.array(values[new], dtype="string")), nullable=nullable)
        if more[0].dtype != np.dtype("datetime64[ns]") or parsed.dtype != more[0].dtype:
            return None
        index = index.append(values[new])
        parsed = np.concatenate([parsed, more[0].to_numpy()])
        text = type(text)._concat_same_type([text, more[1].array])
        bad = np.concatenate([bad, more[2].to_numpy(dtype=bool)])
        rows = index.get_indexer(values)
    _DATES_READ[nullable] = (index, parsed, text, bad)
    take = np.append(rows + 1, 0)  # the last one: missing
    return parsed[take], text.take(take), bad[take]


#: A date (and time) in ASCII digits alone: already as the normalisation would leave it (no
#: space to strip, nothing to fold, never a missing marker, which holds no digit).
_PLAIN_DATE = r"\d{1,2}/\d{1,2}/\d{4}(?: \d{1,2}:\d{2}(?::\d{2})?)?"


def _date_failures(values: pd.Series, *, nullable: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """:func:`date_failures` on every value of ``values``; only values that are not plain dates
    (:data:`_PLAIN_DATE`) go through the text normalisation."""
    text = values.astype("string")
    other = ~text.str.fullmatch(_PLAIN_DATE, flags=re.ASCII, na=True).astype(bool)
    if coding.MARKER_HAS_DIGIT:
        other = text.notna()
    if other.any():
        text = text.copy()
        fixed = plain_series(text[other]).str.strip()
        if nullable:
            fixed = fixed.mask(coding.normalise_text(fixed).isna() & fixed.notna())
        text[other] = fixed
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in DATE_FORMATS:
        todo = parsed.isna() & text.notna()
        if not todo.any():
            break
        parsed[todo] = coding.read_dates(text[todo], fmt)
    todo = parsed.isna() & text.str.match(_ISO_WHOLE_DATE, na=False).astype(bool)
    if todo.any():
        parsed[todo] = coding.read_dates(text[todo], "ISO8601")
    return parsed, text, (text.notna() & parsed.isna())


def date_error(text: object) -> str:
    """What is wrong with a value :func:`date_failures` could not read as a date."""
    value = pd.Series([text]).astype("string")
    if value.str.match(_YEAR_OR_MONTH).iloc[0]:
        return "is a year (or month) alone, not a date (expected dd/mm/yyyy)"
    year = value.str.extract(_YEAR).bfill(axis=1).iloc[0, 0]
    if not pd.isna(year) and not coding.DATE_RANGE[0].year <= int(year) <= coding.DATE_RANGE[1].year:
        return (f"is outside the dates the analysis can hold (years {coding.DATE_RANGE[0].year} to "
                f"{coding.DATE_RANGE[1].year})")
    if value.str.match(_DMY_SHAPE).iloc[0]:
        return "is not a valid calendar date"
    if value.str.match(_SERIAL).iloc[0]:
        return "is a number, not a date (a spreadsheet's date serial? expected dd/mm/yyyy)"
    return "is not a date (expected dd/mm/yyyy)"


def parse_dates(values: pd.Series, *, path: str, column: str, rows: pd.Series, with_time: bool = False,
                nullable: bool = True) -> pd.Series:
    """Parse dd/mm/yyyy (optionally with ``HH:MM[:SS]``) or ISO dates; raise ExtractError naming
    the first bad value. In a ``nullable`` field a missing marker (``N/K``, ``Unknown``...) is a
    missing date; in the others it is an error. ``with_time`` is kept for callers; every field
    accepts both forms."""
    parsed, text, bad = date_failures(values, nullable=nullable)
    if bad.any():
        i = bad.idxmax()
        raise ExtractError(f"{path}: column '{column}', row {rows[i]}: value {show_value(text[i])} {date_error(text[i])}")
    return parsed


#: What is wrong with an age :func:`age_failures` flags.
AGE_ERROR = "is not a number of years"


def age_failures(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Ages as numbers (``NaN`` where missing or not a number) and the mask of values that are
    not a number of years (what :func:`_parse_age` stops on)."""
    text = coding.normalise_text(values)
    num = pd.to_numeric(text, errors="coerce")
    return num, text.notna() & num.isna()


def _parse_age(values: pd.Series, *, path: str, rows: pd.Series) -> pd.Series:
    num, bad = age_failures(values)
    if bad.any():
        i = bad.idxmax()
        raise ExtractError(f"{path}: column 'age', row {rows[i]}: value {show_value(values[i])} {AGE_ERROR}")
    num = num.where((num >= 0) & (num <= 110))
    return num.round().astype("Int64")


def code_cases(frame: pd.DataFrame, *, path: str, force_words: list[str]) -> pd.DataFrame:
    """Code the case extract's fields (see :mod:`msht.ingest.coding`)."""
    rows = frame[SOURCE_ROW]
    out = pd.DataFrame(index=frame.index)
    out[SOURCE_ROW] = rows
    out["occurrence_number"] = frame["occurrence_number"].astype("string").str.strip()
    person = frame["victim_person_id"].astype("string").str.strip()
    out["person_id"] = person.mask(coding.is_missing(person))  # blank or a missing marker: no ID
    out["date"] = parse_dates(frame["recorded_date"], path=path, column="recorded_date", rows=rows, nullable=False)
    out["entered_on"] = parse_dates(frame["entered_on"], path=path, column="entered_on", rows=rows, with_time=True)
    out["referral_form"] = coding.code_referral_form(frame["referral_form"])
    out["referring_agency"] = coding.code_referring_agency(frame["referring_agency"], force_words)
    types = coding.code_exploitation_types(frame["exploitation_type"])
    out["exploitation_known"] = types.notna().all(axis=1).to_numpy()
    for col in types.columns:
        out[col] = types[col].fillna(False).astype(bool)
    out["exploitation_location"] = coding.code_location(frame["exploitation_location"])
    out["county_lines"] = coding.code_yes_no(frame["county_lines"])
    out["engagement"] = coding.code_engagement(frame["offence_outcome"])
    out["offered"] = coding.code_yes_no(frame["support_offered"])
    out["accepted"] = coding.code_yes_no(frame["support_accepted"])
    return out


def code_victim_records(frame: pd.DataFrame, *, path: str) -> pd.DataFrame:
    """Code the victim records' sociodemographics (age is computed once the case date is known)."""
    rows = frame[SOURCE_ROW]
    out = pd.DataFrame(index=frame.index)
    out[SOURCE_ROW] = rows
    out["occurrence_number"] = frame["occurrence_number"].astype("string").str.strip()
    out["person_id"] = frame["person_id"].astype("string").str.strip()
    out["victim_sex"] = coding.code_sex(frame["sex"])
    out["date_of_birth"] = parse_dates(frame["date_of_birth"], path=path, column="date_of_birth", rows=rows)
    out["recorded_age"] = _parse_age(frame["age"], path=path, rows=rows)
    nat = coding.code_nationality(frame["nationality"])
    out["victim_countries"] = nat["countries"].astype("string")
    out["victim_uk_national"] = nat["uk_national"]
    out["victim_nationality_region"] = nat["region"]
    return out


#: Role words in police-record entries: victim, perpetrator, or other (witness, informant ...).
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "victim": ("victim", "aggrieved", "injured party", "ip"),
    "perpetrator": ("perpetrator", "suspect", "offender", "accused", "arrested person", "defendant"),
    "other": ("witness", "reporting person", "informant", "other", "person of interest", "involved"),
}


def code_role(s: pd.Series) -> pd.Series:
    """Code a person's role in an incident: ``victim``, ``perpetrator``, ``other`` or ``unknown``."""
    codes, uniques = pd.factorize(pd.Series(s).astype("string"))  # coded once per distinct value
    text = coding.normalise_text(pd.Series(uniques, dtype="string"))
    coded = np.full(len(uniques) + 1, "unknown", dtype=object)  # the last slot: missing values
    for code, words in ROLE_WORDS.items():
        coded[:-1][text.isin(words).fillna(False).to_numpy(dtype=bool)] = code
    return pd.Series(coded[codes], index=s.index, dtype=object)


def _signature(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """A hash of each row's values in ``columns`` (missing values compare equal to each other)."""
    return pd.util.hash_pandas_object(frame[list(columns)].astype("string").fillna("<NA>"), index=False)


def duplicate_or_update(entries: pd.DataFrame, key: list[str], details: pd.Series) -> pd.Series:
    """Tell duplicates from updates among case entries of the same victim and date (study 2.5).

    ``entries`` holds the ``key`` columns (victim and date), ``entered_on`` and ``source_row``
    of entries whose sociodemographics agree; ``details`` is a signature of each entry's coded
    case details (same index). Entries are taken in the order entered (``entered_on``, then the
    row in the file). In each group the *final version* is the details of the last entry:

    * an entry the same as an earlier entry of its group except for the occurrence number (same
      details) is a ``duplicate`` -- the first entered of a version is the one that counts;
    * the first entry of every other version is an ``update_superseded``: an earlier version of
      the case, updated in a new entry;
    * the first entry of the final version is ``analysed``.

    So the original, a copy of it and a later entry changing the outcome give one duplicate, one
    update superseded and the later entry analysed. Returns a Series of those three statuses,
    indexed like ``entries``; each group keeps exactly one entry.
    """
    if not len(entries):
        return pd.Series([], index=entries.index, dtype=object)
    frame = entries[key].copy()
    frame["_details"] = details.to_numpy()
    frame["_entered"] = entries["entered_on"].to_numpy()
    frame["_row"] = entries[SOURCE_ROW].to_numpy()
    order = frame.sort_values(["_entered", "_row"], kind="stable")
    final = order.groupby(key, sort=False, dropna=False)["_details"].transform("last")
    first_of_version = ~order.duplicated(key + ["_details"], keep="first")
    verdict = np.where(~first_of_version, "duplicate", np.where(order["_details"] == final, ANALYSED, "update_superseded"))
    return pd.Series(verdict, index=order.index, dtype=object).reindex(entries.index)


def _status_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({SOURCE_ROW: frame[SOURCE_ROW].to_numpy(), "status": ANALYSED}, index=frame.index)


def _mark(status: pd.DataFrame, mask: pd.Series, rule: str) -> None:
    """Give rows still analysed under ``mask`` the exclusion ``rule`` (a row keeps its first reason)."""
    target = mask & (status["status"] == ANALYSED)
    status.loc[target, "status"] = rule


def _age_at(dob: pd.Series, on: pd.Series, recorded: pd.Series) -> pd.Series:
    age = coding.age_from_dob(dob, on)
    return age.fillna(recorded).astype("Int64")


def clean(extracts: dict[str, pd.DataFrame], *, paths: dict[str, str] | None = None,
          period: tuple[str, str] = ("1900-01-01", "2100-12-31"), force_words: list[str] | None = None) -> CleanResult:
    """Apply the section 2.5 rules to validated extract frames and build the analysis tables.

    ``extracts`` maps ``cases``, ``victims``, ``police_records`` and ``offenders`` to the text
    frames of :func:`msht.ingest.extracts.read_extract` (each with a ``source_row`` column). Shows its
    steps in a progress bar (see :mod:`msht.base.progress`).
    """
    with progress.steps("cleaning", *CLEAN_STEPS) as bar:
        return _clean(extracts, paths=paths, period=period, force_words=force_words, bar=bar)


def _clean(extracts: dict[str, pd.DataFrame], *, paths: dict[str, str] | None, period: tuple[str, str],
           force_words: list[str] | None, bar: progress.Steps) -> CleanResult:
    """:func:`clean` under a progress bar: the rules of each extract in turn, then the tables."""
    paths = paths or {k: k for k in extracts}
    force_words = force_words or ["police", "constabulary", "force"]
    bar.advance("coding cases")
    cases = code_cases(extracts["cases"], path=paths["cases"], force_words=force_words)
    bar.advance("coding victim records")
    vrec = code_victim_records(extracts["victims"], path=paths["victims"])
    bar.advance("case rules")
    st_cases, entry = _case_rules(cases, vrec, period)
    analysed_cases = entry[st_cases["status"] == ANALYSED].copy()
    case_ids = set(cases["person_id"].dropna().unique())
    analysed_occ = set(analysed_cases["occurrence_number"].unique())
    bar.advance("victim records")
    st_v = _victim_record_rules(vrec, cases, st_cases, case_ids, analysed_occ)
    bar.advance("police-record entries")
    st_p, counts = _police_record_rules(extracts["police_records"], case_ids, set(analysed_cases["person_id"].unique()))
    bar.advance("offenders")
    st_o, offenders = _offender_rules(extracts["offenders"], cases, analysed_occ, path=paths["offenders"])
    bar.advance("analysis tables")
    c = _case_table(analysed_cases, counts, offenders)
    victims = _victim_table(c, counts)
    # offender pairs carry their case's outcomes and the case's victim
    offenders = offenders.merge(
        c[["occurrence_number", "person_id", "engagement", "offered", "accepted", "period"]], on="occurrence_number", how="left"
    ).reset_index(drop=True)

    status = {"cases": st_cases, "victims": st_v, "police_records": st_p, "offenders": st_o}
    exclusions = exclusions_table(status)
    check_accounting(extracts, status, c, victims_records=int((st_v["status"] == ANALYSED).sum()),
                     offenders=offenders, entries=int(counts["n_entries"].sum()))
    return CleanResult(cases=c, victims=victims, offenders=offenders, exclusions=exclusions, status=status)


def _case_rules(cases: pd.DataFrame, vrec: pd.DataFrame, period: tuple[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rules 1-4 on the coded case rows: no victim ID, outside the period, then the rows of one
    victim on one date (conflicting, duplicate, superseded update). Returns the status frame and
    the case rows with their victim's sociodemographics on that occurrence (``victim_age`` at
    the case date)."""
    st_cases = _status_frame(cases)
    _mark(st_cases, cases["person_id"].isna(), "no_victim_id")
    start, end = pd.Timestamp(period[0]), pd.Timestamp(period[1])
    _mark(st_cases, (cases["date"] < start) | (cases["date"] > end), "outside_period")

    # victim sociodemographics of each case entry (its own record on that occurrence)
    vrec_last = vrec.drop_duplicates(["occurrence_number", "person_id"], keep="last")
    entry = cases.merge(
        vrec_last[["occurrence_number", "person_id", "victim_sex", "date_of_birth", "recorded_age", "victim_countries",
                   "victim_uk_national", "victim_nationality_region"]],
        on=["occurrence_number", "person_id"], how="left",
    ).set_index(cases.index)
    entry["victim_age"] = _age_at(entry["date_of_birth"], entry["date"], entry["recorded_age"])

    live = st_cases["status"] == ANALYSED
    grp = entry[live].groupby(["person_id", "date"], sort=False)
    size = grp["occurrence_number"].transform("size")
    multi = entry[live][size > 1]
    if len(multi):
        key = ["person_id", "date"]
        demo = _signature(multi, VICTIM_FIELDS)
        n_demo = demo.groupby([multi[k] for k in key]).transform("nunique")
        _mark(st_cases, pd.Series(n_demo > 1, index=multi.index).reindex(cases.index, fill_value=False), "conflicting")
        same = multi[n_demo == 1]
        verdict = duplicate_or_update(same, key, _signature(same, CASE_FIELDS))
        for rule in ("duplicate", "update_superseded"):
            _mark(st_cases, (verdict == rule).reindex(cases.index, fill_value=False), rule)
    return st_cases, entry


def _victim_record_rules(vrec: pd.DataFrame, cases: pd.DataFrame, st_cases: pd.DataFrame, case_ids: set,
                         analysed_occ: set) -> pd.DataFrame:
    """The victim-record rules; returns the status frame of the victim records."""
    excluded_occ = set(cases.loc[st_cases["status"] != ANALYSED, "occurrence_number"].unique())
    st_v = _status_frame(vrec)
    _mark(st_v, ~vrec["person_id"].isin(case_ids), "not_in_case_file")
    _mark(st_v, vrec["occurrence_number"].isin(excluded_occ) & ~vrec["occurrence_number"].isin(analysed_occ), "case_excluded")
    pairs = cases[["occurrence_number", "person_id"]].dropna()
    own, known = _pair_keys([vrec["occurrence_number"], pairs["occurrence_number"]],
                            [vrec["person_id"], pairs["person_id"]])
    _mark(st_v, pd.Series(~np.isin(own, known), index=vrec.index), "occurrence_not_in_case_file")
    _mark(st_v, pd.Series(own, index=vrec.index).duplicated(keep="last"), "duplicate_record")
    return st_v


def _pair_keys(first: list[pd.Series], second: list[pd.Series]) -> list[np.ndarray]:
    """One integer per (``first[i]``, ``second[i]``) value pair, equal exactly when both values
    are (missing equal to missing, as :meth:`pandas.DataFrame.duplicated` compares them); one
    array per pair of Series, the codes shared by all of them."""
    a, _ = pd.factorize(pd.concat(first, ignore_index=True).astype(object))
    b, b_uniques = pd.factorize(pd.concat(second, ignore_index=True).astype(object))
    key = (a.astype(np.int64) + 1) * (len(b_uniques) + 1) + (b + 1)
    bounds = np.cumsum([0, *(len(s) for s in first)])
    return [key[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def _stripped_codes(values: pd.Series, *, with_values: bool = True) -> tuple[np.ndarray, np.ndarray | int]:
    """Each row's value stripped of white space (as ``str.strip()``) as a code in the distinct
    stripped values (-1: missing), and those values (an object array of ``str``; with
    ``with_values=False`` only how many there are). Computed once
    per distinct value, with pyarrow when the values are all text (``" P1"`` and ``"P1"`` get one
    code): millions of police-record entries are never handled one Python string at a time.
    Integers (an identifier :mod:`msht.ingest.privacy` has replaced by its code, ``<NA>``
    missing: the incident references of :data:`msht.ingest.privacy.CODED_FIELDS`) are their own
    stripped values: coded as they are, in order of first appearance."""
    import pyarrow.compute as pc

    from msht.ingest.extracts import PY_WHITESPACE, arrow_distinct

    if pd.api.types.is_integer_dtype(values.dtype):
        codes, first = pd.factorize(values)
        return codes, (np.asarray(first, dtype=object) if with_values else len(first))
    encoded = arrow_distinct(values)
    if encoded is not None:
        codes, distinct = encoded
        trimmed = pc.utf8_trim(distinct, characters=PY_WHITESPACE)
        if pc.all(pc.equal(trimmed, distinct)).as_py() is not False:  # nothing to strip (pseudonyms): the same codes
            uniques = distinct.to_numpy(zero_copy_only=False) if with_values else len(distinct)
            return codes, uniques
        again = trimmed.dictionary_encode()
        remap = again.indices.to_numpy(zero_copy_only=False).astype(np.intp)
        uniques = again.dictionary.to_numpy(zero_copy_only=False) if with_values else len(again.dictionary)
    else:
        codes, first = pd.factorize(values.astype("string"))
        remap, uniques = pd.factorize(np.array([str(u).strip() for u in first], dtype=object))
        uniques = np.asarray(uniques, dtype=object) if with_values else len(uniques)
    return np.where(codes >= 0, remap[np.where(codes >= 0, codes, 0)], -1), uniques


def _police_record_rules(pr: pd.DataFrame, case_ids: set, analysed_people: set) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The police-record rules; returns their status frame and, per analysed person, the entries
    by role (``victim, perpetrator, other, unknown``) and ``n_entries``.

    Persons and incidents are compared as codes in their distinct (stripped) values: the same
    rules as on the text, in a few vectorised passes over millions of entries."""
    person, people = _stripped_codes(pr["person_id"])
    incident, n_incidents = _stripped_codes(pr["incident_reference"], with_values=False)
    st_p = _status_frame(pr)

    def among(ids: set) -> np.ndarray:  # rows whose person is in ``ids`` (a missing person is not)
        hit = np.append(pd.Series(people, dtype=object).isin(ids).to_numpy(dtype=bool), False)
        return hit[person]

    _mark(st_p, pd.Series(~among(case_ids), index=pr.index), "not_in_case_file")
    _mark(st_p, pd.Series(~among(analysed_people), index=pr.index), "victim_not_analysed")
    pair = (person.astype(np.int64) + 1) * (n_incidents + 1) + (incident + 1)  # missing == missing, as duplicated()
    _mark(st_p, pd.Series(pair, index=pr.index).duplicated(keep="first"), "duplicate_record")
    roles = code_role(pr["role"])
    live_p = (st_p["status"] == ANALYSED).to_numpy(dtype=bool)
    levels = ["victim", "perpetrator", "other", "unknown"]
    role = pd.Index(levels).get_indexer(roles[live_p].to_numpy(dtype=object))
    cells = np.bincount(person[live_p] * len(levels) + role, minlength=len(people) * len(levels))
    table = cells.reshape(len(people), len(levels))
    seen = table.sum(axis=1) > 0
    order = np.argsort(people[seen], kind="stable")  # sorted by person, as a pivot table
    counts = pd.DataFrame(table[seen][order], index=pd.Index(people[seen][order], name="person_id", dtype="string"),
                          columns=pd.Index(levels, name="role"))
    counts["n_entries"] = counts.sum(axis=1)
    return st_p, counts


def _offender_rules(of: pd.DataFrame, cases: pd.DataFrame, analysed_occ: set, *, path: str
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The offender rules; returns their status frame and the coded offender rows kept."""
    of_occ = of["occurrence_number"].astype("string").str.strip()
    of_pid = of["offender_person_id"].astype("string").str.strip()
    st_o = _status_frame(of)
    _mark(st_o, ~of_occ.isin(set(cases["occurrence_number"].unique())), "unmatched_offender")
    _mark(st_o, ~of_occ.isin(analysed_occ), "case_excluded")
    _mark(st_o, pd.DataFrame({"o": of_occ, "p": of_pid}).duplicated(keep="last"), "duplicate_record")
    live_o = st_o["status"] == ANALYSED
    offenders = pd.DataFrame(
        {
            "occurrence_number": of_occ[live_o],
            "offender_id": of_pid[live_o],
            "offender_sex": coding.code_sex(of["sex"][live_o]),
            "offender_age": _parse_age(of["age"][live_o], path=path, rows=of[SOURCE_ROW][live_o]),
        }
    )
    eth = coding.code_ethnicity(of["ethnicity"][live_o])
    offenders["offender_ethnicity5"] = eth["group5"].to_numpy()
    offenders["offender_ethnicity2"] = eth["white_other"].to_numpy()
    nat = coding.code_nationality(of["nationality"][live_o])
    offenders["offender_uk_national"] = nat["uk_national"].to_numpy()
    offenders["offender_nationality_region"] = nat["region"].to_numpy()
    offenders["offender_age6"] = coding.age_band6(offenders["offender_age"]).to_numpy()
    offenders["offender_age3"] = coding.age_band3(offenders["offender_age"]).to_numpy()
    return st_o, offenders


def _case_table(c: pd.DataFrame, counts: pd.DataFrame, offenders: pd.DataFrame) -> pd.DataFrame:
    """The analysis table of cases from the analysed case rows ``c`` (changed in place): age
    bands, period, police-record factors (``counts`` from :func:`_police_record_rules`) and
    offenders per case; sorted by date, entry time and source row."""
    c["victim_age6"] = coding.age_band6(c["victim_age"])
    c["victim_age3"] = coding.age_band3(c["victim_age"])
    c["victim_age2"] = coding.age_band2(c["victim_age"])
    for col in ("victim_sex", "victim_uk_national", "victim_nationality_region"):
        c[col] = c[col].fillna("unknown")
    c["period"] = coding.code_period(c["date"])
    c["accepted"] = c["accepted"].where(c["offered"] == "yes", "unknown")
    ent = counts.reindex(c["person_id"])
    c["n_entries"] = ent["n_entries"].fillna(0).astype(int).to_numpy()
    c["police_entries"] = np.select([c["n_entries"] == 1, c["n_entries"] > 1], ["one", "several"], "unknown")
    c["more_perp_than_victim"] = np.where(
        c["n_entries"] > 0, np.where(ent["perpetrator"].to_numpy() > ent["victim"].to_numpy(), "yes", "no"), "unknown"
    )
    n_off = offenders.groupby("occurrence_number").size()
    c["n_offenders"] = n_off.reindex(c["occurrence_number"]).fillna(0).astype(int).to_numpy()
    c["recorded_offender"] = np.where(c["n_offenders"] > 0, "yes", "no")
    c = c.sort_values(["date", "entered_on", SOURCE_ROW], kind="stable")
    return c.drop(columns=["recorded_age", "date_of_birth", SOURCE_ROW]).reset_index(drop=True)


def _victim_table(c: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """Victims: one row per analysed person, attributes from their first case, cases and
    police-record entries as victim / as perpetrator."""
    first = c.drop_duplicates("person_id")
    victims = first[["person_id", "victim_sex", "victim_age", "victim_age6", "victim_age3", "victim_age2",
                     "victim_uk_national", "victim_nationality_region", "n_entries"]].copy()
    victims["n_cases"] = c.groupby("person_id").size().reindex(victims["person_id"]).to_numpy()
    pc = counts.reindex(victims["person_id"]).fillna(0).astype(int)
    victims["n_as_victim"] = pc["victim"].to_numpy()
    victims["n_as_perpetrator"] = pc["perpetrator"].to_numpy()
    return victims.reset_index(drop=True)


def exclusions_table(status: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Build ``exclusions.csv``: ``step, rule, entity, description, rows_in, excluded, rows_out``."""
    rows = []
    for extract, st in status.items():
        entity = ENTITY[extract]
        remaining = len(st)
        for step, rule, ent, desc in RULES:
            if ent != entity:
                continue
            excluded = int((st["status"] == rule).sum())
            rows.append({"step": step, "rule": rule, "entity": entity, "description": desc,
                         "rows_in": remaining, "excluded": excluded, "rows_out": remaining - excluded})
            remaining -= excluded
    return pd.DataFrame(rows)


def check_accounting(extracts: dict[str, pd.DataFrame], status: dict[str, pd.DataFrame], cases: pd.DataFrame, *,
                     victims_records: int, offenders: pd.DataFrame, entries: int) -> None:
    """Assert that every raw row is analysed or excluded for exactly one named rule."""
    known = {rule for _, rule, _, _ in RULES} | {ANALYSED}
    for name, st in status.items():
        if len(st) != len(extracts[name]):
            raise AssertionError(f"row accounting: {name} has {len(extracts[name])} raw rows but {len(st)} statuses")
        unknown = set(st["status"].unique()) - known
        if unknown:
            raise AssertionError(f"row accounting: {name} has rows with unnamed statuses {sorted(unknown)}")
    if (status["cases"]["status"] == ANALYSED).sum() != len(cases):
        raise AssertionError("row accounting: analysed case entries differ from the analysis table")
    if (status["offenders"]["status"] == ANALYSED).sum() != len(offenders):
        raise AssertionError("row accounting: analysed offender rows differ from the analysis table")
    if (status["police_records"]["status"] == ANALYSED).sum() != entries:
        raise AssertionError("row accounting: analysed police-record entries differ from the counted entries")


#: The analysis tables written by notebook 01 (row-level: they stay in the git-ignored data folder).
TABLES = ("cases", "victims", "offenders")


def clean_extracts(extracts: dict, params, key: bytes | None = None) -> CleanResult:
    """Pseudonymise the identifiers of :class:`msht.ingest.extracts.Extract` objects (see
    :mod:`msht.ingest.privacy`; ``key`` defaults to ``$MSHT_PSEUDONYM_KEY`` or a random key), then
    clean them with a run's params (period, force words)."""
    from msht.ingest import privacy

    frames = privacy.pseudonymise({name: e.frame for name, e in extracts.items()}, key or privacy.key_from_env())
    return clean(
        frames,
        paths={name: e.path.name for name, e in extracts.items()},
        period=(params.period_start, params.period_end),
        force_words=params.force_words,
    )


def write_tables(result: CleanResult, processed_dir) -> None:
    """Write the analysis tables as Parquet to ``processed_dir`` (git-ignored)."""
    from pathlib import Path

    processed_dir = Path(processed_dir)
    processed_dir.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        getattr(result, name).to_parquet(processed_dir / f"{name}.parquet", index=False)


def read_tables(processed_dir) -> dict[str, pd.DataFrame]:
    """Read the analysis tables notebook 01 wrote."""
    from pathlib import Path

    processed_dir = Path(processed_dir)
    missing = [n for n in TABLES if not (processed_dir / f"{n}.parquet").exists()]
    if missing:
        raise FileNotFoundError(f"{processed_dir}: analysis tables {missing} not found; run notebooks/01_clean.ipynb first")
    from msht.base.parquet import read_frame

    return {name: read_frame(processed_dir / f"{name}.parquet") for name in TABLES}
