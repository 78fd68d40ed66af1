"""Several forces in one run (issue 19): each force read, cleaned and counted on its own by the
single-force rules, then combined (stacked) with a ``force`` column.

A run with ``forces:`` (:class:`msht.params_schema.ForceParams`) cleans each force exactly as a
single-force run cleans its extracts: :func:`msht.ingest.extracts.read_sent` with the force's own
mappings (an extract the force does not send, such as ``offenders``, is an empty one), then
:func:`msht.clean.rules.clean_extracts` with the force's single-force view
(:func:`msht.config.force_params`: its period, its ``internal_agency_names``), which applies the
section 2.5 rules and asserts that every raw row of the force is analysed or excluded under one
named rule. Each force's analysis tables go to ``<processed_dir>/forces/<slug>/``.

**A force that sends no offender extract** (``ForceParams.has_offenders`` false): its empty
offender extract would give every case 0 offenders and ``recorded_offender`` "no", but not sent
means *not known*, not "no offender identified". :func:`offenders_not_known` makes its cases'
``n_offenders`` missing (nullable ``Int64``) and ``recorded_offender`` ``"unknown"`` before its
tables are written, so every count made from them (section 3.3, the combined associations and
regression, the pooled tests) leaves its cases out as it leaves out any unknown value. A force that
sends an offender extract with no rows keeps 0 and "no": an extract sent empty says that no
offender was recorded.

**Pseudonyms per force.** Each force's identifiers are pseudonymised with a key of its own
(:func:`force_key`: keyed BLAKE2b of the force's name under the run's key), and the combined tables
prefix every identifier with the force's folder name, so the same raw ID in two forces is two
people: without a national identifier, people cannot be linked across forces.

**Combined tables** (:func:`combine_tables`): the three analysis tables of every force, concatenated in
params order, with a ``force`` column (categorical, categories in params order), written to the
run's ``processed_dir`` where notebooks 02 and 03 read them as they read a single force's.
("Pooled" is kept for the Mantel-Haenszel estimate stratified by force,
:mod:`msht.analysis.stratified`; stacking the forces' rows is "combining".)
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from msht import config
from msht.base import vocab
from msht.clean import rules
from msht.ingest import extracts as ingest
from msht.ingest import privacy

logger = logging.getLogger(__name__)

#: The column naming each row's force in the combined tables.
FORCE = "force"

#: Identifier columns of each analysis table (prefixed with the force's folder name on combining).
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": ("occurrence_number", "person_id"),
    "victims": ("person_id",),
    "offenders": ("occurrence_number", "offender_id", "person_id"),
}


def force_key(key: bytes, name: str) -> bytes:
    """The pseudonymisation key of force ``name``: keyed BLAKE2b (64 bytes) of the name under the
    run's ``key`` (:func:`msht.ingest.privacy.key_from_env`). Two forces get unrelated keys, so an
    ID they share gets unrelated pseudonyms; the run's key is never used directly."""
    if not key:
        raise ValueError("the pseudonymisation key is empty")
    mac = key if len(key) <= hashlib.blake2b.MAX_KEY_SIZE else hashlib.blake2b(key).digest()
    return hashlib.blake2b(name.encode("utf-8"), key=mac, digest_size=64).digest()


@dataclass(frozen=True)
class ForceClean:
    """One force cleaned: its params (:class:`msht.params_schema.ForceParams`), the extracts read
    (:class:`msht.ingest.extracts.Extract`, an extract not sent with no rows) and the cleaning's
    :class:`msht.clean.rules.CleanResult`."""

    force: Any
    extracts: dict[str, ingest.Extract]
    result: rules.CleanResult


@dataclass(frozen=True)
class ForcesClean:
    """Every force of a run cleaned (params order) and the combined analysis tables."""

    forces: list[ForceClean]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The forces' names, in params order."""
        return [f.force.name for f in self.forces]


def offenders_not_known(result: rules.CleanResult) -> rules.CleanResult:
    """``result`` of a force that sends no offender extract, with what its cases' offenders were
    not sent to tell marked unknown: ``n_offenders`` missing (nullable ``Int64``) and
    ``recorded_offender`` :data:`msht.base.vocab.UNKNOWN`, in place of the 0 and "no" that the
    cleaning counted from the empty extract read in its place. The other tables are unchanged."""
    cases = result.cases.assign(n_offenders=pd.array([pd.NA] * len(result.cases), dtype="Int64"),
                                recorded_offender=vocab.UNKNOWN)
    return replace(result, cases=cases)


