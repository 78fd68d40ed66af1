"""Issue 14 item 4: a nationality as a police system may record it, tested against whole
published lists: the UK government's list of nationalities (all 225 spellings), every ISO 3166-1
short, official and common name (pycountry), the WHO Member States, with and without
diacritics, in any case, as "Citizen of ..." and in dual nationalities."""

from __future__ import annotations

import unicodedata
from importlib import resources

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from msht.ingest import coding


def _table(name: str) -> pd.DataFrame:
    with resources.files("msht").joinpath("data", name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


GOVUK = _table("govuk_nationalities.csv")
ISO = _table("iso3166_names.csv")
REGIONS = coding.who_regions()


def _no_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def test_the_govuk_list_is_whole():
    assert len(GOVUK) == 225 and GOVUK["nationality"].is_unique


def test_every_govuk_spelling_codes_to_its_country():
    got = coding.code_nationality(GOVUK["nationality"])
    wrong = GOVUK[got["countries"].to_numpy() != GOVUK["country"].to_numpy()]
    assert wrong.empty, wrong.to_string()
    assert got["unmatched"].isna().all()


@pytest.mark.parametrize(
    ("spelling", "country", "uk", "region"),
    [
        ("Cymro", "United Kingdom", "uk", "uk"), ("Cymraes", "United Kingdom", "uk", "uk"),
        ("Prydeinig", "United Kingdom", "uk", "uk"),
        ("Citizen of Antigua and Barbuda", "Antigua and Barbuda", "non_uk", "americas"),
        ("Citizen of Bosnia and Herzegovina", "Bosnia and Herzegovina", "non_uk", "european"),
        ("Citizen of the Dominican Republic", "Dominican Republic", "non_uk", "americas"),
        ("Citizen of Guinea-Bissau", "Guinea-Bissau", "non_uk", "african"),
        ("Citizen of Kiribati", "Kiribati", "non_uk", "western_pacific"),
        ("Citizen of Seychelles", "Seychelles", "non_uk", "african"),
        ("Citizen of Vanuatu", "Vanuatu", "non_uk", "western_pacific"),
        ("Congolese (DRC)", "Democratic Republic of the Congo", "non_uk", "african"),
        ("Congolese (Congo)", "Republic of the Congo", "non_uk", "african"),
        ("Andorran", "Andorra", "non_uk", "european"), ("Burkinan", "Burkina Faso", "non_uk", "african"),
        ("Comoran", "Comoros", "non_uk", "african"), ("Marshallese", "Marshall Islands", "non_uk", "western_pacific"),
        ("Monegasque", "Monaco", "non_uk", "european"), ("Palauan", "Palau", "non_uk", "western_pacific"),
        ("Sammarinese", "San Marino", "non_uk", "european"), ("Sao Tomean", "Sao Tome and Principe", "non_uk", "african"),
        ("Tuvaluan", "Tuvalu", "non_uk", "western_pacific"),
        ("Stateless", "Stateless", "non_uk", "unknown"),
    ],
)
def test_the_issue_examples(spelling, country, uk, region):
    got = coding.code_nationality(pd.Series([spelling]))
    assert got["countries"].iloc[0] == country
    assert got["uk_national"].iloc[0] == uk and got["region"].iloc[0] == region


def test_every_iso_3166_name_codes_to_its_country_with_and_without_diacritics():
    """The whole ISO 3166-1 list as shipped by pycountry (Debian iso-codes), not a sample."""
    pycountry = pytest.importorskip("pycountry")
    by_iso = dict(zip(REGIONS["iso3"], REGIONS["country"]))
    rows = [(getattr(c, a), c.alpha_3) for c in pycountry.countries for a in ("name", "official_name", "common_name")
            if getattr(c, a, None)]
    assert {iso for _, iso in rows} <= set(by_iso), "every ISO 3166-1 country or territory is in who_regions.csv"
    names = [n for n, _ in rows] + [_no_accents(n) for n, _ in rows] + [n.upper() for n, _ in rows]
    expected = [by_iso[i] for _, i in rows] * 3
    got = coding.code_nationality(pd.Series(names))["countries"]
    wrong = [(n, e, g) for n, e, g in zip(names, expected, got) if e != g]
    assert not wrong, wrong[:20]


def test_the_shipped_iso_table_matches_pycountry():
    pycountry = pytest.importorskip("pycountry")
    shipped = set(zip(ISO["alias"], ISO["iso3"]))
    current = {(getattr(c, a), c.alpha_3) for c in pycountry.countries for a in ("name", "official_name", "common_name")
               if getattr(c, a, None)}
    # a name the table lacks must still code to a country (one call for all of them: coding is row by row)
    missing = sorted(current - shipped)
    coded = coding.code_nationality(pd.Series([n for n, _ in missing], dtype=object))["countries"]
    assert not [pair for pair, ok in zip(missing, coded.notna()) if not ok]


def test_every_who_member_state_and_territory_name_codes_to_itself():
    got = coding.code_nationality(REGIONS["country"])["countries"]
    assert (got.to_numpy() == REGIONS["country"].to_numpy()).all()
    assert (REGIONS["who_member"] == "yes").sum() == 194


SPELLINGS = sorted(set(zip(GOVUK["nationality"], GOVUK["country"])) | set(zip(ISO["alias"], ISO["country"])))


@settings(max_examples=examples(300), deadline=None)
@given(
    item=st.sampled_from(SPELLINGS),
    form=st.sampled_from(["{}", "Citizen of {}", "{} national", "{} citizen", "Dual {}", "{} nationality", " {} ",
                          "{}.", "the {}"]),
    case=st.sampled_from([str.upper, str.lower, lambda s: s]),
    accents=st.booleans(),
)
def test_property_any_listed_spelling_in_a_police_form_codes_to_its_country(item, form, case, accents):
    spelling, country = item
    if (form == "the {}" and spelling.lower().startswith("the ")) or (
            form == "Citizen of {}" and spelling.lower().startswith("citizen of ")):
        form = "{}"
    text = case(form.format(_no_accents(spelling) if accents else spelling))
    got = coding.code_nationality(pd.Series([text]))
    assert got["countries"].iloc[0] == country, (text, got.to_dict("records"))


@settings(max_examples=examples(200), deadline=None)
@given(a=st.sampled_from(SPELLINGS), b=st.sampled_from(SPELLINGS), sep=st.sampled_from([" / ", "; ", ", ", " and ", " & "]))
def test_property_dual_nationalities_keep_both_countries(a, b, sep):
    """Inverted ISO forms ("Moldova, Republic of") next to another country with a comma between
    them are ambiguous text; they are joined with the other separators only."""
    if sep == ", " and ("," in a[0] or "," in b[0] or " of" in a[0].lower() or " of" in b[0].lower()):
        sep = " / "
    got = coding.code_nationality(pd.Series([a[0] + sep + b[0]]))
    found = set(str(got["countries"].iloc[0]).split("; "))
    assert {a[1], b[1]} <= found, (a, b, sep, got.to_dict("records"))


@settings(max_examples=examples(200), deadline=None)
@given(item=st.sampled_from(SPELLINGS), junk=st.text(alphabet="xyzqj", min_size=3, max_size=8))
def test_property_unmatched_shows_readable_text_never_a_placeholder(item, junk):
    got = coding.code_nationality(pd.Series([f"Citizen of {item[0]} {junk}", f"{junk} of {item[0]}islander"]))
    for value in got["unmatched"].dropna():
        assert "zzcountry" not in value


POLICE_FORMS = ["{}", "Citizen of {}", "{} national", "{} citizen", "Dual {}", "{} nationality", " {} ", "{}.", "the {}"]


def test_every_listed_spelling_in_every_police_form_codes_to_its_country():
    """The whole cross product of the property test above (every spelling of the UK and ISO lists,
    every form, case and with or without accents), in one vectorised call: a sample can miss a
    combination ("Dual Citizen of Guinea-Bissau", "Dual the State of Eritrea")."""
    import itertools

    texts, want = [], []
    for (spelling, country), form, case, accents in itertools.product(
            SPELLINGS, POLICE_FORMS, [str.upper, str.lower, str], [False, True]):
        if (form == "the {}" and spelling.lower().startswith("the ")) or (
                form == "Citizen of {}" and spelling.lower().startswith("citizen of ")):
            form = "{}"
        texts.append(case(form.format(_no_accents(spelling) if accents else spelling)))
        want.append(country)
    got = coding.code_nationality(pd.Series(texts))["countries"]
    wrong = [(t, w, g) for t, w, g in zip(texts, want, got, strict=True) if pd.isna(g) or g != w]
    assert not wrong, wrong[:10]
