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

import datetime
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from msht.base import progress
from msht.ingest import coding
from msht.ingest.extracts import SOURCE_ROW, ExtractError, column_label, show_value
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


#: A year-first date with separators (``2021-13-01``, ``2021/02/30``), as :data:`_ISO_WHOLE_DATE`
#: reads it, that is no calendar date.
_ISO_DATE_SHAPE = r"^(?P<year>\d{4})([-/.])(?P<month>\d{1,2})\2(?P<day>\d{1,2})(?:$|[T ])"


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
    codes, uniques = coding.factorize_text(values)
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


#: A date (and time) in the fixed width forces export (``05/03/2019``, ``05/03/2019 14:07``,
#: ``05/03/2019 14:07:09``; ASCII digits): :func:`_read_fixed_dates` reads it from its digits.
_FIXED_DATE = r"[0-9]{2}/[0-9]{2}/[0-9]{4}(?: [0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?"


def _read_fixed_dates(text: np.ndarray) -> np.ndarray:
    """The ``datetime64[ns]`` of each text of ``text`` (an object array of strings that match
    :data:`_FIXED_DATE`) read from its digits, as the formats of :data:`DATE_FORMATS` read it;
    ``NaT`` for one that is no valid calendar date and time within :data:`coding.DATE_RANGE`
    (day 31 of April, hour 24...), which the caller then reads with pandas (and reports as pandas
    finds it). A national extract's hundreds of thousands of entry times are read in a few
    vectorised passes instead of one ``strptime`` each."""
    chars = np.array(text, dtype="S19").view(np.uint8).reshape(len(text), 19)  # one byte per character

    def number(start: int, width: int) -> np.ndarray:
        out = np.zeros(len(text), dtype=np.int64)
        for i in range(start, start + width):
            out = out * 10 + (chars[:, i].astype(np.int64) - ord("0"))
        return out

    has_time = chars[:, 10] == ord(" ")
    has_seconds = chars[:, 16] == ord(":")
    day, month, year = number(0, 2), number(3, 2), number(6, 4)
    hour = np.where(has_time, number(11, 2), 0)
    minute = np.where(has_time, number(14, 2), 0)
    second = np.where(has_seconds, number(17, 2), 0)
    first_year, last_year = coding.DATE_RANGE[0].year, coding.DATE_RANGE[1].year
    month_start = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    month_days = ((month_start + 1).astype("datetime64[D]") - month_start.astype("datetime64[D]")).astype(np.int64)
    valid = ((first_year <= year) & (year <= last_year) & (1 <= month) & (month <= 12) & (1 <= day)
             & (day <= month_days) & (hour <= 23) & (minute <= 59) & (second <= 59))
    seconds = ((month_start.astype("datetime64[D]") - np.datetime64("1970-01-01", "D")).astype(np.int64) + day - 1) * 86400
    seconds = seconds + hour * 3600 + minute * 60 + second
    out = (seconds * 1_000_000_000).astype("datetime64[ns]")
    out[~valid] = np.datetime64("NaT")
    return out


