"""Disclosure control wired into notebooks 02-03 (params/release.yaml) and off by default."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest

from msht.analysis import describe, stats
from msht.base import formats
from msht.publish import association_tables, descriptive_tables, regression_tables, results, sdc

# release_run (tests/conftest.py): params/release.yaml run once per session on the default twin


def _small(values: pd.Series, m: int) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    return v.between(1, m - 1)


def test_release_results_hide_every_small_count_and_list_it(release_run):
    results_dir, _, m = release_run
    desc = results.read_csv("descriptives", results_dir)
    assoc = results.read_csv("associations", results_dir)
    supp = pd.read_csv(results_dir / "suppression.csv", dtype=str, keep_default_na=False)
    assert list(supp.columns) == list(sdc.SUPPRESSION_COLUMNS)
    counts = desc[~desc["level"].isin(sdc.NON_COUNT_LEVELS)]
    assert not _small(counts["n"], m).any()
    assert not _small(counts["denominator"], m).any()
    assert not _small(assoc["n"], m).any()
    assert not _small(assoc["denominator"], m).any()
    assert not _small(assoc["denominator"] - assoc["n"], m).any()
    listed = {(r.file, r.table, r.variable, r.level, r.column) for r in supp.itertuples()}
    for file, frame, tcol, vcol in (("descriptives", desc, "table", "variable"),
                                    ("associations", assoc, "outcome", "factor")):
        for col in ("n", "denominator"):
            for r in frame[frame[col].isna()].itertuples():
                if col == "denominator" and (r.level == "unknown" or r.level in sdc.NON_COUNT_LEVELS):
                    continue  # an unknown row, a statistic or a parameter may have no denominator
                if col == "n" and frame is desc and r.level in sdc.NON_COUNT_LEVELS - sdc.EXTREME_LEVELS - sdc.TEST_LEVELS:
                    continue
                key = (file, getattr(r, tcol), getattr(r, vcol), str(r.level), col)
                assert key in listed, key
    assert (supp["file"] == "descriptives").any()
    # every small descriptives count of the unprotected rows is listed as hidden
    hidden = supp[(supp["file"] == "descriptives") & (supp["column"] == "n")]
    assert (hidden["display"].isin([f"<{m}", "[c]"])).all()


_SMALL_PATTERNS = (
    re.compile(r"n\s*=\s*[1-4](?![\d,.])"),                 # "n=3"
    re.compile(r"%\s*\(n=[1-4]\)"),                          # "12.5% (n=3)"
    re.compile(r"\d+(?:\.\d+)?%?\s*\([1-4]\)"),              # "12.5 (3)"
)


def _texts(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            for kind in ("text/markdown", "text/html"):
                value = o.get("data", {}).get(kind)
                if value:
                    out.append("".join(value) if isinstance(value, list) else value)
    return "\n".join(out)


@pytest.mark.parametrize("name", ["02_descriptives.ipynb", "03_associations.ipynb"])
def test_release_notebooks_show_no_small_count_and_say_so(release_run, name):
    _, out_dir, m = release_run
    text = html.unescape(_texts(out_dir / name))
    for pattern in _SMALL_PATTERNS:
        assert not pattern.findall(text), (name, pattern.pattern, pattern.findall(text)[:5])
    note = sdc.disclosure_note(m)
    assert note and html.unescape(text).count(note) >= 2  # in the text and under the tables
    assert "nan" not in re.sub(r"<[^>]+>", " ", text).split()


def test_sdc_off_returns_the_unprotected_rows():
    rows = describe.tidy([
        describe.count_row("t", "v", "a", 3, 10), describe.count_row("t", "v", "b", 7, 10),
        {"table": "t", "variable": "v", "level": "unknown", "n": 2, "denominator": pd.NA, "pct": np.nan},
    ])
    protected = sdc.protect_descriptives(rows, 0)
    pd.testing.assert_frame_equal(results.conform(protected, "descriptives"), rows)
    parts = {"a": rows, "b": rows.assign(table="u")}
    combined, split = descriptive_tables.protect(parts, 0)
    pd.testing.assert_frame_equal(results.conform(combined, "descriptives"), describe.combine(parts))
    for key, frame in parts.items():
        pd.testing.assert_frame_equal(results.conform(split[key], "descriptives"), frame)
    assoc = pd.DataFrame({"outcome": ["offered"] * 2, "factor": ["victim_sex"] * 2, "level": ["male", "female"],
                          "n": [3, 40], "denominator": [10, 50], "pct": [30.0, 80.0], "statistic": [1.5, 1.5],
                          "df": [1, 1], "p": [0.2, 0.2], "test": ["Yates chi-square"] * 2})
    tests = pd.DataFrame({"outcome": ["offered"], "factor": ["victim_sex"], "odds_ratio": [0.1]})
    out = association_tables.protect(assoc, tests, tests.iloc[:0], tests.iloc[:0], 0, alpha=0.05)
    pd.testing.assert_frame_equal(results.conform(out["associations"], "associations"), assoc)
    pd.testing.assert_frame_equal(out["association_tests"], tests)
    assert out["suppression"].empty
    reg = pd.DataFrame({"outcome": ["offered"], "factor": ["victim_sex"], "level": ["female"], "n_level": [2],
                        "adjusted_or": [1.2], "ci_low": [0.5], "ci_high": [2.0], "p": [0.3], "N": [100]})
    frame, rows_ = regression_tables.protect_regression(reg, 0)
    pd.testing.assert_frame_equal(frame[reg.columns], reg)
    assert rows_.empty
    assert sdc.disclosure_note(0) == ""


def test_sdc_on_blanks_derived_files_and_regression():
    assoc = pd.DataFrame({"outcome": ["offered"] * 2, "factor": ["victim_sex"] * 2, "level": ["male", "female"],
                          "n": [3, 40], "denominator": [10, 50], "pct": [30.0, 80.0], "statistic": [1.5, 1.5],
                          "df": [1, 1], "p": [0.2, 0.2], "test": ["Yates chi-square"] * 2})
    tests = pd.DataFrame({"outcome": ["offered"], "factor": ["victim_sex"], "unit": ["cases"], "odds_ratio": [0.1],
                          "N": [60], "p_chosen": [0.2], "q_bh": [0.2], "significant_bh": [False]})
    resid = pd.DataFrame({"outcome": ["offered"], "factor": ["victim_sex"], "level": ["male"], "n": [3],
                          "expected_n": [7.0]})
    out = association_tables.protect(assoc, tests, resid, resid.iloc[:0], 5, alpha=0.05)
    assert out["associations"]["n"].isna().any()
    assert out["association_tests"]["odds_ratio"].isna().all() and out["association_tests"]["N"].isna().all()
    assert out["association_tests"]["unit"].tolist() == ["cases"]
    assert out["association_residuals"]["n"].isna().all()
    assert set(out["suppression"]["file"]) >= {"associations", "association_tests", "association_residuals"}
    table = association_tables.appendix4_display(out["associations"], out["association_tests"], ["victim_sex"])
    assert "(3)" not in table.to_string()
    reg = pd.DataFrame({"outcome": ["offered"] * 2, "factor": ["victim_sex", "victim_age2"],
                        "level": ["female", "17_and_under"], "reference": ["male", "adult"], "n_level": [2, 40],
                        "adjusted_or": [1.2, 0.8], "ci_low": [0.5, 0.4], "ci_high": [2.0, 1.6], "p": [0.3, 0.4],
                        "N": [100, 100], "n_dropped_missing": [0, 0], "note": ["", ""]})
    frame, rows_ = regression_tables.protect_regression(reg, 5)
    assert frame["n_level"].isna().all()
    assert pd.isna(frame.loc[0, "adjusted_or"]) and frame.loc[1, "adjusted_or"] == 0.8
    shown = regression_tables.regression_display(frame)
    assert shown.loc[0, "aor"] == "[c]" and shown.loc[0, "n_level"] == "[c]"
    assert len(rows_) == 2 + 4


def test_display_helpers_never_crash_on_hidden_values():
    assert formats.fmt_pct_n(pd.NA, 10, display="<5") == "[c]% (n<5)"
    assert formats.fmt_pct_n(pd.NA, 10, style="table", display="<5") == "[c] (<5)"
    assert formats.fmt_pct_n(7, pd.NA, style="table") == "[c] (7)"
    assert formats.fmt_pct_n(394, 2291) == "17.2% (n=394)"


def test_shown_q_values_adjust_only_the_published_tests():
    """Review 1.2: a q-value shown next to a withheld test must not depend on the withheld p."""
    factors = ["victim_sex", "victim_uk_national", "county_lines"]
    assoc = pd.DataFrame({"outcome": ["offered"] * 6, "factor": [f for f in factors for _ in (0, 1)],
                          "level": ["a", "b"] * 3, "n": [3, 40, 20, 20, 25, 15], "denominator": [10, 50, 40, 30, 45, 25],
                          "pct": [30.0, 80.0, 50.0, 66.7, 55.6, 60.0], "statistic": [1.5] * 6, "df": [1] * 6,
                          "p": [0.2] * 2 + [0.03] * 2 + [0.04] * 2, "test": ["Yates chi-square"] * 6})
    p = [0.2, 0.03, 0.04]
    tests = pd.DataFrame({"outcome": ["offered"] * 3, "factor": factors, "unit": ["cases"] * 3, "p_chosen": p,
                          "q_bh": stats.bh_qvalues(p), "significant_bh": stats.bh_qvalues(p) < 0.05})
    out = association_tables.protect(assoc, tests, tests.iloc[:0], tests.iloc[:0], 5, alpha=0.05)
    shown = out["association_tests"].set_index("factor")
    assert pd.isna(shown.at["victim_sex", "q_bh"]) and pd.isna(shown.at["victim_sex", "significant_bh"])
    expected = stats.bh_qvalues([0.03, 0.04])
    assert shown.loc[["victim_uk_national", "county_lines"], "q_bh"].astype(float).tolist() == pytest.approx(expected)
    assert shown.loc[["victim_uk_national", "county_lines"], "significant_bh"].tolist() == [True, True]
    assert "published tests only" in sdc.disclosure_note(5, out["associations"])


def _release_params(root, tmp_path, name: str):
    """A release's params file (``min_cell_count: 5``) whose outputs go under ``_output/<name>``."""
    import yaml

    text = yaml.safe_load((root / "params" / "release.yaml").read_text())
    text.update({"run_name": name, "results_dir": f"_output/{name}/results", "processed_dir": f"_output/{name}/processed",
                 "report_dir": f"_output/{name}/report"})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(text))
    return path


