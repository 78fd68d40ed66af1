"""Computed prose: every number a reader sees in a sentence comes from a results frame.

Each function takes tidy results (the same frames written to the results CSVs) and returns
Markdown. Directions ("most", "higher amongst") are chosen by the data, not typed.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from msht import stats, vocab
from msht.associate import factor_name
from msht.config import Params
from msht.describe import fmt_number, fmt_pct_n

SYNTHETIC_NOTE = (
    "**Synthetic data.** These figures come from the project's synthetic twin, generated to "
    "resemble the published report; they describe no real person or case."
)


def banner(params: Params) -> str:
    """A Markdown call-out saying the figures are synthetic (empty for real extracts)."""
    if not params.synthetic:
        return f"Data: {params.force_name}, {params.period_start} to {params.period_end}."
    return f"> {SYNTHETIC_NOTE}"


def _row(frame: pd.DataFrame, **where: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for key, value in where.items():
        mask &= frame[key].astype(str) == value
    hits = frame[mask]
    if len(hits) != 1:
        raise KeyError(f"expected one results row for {where}, found {len(hits)}")
    return hits.iloc[0]


def cleaning_summary(exclusions: pd.DataFrame) -> str:
    """One paragraph: case entries read, excluded per rule, and analysed."""
    cases = exclusions[exclusions["entity"] == "cases"]
    read = int(cases["rows_in"].iloc[0])
    kept = int(cases["rows_out"].iloc[-1])
    parts = [f"{int(r.excluded):,} {r.description.lower()}" for r in cases.itertuples() if r.excluded]
    detail = "; ".join(parts) if parts else "none"
    return (
        f"The case file held {read:,} entries. The section 2.5 rules excluded {read - kept:,} of them "
        f"({detail}), leaving **{kept:,} MSHT cases** for analysis."
    )


def victims_overview(desc: pd.DataFrame) -> str:
    """Section 3.1's opening: cases, victims, one vs several instances, sex and nationality."""
    cases = _row(desc, table="section3_1", variable="cases", level="all")
    one = _row(desc, table="section3_1", variable="victim_case_count", level="one")
    several = _row(desc, table="section3_1", variable="victim_case_count", level="several")
    sex = desc[(desc["table"] == "appendix1") & (desc["variable"] == "victim_sex") & (desc["level"] != "unknown")]
    top_sex = sex.sort_values("n", ascending=False).iloc[0]
    share = "most" if top_sex["pct"] > 50 else "the largest group"
    return (
        f"From the {int(cases['n']):,} MSHT police-recorded cases analysed, {int(one['denominator']):,} individuals "
        f"were identified as victims. Of those, {fmt_pct_n(int(one['n']), int(one['denominator']))} had one instance "
        f"of MSHT victimisation and {fmt_pct_n(int(several['n']), int(several['denominator']))} had more than one. "
        f"As Appendix 1 shows, {share} victims were {vocab.label('victim_sex', top_sex['level']).lower()} "
        f"({fmt_pct_n(int(top_sex['n']), int(top_sex['denominator']))})."
    )


# --- section 3 (notebook 02): descriptive overview ---------------------------------------------
# Each function reads the rows of ``descriptives.csv`` (see msht.describe) and returns Markdown.
# Shares are written "17.2% (n=394)" (describe.fmt_pct_n) with their denominators; words that
# state a direction ("most", "lower") are chosen from the numbers.

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
    "exploitation_location2": {"uk_only": "exploited in the UK only", "overseas_or_both": "exploited overseas (wholly or partly)"},
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
    return int(hits["n"].iloc[0]) if len(hits) else 0


def _s3_top(desc: pd.DataFrame, table: str, variable: str) -> pd.Series | None:
    """The known level with the largest count (the first in vocabulary order on a tie), or None
    when no unit has a known value."""
    rows = _s3_known(desc, table, variable)
    if rows.empty or pd.isna(rows["denominator"].iloc[0]) or int(rows["denominator"].iloc[0]) == 0:
        return None
    return rows.loc[rows["n"].astype(float).idxmax()]


def _s3_value(desc: pd.DataFrame, table: str, variable: str, level: str) -> float | None:
    """A statistic row's value (``n``), or None when the row is absent."""
    hits = desc[(desc["table"] == table) & (desc["variable"] == variable) & (desc["level"] == level)]
    return float(hits["n"].iloc[0]) if len(hits) else None


