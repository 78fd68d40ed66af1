import pandas as pd

from msht.analysis import calibration


def _published(rows):
    return pd.DataFrame(rows, columns=["source", "table", "variable", "level", "subgroup", "n", "pct", "note"])


def test_locate_maps_published_figures_to_results_rows():
    assert calibration.locate("Appendix 1", "victim_sex", "male", "") == ("appendix1", "victim_sex", "male", "n")
    assert calibration.locate("Table 1", "exploitation_location", "uk_only", "labour_exploitation") == (
        "table1_labour_exploitation", "exploitation_location2", "uk_only", "pct")
    assert calibration.locate("Table 1", "victim_age2", "adult", "all") == ("section3_1", "victim_age2", "adult", "pct")
    assert calibration.locate("Section 3.2", "entries_median", "all", "") == ("section3_2", "entries_per_victim", "median", "value")
    assert calibration.locate("Section 3.4", "offered", "yes", "before_2021") == ("section3_4", "offered_by_period", "before_2021", "pct")
    assert calibration.locate("Section 3.4", "engagement", "unknown", "") == ("section3_4", "engagement_level", "not_determined", "pct")
    assert calibration.locate("Section 3.2", "entries_outlier", "first", "") is None


def test_descriptive_rows_apply_tolerances_and_conflicts():
    published = _published([
        ["Appendix 1", "t", "victim_sex", "male", None, 10, 50.0, None],
        ["Section 3.4", "t", "offered", "yes", None, 4, 17.2, None],
        ["Appendix 2", "t", "county_lines", "yes", None, 7, 70.0, None],
    ])
    desc = pd.DataFrame({
        "table": ["appendix1", "section3_4", "appendix2"], "variable": ["victim_sex", "offered", "county_lines"],
        "level": ["male", "yes", "yes"], "n": [11, 4, 3], "denominator": [20, 22, 10], "pct": [55.0, 18.1, 30.0],
    })
    out = calibration.descriptive_rows(published, desc).set_index("variable")
    assert not out.loc["victim_sex", "within_tolerance"]  # counts must match exactly
    assert out.loc["offered", "within_tolerance"] and out.loc["offered", "difference"] == 0.9
    assert not out.loc["county_lines", "target"] and "swaps" in out.loc["county_lines", "note"]


def test_appendix4_rows_need_same_verdict():
    comparison = pd.DataFrame({
        "outcome": ["offered", "offered"], "factor": ["victim_sex", "victim_sex"], "level": ["male", "female"],
        "n_published": [10, 5], "N_published": [100, 40], "n_run": [10, 5], "N_run": [100, 41],
        "chi2_published": [3.0, 3.0], "chi2_run": [3.05, 3.05], "verdict_agrees": [False, False],
    })
    out = calibration.appendix4_rows(comparison, 0.05)
    assert out[out["measure"] == "N"]["within_tolerance"].tolist() == [True, False]
    chi2 = out[out["measure"] == "chi2"].iloc[0]
    assert chi2["difference"] == 0.05 and not chi2["within_tolerance"]
    summary = calibration.summary(out)
    assert set(summary["measure"]) == {"n", "N", "chi2"}
