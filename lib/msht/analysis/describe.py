"""Descriptive tables of section 3 and Appendices 1-3 in the study's "% (n)" style, as tidy rows.

Every builder returns rows of ``descriptives.csv`` (``table, variable, level, n, denominator,
pct``; see :mod:`msht.publish.results`), built from the analysis tables of notebook 01:

* ``cases``: one row per analysed MSHT case (victim attributes repeat on each of their cases);
* ``victims``: one row per victim (attributes from their first case);
* ``offenders``: one row per case-offender pair; :func:`offender_persons` reduces it to one row
  per offender person, the unit of Appendix 3.

Conventions:

* ``pct`` is of the units with a *known* value; an ``unknown`` row holds the missing count and
  leaves ``denominator`` and ``pct`` empty (:func:`frequency`).
* Summary statistics and test results that prose quotes (median, range, χ², df, p) are rows
  whose ``level`` names the statistic and whose ``n`` holds the value (``pct`` empty); so every
  number in the prose is in the results CSV.

Their disclosure control, display tables and notes are in :mod:`msht.publish.descriptive_tables`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np
import pandas as pd

from msht.analysis import stats
from msht.base import vocab
from msht.base.formats import pct
from msht.ingest import coding
from msht.base.vocab import EXPLOITATION_TYPES, UNKNOWN

#: Referrals from 1 January of this year on are "2021 and later" (study section 3.4;
#: the same split as :func:`msht.ingest.coding.code_period`).
PERIOD_SPLIT_YEAR: Final[int] = 2021

#: The periods compared in section 3.4, earlier first.
PERIODS: Final[tuple[str, str]] = ("before_2021", "from_2021")

#: Table 1's rows (victim attributes) and columns (all cases, then each exploitation type).
TABLE1_VARIABLES: Final[tuple[str, ...]] = ("victim_sex", "victim_age2", "victim_uk_national", "exploitation_location2")
TABLE1_ALL: Final[str] = "all_cases"
TABLE1_COLUMNS: Final[tuple[str, ...]] = (TABLE1_ALL, *EXPLOITATION_TYPES)

#: Display group of the exploitation-type flags (a case may have several types).
EXPLOITATION_GROUP: Final[str] = "exploitation_type"

COLUMNS: Final[tuple[str, ...]] = ("table", "variable", "level", "n", "denominator", "pct")


# ----------------------------------------------------------------------------------------------
# Row builders
# ----------------------------------------------------------------------------------------------


def tidy(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Tidy rows in the contract's column order, with a nullable integer ``denominator``."""
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out["denominator"] = pd.array(out["denominator"].tolist(), dtype="Int64") if len(out) else pd.array([], dtype="Int64")
    out["pct"] = out["pct"].astype(float)
    return out


def count_row(table: str, variable: str, level: str, n: int, denominator: int) -> dict[str, object]:
    """One row: ``n`` of ``denominator`` units, with its share."""
    return {"table": table, "variable": variable, "level": level, "n": int(n), "denominator": int(denominator),
            "pct": pct(int(n), int(denominator))}


def value_row(table: str, variable: str, level: str, value: float, denominator: int | None = None) -> dict[str, object]:
    """One statistic row: ``level`` names the statistic, ``n`` holds its value (``pct`` empty)."""
    number = float(value)
    return {"table": table, "variable": variable, "level": level, "n": int(number) if number.is_integer() else number,
            "denominator": pd.NA if denominator is None else int(denominator), "pct": math.nan}


def level_counts(values: pd.Series) -> dict[str, int]:
    """Units per value of ``values`` as text (``str`` of each value), missing values counted
    under ``unknown``; only values present. One hash pass over the values (what
    ``values.fillna("unknown").astype(str).value_counts()`` counts, without its copies)."""
    tally: dict[str, int] = {}
    counts = values.value_counts(dropna=False, sort=False)
    for value, n in zip(counts.index, counts.to_numpy(), strict=True):
        if n:
            name = UNKNOWN if pd.isna(value) else str(value)
            tally[name] = tally.get(name, 0) + int(n)
    return tally


