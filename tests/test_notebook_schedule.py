"""`msht run`'s schedule: which notebook waits for which, kernels started early with their imports
preloaded, notebooks of a wave at the same time, failures reported as before."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from msht import pipeline
from msht.config import NOTEBOOKS, notebooks_dir, project_root

posix_only = pytest.mark.skipif(os.name != "posix", reason="IPC kernels are used on POSIX only")


def _code(name: str) -> str:
    nb = nbformat.read(notebooks_dir(project_root()) / name, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_waves_of_the_default_run_and_of_a_release():
    one, two, three, four = NOTEBOOKS
    assert pipeline.notebook_waves(0) == [(one,), (two, three), (four,)]
    assert pipeline.notebook_waves(1) == [(one,), (two, three), (four,)]
    # with disclosure control on, 03 keeps 02's rows of suppression.csv: it waits for 02
    assert pipeline.notebook_waves(5) == [(one,), (two,), (three,), (four,)]


def test_kernel_chains_of_the_default_run_a_release_and_a_run_of_several_forces():
    """As many kernels as the widest wave has notebooks; a notebook continues on the kernel of a
    notebook it reads from."""
    from msht.config import FORCES_NOTEBOOKS

    one, two, three, four = NOTEBOOKS
    assert pipeline.kernel_chains(0) == [(one, two, four), (three,)]
    assert pipeline.kernel_chains(5) == [(one, two, three, four)]
    five = FORCES_NOTEBOOKS[0]
    assert pipeline.kernel_chains(0, FORCES_NOTEBOOKS) == [(five, two), (three,)]
    assert pipeline.kernel_chains(5, FORCES_NOTEBOOKS) == [(five, two, three)]


def _writers(code: dict[str, str], table: str) -> set[str]:
    """The notebooks that write results table ``table`` (``write_csv(frame, "table", ...)`` or a
    ``{"table": frame}`` entry of the tables they write)."""
    pattern = rf'write_csv\([^()]*"{table}"|"{table}": '
    return {name for name, text in code.items() if re.search(pattern, text)}


def test_declared_inputs_are_what_the_notebooks_read():
    """Every results table a notebook reads is written by a notebook it waits for, the clean
    tables come from the notebook that writes them, and 03's kept suppression rows from 02."""
    code = {name: _code(name) for name in NOTEBOOKS}
    writers_of_tables = [n for n in NOTEBOOKS if "clean.write_tables(" in code[n]]
    assert writers_of_tables == ["01_clean.ipynb"]
    for name in NOTEBOOKS:
        inputs = set(pipeline.NOTEBOOK_INPUTS[name])
        assert all(NOTEBOOKS.index(i) < NOTEBOOKS.index(name) for i in inputs)
        if "clean.read_tables(" in code[name]:
            assert set(writers_of_tables) <= inputs, name
        for table in re.findall(r'results\.read_csv\("(\w+)"', code[name]):
            writers = _writers(code, table)
            assert writers and writers <= inputs, (name, table, writers)
        for kept in re.findall(r"keep_files=\(([^)]*)\)", code[name]):
            for table in re.findall(r'"(\w+)"', kept):
                writers = _writers(code, table)
                assert writers and writers <= set(pipeline.SUPPRESSION_INPUTS.get(name, ())) | inputs, (name, table)
        assert set(pipeline.NOTEBOOK_INPUTS) == set(NOTEBOOKS)


def test_preloaded_imports_are_the_top_level_import_lines(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import json\nfrom pathlib import Path as P\nx = 1"),
        nbformat.v4.new_code_cell("%time y = 2"),  # not Python: skipped
        nbformat.v4.new_markdown_cell("import nothing"),
        nbformat.v4.new_code_cell("if x:\n    import csv\nimport json"),
    ]
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert pipeline.preload_imports(tmp_path / "n.ipynb") == "import json\nfrom pathlib import Path as P"


