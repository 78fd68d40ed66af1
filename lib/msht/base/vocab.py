"""The project's one vocabulary: variable, factor and level codes, and their display labels.

Every results CSV uses the *codes* below (``snake_case``); tables and prose use the *labels*.
Later work adds entries here, never renames them: the codes are the results contract.
"""

from __future__ import annotations

from typing import Final

#: Level codes and labels for each variable, in display order.
LEVELS: Final[dict[str, dict[str, str]]] = {
    # --- victims -------------------------------------------------------------------------
    "victim_sex": {"male": "Male", "female": "Female"},
    "victim_age6": {
        "17_and_under": "17 and under",
        "18_24": "18-24",
        "25_34": "25-34",
        "35_44": "35-44",
        "45_54": "45-54",
        "55_plus": "55+",
    },
    "victim_age3": {"17_and_under": "17 and under", "18_24": "18-24", "25_plus": "25+"},
    "victim_age2": {"17_and_under": "17 / under", "adult": "Adult"},
    "victim_uk_national": {"uk": "Has UK nationality", "non_uk": "Does not have UK nationality"},
    "victim_nationality_region": {
        "uk": "UK nationality",
        "european": "Other European region nationalities",
        "eastern_mediterranean": "Eastern Mediterranean region nationalities",
        "western_pacific": "Western Pacific region nationalities",
        "african": "African region nationalities",
        "south_east_asia": "South-East Asia region nationalities",
        "americas": "Region of the Americas nationalities",
        "multiple": "Multiple nationalities",
    },
    # --- offenders -----------------------------------------------------------------------
    "offender_sex": {"male": "Male", "female": "Female"},
    "offender_age6": {
        "17_and_under": "17 and under",
        "18_24": "18-24",
        "25_34": "25-34",
        "35_44": "35-44",
        "45_54": "45-54",
        "55_plus": "55+",
    },
    "offender_age3": {"17_and_under": "17 and under", "18_24": "18-24", "25_plus": "25+"},
    "offender_ethnicity5": {
        "white": "White ethnicities",
        "asian": "Asian ethnicities",
        "black": "Black ethnicities",
        "mixed": "Mixed/multiple ethnicities",
        "other": "Other ethnicities",
    },
    "offender_ethnicity2": {"white": "White", "other": "Other ethnicities"},
    "offender_uk_national": {"uk": "Has UK nationality", "non_uk": "Does not have UK nationality"},
    "offender_nationality_region": {
        "uk": "UK nationality",
        "european": "Other European region nationalities",
        "eastern_mediterranean": "Eastern Mediterranean region nationalities",
        "multiple": "Multiple nationalities",
        "western_pacific": "Western Pacific region nationalities",
        "americas": "Region of the Americas nationalities",
        "african": "African region nationalities",
        "south_east_asia": "South-East Asia region nationalities",
    },
    # --- cases ---------------------------------------------------------------------------
    "referral_form": {"ms1": "MS1 referral", "nrm": "NRM referral"},
    "referring_agency": {
        "internal": "Internal (from the police force)",
        "external": "External (from other agencies)",
    },
    "criminal_exploitation": {"yes": "Criminal exploitation identified", "no": "Criminal exploitation not identified"},
    "labour_exploitation": {"yes": "Labour exploitation identified", "no": "Labour exploitation not identified"},
    "sexual_exploitation": {"yes": "Sexual exploitation identified", "no": "Sexual exploitation not identified"},
    "domestic_servitude": {"yes": "Domestic servitude identified", "no": "Domestic servitude not identified"},
    "other_exploitation": {"yes": "Other types of/undefined exploitation", "no": "No other/undefined exploitation"},
    "exploitation_location": {"uk_only": "UK", "overseas_only": "Overseas", "both": "Both the UK and overseas"},
    "county_lines": {"yes": "Has county lines involvement", "no": "No county lines involvement"},
    "period": {"before_2021": "Before 2021", "from_2021": "2021 and later"},
    # --- police-record entries -----------------------------------------------------------
    "police_entries": {"one": "One", "several": "More than one"},
    "more_perp_than_victim": {"yes": "Yes", "no": "No"},
    "recorded_offender": {"yes": "Yes", "no": "No"},
    # --- outcomes ------------------------------------------------------------------------
    "offered": {"yes": "Offered", "no": "Not offered"},
    "accepted": {"yes": "Accepted", "no": "Declined"},
    "engagement": {
        "positive": "Positive engagement",
        "negative": "Negative engagement",
        "ongoing": "Investigation ongoing",
        "no_crime": "No crime",
        "unknown": "Unknown",
    },
}

