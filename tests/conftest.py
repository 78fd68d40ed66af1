"""Shared fixtures: project paths and small synthetic extracts written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import os

import pytest
from hypothesis import settings

from msht.config import project_root
from msht.synth.raw import ProblemRates, write_extracts
from msht.synth.sampler import sample_population

ROOT = project_root(Path(__file__).parent)

# Hypothesis profiles: `default` (what `make test` runs locally), `quick` for the everyday loop
# (HYPOTHESIS_PROFILE=quick pytest -m "not slow"), `thorough` for a deeper search. A test's own
# @settings(max_examples=...) wins over the profile.
settings.register_profile("quick", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
# `ci`: the same examples on every run (CI sets CI=true), so that a submission's result does not
# depend on the draw; local runs keep drawing new examples and so keep finding new faults.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


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


def run_in_process(params_path, *, root: Path, log=None, notebooks: tuple[str, ...] | None = None) -> Path:
    """Run the code cells of notebooks 01-03 (or ``notebooks``) in this process, in order, with
    the parameters of ``params_path`` in place of the ``parameters`` cell: the same code and the
    same results files as ``msht run`` without a kernel per notebook (seconds instead of tens
    of seconds). Outputs are not kept; returns the run's results folder."""
    import json
    import os
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt

    from msht import pipeline
    from msht.config import STAGING_ENV, load_params

    matplotlib.use("Agg")
    params = load_params(params_path)
    assert not os.environ.get(STAGING_ENV), "an in-process run writes straight to the run's folders"
    cwd = os.getcwd()
    os.chdir(root / "notebooks")
    try:
        for name in notebooks or pipeline.NOTEBOOKS[:3]:
            ns = dict(params.as_dict())
            for cell in json.loads((root / "notebooks" / name).read_text(encoding="utf-8"))["cells"]:
                tags = cell.get("metadata", {}).get("tags", [])
                if cell["cell_type"] != "code" or {"parameters", "injected-parameters"} & set(tags):
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(compile("".join(cell["source"]), name, "exec"), ns)
            plt.close("all")
    finally:
        os.chdir(cwd)
    return root / params.results_dir


@pytest.fixture(scope="session")
def in_process():
    """:func:`run_in_process`, for tests that run notebooks 01-03 on small cuts."""
    return run_in_process
