"""Forces compared: disclosure control of the per-force and pooled results, display tables, forest
and funnel plots (drawn numbers and byte-stable files)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("agg")  # tests only

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.collections import PathCollection
from matplotlib.patches import Polygon

from msht.analysis import stratified
from msht.analysis.stats import format_p
from msht.base.contract import CONTRACT
from hypothesis_profiles import examples
from msht.publish import figures, forces_figures, results, sdc
from test_stratified import forces_frames


def _or_row(force: str, a: int, b: int, c: int, d: int, *, outcome: str = "offered", factor: str = "victim_sex",
            level: str = "male", reference: str = "female") -> dict[str, object]:
    cells = np.array([[a, b], [c, d]])
    odds_ratio, low, high, note = stratified._stratum_or(cells)
    return {"force": force, "outcome": outcome, "factor": factor, "level": level, "reference": reference,
            "n": a + b + c + d, "a": a, "b": b, "c": c, "d": d, "odds_ratio": odds_ratio, "ci_low": low,
            "ci_high": high, "note": note}


def _odds_ratios() -> pd.DataFrame:
    rows = [_or_row("Force A", 40, 60, 30, 70), _or_row("Force B", 2, 30, 12, 25), _or_row("Force C", 25, 25, 20, 30)]
    return pd.DataFrame(rows)[list(CONTRACT["forces_odds_ratios"])]


def _pooled(odds_ratios: pd.DataFrame) -> pd.DataFrame:
    tables = odds_ratios[["a", "b", "c", "d"]].to_numpy().reshape(-1, 2, 2)
    res = stratified.mantel_haenszel(tables, list(odds_ratios["force"]))
    row = stratified._pooled_row("offered", "victim_sex", "male", "female", res)
    return stratified._typed(pd.DataFrame([row]), stratified.POOLED_COLUMNS, ("n_strata", "n", "cmh_df"),
                             ("homogeneity_test", "method", "note"))


@pytest.fixture(scope="module")
def national() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cases, offenders = forces_frames()
    pooled = stratified.stratified_tests(cases, offenders, alpha=0.05)
    odds = stratified.per_stratum_odds_ratios(cases, offenders)
    funnel = pd.concat([stratified.funnel_rates(cases, outcome=o) for o in ("engagement", "offered", "accepted")],
                       ignore_index=True)
    return pooled, odds, funnel


# --- disclosure control -------------------------------------------------------------------------------


def test_sdc_off_changes_no_value(national) -> None:
    pooled, odds, funnel = national
    p_odds, s1 = forces_figures.protect_odds_ratios(odds, 0)
    p_pooled, s2 = forces_figures.protect_pooled(pooled, p_odds, 0)
    p_funnel, s3 = forces_figures.protect_funnel(funnel, 0)
    for before, after, name in ((odds, p_odds, "forces_odds_ratios"), (pooled, p_pooled, "forces_pooled"),
                                (funnel, p_funnel, "forces_funnel")):
        pd.testing.assert_frame_equal(results.conform(after, name), before)
    assert s1.empty and s2.empty and s3.empty
    assert not p_odds["or_withheld"].any() and not p_pooled["stats_withheld"].any()


def test_small_cells_hide_the_force_and_withhold_its_odds_ratio() -> None:
    odds = _odds_ratios()
    out, supp = forces_figures.protect_odds_ratios(odds, 5)
    b = out.set_index("force").loc["Force B"]
    assert b["or_withheld"] and pd.isna(b["odds_ratio"]) and pd.isna(b["ci_low"]) and pd.isna(b["ci_high"])
    assert pd.isna(b["a"]) and b["a_display"] == "<5"
    assert pd.isna(b["b"]) and b["b_display"] == "[c]"  # b = (a + b) - a would give a back
    others = out[out["force"] != "Force B"]
    assert not others["or_withheld"].any()
    pd.testing.assert_frame_equal(results.conform(others, "forces_odds_ratios"), odds[odds["force"] != "Force B"],
                                  check_dtype=False)
    assert list(supp.columns) == list(sdc.SUPPRESSION_COLUMNS)
    assert set(supp["file"]) == {"forces_odds_ratios"} and set(supp["level"]) == {"Force B: male vs female"}
    assert {"a", "b", "odds_ratio", "ci_low", "ci_high"} <= set(supp["column"])
    assert supp.loc[supp["column"] == "a", ["reason", "display"]].values.tolist() == [["small_count", "<5"]]


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 12)] * 4), min_size=1, max_size=5), st.integers(2, 6))
def test_no_published_cell_is_small_and_no_odds_ratio_rests_on_a_hidden_cell(cells, m: int) -> None:
    odds = pd.DataFrame([_or_row(f"F{i}", *c) for i, c in enumerate(cells)])[list(CONTRACT["forces_odds_ratios"])]
    out, supp = forces_figures.protect_odds_ratios(odds, m)
    shown = out[["a", "b", "c", "d"]]
    assert not ((shown >= 1) & (shown < m)).fillna(False).to_numpy().any()
    hidden = shown.isna().any(axis=1)
    assert out.loc[hidden, "odds_ratio"].isna().all() and out.loc[hidden, "or_withheld"].all()
    assert (out.loc[~hidden, "odds_ratio"].fillna(-1) == odds.loc[~hidden, "odds_ratio"].fillna(-1)).all()
    assert len(supp) == int(out[[f"{c}_display" for c in forces_figures.CELLS]].ne("").sum().sum()) + 3 * int(
        hidden.sum())


def test_pooled_statistics_are_withheld_when_a_pooled_force_is_hidden() -> None:
    odds = _odds_ratios()
    pooled = _pooled(odds)
    p_odds, _ = forces_figures.protect_odds_ratios(odds, 5)
    out, supp = forces_figures.protect_pooled(pooled, p_odds, 5)
    row = out.iloc[0]
    assert row["stats_withheld"]
    assert all(pd.isna(row[c]) for c in (*forces_figures.POOLED_OR, *forces_figures.POOLED_CMH))
    assert row["n"] == pooled["n"].iloc[0] and row["n_display"] == ""  # Force B's n is shown
    assert set(supp["column"]) == {*forces_figures.POOLED_OR, *forces_figures.POOLED_CMH}
    # Without the small force every statistic is published.
    big = odds[odds["force"] != "Force B"].reset_index(drop=True)
    out, supp = forces_figures.protect_pooled(_pooled(big), forces_figures.protect_odds_ratios(big, 5)[0], 5)
    assert not out["stats_withheld"].iloc[0] and supp.empty


def test_pooled_n_below_m_is_marked_and_its_statistics_withheld() -> None:
    odds = pd.DataFrame([_or_row("Force A", 1, 1, 1, 1)])[list(CONTRACT["forces_odds_ratios"])]
    out, supp = forces_figures.protect_pooled(_pooled(odds), odds.assign(or_withheld=False, n_display=""), 5)
    assert out["n_display"].iloc[0] == "<5" and pd.isna(out["n"].iloc[0]) and out["stats_withheld"].iloc[0]
    assert ("n", "small_count") in set(zip(supp["column"], supp["reason"]))


def test_pooled_n_is_hidden_when_a_force_n_is() -> None:
    odds = _odds_ratios()
    p_odds = odds.assign(or_withheld=False, n_display="")
    p_odds.loc[1, "n_display"] = "[c]"
    out, _ = forces_figures.protect_pooled(_pooled(odds), p_odds, 5)
    assert out["n_display"].iloc[0] == "[c]" and pd.isna(out["n"].iloc[0])


def test_generalized_test_withheld_when_any_comparison_is_hidden(national) -> None:
    pooled, odds, _ = national
    p_odds, _ = forces_figures.protect_odds_ratios(odds, 5)
    key = (p_odds["outcome"] == "offered") & (p_odds["factor"] == "victim_age3")
    p_odds.loc[key, "or_withheld"] = False
    p_odds.loc[key & (p_odds["level"] == "25_plus") & (p_odds["force"] == "Force A"), "or_withheld"] = True
    out, _ = forces_figures.protect_pooled(pooled, p_odds, 5)
    rows = out[(out["outcome"] == "offered") & (out["factor"] == "victim_age3")].set_index("level")
    assert rows["cmh_statistic"].isna().all()  # the whole factor's test
    assert pd.isna(rows.loc["25_plus", "mh_or"])


def test_generalized_test_withheld_when_a_not_computable_force_has_a_hidden_cell(national) -> None:
    """Review finding 2: a force whose reference band is empty has its comparisons "not computable",
    but the generalized CMH still uses it: a hidden cell of that force withholds the factor's test."""
    pooled, odds, _ = national
    p_odds, _ = forces_figures.protect_odds_ratios(odds, 5)
    key = (p_odds["outcome"] == "offered") & (p_odds["factor"] == "victim_age3")
    p_odds.loc[key, "or_withheld"] = False
    p_odds["note"] = p_odds["note"].astype(object)
    small = key & (p_odds["force"] == "Force A")
    p_odds.loc[small, "note"] = "not computable: no cases at the reference level"
    p_odds.loc[small & (p_odds["level"] == "25_plus"), "or_withheld"] = True
    rows = pooled[(pooled["outcome"] == "offered") & (pooled["factor"] == "victim_age3")]
    assert (rows["method"] == stratified.METHOD_GENERALIZED).any() and rows["cmh_statistic"].notna().all()
    out, supp = forces_figures.protect_pooled(pooled, p_odds, 5)
    rows = out[(out["outcome"] == "offered") & (out["factor"] == "victim_age3")]
    general = rows["method"] == stratified.METHOD_GENERALIZED
    assert rows.loc[general, "cmh_statistic"].isna().all() and rows.loc[general, "cmh_p"].isna().all()
    assert rows.loc[general, "stats_withheld"].all()
    assert {"cmh_statistic", "cmh_p"} <= set(supp.loc[supp["variable"] == "victim_age3", "column"])


