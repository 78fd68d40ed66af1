"""Unit tests for msht.ingest.coding (raw police values -> vocab codes) and its lookup data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from msht.ingest import coding as c
from msht.base.vocab import EXPLOITATION_TYPES, LEVELS, UNKNOWN


def S(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def allowed(variable: str) -> set[str]:
    return set(LEVELS[variable]) | {UNKNOWN}


# ----------------------------------------------------------------------------------------------
# lookup data
# ----------------------------------------------------------------------------------------------

REGION_CODES = {"european", "eastern_mediterranean", "western_pacific", "african", "south_east_asia", "americas"}


def test_who_regions_has_194_member_states_by_region():
    t = c.who_regions()
    assert list(t.columns) == ["country", "iso3", "who_region", "who_member", "note"]
    members = t[t["who_member"] == "yes"]
    assert len(members) == 194
    assert members["who_region"].value_counts().to_dict() == {
        "european": 53,
        "african": 47,
        "americas": 35,
        "western_pacific": 27,
        "eastern_mediterranean": 21,
        "south_east_asia": 11,
    }
    assert t["country"].is_unique
    iso = t.loc[t["iso3"] != "", "iso3"]
    assert iso.is_unique and iso.str.fullmatch(r"[A-Z]{3}").all()
    assert set(t["who_region"]) <= REGION_CODES | {""}
    assert set(t["who_region"]) - {""} <= set(LEVELS["victim_nationality_region"])


@pytest.mark.parametrize(
    ("country", "region"),
    [
        ("Eritrea", "african"), ("Ethiopia", "african"), ("Algeria", "african"), ("South Sudan", "african"),
        ("Somalia", "eastern_mediterranean"), ("Sudan", "eastern_mediterranean"),
        ("Djibouti", "eastern_mediterranean"), ("Egypt", "eastern_mediterranean"),
        ("Libya", "eastern_mediterranean"), ("Tunisia", "eastern_mediterranean"),
        ("Morocco", "eastern_mediterranean"), ("Pakistan", "eastern_mediterranean"),
        ("Afghanistan", "eastern_mediterranean"), ("Iran", "eastern_mediterranean"),
        ("Israel", "european"), ("Turkey", "european"), ("Kazakhstan", "european"), ("Uzbekistan", "european"),
        ("Albania", "european"), ("United Kingdom", "european"),
        ("Indonesia", "south_east_asia"), ("Timor-Leste", "south_east_asia"), ("North Korea", "south_east_asia"),
        ("Thailand", "south_east_asia"), ("Myanmar", "south_east_asia"), ("India", "south_east_asia"),
        ("Vietnam", "western_pacific"), ("China", "western_pacific"), ("Philippines", "western_pacific"),
        ("West Indies", "americas"), ("Kosovo", "european"), ("Hong Kong", "western_pacific"),
        ("Palestine", "eastern_mediterranean"), ("Taiwan", "western_pacific"), ("Jamaica", "americas"),
    ],
)
def test_who_region_assignments(country, region):
    t = c.who_regions().set_index("country")
    assert t.loc[country, "who_region"] == region


def test_country_aliases_point_at_listed_countries_and_are_unambiguous():
    aliases = pd.read_csv(
        __import__("importlib").resources.files("msht").joinpath("data", "country_aliases.csv"),
        dtype=str,
        keep_default_na=False,
    )
    assert list(aliases.columns) == ["alias", "country"]
    assert set(aliases["country"]) <= set(c.who_regions()["country"])
    lookup = c.country_lookup()  # raises on an ambiguous spelling
    for spelling in ["uk", "british", "england", "scotland", "wales", "northern ireland", "great britain"]:
        assert lookup[spelling] == c.UK_COUNTRY


def test_ethnicity_codes_table():
    t = c.ethnicity_codes()
    assert list(t.columns) == ["code", "description", "scheme", "group5"]
    assert t["code"].is_unique
    assert set(t["group5"]) <= set(LEVELS["offender_ethnicity5"]) | {UNKNOWN}
    sde = t[t["scheme"] == "sde18"]
    assert len(sde) == 19  # 18 + NS
    assert set(sde["code"]) == {
        "W1", "W2", "W3", "W9", "M1", "M2", "M3", "M9", "A1", "A2", "A3", "A4", "A9",
        "B1", "B2", "B9", "O2", "O9", "NS",
    }


# ----------------------------------------------------------------------------------------------
# normalise_text
# ----------------------------------------------------------------------------------------------


def test_normalise_text_basics():
    out = c.normalise_text(S("  Foo\u2013Bar  ", "A\u00a0 \tB", "\u201cQuoted\u201d", "It\u2019s", 1, True, 2.5))
    assert out.tolist() == ["foo-bar", "a b", '"quoted"', "it's", "1", "true", "2.5"]
    assert str(out.dtype) == "string"


@pytest.mark.parametrize(
    "marker", ["", "  ", "N/K", "NK", "Not known", "Unknown", "UNKNOWN", "n/a", "NULL", "-", "?", "None", None, np.nan]
)
def test_normalise_text_missing_markers(marker):
    assert c.normalise_text(S(marker)).isna().all()


def test_missing_markers_are_normalised_forms():
    assert all(m == m.strip().casefold() for m in c.MISSING_MARKERS)


def test_normalise_text_keeps_index():
    s = pd.Series(["a", "b"], index=[10, 20])
    assert c.normalise_text(s).index.tolist() == [10, 20]


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(st.text(), st.none(), st.integers(), st.booleans()), max_size=20))
def test_normalise_text_is_idempotent(values):
    once = c.normalise_text(pd.Series(values, dtype=object))
    twice = c.normalise_text(once)
    pd.testing.assert_series_equal(once, twice)


# ----------------------------------------------------------------------------------------------
# sex
# ----------------------------------------------------------------------------------------------


def test_code_sex():
    out = c.code_sex(S("M", "Male", "MALE", " m ", "F", "Female", "woman", "girl", "U", "X", "", None, "Not known"))
    assert out.tolist() == ["male"] * 4 + ["female"] * 4 + [UNKNOWN] * 5


# ----------------------------------------------------------------------------------------------
# ages and dates
# ----------------------------------------------------------------------------------------------


def test_age_from_dob_birthday_rules():
    dob = S("2000-03-15", "2000-03-16", "2000-03-14", "15/03/2000", "2000-02-29", "2000-02-29")
    on = S("2018-03-15", "2018-03-15", "2018-03-15", "15/03/2018", "2019-02-28", "2019-03-01")
    assert c.age_from_dob(dob, on).tolist() == [18, 17, 18, 18, 18, 19]


def test_age_from_dob_unknowns():
    dob = S("2020-01-02", None, "not a date", "2020-01-01")
    on = S("2020-01-01", "2020-01-01", "2020-01-01", None)
    out = c.age_from_dob(dob, on)
    assert str(out.dtype) == "Int64"
    assert out.isna().all()  # DOB after the case date, missing, unparseable


def test_age_from_dob_accepts_datetimes():
    dob = pd.to_datetime(pd.Series(["1990-06-30", "2005-12-31"]))
    on = pd.to_datetime(pd.Series(["2020-06-29 23:00", "2021-01-01"]), format="ISO8601")
    assert c.age_from_dob(dob, on).tolist() == [29, 15]
    assert c.age_band6(c.age_from_dob(dob, on)).tolist() == ["25_34", "17_and_under"]


def test_to_datetime_is_day_first_except_iso():
    out = c.to_datetime(S("05/01/2020", "2020-01-05", "5 Jan 2020", "Unknown", None))
    assert out.iloc[:3].tolist() == [pd.Timestamp("2020-01-05")] * 3
    assert out.iloc[3:].isna().all()


def test_age_bands_boundaries():
    ages = S(0, 17, 17.9, 18, 24, 25, 34, 35, 44, 45, 54, 55, 110, 111, -1, None, "30", "abc")
    assert c.age_band6(ages).tolist() == [
        "17_and_under", "17_and_under", "17_and_under", "18_24", "18_24", "25_34", "25_34", "35_44",
        "35_44", "45_54", "45_54", "55_plus", "55_plus", UNKNOWN, UNKNOWN, UNKNOWN, "25_34", UNKNOWN,
    ]
    assert c.age_band3(ages).tolist()[:6] == ["17_and_under"] * 3 + ["18_24"] * 2 + ["25_plus"]
    assert c.age_band3(ages).tolist()[-5:] == [UNKNOWN, UNKNOWN, UNKNOWN, "25_plus", UNKNOWN]
    assert c.age_band2(ages).tolist()[:4] == ["17_and_under"] * 3 + ["adult"]
    assert c.age_band2(S(pd.NA)).tolist() == [UNKNOWN]


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(st.integers(-50, 200), st.floats(-50, 200), st.just(float("nan"))), max_size=30))
def test_age_bands_partition_valid_ages(values):
    ages = pd.Series(values, dtype=float)
    b6, b3, b2 = c.age_band6(ages), c.age_band3(ages), c.age_band2(ages)
    valid = ages.notna() & (np.floor(ages) >= 0) & (np.floor(ages) <= c.MAX_AGE)
    # every valid age gets exactly one real level, every invalid one is unknown
    assert (b6[valid] != UNKNOWN).all() and (b6[~valid] == UNKNOWN).all()
    assert set(b6) <= allowed("victim_age6")
    assert set(b3) <= allowed("victim_age3")
    assert set(b2) <= allowed("victim_age2")
    # the coarser bands are unions of the finer ones
    assert ((b6 == "17_and_under") == (b3 == "17_and_under")).all()
    assert ((b6 == "18_24") == (b3 == "18_24")).all()
    assert (b6.isin(["25_34", "35_44", "45_54", "55_plus"]) == (b3 == "25_plus")).all()
    assert ((b3 == "17_and_under") == (b2 == "17_and_under")).all()
    assert (b3.isin(["18_24", "25_plus"]) == (b2 == "adult")).all()


def test_code_period():
    out = c.code_period(S("2020-12-31", "2021-01-01", "31/12/2020", "01/01/2021", None, "rubbish"))
    assert out.tolist() == ["before_2021", "from_2021", "before_2021", "from_2021", UNKNOWN, UNKNOWN]
    assert c.code_period(pd.Series([2019, 2021, np.nan])).tolist() == ["before_2021", "from_2021", UNKNOWN]
    dates = pd.to_datetime(pd.Series(["2018-05-01", "2023-02-01", None]))
    assert c.code_period(dates).tolist() == ["before_2021", "from_2021", UNKNOWN]


# ----------------------------------------------------------------------------------------------
# nationality
# ----------------------------------------------------------------------------------------------


def test_code_nationality_single_countries():
    out = c.code_nationality(
        S("UK", "U.K.", "British", "England", "Great Britain", "Scottish", "Viet Nam", "Vietnamese",
          "Albanian", "Czech Republic", "Iran, Islamic Republic of", "Eritrean", "West Indies", "Kosovo",
          "Hong Kong", "Palestine", "Taiwan", "Côte d'Ivoire", "ALB", "Trinidad & Tobago")
    )
    assert out["countries"].tolist() == [
        "United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom",
        "United Kingdom", "Vietnam", "Vietnam", "Albania", "Czechia", "Iran", "Eritrea", "West Indies",
        "Kosovo", "Hong Kong", "Palestine", "Taiwan", "Ivory Coast", "Albania", "Trinidad and Tobago",
    ]
    assert out["uk_national"].tolist() == ["uk"] * 6 + ["non_uk"] * 14
    assert out["region"].tolist() == [
        "uk", "uk", "uk", "uk", "uk", "uk", "western_pacific", "western_pacific", "european", "european",
        "eastern_mediterranean", "african", "americas", "european", "western_pacific",
        "eastern_mediterranean", "western_pacific", "african", "european", "americas",
    ]
    assert out["unmatched"].isna().all()


def test_code_nationality_dual_with_uk_counts_as_uk_and_multiple():
    out = c.code_nationality(
        S("British / Albanian", "United Kingdom; Nigeria", "Dual British & Irish", "UK and Pakistan",
          "Nigerian, British", "British - Jamaican")
    )
    assert out["uk_national"].tolist() == ["uk"] * 6
    assert out["region"].tolist() == ["multiple"] * 6
    assert out["countries"].tolist()[:3] == [
        "United Kingdom; Albania", "United Kingdom; Nigeria", "United Kingdom; Ireland",
    ]


def test_code_nationality_dual_non_uk_and_same_country_twice():
    out = c.code_nationality(
        S("Romanian/Hungarian", "England / Scotland", "British citizen / UK", "Albania/ALB", "Dutch and the Gambia")
    )
    assert out["uk_national"].tolist() == ["non_uk", "uk", "uk", "non_uk", "non_uk"]
    assert out["region"].tolist() == ["multiple", "uk", "uk", "european", "multiple"]
    assert out["countries"].iloc[4] == "Netherlands; Gambia"


def test_code_nationality_unknown_country_is_kept_as_unknown():
    s = pd.Series(["Narnia", "British / Narnia", "Narnia / Albanian", "Albanian / Romanian / Narnia"], index=[5, 6, 7, 8])
    out = c.code_nationality(s)
    assert out.index.tolist() == [5, 6, 7, 8]
    assert out["uk_national"].tolist() == [UNKNOWN, "uk", UNKNOWN, UNKNOWN]
    assert out["region"].tolist() == [UNKNOWN, UNKNOWN, UNKNOWN, "multiple"]
    assert out["unmatched"].tolist() == ["narnia"] * 4


def test_code_nationality_missing_and_stateless():
    out = c.code_nationality(S(None, "", "Unknown", "N/K", "British / Unknown", "Stateless"))
    assert out["uk_national"].tolist() == [UNKNOWN] * 4 + ["uk", "non_uk"]
    assert out["region"].tolist() == [UNKNOWN] * 4 + ["uk", UNKNOWN]
    assert out["countries"].tolist()[:4] == [pd.NA] * 4 or out["countries"].iloc[:4].isna().all()


def test_code_nationality_codes_are_vocab():
    out = c.code_nationality(S("British", "Polish", "Chinese", "Indian", "Nigerian", "Brazilian", "x", None, "UK/Iraq"))
    assert set(out["region"]) <= allowed("victim_nationality_region")
    assert set(out["uk_national"]) <= allowed("victim_uk_national")


# ----------------------------------------------------------------------------------------------
# ethnicity
# ----------------------------------------------------------------------------------------------


def test_code_ethnicity_codes_and_text():
    out = c.code_ethnicity(
        S("W1", " w1 ", "W1 - White British", "ic1", "IC 3", "IC4", "IC5", "IC6", "IC0", "IC9", "3",
          "A4 - Chinese", "O1", "O2", "M3", "B2", "NS", None, "White and Black Caribbean",
          "Any other White background", "Black British", "Arab", "Asian - Pakistani", "White - Roma", "gibberish")
    )
    assert out["group5"].tolist() == [
        "white", "white", "white", "white", "black", "asian", "asian", "other", UNKNOWN, UNKNOWN, "black",
        "asian", "asian", "other", "mixed", "black", UNKNOWN, UNKNOWN, "mixed", "white", "black", "other",
        "asian", "white", UNKNOWN,
    ]
    assert out["code"].tolist()[:6] == ["W1", "W1", "W1", "IC1", "IC3", "IC4"]
    g = out["group5"]
    expected_wo = np.where(g.isin(["white", UNKNOWN]), g, "other")
    assert out["white_other"].tolist() == expected_wo.tolist()
    assert set(out["group5"]) <= allowed("offender_ethnicity5")
    assert set(out["white_other"]) <= allowed("offender_ethnicity2")


# ----------------------------------------------------------------------------------------------
# yes / no, referral form, referring agency
# ----------------------------------------------------------------------------------------------


def test_code_yes_no():
    out = c.code_yes_no(S("Y", "Yes", "YES", "y", "True", 1, 1.0, True, "N", "No", 0, False, "no.",
                          "Yes - accepted", "maybe", None, "Unknown", "Not offered"))
    assert out.tolist() == ["yes"] * 8 + ["no"] * 5 + ["yes"] + [UNKNOWN] * 4
    extra = c.code_yes_no(S("Declined", "Accepted"), extra_yes=["accepted"], extra_no=["Declined"])
    assert extra.tolist() == ["no", "yes"]


def test_code_referral_form():
    out = c.code_referral_form(
        S("NRM", "National Referral Mechanism", "nrm referral", "MS1", "MS1 form", "Duty to Notify (MS1)",
          "DtN", "MS1 - NRM declined", "NRM and MS1", "Other", None)
    )
    assert out.tolist() == ["nrm"] * 3 + ["ms1"] * 5 + [UNKNOWN] * 3


def test_code_referring_agency():
    force = ["West Midlands Police", "WMP"]
    out = c.code_referring_agency(
        S("West Midlands Police", "WMP", "west midlands constabulary", "Police", "CID", "Response team",
          "Internal", "Metropolitan Police", "BTP", "Border Force", "UKBF", "Immigration Enforcement",
          "Home Office", "Salvation Army", "Local Authority", "Birmingham City Council", "Children's services",
          "NHS", "Barnardo's", "Police - Border Force", "Self referral", None, "Unknown"),
        force,
    )
    assert out.tolist() == ["internal"] * 7 + ["external"] * 14 + [UNKNOWN] * 2


def test_code_referring_agency_without_force_names():
    out = c.code_referring_agency(S("Police", "Kent Police", "NGO"), [])
    assert out.tolist() == ["internal", "external", "external"]
    own = c.code_referring_agency(S("Kent Police", "Kent County Council"), ["Kent Police"])
    assert own.tolist() == ["internal", "external"]


# ----------------------------------------------------------------------------------------------
# exploitation type and location
# ----------------------------------------------------------------------------------------------


def test_code_exploitation_types():
    s = S("Criminal; Labour", "CCE", "Child criminal exploitation", "forced labour",
          "Sexual exploitation / Domestic servitude", "County lines", "Forced criminality", "Organ harvesting",
          "Unknown", "Not specified", "domestic labour", "CSE", None, "", "Labour, Sexual and Criminal")
    out = c.code_exploitation_types(s)
    assert list(out.columns) == list(EXPLOITATION_TYPES)
    rows = [tuple(r) for r in out.astype(object).itertuples(index=False)]
    T, F, NA = True, False, pd.NA
    assert rows[:12] == [
        (T, T, F, F, F), (T, F, F, F, F), (T, F, F, F, F), (F, T, F, F, F), (F, F, T, T, F), (T, F, F, F, F),
        (T, F, F, F, F), (F, F, F, F, T), (F, F, F, F, T), (F, F, F, F, T), (F, F, F, T, F), (F, F, T, F, F),
    ]
    assert out.iloc[12:14].isna().all().all()  # blank field: not recorded
    assert tuple(out.iloc[14]) == (T, T, T, F, F)
    codes = c.code_exploitation_types(s, as_codes=True)
    assert codes.iloc[0].tolist() == ["yes", "yes", "no", "no", "no"]
    assert codes.iloc[12].tolist() == [UNKNOWN] * 5
    for col in EXPLOITATION_TYPES:
        assert set(codes[col]) <= allowed(col)


def test_code_location():
    out = c.code_location(
        S("UK", "UK only", "In the UK", "England", "Overseas", "Abroad", "Outside UK", "Albania", "Overseas only",
          "Both", "UK and overseas", "UK/Romania", "Both the UK and overseas", None, "somewhere")
    )
    assert out.tolist() == ["uk_only"] * 4 + ["overseas_only"] * 5 + ["both"] * 4 + [UNKNOWN] * 2
    assert set(out) <= allowed("exploitation_location")


def test_code_location_reads_a_spelling_with_a_separator_only_as_a_whole_part():
    """Countries are found in a location as in a nationality (:func:`c.code_nationality`):
    "Bahamas, The" + "Gambia" is two countries, not one unmatched part."""
    out = c.code_location(S("Bahamas, The Gambia", "Moldova, Republic of Korea", "Iran, Islamic Republic of"))
    assert out.tolist() == ["overseas_only"] * 3


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("British Virgin Islands", "overseas_only"),
        ("British Indian Ocean Territory", "overseas_only"),
        ("Virgin Islands, British", "overseas_only"),
        ("British Virgin Islander national", "overseas_only"),
        ("BVI", "overseas_only"),
        ("UK and British Virgin Islands", "both"),
        ("British Virgin Islands / UK", "both"),
        ("British Virgin Islands, British", "both"),
        ("England; British Indian Ocean Territory", "both"),
        ("In country, British Virgin Islands", "both"),
        ("Within the UK and British Virgin Islands", "both"),
        ("Britain", "uk_only"),
        ("in country", "uk_only"),
        ("Wales", "uk_only"),
    ],
)
def test_code_location_uk_word_in_another_country_name_is_not_the_uk(text, code):
    """A UK word that is part of a non-UK country's name ("British" in "British Virgin
    Islands") is not a UK sign; a UK word elsewhere in the text still is."""
    assert c.code_location(S(text)).tolist() == [code]


