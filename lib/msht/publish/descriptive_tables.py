"""What notebook 02 shows of :mod:`msht.analysis.describe`'s rows: their disclosure control, the
study's "% (n)" display tables (section 3, Table 1, Appendices 1-3) and the tables' notes.

:func:`protect` applies :func:`msht.publish.sdc.protect_descriptives` to the rows of
:func:`msht.analysis.describe.section3`; the ``*_display`` functions and :func:`denominator_note`
turn (protected) tidy rows into the frames :mod:`msht.publish.tables` styles. A hidden count shows
its disclosure-control mark (``display`` column) instead of a number.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import pandas as pd

from msht.analysis.describe import EXPLOITATION_GROUP, TABLE1_ALL, TABLE1_COLUMNS, TABLE1_VARIABLES, combine
from msht.base import vocab
from msht.base.formats import fmt_count, fmt_pct_n, fmt_row, is_missing
from msht.base.vocab import EXPLOITATION_TYPES, UNKNOWN
from msht.publish import sdc

#: Table 1's row-group headers.
TABLE1_GROUPS: Final[dict[str, str]] = {
    "victim_sex": "Victim sex",
    "victim_age2": "Victim age",
    "victim_uk_national": "Victim nationality",
    "exploitation_location2": "Exploitation location",
}


def _group_key(variable: str) -> str:
    """The display group of a variable: exploitation-type flags share one group."""
    return EXPLOITATION_GROUP if variable in EXPLOITATION_TYPES else variable


def _group_label(key: str) -> str:
    return vocab.VARIABLE_LABELS.get(key, key)


def _cell(n: object, denominator: object, level: str, display: object = "") -> str:
    """A table cell: ``"% (n)"``, or ``"n=<count> not recorded"`` for the unknown row (a hidden
    count shows its disclosure-control mark)."""
    if level == UNKNOWN:
        if is_missing(n):
            return f"{fmt_count(n, display)} not recorded"
        return f"n={int(n)} not recorded"
    return fmt_pct_n(n, denominator, style="table", display=display)


def _displays(rows: pd.DataFrame) -> list[str]:
    """The disclosure-control marks of ``rows`` (empty strings when not protected)."""
    return rows["display"].fillna("").astype(str).tolist() if "display" in rows.columns else [""] * len(rows)


def type_label(variable: str) -> str:
    """An exploitation type's display name ("Criminal exploitation")."""
    return vocab.label(variable, "yes").removesuffix(" identified")


def _level_label(variable: str, level: str) -> str:
    return type_label(variable) if variable in EXPLOITATION_TYPES else vocab.label(variable, level)


def display_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Turn tidy rows into the study's two-column layout: ``group | characteristic | "% (n)"``, one
    group per variable (the exploitation-type flags form one group), Unknown rows last in their
    group showing the missing count."""
    keys = rows["variable"].map(_group_key)
    return pd.DataFrame(
        {
            "group": keys.map(_group_label).to_list(),
            "characteristic": [_level_label(v, lv) for v, lv in zip(rows["variable"], rows["level"])],
            "value": [_cell(n, d, lv, m) for n, d, lv, m in zip(rows["n"], rows["denominator"], rows["level"], _displays(rows))],
        }
    )


def denominator_note(rows: pd.DataFrame, *, unit: str) -> str:
    """A footnote stating each group's denominator (units with a recorded value) and missing count."""
    parts = []
    keys = rows["variable"].map(_group_key)
    for key, block in rows.groupby(keys, sort=False):
        known_rows = block[block["level"] != UNKNOWN]
        known = known_rows["denominator"].dropna()
        unknown_rows = block[block["level"] == UNKNOWN]
        if len(known):
            n_known = f"{int(known.iloc[0]):,}"
        elif "denominator_suppressed" in block.columns and known_rows["denominator_suppressed"].any():
            n_known = str(known_rows.loc[known_rows["denominator_suppressed"], "denominator_display"].iloc[0] or "[c]")
        else:
            n_known = "0"
        n_missing = fmt_count(unknown_rows["n"].iloc[0], _displays(unknown_rows)[0]) if len(unknown_rows) else "0"
        parts.append(f"{_group_label(key).lower()}: N={n_known} ({n_missing} not recorded)")
    return f"Percentages are of {unit} with a recorded value; " + "; ".join(parts) + "."


