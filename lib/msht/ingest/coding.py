"""The coding layer: raw police-recorded values -> analysis codes of :mod:`msht.base.vocab`.

Every ``code_*`` function takes a :class:`pandas.Series` of raw values (any dtype), keeps its
index, and returns vocab level codes, with :data:`msht.base.vocab.UNKNOWN` (``"unknown"``) for
missing or unrecognised values -- a value is never dropped.  The work is done with vectorised
pandas string operations (lookups that need splitting, such as dual nationality, run once per
*distinct* spelling and are mapped back).  :func:`mapping_report` lists which raw spellings were
mapped to which code, for the data-quality report (study section 2.5).

Lookups are shipped as data in ``msht/data`` and documented in ``msht/data/LOOKUPS.md``:
``who_regions.csv`` (country -> WHO region), ``country_aliases.csv`` (spellings, official long
names and demonyms -> canonical country) and ``ethnicity_codes.csv`` (police SDE 18+1 and IC
codes -> five ethnic groups).

Text matching always starts from :func:`normalise_text`: format characters removed, NFKC, casefold, dashes and quotes
unified, whitespace collapsed, and the spellings in :data:`MISSING_MARKERS` treated as missing.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, Final

import numpy as np
import pandas as pd

from msht.base.plaintext import plain, plain_series
from msht.base.vocab import EXPLOITATION_TYPES, UNKNOWN

__all__ = [
    "MISSING_MARKERS",
    "UK_COUNTRY",
    "UK_POLICE_FORCES",
    "age_band2",
    "age_band3",
    "age_band6",
    "age_from_dob",
    "ascii_pattern_matches",
    "code_engagement",
    "code_ethnicity",
    "code_exploitation_types",
    "code_location",
    "code_nationality",
    "code_period",
    "code_referral_form",
    "code_referring_agency",
    "code_sex",
    "code_yes_no",
    "country_lookup",
    "factorize_text",
    "ethnicity_codes",
    "mapping_report",
    "normalise_text",
    "read_dates",
    "to_datetime",
    "who_regions",
]

# ----------------------------------------------------------------------------------------------
# Normalisation
# ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _marker_lists() -> dict[str, tuple[str, ...]]:
    """The ``missing_markers`` lists of the data dictionary (``msht/data/dictionary.yaml``)."""
    import yaml

    text = resources.files("msht").joinpath("data", "dictionary.yaml").read_text(encoding="utf-8")
    lists = yaml.safe_load(text)["missing_markers"]
    return {kind: tuple(str(m) for m in lists[kind]) for kind in ("blank", "stated_unknown")}


#: Spellings (already normalised: casefolded, whitespace collapsed) that mean "no value", in every
#: field, identifiers included. The one list is ``missing_markers`` in ``msht/data/dictionary.yaml``.
MISSING_MARKERS: Final[frozenset[str]] = frozenset(_marker_lists()["blank"] + _marker_lists()["stated_unknown"])

#: Whether a missing marker holds an ASCII digit (none does: values with a digit are then never
#: markers, which :func:`is_missing` and the date parsing of :mod:`msht.clean.rules` rely on).
MARKER_HAS_DIGIT: Final[bool] = any(re.search("[0-9]", m) for m in MISSING_MARKERS)

#: Subset of :data:`MISSING_MARKERS` that means "field left empty" rather than "stated as
#: unknown" (``missing_markers.blank`` in the dictionary).  Only :func:`code_exploitation_types`
#: distinguishes the two (see there).
_BLANK_MARKERS: Final[frozenset[str]] = frozenset(_marker_lists()["blank"])

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u0060\u00b4"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033"
_DASH_RE = f"[{_DASHES}]"
_SQUOTE_RE = f"[{_SINGLE_QUOTES}]"
_DQUOTE_RE = f"[{_DOUBLE_QUOTES}]"


def _as_series(s: object) -> pd.Series:
    """Return ``s`` as a Series (lists and arrays are wrapped, Series are left as they are)."""
    return s if isinstance(s, pd.Series) else pd.Series(s)


#: Most distinct values one coding function (with one set of arguments) remembers across calls
#: (:func:`_on_distinct_values`); past it the memory starts again.
CODED_VALUES_MAX = 100_000

#: (function, arguments) -> (the distinct values coded so far, their codes: row 0 is the code of a
#: missing value, row i + 1 that of value i). The coding functions are pure (the dictionary's
#: tables are fixed), so a value once coded gets the same code in every later call: the forces
#: of a national run, which share most of their spellings, code each spelling once.
_CODED: dict[tuple[Any, ...], tuple[pd.Index, Any]] = {}


def _hashable(value: Any) -> Any:
    """``value`` as a hashable key (lists and sets as tuples), or ``None`` when it has none that
    surely stands for it (then the call is not remembered)."""
    if value is None or isinstance(value, (str, bytes, bool, int, float)):
        return ("v", value)
    if isinstance(value, (list, tuple)):
        items = [_hashable(v) for v in value]
        return None if any(i is None for i in items) else ("t", tuple(items))
    if isinstance(value, (set, frozenset)):
        items = [_hashable(v) for v in value]
        return None if any(i is None for i in items) else ("s", frozenset(items))
    return None


def _remembered_codes(func: Callable[..., Any], uniques: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                      ) -> tuple[Any, np.ndarray] | None:
    """The codes of a missing value and of every value of ``uniques`` (as ``func`` gives them on
    ``[<NA>, *values]``), computing only the values not coded in an earlier call (:data:`_CODED`),
    and the row of each of ``uniques`` in them. ``None`` when the arguments have no key or a new
    batch of codes does not have the dtypes of the earlier ones (the caller then codes as before)."""
    key = _hashable((list(args), sorted(kwargs.items())))
    if key is None:
        return None
    key = (func, key)
    values = pd.Index(np.asarray(uniques, dtype=object))
    if key not in _CODED or len(_CODED[key][0]) > CODED_VALUES_MAX:
        coded = func(pd.Series(pd.array([pd.NA, *values], dtype="string")), *args, **kwargs)
        _CODED[key] = (values, coded)
        return coded, np.arange(1, len(values) + 1)
    known, coded = _CODED[key]
    rows = known.get_indexer(values)
    new = rows < 0
    if new.any():
        extra = func(pd.Series(pd.array(values[new], dtype="string")), *args, **kwargs)
        if type(extra) is not type(coded) or not _same_dtypes(extra, coded):
            return None
        coded = pd.concat([coded, extra], ignore_index=True)
        known = known.append(values[new])
        _CODED[key] = (known, coded)
        rows = known.get_indexer(values)
    return coded, rows + 1


def _same_dtypes(a: Any, b: Any) -> bool:
    """Whether two Series, or two frames with the same columns, have the same dtypes."""
    if isinstance(a, pd.DataFrame):
        return list(a.columns) == list(b.columns) and a.dtypes.equals(b.dtypes)
    return a.dtype == b.dtype


#: (function, arguments) -> how a coding function names its result: ``("input",)`` the input's
#: name, ``("fixed", name)`` always that name (found once on two empty inputs of different names).
_RESULT_NAMES: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def _result_name(func: Callable[..., Any], s: pd.Series, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The name ``func`` gives its result on ``s`` (what ``func(s.iloc[:0]).name`` is), without
    running ``func`` again when it names its results after its input or always alike."""
    key = _hashable((list(args), sorted(kwargs.items())))
    if key is None:
        return func(s.iloc[:0], *args, **kwargs).name
    key = (func, key)
    if key not in _RESULT_NAMES:
        empty = pd.Series([], dtype="string")
        a, b = (func(empty.rename(n), *args, **kwargs).name for n in ("_probe_a", "_probe_b"))
        _RESULT_NAMES[key] = ("input",) if (a, b) == ("_probe_a", "_probe_b") else ("fixed", a) if a == b else ("each",)
    how = _RESULT_NAMES[key]
    if how[0] == "input":
        return s.name
    if how[0] == "fixed":
        return how[1]
    return func(s.iloc[:0], *args, **kwargs).name


def factorize_text(s: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize(s.astype("string"))``: each row's code in the distinct values as text (-1:
    missing) and those values (an ``Index`` of ``string`` dtype). A column of Python strings (``object``, as the extracts are read) is
    factorised as it is, without a ``string`` copy of every row first; the distinct values are then
    made ``string``."""
    if s.dtype == object:
        codes, uniques = pd.factorize(s.to_numpy())
        if pd.api.types.infer_dtype(uniques, skipna=False) == "string":  # text only: the same values
            return codes, pd.Index(pd.array(uniques, dtype="string"))
    return pd.factorize(s.astype("string"))


def _on_distinct_values(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a row-wise coding function once per distinct value of its text argument and map the
    result back to the rows (the same output as on every row, much faster on large columns).
    Values coded in an earlier call are not coded again (:func:`_remembered_codes`)."""

    @functools.wraps(func)
    def wrapper(s: object, *args: Any, **kwargs: Any) -> Any:
        s = _as_series(s)
        codes, uniques = factorize_text(s)
        if not len(s) or len(uniques) * 2 > len(s):
            return func(s, *args, **kwargs)
        remembered = _remembered_codes(func, uniques, args, kwargs)
        if remembered is None:
            distinct = pd.Series(pd.array([*uniques, pd.NA], dtype="string"))  # the last one: missing
            out = func(distinct, *args, **kwargs).iloc[codes]  # code -1: the missing value
        else:
            coded, rows = remembered
            out = coded.iloc[np.append(rows, 0)[codes]]  # code -1: row 0, the missing value
        out.index = s.index
        if isinstance(out, pd.Series):
            out.name = _result_name(func, s, args, kwargs)
        return out

    return wrapper


#: Up to this many values, :func:`_clean` normalises value by value (:func:`_clean_value`): the
#: operations pandas' string methods apply to each value, without their fixed cost per call
#: (a coding function on a force's few dozen distinct spellings is mostly that cost).
CLEAN_BY_VALUE_MAX = 1000