def _s3_share(r: pd.Series) -> str:
    return fmt_pct_n(int(r["n"]), int(r["denominator"]))


def _s3_of(r: pd.Series, what: str) -> str:
    """``"73.1% (n=1,299) of the 1,776 <what>"``."""
    return f"{_s3_share(r)} of the {int(r['denominator']):,} {what}"


def _s3_cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _s3_join(items: list[str], sep: str = ", ") -> str:
    """``"a, b and c"`` (with ``sep`` between all but the last two)."""
    if len(items) <= 1:
        return "".join(items)
    last = " and " if sep == ", " else f"{sep}and "
    return sep.join(items[:-1]) + last + items[-1]


def quantify(share: float, noun: str) -> str:
    """A quantifier chosen by ``share`` (a percentage): "nearly all victims", "most victims",
    "just over half of the victims", "half of the victims", "just under half of the victims",
    "a minority of victims", "a small minority of victims"."""
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


def _s3_majority_sentence(r: pd.Series, noun: str, phrase: str, what: str) -> str:
    """``"Most victims were male: 73.1% (n=1,299) of the 1,776 with a recorded sex."``"""
    return f"{_s3_cap(quantify(float(r['pct']), noun))} {phrase}: {_s3_of(r, what)}."


def _s3_victim_sentences(desc: pd.DataFrame) -> list[str]:
    out = []
    sex = _s3_top(desc, "appendix1", "victim_sex")
    if sex is not None:
        out.append(_s3_majority_sentence(sex, "victims", f"were {vocab.label('victim_sex', sex['level']).lower()}",
                                      _S3_KNOWN_WHAT["victim_sex"]))
    age = _s3_top(desc, "section3_1", "victim_age2")
    if age is not None:
        out.append(_s3_majority_sentence(age, "victims", f"were {_S3_TABLE1_PHRASES['victim_age2'][age['level']]}",
                                      _S3_KNOWN_WHAT["victim_age2"]))
    uk = _s3_known(desc, "section3_1", "victim_uk_national").set_index("level")
    if not uk.empty and int(uk["denominator"].iloc[0]) > 0:
        r = uk.loc["uk"]
        what = "with a recorded nationality"
        if 45 <= float(r["pct"]) <= 55:
            out.append(f"Victims were split almost evenly between those with and without UK nationality: "
                       f"{_s3_of(r, what)} had UK nationality, dual nationals included.")
        else:
            top = uk.loc[uk["n"].astype(float).idxmax()]
            verb = "had UK nationality" if top.name == "uk" else "did not have UK nationality"
            out.append(f"{_s3_cap(quantify(float(top['pct']), 'victims'))} {verb} (dual nationals holding UK "
                       f"nationality count as UK nationals): {_s3_of(top, what)}.")
    return out


def _s3_case_sentences(desc: pd.DataFrame) -> list[str]:
    out = []
    ref = _s3_top(desc, "appendix2", "referral_form")
    if ref is not None:
        out.append(_s3_majority_sentence(ref, "cases", f"had an {vocab.label('referral_form', ref['level'])}",
                                      _S3_KNOWN_WHAT["referral_form"]))
    agency = _s3_top(desc, "appendix2", "referring_agency")
    if agency is not None:
        phrase = {"internal": "were referred from within the police force",
                  "external": "were referred by agencies external to the police force"}[agency["level"]]
        out.append(_s3_majority_sentence(agency, "cases", phrase, _S3_KNOWN_WHAT["referring_agency"]))
    types = desc[(desc["table"] == "appendix2") & desc["variable"].isin(list(vocab.EXPLOITATION_TYPES))]
    if len(types) and int(types["denominator"].iloc[0]) > 0:
        ranked = types.sort_values("n", ascending=False, kind="stable")
        first, rest = ranked.iloc[0], ranked.iloc[1:]
        out.append(f"{_s3_cap(_S3_TYPE_NAMES[first['variable']])} was the most commonly recorded type of exploitation: "
                   f"{_s3_of(first, 'cases with a type recorded')}.")
        if len(rest):
            out.append("It was followed by " + _s3_join([f"{_S3_TYPE_NAMES[r.variable]}, {fmt_pct_n(int(r.n), int(r.denominator))}"
                                                      for r in rest.itertuples()], "; ")
                       + ". A case may have more than one type, so these shares overlap.")
    loc_rows = _s3_known(desc, "appendix2", "exploitation_location").set_index("level")
    if not loc_rows.empty and int(loc_rows["denominator"].iloc[0]) > 0:
        parts = [f"{where} in {_s3_share(loc_rows.loc[lv])}" for lv, where in
                 (("uk_only", "only in the UK"), ("overseas_only", "only overseas"), ("both", "both in the UK and overseas"))]
        out.append(f"Of the {int(loc_rows['denominator'].iloc[0]):,} cases with a recorded exploitation location, "
                   f"exploitation took place {_s3_join(parts)}.")
    cl = _s3_known(desc, "appendix2", "county_lines").set_index("level")
    if not cl.empty and int(cl["denominator"].iloc[0]) > 0:
        out.append(f"Of the {int(cl['denominator'].iloc[0]):,} cases with a recorded county-lines status, "
                   f"{_s3_share(cl.loc['yes'])} involved county lines exploitation.")
    return out


