"""Reference check: the study's Appendix 4 statistics, rebuilt from its printed counts.

For each of the 51 printed tests (3 outcomes × 17 factors) the level denominators N are
recovered from the printed "pct (n)" (``round(100 n / N, 1) == pct``; see
``msht.analysis.reference``) and the study's test is re-run: Yates χ² for 2-level factors,
Pearson χ² for the 3-level age factors.

Tolerance: a printed χ² is the true value rounded to 3 decimals, so the rebuilt χ² must
lie within 0.0005 of it (plus 1e-9 for float noise). The choice among denominators
that fit a percentage is already made on the printed χ² and p, so it widens nothing:
the tolerance stays 0.0005. The printed p must match exactly as text (3 decimals or
"<0.001"). One test, county lines × engagement, is a known misprint and is asserted
as such (not xfailed).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from msht.base import vocab
from msht.analysis.reference import (
    KNOWN_MISPRINTS,
    OUTCOME_TEST_LEVELS,
    OVERALL,
    candidate_denominators,
    contingency_table,
    implied_tables,
    load_published,
)
from msht.analysis.stats import TEST_FISHER, TEST_PEARSON, TEST_YATES, association_test, format_p, p_threshold_label

CHI2_TOL = 0.0005 + 1e-9
ALL_TESTS = list(itertools.product(vocab.OUTCOMES, vocab.APPENDIX4_FACTORS))
EXPLOITATION = ("criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude")


@pytest.fixture(scope="module")
def implied() -> pd.DataFrame:
    return implied_tables()


def _one_test(implied: pd.DataFrame, outcome: str, factor: str) -> pd.DataFrame:
    sub = implied[(implied["outcome"] == outcome) & (implied["factor"] == factor)]
    assert not sub.empty, f"{outcome} × {factor} missing"
    return sub


def _reproduces(sub: pd.DataFrame) -> bool:
    first = sub.iloc[0]
    return (
        abs(first["chi2_rebuilt"] - first["chi2_printed"]) <= CHI2_TOL
        and format_p(first["p_rebuilt"]) == first["p_printed"]
    )


# --- the transcription ---------------------------------------------------------------


def test_published_csv_shape_and_codes() -> None:
    pub = load_published()
    assert list(pub.columns) == ["outcome", "factor", "level", "pct", "n", "chi2", "p_printed"]
    assert len(pub) == 3 + 108
    overall = pub[pub["factor"] == OVERALL]
    assert overall[["outcome", "pct", "n"]].values.tolist() == [
        ["engagement", 38.4, 182],
        ["offered", 17.2, 394],
        ["accepted", 28.2, 111],
    ]
    assert overall["chi2"].isna().all() and overall["p_printed"].isna().all()
    tests = pub[pub["factor"] != OVERALL]
    assert set(tests["outcome"]) == set(vocab.OUTCOMES)
    for outcome in vocab.OUTCOMES:
        sub = tests[tests["outcome"] == outcome]
        assert list(dict.fromkeys(sub["factor"])) == list(vocab.APPENDIX4_FACTORS)
        for factor, grp in sub.groupby("factor", sort=False):
            assert list(grp["level"]) == vocab.levels(str(factor)), factor
            assert grp["chi2"].nunique() == 1 and grp["p_printed"].nunique() == 1
    assert tests["p_printed"].map(lambda s: bool(re.fullmatch(r"<0\.001|[01]\.\d{3}", s))).all()
    assert (tests["chi2"] >= 0).all() and (tests["n"] > 0).all()


# --- the 51 printed tests ------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "factor"), ALL_TESTS)
def test_appendix4_statistic(implied: pd.DataFrame, outcome: str, factor: str) -> None:
    sub = _one_test(implied, outcome, factor)
    # Denominators satisfy the printed percentages (the brief's rounding rule).
    for row in sub.itertuples():
        assert row.N >= row.n
        assert round(100 * row.n / row.N, 1) == row.pct_printed, row.level
    # Independent recomputation with scipy on the rebuilt table.
    table = np.column_stack([sub["n"], sub["N"] - sub["n"]])
    is_two_level = len(sub) == 2
    res = sps.chi2_contingency(table, correction=is_two_level)
    first = sub.iloc[0]
    assert first["chi2_rebuilt"] == pytest.approx(res.statistic, rel=1e-12, abs=1e-12)
    assert first["p_rebuilt"] == pytest.approx(res.pvalue, rel=1e-12)
    # The stats module gives the same study-convention statistic.
    counts, rows, cols = contingency_table(implied, outcome, factor)
    full = association_test(counts, rows, cols, factor=factor, outcome=outcome)
    assert full.chi2_study == pytest.approx(res.statistic, rel=1e-12, abs=1e-12)
    assert full.test in ((TEST_YATES, TEST_FISHER) if is_two_level else (TEST_PEARSON, TEST_FISHER))

    if (outcome, factor) in KNOWN_MISPRINTS:
        # Known misprint: the study prints 0.686; the counts give 0.676, and 0.676 is what
        # yields the printed p = 0.411.
        assert first["chi2_printed"] == 0.686
        assert f"{first['chi2_rebuilt']:.3f}" == "0.676"
        assert abs(first["chi2_rebuilt"] - first["chi2_printed"]) > 0.009
        assert format_p(first["p_rebuilt"]) == first["p_printed"] == "0.411"
        assert first["n_tables_matching"] == 0
    else:
        assert abs(first["chi2_rebuilt"] - first["chi2_printed"]) <= CHI2_TOL
        assert format_p(first["p_rebuilt"]) == first["p_printed"]
        assert first["n_tables_matching"] >= 1


def test_fifty_of_fifty_one_reproduce_exactly(implied: pd.DataFrame) -> None:
    failures = [(o, f) for o, f in ALL_TESTS if not _reproduces(_one_test(implied, o, f))]
    assert failures == [("engagement", "county_lines")]
    assert set(KNOWN_MISPRINTS) == set(failures)


def test_county_lines_misprint_is_not_a_denominator_choice() -> None:
    # Only one N fits each printed percentage, so no other table could give 0.686.
    assert candidate_denominators(26, 35.6) == [73]
    assert candidate_denominators(57, 42.5) == [134]
    res = sps.chi2_contingency([[26, 47], [57, 77]], correction=True)
    assert f"{res.statistic:.3f}" == "0.676" and f"{res.pvalue:.3f}" == "0.411"
    # The printed 0.686 would print p = 0.408.
    assert f"{sps.chi2.sf(0.686, 1):.3f}" == "0.408"


def test_printed_p_decides_domestic_servitude_offered(implied: pd.DataFrame) -> None:
    # The "no" level fits N = 2138..2149; the N closest in chi2 (2143) prints p = 0.964,
    # only N = 2145 prints both chi2 0.002 and p 0.961.
    assert candidate_denominators(373, 17.4) == list(range(2138, 2150))
    closest = sps.chi2_contingency([[16, 72], [373, 2143 - 373]], correction=True)
    assert f"{closest.statistic:.3f}" == "0.002" and format_p(closest.pvalue) == "0.964"
    sub = _one_test(implied, "offered", "domestic_servitude")
    assert list(sub["N"]) == [88, 2145]


def test_denominator_ambiguity(implied: pd.DataFrame) -> None:
    tests = implied[implied["factor"] != OVERALL]
    per_test = tests.groupby(["outcome", "factor"])["n_tables_matching"].first()
    ambiguous = per_test[per_test > 1]
    # Only a χ² of 0.000 (p 1.000) leaves several denominator combinations open.
    assert ambiguous.to_dict() == {("offered", "more_perp_than_victim"): 10}
    # Many single percentages are ambiguous on their own; the printed χ² resolves them.
    assert (tests["n_fitting_N"] > 1).sum() == 30


# --- internal consistency of the rebuilt tables -----------------------------------------


@pytest.mark.parametrize("factor", vocab.APPENDIX4_FACTORS)
def test_accepted_denominators_are_offered_counts(implied: pd.DataFrame, factor: str) -> None:
    # Acceptance is analysed among those offered support (footnote 20).
    accepted = _one_test(implied, "accepted", factor)
    offered = _one_test(implied, "offered", factor)
    assert list(accepted["N"]) == list(offered["n"])


def test_exploitation_types_share_one_population(implied: pd.DataFrame) -> None:
    totals = {
        outcome: {f: int(_one_test(implied, outcome, f)["N"].sum()) for f in EXPLOITATION}
        for outcome in vocab.OUTCOMES
    }
    assert totals == {
        "engagement": dict.fromkeys(EXPLOITATION, 471),
        "offered": dict.fromkeys(EXPLOITATION, 2233),
        "accepted": dict.fromkeys(EXPLOITATION, 389),
    }


def test_overall_denominators(implied: pd.DataFrame) -> None:
    overall = implied[implied["factor"] == OVERALL].set_index("outcome")
    assert overall.loc["engagement", "N"] == 474  # 182 positive + 292 negative (section 3.4)
    assert overall.loc["accepted", "N"] == 394  # those offered
    assert overall.loc["engagement", "n_fitting_N"] == 1
    assert overall.loc["offered", "n_fitting_N"] == 13  # 2285..2297: not pinned down
    # No factor's tested cases exceed the overall denominator.
    tests = implied[implied["factor"] != OVERALL]
    level_totals = tests.groupby(["outcome", "factor"])["N"].sum()
    for (outcome, _factor), total in level_totals.items():
        if outcome != "offered":
            assert total <= overall.loc[outcome, "N"]


def test_implied_tables_columns_and_levels(implied: pd.DataFrame) -> None:
    assert list(implied.columns)[:10] == [
        "outcome", "factor", "level", "n", "N", "pct_printed",
        "chi2_printed", "chi2_rebuilt", "p_printed", "p_rebuilt",
    ]
    assert len(implied) == 111
    counts, rows, cols = contingency_table(implied, "engagement", "victim_age3")
    np.testing.assert_array_equal(counts, [[47, 108], [25, 48], [108, 131]])
    assert rows == ["17_and_under", "18_24", "25_plus"]
    assert cols == list(OUTCOME_TEST_LEVELS["engagement"])
    with pytest.raises(KeyError):
        contingency_table(implied, "engagement", "period")


# --- Tables 2-4 of the published study against Appendix 4 -----------------------------------------

#: Tables 2-4 of the published study as printed: (outcome, factor, threshold label, {level: (pct, n)}).
SEED_TABLES: list[tuple[str, str, str, dict[str, tuple[float, int]]]] = [
    # Table 2: offered support
    ("offered", "victim_age3", "p<0.01", {"17_and_under": (15.7, 139), "18_24": (15.2, 57), "25_plus": (21.3, 194)}),
    ("offered", "victim_uk_national", "p<0.001", {"uk": (21.5, 232), "non_uk": (13.4, 158)}),
    ("offered", "referring_agency", "p<0.001", {"internal": (24.7, 220), "external": (11.5, 137)}),
    ("offered", "criminal_exploitation", "p<0.01", {"yes": (19.5, 259), "no": (14.3, 130)}),
    ("offered", "labour_exploitation", "p<0.001", {"yes": (11.0, 49), "no": (19.0, 340)}),
    ("offered", "police_entries", "p<0.001", {"several": (23.4, 370), "one": (10.0, 24)}),
    ("offered", "recorded_offender", "p<0.001", {"yes": (31.9, 130), "no": (14.0, 264)}),
    # Table 3: accepted support
    ("accepted", "victim_age3", "p<0.001", {"17_and_under": (8.6, 12), "18_24": (24.6, 14), "25_plus": (42.6, 67)}),
    ("accepted", "victim_sex", "p<0.05", {"female": (36.4, 44), "male": (24.6, 14)}),
    ("accepted", "county_lines", "p<0.05", {"yes": (15.7, 11), "no": (31.6, 49)}),
    ("accepted", "criminal_exploitation", "p<0.001", {"yes": (20.5, 53), "no": (43.8, 57)}),
    ("accepted", "labour_exploitation", "p<0.001", {"yes": (51.0, 25), "no": (25.0, 85)}),
    ("accepted", "more_perp_than_victim", "p<0.001", {"no": (35.0, 76), "yes": (19.8, 35)}),
    # Table 4: engagement
    ("engagement", "victim_age3", "p<0.01", {"17_and_under": (30.3, 47), "18_24": (34.2, 25), "25_plus": (45.2, 108)}),
    ("engagement", "victim_uk_national", "p<0.01", {"uk": (33.4, 101), "non_uk": (47.3, 78)}),
    ("engagement", "offender_age3", "p<0.01", {"17_and_under": (28.1, 25), "18_24": (32.5, 27), "25_plus": (45.2, 95)}),
    ("engagement", "referral_form", "p<0.01", {"nrm": (41.3, 166), "ms1": (22.2, 16)}),
    ("engagement", "sexual_exploitation", "p<0.01", {"yes": (23.2, 16), "no": (41.0, 165)}),
    ("engagement", "domestic_servitude", "p<0.001", {"yes": (77.3, 17), "no": (36.5, 164)}),
    ("engagement", "labour_exploitation", "p<0.05", {"yes": (50.8, 32), "no": (36.5, 149)}),
    ("engagement", "more_perp_than_victim", "p<0.05", {"no": (43.5, 100), "yes": (32.2, 69)}),
]

#: Cells where Tables 2-4 disagree with Appendix 4: table value, appendix value.
KNOWN_TABLE_DISCREPANCIES: dict[tuple[str, str, str], tuple[tuple[float, int], tuple[float, int]]] = {
    # Table 3 copies n=14 from the 18-24 row; the appendix's 67/272 = 24.6%.
    ("accepted", "victim_sex", "male"): ((24.6, 14), (24.6, 67)),
    # Table 3 prints 42.6%, n=67; the appendix's 83/194 = 42.8%.
    ("accepted", "victim_age3", "25_plus"): ((42.6, 67), (42.8, 83)),
    # Table 4 and Appendix 4 swap the UK / non-UK labels for engagement.
    ("engagement", "victim_uk_national", "uk"): ((33.4, 101), (47.3, 78)),
    ("engagement", "victim_uk_national", "non_uk"): ((47.3, 78), (33.4, 101)),
}

#: Threshold labels in Tables 2-4 that the Appendix 4 p does not support.
KNOWN_THRESHOLD_DISCREPANCIES = {("accepted", "more_perp_than_victim"): ("p<0.001", "p<0.01")}


def test_published_tables_agree_with_appendix4_except_known_cells() -> None:
    pub = load_published().set_index(["outcome", "factor", "level"])
    found = {}
    for outcome, factor, _label, cells in SEED_TABLES:
        for level, printed in cells.items():
            appendix = (float(pub.loc[(outcome, factor, level), "pct"]), int(pub.loc[(outcome, factor, level), "n"]))
            if printed != appendix:
                found[(outcome, factor, level)] = (printed, appendix)
    assert found == KNOWN_TABLE_DISCREPANCIES


def test_published_threshold_labels_agree_except_known(implied: pd.DataFrame) -> None:
    found = {}
    for outcome, factor, label, _cells in SEED_TABLES:
        rebuilt = p_threshold_label(_one_test(implied, outcome, factor)["p_rebuilt"].iloc[0])
        if rebuilt != label:
            found[(outcome, factor)] = (label, rebuilt)
    assert found == KNOWN_THRESHOLD_DISCREPANCIES
    # ...and the printed appendix p (0.001) agrees with the rebuilt one, not with Table 3.
    assert _one_test(implied, "accepted", "more_perp_than_victim")["p_printed"].iloc[0] == "0.001"


def test_published_tables_list_exactly_the_significant_factors(implied: pd.DataFrame) -> None:
    tests = implied[implied["factor"] != OVERALL].groupby(["outcome", "factor"])["p_rebuilt"].first()
    significant = {key for key, p in tests.items() if p < 0.05}
    assert significant == {(o, f) for o, f, _label, _cells in SEED_TABLES}