_DASH_PATTERN: Final[re.Pattern[str]] = re.compile(_DASH_RE)
_SQUOTE_PATTERN: Final[re.Pattern[str]] = re.compile(_SQUOTE_RE)
_DQUOTE_PATTERN: Final[re.Pattern[str]] = re.compile(_DQUOTE_RE)
_SPACES_PATTERN: Final[re.Pattern[str]] = re.compile(r"\s+")


def _clean_value(text: str) -> str:
    """:func:`_clean` of one value (the same steps in the same order)."""
    if not text.isascii():  # plain_series leaves ASCII values as they are
        text = plain(text)
    text = unicodedata.normalize("NFKC", text.casefold())
    text = _DQUOTE_PATTERN.sub('"', _SQUOTE_PATTERN.sub("'", _DASH_PATTERN.sub("-", text)))
    return _SPACES_PATTERN.sub(" ", text).strip()


def _clean(s: pd.Series) -> pd.Series:
    """Normalise text like :func:`normalise_text` but keep missing markers as text."""
    s = _as_series(s)
    if len(s) <= CLEAN_BY_VALUE_MAX:
        text = s.astype("string")
        values = [v if v is pd.NA else _clean_value(v) for v in text.array]
        return pd.Series(pd.array(values, dtype="string"), index=text.index, name=text.name)
    out = plain_series(s.astype("string"))  # format characters (Cf) removed, NFKC
    out = out.str.casefold().str.normalize("NFKC")
    out = out.str.replace(_DASH_RE, "-", regex=True)
    out = out.str.replace(_SQUOTE_RE, "'", regex=True)
    out = out.str.replace(_DQUOTE_RE, '"', regex=True)
    out = out.str.replace(r"\s+", " ", regex=True).str.strip()
    return out


def normalise_text(s: pd.Series) -> pd.Series:
    """Normalise free text for matching; missing markers become ``<NA>``.

    Steps: every Unicode format character (category Cf: U+200B, U+FEFF, U+00AD, U+2060...)
    removed, NFKC (see :mod:`msht.base.plaintext`), ``casefold``, every dash variant -> ``-``, curly quotes -> straight,
    runs of whitespace -> one space, strip; then any value in :data:`MISSING_MARKERS`
    (``""``, ``"N/K"``, ``"Not known"``, ``"NULL"``, ``"-"``, ``"?"`` ...) -> ``<NA>``.
    Accepts any dtype (numbers and booleans are turned into their ``str``); returns the pandas
    ``string`` dtype with the input's index.  The function is idempotent.
    """
    s = _as_series(s)
    text = s.astype("string")
    codes, uniques = pd.factorize(text)
    if len(uniques) * 2 > len(text):  # mostly distinct values: nothing to gain
        out = _clean(text)
        return out.mask(out.isin(MISSING_MARKERS))
    # the same steps, once per distinct value, then mapped back to the rows
    distinct = _clean(pd.Series(uniques, dtype="string"))
    distinct = distinct.mask(distinct.isin(MISSING_MARKERS))
    return pd.Series(distinct.array.take(codes, allow_fill=True), index=s.index, name=s.name, dtype="string")


