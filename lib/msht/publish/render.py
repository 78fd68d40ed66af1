"""Render the report: with Quarto when it is on PATH, otherwise an nbconvert HTML fallback.

Quarto renders a *staging* copy of the project (``_quarto.yml``, ``report/`` and the run's
executed notebooks, in ``_output/<run_name>/site/``) so that any run, not only the default one,
renders from its own notebooks into its own ``report_dir``. Quarto never executes the notebooks
(papermill did). The staging step also writes what only the run knows:

* the title, subtitle and authors into the staged article's front matter, and the force, period,
  funder and significance level into ``_variables.yml`` (read by ``{{< var ... >}}`` in the body);
* ``report/_reproducibility.md``, the reproducibility appendix: the run's parameters, package
  versions, the git commit and the SHA-256 checksum of each input extract. It is written here,
  at render time, rather than in a notebook, because a commit hash in a committed notebook output
  would make nbval fail on every commit.

Without Quarto, :func:`render_fallback` writes each executed notebook as HTML (code hidden), the
reproducibility page and an index page into ``report_dir``. Every table, figure and computed
sentence of the report lives in the notebooks, so the fallback shows them all; only the
article's static prose needs Quarto.

Quarto adds require.js and jQuery ``<script>`` tags from public CDNs to any page that embeds
notebook HTML outputs (see ``src/core/jupyter/widgets.ts`` in quarto-cli: any ``text/html``
output counts as a "JavaScript widget"). The report needs neither, and a page that loads
require.js also turns Quarto's own UMD scripts into AMD modules. :func:`strip_cdn_scripts` removes
those tags after rendering, unless the page really uses them (Jupyter widgets or a
``require([...])`` call).
"""

from __future__ import annotations

import csv
import getpass
import html
import importlib.metadata
import logging
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import nbformat
import yaml
from nbconvert import HTMLExporter

from msht.base.files import swap_in
from msht.config import NOTEBOOKS, Params, RunPaths, executed_dir, load_params, project_root

logger = logging.getLogger(__name__)

QUARTO_HINT = "install Quarto 1.7+ (https://quarto.org/docs/get-started/) or run `conda env create -f environment.yml`"

SYNTHETIC_BANNER = (
    "SYNTHETIC DATA: every figure in this report comes from the project's synthetic twin, "
    "not from police records."
)

#: The reproducibility appendix, written into the staged ``report/`` and included by index.qmd.
REPRO_INCLUDE = "_reproducibility.md"
#: The fallback's reproducibility page, written into the run's ``report_dir``.
REPRO_PAGE = "reproducibility.html"

#: Packages whose versions the reproducibility appendix records (distribution names).
KEY_PACKAGES = (
    "msht",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "pandera",
    "pyarrow",
    "openpyxl",
    "PyYAML",
    "matplotlib",
    "great_tables",
    "papermill",
    "ipykernel",
    "jupyter_client",
    "nbformat",
    "nbconvert",
)

