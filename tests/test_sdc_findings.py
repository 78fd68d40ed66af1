"""Issue 15's findings on tiny frames: what a release publishes, attacked as the issue did.

Finding 5 (near miss): "accepted support" by referral type with MS1 3 of 55 (``"<5"``) and NRM
48 of 339 (hidden as a secondary) keeps four linear values for MS1 (1 to 4), but the printed p
band (p≥0.05) rules out 1 and 2. Finding 2 and item 3 of the brief: data-quality tables
(``problems.csv``, ``exclusions.csv``, the flow diagram) publish counts of 1 to m-1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from msht import pipeline
from msht.publish import association_tables, audit, results, sdc

M = 5


def _assoc(cells: dict[str, tuple[int, int]], outcome: str = "accepted", factor: str = "referral_form") -> pd.DataFrame:
    """Association rows of one 2-level block plus the outcome's overall row, with the block's real
    seed-convention statistic and p."""
    levels = list(cells)
    table = np.array([[n, d - n] for n, d in cells.values()])
    res = chi2_contingency(table, correction=True)
    rows = [{"outcome": outcome, "factor": "overall", "level": "overall", "n": int(table[:, 0].sum()),
             "denominator": int(table.sum()), "pct": round(100 * table[:, 0].sum() / table.sum(), 1),
             "statistic": np.nan, "df": pd.NA, "p": np.nan, "test": ""}]
    for level, (n, d) in zip(levels, cells.values(), strict=True):
        rows.append({"outcome": outcome, "factor": factor, "level": level, "n": n, "denominator": d,
                     "pct": round(100 * n / d, 1), "statistic": float(res.statistic), "df": 1,
                     "p": float(res.pvalue), "test": "Yates chi-square"})
    out = pd.DataFrame(rows)
    out["df"] = out["df"].astype("Int64")
    return out


NEAR_MISS = {"ms1": (3, 55), "nrm": (48, 339)}


def _release(tmp_path, rows: pd.DataFrame, suppression: pd.DataFrame | None = None):
    """Write a tiny protected release (associations.csv, suppression.csv) and its true values."""
    protected = sdc.protect_associations(rows, M)
    pub, truth = tmp_path / "pub", tmp_path / "truth"
    results.write_csv(protected, "associations", pub)
    supp = sdc.suppression_table(associations=protected) if suppression is None else suppression
    results.write_csv(supp, "suppression", pub)
    results.write_csv(rows, "associations", truth)
    return protected, pub, truth


def test_finding5_the_printed_p_band_does_not_narrow_a_hidden_count(tmp_path):
    """The p row that Appendix 4 prints for a block with hidden cells is not a band that, with
    the block's published totals, leaves a hidden count fewer than three values; and the audit
    over the published files keeps three values for every hidden count."""
    rows = _assoc(NEAR_MISS)
    protected, pub, truth = _release(tmp_path, rows)
    ms1 = protected[(protected["factor"] == "referral_form") & (protected["level"] == "ms1")].iloc[0]
    assert ms1["suppressed"] and ms1["display"] == "<5"
    table = association_tables.appendix4_display(protected, pd.DataFrame(columns=["outcome", "factor", "test_chosen"]),
                                        ["referral_form"], outcomes=["accepted"])
    printed = table.loc[table["row"] == "p", "accepted"].item()
    if printed.startswith("p"):  # a band is printed: what it leaves of MS1's count
        found = audit.band_consistent_values([(1, M - 1), (0, 51)], [(55, 55), (339, 339)], printed, 51, 394)
        assert len(found[0][0]) >= audit.MIN_RANGE, (printed, found[0][0])
    frame = audit.audit(pub, truth, M)
    assert frame["values"].min() >= audit.MIN_RANGE, frame.to_string()


def test_audit_models_a_printed_p_band(tmp_path):
    """The audit itself: with the band printed (as Appendix 4 did), MS1's count keeps only 3 or 4."""
    rows = _assoc(NEAR_MISS)
    protected = sdc.protect_associations(rows, M)
    supp = sdc.suppression_table(associations=protected)
    band = sdc.p_band(float(rows["p"].iloc[1]))
    assert band == "p≥0.05"
    supp.loc[supp["column"] == "p", "display"] = band
    _, pub, truth = _release(tmp_path, rows, supp)
    frame = audit.audit(pub, truth, M).set_index("cell")
    row = frame.loc["associations|accepted|referral_form|ms1|n"]
    assert (row["low"], row["high"], row["values"], row["band"]) == (3, 4, 2, band)