def test_code_location_uk_word_in_a_country_name_with_a_repeated_index():
    """The UK words are weighed row by row, also where the index repeats."""
    s = pd.Series(["British Virgin Islands", "UK / British Virgin Islands", "Albania", "British Virgin Islands"],
                  index=[7, 7, 7, 7])
    assert c.code_location(s).tolist() == ["overseas_only", "both", "overseas_only", "overseas_only"]


_LOCATION_SEPARATORS = (" / ", "/", " and ", ", ", "; ", " & ", " - ", " + ", "|", "\\", "\n", "\r\n", "\u2028")


def test_code_location_every_non_uk_country_spelling_is_overseas():
    """Every spelling of the country lookup whose country is not the UK codes as
    ``overseas_only`` alone, and ``both`` joined with "UK" by any separator, either way round."""
    spellings = sorted(k for k, country in c.country_lookup().items() if country != c.UK_COUNTRY)
    assert len(spellings) > 1000
    alone = c.code_location(pd.Series(spellings))
    assert {k: v for k, v in zip(spellings, alone) if v != "overseas_only"} == {}
    for sep in _LOCATION_SEPARATORS:
        for joined in ([f"UK{sep}{k}" for k in spellings], [f"{k}{sep}UK" for k in spellings]):
            out = c.code_location(pd.Series(joined))
            assert {k: v for k, v in zip(joined, out) if v != "both"} == {}


