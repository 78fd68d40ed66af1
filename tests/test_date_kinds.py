"""Review finding 7, the kind: dates pandas cannot handle as such (a UTC offset or ``Z``, mixed
offsets in one column, years a ``datetime64[ns]`` cannot hold, fractional seconds, a spreadsheet's
serial number in a CSV, a year or month alone) are either read as the date they mean (a date-time
with an offset: the local date as written) or reported in one line; never an exception."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from msht.clean import rules
from msht.ingest import coding
from msht.ingest.extracts import ExtractError

READ = [
    ("2018-02-01 10:00:00+01:00", "2018-02-01 10:00:00"),
    ("2018-02-01T23:30:00-05:00", "2018-02-01 23:30:00"),  # the date as written, not 2 February in UTC
    ("2018-02-01T00:30:00+02:00", "2018-02-01 00:30:00"),  # nor 31 January
    ("2018-02-01T10:00:00Z", "2018-02-01 10:00:00"),
    ("2018-02-01 10:00+0100", "2018-02-01 10:00:00"),
    ("2018-02-01T10:00:00.5+05:30", "2018-02-01 10:00:00.5"),
    ("2018-02-01 10:00:00.123", "2018-02-01 10:00:00.123"),
    ("01/02/2018 10:00:00.25", "2018-02-01 10:00:00.25"),
    ("01/02/2018", "2018-02-01"),
    ("1/2/2018 10:00", "2018-02-01 10:00:00"),
    ("2018-02-01", "2018-02-01"),
    ("20180201", "2018-02-01"),
    ("2020/01/05", "2020-01-05"),  # year first with another separator, read as before
    ("2020/1/5", "2020-01-05"),
    ("2020/01/05 10:30:00", "2020-01-05 10:30:00"),
    ("2020/01/05 00:00:00", "2020-01-05"),
    ("2020.01.05", "2020-01-05"),
    ("2020-1-05 10:30+01:00", "2020-01-05 10:30:00"),
    ("2020/1/5 10:30-05:00", "2020-01-05 10:30:00"),
    ("01/01/1678", "1678-01-01"),
    ("31/12/2261", "2261-12-31"),
]

REPORTED = [
    ("0201-01-01", "is outside the dates the analysis can hold (years 1678 to 2261)"),
    ("9999-12-31", "is outside the dates the analysis can hold (years 1678 to 2261)"),
    ("01/01/0201", "is outside the dates the analysis can hold (years 1678 to 2261)"),
    ("31/12/1677", "is outside the dates the analysis can hold (years 1678 to 2261)"),
    ("9999-12-31T00:00:00+01:00", "is outside the dates the analysis can hold (years 1678 to 2261)"),
    ("43101", "is a number, not a date (a spreadsheet's date serial? expected dd/mm/yyyy)"),
    ("43101.5", "is a number, not a date (a spreadsheet's date serial? expected dd/mm/yyyy)"),
    ("2018-02", "is a year (or month) alone, not a date (expected dd/mm/yyyy)"),  # no day of February
    ("2018/2", "is a year (or month) alone, not a date (expected dd/mm/yyyy)"),
    ("2018", "is a year (or month) alone, not a date (expected dd/mm/yyyy)"),
    ("31122020", "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"),  # 8 digits, not yyyymmdd: no year 3112
    ("01022020", "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"),
    ("20201301", "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"),
    ("99991231", "is outside the dates the analysis can hold (years 1678 to 2261)"),
    ("2020/13/45", "is not a valid calendar date (read as yyyy-mm-dd)"),
    ("2020-01/05", "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"),  # two separators
    ("2018-W05", "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"),
    ("2018-02-30T10:00:00+01:00", "is not a valid calendar date (read as yyyy-mm-dd)"),
    ("31/02/2018", "is not a valid calendar date"),
    ("2021-13-01", "is not a valid calendar date (read as yyyy-mm-dd)"),
    ("2021-02-01 25:00", "has a date but not a time that can be read (expected yyyy-mm-dd hh:mm[:ss])"),
    ("2021-02-01 lunchtime", "has a date but not a time that can be read (expected yyyy-mm-dd hh:mm[:ss])"),
]


@pytest.mark.parametrize(("value", "date"), READ)
def test_a_date_pandas_handles_badly_is_read_as_the_date_it_means(value, date):
    parsed, _, bad = rules.date_failures(pd.Series([value, "05/03/2019"]))
    assert not bad.any()
    assert parsed.tolist() == [pd.Timestamp(date), pd.Timestamp("2019-03-05")]
    assert str(parsed.dtype) == "datetime64[ns]"


@pytest.mark.parametrize(("value", "why"), REPORTED)
def test_a_value_that_is_no_date_the_analysis_can_hold_is_one_line_naming_file_column_row_value(value, why):
    with pytest.raises(ExtractError) as caught:
        rules.parse_dates(pd.Series(["05/03/2019", value]), path="cases.csv", column="recorded_date",
                          rows=pd.Series([2, 3]))
    assert str(caught.value) == f"cases.csv: column 'recorded_date', row 3: value '{value}' {why}"


def test_mixed_offsets_in_one_column_are_each_the_local_date_as_written():
    values = pd.Series(["2018-02-01 10:00:00+01:00", "2018-02-01 10:00:00-08:00", "2018-02-01T10:00:00Z",
                        "2018-02-01", "01/02/2018 10:00"] * 3)  # repeated: read once per distinct value
    parsed, _, bad = rules.date_failures(values)
    assert not bad.any()
    assert parsed.tolist() == [pd.Timestamp("2018-02-01 10:00")] * 3 + [pd.Timestamp("2018-02-01")] + \
        [pd.Timestamp("2018-02-01 10:00")] + ([pd.Timestamp("2018-02-01 10:00")] * 3 + [pd.Timestamp("2018-02-01")] +
                                               [pd.Timestamp("2018-02-01 10:00")]) * 2


def test_ages_from_dates_with_offsets_or_out_of_range_years_do_not_raise():
    dob = pd.Series(["2000-03-15T23:00:00-05:00", "0201-01-01", "9999-12-31", "15/03/2000"])
    on = pd.Series(["2018-03-15T00:30:00+02:00"] * 4)
    assert coding.age_from_dob(dob, on).tolist() == [18, pd.NA, pd.NA, 18]


_DATE_LIKE = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\A\d{1,4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}([.,]\d{1,12})?)?)?"
                  r"( ?(Z|z|UTC|GMT|[+-]\d{2}(:?\d{2})?))?\Z"),
    st.from_regex(r"\A\d{1,2}/\d{1,2}/\d{1,5}( \d{1,2}:\d{2}(:\d{2}(\.\d{1,12})?)?)?\Z"),
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.datetimes().map(str),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)


@settings(max_examples=examples(150), deadline=None)  # the kinds of input are few; 400 took 14 s in CI
@given(st.lists(_DATE_LIKE, min_size=1, max_size=10))
def test_any_text_in_a_date_column_gives_a_date_or_one_line_never_an_exception(values):
    series = pd.Series(values)
    parsed, text, bad = rules.date_failures(series)
    assert str(parsed.dtype) == "datetime64[ns]"
    assert (parsed.notna() | bad | text.isna()).all(), "every value is a date, a problem or missing"
    assert not (parsed.notna() & bad).any()
    rows = pd.Series(range(2, len(values) + 2))
    try:
        rules.parse_dates(series, path="cases.csv", column="recorded_date", rows=rows)
    except ExtractError as exc:
        message = str(exc)
        i = int(bad.to_numpy().argmax())
        assert bad.any() and message.startswith(f"cases.csv: column 'recorded_date', row {i + 2}: value ")
        assert "\n" not in message
    else:
        assert not bad.any()
    coding.to_datetime(series)  # the other reader of raw dates (ages, late dates of birth) does not raise either


def _counting_to_datetime(monkeypatch) -> list[int]:
    """Count the calls to ``pd.to_datetime`` (each a pass of pandas over a batch of values)."""
    calls: list[int] = []
    real = pd.to_datetime

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pd, "to_datetime", counted)
    return calls


def test_a_long_column_with_two_odd_offsets_is_read_in_a_few_batches_not_value_by_value(monkeypatch):
    rules._DATES_READ.clear()
    times = pd.date_range("2020-01-05", periods=2000, freq="37min").strftime("%Y-%m-%d %H:%M:%S")
    values = pd.Series([*times, "2020-1-05 10:30+01:00", "2020/1/5 11:30-05:00"])
    calls = _counting_to_datetime(monkeypatch)
    parsed, _, bad = rules.date_failures(values)
    assert not bad.any()
    assert parsed.iloc[-2:].tolist() == [pd.Timestamp("2020-01-05 10:30"), pd.Timestamp("2020-01-05 11:30")]
    assert len(calls) <= 10, f"{len(calls)} calls of pandas for {len(values)} values"


def test_when_pandas_rejects_a_batch_only_the_values_it_rejects_are_read_one_by_one(monkeypatch):
    text = pd.Series([f"2020-01-05 10:{m:02d}+0000" for m in range(60)] * 20 + ["2020-01-05 10:30+0100"]
                     + ["2020-01-05 10:30+0000"] * 20 + ["2020-01-05 10:30-0500"])  # mixed offsets: no batch
    calls = _counting_to_datetime(monkeypatch)
    out = coding.read_dates(text, "%Y-%m-%d %H:%M%z")
    assert out.notna().all()
    assert out.iloc[-1] == pd.Timestamp("2020-01-05 10:30")  # the local time as written
    assert len(calls) <= 4 * 12, f"{len(calls)} calls of pandas for {len(text)} values"


def test_date_failures_keeps_the_column_name_of_the_normalised_text_remembered_or_not():
    rules._DATES_READ.clear()
    values = pd.Series(["01/02/2018", "01/02/2018", "2018-02-01", "N/K"], name="recorded_date")
    for _ in range(2):  # the second call reads from memory
        assert rules.date_failures(values)[1].name == "recorded_date"
    assert rules.date_failures(pd.Series(["01/02/2018", "02/02/2018"], name="entered_on"))[1].name == "entered_on"


def test_the_age_reader_reads_year_first_dates_with_any_one_separator_year_month_day():
    values = pd.Series(["2020/01/05", "2020.01.05", "2020/1/5 10:30-05:00", "2020-1-05 10:30+01:00", "05/01/2020"])
    assert coding.to_datetime(values).tolist() == [pd.Timestamp("2020-01-05")] * 5  # never 1 May


@pytest.mark.parametrize("value", ["2020-01/05", "2020/01-05", "2020.01/05", "2020-1.5 10:30"])
def test_the_age_reader_never_reads_year_first_mixed_separators_day_first(value):
    """A year-first date with two separators has no safe reading: missing (as date_failures calls it
    not a date), never pandas' day-first 1 May."""
    assert coding.to_datetime(pd.Series([value, "05/01/2020"])).isna().tolist() == [True, False]
    assert rules.date_failures(pd.Series([value]))[2].tolist() == [True]