def table1_display(rows: pd.DataFrame) -> pd.DataFrame:
    """Table 1's wide layout: ``group | characteristic`` then one ``"% (n)"`` column per Table 1
    column (``all_cases`` and each exploitation type); a column without an Unknown count shows
    ``n=0 not recorded`` on the Unknown row."""
    frame = rows.assign(
        column=rows["table"].str.removeprefix("table1_"),
        cell=[_cell(n, d, lv, m) for n, d, lv, m in zip(rows["n"], rows["denominator"], rows["level"], _displays(rows))],
    )
    wide = frame.pivot(index=["variable", "level"], columns="column", values="cell")
    order = [(v, lv) for v in TABLE1_VARIABLES for lv in [*vocab.levels(v), UNKNOWN] if (v, lv) in wide.index]
    wide = wide.loc[order, [c for c in TABLE1_COLUMNS if c in wide.columns]].fillna("n=0 not recorded")
    index = wide.index.to_frame(index=False)
    out = pd.DataFrame(
        {
            "group": index["variable"].map(TABLE1_GROUPS).to_list(),
            "characteristic": [vocab.label(v, lv) for v, lv in zip(index["variable"], index["level"])],
        }
    )
    return pd.concat([out, wide.reset_index(drop=True)], axis=1)


def table1_headers(appendix2: pd.DataFrame, cases_total: int) -> dict[str, tuple[str, str]]:
    """Table 1's column headers as ``(name, subtitle)``: each exploitation type with its share of
    the cases with a type recorded (from the Appendix 2 rows), and all cases with their number."""
    flag_rows = appendix2[appendix2["variable"].isin(EXPLOITATION_TYPES)].set_index("variable")
    headers = {TABLE1_ALL: ("All MSHT cases", f"N={cases_total:,}")}
    for column in EXPLOITATION_TYPES:
        r = flag_rows.loc[column]
        headers[column] = (type_label(column), f"{fmt_row(r)} of cases")
    return headers


TABLE1_NOTE: Final[str] = (
    "Case level: each MSHT case counts once, so a victim with several cases counts once per case (victim-level "
    "shares are in Appendix 1). A case may have several exploitation types, so the type columns overlap; each "
    "header gives the type's share of the cases with a type recorded. Percentages are of the cases in the column "
    "with the characteristic recorded; Unknown rows count the cases without it. Nationality: any UK nationality, "
    "dual nationals included. Overseas: exploited overseas only, or both in the UK and overseas."
)


APPENDIX1_NOTE: Final[str] = (
    "Nationality regions are World Health Organization regions. UK nationality counts victims whose only "
    "recorded nationality is British; dual nationals are under Multiple nationalities, so the share with any UK "
    "nationality (section 3.1, Table 1) is larger."
)


APPENDIX2_NOTES: Final[tuple[str, ...]] = (
    "A case may have more than one exploitation type, so those percentages do not sum to 100%; they are of the "
    "cases with at least one type recorded.",
    "County lines: 'Has county lines involvement' counts the cases recorded as involving county lines. The seed's "
    "Appendix 2 prints these two labels the other way round from its own section 3.1 text and Appendix 4.",
)


APPENDIX3_NOTE: Final[str] = (
    "Offender level: each offender person counts once, with the attributes recorded on their first case. "
    "Nationality regions are World Health Organization regions; UK nationality counts sole British nationals."
)


def _protect_outlier_link(protected: pd.DataFrame, m: int) -> None:
    """Section 3.2's outliers, victims with no police-record data and analysed victims add up to
    section 3.1's victims: protect them together (:func:`msht.publish.sdc.protect_partition_link`)."""
    s32 = protected["table"] == "section3_2"
    left = protected.index[s32 & (protected["variable"] == "entries_outliers") & (protected["level"] == "left_out")]
    unknown = protected.index[s32 & (protected["level"] == vocab.UNKNOWN)]
    if len(left):
        sdc.protect_partition_link(protected, left[0], unknown, m)


#: Section 3.4's outcomes and the other rows that print their number of cases with a status recorded.
STATUS_ROWS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "offered": (("section3_4", "offered_by_period"), ("figure1", "offered_by_year")),
    "accepted": (("section3_4", "accepted_by_period"), ("figure1", "accepted_by_year")),
}