# ----------------------------------------------------------------------------------------------
# a list typed on several lines of one spreadsheet cell
# ----------------------------------------------------------------------------------------------

#: ``\n``, ``\r\n``, ``\r``, a Unicode line separator and others :meth:`str.splitlines` knows.
_LINE_BREAKS = ("\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b")


@pytest.mark.parametrize("br", _LINE_BREAKS)
def test_code_nationality_line_break_inside_a_cell_separates_nationalities(br):
    out = c.code_nationality(S(f"UK{br}Albania", f"British{br}Albanian", f"Albanian{br}Romanian",
                               f"British{br}{br}Albanian", f" Dual British {br} Albanian national "))
    assert out["countries"].tolist() == ["United Kingdom; Albania"] * 2 + ["Albania; Romania"] + ["United Kingdom; Albania"] * 2
    assert out["uk_national"].tolist() == ["uk", "uk", "non_uk", "uk", "uk"]
    assert out["region"].tolist() == ["multiple"] * 5
    assert out["unmatched"].isna().all()


@pytest.mark.parametrize("br", _LINE_BREAKS)
def test_a_line_break_round_a_cell_changes_nothing(br):
    """A line break that is only the text's surrounding whitespace is not a separator."""
    texts = ["Albania", "UK / Albania", "N/K", "", "Xyzland"]
    padded = [f"{t}{br}" for t in texts] + [f"{br}{t}" for t in texts] + [f" {br} {t} {br}" for t in texts]
    want = c.code_nationality(S(*texts * 3))
    got = c.code_nationality(S(*padded))
    assert got.astype(str).to_numpy().tolist() == want.astype(str).to_numpy().tolist()
    assert c.code_location(S(*padded)).tolist() == c.code_location(S(*texts * 3)).tolist()


