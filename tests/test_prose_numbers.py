"""Every number in notebook 02's rendered prose appears in the results CSV it wrote.

Reads the *executed* committed notebook ``notebooks/02_descriptives.ipynb`` (the default synthetic
run, executed by the lead) and ``results/default/descriptives.csv``. To check another run, set
``MSHT_PROSE_NOTEBOOK`` and ``MSHT_PROSE_RESULTS`` to its executed notebook and results CSV.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from msht.publish import prose
from msht.config import project_root

ROOT = project_root(Path(__file__).parent)
NOTEBOOK = Path(os.environ.get("MSHT_PROSE_NOTEBOOK", ROOT / "notebooks" / "02_descriptives.ipynb"))
RESULTS = Path(os.environ.get("MSHT_PROSE_RESULTS", ROOT / "results" / "default" / "descriptives.csv"))

#: Labels the Quarto report embeds from notebook 02.
LABELS = (
    "synthetic-banner", "victims-overview", "table1-text", "police-records-text", "offenders-text", "engagement-text",
    "tbl-table1", "tbl-appendix1", "tbl-appendix2", "tbl-appendix3", "fig-offers-by-year", "fig-engagement",
)

#: Cells whose Markdown states run parameters, not results.
NOT_RESULTS = {"synthetic-banner"}


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def _label(cell: dict) -> str | None:
    for line in "".join(cell.get("source", "")).splitlines():
        if line.startswith("#| label:"):
            return line.split(":", 1)[1].strip()
    return None


def _markdown_outputs() -> list[tuple[str, str]]:
    """(label, Markdown text) of every text/markdown output (display_data or execute_result)."""
    found = []
    for cell in _cells():
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("display_data", "execute_result") and "text/markdown" in out.get("data", {}):
                text = out["data"]["text/markdown"]
                found.append((_label(cell) or "<unlabelled>", "".join(text) if isinstance(text, list) else text))
    return found


def test_notebook_has_the_labels_the_report_embeds():
    labels = [_label(c) for c in _cells() if c["cell_type"] == "code"]
    missing = [lab for lab in LABELS if lab not in labels]
    assert not missing, f"{NOTEBOOK}: no cell labelled {missing}"


def test_every_number_in_the_prose_is_in_descriptives_csv():
    outputs = [(label, text) for label, text in _markdown_outputs() if label not in NOT_RESULTS]
    if not outputs:
        pytest.skip(f"{NOTEBOOK.name} has no Markdown outputs: it has not been executed yet "
                    "(the lead executes the default run)")
    if not RESULTS.exists():
        pytest.skip(f"{RESULTS} does not exist yet: the default run has not been executed")
    rows = pd.read_csv(RESULTS, dtype={"level": str})
    untraced = {label: found for label, text in outputs if (found := prose.untraced_numbers(text, rows))}
    assert not untraced, f"numbers in the prose of {NOTEBOOK.name} not found in {RESULTS.name}: {untraced}"