def ascii_pattern_matches(text: pd.Series, pattern: str, *, whole: bool = False, missing: bool = False) -> np.ndarray:
    """A boolean per value of ``text`` (``string`` dtype): whether ``pattern`` is found in it
    (``whole``: matches the whole value); ``missing`` where the value is missing. ``pattern`` may
    hold only ASCII literals, ``\\d`` and ``[0-9]``, which Python's ``re`` (with ``re.ASCII``) and
    pyarrow's RE2 read alike: pyarrow searches the values in one pass when it can hold them (a lone
    surrogate it cannot), Python otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arrow = pa.array(text.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError):
        how = text.str.fullmatch if whole else text.str.contains
        return how(pattern, flags=re.ASCII, na=missing).astype(bool).to_numpy(dtype=bool)
    found = pc.match_substring_regex(arrow, f"^(?:{pattern})$" if whole else pattern)
    return found.fill_null(missing).to_numpy(zero_copy_only=False)


def is_missing(s: pd.Series) -> pd.Series:
    """``normalise_text(s).isna()``: missing or a missing marker, as a boolean Series. Only values
    without an ASCII digit can be markers (none holds a digit, and the normalisation keeps
    digits), so identifiers and dates are not normalised at all."""
    s = _as_series(s)
    if MARKER_HAS_DIGIT:  # the shortcut below would not hold
        return normalise_text(s).isna()
    text = s.astype("string")
    out = text.isna().to_numpy(dtype=bool).copy()
    maybe = ~ascii_pattern_matches(text, "[0-9]", missing=True)
    if maybe.any():
        out[maybe] = normalise_text(text[maybe]).isna().to_numpy(dtype=bool)
    return pd.Series(out, index=s.index)


def _fill_unknown(codes: pd.Series) -> pd.Series:
    """Return ``codes`` as an object Series of plain ``str`` with missing -> ``"unknown"``."""
    return codes.astype(object).where(codes.notna(), UNKNOWN).astype(object)


def _contains(s: pd.Series, pattern: str) -> pd.Series:
    """Vectorised regex search returning a plain bool Series (``False`` for missing). Text of up
    to :data:`CLEAN_BY_VALUE_MAX` values is searched value by value (as pandas does, without
    its fixed cost per call)."""
    if len(s) <= CLEAN_BY_VALUE_MAX and isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "python":
        search = re.compile(pattern).search
        hits = [v is not pd.NA and v == v and search(v) is not None for v in s.array]
        return pd.Series(np.array(hits, dtype=bool), index=s.index, name=s.name)
    return s.str.contains(pattern, regex=True, na=False).astype(bool)


# ----------------------------------------------------------------------------------------------
# Sex
# ----------------------------------------------------------------------------------------------

_SEX: Final[dict[str, str]] = {
    "m": "male", "male": "male", "man": "male", "boy": "male", "mr": "male", "males": "male",
    "m - male": "male", "male (m)": "male",
    "f": "female", "female": "female", "woman": "female", "girl": "female", "fem": "female",
    "females": "female", "mrs": "female", "ms": "female", "miss": "female",
    "f - female": "female", "female (f)": "female",
}


@_on_distinct_values
def code_sex(s: pd.Series) -> pd.Series:
    """Code sex to ``male`` / ``female`` / ``unknown``.

    Accepted (after :func:`normalise_text`): M, Male, Man, Boy, Mr; F, Female, Woman, Girl,
    Mrs, Ms, Miss; "M - Male" style.  Anything else (U, X, Indeterminate, Trans, blank) is
    ``unknown``: the study has only Male/Female levels.
    """
    return _fill_unknown(normalise_text(s).map(_SEX))


# ----------------------------------------------------------------------------------------------
# Dates and ages
# ----------------------------------------------------------------------------------------------

#: Text read year first by :func:`to_datetime`: ``2020-01-05``, ``2020/1/5``, ``2020.01.05`` (one
#: separator throughout), never day first (``2020/01/05`` is not 1 May).
_ISO_DATE_RE: Final[str] = r"^\d{4}([-/.])\d{1,2}\1\d{1,2}"

#: The dates read (whole years a ``datetime64[ns]`` column can hold, pandas' bounds being
#: 1677-09-21 and 2262-04-11): years 1678 to 2261.
DATE_RANGE: Final = (pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31 23:59:59.999999999"))

#: A year-first date-time followed by a UTC offset (``+01:00``, ``-0500``, ``+01``) or ``Z``: group 1
#: is the local date-time as written. Its date is any whole date :func:`msht.clean.rules.date_failures`
#: reads year first (``2018-02-01``, ``2018-2-1``, ``2018/02/01``, ``20180201``), so that no offset
#: reaches pandas (mixed offsets make it reject the whole batch).
_ISO_OFFSET: Final[str] = (r"^((?:\d{4}([-/.])\d{1,2}\2\d{1,2}|\d{8})[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*"
                           r"(?:[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")


def read_dates(text: pd.Series, fmt: str, **options: Any) -> pd.Series:
    """Read ``text`` (strings, ``<NA>`` allowed) with ``pd.to_datetime(format=fmt, **options)``,
    never raising: a value pandas cannot read, and a date outside :data:`DATE_RANGE` (``0201-01-01``,
    ``9999-12-31``), is ``NaT``. A date-time with a UTC offset or ``Z`` (``2018-02-01 23:30+01:00``)
    is read as the local date-time as written, the offset dropped: the date the force recorded,
    never shifted to another day by a conversion to UTC. Returns ``datetime64[ns]`` on ``text``'s
    index. When pandas rejects the values together (mixed offsets, a value it overflows on), each
    half is read on its own, down to the single values pandas rejects: a few odd values in a long
    column cost a few calls per odd value, not one call per value."""
    text = text.astype("string")
    if fmt == "ISO8601":
        text = text.str.replace(_ISO_OFFSET, r"\1", regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    try:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", **options)
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_localize(None)
        inside = parsed.between(*DATE_RANGE) if pd.api.types.is_datetime64_dtype(parsed.dtype) else None
    except (ValueError, TypeError, OverflowError, AttributeError):  # OutOfBoundsDatetime is a ValueError
        inside = None
    if inside is None:  # pandas could not read them together: each half on its own
        if len(text) > 1:
            half = len(text) // 2
            return pd.concat([read_dates(text.iloc[:half], fmt, **options),
                              read_dates(text.iloc[half:], fmt, **options)])
        return out
    out[inside] = parsed[inside].astype("datetime64[ns]")
    return out


def to_datetime(s: pd.Series) -> pd.Series:
    """Parse dates as police extracts hold them; unparseable values become ``NaT``.

    Datetime dtypes are kept (time zones dropped, times floored to the day).  Text year first
    (``2020-01-05``, ``2020/01/05``, ``2020.1.5``) is read year-month-day; year first with mixed
    separators (``2020-01/05``) is ``NaT``; all other text is read **day first**, the UK
    convention (``05/01/2020`` is 5 January 2020).
    """
    s = _as_series(s)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.dt.normalize()
    text = plain_series(s.astype("string")).str.strip()
    text = text.mask(normalise_text(text).isna())
    iso = text.str.match(_ISO_DATE_RE, na=False).astype(bool)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if iso.any():
        out[iso] = read_dates(text[iso], "ISO8601")
    # Year first but not one separator throughout (``2020-01/05``): no reading is safe, and pandas'
    # day-first reader would take it as 1 May. NaT, as date_failures reports it "not a date".
    year_first = text.str.match(r"^\d{4}[-/.]", na=False).astype(bool)
    other = ~iso & ~year_first & text.notna()
    if other.any():
        out[other] = read_dates(text[other], "mixed", dayfirst=True)
    return out.dt.normalize()


def age_from_dob(dob: pd.Series, on: pd.Series) -> pd.Series:
    """Age in completed years at date ``on`` (e.g. the case date), as nullable ``Int64``.

    ``dob`` and ``on`` are aligned on their index; both are parsed with :func:`to_datetime`.
    The age goes up on the birthday itself (born 2000-03-15 -> 18 on 2018-03-15); someone born
    on 29 February turns a year older on 1 March in non-leap years.  Missing or unparseable
    dates, and a date of birth after ``on``, give ``<NA>``.
    """
    d = to_datetime(dob)
    o = to_datetime(on)
    d, o = d.align(o)
    years = (o.dt.year - d.dt.year).astype("Int64")
    before_birthday = (o.dt.month < d.dt.month) | (
        (o.dt.month == d.dt.month) & (o.dt.day < d.dt.day)
    )
    age = years - before_birthday.astype("Int64")
    age = age.mask(d.isna() | o.isna())
    return age.mask(age < 0).astype("Int64")


#: Ages outside ``[0, MAX_AGE]`` are treated as recording errors (-> ``unknown``).
MAX_AGE: Final[int] = 110


def _valid_age(age: pd.Series) -> pd.Series:
    """Completed years as float with ``NaN`` for missing, negative or > :data:`MAX_AGE`."""
    a = pd.to_numeric(_as_series(age), errors="coerce").astype("Float64")
    a = np.floor(a)
    return a.mask((a < 0) | (a > MAX_AGE))


def _band(age: pd.Series, edges: Sequence[int], codes: Sequence[str]) -> pd.Series:
    """Band ages: ``codes[i]`` for ``edges[i] <= age < edges[i + 1]``; invalid -> unknown."""
    a = _valid_age(age)
    cut = pd.cut(a.astype(float), bins=[*edges, np.inf], right=False, labels=list(codes))
    return _fill_unknown(pd.Series(cut, index=a.index).astype(object))


def age_band6(age: pd.Series) -> pd.Series:
    """Vocab ``victim_age6``/``offender_age6``: 17_and_under, 18_24, 25_34, 35_44, 45_54, 55_plus.

    Missing, negative and > 110 ages -> ``unknown``; fractional ages are floored first.
    """
    return _band(
        age, [0, 18, 25, 35, 45, 55], ["17_and_under", "18_24", "25_34", "35_44", "45_54", "55_plus"]
    )


def age_band3(age: pd.Series) -> pd.Series:
    """Vocab ``victim_age3``/``offender_age3``: 17_and_under, 18_24, 25_plus (else unknown)."""
    return _band(age, [0, 18, 25], ["17_and_under", "18_24", "25_plus"])


def age_band2(age: pd.Series) -> pd.Series:
    """Vocab ``victim_age2``: 17_and_under, adult (else unknown)."""
    return _band(age, [0, 18], ["17_and_under", "adult"])


def code_period(date: pd.Series) -> pd.Series:
    """Vocab ``period``: ``before_2021`` / ``from_2021`` / ``unknown`` (study section 3.4).

    Dates are parsed with :func:`to_datetime`; a numeric Series is read as calendar years.
    """
    date = _as_series(date)
    if pd.api.types.is_numeric_dtype(date.dtype) and not pd.api.types.is_bool_dtype(date.dtype):
        year = pd.to_numeric(date, errors="coerce")
    else:
        year = to_datetime(date).dt.year
    codes = np.where(year.isna(), UNKNOWN, np.where(year < 2021, "before_2021", "from_2021"))
    return pd.Series(codes, index=date.index, dtype=object)


# ----------------------------------------------------------------------------------------------
# Lookup tables shipped as data
# ----------------------------------------------------------------------------------------------


def _read_data_csv(name: str) -> pd.DataFrame:
    path = resources.files("msht").joinpath("data", name)
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def _who_regions() -> pd.DataFrame:
    return _read_data_csv("who_regions.csv")


def who_regions() -> pd.DataFrame:
    """The country -> WHO region table (``msht/data/who_regions.csv``); a fresh copy."""
    return _who_regions().copy()


@lru_cache(maxsize=1)
def _ethnicity_codes() -> pd.DataFrame:
    return _read_data_csv("ethnicity_codes.csv")


def ethnicity_codes() -> pd.DataFrame:
    """The police ethnicity code table (``msht/data/ethnicity_codes.csv``); a fresh copy."""
    return _ethnicity_codes().copy()


# ----------------------------------------------------------------------------------------------
# Nationality
# ----------------------------------------------------------------------------------------------

#: Canonical name of the UK in ``who_regions.csv``.
UK_COUNTRY: Final[str] = "United Kingdom"

#: Words dropped from a nationality part when it does not match as it stands
#: ("Dual British" -> "british", "Albanian national" -> "albanian").
_NOISE_WORDS_RE: Final[str] = (
    r"\b(?:dual|nationality|nationalities|national|nationals|citizen|citizens|citizenship"
    r"|passport|holder|origin|born)\b"
)
#: Separators between the nationalities of a dual national, applied to the country key (whose
#: line breaks, of whichever kind, :func:`_country_key` turns into ``\n``).
_SPLIT_RE: Final[str] = r"\s*(?:[/\\;,|+\n]|\band\b)\s*"
#: The line breaks of :meth:`str.splitlines` (``\r\n`` is ``\r`` then ``\n``): a line break inside a
#: cell (a spreadsheet cell typed on several lines) separates a list's items.
_LINE_BREAK_RE: Final[str] = r"[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"
#: iso3 codes that are ordinary words and so are not accepted as country spellings.
_ISO3_NOT_KEYS: Final[frozenset[str]] = frozenset({"and"})


def _normalise_lines(s: pd.Series) -> pd.Series:
    """:func:`normalise_text` of each line of ``s`` (split on :data:`_LINE_BREAK_RE`), the
    lines that normalise to nothing (blank or a missing marker) dropped, the others joined by
    ``\\n``: ``"UK\\r\\nAlbania"`` -> ``"uk\\nalbania"``, ``"Albania\\n"`` -> ``"albania"``
    (a value without a line break inside is :func:`normalise_text` of it).  ``string`` dtype,
    ``s``'s index (which may repeat)."""
    s = _as_series(s)
    out = normalise_text(s).reset_index(drop=True)
    text = s.astype("string").reset_index(drop=True)
    inside = text.str.strip().str.contains(_LINE_BREAK_RE, regex=True, na=False).to_numpy(dtype=bool)
    if inside.any():
        lines = normalise_text(text[inside].str.split(_LINE_BREAK_RE, regex=True).explode().astype("string"))
        lines = lines[lines.notna() & (lines != "")]
        joined = lines.groupby(level=0).agg("\n".join).reindex(text.index[inside])
        out[inside] = joined.astype("string")
    return out.set_axis(s.index)


def _country_key(s: pd.Series) -> pd.Series:
    """Normalise country text to a lookup key (on top of :func:`normalise_text`).

    Line breaks inside the text -> ``\\n`` (a separator, :func:`_normalise_lines`; one at the
    start or end is only whitespace), accents removed, ``.``/quotes/apostrophes removed,
    brackets -> spaces, ``&`` -> ``and``, a spaced dash (``" - "``) -> ``;`` (a separator),
    other hyphens -> spaces, leading ``the`` removed, other whitespace collapsed.
    """
    k = _normalise_lines(s)
    k = k.str.normalize("NFKD").str.replace(r"[\u0300-\u036f]", "", regex=True)
    k = k.str.replace(r"[.'\"`]", "", regex=True)
    k = k.str.replace(r"[()\[\]{}]", " ", regex=True)
    k = k.str.replace("&", " and ", regex=False)
    k = k.str.replace(r"\s+-\s+", ";", regex=True)
    k = k.str.replace("-", " ", regex=False)
    k = k.str.replace(r"[^\S\n]+", " ", regex=True).str.replace(r"\s*\n\s*", "\n", regex=True).str.strip()
    k = k.str.replace(r"^the ", "", regex=True)
    return k.mask(k.isin(MISSING_MARKERS) | (k == ""))


#: Further spelling tables read with ``country_aliases.csv`` (first column: the spelling; see
#: ``LOOKUPS.md``): the ISO 3166-1 short, official and common names, and the UK government's
#: list of nationalities.
_EXTRA_COUNTRY_TABLES: Final[tuple[str, ...]] = ("iso3166_names.csv", "govuk_nationalities.csv")
#: A prefix dropped from a part that does not match as it stands ("Citizen of Vanuatu").
_CITIZEN_OF_RE: Final[str] = (
    r"^(?:dual )?(?:(?:a|an) )?(?:citizen|citizens|national|nationals|subject|native|passport holder)s? (?:of|from) (?:the )?"
)


