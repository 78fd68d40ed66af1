"""Shared fixtures (project paths, small synthetic extracts, the default twin and its release run),
the Hypothesis profile, and the kinds of tests.

Kinds, as pytest markers (``pytest -m unit``, ``-m "not slow"``), assigned in
:func:`pytest_collection_modifyitems` by file (:data:`FILE_KINDS`) or by a test's own marker:

- ``unit``: everything that is neither of the kinds below (tiny hand-made frames, small twins);
- ``property``: Hypothesis tests (found by their ``@given``); their budget follows the profile
  (see ``tests/hypothesis_profiles.py``);
- ``backtest``: byte-for-byte comparisons with committed outputs or with a second run, and nbval
  on the committed notebooks;
- ``slow``: end-to-end runs of the notebooks with papermill (tens of seconds each).

``make test-unit`` runs ``-m "not slow"`` under the everyday Hypothesis profile; ``make test``
runs everything, nbval included, under the full one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import hypothesis_profiles
from msht.config import load_params, project_root
from msht.synth.raw import ProblemRates, write_extracts
from msht.synth.sampler import sample_population

ROOT = project_root(Path(__file__).parent)

hypothesis_profiles.load()

KINDS = ("unit", "property", "backtest", "slow")

#: Kinds of every test of a file (on top of the kinds its tests mark themselves).
FILE_KINDS: dict[str, tuple[str, ...]] = {
    "test_determinism.py": ("backtest",),
    "test_sdc_pipeline.py": ("slow",),
    "test_sdc_audit.py": ("slow",),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test its kinds (see the module docstring); a test with none is ``unit``."""
    for item in items:
        path = Path(str(item.path))
        kinds = set(FILE_KINDS.get(path.name, ()))
        if path.suffix == ".ipynb":
            kinds.add("backtest")  # nbval: the committed notebooks' outputs, cell by cell
        if getattr(getattr(item, "obj", None), "hypothesis", None) is not None:
            kinds.add("property")
        kinds |= {m.name for m in item.iter_markers() if m.name in KINDS}
        for kind in sorted(kinds) or ["unit"]:
            item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def root() -> Path:
    """The project root."""
    return ROOT


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory) -> tuple[Path, object, object]:
    """Messy extracts of a small uncalibrated population: (folder, population, ground truth)."""
    out = tmp_path_factory.mktemp("raw_small")
    pop = sample_population(300, seed=7)
    truth = write_extracts(pop, out, seed=7, rates=ProblemRates(conflict=0.02, victim_not_in_case_file=0.05))
    return out, pop, truth


@pytest.fixture(scope="session")
def default_extracts(root):
    """The params of the default run, its synthetic extracts generated if missing (as ``make data``
    does): once per session, for every test that runs the default twin."""
    from msht import generate

    params = load_params(root / "params" / "default.yaml")
    generate.generate(params, log=lambda *_: None)
    return params


def params_variant(root: Path, folder: Path, name: str, base: str = "default", **changes) -> Path:
    """Write a copy of ``params/<base>.yaml`` as ``folder/<name>.yaml`` with run name ``name``,
    its outputs under ``_output/<name>/`` and ``changes`` applied; return its path."""
    text = yaml.safe_load((root / "params" / f"{base}.yaml").read_text())
    text.update({"run_name": name, "processed_dir": f"_output/{name}/processed", "results_dir": f"_output/{name}/results",
                 "report_dir": f"_output/{name}/report", **changes})
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(text))
    return path


@pytest.fixture(scope="session")
def default_run(root, tmp_path_factory, default_extracts) -> Path:
    """The default analysis run once per session with papermill into ``_output/backtest/`` (never
    in place: the committed notebooks and results/default are the ground truth it is compared
    with); returns that run's folder (``results/``, ``processed/``, ``notebooks/``)."""
    from msht import pipeline

    path = params_variant(root, tmp_path_factory.mktemp("default_run"), "backtest")
    pipeline.run_notebooks(path, root=root, log=lambda *_: None)
    return root / "_output" / "backtest"


@pytest.fixture(scope="session")
def release_run(root, tmp_path_factory, default_extracts) -> tuple[Path, Path, int]:
    """``params/release.yaml`` (disclosure control on) run once per session on the default twin,
    notebooks 01-04 writing under ``_output/sdc_check/``: (results folder, executed notebooks
    folder, min_cell_count)."""
    from msht import pipeline

    path = params_variant(root, tmp_path_factory.mktemp("release_run"), "sdc_check", base="release")
    out_dir = pipeline.run_notebooks(path, root=root, log=lambda *_: None)
    return root / "_output" / "sdc_check" / "results", out_dir, int(load_params(path).min_cell_count)
