"""Issue 19 item 1: a run of several forces. Each force is read with its own mappings, cleaned and
counted on its own (every raw row analysed or excluded under a named rule), pseudonymised with a
key of its own, then combined (stacked) with a force column; a force without an offender extract has no
offender factors; the report of such a run gains the forces' section and appendix while a
single-force run's stays as it was. One cheap end-to-end run of notebooks 05, 02 and 03
in-process on three small forces."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from msht import config, pipeline
from msht.analysis import associate, models
from msht.base import vocab
from msht.base.contract import CONTRACT
from msht.clean import forces as clean_forces
from msht.clean import rules
from msht.ingest import extracts as ingest
from msht.ingest import privacy
from msht.publish import forces_tables, quarto_site, render, results

#: Victims of each small force (one ten times smaller than the first, one without offenders).
SIZES = {"Force A": 150, "Force B": 15, "Force C": 90}


@pytest.fixture(scope="module")
def forces_params(tmp_path_factory, root, make_sampled_forces) -> Path:
    """A params file of three small forces on real-extract folders: the raw IDs of the three
    overlap (each population numbers its victims from 1); Force C sends no offender extract."""
    return make_sampled_forces(root, tmp_path_factory.mktemp("forces"), SIZES, seed=10, without_offenders="Force C",
                               run_name="forces_test")


@pytest.fixture(scope="module")
def national_run(forces_params, in_process, root) -> tuple[Path, dict[str, set]]:
    """Notebooks 05, 02 and 03 run once in-process on the three small forces, one at a time, as
    ``msht run`` orders them (each notebook's code in a namespace of its own, as in one run of
    all three): (results folder, the files each notebook wrote), for the end-to-end test and the
    test of the notebooks of a wave."""
    from test_notebook_schedule import written_by_each_notebook

    written = written_by_each_notebook(forces_params, root, in_process, config.FORCES_NOTEBOOKS)
    return root / config.load_params(forces_params).results_dir, written


@pytest.fixture(scope="module")
def cleaned(forces_params) -> clean_forces.ForcesClean:
    params = config.load_params(forces_params)
    return clean_forces.clean_forces(params, config.RunPaths.from_params(params), key=b"a fixed test key")


@pytest.fixture(scope="module")
def appendix4(cleaned) -> forces_tables.Appendix4ByForce:
    """Each force's Appendix 4 without disclosure control."""
    return forces_tables.appendix4_by_force(cleaned, 0, 0.05)


def test_every_raw_row_of_every_force_is_analysed_or_excluded_under_a_named_rule(cleaned):
    named = {rule for _, rule, _, _ in rules.RULES} | {rules.ANALYSED}
    for c in cleaned.forces:
        for extract, status in c.result.status.items():
            assert len(status) == len(c.extracts[extract].frame), (c.force.name, extract)
            assert set(status["status"]) <= named, (c.force.name, extract)
        ex = c.result.exclusions
        for _, block in ex.groupby("entity"):
            assert block["rows_in"].iloc[0] - block["excluded"].sum() == block["rows_out"].iloc[-1]
        cases = ex[ex["entity"] == "cases"]
        assert cases["rows_in"].iloc[0] == len(c.extracts["cases"].frame)
        assert cases["rows_out"].iloc[-1] == len(c.result.cases)


def test_each_force_is_cleaned_exactly_as_a_single_force_run_cleans_its_extracts(cleaned, forces_params):
    """Force A through the run of several forces gives the tables and exclusions that a
    single-force run on its folder gives (same rules, same pseudonymisation key)."""
    params = config.load_params(forces_params)
    force = params.forces[0]
    view = config.force_params(params, force)
    alone = rules.clean_extracts(ingest.read_all(Path(force.raw_dir), ingest.mappings_from(view)), view,
                                 key=clean_forces.force_key(b"a fixed test key", force.name))
    mine = cleaned.forces[0].result
    pd.testing.assert_frame_equal(alone.exclusions, mine.exclusions)
    for name in rules.TABLES:
        pd.testing.assert_frame_equal(getattr(alone, name), getattr(mine, name))


def test_combined_tables_hold_each_forces_rows_once_with_a_force_column(cleaned, forces_params):
    params = config.load_params(forces_params)
    written = rules.read_tables(config.RunPaths.from_params(params).processed_dir)
    for name in rules.TABLES:
        table = cleaned.tables[name]
        assert list(table["force"].cat.categories) == list(SIZES)
        assert table["force"].value_counts().to_dict() == {c.force.name: len(getattr(c.result, name))
                                                           for c in cleaned.forces}
        assert len(written[name]) == len(table) and "force" in written[name].columns
    per_force = config.force_paths(config.RunPaths.from_params(params), params.forces[0]).processed_dir
    assert len(rules.read_tables(per_force)["cases"]) == len(cleaned.forces[0].result.cases)


