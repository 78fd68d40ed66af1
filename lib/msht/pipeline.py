"""Run the notebooks with papermill from one params file, on as few kernels as run at the same time.

The committed notebooks in ``notebooks/`` hold the outputs of the default synthetic run: a run
with ``params/default.yaml`` (``run_name: default`` and ``synthetic: true``) executes them in
place. Any other run writes its executed notebooks under ``_output/<run_name>/notebooks/``, so
that a run on real extracts never touches a committed file.

A notebook runs once the notebooks it reads from have finished (:data:`NOTEBOOK_INPUTS`), so
notebooks that do not depend on each other run at the same time (:func:`notebook_waves`), each on
a kernel of its own; a notebook that follows another runs on that notebook's kernel
(:func:`kernel_chains`), from a fresh namespace (:data:`FRESH_START`). Every kernel imports its
first notebook's modules as it starts (:func:`preload_imports`): the first at the beginning of the
run, the others while the first notebook works.
"""

from __future__ import annotations

import ast
import logging
import os
import shutil
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from pathlib import Path

import nbformat
import pandas as pd
import yaml

from msht.base import progress
from msht.base.files import swap_in
from msht.config import (
    FORCES_NOTEBOOKS, NOTEBOOKS, STAGING_ENV, RunPaths, executed_dir, load_params, notebooks_dir, notebooks_for,
    project_root,
)

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


#: The notebooks whose outputs each notebook reads: 02 and 03 read the clean tables 01 writes
#: (``clean.read_tables``); 04 reads ``descriptives.csv`` (02) and ``association_vs_published.csv``
#: (03). Checked against the notebooks' code by the tests.
NOTEBOOK_INPUTS: dict[str, tuple[str, ...]] = {
    "01_clean.ipynb": (),
    "02_descriptives.ipynb": ("01_clean.ipynb",),
    "03_associations.ipynb": ("01_clean.ipynb",),
    "04_synthetic_vs_published.ipynb": ("02_descriptives.ipynb", "03_associations.ipynb"),
}
#: The same for a run of several forces (:data:`msht.config.FORCES_NOTEBOOKS`): 02 and 03 read the
#: combined clean tables that 05 writes.
FORCES_NOTEBOOK_INPUTS: dict[str, tuple[str, ...]] = {
    "05_forces.ipynb": (),
    "02_descriptives.ipynb": ("05_forces.ipynb",),
    "03_associations.ipynb": ("05_forces.ipynb",),
}
#: Inputs read only with disclosure control on (``min_cell_count`` above 1): 03 keeps 02's rows of
#: ``suppression.csv`` (:func:`msht.publish.results.write_suppression`).
SUPPRESSION_INPUTS: dict[str, tuple[str, ...]] = {"03_associations.ipynb": ("02_descriptives.ipynb",)}


def notebook_inputs(min_cell_count: int, notebooks: tuple[str, ...] | None = None) -> dict[str, tuple[str, ...]]:
    """The notebooks each of ``notebooks`` (:data:`NOTEBOOKS`, or a run of several forces'
    :data:`msht.config.FORCES_NOTEBOOKS`) reads from, among them: :data:`NOTEBOOK_INPUTS` or
    :data:`FORCES_NOTEBOOK_INPUTS`, and :data:`SUPPRESSION_INPUTS` when ``min_cell_count`` is above 1."""
    notebooks = NOTEBOOKS if notebooks is None else notebooks
    table = FORCES_NOTEBOOK_INPUTS if notebooks == FORCES_NOTEBOOKS else NOTEBOOK_INPUTS
    inputs = {name: list(table[name]) for name in notebooks}
    if int(min_cell_count) > 1:
        for name, extra in SUPPRESSION_INPUTS.items():
            if name in inputs:
                inputs[name] += [i for i in extra if i in notebooks and i not in inputs[name]]
    return {name: tuple(found) for name, found in inputs.items()}