def _notebook(path: Path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _stamp(name: str) -> str:
    return (f"import time, json\nstart = time.time()\ntime.sleep(1.5)\n"
            f"open('{name}.json', 'w').write(json.dumps([start, time.time()]))")


@pytest.fixture
def tiny_run(monkeypatch, tmp_path):
    """Three tiny notebooks: a, then b and c (both read a), and the folders _execute needs."""
    names = ("a.ipynb", "b.ipynb", "c.ipynb")
    monkeypatch.setattr(pipeline, "NOTEBOOKS", names)
    monkeypatch.setattr(pipeline, "NOTEBOOK_INPUTS", {"a.ipynb": (), "b.ipynb": ("a.ipynb",), "c.ipynb": ("a.ipynb",)})
    source, out = tmp_path / "nb", tmp_path / "out"
    source.mkdir()
    out.mkdir()
    _notebook(source / "a.ipynb", "import sys\nfirst = 'colorsys' in sys.modules\nimport colorsys",
              "print(first)")
    sockets = Path(tempfile.mkdtemp(prefix="msht-kernel-"))
    yield source, out, sockets
    assert list(sockets.rglob("kernel-*")) == []  # every kernel stopped, its sockets removed
    import shutil

    shutil.rmtree(sockets)


@posix_only
def test_notebooks_of_a_wave_run_at_the_same_time_with_unchanged_execution_counts(tiny_run):
    source, out, sockets = tiny_run
    _notebook(source / "b.ipynb", _stamp("b"))
    _notebook(source / "c.ipynb", _stamp("c"))
    params = SimpleNamespace(min_cell_count=0, as_dict=dict)
    pipeline._execute(source, out, sockets, params, "params.yaml")
    a = nbformat.read(out / "a.ipynb", as_version=4)
    assert [c.execution_count for c in a.cells] == [1, 2]  # the preloaded imports ran without a history entry
    assert a.cells[1].outputs[0]["text"] == "True\n"  # imported before the cell ran
    (b0, b1), (c0, c1) = (json.loads((source / f"{n}.json").read_text()) for n in "bc")
    assert b0 < c1 and c0 < b1, "b and c overlap in time"


@posix_only
def test_a_notebook_that_follows_another_on_its_kernel_starts_as_on_a_kernel_of_its_own(tiny_run):
    """b runs after a on a's kernel (:func:`pipeline.kernel_chains`): its execution counts start at
    1, a's variables, history and working folder are gone, a warning a showed is shown again, and
    b's own imports are preloaded; the modules a imported stay loaded, with the warning filters they
    added as they were imported (a filter a's own cell sets stays too: no notebook sets one, see
    test_no_committed_notebook_sets_a_warning_filter)."""
    source, out, sockets = tiny_run
    (source / "warner.py").write_text("import warnings\n\ndef warn(text='careful'):\n    warnings.warn(text)\n")
    _notebook(source / "a.ipynb", "import os\nimport warnings\nimport warner\nsecret = 42\nwarner.warn()\n"
              "warnings.filterwarnings('ignore', message='hushed')\nwarner.warn('hushed')", "os.chdir('/')\nsecret")
    _notebook(source / "b.ipynb", "import sys\nprint('csv' in globals(), 'secret' in globals(), len(In), 'warner' in sys.modules)\n"
              "import csv\nimport warner\nwarner.warn()\nwarner.warn('hushed')",
              f"import os\nos.path.samefile(os.getcwd(), {str(source)!r})")
    _notebook(source / "c.ipynb", "x = 1")
    assert pipeline.kernel_chains(0) == [("a.ipynb", "b.ipynb"), ("c.ipynb",)]
    pipeline._execute(source, out, sockets, SimpleNamespace(min_cell_count=0, as_dict=dict), "params.yaml")
    a, b = (nbformat.read(out / f"{n}.ipynb", as_version=4) for n in "ab")
    assert [c.execution_count for c in a.cells] == [c.execution_count for c in b.cells] == [1, 2]
    assert a.cells[1].outputs[0]["data"]["text/plain"] == "42"
    printed, *warned = b.cells[0].outputs
    warned = "".join(o["text"] for o in warned)
    assert printed["text"] == "True False 2 True\n"  # In holds '' and this cell
    assert "UserWarning: careful" in warned and "UserWarning: careful" in a.cells[0].outputs[0]["text"]
    assert "hushed" not in warned and "hushed" not in a.cells[0].outputs[0]["text"]
    assert b.cells[1].outputs[0]["data"]["text/plain"] == "True"


@posix_only
def test_a_failing_notebook_is_raised_as_papermill_reports_it_and_later_ones_do_not_run(tiny_run, monkeypatch, capfd):
    from papermill.exceptions import PapermillExecutionError

    source, out, sockets = tiny_run
    monkeypatch.setattr(pipeline, "NOTEBOOKS", ("a.ipynb", "b.ipynb", "c.ipynb", "d.ipynb"))
    monkeypatch.setattr(pipeline, "NOTEBOOK_INPUTS", {"a.ipynb": (), "b.ipynb": ("a.ipynb",), "c.ipynb": ("a.ipynb",),
                                                      "d.ipynb": ("b.ipynb",)})
    _notebook(source / "b.ipynb", "x = 1", "raise ValueError('b went wrong')")
    _notebook(source / "c.ipynb", "import no_such_module_here")  # its preload fails quietly, then the notebook
    _notebook(source / "d.ipynb", "open('d_ran', 'w').write('yes')")
    params = SimpleNamespace(min_cell_count=0, as_dict=dict)
    with pytest.raises(PapermillExecutionError) as failure:
        pipeline._execute(source, out, sockets, params, "params.yaml")
    assert failure.value.ename == "ValueError" and "b went wrong" in failure.value.evalue  # the first in order
    assert failure.value.exec_count == 2
    assert not (source / "d_ran").exists()
    assert "no_such_module_here" not in capfd.readouterr().err


@posix_only
def test_a_run_stopped_by_the_user_stops_its_kernels_at_once(tiny_run, monkeypatch):
    """Ctrl+C while a notebook runs: its kernel is killed, the run ends without waiting for it."""
    import time

    source, out, sockets = tiny_run
    _notebook(source / "b.ipynb", "import time\ntime.sleep(120)")
    _notebook(source / "c.ipynb", "x = 1")
    real_wait, waits = pipeline.wait_all, []

    def interrupted(futures):
        waits.append(futures)
        if len(waits) == 2:  # b's wave, with b running
            time.sleep(1)
            raise KeyboardInterrupt
        return real_wait(futures)

    monkeypatch.setattr(pipeline, "wait_all", interrupted)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        pipeline._execute(source, out, sockets, SimpleNamespace(min_cell_count=0, as_dict=dict), "params.yaml")
    assert time.monotonic() - start < 60


def _sleeper():
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_kernel_still_starting_when_the_run_stops_is_killed_once_started():
    """Review finding 5: Ctrl+C during a kernel's start-up (its process not yet known) kills that
    kernel as soon as it has started, not only after its notebook's turn."""
    turn, process = pipeline._Turn(), _sleeper()
    try:
        turn.stop_kernel()  # the run stops: the kernel's process is not known yet
        turn.started(process)
        assert process.wait(timeout=10) != 0
    finally:
        process.kill()
    later = pipeline._Turn()
    running = _sleeper()
    try:
        later.started(running)  # a run that goes on leaves its kernels alone
        assert running.poll() is None
    finally:
        running.kill()
        running.wait()


def test_a_later_kernel_waits_for_the_first_and_does_not_start_once_the_run_has_stopped(tmp_path):
    """A kernel of notebooks that run later starts once the first kernel is ready (``after``), and
    not at all if the run stopped meanwhile."""
    import threading
    import time
    from concurrent.futures import Future

    first_ready, turn, done = threading.Event(), pipeline._Turn(), Future()
    notebook = pipeline._Notebook(tmp_path / "x.ipynb", tmp_path / "x_out.ipynb", {}, turn, done)
    thread = threading.Thread(target=pipeline._run_on_kernel, args=([notebook], tmp_path / "sockets"),
                              kwargs={"after": first_ready})
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive() and not (tmp_path / "sockets").exists()  # waiting for the first kernel
    turn.cancel()
    first_ready.set()
    thread.join(10)
    assert not thread.is_alive() and not (tmp_path / "sockets").exists() and not done.done()


def test_a_kernel_that_fails_to_shut_down_is_logged_and_killed(caplog):
    """Review finding 5: what ``shutdown_kernel`` raises in a pool thread is logged, not lost."""
    import asyncio
    import logging

    process = _sleeper()

    class Manager:
        provisioner = SimpleNamespace(process=process)

        async def shutdown_kernel(self, now=False):
            raise RuntimeError("the kernel did not answer")

    closed = []
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.WARNING, logger="msht.pipeline"):
            pipeline._shut_down(Manager(), [SimpleNamespace(stop_channels=lambda: closed.append(1))], loop,
                                "02_descriptives.ipynb")
    finally:
        loop.close()
        process.kill()
    assert closed == [1]
    assert process.wait(timeout=10) != 0
    assert [r.getMessage() for r in caplog.records] == [
        "notebooks/02_descriptives.ipynb: shutting its kernel down failed (RuntimeError: the kernel did not answer)"]


