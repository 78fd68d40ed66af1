"""The notebooks' kernel: Unix sockets in a private folder on POSIX, no TCP warning, no leftovers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from msht import pipeline


@pytest.mark.skipif(os.name != "posix", reason="IPC kernels are used on POSIX only")
def test_kernel_runs_over_unix_sockets_and_cleans_up(tmp_path, capfd):
    sockets = Path(tempfile.mkdtemp(prefix="msht-kernel-"))  # short, as in run_notebooks
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(6 * 7)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    options = pipeline.kernel_options(sockets)
    assert options["kernel_manager_class"]().transport == "ipc"
    pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                        progress_bar=False, **options)
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[0].outputs[0]["text"] == "42\n"
    assert "without encryption" not in capfd.readouterr().err
    assert list(sockets.iterdir()) == []  # socket files removed when the kernel stops
    sockets.rmdir()


def test_other_systems_keep_the_default_kernel(monkeypatch, tmp_path):
    monkeypatch.setattr(pipeline.os, "name", "nt")
    assert pipeline.kernel_options(tmp_path) == {}


@pytest.mark.skipif(os.name != "posix", reason="IPC kernels are used on POSIX only")
def test_a_socket_folder_too_long_for_a_socket_path_keeps_the_default_kernel():
    assert pipeline.kernel_options(Path("/tmp") / ("x" * 120)) == {}
    assert pipeline.kernel_options(Path("/tmp/msht-kernel-abcdefgh")) != {}


@pytest.mark.skipif(os.name != "posix", reason="IPC kernels are used on POSIX only")
def test_the_kernel_is_not_interrupted_when_it_is_shut_down(tmp_path):
    """jupyter_client interrupts (SIGINT) before each shutdown; a kernel busy in a message
    handler then prints "KeyboardInterrupt caught in kernel." into `msht run`'s output."""
    import asyncio

    manager = pipeline.kernel_options(tmp_path)["kernel_manager_class"]()
    sent = []

    async def record(signum):
        sent.append(signum)

    manager._async_signal_kernel = record
    manager.kernel_spec  # noqa: B018 - loads the python3 spec (interrupt_mode "signal")
    manager.provisioner = type("P", (), {"has_process": True})()
    manager.shutting_down = True
    asyncio.run(manager._async_interrupt_kernel())
    assert sent == [], "no SIGINT while shutting down"
    manager.shutting_down = False
    asyncio.run(manager._async_interrupt_kernel())
    assert len(sent) == 1, "an interrupt asked for otherwise still goes through"