def small_unknown(rows: pd.DataFrame, outcome: str, m: int) -> bool:
    """True when section 3.4's ``unknown`` count of ``outcome`` in the true rows is from 1 to m-1."""
    hit = rows.loc[(rows["table"] == "section3_4") & (rows["variable"] == outcome) & (rows["level"] == UNKNOWN), "n"]
    return m > 1 and len(hit) > 0 and 1 <= int(hit.iloc[0]) < m


def _protect_status_totals(protected: pd.DataFrame, src: pd.DataFrame, m: int) -> None:
    """An outcome whose unknown count is hidden: its number of cases with a status recorded is
    also hidden in the rows by period and figure 1 (:data:`STATUS_ROWS`,
    :func:`msht.publish.sdc.hide_status_total`); section 3.4's own block hides it already."""
    for outcome, places in STATUS_ROWS.items():
        if small_unknown(src, outcome, m):
            for table, variable in places:
                where = (protected["table"] == table) & (protected["variable"] == variable)
                sdc.hide_status_total(protected, where & (protected["level"] != "first_year"))


#: The count that the denominator of a statistic's rows (levels in
#: :data:`msht.publish.sdc.NON_COUNT_LEVELS`: a median, a range, a test) prints again: (table,
#: variable) -> (table, variable, level); level ``None``: the block's number of units with a value
#: (its denominator, or the sum of its levels' denominators where each level has its own). A
#: statistic's block not listed here is its own source.
VALUE_DENOMINATORS: Final[dict[tuple[str, str], tuple[str, str, str | None]]] = {
    ("section3_1", "victim_case_count"): ("section3_1", "victim_case_count", None),
    ("section3_2", "entries_per_victim"): ("section3_2", "police_entries", None),
    ("section3_3", "offenders_per_case_range"): ("section3_3", "offenders_per_case", "several"),
    ("section3_4", "offered_by_period"): ("section3_4", "offered_by_period", None),
    ("section3_4", "accepted_by_period"): ("section3_4", "accepted_by_period", None),
}


def value_denominator_source(table: str, variable: str) -> tuple[str, str, str | None]:
    """The count a statistic's denominator prints again (:data:`VALUE_DENOMINATORS`)."""
    return VALUE_DENOMINATORS.get((table, variable), (table, variable, None))


def _protect_value_denominators(protected: pd.DataFrame) -> None:
    """A statistic's denominator (the victims of a median, the cases of a range, the cases of a
    test) is hidden (``linked_total``) whenever the count it prints again
    (:func:`value_denominator_source`) is hidden: on a one-quarter release, the median of police
    entries printed 73 victims next to the hidden unknown count (74 victims, none left out: 1)."""
    values = protected.index[protected["level"].isin(sdc.NON_COUNT_LEVELS) & protected["denominator"].notna()]
    for idx in values:
        table, variable, level = value_denominator_source(protected.at[idx, "table"], protected.at[idx, "variable"])
        block = protected[(protected["table"] == table) & (protected["variable"] == variable)
                          & ~protected["level"].isin(sdc.NON_COUNT_LEVELS) & (protected["level"] != UNKNOWN)]
        hidden = block.loc[block["level"] == level, "suppressed"] if level is not None else block["denominator_suppressed"]
        if hidden.astype(bool).any():
            sdc.hide(protected, idx, "denominator", "linked_total")


def protect(parts: dict[str, pd.DataFrame], min_cell_count: int,
            forced: Collection[tuple[str, str, str, str, str]] = frozenset()) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Apply :func:`msht.publish.sdc.protect_descriptives` to the rows of
    :func:`msht.analysis.describe.section3`.

    Returns the protected rows of ``descriptives.csv`` (with the marker columns of
    :mod:`msht.publish.sdc`; :func:`msht.publish.results.write_csv` drops them) and the same rows split back
    into ``parts``, for the tables, figures and prose. With ``min_cell_count`` 0 the values are
    those of :func:`msht.analysis.describe.combine` unchanged. ``forced``: cells to hide as
    complementary suppressions (:func:`msht.publish.sdc.forced_cells`).
    """
    src = combine(parts)
    protected = sdc.protect_descriptives(src, min_cell_count, forced=forced)
    _protect_outlier_link(protected, int(min_cell_count))
    _protect_status_totals(protected, src, int(min_cell_count))
    if int(min_cell_count) > 1:
        _protect_value_denominators(protected)
    out, start = {}, 0
    for name, frame in parts.items():
        out[name] = protected.iloc[start : start + len(frame)].reset_index(drop=True)
        start += len(frame)
    return protected, out