def test_the_same_raw_id_in_two_forces_is_two_people(cleaned):
    """Victim 1 exists in every force's raw extracts; combined, each force's is a person of its own,
    and the pseudonyms themselves differ (a key per force), not only their prefixes."""
    raw_ids = [set(c.extracts["cases"].frame["victim_person_id"].dropna().str.strip()) for c in cleaned.forces]
    assert raw_ids[0] & raw_ids[1], "the fixture's forces share raw IDs"
    victims = cleaned.tables["victims"]
    assert victims["person_id"].is_unique
    assert victims.groupby("force", observed=True)["person_id"].first().str.split(":").str[0].tolist() == \
        ["force_a", "force_b", "force_c"]
    bare = [set(c.result.victims["person_id"]) for c in cleaned.forces]
    assert not bare[0] & bare[1] and not bare[0] & bare[2]


def test_force_keys_are_distinct_and_never_the_runs_key():
    key = b"run key"
    a, b = clean_forces.force_key(key, "Force A"), clean_forces.force_key(key, "Force B")
    assert a != b and key not in (a, b) and len(a) == 64
    assert clean_forces.force_key(key, "Force A") == a
    ids = pd.Series(["P1", " P1"])
    assert privacy.pseudonymise_series(ids, a).nunique() == 1
    assert set(privacy.pseudonymise_series(ids, a)).isdisjoint(privacy.pseudonymise_series(ids, b))
    with pytest.raises(ValueError, match="empty"):
        clean_forces.force_key(b"", "Force A")


def test_a_force_without_an_offender_extract_has_no_offender_factors(cleaned, appendix4):
    c = cleaned.forces[2]
    assert not c.force.has_offenders and len(c.result.offenders) == 0
    assert c.extracts["offenders"].path.name == ingest.NOT_SENT and c.extracts["offenders"].frame.empty
    rows, tests = appendix4.rows, appendix4.tests
    mine = rows[rows["force"] == "Force C"]
    assert not set(mine["factor"]) & set(forces_tables.OFFENDER_FACTORS)
    assert set(rows[rows["force"] == "Force A"]["factor"]) >= set(forces_tables.OFFENDER_FACTORS)
    assert "Force C sends no offender extract" in forces_tables.not_available_note(cleaned)
    display = forces_tables.force_appendix4_display(rows, tests, "Force C", False)
    groups = set(display["group"])
    assert not any(g.startswith("Offender") for g in groups) and "Victim: Sex" in groups
    recorded = "Police records: Victim has a recorded offender related to case"
    assert recorded not in groups and "Police records: Number of police data system entries" in groups
    full = forces_tables.force_appendix4_display(rows, tests, "Force A", True)
    assert {"Victim: Age group (years)", "Offender: Age group (years)", recorded} <= set(full["group"])
    assert (full["group"] == "Overall % (n)").sum() == 1
    sizes = forces_tables.sizes(cleaned)
    assert sizes.set_index("force").loc["Force C", "offender_extract"] == "no"
    quality = forces_tables.quality_by_force(cleaned, 0, "2023-12-31").tables
    inputs = quality["inputs"]
    assert inputs[(inputs["force"] == "Force C") & (inputs["extract"] == "offenders")]["rows"].tolist() == [0]
    # an extract not sent has no fields to count: no rows of zeros, and a note says so (new-user trial)
    for name in ("completeness", "spellings"):
        table = quality[name]
        assert not ((table["force"] == "Force C") & (table["extract"] == "offenders")).any(), name
        assert ((table["force"] == "Force A") & (table["extract"] == "offenders")).any(), name
    assert forces_tables.not_sent_note(cleaned) == ("Force C sends no offender extract: not sent, so no offender "
                                                    "fields are counted for it, and \"Victim has a recorded offender "
                                                    "related to case\" is not known for it.")