def test_seed_p_is_scipys_chi2_contingency():
    rng = np.random.default_rng(15)
    for k in (2, 3, 5):
        d = rng.integers(1, 80, size=(40, k))
        n = rng.integers(0, 1_000, size=(40, k)) % (d + 1)
        got = audit.study_p(n, d)
        for row in range(40):
            table = np.stack([n[row], d[row] - n[row]], axis=1)
            if (table.sum(axis=0) == 0).any():
                assert np.isnan(got[row])
                continue
            assert got[row] == pytest.approx(chi2_contingency(table, correction=True).pvalue, rel=1e-9, abs=1e-300)


# --- the data-quality tables: exclusions.csv, problems.csv, completeness.csv, the flow diagram ---

#: A 10% sample's case chain: 272 read, 7 with no victim ID, 1 update entered as a new row, 264 analysed.
CHAIN = pd.DataFrame({
    "step": [1, 2, 3, 4, 4], "rule": ["no_victim_id", "outside_period", "conflicting", "duplicate", "update_superseded"],
    "entity": ["cases"] * 5, "rows_in": [272, 265, 265, 265, 265], "excluded": [7, 0, 0, 0, 1],
    "rows_out": [265, 265, 265, 265, 264],
})
PROBLEMS = pd.DataFrame({"extract": ["cases", "cases"], "problem": ["missing victim ID", "update entered as a new row"],
                         "n": [7, 1]})
COMPLETENESS = pd.DataFrame({"extract": ["cases"], "field": ["victim_person_id"], "rows": [272], "missing": [7],
                             "pct_complete": [97.4]})


def _quality_release(tmp_path, exclusions, problems, completeness):
    from msht.publish import quality

    ex, ex_supp = quality.protect_exclusions(exclusions, M)
    co, co_supp = quality.protect_completeness(completeness, M, ex_supp)
    pr, pr_supp = quality.protect_problems(problems, ex_supp, M)
    pub, truth = tmp_path / "pub", tmp_path / "truth"
    for name, frame, true in (("exclusions", ex, exclusions), ("problems", pr, problems),
                              ("completeness", co, completeness)):
        results.write_csv(frame, name, pub)
        results.write_csv(true, name, truth)
    results.write_csv(pd.concat([co_supp, pr_supp, ex_supp], ignore_index=True), "suppression", pub)
    return ex, ex_supp, pub, truth


def test_exclusions_problems_and_completeness_hide_small_counts_together(tmp_path):
    """exclusions.csv, problems.csv and completeness.csv published the 1 update and, with the
    chain's public rows read and analysed, every count they are linked to; now each hidden count
    keeps three values given all three files (the case entries with no victim ID are also
    completeness.csv's missing victim IDs and problems.csv's "missing victim ID")."""
    ex, supp, pub, truth = _quality_release(tmp_path, CHAIN, PROBLEMS, COMPLETENESS)
    assert ex["excluded"].isna().sum() >= 2 and pd.isna(ex.at[4, "excluded"])
    assert ex.at[0, "rows_in"] == 272 and ex.at[4, "rows_out"] == 264  # read and analysed stay
    frame = audit.audit(pub, truth, M)
    assert {"exclusions|cases|update_superseded|4|excluded", "problems|cases|update entered as a new row||n",
            "problems|cases|missing victim ID||n", "completeness|cases|victim_person_id||missing"} <= set(frame["cell"])
    assert frame["values"].min() >= audit.MIN_RANGE, frame.to_string()
    published = "\n".join(p.read_text() for p in pub.glob("*.csv") if p.name != "suppression.csv")
    assert ",1," not in published and ",1\n" not in published


