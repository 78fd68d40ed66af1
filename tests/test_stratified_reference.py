"""Reference check: the stratified statistics of msht.analysis.stratified against R.

The fixtures in ``tests/fixtures/`` were written by ``tests/fixtures/stratified_reference.R`` (R 4.2.2,
Debian's r-base-core): ``mantelhaen.test`` (2×2×K with and without ``correct``, and I×J×K
generalized), its Mantel-Haenszel odds ratio and CI, a base-R Breslow-Day test with and without
Tarone's correction (textbook formula, expected cells by ``uniroot``), and the exact binomial
funnel-plot limits, on the hand-made tables of ``stratified_tables.csv``: R's UCBAdmissions, one of
the published force's Appendix 4 tables (offered support × victim sex) and one three-level table
(accepted support × victim age) split into three synthetic forces, a sparse table with zero cells, a
set of tables whose pooled odds ratio is exactly 1 (where statsmodels' Breslow-Day gives NaN), one
whose CMH difference is below 0.5 (no continuity correction in R), and a 3×3×2 table.

Tolerances: relative 1e-6 (absolute 1e-12 for values near 0) on every statistic, CI end and
p-value. R and Python use different algorithms for the Breslow-Day expected cells (root finding
to 1e-13 against the closed-form root) and both use double precision, so the agreement is in fact
near 1e-12; 1e-6 leaves room for another R or scipy version, far below the 3 decimals printed.
Funnel limits: absolute 1e-9 (a proportion; R's qbinom and scipy's binom.ppf agree exactly on
these quantiles).

The tests read the committed fixtures, so they run without R. :func:`test_fixture_regenerates`
reruns the R script into a temporary folder when ``Rscript`` is installed (it skips, with the
reason, when not) and checks the committed fixtures against it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable

from msht.analysis import stratified

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]
REL, ABS = 1e-6, 1e-12
LIMIT_ABS = 1e-9


def load_tables() -> dict[str, tuple[np.ndarray, list[str], list[str], list[str]]]:
    """The fixture tables as K×I×J arrays, with their stratum, row and column labels (CSV order)."""
    raw = pd.read_csv(FIXTURES / "stratified_tables.csv", dtype={"stratum": str, "row": str, "col": str})
    out = {}
    for name, sub in raw.groupby("table", sort=False):
        strata, rows, cols = (list(dict.fromkeys(sub[c])) for c in ("stratum", "row", "col"))
        arr = np.zeros((len(strata), len(rows), len(cols)), dtype=np.int64)
        for r in sub.itertuples():
            arr[strata.index(r.stratum), rows.index(r.row), cols.index(r.col)] = r.count
        out[str(name)] = (arr, strata, rows, cols)
    return out


def load_reference(folder: Path = FIXTURES) -> dict[tuple[str, str], dict[str, float]]:
    ref = pd.read_csv(folder / "stratified_reference.csv")
    return {(str(t), str(c)): dict(zip(g["quantity"], g["value"].astype(float), strict=True))
            for (t, c), g in ref.groupby(["table", "comparison"], sort=False)}


TABLES = load_tables()
REFERENCE = load_reference()
TWO_BY_TWO = [key for key in REFERENCE if "mh_or" in REFERENCE[key]]
GENERAL = [key for key in REFERENCE if "gcmh_statistic" in REFERENCE[key]]


def _sub_table(table: str, comparison: str) -> np.ndarray:
    arr, _strata, rows, _cols = TABLES[table]
    if comparison == "all":
        return arr
    level, reference = comparison.split(" vs ")
    return arr[:, [rows.index(level), rows.index(reference)], :]


def test_fixture_covers_the_brief() -> None:
    assert set(TABLES) == {t for t, _ in REFERENCE}
    assert ("appendix4_offered_victim_sex", "all") in TWO_BY_TWO
    assert ("appendix4_accepted_victim_age3", "all") in GENERAL
    assert ("appendix4_accepted_victim_age3", "25_plus vs 17_and_under") in TWO_BY_TWO
    assert (TABLES["sparse_zero_cells"][0] == 0).any()
    # The published table, split: the forces add up to Appendix 4's counts (272 of 1664, 121 of 613).
    assert TABLES["appendix4_offered_victim_sex"][0].sum(axis=0).tolist() == [[272, 1392], [121, 492]]
    assert TABLES["appendix4_accepted_victim_age3"][0].sum(axis=0).tolist() == [[12, 127], [14, 43], [83, 111]]
    assert REFERENCE[("heterogeneous_mh_or_one", "all")]["mh_or"] == 1.0


@pytest.mark.parametrize(("table", "comparison"), TWO_BY_TWO)
def test_mantel_haenszel_matches_r(table: str, comparison: str) -> None:
    ref = REFERENCE[(table, comparison)]
    arr = _sub_table(table, comparison)
    strata = TABLES[table][1]
    corrected = stratified.mantel_haenszel(arr, strata, correction=True)
    plain = stratified.mantel_haenszel(arr, strata, correction=False)
    assert corrected.n_strata == arr.shape[0] and corrected.notes == ()
    got = {
        "mh_or": corrected.mh_or, "ci_low": corrected.ci_low, "ci_high": corrected.ci_high,
        "cmh_corrected_statistic": corrected.cmh_statistic, "cmh_corrected_p": corrected.cmh_p,
        "cmh_statistic": plain.cmh_statistic, "cmh_p": plain.cmh_p,
        "tarone_statistic": corrected.homogeneity_statistic, "tarone_p": corrected.homogeneity_p,
        "homogeneity_df": corrected.homogeneity_df,
    }
    for quantity, value in got.items():
        assert value == pytest.approx(ref[quantity], rel=REL, abs=ABS), quantity
    assert corrected.homogeneity_test == stratified.HOMOGENEITY_BD


@pytest.mark.parametrize(("table", "comparison"), TWO_BY_TWO)
def test_breslow_day_matches_r(table: str, comparison: str) -> None:
    ref = REFERENCE[(table, comparison)]
    arr = _sub_table(table, comparison)
    bd, tarone = stratified.breslow_day(arr, ref["mh_or"])
    assert bd == pytest.approx(ref["bd_statistic"], rel=REL, abs=ABS)
    assert tarone == pytest.approx(ref["tarone_statistic"], rel=REL, abs=ABS)


@pytest.mark.parametrize(("table", "comparison"), TWO_BY_TWO)
def test_statsmodels_agrees_where_it_is_defined(table: str, comparison: str) -> None:
    """statsmodels' own Breslow-Day and uncorrected CMH agree with R, except the Breslow-Day at a
    pooled odds ratio of exactly 1, where it divides 0 by 0: why stratified has its own root."""
    ref = REFERENCE[(table, comparison)]
    st = StratifiedTable(np.transpose(_sub_table(table, comparison), (1, 2, 0)).astype(float))
    assert st.test_null_odds(correction=False).statistic == pytest.approx(ref["cmh_statistic"], rel=REL)
    with np.errstate(invalid="ignore", divide="ignore"):
        tarone = st.test_equal_odds(adjust=True).statistic
    if table == "heterogeneous_mh_or_one":
        assert np.isnan(tarone)
    else:
        assert tarone == pytest.approx(ref["tarone_statistic"], rel=REL, abs=ABS)


def test_continuity_correction_only_for_a_difference_of_at_least_half() -> None:
    """R corrects only when |sum(a - E[a])| >= 0.5; statsmodels would subtract 0.5 regardless."""
    ref = REFERENCE[("small_difference_no_correction", "all")]
    assert ref["cmh_corrected_statistic"] == ref["cmh_statistic"]
    arr = TABLES["small_difference_no_correction"][0]
    res = stratified.mantel_haenszel(arr, ["s1", "s2"], correction=True)
    assert res.cmh_statistic == pytest.approx(ref["cmh_statistic"], rel=REL)
    st = StratifiedTable(np.transpose(arr, (1, 2, 0)).astype(float))
    assert st.test_null_odds(correction=True).statistic != pytest.approx(ref["cmh_statistic"], rel=1e-3)


@pytest.mark.parametrize(("table", "comparison"), GENERAL)
def test_generalized_cmh_matches_r(table: str, comparison: str) -> None:
    ref = REFERENCE[(table, comparison)]
    statistic, df, p, note = stratified.generalized_cmh(TABLES[table][0])
    assert statistic == pytest.approx(ref["gcmh_statistic"], rel=REL)
    assert df == ref["gcmh_df"]
    assert p == pytest.approx(ref["gcmh_p"], rel=REL, abs=ABS)
    assert note == ""


@pytest.mark.parametrize(("table", "comparison"), TWO_BY_TWO)
def test_generalized_cmh_of_a_2x2xk_table_is_the_uncorrected_cmh(table: str, comparison: str) -> None:
    statistic, df, p, _ = stratified.generalized_cmh(_sub_table(table, comparison))
    assert df == 1
    assert statistic == pytest.approx(REFERENCE[(table, comparison)]["cmh_statistic"], rel=REL)


def test_funnel_limits_match_r() -> None:
    ref = pd.read_csv(FIXTURES / "funnel_limits_reference.csv")
    got = [float(stratified.binomial_limit(np.array([r.n]), r.p0, r.prob)[0]) for r in ref.itertuples()]
    np.testing.assert_allclose(got, ref["limit"].to_numpy(), rtol=0, atol=LIMIT_ABS)


def test_fixture_regenerates(tmp_path: Path) -> None:
    """Rerun the R script into ``tmp_path``; the committed fixtures must agree with it."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript is not installed (apt-get install r-base-core): the committed fixtures are used as they are")
    script = FIXTURES / "stratified_reference.R"
    subprocess.run([rscript, str(script), str(tmp_path)], cwd=ROOT, check=True, capture_output=True, timeout=300)
    fresh, committed = load_reference(tmp_path), REFERENCE
    assert fresh.keys() == committed.keys()
    for key, values in committed.items():
        assert fresh[key].keys() == values.keys()
        for quantity, value in values.items():
            assert fresh[key][quantity] == pytest.approx(value, rel=REL, abs=ABS), (key, quantity)
    limits = pd.read_csv(tmp_path / "funnel_limits_reference.csv")
    old = pd.read_csv(FIXTURES / "funnel_limits_reference.csv")
    pd.testing.assert_frame_equal(limits[["p0", "n", "prob"]], old[["p0", "n", "prob"]])
    np.testing.assert_allclose(limits["limit"], old["limit"], rtol=0, atol=LIMIT_ABS)
