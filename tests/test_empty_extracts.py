"""Issue 14 item 6: every extract at its smallest allowed size, and every factor whose level has
no case, runs end to end (``msht run``), and the report says plainly what could not be tested."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from msht import cli, pipeline
from msht.base import vocab
from msht.ingest import extracts as ingest
from msht.publish import quality
from msht.synth.raw import write_extracts
from msht.synth.sampler import sample_population


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("empty_base")
    write_extracts(sample_population(60, seed=9), folder, seed=9)
    return folder


def _header_only(folder, name):
    path = folder / f"{name}.csv"
    header = path.read_text(encoding="utf-8-sig" if name == "cases" else "cp1252").splitlines()[0]
    path.write_text(header + "\n", encoding="utf-8")


def _run(root, tmp_path, raw_dir, name, monkeypatch, in_process):
    """``msht run`` on ``raw_dir``, its four notebooks' code run in-process
    (``conftest.run_in_process``, seconds where papermill's kernels take tens; the default
    run's backtest and nbval run them in kernels): the exit code and the results folder."""
    params = yaml.safe_load((root / "params" / "default.yaml").read_text())
    params.update({"run_name": name, "synthetic": False, "raw_dir": str(raw_dir), "processed_dir": f"_output/{name}/processed",
                   "results_dir": f"_output/{name}/results", "report_dir": f"_output/{name}/report"})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params))
    monkeypatch.setattr(pipeline, "run_notebooks",
                        lambda params_path, root=root: in_process(params_path, root=root, notebooks=pipeline.NOTEBOOKS))
    code = cli.main(["run", "--params", str(path)])
    return code, root / "_output" / name / "results"


def test_header_only_spellings_table_is_empty_not_an_error():
    frames = {name: pd.DataFrame(columns=list(ingest.extract_fields(name))) for name in ingest.EXTRACTS}
    table = quality.spellings(frames)
    assert table.empty and list(table.columns) == ["extract", "field", "code", "raw_value", "n"]


@pytest.mark.parametrize("extract", sorted(vocab.EMPTY_EXTRACT_TESTS))
def test_the_empty_extract_statement_names_the_tests_not_run(extract):
    text = vocab.empty_extract_note(extract)
    assert text.startswith("the extract has no records: there were no ")
    for factor in vocab.EMPTY_EXTRACT_TESTS[extract][1]:
        assert factor in text


def test_every_extract_that_may_be_empty_has_its_statement():
    may = {n for n, spec in ingest.load_dictionary()["extracts"].items() if spec.get("may_be_empty")}
    assert may == set(vocab.EMPTY_EXTRACT_TESTS)


@pytest.mark.slow
def test_f11_header_only_offenders_and_police_records_run_end_to_end(root, tmp_path, twin, monkeypatch, in_process):
    raw = tmp_path / "raw"
    shutil.copytree(twin, raw)
    for name in ("offenders", "police_records"):
        _header_only(raw, name)
    name = "test_f11_header_only"
    try:
        code, results = _run(root, tmp_path, raw, name, monkeypatch, in_process)
        assert code == 0
        problems = pd.read_csv(results / "problems.csv")
        stated = set(problems["problem"])
        assert vocab.empty_extract_note("offenders") in stated
        assert vocab.empty_extract_note("police_records") in stated
        tests = pd.read_csv(results / "association_tests.csv")
        blocked = tests[tests["factor"].isin(["police_entries", "more_perp_than_victim", "recorded_offender"])]
        assert len(blocked) and blocked["note"].str.startswith("cannot test").all()
        exclusions = pd.read_csv(results / "exclusions.csv")
        assert (exclusions.loc[exclusions["entity"] == "offenders", "rows_in"] == 0).all()
    finally:
        shutil.rmtree(root / "_output" / name, ignore_errors=True)


@pytest.mark.slow
def test_one_case_one_victim_and_nothing_else_runs_end_to_end(root, tmp_path, twin, monkeypatch, in_process):
    """The smallest allowed extracts: one case entry, its victim record, header-only others; every
    factor then has levels with no case."""
    raw = tmp_path / "raw"
    raw.mkdir()
    cases = pd.read_csv(twin / "cases.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    victims = pd.read_csv(twin / "victims.csv", dtype=str, keep_default_na=False, encoding="cp1252")
    first = cases[cases["victim_person_id"] != ""].iloc[[0]]
    mine = victims[(victims["occurrence_number"] == first["occurrence_number"].iloc[0])
                   & (victims["person_id"] == first["victim_person_id"].iloc[0])]
    first.to_csv(raw / "cases.csv", index=False)
    mine.to_csv(raw / "victims.csv", index=False)
    for name in ("offenders", "police_records"):
        shutil.copy(twin / f"{name}.csv", raw / f"{name}.csv")
        _header_only(raw, name)
    name = "test_smallest_extracts"
    try:
        code, results = _run(root, tmp_path, raw, name, monkeypatch, in_process)
        assert code == 0
        exclusions = pd.read_csv(results / "exclusions.csv")
        assert int(exclusions.loc[exclusions["entity"] == "cases", "rows_out"].iloc[-1]) == 1
    finally:
        shutil.rmtree(root / "_output" / name, ignore_errors=True)