def test_flow_diagram_and_cleaning_summary_show_marks_not_hidden_counts(tmp_path):
    from msht.publish import flow, prose, quality

    ex, supp, _, _ = _quality_release(tmp_path, CHAIN, PROBLEMS, COMPLETENESS)
    marks = quality.exclusion_marks(supp)
    boxes = flow.flow_boxes(ex, marks)
    excluded = boxes[boxes["kind"] == "excluded"].set_index("rule")["n"]
    assert excluded["update_superseded"] == "<5" and excluded["no_victim_id"] == "[c]"
    assert boxes.loc[boxes["kind"] == "read", "n"].tolist() == [272]
    text = prose.cleaning_summary(ex.assign(description=ex["rule"]), marks)
    assert "<5 update_superseded" in text and "[c] no_victim_id" in text and " 7 " not in text
    shown = quality.shown(ex, supp, "exclusions")
    assert shown.at[4, "excluded"] == "<5" and shown.at[0, "rows_in"] == "272"
    fig = flow.flow_diagram(ex, marks=marks)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any("Excluded: <5" in t for t in labels)


def test_quality_protection_is_off_by_default():
    from msht.publish import quality

    assert quality.protect_exclusions(CHAIN, 0)[0] is CHAIN
    assert quality.protect_problems(PROBLEMS, quality.protect_exclusions(CHAIN, 0)[1], 0)[0] is PROBLEMS
    assert quality.protect_completeness(COMPLETENESS, 0)[0] is COMPLETENESS


# --- linked-table protection: the audit's fixpoint ---------------------------------------------


def test_fixpoint_hides_the_linked_count_that_gives_a_hidden_one_back(tmp_path):
    """Without the explicit link between completeness.csv and exclusions.csv, the secondary
    suppression of the 7 case entries with no victim ID is given back by completeness.csv's 7
    missing victim IDs (the 10% sample's leak). The fixpoint finds it with the audit and hides
    the cheapest linked count, the completeness one, in a second round; the same input gives the
    same choice."""
    from msht.publish import quality

    rounds: list[frozenset] = []

    def publish(forced):
        rounds.append(forced)
        ex, ex_supp = quality.protect_exclusions(CHAIN, M, forced)
        co, co_supp = quality.protect_completeness(COMPLETENESS, M, None, forced)  # no explicit link
        pub, truth = tmp_path / f"pub{len(rounds)}", tmp_path / "truth"
        for name, frame, true in (("exclusions", ex, CHAIN), ("completeness", co, COMPLETENESS)):
            results.write_csv(frame, name, pub)
            results.write_csv(true, name, truth)
        results.write_csv(pd.concat([co_supp, ex_supp], ignore_index=True), "suppression", pub)
        return pub, truth

    first_pub, truth = publish(frozenset())
    assert "exclusions|cases|no_victim_id|1|excluded" in audit.narrow_cells(audit.audit(first_pub, truth, M))
    rounds.clear()
    frame, forced = audit.fixpoint(publish, M)
    assert forced == {("completeness", "cases", "victim_person_id", "", "missing")}
    assert len(rounds) == 2 and not audit.narrow_cells(frame)
    assert audit.fixpoint(publish, M)[1] == forced


