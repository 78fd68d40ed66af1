"""All paths and run parameters, built from the project root.

One YAML file (``params/default.yaml`` by default) holds a run's parameters. Its keys are
flat literal values so that papermill can inject them into every notebook's ``parameters``
cell; :func:`load_params` reads it and validates it once against the typed schema
:class:`msht.params_schema.ParamsSchema` (pydantic), :class:`RunPaths` turns its relative paths
into absolute ones under the project root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

#: Environment variable that redirects a run's outputs into a staging folder (see RunPaths).
STAGING_ENV = "MSHT_STAGING_DIR"

#: Marker files that identify the project root.
_ROOT_MARKERS = ("pyproject.toml", "_quarto.yml")


class ParamsError(ValueError):
    """A params file is missing, unreadable or has a wrong key or value."""


def project_root(start: Path | None = None) -> Path:
    """Return the project root: ``$MSHT_ROOT``, else the nearest parent of ``start`` (or the
    working directory) holding both ``pyproject.toml`` and ``_quarto.yml``, else the folder
    this package is installed from in editable mode."""
    env = os.environ.get("MSHT_ROOT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / m).exists() for m in _ROOT_MARKERS):
            return folder
    pkg_root = Path(__file__).resolve().parents[2]
    if all((pkg_root / m).exists() for m in _ROOT_MARKERS):
        return pkg_root
    raise FileNotFoundError(f"cannot find the project root (a folder with {_ROOT_MARKERS}) above {here}")


@dataclass(frozen=True)
class Params:
    """A run's parameters, as read from one YAML file (see ``params/default.yaml``)."""

    run_name: str
    synthetic: bool
    force_name: str
    report_title: str
    authors: str
    funder: str
    #: ``None`` in a run with ``forces:`` (each force has its own; see :func:`force_params`).
    raw_dir: str | None
    processed_dir: str
    results_dir: str
    report_dir: str
    seed: int | None
    #: A whole number >= 1 in a single-force params file; a force's may be a fraction (0.1).
    scale: int | float | None
    period_start: str
    period_end: str
    outlier_min_entries: int
    min_cell_count: int
    alpha: float
    internal_agency_names: str
    #: A force's layout (optional; see :mod:`msht.params_schema`): extract -> {header: field},
    #: extract -> field -> {raw code: code}, extract -> worksheet, extract -> file name.
    columns: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    sheets: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    #: The forces of a run of several forces (:class:`msht.params_schema.ForceParams`, in params
    #: order); empty for a single-force run.
    forces: list = field(default_factory=list)

    @property
    def is_multi_force(self) -> bool:
        """True for a run of several forces (``forces:`` given)."""
        return bool(self.forces)

    @property
    def force_words(self) -> list[str]:
        """Words that mark a referring agency as the force itself (from ``internal_agency_names``)."""
        return [w.strip() for w in self.internal_agency_names.split(";") if w.strip()]

    def as_dict(self) -> dict[str, Any]:
        """Return the parameters as a plain dict (what papermill injects); the mapping keys
        only when they hold a mapping, so that a run without one injects what it always did."""
        if self.forces:  # a run of several forces: the per-force keys are in each force
            return {**{f.name: getattr(self, f.name) for f in fields(self) if f.name not in (*PER_FORCE_KEYS, "forces")},
                    "forces": [force.model_dump() for force in self.forces]}
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in (*MAPPING_KEYS, "forces") or getattr(self, f.name)}


def load_params(path: str | Path) -> Params:
    """Read a params YAML file and validate it against :class:`ParamsSchema`, once, before
    anything runs; raise :class:`ParamsError` with one line naming the file, the key and the value."""
    path = Path(path)
    if not path.is_absolute():
        path = project_root() / path
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"params file not found: {path}") from None
    except OSError as exc:
        raise ParamsError(f"params file {path}: cannot read it: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParamsError(f"params file {path} is not valid YAML{line}: {problem}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"params file {path} must hold a mapping of keys to values")
    return validate_params(raw, source=f"params file {path}")


