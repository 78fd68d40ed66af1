"""The synthetic twin's calibration targets (``msht/data/targets.yaml``) and their checks.

``targets.yaml`` holds integers decided from the study's printed figures before any generator
code was written (``msht/data/TARGETS.md`` explains every decision). :func:`load_targets`
reads it; :func:`check_targets` verifies that the decided integers agree with each other and
with the printed figures (shared totals across factors, printed percentages, printed χ²).
:func:`appendix4_cells` flattens Appendix 4 into one row per outcome × factor × level.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any, Final

import numpy as np
import pandas as pd
import yaml
from scipy import stats

#: Components of an Appendix 4 level target, in ``targets.yaml`` order.
A4_COMPONENTS: Final[tuple[str, ...]] = ("eng_N", "eng_n", "off_N", "off_n", "acc_n")

#: Appendix 4 factors measured on case-offender pairs rather than cases.
PAIR_FACTORS: Final[tuple[str, ...]] = (
    "offender_sex",
    "offender_age3",
    "offender_ethnicity2",
    "offender_uk_national",
)


@lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    text = resources.files("msht").joinpath("data/targets.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_targets() -> dict[str, Any]:
    """Return the parsed ``targets.yaml`` (a fresh deep copy each call)."""
    import copy

    return copy.deepcopy(_load())


def load_published() -> pd.DataFrame:
    """Return ``msht/data/published.csv`` (printed figures of Appendices 1-3, Table 1, 3.1-3.4)."""
    with resources.files("msht").joinpath("data/published.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype={"n": "Int64", "pct": "string"}, keep_default_na=False, na_values={"n": [""]})


def appendix4_cells(targets: dict[str, Any] | None = None) -> pd.DataFrame:
    """One row per outcome × factor × level of Appendix 4: ``outcome, factor, level, n, N``.

    ``outcome`` is ``engagement`` (n positive of N positive+negative), ``offered`` (n offered of
    N with an offer recorded) or ``accepted`` (n accepted of N offered).
    """
    t = targets or _load()
    rows = []
    for factor, levels in t["appendix4"].items():
        for level, v in levels.items():
            eng_N, eng_n, off_N, off_n, acc_n = v
            level = str(level).lower() if isinstance(level, bool) else str(level)
            rows.append(("engagement", factor, level, eng_n, eng_N))
            rows.append(("offered", factor, level, off_n, off_N))
            rows.append(("accepted", factor, level, acc_n, off_n))
    return pd.DataFrame(rows, columns=["outcome", "factor", "level", "n", "N"])


def chi2_of(ns: list[int], big_ns: list[int]) -> tuple[float, float]:
    """χ² and p of the k × 2 table (n, N - n) per level: Yates for 2 levels, Pearson otherwise."""
    table = np.array([[n, big - n] for n, big in zip(ns, big_ns)], dtype=float)
    res = stats.chi2_contingency(table, correction=len(ns) == 2)
    return float(res[0]), float(res[1])


def _pct(n: int, big: int) -> float:
    return round(100.0 * n / big + 1e-9, 1)


def check_targets(published_a4: pd.DataFrame | None = None) -> list[str]:
    """Check the decided targets; return a list of problems (empty when all agree).

    Checks: one-way totals sum to the population totals; Appendix 4 level totals never exceed
    the outcome totals; accepted denominators equal offered counts; each level's n/N prints
    as the published percentage and each factor's χ² as the published χ² (except the one
    recorded misprint, decision D5); Table 1 / section figures are not checked here.
    """
    t = _load()
    if published_a4 is None:
        with resources.files("msht").joinpath("data/appendix4_published.csv").open("r", encoding="utf-8") as fh:
            published_a4 = pd.read_csv(fh, dtype={"p_printed": str, "level": str})
    return _check_one_way_totals(t) + _check_appendix4_totals(t) + _check_printed_appendix4(t, published_a4)


def _check_one_way_totals(t: dict[str, Any]) -> list[str]:
    """Problems with the one-way victim and case counts against the population totals."""
    problems: list[str] = []
    nv, nc = t["totals"]["victims"], t["totals"]["cases"]
    for var in ("sex", "age6", "nationality_region", "uk_national", "police_records"):
        if sum(t["victims"][var].values()) != nv:
            problems.append(f"victims.{var} does not sum to {nv}")
    case_vars = (
        "referral_form", "referring_agency", "exploitation_location", "county_lines", "engagement", "offered",
        "recorded_offender",
    )
    for var in case_vars:
        vals = {str(k): v for k, v in t["cases"][var].items()}
        if sum(vals.values()) != nc:
            problems.append(f"cases.{var} does not sum to {nc}")
    cpv = t["victims"]["cases_per_victim"]
    if cpv["single"] + cpv["multi"] != nv or cpv["single"] + cpv["multi_cases"] != nc:
        problems.append("cases_per_victim does not give the totals")
    return problems


def _check_appendix4_totals(t: dict[str, Any]) -> list[str]:
    """Problems with the Appendix 4 outcome totals against the case counts and each other."""
    problems: list[str] = []
    nc = t["totals"]["cases"]
    tot = t["appendix4_totals"]
    if t["cases"]["offered"]["yes"] != tot["off_n"] or t["cases"]["accepted"]["yes"] != tot["acc_n"]:
        problems.append("offered/accepted totals disagree with appendix4_totals")
    if nc - t["cases"]["offered"]["unknown"] != tot["off_N"]:
        problems.append("offered N disagrees with cases.offered")
    eng = t["cases"]["engagement"]
    if eng["positive"] + eng["negative"] != tot["eng_N"] or eng["positive"] != tot["eng_n"]:
        problems.append("engagement totals disagree")
    per = t["cases"]["period"]
    if sum(p["offered_N"] for p in per.values()) != tot["off_N"]:
        problems.append("period offered N do not add up")
    if sum(p["offered_n"] for p in per.values()) != tot["off_n"]:
        problems.append("period offers do not add up")
    if sum(p["accepted_n"] for p in per.values()) != tot["acc_n"]:
        problems.append("period acceptances do not add up")
    for factor, levels in t["appendix4"].items():
        sums = np.sum([v for v in levels.values()], axis=0)
        for comp, s in zip(A4_COMPONENTS, sums):
            if s > tot[comp]:
                problems.append(f"{factor}: {comp} levels sum to {s} > total {tot[comp]}")
        if factor == "recorded_offender" and (sums[2] != tot["off_N"]):
            problems.append("recorded_offender has no missing level but its offered N differs from the total")
    # Exploitation types share one 'type recorded' denominator.
    types = ("criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude")
    tsums = {f: tuple(np.sum(list(t["appendix4"][f].values()), axis=0)) for f in types}
    if len(set(tsums.values())) != 1:
        problems.append(f"exploitation-type factors disagree on totals: {tsums}")
    pe = tuple(np.sum(list(t["appendix4"]["police_entries"].values()), axis=0))
    mp = tuple(np.sum(list(t["appendix4"]["more_perp_than_victim"].values()), axis=0))
    if pe != mp:
        problems.append("police_entries and more_perp_than_victim disagree on totals")
    return problems


def _check_printed_appendix4(t: dict[str, Any], published_a4: pd.DataFrame) -> list[str]:
    """Problems with the Appendix 4 cells against the printed n, % and χ² of ``published_a4``."""
    problems: list[str] = []
    cells = appendix4_cells(t)
    tests = published_a4[published_a4["factor"] != "overall"]
    for (outcome, factor), grp in tests.groupby(["outcome", "factor"], sort=False):
        mine = cells[(cells.outcome == outcome) & (cells.factor == factor)].set_index("level")
        ns, bigs = [], []
        for _, row in grp.iterrows():
            lv = str(row["level"])
            if lv not in mine.index:
                problems.append(f"{outcome} {factor} {lv}: no target")
                continue
            n, big = int(mine.loc[lv, "n"]), int(mine.loc[lv, "N"])
            if n != int(row["n"]):
                problems.append(f"{outcome} {factor} {lv}: n {n} != printed {row['n']}")
            if _pct(n, big) != round(float(row["pct"]), 1):
                problems.append(f"{outcome} {factor} {lv}: {n}/{big} does not print as {row['pct']}%")
            ns.append(n)
            bigs.append(big)
        chi2, _ = chi2_of(ns, bigs)
        printed = float(grp["chi2"].iloc[0])
        if round(chi2, 3) != round(printed, 3) and not (outcome, factor) == ("engagement", "county_lines"):
            problems.append(f"{outcome} {factor}: chi2 {chi2:.4f} does not print as {printed}")
        if abs(chi2 - printed) > 0.1:
            problems.append(f"{outcome} {factor}: chi2 {chi2:.4f} more than 0.1 from printed {printed}")
    return problems