def test_fixpoints_choice_passes_the_same_audit_as_the_smallest_joint_choice(tmp_path):
    """Item 3 of issue 15's follow-up: linked-table protection chosen round by round gives the
    guarantee of a joint choice. The fixpoint returns the audit of the release it leaves, which a
    fresh audit of that release repeats (no hidden count with fewer than three values); and on a
    release small enough to enumerate every set of forceable cells, no smaller set passes that
    audit than the one the fixpoint chose (none passes with nothing forced)."""
    from itertools import combinations

    from msht.publish import quality

    def publish(forced):
        ex, ex_supp = quality.protect_exclusions(CHAIN, M, forced)
        co, co_supp = quality.protect_completeness(COMPLETENESS, M, None, forced)
        pr, pr_supp = quality.protect_problems(PROBLEMS, ex_supp, M, forced)
        pub, truth = tmp_path / f"pub{abs(hash(tuple(sorted(forced))))}", tmp_path / "truth"
        for name, frame, true in (("exclusions", ex, CHAIN), ("completeness", co, COMPLETENESS),
                                  ("problems", pr, PROBLEMS)):
            results.write_csv(frame, name, pub)
            results.write_csv(true, name, truth)
        results.write_csv(pd.concat([co_supp, pr_supp, ex_supp], ignore_index=True), "suppression", pub)
        return pub, truth

    frame, forced = audit.fixpoint(publish, M)
    again = audit.audit(*publish(frozenset(forced)), M)
    assert not audit.narrow_cells(again)
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), again.reset_index(drop=True))
    s, _, _ = audit.build(*publish(frozenset()), M)
    candidates = [tuple(name.split("|")) for j, name in enumerate(s.names) if audit._forceable(s, j)]
    assert candidates
    smallest = next(k for k in range(len(candidates) + 1)
                    if any(not audit.narrow_cells(audit.audit(*publish(frozenset(c)), M))
                           for c in combinations(candidates, k)))
    assert len(forced) == smallest >= 1


def test_fixpoint_gives_up_when_nothing_linked_is_left_to_hide(tmp_path):
    """A hidden count pinned by public totals alone cannot be protected: the fixpoint says so."""
    chain = CHAIN.assign(excluded=[0, 0, 0, 0, 1], rows_in=[265] * 5, rows_out=[265] * 4 + [264])

    def publish(forced):
        pub, truth = tmp_path / "pub", tmp_path / "truth"
        results.write_csv(chain.assign(excluded=chain["excluded"].astype("Int64").mask(chain["rule"] == "update_superseded")),
                          "exclusions", pub)
        results.write_csv(chain, "exclusions", truth)
        supp = pd.DataFrame([{"file": "exclusions", "table": "cases", "variable": "update_superseded", "level": "4",
                              "column": "excluded", "reason": "small_count", "display": "<5"}])
        results.write_csv(supp, "suppression", pub)
        return pub, truth

    with pytest.raises(audit.DisclosureError, match="no linked count is left"):
        audit.fixpoint(publish, M)


def test_a_problem_left_out_would_say_its_hidden_exclusion_is_zero(tmp_path):
    """problems.csv lists a problem only when found: with the conflicting step's 0 hidden (here a
    complementary suppression), leaving its problem out would give the 0 back. It is listed,
    hidden, and the audit models both the listing and its absence."""
    from msht.publish import quality

    forced = frozenset({("exclusions", "cases", "conflicting", "3", "excluded")})
    ex, ex_supp = quality.protect_exclusions(CHAIN, M, forced)
    assert pd.isna(ex.at[2, "excluded"])
    pr, pr_supp = quality.protect_problems(PROBLEMS, ex_supp, M)
    listed = dict(zip(pr["problem"], pr["n"]))
    conflicting = quality.PROBLEMS["conflicting"]
    assert conflicting in listed and pd.isna(listed[conflicting])
    assert pr_supp.set_index("variable").at[conflicting, "reason"] == "linked"


def test_a_release_that_cannot_be_made_safe_leaves_nothing_to_publish(root, tmp_path):
    """protect_release removes the run's results and notebooks and raises when the audit still
    fails with nothing linked left to hide (msht run then stops with one line)."""
    import yaml

    text = yaml.safe_load((root / "params" / "release.yaml").read_text())
    text.update({"run_name": "unsafe", "results_dir": "out/results", "processed_dir": "out/processed"})
    path = tmp_path / "unsafe.yaml"
    path.write_text(yaml.safe_dump(text))
    chain = CHAIN.assign(excluded=[0, 0, 0, 0, 1], rows_in=[265] * 5, rows_out=[265] * 4 + [264])

    def runner(params_path, *, root):
        pub, truth, notebooks = root / "out" / "results", root / "out" / "processed" / "unprotected", root / "nb"
        results.write_csv(chain.assign(excluded=chain["excluded"].astype("Int64").mask(chain["excluded"] == 1)),
                          "exclusions", pub)
        results.write_csv(chain, "exclusions", truth)
        results.write_csv(pd.DataFrame([{"file": "exclusions", "table": "cases", "variable": "update_superseded",
                                         "level": "4", "column": "excluded", "reason": "small_count", "display": "<5"}]),
                          "suppression", pub)
        notebooks.mkdir(exist_ok=True)
        return notebooks

    with pytest.raises(audit.DisclosureError, match="update_superseded"):
        pipeline.protect_release(path, root=tmp_path, runner=runner)
    assert not (tmp_path / "out" / "results").exists() and not (tmp_path / "nb").exists()


