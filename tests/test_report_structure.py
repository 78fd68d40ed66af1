"""The Quarto article (report/index.qmd) and _quarto.yml, checked without Quarto.

* Every ``{{< embed /notebooks/X.ipynb#label >}}`` names a pipeline notebook and a label that the
  committed notebook defines with ``#| label: <label>``.
* Every @tbl-/@fig- reference names an embedded label, and every embedded tbl-/fig- label is
  referenced in the text at least once; every @sec- reference names a heading of the article.
* The static prose contains no number that comes from data (the digit rule below).
* _quarto.yml is a manuscript project that never executes the notebooks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from msht.pipeline import NOTEBOOKS

EMBED = re.compile(r"\{\{<\s*embed\s+/notebooks/([^#\s]+)#([^\s>]+)(?:\s[^>]*)?>\}\}")
XREF = re.compile(r"(?<![\w\[-])@((?:tbl|fig)-[A-Za-z0-9-]*[A-Za-z0-9])")
SECREF = re.compile(r"(?<![\w-])@(sec-[A-Za-z0-9-]*[A-Za-z0-9])")
HEADING_ID = re.compile(r"^#+ .*\{[^}]*#(sec-[A-Za-z0-9-]+)[^}]*\}\s*$", re.M)
LABEL = re.compile(r"^#\|\s*label:\s*(\S+)\s*$", re.M)

# The digit rule. Static prose is index.qmd without its YAML front matter, HTML comments, code and
# raw blocks, shortcodes ({{< embed >}}, {{< var >}}, {{< include >}}), attribute blocks
# ({#sec-x .appendix}), cross-references and citations (@tbl-x, [@key]) and link targets. In what
# remains, a digit may appear only in these structural names, never in a number from the data
# (those come from the notebooks, or from params through {{< var >}}):
ALLOWED_DIGITS = (
    r"\bAppendix \d+\b",  # appendix names, in headings and in links to them
    r"\bAppendices \d+\s*(?:–|-|to|and)\s*\d+\b",
    r"\bMS1\b",  # the MS1 notification form
    r"\bModern Slavery Act 2015\b",  # the statute's name
)


@pytest.fixture(scope="module")
def article(root) -> str:
    return (root / "report" / "index.qmd").read_text(encoding="utf-8")


def _body(text: str) -> str:
    """The article without its YAML front matter and HTML comments."""
    text = re.sub(r"\A---\s*\n.*?\n---\s*\n", "", text, flags=re.S)
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)


def embeds(text: str) -> list[tuple[str, str]]:
    """``(notebook, label)`` of every embed shortcode, in order (comments excluded)."""
    return EMBED.findall(_body(text))


def notebook_labels(path: Path) -> set[str]:
    """The ``#| label:`` values of a notebook's code cells."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    labels: set[str] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            labels.update(LABEL.findall(src))
    return labels


def static_prose(text: str) -> str:
    """The article's static prose (see the digit rule above)."""
    text = _body(text)
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1\s*$", "", text, flags=re.S | re.M)  # code and raw blocks
    text = re.sub(r"\{\{<.*?>\}\}", "", text, flags=re.S)  # shortcodes
    text = re.sub(r"\{[#.][^}]*\}", "", text)  # attribute blocks
    text = re.sub(r"^:::.*$", "", text, flags=re.M)  # div fences
    text = re.sub(r"\[\^[\w-]+\]", "", text)  # footnote markers
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r"-?@[\w:.-]+", "", text)  # cross-references and citations
    return text


def test_every_embed_names_a_pipeline_notebook_and_an_existing_label(root, article):
    found = embeds(article)
    assert found, "report/index.qmd embeds nothing"
    unknown = sorted({nb for nb, _ in found if nb not in NOTEBOOKS})
    assert not unknown, f"embeds name notebooks that the pipeline does not run: {unknown} (NOTEBOOKS = {NOTEBOOKS})"
    labels = {nb: notebook_labels(root / "notebooks" / nb) for nb in NOTEBOOKS}
    missing = [f"{nb}#{label}" for nb, label in found if label not in labels[nb]]
    assert not missing, (
        "report/index.qmd embeds labels that the committed notebooks do not define "
        "(add `#| label: ...` cells to the notebooks, or change the embeds):\n  " + "\n  ".join(missing)
    )


#: Notebook tables and figures the article leaves out on purpose, with the reason.
NOT_IN_REPORT = {
    "01_clean.ipynb#tbl-inputs": "the reproducibility appendix gives the same checksums, read from inputs.csv",
}


def test_every_notebook_table_and_figure_is_in_the_report(root, article):
    embedded = {f"{nb}#{label}" for nb, label in embeds(article)}
    left_out = sorted(
        f"{nb}#{label}"
        for nb in NOTEBOOKS
        for label in notebook_labels(root / "notebooks" / nb)
        if label.startswith(("tbl-", "fig-")) and f"{nb}#{label}" not in embedded and f"{nb}#{label}" not in NOT_IN_REPORT
    )
    assert not left_out, (
        "notebook tables/figures that report/index.qmd neither embeds nor lists in NOT_IN_REPORT:\n  " + "\n  ".join(left_out)
    )