def section3_1_text(desc: pd.DataFrame) -> str:
    """Section 3.1: cases and victims analysed, one vs several MSHT cases per victim (with range),
    the victims' sex, age and UK nationality, and the case-level factors of Appendix 2."""
    cases = _row(desc, table="section3_1", variable="cases", level="all")
    victims = _row(desc, table="section3_1", variable="victims", level="all")
    one = _row(desc, table="section3_1", variable="victim_case_count", level="one")
    several = _row(desc, table="section3_1", variable="victim_case_count", level="several")
    lo, hi = _s3_value(desc, "section3_1", "victim_case_count", "min"), _s3_value(desc, "section3_1", "victim_case_count", "max")
    text = [f"The analysis covers {int(cases['n']):,} MSHT police-recorded cases, in which {int(victims['n']):,} "
            f"individuals were identified as victims."]
    if int(victims["n"]):
        spread = f" (range {fmt_number(lo)}–{fmt_number(hi)} cases per victim)" if lo is not None and hi is not None else ""
        text.append(f"{_s3_cap(quantify(float(one['pct']), 'victims'))} had one MSHT case: {_s3_share(one)}; "
                    f"{_s3_share(several)} had more than one{spread}.")
        text += _s3_victim_sentences(desc)
    text += _s3_case_sentences(desc)
    text.append("Appendix 1 gives the victims' sociodemographic characteristics in full, and Appendix 2 the "
                "case-level factors.")
    return " ".join(text)


def _s3_table1_exception(desc: pd.DataFrame, column: str, variable: str) -> str:
    r = _s3_top(desc, f"table1_{column}", variable)
    assert r is not None
    name = _S3_TYPE_NAMES[column]
    if float(r["pct"]) == 50:
        return f"{name}, in which victims were split evenly: {_s3_share(r)} were {_S3_TABLE1_PHRASES[variable][r['level']]}"
    return f"{name}, in which {quantify(float(r['pct']), 'victims')} were {_S3_TABLE1_PHRASES[variable][r['level']]}: {_s3_share(r)}"


def table1_text(desc: pd.DataFrame) -> str:
    """Table 1's reading: for each victim attribute, the level most victims had across all cases,
    the exploitation types that share it and those that do not (with their shares)."""
    from msht.describe import TABLE1_ALL, TABLE1_VARIABLES

    sentences = ["In Table 1 each MSHT case counts once, so a victim with several cases is counted once per case."]
    for variable in TABLE1_VARIABLES:
        overall = _s3_top(desc, f"table1_{TABLE1_ALL}", variable)
        if overall is None:
            continue
        even = float(overall["pct"]) == 50
        tops = {c: _s3_top(desc, f"table1_{c}", variable) for c in vocab.EXPLOITATION_TYPES}
        tops = {c: r for c, r in tops.items() if r is not None}
        same = [c for c, r in tops.items() if r["level"] == overall["level"] and (float(r["pct"]) == 50) == even]
        other = [c for c in tops if c not in same]
        phrase = _S3_TABLE1_PHRASES[variable][overall["level"]]
        if even:
            lead = f"Across all MSHT cases, victims were split evenly: {_s3_share(overall)} were {phrase}"
        else:
            lead = f"Across all MSHT cases, {quantify(float(overall['pct']), 'victims')} were {phrase}: {_s3_share(overall)}"
        if not other:
            sentences.append(f"{lead}; the same held for every exploitation type.")
            continue
        exceptions = _s3_join([_s3_table1_exception(desc, c, variable) for c in other], "; ")
        if same:
            noun = "exception was" if len(other) == 1 else "exceptions were"
            sentences.append(f"{lead}. The same held for {_s3_join([_S3_TYPE_NAMES[c] for c in same])}; the {noun} "
                             f"{exceptions}.")
        else:
            sentences.append(f"{lead}. No single exploitation type followed this pattern: {exceptions}.")
    return " ".join(sentences)