#: Human-readable names of variables (table row headers, factor names).
VARIABLE_LABELS: Final[dict[str, str]] = {
    "victim_sex": "Sex",
    "victim_age6": "Age group (years)",
    "victim_age3": "Age group (years)",
    "victim_age2": "Victim age",
    "victim_uk_national": "Nationality",
    "victim_nationality_region": "Nationality",
    "offender_sex": "Gender",
    "offender_age6": "Age (years)",
    "offender_age3": "Age group (years)",
    "offender_ethnicity5": "Ethnicity",
    "offender_ethnicity2": "Ethnicity",
    "offender_uk_national": "Nationality",
    "offender_nationality_region": "Nationality",
    "referral_form": "Referral type",
    "referring_agency": "Referring agency",
    "criminal_exploitation": "Criminal exploitation",
    "labour_exploitation": "Labour exploitation",
    "sexual_exploitation": "Sexual exploitation",
    "domestic_servitude": "Domestic servitude",
    "other_exploitation": "Other types of/undefined exploitation",
    "exploitation_location": "Exploitation location",
    "county_lines": "County lines involvement",
    "period": "Date of referral",
    "police_entries": "Number of police data system entries",
    "more_perp_than_victim": "More data entries as a perpetrator than as a victim",
    "recorded_offender": "Victim has a recorded offender related to case",
    "offered": "Offered victim support services",
    "accepted": "Accepted support from victim support services",
    "engagement": "Positive victim engagement",
}

#: The three outcomes of section 4, in the study's Appendix 4 column order.
OUTCOMES: Final[tuple[str, ...]] = ("engagement", "offered", "accepted")

#: The factors of Appendix 4, in the study's row order.
APPENDIX4_FACTORS: Final[tuple[str, ...]] = (
    "victim_sex",
    "victim_age3",
    "victim_uk_national",
    "offender_sex",
    "offender_age3",
    "offender_ethnicity2",
    "offender_uk_national",
    "referral_form",
    "referring_agency",
    "county_lines",
    "criminal_exploitation",
    "labour_exploitation",
    "sexual_exploitation",
    "domestic_servitude",
    "police_entries",
    "more_perp_than_victim",
    "recorded_offender",
)

#: Exploitation-type indicator columns (a case may have several).
EXPLOITATION_TYPES: Final[tuple[str, ...]] = (
    "criminal_exploitation",
    "labour_exploitation",
    "sexual_exploitation",
    "domestic_servitude",
    "other_exploitation",
)

#: Code used for a missing or unrecognised value after coding.
UNKNOWN: Final[str] = "unknown"

# --- section 3 (notebook 02): descriptive overview -------------------------------------------
# Variables of ``descriptives.csv`` rows that are not coded columns of the analysis tables:
# counts per unit, summary statistics (their ``n`` holds the value) and test results.
LEVELS.update({
    "victims": {"all": "All victims"},
    "cases": {"all": "All MSHT cases"},
    "victim_case_count": {"one": "One MSHT case", "several": "More than one MSHT case",
                          "min": "Fewest MSHT cases of a victim", "max": "Most MSHT cases of a victim"},
    "exploitation_location2": {"uk_only": "UK only", "overseas_or_both": "Overseas (only, or also in the UK)"},
    "entries_outliers": {"threshold": "Fewest entries that make a victim an outlier",
                         "left_out": "Victims left out as outliers"},
    "entries_per_victim": {"median": "Median", "min": "Minimum", "max": "Maximum"},
    "has_victim_entry": {"yes": "At least one entry as a victim", "no": "No entry as a victim"},
    "has_perpetrator_entry": {"yes": "At least one entry as a perpetrator", "no": "No entry as a perpetrator"},
    "offender_persons": {"all": "All offenders"},
    "offenders_per_case": {"none": "No offender recorded", "one": "One offender", "several": "More than one offender"},
    "offenders_per_case_range": {"min": "Fewest offenders of a case with several",
                                 "max": "Most offenders of a case"},
    "offender_age2": {"17_and_under": "17 and under", "adult": "18 and over"},
    "engagement_level": {"positive": "Positive engagement", "negative": "Negative engagement",
                         "not_determined": "Engagement could not be determined"},
    "engagement_excluded": {"ongoing": "Investigation ongoing", "no_crime": "No crime"},
    "period_split": {"first_year": "First year of the later period"},
    "offered_by_period": {"before_2021": "Before 2021", "from_2021": "2021 and later",
                          "statistic": "χ²", "df": "df", "p": "p"},
    "accepted_by_period": {"before_2021": "Before 2021", "from_2021": "2021 and later",
                           "statistic": "χ²", "df": "df", "p": "p"},
})
VARIABLE_LABELS.update({
    "victims": "Victims",
    "cases": "MSHT cases",
    "victim_case_count": "MSHT cases per victim",
    "exploitation_type": "Police recorded exploitation type",
    "exploitation_location2": "Exploitation location",
    "entries_outliers": "Outliers left out of section 3.2",
    "entries_per_victim": "Police data system entries per victim",
    "has_victim_entry": "At least one entry as a victim",
    "has_perpetrator_entry": "At least one entry as a perpetrator",
    "offender_persons": "Offenders",
    "offenders_per_case": "Offenders per case",
    "offenders_per_case_range": "Offenders per case (range)",
    "offender_age2": "Age",
    "engagement_level": "Level of victim engagement",
    "engagement_excluded": "Left out of the engagement levels",
    "period_split": "Date of referral",
    "offered_by_period": "Offered victim support services, by date of referral",
    "accepted_by_period": "Accepted support, by date of referral",
    "offered_by_year": "Offered victim support services, by year of referral",
    "accepted_by_year": "Accepted support, by year of referral",
})


