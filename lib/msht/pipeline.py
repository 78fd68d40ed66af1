"""Run the notebooks with papermill, in order, from one params file.

The committed notebooks in ``notebooks/`` hold the outputs of the default synthetic run: a run
with ``params/default.yaml`` (``run_name: default`` and ``synthetic: true``) executes them in
place. Any other run writes its executed notebooks under ``_output/<run_name>/notebooks/``, so
that a run on real extracts never touches a committed file.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import yaml

from msht.config import Params, RunPaths, load_params, notebooks_dir, project_root

#: The notebooks, in the order they run.
NOTEBOOKS = ("01_clean.ipynb", "02_descriptives.ipynb", "03_associations.ipynb")


def is_reference_run(params: Params) -> bool:
    """True for the default synthetic run, whose executed notebooks are the committed ones."""
    return params.run_name == "default" and params.synthetic


def executed_dir(params: Params, root: Path | None = None) -> Path:
    """Where a run's executed notebooks go."""
    root = root or project_root()
    return notebooks_dir(root) if is_reference_run(params) else root / "_output" / params.run_name / "notebooks"


def strip_volatile(path: Path) -> None:
    """Remove run-specific metadata (timings, absolute paths) papermill writes into a notebook."""
    nb = nbformat.read(path, as_version=4)
    pm = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "exception", "input_path", "output_path", "environment_variables"):
        pm.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def run_notebooks(params_path: str | Path, *, root: Path | None = None, log=print) -> Path:
    """Execute every notebook with the parameters of ``params_path``; return the folder of outputs.

    Parameters are injected by papermill into each notebook's ``parameters`` cell, so they are
    recorded in the executed notebook; they are also written to ``run_params.yaml`` in the run's
    results folder. A run that fails leaves the previous run's notebooks untouched: notebooks are
    executed into a temporary folder and moved into place only when all of them succeed.
    """
    import papermill as pm

    root = root or project_root()
    params = load_params(params_path)
    paths = RunPaths.from_params(params, root)
    out_dir = executed_dir(params, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="msht-run-", dir=root / "_output" if (root / "_output").exists() else None) as tmp:
        tmp_dir = Path(tmp)
        for name in NOTEBOOKS:
            log(f"running notebooks/{name} with {Path(params_path).as_posix()}")
            pm.execute_notebook(
                str(notebooks_dir(root) / name),
                str(tmp_dir / name),
                parameters=params.as_dict(),
                cwd=str(notebooks_dir(root)),
                kernel_name="python3",
                progress_bar=sys.stderr.isatty(),
                log_output=False,
                report_mode=False,
            )
            strip_volatile(tmp_dir / name)
        for name in NOTEBOOKS:
            shutil.move(str(tmp_dir / name), str(out_dir / name))
    paths.results_dir.mkdir(parents=True, exist_ok=True)
    (paths.results_dir / "run_params.yaml").write_text(
        "# Parameters of the run that wrote these results\n" + yaml.safe_dump(params.as_dict(), sort_keys=False),
        encoding="utf-8",
    )
    return out_dir


def notebook_outputs(path: Path) -> list[dict]:
    """Return the outputs of every code cell of an executed notebook (for tests and checks)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [out for cell in nb["cells"] if cell["cell_type"] == "code" for out in cell.get("outputs", [])]