@lru_cache(maxsize=1)
def _country_tables() -> tuple[dict[str, str], dict[str, str], dict[str, str], str | None]:
    """Build (key -> country, country -> who_region, placeholder -> key, protect regex)."""
    regions = _who_regions()
    aliases = _read_data_csv("country_aliases.csv")
    unknown_targets = set(aliases["country"]) - set(regions["country"])
    if unknown_targets:
        raise ValueError(f"country_aliases.csv names countries not in who_regions.csv: {unknown_targets}")
    pairs: list[tuple[str, str]] = []
    pairs += list(zip(regions["country"], regions["country"]))
    pairs += [
        (iso, c)
        for iso, c in zip(regions["iso3"], regions["country"])
        if iso and iso.casefold() not in _ISO3_NOT_KEYS
    ]
    pairs += list(zip(aliases["alias"], aliases["country"]))
    for name in _EXTRA_COUNTRY_TABLES:
        table = _read_data_csv(name)
        unknown = set(table["country"]) - set(regions["country"])
        if unknown:
            raise ValueError(f"{name} names countries not in who_regions.csv: {unknown}")
        pairs += list(zip(table.iloc[:, 0], table["country"]))
    keys = _country_key(pd.Series([p[0] for p in pairs], dtype="string"))
    lookup: dict[str, str] = {}
    for key, (raw, country) in zip(keys, pairs):
        if key is pd.NA or key is None:
            raise ValueError(f"country spelling {raw!r} normalises to nothing")
        if lookup.get(key, country) != country:
            raise ValueError(f"country spelling {raw!r} is ambiguous: {lookup[key]} / {country}")
        lookup[key] = country
    region = dict(zip(regions["country"], regions["who_region"]))
    # Spellings that contain a separator ("trinidad and tobago", "iran, islamic republic of")
    # are replaced by a placeholder before splitting so that they survive as one part.
    protected = sorted((k for k in lookup if re.search(_SPLIT_RE, k)), key=len, reverse=True)
    placeholders = {f"zzcountry{i}zz": k for i, k in enumerate(protected)}
    for ph, k in placeholders.items():
        lookup[ph] = lookup[k]
    protect_re = (
        r"(?<![a-z0-9])(?:" + "|".join(re.escape(k) for k in protected) + r")(?![a-z0-9])"
        if protected
        else None
    )
    return lookup, region, {k: ph for ph, k in placeholders.items()}, protect_re


def country_lookup() -> dict[str, str]:
    """Return a copy of the spelling-key -> canonical country dict used by the coders."""
    lookup, _, _, _ = _country_tables()
    return {k: v for k, v in lookup.items() if not k.startswith("zzcountry")}


def _split_parts(keys: pd.Series) -> pd.Series:
    """The parts of ``keys`` (``string`` dtype) split on :data:`_SPLIT_RE`: stripped, a leading
    ``the`` dropped, empty and missing parts dropped; indexed like ``keys`` (repeated per part)."""
    parts = keys.str.split(_SPLIT_RE, regex=True).explode().astype("string").str.strip()
    parts = parts.str.replace(r"^the ", "", regex=True)
    return parts[parts.notna() & (parts != "") & ~parts.isin(MISSING_MARKERS)]


def _part_countries(parts: pd.Series) -> pd.DataFrame:
    """Look up each of ``parts`` (:func:`_split_parts`) as it stands, or else without a
    :data:`_CITIZEN_OF_RE` prefix, the words of :data:`_NOISE_WORDS_RE` and a leading ``the``.

    Returns a frame indexed like ``parts`` with columns ``part`` and ``country`` (canonical name
    or ``<NA>``), without the parts that are nothing but such words or a missing marker.
    """
    lookup, _, _, _ = _country_tables()
    country = parts.map(lookup).astype("string")
    stripped = (
        parts.str.replace(_CITIZEN_OF_RE, "", regex=True)
        .str.replace(_NOISE_WORDS_RE, " ", regex=True)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
        .str.replace(r"^the ", "", regex=True)
    )
    country = country.fillna(stripped.map(lookup).astype("string"))
    keep = country.notna() | ((stripped != "") & ~stripped.isin(MISSING_MARKERS))
    return pd.DataFrame({"part": parts, "country": country.astype("string")})[keep]


def _readable(parts: pd.Series) -> pd.Series:
    """``parts`` with every placeholder put back to the spelling it stands for."""
    _, _, to_placeholder, _ = _country_tables()
    if not to_placeholder:
        return parts
    back = {ph: key for key, ph in to_placeholder.items()}
    return parts.str.replace(r"zzcountry\d+zz", lambda m: back.get(m.group(0), m.group(0)), regex=True)


@lru_cache(maxsize=1)
def _most_protected_separators() -> int:
    """The most separators one protected spelling holds (2: ``saint helena, ascension and ...``)."""
    _, _, to_placeholder, _ = _country_tables()
    return max((len(re.findall(_SPLIT_RE, k)) for k in to_placeholder), default=0)


#: One run of tokens of a key (:func:`_token_runs`): (key position, first token, last token,
#: text, whether a protected spelling spans it).
_Run = tuple[int, int, int, str, bool]


def _token_runs(keys: pd.Series) -> list[_Run]:
    """Every run of consecutive tokens of each of ``keys`` that one part may be read from.

    A key's tokens are its texts between separators (:data:`_SPLIT_RE`); in a run, a line
    break is read as a space (a name wrapped onto two lines).  A single token is a
    run; so is a longer run of at most as many separators as a protected spelling holds
    (:func:`_most_protected_separators`).  Its text keeps its separators and is read as
    :func:`_split_parts` reads a part (stripped, a leading ``the`` dropped).  It is spanned when
    a protected spelling, found as the first reading of :func:`_country_parts` finds it, starts
    in its first token and ends in its last.
    """
    _, _, _, protect_re = _country_tables()
    longest = max(_most_protected_separators(), 1)
    runs: list[_Run] = []
    for pos, key in enumerate(keys):
        pieces = re.split(f"({_SPLIT_RE})", key)
        tokens, seps = pieces[0::2], pieces[1::2]
        for first in range(len(tokens)):
            for last in range(first, min(len(tokens), first + longest + 1)):
                text = "".join(t + s for t, s in zip(tokens[first:last], seps[first:last])) + tokens[last]
                text = text.replace("\n", " ")  # a name wrapped onto two lines (same length)
                head, tail = len(tokens[first]), len(text) - len(tokens[last])
                spans = last > first and protect_re is not None and any(
                    m.start() < head and m.end() > tail for m in re.finditer(protect_re, text))
                runs.append((pos, first, last, re.sub(r"^the ", "", text.strip()), spans))
    return runs


#: A run of one key looked up: (first token, last token, text, country or ``<NA>``, dropped,
#: spanned by a protected spelling).
_ScoredRun = tuple[int, int, str, Any, bool, bool]
#: A reading of a key's tokens from some token on: ((unmatched parts, parts), [(part, country)]).
_Reading = tuple[tuple[int, int], list[tuple[str, Any]]]


def _best_reading(n_tokens: int, runs: list[_ScoredRun]) -> _Reading:
    """The reading of one key with the fewest unmatched parts, then the fewest parts (among
    equals, the longer first part), from its ``runs``: (first, last, text, country or ``<NA>``,
    dropped, spanned) as :func:`_token_runs` and :func:`_part_countries` give them.

    A single token is always a candidate part (nothing when dropped: a missing marker or only
    noise words); a run of several tokens is one where it matches a country or is spanned by a
    protected spelling.
    """
    starting: dict[int, list[tuple[int, str, Any, bool]]] = {}
    for first, last, text, country, dropped, spanned in sorted(runs, key=lambda r: (r[0], -r[1])):
        if last == first or (not dropped and (country is not pd.NA or spanned)):
            starting.setdefault(first, []).append((last, text, country, dropped))
    best: list[_Reading] = [((0, 0), [])] * (n_tokens + 1)
    for first in range(n_tokens - 1, -1, -1):
        options = []
        for last, text, country, dropped in starting[first]:
            (unmatched, n_parts), rest = best[last + 1]
            here = [] if dropped else [(text, country)]
            options.append(((unmatched + int(not dropped and country is pd.NA), n_parts + len(here)), here + rest))
        best[first] = min(options, key=lambda o: o[0])  # min keeps the first of equals: the longest
    return best[0]


def _reread_unmatched(keys: pd.Series, long: pd.DataFrame) -> pd.DataFrame:
    """Read again each key whose first reading (``long``, indexed by the positions of ``keys``)
    left a part unmatched and protected a spelling or split on a line break, and take
    :func:`_best_reading` where it leaves fewer parts unmatched.

    The first reading protects a spelling wherever it is found, so a spelling that starts or
    ends inside a part swallows the separator between two parts (``british virgin islands,
    british`` read as ``british`` + ``virgin islands, british``, unmatched), and of two
    spellings that overlap it protects the first (``hong kong sar, china, peoples republic of``).
    Only fewer unmatched parts replace it, so a spelling next to words that match nothing stays
    one unmatched part (``xyz virgin islands, british`` does not become the UK).  A line break
    separates a list's items, but a name may also be wrapped onto two lines: a run of tokens
    across one reads it as a space (``united\\nkingdom``, ``british\\nvirgin islands``), so a
    wrapped name is one part where that leaves fewer parts unmatched, and a list stays a list.
    """
    missing = long["country"].isna()
    if not missing.any():
        return long
    unmatched = missing.groupby(level=0).sum()
    some = long.index.isin(unmatched.index[unmatched.to_numpy() > 0])
    protected = long["part"][some].str.contains("zzcountry", regex=False).groupby(level=0).any()
    broken = keys.iloc[protected.index.to_numpy()].str.contains("\n", regex=False).to_numpy(dtype=bool)
    todo = protected.index[protected.to_numpy(dtype=bool) | broken].to_numpy()
    if len(todo) == 0:
        return long
    runs = _token_runs(keys.iloc[todo])
    texts = pd.Series([r[3] for r in runs], dtype="string")
    found = _part_countries(texts[(texts != "") & ~texts.isin(MISSING_MARKERS)])
    country = found["country"].reindex(texts.index).array
    dropped = ~texts.index.isin(found.index)
    by_key: dict[int, list[_ScoredRun]] = {}
    for (k, first, last, text, spanned), c, d in zip(runs, country, dropped):
        by_key.setdefault(k, []).append((first, last, text, c, bool(d), spanned))
    better: dict[int, list[tuple[str, Any]]] = {}
    for k, key_runs in by_key.items():
        (n_unmatched, _), reading = _best_reading(1 + max(r[1] for r in key_runs), key_runs)
        if n_unmatched < unmatched[todo[k]]:
            better[int(todo[k])] = reading
    if not better:
        return long
    new = pd.DataFrame([(pos, part, country) for pos, reading in better.items() for part, country in reading],
                       columns=["_at", "part", "country"]).astype({"part": "string", "country": "string"})
    out = pd.concat([long[~long.index.isin(list(better))].assign(_at=lambda f: f.index.to_numpy()),
                     new.set_index(new["_at"].to_numpy())])
    return out.sort_values("_at", kind="stable").drop(columns="_at")


