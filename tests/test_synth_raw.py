"""The messy-extract writer: determinism, documented problem rates, and its ground truth."""

import hashlib

import pandas as pd
import pytest

from msht.ingest import extracts as ingest
from msht.synth.raw import ProblemRates, write_extracts
from msht.synth.sampler import sample_population


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}


def test_same_seed_gives_byte_identical_files(tmp_path):
    pop = sample_population(120, seed=3)
    write_extracts(pop, tmp_path / "a", seed=11)
    write_extracts(pop, tmp_path / "b", seed=11)
    write_extracts(pop, tmp_path / "c", seed=12)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_problems_are_injected_at_their_documented_rates(small_raw):
    folder, pop, truth = small_raw
    n = len(pop.cases)
    rates = ProblemRates(conflict=0.02, victim_not_in_case_file=0.05)
    cases = truth[truth["extract"] == "cases"]["defect"].value_counts()
    assert cases["duplicate"] == round(rates.duplicate * n)
    assert cases["update_superseded"] == round(rates.update * n)
    assert cases["no_victim_id"] == round(rates.missing_victim_id * n)
    assert cases["conflicting"] == 2 * round(rates.conflict * n)
    offenders = truth[truth["extract"] == "offenders"]["defect"].value_counts()
    assert offenders["unmatched_offender"] == round(rates.unmatched_offender * len(pop.offenders))
    raw_cases = ingest.read_extract(folder, "cases").frame
    assert len(raw_cases) == n + len(truth[truth["extract"] == "cases"])


def test_missing_values_are_written_several_ways(small_raw):
    folder, _, _ = small_raw
    frame = pd.read_csv(folder / "cases.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    markers = set(frame["county_lines"]) & {"", "N/K", "Not known", "Unknown", "NK"}
    assert len(markers) >= 3


def test_manifest_labels_the_data_synthetic(small_raw):
    folder, _, _ = small_raw
    assert '"synthetic": true' in (folder / "MANIFEST.json").read_text()


def test_population_contract_is_checked():
    pop = sample_population(10, seed=1)
    pop.cases = pop.cases.drop(columns="engagement")
    with pytest.raises(ValueError, match="lacks columns"):
        write_extracts(pop, None, seed=1)  # type: ignore[arg-type]
