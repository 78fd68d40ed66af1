"""Exploratory logistic regression: complete cases, term screening, recovery of known odds ratios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msht.analysis import models
from msht.base import vocab
from msht.publish import regression_tables, results

SMALL = {"victim_sex": "male", "criminal_exploitation": "no", "police_entries": "one"}


def simulated(n: int = 4000, seed: int = 4, odds_ratios: tuple[float, float, float] = (2.0, 0.5, 1.0)) -> pd.DataFrame:
    """Cases whose offer of support follows a logistic model with known odds ratios."""
    rng = np.random.default_rng(seed)
    female = rng.random(n) < 0.4
    criminal = rng.random(n) < 0.5
    several = rng.random(n) < 0.7
    logit = -1.0 + np.log(odds_ratios[0]) * female + np.log(odds_ratios[1]) * criminal + np.log(odds_ratios[2]) * several
    offered = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "person_id": [f"P{i}" for i in range(n)],
        "offered": np.where(offered, "yes", "no"),
        "accepted": vocab.UNKNOWN,
        "engagement": vocab.UNKNOWN,
        "victim_sex": np.where(female, "female", "male"),
        "exploitation_known": True,
        "criminal_exploitation": criminal,
        "police_entries": np.where(several, "several", "one"),
    })


def test_recovers_known_adjusted_odds_ratios() -> None:
    out = models.fit_outcome(simulated(), "offered", SMALL).set_index("factor")
    assert out.loc["victim_sex", "level"] == "female" and out.loc["victim_sex", "reference"] == "male"
    for factor, true_or in (("victim_sex", 2.0), ("criminal_exploitation", 0.5), ("police_entries", 1.0)):
        row = out.loc[factor]
        assert row["ci_low"] < true_or < row["ci_high"], factor
    assert out.loc["victim_sex", "adjusted_or"] == pytest.approx(2.0, rel=0.2)
    assert out["converged"].all() and (out["note"] == "").all()


def test_complete_cases_and_population_by_hand() -> None:
    cases = simulated(400)
    cases.loc[:9, "victim_sex"] = vocab.UNKNOWN
    cases.loc[10:14, "exploitation_known"] = False
    cases.loc[15:19, "offered"] = vocab.UNKNOWN  # outside the population
    data = models.design(cases, "offered", SMALL)
    assert data.n_population == 395
    assert len(data.y) == 395 - 10 - 5
    assert data.missing_by_factor == {"victim_sex": 10, "criminal_exploitation": 5, "police_entries": 0}
    assert list(data.X.columns) == ["victim_sex=female", "criminal_exploitation=yes", "police_entries=several"]
    out = models.fit_outcome(cases, "offered", SMALL)
    assert (out["N"] == 380).all() and (out["n_dropped_missing"] == 15).all()


def test_accepted_is_modelled_among_those_offered() -> None:
    cases = simulated(600)
    rng = np.random.default_rng(0)
    cases["accepted"] = np.where(cases["offered"] == "yes", rng.choice(["yes", "no"], len(cases)), vocab.UNKNOWN)
    data = models.design(cases, "accepted", SMALL)
    assert data.n_population == int((cases["offered"] == "yes").sum())


def test_separated_and_empty_levels_are_left_out_with_a_note() -> None:
    cases = simulated(600)
    cases["criminal_exploitation"] = False  # level "yes" has no cases
    cases.loc[cases["police_entries"] == "one", "offered"] = "no"  # "one" predicts the outcome exactly
    out = models.fit_outcome(cases, "offered", SMALL)
    assert out["factor"].tolist() == ["victim_sex"]
    note = out["note"].iloc[0]
    assert "criminal exploitation: Criminal exploitation identified left out: 0 of" in note
    assert "separation" in note and "number of police data system entries: More than one" in note


def test_collinear_term_is_left_out() -> None:
    cases = simulated(600)
    cases["police_entries"] = np.where(cases["victim_sex"] == "female", "several", "one")
    out = models.fit_outcome(cases, "offered", SMALL)
    assert "police_entries" not in set(out["factor"])
    assert "collinear" in out["note"].iloc[0]


def test_single_level_outcome_gives_one_row_not_a_crash() -> None:
    cases = simulated(300).assign(offered="no")
    out = models.fit_outcome(cases, "offered", SMALL)
    assert len(out) == 1 and not out["converged"].iloc[0]
    assert out["adjusted_or"].isna().all()
    assert out["note"].iloc[0].startswith("not estimated")


def test_multivariable_separation_is_reported_not_raised() -> None:
    cases = simulated(400)
    # the outcome is "yes" exactly for females with criminal exploitation: no single term separates it
    cases["offered"] = np.where((cases["victim_sex"] == "female") & cases["criminal_exploitation"], "yes", "no")
    factors = {"victim_sex": "male", "criminal_exploitation": "no"}
    out = models.fit_outcome(cases, "offered", factors)
    assert len(out) == 1 and not out["converged"].iloc[0]
    assert out["note"].iloc[0].startswith("not estimated")


def test_fit_all_contract_summary_and_display() -> None:
    cases = simulated(800)
    cases["accepted"] = np.where(cases["offered"] == "yes", "yes", vocab.UNKNOWN)  # single level: not estimated
    out = models.fit_all(cases, outcomes=("offered", "accepted"), factors=SMALL)
    assert list(out.columns) == list(results.CONTRACT["regression"])
    summary = models.summary(out)
    assert summary["outcome"].tolist() == ["offered", "accepted"]
    assert summary["converged"].tolist() == [True, False]
    shown = regression_tables.regression_display(out)
    assert len(shown) == len(out)
    assert shown["term"].iloc[-1] == "Model not estimated"
    assert shown["aor"].iloc[-1].startswith("not estimated")
    assert shown["term"].iloc[0] == "Females (vs Males)"


def test_known_share() -> None:
    cases = pd.DataFrame({"county_lines": ["yes", "no", vocab.UNKNOWN, vocab.UNKNOWN]})
    assert models.known_share(cases, "county_lines") == 50.0
    assert np.isnan(models.known_share(cases.iloc[:0], "county_lines"))


def test_regression_factors_are_case_level_and_references_exist() -> None:
    for factor, ref in models.REGRESSION_FACTORS.items():
        assert ref in vocab.levels(factor)
        assert not factor.startswith("offender_") and factor != "county_lines"
