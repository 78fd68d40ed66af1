"""Determinism: two runs on the same input give byte-identical results CSVs.

Each run generates the synthetic extracts into its own folder, reads, cleans (with a *different*
random pseudonymisation key: results must not depend on it), writes and reads back the analysis
tables, computes the descriptives and the associations, applies disclosure control, and writes
the results CSVs. The lib functions are called directly, as the notebooks call them (no
papermill), and the files are compared by SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest

from msht.analysis import associate, describe
from msht.clean import rules as clean
from msht.ingest import extracts as ingest
from msht.publish import quality, results, sdc
from msht.synth.raw import ProblemRates, write_extracts
from msht.synth.sampler import sample_population


class Params:
    period_start, period_end, force_words = "2018-01-01", "2023-12-31", ["police", "constabulary", "force"]
    outlier_min_entries = 1500


def one_run(folder: Path, min_cell_count: int = 0) -> dict[str, str]:
    """Run the pipeline's lib steps into ``folder``; return {file name: SHA-256} of the results."""
    raw, processed, out = folder / "raw", folder / "processed", folder / "results"
    write_extracts(sample_population(120, seed=11), raw, seed=11, rates=ProblemRates(conflict=0.02))
    extracts = ingest.read_all(raw)
    result = clean.clean_extracts(extracts, Params, key=secrets.token_bytes(32))
    clean.write_tables(result, processed)
    data = clean.read_tables(processed)
    frames = {name: e.frame for name, e in extracts.items()}
    parts = describe.section3(
        data["cases"],
        data["victims"],
        data["offenders"],
        outlier_min_entries=Params.outlier_min_entries,
        years=describe.period_years(Params.period_start, Params.period_end),
    )
    descriptives = describe.combine(parts)
    rows, seed_tests = associate.run_all(data["cases"], data["offenders"])
    tests = associate.test_table(seed_tests, 0.05)
    protected_desc = sdc.protect_descriptives(descriptives, min_cell_count)
    protected_assoc = sdc.protect_associations(rows, min_cell_count)
    written = {
        "inputs": ingest.inputs_table(extracts),
        "input_warnings": ingest.input_warnings(extracts, period_end=Params.period_end),
        "exclusions": result.exclusions,
        "completeness": quality.completeness(frames),
        "spellings": quality.spellings(frames),
        "problems": quality.problems(result.status),
        "descriptives": protected_desc,
        "associations": protected_assoc,
        "association_tests": tests,
        "association_residuals": associate.residual_rows(seed_tests),
        "suppression": sdc.suppression_table(protected_desc, protected_assoc),
    }
    hashes = {}
    for name, frame in written.items():
        path = results.write_csv(frame, name, out)
        hashes[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


@pytest.mark.parametrize("min_cell_count", [0, 5])
def test_two_runs_give_byte_identical_results(tmp_path, min_cell_count):
    first = one_run(tmp_path / "first", min_cell_count)
    second = one_run(tmp_path / "second", min_cell_count)
    assert first.keys() == second.keys() and len(first) >= 10
    differing = sorted(name for name in first if first[name] != second[name])
    assert not differing, f"results differ between two runs on the same input: {differing}"


def test_the_synthetic_extracts_themselves_are_identical(tmp_path):
    for sub in ("a", "b"):
        write_extracts(sample_population(60, seed=5), tmp_path / sub, seed=5)
    for name in ingest.EXTRACTS:
        a, b = (ingest.sha256_of(tmp_path / sub / f"{name}.csv") for sub in ("a", "b"))
        assert a == b, f"{name}.csv differs between two generations with the same seed"