@pytest.mark.parametrize("failure", ["audit", "interrupt"])
def test_a_release_stopped_after_its_first_round_leaves_no_output(root, tmp_path, monkeypatch, failure):
    """Review 2.1: an error of the audit (shown as one ``msht: error:`` line, an AuditError) or an
    interrupted second round removes round 1's unprotected-by-the-audit outputs."""
    from msht import pipeline
    from msht.publish import audit

    name = f"sdc_stop_{failure}"
    path = _release_params(root, tmp_path, name)
    out = root / "_output" / name
    calls = []

    def runner(params_path, *, root):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        (out / "results").mkdir(parents=True, exist_ok=True)
        (out / "results" / "descriptives.csv").write_text("table\n")
        (out / "notebooks").mkdir(parents=True, exist_ok=True)
        (out / "notebooks" / "02_descriptives.ipynb").write_text("{}")
        return out / "notebooks"

    if failure == "audit":
        def broken(*args, **kwargs):
            raise RuntimeError("audit system infeasible or unsolved for x")
        monkeypatch.setattr(audit, "build", broken)
        expected = audit.AuditError
    else:
        monkeypatch.setattr(audit, "fixpoint", lambda publish, m: (publish(frozenset()), publish(frozenset())))
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        pipeline.protect_release(path, root=root, runner=runner)
    assert not (out / "results").exists() and not (out / "notebooks").exists()