_FIXED_PART = st.tuples(st.integers(0, 39), st.integers(0, 14), st.integers(1600, 2300),
                        st.one_of(st.none(), st.tuples(st.integers(0, 25), st.integers(0, 61),
                                                       st.one_of(st.none(), st.integers(0, 61)))))


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(_FIXED_PART, min_size=1, max_size=40))
def test_fixed_width_dates_read_from_their_digits_as_pandas_reads_them(parts):
    """dd/mm/yyyy[ HH:MM[:SS]] texts are read from their digits (a national extract's entry times):
    every date read so is the one the first of DATE_FORMATS pandas accepts reads, and date_failures
    gives what the formats give on their own (impossible days, hours, years left to pandas)."""
    import numpy as np

    texts = []
    for day, month, year, time in parts:
        text = f"{day:02d}/{month:02d}/{year:04d}"
        if time is not None:
            text += f" {time[0]:02d}:{time[1]:02d}" + ("" if time[2] is None else f":{time[2]:02d}")
        texts.append(text)
    values = pd.Series(texts, dtype="string")
    expected = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for fmt in rules.DATE_FORMATS:
        todo = expected.isna()
        expected[todo] = coding.read_dates(values[todo], fmt)
    read = rules._read_fixed_dates(np.array(texts, dtype=object))
    known = ~np.isnat(read)
    assert (read[known] == expected.to_numpy()[known]).all()
    rules._DATES_READ.clear()
    parsed, _, bad = rules.date_failures(pd.Series(texts, dtype=object))
    pd.testing.assert_series_equal(parsed, expected, check_names=False)
    assert bad.tolist() == expected.isna().tolist()
