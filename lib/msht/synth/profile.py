"""Profiles of a synthetic force: its size and its rates of support offered and accepted.

The calibrated population (:func:`msht.synth.population.build_population`) is the published
force at a whole-number scale. A multi-force twin (``params/national.yaml``, issue 19) also needs
forces that are smaller than the published one and that offer support more or less often. This
module derives them from the calibrated population, so that every other association of the twin
is kept:

* **size** (:func:`subsample`): a scale below 1 keeps a random share of the victims, each with
  all their cases and case-offender pairs (``scale`` 0.1: a tenth of the victims, about a tenth
  of the cases). A scale above 1 that is not a whole number replicates the population up to the
  next whole number, then keeps the share.
* **support offered / accepted** (:func:`shift_support`): the log-odds of being offered support
  (of the cases whose offer is recorded) and of accepting it (of the cases offered support) are
  shifted by a constant. Each case's probability comes from a logistic model of the outcome on
  the case and victim factors of Appendix 4, fitted to the population itself (with a small ridge
  penalty, so that a sparse level cannot push a probability to 0 or 1); adding the shift to every
  case's linear predictor changes the force's rate and leaves the odds ratios of the model's
  factors as they were (a shift of the intercept). Cases are then moved between "yes" and "no"
  one by one with the probability that takes each case from its fitted probability to the
  shifted one. A case newly offered support draws whether it accepts from the acceptance model;
  a case no longer offered support loses its acceptance.

With every knob at its default (a whole-number scale, both shifts 0) :func:`profiled_population`
returns the calibrated population unchanged, and no random number is drawn.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from msht.synth.model import Population
from msht.synth.population import age_band6, build_population, derive_nationality

#: The random stream of the profile of a force of seed ``s`` is ``default_rng([s, PROFILE_STREAM])``,
#: apart from the streams of the population and of the extracts.
PROFILE_STREAM = 19
#: Ridge penalty of the logistic models (on the coefficients, not the intercept).
RIDGE = 1.0
#: Categorical case and victim factors of the models (missing is a level of its own).
_CATEGORIES = ("referral_form", "referring_agency", "exploitation_location", "county_lines", "recorded_offender",
               "sex", "age_band", "uk_national")
_FLAGS = ("criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude",
          "other_exploitation")


def profiled_population(seed: int, scale: float = 1, offered_log_odds: float = 0.0,
                        accepted_log_odds: float = 0.0) -> Population:
    """The calibrated population of ``seed`` at ``scale`` (any number > 0), with the log-odds of
    support offered and accepted shifted by ``offered_log_odds`` and ``accepted_log_odds``
    (see the module docstring). Deterministic in its arguments.

    Raises ``ValueError`` for a scale that is not a finite number > 0 or a shift that is not finite.
    """
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a number > 0, got {scale!r}")
    for name, shift in (("offered_log_odds", offered_log_odds), ("accepted_log_odds", accepted_log_odds)):
        if not math.isfinite(shift):
            raise ValueError(f"{name} must be a finite number, got {shift!r}")
    whole = max(1, math.ceil(scale))
    pop = build_population(seed=seed, scale=whole)
    if offered_log_odds == 0 and accepted_log_odds == 0 and whole == scale:
        return pop
    rng = np.random.default_rng([int(seed), PROFILE_STREAM])
    if offered_log_odds != 0 or accepted_log_odds != 0:
        pop = shift_support(pop, rng, offered_log_odds=offered_log_odds, accepted_log_odds=accepted_log_odds)
    if whole != scale:
        pop = subsample(pop, scale / whole, rng)
    return pop


def subsample(pop: Population, fraction: float, rng: np.random.Generator) -> Population:
    """``pop`` with ``round(fraction * victims)`` victims drawn at random (at least one), each
    with all their cases and those cases' case-offender pairs; IDs are kept.

    Raises ``ValueError`` unless ``0 < fraction <= 1``.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    ids = pop.victims["victim_id"].to_numpy()
    keep = np.sort(rng.choice(ids, size=max(1, int(round(fraction * len(ids)))), replace=False))
    victims = pop.victims[pop.victims["victim_id"].isin(keep)].reset_index(drop=True)
    cases = pop.cases[pop.cases["victim_id"].isin(keep)].reset_index(drop=True)
    offenders = pop.offenders[pop.offenders["case_id"].isin(cases["case_id"])].reset_index(drop=True)
    out = Population(victims=victims, cases=cases, offenders=offenders)
    out.check()
    return out