def test_funnel_hides_small_events_with_a_secondary() -> None:
    funnel = pd.DataFrame({"force": ["A", "B", "C"], "outcome": "offered", "n": [200, 150, 40],
                           "events": [50, 30, 2]})
    rates = stratified.funnel_rates(pd.DataFrame({
        "force": np.repeat(funnel["force"], funnel["n"]).to_numpy(),
        "offered": np.concatenate([["yes"] * e + ["no"] * (n - e) for n, e in zip(funnel["n"], funnel["events"])]),
    }), outcome="offered")
    out, supp = forces_figures.protect_funnel(rates, 5)
    c = out.set_index("force").loc["C"]
    assert pd.isna(c["events"]) and c["events_display"] == "<5" and pd.isna(c["rate"]) and pd.isna(c["position"])
    assert c["n"] == 40 and c["n_display"] == "" and not pd.isna(c["lower_95"])  # n and its limits stay
    hidden = out[out["events"].isna()]
    assert len(hidden) == 2  # with the overall rate public, one hidden count alone would be given back
    assert set(supp["file"]) == {"forces_funnel"} and "secondary" in set(supp["reason"])


# --- display tables -----------------------------------------------------------------------------------


def test_pooled_display_shows_marks_and_not_computable() -> None:
    odds = _odds_ratios()
    pooled = _pooled(odds)
    shown = forces_figures.pooled_display(pooled)
    assert shown.iloc[0]["comparison"] == "Males vs Females"
    r = pooled.iloc[0]
    assert shown.iloc[0]["mh_or"] == f"{r['mh_or']:.2f} ({r['ci_low']:.2f}–{r['ci_high']:.2f})"
    assert shown.iloc[0]["cmh"] == f"{r['cmh_statistic']:.3f} (1 df), p {format_p(r['cmh_p'])}"
    assert shown.iloc[0]["homogeneity"] == (f"{r['homogeneity_statistic']:.3f} (2 df), "
                                            f"p {format_p(r['homogeneity_p'])}")
    p_odds, _ = forces_figures.protect_odds_ratios(odds, 5)
    hidden = forces_figures.pooled_display(forces_figures.protect_pooled(pooled, p_odds, 5)[0])
    assert hidden.iloc[0][["mh_or", "cmh", "homogeneity"]].tolist() == ["[c]"] * 3
    one = pooled.assign(homogeneity_test="none: one force", homogeneity_statistic=math.nan, mh_or=math.nan,
                        ci_low=math.nan, ci_high=math.nan)
    shown = forces_figures.pooled_display(one).iloc[0]
    assert shown["homogeneity"] == "none: one force" and shown["mh_or"] == "n/c"