def test_whether_a_case_has_a_recorded_offender_is_not_available_without_an_offender_extract(cleaned, appendix4):
    """Issue 19 (a silently wrong number): "no offender extract sent" is not "no offender
    identified". The force's cases have recorded_offender unknown and n_offenders missing; its
    Appendix 4 has no recorded_offender rows (as none of the offender factors'), and the notes name it."""
    assert not {f for o, f in forces_tables.appendix4_pairs(False)} & set(forces_tables.NOT_AVAILABLE_WITHOUT_OFFENDERS)
    assert ("offered", "recorded_offender") in forces_tables.appendix4_pairs(True)
    assert len(forces_tables.appendix4_pairs(True)) == 51 and len(forces_tables.appendix4_pairs(False)) == 51 - 3 * 5
    label = "Victim has a recorded offender related to case"
    assert vocab.variable_label("recorded_offender") == label
    assert forces_tables.not_available(cleaned).set_index("force").at["Force C", "factors"].startswith(label + ", ")
    assert label.lower() in forces_tables.not_available_note(cleaned)
    cases = cleaned.forces[2].result.cases
    assert (cases["recorded_offender"] == "unknown").all() and cases["n_offenders"].isna().all()
    combined = cleaned.tables["cases"]
    unknown = combined["recorded_offender"] == "unknown"
    assert (combined.loc[unknown, "force"] == "Force C").all() and unknown.sum() == len(cases)
    assert combined.loc[~unknown, "n_offenders"].notna().all() and combined.loc[unknown, "n_offenders"].isna().all()
    rows = appendix4.rows
    assert rows[(rows["force"] == "Force C") & (rows["factor"] == "recorded_offender")].empty
    assert not rows[(rows["force"] == "Force A") & (rows["factor"] == "recorded_offender")].empty


def test_small_forces_cells_are_hidden_in_their_own_tables(cleaned):
    quality = forces_tables.quality_by_force(cleaned, 5, "2023-12-31")
    assert not quality.suppression.empty and quality.suppression["table"].str.startswith("Force ").all()
    found = forces_tables.appendix4_by_force(cleaned, 5, 0.05)
    rows, suppression = found.rows, found.suppression
    small = rows[(rows["force"] == "Force B") & (rows["level"] != "overall")]
    shown = pd.to_numeric(small["n"], errors="coerce").dropna()
    assert not ((shown >= 1) & (shown < 5)).any(), "a count from 1 to 4 of the small force is shown"
    assert suppression["table"].str.startswith("Force B").any()
    assert set(suppression["file"]) == {"forces_appendix4"}, "only the file notebook 05 writes (review finding 4)"
    files = set(quality.suppression["file"]) | set(suppression["file"])
    assert files <= set(results.FORCES_FILES) and files <= set(results.QUALITY_FILES), "02 and 03 keep them"


def test_the_forces_article_gains_the_section_and_appendix(root):
    article = (root / "report" / "index.qmd").read_text(encoding="utf-8")
    out = quarto_site.forces_article(article)
    assert "01_clean.ipynb" not in out and "04_synthetic_vs_published" not in out
    assert out.index("{{< include _forces_compared.qmd >}}") < out.index("# Recommendations {#sec-recommendations}")
    assert out.index("{{< include _forces_appendix.qmd >}}") < out.index("# Appendix 7:")
    assert "one police force's records" not in out and "several police forces' records" in out
    # Sections 3 and 4 say they analyse the combined cases; the method line and 4.6 speak of forces.
    head = out.index("{#sec-descriptives}")
    assert out.index("**Combined cases.**", head) < out.index("## Victims and case-level factors")
    assert out.index("**Combined cases.**", out.index("{#sec-associations}")) < out.index("## Being offered support")
    assert "the police force's recorded MSHT cases" not in out and "several police forces' recorded MSHT cases" in out
    assert "disagreements here are expected" in out
    assert "callout" not in out  # Quarto's typst callouts need the typst registry (fontawesome): no offline PDF
    labels = {line.split("#")[-1].split()[0] for line in out.splitlines() if "05_forces.ipynb#" in line}
    assert {"cleaning-summary", "fig-flow", "tbl-exclusions", "tbl-problems"} <= labels
    with pytest.raises(quarto_site.StagingError, match="Recommendations"):
        quarto_site.forces_article(article.replace("# Recommendations {#sec-recommendations}", "# Advice"))


def test_every_embed_of_the_forces_parts_names_a_label_of_notebook_05(root):
    nb = (root / "notebooks" / "05_forces.ipynb").read_text(encoding="utf-8")
    for part in (quarto_site.FORCES_SECTION, quarto_site.FORCES_APPENDIX):
        text = (root / "report" / part).read_text(encoding="utf-8")
        for line in text.splitlines():
            if "{{< embed" in line:
                label = line.split("#")[-1].split()[0]
                assert f"#| label: {label}" in nb, (part, label)
        assert "@sec-appendix" not in text, "typst cannot link to an unnumbered heading (quarto-cli#13698)"


