"""Issue 15 (helper 15c): the counts of ``regression.csv``, the statistics' denominators and the
before/after-2021 test under disclosure control, each attacked with the audit
(:mod:`msht.publish.audit`) on tiny hand-made frames."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from msht.publish import audit, descriptive_tables, prose_associations, prose_section3, regression_tables, results, sdc

M = 5


def _row(table, variable, level, n, d=None):
    return {"table": table, "variable": variable, "level": level, "n": n, "denominator": d,
            "pct": math.nan if d in (None, 0) or level in sdc.NON_COUNT_LEVELS else round(100 * n / d, 1)}


#: A one-quarter release's section 3.2: 74 victims, none left out, 73 with police-record data
#: (1 without), and the median of police entries printed with its 73 victims.
QUARTER_32 = pd.DataFrame([
    _row("section3_1", "victims", "all", 74, 74),
    _row("section3_2", "entries_outliers", "threshold", 1500),
    _row("section3_2", "entries_outliers", "left_out", 0, 73),
    _row("section3_2", "police_entries", "one", 6, 73), _row("section3_2", "police_entries", "several", 67, 73),
    _row("section3_2", "police_entries", "unknown", 1),
    _row("section3_2", "entries_per_victim", "median", 7, 73), _row("section3_2", "entries_per_victim", "min", 1, 73),
    _row("section3_2", "entries_per_victim", "max", 53, 73),
])


def _desc_release(tmp_path, true: pd.DataFrame, protected: pd.DataFrame):
    pub, truth = tmp_path / "pub", tmp_path / "truth"
    results.write_csv(protected, "descriptives", pub)
    results.write_csv(sdc.suppression_table(descriptives=protected), "suppression", pub)
    results.write_csv(true, "descriptives", truth)
    return pub, truth


def test_a_statistics_denominator_is_hidden_with_the_count_it_repeats(tmp_path):
    """The quarter release printed the median of police entries "of 73 victims" while the one
    victim with no police-record data was hidden (<5) and its block's denominator too: 74 - 0 -
    73 = 1. The audit now models a statistic's denominator (and finds the leak when it is
    printed); the protection hides it with the count it repeats."""
    protected, _ = descriptive_tables.protect({"all": QUARTER_32}, M)
    stats = protected["variable"] == "entries_per_victim"
    assert protected.loc[stats, "denominator"].isna().all()
    assert (protected.loc[stats, "denominator_reason"] == "linked_total").all()
    pub, truth = _desc_release(tmp_path, QUARTER_32, protected)
    frame = audit.audit(pub, truth, M).set_index("cell")
    assert frame.at["descriptives|section3_2|police_entries|unknown|n", "values"] >= audit.MIN_RANGE
    assert frame.at["descriptives|section3_2|entries_per_victim|median|denominator", "values"] >= audit.MIN_RANGE
    leaky = protected.copy()
    leaky.loc[stats, "denominator"] = 73.0  # as the quarter release printed it
    leaky.loc[stats, "denominator_suppressed"] = False
    pub, truth = _desc_release(tmp_path / "leaky", QUARTER_32, leaky)
    row = audit.audit(pub, truth, M).set_index("cell").loc["descriptives|section3_2|police_entries|unknown|n"]
    assert (row["low"], row["high"]) == (1, 1)


def test_a_statistics_denominator_stays_when_its_count_is_shown():
    frame = QUARTER_32.assign(n=QUARTER_32["n"].where(QUARTER_32["level"] != "unknown", 9))
    protected, _ = descriptive_tables.protect({"all": frame}, M)
    assert protected.loc[protected["variable"] == "entries_per_victim", "denominator"].notna().all()
    assert descriptive_tables.value_denominator_source("section3_3", "offenders_per_case_range") == \
        ("section3_3", "offenders_per_case", "several")


# --- section 3.4: before 2021 and from 2021, with its test ---------------------------------------

def _period(before: tuple[int, int], after: tuple[int, int]) -> pd.DataFrame:
    rows = [_row("section3_4", "period_split", "first_year", 2021),
            _row("section3_4", "offered_by_period", "before_2021", *before),
            _row("section3_4", "offered_by_period", "from_2021", *after)]
    total = before[1] + after[1]
    rows += [_row("section3_4", "offered_by_period", lv, v, total) for lv, v in (("statistic", 5.1), ("df", 1), ("p", 0.024))]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("before", "after", "withheld"), [((3, 40), (30, 90), True), ((12, 40), (50, 90), False)])
def test_the_before_and_after_2021_test_is_withheld_whenever_its_table_has_a_hidden_cell(before, after, withheld):
    """Section 3.4's comparison prints "χ² = ..., p ..." next to the two periods' counts. With a
    count hidden (3 offers before 2021) its statistic and p are withheld, in descriptives.csv and
    in the sentence; with nothing hidden they are printed."""
    protected, _ = descriptive_tables.protect({"all": _period(before, after)}, M)
    test = protected[protected["level"].isin(["statistic", "p"])]
    counts = protected[protected["level"].isin(["before_2021", "from_2021"])]
    assert bool(counts["suppressed"].any()) is withheld
    assert bool(test["n"].isna().all()) is withheld and bool(test["n"].notna().all()) is not withheld
    assert protected.loc[protected["level"] == "df", "n"].notna().all()  # df = 1 says nothing
    text = prose_section3._s3_period_sentence(protected, "offered_by_period", "the share", 0.05)
    assert ("the test is withheld under statistical disclosure control" in text) is withheld
    assert ("χ²" in text) is not withheld


# --- regression.csv ------------------------------------------------------------------------------

def _model(outcome="accepted", n=32, pop=37, events=11, note="", terms=(("referring_agency", "internal", "external", 16),
                                                                       ("victim_sex", "female", "male", 12))):
    return pd.DataFrame([{"outcome": outcome, "factor": f, "level": lv, "reference": ref, "n_level": k,
                          "adjusted_or": 1.5, "ci_low": 0.5, "ci_high": 3.0, "p": 0.4, "N": n, "n_population": pop,
                          "n_dropped_missing": pop - n, "n_events": events, "converged": True, "note": note}
                         for f, lv, ref, k in terms])


def test_small_model_counts_are_hidden_with_the_counts_that_give_them_back():
    """N, the cases dropped and the events are counts of cases: from 1 to m-1 each is hidden; N
    and the dropped together (the population is public as the outcome's association total), and
    the events with them; the note's numbers follow (it printed "11 events for 13 terms")."""
    frame, supp = regression_tables.protect_regression(
        _model(n=34, pop=37, events=3, note="3 events for 13 terms: fewer than 10 per term"), M)
    assert frame[["n_dropped_missing", "N", "n_events"]].isna().all(axis=None) and (frame["n_population"] == 37).all()
    marks = supp[supp["column"].isin(regression_tables.MODEL_COUNTS)].drop_duplicates("column").set_index("column")
    assert marks.at["n_dropped_missing", "display"] == "<5" and marks.at["n_events", "display"] == "<5"
    assert marks.at["N", "reason"] == "linked_total"
    assert frame["note"].iloc[0] == "[c] events for 13 terms: fewer than 10 per term"
    text = prose_associations.regression_text(frame, 30.0, 0.05, factors=["referring_agency"])
    assert "N = [c] complete cases of 37 ([c] dropped for missing data), [c] with the rarer outcome" in text
    assert regression_tables.regression_display(frame)["group"].iloc[0].startswith("Accepted")


def test_a_note_says_no_hidden_number():
    note = ("sex: Female left out: 0 of 54 complete cases have it; number of police data system entries: More than "
            "one left out: 54 of 54 complete cases have it; 11 events for 3 terms")
    assert regression_tables._redact_note(note, {"N", "n_events"}) == (
        "sex: Female left out: 0 of [c] complete cases have it; number of police data system entries: More than "
        "one left out: [c] of [c] complete cases have it; [c] events for 3 terms")
    assert regression_tables._redact_note(note, set()) == note


def test_adjusted_odds_ratios_are_withheld_with_their_association_block():
    """A level's adjusted OR, CI and p are withheld whenever the association block of its outcome
    and factor has a hidden count (the unadjusted OR and test of that block are withheld)."""
    assoc = pd.DataFrame({"outcome": ["accepted"] * 2, "factor": ["victim_sex"] * 2, "level": ["male", "female"],
                          "n": [3, 9], "denominator": [20, 17], "pct": [15.0, 52.9], "statistic": [1.0] * 2,
                          "df": [1, 1], "p": [0.3, 0.3], "test": ["Yates chi-square"] * 2})
    protected = sdc.protect_associations(assoc, M)
    assert protected["suppressed"].any()
    frame, supp = regression_tables.protect_regression(_model(), M, associations=protected)
    sex, agency = frame[frame["factor"] == "victim_sex"].iloc[0], frame[frame["factor"] == "referring_agency"].iloc[0]
    assert sex["sdc_withheld"] and pd.isna(sex["adjusted_or"]) and pd.isna(sex["p"])
    assert not agency["sdc_withheld"] and agency["adjusted_or"] == 1.5
    why = supp[(supp["variable"] == "victim_sex") & (supp["column"] == "adjusted_or")]["reason"].tolist()
    assert why == ["test_withheld"]


def test_the_audit_forces_n_when_the_association_totals_pin_a_levels_complete_cases():
    frame, supp = regression_tables.protect_regression(_model(), M, forced={("regression", "accepted", "x", "y", "N")})
    assert frame[["N", "n_dropped_missing", "n_events"]].isna().all(axis=None)
    assert set(supp.loc[supp["column"] == "N", "reason"]) == {"secondary"}


def _regression_release(tmp_path, model: pd.DataFrame, protected_model: pd.DataFrame, supp: pd.DataFrame,
                        assoc: pd.DataFrame, counts: pd.DataFrame):
    pub, truth = tmp_path / "pub", tmp_path / "truth"
    results.write_csv(assoc, "associations", pub)
    results.write_csv(assoc, "associations", truth)
    results.write_csv(protected_model.drop(columns=["sdc_withheld", "n_level_suppressed"]), "regression", pub)
    results.write_csv(supp, "suppression", pub)
    counts.to_csv(truth / "regression_counts.csv", index=False)
    return pub, truth


def _counts(outcome: str, pop: int, n: int, yes: int, levels: dict[tuple[str, str], int],
            level_yes: dict[tuple[str, str], int] | None = None) -> pd.DataFrame:
    """regression_counts.csv of one model (:func:`msht.analysis.models.complete_counts`): a
    factor's levels not in ``levels`` have 0 complete cases, its reference the rest; ``level_yes``
    their complete cases with the positive outcome (default: the reference has them all)."""
    from msht.analysis import models
    from msht.base import vocab

    rows = [{"outcome": outcome, "factor": "", "level": lv, "n": v, "n_yes": 0}
            for lv, v in zip(models.MODEL_TOTALS, (pop, n, yes))]
    for f, ref in models.REGRESSION_FACTORS.items():
        for lv in vocab.levels(f):
            rest = n - sum(v for (g, other), v in levels.items() if g == f and other != ref)
            k = levels.get((f, lv), rest if lv == ref else 0)
            rows.append({"outcome": outcome, "factor": f, "level": lv, "n": k,
                         "n_yes": (level_yes or {}).get((f, lv), yes if lv == ref else 0)})
    return pd.DataFrame(rows)


def test_the_audit_models_regression_counts(tmp_path):
    """The 10% sample's accepted model: 32 complete cases of 37, 16 of them referred internally.
    With the association totals of the referring agency published (16 internal, 17 external),
    N = 32 leaves the hidden 16 two values (15 or 16); hidden N (chosen by the release's audit)
    gives it its range back."""
    assoc = pd.DataFrame({"outcome": ["accepted"] * 3, "factor": ["overall", "referring_agency", "referring_agency"],
                          "level": ["overall", "internal", "external"], "n": [11, 5, 6], "denominator": [37, 16, 17],
                          "pct": [29.7, 31.2, 35.3], "statistic": [math.nan, 0.1, 0.1], "df": pd.array([pd.NA, 1, 1], "Int64"),
                          "p": [math.nan, 0.9, 0.9], "test": ["", "Yates chi-square", "Yates chi-square"]})
    model = _model(terms=(("referring_agency", "internal", "external", 16),))
    counts = _counts("accepted", 37, 32, 11, {("referring_agency", "internal"): 16, ("referring_agency", "external"): 16})
    shown, supp = regression_tables.protect_regression(model, M)
    pub, truth = _regression_release(tmp_path / "a", model, shown, supp, assoc, counts)
    frame = audit.audit(pub, truth, M).set_index("cell")
    cell = "regression|accepted|referring_agency|internal|n_level"
    assert (frame.at[cell, "low"], frame.at[cell, "high"], frame.at[cell, "true"]) == (15, 16, 16)
    assert cell in audit.narrow_cells(frame.reset_index())
    shown, supp = regression_tables.protect_regression(model, M, forced={("regression", "accepted", "referring_agency",
                                                                          "internal", "N")})
    pub, truth = _regression_release(tmp_path / "b", model, shown, supp, assoc, counts)
    frame = audit.audit(pub, truth, M)
    assert not audit.narrow_cells(frame), frame.to_string()
    assert {"regression|accepted|referring_agency|internal|N", "regression|accepted|referring_agency|internal|n_events"} \
        <= set(frame["cell"])


def test_the_audit_reads_the_counts_a_note_prints(tmp_path):
    """A level left out because "0 of 54 complete cases have it" is a published 0; the note's N
    is N."""
    assoc = pd.DataFrame({"outcome": ["offered"], "factor": ["overall"], "level": ["overall"], "n": [11],
                          "denominator": [79], "pct": [13.9], "statistic": [math.nan], "df": pd.array([pd.NA], "Int64"),
                          "p": [math.nan], "test": [""]})
    model = _model("offered", 54, 79, 11, "domestic servitude: Domestic servitude identified left out: 0 of 54 complete "
                   "cases have it", terms=(("victim_sex", "female", "male", 20),))
    counts = _counts("offered", 79, 54, 11, {("victim_sex", "female"): 20, ("victim_sex", "male"): 34})
    shown, supp = regression_tables.protect_regression(model, M, forced={("regression", "offered", "", "", "N")})
    assert "0 of [c] complete cases" in shown["note"].iloc[0]
    pub, truth = _regression_release(tmp_path, model, shown, supp, assoc, counts)
    s, binaries, pct_rows = audit.build(pub, truth, M)
    zero = s.index["regression|offered|domestic_servitude|yes|complete"]
    assert audit.bound_hidden(s, binaries, pct_rows, M).set_index("cell").at[
        "regression|offered|victim_sex|female|n_level", "values"] >= audit.MIN_RANGE
    assert any(coefs.keys() == {zero, s.index["regression_note|offered|domestic_servitude|yes"]} for coefs in s.rows)


def test_the_audit_reads_a_separation_note(tmp_path):
    """A level left out for separation says its complete cases all had one outcome (or all the
    others did): four equalities, at least one true, on the level's complete cases with the
    positive outcome; the audit adds them (and its bounds still hold the true values)."""
    assoc = pd.DataFrame({"outcome": ["accepted"] * 3, "factor": ["overall", "victim_sex", "victim_sex"],
                          "level": ["overall", "male", "female"], "n": [11, 11, 0], "denominator": [37, 30, 7],
                          "pct": [29.7, 36.7, 0.0], "statistic": [math.nan, 2.0, 2.0], "df": pd.array([pd.NA, 1, 1], "Int64"),
                          "p": [math.nan, 0.2, 0.2], "test": ["", "Yates chi-square", "Yates chi-square"]})
    note = "sex: Female left out: separation (every case at or not at this level has the same value)"
    model = _model(n=32, pop=37, events=11, note=note, terms=(("referring_agency", "internal", "external", 16),))
    counts = _counts("accepted", 37, 32, 11, {("victim_sex", "female"): 6, ("referring_agency", "internal"): 16},
                     {("victim_sex", "female"): 0, ("victim_sex", "male"): 11})
    shown, supp = regression_tables.protect_regression(model, M, associations=sdc.protect_associations(assoc, M))
    pub, truth = _regression_release(tmp_path, model, shown, supp, assoc, counts)
    s, binaries, pct_rows = audit.build(pub, truth, M)
    flags = [i for name, i in s.index.items() if name.startswith("regression_choice|accepted|victim_sex|female|")]
    assert len(flags) == 4 and s.truth[flags[0]] == 1
    assert any(set(coefs) == set(flags) for coefs in s.rows)
    frame = audit.bound_hidden(s, binaries, pct_rows, M)
    assert ((frame["low"] <= frame["true"]) & (frame["true"] <= frame["high"])).all()
