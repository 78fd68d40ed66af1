"""Notebook 03's prose and tables are built from the result frames (nothing typed)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from msht.analysis import associate, models, reference
from msht.base import vocab
from msht.publish import association_tables, prose_associations, tables
from test_associate import FAST, tiny_tables


@pytest.fixture(scope="module")
def run() -> tuple[pd.DataFrame, pd.DataFrame]:
    cases, offenders = tiny_tables(seed=5)
    cases = cases.assign(domestic_servitude=False)  # three tests not computable
    rows, tests = associate.run_all(cases, offenders, fisher_n_resamples=FAST)
    return rows, associate.test_table(tests, 0.05)


def test_associations_text_counts_and_names_what_could_not_be_computed(run: tuple) -> None:
    _, table = run
    text = prose_associations.associations_text(table, 0.05)
    assert "51 association tests were run (3 outcomes × 17 factors); 48 could be computed." in text
    assert "by domestic servitude (level 'yes' has no cases)" in text
    assert text.count("domestic servitude (level 'yes' has no cases)") == 3
    n_sig = int(table["significant_seed"].fillna(False).sum())
    assert f"{n_sig} test" in text
    n_bh = int(table["significant_bh"].fillna(False).sum())
    assert f"{n_bh} test" in text.split("Benjamini-Hochberg")[1]


def test_findings_lead_and_note(run: tuple) -> None:
    _, table = run
    assert prose_associations.findings_lead("offered") == "The prevalence of being offered support was higher amongst:"
    assert prose_associations.findings_lead("engagement").endswith("engaging with police was higher amongst:")
    note = prose_associations.findings_note(table, "offered", 0.05)
    assert "of the 16 factors tested" in note and "1 could not be computed" in note


def test_disagreements_text_carries_every_published_message_and_the_comparison(run: tuple) -> None:
    rows, _ = run
    disagreements = reference.published_disagreements(0.05)
    comparison = associate.vs_published(rows, 0.05)
    text = prose_associations.disagreements_text(disagreements, comparison, 0.05, synthetic=True)
    for message in disagreements["message"]:
        assert message in text
    assert "check of that calibration" in text
    real = prose_associations.disagreements_text(disagreements, comparison, 0.05, synthetic=False)
    assert "not a check" in real
    judged = comparison[comparison["verdict_agrees"].notna()].drop_duplicates(["outcome", "factor"])
    assert f"of {len(judged)} tests" in text
    n_differ = int((~judged["verdict_agrees"].astype(bool)).sum())
    if n_differ > prose_associations.MAX_LISTED:
        assert f"and {n_differ - prose_associations.MAX_LISTED} more" in text


def test_published_disagreements_text_when_there_are_none() -> None:
    empty = pd.DataFrame(columns=list(reference.DISAGREEMENT_COLUMNS))
    assert "agree" in prose_associations.published_disagreements_text(empty)


def test_regression_text_reports_n_dropped_and_county_lines_share() -> None:
    cases, _ = tiny_tables(n=600, seed=2)
    regression = models.fit_all(cases)
    share = models.known_share(cases, "county_lines")
    text = prose_associations.regression_text(regression, share, 0.05, factors=models.REGRESSION_FACTORS)
    assert text.startswith("**Exploratory analysis, not in the seed.**")
    assert f"recorded for only {share:.1f}% of cases" in text
    for m in models.summary(regression).itertuples():
        assert f"N = {int(m.N):,} complete cases of {int(m.n_population):,}" in text
        assert f"({int(m.n_dropped_missing):,} dropped for missing data)" in text
    assert "victim sex" in text


def test_appendix4_and_findings_tables_have_fixed_ids(run: tuple) -> None:
    rows, table = run
    title, factors = vocab.APPENDIX4_BLOCKS["case"]
    html = tables.appendix4_table(association_tables.appendix4_display(rows, table, factors), table_id="tbl-appendix4-case",
                                  title=title, source_note="note").as_raw_html()
    assert 'id="tbl-appendix4-case"' in html and "Offered victim support services" in html and "n/c" in html
    found = associate.findings(rows, table, "offered", 0.05)
    html = tables.findings_table(association_tables.findings_display(found, 0.05), table_id="tbl-table2", title="t",
                                 stub_label=prose_associations.findings_lead("offered")).as_raw_html()
    assert 'id="tbl-table2"' in html and "higher amongst:" in html
    assert tables.appendix4_table(association_tables.appendix4_display(rows, table, factors), table_id="x",
                                  title=title).as_raw_html() == tables.appendix4_table(
        association_tables.appendix4_display(rows, table, factors), table_id="x", title=title).as_raw_html()


def test_every_factor_has_a_heading_for_every_level() -> None:
    for factor in vocab.APPENDIX4_FACTORS:
        for level in vocab.levels(factor):
            assert vocab.finding_heading(factor, level)
            assert vocab.finding_label(factor, level)
    assert set(vocab.OUTCOME_PHRASES) == set(vocab.OUTCOMES)
    blocks = [f for _, fs in vocab.APPENDIX4_BLOCKS.values() for f in fs]
    assert blocks == list(vocab.APPENDIX4_FACTORS)
    assert np.all([vocab.finding_label("victim_sex", "unknown") == "Unknown"])


def test_regression_text_lists_the_significant_terms_by_outcome() -> None:
    regression = pd.DataFrame({
        "outcome": ["offered", "offered", "accepted"], "factor": ["victim_sex", "referral_form", "victim_sex"],
        "level": ["female", "nrm", "female"], "reference": ["male", "ms1", "male"],
        "adjusted_or": [1.5, 0.8, 2.0], "ci_low": [1.1, 0.5, 1.2], "ci_high": [2.0, 1.3, 3.3],
        "p": [0.01, 0.40, 0.002], "N": [100, 100, 50], "n_population": [120, 120, 60],
        "n_dropped_missing": [20, 20, 10], "n_events": [30, 30, 12], "note": ["", "", ""],
    })
    text = prose_associations.regression_text(regression, 40.0, 0.05, factors=["victim_sex", "referral_form"])
    tail = text[text.index("Adjusted odds ratios with"):].splitlines()
    assert tail[0] == "Adjusted odds ratios with p < 0.05, by outcome:"
    assert len([line for line in tail if line.startswith("* ")]) == 2, "one bullet per outcome"
    assert len([line for line in tail if line.startswith("    * ")]) == 2, "one sub-bullet per term with p < alpha"
    assert not any("0.80" in line for line in tail), "a term with p >= alpha is not listed"


def test_key_findings_are_a_short_list_of_every_significant_factor_with_its_bh_caveat(root) -> None:
    rows = pd.read_csv(root / "results" / "default" / "associations.csv")
    tests = pd.read_csv(root / "results" / "default" / "association_tests.csv")
    text = prose_associations.key_findings(rows, tests, 0.05)
    items = [line for line in text.splitlines() if line[:1].isdigit()]
    bullets = [line.strip()[2:] for line in text.splitlines() if line.startswith("    - ")]
    assert [i.split(".")[0] for i in items] == ["1", "2", "3", "4"]
    assert all(len(i.split()) <= 70 for i in items), "each numbered finding is short"
    sig = tests[tests["significant_seed"].fillna(False).astype(bool)]
    assert len(bullets) == len(sig), "one bullet per significant test"
    caveat = "not significant after correcting for multiple tests"
    assert sum(caveat in b for b in bullets) == int((sig["q_bh"] >= 0.05).sum())
    assert all(re.search(r"\(p<0\.0?0?[15]\)", b) for b in bullets), "each bullet gives its p band"
    assert "of the 2,288 cases with an offer status recorded" in items[0]


def test_key_findings_say_when_no_factor_is_significant() -> None:
    rows = pd.DataFrame({"outcome": ["offered"], "factor": ["overall"], "level": ["overall"], "n": [5],
                         "denominator": [50], "pct": [10.0]})
    tests = pd.DataFrame({"outcome": ["offered"], "factor": ["victim_sex"], "significant_seed": [False],
                          "q_bh": [0.9], "test_chosen": ["Yates chi-square"], "p_chosen": [0.8]})
    text = prose_associations.key_findings(rows, tests, 0.05)
    assert "No factor was significantly associated with being offered support (p < 0.05)." in text


def test_findings_tables_write_a_q_below_the_printed_precision_as_an_inequality(root) -> None:
    rows = pd.read_csv(root / "results" / "default" / "associations.csv")
    tests = pd.read_csv(root / "results" / "default" / "association_tests.csv")
    checks = association_tables.findings_display(associate.findings(rows, tests, "offered", 0.05), 0.05)["check"]
    assert not checks.str.contains("q = <").any()
    assert checks.str.startswith("q < 0.001").any() and checks.str.startswith("q = 0.").any()