def notebook_waves(min_cell_count: int, notebooks: tuple[str, ...] | None = None) -> list[tuple[str, ...]]:
    """``notebooks`` (:data:`NOTEBOOKS`, or a run of several forces' :data:`msht.config.FORCES_NOTEBOOKS`)
    in waves: a notebook is in the first wave after every notebook it reads from
    (:func:`notebook_inputs`), so the notebooks of a wave run at the same time. Within a wave,
    the order of ``notebooks``.
    """
    notebooks = NOTEBOOKS if notebooks is None else notebooks
    inputs = notebook_inputs(min_cell_count, notebooks)
    wave_of: dict[str, int] = {}
    for name in notebooks:  # inputs come earlier in the list
        wave_of[name] = 1 + max((wave_of[i] for i in inputs[name]), default=-1)
    return [tuple(n for n in notebooks if wave_of[n] == w) for w in range(max(wave_of.values()) + 1)]


def kernel_chains(min_cell_count: int, notebooks: tuple[str, ...] | None = None) -> list[tuple[str, ...]]:
    """The notebooks each kernel of a run executes, one after the other, a kernel per tuple.

    A notebook continues on the kernel of the first notebook it reads from (:func:`notebook_inputs`)
    that was the last on its kernel, unless another notebook of its wave (:func:`notebook_waves`)
    took that kernel first; otherwise it starts a kernel of its own. The default run so starts two
    kernels, as many as its widest wave has notebooks (01, 02 and 04 on one kernel, 03 on a second,
    where 02 and 03 run at the same time); a wave whose notebooks read other notebooks than the last
    ones on the free kernels starts more. A kernel and the imports that every notebook makes are
    paid once per kernel, not once per notebook. A notebook that follows another on a kernel
    starts from a fresh namespace and execution count (:data:`FRESH_START`), so it runs as it does
    alone.
    """
    notebooks = NOTEBOOKS if notebooks is None else notebooks
    inputs = notebook_inputs(min_cell_count, notebooks)
    chains: list[list[str]] = []
    for wave in notebook_waves(min_cell_count, notebooks):
        taken: set[int] = set()
        for name in wave:
            free = [k for i in inputs[name] for k, chain in enumerate(chains) if chain[-1] == i and k not in taken]
            if free:
                chains[free[0]].append(name)
                taken.add(free[0])
            else:
                chains.append([name])
                taken.add(len(chains) - 1)
    return [tuple(chain) for chain in chains]


def preload_imports(path: Path) -> str:
    """The import statements at the top level of the code cells of the notebook at ``path``, one
    per line: what its kernel runs as it starts (``IPKernelApp.exec_lines``), before the notebook's
    turn, so that the notebook's own import lines then find the modules loaded. They run without
    a history entry, so execution counts and outputs do not change. A cell that is not Python
    (a magic) is skipped."""
    lines: list[str] = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(dict.fromkeys(lines))