def _country_parts(keys: pd.Series) -> pd.DataFrame:
    """Split distinct country keys into parts and look each part up.

    Spellings that contain a separator are protected first: replaced by a placeholder wherever
    they are found, so that they survive the split as one part.  A key this reading leaves with
    an unmatched part is read again (:func:`_reread_unmatched`).  Returns a long frame indexed
    like ``keys`` (one row per non-empty part) with columns ``part`` (the normalised text) and
    ``country`` (canonical name or ``<NA>``).
    """
    _, _, to_placeholder, protect_re = _country_tables()
    text = keys.astype("string").reset_index(drop=True)
    k = text if protect_re is None else text.str.replace(protect_re, lambda m: to_placeholder[m.group(0)], regex=True)
    long = _reread_unmatched(text, _part_countries(_split_parts(k)))
    # Put placeholders back to readable text for the report of unmatched parts (wherever they are).
    long = long.assign(part=_readable(long["part"]))
    return long.set_axis(keys.index[long.index.to_numpy()])


def _on_distinct(key: pd.Series, func: Callable[[pd.Series], pd.DataFrame]) -> pd.DataFrame:
    """Apply ``func`` to the distinct non-missing values of ``key`` and map results back.

    ``func`` receives a Series of distinct keys (RangeIndex) and returns a frame with the same
    index.  Rows whose key is missing get ``<NA>`` in every column.
    """
    distinct = pd.Series(key.dropna().unique(), dtype="string")
    res = func(distinct)
    lookup = pd.Index(distinct.to_numpy(dtype=object))
    pos = lookup.get_indexer(key.astype(object).where(key.notna(), None).to_numpy())
    ok = pos >= 0
    cols: dict[str, np.ndarray] = {}
    for c in res.columns:
        col = np.full(len(key), pd.NA, dtype=object)
        col[ok] = res[c].to_numpy(dtype=object)[pos[ok]]
        cols[c] = col
    return pd.DataFrame(cols, index=key.index)


#: Up to this many keys, :func:`_nationality_of_keys` tallies each key's parts in Python
#: (:func:`_nationality_by_key`) rather than with group-bys, whose fixed cost dominates on the few
#: new spellings of a force.
NATIONALITY_BY_KEY_MAX = 1000


def _nationality_by_key(keys: pd.Series, long: pd.DataFrame, region_of: dict[str, str]) -> pd.DataFrame:
    """:func:`_nationality_of_keys` from the parts ``long`` (:func:`_country_parts` of ``keys``),
    key by key: the same counts, joins and choices as its group-bys."""
    found: dict[Any, tuple[dict[str, None], dict[str, None]]] = {row: ({}, {}) for row in keys.index}
    for row, part, country in zip(long.index, long["part"].array, long["country"].array):
        matched, unmatched = found[row]
        if country is pd.NA:
            unmatched.setdefault(part, None)
        else:
            matched.setdefault(country, None)
    columns: dict[str, list[Any]] = {"countries": [], "uk_national": [], "region": [], "unmatched": []}
    for matched, unmatched in found.values():
        has_uk, clean, n = UK_COUNTRY in matched, not unmatched, len(matched)
        single = region_of.get(next(iter(matched))) if matched else None
        single = None if single is None or single == "" or single is pd.NA else single
        columns["countries"].append("; ".join(matched) if matched else pd.NA)
        columns["unmatched"].append("; ".join(unmatched) if unmatched else pd.NA)
        columns["uk_national"].append("uk" if has_uk else "non_uk" if clean and n > 0 else UNKNOWN)
        columns["region"].append("multiple" if n >= 2 else "uk" if clean and n == 1 and has_uk
                                 else single if clean and n == 1 and single is not None else UNKNOWN)
    return pd.DataFrame(  # built as the group-bys build it: Series for the texts, arrays for the codes
        {c: pd.Series(v, index=keys.index, dtype=object) if c in ("countries", "unmatched") else np.array(v, dtype=object)
         for c, v in columns.items()},
        index=keys.index,
    )


def _nationality_of_keys(keys: pd.Series) -> pd.DataFrame:
    """Code distinct nationality keys (see :func:`code_nationality`)."""
    _, region_of, _, _ = _country_tables()
    long = _country_parts(keys)
    if len(keys) <= NATIONALITY_BY_KEY_MAX:
        return _nationality_by_key(keys, long, region_of)
    long["row"] = long.index
    matched = long[long["country"].notna()].drop_duplicates(["row", "country"])
    unmatched = long[long["country"].isna()].drop_duplicates(["row", "part"])
    n_matched = matched.groupby("row").size().reindex(keys.index, fill_value=0)
    n_unmatched = unmatched.groupby("row").size().reindex(keys.index, fill_value=0)
    has_uk = (
        (matched["country"] == UK_COUNTRY).groupby(matched["row"]).any()
        .reindex(keys.index, fill_value=False)
        .astype(bool)
    )
    countries = matched.groupby("row")["country"].agg("; ".join).reindex(keys.index)
    unmatched_txt = unmatched.groupby("row")["part"].agg("; ".join).reindex(keys.index)
    first = matched.groupby("row")["country"].first().reindex(keys.index)
    single_region = first.map(region_of).replace("", pd.NA)

    clean = n_unmatched == 0
    uk_national = np.select(
        [has_uk, clean & (n_matched > 0)], ["uk", "non_uk"], default=UNKNOWN
    )
    region = np.select(
        [
            n_matched >= 2,
            clean & (n_matched == 1) & has_uk,
            clean & (n_matched == 1) & single_region.notna(),
        ],
        ["multiple", "uk", single_region.fillna(UNKNOWN).to_numpy(dtype=object)],
        default=UNKNOWN,
    )
    return pd.DataFrame(
        {
            "countries": countries.astype(object),
            "uk_national": uk_national.astype(object),
            "region": region.astype(object),
            "unmatched": unmatched_txt.astype(object),
        },
        index=keys.index,
    )


@_on_distinct_values
def code_nationality(s: pd.Series) -> pd.DataFrame:
    """Code a nationality field; returns columns ``countries``, ``uk_national``, ``region``,
    ``unmatched`` with the input's index.

    * The text is split into parts on ``/``, ``\\``, ``;``, ``,``, ``|``, ``+``, ``&``, the
      word ``and``, a spaced dash and a line break inside the cell (``\\n``, ``\\r\\n``, ``\\r``,
      ``\\u2028``...; one at the start or end changes nothing): ``"British / Albanian"``,
      ``"United Kingdom; Nigeria"``, ``"Dual - British & Irish"``, ``"British\\nAlbanian"``.
      A name wrapped onto two lines is one part where that leaves fewer parts unmatched
      (``"United\\nKingdom"``).  Names that themselves contain a separator
      (``"Trinidad and Tobago"``, ``"Iran, Islamic Republic of"``) are protected first; where
      that leaves a part unmatched, the text is read again with such a name as one part only
      where it is one (``"British Virgin Islands, British"``: two countries), and that reading
      is taken if it leaves fewer parts unmatched (:func:`_reread_unmatched`).
      Parts are looked up in ``country_aliases.csv`` / ``who_regions.csv`` (also iso3 codes);
      a part that does not match is retried without the words ``dual``, ``national(ity)``,
      ``citizen(ship)``, ``passport``, ``holder``, ``origin``, ``born``.  Parts that are
      missing markers ("British / Unknown") are ignored.
    * ``countries``: distinct canonical names, in order, joined by ``"; "`` (``<NA>`` if none).
    * ``unmatched``: parts that matched no country, joined by ``"; "`` (``<NA>`` if none).
    * ``uk_national`` (vocab ``victim_uk_national``): ``uk`` if any part is the UK (dual
      nationals with UK count as UK, study footnote 17); ``non_uk`` if every part matched and
      none is the UK (``Stateless`` is ``non_uk``); otherwise ``unknown``.
    * ``region`` (vocab ``victim_nationality_region``): ``multiple`` if two or more distinct
      countries matched; else, when every part matched: ``uk`` for the UK alone, the WHO region
      of the one country otherwise (``unknown`` if it has none, e.g. Stateless); ``unknown``
      when nothing matched or one country matched next to an unmatched part.
    """
    key = _country_key(_as_series(s))
    out = _on_distinct(key, _nationality_of_keys)
    for col in ("uk_national", "region"):
        out[col] = _fill_unknown(out[col])
    for col in ("countries", "unmatched"):
        out[col] = out[col].astype(object).where(out[col].notna(), pd.NA)
    return out[["countries", "uk_national", "region", "unmatched"]]


# ----------------------------------------------------------------------------------------------
# Ethnicity
# ----------------------------------------------------------------------------------------------

#: Keyword fallback for ethnicity text without a code, tried in this order.
_ETHNICITY_RULES: Final[tuple[tuple[str, str], ...]] = (
    ("mixed", r"\bmixed\b|\bmultiple\b|\bdual heritage\b|\bmixed race\b|\bwhite (?:and|&) (?:black|asian)\b"
              r"|\b(?:black|asian) (?:and|&) white\b"),
    ("other", r"\barab\b|\barabic\b|\bnorth african\b|\bmiddle eastern\b"),
    ("black", r"\bblack\b|\bafrican\b|\bcaribbean\b|\bafro\b"),
    ("asian", r"\basian\b|\bindian\b|\bpakistani\b|\bbangladeshi\b|\bchinese\b|\bjapanese\b"
              r"|\bsouth[- ]east asian\b|\boriental\b"),
    ("white", r"\bwhite\b|\bgypsy\b|\btraveller\b|\broma\b|\bcaucasian\b|\beuropean\b"),
    ("other", r"\bother\b"),
)
#: Bare digits in an ethnicity field are read as the officer-defined IC code of that number.
_ETHNICITY_CODE_RE: Final[str] = r"^(ic ?[0-69]|[wmabo] ?[0-9]|ns|[0-69])(?![0-9a-z])"


