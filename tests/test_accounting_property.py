"""Property: for arbitrary small messy extracts, every raw row is analysed or excluded for exactly
one named reason, and the exclusions table adds up (500 random extracts under the full Hypothesis
profile: issue 8's fuzzing).

Reading and cleaning a set of extracts costs about half a second whatever its size (pandas' and
pandera's fixed cost per call; the frames hold 1-12 victims, the files are a few hundred bytes).
So each Hypothesis example is a batch of :data:`BATCH` independent datasets, each with its own
population, seed and defect rates: each is written as ``msht.synth`` writes it, its identifiers
are put in a namespace of their own (``P1000007`` -> ``PA1000007``, ``MS/2018/000103`` ->
``MSA/2018/000103`` for the first dataset, ``PB...``/``MSB/...`` for the second...), and the
batch's four files (the datasets' rows one after another) are read and cleaned once. The
accounting is then checked for the batch's exclusions table and for every dataset's rows;
:func:`test_a_batch_cleans_each_dataset_as_if_alone` shows that batching changes no row's status,
and :func:`test_every_raw_row_of_a_lone_dataset_is_accounted_for` checks :data:`ALONE_EXAMPLES`
datasets alone as well (tiny extracts' edge cases: one victim, header-only files).
The :data:`EXAMPLES` batches (:data:`BUDGET` datasets) are split into :data:`SHARDS` tests of equal
budget, which ``pytest -n`` (``make test``) runs side by side. Under the derandomized ``ci``
profile shard *k* draws from Hypothesis seed *k*, so the shards are different fixed sets of examples
rather than the same set five times.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from hypothesis_profiles import FULL_EXAMPLES, examples
from msht.clean import rules as clean
from msht.ingest import extracts as ingest
from msht.synth.raw import INVISIBLE, SOFT_HYPHEN, ProblemRates, write_extracts
from msht.synth.sampler import sample_population

RULES = {rule for _, rule, _, _ in clean.RULES} | {clean.ANALYSED}
#: Datasets that the full profiles check (issue 8: 500 random extracts).
BUDGET = 500
#: Datasets per Hypothesis example (one write, read and clean of the batch's files).
BATCH = 10
#: Hypothesis examples under the full profiles (BUDGET datasets).
EXAMPLES = BUDGET // BATCH
#: Tests the examples are split into (each runs a fifth of them).
SHARDS = 5
#: Examples of a lone dataset (a batch of one) under the full profiles, on top of the batches
#: (one test, budgeted as one of SHARDS parts: a fifth of the ``dev`` budget in everyday runs).
ALONE_EXAMPLES = 40

#: The extracts as msht.synth writes them: file name and encoding.
FILES = {"cases": ("cases.csv", "utf-8-sig"), "victims": ("victims.csv", "cp1252"),
         "police_records": ("police_records.csv", "utf-8"), "offenders": ("offenders.csv", "utf-8")}
_HIDDEN = "[" + "".join(INVISIBLE) + SOFT_HYPHEN + "]?"
#: Person IDs (``P`` + digits) and occurrence numbers (``MS/``), a format character allowed after
#: the first letter as ``msht.synth`` hides them.
_PERSON = re.compile(rf"(?<![0-9A-Za-z])P(?={_HIDDEN}[0-9])")
_OCCURRENCE = re.compile(rf"(?<![0-9A-Za-z])(M{_HIDDEN}S)/")

dataset = st.fixed_dictionaries({
    "n_victims": st.integers(min_value=1, max_value=12),
    "seed_": st.integers(min_value=0, max_value=10_000),
    "dup": st.floats(0, 0.5),
    "upd": st.floats(0, 0.3),
    "miss": st.floats(0, 0.3),
    "conflict": st.floats(0, 0.3),
    "orphan": st.floats(0, 0.5),
    "unmatched": st.floats(0, 0.5),
})


def tag(i: int) -> str:
    """The namespace letter of the ``i``-th dataset of a batch."""
    return chr(ord("A") + i)


def write_dataset(folder: Path, i: int, n_victims, seed_, dup, upd, miss, conflict, orphan, unmatched):
    """Write messy extracts of a population of ``n_victims`` into ``folder``; return the
    population and the four files' text with the identifiers in namespace :func:`tag` ``(i)``."""
    pop = sample_population(n_victims, seed=seed_)
    rates = ProblemRates(duplicate=dup, update=upd, missing_victim_id=miss, conflict=conflict,
                         victim_not_in_case_file=orphan, unmatched_offender=unmatched)
    write_extracts(pop, folder, seed=seed_, rates=rates)
    texts = {}
    for name, (file, encoding) in FILES.items():
        text = (folder / file).read_bytes().decode(encoding)
        texts[name] = _OCCURRENCE.sub(rf"\g<1>{tag(i)}/", _PERSON.sub("P" + tag(i), text))
    rows = json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))["rows"]
    return pop, texts, rows


