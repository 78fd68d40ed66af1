"""The render step: CDN-script post-processing, the notebooks as the report shows them, the
reproducibility appendix, staging for Quarto and the HTML fallback. Tests that need Quarto skip
when it is not on PATH."""

from __future__ import annotations

import csv
import dataclasses
import html
import json
import logging
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from msht import pipeline
from msht.publish import html_safety, quarto_site, render, report_metadata, report_views, reproducibility
from msht.synth import generate
from msht.config import load_params

QUARTO_MISSING = "Quarto is not on PATH; " + render.QUARTO_HINT

# --------------------------------------------------------------------------------------------
# CDN scripts
# --------------------------------------------------------------------------------------------

QUARTO_HEAD = """<!DOCTYPE html>
<html lang="en-GB"><head>
<meta charset="utf-8">
<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js" integrity="sha512-c3Nl8+7g4LMSTdrm621y7kf9v3SDPnhxLNhcjFJbKECVnmZHTdo+IRO05sNLTH/D3vA6u1X32ehoLC7WFVdheg==" crossorigin="anonymous"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/jquery/3.5.1/jquery.min.js" integrity="sha512-bLT0Qm9VnAYZDflyKcBaQ2gg0hSYNQrJ8RilYldYQ1FxQYoCLtUjuuRuZo+fjqhx/qtq/1itJ0C2ejDxltZVFg==" crossorigin="anonymous" data-relocate-top="true"></script>
<script type="application/javascript" data-relocate-top="true">define('jquery', [],function() {return window.jQuery;})</script>
<script src="data:application/javascript;base64,Ly8gcXVhcnRvLmpz"></script>
<script>window.document.addEventListener("DOMContentLoaded", function () { /* quarto */ });</script>
</head><body><main class="content"><table id="tbl-table2"><tr><td>Cases</td></tr></table>
"""


def test_strip_cdn_scripts_removes_quartos_widget_tags_and_keeps_the_rest():
    page = QUARTO_HEAD + "</main></body></html>\n"
    new, removed = html_safety.strip_cdn_scripts(page)
    assert len(removed) == 3
    assert "require.js" not in new and "jquery.min.js" not in new and "define('jquery'" not in new
    assert "data:application/javascript;base64,Ly8gcXVhcnRvLmpz" in new, "Quarto's own scripts stay"
    assert "DOMContentLoaded" in new and '<table id="tbl-table2">' in new
    assert html_safety.strip_cdn_scripts(new) == (new, []), "idempotent"


def test_strip_cdn_scripts_recognises_tags_embedded_as_data_uris():
    page = (
        '<head><script src="data:application/javascript;base64,AAAA" '
        'integrity="sha512-c3Nl8+7g4LMSTdrm621y7kf9v3SDPnhxLNhcjFJbKECVnmZHTdo+IRO05sNLTH/D3vA6u1X32ehoLC7WFVdheg==" '
        'crossorigin="anonymous"></script></head><body>table</body>'
    )
    new, removed = html_safety.strip_cdn_scripts(page)
    assert removed and "base64,AAAA" not in new and "table" in new


def test_strip_cdn_scripts_removes_nbconverts_require_tag():
    page = '<head><script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>\n</head><body>x</body>'
    new, removed = html_safety.strip_cdn_scripts(page)
    assert removed == ["https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"]
    assert new == "<head></head><body>x</body>"


@pytest.mark.parametrize(
    "needs",
    [
        '<script type="application/vnd.jupyter.widget-state+json">{}</script>',
        '<div data-mime="application/vnd.jupyter.widget-view+json"></div>',
        "<script>require(['plotly'], function (Plotly) { Plotly.plot('x'); });</script>",
        "<script>requirejs.config({paths: {}});</script>",
    ],
)
def test_strip_cdn_scripts_keeps_the_tags_when_the_page_uses_them(needs):
    page = QUARTO_HEAD + needs + "</main></body></html>\n"
    assert html_safety.strip_cdn_scripts(page) == (page, [])


