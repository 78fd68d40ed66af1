"""The run's executed notebooks as the report shows them: code hidden, cells whose Quarto options
say ``include: false`` or ``output: false`` left out, figure alt texts, and (for Quarto) the tables'
HTML outputs as raw-HTML Markdown without great_tables' font list or needless character references.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import yaml

from msht.config import Params, executed_dir, notebooks_for


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


def executed_notebooks(params: Params, root: Path) -> list[Path]:
    """The run's executed notebooks (:func:`msht.config.notebooks_for`), in order; a clear error if
    the run has not been made."""
    folder = executed_dir(params, root)
    paths = [folder / name for name in notebooks_for(params)]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        where = folder.relative_to(root) if folder.is_relative_to(root) else folder.name
        raise FileNotFoundError(
            f"run {params.run_name!r} has no executed notebooks {missing} in {where}: "
            "run the notebooks first (make run PARAMS=...)"
        )
    return paths


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


#: A character reference of text, and (looked at, not taken, so that a reference right after it is
#: read too) the character after it.
_TEXT_ENTITY = re.compile(r"&(#x27|#39|apos|quot|#34|#x22|gt|#62|#x3e|nbsp|lt|#60|#x3c|amp|#38|#x26);(?=(.?))",
                          re.IGNORECASE | re.DOTALL)


#: A ``<`` or ``&`` that is text as it stands (HTML5: ``<`` not followed by a letter, ``/``, ``!`` or
#: ``?``; ``&`` followed by a space, a digit-free punctuation mark or the end).
_SAFE_AFTER_LT = re.compile(r"[^A-Za-z/!?]|$")


_SAFE_AFTER_AMP = re.compile(r"[\s,.;:)\]]|$")


#: U+2060, invisible and of no width: written after a ``<`` that comes before a letter (``<not
#: recorded>``, a raw spelling) or an ``&`` that comes before a name (``&amp;``), so that HTML reads
#: them as text without a character reference.
WORD_JOINER = "\u2060"


def _decode_text_entity(m: re.Match) -> str:
    """The character of the reference ``m`` (:data:`_TEXT_ENTITY`), or ``<``/``&`` and a
    :data:`WORD_JOINER` where the character after it would make the bare one markup."""
    name, after = m.group(1).lower(), m.group(2)
    if name in ("#x27", "#39", "apos"):
        return "'"
    if name in ("quot", "#34", "#x22"):
        return '"'
    if name in ("gt", "#62", "#x3e"):
        return ">"
    if name == "nbsp":
        return "\u00a0"
    if name in ("lt", "#60", "#x3c"):
        return "<" if _SAFE_AFTER_LT.match(after) else "<" + WORD_JOINER
    return "&" if _SAFE_AFTER_AMP.match(after) else "&" + WORD_JOINER


def plain_text_entities(page: str) -> str:
    """``page`` with the character references of its text written as the characters themselves,
    wherever HTML reads them the same: ``&#x27;`` and ``&quot;`` as quotes, ``&gt;`` as ``>``,
    ``&lt;`` as ``<`` before a space or a digit (``p < 0.05``, ``<5``), ``&amp;`` as ``&`` before a
    space; before a letter (``&lt;not recorded&gt;``) or a name (``&amp;amp;``), as ``<`` or ``&``
    and a :data:`WORD_JOINER`, which a browser, typst and Word show as nothing. Tags, attributes,
    comments, ``<style>`` and ``<script>`` are left as they are.

    great_tables escapes every title, note and cell with :func:`html.escape`. Quarto turns each
    HTML table into a Pandoc table for typst and Word after inlining its CSS (juice), and in a
    real Quarto 1.7 render the PDF then printed ``Victims&#x27;`` and ``Cells &lt; 5``
    literally (juice writes every ``&`` as ``&amp;``); text without references cannot be escaped
    twice.
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