def test_a_single_force_run_stages_no_forces_part(root, tmp_path):
    params = config.load_params(root / "params" / "default.yaml")
    assert config.notebooks_for(params) == config.NOTEBOOKS and not params.forces
    site = quarto_site.stage(params, root)
    try:
        assert not (site / quarto_site.FORCES_SECTION).exists() and not (site / quarto_site.FORCES_APPENDIX).exists()
        staged = (site / quarto_site.STAGED_ARTICLE).read_text(encoding="utf-8")
        assert "_forces" not in staged and "/notebooks/01_clean.ipynb#fig-flow" in staged
    finally:
        shutil.rmtree(site, ignore_errors=True)


def test_the_national_run_end_to_end_in_process(forces_params, national_run):
    """Notebooks 05, 02 and 03 on the three small forces: every results file of the forces written
    with its contract's columns, the combined tables counted by 02 and 03, and each stratified test
    of an offender factor leaving out the force without offenders."""
    params = config.load_params(forces_params)
    assert config.notebooks_for(params) == ("05_forces.ipynb", "02_descriptives.ipynb", "03_associations.ipynb")
    out = national_run[0]
    for name in ("forces", "forces_exclusions", "forces_appendix4", "forces_pooled", "forces_odds_ratios",
                 "forces_funnel"):
        frame = pd.read_csv(out / f"{name}.csv")
        assert tuple(frame.columns) == CONTRACT[name], name
        assert not frame.empty, name
    missing = [name for name in results.FORCES_FILES if not (out / f"{name}.csv").exists()]
    assert not missing, f"suppression.csv may name files that are never written: {missing}"
    sizes = pd.read_csv(out / "forces.csv")
    assert sizes["force"].tolist() == list(SIZES)
    described = pd.read_csv(out / "associations.csv")
    overall = described[(described["outcome"] == "offered") & (described["level"] == "overall")]
    cases = rules.read_tables(config.RunPaths.from_params(params).processed_dir)["cases"]
    assert len(cases) == sizes["cases"].sum()
    assert int(overall["denominator"].iloc[0]) == int((cases["offered"].isin(["yes", "no"])).sum())
    pooled = pd.read_csv(out / "forces_pooled.csv")
    for factor in ("offender_sex", "recorded_offender"):
        offender = pooled[pooled["factor"] == factor]
        assert (offender["n_strata"] <= 2).all() and offender["note"].fillna("").str.contains("Force C").all()
    exclusions = pd.read_csv(out / "forces_exclusions.csv")
    assert set(exclusions["force"]) == set(SIZES)
    for name in ("fig_flow.png", "forces_funnel_offered.png", "forces_funnel_accepted.png"):
        assert (out / "figures" / name).exists(), name
    odds_ratios = pd.read_csv(out / "forces_odds_ratios.csv")
    # Force C sends no offender extract: no odds ratio of a factor not available for it (no zeros)
    mine = odds_ratios[odds_ratios["force"] == "Force C"]
    assert not set(mine["factor"]) & set(forces_tables.NOT_AVAILABLE_WITHOUT_OFFENDERS) and len(mine)
    forests = {p.stem for p in (out / "figures").glob("forces_forest_*.svg")}
    assert forests == {f"forces_forest_{o}_{f}" for o, f in zip(odds_ratios["outcome"], odds_ratios["factor"])}