def test_odds_ratios_display_and_funnel_display() -> None:
    odds = _odds_ratios()
    p_odds, _ = forces_figures.protect_odds_ratios(odds, 5)
    shown = forces_figures.odds_ratios_display(p_odds, "offered", "victim_sex").set_index("force")
    assert shown.loc["Force A", "level"] == "40.0 (40)" and shown.loc["Force A", "reference"] == "30.0 (30)"
    assert shown.loc["Force B", "level"] == "[c] (<5)" and shown.loc["Force B", "odds_ratio"] == "[c]"
    funnel = stratified.funnel_rates(pd.DataFrame({"force": ["A"] * 10 + ["B"] * 10,
                                                   "offered": ["yes", "no"] * 10}), outcome="offered")
    shown = forces_figures.funnel_display(funnel)
    assert shown["rate"].tolist() == ["50.0%", "50.0%"] and shown["position"].tolist() == ["within 95%"] * 2


def test_tables_have_fixed_ids_and_are_stable(national) -> None:
    pooled, odds, funnel = national
    for build, display in (
        (forces_figures.pooled_table, forces_figures.pooled_display(pooled)),
        (forces_figures.odds_ratios_table, forces_figures.odds_ratios_display(odds, "offered", "victim_age3")),
        (forces_figures.funnel_table, forces_figures.funnel_display(funnel)),
    ):
        first = build(display, table_id="forces-t", title="T", notes=["SDC note"]).as_raw_html()
        assert 'id="forces-t"' in first and "SDC note" in first
        again = build(display, table_id="forces-t", title="T", notes=[forces_figures.FUNNEL_NOTE,
                                                                       forces_figures.POOLED_NOTE,
                                                                       forces_figures.ODDS_RATIOS_NOTE]).as_raw_html()
        assert sum(again.count(n[:20]) for n in (forces_figures.FUNNEL_NOTE, forces_figures.POOLED_NOTE,
                                                 forces_figures.ODDS_RATIOS_NOTE)) == 3  # the built-in one once
        assert build(display, table_id="forces-t", title="T", notes=["SDC note"]).as_raw_html() == first