@pytest.mark.parametrize("br", _LINE_BREAKS)
def test_a_country_name_wrapped_onto_two_lines_stays_one_country(br):
    """A line break separates a list's items, but a name wrapped onto two lines is read whole where
    that leaves fewer parts unmatched ("British / Virgin Islands" would be the UK and an unknown)."""
    out = c.code_nationality(S(f"United{br}Kingdom", f"British{br}Virgin Islands", f"Guinea{br}Bissau",
                               f"Trinidad and{br}Tobago", f"Iran, Islamic{br}Republic of", f"UK{br}Xyz"))
    assert out["countries"].tolist() == ["United Kingdom", "British Virgin Islands", "Guinea-Bissau",
                                         "Trinidad and Tobago", "Iran", "United Kingdom"]
    assert out["unmatched"].tolist()[:5] == [pd.NA] * 5 and out["unmatched"].iloc[5] == "xyz"
    assert c.code_location(S(f"British{br}Virgin Islands")).tolist() == ["overseas_only"]


@pytest.mark.parametrize("br", _LINE_BREAKS)
def test_code_location_line_break_inside_a_cell_separates_countries(br):
    out = c.code_location(S(f"UK{br}Albania", f"Albania{br}UK", f"Albania{br}Romania", f"England{br}Albania",
                            f"UK{br}", f"{br}Albania{br}"))
    assert out.tolist() == ["both", "both", "overseas_only", "both", "uk_only", "overseas_only"]


