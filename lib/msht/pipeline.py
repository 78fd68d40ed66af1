"""Run the notebooks with papermill, in order, from one params file.

The committed notebooks in ``notebooks/`` hold the outputs of the default synthetic run: a run
with ``params/default.yaml`` (``run_name: default`` and ``synthetic: true``) executes them in
place. Any other run writes its executed notebooks under ``_output/<run_name>/notebooks/``, so
that a run on real extracts never touches a committed file.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pandas as pd
import yaml

from msht.base import progress
from msht.base.files import swap_in
from msht.config import (
    STAGING_ENV, RunPaths, executed_dir, load_params, notebooks_dir, notebooks_for, project_root,
)
from msht.config import NOTEBOOKS  # noqa: F401  (re-exported: the single-force notebooks)

logger = logging.getLogger(__name__)


class _MappingKeysAreKnown(logging.Filter):
    """Drops papermill's "Passed unknown parameter" warning for the params file's optional
    mapping keys (``columns``, ``values``, ``sheets``) and ``forces``: the notebooks' parameters
    cells leave them out on purpose (a run without them injects exactly what it always did), and
    :func:`msht.config.params_from` reads them when they are injected."""

    def filter(self, record: logging.LogRecord) -> bool:
        from msht.config import MAPPING_KEYS

        return not any(record.getMessage() == f"Passed unknown parameter: {key}" for key in (*MAPPING_KEYS, "forces"))


logging.getLogger("papermill").addFilter(_MappingKeysAreKnown())


def strip_volatile(path: Path) -> None:
    """Remove run-specific metadata papermill writes into a notebook (timings, absolute paths, the
    injected cell's random id), so that re-running the default run leaves git clean."""
    nb = nbformat.read(path, as_version=4)
    pm = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "exception", "input_path", "output_path", "environment_variables"):
        pm.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill draws a random id on every run
    nbformat.write(nb, path)


#: Longest Unix socket path used (the system limit is 104 bytes on macOS, 108 on Linux).
MAX_SOCKET_PATH = 100


def kernel_options(socket_dir: Path) -> dict:
    """Papermill options for the notebooks' kernel: on POSIX, a kernel that talks to papermill
    over Unix sockets in ``socket_dir`` (a private temporary folder) instead of TCP ports on
    localhost, so that no other local user can connect to it and ipykernel does not warn that
    it runs "over TCP without encryption". Elsewhere (Windows), or when ``socket_dir`` is too
    long a path for a socket, the default TCP kernel."""
    if os.name != "posix" or len(str(socket_dir / "kernel-99")) > MAX_SOCKET_PATH:
        return {}
    from jupyter_client.manager import AsyncKernelManager

    class UnixSocketKernelManager(AsyncKernelManager):
        """A kernel manager whose kernel listens on IPC sockets in ``socket_dir``."""

        def __init__(self, **kwargs: object) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", str(socket_dir / "kernel"))
            super().__init__(**kwargs)

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client sends SIGINT before every shutdown request; a kernel still inside a
            # message handler then prints "KeyboardInterrupt caught in kernel." to the terminal.
            # Papermill shuts the kernel down once every cell has run: nothing to interrupt.
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return {"kernel_manager_class": UnixSocketKernelManager}