# --- figures ------------------------------------------------------------------------------------------


def test_forest_frame_rows(national) -> None:
    pooled, odds, _ = national
    frame = forces_figures.forest_frame(odds, pooled, "offered", "victim_age3")
    assert list(dict.fromkeys(frame["panel"])) == ["18-24 years vs 17 years and under",
                                                   "25 or older vs 17 years and under"]
    first = frame[frame["panel"] == frame["panel"].iloc[0]]
    assert first["label"].tolist() == ["Force A", "Force B", "Force C", forces_figures.POOLED_LABEL]
    mh = pooled[(pooled["outcome"] == "offered") & (pooled["factor"] == "victim_age3")]["mh_or"].iloc[0]
    assert first["odds_ratio"].iloc[-1] == mh


def test_forest_by_force_draws_forces_and_a_diamond(national) -> None:
    pooled, odds, _ = national
    p_odds, _ = forces_figures.protect_odds_ratios(odds, 0)
    p_odds.loc[(p_odds["force"] == "Force C"), ["odds_ratio", "ci_low", "ci_high"]] = np.nan
    p_odds.loc[(p_odds["force"] == "Force C"), "or_withheld"] = True
    fig = forces_figures.forest_by_force(p_odds, pooled, "offered", "victim_sex")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Force A", "Force B", "Force C",
                                                            forces_figures.POOLED_LABEL]
    markers = [line for line in ax.get_lines() if line.get_marker() == "s"]
    assert len(markers) == 2  # Force C withheld: no marker
    assert sum(isinstance(p, Polygon) for p in ax.patches) == 1  # the pooled diamond
    texts = [t.get_text() for t in ax.texts]
    assert texts[2] == "[c]" and texts[3].count("–") == 1