class _Turn:
    """The signal a notebook's thread waits for: its turn to run, or the end of the run; and the
    process of its kernel, to stop it when the run stops early (Ctrl+C, a failed notebook)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.cancelled = False
        self.stopped = False  # stop_kernel was called: a kernel still starting is killed once started
        self.process = None  # the kernel's subprocess.Popen, once started
        self._lock = threading.Lock()

    def stop_kernel(self) -> None:
        """Kill the kernel now (papermill, if it is running the notebook, then raises); a kernel
        still starting is killed as soon as it has started (:meth:`started`)."""
        with self._lock:
            self.stopped = True
            process = self.process
        if process is not None and process.poll() is None:
            process.kill()

    def started(self, process) -> None:
        """Record the kernel's ``process`` once it has started; kill it at once if the run has
        stopped meanwhile (a Ctrl+C during the kernel's start-up)."""
        with self._lock:
            self.process = process
            stopped = self.stopped
        if stopped:
            self.stop_kernel()

    def start(self) -> None:
        self.event.set()

    def cancel(self) -> None:
        self.cancelled = True
        self.event.set()


#: What a kernel runs, silently (no history entry, no output kept), before a notebook that follows
#: another on it (:func:`kernel_chains`), so that the notebook starts as it would on a kernel of
#: its own: IPython's namespace, input and output history and execution count reset (its imports
#: stay loaded: that is the point); the working folder back to the notebook's (``{folder!r}``); the
#: previous notebook's pyplot figures closed; the warnings already shown shown again, under the
#: filters the kernel has (those its libraries add as they are imported, statsmodels' for one, as a
#: kernel of the notebook's own would add them; no notebook sets a filter of its own, which a test
#: holds); then the
#: notebook's own imports preloaded (``{imports}``, as :func:`preload_imports` does at a kernel's start).
FRESH_START = """\
get_ipython().reset(new_session=True)
import os as _os, sys as _sys, warnings as _warnings
_os.chdir({folder!r})
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
_filters = list(_warnings.filters)
_warnings.resetwarnings()
_warnings.filters[:] = _filters
_warnings.onceregistry.clear()
del _os, _sys, _warnings, _filters
{imports}"""


def _best_effort(imports: str) -> str:
    """``imports`` (:func:`preload_imports`), each line on its own in a ``try`` that ignores its
    failure: one that fails now fails again, as papermill reports it, in the notebook."""
    return "\n".join(f"try:\n    {line}\nexcept Exception:\n    pass" for line in imports.splitlines())


class _Notebook:
    """One notebook of a kernel's chain: where it is read from and written to, papermill's
    options for it, the turn it waits for, and the future its result goes to."""

    def __init__(self, source: Path, target: Path, options: dict, turn: _Turn, done: Future) -> None:
        self.source, self.target, self.options, self.turn, self.done = source, target, options, turn, done


def _fresh_start(manager, loop, notebook: _Notebook) -> None:
    """Run :data:`FRESH_START` for ``notebook`` on ``manager``'s kernel (``loop``: the thread's event
    loop), with a client of its own, closed after. Raises RuntimeError naming the notebook when the
    kernel reports an error, or stops (killed, say) before it answers."""
    code = FRESH_START.format(folder=str(notebook.source.parent), imports=_best_effort(preload_imports(notebook.source)))
    client = manager.client()
    client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        reply = loop.run_until_complete(_reply(client, manager, client.execute(code, silent=True, store_history=False)))
    finally:
        client.stop_channels()
    if reply is None:
        raise RuntimeError(f"notebooks/{notebook.source.name}: its kernel stopped before the notebook ran")
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"notebooks/{notebook.source.name}: resetting its kernel failed "
                           f"({reply['content'].get('ename')}: {reply['content'].get('evalue')})")


def _wait_until_ready(manager, loop, timeout: float = 60.0) -> None:
    """Wait until ``manager``'s kernel answers (it has run its start-up lines), with a client of its
    own, closed after; RuntimeError if it does not within ``timeout`` seconds (papermill's own
    start-up timeout)."""
    client = manager.client()
    client.start_channels()
    try:
        loop.run_until_complete(client.wait_for_ready(timeout=timeout))
    finally:
        client.stop_channels()


