"""Issue 17: the twin in another force's layout (other file names and headers, coded values
including exploitation types as numbers, an .xlsx with a cover sheet and a title row), read through the mappings of ``params/other_layout.yaml`` alone,
gives the default run's results."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pandas as pd
import pytest

from msht import pipeline
from msht.config import load_params
from msht.ingest import extracts as ingest
from msht.synth import generate

#: Results files that describe the input files themselves, not the analysis: their names and
#: checksums (inputs.csv), the raw spellings of coded values (spellings.csv: a coded layout writes
#: "1" where the default twin writes "Male", "M", "male"...) and the run's own params.
DESCRIBE_THE_FILES = {"inputs.csv", "spellings.csv", "run_params.yaml"}


def _params_in(tmp_path: Path, root: Path) -> Path:
    text = (root / "params" / "other_layout.yaml").read_text(encoding="utf-8")
    for key in ("raw_dir", "processed_dir", "results_dir", "report_dir"):
        old = next(line for line in text.splitlines() if line.startswith(f"{key}:"))
        text = text.replace(old, f"{key}: {tmp_path / key}")
    path = tmp_path / "other_layout.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.backtest
def test_other_layout_runs_through_mappings_alone_with_the_default_results(root, tmp_path, in_process):
    params_path = _params_in(tmp_path, root)
    params = load_params(params_path)
    raw_dir = generate.generate(params)
    assert sorted(p.name for p in raw_dir.iterdir() if p.is_file()) == [
        "MANIFEST.json", "MSHT_Cases_Export.xlsx", "Nominal_Involvements.csv", "Suspects_Offenders.csv",
        "Victim_Nominals.csv"]
    header = pd.read_csv(raw_dir / "Victim_Nominals.csv", nrows=0, encoding="cp1252").columns.tolist()
    assert header == ["OccRef", "Vic_URN", "Sex_Cd", "Birth_Dt", "Age_Yrs", "Nat"]
    with pytest.raises(ingest.ExtractError):  # without the mappings the files cannot be read
        ingest.read_all(raw_dir)
    results = in_process(params_path, root=root, notebooks=pipeline.NOTEBOOKS)
    default = root / "results" / "default"
    names = sorted(p.name for p in default.glob("*.csv") if p.name not in DESCRIBE_THE_FILES)
    assert names and not [n for n in names if not filecmp.cmp(default / n, results / n, shallow=False)]
    figures = sorted(p.name for p in (default / "figures").iterdir())
    assert not [n for n in figures if not filecmp.cmp(default / "figures" / n, results / "figures" / n, shallow=False)]
    inputs = pd.read_csv(results / "inputs.csv")
    assert inputs["file"].tolist() == ["MSHT_Cases_Export.xlsx", "Victim_Nominals.csv", "Nominal_Involvements.csv",
                                       "Suspects_Offenders.csv"]
    assert inputs["rows"].tolist() == pd.read_csv(default / "inputs.csv")["rows"].tolist()