def test_no_label_is_embedded_twice(article):
    seen: dict[str, int] = {}
    for nb, label in embeds(article):
        seen[f"{nb}#{label}"] = seen.get(f"{nb}#{label}", 0) + 1
    twice = sorted(k for k, n in seen.items() if n > 1)
    assert not twice, f"embedded more than once (duplicate ids in the HTML): {twice}"


def test_cross_references_match_embedded_tables_and_figures(article):
    body = _body(article)
    embedded = {label for _, label in embeds(article) if label.startswith(("tbl-", "fig-"))}
    referenced = set(XREF.findall(body))
    dangling = sorted(referenced - embedded)
    assert not dangling, f"@-references to labels that the article does not embed: {dangling}"
    unreferenced = sorted(embedded - referenced)
    assert not unreferenced, f"embedded tables/figures never cross-referenced in the text: {unreferenced}"


def test_section_references_name_headings_of_the_article(article):
    body = _body(article)
    headings = set(HEADING_ID.findall(body))
    dangling = sorted(set(SECREF.findall(body)) - headings)
    assert not dangling, f"@sec- references to headings that do not exist: {dangling}"
    links = set(re.findall(r"\]\(#(sec-[\w-]+)\)", body))
    assert links <= headings, f"links to missing headings: {sorted(links - headings)}"


def test_static_prose_has_no_number_from_data(article):
    prose = static_prose(article)
    offending = []
    for n, line in enumerate(prose.splitlines(), 1):
        rest = line
        for pattern in ALLOWED_DIGITS:
            rest = re.sub(pattern, "", rest)
        if re.search(r"[0-9]", rest):
            offending.append(line.strip())
    assert not offending, (
        "static prose in report/index.qmd contains digits; numbers from data must be embedded from a "
        "notebook cell (allowed: " + ", ".join(ALLOWED_DIGITS) + "):\n  " + "\n  ".join(offending)
    )


def test_digit_rule_catches_a_typed_number():
    text = "---\ntitle: x\n---\n\nAbout 17.2% of cases were offered support (@tbl-table2).\n"
    assert re.search(r"[0-9]", static_prose(text))
    ok = "---\ndate: x\n---\n\n# Appendix 4: Tests {#sec-appendix-4 .appendix}\n\nSee @tbl-x and [Appendix 1](#sec-appendix-1), {{< var period >}}.\n"
    rest = static_prose(ok)
    for pattern in ALLOWED_DIGITS:
        rest = re.sub(pattern, "", rest)
    assert not re.search(r"[0-9]", rest)


def test_appendix_headings_carry_their_number_and_are_unnumbered(article):
    body = _body(article)
    appendix_headings = [line for line in body.splitlines() if line.startswith("# Appendix")]
    assert appendix_headings, "no appendix"
    numbers = []
    for line in appendix_headings:
        m = re.match(r"^# Appendix (\d+): \S.*\{#sec-appendix-(\d+) \.unnumbered\}$", line)
        assert m, f"an appendix heading must read '# Appendix N: Title {{#sec-appendix-N .unnumbered}}': {line}"
        assert m.group(1) == m.group(2), line
        numbers.append(int(m.group(1)))
    assert ".appendix" not in body, ".appendix takes a section out of the HTML table of contents"
    assert numbers == list(range(1, len(numbers) + 1)), f"appendices out of order: {numbers}"
    appendix_start = body.index(appendix_headings[0])
    after = [line for line in body[appendix_start:].splitlines() if re.match(r"^#{1,6} ", line)]
    for line in after:
        assert ".unnumbered" in line, f"a heading inside the appendices must be .unnumbered: {line}"


def _front_matter(article: str) -> dict:
    return yaml.safe_load(re.match(r"\A---\s*\n(.*?)\n---\s*\n", article, re.S).group(1)) or {}


def test_links_to_unnumbered_headings_keep_their_typst_label(root, article):
    """Quarto 1.7 drops the label of an unnumbered heading in typst (quarto-cli#13698), so a link
    to one stops the PDF. Every [text](#id) link names a heading of the article; where that
    heading is unnumbered, the article runs report-formats.lua, which writes such headings with
    their label."""
    body = _body(article)
    headings = {}
    for m in re.finditer(r"^#{1,6} .*\{#([\w-]+)([^}]*)\}\s*$", body, re.M):
        headings[m.group(1)] = ".unnumbered" in m.group(2)
    targets = re.findall(r"\]\(#([\w-]+)\)", body)
    assert targets, "no internal link"
    for target in targets:
        assert target in headings, f"link to #{target}, which is no heading of the article"
    if any(headings[t] for t in targets):
        assert "report-formats.lua" in (_front_matter(article).get("filters") or [])
        lua = (root / "report" / "report-formats.lua").read_text(encoding="utf-8")
        assert 'is_format("typst")' in lua and "numbering: none" in lua and '"<" .. identifier .. ">"' in lua