async def _reply(client, manager, msg_id: str) -> dict | None:
    """The kernel's reply to request ``msg_id`` sent by ``client``; None if the kernel of
    ``manager`` stops first (checked every second)."""
    import queue

    while True:
        try:
            msg = await client.get_shell_msg(timeout=1)
        except queue.Empty:
            if not await manager.is_alive():
                return None
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def _run_on_kernel(chain: list[_Notebook], sockets: Path, *, ready: threading.Event | None = None,
                   after: threading.Event | None = None) -> None:
    """In a thread of its own: start a kernel in the folder of the first notebook of ``chain`` (a
    tuple of :func:`kernel_chains`), with that notebook's imports preloaded (:func:`preload_imports`);
    then, for each notebook in turn, when its ``turn`` starts, execute it with papermill (after
    :data:`FRESH_START` if it is not the first) and set its ``done`` (its result, or what papermill
    raised: ``PapermillExecutionError`` names the cell), before the next notebook or the kernel's
    shutdown, so that the notebooks waiting for this one need not wait for that. A notebook whose
    turn is cancelled ends the chain. The kernel is always shut down.

    ``ready`` is set once the kernel has started and preloaded its imports (or has failed to);
    with ``after``, the kernel starts only once that is set: the kernels of notebooks that run
    later start while the first notebook runs, not at the same time as its kernel, which they
    would slow down (on two cores, with the run's own process)."""
    try:
        if after is not None:
            after.wait()
            if chain[0].turn.cancelled:
                return
        _run_chain(chain, sockets, ready)
    except BaseException as exc:
        unfinished = [n for n in chain if not n.done.done()]
        if unfinished:
            unfinished[0].done.set_exception(exc)
        raise
    finally:
        if ready is not None:
            ready.set()


def _run_chain(chain: list[_Notebook], sockets: Path, ready: threading.Event | None) -> None:
    """The work of :func:`_run_on_kernel`: start the kernel, set ``ready`` once it answers, run the
    notebooks in turn; the kernel is always shut down."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import ensure_event_loop

    sockets.mkdir()
    loop = ensure_event_loop()  # the loop nbclient uses in this thread too
    manager = kernel_options(sockets).get("kernel_manager_class", AsyncKernelManager)(kernel_name="python3")
    clients = []  # nbclient leaves the channels of a kernel it does not own open: closed below
    make_client = manager.client
    manager.client = lambda **kwargs: clients.append(make_client(**kwargs)) or clients[-1]
    first = chain[0].source
    arguments = ["--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_lines={_best_effort(preload_imports(first))}"]
    current = chain[0]
    try:
        loop.run_until_complete(manager.start_kernel(extra_arguments=arguments, cwd=str(first.parent)))
        for notebook in chain:
            notebook.turn.started(getattr(manager.provisioner, "process", None))
        import papermill as pm  # while the kernel starts

        if ready is not None:
            _wait_until_ready(manager, loop)
            ready.set()
        for i, current in enumerate(chain):
            current.turn.event.wait()
            if current.turn.cancelled:
                break
            if i:
                _fresh_start(manager, loop, current)
            pm.execute_notebook(str(current.source), str(current.target), km=manager, **current.options)
            current.done.set_result(None)
    finally:
        _shut_down(manager, clients, loop, current.source.name)


def _shut_down(manager, clients: list, loop, name: str) -> None:
    """Close the kernel's channels and stop the kernel (``manager``: its kernel manager, ``loop``: the
    thread's event loop). The kernel is killed, not asked to shut down: its notebooks have ended
    (their files written, their outputs received), and a kernel that has loaded pandas, scipy and
    matplotlib takes most of a second to tear them down, at the end of the run. This runs in a
    pool thread whose exceptions no one reads: one raised here is logged (a warning naming notebook
    ``name``), not lost; the kernel is then killed if it still runs."""
    try:
        for client in clients:
            client.stop_channels()
        loop.run_until_complete(manager.shutdown_kernel(now=True))
    except Exception as exc:
        logger.warning(f"notebooks/{name}: shutting its kernel down failed ({type(exc).__name__}: {exc})",
                       exc_info=logger.isEnabledFor(logging.DEBUG))
        process = getattr(getattr(manager, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()


def _notebooks_of(params) -> tuple[str, ...]:
    """The notebooks a run executes (as :func:`msht.config.notebooks_for`), read from this module's
    :data:`NOTEBOOKS` and :data:`msht.config.FORCES_NOTEBOOKS`."""
    return FORCES_NOTEBOOKS if getattr(params, "forces", None) else NOTEBOOKS


def _execute(notebooks: Path, tmp_dir: Path, sockets: Path, params, params_path: str | Path) -> None:
    """Execute the run's notebooks (:func:`msht.config.notebooks_for`: :data:`NOTEBOOKS`, or
    :data:`msht.config.FORCES_NOTEBOOKS` for a run of several forces) from ``notebooks`` into
    ``tmp_dir`` wave by wave (:func:`notebook_waves`), on the kernels of :func:`kernel_chains`, all
    kernels started at once; log each notebook as its wave starts, in the run's order. The first
    failure of a wave (in that order) is raised once the wave has ended, and no later notebook
    runs. A wave's notebooks are cleaned (:func:`strip_volatile`) while the next wave runs."""
    names = _notebooks_of(params)
    turns = {name: _Turn() for name in names}
    runs: dict[str, Future] = {name: Future() for name in names}
    chains = kernel_chains(params.min_cell_count, names)
    first_ready = threading.Event()  # the first kernel has started: the others start then
    with ThreadPoolExecutor(max_workers=len(chains), thread_name_prefix="msht-kernel") as pool:
        try:
            for i, chain in enumerate(chains):
                pool.submit(_run_on_kernel, [_Notebook(notebooks / name, tmp_dir / name, _papermill_options(name, params),
                                                       turns[name], runs[name]) for name in chain], sockets / str(i),
                            **({"ready": first_ready} if i == 0 else {"after": first_ready}))
            finished: tuple[str, ...] = ()
            for wave in notebook_waves(params.min_cell_count, names):
                for name in wave:
                    logger.info(f"running notebooks/{name} with {Path(params_path).as_posix()}")
                    turns[name].start()
                for name in finished:
                    strip_volatile(tmp_dir / name)
                wait_all([runs[name] for name in wave])
                for name in wave:
                    runs[name].result()
                finished = wave
            for name in finished:
                strip_volatile(tmp_dir / name)
        except BaseException:
            for turn in turns.values():
                turn.stop_kernel()  # the run stops now, not when the notebooks still running end
            raise
        finally:
            for turn in turns.values():
                turn.cancel()  # kernels of notebooks that will not run shut down (or do not start)
            first_ready.set()


