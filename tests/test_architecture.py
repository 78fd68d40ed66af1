"""The package tree follows the data flow: no module imports from a later stage.

Stages, in order (``docs/architecture.md``): ``base`` (shared helpers), ``ingest``, ``clean``,
``analysis``, ``publish``, then ``synth`` (the synthetic twin, which writes raw extracts in the
format ingest reads and checks itself with the analysis; no stage imports it). A module may import
its own stage and earlier ones. ``config`` and ``params_schema`` sit at the top and may be imported
by every module (they import only each other); ``cli``, ``pipeline`` and ``bench`` sit at the top
and may import anything, but no stage may import them. Every import counts, including those inside
functions (``from msht.publish import sdc`` in a function of an analysis module is a violation).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "msht"

STAGES: tuple[str, ...] = ("base", "ingest", "clean", "analysis", "publish", "synth")
#: Top-level modules every module may import (they import nothing but each other).
SHARED_TOP: frozenset[str] = frozenset({"config", "params_schema"})
#: Top-level modules that drive the stages: they may import anything; no stage imports them.
DRIVERS: frozenset[str] = frozenset({"cli", "pipeline", "bench"})


def module_name(path: Path, lib: Path = LIB) -> str:
    """``lib/msht/analysis/describe.py`` -> ``msht.analysis.describe`` (packages: their folder)."""
    parts = list(path.relative_to(lib.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every ``msht`` module ``source`` imports, anywhere in the file, as ``(line, dotted name)``.

    ``from msht.analysis import describe`` gives ``msht.analysis.describe`` (a name imported from a
    package is taken to be its submodule: the finer of the two, which is what the rule needs);
    relative imports are resolved against ``module``.
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "msht"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            if base.split(".")[0] != "msht":
                continue
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def stage_of(dotted: str) -> str | None:
    """The stage of module ``msht.<stage>.<...>``; the top-level module's own name for
    ``msht.config`` and the like; None for the ``msht`` package itself."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else None


def violation(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported`` (None when it may)."""
    mine, theirs = stage_of(importer), stage_of(imported)
    if theirs is None or theirs in SHARED_TOP:
        return None
    if mine in DRIVERS:
        return None
    if theirs in DRIVERS:
        return f"imports the driver {imported}"
    if mine in SHARED_TOP:
        return f"{importer} is imported by every stage, so it may import only {sorted(SHARED_TOP)}"
    if mine not in STAGES:
        return f"{importer} belongs to no stage ({STAGES})"
    if theirs not in STAGES:
        return f"imports {imported}, which belongs to no stage"
    if STAGES.index(theirs) > STAGES.index(mine):
        return f"stage '{mine}' imports {imported} from the later stage '{theirs}'"
    return None


def violations(lib: Path = LIB) -> list[str]:
    """Every import of a later stage (or of a driver) in the modules under ``lib``."""
    out = []
    for path in sorted(lib.rglob("*.py")):
        module = module_name(path, lib)
        if module == "msht":
            continue
        if stage_of(module) not in (*STAGES, *SHARED_TOP, *DRIVERS):
            out.append(f"{path.relative_to(lib.parent)}: {module} belongs to no stage and is not a top-level module")
            continue
        source = path.read_text(encoding="utf-8")
        for line, imported in imported_modules(source, module, path.name == "__init__.py"):
            why = violation(module, imported)
            if why:
                out.append(f"{path.relative_to(lib.parent)}:{line}: {why}")
    return out


def test_no_module_imports_from_a_later_stage():
    assert violations() == []


def test_every_stage_is_a_package():
    for stage in STAGES:
        assert (LIB / stage / "__init__.py").is_file(), stage
    top = {p.stem for p in LIB.glob("*.py")} - {"__init__"}
    assert top == SHARED_TOP | DRIVERS


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        ("msht.analysis.describe", "def f():\n    from msht.publish import sdc\n", "later stage 'publish'"),
        ("msht.analysis.describe", "import msht.publish.tables\n", "later stage 'publish'"),
        ("msht.ingest.extracts", "from msht.clean.rules import clean\n", "later stage 'clean'"),
        ("msht.publish.render", "from msht.pipeline import NOTEBOOKS\n", "driver"),
        ("msht.analysis.stats", "from ..publish import sdc\n", "later stage 'publish'"),
        ("msht.config", "from msht.base import vocab\n", "imported by every stage"),
        ("msht.base.vocab", "from msht import synth\n", "later stage 'synth'"),
    ],
)
def test_the_check_finds_a_later_stage_import_anywhere(importer, source, expected):
    found = [violation(importer, imported) for _, imported in imported_modules(source, importer)]
    assert any(why and expected in why for why in found), found


@pytest.mark.parametrize(
    ("importer", "source"),
    [
        ("msht.publish.sdc", "from msht.analysis import describe\nfrom msht.base.vocab import UNKNOWN\n"),
        ("msht.analysis.describe", "from msht.config import Params\nfrom . import stats\n"),
        ("msht.synth.raw", "from msht.ingest import coding\n"),
        ("msht.cli", "from msht.publish import render\nfrom msht import pipeline\n"),
        ("msht.config", "from msht.params_schema import ParamsSchema\n"),
    ],
)
def test_the_check_allows_earlier_stages_and_the_shared_top(importer, source):
    assert [violation(importer, imported) for _, imported in imported_modules(source, importer)] == [None] * len(
        imported_modules(source, importer)
    )