def validate_params(raw: dict[str, Any], *, source: str = "params", root: Path | None = None) -> Params:
    """Validate a mapping of run parameters against :class:`ParamsSchema` and return
    :class:`Params`; raise :class:`ParamsError` (one line: ``source``, key and value)."""
    from pydantic import ValidationError

    from msht.params_schema import ForcesSchema, ParamsSchema, describe_errors

    if "forces" in raw and raw["forces"] in (None, []):  # an empty forces: is a single-force run
        raw = {k: v for k, v in raw.items() if k != "forces"}
    schema = ForcesSchema if "forces" in raw else ParamsSchema
    try:
        model = schema.model_validate(raw, context={"root": root})
    except ValidationError as exc:
        raise ParamsError(f"{source}: {describe_errors(exc, raw)}") from None
    if schema is ForcesSchema:
        values = {k: v for k, v in model.model_dump(exclude={"forces"}).items() if k not in MAPPING_KEYS}
        params = Params(**values, forces=list(model.forces))
    else:
        params = Params(**model.model_dump())
    if params.run_name == "default" and int(params.min_cell_count) > 1:
        # a release removes what an unsafe run wrote: never the committed notebooks and results
        raise ParamsError(f"{source}: min_cell_count: {params.min_cell_count} with run_name: default: the reference "
                          "run is not protected (its notebooks and results are committed); give a release its own "
                          "run_name")
    return params


@dataclass(frozen=True)
class RunPaths:
    """Absolute paths of one run, resolved against the project root."""

    root: Path
    #: ``None`` in a run with ``forces:`` (see :func:`force_paths`).
    raw_dir: Path | None
    processed_dir: Path
    results_dir: Path
    report_dir: Path

    @classmethod
    def from_params(cls, params: Params, root: Path | None = None) -> RunPaths:
        """Resolve the params' relative paths under ``root`` (default: the project root).

        While :func:`msht.pipeline.run_notebooks` runs, ``$MSHT_STAGING_DIR`` redirects the
        processed tables and results into a staging folder, moved into place only when every
        notebook has succeeded (so a failed run never leaves partial results).
        """
        root = root or project_root()
        staging = os.environ.get(STAGING_ENV)
        return cls(
            root=root,
            raw_dir=root / params.raw_dir if params.raw_dir is not None else None,
            processed_dir=Path(staging) / "processed" if staging else root / params.processed_dir,
            results_dir=Path(staging) / "results" if staging else root / params.results_dir,
            report_dir=root / params.report_dir,
        )


def notebooks_dir(root: Path | None = None) -> Path:
    """The folder of the committed notebooks."""
    return (root or project_root()) / "notebooks"


#: The optional mapping keys of a params file (not in the notebooks' parameters cells: papermill
#: injects them only when a params file gives them).
MAPPING_KEYS: tuple[str, ...] = ("columns", "values", "sheets", "files")
#: Keys of a single-force params file that a run with ``forces:`` gives per force instead.
PER_FORCE_KEYS: tuple[str, ...] = ("raw_dir", "seed", "scale", *MAPPING_KEYS)
#: The names of the required run parameters (the keys of every params file and of each notebook's parameters cell).
PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Params) if f.name not in (*MAPPING_KEYS, "forces"))


def params_from(namespace: dict[str, Any]) -> Params:
    """Build :class:`Params` from a notebook's namespace after papermill injected the parameters.
    When ``forces`` was injected (a run of several forces), the parameters cell's own single-force
    defaults of the per-force keys (``raw_dir``, ``seed``, ``scale``) are not the run's and are left out."""
    if "forces" in namespace and not namespace["forces"]:
        raise ParamsError(f"notebooks/{FORCES_NOTEBOOK} runs only for a run of several forces, and the params "
                          "list no forces (give them under forces:, as params/national.yaml does)")
    optional = PER_FORCE_KEYS if namespace.get("forces") else ()
    missing = [n for n in PARAM_NAMES if n not in namespace and n not in optional]
    if missing:
        raise ParamsError(f"the notebook's parameters cell lacks {missing}")
    given = {n: namespace[n] for n in (*PARAM_NAMES, *MAPPING_KEYS, "forces") if n in namespace}
    if given.get("forces"):
        given = {k: v for k, v in given.items() if k not in PER_FORCE_KEYS}
    return validate_params(given, source="the notebook's parameters")


