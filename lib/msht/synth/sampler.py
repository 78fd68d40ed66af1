"""A small, fast, *uncalibrated* population sampler for tests.

It draws every attribute independently from rough published marginals, so its joint
relationships mean nothing. It exists to feed unit and property tests with populations of any
size in milliseconds; the default synthetic twin comes from the calibrated
:func:`msht.synth.population.build_population`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msht.synth.model import Population

_COUNTRIES = (
    "United Kingdom", "Albania", "Romania", "Poland", "Viet Nam", "Sudan", "Eritrea",
    "Nigeria", "India", "China", "Brazil",
)


def _choice(rng: np.random.Generator, values: list, probs: list[float], size: int) -> np.ndarray:
    out = np.empty(size, dtype=object)
    picks = rng.choice(len(values), size=size, p=np.asarray(probs) / np.sum(probs))
    for i, value in enumerate(values):
        out[picks == i] = value
    return out


def sample_population(n_victims: int, seed: int = 0, max_cases_per_victim: int = 3, max_offenders: int = 3) -> Population:
    """Draw an uncalibrated population of ``n_victims`` victims with independent attributes.

    Each victim has 1..``max_cases_per_victim`` cases on distinct dates within one year, so the
    population never triggers the cleaning's same-victim-same-date rules by itself.
    """
    rng = np.random.default_rng(seed)
    na = None  # missing; object arrays compare elementwise with None
    victim_id = np.arange(1, n_victims + 1, dtype="int64")
    n_entries = np.maximum(1, rng.lognormal(2.1, 1.0, n_victims).astype(int))
    as_victim = np.minimum(n_entries, 1 + rng.binomial(np.maximum(n_entries - 1, 0), 0.3))
    as_perp = rng.binomial(n_entries - as_victim, 0.6)
    nationality = _choice(rng, [*_COUNTRIES, "United Kingdom; Albania", na], [40, 8, 5, 4, 6, 4, 3, 4, 3, 2, 1, 1, 2], n_victims)
    victims = pd.DataFrame(
        {
            "victim_id": victim_id,
            "sex": _choice(rng, ["male", "female", na], [72, 27, 1], n_victims),
            "age": pd.array(np.where(rng.random(n_victims) < 0.03, -1, rng.integers(12, 70, n_victims)), dtype="Int64"),
            "nationality": nationality,
            "n_entries": n_entries.astype("int64"),
            "n_as_victim": as_victim.astype("int64"),
            "n_as_perpetrator": as_perp.astype("int64"),
        }
    )
    victims.loc[victims["age"] < 0, "age"] = pd.NA
    n_cases_each = rng.integers(1, max_cases_per_victim + 1, n_victims)
    case_victim = np.repeat(victim_id, n_cases_each)
    n_cases = len(case_victim)
    first = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 6 * 365 - 200, n_victims), unit="D")
    order_in_victim = np.concatenate([np.arange(k) for k in n_cases_each])
    dates = np.repeat(first.values, n_cases_each) + pd.to_timedelta(order_in_victim * 30, unit="D").values
    offered = _choice(rng, ["yes", "no", na], [17, 77, 6], n_cases)
    accepted = np.where(offered == "yes", _choice(rng, ["yes", "no", na], [28, 70, 2], n_cases), na)
    cases = pd.DataFrame(
        {
            "case_id": np.arange(1, n_cases + 1, dtype="int64"),
            "victim_id": case_victim,
            "date": pd.to_datetime(dates),
            "referral_form": _choice(rng, ["nrm", "ms1", na], [84, 15, 1], n_cases),
            "referring_agency": _choice(rng, ["internal", "external", na], [39, 52, 9], n_cases),
            "criminal_exploitation": rng.random(n_cases) < 0.6,
            "labour_exploitation": rng.random(n_cases) < 0.2,
            "sexual_exploitation": rng.random(n_cases) < 0.13,
            "domestic_servitude": rng.random(n_cases) < 0.04,
            "other_exploitation": rng.random(n_cases) < 0.05,
            "exploitation_location": _choice(rng, ["uk_only", "overseas_only", "both", na], [14, 7, 1, 78], n_cases),
            "county_lines": _choice(rng, ["yes", "no", na], [14, 30, 56], n_cases),
            "engagement": _choice(rng, ["positive", "negative", "ongoing", "no_crime", "unknown"], [7, 12, 7, 33, 41], n_cases),
            "offered": offered,
            "accepted": accepted,
        }
    )
    n_off = np.where(rng.random(n_cases) < 0.77, 0, rng.integers(1, max_offenders + 1, n_cases))
    cases["recorded_offender"] = np.where(n_off > 0, "yes", "no")
    pair_case = np.repeat(cases["case_id"].to_numpy(), n_off)
    n_pairs = len(pair_case)
    offenders = pd.DataFrame(
        {
            "case_id": pair_case,
            "offender_id": np.arange(1, n_pairs + 1, dtype="int64"),
            "sex": _choice(rng, ["male", "female", na], [80, 13, 7], n_pairs),
            "age": pd.array(rng.integers(14, 70, n_pairs), dtype="Int64"),
            "ethnicity_group5": _choice(rng, ["white", "asian", "black", "mixed", "other", na], [27, 11, 8, 4, 1, 49], n_pairs),
            "nationality": _choice(rng, [*_COUNTRIES, na], [50, 8, 3, 2, 2, 1, 1, 1, 1, 1, 1, 20], n_pairs),
        }
    )
    return Population(victims=victims, cases=cases, offenders=offenders)
