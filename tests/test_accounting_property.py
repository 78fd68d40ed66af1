"""Property: for arbitrary small messy extracts, every raw row is analysed or excluded for exactly
one named reason, and the exclusions table adds up (500 random extracts under the full Hypothesis
profile: issue 8's fuzzing).

Each example writes four extracts, reads them back and cleans them: about half a second, nearly all
of it pandas' fixed cost per call in the generator, ingest and cleaning (the frames hold 1-12
victims; the files are a few hundred bytes). The 500 examples are therefore split into
:data:`SHARDS` tests of equal budget, which ``pytest -n`` (``make test``) runs side by side. Under the
derandomized ``ci`` profile shard *k* draws from Hypothesis seed *k*, so the shards are four
different fixed sets of examples rather than the same set four times.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from msht.clean import rules as clean
from msht.ingest import extracts as ingest
from msht.synth.raw import ProblemRates, write_extracts
from msht.synth.sampler import sample_population

RULES = {rule for _, rule, _, _ in clean.RULES} | {clean.ANALYSED}
#: Tests the 500 examples are split into (each runs a quarter of them).
SHARDS = 4
BUDGET = 500


def check_every_raw_row_is_accounted_for(folder: Path, n_victims, seed_, dup, upd, miss, conflict, orphan, unmatched):
    """Write messy extracts of a population of ``n_victims`` into ``folder``, read and clean them,
    and check the accounting of every row."""
    pop = sample_population(n_victims, seed=seed_)
    rates = ProblemRates(duplicate=dup, update=upd, missing_victim_id=miss, conflict=conflict,
                         victim_not_in_case_file=orphan, unmatched_offender=unmatched)
    write_extracts(pop, folder, seed=seed_, rates=rates)
    extracts = ingest.read_all(folder)
    result = clean.clean({k: e.frame for k, e in extracts.items()})
    for name, ext in extracts.items():
        status = result.status[name]["status"]
        assert len(status) == len(ext.frame)
        assert set(status) <= RULES
        block = result.exclusions[result.exclusions["entity"] == clean.ENTITY[name]]
        assert int(block["rows_in"].iloc[0]) == len(ext.frame)
        assert int(block["excluded"].sum()) == int((status != clean.ANALYSED).sum())
        assert int(block["rows_out"].iloc[-1]) == int((status == clean.ANALYSED).sum())
    assert len(result.cases) == len(pop.cases)


@pytest.mark.property
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_raw_row_is_accounted_for(shard):
    with tempfile.TemporaryDirectory() as tmp:
        # one folder for all the shard's examples: write_extracts rewrites all four files each time
        folder = Path(tmp)

        @settings(max_examples=examples(BUDGET) // SHARDS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            n_victims=st.integers(min_value=1, max_value=12),
            seed_=st.integers(min_value=0, max_value=10_000),
            dup=st.floats(0, 0.5),
            upd=st.floats(0, 0.3),
            miss=st.floats(0, 0.3),
            conflict=st.floats(0, 0.3),
            orphan=st.floats(0, 0.5),
            unmatched=st.floats(0, 0.5),
        )
        def accounted(**draw):
            check_every_raw_row_is_accounted_for(folder, **draw)

        if settings.default.derandomize:
            accounted = seed(shard)(accounted)
        accounted()