CAPTION_NUMBER = re.compile(r"^\s*(?:Table|Figure|Fig\.|Appendix)\s*\d", re.I)


def test_captions_carry_no_number_of_their_own(root):
    """Quarto numbers tables and figures; a caption that also says "Table 3." prints as
    "Table 4: Table 3. ..." when the numbering differs."""
    for name in NOTEBOOKS:
        nb = json.loads((root / "notebooks" / name).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            for m in re.finditer(r"^#\|\s*(tbl|fig)-cap:\s*(.*)$", src, re.M):
                caption = yaml.safe_load(m.group(2))
                assert not CAPTION_NUMBER.match(str(caption)), f"{name}: {caption}"


def test_the_studys_tables_and_figures_keep_their_numbers(article):
    """Quarto numbers floats in document order: the study's Tables 1-4 and Figures 1-2 are the
    first tables and figures of the article, in the study's order."""
    labels = [label for _, label in embeds(article)]
    tables = [label for label in labels if label.startswith("tbl-")]
    figures = [label for label in labels if label.startswith("fig-")]
    assert tables[:4] == ["tbl-table1", "tbl-table2", "tbl-table3", "tbl-table4"], tables[:5]
    assert figures[:2] == ["fig-offers-by-year", "fig-engagement"], figures[:3]


def test_the_article_includes_the_reproducibility_appendix_and_no_front_matter_shortcode(article):
    front = re.match(r"\A---\s*\n(.*?)\n---\s*\n", article, re.S)
    assert front, "index.qmd has no YAML front matter"
    assert "{{<" not in front.group(1), "a shortcode in the front matter crashes Quarto; computed text belongs in the body"
    meta = yaml.safe_load(front.group(1)) or {}
    assert "title" not in meta, "the title comes from params (msht.publish.quarto_site.stage writes it into the staged copy)"
    assert "{{< include _reproducibility.md >}}" in article
    assert (Path(__file__).parents[1] / "report" / "references.bib").exists()
    assert "{{< embed /notebooks/01_clean.ipynb#synthetic-banner >}}" in _body(article).split("\n# ")[0], (
        "the synthetic banner must come before the first section"
    )


def test_quarto_yml_is_a_manuscript_that_never_executes(root):
    cfg = yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8"))
    assert cfg["project"]["type"] == "manuscript"
    assert cfg["manuscript"]["article"] == "report/index.qmd"
    assert cfg.get("notebook-view") is False, "an article in a subfolder needs top-level notebook-view: false"
    execute = cfg.get("execute") or {}
    assert "enabled" not in execute, "never set execute: enabled (it re-runs the notebooks)"
    for fmt, opts in (cfg.get("format") or {}).items():
        assert "enabled" not in ((opts or {}).get("execute") or {}), f"{fmt} sets execute: enabled"
    formats = cfg["format"]
    assert {"html", "typst"} <= set(formats), "HTML and typst PDF are required outputs"
    assert formats["html"]["embed-resources"] is True, "the HTML must work offline"
    bootswatch_web_fonts = {"cosmo", "cerulean", "flatly", "journal", "litera", "lumen", "lux", "materia",
                            "minty", "morph", "pulse", "quartz", "sandstone", "simplex", "sketchy", "slate",
                            "solar", "spacelab", "superhero", "united", "vapor", "yeti", "zephyr", "darkly",
                            "cyborg"}
    themes = formats["html"].get("theme", "default")
    themes = themes if isinstance(themes, list) else [themes]
    assert not bootswatch_web_fonts & set(themes), "a Bootswatch theme imports web fonts: no offline render"
    assert cfg["manuscript"].get("notebooks") == [], "no notebook preview pages"
    assert "#show figure: set block(breakable: true)" in formats["typst"]["include-in-header"]["text"]
    assert cfg["lang"] == "en-GB"
    assert execute.get("echo") is False, "code is hidden"


def test_makefile_and_render_never_ask_quarto_to_execute(root):
    assert "--execute" not in (root / "Makefile").read_text(encoding="utf-8")
    for module in ("render.py", "quarto_site.py"):
        assert '"--execute"' not in (root / "lib" / "msht" / "publish" / module).read_text(encoding="utf-8")


def test_citation_cff_describes_the_software_and_cites_the_study(root):
    cff = yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert {"cff-version", "message", "title", "authors"} <= set(cff), "CFF 1.2.0 required keys"
    assert cff["type"] == "software" and cff["license"] == "MIT"
    study = next(r for r in cff["references"] if r["type"] == "report")
    assert [a["family-names"] for a in study["authors"]] == ["Pajon", "Wilson", "Phoenix", "Quigg"]
    assert (study["year"], study["month"]) == (2026, 6)
    assert study["institution"]["name"] == "Liverpool John Moores University"
    assert "British Academy" in study["notes"] and "IF2324\\240132" in study["notes"]
    assert (root / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