def test_association_prose_counts_withheld_tests_and_claims_nothing_from_them():
    """Review 1.3: tests withheld by disclosure control (blank ``test_chosen``) are neither
    computed tests nor non-significant ones; no superlative or "no factor" claim is made over
    the published tests alone; BH's count is that of the tests it adjusted."""
    from msht.publish import prose_associations as pa

    tests = pd.DataFrame({
        "outcome": ["offered"] * 3, "factor": ["victim_sex", "victim_uk_national", "county_lines"],
        "test_chosen": ["Yates chi-square", None, "not computable"], "note": ["", "", "offered by x: level 'yes' has no cases"],
        "significant_seed": [False, None, None], "significant_bh": [False, None, None], "q_bh": [0.4, None, None],
        "p_seed": [0.4, None, None], "p_chosen": [0.4, None, None], "effect_size": [0.05, None, None],
        "effect_size_name": ["phi", None, None],
    })
    text = pa.associations_text(tests, 0.05)
    assert "1 could be computed and are published; 1 test is withheld by disclosure control." in text
    assert "0 tests of those published had p < 0.05" in text
    assert "across the 1 published test," in text
    assert "strongest" not in text
    note = pa.findings_note(tests, "offered", 0.05)
    assert "0 of the 1 factors tested" in note and "1 is withheld by disclosure control. 1 could not be computed." in note
    rows = pd.DataFrame(columns=["outcome", "factor", "level", "n", "denominator", "pct", "p"])
    offered = pa.key_findings(rows, tests, 0.05).split("\n")[0]
    assert "No factor was" not in offered and "1 test is withheld by disclosure control" in offered


def test_section3_places_and_types_under_suppression_say_what_is_withheld():
    """Review 1.4: a hidden denominator does not silently drop the locations' sentence, and
    hidden exploitation types are not listed after the shown ones as if smaller."""
    import numpy as np

    from msht.publish import prose_section3 as ps

    def row(variable, level, n, d, hidden=False):
        return {"table": "appendix2", "variable": variable, "level": level, "n": n, "denominator": d,
                "pct": np.nan if pd.isna(n) or pd.isna(d) else round(100 * n / d, 1), "suppressed": pd.isna(n),
                "denominator_suppressed": hidden}

    desc = pd.DataFrame([
        row("exploitation_location", "uk_only", 30, np.nan, True), row("exploitation_location", "overseas_only", np.nan, np.nan, True),
        row("exploitation_location", "both", 10, np.nan, True), row("exploitation_location", "unknown", np.nan, np.nan),
        row("county_lines", "yes", 12, 50), row("county_lines", "no", 38, 50),
        row("criminal_exploitation", "yes", 40, 90), row("labour_exploitation", "yes", 30, 90),
        row("sexual_exploitation", "yes", np.nan, 90), row("domestic_servitude", "yes", 5, 90),
        row("other_exploitation", "yes", 20, 90),
    ])
    places = " ".join(ps._s3_places(desc))
    assert "Figures for the exploitation location are withheld by disclosure control." in places
    assert "county-lines status" in places
    types = " ".join(ps._s3_types(desc))
    follow = types.split("It was followed by ")[1].split(".")[0]
    assert "sexual" not in follow, types
    assert "sexual exploitation is withheld by disclosure control" in types