def test_funnel_plot_draws_the_shown_forces(national) -> None:
    _, _, funnel = national
    funnel = funnel.copy()
    funnel.loc[(funnel["outcome"] == "offered") & (funnel["force"] == "Force C"), "rate"] = np.nan
    limits = forces_figures.funnel_curve(funnel, "offered")
    assert limits["n"].min() == 1 and limits["n"].max() >= funnel["n"].max()
    fig = forces_figures.funnel_plot(funnel, limits, "offered")
    ax = fig.axes[0]
    points = np.vstack([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])
    assert len(points) == 2
    assert any("Force C" in t.get_text() for t in fig.texts)
    # each force's label sits above the control limits, on an opaque box (new-user trial: lines struck
    # through the labels)
    labels = [t for t in ax.texts if t.get_text().startswith("Force")]
    lines = max(line.get_zorder() for line in ax.get_lines())
    assert len(labels) == 2 and all(t.get_zorder() > lines and t.get_bbox_patch() is not None for t in labels)
    assert all(t.get_bbox_patch().get_facecolor()[:3] == (1.0, 1.0, 1.0) for t in labels)


def test_figures_are_byte_stable(national, tmp_path: Path) -> None:
    pooled, odds, funnel = national
    outputs = []
    for run in ("one", "two"):
        forest = forces_figures.forest_by_force(odds, pooled, "accepted", "victim_age3")
        funnel_fig = forces_figures.funnel_plot(funnel, forces_figures.funnel_curve(funnel, "accepted"), "accepted")
        paths = figures.save(forest, tmp_path / run, forces_figures.forest_name("accepted", "victim_age3"))
        paths += figures.save(funnel_fig, tmp_path / run, forces_figures.funnel_name("accepted"))
        outputs.append([p.read_bytes() for p in paths])
    assert outputs[0] == outputs[1]
    assert [p.name for p in (tmp_path / "one").iterdir()].count("forces_funnel_accepted.svg") == 1


def test_odds_ratio_text() -> None:
    assert forces_figures._fmt_or(1.234, 0.8, 1.9) == "1.23 (0.80–1.90)"
    assert forces_figures._fmt_or(math.inf, math.nan, math.nan) == "∞"
    assert forces_figures._fmt_or(0.0, math.nan, math.nan) == "0"
    assert forces_figures._fmt_or(math.nan, math.nan, math.nan) == ""