@lru_cache(maxsize=1)
def _ethnicity_lookups() -> tuple[dict[str, str], dict[str, str]]:
    """The ethnicity table's lookups, built once: code (casefolded) -> ``group5``, and normalised
    description (with and without its leading code) -> ``group5``."""
    table = _ethnicity_codes()
    by_code = dict(zip(table["code"].str.casefold(), table["group5"]))
    desc = normalise_text(table["description"])
    by_desc = dict(zip(desc, table["group5"]))
    by_desc.update(zip(desc.str.replace(r"^[a-z]+ - ", "", regex=True), table["group5"]))
    return by_code, by_desc


@_on_distinct_values
def code_ethnicity(s: pd.Series) -> pd.DataFrame:
    """Code police ethnicity to columns ``group5``, ``white_other`` and ``code``.

    * A leading police code in any case/spacing is read first -- self-defined 18+1
      (``W1``..``O9``, ``NS``), the old 16+1 ``O1`` and officer-defined ``IC0``..``IC6``/``IC9``
      (a bare digit ``0``-``6``/``9`` is taken as the IC code) -- so ``"w1"``, ``" W1 "``,
      ``"W1 - White British"`` and ``"IC 3"`` all work.  ``code`` holds the code found.
    * Otherwise the text is matched against the table's descriptions, then keywords in this
      order: mixed (mixed, multiple, dual heritage, "white and black/asian") -> other (Arab,
      North African, Middle Eastern) -> black (black, African, Caribbean) -> asian (Asian,
      Indian, Pakistani, Bangladeshi, Chinese, Japanese, South-East Asian) -> white (white,
      Gypsy, Traveller, Roma, European) -> other ("other").
    * ``group5`` is vocab ``offender_ethnicity5`` or ``unknown``; ``white_other`` is vocab
      ``offender_ethnicity2`` (``white`` / ``other``) or ``unknown``.
    """
    s = _as_series(s)
    by_code, by_desc = _ethnicity_lookups()
    text = normalise_text(s)
    code = text.str.extract(_ETHNICITY_CODE_RE, expand=False).str.replace(" ", "", regex=False)
    code = code.where(~code.str.fullmatch(r"[0-69]", na=False), "ic" + code)
    group = code.map(by_code).astype("string")
    group = group.fillna(text.map(by_desc).astype("string"))
    for grp, pattern in _ETHNICITY_RULES:
        group = group.mask(group.isna() & _contains(text, pattern), grp)
    group = group.replace(UNKNOWN, pd.NA)
    group5 = _fill_unknown(group)
    white_other = pd.Series(
        np.where(group5.isin(["white", UNKNOWN]), group5, "other"), index=s.index, dtype=object
    )
    code_out = code.where(code.isin(list(by_code))).str.upper()
    return pd.DataFrame(
        {"group5": group5, "white_other": white_other.astype(object), "code": code_out.astype(object)},
        index=s.index,
    )


# ----------------------------------------------------------------------------------------------
# Yes / no
# ----------------------------------------------------------------------------------------------

_YES_RE: Final[str] = r"^(?:yes|y|true|t|1(?:\.0+)?)(?![0-9a-z])"
_NO_RE: Final[str] = r"^(?:no|n|false|f|0(?:\.0+)?)(?![0-9a-z])"


@_on_distinct_values
def code_yes_no(
    s: pd.Series, extra_yes: Iterable[str] = (), extra_no: Iterable[str] = ()
) -> pd.Series:
    """Code a flag to ``yes`` / ``no`` / ``unknown``.

    Yes: Y, Yes, True, T, 1 (also 1.0 and booleans), or text starting with one of these as a
    word ("Yes - accepted").  No: N, No, False, F, 0.  ``extra_yes`` / ``extra_no`` add whole
    spellings (compared after :func:`normalise_text`), e.g. ``extra_no=["declined"]``.
    """
    text = normalise_text(s)
    yes = _contains(text, _YES_RE) | text.isin({v.casefold() for v in extra_yes})
    no = _contains(text, _NO_RE) | text.isin({v.casefold() for v in extra_no})
    codes = np.select([yes & ~no, no & ~yes], ["yes", "no"], default=UNKNOWN)
    return pd.Series(codes, index=text.index, dtype=object)


# ----------------------------------------------------------------------------------------------
# Referral form and referring agency
# ----------------------------------------------------------------------------------------------

_NRM_RE: Final[str] = r"\bnrm\b|national referral"
_NRM_NEGATED_RE: Final[str] = (
    r"\b(?:no|not|non|declined|refused|without)[- ]?(?:an? )?nrm\b"
    r"|\bnrm (?:declined|refused|not (?:consented|submitted|completed|appropriate))"
)
_MS1_RE: Final[str] = r"\bms ?1\b|duty to notify|\bdtn\b|notification of (?:a )?potential victim"


@_on_distinct_values
def code_referral_form(s: pd.Series) -> pd.Series:
    """Vocab ``referral_form``: ``nrm`` / ``ms1`` / ``unknown``.

    ``nrm``: mentions NRM / National Referral Mechanism (not negated: "NRM declined", "non-NRM"
    do not count).  ``ms1``: mentions MS1, Duty to Notify, DTN or "notification of potential
    victim" (the MS1 form's title, study footnote 8).  Text mentioning both (e.g. "NRM and MS1")
    is ambiguous -> ``unknown``.
    """
    text = normalise_text(s)
    nrm = _contains(text, _NRM_RE) & ~_contains(text, _NRM_NEGATED_RE)
    ms1 = _contains(text, _MS1_RE)
    codes = np.select([nrm & ~ms1, ms1 & ~nrm], ["nrm", "ms1"], default=UNKNOWN)
    return pd.Series(codes, index=text.index, dtype=object)


#: Territorial and special police forces of the UK (name stems; a mention counts as that
#: force when followed by "police" or "constabulary").
UK_POLICE_FORCES: Final[tuple[str, ...]] = (
    "avon and somerset", "bedfordshire", "cambridgeshire", "cheshire", "city of london",
    "cleveland", "cumbria", "derbyshire", "devon and cornwall", "dorset", "durham",
    "dyfed-powys", "essex", "gloucestershire", "greater manchester", "gwent", "hampshire",
    "hertfordshire", "humberside", "kent", "lancashire", "leicestershire", "lincolnshire",
    "merseyside", "metropolitan", "met", "norfolk", "north wales", "north yorkshire",
    "northamptonshire", "northumbria", "nottinghamshire", "south wales", "south yorkshire",
    "staffordshire", "suffolk", "surrey", "sussex", "thames valley", "warwickshire",
    "west mercia", "west midlands", "west yorkshire", "wiltshire", "british transport",
    "ministry of defence", "mod", "civil nuclear",
)
#: Stand-alone names/abbreviations of other forces (no "police" suffix needed).
_OTHER_FORCE_ABBREVIATIONS: Final[tuple[str, ...]] = (
    "mps", "gmp", "btp", "psni", "police scotland", "police service of northern ireland",
)
_FORCE_SUFFIX_RE: Final[str] = r"\s+(?:police(?: service| force| department)?|constabulary)$"
#: Agencies named together with police words that still make a referral external.
_EXTERNAL_AGENCY_RE: Final[str] = (
    r"\bexternal\b|\bborder force\b|\bimmigration\b|\bhome office\b|\bukbf\b|\buk ?bf\b|\buk border"
    r"|\bukvi\b|\bnational crime agency\b|\bnca\b|\bgangmasters\b|\bglaa\b|\bhmrc\b|\bdwp\b"
    r"|\blocal authority\b|\bcouncil\b|\bchildren'?s services\b|\bsocial (?:services|care|worker)"
    r"|\bnhs\b|\bhospital\b|\bschool\b|\bsalvation army\b|\bbarnardo|\bprobation\b|\byouth offending\b"
    r"|\byot\b|\bprison\b|\bhmpps\b|\bngo\b|\bcharity\b|\bred cross\b|\bmigrant help\b|\bkalayaan\b|\bunseen\b|\bhope for justice\b|\bmedaille trust\b"
    r"|\bsingle competent authority\b|\bsca\b|\bfirst responder organisation\b"
)
#: Generic words that show the referral came from inside the force.
_INTERNAL_RE: Final[str] = (
    r"\binternal\b|\bin[- ]house\b|\bpolice\b|\bconstabulary\b|\bforce\b|\bcid\b|\boic\b"
    r"|\bofficer in (?:the )?case\b|\bpc ?\d|\bdc ?\d|\bresponse (?:team|officer)s?\b"
    r"|\bneighbourhood (?:policing|team)s?\b|\bcustody\b"
)


def _force_patterns(force_names: Sequence[str]) -> tuple[str | None, str]:
    """Regex for the own force's names and for all *other* UK forces."""
    own: list[str] = []
    own_stems: set[str] = set()
    for name in force_names:
        n = normalise_text(pd.Series([name])).iloc[0]
        if n is pd.NA:
            continue
        own.append(re.escape(n))
        stem = re.sub(_FORCE_SUFFIX_RE, "", n)
        if stem != n:
            own_stems.add(stem)
            own.append(re.escape(stem) + r"\s+(?:police|constabulary)")
    own_re = r"(?<![a-z0-9])(?:" + "|".join(own) + r")(?![a-z0-9])" if own else None
    others = [re.escape(f) for f in UK_POLICE_FORCES if f not in own_stems]
    other_re = (
        r"\b(?:" + "|".join(others) + r")\s+(?:police|constabulary)\b"
        r"|\b(?:" + "|".join(re.escape(a) for a in _OTHER_FORCE_ABBREVIATIONS) + r")\b"
    )
    return own_re, other_re


