"""Functions in ``lib/`` stay short enough to hold in the head (issue 16).

A function (or method) longer than :data:`MAX_LINES` lines fails this test unless its docstring
says why it is long, with a line starting "Long because:". Lines are counted from the ``def``
(decorators excluded) to the last line of the body, docstring included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
MAX_LINES = 80
MARKER = "Long because:"


def _functions(path: Path) -> list[tuple[str, int, int, str]]:
    """(qualified name, first line, length, docstring) of every function in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[str, int, int, str]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                out.append((name, child.lineno, child.end_lineno - child.lineno + 1, ast.get_docstring(child) or ""))
                walk(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return out


def long_functions(root: Path = LIB, max_lines: int = MAX_LINES) -> list[str]:
    """``path:line name (n lines)`` of every function over ``max_lines`` lines without a reason."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for name, line, length, doc in _functions(path):
            if length > max_lines and MARKER not in doc:
                found.append(f"{path.relative_to(root)}:{line} {name} ({length} lines)")
    return found


def test_no_function_in_lib_is_longer_than_80_lines_without_a_reason() -> None:
    assert long_functions() == []


def test_the_check_finds_a_long_function_and_accepts_a_reason(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    method_body = "".join(f"        x{i} = {i}\n" for i in range(MAX_LINES))
    (tmp_path / "mod.py").write_text(
        f"def short():\n    return 1\n\n\nclass K:\n    def long(self):\n{method_body}\n\n"
        f"def explained():\n    \"\"\"Does a lot.\n\n    {MARKER} one table.\n    \"\"\"\n{body}",
        encoding="utf-8",
    )
    assert long_functions(tmp_path) == [f"mod.py:6 K.long ({MAX_LINES + 1} lines)"]


@pytest.mark.parametrize("length, flagged", [(MAX_LINES, False), (MAX_LINES + 1, True)])
def test_the_limit_is_inclusive(tmp_path: Path, length: int, flagged: bool) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(length - 1))
    (tmp_path / "mod.py").write_text(f"def f():\n{body}", encoding="utf-8")
    assert bool(long_functions(tmp_path)) is flagged
