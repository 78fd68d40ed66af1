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