def clean_force(params: config.Params, force: Any, paths: config.RunPaths, key: bytes) -> ForceClean:
    """Read, validate and clean one force of ``params.forces`` with its own mappings and a key of
    its own (:func:`force_key` of ``key``); write its analysis tables to its processed folder
    (:func:`msht.config.force_paths`); a force that sends no offender extract has its cases'
    offenders marked unknown (:func:`offenders_not_known`). Bad input raises
    :class:`msht.ingest.extracts.ExtractError` naming the force's file, column, row and value."""
    view = config.force_params(params, force)
    where = config.force_paths(paths, force)
    logger.info(f"force {force.name}: reading and cleaning {where.raw_dir}")
    extracts = ingest.read_sent(where.raw_dir, ingest.mappings_from(view), force.extracts, force.name)
    result = rules.clean_extracts(extracts, view, key=force_key(key, force.name))
    if not force.has_offenders:
        result = offenders_not_known(result)
    rules.write_tables(result, where.processed_dir)
    return ForceClean(force=force, extracts=extracts, result=result)


def combine_tables(cleaned: list[ForceClean]) -> dict[str, pd.DataFrame]:
    """The analysis tables of every force, concatenated in params order, with a categorical
    ``force`` column (categories in params order) and every identifier prefixed with the force's
    folder name (``force_a:<pseudonym>``). Rows keep their order within each force."""
    order = [c.force.name for c in cleaned]
    combined = {}
    for name in rules.TABLES:
        frames = []
        for c in cleaned:
            frame = getattr(c.result, name).copy()
            for column in ID_COLUMNS[name]:
                frame[column] = (c.force.slug + ":" + frame[column].astype("string")).astype("string")
            frames.append(frame)
        table = pd.concat(frames, ignore_index=True)
        # each force's rows in turn: the categorical's codes are the forces' positions, repeated
        codes = np.repeat(np.arange(len(cleaned)), [len(f) for f in frames])
        table[FORCE] = pd.Categorical.from_codes(codes, categories=pd.Index(order, dtype=object).astype("str"))
        combined[name] = table
    return combined


def check_combined(cleaned: list[ForceClean], tables: dict[str, pd.DataFrame]) -> None:
    """Assert that the combined tables hold every force's analysed rows, each once under its own
    force: no row lost or added by combining."""
    for name, table in tables.items():
        counts = table[FORCE].value_counts()
        for c in cleaned:
            expected = len(getattr(c.result, name))
            if int(counts.get(c.force.name, 0)) != expected:
                raise AssertionError(f"combining: {name} of force {c.force.name!r} has {expected} rows but "
                                     f"{int(counts.get(c.force.name, 0))} in the combined table")


def clean_forces(params: config.Params, paths: config.RunPaths, key: bytes | None = None) -> ForcesClean:
    """Clean every force of a run with ``forces:`` (:func:`clean_force`, params order), combine their
    analysis tables (:func:`combine_tables`), check the combining and write the combined tables to the
    run's ``processed_dir``. ``key``: the run's pseudonymisation key (default
    :func:`msht.ingest.privacy.key_from_env`). Raises ``ValueError`` for a single-force run."""
    if not params.forces:
        raise ValueError(f"run {params.run_name!r} lists no forces: it is a single-force run")
    key = key or privacy.key_from_env()
    cleaned = [clean_force(params, force, paths, key) for force in params.forces]
    tables = combine_tables(cleaned)
    check_combined(cleaned, tables)
    write_combined(tables, paths.processed_dir)
    return ForcesClean(forces=cleaned, tables=tables)


def write_combined(tables: dict[str, pd.DataFrame], processed_dir: Path) -> None:
    """Write the combined analysis tables as Parquet to ``processed_dir`` (where
    :func:`msht.clean.rules.read_tables` reads them)."""
    processed_dir = Path(processed_dir)
    processed_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.to_parquet(processed_dir / f"{name}.parquet", index=False)