def test_postprocess_html_rewrites_only_pages_with_unneeded_tags(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(QUARTO_HEAD + "</main></body></html>\n", encoding="utf-8")
    (tmp_path / "sub" / "plain.html").write_text("<p>plain</p>", encoding="utf-8")
    removed = html_safety.postprocess_html(tmp_path)
    assert list(removed) == ["index.html"] and len(removed["index.html"]) == 3
    assert "require.js" not in (tmp_path / "index.html").read_text(encoding="utf-8")
    assert (tmp_path / "sub" / "plain.html").read_text(encoding="utf-8") == "<p>plain</p>"


# --------------------------------------------------------------------------------------------
# Notebooks as the report shows them; helpers
# --------------------------------------------------------------------------------------------


def _toy_notebook(root_text: str) -> nbformat.NotebookNode:
    params = new_code_cell(f"results_dir = '{root_text}/results'")
    params.metadata["tags"] = ["injected-parameters"]
    hidden = new_code_cell("#| output: false\nresults.write_csv(x)")
    hidden.outputs = [new_output("execute_result", {"text/plain": f"PosixPath('{root_text}/results/x.csv')"}, execution_count=2)]
    excluded = new_code_cell("#| include: false\nprint(1)")
    excluded.outputs = [new_output("stream", name="stdout", text=f"{root_text}\n")]
    shown = new_code_cell("#| label: tbl-x\n#| tbl-cap: \"A table.\"\nshow()")
    shown.outputs = [new_output("execute_result", {"text/html": "<table id='tbl-x'></table>", "text/plain": "<HTML>"}, execution_count=4)]
    return new_notebook(cells=[new_markdown_cell("# Toy"), params, hidden, excluded, shown])


def test_report_view_drops_injected_parameters_and_hidden_outputs():
    nb = _toy_notebook("/home/someone/project")
    view = report_views.report_view(nb)
    assert len(view.cells) == 4, "the injected-parameters cell is dropped"
    assert view.cells[1].outputs == [] and view.cells[2].outputs == []
    assert view.cells[3].outputs and "tbl-x" in view.cells[3].outputs[0]["data"]["text/html"]
    assert "/home/someone" not in json.dumps(view)
    assert len(nb.cells) == 5 and nb.cells[2].outputs, "the input notebook is not modified"


def test_report_view_can_put_captions_before_tables_and_figures():
    view = report_views.report_view(_toy_notebook("x"), captions=True)
    caption = view.cells[3]
    assert caption.cell_type == "markdown" and caption.source == "**Table** (tbl-x). A table."
    assert view.cells[4].outputs


def test_alt_texts_are_added_to_figure_images():
    cell = new_code_cell('#| label: fig-x\n#| fig-cap: "Cap."\n#| fig-alt: "Bars & lines"\nfig')
    cell.outputs = [new_output("display_data", {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]
    alts = report_views.figure_alt_texts(new_notebook(cells=[cell]))
    assert alts == {"iVBORw0KGgo=": "Bars & lines"}
    page = '<div><img src="data:image/png;base64,iVBORw0KGgo="\nclass=""></div>'
    assert '<img alt="Bars &amp; lines" src="data:image/png;base64,iVBORw0KGgo="' in report_views.add_alt_texts(page, alts)


def test_cell_options_reads_quarto_cell_options():
    assert report_views.cell_options('#| label: fig-x\n#| fig-cap: "A: b"\n#| output: false\ncode()') == {
        "label": "fig-x",
        "fig-cap": "A: b",
        "output": False,
    }
    assert report_views.cell_options("code()\n#| label: late") == {}


def test_md_escape_makes_values_plain_text():
    value = "a|b *c* _d_ @cite {{< var x >}} [link](u) IF2324\\240132 <b>"
    escaped = reproducibility.md_escape(value)
    unescaped = re.sub(r"\\.", "", escaped)
    assert not re.search(r"[|*_@{}<>\[\]()]", unescaped), unescaped
    assert re.sub(r"\\(.)", r"\1", escaped) == value, "unescaping gives the value back"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("data/raw/default", "data/raw/default"),
        ("/srv/police/extracts", "<absolute path>/extracts"),
        ("C:\\Users\\analyst\\extracts", "<absolute path>/extracts"),
        (0.05, "0.05"),
    ],
)
def test_safe_value_shortens_absolute_paths(value, shown):
    assert reproducibility.safe_value(value) == shown


def test_find_leaks_flags_absolute_paths_and_the_user_name(root):
    assert html_safety.find_leaks(f"see {root}/results/x.csv", root)
    assert html_safety.find_leaks("C:\\Users\\analyst\\x.csv", root)
    assert html_safety.find_leaks("/home/analyst/x", root)
    assert html_safety.find_leaks("results/default/inputs.csv and :root { --x: 1 }", root) == []


def test_front_matter_is_merged_without_losing_keys():
    qmd = "---\n# comment\ndate: last-modified\nbibliography: references.bib\n---\n\nBody {{< var x >}}\n"
    out = quarto_site._with_front_matter(qmd, {"title": "T: a report", "author": [{"name": "A"}]})
    meta = yaml.safe_load(out.split("---\n")[1])
    assert meta == {"title": "T: a report", "author": [{"name": "A"}], "date": "last-modified", "bibliography": "references.bib"}
    assert out.endswith("\nBody {{< var x >}}\n")


def test_git_commit_of_the_project(root):
    if not (root / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout, or git is not installed")
    commit, dirty = reproducibility.git_commit(root)
    assert re.fullmatch(r"[0-9a-f]{40}", commit or "") and dirty in (True, False)


def test_git_commit_outside_a_repository(tmp_path):
    assert reproducibility.git_commit(tmp_path) == (None, None)


# --------------------------------------------------------------------------------------------
# Staging (a fake run in a temporary project root, so no pipeline run is needed)
# --------------------------------------------------------------------------------------------


def _params_variant(root: Path, name: str, **changes):
    data = yaml.safe_load((root / "params" / "default.yaml").read_text(encoding="utf-8"))
    data.update(
        {
            "run_name": name,
            "processed_dir": f"_output/{name}/processed",
            "results_dir": f"_output/{name}/results",
            "report_dir": f"_output/{name}/report",
            **changes,
        }
    )
    return data


INPUTS = [
    {"extract": "cases", "file": "cases.csv", "rows": "12", "sha256": "a" * 64},
    {"extract": "victims", "file": "victims.csv", "rows": "10", "sha256": "b" * 64},
]


@pytest.fixture()
def fake_project(root, tmp_path):
    """A temporary project root with _quarto.yml, report/ and a fake executed run ``stage_test``."""
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy2(root / "_quarto.yml", proj / "_quarto.yml")
    shutil.copytree(root / "report", proj / "report")
    raw = _params_variant(root, "stage_test", report_title="A title: with a colon", period_start="2021-01-01")
    params = load_params_from(raw, tmp_path)
    results = proj / params.results_dir
    results.mkdir(parents=True)
    (results / "run_params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with (results / "inputs.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(INPUTS[0]))
        writer.writeheader()
        writer.writerows(INPUTS)
    nbs = pipeline.executed_dir(params, proj)
    nbs.mkdir(parents=True)
    for name in pipeline.NOTEBOOKS:
        nbformat.write(_toy_notebook(str(proj)), nbs / name)
    return proj, params


def load_params_from(raw: dict, folder: Path):
    path = folder / f"{raw['run_name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_params(path)


def test_stage_builds_a_site_from_the_runs_notebooks(fake_project):
    proj, params = fake_project
    site = quarto_site.stage(params, proj, renderer="Quarto 9.9.9")
    assert site == proj / "_output" / "stage_test" / "site"
    staged = yaml.safe_load((site / "_quarto.yml").read_text(encoding="utf-8"))
    assert staged["manuscript"]["article"] == "index.qmd", "the article sits at the site's root"
    assert staged["format"] == yaml.safe_load((proj / "_quarto.yml").read_text(encoding="utf-8"))["format"]
    assert sorted(p.name for p in (site / "notebooks").iterdir()) == sorted(pipeline.NOTEBOOKS)
    assert (site / "references.bib").exists() and not (site / "report").exists()

    article = (site / "index.qmd").read_text(encoding="utf-8")
    meta = yaml.safe_load(re.match(r"\A---\n(.*?)\n---\n", article, re.S).group(1))
    assert meta["title"] == "A title: with a colon"
    assert meta["subtitle"] == f"{params.force_name}, 2021–2023"
    assert meta["author"] == [{"name": params.authors}]
    assert meta["bibliography"] == "references.bib"
    assert "{{< include _reproducibility.md >}}" in article

    variables = yaml.safe_load((site / "_variables.yml").read_text(encoding="utf-8"))
    assert variables["force_name"] == params.force_name and variables["period_start"] == "2021-01-01"
    assert variables["funder"] == params.funder and variables["alpha"] == "0.05"

    repro = (site / reproducibility.REPRO_INCLUDE).read_text(encoding="utf-8")
    for row in INPUTS:
        assert row["sha256"] in repro
    assert "stage\\_test" in repro and "Quarto 9\\.9\\.9" in repro
    assert "git commit is not available" in repro, "the temporary root is not a git checkout"
    for label in re.findall(r"\{#(tbl-[\w-]+)\}", repro):
        assert f"@{label}" in repro, f"{label} is not cross-referenced"
    assert "{{<" not in repro

    staged_nb = nbformat.read(site / "notebooks" / "01_clean.ipynb", as_version=4)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in staged_nb.cells)
    for path in site.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not html_safety.find_leaks(text, proj), f"{path.relative_to(site)} leaks {html_safety.find_leaks(text, proj)}"


def test_stage_and_fallback_say_when_the_run_has_no_notebooks(fake_project):
    proj, params = fake_project
    shutil.rmtree(pipeline.executed_dir(params, proj))
    with pytest.raises(FileNotFoundError, match="run the notebooks first"):
        quarto_site.stage(params, proj)
    with pytest.raises(FileNotFoundError, match="run the notebooks first"):
        render.render_fallback(params, proj)


def test_stage_replaces_a_previous_site(fake_project):
    proj, params = fake_project
    site = quarto_site.stage(params, proj)
    (site / "stale.txt").write_text("old", encoding="utf-8")
    assert not (quarto_site.stage(params, proj) / "stale.txt").exists()


def test_reproducibility_without_run_records(fake_project):
    proj, params = fake_project
    (proj / params.results_dir / "inputs.csv").unlink()
    (proj / params.results_dir / "run_params.yaml").unlink()
    info = reproducibility.reproducibility(params, proj)
    md = reproducibility.reproducibility_markdown(info)
    assert "No checksums are available" in md and "tbl-repro-inputs" not in md
    assert dict(info.params)["run_name"] == "stage_test"


FAKE_QUARTO = """#!/bin/sh
# A stand-in for quarto: records its arguments and writes a page with Quarto's CDN tags.
if [ "$1" = "--version" ]; then echo 1.7.99; exit 0; fi
echo "$@" > "$PWD/../quarto-args.txt"
test -f _quarto.yml && test -f index.qmd && test -f _reproducibility.md || exit 3
out="$3"
mkdir -p "$out"
cat > "$out/index.html" <<'PAGE'
QUARTO_PAGE
PAGE
echo "%PDF" > "$out/index.pdf"
"""


def test_render_quarto_stages_renders_into_report_dir_and_strips_cdn_tags(fake_project, tmp_path, caplog):
    proj, params = fake_project
    quarto = tmp_path / "quarto"
    quarto.write_text(FAKE_QUARTO.replace("QUARTO_PAGE", QUARTO_HEAD + "</main></body></html>"), encoding="utf-8")
    quarto.chmod(0o755)
    out = proj / params.report_dir
    out.mkdir(parents=True)
    (out / "01_clean.html").write_text("old fallback page", encoding="utf-8")
    (out / "index.html").write_text(reproducibility.html_page("old", "fallback"), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="msht"):
        assert render.render_quarto(params, str(quarto), proj) == out
    logged = [r.getMessage() for r in caplog.records]
    args = (proj / "_output" / "stage_test" / "quarto-args.txt").read_text(encoding="utf-8").split()
    assert args == ["render", "--output-dir", str(out.with_name("report.rendering"))], \
        "never --execute; a fresh folder that replaces report_dir once the render succeeds"
    assert not out.with_name("report.rendering").exists()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "require.min.js" not in page and '<table id="tbl-table2">' in page
    assert not (out / "01_clean.html").exists(), "the earlier fallback's pages are removed"
    assert (out / "index.pdf").exists()
    assert logged and "index.html" in logged[0]
    repro = (proj / "_output" / "stage_test" / "site" / reproducibility.REPRO_INCLUDE).read_text(encoding="utf-8")
    assert "Quarto 1\\.7\\.99" in repro


# --------------------------------------------------------------------------------------------
# The fallback on a real executed run
# --------------------------------------------------------------------------------------------


def _executed(folder: Path) -> bool:
    for name in pipeline.NOTEBOOKS:
        path = folder / name
        if not path.exists():
            return False
        nb = json.loads(path.read_text(encoding="utf-8"))
        if "papermill" not in nb.get("metadata", {}) or not any(
            c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"
        ):
            return False
    return True


@pytest.fixture(scope="module")
def executed_run(root, tmp_path_factory):
    """Params of an executed run, with ``report_dir`` in a temporary folder.

    The committed notebooks (the default run) if they are executed and results/default holds the
    run's records; else the scratch run ``_output/render_check`` if it exists; else that run is
    made now with papermill (never with params/default.yaml, which would rewrite committed files).
    """
    report_dir = tmp_path_factory.mktemp("fallback") / "report"
    default = load_params(root / "params" / "default.yaml")
    results = root / default.results_dir
    if _executed(root / "notebooks") and (results / "run_params.yaml").exists() and (results / "inputs.csv").exists():
        return dataclasses.replace(default, report_dir=str(report_dir))
    raw = _params_variant(root, "render_check")
    path = tmp_path_factory.mktemp("params") / "render_check.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    params = load_params(path)
    run_results = root / params.results_dir
    if not (_executed(pipeline.executed_dir(params, root)) and (run_results / "inputs.csv").exists()):
        generate.generate(default)
        pipeline.run_notebooks(path)
    return dataclasses.replace(params, report_dir=str(report_dir))


@pytest.fixture(scope="module")
def fallback(root, executed_run):
    return render.render_fallback(executed_run, root)


def test_fallback_writes_every_notebook_the_reproducibility_page_and_an_index(fallback, executed_run):
    assert fallback == Path(executed_run.report_dir)
    index = (fallback / "index.html").read_text(encoding="utf-8")
    for name in pipeline.NOTEBOOKS:
        page = name.replace(".ipynb", ".html")
        assert (fallback / page).stat().st_size > 10_000
        assert f'href="{page}"' in index
    assert f'href="{reproducibility.REPRO_PAGE}"' in index
    assert executed_run.report_title in index
    assert (html.escape(report_metadata.SYNTHETIC_BANNER) in index) == executed_run.synthetic


def test_fallback_reproducibility_page_records_the_run(root, fallback, executed_run):
    page = (fallback / reproducibility.REPRO_PAGE).read_text(encoding="utf-8")
    results = root / executed_run.results_dir
    with (results / "inputs.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            assert row["sha256"] in page
    recorded = yaml.safe_load((results / "run_params.yaml").read_text(encoding="utf-8"))
    assert f"<td>seed</td><td>{recorded['seed']}</td>" in page
    commit, _ = reproducibility.git_commit(root)
    if commit:
        assert commit in page
    for package in ("pandas", "scipy", "great_tables", "papermill"):
        assert f"<td>{package}</td>" in page


def test_fallback_shows_every_labelled_output(root, fallback, executed_run):
    """Every labelled cell's output (table, figure or computed sentence) is in the fallback."""
    for name in pipeline.NOTEBOOKS:
        nb = nbformat.read(pipeline.executed_dir(executed_run, root) / name, as_version=4)
        page = (fallback / name.replace(".ipynb", ".html")).read_text(encoding="utf-8")
        images = 0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            opts = report_views.cell_options(cell.source)
            label = opts.get("label")
            if not label or opts.get("output") is False:
                continue
            for out in cell.outputs:
                data = out.get("data", {})
                if "image/png" in data:
                    images += 1
                elif "text/html" in data and label.startswith("tbl-"):
                    assert f'id="{label}"' in page, f"{name}: table {label} missing from the fallback"
                elif "text/markdown" in data:
                    words = re.findall(r"[A-Za-z]{5,}", data["text/markdown"])[:8]
                    missing = [w for w in words if w not in page]
                    assert not missing, f"{name}: sentence {label} missing from the fallback ({missing})"
        assert page.count("<img") >= images, f"{name}: figures missing from the fallback"
        assert page.count("<img alt=") >= images, f"{name}: a figure has no alt text in the fallback"


def test_fallback_leaks_no_path_and_loads_no_widget_cdn(root, fallback):
    for page in sorted(fallback.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        assert not html_safety.find_leaks(text, root), f"{page.name} leaks {html_safety.find_leaks(text, root)}"
        assert "require.min.js" not in text and "jquery" not in text.lower().split("</head>")[0]
        assert "PosixPath(" not in text, f"{page.name} shows the output of an `output: false` cell"


# --------------------------------------------------------------------------------------------
# With Quarto
# --------------------------------------------------------------------------------------------


APPENDIX_HEADINGS = [f"Appendix {n}:" for n in range(1, 8)]
ENTITY = re.compile(r"&(?:#x?[0-9a-fA-F]+|[a-zA-Z]+);")


@pytest.mark.skipif(render.quarto_path() is None, reason=QUARTO_MISSING)
def test_quarto_renders_html_pdf_and_word_offline_without_a_warning(root, executed_run, tmp_path, caplog):
    params = dataclasses.replace(executed_run, report_dir=str(tmp_path / "report"))
    with caplog.at_level(logging.WARNING, logger="msht"):
        out = render.render_quarto(params, render.quarto_path(), root)
    logged = [r.getMessage() for r in caplog.records]
    assert sorted(p.name for p in out.iterdir()) == ["index.docx", "index.html", "index.pdf"]
    log = (root / "_output" / params.run_name / render.RENDER_LOG).read_text(encoding="utf-8")
    assert quarto_site.warnings_in(log) == [] and not logged, "Quarto, Pandoc or typst warned"
    assert "Could not fetch" not in log and "https://" not in log, "the render reached for the network"
    article = (out / "index.html").read_text(encoding="utf-8")
    assert "cdnjs.cloudflare.com" not in article and "fonts.googleapis.com" not in article
    assert not html_safety.find_leaks(article, root)
    for label in ("tbl-exclusions", "fig-flow", "sec-appendix-7", "tbl-table1", "tbl-table4"):
        assert f'id="{label}"' in article
    toc = re.search(r'<nav id="TOC".*?</nav>', article, re.S).group(0)
    assert all(f'href="#sec-appendix-{n}"' in toc for n in range(1, 8)), "every appendix is in the TOC"
    import zipfile

    with zipfile.ZipFile(out / "index.docx") as docx:
        document = docx.read("word/document.xml").decode("utf-8")
    sections = re.findall(r"<w:sectPr>.*?</w:sectPr>", document, re.S)
    assert sections and all(re.search(r'<w:pgSz (?=[^>]*w:w="(11906|16838)")(?=[^>]*w:h="(16838|11906)")', sec)
                            for sec in sections), "every Word section is A4"
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        import subprocess

        text = subprocess.run([pdftotext, "-layout", str(out / "index.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert not ENTITY.search(text), ENTITY.search(text)
        for heading in APPENDIX_HEADINGS:
            assert heading in text, heading
        for n in range(1, 5):
            assert re.search(rf"Table {n}: Factors related to|Table {n}: Victims", text) or n == 1, n
        assert "Table 1: Victims" in text and "Table 2: Factors related" in text
        assert not re.search(r"Table \d+: Table \d", text), "a doubled table number"


def test_msht_no_quarto_turns_quarto_off_even_when_it_is_installed(monkeypatch, tmp_path):
    fake = tmp_path / "quarto"
    fake.write_text("#!/bin/sh\necho 1.7.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv(render.NO_QUARTO_ENV, raising=False)
    assert render.quarto_path() == str(fake)
    monkeypatch.setenv(render.NO_QUARTO_ENV, "1")
    assert render.quarto_path() is None


FAILING_QUARTO = """#!/bin/sh
if [ "$1" = "--version" ]; then echo 1.7.34; exit 0; fi
mkdir -p "$3"
echo "half a page" > "$3/index.html"
cat <<'LOG'
pandoc
  to: html
  output-file: index.html

Output created: index.html

pandoc
  to: typst
  output-file: index.typ

\033[31merror: label `<sec-appendix-3>` does not exist in the document\033[39m
   ┌─ index.typ:812:14
   │
812 │ See #link(<sec-appendix-3>)[Appendix 3] for a full overview.
   │         ^^^^^^^^^^^^^^^^^^^^^^^
LOG
echo "ERROR: Error" >&2
exit 1
"""



def _fake_quarto(folder: Path, script: str) -> Path:
    """An executable stand-in for quarto in ``folder``."""
    quarto = folder / "quarto"
    quarto.write_text(script, encoding="utf-8")
    quarto.chmod(0o755)
    return quarto


def _previous_report(proj: Path, params) -> Path:
    """The run's report_dir holding a previous report (one page); returns the folder."""
    out = proj / params.report_dir
    out.mkdir(parents=True)
    (out / "index.html").write_text("the previous report", encoding="utf-8")
    return out


def test_a_failed_render_says_which_format_and_why_in_one_line_and_keeps_the_previous_report(fake_project, tmp_path):
    proj, params = fake_project
    quarto = _fake_quarto(tmp_path, FAILING_QUARTO)
    out = _previous_report(proj, params)
    with pytest.raises(render.RenderError) as caught:
        render.render_quarto(params, str(quarto), proj)
    message = str(caught.value)
    assert "\n" not in message
    assert "typst PDF" in message and "label `<sec-appendix-3>` does not exist in the document" in message
    assert "\x1b" not in message and "quarto-render.log" in message
    assert (out / "index.html").read_text(encoding="utf-8") == "the previous report"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    assert not out.with_name("report.rendering").exists()
    assert "sec-appendix-3" in (proj / "_output" / "stage_test" / render.RENDER_LOG).read_text(encoding="utf-8")


def test_msht_render_ends_a_failed_render_with_one_line_and_no_traceback(fake_project, tmp_path, monkeypatch, capsys):
    from msht import cli

    proj, params = fake_project
    quarto = tmp_path / "bin" / "quarto"
    quarto.parent.mkdir()
    quarto.write_text(FAILING_QUARTO, encoding="utf-8")
    quarto.chmod(0o755)
    monkeypatch.setenv("PATH", f"{quarto.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv(render.NO_QUARTO_ENV, raising=False)
    monkeypatch.setattr(render, "project_root", lambda: proj)
    code = cli.main(["render", "--params", str(tmp_path / "stage_test.yaml")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("msht: error: Quarto failed to render the typst PDF")
    assert "Traceback" not in err


def test_msht_render_without_quarto_says_so_in_one_line_on_stdout(fake_project, tmp_path, monkeypatch, capsys):
    """The library logs (logging.getLogger); the command line shows its messages as bare lines."""
    from msht import cli

    proj, params = fake_project
    monkeypatch.setenv(render.NO_QUARTO_ENV, "1")
    monkeypatch.setattr(render, "project_root", lambda: proj)
    code = cli.main(["render", "--params", str(tmp_path / "stage_test.yaml")])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out.count("\n") == 1
    assert out.startswith(f"Quarto turned off by {render.NO_QUARTO_ENV}: skipped the Quarto render (HTML, PDF and Word)")


def test_command_line_shows_msht_messages_only(capsys):
    from msht import cli

    cli.configure_logging()
    logging.getLogger("msht.synth.generate").info("generating the twin")
    logging.getLogger("msht.pipeline").debug("not shown at INFO")
    logging.getLogger("papermill").info("another library's message")
    cli.configure_logging()  # a second call replaces the handler: still one line per message
    logging.getLogger("msht.publish.render").warning("quarto: a warning")
    assert capsys.readouterr().out == "generating the twin\nquarto: a warning\n"


@pytest.mark.parametrize(
    ("log", "fmt", "message"),
    [
        ("pandoc\n  to: docx\n\nERROR: Pandoc could not open image\n", "Word (docx)", "ERROR: Pandoc could not open image"),
        ("ERROR:\n  Unable to read notebook nb.ipynb\n", "project", "ERROR: Unable to read notebook nb.ipynb"),
        ("pandoc\n  to: typst\nError running filter main.lua:\n\nreport-formats.lua:148: attempt to index a nil value\n",
         "typst PDF", "Error running filter main.lua: report-formats.lua:148: attempt to index a nil value"),
        ("pandoc\n  to: html\n[error] Could not fetch resource\n", "HTML", "[error] Could not fetch resource"),
        ("pandoc\n  to: typst\nstill going\nKilled\n", "typst PDF", "Killed"),
        ("", "project", "no output"),
        ("pandoc\n  to: docx\n[typst]: Compiling index.typ to index.pdf...error: error: unknown variable: nonexistent\n"
         "   ┌─ index.typ:12:2\n   │  ^^^^^^^^^^^\n", "typst PDF", "error: unknown variable: nonexistent"),
        ("pandoc\n  to: docx\n[typst]: Compiling index.typ to index.pdf...\nerror: label `<x>` does not exist\n",
         "typst PDF", "error: label `<x>` does not exist"),
    ],
)
def test_first_error_names_the_format_and_the_first_error_line(log, fmt, message):
    assert quarto_site.first_error(log) == (fmt, message)


def test_warnings_in_finds_quartos_pandocs_and_typsts_warnings():
    log = ("pandoc\n  to: html\n[WARNING] Could not fetch resource https://x\nWARN: skipped\n"
           "\x1b[33mwarning: unknown font family: segoe ui\x1b[39m\nOutput created: index.html\n")
    assert quarto_site.warnings_in(log) == ["[WARNING] Could not fetch resource https://x", "WARN: skipped",
                                       "warning: unknown font family: segoe ui"]
    assert quarto_site.warnings_in("Output created: index.pdf\n") == []
    filters = ("\x1b[1m\x1b[31merror\x1b[0m: Import 'https://cdn.skypack.dev/juice@10.0.0' failed\n"
               "    at file:///q/share/scripts/juice.ts:1:19\n(E) Running juice failed with exit code: 1\n"
               "(W) A table could not be parsed\nWARNING (/q/share/filters/main.lua) unknown class\n")
    assert quarto_site.warnings_in(filters) == ["error: Import 'https://cdn.skypack.dev/juice@10.0.0' failed",
                                                "(E) Running juice failed with exit code: 1",
                                                "(W) A table could not be parsed",
                                                "WARNING (/q/share/filters/main.lua) unknown class"]


def test_html_outputs_are_staged_as_raw_html_markdown_so_quarto_adds_no_widget_scripts():
    html_out = new_output("execute_result", data={"text/html": '<table id="t"><tr><td>```</td></tr></table>',
                                                  "text/plain": "<GT>"}, execution_count=1)
    png = new_output("display_data", data={"image/png": "iVBOR"})
    text = new_output("stream", name="stdout", text="hello")
    nb = new_notebook(cells=[new_code_cell("#| label: tbl-x\nshow()", outputs=[html_out, png, text])])
    staged = report_views.quarto_view(nb)
    outs = staged.cells[0].outputs
    assert list(outs[0].data) == ["text/markdown"]
    assert outs[0].data["text/markdown"] == '````{=html}\n<table id="t"><tr><td>```</td></tr></table>\n````\n'
    assert outs[1] == png and outs[2] == text
    assert "text/html" in nb.cells[0].outputs[0].data, "the committed notebook is not changed"


def test_the_fallback_replaces_an_earlier_quarto_report(fake_project):
    proj, params = fake_project
    out = proj / params.report_dir
    out.mkdir(parents=True)
    (out / "index.pdf").write_text("%PDF old", encoding="utf-8")
    render.render_fallback(params, proj)
    assert not (out / "index.pdf").exists() and (out / "index.html").exists()


def test_staged_tables_take_the_documents_font():
    page = ('<div id="t"><style>\n#t table {\n          font-family: -apple-system, \'Segoe UI\', Arial, sans-serif;\n'
            '          -webkit-font-smoothing: antialiased;\n}\n#t .x { FONT-FAMILY: "Fira Sans" }</style>'
            '<table style="width:auto"><tr><td>font-family: kept in text</td></tr></table></div>')
    out = report_views.without_font_families(page)
    assert "-apple-system" not in out and "Fira Sans" not in out
    assert "-webkit-font-smoothing: antialiased;" in out and "font-family: kept in text" in out


def test_quarto_output_is_tidied_of_the_sites_path_and_unused_site_libs(tmp_path):
    site = tmp_path / "_output" / "run" / "site"
    out = tmp_path / "out"
    (out / "site_libs" / "bootstrap").mkdir(parents=True)
    (out / "site_libs" / "bootstrap" / "b.html").write_text("<p>site_libs/ itself</p>", encoding="utf-8")
    (out / "index.html").write_text(
        f'<div class="quarto-embed-nb-cell" data-notebook="{site.as_posix()}/notebooks/03_associations.ipynb">',
        encoding="utf-8")
    changed = quarto_site.tidy_quarto_output(out, site)
    assert (out / "index.html").read_text(encoding="utf-8") == \
        '<div class="quarto-embed-nb-cell" data-notebook="notebooks/03_associations.ipynb">'
    assert not (out / "site_libs").exists() and len(changed) == 2
    (out / "site_libs").mkdir()
    (out / "page.html").write_text('<link href="site_libs/x.css">', encoding="utf-8")
    quarto_site.tidy_quarto_output(out, site)
    assert (out / "site_libs").exists(), "kept while a page uses it"


@pytest.mark.parametrize(
    ("page", "plain"),
    [
        ('<th class="gt_title">Victims&#x27; characteristics</th>', "<th class=\"gt_title\">Victims' characteristics</th>"),
        ("<td>7 had p &lt; 0.05 in the seed&#x27;s convention</td>", "<td>7 had p < 0.05 in the seed's convention</td>"),
        ("<td>&lt;5</td><td>Cells &lt; 5</td>", "<td><5</td><td>Cells < 5</td>"),
        ("<td>&lt;b&gt; stays text</td>", "<td><\u2060b> stays text</td>"),
        ("<td>&lt;not recorded&gt;</td>", "<td><\u2060not recorded></td>"),
        ("<td>&#x27;&lt;not recorded&gt;&#x27;</td>", "<td>'<\u2060not recorded>'</td>"),  # references side by side
        ("<td>&lt;&lt;5 x&amp;&amp;y &amp;&amp;amp;</td>", "<td><<5 x&\u2060&\u2060y &\u2060&\u2060amp;</td>"),
        ("<td>A &amp; B, &amp;amp;</td>", "<td>A & B, &\u2060amp;</td>"),
        ("<td>&quot;Has county lines&quot;</td>", '<td>"Has county lines"</td>'),
        ('<td title="a &quot;q&quot;">x</td>', '<td title="a &quot;q&quot;">x</td>'),
        ("<style>#t .a::after { content: '&lt;'; }</style>", "<style>#t .a::after { content: '&lt;'; }</style>"),
        ("<!-- &#x27; -->", "<!-- &#x27; -->"),
    ],
)
def test_plain_text_entities_writes_text_references_as_characters_where_html_reads_them_alike(page, plain):
    assert report_views.plain_text_entities(page) == plain


def test_staged_tables_hand_quarto_no_entity_in_their_text(root):
    """Titles, subtitles, column labels, cells and source notes of every staged table: the text
    Quarto turns into PDF and Word tables carries no character reference (Quarto's CSS inlining
    escapes each a second time, and the PDF would print it)."""
    for name in pipeline.NOTEBOOKS:
        nb = report_views.quarto_view(nbformat.read(root / "notebooks" / name, as_version=4))
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                md = out.get("data", {}).get("text/markdown", "")
                if "{=html}" not in md:
                    continue
                text = "".join(part for i, part in enumerate(report_views._MARKUP.split(md)) if i % 3 == 0)
                assert not re.search(r"&#?\w+;", text), (name, re.search(r"&#?\w+;", text).group(0))


WARNING_QUARTO = """#!/bin/sh
if [ "$1" = "--version" ]; then echo 1.7.34; exit 0; fi
mkdir -p "$3"
echo "report with ?@tbl-doesnotexist" > "$3/index.html"
echo "WARNING (/quarto/filters/crossref.lua:1) Unable to resolve crossref @tbl-doesnotexist"
exit 0
"""


def test_a_render_with_warnings_is_not_published_unless_allowed(fake_project, tmp_path, monkeypatch, caplog):
    proj, params = fake_project
    quarto = _fake_quarto(tmp_path, WARNING_QUARTO)
    out = _previous_report(proj, params)
    monkeypatch.delenv(render.ALLOW_WARNINGS_ENV, raising=False)
    with pytest.raises(render.RenderError, match="Unable to resolve crossref @tbl-doesnotexist") as caught:
        render.render_quarto(params, str(quarto), proj)
    assert "\n" not in str(caught.value) and render.ALLOW_WARNINGS_ENV in str(caught.value)
    assert (out / "index.html").read_text(encoding="utf-8") == "the previous report"
    monkeypatch.setenv(render.ALLOW_WARNINGS_ENV, "1")
    with caplog.at_level(logging.WARNING, logger="msht"):
        render.render_quarto(params, str(quarto), proj)
    assert "tbl-doesnotexist" in (out / "index.html").read_text(encoding="utf-8")
    assert [r.getMessage() for r in caplog.records] == ["quarto: WARNING (/quarto/filters/crossref.lua:1) Unable to resolve crossref @tbl-doesnotexist"]


def _fake_pandoc_quarto(tmp_path: Path, section: str = "<w:sectPr><w:footnotePr /></w:sectPr>") -> Path:
    """A stand-in for `quarto pandoc -o FILE --print-default-data-file reference.docx`."""
    import sys

    script = tmp_path / "quarto"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, zipfile\n"
        "out = sys.argv[sys.argv.index('-o') + 1]\n"
        "with zipfile.ZipFile(out, 'w') as z:\n"
        "    z.writestr('[Content_Types].xml', '<Types/>')\n"
        f"    z.writestr('word/document.xml', '<w:document><w:body><w:p/>{section}</w:body></w:document>')\n",
        encoding="utf-8")
    script.chmod(0o755)
    return script


def test_the_word_reference_document_gets_an_a4_page(tmp_path):
    import zipfile

    quarto = _fake_pandoc_quarto(tmp_path, '<w:sectPr><w:pgSz w:w="12240" w:h="15840"/></w:sectPr>')
    target = tmp_path / "reference.docx"
    assert quarto_site.a4_reference_docx(str(quarto), target)
    with zipfile.ZipFile(target) as z:
        doc = z.read("word/document.xml").decode()
        assert z.read("[Content_Types].xml") == b"<Types/>"
    assert '<w:pgSz w:w="11906" w:h="16838" />' in doc and "12240" not in doc
    assert not target.with_suffix(".default.docx").exists()
    assert not quarto_site.a4_reference_docx(str(tmp_path / "no-quarto"), tmp_path / "x.docx")


def test_the_staged_project_uses_the_reference_document(fake_project):
    proj, params = fake_project
    site = quarto_site.stage(params, proj)
    quarto_site.use_reference_docx(site)
    config = yaml.safe_load((site / "_quarto.yml").read_text(encoding="utf-8"))
    assert config["format"]["docx"]["reference-doc"] == "reference.docx"
    assert config["format"]["docx"]["toc"] is True, "the other Word options stay"
    assert (site / "_quarto.yml").read_text(encoding="utf-8").startswith("# Staged by msht.publish.quarto_site.stage()")