def police_records_text(desc: pd.DataFrame) -> str:
    """Section 3.2: victims' previous police records (outliers left out, as the text says)."""
    threshold = int(_s3_value(desc, "section3_2", "entries_outliers", "threshold") or 0)
    left = _row(desc, table="section3_2", variable="entries_outliers", level="left_out")
    n_left = int(left["n"])
    if threshold == 0:
        outliers = "No outlier rule was applied to these figures."
    elif n_left == 0:
        outliers = f"No victim had {threshold:,} or more entries, so none was left out as an outlier."
    else:
        who = "victim" if n_left == 1 else "victims"
        verb = "was" if n_left == 1 else "were"
        outliers = f"{n_left:,} {who} with {threshold:,} or more entries {verb} left out of these figures as outliers."
    several = _row(desc, table="section3_2", variable="police_entries", level="several")
    if int(several["denominator"]) == 0:
        return f"No victim had police-record data. {outliers}"
    victim = _row(desc, table="section3_2", variable="has_victim_entry", level="yes")
    perp = _row(desc, table="section3_2", variable="has_perpetrator_entry", level="yes")
    more = _row(desc, table="section3_2", variable="more_perp_than_victim", level="yes")
    median, lo, hi = (_s3_value(desc, "section3_2", "entries_per_victim", s) for s in ("median", "min", "max"))
    text = [
        f"{_s3_cap(quantify(float(several['pct']), 'victims'))} had more than one entry in the police database, "
        f"relating to any offence or crime type: {_s3_of(several, 'victims with police-record data')}. "
        f"The median was {fmt_number(median or 0)} entries per victim (range {fmt_number(lo or 0)}–{fmt_number(hi or 0)}).",
        f"{_s3_cap(quantify(float(victim['pct']), 'victims'))} had at least one entry in which they were recorded as a "
        f"victim: {_s3_share(victim)}; {quantify(float(perp['pct']), 'victims')} had at least one in which they were "
        f"recorded as a perpetrator: {_s3_share(perp)}.",
        f"Comparing each victim's entries in the two roles, {_s3_share(more)} were recorded more often as perpetrators "
        f"than as victims.",
        outliers,
    ]
    missing = _s3_missing(desc, "section3_2", "police_entries")
    if missing:
        text.append(f"{missing:,} {'victim has' if missing == 1 else 'victims have'} no police-record data and "
                    f"{'is' if missing == 1 else 'are'} not counted here.")
    return " ".join(text)


