"""Exploratory multivariable logistic regression of each outcome on the case-level factors.

Beyond the published study, which tests one factor at a time. For each outcome (population as in
:data:`msht.analysis.associate.OUTCOME_LEVELS`), a logistic regression (:class:`statsmodels.api.Logit`)
on the **complete cases** of :data:`REGRESSION_FACTORS` gives adjusted odds ratios with 95%
confidence intervals. Standard errors are cluster-robust by victim (``person_id``), since a
victim with several cases contributes several rows.

Complete-case analysis: a case with an unknown level (``"unknown"``, or any value outside the
factor's levels) of any factor is left out of the model, and counted in ``n_dropped_missing``
(:func:`design`). So in a run of several forces the cases of a force that sent no offender extract,
whose ``recorded_offender`` is unknown (:func:`msht.clean.forces.offenders_not_known`), are left out
of every model, never counted at the reference level "no".

Left out on purpose: county lines involvement (recorded for a minority of cases: complete cases
would drop most of the data) and the offender factors (measured on case-offender pairs, not
cases).

The fit never crashes the run. Before fitting, a term is left out (and the note says why) when
its level has no cases or all of them, when the outcome is the same for every case at that level
(or every case not at it): separation, whose odds ratio is infinite, or when it duplicates other
terms (collinearity). A model that still shows separation or does not converge is reported as
not estimated, with the reason.

The regression table's disclosure control and display frame are in
:mod:`msht.publish.regression_tables`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from statsmodels.discrete.discrete_model import BinaryResultsWrapper, Logit
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning
from statsmodels.tools.tools import add_constant

from msht.base import vocab
from msht.analysis.associate import OUTCOME_LEVELS, with_indicator_levels
from msht.base.contract import CONTRACT

#: Factors of the models and their reference level (the level the odds ratios compare against).
REGRESSION_FACTORS: Final[dict[str, str]] = {
    "victim_sex": "male",
    "victim_age3": "17_and_under",
    "victim_uk_national": "uk",
    "referral_form": "ms1",
    "referring_agency": "external",
    "criminal_exploitation": "no",
    "labour_exploitation": "no",
    "sexual_exploitation": "no",
    "domestic_servitude": "no",
    "police_entries": "one",
    "more_perp_than_victim": "no",
    "recorded_offender": "no",
}

#: Factors deliberately left out of the models (with the reason shown in the notebook).
LEFT_OUT: Final[dict[str, str]] = {
    "county_lines": "recorded for too few cases",
    "offender_*": "measured on case-offender pairs, not cases",
}

#: Columns of ``regression.csv`` (one row per model term, or one row per model not estimated).
REGRESSION_COLUMNS: Final[tuple[str, ...]] = CONTRACT["regression"]

#: Below this many events (the rarer outcome) per estimated term, the note flags overfitting risk.
MIN_EVENTS_PER_TERM: Final[int] = 10


@dataclass(frozen=True)
class ModelData:
    """An outcome's complete-case design: response, dummy-coded factors and what was dropped.

    Attributes:
        outcome: Outcome code.
        y: 1 for the outcome's positive level, 0 for the other (complete cases only).
        X: Dummy columns named ``factor=level`` (no constant), one per non-reference level.
        groups: Victim ID per row (clusters for the standard errors), or ``None``.
        n_population: Cases in the outcome's population.
        missing_by_factor: Cases of the population with an unknown value, per factor.
        notes: Terms left out before fitting, and why.
    """

    outcome: str
    y: pd.Series
    X: pd.DataFrame
    groups: pd.Series | None
    n_population: int
    missing_by_factor: dict[str, int]
    notes: tuple[str, ...] = ()


def _term(factor: str, level: str) -> str:
    return f"{factor}={level}"


def level_name(factor: str, level: str) -> str:
    """How a note names a factor's level (``"sex: Female"``)."""
    return f"{vocab.variable_label(factor).lower()}: {vocab.label(factor, level)}"


def design(cases: pd.DataFrame, outcome: str, factors: dict[str, str] = REGRESSION_FACTORS) -> ModelData:
    """Build ``outcome``'s complete-case design on ``cases`` (one row per case).

    Rows outside the outcome's population, or with an unknown level of any factor, are dropped.
    Terms without variation, with (quasi-)separation, or collinear with earlier terms are left
    out, each with a note.
    """
    coded = with_indicator_levels(cases)
    positive, negative = OUTCOME_LEVELS[outcome]
    pop = coded[coded[outcome].isin([positive, negative])]
    known = pd.DataFrame({f: pop[f].isin(vocab.levels(f)) for f in factors}, index=pop.index)
    missing = {f: int((~known[f]).sum()) for f in factors}
    complete = pop[known.all(axis=1)]
    y = (complete[outcome] == positive).astype(float)
    columns = {
        _term(f, lv): (complete[f] == lv).astype(float)
        for f, ref in factors.items() for lv in vocab.levels(f) if lv != ref
    }
    X = pd.DataFrame(columns, index=complete.index)
    X, notes = _screen_terms(X, y, outcome)
    groups = complete["person_id"].astype(str) if "person_id" in complete else None
    return ModelData(outcome, y, X, groups, len(pop), missing, tuple(notes))