def test_the_combined_tables_count_a_force_without_offenders_as_unknown_not_as_no_offender(forces_params, national_run):
    """Issue 19: the combined associations' recorded_offender rows count the cases of the forces
    that send an offender extract only (Force C's are unknown, left out as any unknown level);
    section 3.3 counts Force C's cases as unknown, not "none"; the regression leaves them out."""
    params = config.load_params(forces_params)
    out = national_run[0]
    cases = rules.read_tables(config.RunPaths.from_params(params).processed_dir)["cases"]
    with_offenders = cases[cases["force"] != "Force C"]
    assert (with_offenders["recorded_offender"] != "unknown").all()
    associations = pd.read_csv(out / "associations.csv")
    recorded = associations[associations["factor"] == "recorded_offender"]
    for outcome, (positive, negative) in associate.OUTCOME_LEVELS.items():
        population = cases if outcome != "accepted" else cases[cases["offered"] == "yes"]
        mine = population[population["force"] != "Force C"]
        expected = int(mine[outcome].isin([positive, negative]).sum())
        assert int(recorded.loc[recorded["outcome"] == outcome, "denominator"].sum()) == expected, outcome
        overall = associations[(associations["outcome"] == outcome) & (associations["factor"] == "overall")]
        assert int(overall["denominator"].iloc[0]) > expected, "Force C's cases are in the overall row"
    described = pd.read_csv(out / "descriptives.csv", dtype={"level": str})
    per_case = described[described["variable"] == "offenders_per_case"].set_index("level")
    force_c = int((cases["force"] == "Force C").sum())
    assert int(per_case.at["unknown", "n"]) == force_c
    assert int(per_case.at["none", "denominator"]) == len(cases) - force_c
    assert int(per_case.at["none", "n"]) == int((with_offenders["n_offenders"] == 0).sum())
    regression = pd.read_csv(out / "regression.csv").drop_duplicates("outcome").set_index("outcome")
    complete = models.complete_counts(with_offenders)
    complete = complete[complete["level"] == "complete"].set_index("outcome")["n"]
    assert regression["N"].to_dict() == complete.to_dict(), "the models' complete cases: none of Force C's"


