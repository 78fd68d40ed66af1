"""Render the report: with Quarto when it is on PATH, otherwise an nbconvert HTML fallback.

Quarto renders a *staging* copy of the project (``_quarto.yml``, ``report/`` and the run's
executed notebooks) so that any run, not only the default one, renders from its own notebooks.
Quarto never executes the notebooks (they were executed by papermill).
"""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

import nbformat
import yaml
from nbconvert import HTMLExporter

from msht.config import Params, RunPaths, load_params, project_root
from msht.pipeline import NOTEBOOKS, executed_dir

QUARTO_HINT = "install Quarto 1.5+ (https://quarto.org/docs/get-started/) or run `conda env create -f environment.yml`"

SYNTHETIC_BANNER = (
    "SYNTHETIC DATA: every figure in this report comes from the project's synthetic twin, "
    "not from police records."
)


def quarto_path() -> str | None:
    """The ``quarto`` executable on PATH, or None."""
    return shutil.which("quarto")


def report_metadata(params: Params) -> dict:
    """Quarto metadata drawn from params (title, author, funder, period, synthetic banner)."""
    return {
        "title": params.report_title,
        "subtitle": f"{params.force_name}, {params.period_start[:4]}-{params.period_end[:4]}",
        "author": [{"name": a.strip()} for a in params.authors.split(";") if a.strip()],
        "funding": params.funder,
        "synthetic": params.synthetic,
        "banner": SYNTHETIC_BANNER if params.synthetic else "",
    }


def stage(params: Params, root: Path | None = None) -> Path:
    """Copy the Quarto project and the run's executed notebooks into ``_output/<run>/site``."""
    root = root or project_root()
    site = root / "_output" / params.run_name / "site"
    if site.exists():
        shutil.rmtree(site)
    (site / "notebooks").mkdir(parents=True)
    shutil.copy2(root / "_quarto.yml", site / "_quarto.yml")
    shutil.copytree(root / "report", site / "report")
    src = executed_dir(params, root)
    for name in NOTEBOOKS:
        shutil.copy2(src / name, site / "notebooks" / name)
    (site / "_variables.yml").write_text(yaml.safe_dump(report_metadata(params), sort_keys=False), encoding="utf-8")
    (site / "report" / "_metadata.yml").write_text(
        yaml.safe_dump({k: v for k, v in report_metadata(params).items() if k in ("title", "subtitle", "author")}, sort_keys=False),
        encoding="utf-8",
    )
    return site


def render_quarto(params: Params, quarto: str, root: Path | None = None) -> Path:
    """Render the staged project with Quarto into the run's ``report_dir``."""
    root = root or project_root()
    site = stage(params, root)
    out = RunPaths.from_params(params, root).report_dir
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([quarto, "render", "--output-dir", str(out)], cwd=site, check=True)
    return out


def render_fallback(params: Params, root: Path | None = None) -> Path:
    """Write each executed notebook as HTML without code (nbconvert), plus an index page."""
    root = root or project_root()
    out = RunPaths.from_params(params, root).report_dir
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    links = []
    for name in NOTEBOOKS:
        nb = nbformat.read(executed_dir(params, root) / name, as_version=4)
        nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
        body, _ = exporter.from_notebook_node(nb)
        target = out / name.replace(".ipynb", ".html")
        target.write_text(body, encoding="utf-8")
        links.append(f'<li><a href="{target.name}">{html.escape(name.removesuffix(".ipynb"))}</a></li>')
    banner = f'<p style="background:#fde68a;padding:8px;font-weight:bold">{html.escape(SYNTHETIC_BANNER)}</p>' if params.synthetic else ""
    (out / "index.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        + html.escape(params.report_title)
        + "</title></head><body><h1>"
        + html.escape(params.report_title)
        + f"</h1><p>{html.escape(params.force_name)}, {params.period_start[:4]}-{params.period_end[:4]}</p>"
        + banner
        + "<p>Rendered without Quarto: the executed notebooks, code hidden.</p><ul>"
        + "".join(links)
        + "</ul></body></html>\n",
        encoding="utf-8",
    )
    return out


def render(params_path: str | Path, *, log=print) -> Path:
    """Render the report of a run: Quarto when available, else the fallback (saying so in one line)."""
    params = load_params(params_path)
    quarto = quarto_path()
    if quarto:
        out = render_quarto(params, quarto)
        log(f"report rendered with Quarto into {params.report_dir}")
        return out
    out = render_fallback(params)
    log(f"Quarto not found: skipped the Quarto render (HTML/PDF); wrote the HTML fallback to {params.report_dir}/index.html; to get the full report, {QUARTO_HINT}")
    return out