def _screen_terms(X: pd.DataFrame, y: pd.Series, outcome: str) -> tuple[pd.DataFrame, list[str]]:
    """Leave out terms that cannot be estimated; return the kept columns and a note per term left out."""
    notes: list[str] = []
    keep: list[str] = []
    if y.nunique() < 2:  # nothing to screen: the model is not estimable anyway (see _fit)
        return X, notes
    outcome_name = vocab.variable_label(outcome).lower()
    for term in X.columns:
        factor, level = term.split("=", 1)
        x = X[term].to_numpy(dtype=bool)
        n_at = int(x.sum())
        if n_at in (0, len(x)):
            notes.append(f"{level_name(factor, level)} left out: {n_at:,} of {len(x):,} complete cases have it")
            continue
        rates = [y.to_numpy()[x].mean(), y.to_numpy()[~x].mean()]
        if any(r in (0.0, 1.0) for r in rates):
            notes.append(f"{level_name(factor, level)} left out: separation (every case at or not at this level "
                         f"has the same {outcome_name} value, so its odds ratio is infinite)")
            continue
        candidate = np.column_stack([np.ones(len(x)), X[keep + [term]].to_numpy()])
        if np.linalg.matrix_rank(candidate) < candidate.shape[1]:
            notes.append(f"{level_name(factor, level)} left out: collinear with the other terms")
            continue
        keep.append(term)
    return X[keep], notes


def _fit(data: ModelData) -> tuple[BinaryResultsWrapper | None, str]:
    """Fit the Logit model; return the results (or ``None``) and a note on any problem."""
    if data.y.nunique() < 2:
        return None, "not estimated: the outcome has a single level among the complete cases"
    if data.X.shape[1] == 0:
        return None, "not estimated: no term is left once the terms that cannot be estimated are left out"
    X = add_constant(data.X, has_constant="add")
    if len(data.y) <= X.shape[1]:
        return None, f"not estimated: {len(data.y)} complete cases for {X.shape[1]} parameters"
    kwargs: dict[str, object] = {"disp": 0, "maxiter": 200, "method": "newton"}
    if data.groups is not None and data.groups.nunique() > 1:
        kwargs |= {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(data.groups)[0]}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitted = Logit(data.y, X).fit(**kwargs)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return None, f"not estimated: the fit failed ({exc})"
    kinds = {type(w.message) for w in caught}
    if PerfectSeparationWarning in kinds:
        return None, "not estimated: perfect separation (a combination of factors predicts the outcome exactly)"
    if ConvergenceWarning in kinds or not fitted.mle_retvals.get("converged", False):
        return None, "not estimated: the maximum-likelihood fit did not converge"
    if not np.all(np.isfinite(fitted.bse)):
        return None, "not estimated: standard errors are not finite (the information matrix is singular)"
    return fitted, ""


def fit_outcome(cases: pd.DataFrame, outcome: str, factors: dict[str, str] = REGRESSION_FACTORS) -> pd.DataFrame:
    """Fit ``outcome``'s model; return its ``regression.csv`` rows (see :data:`REGRESSION_COLUMNS`).

    One row per estimated term: the adjusted odds ratio of ``level`` against ``reference``, its
    95% CI and Wald p (cluster-robust by victim). A model that cannot be estimated gives a single
    row with empty estimates and the reason in ``note``. ``note`` also lists the terms left out
    and a warning when there are fewer than :data:`MIN_EVENTS_PER_TERM` events per term.
    """
    data = design(cases, outcome, factors)
    fitted, problem = _fit(data)
    n = len(data.y)
    n_events = int(min(data.y.sum(), n - data.y.sum()))
    n_terms = data.X.shape[1]
    notes = list(data.notes)
    if not problem and n_terms and n_events / n_terms < MIN_EVENTS_PER_TERM:
        notes.append(f"{n_events} events for {n_terms} terms: fewer than {MIN_EVENTS_PER_TERM} per term, "
                     "estimates may be unstable")
    if problem:
        notes.insert(0, problem)
    model = {"outcome": outcome, "N": n, "n_population": data.n_population, "n_dropped_missing": data.n_population - n,
             "n_events": n_events, "converged": fitted is not None, "note": "; ".join(notes)}
    if fitted is None:
        return pd.DataFrame([model]).reindex(columns=list(REGRESSION_COLUMNS))
    terms = list(data.X.columns)
    ci = np.exp(fitted.conf_int().loc[terms].to_numpy())
    factor_level = [t.split("=", 1) for t in terms]
    rows = pd.DataFrame({
        "factor": [f for f, _ in factor_level],
        "level": [lv for _, lv in factor_level],
        "reference": [factors[f] for f, _ in factor_level],
        "n_level": data.X[terms].sum().astype(int).to_numpy(),
        "adjusted_or": np.exp(fitted.params.loc[terms].to_numpy()),
        "ci_low": ci[:, 0],
        "ci_high": ci[:, 1],
        "p": fitted.pvalues.loc[terms].to_numpy(),
    }).assign(**model)
    return rows[list(REGRESSION_COLUMNS)]