def _referring_agency_matches(s: pd.Series, force_names: Sequence[str]) -> tuple[pd.Series, ...]:
    """The normalised text and the matches of rules 1-4 of :func:`code_referring_agency` (own
    force, another force, an outside agency, police words), each a boolean Series."""
    text = normalise_text(s)
    own_re, other_re = _force_patterns(force_names)
    own = _contains(text, own_re) if own_re else pd.Series(False, index=text.index)
    return text, own, _contains(text, other_re), _contains(text, _EXTERNAL_AGENCY_RE), _contains(text, _INTERNAL_RE)


@_on_distinct_values
def code_referring_agency(s: pd.Series, force_names: Sequence[str]) -> pd.Series:
    """Vocab ``referring_agency``: ``internal`` / ``external`` / ``unknown``.

    ``force_names`` are the study force's names and abbreviations (e.g. ``["West Midlands
    Police", "WMP"]``); a name ending in Police/Constabulary also matches with the other suffix.
    Rules, first match wins, on :func:`normalise_text` output:

    1. names the study force -> ``internal``;
    2. names another UK force ("Metropolitan Police", "BTP", "Police Scotland") -> ``external``;
    3. names an outside agency, even next to police words ("Border Force", "Immigration
       Enforcement", "Home Office", "UKBF", "NCA", "GLAA", local authority/council, children's
       or social services, NHS, school, Salvation Army, Barnardo's, probation, YOT, NGO,
       charity, NGOs such as Kalayaan, Unseen, Hope for Justice, Medaille Trust, "External")
       -> ``external``;
    4. generic police words ("Police", "Constabulary", "Force", "CID", "OIC", "Internal",
       "response team", "neighbourhood team", "custody", "PC 1234") -> ``internal``;
    5. any other non-missing text -> ``external`` (referred by someone other than the police).

    Missing -> ``unknown``.
    """
    text, own, other, agency, police = _referring_agency_matches(s, force_names)
    present = text.notna().to_numpy()
    codes = np.select(
        [own, other, agency, police, present],
        ["internal", "external", "external", "internal", "external"],
        default=UNKNOWN,
    )
    return pd.Series(codes, index=text.index, dtype=object)


# ----------------------------------------------------------------------------------------------
# Exploitation type
# ----------------------------------------------------------------------------------------------

#: Keyword rules for exploitation types (regexes on normalised text with hyphens as spaces).
#: A field may match several types.  ``other_exploitation`` is also set when the field is
#: not blank but matches none of the four named types ("Unknown", "Not specified", "Other",
#: "Multiple") -- the study's "Other types/undefined exploitation".
EXPLOITATION_RULES: Final[dict[str, str]] = {
    "criminal_exploitation": (
        r"\bcriminal|\bcce\b|\bce\b|\bcounty lines?\b|\bdrugs?\b|\bdrug (?:dealing|running)"
        r"|\bcannabis|\bbegging\b|\bshoplift|\btheft\b|\bpick ?pocket|\bfraud\b|\bgangs?\b|\bcuckoo"
    ),
    "labour_exploitation": (
        r"\blabou?r\b|\bforced (?:to )?work|\bcar ?wash|\bnail (?:bar|salon)s?\b|\bagricultur"
        r"|\bfactory\b|\bconstruction\b|\bfishing\b|\bdebt bondage\b|\bworkplace\b"
    ),
    "sexual_exploitation": (
        r"\bsex|\bcse\b|\bprostitut|\bbrothel|\bpornograph|\bescort"
    ),
    "domestic_servitude": (
        r"\bservitude\b|\bdomestic (?:slavery|labou?r|work(?:er)?s?|servants?)\b|\bds\b"
    ),
    "other_exploitation": (
        r"\borgan\b|\borgans\b|\borgan (?:harvesting|removal)|\bforced marriage\b"
        r"|\billegal adoption\b|\bsurrogacy\b|\bother\b"
    ),
}
#: Removed before the labour rule so "domestic labour/work" counts only as domestic servitude.
_DOMESTIC_WORK_RE: Final[str] = r"\bdomestic (?:labou?r|work(?:er)?s?)\b"


def _exploitation_matches(s: pd.Series) -> tuple[pd.Series, pd.Series, dict[str, pd.Series]]:
    """For a raw exploitation field: which values are blank, the text the rules read, and each
    type's keyword match (:data:`EXPLOITATION_RULES`; "domestic labour" is not labour)."""
    raw = _clean(s)
    blank = raw.isna() | raw.isin(_BLANK_MARKERS)
    text = raw.str.replace("-", " ", regex=False).str.replace(r"\s+", " ", regex=True)
    flags: dict[str, pd.Series] = {}
    for col in EXPLOITATION_TYPES:
        t = text.str.replace(_DOMESTIC_WORK_RE, " ", regex=True) if col == "labour_exploitation" else text
        flags[col] = _contains(t, EXPLOITATION_RULES[col])
    return blank, text, flags


@_on_distinct_values
def code_exploitation_types(s: pd.Series, as_codes: bool = False) -> pd.DataFrame:
    """Flag exploitation types named in one free-text field (several may apply).

    Returns the five :data:`msht.base.vocab.EXPLOITATION_TYPES` columns as nullable ``boolean``
    (or, with ``as_codes=True``, vocab ``yes`` / ``no`` / ``unknown``).  Keyword rules are in
    :data:`EXPLOITATION_RULES` ("Criminal; Labour", "CCE", "County lines", "Forced
    criminality" -> criminal; "forced labour" -> labour; "CSE", "prostitution" -> sexual;
    "DS", "domestic servitude" -> domestic servitude; "Organ harvesting", "forced marriage",
    "Other" -> other).  A non-blank field that names no type ("Unknown", "Not specified",
    "N/K", "?") is ``other_exploitation`` (undefined).  A *blank* field (empty, NULL, "-",
    "N/A", "None") is ``<NA>`` in every column (not recorded).
    """
    s = _as_series(s)
    blank, text, flags = _exploitation_matches(s)
    named = pd.concat([flags[c] for c in EXPLOITATION_TYPES if c != "other_exploitation"], axis=1).any(axis=1)
    flags["other_exploitation"] = flags["other_exploitation"] | ~named
    out = pd.DataFrame({c: flags[c].astype("boolean") for c in EXPLOITATION_TYPES}, index=s.index)
    out = out.mask(blank, pd.NA)
    if as_codes:
        return out.apply(lambda col: _fill_unknown(col.map({True: "yes", False: "no"})))
    return out



#: Non-blank exploitation texts that say on purpose that the type is not known ("Unknown",
#: "Not specified", "Undefined", "Multiple", punctuation only): coded ``other_exploitation``
#: (undefined) as the study does, and not a value that no rule recognises.
_UNDEFINED_TYPE_RE: Final[str] = r"\bunknown\b|\bnot (?:specified|known|recorded|stated)\b|\bundefined\b|\bmultiple\b|^\W*$"


def exploitation_default_rule(s: pd.Series) -> pd.Series:
    """Rows of a raw exploitation field that :func:`code_exploitation_types` codes
    ``other_exploitation`` only by its default rule: not blank, naming no type and no undefined
    marker (a force's numeric code "3", say). Boolean, ``s``'s index. ``msht check`` lists these
    values: without a ``values:`` mapping they would be counted as other exploitation."""
    blank, text, flags = _exploitation_matches(_as_series(s))
    matched = pd.concat(list(flags.values()), axis=1).any(axis=1)
    undefined = _contains(text, _UNDEFINED_TYPE_RE)
    return (~blank & ~matched & ~undefined).fillna(False).astype(bool)


def referring_agency_default_rule(s: pd.Series, force_names: Sequence[str]) -> pd.Series:
    """Rows of a raw referring-agency field that :func:`code_referring_agency` codes
    ``external`` only by its last rule (present, but naming no force, agency or police word: a
    force's code "P", say). Boolean, ``s``'s index. ``msht check`` lists these values."""
    text, own, other, agency, police = _referring_agency_matches(s, force_names)
    return (text.notna() & ~(own | other | agency | police)).fillna(False).astype(bool)

# ----------------------------------------------------------------------------------------------
# Exploitation location
# ----------------------------------------------------------------------------------------------

_NOT_UK_RE: Final[str] = (
    r"\b(?:outside|out of|not in|non|other than)\s*(?:of )?(?:the )?(?:uk|u\.k\.|united kingdom"
    r"|britain|great britain|england|country)\b"
)
_UK_WORDS_RE: Final[str] = (
    r"\b(?:uk|u\.k\.|united kingdom|britain|great britain|gb|england|scotland|wales"
    r"|northern ireland|british|in country|within (?:the )?uk|domestically)\b"
)
_OVERSEAS_WORDS_RE: Final[str] = r"\boverseas\b|\babroad\b|\binternational(?:ly)?\b|\bforeign\b|\bnot uk\b"


def _location_countries(keys: pd.Series) -> pd.DataFrame:
    """The countries found in distinct location keys (:func:`_country_parts`, as for a
    nationality), for :func:`code_location`; indexed like ``keys``.

    Columns: ``uk`` (a part is the UK), ``non_uk`` (a part is another country),
    ``uk_words_in_country`` (how many :data:`_UK_WORDS_RE` words the parts that are another
    country hold: ``british`` in ``british virgin islands``) and ``uk_words_elsewhere`` (whether
    any other part holds one).
    """
    long = _country_parts(keys)
    found = long["country"].notna()
    non_uk = found & (long["country"] != UK_COUNTRY)
    words = long["part"].str.count(_UK_WORDS_RE).fillna(0).astype(int)
    by_key = pd.DataFrame(
        {
            "uk": (found & ~non_uk).to_numpy(dtype=bool),
            "non_uk": non_uk.to_numpy(dtype=bool),
            "uk_words_in_country": words.where(non_uk, 0).to_numpy(dtype=int),
            "uk_words_elsewhere": (words.where(~non_uk, 0) > 0).to_numpy(dtype=bool),
        },
        index=long.index,
    ).groupby(level=0).agg({"uk": "any", "non_uk": "any", "uk_words_in_country": "sum",
                            "uk_words_elsewhere": "any"})
    fill = {"uk": False, "non_uk": False, "uk_words_in_country": 0, "uk_words_elsewhere": False}
    return by_key.reindex(keys.index).fillna(fill).astype(
        {"uk": bool, "non_uk": bool, "uk_words_in_country": int, "uk_words_elsewhere": bool})