def design_matrix(pop: Population) -> np.ndarray:
    """The logistic models' covariates, one row per case of ``pop`` (in its order): a dummy per
    level of each categorical factor but the first (missing is a level), the exploitation-type
    flags and the period (1 from 2021). Shape (cases, k), float."""
    c = pop.cases.merge(pop.victims[["victim_id", "sex", "age", "nationality"]], on="victim_id", how="left",
                        validate="many_to_one")
    c = c.assign(age_band=age_band6(c["age"]), uk_national=derive_nationality(c["nationality"])["uk_national"])
    parts = [pd.get_dummies(c[name].astype(object).fillna("missing").astype(str), prefix=name, drop_first=True)
             for name in _CATEGORIES]
    parts.append(c[list(_FLAGS)].astype(bool))
    parts.append(pd.DataFrame({"from_2021": c["date"].dt.year >= 2021}))
    return pd.concat(parts, axis=1).to_numpy(dtype=float)


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> tuple[float, np.ndarray]:
    """Intercept and coefficients of a logistic regression of ``y`` (0/1, shape (n,)) on ``x``
    (shape (n, k)) with an L2 penalty ``ridge`` on the coefficients (not the intercept)."""
    xs = np.column_stack([np.ones(len(x)), x])
    pen = np.full(xs.shape[1], ridge)
    pen[0] = 0.0

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = xs @ beta
        p = expit(eta)
        value = float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * np.sum(pen * beta**2))
        return value, xs.T @ (p - y) + pen * beta

    fit = minimize(loss, np.zeros(xs.shape[1]), jac=True, method="L-BFGS-B")
    return float(fit.x[0]), fit.x[1:]


def _move(y: np.ndarray, p: np.ndarray, shift: float, rng: np.random.Generator) -> np.ndarray:
    """``y`` (bool) with cases moved so that a case of fitted probability ``p`` is "yes" with
    probability ``expit(logit(p) + shift)``: up, each "no" becomes "yes" with probability
    (p' - p) / (1 - p); down, each "yes" becomes "no" with probability (p - p') / p."""
    shifted = expit(np.log(p) - np.log1p(-p) + shift)
    u = rng.random(len(y))
    if shift > 0:
        return y | (~y & (u < (shifted - p) / (1 - p)))
    return y & ~(u < (p - shifted) / p)


def shift_support(pop: Population, rng: np.random.Generator, *, offered_log_odds: float,
                  accepted_log_odds: float) -> Population:
    """``pop`` with the log-odds of support offered and accepted shifted (see the module
    docstring). Cases whose offer is not recorded keep it unrecorded; only the ``offered`` and
    ``accepted`` columns change."""
    cases = pop.cases.copy()
    x = design_matrix(pop)
    offered = cases["offered"].to_numpy(dtype=object)
    accepted = cases["accepted"].to_numpy(dtype=object)
    known = np.array([v in ("yes", "no") for v in offered])
    was_offered = offered == "yes"
    b0, b = fit_logistic(x[known], was_offered[known].astype(float))
    a0, a = fit_logistic(x[was_offered], (accepted[was_offered] == "yes").astype(float))
    p_accept = expit(a0 + x @ a)
    now_offered = was_offered.copy()
    if offered_log_odds != 0:
        now_offered[known] = _move(was_offered[known], expit(b0 + x[known] @ b), offered_log_odds, rng)
    new = now_offered & ~was_offered
    accepts = np.where(was_offered, accepted == "yes", False)
    accepts[new] = rng.random(int(new.sum())) < p_accept[new]
    if accepted_log_odds != 0:
        accepts[now_offered] = _move(accepts[now_offered], p_accept[now_offered], accepted_log_odds, rng)
    cases["offered"] = np.where(known, np.where(now_offered, "yes", "no"), None).astype(object)
    cases["accepted"] = np.where(now_offered, np.where(accepts, "yes", "no"), None).astype(object)
    cases.loc[~known, "offered"] = None
    return Population(victims=pop.victims, cases=cases, offenders=pop.offenders)