def frequency(frame: pd.DataFrame, variable: str, *, table: str, column: str | None = None,
              levels: Iterable[str] | None = None) -> pd.DataFrame:
    """Count each level of a coded column, in vocabulary order, with its share of the known values.

    Returns tidy rows ``table, variable, level, n, denominator, pct``; a final ``unknown`` row
    holds the missing count (with empty denominator and pct) when there is any.
    """
    column = column or variable
    levels = list(levels) if levels is not None else vocab.levels(variable)
    counts = level_counts(frame[column])
    unexpected = sorted(set(counts) - set(levels) - {UNKNOWN})
    if unexpected:
        raise ValueError(f"{table}: column '{column}' has codes {unexpected} outside the vocabulary of {variable}")
    known = int(sum(int(counts.get(lv, 0)) for lv in levels))
    rows = [count_row(table, variable, lv, int(counts.get(lv, 0)), known) for lv in levels]
    missing = int(counts.get(UNKNOWN, 0))
    if missing:
        rows.append({"table": table, "variable": variable, "level": UNKNOWN, "n": missing, "denominator": pd.NA, "pct": math.nan})
    return tidy(rows)


def flags(frame: pd.DataFrame, columns: Iterable[str], *, table: str, known: pd.Series | None = None) -> pd.DataFrame:
    """Count units with each boolean flag set (a unit may have several), as shares of ``known`` units.

    ``known`` marks the units whose flags were recorded (default: all units); the units not
    known form one ``exploitation_type``/``unknown`` row.
    """
    known = known if known is not None else pd.Series(True, index=frame.index)
    known = known.astype(bool)
    denominator = int(known.sum())
    rows = [count_row(table, col, "yes", int((frame[col].astype(bool) & known).sum()), denominator) for col in columns]
    missing = int((~known).sum())
    if missing:
        rows.append({"table": table, "variable": EXPLOITATION_GROUP, "level": UNKNOWN, "n": missing, "denominator": pd.NA,
                     "pct": math.nan})
    return tidy(rows)


def _coded(condlist: Sequence[pd.Series], choices: Sequence[str], known: pd.Series) -> np.ndarray:
    """Codes from boolean conditions (first true wins), ``unknown`` where ``known`` is false."""
    codes = np.select([np.asarray(c, dtype=bool) for c in condlist], list(choices), default=UNKNOWN)
    return np.where(np.asarray(known, dtype=bool), codes, UNKNOWN)


# ----------------------------------------------------------------------------------------------
# Section 3.1 and Appendix 1: victims
# ----------------------------------------------------------------------------------------------


def overview_rows(cases: pd.DataFrame, victims: pd.DataFrame) -> pd.DataFrame:
    """Section 3.1's counts: cases and victims analysed; victims with one vs several MSHT cases,
    and the fewest and most cases of a victim (``min``/``max`` statistic rows)."""
    n_cases, n_victims = len(cases), len(victims)
    several = int((victims["n_cases"] > 1).sum())
    rows = [
        count_row("section3_1", "cases", "all", n_cases, n_cases),
        count_row("section3_1", "victims", "all", n_victims, n_victims),
        count_row("section3_1", "victim_case_count", "one", n_victims - several, n_victims),
        count_row("section3_1", "victim_case_count", "several", several, n_victims),
    ]
    if n_victims:
        rows += [value_row("section3_1", "victim_case_count", "min", int(victims["n_cases"].min()), n_victims),
                 value_row("section3_1", "victim_case_count", "max", int(victims["n_cases"].max()), n_victims)]
    return tidy(rows)


def victim_summary_rows(victims: pd.DataFrame) -> pd.DataFrame:
    """Section 3.1's victim-level shares not in Appendix 1: adults (17 and under vs 18+) and
    UK nationality (any UK nationality, dual nationals included; study footnote 17)."""
    return pd.concat(
        [frequency(victims, "victim_age2", table="section3_1"), frequency(victims, "victim_uk_national", table="section3_1")],
        ignore_index=True,
    )


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


# ----------------------------------------------------------------------------------------------
# Appendix 2 and Table 1: cases
# ----------------------------------------------------------------------------------------------


def location2(location: pd.Series) -> pd.Series:
    """Vocab ``exploitation_location2`` from ``exploitation_location``: ``uk_only``, or
    ``overseas_or_both`` for overseas only and both (Table 1's "Overseas")."""
    mapping = {"uk_only": "uk_only", "overseas_only": "overseas_or_both", "both": "overseas_or_both"}
    return location.map(mapping).fillna(UNKNOWN).astype(object)


