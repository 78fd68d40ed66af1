"""Generate the synthetic twin's raw extracts for a params file (``make data``)."""

from __future__ import annotations

from pathlib import Path

from msht import progress
from msht.config import Params, RunPaths, load_params
from msht.ingest import EXTRACTS, load_dictionary
from msht.synth.raw import write_extracts


def extracts_present(raw_dir: Path) -> bool:
    """True when every extract exists in ``raw_dir`` as CSV or XLSX."""
    stems = [load_dictionary()["extracts"][name]["file"] for name in EXTRACTS]
    return all((raw_dir / f"{s}.csv").exists() or (raw_dir / f"{s}.xlsx").exists() for s in stems)


def generate(params: Params, *, force: bool = False, log=print) -> Path:
    """Write the synthetic extracts of ``params`` (seed, scale) to its ``raw_dir``.

    Does nothing when the extracts already exist (unless ``force``). Refuses to run for a
    params file with ``synthetic: false``: real extracts are never overwritten.
    """
    from msht.synth.population import build_population

    paths = RunPaths.from_params(params)
    if not params.synthetic:
        raise SystemExit(f"params run '{params.run_name}' is not synthetic (synthetic: false): refusing to write {paths.raw_dir}")
    if extracts_present(paths.raw_dir) and not force:
        log(f"synthetic extracts already present in {params.raw_dir}")
        return paths.raw_dir
    log(f"generating the synthetic twin (seed {params.seed}, scale {params.scale}) into {params.raw_dir}")
    with progress.steps("generating", "calibrating the population", "writing the extracts") as bar:
        bar.advance("calibrating the population")
        population = build_population(seed=params.seed, scale=params.scale)
        bar.advance("writing the extracts")
        write_extracts(population, paths.raw_dir, seed=params.seed)
    return paths.raw_dir


def main(params_path: str, force: bool = False) -> None:
    """Command-line entry: generate the extracts of ``params_path``."""
    generate(load_params(params_path), force=force)
