"""Repository hygiene: what is committed holds no row-level data.

* Committed notebooks' outputs hold no DataFrame of rows: no pandas HTML table
  (``<table class="dataframe"``), no plain-text DataFrame repr, no identifier column or
  identifier-like value in any output (tables of counts are made with great_tables).
* ``.gitignore`` keeps raw and processed data out, and no extract is tracked anywhere.
* The pre-commit config has its hooks, with pinned revisions.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

#: Columns that hold one person's or one occurrence's identifier or date of birth.
IDENTIFIER_COLUMNS = (
    "occurrence_number",
    "victim_person_id",
    "person_id",
    "offender_person_id",
    "offender_id",
    "incident_reference",
    "date_of_birth",
    "source_row",
)
#: Values shaped like the extracts' identifiers (synthetic and real formats) or their pseudonyms.
IDENTIFIER_VALUES = {
    "occurrence number": re.compile(r"\bMS/\d{4}/\d{4,}\b"),
    "person ID": re.compile(r"\bP\d{7}\b"),
    "incident reference": re.compile(r"\bINC\d{6,}\b"),
    "pseudonym (20 hex digits)": re.compile(r"(?<![0-9a-f])[0-9a-f]{20}(?![0-9a-f])"),
}
DATAFRAME_HTML = re.compile(r"<table[^>]*class=\"[^\"]*dataframe", re.IGNORECASE)
DATAFRAME_SHAPE = re.compile(r"\[\d+ rows x \d+ columns\]")
EXTRACT_FILE = re.compile(r"(^|/)(cases|victims|police_records|offenders)\.(csv|xlsx)$")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def notebook_problems(path: Path) -> list[str]:
    """Why the outputs of notebook ``path`` are not fit to commit (empty: fine)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            parts = {mime: _text(v) for mime, v in out.get("data", {}).items() if mime.startswith("text/")}
            if out.get("output_type") == "stream":
                parts["stream"] = _text(out.get("text", ""))
            if out.get("output_type") == "error":
                parts["traceback"] = "\n".join(out.get("traceback", []))
            for mime, text in parts.items():
                where = f"{path.name} cell {i} ({mime})"
                if DATAFRAME_HTML.search(text):
                    problems.append(f"{where}: a pandas DataFrame rendered as HTML")
                if mime != "text/html" and DATAFRAME_SHAPE.search(text):
                    problems.append(f"{where}: a DataFrame repr")
                if mime == "text/plain" and _looks_like_frame_repr(text):
                    problems.append(f"{where}: a DataFrame/Series repr of rows")
                # an aggregate HTML table may name a field (completeness by field); a printed
                # frame or Series with an identifier column holds identifiers
                for col in IDENTIFIER_COLUMNS:
                    if mime in ("text/plain", "stream") and re.search(rf"(?<![\w.]){col}(?!\w)", text):
                        problems.append(f"{where}: identifier column {col!r}")
                for what, pattern in IDENTIFIER_VALUES.items():
                    if pattern.search(text):
                        problems.append(f"{where}: a value shaped like a {what}")
    return problems


def _looks_like_frame_repr(text: str) -> bool:
    """A pandas repr of rows: a header line, then at least three lines starting with a row index."""
    lines = text.splitlines()
    indexed = [ln for ln in lines[1:] if re.match(r"^\d+\s{2,}\S", ln)]
    return len(lines) >= 4 and len(indexed) >= 3


def committed_notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("*.ipynb"))


def test_there_are_committed_notebooks(root):
    assert committed_notebooks(root)


@pytest.mark.parametrize("name", ["01_clean.ipynb", "02_descriptives.ipynb", "03_associations.ipynb"])
def test_committed_notebook_outputs_hold_no_rows(root, name):
    path = root / "notebooks" / name
    if not path.exists():
        pytest.skip(f"{name} is not in this checkout")
    assert notebook_problems(path) == []


def test_every_committed_notebook_is_checked(root):
    for path in committed_notebooks(root):
        assert notebook_problems(path) == [], path.name