def appendix2_rows(cases: pd.DataFrame) -> pd.DataFrame:
    """Appendix 2 (case level): referral type, referring agency, exploitation types (several per
    case, shares of the cases with a type recorded), exploitation location and county lines."""
    return pd.concat(
        [
            frequency(cases, "referral_form", table="appendix2"),
            frequency(cases, "referring_agency", table="appendix2"),
            flags(cases, EXPLOITATION_TYPES, table="appendix2", known=cases["exploitation_known"]),
            frequency(cases, "exploitation_location", table="appendix2"),
            frequency(cases, "county_lines", table="appendix2"),
        ],
        ignore_index=True,
    )


def table1_rows(cases: pd.DataFrame) -> pd.DataFrame:
    """Table 1 at case level: victim sex, age (17 and under / adult), UK nationality and exploitation
    location (UK only / overseas or both) among all cases (``table1_all_cases``) and among the
    cases of each exploitation type (``table1_<type>``; a case may be in several columns)."""
    frame = cases[[c for c in TABLE1_VARIABLES if c in cases.columns]].assign(
        exploitation_location2=location2(cases["exploitation_location"]))
    known = cases["exploitation_known"].astype(bool)
    parts = []
    for column in TABLE1_COLUMNS:
        subset = frame if column == TABLE1_ALL else frame[known & cases[column].astype(bool)]
        parts += [frequency(subset, variable, table=f"table1_{column}") for variable in TABLE1_VARIABLES]
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# Section 3.2: previous police records
# ----------------------------------------------------------------------------------------------


def police_record_rows(victims: pd.DataFrame, outlier_min_entries: int) -> pd.DataFrame:
    """Section 3.2 (victim level): share with more than one police-record entry, median and range
    of entries, at least one entry as victim / as perpetrator, more entries as perpetrator than
    as victim.

    Victims without any police-record entry have no police-record data (``unknown``). Victims
    with at least ``outlier_min_entries`` entries (0: none) are left out of this section only;
    ``entries_outliers`` rows give the threshold and how many were left out.
    """
    entries = victims["n_entries"].fillna(0).astype(int)
    known = entries > 0
    outlier = known & (entries >= outlier_min_entries) if outlier_min_entries > 0 else pd.Series(False, index=victims.index)
    rows = [
        value_row("section3_2", "entries_outliers", "threshold", int(outlier_min_entries)),
        count_row("section3_2", "entries_outliers", "left_out", int(outlier.sum()), int(known.sum())),
    ]
    kept = victims[~outlier]
    n, k = entries[~outlier], known[~outlier]
    as_victim, as_perp = kept["n_as_victim"].fillna(0), kept["n_as_perpetrator"].fillna(0)
    yes_no = ["yes", "no"]
    coded = pd.DataFrame(
        {
            "police_entries": _coded([n == 1, n > 1], ["one", "several"], k),
            "has_victim_entry": _coded([as_victim > 0, as_victim <= 0], yes_no, k),
            "has_perpetrator_entry": _coded([as_perp > 0, as_perp <= 0], yes_no, k),
            "more_perp_than_victim": _coded([as_perp > as_victim, as_perp <= as_victim], yes_no, k),
        },
        index=kept.index,
    )
    parts = [tidy(rows)] + [frequency(coded, variable, table="section3_2") for variable in coded.columns]
    known_entries = n[k]
    if len(known_entries):
        parts.append(tidy([value_row("section3_2", "entries_per_victim", stat, getattr(known_entries, stat)(), len(known_entries))
                             for stat in ("median", "min", "max")]))
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# Section 3.3 and Appendix 3: offenders
# ----------------------------------------------------------------------------------------------