def test_a_line_break_inside_a_cell_with_a_repeated_index():
    s = pd.Series(["UK\nAlbania", "Albania\n", "UK\r\nAlbania", "Albania"], index=[5, 5, 5, 5])
    assert c.code_nationality(s)["countries"].tolist() == ["United Kingdom; Albania", "Albania"] * 2
    assert c.code_location(s).tolist() == ["both", "overseas_only"] * 2


@pytest.mark.parametrize("br", _LINE_BREAKS)
def test_code_exploitation_types_a_list_on_several_lines_codes_as_joined_by_a_slash(br):
    """The exploitation rules search keywords and do not split: a list on several lines of a cell
    codes as the same list joined by " / " (checked, nothing to change)."""
    items = [("Sexual exploitation", "Domestic servitude"), ("Criminal", "Labour"), ("County lines", "Labour"),
             ("CSE", "Organ harvesting"), ("Forced labour", "Criminal exploitation"), ("Unknown", "Sexual")]
    lines = c.code_exploitation_types(S(*[a + br + b for a, b in items] + [f"Labour{br}"]))
    slash = c.code_exploitation_types(S(*[a + " / " + b for a, b in items] + ["Labour"]))
    assert lines.astype(str).to_numpy().tolist() == slash.astype(str).to_numpy().tolist()


