"""Computed prose of section 3 (notebook 02): the descriptive overview, Table 1's reading, police
records, offenders, and support and engagement.

Each function reads the rows of ``descriptives.csv`` (:mod:`msht.analysis.describe`, after
:func:`msht.publish.descriptive_tables.protect`) and returns Markdown. Shares are written
"17.2% (n=394)" (:func:`msht.base.formats.fmt_pct_n`) with their denominators; words that state a
direction ("most", "lower") are chosen from the numbers, and never from a count hidden by
disclosure control. Private helpers carry the ``_s3`` prefix.
"""

from __future__ import annotations

import math

import pandas as pd

from msht.analysis import stats
from msht.base import vocab
from msht.base.formats import fmt_count, fmt_number, fmt_row, fmt_total, is_missing

def _cnt(r: pd.Series, column: str = "n") -> str:
    """A count of a results row as prose prints it (``1,234``), or its disclosure-control mark."""
    display = r.get("display" if column == "n" else f"{column}_display", "") if hasattr(r, "get") else ""
    return fmt_count(r[column], display or "")


def _num(r: pd.Series, column: str = "n") -> float:
    """A count of a results row as a number (NaN when hidden by disclosure control)."""
    return math.nan if is_missing(r[column]) else float(r[column])


def _row(frame: pd.DataFrame, **where: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for key, value in where.items():
        mask &= frame[key].astype(str) == value
    hits = frame[mask]
    if len(hits) != 1:
        raise KeyError(f"expected one results row for {where}, found {len(hits)}")
    return hits.iloc[0]


#: Exploitation types as prose names them.
_S3_TYPE_NAMES: dict[str, str] = {
    "criminal_exploitation": "criminal exploitation",
    "labour_exploitation": "labour exploitation",
    "sexual_exploitation": "sexual exploitation",
    "domestic_servitude": "domestic servitude",
    "other_exploitation": "other or undefined exploitation",
}


#: How prose completes "... victims were <phrase>" for each level of Table 1's variables.
_S3_TABLE1_PHRASES: dict[str, dict[str, str]] = {
    "victim_sex": {"male": "male", "female": "female"},
    "victim_age2": {"17_and_under": "aged 17 or under", "adult": "adults"},
    "victim_uk_national": {"uk": "of UK nationality", "non_uk": "not of UK nationality"},
    "exploitation_location2": {"uk_only": "exploited in the UK only",
                               "overseas_or_both": "exploited overseas (wholly or partly)"},
}


#: How prose completes "Most <noun> <phrase>: ..." for the majority level of a variable.
_S3_MAJORITY_PHRASES: dict[str, dict[str, str]] = {
    "referral_form": {"ms1": "had an MS1 referral", "nrm": "had an NRM referral"},
    "referring_agency": {"internal": "were referred from within the police force",
                         "external": "were referred by agencies external to the police force"},
    "victim_sex": {"male": "were male", "female": "were female"},
    "victim_age2": {"17_and_under": "were children", "adult": "were adults"},
    "offender_sex": {"male": "were male", "female": "were female"},
    "offender_age2": {"17_and_under": "were children", "adult": "were adults"},
    "offender_uk_national": {"uk": "had UK nationality", "non_uk": "did not have UK nationality"},
    "offender_ethnicity5": {"white": "were of White ethnicity", "asian": "were of Asian ethnicity",
                            "black": "were of Black ethnicity", "mixed": "were of mixed or multiple ethnicity",
                            "other": "were of other ethnicities"},
}


#: What a denominator counts, per variable: "of the 1,776 <what>".
_S3_KNOWN_WHAT: dict[str, str] = {
    "victim_sex": "with a recorded sex",
    "victim_age2": "with a recorded age",
    "victim_uk_national": "with a recorded nationality",
    "referral_form": "cases with a referral type recorded",
    "referring_agency": "cases with a referring agency recorded",
    "offender_sex": "with a recorded sex",
    "offender_age2": "with a recorded age",
    "offender_uk_national": "with a recorded nationality",
    "offender_ethnicity5": "with a recorded ethnicity",
}


def _s3_known(desc: pd.DataFrame, table: str, variable: str) -> pd.DataFrame:
    """The rows of one variable with a known level, in results order."""
    return desc[(desc["table"] == table) & (desc["variable"] == variable) & (desc["level"] != vocab.UNKNOWN)]


def _s3_missing(desc: pd.DataFrame, table: str, variable: str) -> int:
    """The ``unknown`` row's count of one variable (0 if there is none)."""
    hits = desc[(desc["table"] == table) & (desc["variable"] == variable) & (desc["level"] == vocab.UNKNOWN)]
    if not len(hits):
        return 0
    if is_missing(hits["n"].iloc[0]):
        return fmt_count(hits["n"].iloc[0], hits["display"].iloc[0] if "display" in hits.columns else "")
    return int(hits["n"].iloc[0])


def _s3_total(rows: pd.DataFrame) -> int:
    """The denominator shared by ``rows`` (0 when there are none or it is empty)."""
    if rows.empty or pd.isna(rows["denominator"].iloc[0]):
        if not rows.empty and "denominator_suppressed" in rows.columns and rows["denominator_suppressed"].any():
            return math.nan  # hidden by disclosure control: not zero
        return 0
    return int(rows["denominator"].iloc[0])


def _s3_hidden(desc: pd.DataFrame, table: str, variable: str) -> bool:
    """True when disclosure control hides a known level's count or percentage of ``variable``:
    which level is largest, or whether one is over half, must then not be stated (the level
    named would be chosen by a hidden value)."""
    rows = _s3_known(desc, table, variable)
    if rows.empty:
        return False
    return bool(rows["n"].map(is_missing).any() or rows["pct"].map(is_missing).any())


def _s3_top(desc: pd.DataFrame, table: str, variable: str) -> pd.Series | None:
    """The known level with the largest count (the first in results order on a tie), or None
    when no unit has a known value or when a known level's count is hidden (:func:`_s3_hidden`)."""
    rows = _s3_known(desc, table, variable)
    if _s3_total(rows) == 0 or rows["n"].isna().all() or _s3_hidden(desc, table, variable):
        return None
    return rows.loc[rows["n"].astype(float).idxmax()]


def _s3_value(desc: pd.DataFrame, table: str, variable: str, level: str) -> float | None:
    """A statistic row's value (``n``), or None when the row is absent."""
    hits = desc[(desc["table"] == table) & (desc["variable"] == variable) & (desc["level"] == level)]
    return float(hits["n"].iloc[0]) if len(hits) and not is_missing(hits["n"].iloc[0]) else None


def _s3_share(r: pd.Series) -> str:
    return fmt_row(r)


def _s3_of(r: pd.Series, what: str) -> str:
    """``"73.1% (n=1,299) of the 1,776 <what>"``."""
    return f"{_s3_share(r)} of the {_cnt(r, 'denominator')} {what}"


def _s3_cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _s3_join(items: list[str], sep: str = ", ") -> str:
    """``"a, b and c"``; with ``sep="; "``, ``"a; b; and c"``."""
    if len(items) <= 1:
        return "".join(items)
    last = " and " if sep == ", " else f"{sep}and "
    return sep.join(items[:-1]) + last + items[-1]


def _s3_range(lo: float | None, hi: float | None, unit: str) -> str:
    """``" (range 1–6 <unit>)"``, or nothing when the range is not in the results."""
    return f" (range {fmt_number(lo)}–{fmt_number(hi)} {unit})" if lo is not None and hi is not None else ""


def quantify(share: float, noun: str) -> str:
    """A quantifier chosen by ``share`` (a percentage): "nearly all victims" (95 or more), "most
    victims" (over 55), "just over half of the victims", "half of the victims", "just under half
    of the victims" (45 or more), "a minority of victims" (20 or more), else "a small minority of
    victims"; "all victims" at 100 and "none of the victims" at 0."""
    if is_missing(share):
        return f"some {noun}"  # the share is hidden by disclosure control
    if share >= 100:
        return f"all {noun}"
    if share <= 0:
        return f"none of the {noun}"
    if share >= 95:
        return f"nearly all {noun}"
    if share > 55:
        return f"most {noun}"
    if share > 50:
        return f"just over half of the {noun}"
    if share == 50:
        return f"half of the {noun}"
    if share >= 45:
        return f"just under half of the {noun}"
    if share >= 20:
        return f"a minority of {noun}"
    return f"a small minority of {noun}"


def _s3_majority(desc: pd.DataFrame, table: str, variable: str, noun: str) -> list[str]:
    """``["Most victims were male: 73.1% (n=1,299) of the 1,776 with a recorded sex."]`` for the
    largest known level of ``variable`` (nothing when no unit has it recorded)."""
    r = _s3_top(desc, table, variable)
    if r is None:
        return []
    phrase = _S3_MAJORITY_PHRASES[variable][r["level"]]
    what = _S3_KNOWN_WHAT[variable]
    if float(r["pct"]) < 50:
        return [f"The largest group of {noun} {phrase}: {_s3_of(r, what)}."]
    return [f"{_s3_cap(quantify(float(r['pct']), noun))} {phrase}: {_s3_of(r, what)}."]


def _s3_nationality(desc: pd.DataFrame) -> list[str]:
    """Victims with and without UK nationality (any UK nationality, dual nationals included)."""
    rows = _s3_known(desc, "section3_1", "victim_uk_national").set_index("level")
    if _s3_total(rows) == 0 or _s3_hidden(desc, "section3_1", "victim_uk_national"):
        return []
    what = "with a recorded nationality"
    uk = rows.loc["uk"]
    if 45 <= float(uk["pct"]) <= 55:
        return [f"Victims were split almost evenly between those with and without UK nationality: "
                f"{_s3_of(uk, what)} had UK nationality, dual nationals included."]
    top = rows.loc[rows["n"].astype(float).idxmax()]
    verb = "had UK nationality" if top.name == "uk" else "did not have UK nationality"
    return [f"{_s3_cap(quantify(float(top['pct']), 'victims'))} {verb} (dual nationals holding UK nationality "
            f"count as UK nationals): {_s3_of(top, what)}."]


def _s3_types(desc: pd.DataFrame) -> list[str]:
    """Exploitation types, most common first (a case may have several)."""
    types = desc[(desc["table"] == "appendix2") & desc["variable"].isin(list(vocab.EXPLOITATION_TYPES))]
    if _s3_total(types) == 0:
        return []
    hidden = types["n"].map(is_missing)
    if hidden.all():
        return ["Counts of the exploitation types are withheld by disclosure control."]
    ranked = pd.concat([types[~hidden].sort_values("n", ascending=False, kind="stable"), types[hidden]])
    first, rest = ranked.iloc[0], ranked.iloc[1:]
    if hidden.any():  # a hidden count may be the largest: rank only what is shown, and say so
        out = [f"Of the types whose counts are shown, {_S3_TYPE_NAMES[first['variable']]} was the most commonly "
               f"recorded: {_s3_of(first, 'cases with a type recorded')}."]
    else:
        out = [f"{_s3_cap(_S3_TYPE_NAMES[first['variable']])} was the most commonly recorded type of exploitation: "
               f"{_s3_of(first, 'cases with a type recorded')}."]
    shown_rest = rest[~rest["n"].map(is_missing)]
    if len(shown_rest):
        followers = [f"{_S3_TYPE_NAMES[r['variable']]}, {_s3_share(r)}" for _, r in shown_rest.iterrows()]
        out.append(f"It was followed by {_s3_join(followers, '; ')}. A case may have more than one type, so these "
                   f"shares overlap.")
    if hidden.any():  # not ranked: a hidden count may be larger or smaller than any shown one
        names = [_S3_TYPE_NAMES[v] for v in types.loc[hidden, "variable"]]
        out.append(f"The {'count' if len(names) == 1 else 'counts'} of {_s3_join(names)} "
                   f"{'is' if len(names) == 1 else 'are'} withheld by disclosure control.")
    return out


def _s3_places(desc: pd.DataFrame) -> list[str]:
    """Exploitation location (three levels) and county lines, with their own denominators."""
    out = []
    where = _s3_known(desc, "appendix2", "exploitation_location").set_index("level")
    if math.isnan(_s3_total(where)):
        out.append("Figures for the exploitation location are withheld by disclosure control.")
    elif _s3_total(where) > 0:
        parts = [f"{place} in {_s3_share(where.loc[lv])}" for lv, place in
                 (("uk_only", "only in the UK"), ("overseas_only", "only overseas"),
                  ("both", "both in the UK and overseas"))]
        out.append(f"Of the {fmt_total(_s3_total(where))} cases with a recorded exploitation location, exploitation took "
                   f"place {_s3_join(parts)}.")
    county = _s3_known(desc, "appendix2", "county_lines").set_index("level")
    if math.isnan(_s3_total(county)):
        out.append("Figures for county lines exploitation are withheld by disclosure control.")
    elif _s3_total(county) > 0:
        out.append(f"Of the {fmt_total(_s3_total(county))} cases with a recorded county-lines status, "
                   f"{_s3_share(county.loc['yes'])} involved county lines exploitation.")
    return out


def section3_1_text(desc: pd.DataFrame) -> str:
    """Section 3.1: cases and victims analysed, one vs several MSHT cases per victim (with range),
    the victims' sex, age and UK nationality, and the case-level factors of Appendix 2."""
    cases = _row(desc, table="section3_1", variable="cases", level="all")
    victims = _row(desc, table="section3_1", variable="victims", level="all")
    text = [f"The analysis covers {_cnt(cases)} MSHT police-recorded cases, in which {_cnt(victims)} "
            f"individuals were identified as victims."]
    if _num(victims):
        one = _row(desc, table="section3_1", variable="victim_case_count", level="one")
        several = _row(desc, table="section3_1", variable="victim_case_count", level="several")
        spread = _s3_range(_s3_value(desc, "section3_1", "victim_case_count", "min"),
                           _s3_value(desc, "section3_1", "victim_case_count", "max"), "cases per victim")
        text.append(f"{_s3_cap(quantify(float(one['pct']), 'victims'))} had one MSHT case: {_s3_share(one)}; "
                    f"{_s3_share(several)} had more than one{spread}.")
        text += _s3_majority(desc, "appendix1", "victim_sex", "victims")
        text += _s3_majority(desc, "section3_1", "victim_age2", "victims")
        text += _s3_nationality(desc)
    text += _s3_majority(desc, "appendix2", "referral_form", "cases")
    text += _s3_majority(desc, "appendix2", "referring_agency", "cases")
    text += _s3_types(desc) + _s3_places(desc)
    return " ".join(text)


def _s3_table1_sentence(desc: pd.DataFrame, variable: str, lead_in: str = "Across all MSHT cases, ") -> str | None:
    """One short Table 1 finding: the level most victims had across all cases (with its share),
    then the exploitation types in which most victims had another level (named, their shares left
    to Table 1), e.g. "Across all MSHT cases, most victims were male: 73.6% (n=1,776); victims of
    sexual exploitation and domestic servitude were mostly female."; ``lead_in`` opens it (only
    the first sentence of the paragraph needs "Across all MSHT cases")."""
    from msht.analysis.describe import TABLE1_ALL

    overall = _s3_top(desc, f"table1_{TABLE1_ALL}", variable)
    if overall is None:
        return None
    even = float(overall["pct"]) == 50
    phrases = _S3_TABLE1_PHRASES[variable]
    if even:
        lead = f"{lead_in}victims were split evenly: {_s3_share(overall)} were {phrases[overall['level']]}"
    else:
        lead = (f"{lead_in}{quantify(float(overall['pct']), 'victims')} were "
                f"{phrases[overall['level']]}: {_s3_share(overall)}")
    lead = _s3_cap(lead)
    withheld = [c for c in vocab.EXPLOITATION_TYPES if _s3_hidden(desc, f"table1_{c}", variable)]
    tops = {c: _s3_top(desc, f"table1_{c}", variable) for c in vocab.EXPLOITATION_TYPES}
    tops = {c: r for c, r in tops.items() if r is not None}
    if withheld:
        names = _s3_join([_S3_TYPE_NAMES[c] for c in withheld])
        lead += f" (for victims of {names}, Table 1 withholds counts, so they are not described here)"
    groups: dict[tuple[str, bool], list[str]] = {}
    for column, r in tops.items():
        split = float(r["pct"]) == 50
        if (r["level"], split) != (overall["level"], even):
            groups.setdefault((str(r["level"]), split), []).append(_S3_TYPE_NAMES[column])
    if not tops:
        return f"{lead}."
    if not groups:
        return f"{lead}, in every exploitation type{' whose counts are shown' if withheld else ''}."
    clauses = [f"victims of {_s3_join(names)} were split evenly" if split else
               f"victims of {_s3_join(names)} were mostly {phrases[level]}"
               for (level, split), names in groups.items()]
    return f"{lead}; {_s3_join(clauses, '; ')}."


def table1_text(desc: pd.DataFrame) -> str:
    """Table 1's reading, one short sentence per victim attribute: the level most victims had
    across all cases and the exploitation types in which most had another (see
    :func:`_s3_table1_sentence`); the shares per type are left to Table 1."""
    from msht.analysis.describe import TABLE1_VARIABLES

    sentences = ["In Table 1 each MSHT case counts once, so a victim with several cases is counted once per case."]
    for variable in TABLE1_VARIABLES:
        first = len(sentences) == 1
        if sentence := _s3_table1_sentence(desc, variable, "Across all MSHT cases, " if first else ""):
            sentences.append(sentence)
    return " ".join(sentences)


def _s3_outliers(desc: pd.DataFrame) -> str:
    """The sentence saying how many victims the outlier rule left out of section 3.2."""
    threshold = int(_s3_value(desc, "section3_2", "entries_outliers", "threshold") or 0)
    left_row = _row(desc, table="section3_2", variable="entries_outliers", level="left_out")
    if is_missing(left_row["n"]):
        return (f"{_cnt(left_row)} victims with {threshold:,} or more entries were left out of these figures as "
                f"outliers.")
    left = int(left_row["n"])
    if threshold == 0:
        return "No outlier rule was applied to these figures."
    if left == 0:
        return f"No victim had {threshold:,} or more entries, so none was left out as an outlier."
    who, verb = ("victim", "was") if left == 1 else ("victims", "were")
    return f"{left:,} {who} with {threshold:,} or more entries {verb} left out of these figures as outliers."


def police_records_text(desc: pd.DataFrame) -> str:
    """Section 3.2: victims' previous police records (outliers left out, as the text says)."""
    several = _row(desc, table="section3_2", variable="police_entries", level="several")
    if _num(several, "denominator") == 0:
        return f"No victim had police-record data. {_s3_outliers(desc)}"
    victim = _row(desc, table="section3_2", variable="has_victim_entry", level="yes")
    perp = _row(desc, table="section3_2", variable="has_perpetrator_entry", level="yes")
    more = _row(desc, table="section3_2", variable="more_perp_than_victim", level="yes")
    median = _s3_value(desc, "section3_2", "entries_per_victim", "median")
    spread = _s3_range(_s3_value(desc, "section3_2", "entries_per_victim", "min"),
                       _s3_value(desc, "section3_2", "entries_per_victim", "max"), "entries")
    text = [
        f"{_s3_cap(quantify(float(several['pct']), 'victims'))} had more than one entry in the police database, "
        f"relating to any offence or crime type: {_s3_of(several, 'victims with police-record data')}. "
        f"The median was {fmt_number(median or 0)} entries per victim{spread}.",
        f"{_s3_cap(quantify(float(victim['pct']), 'victims'))} had at least one entry in which they were recorded as a "
        f"victim: {_s3_share(victim)}; {quantify(float(perp['pct']), 'victims')} had at least one in which they were "
        f"recorded as a perpetrator: {_s3_share(perp)}.",
        f"Comparing each victim's entries in the two roles, {_s3_share(more)} were recorded more often as perpetrators "
        f"than as victims.",
        _s3_outliers(desc),
    ]
    missing = _s3_missing(desc, "section3_2", "police_entries")
    if missing:
        have, be = ("victim has", "is") if missing == 1 else ("victims have", "are")
        text.append(f"{fmt_total(missing)} {have} no police-record data and {be} not counted here.")
    return " ".join(text)


def offenders_text(desc: pd.DataFrame) -> str:
    """Section 3.3: cases with one and several offenders (range), and the offenders' sex, age,
    nationality and ethnicity, each person counted once. Cases whose number of offenders is not
    known (the ``unknown`` row: their force sent no offender extract) are left out of the shares,
    and a sentence says how many."""
    one = _row(desc, table="section3_3", variable="offenders_per_case", level="one")
    several = _row(desc, table="section3_3", variable="offenders_per_case", level="several")
    none = _row(desc, table="section3_3", variable="offenders_per_case", level="none")
    spread = _s3_range(_s3_value(desc, "section3_3", "offenders_per_case_range", "min"),
                       _s3_value(desc, "section3_3", "offenders_per_case_range", "max"), "offenders")
    missing = _s3_missing(desc, "section3_3", "offenders_per_case")
    cases = "MSHT cases whose offenders are known" if missing else "MSHT cases analysed"
    if missing and _num(one, "denominator") == 0:
        text = ["No MSHT case analysed has its offenders known."]
    else:
        text = [f"Of the {_cnt(one, 'denominator')} {cases}, {_s3_share(one)} had one identified offender "
                f"and {_s3_share(several)} had more than one{spread}; no offender was recorded in {_s3_share(none)}."]
    if missing:
        have, it, be = ("case has", "it", "is") if missing == 1 else ("cases have", "them", "are")
        text.append(f"{fmt_total(missing)} {have} no known number of offenders (no offender extract was sent for "
                    f"{it}) and {be} not counted here.")
    persons_row = _row(desc, table="section3_3", variable="offender_persons", level="all")
    if _num(persons_row):
        text.append(f"The {_cnt(persons_row)} offenders are counted once each, whatever their number of cases.")
        text += _s3_majority(desc, "appendix3", "offender_sex", "offenders")
        text += _s3_majority(desc, "section3_3", "offender_age2", "offenders")
        text += _s3_majority(desc, "section3_3", "offender_uk_national", "offenders")
        text += _s3_majority(desc, "appendix3", "offender_ethnicity5", "offenders")
    return " ".join(text)


def _s3_period_sentence(desc: pd.DataFrame, variable: str, subject: str, alpha: float) -> str:
    """Before 2021 vs 2021 and later for one outcome, with its test; the direction word comes
    from the shares and the verdict from ``p < alpha``."""
    year = int(_s3_value(desc, "section3_4", "period_split", "first_year") or 0)
    before = _row(desc, table="section3_4", variable=variable, level="before_2021")
    after = _row(desc, table="section3_4", variable=variable, level="from_2021")
    chi2, df, p = (_s3_value(desc, "section3_4", variable, s) for s in ("statistic", "df", "p"))
    b = f"{_s3_share(before)} of {_cnt(before, 'denominator')}"
    a = f"{_s3_share(after)} of {_cnt(after, 'denominator')}"
    test_rows = desc[(desc["table"] == "section3_4") & (desc["variable"] == variable) & desc["level"].isin(["statistic", "p"])]
    if "suppressed" in test_rows.columns and test_rows["suppressed"].any():
        return (f"{_s3_cap(subject)} before {year} ({b}) and in {year} and later ({a}): the test is withheld under "
                f"statistical disclosure control.")
    if chi2 is None or p is None:
        return (f"{_s3_cap(subject)} before {year} ({b}) and in {year} and later ({a}) could not be compared by a "
                f"test, because one period or one outcome had no cases.")
    test = f"Yates-corrected chi-square, χ² = {chi2:.3f}, df = {int(df or 0)}, {stats.p_threshold_label(p)}"
    if p < alpha and float(before["pct"]) != float(after["pct"]):
        word = "lower" if float(before["pct"]) < float(after["pct"]) else "higher"
        return (f"{_s3_cap(subject)} was significantly {word} for referrals before {year}, {b}, than for referrals "
                f"in {year} and later, {a} ({test}).")
    return (f"{_s3_cap(subject)} did not differ significantly between referrals before {year}, {b}, and referrals "
            f"in {year} and later, {a} ({test}).")


def _s3_support(desc: pd.DataFrame) -> list[str]:
    """Offered support (of cases with an offer status recorded) and accepted it (of offers)."""
    offered = _row(desc, table="section3_4", variable="offered", level="yes")
    accepted = _row(desc, table="section3_4", variable="accepted", level="yes")
    out = []
    if _num(offered, "denominator"):
        missing = _s3_missing(desc, "section3_4", "offered")
        note = f" ({fmt_total(missing)} cases had none recorded)" if missing else ""
        out.append(f"The victim was offered victim support services in {quantify(float(offered['pct']), 'cases')}: "
                   f"{_s3_of(offered, 'cases with an offer status recorded')}{note}.")
    if _num(accepted, "denominator"):
        missing = _s3_missing(desc, "section3_4", "accepted")
        note = f" (acceptance was not recorded in {fmt_total(missing)})" if missing else ""
        out.append(f"Where support was offered, the victim accepted it in {_s3_of(accepted, 'cases')}{note}.")
    return out


def _s3_engagement_levels(desc: pd.DataFrame) -> str:
    """Positive, negative and undetermined engagement, ongoing and no-crime cases left out."""
    ongoing = _row(desc, table="section3_4", variable="engagement_excluded", level="ongoing")
    no_crime = _row(desc, table="section3_4", variable="engagement_excluded", level="no_crime")
    pos = _row(desc, table="section3_4", variable="engagement_level", level="positive")
    neg = _row(desc, table="section3_4", variable="engagement_level", level="negative")
    undetermined = _row(desc, table="section3_4", variable="engagement_level", level="not_determined")
    lead = (f"Leaving out the {_cnt(ongoing)} cases whose investigation was ongoing and the "
            f"{_cnt(no_crime)} recorded as no crime")
    if _num(pos, "denominator") == 0:
        return f"{lead}, no case remained in which engagement could be assessed."
    return (f"{lead}, engagement with the police was positive in {_s3_share(pos)} of the remaining "
            f"{_cnt(pos, 'denominator')} cases and negative in {_s3_share(neg)}. In "
            f"{quantify(float(undetermined['pct']), 'cases')}, {_s3_share(undetermined)}, the victim's level of "
            f"engagement could not be determined from the recorded outcome.")


def engagement_text(desc: pd.DataFrame, alpha: float) -> str:
    """Section 3.4: offered and accepted support, the change by date of referral (tests at
    ``alpha``), and the levels of engagement with ongoing and no-crime cases left out."""
    text = _s3_support(desc)
    text.append(_s3_period_sentence(desc, "offered_by_period", "the share of cases in which support was offered", alpha))
    text.append(_s3_period_sentence(desc, "accepted_by_period", "the share of offers that were accepted", alpha))
    text.append(_s3_engagement_levels(desc))
    return " ".join(text)
