"""The report's reproducibility appendix: the run's parameters, the versions of the key packages,
the git commit and the SHA-256 checksum of each input extract.

It is written at render time (:func:`reproducibility_markdown` into the staged ``report/`` for
Quarto, :func:`reproducibility_html` as the fallback's page) from the run's
``results_dir/run_params.yaml`` and ``results_dir/inputs.csv``, rather than in a notebook, because
a commit hash in a committed notebook output would make nbval fail on every commit. Values that
would reveal the machine (absolute paths) are reduced to file names (:func:`safe_value`).
"""

from __future__ import annotations

import csv
import html
import importlib.metadata
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import yaml

from msht.config import Params, RunPaths, project_root
from msht.publish.report_metadata import SYNTHETIC_BANNER


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


def param_rows(recorded: dict[str, object]) -> list[tuple[str, str]]:
    """The recorded parameters as (name, value) rows fit to publish (:func:`safe_value`). A run of
    several forces' ``forces`` list becomes one row per force setting (``forces[1].name``,
    ``forces[1].raw_dir``, ...; counted from 1), each value made safe on its own (an absolute
    ``raw_dir`` inside a force keeps only its last component); unset settings are left out, and a
    force's mappings are summarised by their number of entries (they are in the params file)."""
    rows: list[tuple[str, str]] = []
    for key, value in recorded.items():
        if key == "forces" and isinstance(value, list) and value:
            for i, force in enumerate(value, 1):
                for name, setting in (force or {}).items():
                    if setting is None or setting == {} or setting == []:
                        continue
                    shown = (f"{len(setting)} entr{'y' if len(setting) == 1 else 'ies'}" if isinstance(setting, dict)
                             else safe_value(setting))
                    rows.append((f"forces[{i}].{name}", shown))
        else:
            rows.append((str(key), safe_value(value)))
    return rows


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
        for row in inputs:  # a run of several forces: each extract named with its force
            if row.get("force"):
                row["extract"] = f"{row['force']}: {row.get('extract', '')}"
        inputs_source = f"{results_rel}/inputs.csv"
    else:
        inputs_source = "none: the run wrote no inputs.csv"
    commit, dirty = git_commit(root)
    return Reproducibility(
        run_name=params.run_name,
        params_source=params_source,
        params=param_rows(recorded),
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
        "<!-- Written by msht.publish.quarto_site.stage() at render time; do not edit. -->",
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


FALLBACK_MARKER = '<meta name="generator" content="msht render_fallback">'


def html_page(title: str, body: str) -> str:
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
    return html_page(f"Reproducibility: {params.report_title}", "\n".join(parts))
