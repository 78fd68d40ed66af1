"""Generate the synthetic twin's raw extracts for a params file (``make data``)."""

from __future__ import annotations

import logging
from pathlib import Path

from msht.base import progress
from msht.config import Params, RunPaths, load_params
from msht.ingest.extracts import EXTRACTS, load_dictionary
from msht.synth.raw import write_extracts

logger = logging.getLogger(__name__)


def extracts_present(raw_dir: Path, files: dict[str, str] | None = None) -> bool:
    """True when every extract exists in ``raw_dir`` as CSV or XLSX (under the name ``files``,
    a params file's ``files:``, gives it, if any)."""
    files = files or {}
    stems = {name: load_dictionary()["extracts"][name]["file"] for name in EXTRACTS}
    return all((raw_dir / files[n]).exists() if n in files else
               (raw_dir / f"{s}.csv").exists() or (raw_dir / f"{s}.xlsx").exists() for n, s in stems.items())


def generate(params: Params, *, force: bool = False) -> Path:
    """Write the synthetic extracts of ``params`` (seed, scale) to its ``raw_dir``.

    Does nothing when the extracts already exist (unless ``force``). Refuses to run for a
    params file with ``synthetic: false``: real extracts are never overwritten. When the params
    file has mappings (``columns:``, ``values:``, ``sheets:``, ``files:``), the twin is written in the layout
    they describe (:func:`msht.synth.layout.write_layout`): the same population, as that force
    would export it.
    """
    from msht.synth.population import build_population

    paths = RunPaths.from_params(params)
    if not params.synthetic:
        raise SystemExit(f"params run '{params.run_name}' is not synthetic (synthetic: false): refusing to write {paths.raw_dir}")
    if extracts_present(paths.raw_dir, params.files) and not force:
        logger.info(f"synthetic extracts already present in {params.raw_dir}")
        return paths.raw_dir
    logger.info(f"generating the synthetic twin (seed {params.seed}, scale {params.scale}) into {params.raw_dir}")
    with progress.steps("generating", "calibrating the population", "writing the extracts") as bar:
        bar.advance("calibrating the population")
        population = build_population(seed=params.seed, scale=params.scale)
        bar.advance("writing the extracts")
        if params.columns or params.values or params.sheets or params.files:
            _write_in_layout(population, paths.raw_dir, params)
        else:
            write_extracts(population, paths.raw_dir, seed=params.seed)
    return paths.raw_dir


def _write_in_layout(population, raw_dir: Path, params: Params) -> None:
    """Write the twin in the dictionary's layout to a folder beside ``raw_dir``, then rewrite it
    into ``raw_dir`` in the layout of the params' mappings."""
    import shutil

    from msht.synth.layout import write_layout

    staging = raw_dir.with_name(raw_dir.name + ".dictionary-layout")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write_extracts(population, staging, seed=params.seed)
        write_layout(staging, raw_dir, columns=params.columns, values=params.values, sheets=params.sheets,
                     files=params.files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(params_path: str, force: bool = False) -> None:
    """Command-line entry: generate the extracts of ``params_path``."""
    generate(load_params(params_path), force=force)


def sample_extracts(src: Path, dst: Path, fraction: float, *, seed: int = 10) -> int:
    """Write a random ``fraction`` of the MSHT cases of the CSV extracts in ``src`` to ``dst``,
    with the victims and offenders of those cases and the police-record entries of their victims
    (a small release to test disclosure control on). Values are copied as text, unchanged.
    Returns the number of case rows written."""
    import pandas as pd

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(src / f"{name}.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")

    def write(frame: pd.DataFrame, name: str) -> None:
        frame.to_csv(dst / f"{name}.csv", index=False, encoding="utf-8-sig")

    dst.mkdir(parents=True, exist_ok=True)
    cases = read("cases").sample(frac=fraction, random_state=seed)
    occurrences = set(cases["occurrence_number"])
    victims = read("victims")
    victims = victims[victims["occurrence_number"].isin(occurrences)]
    offenders = read("offenders")
    people = set(victims["person_id"]) | set(cases["victim_person_id"])
    records = read("police_records")
    write(cases, "cases")
    write(victims, "victims")
    write(offenders[offenders["occurrence_number"].isin(occurrences)], "offenders")
    write(records[records["person_id"].isin(people)], "police_records")
    return len(cases)