def offenders_text(desc: pd.DataFrame) -> str:
    """Section 3.3: cases with one and several offenders (range), and the offenders' sex, age,
    nationality and ethnicity, each person counted once."""
    one = _row(desc, table="section3_3", variable="offenders_per_case", level="one")
    several = _row(desc, table="section3_3", variable="offenders_per_case", level="several")
    none = _row(desc, table="section3_3", variable="offenders_per_case", level="none")
    lo, hi = _s3_value(desc, "section3_3", "offenders_per_case_range", "min"), _s3_value(desc, "section3_3", "offenders_per_case_range", "max")
    spread = f" (range {fmt_number(lo)}–{fmt_number(hi)} offenders)" if lo is not None and hi is not None else ""
    text = [f"Of the {int(one['denominator']):,} MSHT cases analysed, {_s3_share(one)} had one identified offender and "
            f"{_s3_share(several)} had more than one{spread}; no offender was recorded in {_s3_share(none)}."]
    persons = int(_row(desc, table="section3_3", variable="offender_persons", level="all")["n"])
    if persons == 0:
        return " ".join(text)
    sex = _s3_top(desc, "appendix3", "offender_sex")
    age = _s3_top(desc, "section3_3", "offender_age2")
    uk = _s3_top(desc, "section3_3", "offender_uk_national")
    eth = _s3_top(desc, "appendix3", "offender_ethnicity5")
    text.append(f"The {persons:,} offenders are counted once each, whatever their number of cases.")
    if sex is not None:
        text.append(_s3_majority_sentence(sex, "offenders", f"were {vocab.label('offender_sex', sex['level']).lower()}",
                                       _S3_KNOWN_WHAT["offender_sex"]))
    if age is not None:
        phrase = {"17_and_under": "were aged 17 or under", "adult": "were aged 18 or over"}[age["level"]]
        text.append(_s3_majority_sentence(age, "offenders", phrase, _S3_KNOWN_WHAT["offender_age2"]))
    if uk is not None:
        phrase = {"uk": "had UK nationality", "non_uk": "did not have UK nationality"}[uk["level"]]
        text.append(_s3_majority_sentence(uk, "offenders", phrase, _S3_KNOWN_WHAT["offender_uk_national"]))
    if eth is not None:
        phrase = {"white": "White", "asian": "Asian", "black": "Black", "mixed": "mixed or multiple",
                  "other": "other"}[eth["level"]]
        if float(eth["pct"]) >= 50:
            text.append(_s3_majority_sentence(eth, "offenders", f"were of {phrase} ethnicity",
                                              _S3_KNOWN_WHAT["offender_ethnicity5"]))
        else:
            text.append(f"The largest ethnic group was {phrase} ethnicity: "
                        f"{_s3_of(eth, _S3_KNOWN_WHAT['offender_ethnicity5'])}.")
    text.append("Appendix 3 gives the offenders' sociodemographic characteristics in full.")
    return " ".join(text)


def _s3_period_sentence(desc: pd.DataFrame, variable: str, subject: str, alpha: float) -> str:
    """Before 2021 vs 2021 and later for one outcome, with its test; the direction word comes
    from the shares and the verdict from ``p < alpha``."""
    year = int(_s3_value(desc, "section3_4", "period_split", "first_year") or 0)
    before = _row(desc, table="section3_4", variable=variable, level="before_2021")
    after = _row(desc, table="section3_4", variable=variable, level="from_2021")
    chi2, df, p = (_s3_value(desc, "section3_4", variable, s) for s in ("statistic", "df", "p"))
    b, a = f"{_s3_share(before)} of {int(before['denominator']):,}", f"{_s3_share(after)} of {int(after['denominator']):,}"
    if p is None:
        return (f"{_s3_cap(subject)} before {year} ({b}) and in {year} and later ({a}) could not be compared by test, "
                f"because one period or one outcome had no cases.")
    test = f"Yates-corrected chi-square, χ² = {chi2:.3f}, df = {int(df or 0)}, {stats.p_threshold_label(p)}"
    if p < alpha and float(before["pct"]) != float(after["pct"]):
        word = "lower" if float(before["pct"]) < float(after["pct"]) else "higher"
        return (f"{_s3_cap(subject)} was significantly {word} for referrals before {year}, {b}, than for referrals in "
                f"{year} and later, {a} ({test}).")
    return (f"{_s3_cap(subject)} did not differ significantly between referrals before {year}, {b}, and referrals in "
            f"{year} and later, {a} ({test}).")