def test_pooled_note_is_short_and_keeps_the_forces_named() -> None:
    # the notes stratified writes: a force left out, and a three-level factor's generalized CMH
    tables = np.array([[[10, 5], [4, 9]], [[0, 0], [3, 4]], [[8, 2], [5, 5]]])
    res = stratified.mantel_haenszel(tables, ["Force A", "Force: C", "Force D"])
    note = "; ".join(res.notes)
    assert "left out of the pooled forces" in note
    assert forces_figures.pooled_note(note) == "not pooled: Force: C"
    general = ("cmh columns: generalized CMH of all 3 levels (2 df), mh_or and homogeneity: 18-24 vs 35+; "
               "left out of the generalized CMH (fewer than 2 units): Force E; "
               "odds ratios differ between forces (homogeneity p < 0.05): the pooled odds ratio averages unequal "
               "effects; a note stratified may add later")
    assert forces_figures.pooled_note(general) == ("not in the CMH: Force E; odds ratios differ between forces; "
                                                   "a note stratified may add later")
    assert forces_figures.pooled_note("") == ""
    withheld = "; ".join([stratified.withheld_note(["Force B", "Force E"]), note])
    assert forces_figures.pooled_note(withheld) == "withheld, not pooled: Force B, Force E; not pooled: Force: C"
    zero = np.array([[[0, 5], [4, 9]], [[0, 3], [3, 4]]])  # a = 0 in every force: a·d = 0
    note = "; ".join(stratified.mantel_haenszel(zero, ["Force A", "Force B"]).notes)
    assert forces_figures.pooled_note(note) == "OR not estimable (a zero cell in every force)"


def test_a_release_pools_a_factor_across_the_forces_whose_table_is_published(national) -> None:
    """Under disclosure control a factor is pooled across the forces whose block of it is published
    (notebook 05 passes :func:`msht.publish.forces_tables.withheld_blocks`): the force whose block is
    withheld is left out of the strata and named first in the note (:func:`stratified.withheld_strata`
    reads it back), the statistics are those of the other forces alone, and they are published
    although the left-out force's odds ratio is withheld; the other factors are pooled as before."""
    pooled, odds, _ = national
    cases, offenders = forces_frames()
    gone = str(odds["force"].iloc[0])
    key = ("offered", "victim_sex")
    released = stratified.stratified_tests(cases, offenders, alpha=0.05, left_out={key: {gone}})
    mine = (released["outcome"] == key[0]) & (released["factor"] == key[1])
    before, after = pooled[mine].iloc[0], released[mine].iloc[0]
    assert after["note"].startswith(stratified.withheld_note([gone]))
    assert stratified.withheld_strata(after["note"]) == [gone] and stratified.withheld_strata(before["note"]) == []
    assert after["n_strata"] == before["n_strata"] - 1
    left = odds[(odds["outcome"] == key[0]) & (odds["factor"] == key[1]) & (odds["force"] == gone)]
    assert after["n"] == before["n"] - int(left["n"].iloc[0])
    others = odds[(odds["outcome"] == key[0]) & (odds["factor"] == key[1]) & (odds["force"] != gone)]
    alone = stratified.mantel_haenszel(others[["a", "b", "c", "d"]].to_numpy().reshape(-1, 2, 2), list(others["force"]))
    assert after["mh_or"] == pytest.approx(alone.mh_or) and after["cmh_p"] == pytest.approx(alone.cmh_p)
    pd.testing.assert_frame_equal(released[~mine], pooled[~mine])
    p_odds = odds.assign(or_withheld=False, n_display="")
    p_odds.loc[(p_odds["outcome"] == key[0]) & (p_odds["factor"] == key[1]) & (p_odds["force"] == gone),
               ["or_withheld", "n_display"]] = [True, "[c]"]
    out, _ = forces_figures.protect_pooled(released, p_odds, 5)
    row = out[mine].iloc[0]
    assert not row["stats_withheld"] and pd.notna(row["mh_or"]) and row["n_display"] == ""
    out, _ = forces_figures.protect_pooled(pooled, p_odds, 5)  # pooled with it: withheld
    assert out[mine].iloc[0]["stats_withheld"]


def test_the_pooled_table_explains_withheld_forces_only_when_a_row_names_one(national) -> None:
    pooled, _, _ = national
    assert forces_figures.withheld_pooled_note(pooled) == ""
    named = pooled.assign(note=[stratified.withheld_note(["Force A"])] + list(pooled["note"].iloc[1:]))
    assert forces_figures.withheld_pooled_note(named) == forces_figures.WITHHELD_POOLED_NOTE