def _files(folders) -> dict[Path, tuple[int, int]]:
    """Every file under ``folders``: path -> (inode, mtime in ns); a file written again (the
    results writers replace a file by renaming a new one) has a new inode or time."""
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for f in folders if f.exists() for p in f.rglob("*") if p.is_file()}


def written_by_each_notebook(params_path: Path, root: Path, in_process, notebooks: tuple[str, ...]) -> dict[str, set]:
    """Run ``notebooks`` in order in this process, one at a time, and return what each wrote (or
    wrote again) under the run's results and processed folders and the notebooks' folder."""
    from msht.config import load_params

    params = load_params(params_path)
    folders = [root / params.results_dir, root / params.processed_dir, root / "notebooks"]
    written = {}
    for name in notebooks:
        before = _files(folders)
        in_process(params_path, root=root, notebooks=(name,))
        after = _files(folders)
        written[name] = {p for p, stamp in after.items() if before.get(p) != stamp}
    return written


def assert_no_common_file_in_a_wave(written: dict[str, set], waves: list[tuple[str, ...]]) -> None:
    for wave in waves:
        for i, one in enumerate(wave):
            for other in wave[i + 1:]:
                assert not written[one] & written[other], (one, other, sorted(written[one] & written[other]))


@pytest.mark.parametrize("min_cell_count", [0, 5])
def test_notebooks_of_a_wave_write_no_common_file(root, tmp_path, in_process, make_params, min_cell_count):
    """Review finding 5: the notebooks that run at the same time (:func:`pipeline.notebook_waves`)
    write no common output file, as found by running each on its own on a small twin (with
    disclosure control on, 02 and 03 both write suppression.csv: they are not in one wave)."""
    from msht.synth.raw import write_extracts
    from msht.synth.sampler import sample_population

    raw = tmp_path / "raw"
    raw.mkdir()
    write_extracts(sample_population(300, seed=5), raw, seed=5)
    name = f"waves_test_{min_cell_count}"
    path = make_params(root, tmp_path, name, raw_dir=str(raw), synthetic=False, min_cell_count=min_cell_count)
    try:
        written = written_by_each_notebook(path, root, in_process, NOTEBOOKS)
    finally:
        import shutil

        shutil.rmtree(root / "_output" / name, ignore_errors=True)
    assert all(written.values()), "each notebook writes a results file"
    assert_no_common_file_in_a_wave(written, pipeline.notebook_waves(min_cell_count))
    if min_cell_count > 1:
        two, three = NOTEBOOKS[1:3]
        assert any(p.name == "suppression.csv" for p in written[two] & written[three])


def test_no_committed_notebook_sets_a_warning_filter(root):
    """A filter a notebook's cell set would still hold in the notebook that follows it on its kernel
    (:data:`pipeline.FRESH_START` keeps the filters libraries add as they are imported, as a
    kernel of the notebook's own would have them): so no notebook sets one."""
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert not re.search(r"\b(filterwarnings|simplefilter|resetwarnings|catch_warnings)\b", cell.source), \
                    (path.name, cell.source[:80])