def engagement_text(desc: pd.DataFrame, alpha: float) -> str:
    """Section 3.4: offered and accepted support, the change by date of referral (tests at
    ``alpha``), and the levels of engagement with ongoing and no-crime cases left out."""
    offered = _row(desc, table="section3_4", variable="offered", level="yes")
    accepted = _row(desc, table="section3_4", variable="accepted", level="yes")
    text = []
    if int(offered["denominator"]):
        missing = _s3_missing(desc, "section3_4", "offered")
        text.append(f"The victim was offered victim support services in {quantify(float(offered['pct']), 'cases')}: "
                    f"{_s3_of(offered, 'cases with an offer status recorded')}"
                    + (f" ({missing:,} cases had none recorded)." if missing else "."))
    if int(accepted["denominator"]):
        missing = _s3_missing(desc, "section3_4", "accepted")
        text.append(f"Where support was offered, the victim accepted it in {_s3_of(accepted, 'cases')}"
                    + (f" (acceptance was not recorded in {missing:,})." if missing else "."))
    text.append(_s3_period_sentence(desc, "offered_by_period", "the share of cases in which support was offered", alpha))
    text.append(_s3_period_sentence(desc, "accepted_by_period", "the share of offers that were accepted", alpha))
    ongoing = _row(desc, table="section3_4", variable="engagement_excluded", level="ongoing")
    no_crime = _row(desc, table="section3_4", variable="engagement_excluded", level="no_crime")
    pos = _row(desc, table="section3_4", variable="engagement_level", level="positive")
    neg = _row(desc, table="section3_4", variable="engagement_level", level="negative")
    nd = _row(desc, table="section3_4", variable="engagement_level", level="not_determined")
    lead = (f"Leaving out the {int(ongoing['n']):,} cases whose investigation was ongoing and the {int(no_crime['n']):,} "
            f"recorded as no crime")
    if int(pos["denominator"]) == 0:
        text.append(f"{lead}, no case remained in which engagement could be assessed.")
    else:
        text.append(f"{lead}, engagement with the police was positive in {_s3_share(pos)} of the remaining "
                    f"{int(pos['denominator']):,} cases and negative in {_s3_share(neg)}. In "
                    f"{quantify(float(nd['pct']), 'cases')}, {_s3_share(nd)}, the victim's level of engagement could not "
                    f"be determined from the recorded outcome.")
    return " ".join(text)


def association_sentence(rows: pd.DataFrame, outcome: str, factor: str, alpha: float) -> str:
    """One sentence on one test: the shares per level, the test, and whether p < alpha."""
    block = rows[(rows["outcome"] == outcome) & (rows["factor"] == factor)]
    first = block.iloc[0]
    shares = "; ".join(
        f"{vocab.label(factor, r.level).lower()}: {fmt_pct_n(int(r.n), int(r.denominator))}" for r in block.itertuples()
    )
    verdict = "was" if first["p"] < alpha else "was not"
    return (
        f"The share of cases {vocab.variable_label(outcome).lower()} by {vocab.variable_label(factor).lower()} "
        f"({shares}) {verdict} significantly different at α = {alpha:g} "
        f"({first['test']}, χ² = {first['statistic']:.3f}, df = {int(first['df'])}, {stats.p_threshold_label(float(first['p']))})."
    )


# --- notebook 03: associations ---------------------------------------------------------------

#: At most this many tests are named in a sentence; the rest are counted.
MAX_LISTED = 8


def _a4_subject(outcome: str, factor: str) -> str:
    return f"{factor_name(factor).lower()} × {vocab.variable_label(outcome).lower()}"