def _uk_words_outside_countries(text: pd.Series, found: pd.DataFrame) -> pd.Series:
    """Whether ``text`` (normalised, "not in the UK" already read as overseas) holds a UK word
    (:data:`_UK_WORDS_RE`) that is not part of another country's name found in it: ``found``
    holds :func:`_location_countries`' columns for each row.

    Where no other country's name holds a UK word, any UK word counts.  Otherwise one counts
    where the text holds more UK words than those names hold, or a part of it that is not
    such a name holds one (``"UK and British Virgin Islands"``: yes; ``"British Virgin
    Islands"``: no).
    """
    uk = _contains(text, _UK_WORDS_RE).to_numpy(dtype=bool).copy()
    inside = found["uk_words_in_country"].fillna(0).to_numpy(dtype=int)
    maybe = uk & (inside > 0)
    if maybe.any():  # by position: the index may repeat
        more = text[maybe].str.count(_UK_WORDS_RE).to_numpy(dtype=int) > inside[maybe]
        uk[maybe] = more | found["uk_words_elsewhere"].eq(True).to_numpy(dtype=bool)[maybe]
    return pd.Series(uk, index=text.index)


@_on_distinct_values
def code_location(s: pd.Series) -> pd.Series:
    """Vocab ``exploitation_location``: ``uk_only`` / ``overseas_only`` / ``both`` / ``unknown``.

    UK signs: UK, United Kingdom, Britain, England, Scotland, Wales, Northern Ireland, "in
    country".  Overseas signs: overseas, abroad, international, foreign, "outside (the) UK",
    "non-UK", or any non-UK country name (looked up like nationalities: "Albania",
    "UK/Romania", "UK\\nRomania": a line break inside the cell separates countries).  A UK
    word that is part of another country's name found in the text is not a UK sign ("British
    Virgin Islands" -> ``overseas_only``; "UK and British Virgin Islands" -> ``both``;
    :func:`_uk_words_outside_countries`).  "Both", or UK and overseas signs
    together -> ``both``; "UK only" -> ``uk_only``; neither -> ``unknown``.
    """
    s = _as_series(s)
    text = normalise_text(s)
    text = text.str.replace(_NOT_UK_RE, " overseas ", regex=True)
    overseas = _contains(text, _OVERSEAS_WORDS_RE)
    both_word = _contains(text, r"\bboth\b")
    found = _on_distinct(_country_key(s), _location_countries)
    uk = _uk_words_outside_countries(text, found) | found["uk"].eq(True)
    overseas = overseas | found["non_uk"].eq(True)
    codes = np.select(
        [both_word | (uk & overseas), uk, overseas],
        ["both", "uk_only", "overseas_only"],
        default=UNKNOWN,
    )
    return pd.Series(codes, index=s.index, dtype=object)


# ----------------------------------------------------------------------------------------------
# Victim engagement (study section 2.3)
# ----------------------------------------------------------------------------------------------

_SUSPECT_NOT_RE: Final[str] = (
    r"\bsuspect (?:was |is |has )?not (?:been )?identified|\bno (?:named )?suspect"
    r"|\bsuspect unidentified|\bunidentified suspect"
)
_SUSPECT_YES_RE: Final[str] = r"\b(?:named )?suspect (?:has been |was |is )?identified|\bnamed suspect\b"
_EVIDENTIAL_RE: Final[str] = r"\bevidential difficult"
_VICTIM_NOT_SUPPORT_RE: Final[str] = (
    r"\bvictim (?:does not|doesn'?t|did not|didn'?t|not|no longer|unwilling to|declines? to"
    r"|declined to|refuses? to|refused to|will not|won'?t)\s+(?:support|supporting|supports)\b"
    r"|\bvictim (?:has )?withdra(?:wn|ws|w)\b|\bvictim (?:not supportive|unsupportive)\b"
)
_VICTIM_SUPPORTS_RE: Final[str] = r"\bvictim (?:supports|supporting|support)\b(?! services?\b)"
#: Outcome number: "Outcome 15", "OC16", "HO outcome 15", "o/c 16", or a leading bare "15 - ".
_OUTCOME_NUMBER_RE: Final[str] = (
    r"(?:\b(?:outcome|oc|o/c)(?: (?:no|number|code|type))?\.?\s*[:#-]?\s*0?(\d{1,2})(?!\d)"
    r"|^0?(\d{1,2})(?:\.0+)?\s*(?:$|[-:)]|\.(?!\d)))"
)
_NO_CRIME_RE: Final[str] = (
    r"\bno[- ]?crimed?\b|\bcrime (?:has been |was |record )?cancell?ed\b|\bcancell?ed (?:crime|record)\b"
    r"|^cancell?ed\b|\bnot a (?:notifiable )?crime\b|\bno notifiable (?:crime|offence)\b"
)
_ONGOING_RE: Final[str] = (
    r"\bon[- ]?going\b|\bunder investigation\b|\binvestigation (?:is )?(?:open|continuing|in progress|live"
    r"|active)\b|\bpending\b|\bawaiting\b|\bnot yet (?:assigned|finali[sz]ed|closed|outcomed)\b"
    r"|^open\b|\bstill open\b|\b(?:live|active|open) investigation\b|\bno outcome yet\b"
    r"|\bcurrently (?:under |being )?investigat"
)


@_on_distinct_values
def code_engagement(outcome_text: pd.Series) -> pd.Series:
    """Vocab ``engagement`` from the police outcome field, as in study section 2.3.

    Wording follows the Home Office crime outcomes framework (Home Office Counting Rules,
    "Crime outcomes in England and Wales: technical annex", gov.uk):

    * outcome 15, "Named suspect identified: victim supports action but evidential difficulties
      prevent further action" -- local form "Suspect identified - evidential difficulties -
      victim supports action" -> ``positive``;
    * outcome 16, "Named suspect identified: evidential difficulties prevent further action:
      victim does not support (or has withdrawn support from) police action" -- local forms
      "... victim does not support action", "... victim not supporting" -> ``negative``;
    * "Investigation ongoing", "Under investigation", "Pending", "Awaiting ...", "Open" ->
      ``ongoing``;
    * "No crime", "No-crime", "Crime cancelled", "Cancelled record" -> ``no_crime``;
    * everything else (incl. outcome 14, suspect *not* identified, and N100 rape-report
      classifications) -> ``unknown``.

    Positive needs "victim supports" plus "evidential difficulties" or "suspect identified";
    negative needs "victim does not support"/"not supporting"/"withdrawn" plus "suspect
    identified" (without it the text may be outcome 14).  "Outcome 15"/"Outcome 16" (also
    "OC15", a leading "15 -") decide on their own.  Dash style, case, spacing and a leading
    outcome number are tolerated.  Wording and number that disagree -> ``unknown``.  Order
    of precedence: positive/negative, then no_crime, then ongoing.
    """
    text = normalise_text(outcome_text)
    suspect_not = _contains(text, _SUSPECT_NOT_RE)
    suspect_yes = _contains(text, _SUSPECT_YES_RE) & ~suspect_not
    not_support = _contains(text, _VICTIM_NOT_SUPPORT_RE)
    supports = _contains(text, _VICTIM_SUPPORTS_RE) & ~not_support
    evidential = _contains(text, _EVIDENTIAL_RE)
    nums = text.str.extract(_OUTCOME_NUMBER_RE)
    number = pd.to_numeric(nums[0].fillna(nums[1]), errors="coerce")
    pos = (supports & (evidential | suspect_yes) & ~suspect_not) | (number == 15).fillna(False)
    neg = (not_support & suspect_yes) | (number == 16).fillna(False)
    other_number = (number.notna() & ~number.isin([15, 16])).astype(bool)
    pos = pos.astype(bool) & ~other_number
    neg = neg.astype(bool) & ~other_number
    no_crime = _contains(text, _NO_CRIME_RE)
    ongoing = _contains(text, _ONGOING_RE)
    codes = np.select(
        [pos & neg, pos, neg, no_crime, ongoing],
        [UNKNOWN, "positive", "negative", "no_crime", "ongoing"],
        default=UNKNOWN,
    )
    return pd.Series(codes, index=text.index, dtype=object)


# ----------------------------------------------------------------------------------------------
# Data-quality report
# ----------------------------------------------------------------------------------------------


def mapping_report(raw: pd.Series, coded: pd.Series, field: str) -> pd.DataFrame:
    """Which raw spellings were mapped to which code, with counts.

    Returns columns ``field``, ``raw_value`` (the raw value as text, exactly as recorded;
    ``<NA>`` for missing), ``code`` and ``n``, sorted by code, then by descending ``n``.
    ``raw`` and ``coded`` are aligned on their index.
    """
    raw = _as_series(raw)
    coded = _as_series(coded)
    df = pd.DataFrame({"raw_value": raw.astype("string"), "code": coded.astype("string")})
    out = (
        df.groupby(["code", "raw_value"], dropna=False, sort=False)
        .size()
        .rename("n")
        .reset_index()
    )
    out = out.sort_values(["code", "n", "raw_value"], ascending=[True, False, True], na_position="last")
    out.insert(0, "field", field)
    out["n"] = out["n"].astype(int)
    return out[["field", "raw_value", "code", "n"]].reset_index(drop=True)