def write_batch(folder: Path, datasets: list[dict]):
    """Write each dataset (its own subfolder), then the batch's four extracts into
    ``folder/batch``: one header, then every dataset's rows in turn. Returns the populations and
    the rows each dataset wrote per extract."""
    pops, texts, rows = [], {name: [] for name in FILES}, []
    for i, draw in enumerate(datasets):
        pop, text, n = write_dataset(folder / f"d{i}", i, **draw)
        pops.append(pop)
        rows.append(n)
        for name in FILES:
            texts[name].append(text[name])
    out = folder / "batch"
    out.mkdir(parents=True, exist_ok=True)
    for name, (file, encoding) in FILES.items():
        header, *bodies = [t.split("\n", 1) for t in texts[name]]
        assert all(h == header[0] for h, _ in bodies), f"{file}: the datasets' headers differ"
        (out / file).write_bytes((header[0] + "\n" + header[1] + "".join(b for _, b in bodies)).encode(encoding))
    return out, pops, rows


def check_exclusions_block(block, status, extract: str) -> None:
    """Every row of an entity's block of the exclusions table, not only its ends: the entity's
    rules in :data:`msht.clean.rules.RULES`' order, each rule's ``excluded`` the number of rows
    with that status, ``rows_in - excluded == rows_out`` on each row, and each row's ``rows_in``
    the previous row's ``rows_out`` (the first the raw rows; the last ``rows_out`` the rows
    analysed). A miscount in any one rule, the last included, fails here."""
    rules = [rule for _, rule, entity, _ in clean.RULES if entity == clean.ENTITY[extract]]
    assert block["rule"].tolist() == rules, extract
    counts = status.value_counts()
    rows_in, excluded, rows_out = (block[col].astype(int).tolist() for col in ("rows_in", "excluded", "rows_out"))
    assert excluded == [int(counts.get(rule, 0)) for rule in rules], (extract, excluded)
    assert [i - e for i, e in zip(rows_in, excluded)] == rows_out, (extract, rows_in, excluded, rows_out)
    assert rows_in == [len(status)] + rows_out[:-1], (extract, rows_in, rows_out)
    assert rows_out[-1] == int(counts.get(clean.ANALYSED, 0)), extract


def check_every_raw_row_is_accounted_for(folder: Path, datasets: list[dict]):
    """Write a batch of messy extracts into ``folder``, read and clean it once, and check the
    accounting of every row: for the batch's exclusions table and for each dataset's rows."""
    batch, pops, rows = write_batch(folder, datasets)
    extracts = ingest.read_all(batch)
    result = clean.clean({k: e.frame for k, e in extracts.items()})
    for name, ext in extracts.items():
        status = result.status[name]["status"]
        assert len(ext.frame) == sum(n[name] for n in rows)
        assert len(status) == len(ext.frame)
        assert set(status) <= RULES
        block = result.exclusions[result.exclusions["entity"] == clean.ENTITY[name]]
        assert int(block["rows_in"].iloc[0]) == len(ext.frame)
        assert int(block["excluded"].sum()) == int((status != clean.ANALYSED).sum())
        assert int(block["rows_out"].iloc[-1]) == int((status == clean.ANALYSED).sum())
        check_exclusions_block(block, status, name)
    occurrences = result.cases["occurrence_number"].astype(str)
    for i, pop in enumerate(pops):
        assert int(occurrences.str.startswith(f"MS{tag(i)}/").sum()) == len(pop.cases), f"dataset {i}"
    assert len(result.cases) == sum(len(pop.cases) for pop in pops)