# ----------------------------------------------------------------------------------------------
# engagement (seed section 2.3)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Suspect identified – evidential difficulties – victim supports action", "positive"),
        ("Suspect Identified - Evidential Difficulties - Victim supports action", "positive"),
        ("  SUSPECT IDENTIFIED—EVIDENTIAL DIFFICULTIES—VICTIM SUPPORTS ACTION ", "positive"),
        ("Outcome 15 - Suspect identified - evidential difficulties - victim supports action", "positive"),
        ("15 - Suspect identified - evidential difficulties - victim supports action", "positive"),
        ("Named suspect identified: victim supports action but evidential difficulties prevent further action", "positive"),
        ("OC15", "positive"),
        ("Suspect Identified – Evidential Difficulties – Victim not supporting", "negative"),
        ("Suspect identified - evidential difficulties - victim does not support action", "negative"),
        ("Outcome 16 - Suspect identified - evidential difficulties - victim not supporting", "negative"),
        (
            "Named suspect identified: evidential difficulties prevent further action: victim does not support "
            "(or has withdrawn support from) police action",
            "negative",
        ),
        ("Outcome 16", "negative"),
        ("Investigation ongoing", "ongoing"),
        ("Under investigation", "ongoing"),
        ("Pending", "ongoing"),
        ("No crime", "no_crime"),
        ("NO-CRIME", "no_crime"),
        ("Crime cancelled", "no_crime"),
        ("Charged/summonsed", UNKNOWN),
        ("Outcome 14 - Evidential difficulties victim based - named suspect not identified", UNKNOWN),
        ("Suspect not identified - evidential difficulties - victim does not support", UNKNOWN),
        ("Evidential difficulties - victim does not support action", UNKNOWN),  # 14 or 16?
        ("Outcome 15 - suspect identified - victim does not support action", UNKNOWN),  # contradictory
        ("Referred to Victim Support services", UNKNOWN),
        ("", UNKNOWN),
        (None, UNKNOWN),
    ],
)
def test_code_engagement(text, code):
    assert c.code_engagement(S(text)).tolist() == [code]