def _notebook(tmp_path: Path, outputs: list[dict]) -> Path:
    nb = {
        "cells": [{"cell_type": "code", "source": "x", "metadata": {}, "outputs": outputs, "execution_count": 1}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_the_check_catches_dataframes_and_identifiers(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {"occurrence_number": ["MS/2020/000123", "MS/2020/000126", "MS/2021/000129"], "sex": ["male", "female", "male"]}
    )
    html = {"output_type": "execute_result", "data": {"text/html": frame.to_html(), "text/plain": repr(frame)}}
    found = notebook_problems(_notebook(tmp_path, [html]))
    assert any("DataFrame rendered as HTML" in p for p in found)
    assert any("identifier column 'occurrence_number'" in p for p in found)
    assert any("occurrence number" in p for p in found)
    counts = pd.DataFrame({"n": range(12)})
    plain = {"output_type": "execute_result", "data": {"text/plain": repr(counts)}}
    assert any("repr of rows" in p for p in notebook_problems(_notebook(tmp_path, [plain])))
    printed = {"output_type": "stream", "name": "stdout", "text": ["victim P1000231 has 3 cases\n"]}
    assert any("person ID" in p for p in notebook_problems(_notebook(tmp_path, [printed])))
    fine = {
        "output_type": "execute_result",
        "data": {
            "text/html": '<table class="gt_table"><tr><td>Male</td><td>72.0 (1,279)</td></tr></table>',
            "text/markdown": "Of 1,790 victims, 72.0% were male.",
            "text/plain": "<IPython.core.display.HTML object>",
        },
    }
    assert notebook_problems(_notebook(tmp_path, [fine])) == []


# ----------------------------------------------------------------------------------------------
# Data stays out of git
# ----------------------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def git_root(root):
    if not (root / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    return root


@pytest.mark.parametrize(
    "path",
    [
        "data/raw/x.csv",
        "data/raw/default/cases.csv",
        "data/raw/myforce/cases.xlsx",
        "data/processed/default/cases.parquet",
        "data/anything.csv",
        "_output/release/results/descriptives.csv",
    ],
)
def test_gitignore_keeps_data_and_run_outputs_out(git_root, path):
    assert _git(git_root, "check-ignore", "-q", "--no-index", path).returncode == 0, f"{path} is not git-ignored"


def test_data_readme_is_not_ignored(git_root):
    assert _git(git_root, "check-ignore", "-q", "--no-index", "data/README.md").returncode == 1


def test_no_extract_or_data_file_is_tracked(git_root):
    tracked = _git(git_root, "ls-files").stdout.splitlines()
    assert [p for p in tracked if p.startswith("data/")] in ([], ["data/README.md"])
    assert [p for p in tracked if EXTRACT_FILE.search(p)] == []
    assert [p for p in tracked if p.endswith(".parquet")] == []


def test_gitignore_text_ignores_data(root):
    """Without git (e.g. an unpacked release), the rule is at least written down."""
    lines = {ln.strip() for ln in (root / ".gitignore").read_text().splitlines()}
    assert lines & {"data/*", "data/", "/data/*", "/data/"}
    assert lines & {"_output/", "/_output/"}


# ----------------------------------------------------------------------------------------------
# pre-commit
# ----------------------------------------------------------------------------------------------


def test_pre_commit_config_has_the_hooks_pinned(root):
    config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: repo for repo in config["repos"] for hook in repo["hooks"]}
    for hook in ("ruff", "ruff-format", "nbqa-ruff", "check-added-large-files", "check-yaml", "end-of-file-fixer"):
        assert hook in hooks, f"pre-commit lacks {hook}"
    assert {"detect-secrets", "gitleaks"} & set(hooks), "pre-commit lacks a secrets scanner"
    for repo in config["repos"]:
        rev = str(repo.get("rev", ""))
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", rev), f"{repo['repo']} is not pinned to a release: {rev!r}"
    fmt = next(h for r in config["repos"] for h in r["hooks"] if h["id"] == "ruff-format")
    assert "--check" in fmt.get("args", []), "ruff-format must only check"


def test_every_property_test_states_its_example_budget():
    """A ``@given`` test without ``max_examples=examples(n)`` runs the full profiles' cap (1000
    examples) in CI; one such test took 42 s of the suite's 4 minutes. Every property test states
    its budget (tests/hypothesis_profiles.py)."""
    import ast

    missing = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                decorators = [ast.unparse(d) for d in node.decorator_list]
                if any(d.startswith("given(") for d in decorators) and not any("max_examples" in d for d in decorators):
                    missing.append(f"{path.name}::{node.name}")
    assert missing == [], f"property tests without max_examples=examples(n): {missing}"