def offender_persons(offenders: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """One row per offender person (Appendix 3's unit), with the attributes recorded on their
    first case (by case date, then occurrence number) and ``n_cases``; rows without an
    offender ID each count as a person."""
    dates = cases.drop_duplicates("occurrence_number").set_index("occurrence_number")["date"]
    frame = offenders.assign(_date=offenders["occurrence_number"].map(dates)).sort_values(
        ["_date", "occurrence_number"], kind="stable")
    pid = frame["offender_id"]
    n_cases = frame.groupby("offender_id")["occurrence_number"].nunique()
    persons = frame[pid.isna() | ~pid.duplicated()].copy()
    persons["n_cases"] = persons["offender_id"].map(n_cases).fillna(1).astype(int)
    persons["offender_age2"] = coding.age_band2(persons["offender_age"]).to_numpy()
    keep = ["offender_id", "offender_sex", "offender_age", "offender_age6", "offender_age2", "offender_ethnicity5",
            "offender_uk_national", "offender_nationality_region", "n_cases"]
    return persons[keep].reset_index(drop=True)


def appendix3_rows(persons: pd.DataFrame) -> pd.DataFrame:
    """Appendix 3 (offender persons): sex, age (six bands), ethnicity (five groups), nationality
    (UK, WHO regions, multiple)."""
    return pd.concat(
        [
            frequency(persons, "offender_sex", table="appendix3"),
            frequency(persons, "offender_age6", table="appendix3"),
            frequency(persons, "offender_ethnicity5", table="appendix3"),
            frequency(persons, "offender_nationality_region", table="appendix3"),
        ],
        ignore_index=True,
    )


def offender_rows(cases: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Section 3.3: cases with no, one and several recorded offenders (shares of the cases whose
    number of offenders is known), the range of offenders among cases with several, the number
    of offender persons, and the offenders' adult share and UK nationality (any UK nationality).

    A case whose ``n_offenders`` is missing (its force sent no offender extract:
    :func:`msht.clean.forces.offenders_not_known`) is counted in the ``unknown`` row, not as
    "none"."""
    known = cases["n_offenders"].notna()
    k = cases["n_offenders"].where(known, 0).astype(int)
    per_case = pd.DataFrame({"offenders_per_case": _coded([k == 0, k == 1, k > 1], ["none", "one", "several"],
                                                          known)})
    parts = [frequency(per_case, "offenders_per_case", table="section3_3")]
    several = k[known & (k > 1)]
    if len(several):
        parts.append(tidy([value_row("section3_3", "offenders_per_case_range", "min", int(several.min()), len(several)),
                             value_row("section3_3", "offenders_per_case_range", "max", int(several.max()), len(several))]))
    parts += [
        tidy([count_row("section3_3", "offender_persons", "all", len(persons), len(persons))]),
        frequency(persons, "offender_age2", table="section3_3"),
        frequency(persons, "offender_uk_national", table="section3_3"),
    ]
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# Section 3.4: support and engagement
# ----------------------------------------------------------------------------------------------


def offered_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """The cases in which the victim was offered support (the population of ``accepted``)."""
    return cases[cases["offered"] == "yes"]


def support_rows(cases: pd.DataFrame) -> pd.DataFrame:
    """Section 3.4: offered support (of cases with an offer status recorded) and accepted it (of
    the cases offered support)."""
    return pd.concat(
        [frequency(cases, "offered", table="section3_4"), frequency(offered_cases(cases), "accepted", table="section3_4")],
        ignore_index=True,
    )


def engagement_rows(cases: pd.DataFrame, *, table: str = "section3_4") -> pd.DataFrame:
    """Engagement levels as in study footnote 12: cases recorded as investigation ongoing or no
    crime are left out (``engagement_excluded`` rows, shares of all cases); of the rest,
    positive, negative, and not determined (the outcome did not say) (``engagement_level``)."""
    engagement = cases["engagement"].fillna(UNKNOWN).astype(str)
    excluded = engagement.isin(["ongoing", "no_crime"])
    rows = [count_row(table, "engagement_excluded", lv, int((engagement == lv).sum()), len(cases))
            for lv in vocab.levels("engagement_excluded")]
    level = pd.DataFrame({"engagement_level": engagement[~excluded].replace({UNKNOWN: "not_determined"})})
    return pd.concat([tidy(rows), frequency(level, "engagement_level", table=table)], ignore_index=True)


def _by_period(frame: pd.DataFrame, outcome: str, variable: str) -> pd.DataFrame:
    """Shares of ``outcome`` = yes before 2021 and from 2021, and their study-convention test
    (Yates chi-square for the 2×2 table; see :func:`msht.analysis.stats.association_test`)."""
    counts = stats.crosstab(frame, "period", outcome, list(PERIODS), ["yes", "no"])
    rows = [count_row("section3_4", variable, lv, int(counts[i, 0]), int(counts[i].sum())) for i, lv in enumerate(PERIODS)]
    try:
        result = stats.association_test(counts, list(PERIODS), ["yes", "no"], factor="period", outcome=outcome)
    except stats.DegenerateTableError:
        return tidy(rows)
    total = result.n
    rows += [value_row("section3_4", variable, "statistic", result.chi2_study, total),
             value_row("section3_4", variable, "df", result.df, total),
             value_row("section3_4", variable, "p", result.p_study, total)]
    return tidy(rows)


def period_rows(cases: pd.DataFrame) -> pd.DataFrame:
    """Section 3.4's comparison of referrals before 2021 with 2021 and later: offers (of cases
    with an offer status recorded) and acceptances (of cases offered support), each with its
    test; and the split year itself (``period_split``)."""
    return pd.concat(
        [
            tidy([value_row("section3_4", "period_split", "first_year", PERIOD_SPLIT_YEAR)]),
            _by_period(cases, "offered", "offered_by_period"),
            _by_period(offered_cases(cases), "accepted", "accepted_by_period"),
        ],
        ignore_index=True,
    )


def period_years(period_start: str, period_end: str) -> list[int]:
    """The calendar years of a run's period (params ``period_start``/``period_end``, ISO dates)."""
    return list(range(pd.Timestamp(period_start).year, pd.Timestamp(period_end).year + 1))


def _yes_by_year(frame: pd.DataFrame, outcome: str, variable: str, years: Sequence[int]) -> list[dict[str, object]]:
    known = frame[outcome].isin(["yes", "no"])
    counts = (
        pd.DataFrame({"year": frame["date"].dt.year, "yes": frame[outcome].eq("yes") & known, "known": known})
        .groupby("year")[["yes", "known"]].sum()
        .reindex(list(years), fill_value=0)
    )
    return [count_row("figure1", variable, str(year), int(r.yes), int(r.known)) for year, r in counts.iterrows()]


def support_by_year(cases: pd.DataFrame, years: Sequence[int]) -> pd.DataFrame:
    """Figure 1's data: per year of referral, offered support (of cases with an offer status
    recorded: ``offered_by_year``) and accepted it (of cases offered: ``accepted_by_year``);
    ``level`` is the year. Years without cases have denominator 0 and an empty ``pct``."""
    rows = _yes_by_year(cases, "offered", "offered_by_year", years)
    rows += _yes_by_year(offered_cases(cases), "accepted", "accepted_by_year", years)
    return tidy(rows)


def engagement_figure_rows(cases: pd.DataFrame) -> pd.DataFrame:
    """Figure 2's data: :func:`engagement_rows` under ``table = "figure2"``."""
    return engagement_rows(cases, table="figure2")


# ----------------------------------------------------------------------------------------------
# Everything of section 3
# ----------------------------------------------------------------------------------------------


def section3(cases: pd.DataFrame, victims: pd.DataFrame, offenders: pd.DataFrame, *, outlier_min_entries: int,
             years: Sequence[int]) -> dict[str, pd.DataFrame]:
    """All rows of section 3, Table 1, Appendices 1-3 and Figures 1-2, by part.

    ``offenders`` are the case-offender pairs of the analysis tables (reduced here to persons
    for Appendix 3 and section 3.3); ``years`` are Figure 1's years (:func:`period_years`).
    """
    people = offender_persons(offenders, cases)
    return {
        "overview": pd.concat([overview_rows(cases, victims), victim_summary_rows(victims)], ignore_index=True),
        "appendix1": appendix1_rows(victims),
        "appendix2": appendix2_rows(cases),
        "table1": table1_rows(cases),
        "police_records": police_record_rows(victims, outlier_min_entries),
        "appendix3": appendix3_rows(people),
        "offenders": offender_rows(cases, people),
        "engagement": pd.concat([support_rows(cases), engagement_rows(cases), period_rows(cases)], ignore_index=True),
        "figure1": support_by_year(cases, years),
        "figure2": engagement_figure_rows(cases),
    }


def combine(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The rows of ``descriptives.csv``: every part of :func:`section3`, in order."""
    return pd.concat(list(parts.values()), ignore_index=True)
