"""Hypothesis profiles and the example budget of the property tests.

Profiles (chosen by ``$HYPOTHESIS_PROFILE``; else ``ci`` when ``$CI`` is set, else ``dev``):

- ``dev``: the everyday loop (``make test-unit``): at most :data:`DEV_EXAMPLES` examples per
  property test, new random draws on every run (so local runs keep finding new faults);
- ``full``: each property test's own budget (``make test`` on a developer's machine), random draws;
- ``ci``: the full budgets, derandomized: the same examples on every run (CI sets ``CI=true``), so
  that a submission's result does not depend on the draw.

A property test states its full budget with :func:`examples`, e.g.
``@settings(max_examples=examples(500))``: 500 under ``full`` and ``ci``, :data:`DEV_EXAMPLES`
under ``dev``. A test without an explicit count gets the profile's ``max_examples``.
"""

from __future__ import annotations

import os

from hypothesis import settings

#: Examples per property test in the everyday profile.
DEV_EXAMPLES = 20
#: The largest budget any property test states (the full profiles' cap).
FULL_EXAMPLES = 1000

settings.register_profile("dev", max_examples=DEV_EXAMPLES, deadline=None)
settings.register_profile("full", max_examples=FULL_EXAMPLES, deadline=None)
settings.register_profile("ci", max_examples=FULL_EXAMPLES, deadline=None, derandomize=True)


def load() -> str:
    """Load the profile named by the environment (see the module docstring); return its name."""
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    settings.load_profile(name)
    return name


def examples(n: int) -> int:
    """The number of examples a property test with full budget ``n`` runs under the loaded
    profile: ``n`` under ``full`` and ``ci``, at most :data:`DEV_EXAMPLES` under ``dev``."""
    if n > FULL_EXAMPLES:
        raise ValueError(f"a budget of {n} examples exceeds the full profiles' cap of {FULL_EXAMPLES}")
    return min(n, settings.default.max_examples)
