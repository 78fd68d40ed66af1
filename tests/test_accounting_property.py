"""Property: for arbitrary small messy extracts, every raw row is analysed or excluded for exactly
one named reason, and the exclusions table adds up (500 random extracts: issue 8's fuzzing)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msht.clean import rules as clean
from msht.ingest import extracts as ingest
from msht.synth.raw import ProblemRates, write_extracts
from msht.synth.sampler import sample_population

RULES = {rule for _, rule, _, _ in clean.RULES} | {clean.ANALYSED}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_victims=st.integers(min_value=1, max_value=12),
    seed=st.integers(min_value=0, max_value=10_000),
    dup=st.floats(0, 0.5),
    upd=st.floats(0, 0.3),
    miss=st.floats(0, 0.3),
    conflict=st.floats(0, 0.3),
    orphan=st.floats(0, 0.5),
    unmatched=st.floats(0, 0.5),
)
def test_every_raw_row_is_accounted_for(n_victims, seed, dup, upd, miss, conflict, orphan, unmatched):
    pop = sample_population(n_victims, seed=seed)
    rates = ProblemRates(duplicate=dup, update=upd, missing_victim_id=miss, conflict=conflict,
                         victim_not_in_case_file=orphan, unmatched_offender=unmatched)
    with tempfile.TemporaryDirectory() as tmp:
        write_extracts(pop, Path(tmp), seed=seed, rates=rates)
        extracts = ingest.read_all(Path(tmp))
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
