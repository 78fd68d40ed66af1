"""Quarto's side of the render: the staged site it renders, what its log says, and Word's A4 pages.

Quarto renders a *staging* copy of the project (``_quarto.yml``, ``report/`` and the run's
executed notebooks, in ``_output/<run_name>/site/``: :func:`stage`) so that any run, not only the
default one, renders from its own notebooks into its own ``report_dir``. Quarto never executes the
notebooks (papermill did). The staging step also writes what only the run knows (the front matter
and ``_variables.yml`` of :mod:`msht.publish.report_metadata`, the appendix of
:mod:`msht.publish.reproducibility`). :func:`first_error` and :func:`warnings_in` read Quarto's
log; :func:`a4_reference_docx` makes the A4 reference document Word pages follow.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import yaml

from msht.config import Params, project_root
from msht.publish.report_metadata import report_metadata, report_variables
from msht.publish.report_views import executed_notebooks, quarto_view
from msht.publish.reproducibility import REPRO_INCLUDE, reproducibility, reproducibility_markdown


#: Where the staged project keeps the article: at the root of the site, so that a manuscript
#: project writes ``index.html``/``index.pdf``/``index.docx`` straight into the output folder
#: (an article in ``report/`` lands in ``<output-dir>/report/``).
STAGED_ARTICLE = "index.qmd"


#: The formats of ``_quarto.yml`` as a reader names them, by Pandoc's writer name.
FORMAT_NAMES = {"html": "HTML", "typst": "typst PDF", "docx": "Word (docx)"}


def quarto_config(text: str) -> dict:
    """The staged ``_quarto.yml``: the repository's, with the article at the site's root."""
    config = yaml.safe_load(text) or {}
    config.setdefault("manuscript", {})["article"] = STAGED_ARTICLE
    return config


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


#: The report's parts that only a run of several forces shows (``report/``; included into its
#: staged article by :func:`forces_article`, left out of a single-force run's site).
FORCES_SECTION = "_forces_compared.qmd"
FORCES_APPENDIX = "_forces_appendix.qmd"

#: Where :func:`forces_article` puts the forces' section: before the recommendations.
_FORCES_SECTION_BEFORE = "# Recommendations {#sec-recommendations}"
#: The single-force appendix that the forces' appendix replaces (notebook 04, not run for several forces).
_CALIBRATION_APPENDIX = re.compile(r"^# Appendix 6:.*?(?=^# Appendix 7:)", re.MULTILINE | re.DOTALL)
#: Sentences of the article about one force, and what a run of several forces says instead.
#: Said at the head of the sections that analyse the forces' combined cases (a run of several
#: forces). A plain paragraph, not a callout: Quarto's typst callouts import the fontawesome
#: package from the typst registry, which an offline render cannot reach.
_COMBINED_NOTE = (
    "**Combined cases.** In a run of several forces, this section {what} the forces' "
    "combined cases (every force's cases stacked together), as one force's would be. Because forces "
    "differ in how they record and in whom they meet, a factor's association here can reflect the mix of "
    "forces; @sec-forces tests each factor within forces and pools the results (Mantel-Haenszel).\n"
)

_ONE_FORCE_TEXT = {
    "The data are extracts from one police force's records, covering the period named at the start of\nthis report.":
        "The data are extracts from several police forces' records, covering the period named at the start of\n"
        "this report; each force's extracts are read and cleaned on their own, and @sec-forces compares the forces.",
    "A statistical analysis of the police force's recorded MSHT cases, linking the case, victim and\noffender databases":
        "A statistical analysis of several police forces' recorded MSHT cases, linking each force's case, victim and\n"
        "offender databases",
    "# Descriptive overview of MSHT police-recorded cases {#sec-descriptives}\n":
        "# Descriptive overview of MSHT police-recorded cases {#sec-descriptives}\n\n"
        + _COMBINED_NOTE.format(what="describes"),
    "This section reports the factors significantly associated with each engagement outcome.":
        _COMBINED_NOTE.format(what="tests") + "\n\nThis section reports the factors significantly associated with each "
        "engagement outcome.",
    "@tbl-vs-published compares each test in this report with the same test in the published study.":
        "@tbl-vs-published compares each test in this report, on the forces' combined cases, with the same test "
        "in the published study of one force. Forces differ in size and in whom they meet, so disagreements "
        "here are expected and say nothing about any one force's data; @sec-forces compares the forces.",
}


class StagingError(RuntimeError):
    """The article no longer holds a passage the staging of a run of several forces rewrites."""


def forces_article(qmd: str) -> str:
    """The article of a run of several forces: the data-quality embeds of notebook 01 taken from
    notebook 05 (which cleans the forces, in place of 01; its flow diagram, a panel per force, on a
    landscape page), the "Forces compared" section
    (:data:`FORCES_SECTION`) before the recommendations, the forces' appendix
    (:data:`FORCES_APPENDIX`) in place of the single-force Appendix 6 (notebook 04, which such a
    run does not execute), and the sentences about one force's data said of several. Raises
    :class:`StagingError` naming a passage the article no longer holds (the article changed)."""
    out = qmd.replace("/notebooks/01_clean.ipynb#", "/notebooks/05_forces.ipynb#")
    flow = "{{< embed /notebooks/05_forces.ipynb#fig-flow >}}"  # a panel per force: a page turned sideways
    out = out.replace(f"\n{flow}\n", f"\n::: {{.column-page .landscape}}\n{flow}\n:::\n")
    for old, new in _ONE_FORCE_TEXT.items():
        if old not in out:
            raise StagingError(f"report/index.qmd no longer says {old[:60]!r}...: update quarto_site._ONE_FORCE_TEXT")
        out = out.replace(old, new)
    if _FORCES_SECTION_BEFORE not in out:
        raise StagingError(f"report/index.qmd has no heading {_FORCES_SECTION_BEFORE!r}: update quarto_site")
    out = out.replace(_FORCES_SECTION_BEFORE,
                      "{{< include " + FORCES_SECTION + " >}}\n\n" + _FORCES_SECTION_BEFORE, 1)
    out, n = _CALIBRATION_APPENDIX.subn("{{< include " + FORCES_APPENDIX + " >}}\n\n", out, count=1)
    if not n or "04_synthetic_vs_published" in out:
        raise StagingError("report/index.qmd's Appendix 6 (notebook 04) is not where quarto_site expects it")
    return out


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
        "# Staged by msht.publish.quarto_site.stage() from the project's _quarto.yml; do not edit.\n"
        + yaml.safe_dump(quarto_config((root / "_quarto.yml").read_text(encoding="utf-8")), sort_keys=False,
                         allow_unicode=True, width=1000),
        encoding="utf-8",
    )
    for item in sorted((root / "report").iterdir()):
        if item.name in (FORCES_SECTION, FORCES_APPENDIX) and not params.forces:
            continue
        if item.is_dir():
            shutil.copytree(item, site / item.name)
        else:
            shutil.copy2(item, site / item.name)
    for path in executed_notebooks(params, root):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(quarto_view(nb), site / "notebooks" / path.name)
    (site / "_variables.yml").write_text(
        "# Written by msht.publish.quarto_site.stage() from the run's params; read by the var shortcode.\n"
        + yaml.safe_dump(report_variables(params), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    meta = report_metadata(params)
    article = site / STAGED_ARTICLE
    text = article.read_text(encoding="utf-8")
    article.write_text(
        _with_front_matter(
            forces_article(text) if params.forces else text,
            {k: meta[k] for k in ("title", "subtitle", "author")},
        ),
        encoding="utf-8",
    )
    info = reproducibility(params, root, renderer=renderer)
    (site / REPRO_INCLUDE).write_text(reproducibility_markdown(info), encoding="utf-8")
    return site


def quarto_version(quarto: str) -> str:
    """``quarto --version``, or ``unknown``."""
    try:
        out = subprocess.run([quarto, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


_PANDOC_TO = re.compile(r"^\s+to:\s*(\S+)\s*$")


#: Quarto's line for the typst compile step, which may end with typst's first error:
#: ``[typst]: Compiling index.typ to index.pdf...error: unknown variable: x``.
_TYPST_STEP = re.compile(r"^\s*\[typst\]:?\s*Compiling\b.*?\.\.\.(?:\s*DONE)?(.*)$", re.IGNORECASE)


_ERROR_LINE = re.compile(r"^\s*(?:ERROR\b|error(?:\[\w+\])?:|Error:|\[error\])", re.IGNORECASE)


#: A warning line of Quarto, Pandoc or typst; also the warnings and errors that Quarto's Lua
#: filters log without failing the render (``(W) ...``, ``(E) Running juice failed ...``: a step
#: of the render skipped, its output left as it was) and an error line in a render that exited 0.
_WARNING_LINE = re.compile(r"^\s*(?:WARNING\b|\[WARNING\]|warning:|WARN\b|\((?:W|E)\)\s)", re.IGNORECASE)


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
    """Every warning line in a Quarto log (Quarto's, Pandoc's and typst's), with the warnings and
    errors of Quarto's Lua filters and any error line: what a render that exited 0 still has to say."""
    return [line.strip() for line in log_lines(log) if _WARNING_LINE.match(line) or _ERROR_LINE.match(line)]


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
