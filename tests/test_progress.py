"""Progress bars: on and off by environment, on stderr only, never a change to results."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from msht.base import progress


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("yes", True), ("0", False), ("off", False)])
def test_environment_forces_bars_on_or_off(monkeypatch, value, expected):
    monkeypatch.setenv(progress.PROGRESS_ENV, value)
    assert progress.enabled() is expected


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("tty", [True, False])
def test_default_follows_whether_stderr_is_a_terminal(monkeypatch, tty):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    monkeypatch.setattr(progress.sys, "stderr", _Stream(tty))
    assert progress.enabled() is tty


def test_never_inside_a_notebook_kernel_even_when_asked(monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_ENV, "1")
    kernel_stream = type("OutStream", (_Stream,), {"__module__": "ipykernel.iostream"})
    monkeypatch.setattr(progress.sys, "stderr", kernel_stream(True))
    assert progress.in_kernel() and progress.enabled() is False


def test_papermill_run_keeps_bars_out_of_the_notebook(monkeypatch, tmp_path):
    import nbformat
    import papermill as pm

    from msht import pipeline

    monkeypatch.setenv(progress.PROGRESS_ENV, "1")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from msht.base import progress\nlist(progress.iterate(range(3), 'counting'))")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    with tempfile.TemporaryDirectory(prefix="msht-kernel-") as sockets:
        pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                            progress_bar=False, **pipeline.kernel_options(Path(sockets)))
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert [o for o in out.cells[0].outputs if o.get("name") == "stderr"] == []


def test_iterate_yields_the_same_items_with_and_without_bars(monkeypatch, capsys):
    monkeypatch.setenv(progress.PROGRESS_ENV, "0")
    assert progress.iterate([1, 2, 3], "x") == [1, 2, 3]
    monkeypatch.setenv(progress.PROGRESS_ENV, "1")
    assert list(progress.iterate([1, 2, 3], "counting", unit="n")) == [1, 2, 3]
    out, err = capsys.readouterr()
    assert out == ""
    assert "counting" in err


def test_steps_show_each_label_on_stderr(monkeypatch, capsys):
    monkeypatch.setenv(progress.PROGRESS_ENV, "1")
    with progress.steps("cleaning", "first step", "second step") as bar:
        bar.advance("first step")
        bar.advance("second step")
    out, err = capsys.readouterr()
    assert out == ""
    assert "first step" in err and "second step" in err
    assert bar.done == 2


def test_steps_refuse_an_undeclared_label(monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_ENV, "0")
    with progress.steps("cleaning", "a") as bar, pytest.raises(ValueError, match="unknown progress step 'b'"):
        bar.advance("b")


def test_reading_and_cleaning_show_their_steps_and_give_the_same_result(monkeypatch, capsys, small_raw):
    from msht.clean import rules as clean
    from msht.ingest import extracts as ingest

    monkeypatch.setenv(progress.PROGRESS_ENV, "0")
    frames = {k: e.frame for k, e in ingest.read_all(small_raw[0]).items()}
    quiet = clean.clean(frames)
    monkeypatch.setenv(progress.PROGRESS_ENV, "1")
    assert {k: e.frame for k, e in ingest.read_all(small_raw[0]).items()}.keys() == frames.keys()
    loud = clean.clean(frames)
    err = capsys.readouterr().err
    assert "reading extracts" in err
    for label in clean.CLEAN_STEPS:
        assert label in err
    assert quiet.cases.equals(loud.cases)
    assert quiet.exclusions.equals(loud.exclusions)


def test_writing_extracts_shows_its_steps(monkeypatch, capsys, tmp_path):
    from msht.synth import raw
    from msht.synth.sampler import sample_population

    monkeypatch.setenv(progress.PROGRESS_ENV, "1")
    raw.write_extracts(sample_population(40, seed=3), tmp_path, seed=3)
    err = capsys.readouterr().err
    for label in raw.WRITE_STEPS:
        assert label in err
