"""Render the report: with Quarto when it is on PATH, otherwise an nbconvert HTML fallback.

:func:`render` picks the renderer; :func:`render_quarto` stages the run's site
(:mod:`msht.publish.quarto_site`), runs Quarto into a fresh folder, refuses a render that failed or
warned, cleans the pages (:mod:`msht.publish.html_safety`) and only then replaces ``report_dir``.
Without Quarto, :func:`render_fallback` writes each executed notebook as HTML (code hidden:
:mod:`msht.publish.report_views`), the reproducibility page (:mod:`msht.publish.reproducibility`)
and an index page into ``report_dir``. Every table, figure and computed sentence of the report
lives in the notebooks, so the fallback shows them all; only the article's static prose needs
Quarto. What the render writes that only the run knows (title, force, period...) comes from
:mod:`msht.publish.report_metadata`.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

from msht.base.files import swap_in
from msht.config import Params, RunPaths, load_params, project_root
from msht.publish.html_safety import find_leaks, postprocess_html
from msht.publish.quarto_site import (
    REFERENCE_DOCX, a4_reference_docx, first_error, quarto_version, stage, tidy_quarto_output, use_reference_docx,
    warnings_in,
)
from msht.publish.report_metadata import SYNTHETIC_BANNER, period_label
from msht.publish.report_views import add_alt_texts, executed_notebooks, figure_alt_texts, report_view
from msht.publish.reproducibility import REPRO_PAGE, html_page, reproducibility, reproducibility_html

logger = logging.getLogger(__name__)

QUARTO_HINT = "install Quarto 1.7+ (https://quarto.org/docs/get-started/) or run `conda env create -f environment.yml`"

#: What the fallback index says each notebook holds of the report.
NOTEBOOK_SECTIONS = {
    "01_clean.ipynb": "Research design: data coding and quality, the exclusion flow; Appendix 5",
    "02_descriptives.ipynb": "Executive summary (engagement rates); Descriptive overview; Appendices 1 to 3",
    "03_associations.ipynb": "Executive summary (associated factors); Factors associated with victim engagement; Appendix 4",
    "04_synthetic_vs_published.ipynb": "Appendix 6: this run compared with the published figures",
    "05_forces.ipynb": "Forces compared (a run of several forces): each force cleaned and counted, the data quality "
                       "and exclusions by force, pooled tests, forest and funnel plots; Appendix 6: each force's Appendix 4",
}


#: Environment variable that turns Quarto off (``1``): the HTML fallback is rendered even where
#: Quarto is installed (to time or check the fallback, or to skip a slow PDF render).
NO_QUARTO_ENV = "MSHT_NO_QUARTO"


#: Environment variable that lets a render with Quarto warnings be published (``1``). By default a
#: warning fails the render: an unresolved cross-reference, say, prints as ``?@tbl-x`` in the PDF.
ALLOW_WARNINGS_ENV = "MSHT_ALLOW_QUARTO_WARNINGS"


def quarto_warnings_allowed() -> bool:
    """True when ``$MSHT_ALLOW_QUARTO_WARNINGS`` lets a render with warnings be published."""
    return os.environ.get(ALLOW_WARNINGS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def quarto_disabled() -> bool:
    """True when ``$MSHT_NO_QUARTO`` turns Quarto off."""
    return os.environ.get(NO_QUARTO_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def quarto_path() -> str | None:
    """The ``quarto`` executable on PATH, or None (also when ``$MSHT_NO_QUARTO`` turns it off)."""
    return None if quarto_disabled() else shutil.which("quarto")


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

#: Quarto's log of the last render of a run, kept beside its staged site (never in ``report_dir``).
RENDER_LOG = "quarto-render.log"


class RenderError(RuntimeError):
    """A render that failed: the message is one line naming the format and the first error."""


def render_quarto(params: Params, quarto: str, root: Path | None = None) -> Path:
    """Render the staged project with Quarto into the run's ``report_dir``.

    Quarto writes into a fresh folder beside ``report_dir``, which replaces ``report_dir`` only
    when every format has rendered: a failed render leaves the previous report intact. Quarto's
    output goes to ``_output/<run_name>/quarto-render.log``. Raises :class:`RenderError` (one line:
    the format, Quarto's first error and the log's path) when Quarto fails, and when it warns
    (unless :data:`ALLOW_WARNINGS_ENV` is set; the warnings are then logged, one line each).
    """
    root = root or project_root()
    site = stage(params, root, renderer=f"Quarto {quarto_version(quarto)}")
    if a4_reference_docx(quarto, site / REFERENCE_DOCX):
        use_reference_docx(site)
    out = RunPaths.from_params(params, root).report_dir
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = out.with_name(f"{out.name}.rendering")
    if fresh.exists():
        shutil.rmtree(fresh)
    log_path = site.parent / RENDER_LOG
    shown = log_path.relative_to(root) if log_path.is_relative_to(root) else log_path
    try:
        proc = subprocess.run([quarto, "render", "--output-dir", str(fresh)], cwd=site, capture_output=True,
                              text=True, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RenderError(f"could not run Quarto ({quarto}): {exc}") from None
    output = proc.stdout + ("\n" if proc.stdout and proc.stderr else "") + proc.stderr
    log_path.write_text(output, encoding="utf-8")
    if proc.returncode != 0:
        if fresh.exists():
            shutil.rmtree(fresh)
        fmt, message = first_error(output)
        raise RenderError(
            f"Quarto failed to render the {fmt} (exit {proc.returncode}): {message[:300]} "
            f"(full log: {shown}; the previous report is unchanged)"
        )
    if not fresh.is_dir():
        raise RenderError(f"Quarto exited 0 but wrote nothing into {fresh.name} (full log: {shown})")
    warnings = warnings_in(output)
    if warnings and not quarto_warnings_allowed():
        shutil.rmtree(fresh)
        raise RenderError(
            f"Quarto warned {len(warnings)} time(s), first: {warnings[0][:300]} (full log: {shown}; the report "
            f"was not published and the previous one is unchanged; {ALLOW_WARNINGS_ENV}=1 publishes it anyway)"
        )
    tidy_quarto_output(fresh, site)
    for page, gone in postprocess_html(fresh).items():
        logger.info(f"removed {len(gone)} unneeded CDN script tag(s) from {page}")
    leaks = {path.name: find_leaks(path.read_text(encoding="utf-8"), root) for path in fresh.rglob("*.html")}
    leaks = {name: found for name, found in leaks.items() if found}
    if leaks:
        shutil.rmtree(fresh)
        raise RenderError(f"the rendered HTML names local paths ({leaks}); not published; the previous report is unchanged")
    swap_in(fresh, out)
    for warning in warnings:
        logger.warning(f"quarto: {warning[:300]}")
    return out


def _notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def render_fallback(params: Params, root: Path | None = None) -> Path:
    """Write each executed notebook as HTML without code (nbconvert), the reproducibility page
    and an index page into a fresh folder that then replaces the run's ``report_dir`` (so no
    file of an earlier Quarto render is left beside the fallback's pages)."""
    root = root or project_root()
    final = RunPaths.from_params(params, root).report_dir
    final.parent.mkdir(parents=True, exist_ok=True)
    out = final.with_name(f"{final.name}.rendering")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    from nbconvert import HTMLExporter  # 0.7 s to import; only the HTML fallback uses it

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    items = []
    for path in executed_notebooks(params, root):
        name = path.name
        nb = report_view(nbformat.read(path, as_version=4), captions=True)
        body, _ = exporter.from_notebook_node(nb)
        body = add_alt_texts(body, figure_alt_texts(nb))
        target = out / name.replace(".ipynb", ".html")
        target.write_text(body, encoding="utf-8")
        title = _notebook_title(nb, name.removesuffix(".ipynb"))
        items.append(
            f'<li><a href="{target.name}">{html.escape(title)}</a>'
            f"<br><small>{html.escape(NOTEBOOK_SECTIONS.get(name, ''))}</small></li>"
        )
    info = reproducibility(params, root, renderer="the HTML fallback (nbconvert; Quarto not found)")
    (out / REPRO_PAGE).write_text(reproducibility_html(info, params), encoding="utf-8")
    items.append(
        f'<li><a href="{REPRO_PAGE}">Reproducibility</a>'
        "<br><small>Appendix 7: parameters, package versions, git commit, input checksums</small></li>"
    )
    banner = f'<p class="banner">{html.escape(SYNTHETIC_BANNER)}</p>' if params.synthetic else ""
    hint = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(QUARTO_HINT))
    body = (
        f"<h1>{html.escape(params.report_title)}</h1>"
        f"<p>{html.escape(params.force_name)}, {period_label(params)}</p>"
        + banner
        + "<p>Rendered without Quarto: the executed notebooks with their code hidden. They hold every "
        "table, figure and computed sentence of the report; the article's static prose, layout and "
        f"PDF need Quarto: {hint}.</p><ul>"
        + "".join(items)
        + "</ul>"
    )
    (out / "index.html").write_text(html_page(params.report_title, body), encoding="utf-8")
    postprocess_html(out)
    swap_in(out, final)
    return final


def render(params_path: str | Path) -> Path:
    """Render the report of a run: Quarto when available, else the fallback (saying so in one line)."""
    params = load_params(params_path)
    quarto = quarto_path()
    if quarto:
        out = render_quarto(params, quarto)
        logger.info(f"report rendered with Quarto into {params.report_dir}")
        return out
    out = render_fallback(params)
    why = f"Quarto turned off by {NO_QUARTO_ENV}" if quarto_disabled() else "Quarto not found"
    hint = f"unset {NO_QUARTO_ENV}" if quarto_disabled() else QUARTO_HINT
    logger.info(
        f"{why}: skipped the Quarto render (HTML, PDF and Word); wrote the HTML fallback to "
        f"{params.report_dir}/index.html; to get the full report, {hint}"
    )
    return out
