"""Issue 15's findings on tiny frames: what a release publishes, attacked as the issue did.

Finding 5 (near miss): "accepted support" by referral type with MS1 3 of 55 (``"<5"``) and NRM
48 of 339 (hidden as a secondary) keeps four linear values for MS1 (1 to 4), but the printed p
band (p≥0.05) rules out 1 and 2. Finding 2 and item 3 of the brief: data-quality tables
(``problems.csv``, ``exclusions.csv``, the flow diagram) publish counts of 1 to m-1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from msht import associate, audit, results, sdc

M = 5


def _assoc(cells: dict[str, tuple[int, int]], outcome: str = "accepted", factor: str = "referral_form") -> pd.DataFrame:
    """Association rows of one 2-level block plus the outcome's overall row, with the block's real
    seed-convention statistic and p."""
    levels = list(cells)
    table = np.array([[n, d - n] for n, d in cells.values()])
    res = chi2_contingency(table, correction=True)
    rows = [{"outcome": outcome, "factor": "overall", "level": "overall", "n": int(table[:, 0].sum()),
             "denominator": int(table.sum()), "pct": round(100 * table[:, 0].sum() / table.sum(), 1),
             "statistic": np.nan, "df": pd.NA, "p": np.nan, "test": ""}]
    for level, (n, d) in zip(levels, cells.values(), strict=True):
        rows.append({"outcome": outcome, "factor": factor, "level": level, "n": n, "denominator": d,
                     "pct": round(100 * n / d, 1), "statistic": float(res.statistic), "df": 1,
                     "p": float(res.pvalue), "test": "Yates chi-square"})
    out = pd.DataFrame(rows)
    out["df"] = out["df"].astype("Int64")
    return out


NEAR_MISS = {"ms1": (3, 55), "nrm": (48, 339)}


def _release(tmp_path, rows: pd.DataFrame, suppression: pd.DataFrame | None = None):
    """Write a tiny protected release (associations.csv, suppression.csv) and its true values."""
    protected = sdc.protect_associations(rows, M)
    pub, truth = tmp_path / "pub", tmp_path / "truth"
    results.write_csv(protected, "associations", pub)
    supp = sdc.suppression_table(associations=protected) if suppression is None else suppression
    results.write_csv(supp, "suppression", pub)
    results.write_csv(rows, "associations", truth)
    return protected, pub, truth


def test_finding5_the_printed_p_band_does_not_narrow_a_hidden_count(tmp_path):
    """The p row that Appendix 4 prints for a block with hidden cells is not a band that, with
    the block's published totals, leaves a hidden count fewer than three values; and the audit
    over the published files keeps three values for every hidden count."""
    rows = _assoc(NEAR_MISS)
    protected, pub, truth = _release(tmp_path, rows)
    ms1 = protected[(protected["factor"] == "referral_form") & (protected["level"] == "ms1")].iloc[0]
    assert ms1["suppressed"] and ms1["display"] == "<5"
    table = associate.appendix4_display(protected, pd.DataFrame(columns=["outcome", "factor", "test_chosen"]),
                                        ["referral_form"], outcomes=["accepted"])
    printed = table.loc[table["row"] == "p", "accepted"].item()
    if printed.startswith("p"):  # a band is printed: what it leaves of MS1's count
        found = audit.band_consistent_values([(1, M - 1), (0, 51)], [(55, 55), (339, 339)], printed, 51, 394)
        assert len(found[0][0]) >= audit.MIN_RANGE, (printed, found[0][0])
    frame = audit.audit(pub, truth, M)
    assert frame["values"].min() >= audit.MIN_RANGE, frame.to_string()


def test_audit_models_a_printed_p_band(tmp_path):
    """The audit itself: with the band printed (as Appendix 4 did), MS1's count keeps only 3 or 4."""
    rows = _assoc(NEAR_MISS)
    protected = sdc.protect_associations(rows, M)
    supp = sdc.suppression_table(associations=protected)
    band = sdc.p_band(float(rows["p"].iloc[1]))
    assert band == "p≥0.05"
    supp.loc[supp["column"] == "p", "display"] = band
    _, pub, truth = _release(tmp_path, rows, supp)
    frame = audit.audit(pub, truth, M).set_index("cell")
    row = frame.loc["associations|accepted|referral_form|ms1|n"]
    assert (row["low"], row["high"], row["values"], row["band"]) == (3, 4, 2, band)


def test_seed_p_is_scipys_chi2_contingency():
    rng = np.random.default_rng(15)
    for k in (2, 3, 5):
        d = rng.integers(1, 80, size=(40, k))
        n = rng.integers(0, 1_000, size=(40, k)) % (d + 1)
        got = audit.seed_p(n, d)
        for row in range(40):
            table = np.stack([n[row], d[row] - n[row]], axis=1)
            if (table.sum(axis=0) == 0).any():
                assert np.isnan(got[row])
                continue
            assert got[row] == pytest.approx(chi2_contingency(table, correction=True).pvalue, rel=1e-9, abs=1e-300)
