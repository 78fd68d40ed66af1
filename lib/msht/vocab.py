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

#: The three outcomes of section 4, in the seed's Appendix 4 column order.
OUTCOMES: Final[tuple[str, ...]] = ("engagement", "offered", "accepted")

#: The factors of Appendix 4, in the seed's row order.
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