def _date_failures(values: pd.Series, *, nullable: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """:func:`date_failures` on every value of ``values``; only values that are not plain dates
    (:data:`_PLAIN_DATE`) go through the text normalisation, and fixed-width ones
    (:data:`_FIXED_DATE`) are read from their digits (:func:`_read_fixed_dates`)."""
    text = values.astype("string")
    other = ~pd.Series(coding.ascii_pattern_matches(text, _PLAIN_DATE, whole=True, missing=True), index=text.index)
    if coding.MARKER_HAS_DIGIT:
        other = text.notna()
    if other.any():
        text = text.copy()
        fixed = plain_series(text[other]).str.strip()
        if nullable:
            fixed = fixed.mask(coding.normalise_text(fixed).isna() & fixed.notna())
        text[other] = fixed
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    fixed_width = coding.ascii_pattern_matches(text, _FIXED_DATE, whole=True)
    if fixed_width.any():
        parsed[fixed_width] = _read_fixed_dates(text[fixed_width].to_numpy(dtype=object))
    for fmt in DATE_FORMATS:
        todo = parsed.isna() & text.notna()
        if not todo.any():
            break
        parsed[todo] = coding.read_dates(text[todo], fmt)
    todo = parsed.isna() & text.notna()
    if todo.any():
        todo[todo] = text[todo].str.match(_ISO_WHOLE_DATE, na=False).astype(bool)
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
    iso = re.match(_ISO_DATE_SHAPE, str(text))
    if iso:
        try:
            datetime.date(int(iso["year"]), int(iso["month"]), int(iso["day"]))
        except ValueError:
            return "is not a valid calendar date (read as yyyy-mm-dd)"
        return "has a date but not a time that can be read (expected yyyy-mm-dd hh:mm[:ss])"
    return "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"


def parse_dates(values: pd.Series, *, path: str, column: str, rows: pd.Series, with_time: bool = False,
                nullable: bool = True) -> pd.Series:
    """Parse dd/mm/yyyy (optionally with ``HH:MM[:SS]``) or ISO dates; raise ExtractError naming
    the first bad value. In a ``nullable`` field a missing marker (``N/K``, ``Unknown``...) is a
    missing date; in the others it is an error. ``with_time`` is kept for callers; every field
    accepts both forms."""
    parsed, text, bad = date_failures(values, nullable=nullable)
    if bad.any():
        i = bad.idxmax()
        raise ExtractError(f"{path}: column {column_label(column, getattr(path, 'headers', None))}, row {rows[i]}: "
                           f"value {show_value(text[i])} {date_error(text[i])}")
    return parsed


#: What is wrong with an age :func:`age_failures` flags.
AGE_ERROR = "is not a number of years"


def age_failures(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Ages as numbers (``NaN`` where missing or not a number) and the mask of values that are
    not a number of years (what :func:`_parse_age` stops on); each distinct text read once."""
    text = coding.normalise_text(values)
    codes, uniques = pd.factorize(text)
    missing = codes < 0
    if not len(text) or len(uniques) * 2 > len(text):  # mostly distinct values: read as they are
        num = pd.to_numeric(text, errors="coerce")
        return num, text.notna() & num.isna()
    # each distinct text read once (a national extract's ages are a few dozen texts); a missing
    # value read too when there is one, so that pandas infers the dtype of the same set of values
    distinct = pd.Series(pd.array([*uniques, *([pd.NA] if missing.any() else [])], dtype="string"))
    read = pd.to_numeric(distinct, errors="coerce")
    num = pd.Series(read.array.take(np.where(missing, len(uniques), codes)), index=text.index, name=text.name)
    return num, text.notna() & num.isna()


def _parse_age(values: pd.Series, *, path: str, rows: pd.Series) -> pd.Series:
    num, bad = age_failures(values)
    if bad.any():
        i = bad.idxmax()
        raise ExtractError(f"{path}: column {column_label('age', getattr(path, 'headers', None))}, row {rows[i]}: "
                           f"value {show_value(values[i])} {AGE_ERROR}")
    num = num.where((num >= 0) & (num <= 110))
    return num.round().astype("Int64")


def _stripped(values: pd.Series) -> pd.Series:
    """``values.astype("string").str.strip()`` (identifiers stripped of white space), stripped by
    pyarrow when it can hold the values (``utf8_trim`` of the characters Python's ``str.strip()``
    removes, :data:`msht.ingest.extracts.PY_WHITESPACE`): hundreds of thousands of IDs are not
    stripped one Python string at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from msht.ingest.extracts import PY_WHITESPACE

    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arrow = pa.chunked_array(values.array.__arrow_array__())  # read as it is held
    else:
        values = values.astype("string")
        try:
            arrow = pa.chunked_array([pa.array(values.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)])
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError):
            return values.str.strip()
    trimmed = pc.utf8_trim(arrow, characters=PY_WHITESPACE)
    if pc.all(pc.equal(trimmed, arrow)).as_py() is not False:  # nothing to strip (pseudonyms)
        return values.astype("string")
    return pd.Series(pd.array(trimmed.to_numpy(), dtype="string"), index=values.index, name=values.name)


def code_cases(frame: pd.DataFrame, *, path: str, force_words: list[str]) -> pd.DataFrame:
    """Code the case extract's fields (see :mod:`msht.ingest.coding`)."""
    rows = frame[SOURCE_ROW]
    out = pd.DataFrame(index=frame.index)
    out[SOURCE_ROW] = rows
    out["occurrence_number"] = _stripped(frame["occurrence_number"])
    person = _stripped(frame["victim_person_id"])
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
    out["occurrence_number"] = _stripped(frame["occurrence_number"])
    out["person_id"] = _stripped(frame["person_id"])
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


#: The roles :func:`code_role` codes, in the order of the police-record counts' columns.
ROLES = ("victim", "perpetrator", "other", "unknown")


def code_role(s: pd.Series) -> pd.Series:
    """Code a person's role in an incident: ``victim``, ``perpetrator``, ``other`` or ``unknown``."""
    return pd.Series(np.array(ROLES, dtype=object)[_role_codes(s)], index=s.index, dtype=object)


def _role_codes(s: pd.Series) -> np.ndarray:
    """:func:`code_role` as each row's place in :data:`ROLES`, coded once per distinct value
    (:func:`msht.ingest.coding.factorize_text`)."""
    codes, uniques = coding.factorize_text(pd.Series(s))  # Python strings factorised as they are
    text = coding.normalise_text(pd.Series(uniques, dtype="string"))
    coded = np.full(len(uniques) + 1, ROLES.index("unknown"), dtype=np.intp)  # the last slot: missing values
    for code, words in ROLE_WORDS.items():
        coded[:-1][text.isin(words).fillna(False).to_numpy(dtype=bool)] = ROLES.index(code)
    return coded[codes]


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


#: The statuses a row can have, as :class:`_Status` stores them: 0 is ``analysed``, then each
#: rule code of :data:`RULES` once, in order.
_STATUS_NAMES = np.array([ANALYSED, *dict.fromkeys(rule for _, rule, _, _ in RULES)], dtype=object)
_STATUS_CODE = {name: code for code, name in enumerate(_STATUS_NAMES)}


class _Status:
    """Every raw row's status while the rules run: one small integer per row (0: analysed, else
    the rule's place in :data:`_STATUS_NAMES`), compared as numbers over millions of rows."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.rows = frame[SOURCE_ROW].to_numpy()
        self.index = frame.index
        self.code = np.zeros(len(frame), dtype=np.int8)

    def mark(self, mask: pd.Series | np.ndarray, rule: str) -> None:
        """Give rows still analysed under ``mask`` (a boolean per row, in row order) the exclusion
        ``rule`` (a row keeps its first reason). A Series is read by its index, so a mask in
        another order marks the right rows; one missing a row of the frame raises KeyError."""
        if isinstance(mask, pd.Series) and not mask.index.equals(self.index):
            mask = mask.loc[self.index]
        self.code[np.asarray(mask, dtype=bool) & (self.code == 0)] = _STATUS_CODE[rule]

    @property
    def analysed(self) -> np.ndarray:
        """A boolean per row: still analysed."""
        return self.code == 0

    def counted(self) -> pd.Series:
        """Rows per status (the statuses no row has left out)."""
        n = np.bincount(self.code, minlength=len(_STATUS_NAMES))
        return pd.Series(n[n > 0], index=_STATUS_NAMES[n > 0])

    def frame(self) -> pd.DataFrame:
        """The status frame: ``source_row`` and ``status`` (the rule code or ``analysed``)."""
        text = pd.Series([ANALYSED]).dtype  # the dtype pandas gives a column of text
        return pd.DataFrame({SOURCE_ROW: self.rows, "status": pd.array(_STATUS_NAMES[self.code], dtype=text)},
                            index=self.index)


def _codes(*columns: pd.Series) -> list[np.ndarray]:
    """One integer per value of the ``columns``, the same for equal values across them (a missing
    value is a value too, as :meth:`pandas.Series.isin` and ``duplicated`` compare it); one array
    per column."""
    codes, _ = pd.factorize(pd.concat(columns, ignore_index=True), use_na_sentinel=False)
    bounds = np.cumsum([0, *(len(c) for c in columns)])
    return [codes[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def _pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One integer per (``first[i]``, ``second[i]``) pair of codes (:func:`_codes`), equal exactly
    when both codes are."""
    return first.astype(np.int64) * (second.max(initial=-1) + 1) + second


@dataclass(frozen=True)
class _Keys:
    """The occurrence numbers and person IDs of the coded case rows and of the victim records as
    codes shared by both (:func:`_codes`: a missing value is a value too), found once for the
    rules of both extracts."""

    case_occurrence: np.ndarray
    case_person: np.ndarray
    record_occurrence: np.ndarray
    record_person: np.ndarray

    @classmethod
    def of(cls, cases: pd.DataFrame, vrec: pd.DataFrame) -> _Keys:
        """The codes of ``cases`` and ``vrec`` (:func:`code_cases`, :func:`code_victim_records`)."""
        case_occurrence, record_occurrence = _codes(cases["occurrence_number"], vrec["occurrence_number"])
        case_person, record_person = _codes(cases["person_id"], vrec["person_id"])
        return cls(case_occurrence, case_person, record_occurrence, record_person)

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """One integer per (occurrence, person) pair of the case rows, and of the records (found
        once, read by the rules and by :func:`_with_victim_record`)."""
        pairs = _pairs(np.concatenate([self.case_occurrence, self.record_occurrence]),
                       np.concatenate([self.case_person, self.record_person]))
        return pairs[:len(self.case_occurrence)], pairs[len(self.case_occurrence):]


def _among(codes: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """A boolean per code of ``codes``: whether it is one of ``ids`` (codes of :func:`_codes`)."""
    size = max(codes.max(initial=-1), ids.max(initial=-1)) + 1
    known = np.zeros(size, dtype=bool)
    known[ids] = True
    return known[codes]


def _age_at(dob: pd.Series, on: pd.Series, recorded: pd.Series) -> pd.Series:
    age = coding.age_from_dob(dob, on)
    return age.fillna(recorded).astype("Int64")


def clean(extracts: dict[str, pd.DataFrame], *, paths: dict[str, str] | None = None,
          period: tuple[str, str] = ("1900-01-01", "2100-12-31"), force_words: list[str] | None = None) -> CleanResult:
    """Apply the section 2.5 rules to validated extract frames and build the analysis tables.
    ``paths``: extract -> the file's name as messages give it (:attr:`Extract.source
    <msht.ingest.extracts.Extract.source>`, which names a column by the file's own header).

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
    keys = _Keys.of(cases, vrec)
    st_cases, entry = _case_rules(cases, vrec, period, keys)
    live = st_cases.analysed
    analysed_cases = entry[live]  # a new frame: the rows taken
    del entry  # frames no later step reads are let go as soon as they are done with (peak memory)
    bar.advance("victim records")
    st_v = _victim_record_rules(vrec, cases, live, keys)
    del vrec, keys
    bar.advance("police-record entries")
    case_ids = np.asarray(cases["person_id"].dropna().unique(), dtype=object)
    st_p, counts = _police_record_rules(extracts["police_records"], case_ids,
                                        np.asarray(analysed_cases["person_id"].unique(), dtype=object))
    bar.advance("offenders")
    st_o, offenders = _offender_rules(extracts["offenders"], cases, live, path=paths["offenders"])
    del cases
    bar.advance("analysis tables")
    c = _case_table(analysed_cases, counts, offenders)
    del analysed_cases
    victims = _victim_table(c, counts)
    # offender pairs carry their case's outcomes and the case's victim
    offenders = offenders.merge(
        c[["occurrence_number", "person_id", "engagement", "offered", "accepted", "period"]], on="occurrence_number", how="left"
    ).reset_index(drop=True)

    statuses = {"cases": st_cases, "victims": st_v, "police_records": st_p, "offenders": st_o}
    status = {name: st.frame() for name, st in statuses.items()}
    exclusions = exclusions_table(status, {name: st.counted() for name, st in statuses.items()})
    check_accounting(extracts, status, c, victims_records=int(st_v.analysed.sum()),
                     offenders=offenders, entries=int(counts["n_entries"].sum()))
    return CleanResult(cases=c, victims=victims, offenders=offenders, exclusions=exclusions, status=status)


def _case_rules(cases: pd.DataFrame, vrec: pd.DataFrame, period: tuple[str, str], keys: _Keys
                ) -> tuple[_Status, pd.DataFrame]:
    """Rules 1-4 on the coded case rows: no victim ID, outside the period, then the rows of one
    victim on one date (conflicting, duplicate, superseded update); ``keys``: the IDs of both
    extracts as codes. Returns the statuses and
    the case rows with their victim's sociodemographics on that occurrence (``victim_age`` at
    the case date)."""
    st_cases = _Status(cases)
    st_cases.mark(cases["person_id"].isna(), "no_victim_id")
    start, end = pd.Timestamp(period[0]), pd.Timestamp(period[1])
    st_cases.mark((cases["date"] < start) | (cases["date"] > end), "outside_period")
    entry = _with_victim_record(cases, vrec, keys)
    entry["victim_age"] = _age_at(entry["date_of_birth"], entry["date"], entry["recorded_age"])

    live = st_cases.analysed
    date, _ = pd.factorize(cases["date"].to_numpy()[live], use_na_sentinel=False)
    group, _ = pd.factorize(_pairs(keys.case_person[live], date))  # one victim on one date
    multi = entry[live][np.bincount(group)[group] > 1]
    if len(multi):
        key = ["person_id", "date"]
        demo = _signature(multi, VICTIM_FIELDS)
        n_demo = demo.groupby([multi[k] for k in key]).transform("nunique")
        st_cases.mark(pd.Series(n_demo > 1, index=multi.index).reindex(cases.index, fill_value=False), "conflicting")
        same = multi[n_demo == 1]
        verdict = duplicate_or_update(same, key, _signature(same, CASE_FIELDS))
        for rule in ("duplicate", "update_superseded"):
            st_cases.mark((verdict == rule).reindex(cases.index, fill_value=False), rule)
    return st_cases, entry


def _with_victim_record(cases: pd.DataFrame, vrec: pd.DataFrame, keys: _Keys) -> pd.DataFrame:
    """The case rows with the victim-record columns of their own record on that occurrence (the
    last one of the same occurrence and person; missing values where there is none), as a left
    merge on ``occurrence_number, person_id`` gives them (a missing value matching a missing
    value); the rows compared as integer pairs."""
    own, known = keys.pairs
    last = ~pd.Series(known).duplicated(keep="last").to_numpy()
    columns = ["victim_sex", "date_of_birth", "recorded_age", "victim_countries", "victim_uk_national",
               "victim_nationality_region"]
    found = vrec.loc[last, columns].set_axis(known[last]).reindex(own).set_axis(cases.index)
    return pd.concat([cases, found], axis=1)


def _victim_record_rules(vrec: pd.DataFrame, cases: pd.DataFrame, live: np.ndarray, keys: _Keys) -> _Status:
    """The victim-record rules (``live``: the case rows analysed; ``keys``: the IDs of both
    extracts as codes); returns their statuses."""
    st_v = _Status(vrec)
    has_person = cases["person_id"].notna().to_numpy()
    st_v.mark(~_among(keys.record_person, keys.case_person[has_person]), "not_in_case_file")
    occurrence, case_occurrence = keys.record_occurrence, keys.case_occurrence
    excluded = _among(occurrence, case_occurrence[~live]) & ~_among(occurrence, case_occurrence[live])
    st_v.mark(excluded, "case_excluded")
    known, own = keys.pairs
    known = known[has_person & cases["occurrence_number"].notna().to_numpy()]  # a case row's pair of IDs
    st_v.mark(~np.isin(own, known), "occurrence_not_in_case_file")
    st_v.mark(pd.Series(own).duplicated(keep="last").to_numpy(), "duplicate_record")
    return st_v


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


def _police_record_rules(pr: pd.DataFrame, case_ids: np.ndarray, analysed_people: np.ndarray) -> tuple[_Status, pd.DataFrame]:
    """The police-record rules (``case_ids``, ``analysed_people``: the person IDs in the case file
    and those of the analysed case entries); returns their statuses and, per analysed person, the
    entries by role (``victim, perpetrator, other, unknown``) and ``n_entries``.

    Persons and incidents are compared as codes in their distinct (stripped) values: the same
    rules as on the text, in a few vectorised passes over millions of entries."""
    person, people = _stripped_codes(pr["person_id"])
    incident, n_incidents = _stripped_codes(pr["incident_reference"], with_values=False)
    st_p = _Status(pr)

    def among(ids: np.ndarray) -> np.ndarray:  # rows whose person is in ``ids`` (a missing person is not)
        hit = np.append(pd.Series(people, dtype=object).isin(ids).to_numpy(dtype=bool), False)
        return hit[person]

    st_p.mark(~among(case_ids), "not_in_case_file")
    st_p.mark(~among(analysed_people), "victim_not_analysed")
    st_p.mark(_repeated_entries(person, incident, n_incidents), "duplicate_record")
    live_p = st_p.analysed
    role = _role_codes(pr["role"])[live_p]
    cells = np.bincount(person[live_p] * len(ROLES) + role, minlength=len(people) * len(ROLES))
    table = cells.reshape(len(people), len(ROLES))
    seen = table.sum(axis=1) > 0
    order = _text_order(people[seen])  # sorted by person, as a pivot table
    counts = pd.DataFrame(table[seen][order], index=pd.Index(people[seen][order], name="person_id", dtype="string"),
                          columns=pd.Index(list(ROLES), name="role"))
    counts["n_entries"] = counts.sum(axis=1)
    return st_p, counts


def _repeated_entries(person: np.ndarray, incident: np.ndarray, n_incidents: int) -> np.ndarray:
    """A boolean per police-record entry: the same person and incident as an earlier entry (codes
    of :func:`_stripped_codes`, -1 missing: ``duplicated(keep="first")`` of the pairs, a missing
    value equal to a missing value). Only entries whose incident is on more than one row can be, so
    only those pairs are compared (an incident reference is mostly on one row)."""
    shared = np.bincount(incident + 1, minlength=n_incidents + 1)[incident + 1] > 1
    repeated = np.zeros(len(incident), dtype=bool)
    if shared.any():
        pair = (person[shared].astype(np.int64) + 1) * (n_incidents + 1) + (incident[shared] + 1)
        repeated[shared] = pd.Series(pair).duplicated(keep="first").to_numpy()
    return repeated


def _text_order(values: np.ndarray) -> np.ndarray:
    """The stable sorting order of ``values`` (an object array of distinct values), as
    ``np.argsort``; strings sorted by pyarrow (UTF-8 bytes sort as the code points Python
    compares), other values by numpy."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arrow = pa.array(values, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError):
        return np.argsort(values, kind="stable")
    return pc.sort_indices(arrow).to_numpy(zero_copy_only=False).astype(np.intp)


def _offender_rules(of: pd.DataFrame, cases: pd.DataFrame, live: np.ndarray, *, path: str
                    ) -> tuple[_Status, pd.DataFrame]:
    """The offender rules (``live``: the case rows analysed); returns their statuses and the coded
    offender rows kept."""
    of_occ = _stripped(of["occurrence_number"])
    of_pid = _stripped(of["offender_person_id"])
    st_o = _Status(of)
    occurrence, case_occurrence = _codes(of_occ, cases["occurrence_number"])
    st_o.mark(~_among(occurrence, case_occurrence), "unmatched_offender")
    st_o.mark(~_among(occurrence, case_occurrence[live]), "case_excluded")
    pairs = _pairs(occurrence, _codes(of_pid)[0])  # the shared codes tell equal occurrence numbers alike
    st_o.mark(pd.Series(pairs).duplicated(keep="last").to_numpy(), "duplicate_record")
    live_o = st_o.analysed
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
    case_occurrence, occurrence = _codes(c["occurrence_number"], offenders["occurrence_number"])
    counted = occurrence[offenders["occurrence_number"].notna().to_numpy()]  # a missing number: no case's
    c["n_offenders"] = np.bincount(counted, minlength=len(c) + len(offenders))[case_occurrence]
    c["recorded_offender"] = np.where(c["n_offenders"] > 0, "yes", "no")
    c = c.take(_entry_order(c))
    return c.drop(columns=["recorded_age", "date_of_birth", SOURCE_ROW]).reset_index(drop=True)


def _entry_order(c: pd.DataFrame) -> np.ndarray:
    """The order of the case rows by date, entry time (missing last) and source row, as a stable
    ``sort_values`` on those columns gives it."""
    last = np.iinfo(np.int64).max
    entered = c["entered_on"].to_numpy(dtype="datetime64[ns]")
    entered = np.where(np.isnat(entered), last, entered.view(np.int64))
    date = c["date"].to_numpy(dtype="datetime64[ns]")
    date = np.where(np.isnat(date), last, date.view(np.int64))
    return np.lexsort((c[SOURCE_ROW].to_numpy(), entered, date))


def _victim_table(c: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """Victims: one row per analysed person, attributes from their first case, cases and
    police-record entries as victim / as perpetrator."""
    person, _ = pd.factorize(c["person_id"], use_na_sentinel=False)  # in order of first appearance
    n_cases = np.bincount(person)
    first = c.iloc[np.flatnonzero(_first_of_each(person))]
    victims = first[["person_id", "victim_sex", "victim_age", "victim_age6", "victim_age3", "victim_age2",
                     "victim_uk_national", "victim_nationality_region", "n_entries"]].copy()
    victims["n_cases"] = n_cases
    pc = counts.reindex(victims["person_id"]).fillna(0).astype(int)
    victims["n_as_victim"] = pc["victim"].to_numpy()
    victims["n_as_perpetrator"] = pc["perpetrator"].to_numpy()
    return victims.reset_index(drop=True)


def _first_of_each(codes: np.ndarray) -> np.ndarray:
    """A boolean per row: the first row of its code (as ``~duplicated(keep="first")``)."""
    first = np.zeros(len(codes), dtype=bool)
    first[np.unique(codes, return_index=True)[1]] = True
    return first


def exclusions_table(status: dict[str, pd.DataFrame], counted: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """Build ``exclusions.csv``: ``step, rule, entity, description, rows_in, excluded, rows_out``
    (``counted``: each status frame's rows per status, when known)."""
    rows = []
    counted = counted or {extract: st["status"].value_counts() for extract, st in status.items()}
    for extract, st in status.items():
        entity = ENTITY[extract]
        remaining = len(st)
        for step, rule, ent, desc in RULES:
            if ent != entity:
                continue
            excluded = int(counted[extract].get(rule, 0))
            rows.append({"step": step, "rule": rule, "entity": entity, "description": desc,
                         "rows_in": remaining, "excluded": excluded, "rows_out": remaining - excluded})
            remaining -= excluded
    return pd.DataFrame(rows)


def check_accounting(extracts: dict[str, pd.DataFrame], status: dict[str, pd.DataFrame], cases: pd.DataFrame, *,
                     victims_records: int, offenders: pd.DataFrame, entries: int) -> None:
    """Assert that every raw row is analysed or excluded for exactly one named rule."""
    known = {rule for _, rule, _, _ in RULES} | {ANALYSED}
    counted = {}
    for name, st in status.items():
        if len(st) != len(extracts[name]):
            raise AssertionError(f"row accounting: {name} has {len(extracts[name])} raw rows but {len(st)} statuses")
        counted[name] = st["status"].value_counts(dropna=False)
        unknown = set(counted[name].index) - known
        if unknown:
            raise AssertionError(f"row accounting: {name} has rows with unnamed statuses {sorted(unknown, key=str)}")
    if counted["cases"].get(ANALYSED, 0) != len(cases):
        raise AssertionError("row accounting: analysed case entries differ from the analysis table")
    if counted["offenders"].get(ANALYSED, 0) != len(offenders):
        raise AssertionError("row accounting: analysed offender rows differ from the analysis table")
    if counted["police_records"].get(ANALYSED, 0) != entries:
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
        paths={name: e.source for name, e in extracts.items()},
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