#: What the fallback index says each notebook holds of the report.
NOTEBOOK_SECTIONS = {
    "01_clean.ipynb": "Research design: data coding and quality, the exclusion flow; Appendix 5",
    "02_descriptives.ipynb": "Executive summary (engagement rates); Descriptive overview; Appendices 1 to 3",
    "03_associations.ipynb": "Executive summary (associated factors); Factors associated with victim engagement; Appendix 4",
    "04_synthetic_vs_published.ipynb": "Appendix 6: this run compared with the published figures",
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


def period_label(params: Params, dash: str = "-") -> str:
    """The years of the run's period, e.g. ``2018-2023``."""
    return f"{params.period_start[:4]}{dash}{params.period_end[:4]}"


def report_metadata(params: Params) -> dict:
    """Quarto metadata drawn from params (title, author, funder, period, synthetic banner)."""
    return {
        "title": params.report_title,
        "subtitle": f"{params.force_name}, {period_label(params, '–')}",
        "author": [{"name": a.strip()} for a in params.authors.split(";") if a.strip()],
        "funding": params.funder,
        "synthetic": params.synthetic,
        "banner": SYNTHETIC_BANNER if params.synthetic else "",
    }


def report_variables(params: Params) -> dict:
    """The values ``{{< var ... >}}`` reads in the article's body (written to ``_variables.yml``)."""
    return {
        "force_name": params.force_name,
        "period_start": params.period_start,
        "period_end": params.period_end,
        "period": period_label(params, "–"),
        "funder": params.funder,
        "authors": params.authors,
        "alpha": f"{params.alpha:g}",
        "run_name": params.run_name,
        "synthetic": "yes" if params.synthetic else "no",
        "banner": SYNTHETIC_BANNER if params.synthetic else "",
    }


# --------------------------------------------------------------------------------------------
# Notebooks as the report shows them
# --------------------------------------------------------------------------------------------

_OPTION_LINE = re.compile(r"^\s*#\|\s?(.*)$")


def cell_options(source: str) -> dict:
    """The Quarto cell options (``#| key: value`` lines at the top of a code cell)."""
    lines = []
    for line in source.splitlines():
        m = _OPTION_LINE.match(line)
        if not m:
            break
        lines.append(m.group(1))
    if not lines:
        return {}
    try:
        opts = yaml.safe_load("\n".join(lines))
    except yaml.YAMLError:
        return {}
    return opts if isinstance(opts, dict) else {}


def report_view(nb: nbformat.NotebookNode, *, captions: bool = False) -> nbformat.NotebookNode:
    """The notebook as the report shows it, for staging and for the fallback.

    Drops papermill's injected-parameters cell, and the outputs of cells marked
    ``#| output: false`` or ``#| include: false``, as Quarto does. nbconvert knows nothing of
    Quarto's cell options; without this, the fallback would show what those cells return (such
    as the absolute path of a results file). With ``captions``, a Markdown cell with the
    ``tbl-cap``/``fig-cap`` of each labelled table or figure is put before it (for the fallback,
    where Quarto does not add the captions).
    """
    nb = nbformat.from_dict(nb)
    cells = []
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "code":
            opts = cell_options(cell.source)
            if opts.get("output") is False or opts.get("include") is False:
                cell.outputs = []
                cell.execution_count = None
            elif captions and cell.outputs:
                label = str(opts.get("label", ""))
                kind = {"tbl-": "Table", "fig-": "Figure"}.get(label[:4])
                caption = opts.get("tbl-cap") if kind == "Table" else opts.get("fig-cap")
                if kind and isinstance(caption, str):
                    cells.append(nbformat.v4.new_markdown_cell(f"**{kind}** ({label}). {caption}"))
        cells.append(cell)
    nb.cells = cells
    return nb


def figure_alt_texts(nb: nbformat.NotebookNode) -> dict[str, str]:
    """``{base64 PNG: alt text}`` of the labelled figures (``fig-alt``, else ``fig-cap``)."""
    alts = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        opts = cell_options(cell.source)
        alt = opts.get("fig-alt") or opts.get("fig-cap")
        if not isinstance(alt, str):
            continue
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if isinstance(png, str):
                alts[png] = alt
    return alts


def add_alt_texts(page: str, alts: dict[str, str]) -> str:
    """Give each ``<img>`` of a figure in ``alts`` its alt text (nbconvert's template has none)."""
    for png, alt in alts.items():
        page = page.replace(f'<img src="data:image/png;base64,{png}"', f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}"')
    return page


# --------------------------------------------------------------------------------------------
# Reproducibility appendix
# --------------------------------------------------------------------------------------------


@dataclass
class Reproducibility:
    """What is needed to reproduce a run's report."""

    run_name: str
    params_source: str
    params: list[tuple[str, str]]
    python: str
    packages: list[tuple[str, str]]
    commit: str | None
    dirty: bool | None
    inputs_source: str
    inputs: list[dict[str, str]] = field(default_factory=list)
    renderer: str = ""


def _is_absolute(value: str) -> bool:
    return PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()


def safe_value(value: object) -> str:
    """A parameter value fit to publish: an absolute path keeps only its last component."""
    text = str(value)
    if _is_absolute(text):
        name = PureWindowsPath(text).name if "\\" in text else PurePosixPath(text).name
        return f"<absolute path>/{name}"
    return text


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> list[tuple[str, str]]:
    """Installed versions of ``names`` (``not installed`` for a missing one)."""
    out = []
    for name in names:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return out


def git_commit(root: Path) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git checkout at ``root``, or ``(None, None)`` without git."""
    git = shutil.which("git")
    if not git:
        return None, None
    try:
        head = subprocess.run([git, "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=20)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            [git, "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip() or None, dirty


def quarto_version(quarto: str) -> str:
    """``quarto --version``, or ``unknown``."""
    try:
        out = subprocess.run([quarto, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def reproducibility(params: Params, root: Path | None = None, *, renderer: str = "") -> Reproducibility:
    """Collect the reproducibility record of a run from its results folder and the environment."""
    root = root or project_root()
    paths = RunPaths.from_params(params, root)
    results_rel = safe_value(params.results_dir)
    run_params_file = paths.results_dir / "run_params.yaml"
    if run_params_file.exists():
        recorded = yaml.safe_load(run_params_file.read_text(encoding="utf-8")) or {}
        params_source = f"{results_rel}/run_params.yaml"
    else:
        recorded = params.as_dict()
        params_source = "the params file (the run wrote no run_params.yaml)"
    inputs_file = paths.results_dir / "inputs.csv"
    inputs: list[dict[str, str]] = []
    if inputs_file.exists():
        with inputs_file.open(encoding="utf-8", newline="") as fh:
            inputs = [{k: safe_value(v) for k, v in row.items()} for row in csv.DictReader(fh)]
        inputs_source = f"{results_rel}/inputs.csv"
    else:
        inputs_source = "none: the run wrote no inputs.csv"
    commit, dirty = git_commit(root)
    return Reproducibility(
        run_name=params.run_name,
        params_source=params_source,
        params=[(str(k), safe_value(v)) for k, v in recorded.items()],
        python=platform.python_version(),
        packages=package_versions(),
        commit=commit,
        dirty=dirty,
        inputs_source=inputs_source,
        inputs=inputs,
        renderer=renderer,
    )


_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>@$~^&:;\"'=%/?,])")


def md_escape(text: str) -> str:
    """Escape every ASCII punctuation character, so that a value is read as plain text (no
    emphasis, citation, shortcode or table cell break) by Pandoc and Quarto."""
    return _MD_PUNCT.sub(r"\\\1", text)


def _commit_sentence(info: Reproducibility) -> str:
    """One sentence on the toolkit's git commit."""
    if not info.commit:
        return "The toolkit's git commit is not available (the code is not a git checkout, or git is not installed)."
    state = {
        True: " (with uncommitted changes to tracked files)",
        False: " (with no uncommitted changes)",
        None: "",
    }[info.dirty]
    return f"The toolkit's code is at git commit {info.commit}{state}."


def _software_sentence(info: Reproducibility) -> str:
    rendered = f" It was rendered with {info.renderer}." if info.renderer else ""
    return f"The report was produced with Python {info.python}. {_commit_sentence(info)}{rendered}"


def reproducibility_markdown(info: Reproducibility) -> str:
    """The reproducibility appendix as Quarto Markdown (tables captioned and cross-referenced)."""
    lines = [
        "<!-- Written by msht.publish.render.stage() at render time; do not edit. -->",
        "",
        "This appendix, which the published study does not have, records what is needed to reproduce "
        "this report: the parameters of the run, the software that produced it and a checksum of "
        "each input extract. It is written when the report is rendered.",
        "",
        "## Parameters {.unnumbered}",
        "",
        f"@tbl-repro-params lists the parameters of the run named {md_escape(info.run_name)}, as recorded in "
        f"{md_escape(info.params_source)}. Running the notebooks with these parameters on the same "
        "extracts gives the same results.",
        "",
        "| Parameter | Value |",
        "|:--|:--|",
    ]
    lines += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in info.params]
    lines += ["", ": Parameters of the run {#tbl-repro-params}", "", "## Software {.unnumbered}", ""]
    lines.append(md_escape(_software_sentence(info)) + " @tbl-repro-software gives the versions of the key packages.")
    lines += ["", "| Package | Version |", "|:--|:--|"]
    lines += [f"| {md_escape(n)} | {md_escape(v)} |" for n, v in info.packages]
    lines += ["", ": Versions of the key packages {#tbl-repro-software}", "", "## Input extracts {.unnumbered}", ""]
    if info.inputs:
        # A list, not a table: a 64-digit checksum is one unbreakable word, and a table column
        # wide enough for it pushes the table past the PDF's margin.
        lines += [
            f"Each extract the run read, with its SHA-256 checksum (from {md_escape(info.inputs_source)}). A file "
            "with the same checksum holds exactly the same data.",
            "",
        ]
        for row in info.inputs:
            rows = row.get("rows", "")
            rows_text = f"{int(rows):,} rows" if rows.isdigit() else f"rows: {rows}"
            digest = row.get("sha256", "")
            digest_text = f"`{digest}`" if re.fullmatch(r"[0-9a-fA-F]*", digest) else md_escape(digest)
            lines.append(
                f"- **{md_escape(row.get('extract', ''))}**: {md_escape(row.get('file', ''))}, "
                f"{md_escape(rows_text)}, SHA-256 {digest_text}"
            )
    else:
        lines.append(f"No checksums are available ({md_escape(info.inputs_source)}).")
    return "\n".join(lines) + "\n"