def _papermill_options(name: str, params) -> dict:
    """papermill's options for notebook ``name``: the run's parameters, no logging of outputs, and a
    tqdm bar per notebook with one tick per cell when progress is on (see msht.base.progress), one
    line per notebook of a wave. The executed notebook is written once, when it ends (or fails),
    not twice per cell."""
    bar = False
    if progress.enabled():
        bar = {"desc": name.removesuffix(".ipynb"), "file": sys.stderr, "position": _notebooks_of(params).index(name)}
    return {"parameters": params.as_dict(), "kernel_name": "python3", "progress_bar": bar, "log_output": False,
            "report_mode": False, "request_save_on_cell_execute": False}


def run_notebooks(params_path: str | Path, *, root: Path | None = None) -> Path:
    """Execute every notebook with the parameters of ``params_path``; return the folder of outputs.
    A run of several forces (``forces:``) executes :data:`msht.config.FORCES_NOTEBOOKS` instead
    (:func:`msht.config.notebooks_for`).

    Parameters are injected by papermill into each notebook's ``parameters`` cell, so they are
    recorded in the executed notebook; they are also written to ``run_params.yaml`` in the run's
    results folder. A run that fails changes nothing: notebooks are executed into a temporary
    folder, and results and processed tables into a staging folder (``$MSHT_STAGING_DIR``);
    all are moved into place only when every notebook has succeeded. Notebooks that do not
    depend on each other run at the same time (:func:`notebook_waves`).
    """
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
            _execute(notebooks_dir(root).resolve(), tmp_dir.resolve(), Path(sockets), params, params_path)
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