def _a4_join(items: list[str]) -> str:
    """``"a, b and c"``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _a4_count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def associations_text(tests: pd.DataFrame, alpha: float) -> str:
    """Section 4's summary paragraph, from ``association_tests.csv`` rows.

    Says how many tests were run and computed, how many were significant in the seed's
    convention per outcome and after the Benjamini-Hochberg correction, where Fisher's test
    replaced the chi-square (and whether it changed the verdict), the largest effect size, and
    which tests could not be computed, with the reason.
    """
    done = tests[tests["test_chosen"] != "not computable"]
    failed = tests[tests["test_chosen"] == "not computable"]
    sig = done[done["significant_seed"].fillna(False).astype(bool)]
    per_outcome = [f"{_a4_count(int((sig['outcome'] == o).sum()), 'factor')} for {vocab.variable_label(o).lower()}"
                   for o in vocab.OUTCOMES if o in set(tests["outcome"])]
    fisher = done[done["test_chosen"] == "Fisher exact"]
    changed = int(((fisher["p_seed"] < alpha) != (fisher["p_chosen"] < alpha)).sum())
    n_bh = int(done["significant_bh"].fillna(False).astype(bool).sum())
    parts = [
        f"{_a4_count(len(tests), 'association test')} were run ({_a4_count(tests['outcome'].nunique(), 'outcome')} × "
        f"{_a4_count(tests['factor'].nunique(), 'factor')}); {len(done):,} could be computed.",
        f"In the seed's convention (Yates chi-square for two levels, Pearson for three), "
        f"{_a4_count(len(sig), 'test')} had p < {alpha:g}: {_a4_join(per_outcome)} (Tables 2-4).",
        f"{_a4_count(len(fisher), 'table')} had an expected count below 5, so Fisher's exact test was used for "
        f"{'it' if len(fisher) == 1 else 'them'}; "
        + ("it did not change any verdict" if changed == 0 else f"it changed the verdict for {changed:,}")
        + f" at α = {alpha:g}."
        if len(fisher) else "No table had an expected count below 5, so the chi-square approximation holds for all.",
        f"The seed made no correction for running {len(done):,} tests: after the Benjamini-Hochberg correction "
        f"across all of them, {_a4_count(n_bh, 'test')} remain significant (q < {alpha:g}).",
    ]
    if len(done):
        top = done.loc[done["effect_size"].abs().idxmax()]
        parts.append(
            f"The strongest association was {_a4_subject(top['outcome'], top['factor'])} "
            f"({top['effect_size_name']} = {top['effect_size']:.3f}); by convention, 0.1 is a small effect and 0.3 a "
            f"medium one."
        )
    text = " ".join(parts)
    if len(failed):
        text += "\n\n" + _a4_not_computable(failed)
    return text


def _a4_not_computable(failed: pd.DataFrame) -> str:
    """Group the tests that could not be computed by outcome and reason."""
    reason = failed["note"].str.split(": ", n=1).str[-1]
    items = []
    for (outcome, why), block in failed.assign(reason=reason).groupby(["outcome", "reason"], sort=False):
        names = _a4_join([factor_name(f).lower() for f in block["factor"]])
        items.append(f"{vocab.variable_label(outcome).lower()} by {names} ({why})")
    return "Not computable, reported with empty statistics: " + "; ".join(items) + "."


def seed_disagreements_text(seed: pd.DataFrame) -> str:
    """The seed's internal disagreements (``msht.reference.seed_disagreements``) as a bullet list."""
    if seed.empty:
        return "The seed's Tables 2-4 agree with its Appendix 4 throughout, and Appendix 4 reproduces from its counts."
    head = (
        f"**The seed's own tables.** Its Tables 2-4 were checked against its Appendix 4, and Appendix 4's statistics "
        f"against its own counts; {_a4_count(len(seed), 'disagreement')} found. The tables in this notebook are generated "
        f"from the run's results, so they cannot repeat these:"
    )
    return head + "\n\n" + "\n".join(f"* {m}" for m in seed["message"])


def vs_published_text(comparison: pd.DataFrame, alpha: float, synthetic: bool) -> str:
    """This run's Appendix 4 against the published one (``association_vs_published.csv``)."""
    tests = comparison[comparison["factor"] != "overall"].drop_duplicates(["outcome", "factor"])
    judged = tests[tests["verdict_agrees"].notna()]
    differ = judged[~judged["verdict_agrees"].astype(bool)]
    levels = comparison[comparison["pct_diff"].notna()]
    lead = (
        "**This run against the published figures.** The synthetic twin is generated to resemble the published "
        "report, so the comparison below is a check of that calibration."
        if synthetic else
        "**This run against the published figures.** These data are not the seed's, so the comparison below is "
        "context (another force or period), not a check."
    )
    parts = [lead]
    if len(judged):
        parts.append(f"The verdict at α = {alpha:g} (p < α or not) agrees for {len(judged) - len(differ):,} of "
                     f"{len(judged):,} tests.")
    if len(differ):
        items = [f"{_a4_subject(r.outcome, r.factor)} (published p {r.p_published}, this run "
                 f"{stats.format_p(float(r.p_run))})" for r in differ.head(MAX_LISTED).itertuples()]
        more = f"; and {len(differ) - MAX_LISTED:,} more (see the table)" if len(differ) > MAX_LISTED else ""
        parts.append("It differs for " + "; ".join(items) + more + ".")
    if len(levels):
        worst = levels.loc[levels["pct_diff"].abs().idxmax()]
        level = "overall" if worst["factor"] == "overall" else vocab.finding_label(worst["factor"], worst["level"])
        parts.append(
            f"The largest difference in a level's share is {abs(float(worst['pct_diff'])):.1f} percentage points "
            f"({level}, {vocab.variable_label(worst['outcome']).lower()}: published {worst['pct_published']:.1f}%, "
            f"this run {worst['pct_run']:.1f}%)."
        )
    return " ".join(parts)