def test_the_reference_run_cannot_be_a_release(root):
    """Review 2.2: a release removes what an unsafe run wrote; for ``run_name: default`` that
    would be the committed notebooks and results, so such params are refused in one line."""
    import yaml

    from msht import config

    raw = yaml.safe_load((root / "params" / "default.yaml").read_text())
    with pytest.raises(config.ParamsError, match=r"min_cell_count: 5 with run_name: default") as err:
        config.validate_params({**raw, "min_cell_count": 5}, source="params file p.yaml")
    assert "\n" not in str(err.value)
    assert config.validate_params({**raw, "min_cell_count": 1}).min_cell_count == 1


def test_an_outcome_whose_status_total_gives_a_hidden_unknown_back_hides_it_everywhere():
    """Review 1.1 (the policy): 2 of 81 cases with no offer status (hidden in section 3.4) while
    79 have one: the association rows of ``offered`` lose their denominators, percentages and
    tests, and the regression its population; ``accepted`` (6 of 17, none unknown) keeps them."""
    rows = pd.DataFrame({"outcome": ["offered", "offered", "offered", "accepted"], "factor": ["overall", "sex", "sex",
                         "overall"], "level": ["overall", "male", "female", "overall"], "n": [17, 12, 5, 6],
                         "denominator": [79, 55, 24, 17], "pct": [21.5, 21.8, 20.8, 35.3], "statistic": [None, 0.0, 0.0, None],
                         "df": [None, 1, 1, None], "p": [None, 1.0, 1.0, None], "test": [None, "Yates", "Yates", None]})
    assert association_tables.status_hidden(rows, 81, 5) == {"offered"}
    assert association_tables.status_hidden(rows, 79, 5) == set() and association_tables.status_hidden(rows, 81, 0) == set()
    tests = pd.DataFrame({"outcome": ["offered"], "factor": ["sex"], "unit": ["cases"], "p_chosen": [1.0], "q_bh": [1.0],
                          "significant_bh": [False]})
    out = association_tables.protect(rows, tests, tests.iloc[:0], tests.iloc[:0], 5, alpha=0.05, cases=81)
    offered = out["associations"][out["associations"]["outcome"] == "offered"]
    assert offered["denominator"].isna().all() and offered["pct"].isna().all() and offered["p"].isna().all()
    assert offered["n"].notna().all()
    assert out["associations"].loc[3, "denominator"] == 17
    assert out["association_tests"]["p_chosen"].isna().all()
    reg = pd.DataFrame({"outcome": ["offered"], "factor": [None], "level": [None], "n_level": [None], "adjusted_or": [None],
                        "ci_low": [None], "ci_high": [None], "p": [None], "N": [54], "n_population": [79],
                        "n_dropped_missing": [25]})
    frame, supp = regression_tables.protect_regression(reg, 5, {"offered"})
    # N is at most the population: with the population hidden, N (a lower bound of it) is hidden too
    assert frame[["n_population", "n_dropped_missing", "N"]].isna().all(axis=None)
    assert set(supp["column"]) == {"n_population", "n_dropped_missing", "N"}