def force_params(params: Params, force: Any) -> Params:
    """A single-force view of one force of a run with ``forces:``: the run's keys with the force's
    name (as ``force_name``), ``raw_dir``, mappings, ``internal_agency_names`` (when it gives
    one), ``seed`` and ``scale``, and processed and results folders of its own
    (``<processed_dir>/forces/<slug>``, ``<results_dir>/forces/<slug>``); ``run_name`` is
    ``<run_name>.<slug>`` (never a reference run). ``force`` is one of ``params.forces`` (a
    :class:`msht.params_schema.ForceParams`); a ``ValueError`` if it is not one of them."""
    from dataclasses import replace

    if all(force is not f and force != f for f in params.forces):
        raise ValueError(f"{getattr(force, 'name', force)!r} is not one of the run's forces")
    return replace(
        params,
        run_name=f"{params.run_name}.{force.slug}",
        force_name=force.name,
        raw_dir=force.raw_dir,
        processed_dir=f"{params.processed_dir}/forces/{force.slug}",
        results_dir=f"{params.results_dir}/forces/{force.slug}",
        report_dir=f"{params.report_dir}/forces/{force.slug}",
        seed=force.seed,
        scale=force.scale,
        internal_agency_names=force.internal_agency_names or params.internal_agency_names,
        columns=dict(force.columns), values=dict(force.values), sheets=dict(force.sheets), files=dict(force.files),
        forces=[],
    )


def force_paths(paths: RunPaths, force: Any) -> RunPaths:
    """The absolute paths of one force of a run with ``forces:``, under the run's own
    :class:`RunPaths` (so a staged run stages each force's tables too): its raw folder and
    ``forces/<slug>`` subfolders of the run's processed, results and report folders."""
    raw = Path(force.raw_dir)
    return RunPaths(
        root=paths.root,
        raw_dir=raw if raw.is_absolute() else paths.root / raw,
        processed_dir=paths.processed_dir / "forces" / force.slug,
        results_dir=paths.results_dir / "forces" / force.slug,
        report_dir=paths.report_dir / "forces" / force.slug,
    )


#: The notebooks, in the order they run.
NOTEBOOKS = ("01_clean.ipynb", "02_descriptives.ipynb", "03_associations.ipynb", "04_synthetic_vs_published.ipynb")

#: The notebook of a run of several forces (``forces:``): it reads, cleans and combines the forces,
#: and compares them; single-force runs skip it.
FORCES_NOTEBOOK = "05_forces.ipynb"

#: The notebooks of a run of several forces, in the order they run: 05 cleans every force on its
#: own and writes the combined tables (in place of 01), then 02 and 03 describe and test the combined
#: cases as one population. 04 compares a single force with the published one, so it is left out.
FORCES_NOTEBOOKS = (FORCES_NOTEBOOK, "02_descriptives.ipynb", "03_associations.ipynb")


def notebooks_for(params: Params) -> tuple[str, ...]:
    """The notebooks a run executes, in order: :data:`NOTEBOOKS`, or :data:`FORCES_NOTEBOOKS` for a
    run of several forces."""
    return FORCES_NOTEBOOKS if params.forces else NOTEBOOKS


def is_reference_run(params: Params) -> bool:
    """True for the default synthetic run, whose executed notebooks are the committed ones."""
    return params.run_name == "default" and params.synthetic and not params.forces


def executed_dir(params: Params, root: Path | None = None) -> Path:
    """Where a run's executed notebooks go."""
    root = root or project_root()
    return notebooks_dir(root) if is_reference_run(params) else root / "_output" / params.run_name / "notebooks"