def disagreements_text(seed: pd.DataFrame, comparison: pd.DataFrame, alpha: float, synthetic: bool) -> str:
    """Where the results differ from the seed's printed tables: the seed's own inconsistencies
    (:func:`seed_disagreements_text`), then this run against the published figures."""
    return seed_disagreements_text(seed) + "\n\n" + vs_published_text(comparison, alpha, synthetic)


def regression_text(regression: pd.DataFrame, county_lines_known_pct: float, alpha: float,
                    factors: Iterable[str] | None = None) -> str:
    """The exploratory regression section's paragraph, from ``regression.csv``.

    Names the ``factors`` (default: those in ``regression``), the left-out ones and why (county
    lines' known share is computed), and
    per outcome N, cases dropped for missing data, events and any note; then the terms with
    p < alpha.
    """
    factors = list(factors) if factors is not None else list(dict.fromkeys(regression["factor"].dropna()))
    names = _a4_join([factor_name(f).lower() for f in factors]) if factors else "no factor"
    parts = [
        "**Exploratory analysis, not in the seed.** For each outcome, a logistic regression adjusts each factor for "
        f"the others: {names}. It uses complete cases only; standard errors are cluster-robust by victim, since a "
        "victim may have several cases. Its p-values are not corrected for multiple testing.",
        f"County lines involvement is left out: it is recorded for only {county_lines_known_pct:.1f}% of cases, and "
        "complete cases would drop the rest. Offender factors are left out too: they describe case-offender pairs, "
        "not cases.",
    ]
    bullets = []
    for m in regression.drop_duplicates("outcome").itertuples():
        line = (f"* {vocab.variable_label(m.outcome)}: N = {int(m.N):,} complete cases of {int(m.n_population):,} "
                f"({int(m.n_dropped_missing):,} dropped for missing data), {int(m.n_events):,} with the rarer outcome.")
        if m.note:
            line += f" Note: {m.note}."
        bullets.append(line)
    sig = regression[regression["p"] < alpha]
    if len(sig):
        items = [f"{vocab.finding_label(r.factor, r.level)} vs {vocab.finding_label(r.factor, r.reference)} for "
                 f"{vocab.variable_label(r.outcome).lower()} (adjusted OR {r.adjusted_or:.2f}, "
                 f"95% CI {r.ci_low:.2f}-{r.ci_high:.2f})" for r in sig.itertuples()]
        closing = f"Adjusted odds ratios with p < {alpha:g}: " + "; ".join(items) + "."
    else:
        closing = f"No adjusted odds ratio had p < {alpha:g}."
    return " ".join(parts) + "\n\n" + "\n".join(bullets) + "\n\n" + closing


def findings_lead(outcome: str) -> str:
    """Tables 2-4's lead: "The prevalence of being offered support was higher amongst:"."""
    return f"The prevalence of {vocab.OUTCOME_PHRASES[outcome]} was higher amongst:"


def findings_note(tests: pd.DataFrame, outcome: str, alpha: float) -> str:
    """Tables 2-4's source note: how many of the outcome's factors were significant, tested how."""
    sub = tests[tests["outcome"] == outcome]
    done = sub[sub["test_chosen"] != "not computable"]
    n_sig = int(done["significant_seed"].fillna(False).astype(bool).sum())
    n_bh = int(done["significant_bh"].fillna(False).astype(bool).sum())
    text = (f"{n_sig:,} of the {len(done):,} factors tested had p < {alpha:g} in the seed's convention "
            f"(Yates chi-square for two levels, Pearson for three); {n_bh:,} had a Benjamini-Hochberg "
            f"q < {alpha:g} across all {tests['q_bh'].notna().sum():,} tests.")
    if len(done) < len(sub):
        text += f" {len(sub) - len(done):,} could not be computed."
    return text