def fit_all(cases: pd.DataFrame, outcomes: tuple[str, ...] = vocab.OUTCOMES,
            factors: dict[str, str] = REGRESSION_FACTORS) -> pd.DataFrame:
    """``regression.csv``: :func:`fit_outcome` for each outcome, stacked."""
    frame = pd.concat([fit_outcome(cases, o, factors) for o in outcomes], ignore_index=True)
    for col in ("n_level", "N", "n_population", "n_dropped_missing", "n_events"):
        frame[col] = frame[col].astype("Int64")
    frame["converged"] = frame["converged"].astype("boolean")
    frame["note"] = frame["note"].fillna("")
    return frame


#: Rows of :func:`complete_counts` that are not a factor's level: ``factor`` is empty and ``level``
#: one of these (the outcome's population, its complete cases, the complete cases with the
#: positive outcome).
MODEL_TOTALS: Final[tuple[str, ...]] = ("population", "complete", "complete_yes")


def complete_counts(cases: pd.DataFrame, outcomes: tuple[str, ...] = vocab.OUTCOMES,
                    factors: dict[str, str] = REGRESSION_FACTORS) -> pd.DataFrame:
    """The counts behind each outcome's model, every level included: per outcome, the cases of its
    population, its complete cases (``N`` of ``regression.csv``), those with the positive outcome,
    and per factor and level (the reference and any level left out too) the complete cases at it.

    Columns ``outcome, factor, level, n, n_yes`` (``factor`` empty for :data:`MODEL_TOTALS`;
    ``n_yes``: of a level's complete cases, those with the positive outcome). Not a
    published file: a release keeps it with its unprotected values
    (:func:`msht.publish.results.write_unprotected`) as the true values
    :mod:`msht.publish.audit` checks ``regression.csv``'s constraints against."""
    coded = with_indicator_levels(cases)
    rows: list[dict[str, object]] = []
    for outcome in outcomes:
        positive, negative = OUTCOME_LEVELS[outcome]
        pop = coded[coded[outcome].isin([positive, negative])]
        known = pd.DataFrame({f: pop[f].isin(vocab.levels(f)) for f in factors}, index=pop.index)
        complete = pop[known.all(axis=1)]
        totals = (len(pop), len(complete), int((complete[outcome] == positive).sum()))
        yes = complete[outcome] == positive
        rows += [{"outcome": outcome, "factor": "", "level": name, "n": int(n), "n_yes": 0}
                 for name, n in zip(MODEL_TOTALS, totals)]
        rows += [{"outcome": outcome, "factor": f, "level": lv, "n": int((complete[f] == lv).sum()),
                  "n_yes": int(((complete[f] == lv) & yes).sum())} for f in factors for lv in vocab.levels(f)]
    return pd.DataFrame(rows, columns=["outcome", "factor", "level", "n", "n_yes"])


def known_share(cases: pd.DataFrame, factor: str) -> float:
    """Percentage of cases with a known level of ``factor`` (why county lines is left out)."""
    if len(cases) == 0:
        return math.nan
    return 100.0 * float(cases[factor].isin(vocab.levels(factor)).mean())


def summary(regression: pd.DataFrame) -> pd.DataFrame:
    """One row per model: outcome, N, population, cases dropped for missing data, events, estimated, note."""
    cols = ["outcome", "N", "n_population", "n_dropped_missing", "n_events", "converged", "note"]
    return regression.drop_duplicates("outcome")[cols].reset_index(drop=True)