def label(variable: str, level: str) -> str:
    """Return the display label of ``level`` of ``variable`` ("Unknown" for the missing code)."""
    if level == UNKNOWN:
        return "Unknown"
    return LEVELS[variable][level]


def levels(variable: str) -> list[str]:
    """Return the level codes of ``variable`` in display order."""
    return list(LEVELS[variable])


def variable_label(variable: str) -> str:
    """Return the display name of ``variable``."""
    return VARIABLE_LABELS[variable]


# --- section 4 (notebook 03): Appendix 4 blocks and the wording of Tables 2-4 -----------------

#: Appendix 4's four blocks (table id suffix, title) and their factors, in the study's order.
APPENDIX4_BLOCKS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "victim": (
        "Victim engagement and victim sociodemographic characteristics",
        ("victim_sex", "victim_age3", "victim_uk_national"),
    ),
    "offender": (
        "Victim engagement and offender sociodemographic characteristics",
        ("offender_sex", "offender_age3", "offender_ethnicity2", "offender_uk_national"),
    ),
    "case": (
        "Victim engagement and case-level factors",
        ("referral_form", "referring_agency", "county_lines", "criminal_exploitation", "labour_exploitation",
         "sexual_exploitation", "domestic_servitude"),
    ),
    "police": (
        "Victim engagement and factors of additional police recorded incidents",
        ("police_entries", "more_perp_than_victim", "recorded_offender"),
    ),
}

#: Extracts that may be header-only (``may_be_empty`` in the data dictionary): what they hold,
#: and the Appendix 4 factors that cannot be tested without them (their levels then have no case).
EMPTY_EXTRACT_TESTS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "police_records": ("police-record entries", ("police_entries", "more_perp_than_victim")),
    "offenders": ("offender entries", ("recorded_offender", *APPENDIX4_BLOCKS["offender"][1])),
}


def empty_extract_note(extract: str) -> str:
    """The plain statement for a header-only extract: what there was none of, and which tests of
    the three outcomes could therefore not be run (``problems.csv`` and the report)."""
    what, factors = EMPTY_EXTRACT_TESTS.get(extract, (f"{extract} records", ()))
    if not factors:
        return f"the extract has no records: there were no {what}"
    return (f"the extract has no records: there were no {what}, so the tests of {', '.join(factors)} "
            "against engagement, offered and accepted could not be run")


#: How Tables 2-4 name each outcome: "The prevalence of <phrase> was higher amongst:".
OUTCOME_PHRASES: Final[dict[str, str]] = {
    "offered": "being offered support",
    "accepted": "accepting the offer of support",
    "engagement": "engaging with police",
}

