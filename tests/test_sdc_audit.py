"""Issue 15: the attacker's audit (:mod:`msht.publish.audit`) over every published count of release runs.

A release run (``min_cell_count: 5``) of the default twin and of three small cuts (one year, one
quarter, a 10% sample of the cases) is run next to the same run without disclosure control (its
true values); each hidden count is bounded with :func:`scipy.optimize.milp` from everything
published, and must keep at least three feasible whole values.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from msht import pipeline
from msht.publish import audit
from msht.synth import generate
from msht.config import load_params

#: name -> (period_start, period_end, raw_dir or None for the default twin)
CUTS = {
    "release": ("2018-01-01", "2023-12-31", None),
    "year": ("2023-01-01", "2023-12-31", None),
    "quarter": ("2023-10-01", "2023-12-31", None),
    "sample10": ("2018-01-01", "2023-12-31", "data/raw/audit_sample10"),
}


def _run(root, tmp, name: str, m: int, start: str, end: str, raw_dir: str | None):
    text = yaml.safe_load((root / "params" / "release.yaml").read_text())
    run = f"audit_{name}_{m}"
    text.update({"run_name": run, "processed_dir": f"_output/{run}/processed", "results_dir": f"_output/{run}/results",
                 "report_dir": f"_output/{run}/report", "period_start": start, "period_end": end,
                 "min_cell_count": m})
    if raw_dir:
        text.update({"raw_dir": raw_dir, "synthetic": False})
    path = tmp / f"{run}.yaml"
    path.write_text(yaml.safe_dump(text))
    pipeline.run_notebooks(path, root=root)
    return root / "_output" / run / "results"


@pytest.fixture(scope="module")
def audits(root, tmp_path_factory):
    """Per cut: the audit frame (one row per hidden count)."""
    generate.generate(load_params(root / "params" / "default.yaml"))
    sample = root / CUTS["sample10"][2]
    shutil.rmtree(sample, ignore_errors=True)
    generate.sample_extracts(root / "data" / "raw" / "default", sample, 0.1)
    tmp = tmp_path_factory.mktemp("audit")
    out = {}
    for name, (start, end, raw) in CUTS.items():
        protected = _run(root, tmp, name, 5, start, end, raw)
        # the default twin's unprotected results are committed (the backtest's ground truth)
        truth = root / "results" / "default" if name == "release" else _run(root, tmp, name, 0, start, end, raw)
        out[name] = audit.audit(protected, truth, 5)
    return out


@pytest.mark.parametrize("name", list(CUTS))
def test_every_hidden_count_keeps_three_values_given_everything_published(audits, name):
    frame = audits[name]
    assert len(frame), f"{name}: nothing hidden (the audit would prove nothing)"
    assert ((frame["low"] <= frame["true"]) & (frame["true"] <= frame["high"])).all(), "audit model is wrong"
    required = frame[frame["required"]]
    narrow = required[required["values"] < audit.MIN_RANGE]
    print(f"{name}: {len(frame)} hidden counts ({len(required)} required to keep {audit.MIN_RANGE} values), "
          f"narrowest range {int(required['values'].min())} values")
    assert narrow.empty, narrow.to_string()


def test_audit_finds_the_outlier_count_that_main_published(audits, root):
    """The audit itself: with section 3.2's linked totals published again (as on main), it pins
    the outlier count (2) exactly."""
    import tempfile
    from pathlib import Path

    protected = root / "_output" / "audit_release_5" / "results"
    truth = root / "results" / "default"
    with tempfile.TemporaryDirectory() as tmp:
        leaky = Path(tmp)
        for f in protected.glob("*.csv"):
            shutil.copy(f, leaky / f.name)
        desc = pd.read_csv(leaky / "descriptives.csv", dtype={"level": str})
        true = pd.read_csv(truth / "descriptives.csv", dtype={"level": str})
        back = (desc["table"] == "section3_2") & (
            ((desc["variable"] == "entries_outliers") & (desc["level"] == "left_out"))
            | (desc["level"] == "unknown"))
        desc.loc[back & (desc["level"] == "left_out"), "denominator"] = true.loc[back & (desc["level"] == "left_out"),
                                                                                 "denominator"]
        desc.loc[back & (desc["level"] == "unknown"), "n"] = true.loc[back & (desc["level"] == "unknown"), "n"]
        desc.to_csv(leaky / "descriptives.csv", index=False)
        supp = pd.read_csv(leaky / "suppression.csv", dtype=str, keep_default_na=False)
        supp[supp["reason"] != "linked_total"].to_csv(leaky / "suppression.csv", index=False)
        frame = audit.audit(leaky, truth, 5)
    row = frame[frame["cell"] == "descriptives|section3_2|entries_outliers|left_out|n"].iloc[0]
    assert (row["true"], row["low"], row["high"]) == (2, 2, 2)