def run_notebooks(params_path: str | Path, *, root: Path | None = None) -> Path:
    """Execute every notebook with the parameters of ``params_path``; return the folder of outputs.
    A run of several forces (``forces:``) executes :data:`msht.config.FORCES_NOTEBOOKS` instead
    (:func:`msht.config.notebooks_for`).

    Parameters are injected by papermill into each notebook's ``parameters`` cell, so they are
    recorded in the executed notebook; they are also written to ``run_params.yaml`` in the run's
    results folder. A run that fails changes nothing: notebooks are executed into a temporary
    folder, and results and processed tables into a staging folder (``$MSHT_STAGING_DIR``);
    all are moved into place only when every notebook has succeeded.
    """
    import papermill as pm

    root = root or project_root()
    params = load_params(params_path)
    out_dir = executed_dir(params, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = root / "_output" / ".staging"
    scratch.mkdir(parents=True, exist_ok=True)
    staging = scratch / params.run_name
    if staging.exists():
        shutil.rmtree(staging)
    previous = os.environ.get(STAGING_ENV)
    os.environ[STAGING_ENV] = str(staging)
    try:
        with (tempfile.TemporaryDirectory(prefix="msht-run-", dir=scratch) as tmp,
              tempfile.TemporaryDirectory(prefix="msht-kernel-") as sockets):
            tmp_dir = Path(tmp)
            for name in notebooks_for(params):
                logger.info(f"running notebooks/{name} with {Path(params_path).as_posix()}")
                pm.execute_notebook(
                    str(notebooks_dir(root) / name),
                    str(tmp_dir / name),
                    parameters=params.as_dict(),
                    cwd=str(notebooks_dir(root)),
                    kernel_name="python3",
                    # a tqdm bar per notebook, one tick per cell (see msht.base.progress)
                    progress_bar={"desc": name.removesuffix(".ipynb"), "file": sys.stderr} if progress.enabled() else False,
                    log_output=False,
                    report_mode=False,
                    **kernel_options(Path(sockets)),
                )
                strip_volatile(tmp_dir / name)
            staged = RunPaths.from_params(params, root)
            staged.results_dir.mkdir(parents=True, exist_ok=True)
            (staged.results_dir / "run_params.yaml").write_text(
                "# Parameters of the run that wrote these results\n" + yaml.safe_dump(params.as_dict(), sort_keys=False),
                encoding="utf-8",
            )
            for name in notebooks_for(params):
                shutil.move(str(tmp_dir / name), str(out_dir / name))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if previous is None:
            os.environ.pop(STAGING_ENV, None)
        else:
            os.environ[STAGING_ENV] = previous
    final = RunPaths.from_params(params, root)
    swap_in(staging / "results", final.results_dir)
    swap_in(staging / "processed", final.processed_dir)
    shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def protect_release(params_path: str | Path, *, root: Path | None = None, runner=None) -> Path:
    """Run a release's notebooks with linked-table protection (:func:`msht.publish.audit.fixpoint`).

    After each run the audit bounds every hidden count from everything published, and the
    notebooks run again with the complementary suppressions it chose (passed through
    :data:`msht.publish.sdc.FORCED_ENV`) until every hidden count keeps
    :data:`msht.publish.audit.MIN_RANGE` values. The cells chosen are listed in ``suppression.csv``
    (reason ``secondary``) like every other. With ``min_cell_count`` 0 or 1 this is
    :func:`run_notebooks`. If no safe release is found, the run's results and executed notebooks
    are removed and :class:`msht.publish.audit.DisclosureError` is raised: nothing unsafe is left
    to publish; so are they when a later round, the audit or the user stops the run (any
    exception, ``KeyboardInterrupt`` included, re-raised; an error of the audit itself as
    :class:`msht.publish.audit.AuditError`). The reference run (``run_name: default``) cannot be
    a release (:func:`msht.config.validate_params`), so the committed files are never removed. ``runner(params_path, root=...)`` runs the notebooks (default
    :func:`run_notebooks`; the tests pass one that runs their code in-process). Returns the folder
    of executed notebooks.
    """
    from msht.publish import audit, results, sdc

    root = root or project_root()
    runner = runner or run_notebooks
    params = load_params(params_path)
    m = int(params.min_cell_count)
    if m <= 1:
        return runner(params_path, root=root)
    out_dir: list[Path] = []
    previous = os.environ.get(sdc.FORCED_ENV)
    with tempfile.TemporaryDirectory(prefix="msht-sdc-") as tmp:
        path = Path(tmp) / "forced.csv"
        os.environ[sdc.FORCED_ENV] = str(path)

        def publish(forced: frozenset) -> tuple[Path, Path]:
            pd.DataFrame(sorted(forced), columns=list(sdc.FORCED_COLUMNS)).to_csv(path, index=False)
            out_dir[:] = [runner(params_path, root=root)]
            return root / params.results_dir, root / params.processed_dir / results.UNPROTECTED_DIR

        try:
            audit.fixpoint(publish, m)
        except BaseException:  # no safe release (or the run or the audit stopped): remove what it wrote
            if out_dir:
                shutil.rmtree(root / params.results_dir, ignore_errors=True)
                shutil.rmtree(out_dir[0], ignore_errors=True)
            raise
        finally:
            if previous is None:
                os.environ.pop(sdc.FORCED_ENV, None)
            else:
                os.environ[sdc.FORCED_ENV] = previous
    return out_dir[0]