def test_code_engagement_keeps_index_and_vocab():
    s = pd.Series(["Pending", "No crime"], index=["a", "b"])
    out = c.code_engagement(s)
    assert out.index.tolist() == ["a", "b"]
    assert set(out) <= allowed("engagement")


# ----------------------------------------------------------------------------------------------
# mapping report
# ----------------------------------------------------------------------------------------------


def test_mapping_report():
    raw = S("M", "m", "Male", "M", "X", None)
    rep = c.mapping_report(raw, c.code_sex(raw), "victim_sex")
    assert list(rep.columns) == ["field", "raw_value", "code", "n"]
    assert (rep["field"] == "victim_sex").all()
    assert rep["n"].sum() == len(raw)
    first = rep.iloc[0]
    assert (first["raw_value"], first["code"], first["n"]) == ("M", "male", 2)
    unknown = rep[rep["code"] == UNKNOWN]
    assert unknown["n"].sum() == 2 and unknown["raw_value"].isna().sum() == 1


def test_mapping_report_for_nationality_region():
    raw = S("British / Albanian", "British", "Narnia", "British")
    rep = c.mapping_report(raw, c.code_nationality(raw)["region"], "victim_nationality_region")
    as_dict = {(r.raw_value, r.code): r.n for r in rep.itertuples()}
    assert as_dict == {("British / Albanian", "multiple"): 1, ("British", "uk"): 2, ("Narnia", UNKNOWN): 1}


# ----------------------------------------------------------------------------------------------
# every coder keeps every row and returns only vocab codes
# ----------------------------------------------------------------------------------------------

_TEXT = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["British / Albanian", "UK", "N/K", "IC3", "W1 - White British", "Outcome 15", "CCE; Labour"]),
)


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(_TEXT, max_size=15))
def test_coders_keep_rows_and_return_vocab_codes(values):
    s = pd.Series(values, dtype=object, index=range(100, 100 + len(values)))
    nationality, ethnicity = c.code_nationality(s), c.code_ethnicity(s)  # each coded once: 20-30% of the example's time
    checks = {
        "victim_sex": c.code_sex(s),
        "engagement": c.code_engagement(s),
        "referral_form": c.code_referral_form(s),
        "referring_agency": c.code_referring_agency(s, ["Test Police"]),
        "exploitation_location": c.code_location(s),
        "period": c.code_period(s),
        "offered": c.code_yes_no(s),
        "victim_nationality_region": nationality["region"],
        "victim_uk_national": nationality["uk_national"],
        "offender_ethnicity5": ethnicity["group5"],
    }
    for variable, out in checks.items():
        assert out.index.equals(s.index), variable
        assert set(out) <= allowed(variable), variable
    ex = c.code_exploitation_types(s, as_codes=True)
    assert ex.index.equals(s.index)


def test_is_missing_is_normalise_text_isna_on_hand_made_values():
    s = pd.Series(["P1", " N/K ", "NULL", None, "", "１２", "Not Stated", "0", "n\u200bk", "2020-01-01", "-"], dtype=object)
    assert not c.MARKER_HAS_DIGIT
    assert c.is_missing(s).tolist() == c.normalise_text(s).isna().tolist()
    assert c.is_missing(s).tolist() == [False, True, True, True, True, False, True, False, True, False, True]


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.text(), st.none(), st.sampled_from(sorted(c.MISSING_MARKERS))), max_size=20))
def test_is_missing_agrees_with_normalise_text(values):
    s = pd.Series(values, dtype=object)
    assert c.is_missing(s).tolist() == c.normalise_text(s).isna().tolist()


_MESSY_CHARS = list("aAbB -\u2013\u2014\u2018\u2019\u201c\u201d\u00a0\u200b\u00ad\u00e9\ufb01\t\n\u3000\uff261\u0130\u00df/;") + [
    "\u01c5", "\u2028", "\u212a", "\u212b"]


@settings(max_examples=examples(200), deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(st.sampled_from(_MESSY_CHARS), max_size=8)), max_size=30))
def test_clean_value_by_value_is_the_vectorised_clean(values):
    """The small-input path of the text normalisation (value by value) gives what pandas' string
    methods give on the same values, missing values, index and name included."""
    s = pd.Series(values, dtype="string", name="field", index=range(7, 7 + len(values)))
    by_value = c._clean(s)
    saved = c.CLEAN_BY_VALUE_MAX
    try:
        c.CLEAN_BY_VALUE_MAX = -1
        vectorised = c._clean(s)
    finally:
        c.CLEAN_BY_VALUE_MAX = saved
    pd.testing.assert_series_equal(by_value, vectorised)