def test_msht_check_asks_for_one_force_at_a_time(forces_params, capsys):
    from msht import cli

    assert cli.main(["check", "--params", str(forces_params)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lists 3 forces: check each force with a single-force params file" in err


def test_the_flow_has_a_panel_per_force_and_says_what_was_not_sent(cleaned):
    import matplotlib

    matplotlib.use("Agg")
    from msht.publish import flow

    quality = forces_tables.quality_by_force(cleaned, 0, "2023-12-31")
    fig = flow.flow_by_force(quality.tables["exclusions"], not_sent={"Force C": ("offenders",)})
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert len(fig.axes) == 3 * len(flow.COLUMNS)
    assert [t for t in texts if t in SIZES] == list(SIZES)
    assert texts.count("Not sent") == 1
    assert any(t.startswith("Read: ") and f"Analysed: {len(cleaned.forces[1].result.cases):,}" in t for t in texts)


def test_pooled_text_counts_each_factor_once():
    pooled = pd.DataFrame({
        "outcome": ["offered"] * 4,
        "factor": ["victim_sex", "victim_age3", "victim_age3", "county_lines"],
        "cmh_p": [0.01, 0.02, 0.02, None],
        "homogeneity_p": [0.001, 0.5, 0.6, None],
    })
    text = forces_tables.pooled_text(pooled, 0.05)
    assert "2 of the 2 factors tested are associated" in text and "(1 more not computable or withheld)" in text
    assert "differ (homogeneity p < 0.05) for sex" in text.lower()


def test_a_run_of_several_forces_runs_05_then_02_and_03():
    from msht import pipeline

    five, two, three = config.FORCES_NOTEBOOKS
    assert five == config.FORCES_NOTEBOOK
    assert pipeline.notebook_waves(0, config.FORCES_NOTEBOOKS) == [(five,), (two, three)]
    assert pipeline.notebook_waves(5, config.FORCES_NOTEBOOKS) == [(five,), (two,), (three,)]
    assert set(pipeline.FORCES_NOTEBOOK_INPUTS) == set(config.FORCES_NOTEBOOKS)
    nb = (config.notebooks_dir() / five).read_text(encoding="utf-8")
    assert "clean_forces.clean_forces(" in nb, "05 writes the pooled clean tables 02 and 03 read"


@pytest.mark.parametrize("file", ["offenders.csv", "OFFENDERS.xlsx"])
def test_a_file_for_an_extract_the_force_does_not_list_stops_the_run_in_one_line(tmp_path, file):
    """Review finding 3: a force whose folder holds a file for an extract it does not list would
    have that file's rows neither analysed nor counted under an exclusion rule."""
    (tmp_path / file).write_text("anything\n")
    with pytest.raises(ingest.ExtractError) as caught:
        ingest.read_sent(tmp_path, None, ["cases", "victims", "police_records"], "Force C")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / file}: force 'Force C' does not list the 'offenders' extract")
    assert "add 'offenders' to the force's extracts, or remove the file" in message


def test_a_file_for_an_unlisted_extract_is_named_by_the_forces_mapping(tmp_path):
    mapping = ingest.ExtractMapping(file="their_offenders.csv")
    (tmp_path / "their_offenders.csv").write_text("anything\n")
    with pytest.raises(ingest.ExtractError, match=r"their_offenders\.csv: force 'Force C' does not list"):
        ingest.read_sent(tmp_path, {"offenders": mapping}, ["cases", "victims", "police_records"], "Force C")


def test_clean_force_names_the_force_whose_folder_holds_an_unlisted_file(forces_params, tmp_path):
    text = yaml.safe_load(forces_params.read_text())
    raw = tmp_path / "force_c"
    shutil.copytree(text["forces"][2]["raw_dir"], raw)
    shutil.copy(Path(text["forces"][0]["raw_dir"]) / "offenders.csv", raw / "offenders.csv")
    text["forces"][2]["raw_dir"] = str(raw)
    text.update(processed_dir=str(tmp_path / "processed"), results_dir=str(tmp_path / "results"))
    path = tmp_path / "forces.yaml"
    path.write_text(yaml.safe_dump(text, sort_keys=False))
    params = config.load_params(path)
    with pytest.raises(ingest.ExtractError, match=r"force_c/offenders\.csv: force 'Force C' does not list the "
                                                  r"'offenders' extract"):
        clean_forces.clean_force(params, params.forces[2], config.RunPaths.from_params(params), b"a fixed test key")


def test_notebooks_of_a_wave_of_a_run_of_several_forces_write_no_common_file(national_run):
    """Review finding 5: 02 and 03 run at the same time after 05; found by running each on its own
    (the national run of :func:`national_run`)."""
    from msht import pipeline
    from test_notebook_schedule import assert_no_common_file_in_a_wave

    written = national_run[1]
    assert all(written.values())
    assert_no_common_file_in_a_wave(written, pipeline.notebook_waves(0, config.FORCES_NOTEBOOKS))


def test_the_reproducibility_appendix_lists_each_force_setting_safely():
    """New-user trial: the forces list was printed as one Python repr (absolute raw_dirs inside it
    unprotected). Each setting is now a row; an absolute path keeps only its last component."""
    from msht.publish.reproducibility import param_rows

    rows = dict(param_rows({"run_name": "n", "forces": [
        {"name": "Force A", "raw_dir": "/home/analyst/secure/force_a", "columns": {}, "seed": None,
         "values": {"cases": {"x": "y"}}, "extracts": ["cases", "victims"]},
        {"name": "Force B", "raw_dir": "data/raw/b"}]}))
    assert rows["forces[1].raw_dir"] == "<absolute path>/force_a"
    assert rows["forces[1].values"] == "1 entry" and "forces[1].columns" not in rows and "forces[1].seed" not in rows
    assert rows["forces[2].raw_dir"] == "data/raw/b" and rows["run_name"] == "n"
    assert not any("/home/analyst" in v for v in rows.values())


@pytest.mark.slow
@pytest.mark.skipif(render.quarto_path() is None, reason="Quarto is not on PATH; " + render.QUARTO_HINT)
def test_quarto_renders_the_report_of_several_forces_in_html_pdf_and_word_without_a_warning(forces_params, root,
                                                                                             tmp_path, caplog):
    """The national report for real (issue 19, item 4): msht run with papermill on the three small
    forces, then Quarto; the forces' section and Appendix 6 are in the article, in every format."""
    import logging
    import subprocess
    import zipfile

    raw = yaml.safe_load(forces_params.read_text())
    raw.update(run_name="forces_render_check", report_dir=str(tmp_path / "report"),
               results_dir=str(tmp_path / "results"), processed_dir=str(tmp_path / "processed"))
    path = tmp_path / "forces_render.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    pipeline.run_notebooks(path, root=root)
    params = config.load_params(path)
    with caplog.at_level(logging.WARNING, logger="msht"):
        out = render.render_quarto(params, render.quarto_path(), root)
    assert sorted(p.name for p in out.iterdir()) == ["index.docx", "index.html", "index.pdf"]
    log = (root / "_output" / params.run_name / render.RENDER_LOG).read_text(encoding="utf-8")
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert quarto_site.warnings_in(log) == [] and not warned, "Quarto, Pandoc or typst warned"
    article = (out / "index.html").read_text(encoding="utf-8")
    for label in ("sec-forces", "tbl-forces", "tbl-forces-pooled", "fig-forces-funnel-offered", "sec-appendix-6"):
        assert f'id="{label}"' in article, label
    with zipfile.ZipFile(out / "index.docx") as docx:
        assert "Forces compared" in docx.read("word/document.xml").decode("utf-8")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out / "index.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "Forces compared" in text and "Appendix 6: Each force" in text