#: Tables 2-4's heading for a factor when ``level`` has the highest share of the outcome.
FINDING_HEADINGS: Final[dict[str, dict[str, str]]] = {
    "victim_sex": {"male": "Males", "female": "Females"},
    "victim_age3": {"17_and_under": "Those in younger age groups", "18_24": "Those aged 18-24",
                    "25_plus": "Those in older age groups"},
    "victim_uk_national": {"uk": "Those with UK nationality", "non_uk": "Those with non-UK nationality"},
    "offender_sex": {"male": "Those cases with male offenders", "female": "Those cases with female offenders"},
    "offender_age3": {"17_and_under": "Those cases in which offenders were in younger age groups",
                      "18_24": "Those cases in which offenders were aged 18-24",
                      "25_plus": "Those cases in which offenders were in older age groups"},
    "offender_ethnicity2": {"white": "Those cases with White offenders",
                            "other": "Those cases with offenders of other ethnicities"},
    "offender_uk_national": {"uk": "Those cases with offenders of UK nationality",
                             "non_uk": "Those cases with offenders of non-UK nationality"},
    "referral_form": {"ms1": "When an MS1 referral was made", "nrm": "When an NRM referral was made"},
    "referring_agency": {"internal": "Those referred by the police", "external": "Those referred by external agencies"},
    "county_lines": {"yes": "Those cases which involved county lines activities",
                     "no": "Those cases which did not involve county lines activities"},
    "criminal_exploitation": {"yes": "Those cases which involved criminal exploitation",
                              "no": "Those cases which did not involve criminal exploitation"},
    "labour_exploitation": {"yes": "Those cases which involved labour exploitation",
                            "no": "Those cases which did not involve labour exploitation"},
    "sexual_exploitation": {"yes": "Those cases which involved sexual exploitation",
                            "no": "Those cases which did not involve sexual exploitation"},
    "domestic_servitude": {"yes": "Those cases which involved domestic servitude",
                           "no": "Those cases which did not involve domestic servitude"},
    "police_entries": {"one": "Those who had one recorded police incident",
                       "several": "Those who had multiple recorded police incidents"},
    "more_perp_than_victim": {
        "yes": "Those cases in which the victims had more data entries as a perpetrator than as a victim",
        "no": "Those cases in which the victims did not have more data entries as a perpetrator than as a victim",
    },
    "recorded_offender": {"yes": "Those cases that had an offender identified",
                          "no": "Those cases that had no offender identified"},
}

#: Tables 2-4's short level labels ("UK nationals (21.5%, n=232)"); also the forest plot's contrasts.
FINDING_LEVEL_LABELS: Final[dict[str, dict[str, str]]] = {
    "victim_sex": {"male": "Males", "female": "Females"},
    "victim_age3": {"17_and_under": "17 years and under", "18_24": "18-24 years", "25_plus": "25 or older"},
    "victim_uk_national": {"uk": "UK nationals", "non_uk": "non-UK nationals"},
    "offender_sex": {"male": "Male offenders", "female": "Female offenders"},
    "offender_age3": {"17_and_under": "17 years and under", "18_24": "18-24 years", "25_plus": "25 or older"},
    "offender_ethnicity2": {"white": "White offenders", "other": "Offenders of other ethnicities"},
    "offender_uk_national": {"uk": "UK national offenders", "non_uk": "non-UK national offenders"},
    "referral_form": {"ms1": "MS1", "nrm": "NRM"},
    "referring_agency": {"internal": "Cases referred by the police", "external": "Cases referred by external agencies"},
    "county_lines": {"yes": "County lines", "no": "No county lines"},
    "criminal_exploitation": {"yes": "Criminal exploitation", "no": "No criminal exploitation"},
    "labour_exploitation": {"yes": "Labour exploitation", "no": "No labour exploitation"},
    "sexual_exploitation": {"yes": "Sexual exploitation", "no": "No sexual exploitation"},
    "domestic_servitude": {"yes": "Domestic servitude", "no": "No domestic servitude"},
    "police_entries": {"one": "One recorded police incident", "several": "Multiple recorded police incidents"},
    "more_perp_than_victim": {"yes": "More data entries as perpetrator than as a victim",
                              "no": "Not more data entries as perpetrator than as a victim"},
    "recorded_offender": {"yes": "Offender identified", "no": "No offender identified"},
}


def finding_heading(factor: str, level: str) -> str:
    """Tables 2-4's heading for ``factor`` when ``level`` has the highest share of the outcome."""
    return FINDING_HEADINGS[factor][level]


def finding_label(factor: str, level: str) -> str:
    """Tables 2-4's short label of ``level`` of ``factor`` (the vocabulary label if none is set)."""
    return FINDING_LEVEL_LABELS.get(factor, {}).get(level) or label(factor, level)
