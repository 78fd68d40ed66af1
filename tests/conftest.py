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


#: The run name of the shared release run (:func:`release_run`).
RELEASE_RUN = "sdc_check"


@pytest.fixture(scope="session")
def release_run(root, tmp_path_factory) -> tuple[Path, Path, int]:
    """The default twin run once per session with a copy of params/release.yaml (disclosure
    control on) writing under _output/sdc_check/: (results folder, executed notebooks folder,
    min_cell_count), run as ``msht run`` runs a release (:func:`msht.audit.protect_release`).
    Shared by the disclosure-control tests; its processed folder holds the unprotected values
    (``unprotected/``) the audit checks against."""
    import yaml

    from msht import audit, generate
    from msht.config import load_params

    generate.generate(load_params(root / "params" / "default.yaml"), log=lambda *_: None)
    text = yaml.safe_load((root / "params" / "release.yaml").read_text())
    text.update({"run_name": RELEASE_RUN, "processed_dir": f"_output/{RELEASE_RUN}/processed",
                 "results_dir": f"_output/{RELEASE_RUN}/results", "report_dir": f"_output/{RELEASE_RUN}/report"})
    path = tmp_path_factory.mktemp("sdc") / f"{RELEASE_RUN}.yaml"
    path.write_text(yaml.safe_dump(text))
    out_dir = audit.protect_release(path, root=root, log=lambda *_: None)  # what `msht run` does
    return root / "_output" / RELEASE_RUN / "results", out_dir, int(text["min_cell_count"])