def test_a_value_coded_in_an_earlier_call_gets_the_same_code():
    """Coding functions remember the values they coded: a later call with new and known
    spellings (and missing values) codes every row as a first call on the same rows does."""
    first = pd.Series(["Male", "F", "male ", None, "Male"] * 3, dtype="string")
    later = pd.Series(["F", "Woman", "MALE", None, "boy", "F"] * 3, index=range(50, 68), dtype="string", name="sex")
    c._CODED.clear()
    c.code_sex(first)
    remembered = c.code_sex(later)
    c._CODED.clear()
    fresh = c.code_sex(later)
    pd.testing.assert_series_equal(remembered, fresh)
    assert remembered.tolist()[:6] == ["female", "female", "male", UNKNOWN, "male", "female"]


def test_nationality_key_by_key_is_the_grouped_coding():
    """The small-input path of nationality coding (key by key in Python) gives the frame the
    group-bys give: the same countries, unmatched parts, UK flag and region, NAs and dtypes."""
    raw = pd.Series(["British; Albanian", "UK", "uk / uk", "Nowhere", "Albania, Nowhere", "the Gambia and Senegal",
                     "Trinidad and Tobago", "Iran, Islamic Republic of", "England/Scotland", "Vietnamese",
                     "Citizen of Vanuatu", "Polish + Irish + British", "Martian",
                     # read again: a spelling with a separator across two parts, next to unknown words
                     "British Virgin Islands, British", "Albanian / Bahamas, The Gambia / Martian",
                     "Hong Kong SAR, China, People's Republic of", "xyz Virgin Islands, British"], dtype="string")
    keys = c._country_key(raw)
    saved = c.NATIONALITY_BY_KEY_MAX
    try:
        c.NATIONALITY_BY_KEY_MAX = 1000
        by_key = c._nationality_of_keys(keys)
        c.NATIONALITY_BY_KEY_MAX = -1
        grouped = c._nationality_of_keys(keys)
    finally:
        c.NATIONALITY_BY_KEY_MAX = saved
    pd.testing.assert_frame_equal(by_key, grouped)
    assert by_key.loc[0, "region"] == "multiple" and by_key.loc[3, "uk_national"] == UNKNOWN
    assert by_key["countries"].iloc[13:17].fillna("-").tolist() == [
        "British Virgin Islands; United Kingdom", "Albania; Bahamas; Gambia", "Hong Kong; China", "-"]
    assert by_key["unmatched"].iloc[13:17].fillna("-").tolist() == ["-", "martian", "-", "xyz virgin islands, british"]


@settings(max_examples=examples(200), deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(st.sampled_from(list("abnrm s1-uk\u00e9\n")), max_size=10)), max_size=30),
       pattern=st.sampled_from([c._NRM_RE, c._MS1_RE, r"\bboth\b", c._YES_RE, "^$"]))
def test_contains_value_by_value_is_pandas_str_contains(values, pattern):
    """The small-input regex search gives what pandas' ``str.contains`` gives (missing: False)."""
    s = pd.Series(values, dtype="string", name="t", index=range(3, 3 + len(values)))
    pd.testing.assert_series_equal(c._contains(s, pattern), s.str.contains(pattern, regex=True, na=False).astype(bool))


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(["0", "7", "/", " ", ":", "a", "\u0663", "\uff11"]),
                                             max_size=12)), max_size=30),
       st.sampled_from([r"[0-9]", r"\d{1,2}/\d{1,2}/\d{4}(?: \d{1,2}:\d{2})?", r"[0-9]{2}/[0-9]{2}"]),
       st.booleans(), st.booleans())
def test_ascii_patterns_found_by_pyarrow_as_python_finds_them(values, pattern, whole, missing):
    """ascii_pattern_matches gives what Python's re (ASCII) gives, other scripts' digits included."""
    import re

    text = pd.Series(values, dtype="string")
    how = text.str.fullmatch if whole else text.str.contains
    expected = how(pattern, flags=re.ASCII, na=missing).astype(bool).tolist()
    assert c.ascii_pattern_matches(text, pattern, whole=whole, missing=missing).tolist() == expected


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(float("nan")), st.just(pd.NA), st.sampled_from(["a", "b", " a", ""]),
                          st.integers(0, 2)), max_size=30))
def test_text_factorised_as_its_string_copy_is(values):
    """factorize_text is pd.factorize(s.astype("string")): the same codes and distinct values."""
    s = pd.Series(values, dtype=object)
    codes, uniques = c.factorize_text(s)
    expected_codes, expected_uniques = pd.factorize(s.astype("string"))
    assert codes.tolist() == expected_codes.tolist()
    pd.testing.assert_index_equal(uniques, expected_uniques)
