"""Generate the synthetic twin's raw extracts for a params file (``make data``)."""

from __future__ import annotations

import logging
from pathlib import Path

from msht.base import progress
from msht.config import Params, RunPaths, load_params, project_root
from msht.ingest.extracts import EXTRACTS, load_dictionary
from msht.synth.raw import write_extracts

logger = logging.getLogger(__name__)


def extracts_present(raw_dir: Path, files: dict[str, str] | None = None, extracts: tuple[str, ...] = EXTRACTS) -> bool:
    """True when every extract of ``extracts`` (default: all four) exists in ``raw_dir`` as CSV
    or XLSX (under the name ``files``, a params file's ``files:``, gives it, if any)."""
    files = files or {}
    stems = {name: load_dictionary()["extracts"][name]["file"] for name in extracts}
    return all((raw_dir / files[n]).exists() if n in files else
               (raw_dir / f"{s}.csv").exists() or (raw_dir / f"{s}.xlsx").exists() for n, s in stems.items())


def generate(params: Params, *, force: bool = False) -> Path:
    """Write the synthetic extracts of ``params`` (seed, scale) to its ``raw_dir``.

    Does nothing when the extracts already exist (unless ``force``). Refuses to run for a
    params file with ``synthetic: false``: real extracts are never overwritten. When the params
    file has mappings (``columns:``, ``values:``, ``sheets:``, ``files:``), the twin is written in the layout
    they describe (:func:`msht.synth.layout.write_layout`): the same population, as that force
    would export it. A multi-force params file (``forces:``) has each force written by
    :func:`generate_forces`; the project root is returned then.
    """
    from msht.synth.population import build_population

    if not params.synthetic:
        raise SystemExit(f"params run '{params.run_name}' is not synthetic (synthetic: false): refusing to write "
                         f"{params.raw_dir or 'its forces extracts'}")
    if getattr(params, "forces", None):
        generate_forces(params, force=force)
        return project_root()
    paths = RunPaths.from_params(params)
    if extracts_present(paths.raw_dir, params.files) and not force:
        logger.info(f"synthetic extracts already present in {params.raw_dir}")
        return paths.raw_dir
    logger.info(f"generating the synthetic twin (seed {params.seed}, scale {params.scale}) into {params.raw_dir}")
    with progress.steps("generating", "calibrating the population", "writing the extracts") as bar:
        bar.advance("calibrating the population")
        population = build_population(seed=params.seed, scale=params.scale)
        bar.advance("writing the extracts")
        if params.columns or params.values or params.sheets or params.files:
            _write_staged(population, paths.raw_dir.with_name(paths.raw_dir.name + ".dictionary-layout"),
                          paths.raw_dir, params.seed,
                          {"columns": params.columns, "values": params.values, "sheets": params.sheets,
                           "files": params.files})
        else:
            write_extracts(population, paths.raw_dir, seed=params.seed)
    return paths.raw_dir


def generate_forces(params: Params, *, force: bool = False) -> list[Path]:
    """Write the synthetic extracts of each force of a multi-force run (``forces:``, issue 19)
    into the force's ``raw_dir``, in its layout (its mappings), with its profile (``seed``,
    ``scale``, ``offered_log_odds``, ``accepted_log_odds``) and only the extracts it sends
    (``extracts:``). A force whose extracts are present is left alone (unless ``force``).
    Returns the forces' raw folders, in params order."""
    root = project_root()
    folders = []
    for spec in params.forces:
        raw_dir = root / spec.raw_dir
        extracts = tuple(getattr(spec, "extracts", None) or EXTRACTS)
        folders.append(raw_dir)
        if extracts_present(raw_dir, spec.files, extracts) and not force:
            logger.info(f"synthetic extracts of {spec.name} already present in {spec.raw_dir}")
            continue
        logger.info(f"generating {spec.name} (seed {spec.seed}, scale {spec.scale}) into {spec.raw_dir}")
        generate_force(raw_dir, seed=spec.seed, scale=spec.scale,
                       offered_log_odds=getattr(spec, "offered_log_odds", 0.0) or 0.0,
                       accepted_log_odds=getattr(spec, "accepted_log_odds", 0.0) or 0.0, extracts=extracts,
                       mappings={key: getattr(spec, key, None) or {} for key in ("columns", "values", "sheets", "files")})
    return folders


def generate_force(raw_dir: Path, *, seed: int, scale: float = 1, offered_log_odds: float = 0.0,
                   accepted_log_odds: float = 0.0, extracts: tuple[str, ...] = EXTRACTS,
                   mappings: dict[str, dict] | None = None) -> Path:
    """Write one synthetic force's extracts into ``raw_dir``: the population of
    :func:`msht.synth.profile.profiled_population` (``seed``, ``scale`` > 0, the two log-odds
    shifts), in the layout of ``mappings`` (``columns``, ``values``, ``sheets``, ``files``; the
    dictionary's layout when empty), with only the extracts named in ``extracts`` (an extract
    left out is not written, and an old file of it is removed). With the defaults the files are
    those :func:`generate` writes for a single-force params file of the same seed and scale."""
    from msht.synth.profile import profiled_population

    unknown = [name for name in extracts if name not in EXTRACTS]
    if unknown or "cases" not in extracts:
        raise ValueError(f"extracts must be among {list(EXTRACTS)} and include cases, got {list(extracts)}")
    mappings = {key: value for key, value in (mappings or {}).items() if value}
    population = profiled_population(seed, scale, offered_log_odds, accepted_log_odds)
    if mappings:
        staging = raw_dir.with_name(raw_dir.name + ".dictionary-layout")
        _write_staged(population, staging, raw_dir, seed, mappings)
    else:
        write_extracts(population, raw_dir, seed=seed)
    _leave_out(raw_dir, [name for name in EXTRACTS if name not in extracts], mappings.get("files", {}))
    return raw_dir


def _write_staged(population, staging: Path, raw_dir: Path, seed: int, mappings: dict[str, dict]) -> None:
    """Write ``population`` in the dictionary's layout to ``staging``, then in the layout of
    ``mappings`` to ``raw_dir``; ``staging`` is removed."""
    import shutil

    from msht.synth.layout import write_layout

    shutil.rmtree(staging, ignore_errors=True)
    try:
        write_extracts(population, staging, seed=seed)
        write_layout(staging, raw_dir, columns=mappings.get("columns", {}), values=mappings.get("values", {}),
                     sheets=mappings.get("sheets", {}), files=mappings.get("files", {}))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _leave_out(raw_dir: Path, omitted: list[str], files: dict[str, str]) -> None:
    """Remove the files of the ``omitted`` extracts from ``raw_dir``, their rows from the ground
    truth (``_truth/defects.csv``) and their counts from ``MANIFEST.json`` (which lists them
    under ``extracts_omitted``): the force does not send them."""
    import json

    import pandas as pd

    if not omitted:
        return
    for name in omitted:
        stem = load_dictionary()["extracts"][name]["file"]
        for path in (raw_dir / f"{stem}.csv", raw_dir / f"{stem}.xlsx", *([raw_dir / files[name]] if name in files else [])):
            path.unlink(missing_ok=True)
    truth = raw_dir / "_truth" / "defects.csv"
    if truth.exists():
        frame = pd.read_csv(truth, dtype=str, keep_default_na=False)
        frame[~frame["extract"].isin(omitted)].to_csv(truth, index=False)
    manifest_path = raw_dir / "MANIFEST.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["rows"] = {k: v for k, v in manifest.get("rows", {}).items() if k not in omitted}
        manifest["extracts_omitted"] = list(omitted)
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


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