def run_property(budget: int, parts: int, batch: int, derandomize_seed: int) -> None:
    """Run the accounting property on examples of ``batch`` datasets: one of ``parts`` equal parts
    of ``budget`` examples (full profiles; under ``dev`` one part of the profile's budget)."""
    with tempfile.TemporaryDirectory() as tmp:
        # one folder for all the examples: write_extracts rewrites all four files each time
        folder = Path(tmp)

        @settings(max_examples=max(1, examples(budget) // parts), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(datasets=st.lists(dataset, min_size=batch, max_size=batch))
        def accounted(datasets):
            check_every_raw_row_is_accounted_for(folder, datasets)

        if settings.default.derandomize:
            accounted = seed(derandomize_seed)(accounted)
        accounted()


@pytest.mark.property
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_raw_row_is_accounted_for(shard):
    run_property(EXAMPLES, SHARDS, BATCH, shard)


@pytest.mark.property
def test_every_raw_row_of_a_lone_dataset_is_accounted_for():
    """The same property for datasets read and cleaned alone (a batch of one): the edge cases of
    tiny extracts (one victim, no offenders, header-only files) that a batch of ten rarely is."""
    run_property(ALONE_EXAMPLES * SHARDS, SHARDS, 1, SHARDS)


def test_the_full_budget_checks_500_datasets():
    assert EXAMPLES * BATCH >= BUDGET and EXAMPLES % SHARDS == 0 and ALONE_EXAMPLES * SHARDS <= FULL_EXAMPLES


def test_a_batch_cleans_each_dataset_as_if_alone(tmp_path):
    """Batching changes nothing: every row of every dataset of a batch gets the status it gets
    when its dataset is read and cleaned alone, and the batch's cases are the datasets' cases."""
    datasets = [
        {"n_victims": 12, "seed_": 3, "dup": 0.5, "upd": 0.3, "miss": 0.3, "conflict": 0.3, "orphan": 0.5, "unmatched": 0.5},
        {"n_victims": 9, "seed_": 3, "dup": 0.4, "upd": 0.2, "miss": 0.1, "conflict": 0.3, "orphan": 0.3, "unmatched": 0.2},
        {"n_victims": 1, "seed_": 0, "dup": 0.0, "upd": 0.0, "miss": 0.0, "conflict": 0.0, "orphan": 0.0, "unmatched": 0.0},
        {"n_victims": 11, "seed_": 9_999, "dup": 0.2, "upd": 0.3, "miss": 0.3, "conflict": 0.1, "orphan": 0.5, "unmatched": 0.5},
    ]
    batch, pops, rows = write_batch(tmp_path, datasets)
    together = clean.clean({k: e.frame for k, e in ingest.read_all(batch).items()})
    start = dict.fromkeys(FILES, 0)
    for i in range(len(datasets)):
        alone = clean.clean({k: e.frame for k, e in ingest.read_all(tmp_path / f"d{i}").items()})
        for name in FILES:
            n = rows[i][name]
            got = together.status[name]["status"].iloc[start[name]:start[name] + n].tolist()
            assert got == alone.status[name]["status"].tolist(), (i, name)
            start[name] += n
        mine = together.cases[together.cases["occurrence_number"].astype(str).str.startswith(f"MS{tag(i)}/")]
        assert mine["occurrence_number"].str.replace(f"MS{tag(i)}/", "MS/", regex=False).tolist() == \
            alone.cases["occurrence_number"].astype(str).tolist(), i
    assert sum(start.values()) == sum(len(s) for s in together.status.values())


#: Miscounts planted in the last rule of an entity's block (the rows the property once missed):
#: column -> change. Each must fail :func:`check_exclusions_block`.
LAST_RULE_FAULTS = {
    "rows_in": {"rows_in": 1},
    "excluded": {"excluded": 1, "rows_out": -1},
    "rows_out": {"rows_out": 1},
    "excluded_and_rows_in": {"rows_in": 1, "excluded": 1},
}


@pytest.mark.parametrize("fault", list(LAST_RULE_FAULTS))
def test_a_miscount_in_an_entitys_last_rule_is_caught(tmp_path, fault):
    """The property's table check catches a miscount planted in the last exclusion rule of each
    entity (the property once checked only the first ``rows_in``, the sum of ``excluded`` and the
    last ``rows_out``, and missed a wrong ``rows_in`` there); the untouched table passes."""
    datasets = [{"n_victims": 12, "seed_": 3, "dup": 0.5, "upd": 0.3, "miss": 0.3, "conflict": 0.3, "orphan": 0.5,
                 "unmatched": 0.5}]
    batch, _, _ = write_batch(tmp_path, datasets)
    result = clean.clean({k: e.frame for k, e in ingest.read_all(batch).items()})
    for name, entity in clean.ENTITY.items():
        status = result.status[name]["status"]
        block = result.exclusions[result.exclusions["entity"] == entity].copy()
        check_exclusions_block(block, status, name)
        for column, change in LAST_RULE_FAULTS[fault].items():
            block.loc[block.index[-1], column] += change
        with pytest.raises(AssertionError):
            check_exclusions_block(block, status, name)