def _html_table(headers: list[str], rows: list[list[str]], caption: str, table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f'<table id="{table_id}"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


_PAGE_STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:60rem;margin:2rem auto;"
    "padding:0 1rem;line-height:1.5;color:#212529}"
    "table{border-collapse:collapse;margin:1rem 0}th,td{border-bottom:1px solid #dee2e6;padding:.25rem .75rem;"
    "text-align:left;vertical-align:top}caption{caption-side:top;text-align:left;font-weight:600;padding:.25rem 0}"
    ".banner{background:#fde68a;padding:.5rem .75rem;font-weight:600}"
    "td.hash{font-family:ui-monospace,monospace;word-break:break-all}"
)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
        + FALLBACK_MARKER
        + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)}</title><style>{_PAGE_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def reproducibility_html(info: Reproducibility, params: Params) -> str:
    """The reproducibility record as a standalone HTML page (the fallback's version of the appendix)."""
    parts = [f"<h1>Reproducibility: {html.escape(params.report_title)}</h1>"]
    if params.synthetic:
        parts.append(f'<p class="banner">{html.escape(SYNTHETIC_BANNER)}</p>')
    parts.append(
        "<p>What is needed to reproduce this report: the parameters of the run, the software that "
        "produced it and a checksum of each input extract.</p>"
    )
    parts.append("<h2>Parameters</h2>")
    parts.append(f"<p>As recorded in <code>{html.escape(info.params_source)}</code>.</p>")
    parts.append(_html_table(["Parameter", "Value"], [list(p) for p in info.params], "Parameters of the run", "tbl-repro-params"))
    parts.append("<h2>Software</h2>")
    parts.append(f"<p>{html.escape(_software_sentence(info))}</p>")
    parts.append(_html_table(["Package", "Version"], [list(p) for p in info.packages], "Versions of the key packages", "tbl-repro-software"))
    parts.append("<h2>Input extracts</h2>")
    if info.inputs:
        parts.append(f"<p>From <code>{html.escape(info.inputs_source)}</code>.</p>")
        rows = [[r.get("extract", ""), r.get("file", ""), r.get("rows", ""), r.get("sha256", "")] for r in info.inputs]
        table = _html_table(["Extract", "File", "Rows", "SHA-256"], rows, "Input extracts and their SHA-256 checksums", "tbl-repro-inputs")
        parts.append(re.sub(r"<td>([0-9a-f]{64})</td>", r'<td class="hash">\1</td>', table))
    else:
        parts.append(f"<p>No checksums are available ({html.escape(info.inputs_source)}).</p>")
    return _page(f"Reproducibility: {params.report_title}", "\n".join(parts))


# --------------------------------------------------------------------------------------------
# HTML post-processing and leak checks
# --------------------------------------------------------------------------------------------

#: ``src`` fragments of the CDN scripts Quarto (and nbconvert's lab template) add for notebook outputs.
CDN_SCRIPT_SOURCES = (
    "cdnjs.cloudflare.com/ajax/libs/require.js/",
    "cdnjs.cloudflare.com/ajax/libs/jquery/",
    "@jupyter-widgets/html-manager",
)
#: The ``integrity`` hashes of Quarto's require.js 2.3.6 and jQuery 3.5.1 tags: they identify the
#: tags even when ``embed-resources`` has replaced their ``src`` with a ``data:`` URI.
CDN_SCRIPT_INTEGRITY = (
    "sha512-c3Nl8+7g4LMSTdrm621y7kf9v3SDPnhxLNhcjFJbKECVnmZHTdo+IRO05sNLTH/D3vA6u1X32ehoLC7WFVdheg==",
    "sha512-bLT0Qm9VnAYZDflyKcBaQ2gg0hSYNQrJ8RilYldYQ1FxQYoCLtUjuuRuZo+fjqhx/qtq/1itJ0C2ejDxltZVFg==",
)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_SRC = re.compile(r"""\bsrc\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_JQUERY_AMD_SHIM = re.compile(r"""^\s*define\(\s*['"]jquery['"]\s*,\s*\[\]\s*,\s*function\s*\(\)\s*\{\s*return\s+window\.jQuery;?\s*\}\s*\)\s*;?\s*$""")
_WIDGET_MIME = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
_REQUIRE_CALL = re.compile(r"\brequire(?:js)?\s*\(\s*\[|\brequire(?:js)?\.config\s*\(")


def _is_cdn_script(attrs: str, body: str) -> str | None:
    """A short description of the tag if it is one of the widget CDN scripts (or their shim)."""
    src = _SRC.search(attrs)
    if src:
        url = src.group(2)
        for marker in CDN_SCRIPT_SOURCES:
            if marker in url:
                return url if not url.startswith("data:") else marker
    for digest in CDN_SCRIPT_INTEGRITY:
        if digest in attrs:
            return f"integrity {digest[:20]}..."
    if not src and _JQUERY_AMD_SHIM.match(body):
        return "define('jquery') shim"
    return None


def strip_cdn_scripts(page: str) -> tuple[str, list[str]]:
    """Remove the require.js / jQuery / Jupyter-widgets CDN ``<script>`` tags from ``page`` when
    nothing on it needs them; return the page and a description of each tag removed.

    They are needed only by Jupyter widgets (a widget MIME type on the page) or by a script that
    calls ``require([...])``/``require.config``; in either case the page is returned unchanged.
    """
    matches = list(_SCRIPT.finditer(page))
    drop = [(m, _is_cdn_script(m.group(1), m.group(2))) for m in matches]
    drop = [(m, d) for m, d in drop if d]
    if not drop:
        return page, []
    if any(mime in page for mime in _WIDGET_MIME):
        return page, []
    dropped = {m.start() for m, _ in drop}
    for m in matches:
        if m.start() not in dropped and not _SRC.search(m.group(1)) and _REQUIRE_CALL.search(m.group(2)):
            return page, []
    out, pos = [], 0
    for m, _ in drop:
        out.append(page[pos : m.start()])
        pos = m.end()
        # Swallow the line break that followed the tag.
        if page.startswith("\n", pos):
            pos += 1
    out.append(page[pos:])
    return "".join(out), [d for _, d in drop]


def postprocess_html(folder: Path) -> dict[str, list[str]]:
    """Strip unneeded CDN scripts from every HTML file under ``folder``; return what was removed."""
    removed: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        new, gone = strip_cdn_scripts(text)
        if gone:
            path.write_text(new, encoding="utf-8")
            removed[path.relative_to(folder).as_posix()] = gone
    return removed


def leak_patterns(root: Path) -> list[re.Pattern]:
    """Patterns that must not appear in published output: the project's absolute path, home
    folders and the user's name as a path component."""
    pats = [re.escape(str(root)), r"/home/[^/\s\"'<>]+", r"/Users/[^/\s\"'<>]+", r"/root/", r"[A-Za-z]:\\\\?Users\\"]
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no user name available
        user = ""
    if user:
        pats += [rf"[/\\]{re.escape(user)}[/\\]"]
    return [re.compile(p) for p in pats]


def find_leaks(text: str, root: Path | None = None) -> list[str]:
    """Every absolute path or user name in ``text`` that :func:`leak_patterns` matches."""
    root = root or project_root()
    return sorted({m.group(0) for p in leak_patterns(root) for m in p.finditer(text)})


# --------------------------------------------------------------------------------------------
# Staging and rendering
# --------------------------------------------------------------------------------------------


def _with_front_matter(qmd: str, updates: dict) -> str:
    """``qmd`` with ``updates`` merged into its YAML front matter."""
    m = re.match(r"^---\s*\n(.*?)\n---\s*\n", qmd, re.DOTALL)
    if m:
        meta = yaml.safe_load(m.group(1)) or {}
        rest = qmd[m.end() :]
    else:
        meta, rest = {}, qmd
    meta = {**updates, **{k: v for k, v in meta.items() if k not in updates}}
    dumped = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{dumped}---\n{rest}"


def executed_notebooks(params: Params, root: Path) -> list[Path]:
    """The run's executed notebooks, in order; a clear error if the run has not been made."""
    folder = executed_dir(params, root)
    paths = [folder / name for name in NOTEBOOKS]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        where = folder.relative_to(root) if folder.is_relative_to(root) else folder.name
        raise FileNotFoundError(
            f"run {params.run_name!r} has no executed notebooks {missing} in {where}: "
            "run the notebooks first (make run PARAMS=...)"
        )
    return paths


#: Where the staged project keeps the article: at the root of the site, so that a manuscript
#: project writes ``index.html``/``index.pdf``/``index.docx`` straight into the output folder
#: (an article in ``report/`` lands in ``<output-dir>/report/``).
STAGED_ARTICLE = "index.qmd"

#: Quarto's log of the last render of a run, kept beside its staged site (never in ``report_dir``).
RENDER_LOG = "quarto-render.log"

#: The formats of ``_quarto.yml`` as a reader names them, by Pandoc's writer name.
FORMAT_NAMES = {"html": "HTML", "typst": "typst PDF", "docx": "Word (docx)"}


class RenderError(RuntimeError):
    """A render that failed: the message is one line naming the format and the first error."""


def quarto_config(text: str) -> dict:
    """The staged ``_quarto.yml``: the repository's, with the article at the site's root."""
    config = yaml.safe_load(text) or {}
    config.setdefault("manuscript", {})["article"] = STAGED_ARTICLE
    return config


_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style\s*>)", re.IGNORECASE | re.DOTALL)
_FONT_FAMILY = re.compile(r"\s*font-family\s*:[^;{}]*;?", re.IGNORECASE)


def without_font_families(page: str) -> str:
    """``page`` with every ``font-family`` declaration removed from its ``<style>`` blocks.

    great_tables names a list of system fonts (``-apple-system``, ``Segoe UI``, ...) for its
    tables; in the report a table takes the document's font instead: the HTML theme's, and in the
    PDF typst's own, where a font that is not installed would only bring a warning.
    """
    return _STYLE_BLOCK.sub(lambda m: m.group(1) + _FONT_FAMILY.sub("", m.group(2)) + m.group(3), page)


_MARKUP = re.compile(r"(<(script|style)\b.*?</\2\s*>|<!--.*?-->|<[^>]*>)", re.IGNORECASE | re.DOTALL)
_TEXT_ENTITY = re.compile(r"&(#x27|#39|apos|quot|#34|#x22|gt|#62|#x3e|nbsp|lt|#60|#x3c|amp|#38|#x26);(.?)",
                          re.IGNORECASE | re.DOTALL)
#: A ``<`` or ``&`` that is text as it stands (HTML5: ``<`` not followed by a letter, ``/``, ``!`` or
#: ``?``; ``&`` followed by a space, a digit-free punctuation mark or the end).
_SAFE_AFTER_LT = re.compile(r"[^A-Za-z/!?]|$")
_SAFE_AFTER_AMP = re.compile(r"[\s,.;:)\]]|$")


def _decode_text_entity(m: re.Match) -> str:
    name, after = m.group(1).lower(), m.group(2)
    if name in ("#x27", "#39", "apos"):
        return "'" + after
    if name in ("quot", "#34", "#x22"):
        return '"' + after
    if name in ("gt", "#62", "#x3e"):
        return ">" + after
    if name == "nbsp":
        return "\u00a0" + after
    if name in ("lt", "#60", "#x3c"):
        return ("<" if _SAFE_AFTER_LT.match(after) else "&lt;") + after
    return ("&" if _SAFE_AFTER_AMP.match(after) else "&amp;") + after


def plain_text_entities(page: str) -> str:
    """``page`` with the character references of its text written as the characters themselves,
    wherever HTML reads them the same: ``&#x27;`` and ``&quot;`` as quotes, ``&gt;`` as ``>``,
    ``&lt;`` as ``<`` before a space or a digit (``p < 0.05``, ``<5``), ``&amp;`` as ``&`` before a
    space. Tags, attributes, comments, ``<style>`` and ``<script>`` are left as they are.

    great_tables escapes every title, note and cell with :func:`html.escape`. Quarto turns each
    HTML table into a Pandoc table for typst and Word after inlining its CSS (juice), and in a
    real Quarto 1.7 render the PDF then printed ``Victims&#x27;`` and ``Cells &lt; 5``
    literally; text without references cannot be escaped twice.
    """
    parts = _MARKUP.split(page)
    out = []
    for i, part in enumerate(parts):
        # re.split with two groups yields [text, markup, inner tag name, text, ...].
        if i % 3 == 0:
            out.append(_TEXT_ENTITY.sub(_decode_text_entity, part))
        elif i % 3 == 1:
            out.append(part)
    return "".join(out)


def html_output_as_markdown(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A display output whose ``text/html`` becomes a ``text/markdown`` raw HTML block.

    Quarto adds require.js and jQuery from public CDNs to every HTML page that embeds a notebook
    with any ``text/html`` output (``extractJupyterWidgetDependencies`` in quarto-cli's
    ``src/core/jupyter/widgets.ts``), and tries to download them to embed them: a render without
    network then warns, and a page with network loads two scripts it never uses. The same HTML
    as a ``{=html}`` raw block in ``text/markdown`` reaches Pandoc as the same ``RawBlock``
    (Quarto writes ``text/html`` outputs that way), so tables are parsed alike for every format,
    and no widget is declared. Tables lose their own font (:func:`without_font_families`), and
    their text its needless character references (:func:`plain_text_entities`). Other outputs
    are returned unchanged.
    """
    data = output.get("data", {})
    if output.get("output_type") not in ("display_data", "execute_result") or "text/html" not in data:
        return output
    body = data["text/html"]
    body = "".join(body) if isinstance(body, list) else str(body)
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", body)), default=0))
    output = nbformat.from_dict(output)
    body = plain_text_entities(without_font_families(body))
    output.data = {"text/markdown": f"{fence}{{=html}}\n{body.strip()}\n{fence}\n"}
    return output


def quarto_view(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as staged for Quarto: :func:`report_view`, with every ``text/html`` output
    turned into raw HTML Markdown (:func:`html_output_as_markdown`)."""
    nb = report_view(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [html_output_as_markdown(o) for o in cell.get("outputs", [])]
    return nb


def stage(params: Params, root: Path | None = None, *, renderer: str = "") -> Path:
    """Copy the Quarto project and the run's executed notebooks into ``_output/<run>/site``, with
    the run's metadata, ``_variables.yml`` and the reproducibility appendix; return the folder.

    The article and its companions (``report/*``) go to the site's root (:data:`STAGED_ARTICLE`)
    and the staged ``_quarto.yml`` points there; the notebooks go to ``notebooks/``, where the
    article's ``/notebooks/...`` embeds find them.
    """
    root = root or project_root()
    site = root / "_output" / params.run_name / "site"
    if site.exists():
        shutil.rmtree(site)
    (site / "notebooks").mkdir(parents=True)
    (site / "_quarto.yml").write_text(
        "# Staged by msht.publish.render.stage() from the project's _quarto.yml; do not edit.\n"
        + yaml.safe_dump(quarto_config((root / "_quarto.yml").read_text(encoding="utf-8")), sort_keys=False,
                         allow_unicode=True, width=1000),
        encoding="utf-8",
    )
    for item in sorted((root / "report").iterdir()):
        if item.is_dir():
            shutil.copytree(item, site / item.name)
        else:
            shutil.copy2(item, site / item.name)
    for path in executed_notebooks(params, root):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(quarto_view(nb), site / "notebooks" / path.name)
    (site / "_variables.yml").write_text(
        "# Written by msht.publish.render.stage() from the run's params; read by the var shortcode.\n"
        + yaml.safe_dump(report_variables(params), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    meta = report_metadata(params)
    article = site / STAGED_ARTICLE
    article.write_text(
        _with_front_matter(
            article.read_text(encoding="utf-8"),
            {k: meta[k] for k in ("title", "subtitle", "author")},
        ),
        encoding="utf-8",
    )
    info = reproducibility(params, root, renderer=renderer)
    (site / REPRO_INCLUDE).write_text(reproducibility_markdown(info), encoding="utf-8")
    return site


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PANDOC_TO = re.compile(r"^\s+to:\s*(\S+)\s*$")
#: Quarto's line for the typst compile step, which may end with typst's first error:
#: ``[typst]: Compiling index.typ to index.pdf...error: unknown variable: x``.
_TYPST_STEP = re.compile(r"^\s*\[typst\]:?\s*Compiling\b.*?\.\.\.(?:\s*DONE)?(.*)$", re.IGNORECASE)
_ERROR_LINE = re.compile(r"^\s*(?:ERROR\b|error(?:\[\w+\])?:|Error:|\[error\])", re.IGNORECASE)
_WARNING_LINE = re.compile(r"^\s*(?:WARNING\b|\[WARNING\]|warning:|WARN\b)", re.IGNORECASE)


def log_lines(log: str) -> list[str]:
    """Quarto's output as plain lines (ANSI colour codes removed)."""
    return [_ANSI.sub("", line).rstrip() for line in log.splitlines()]


def first_error(log: str) -> tuple[str, str]:
    """``(format, message)`` of the first error in a Quarto log: the format being rendered when
    it came (the last ``to:`` line of Quarto's ``pandoc`` block, as :data:`FORMAT_NAMES` names
    it, or ``"project"`` before any; the typst PDF from Quarto's ``[typst]: Compiling`` line on)
    and the error line itself, followed by the next line when it ends with a colon (``ERROR:``,
    ``Error running filter main.lua:``)."""
    lines = log_lines(log)
    fmt = "project"
    for i, line in enumerate(lines):
        m = _PANDOC_TO.match(line)
        if m:
            fmt = FORMAT_NAMES.get(m.group(1), m.group(1))
            continue
        typst = _TYPST_STEP.match(line)
        if typst:
            fmt = FORMAT_NAMES["typst"]
            line = typst.group(1)
        if _ERROR_LINE.match(line):
            message = re.sub(r"^error:\s*(?:error:\s*)+", "error: ", line.strip())
            following = [text.strip() for text in lines[i + 1 :] if text.strip()]
            if message.endswith(":") and following:
                message = f"{message} {following[0]}"
            return fmt, message
    tail = [line.strip() for line in lines if line.strip()]
    return fmt, tail[-1] if tail else "no output"


def warnings_in(log: str) -> list[str]:
    """Every warning line in a Quarto log (Quarto's, Pandoc's and typst's)."""
    return [line.strip() for line in log_lines(log) if _WARNING_LINE.match(line)]


def tidy_quarto_output(folder: Path, site: Path) -> list[str]:
    """Make Quarto's output in ``folder`` fit to publish; return what was changed, one line each.

    * Quarto records each embedded cell's notebook by its absolute path (``data-notebook`` in the
      HTML), which would publish the machine's folders: the staged site's path is made relative.
    * ``site_libs/`` is removed when no page refers to it (the article's HTML is self-contained).
    """
    changed = []
    prefixes = [f"{site.resolve().as_posix()}/", f"{site.as_posix()}/"]
    pages = sorted(folder.rglob("*.html"))
    for path in pages:
        text = path.read_text(encoding="utf-8")
        new = text
        for prefix in dict.fromkeys(prefixes):
            new = new.replace(prefix, "")
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(f"made the staged site's path relative in {path.relative_to(folder).as_posix()}")
    libs = folder / "site_libs"
    if libs.is_dir() and not any("site_libs/" in p.read_text(encoding="utf-8") for p in pages if libs not in p.parents):
        shutil.rmtree(libs)
        changed.append("removed site_libs/ (no page uses it)")
    return changed


#: The Word file's page: A4 with 2 cm side margins, as the PDF (twentieths of a point). Pandoc's
#: default reference document sets no page size, so Word used US Letter for the upright pages
#: while Quarto's landscape sections are A4.
A4_SECTION = (
    '<w:pgSz w:w="11906" w:h="16838" />'
    '<w:pgMar w:top="1247" w:right="1134" w:bottom="1247" w:left="1134" w:header="708" w:footer="708" w:gutter="0" />'
)
REFERENCE_DOCX = "reference.docx"


def a4_reference_docx(quarto: str, target: Path) -> bool:
    """Write Pandoc's default reference document for Word (``quarto pandoc
    --print-default-data-file reference.docx``) to ``target`` with an A4 page
    (:data:`A4_SECTION`); False, and nothing written, when Quarto cannot give it."""
    import zipfile

    raw = target.with_suffix(".default.docx")
    try:
        proc = subprocess.run([quarto, "pandoc", "-o", str(raw), "--print-default-data-file", "reference.docx"],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return False
    if proc.returncode != 0 or not raw.is_file():
        return False
    try:
        with zipfile.ZipFile(raw) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in src.infolist():
                data = src.read(item.filename)
                if item.filename == "word/document.xml":
                    text = data.decode("utf-8")
                    text = re.sub(r"<w:pgSz\b[^>]*/>|<w:pgMar\b[^>]*/>", "", text)
                    if "</w:sectPr>" not in text:
                        return False
                    data = text.replace("</w:sectPr>", A4_SECTION + "</w:sectPr>").encode("utf-8")
                dst.writestr(item, data)
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError):
        target.unlink(missing_ok=True)
        return False
    finally:
        raw.unlink(missing_ok=True)
    return True


def use_reference_docx(site: Path, name: str = REFERENCE_DOCX) -> None:
    """Point the staged ``_quarto.yml``'s Word format at the reference document ``name``."""
    path = site / "_quarto.yml"
    head, _, body = path.read_text(encoding="utf-8").partition("\n")
    config = yaml.safe_load(body) or {}
    docx = config.setdefault("format", {}).get("docx")
    config["format"]["docx"] = {**(docx if isinstance(docx, dict) else {}), "reference-doc": name}
    path.write_text(head + "\n" + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=1000),
                    encoding="utf-8")


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


FALLBACK_MARKER = '<meta name="generator" content="msht render_fallback">'


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
    (out / "index.html").write_text(_page(params.report_title, body), encoding="utf-8")
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
