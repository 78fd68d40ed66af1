"""The calibrated synthetic population: a clean, deterministic twin of the study's data.

:func:`build_population` returns a :class:`~msht.synth.model.Population` (victims, cases,
case-offender pairs) whose counts reproduce the published figures transcribed in
``msht/data/published.csv`` / ``appendix4_published.csv``, through the integer targets decided
in ``msht/data/targets.yaml`` (decisions and conflicts: ``msht/data/TARGETS.md``).
:func:`calibration_report` lists every target with its published and reproduced value.

Method (swap-only simulated annealing):

1. Targets first (``targets.yaml``).
2. Every column starts as a shuffled array holding exactly its target counts, missing remainder
   included.
3. The annealer only *swaps* a value between two units (two cases; two victims for victim
   attributes; two offender slots or two offender persons), so every one-way count
   (Appendices 1-3, outcome totals) stays exact. The score is the sum of absolute differences
   from every Appendix 4 cell, plus Table 1 as a soft term, updated incrementally per move, at a
   low temperature (count units), with reheating cycles until every target is met. Hard rules
   are in the move generator: county lines only on criminal-exploitation cases located in the
   UK (or unrecorded); one police-record entry only for a single-case victim.
4. Stage 1 fits victims and cases; stage 2 fits case-offender pairs once case outcomes are fixed.
5. Scale k replicates the scale-1 population k times with new IDs.

Everything the study does not publish (offer x engagement, sex x age, co-occurring exploitation
types, ...) is arbitrary in the twin: see TARGETS.md.

Frame contract (``msht.synth.model``): victims ``n_entries``, ``n_as_victim`` and
``n_as_perpetrator`` are nullable ``Int64``: NA for the victims not found in the police-record
data (TARGETS.md D8). A case with all five exploitation flags False has no type recorded.

Integer codes used internally:

=========  ======================================================================
sex        0 male, 1 female, 2 missing
age6       0 17-, 1 18-24, 2 25-34, 3 35-44, 4 45-54, 5 55+, 6 missing
nat        0 UK, 1 european, 2 eastern_mediterranean, 3 western_pacific, 4 african,
           5 south_east_asia, 6 americas, 7 multiple incl. UK, 8 multiple without UK, 9 missing
rec        0 no police-record data, 1 one entry, 2 several & more as perpetrator, 3 several & not
period     0 before 2021, 1 2021 and later
referral   0 ms1, 1 nrm, 2 missing;  agency 0 internal, 1 external, 2 missing
county     0 yes, 1 no, 2 missing;   recorded offender 0 yes, 1 no
location   0 uk_only, 1 overseas_only, 2 both, 3 missing
types      bit mask: 1 criminal, 2 labour, 4 sexual, 8 domestic servitude, 16 other (0 = none recorded)
eng3       0 positive, 1 negative, 2 other (ongoing / no crime / unknown)
off4       0 offer not recorded, 1 not offered, 2 offered & declined, 3 offered & accepted
eth5       0 white, 1 asian, 2 black, 3 mixed, 4 other, 5 missing
=========  ======================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from msht.synth.model import Population
from msht.synth.targets import load_targets

# --- codes ---------------------------------------------------------------------------------
SEX_NA, AGE_NA, NAT_NA, ETH_NA = 2, 6, 9, 5
REC_NA, REC_ONE, REC_SEV_YES, REC_SEV_NO = 0, 1, 2, 3
CL_YES, CL_NO, CL_NA = 0, 1, 2
LOC_UK, LOC_NA = 0, 3
BIT_C, BIT_L, BIT_S, BIT_D, BIT_O = 1, 2, 4, 8, 16
TYPE_BITS = (BIT_C, BIT_L, BIT_S, BIT_D)
TYPE_FACTORS = ("criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude")
EXPLOITATION_COLUMNS = (*TYPE_FACTORS, "other_exploitation")

SEX_CODES = ("male", "female")
AGE6_CODES = ("17_and_under", "18_24", "25_34", "35_44", "45_54", "55_plus")
NAT_CODES = (
    "uk", "european", "eastern_mediterranean", "western_pacific", "african", "south_east_asia", "americas", "multiple",
)
ETH_CODES = ("white", "asian", "black", "mixed", "other")

#: Outcome contribution to an Appendix 4 level: (eng_N, eng_n, off_N, off_n, acc_n).
CONTRIB = tuple(
    tuple((int(e < 2), int(e == 0), int(o > 0), int(o >= 2), int(o == 3)) for o in range(4)) for e in range(3)
)

AGE3_OF_AGE6 = (0, 1, 2, 2, 2, 2, -1)
UK_OF_NAT = (0, 1, 1, 1, 1, 1, 1, 0, 1, -1)  # 0 uk, 1 non-uk, -1 missing


def _counts_array(rng: np.random.Generator, counts: list[int]) -> np.ndarray:
    """A shuffled array holding code ``i`` exactly ``counts[i]`` times."""
    arr = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    rng.shuffle(arr)
    return arr


class _Rand:
    """Blocks of uniform floats from a numpy Generator, as a Python list (fast scalar access)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 18) -> None:
        self.rng, self.block = rng, block
        self.buf: list[float] = []
        self.i = 0

    def refill(self) -> None:
        self.buf = self.rng.random(self.block).tolist()
        self.i = 0


@dataclass
class Stage1Result:
    """Integer-coded victims and cases after stage 1."""

    n_cases: np.ndarray
    victim_of_case: np.ndarray
    sex: np.ndarray
    age6: np.ndarray
    nat: np.ndarray
    rec: np.ndarray
    period: np.ndarray
    referral: np.ndarray
    agency: np.ndarray
    county: np.ndarray
    location: np.ndarray
    types: np.ndarray
    eng3: np.ndarray
    off4: np.ndarray
    recoff: np.ndarray
    score_app4: float = 0.0
    score_table1: float = 0.0
    iterations: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def _multi_case_counts(rng: np.random.Generator, n_multi: int, total: int, lo: int, hi: int) -> np.ndarray:
    """``n_multi`` integers in [lo, hi] summing to ``total``, spread around the mean."""
    k = np.full(n_multi, lo, dtype=np.int64)
    extra = total - lo * n_multi
    if extra < 0 or extra > (hi - lo) * n_multi:
        raise ValueError("cases per victim: impossible totals")
    while extra > 0:
        i = int(rng.integers(n_multi))
        if k[i] < hi:
            k[i] += 1
            extra -= 1
    return k


def _exchange_delta(
    dev: list, wts: list, g_in: int, g_out: int, diff: list[int], delta: float, ch: list[tuple[int, int]]
) -> float:
    """Add to ``delta`` the change in weighted absolute deviation from the targets when the five
    outcome counts ``diff`` join target group ``g_in`` and leave group ``g_out`` (a negative group
    is no target); append each deviation change ``(index, amount)`` to ``ch``; return the new delta.

    The hot step of the annealers: kept as one loop so that the sum is taken in the same order
    at every call site (the results are bit for bit those of the inlined loops it replaced).
    """
    for k in range(5):
        d = diff[k]
        if d:
            if g_in >= 0:
                i = 5 * g_in + k
                o = dev[i]
                delta += wts[i] * (abs(o + d) - abs(o))
                ch.append((i, d))
            if g_out >= 0:
                i = 5 * g_out + k
                o = dev[i]
                delta += wts[i] * (abs(o - d) - abs(o))
                ch.append((i, -d))
    return delta


def _commit(dev: list, ch: list[tuple[int, int]], n1: list, nk: list, ch1: list[tuple[int, int, int, int]]) -> None:
    """Apply an accepted move: deviation changes ``ch`` to ``dev``, and Table 1 count changes
    ``ch1`` (type, attribute, indicator change, known change) to ``n1`` and ``nk``."""
    for i, d in ch:
        dev[i] += d
    for j, a, d1, dk1 in ch1:
        n1[j][a] += d1
        nk[j][a] += dk1


def _allocate(
    rng: np.random.Generator,
    n_cases: np.ndarray,
    victims: list[int],
    case_target: list[float],
    single_only: tuple[int, ...] = (),
) -> np.ndarray:
    """Codes for victims: code ``i`` on exactly ``victims[i]`` victims, with the multi-case
    victims (largest first) placed on the codes whose case totals most need extra cases
    (``case_target[i] - victims[i]``). Codes in ``single_only`` go to single-case victims only."""
    nv = len(n_cases)
    out = np.full(nv, -1, dtype=np.int64)
    cap = list(victims)
    need = [ct - v for ct, v in zip(case_target, victims)]
    multi = np.flatnonzero(n_cases > 1)
    multi = multi[rng.permutation(len(multi))]
    multi = multi[np.argsort(-n_cases[multi], kind="stable")]
    for v in multi.tolist():
        ok = [i for i in range(len(cap)) if cap[i] > 0 and i not in single_only]
        i = max(ok, key=lambda j: (need[j], rng.random()))
        out[v] = i
        cap[i] -= 1
        need[i] -= int(n_cases[v]) - 1
    rest = np.flatnonzero(out < 0)
    rest = rest[rng.permutation(len(rest))]
    out[rest] = np.repeat(np.arange(len(cap), dtype=np.int64), cap)
    return out


# --- stage 1 layout ------------------------------------------------------------------------
#: Outcome aggregates of an Appendix 4 level, in the order of :data:`CONTRIB`: engagement
#: recorded (N), positive engagement (n), offer recorded (N), offered (n), accepted (n).
N_AGGREGATES = 5
#: Stage 1's Appendix 4 factors, as positions in a case's row of target groups.
(
    F_VICTIM_SEX, F_VICTIM_AGE, F_VICTIM_UK, F_POLICE_ENTRIES, F_MORE_PERP, F_PERIOD, F_REFERRAL, F_AGENCY,
    F_COUNTY_LINES, F_CRIMINAL, F_LABOUR, F_SEXUAL, F_DOMESTIC, F_RECORDED_OFFENDER,
) = range(14)
N_STAGE1_FACTORS = 14
#: The four exploitation-type factors, in the order of :data:`TYPE_BITS`: a case's type bit mask
#: decides all four at once.
F_TYPES = (F_CRIMINAL, F_LABOUR, F_SEXUAL, F_DOMESTIC)
#: Factors decided by each victim attribute (a victim swap changes them on all the victim's cases).
VICTIM_FACTORS: dict[str, tuple[int, ...]] = {
    "sex": (F_VICTIM_SEX,), "age6": (F_VICTIM_AGE,), "nat": (F_VICTIM_UK,),
    "rec": (F_POLICE_ENTRIES, F_MORE_PERP), "period": (F_PERIOD,),
}
#: Bit mask of the aggregates a case with engagement code e and offer code o counts in.
OUTCOME_MASK = tuple(
    tuple(sum(1 << k for k in range(N_AGGREGATES) if CONTRIB[e][o][k]) for o in range(4)) for e in range(3)
)
#: The aggregates (positions) set in each bit mask of aggregates.
AGGREGATES_OF_MASK = tuple(tuple(k for k in range(N_AGGREGATES) if m >> k & 1) for m in range(32))
#: Table 1 attributes of a case, in order: victim sex, victim age, victim nationality, location.
TABLE1_ATTRIBUTES = ("sex", "age6", "nat", "loc")
#: Table 1 share per attribute (columns of ``targets.yaml`` ``table1``), in the same order.
TABLE1_SHARES = ("male", "under18", "uk", "uk_only")
#: Per attribute code: (counts in the share's numerator, counts as known), as 0/1 indicators.
TABLE1_INDICATORS: dict[str, tuple[list[int], list[int]]] = {
    "sex": ([1, 0, 0], [1, 1, 0]),
    "age6": ([1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0]),
    "nat": ([1, 0, 0, 0, 0, 0, 0, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]),
    "loc": ([1, 0, 0, 0], [1, 1, 1, 0]),
}
T1_POSITION = {key: i for i, key in enumerate(TABLE1_ATTRIBUTES)}
T1_LOCATION = T1_POSITION["loc"]
#: Weight of a Table 1 share's deviation (in count units) against an Appendix 4 count unit.
TABLE1_WEIGHT = 1.0
#: Stage 1 move kinds and their relative frequencies.
STAGE1_MOVES = (
    ("eng", 10), ("off", 14), ("sex", 6), ("age6", 7), ("nat", 7), ("rec", 10), ("period", 5),
    ("ref", 4), ("agy", 5), ("cl", 5), ("rof", 8), ("loc", 5), ("types", 10),
)
BIT_OF_TYPE = dict(zip(EXPLOITATION_COLUMNS, (*TYPE_BITS, BIT_O)))


def _victims_and_cases(t: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Cases per victim (length victims) and the victim of each case (length cases), from the
    ``cases_per_victim`` targets. Raises ``ValueError`` if they do not add up to the case total."""
    cpv = t["victims"]["cases_per_victim"]
    multi = _multi_case_counts(rng, cpv["multi"], cpv["multi_cases"], cpv["multi_min"], cpv["multi_max"])
    n_cases = np.concatenate([np.ones(cpv["single"], dtype=np.int64), multi])
    rng.shuffle(n_cases)
    victim_of_case = np.repeat(np.arange(t["totals"]["victims"], dtype=np.int64), n_cases)
    if len(victim_of_case) != t["totals"]["cases"]:
        raise ValueError(
            f"targets: cases_per_victim gives {len(victim_of_case)} cases, totals.cases is {t['totals']['cases']}"
        )
    return n_cases, victim_of_case


def _case_targets(victims: list[int], groups: list[tuple[list[int], float]], grow: float, n_cases: int) -> list[float]:
    """Case total wanted per code: each group's offer-recorded N, scaled to all cases by ``grow``,
    split over its codes by victim counts; the last code (missing) takes the remainder of
    ``n_cases``."""
    out = [0.0] * len(victims)
    for codes, off_n in groups:
        vsum = sum(victims[i] for i in codes)
        for i in codes:
            out[i] = off_n * grow * victims[i] / vsum if vsum else 0.0
    out[-1] = n_cases - sum(out[:-1])
    return out


def _victim_attributes(t: dict[str, Any], rng: np.random.Generator, n_cases: np.ndarray) -> dict[str, np.ndarray]:
    """Integer codes of the victim attributes ``sex``, ``age6``, ``nat``, ``period``, ``rec``
    (each of length victims) with exact victim counts; multi-case victims go where the case
    totals of Appendix 4 need them. Raises ``ValueError`` on inconsistent police-record targets."""
    V, C, a4 = t["victims"], t["cases"], t["appendix4"]
    nv, nc = t["totals"]["victims"], t["totals"]["cases"]
    grow = nc / t["appendix4_totals"]["off_N"]  # cases per offer-recorded case
    sexv = [V["sex"]["male"], V["sex"]["female"], V["sex"]["unknown"]]
    sex_groups = [([0], a4["victim_sex"]["male"][2]), ([1], a4["victim_sex"]["female"][2])]
    sex = _allocate(rng, n_cases, sexv, _case_targets(sexv, sex_groups, grow, nc))
    agev = [V["age6"][c] for c in AGE6_CODES] + [V["age6"]["unknown"]]
    a3 = a4["victim_age3"]
    age_groups = [([0], a3["17_and_under"][2]), ([1], a3["18_24"][2]), ([2, 3, 4, 5], a3["25_plus"][2])]
    age6 = _allocate(rng, n_cases, agev, _case_targets(agev, age_groups, grow, nc))
    nr = V["nationality_region"]
    natv = [nr[c] for c in NAT_CODES] + [0, nr["unknown"]]  # all multiples hold UK (code 7)
    vu = a4["victim_uk_national"]
    nat_groups = [([0, 7], vu["uk"][2]), ([1, 2, 3, 4, 5, 6], vu["non_uk"][2])]
    nat = _allocate(rng, n_cases, natv, _case_targets(natv, nat_groups, grow, nc))
    per = C["period"]
    perv = [nv // 2, nv - nv // 2]
    per_t = [per["before_2021"]["offered_N"] * grow, per["from_2021"]["offered_N"] * grow]
    period = _allocate(rng, n_cases, perv, per_t)
    pr = V["police_records"]
    pe, mp = a4["police_entries"], a4["more_perp_than_victim"]
    recv = [pr["unknown"], pr["one"], pr["several_more_perp"], pr["several_not_more_perp"]]
    rec_t = [0.0, pe["one"][2] * grow, mp["yes"][2] * grow, (mp["no"][2] - pe["one"][2]) * grow]
    rec_t[0] = nc - sum(rec_t)
    rec = _allocate(rng, n_cases, recv, rec_t, single_only=(REC_ONE,))
    if (rec == REC_SEV_NO).sum() != pr["several_not_more_perp"]:
        raise ValueError("targets: police_records several_not_more_perp could not be placed on the victims")
    return {"sex": sex, "age6": age6, "nat": nat, "period": period, "rec": rec}


def _exploitation_types(rng: np.random.Generator, C: dict[str, Any], nc: int) -> np.ndarray:
    """Type bit masks of the ``nc`` cases: one type on each type-recorded case, the surplus
    mentions of ``exploitation_types`` as second types on those cases."""
    mentions = np.concatenate([np.full(n, BIT_OF_TYPE[k], dtype=np.int64) for k, n in C["exploitation_types"].items()])
    rng.shuffle(mentions)
    n_rec = C["exploitation_type_recorded"]
    types = np.zeros(nc, dtype=np.int64)
    types[:n_rec] = mentions[:n_rec]
    for m in mentions[n_rec:]:
        while True:
            i = int(rng.integers(n_rec))
            if not types[i] & m:
                types[i] |= m
                break
    rng.shuffle(types)
    return types


def _case_attributes(t: dict[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Integer codes of the case attributes (each of length cases), with exact one-way counts:
    ``referral``, ``agency``, ``location``, ``recoff``, ``eng3``, ``off4``, ``types`` and
    ``county`` (county lines "yes" only on criminal cases located in the UK or unrecorded)."""
    C, nc = t["cases"], t["totals"]["cases"]
    referral = _counts_array(rng, [C["referral_form"]["ms1"], C["referral_form"]["nrm"], C["referral_form"]["unknown"]])
    ra_ = C["referring_agency"]
    agency = _counts_array(rng, [ra_["internal"], ra_["external"], ra_["unknown"]])
    loc = C["exploitation_location"]
    location = _counts_array(rng, [loc["uk_only"], loc["overseas_only"], loc["both"], loc["unknown"]])
    recoff = _counts_array(rng, [C["recorded_offender"]["yes"], C["recorded_offender"]["no"]])
    eng = C["engagement"]
    eng3 = _counts_array(rng, [eng["positive"], eng["negative"], eng["ongoing"] + eng["no_crime"] + eng["unknown"]])
    off = C["offered"]
    off4 = _counts_array(rng, [off["unknown"], off["no"], C["accepted"]["no"], C["accepted"]["yes"]])
    types = _exploitation_types(rng, C, nc)
    cl = C["county_lines"]
    county = np.full(nc, CL_NA, dtype=np.int64)
    ok_yes = np.flatnonzero(((types & BIT_C) > 0) & ((location == LOC_UK) | (location == LOC_NA)))
    county[rng.choice(ok_yes, cl["yes"], replace=False)] = CL_YES
    others = np.flatnonzero(county == CL_NA)
    county[rng.choice(others, cl["no"], replace=False)] = CL_NO
    return {"referral": referral, "agency": agency, "location": location, "recoff": recoff,
            "eng3": eng3, "off4": off4, "types": types, "county": county}


@dataclass
class _TargetGroups:
    """Appendix 4 target groups (one per factor level): ``N_AGGREGATES`` targets and weights
    per group, flattened; group ``g``'s aggregate ``k`` is at ``N_AGGREGATES * g + k``."""

    target: list[int] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    names: list[tuple[str, str]] = field(default_factory=list)

    def add(self, factor: str, level: str, values: list[int], weights: tuple[float, ...] = (1.0,) * N_AGGREGATES) -> int:
        """Add one group; return its index."""
        self.names.append((factor, level))
        self.target.extend(values)
        self.weight.extend(weights)
        return len(self.names) - 1

    def levels(self, a4: dict[str, Any], factor: str, levels: list[str]) -> list[int]:
        """Add the groups of ``factor``'s ``levels`` with their Appendix 4 targets; return their indices."""
        return [self.add(factor, lv, list(a4[factor][lv])) for lv in levels]


@dataclass
class _Stage1Targets:
    """Stage 1's target groups and how case attributes map onto them.

    ``group_of[f][x]`` is the group of attribute code ``x`` for factor ``f`` (``F_*``), -1 for
    no target (a missing level). ``factor_groups[f]`` lists the groups of factor ``f``.
    ``missing_forbids[f]`` is the aggregate bit mask a case must not count in when factor ``f``
    is missing; ``level_requires[g]`` the bit mask a case in group ``g`` must count in
    (structural zeros implied by the targets, enforced as hard rules).
    """

    groups: _TargetGroups
    group_of: list[list[int]]
    factor_groups: list[list[int]]
    missing_forbids: list[int]
    level_requires: list[int]


def _stage1_targets(t: dict[str, Any]) -> _Stage1Targets:
    """The Appendix 4 groups of stage 1, the factor -> group maps and the structural zeros."""
    a4, C = t["appendix4"], t["cases"]
    gr = _TargetGroups()
    g_sex = gr.levels(a4, "victim_sex", ["male", "female"])
    g_age = gr.levels(a4, "victim_age3", ["17_and_under", "18_24", "25_plus"])
    g_uk = gr.levels(a4, "victim_uk_national", ["uk", "non_uk"])
    g_pe = gr.levels(a4, "police_entries", ["one", "several"])
    g_mp = gr.levels(a4, "more_perp_than_victim", ["yes", "no"])
    per = C["period"]
    g_per = [
        gr.add("period", p, [0, 0, per[p]["offered_N"], per[p]["offered_n"], per[p]["accepted_n"]], (0.0, 0.0, 1.0, 1.0, 1.0))
        for p in ("before_2021", "from_2021")
    ]
    g_ref = gr.levels(a4, "referral_form", ["ms1", "nrm"])
    g_agy = gr.levels(a4, "referring_agency", ["internal", "external"])
    g_cl = gr.levels(a4, "county_lines", ["yes", "no"])
    g_types = [gr.levels(a4, f, ["yes", "no"]) for f in TYPE_FACTORS]
    g_rof = gr.levels(a4, "recorded_offender", ["yes", "no"])
    group_of: list[list[int]] = [[] for _ in range(N_STAGE1_FACTORS)]
    group_of[F_VICTIM_SEX] = [g_sex[0], g_sex[1], -1]
    group_of[F_VICTIM_AGE] = [g_age[a] if a >= 0 else -1 for a in AGE3_OF_AGE6]
    group_of[F_VICTIM_UK] = [g_uk[u] if u >= 0 else -1 for u in UK_OF_NAT]
    group_of[F_POLICE_ENTRIES] = [-1, g_pe[0], g_pe[1], g_pe[1]]
    group_of[F_MORE_PERP] = [-1, g_mp[1], g_mp[0], g_mp[1]]  # one entry -> not more perp
    group_of[F_PERIOD] = [g_per[0], g_per[1]]
    group_of[F_REFERRAL] = [g_ref[0], g_ref[1], -1]
    group_of[F_AGENCY] = [g_agy[0], g_agy[1], -1]
    group_of[F_COUNTY_LINES] = [g_cl[0], g_cl[1], -1]
    for f, bit, g in zip(F_TYPES, TYPE_BITS, g_types):  # bit mask -> yes/no; none recorded -> -1
        group_of[f] = [-1 if m == 0 else (g[0] if m & bit else g[1]) for m in range(32)]
    group_of[F_RECORDED_OFFENDER] = [g_rof[0], g_rof[1]]
    factor_groups = [g_sex, g_age, g_uk, g_pe, g_mp, g_per, g_ref, g_agy, g_cl, *g_types, g_rof]

    # A component k of a factor's missing level is forced to 0 when the factor's levels already
    # hold the whole outcome total (e.g. every offered case has police-record data); a level whose
    # one-way case total equals its target N must have that outcome recorded on every case
    # (e.g. every case without a recorded offender has an offer recorded).
    t4, tgt = t["appendix4_totals"], gr.target
    totals = [t4["eng_N"], t4["eng_n"], t4["off_N"], t4["off_n"], t4["acc_n"]]
    missing_forbids = [0] * N_STAGE1_FACTORS
    for f, gs in enumerate(factor_groups):
        if f == F_PERIOD:  # never missing
            continue
        for k in range(N_AGGREGATES):
            if sum(tgt[N_AGGREGATES * g + k] for g in gs) == totals[k]:
                missing_forbids[f] |= 1 << k
    et, n_rec = C["exploitation_types"], C["exploitation_type_recorded"]
    level_total = {
        g_ref[0]: C["referral_form"]["ms1"], g_ref[1]: C["referral_form"]["nrm"],
        g_agy[0]: C["referring_agency"]["internal"], g_agy[1]: C["referring_agency"]["external"],
        g_cl[0]: C["county_lines"]["yes"], g_cl[1]: C["county_lines"]["no"],
        g_rof[0]: C["recorded_offender"]["yes"], g_rof[1]: C["recorded_offender"]["no"],
    }
    for j, name in enumerate(TYPE_FACTORS):
        level_total[g_types[j][0]] = et[name]
        level_total[g_types[j][1]] = n_rec - et[name]
    level_requires = [0] * len(gr.names)
    for g, total in level_total.items():
        for k in (0, 2):  # the two N aggregates: engagement recorded, offer recorded
            if tgt[N_AGGREGATES * g + k] == total:
                level_requires[g] |= 1 << k
    return _Stage1Targets(gr, group_of, factor_groups, missing_forbids, level_requires)


class _Stage1Annealer:
    """The state of the stage 1 fit as Python lists (fast scalar access) and its moves.

    Victim attribute codes are lists of length victims, case codes lists of length cases.
    ``deviation`` holds reproduced minus target per group aggregate; ``victim_outcomes[v]`` the
    aggregates summed over victim ``v``'s cases; ``case_group[c][f]`` case ``c``'s group for
    factor ``f``; ``forbidden[c]`` / ``required[c]`` its structural-zero bit masks. Table 1 is
    kept as ``t1_hits[j][a]`` (cases of type ``j`` whose attribute ``a`` is in the share's
    numerator) and ``t1_known[j][a]`` (known), against the target shares ``t1_share[j][a]``.
    """

    def __init__(self, t: dict[str, Any], n_cases: np.ndarray, victim_of_case: np.ndarray,
                 victim: dict[str, np.ndarray], case: dict[str, np.ndarray], targets: _Stage1Targets) -> None:
        self.nv, self.nc = t["totals"]["victims"], t["totals"]["cases"]
        self.targets = targets
        self.group_of = targets.group_of
        self.target, self.weight = targets.groups.target, targets.groups.weight
        self.missing_forbids, self.level_requires = targets.missing_forbids, targets.level_requires
        self.vsex, self.vage, self.vnat = victim["sex"].tolist(), victim["age6"].tolist(), victim["nat"].tolist()
        self.vrec, self.vper = victim["rec"].tolist(), victim["period"].tolist()
        self.cref, self.cagy, self.ccl = case["referral"].tolist(), case["agency"].tolist(), case["county"].tolist()
        self.cloc, self.ctyp = case["location"].tolist(), case["types"].tolist()
        self.ceng, self.coff, self.crof = case["eng3"].tolist(), case["off4"].tolist(), case["recoff"].tolist()
        self.vic = victim_of_case.tolist()
        self.ncas = n_cases.tolist()
        self.cases_of: list[list[int]] = [[] for _ in range(self.nv)]
        for c, v in enumerate(self.vic):
            self.cases_of[v].append(c)
        self.victim_attr = {"sex": self.vsex, "age6": self.vage, "nat": self.vnat, "rec": self.vrec, "period": self.vper}
        #: case attribute move kind -> (codes, factor)
        self.case_attr = {"ref": (self.cref, F_REFERRAL), "agy": (self.cagy, F_AGENCY),
                          "cl": (self.ccl, F_COUNTY_LINES), "rof": (self.crof, F_RECORDED_OFFENDER)}
        self.case_group = [self._case_groups(c) for c in range(self.nc)]
        self.forbidden = [0] * self.nc
        self.required = [0] * self.nc
        for c in range(self.nc):
            self.forbidden[c], self.required[c] = self.case_masks(c)
        self.contrib = [CONTRIB[self.ceng[c]][self.coff[c]] for c in range(self.nc)]
        self.cmask = [OUTCOME_MASK[self.ceng[c]][self.coff[c]] for c in range(self.nc)]
        self.t1_share = [[t["table1"][tn][sk] / 100.0 for sk in TABLE1_SHARES] for tn in TYPE_FACTORS]

    def _case_groups(self, c: int) -> list[int]:
        """Case ``c``'s group per factor (-1 for no target)."""
        v = self.vic[c]
        m = self.ctyp[c]
        vrec = self.vrec[v]
        vals = (self.vsex[v], self.vage[v], self.vnat[v], vrec, vrec, self.vper[v],
                self.cref[c], self.cagy[c], self.ccl[c], m, m, m, m, self.crof[c])
        return [self.group_of[f][vals[f]] for f in range(N_STAGE1_FACTORS)]

    def case_masks(self, c: int) -> tuple[int, int]:
        """Case ``c``'s (forbidden, required) aggregate bit masks under its current groups."""
        fb = rq = 0
        cg = self.case_group[c]
        missing_forbids, level_requires = self.missing_forbids, self.level_requires
        for f in range(N_STAGE1_FACTORS):
            g = cg[f]
            if g < 0:
                fb |= missing_forbids[f]
            else:
                rq |= level_requires[g]
        return fb, rq

    def _valid(self, c: int, m: int) -> bool:
        return not (m & self.forbidden[c]) and not (self.required[c] & ~m)

    def repair_outcomes(self, rng: np.random.Generator, rounds: int = 50, tries: int = 20000) -> None:
        """Swap engagement and offer codes between cases until every case obeys the structural
        zeros. Raises ``CalibrationError`` if ``rounds`` rounds do not get there."""
        nc, ceng, coff = self.nc, self.ceng, self.coff
        for _ in range(rounds):
            bad = [c for c in range(nc) if not self._valid(c, self.cmask[c])]
            if not bad:
                break
            for a in bad:
                for _try in range(tries):
                    b = int(rng.integers(nc))
                    for swap_eng, swap_off in ((False, True), (True, False), (True, True)):
                        ea, eb = (ceng[b], ceng[a]) if swap_eng else (ceng[a], ceng[b])
                        oa, ob = (coff[b], coff[a]) if swap_off else (coff[a], coff[b])
                        if self._valid(a, OUTCOME_MASK[ea][oa]) and self._valid(b, OUTCOME_MASK[eb][ob]):
                            ceng[a], ceng[b], coff[a], coff[b] = ea, eb, oa, ob
                            break
                    else:
                        continue
                    break
            self.contrib = [CONTRIB[ceng[c]][coff[c]] for c in range(nc)]
            self.cmask = [OUTCOME_MASK[ceng[c]][coff[c]] for c in range(nc)]
        else:
            raise CalibrationError("could not place the outcomes under the structural zeros")

    def count(self) -> None:
        """Compute ``victim_outcomes``, ``deviation`` and the Table 1 counts from the codes."""
        nv, nc = self.nv, self.nc
        self.victim_outcomes = [[0, 0, 0, 0, 0] for _ in range(nv)]
        cur = [0] * len(self.target)
        for c in range(nc):
            cc = self.contrib[c]
            vo = self.victim_outcomes[self.vic[c]]
            for k in range(N_AGGREGATES):
                vo[k] += cc[k]
            for g in self.case_group[c]:
                if g >= 0:
                    for k in range(N_AGGREGATES):
                        cur[N_AGGREGATES * g + k] += cc[k]
        self.deviation = [cur[i] - self.target[i] for i in range(len(cur))]
        self.t1_hits = [[0, 0, 0, 0] for _ in range(4)]
        self.t1_known = [[0, 0, 0, 0] for _ in range(4)]
        self.victim_types = [[0, 0, 0, 0] for _ in range(nv)]  # cases of each type per victim
        for c in range(nc):
            m = self.ctyp[c]
            vals = self._table1_values(c)
            for j, bit in enumerate(TYPE_BITS):
                if m & bit:
                    self.victim_types[self.vic[c]][j] += 1
                    for a, key in enumerate(TABLE1_ATTRIBUTES):
                        self.t1_hits[j][a] += TABLE1_INDICATORS[key][0][vals[a]]
                        self.t1_known[j][a] += TABLE1_INDICATORS[key][1][vals[a]]

    def _table1_values(self, c: int) -> tuple[int, int, int, int]:
        """Case ``c``'s codes of the Table 1 attributes (victim sex, age6, nat; location)."""
        v = self.vic[c]
        return self.vsex[v], self.vage[v], self.vnat[v], self.cloc[c]

    def score_app4(self) -> float:
        """Weighted absolute deviation from every Appendix 4 target (count units)."""
        wts, dev = self.weight, self.deviation
        return sum(wts[i] * abs(dev[i]) for i in range(len(dev)))

    def score_table1(self) -> float:
        """Weighted absolute deviation from every Table 1 share (count units)."""
        n1, nk, p1 = self.t1_hits, self.t1_known, self.t1_share
        return sum(TABLE1_WEIGHT * abs(n1[j][a] - p1[j][a] * nk[j][a]) for j in range(4) for a in range(4))

    def anneal(self, rng: np.random.Generator, max_iter: int, anneal_iter: int, temp0: float, temp1: float,
               reheat_iter: int, reheat_temp: float) -> tuple[int, list[tuple[int, float, bool]]]:
        """Run the annealer: a cooling from ``temp0`` to ``temp1`` over ``anneal_iter`` moves, then
        reheating cycles from ``reheat_temp`` until every Appendix 4 target is met and Table 1 is
        within its margin (checked every 20,480 moves), or ``max_iter`` moves. Returns the number
        of moves and the trace (move, Appendix 4 score, Table 1 met)."""
        table: list[tuple[Any, str]] = []
        for name, w in STAGE1_MOVES:
            move = (self._move_victim_attr if name in VICTIM_FACTORS else self._move_outcome if name in ("eng", "off")
                    else self._move_case_attr if name in self.case_attr else self._move_location if name == "loc"
                    else self._move_types)
            table.extend([(move, name)] * w)
        n_table = len(table)
        rand = _Rand(rng)
        rand.refill()
        buf, bi, blen = rand.buf, 0, len(rand.buf)
        exp = math.exp
        it = 0
        check_every = 256 * 80
        log_ratio = math.log(temp1 / temp0)
        temp = temp0
        trace: list[tuple[int, float, bool]] = []
        for it in range(1, max_iter + 1):
            if bi + 4 > blen:
                rand.refill()
                buf, bi, blen = rand.buf, 0, len(rand.buf)
            move, kind = table[int(buf[bi] * n_table)]
            ra, rb, racc = buf[bi + 1], buf[bi + 2], buf[bi + 3]
            bi += 4
            if it % 256 == 0:
                if it <= anneal_iter:
                    temp = temp0 * exp(log_ratio * it / anneal_iter)
                else:  # reheating cycles until every target is met
                    frac = ((it - anneal_iter) % reheat_iter) / reheat_iter
                    temp = reheat_temp * exp(math.log(temp1 / reheat_temp) * frac)
                if it % check_every == 0:
                    score_a4 = self.score_app4()
                    t1_ok = _table1_ok(self.t1_hits, self.t1_known, self.t1_share)
                    trace.append((it, score_a4, t1_ok))
                    if score_a4 == 0 and t1_ok:
                        break
            move(kind, ra, rb, racc, temp)
        return it, trace

    def _move_victim_attr(self, kind: str, ra: float, rb: float, racc: float, temp: float) -> None:
        """Swap victim attribute ``kind`` between two victims (all their cases move groups)."""
        nv, outcomes = self.nv, self.victim_outcomes
        arr = self.victim_attr[kind]
        a = int(ra * nv)
        b = int(rb * nv)
        xa, xb = arr[a], arr[b]
        if xa == xb:
            return
        ncas = self.ncas
        if kind == "rec" and ((xb == REC_ONE and ncas[a] > 1) or (xa == REC_ONE and ncas[b] > 1)):
            return
        group_of, missing_forbids = self.group_of, self.missing_forbids
        out_a, out_b = outcomes[a], outcomes[b]
        factors = VICTIM_FACTORS[kind]
        blocked = False
        for f in factors:
            if group_of[f][xb] < 0 and any(out_a[k] for k in AGGREGATES_OF_MASK[missing_forbids[f]]):
                blocked = True
            if group_of[f][xa] < 0 and any(out_b[k] for k in AGGREGATES_OF_MASK[missing_forbids[f]]):
                blocked = True
        if blocked:
            return
        dev, wts = self.deviation, self.weight
        delta = 0.0
        ch: list[tuple[int, int]] = []
        dv = [out_b[k] - out_a[k] for k in range(5)]
        for f in factors:
            gm = group_of[f]
            g1, g2 = gm[xa], gm[xb]
            if g1 == g2:
                continue
            delta = _exchange_delta(dev, wts, g1, g2, dv, delta, ch)
        n1, nk, p1 = self.t1_hits, self.t1_known, self.t1_share
        ch1: list[tuple[int, int, int, int]] = []
        if kind in ("sex", "age6", "nat"):
            ai = T1_POSITION[kind]
            ind1, kn = TABLE1_INDICATORS[kind]
            di, dk = ind1[xb] - ind1[xa], kn[xb] - kn[xa]
            if di or dk:
                tva, tvb = self.victim_types[a], self.victim_types[b]
                for j in range(4):
                    m = tva[j] - tvb[j]
                    if m:
                        on1, onk, p = n1[j][ai], nk[j][ai], p1[j][ai]
                        nn1, nnk = on1 + m * di, onk + m * dk
                        delta += TABLE1_WEIGHT * (abs(nn1 - p * nnk) - abs(on1 - p * onk))
                        ch1.append((j, ai, m * di, m * dk))
        if delta > 0 and racc >= math.exp(-delta / temp):
            return
        _commit(dev, ch, n1, nk, ch1)
        arr[a], arr[b] = xb, xa
        cases_of, case_group = self.cases_of, self.case_group
        for f in factors:
            gm = group_of[f]
            ga, gb = gm[xb], gm[xa]
            for c in cases_of[a]:
                case_group[c][f] = ga
            for c in cases_of[b]:
                case_group[c][f] = gb
        forb, req = self.forbidden, self.required
        for c in cases_of[a]:
            forb[c], req[c] = self.case_masks(c)
        for c in cases_of[b]:
            forb[c], req[c] = self.case_masks(c)

    def _move_outcome(self, kind: str, ra: float, rb: float, racc: float, temp: float) -> None:
        """Swap the engagement (``kind`` "eng") or offer ("off") code between two cases, a
        quarter of the time two cases of one victim."""
        nc, vic, ceng, coff = self.nc, self.vic, self.ceng, self.coff
        a = int(ra * nc)
        sib = self.cases_of[vic[a]]
        if rb < 0.25 and len(sib) > 1:  # another case of the same victim: victim factors unchanged
            b = sib[int(rb * 4.0 * len(sib))]
        else:
            b = int((rb - 0.25) / 0.75 * nc) if rb >= 0.25 else int(rb * 4.0 * nc)
        if kind == "eng":
            ea, eb = ceng[a], ceng[b]
            if ea == eb:
                return
            na_c, nb_c = CONTRIB[eb][coff[a]], CONTRIB[ea][coff[b]]
            nma, nmb = OUTCOME_MASK[eb][coff[a]], OUTCOME_MASK[ea][coff[b]]
        else:
            oa, ob = coff[a], coff[b]
            if oa == ob:
                return
            na_c, nb_c = CONTRIB[ceng[a]][ob], CONTRIB[ceng[b]][oa]
            nma, nmb = OUTCOME_MASK[ceng[a]][ob], OUTCOME_MASK[ceng[b]][oa]
        forb, req = self.forbidden, self.required
        if (nma & forb[a]) or (req[a] & ~nma) or (nmb & forb[b]) or (req[b] & ~nmb):
            return
        contrib = self.contrib
        ca = contrib[a]
        da = [na_c[k] - ca[k] for k in range(5)]
        ks = [k for k in range(5) if da[k]]
        if not ks:  # same contribution: a neutral move
            if kind == "eng":
                ceng[a], ceng[b] = ceng[b], ceng[a]
            else:
                coff[a], coff[b] = coff[b], coff[a]
            return
        dev, wts = self.deviation, self.weight
        cga, cgb = self.case_group[a], self.case_group[b]
        delta = 0.0
        ch = []
        for f in range(N_STAGE1_FACTORS):
            g1, g2 = cga[f], cgb[f]
            if g1 == g2:
                continue
            if g1 >= 0:
                base = 5 * g1
                for k in ks:
                    i = base + k
                    o = dev[i]
                    d = da[k]
                    delta += wts[i] * (abs(o + d) - abs(o))
                    ch.append((i, d))
            if g2 >= 0:
                base = 5 * g2
                for k in ks:
                    i = base + k
                    o = dev[i]
                    d = -da[k]
                    delta += wts[i] * (abs(o + d) - abs(o))
                    ch.append((i, d))
        if delta > 0 and racc >= math.exp(-delta / temp):
            return
        for i, d in ch:
            dev[i] += d
        if kind == "eng":
            ceng[a], ceng[b] = ceng[b], ceng[a]
        else:
            coff[a], coff[b] = coff[b], coff[a]
        contrib[a], contrib[b] = na_c, nb_c
        self.cmask[a], self.cmask[b] = nma, nmb
        va, vb = self.victim_outcomes[vic[a]], self.victim_outcomes[vic[b]]
        for k in ks:
            va[k] += da[k]
            vb[k] -= da[k]

    def _move_case_attr(self, kind: str, ra: float, rb: float, racc: float, temp: float) -> None:
        """Swap case attribute ``kind`` (referral, agency, county lines, recorded offender)
        between two cases."""
        nc = self.nc
        arr, f = self.case_attr[kind]
        a = int(ra * nc)
        b = int(rb * nc)
        xa, xb = arr[a], arr[b]
        if xa == xb:
            return
        if kind == "cl":
            ctyp, cloc = self.ctyp, self.cloc
            if xb == CL_YES and (not ctyp[a] & BIT_C or cloc[a] not in (LOC_UK, LOC_NA)):
                return
            if xa == CL_YES and (not ctyp[b] & BIT_C or cloc[b] not in (LOC_UK, LOC_NA)):
                return
        ca, cb = self.contrib[a], self.contrib[b]
        gm = self.group_of[f]
        g1, g2 = gm[xa], gm[xb]
        ma, mb = self.cmask[a], self.cmask[b]
        missing_forbids, level_requires = self.missing_forbids, self.level_requires
        if (ma & missing_forbids[f]) if g2 < 0 else (level_requires[g2] & ~ma):
            return
        if (mb & missing_forbids[f]) if g1 < 0 else (level_requires[g1] & ~mb):
            return
        dev = self.deviation
        delta = 0.0
        ch: list[tuple[int, int]] = []
        if ca != cb:
            delta = _exchange_delta(dev, self.weight, g1, g2, [cb[k] - ca[k] for k in range(5)], delta, ch)
        if delta > 0 and racc >= math.exp(-delta / temp):
            return
        for i, d in ch:
            dev[i] += d
        arr[a], arr[b] = xb, xa
        self.case_group[a][f], self.case_group[b][f] = g2, g1
        self.forbidden[a], self.required[a] = self.case_masks(a)
        self.forbidden[b], self.required[b] = self.case_masks(b)

    def _move_location(self, kind: str, ra: float, rb: float, racc: float, temp: float) -> None:
        """Swap the exploitation location between two cases (a Table 1 term only)."""
        nc, cloc, ccl = self.nc, self.cloc, self.ccl
        a = int(ra * nc)
        b = int(rb * nc)
        xa, xb = cloc[a], cloc[b]
        if xa == xb:
            return
        if (ccl[a] == CL_YES and xb not in (LOC_UK, LOC_NA)) or (ccl[b] == CL_YES and xa not in (LOC_UK, LOC_NA)):
            return
        n1, nk, p1 = self.t1_hits, self.t1_known, self.t1_share
        ind1, kn = TABLE1_INDICATORS["loc"]
        di, dk = ind1[xb] - ind1[xa], kn[xb] - kn[xa]
        ta, tb = self.ctyp[a], self.ctyp[b]
        delta = 0.0
        ch1 = []
        if di or dk:
            for j, bit in enumerate(TYPE_BITS):
                m = (1 if ta & bit else 0) - (1 if tb & bit else 0)
                if m:
                    on1, onk, p = n1[j][T1_LOCATION], nk[j][T1_LOCATION], p1[j][T1_LOCATION]
                    nn1, nnk = on1 + m * di, onk + m * dk
                    delta += TABLE1_WEIGHT * (abs(nn1 - p * nnk) - abs(on1 - p * onk))
                    ch1.append((j, T1_LOCATION, m * di, m * dk))
        if delta > 0 and racc >= math.exp(-delta / temp):
            return
        _commit(self.deviation, [], n1, nk, ch1)
        cloc[a], cloc[b] = xb, xa

    def _move_types(self, kind: str, ra: float, rb: float, racc: float, temp: float) -> None:
        """Swap the whole exploitation-type bit mask between two cases."""
        nc, ctyp, ccl = self.nc, self.ctyp, self.ccl
        a = int(ra * nc)
        b = int(rb * nc)
        ta, tb = ctyp[a], ctyp[b]
        if ta == tb:
            return
        if (ccl[a] == CL_YES and not tb & BIT_C) or (ccl[b] == CL_YES and not ta & BIT_C):
            return
        group_of, missing_forbids, level_requires = self.group_of, self.missing_forbids, self.level_requires
        ma, mb = self.cmask[a], self.cmask[b]
        for f in F_TYPES:
            gnew_a, gnew_b = group_of[f][tb], group_of[f][ta]
            bad_a = (ma & missing_forbids[f]) if gnew_a < 0 else (level_requires[gnew_a] & ~ma)
            bad_b = (mb & missing_forbids[f]) if gnew_b < 0 else (level_requires[gnew_b] & ~mb)
            if bad_a or bad_b:
                return
        ca, cb = self.contrib[a], self.contrib[b]
        dev = self.deviation
        delta = 0.0
        ch: list[tuple[int, int]] = []
        if ca != cb:
            dd = [cb[k] - ca[k] for k in range(5)]
            for f in F_TYPES:
                gm = group_of[f]
                g1, g2 = gm[ta], gm[tb]
                if g1 == g2:
                    continue
                delta = _exchange_delta(dev, self.weight, g1, g2, dd, delta, ch)
        n1, nk, p1 = self.t1_hits, self.t1_known, self.t1_share
        ch1 = []
        vala, valb = self._table1_values(a), self._table1_values(b)
        for j, bit in enumerate(TYPE_BITS):
            m = (1 if tb & bit else 0) - (1 if ta & bit else 0)  # change of case a's membership
            if m:
                for ai, key in enumerate(TABLE1_ATTRIBUTES):
                    ind1, kn = TABLE1_INDICATORS[key]
                    d1 = m * (ind1[vala[ai]] - ind1[valb[ai]])
                    dk1 = m * (kn[vala[ai]] - kn[valb[ai]])
                    if d1 or dk1:
                        on1, onk, p = n1[j][ai], nk[j][ai], p1[j][ai]
                        delta += TABLE1_WEIGHT * (abs(on1 + d1 - p * (onk + dk1)) - abs(on1 - p * onk))
                        ch1.append((j, ai, d1, dk1))
        if delta > 0 and racc >= math.exp(-delta / temp):
            return
        _commit(dev, ch, n1, nk, ch1)
        ctyp[a], ctyp[b] = tb, ta
        tva, tvb = self.victim_types[self.vic[a]], self.victim_types[self.vic[b]]
        for j, bit in enumerate(TYPE_BITS):
            m = (1 if tb & bit else 0) - (1 if ta & bit else 0)
            if m:
                tva[j] += m
                tvb[j] -= m
        for f in F_TYPES:
            self.case_group[a][f], self.case_group[b][f] = group_of[f][tb], group_of[f][ta]
        self.forbidden[a], self.required[a] = self.case_masks(a)
        self.forbidden[b], self.required[b] = self.case_masks(b)

    def result(self, n_cases: np.ndarray, victim_of_case: np.ndarray, iterations: int,
               trace: list[tuple[int, float, bool]]) -> Stage1Result:
        """The fitted codes as a :class:`Stage1Result`."""
        return Stage1Result(
            n_cases=n_cases,
            victim_of_case=victim_of_case,
            sex=np.array(self.vsex), age6=np.array(self.vage), nat=np.array(self.vnat), rec=np.array(self.vrec),
            period=np.array(self.vper), referral=np.array(self.cref), agency=np.array(self.cagy),
            county=np.array(self.ccl), location=np.array(self.cloc), types=np.array(self.ctyp),
            eng3=np.array(self.ceng), off4=np.array(self.coff), recoff=np.array(self.crof),
            score_app4=self.score_app4(), score_table1=self.score_table1(), iterations=iterations,
            stats={"groups": self.targets.groups.names, "dev": self.deviation, "trace": trace},
        )


def stage1(
    t: dict[str, Any],
    rng: np.random.Generator,
    max_iter: int = 30_000_000,
    anneal_iter: int = 3_000_000,
    temp0: float = 1.5,
    temp1: float = 0.1,
    reheat_iter: int = 1_000_000,
    reheat_temp: float = 0.4,
) -> Stage1Result:
    """Fit victims and cases to Appendix 1, 2 and 4 (case-level factors) and Table 1.

    Draws, in order: cases per victim, victim attributes, case attributes; repairs the outcomes
    under the structural zeros; then anneals (see :meth:`_Stage1Annealer.anneal`). Raises
    ``ValueError`` on inconsistent targets and ``CalibrationError`` if the outcomes cannot be placed.
    """
    n_cases, victim_of_case = _victims_and_cases(t, rng)
    victim = _victim_attributes(t, rng, n_cases)
    case = _case_attributes(t, rng)
    fit = _Stage1Annealer(t, n_cases, victim_of_case, victim, case, _stage1_targets(t))
    fit.repair_outcomes(rng)
    fit.count()
    iterations, trace = fit.anneal(rng, max_iter, anneal_iter, temp0, temp1, reheat_iter, reheat_temp)
    return fit.result(n_cases, victim_of_case, iterations, trace)


def _table1_ok(n1: list[list[int]], nk: list[list[int]], p1: list[list[float]], margin: float = 0.6) -> bool:
    """True when every Table 1 share is within ``margin`` points of its target."""
    for j in range(4):
        for a in range(4):
            if nk[j][a] == 0 or abs(100.0 * (n1[j][a] / nk[j][a] - p1[j][a])) > margin:
                return False
    return True


# =============================================================================================
# Stage 2: offenders as case-offender pairs, once case outcomes are fixed
# =============================================================================================

OFF_NAT_MULTI_UK, OFF_NAT_MULTI_NON_UK = 7, 8


@dataclass
class Stage2Result:
    """Integer-coded offender persons and case-offender pairs after stage 2."""

    pair_case: np.ndarray  # stage-1 case index of each pair
    pair_person: np.ndarray  # person index of each pair
    sex: np.ndarray
    age6: np.ndarray
    eth5: np.ndarray
    nat: np.ndarray
    score: float = 0.0
    iterations: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def _slot_targets(t: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """Pairs wanted in each outcome aggregate (engagement known, positive, offer known, offered,
    accepted): the sex-known pair totals of Appendix 4 scaled up by persons / sex-known persons,
    so that offenders of unknown sex take their share of the pairs."""
    a4 = t["appendix4"]["offender_sex"]
    o = t["offenders"]["sex"]
    scale = sum(o.values()) / (o["male"] + o["female"])
    tot = [sum(a4[lv][k] for lv in ("male", "female")) for k in range(5)]
    # aggregates: eng_N, eng_n, off_N, off_n, acc_n
    return tuple(int(round(x * scale)) for x in tot)  # type: ignore[return-value]


def _offenders_per_case(t: dict[str, Any], rng: np.random.Generator, ccontrib: list[tuple[int, ...]]
                        ) -> tuple[list[int], list[int], tuple[int, ...]]:
    """Offenders on each case with an offender (length ``len(ccontrib)``), swapped between cases
    until the pairs in each outcome aggregate match :func:`_slot_targets`. Returns the counts,
    the pairs per aggregate reached and the pairs wanted. Raises ``ValueError`` when
    ``offenders_per_case`` does not match the cases with an offender."""
    opc = t["offenders"]["offenders_per_case"]
    n_oc = len(ccontrib)
    several = [np.full(n, int(k), dtype=np.int64) for k, n in opc["several_counts"].items()]
    ks = np.concatenate([np.ones(opc["one"], dtype=np.int64), *several])
    if len(ks) != n_oc:
        raise ValueError(f"offenders_per_case gives {len(ks)} cases, stage 1 has {n_oc} cases with an offender")
    rng.shuffle(ks)
    k = ks.tolist()
    want = _slot_targets(t)
    have = [sum(k[i] * ccontrib[i][j] for i in range(n_oc)) for j in range(5)]
    rand = _Rand(rng)
    rand.refill()
    buf, bi = rand.buf, 0
    for _ in range(2_000_000):
        if sum(abs(h - w) for h, w in zip(have, want)) == 0:
            break
        if bi + 3 > len(buf):
            rand.refill()
            buf, bi = rand.buf, 0
        a, b, racc = int(buf[bi] * n_oc), int(buf[bi + 1] * n_oc), buf[bi + 2]
        bi += 3
        dk = k[b] - k[a]
        if dk == 0:
            continue
        ca, cb = ccontrib[a], ccontrib[b]
        new = [have[j] + dk * (ca[j] - cb[j]) for j in range(5)]
        delta = sum(abs(n - w) for n, w in zip(new, want)) - sum(abs(h - w) for h, w in zip(have, want))
        if delta > 0 and racc >= math.exp(-delta / 0.3):
            continue
        have = new
        k[a], k[b] = k[b], k[a]
    return k, have, want


def _offender_persons(t: dict[str, Any], rng: np.random.Generator) -> tuple[list[list[int]], np.ndarray]:
    """Offender persons' codes [sex, age6, eth5, nat] (lists of length persons) with the exact
    Appendix 3 counts, shuffled, and the cases per person (shuffled)."""
    O = t["offenders"]
    psex = _counts_array(rng, [O["sex"]["male"], O["sex"]["female"], O["sex"]["unknown"]]).tolist()
    page = _counts_array(rng, [O["age6"][c] for c in AGE6_CODES] + [O["age6"]["unknown"]]).tolist()
    peth = _counts_array(rng, [O["ethnicity5"][c] for c in ETH_CODES] + [O["ethnicity5"]["unknown"]]).tolist()
    nr = O["nationality_region"]
    mu = O["multiple_with_uk"]
    pnat = _counts_array(rng, [nr[c] for c in NAT_CODES[:7]] + [mu, nr["multiple"] - mu, nr["unknown"]]).tolist()
    mult = np.concatenate([np.full(n, int(m), dtype=np.int64) for m, n in O["cases_per_person"].items()])
    return [psex, page, peth, pnat], mult


def _slots(rng: np.random.Generator, k: list[int], mult: np.ndarray) -> tuple[list[int], list[int], list[list[int]]]:
    """Case-offender slots: the case of each slot (case ``i`` holds ``k[i]`` slots), a person on
    each (person ``p`` on ``mult[p]`` slots, never twice on one case) and the persons on each case.
    Raises ``ValueError`` when the persons' cases do not add up to the slots."""
    n_p = len(mult)
    rng.shuffle(mult)
    slot_case = [i for i in range(len(k)) for _ in range(k[i])]
    n_s = len(slot_case)
    persons = np.repeat(np.arange(n_p), mult)
    rng.shuffle(persons)
    slot_person = persons.tolist()
    on_case: list[list[int]] = [[] for _ in range(len(k))]
    for s, c in enumerate(slot_case):
        on_case[c].append(slot_person[s])
    # repair: a person appears at most once on a case
    for s in range(n_s):
        c, p = slot_case[s], slot_person[s]
        while on_case[c].count(p) > 1:
            s2 = int(rng.integers(n_s))
            c2, p2 = slot_case[s2], slot_person[s2]
            if c2 == c or p2 == p or p in on_case[c2] or p2 in on_case[c]:
                continue
            on_case[c].remove(p)
            on_case[c].append(p2)
            on_case[c2].remove(p2)
            on_case[c2].append(p)
            slot_person[s], slot_person[s2] = p2, p
            p = p2
    return slot_case, slot_person, on_case


#: Share of stage 2 moves that move a person between two slots (the rest swap a person attribute).
SLOT_MOVE_SHARE = 0.6
N_OFFENDER_FACTORS = 4  # sex, age3, ethnicity2, uk national: one per person attribute


def _stage2_groups(t: dict[str, Any]) -> tuple[_TargetGroups, list[list[int]]]:
    """Appendix 4's offender groups and, per person attribute (sex, age6, eth5, nat), the map
    from code to group (-1 for no target)."""
    a4 = t["appendix4"]
    gr = _TargetGroups()
    g_sex = gr.levels(a4, "offender_sex", ["male", "female"])
    g_age = gr.levels(a4, "offender_age3", ["17_and_under", "18_24", "25_plus"])
    g_eth = gr.levels(a4, "offender_ethnicity2", ["white", "other"])
    g_uk = gr.levels(a4, "offender_uk_national", ["uk", "non_uk"])
    group_of = [
        [g_sex[0], g_sex[1], -1],
        [g_age[a] if a >= 0 else -1 for a in AGE3_OF_AGE6],
        [g_eth[0], g_eth[1], g_eth[1], g_eth[1], g_eth[1], -1],
        [g_uk[u] if u >= 0 else -1 for u in UK_OF_NAT],
    ]
    return gr, group_of


class _Stage2Annealer:
    """The state of the stage 2 fit: slots (case, person), persons' codes ``pattr[f]`` per
    attribute, ``person_outcomes[p]`` (aggregates summed over person ``p``'s slots) and
    ``deviation`` (reproduced minus target per group aggregate; every target weighs alike)."""

    def __init__(self, groups: _TargetGroups, group_of: list[list[int]], pattr: list[list[int]],
                 ccontrib: list[tuple[int, ...]], slot_case: list[int], slot_person: list[int],
                 on_case: list[list[int]]) -> None:
        self.group_of, self.pattr, self.ccontrib = group_of, pattr, ccontrib
        self.slot_case, self.slot_person, self.on_case = slot_case, slot_person, on_case
        self.n_p, self.n_s = len(pattr[0]), len(slot_case)
        self.person_outcomes = [[0, 0, 0, 0, 0] for _ in range(self.n_p)]
        cur = [0] * (5 * len(groups.names))
        for s in range(self.n_s):
            p, cc = slot_person[s], ccontrib[slot_case[s]]
            pc = self.person_outcomes[p]
            for j in range(5):
                pc[j] += cc[j]
            for f in range(N_OFFENDER_FACTORS):
                g = group_of[f][pattr[f][p]]
                if g >= 0:
                    for j in range(5):
                        cur[5 * g + j] += cc[j]
        self.deviation = [cur[i] - groups.target[i] for i in range(len(cur))]
        self.ones = [1] * len(self.deviation)

    def anneal(self, rng: np.random.Generator, max_iter: int, anneal_iter: int, temp0: float, temp1: float) -> int:
        """Cool from ``temp0`` to ``temp1`` over ``anneal_iter`` moves, then hold, until every
        target is met (checked every 10,240 moves) or ``max_iter`` moves; return the moves made."""
        rand = _Rand(rng)
        rand.refill()
        buf, bi, blen = rand.buf, 0, len(rand.buf)
        exp = math.exp
        log_ratio = math.log(temp1 / temp0)
        temp = temp0
        dev = self.deviation
        it = 0
        for it in range(1, max_iter + 1):
            if bi + 4 > blen:
                rand.refill()
                buf, bi, blen = rand.buf, 0, len(rand.buf)
            rk, ra, rb, racc = buf[bi], buf[bi + 1], buf[bi + 2], buf[bi + 3]
            bi += 4
            if it % 256 == 0:
                temp = temp0 * exp(log_ratio * min(1.0, it / anneal_iter))
                if it % (256 * 40) == 0 and not any(dev):
                    break
            if rk < SLOT_MOVE_SHARE:
                self._move_slot(ra, rb, racc, temp)
            else:
                f = int((rk - SLOT_MOVE_SHARE) / (1 - SLOT_MOVE_SHARE) * N_OFFENDER_FACTORS)
                self._move_attribute(f, ra, rb, racc, temp)
        return it

    def _move_slot(self, ra: float, rb: float, racc: float, temp: float) -> None:
        """Swap the persons of two slots (cases with different outcomes)."""
        slot_case, slot_person, on_case = self.slot_case, self.slot_person, self.on_case
        s1_, s2_ = int(ra * self.n_s), int(rb * self.n_s)
        c1, c2 = slot_case[s1_], slot_case[s2_]
        p1, p2 = slot_person[s1_], slot_person[s2_]
        if c1 == c2 or p1 == p2:
            return
        cc1, cc2 = self.ccontrib[c1], self.ccontrib[c2]
        if cc1 == cc2 or p1 in on_case[c2] or p2 in on_case[c1]:
            return
        dev = self.deviation
        d5 = [cc2[j] - cc1[j] for j in range(5)]
        delta = 0.0
        ch: list[tuple[int, int]] = []
        for f in range(N_OFFENDER_FACTORS):
            gm, av = self.group_of[f], self.pattr[f]
            g1, g2 = gm[av[p1]], gm[av[p2]]
            if g1 == g2:
                continue
            delta = _exchange_delta(dev, self.ones, g1, g2, d5, delta, ch)
        if delta > 0 and racc >= math.exp(-delta / temp):
            return
        for i, d in ch:
            dev[i] += d
        slot_person[s1_], slot_person[s2_] = p2, p1
        on_case[c1].remove(p1)
        on_case[c1].append(p2)
        on_case[c2].remove(p2)
        on_case[c2].append(p1)
        pc1, pc2 = self.person_outcomes[p1], self.person_outcomes[p2]
        for j in range(5):
            pc1[j] += d5[j]
            pc2[j] -= d5[j]

    def _move_attribute(self, f: int, ra: float, rb: float, racc: float, temp: float) -> None:
        """Swap person attribute ``f`` between two persons."""
        av = self.pattr[f]
        p1, p2 = int(ra * self.n_p), int(rb * self.n_p)
        x1, x2 = av[p1], av[p2]
        if x1 == x2:
            return
        gm = self.group_of[f]
        g1, g2 = gm[x1], gm[x2]
        if g1 == g2:
            av[p1], av[p2] = x2, x1
            return
        out1, out2 = self.person_outcomes[p1], self.person_outcomes[p2]
        ch: list[tuple[int, int]] = []
        dev = self.deviation
        delta = _exchange_delta(dev, self.ones, g1, g2, [out2[j] - out1[j] for j in range(5)], 0.0, ch)
        if delta > 0 and racc >= math.exp(-delta / temp):
            return
        for i, d in ch:
            dev[i] += d
        av[p1], av[p2] = x2, x1


def stage2(
    t: dict[str, Any],
    s1: Stage1Result,
    rng: np.random.Generator,
    max_iter: int = 20_000_000,
    anneal_iter: int = 1_500_000,
    temp0: float = 1.0,
    temp1: float = 0.1,
) -> Stage2Result:
    """Fit case-offender pairs to Appendix 4's offender factors; persons keep Appendix 3 exactly.

    Draws, in order: offenders per case, persons, slots; then anneals. Raises ``ValueError``
    when the offender targets do not match stage 1 or each other.
    """
    off_cases = np.flatnonzero(s1.recoff == 0)
    ccontrib = [CONTRIB[e][o] for e, o in zip(s1.eng3[off_cases].tolist(), s1.off4[off_cases].tolist())]
    k, have, want = _offenders_per_case(t, rng, ccontrib)
    pattr, mult = _offender_persons(t, rng)
    if len(mult) != t["totals"]["offender_persons"] or mult.sum() != sum(k):
        raise ValueError("cases_per_person does not match persons / pairs")
    slot_case, slot_person, on_case = _slots(rng, k, mult)
    groups, group_of = _stage2_groups(t)
    fit = _Stage2Annealer(groups, group_of, pattr, ccontrib, slot_case, slot_person, on_case)
    it = fit.anneal(rng, max_iter, anneal_iter, temp0, temp1)
    psex, page, peth, pnat = pattr
    return Stage2Result(
        pair_case=off_cases[np.asarray(slot_case, dtype=np.int64)], pair_person=np.asarray(slot_person, dtype=np.int64),
        sex=np.array(psex), age6=np.array(page), eth5=np.array(peth), nat=np.array(pnat),
        score=float(sum(abs(d) for d in fit.deviation)), iterations=it,
        stats={"groups": groups.names, "dev": fit.deviation, "slot_totals": have, "slot_targets": want},
    )


# =============================================================================================
# From integer codes to the clean population frames
# =============================================================================================

#: Countries drawn within each WHO region (canonical names of ``msht/data/who_regions.csv``),
#: with relative weights loosely following UK NRM referral nationalities. Arbitrary in the twin.
VICTIM_COUNTRIES: dict[str, dict[str, int]] = {
    "european": {
        "Albania": 45, "Romania": 15, "Poland": 8, "Lithuania": 5, "Bulgaria": 5, "Slovakia": 4, "Ukraine": 4,
        "Czechia": 3, "Hungary": 3, "Latvia": 3, "Turkey": 3, "Moldova": 2, "Portugal": 2, "Kosovo": 2,
    },
    "eastern_mediterranean": {
        "Sudan": 30, "Iran": 20, "Iraq": 18, "Afghanistan": 15, "Egypt": 6, "Pakistan": 6, "Syria": 5,
        "Kuwait": 3, "Somalia": 3, "Libya": 2, "Yemen": 2,
    },
    "western_pacific": {"Vietnam": 70, "China": 20, "Philippines": 6, "Malaysia": 2, "Mongolia": 2},
    "african": {
        "Eritrea": 35, "Nigeria": 15, "Ethiopia": 12, "Ghana": 6, "South Sudan": 5, "Sierra Leone": 4, "Guinea": 4,
        "Angola": 3, "Cameroon": 3, "Gambia": 3, "Democratic Republic of the Congo": 3, "Kenya": 3, "Zimbabwe": 2,
    },
    "south_east_asia": {
        "India": 45, "Bangladesh": 20, "Sri Lanka": 12, "Nepal": 8, "Indonesia": 5, "Thailand": 5, "Myanmar": 3,
    },
    "americas": {
        "Brazil": 6, "Jamaica": 6, "Colombia": 3, "Trinidad and Tobago": 2, "El Salvador": 2, "Venezuela": 2,
        "Mexico": 1, "Ecuador": 1,
    },
}
#: Second nationality of dual nationals who also hold UK nationality.
DUAL_WITH_UK: dict[str, int] = {
    "Jamaica": 5, "Ireland": 4, "Nigeria": 3, "Pakistan": 3, "Albania": 2, "Ghana": 2, "Poland": 2,
    "India": 2, "Somalia": 2, "Portugal": 1, "Trinidad and Tobago": 1,
}
#: Dual nationalities without the UK (offenders only).
DUAL_WITHOUT_UK: dict[str, int] = {"Romania; Italy": 1, "Albania; Greece": 1}
OFFENDER_COUNTRIES: dict[str, dict[str, int]] = {
    "european": {
        "Romania": 25, "Albania": 25, "Poland": 10, "Lithuania": 8, "Bulgaria": 5, "Slovakia": 5, "Hungary": 4,
        "Czechia": 3, "Latvia": 3,
    },
    "eastern_mediterranean": {"Pakistan": 10, "Iraq": 6, "Iran": 6, "Afghanistan": 4, "Kuwait": 2, "Sudan": 2},
    "western_pacific": {"China": 10, "Vietnam": 10},
    "african": {"Nigeria": 6, "Ghana": 3, "Eritrea": 2},
    "south_east_asia": {"India": 5, "Bangladesh": 3, "Sri Lanka": 2},
    "americas": {"Jamaica": 5, "Brazil": 3, "Trinidad and Tobago": 2},
}
UK = "United Kingdom"

#: Ages (completed years) within each band and their relative weights. Arbitrary in the twin.
_VICTIM_AGES: tuple[tuple[range, list[float]], ...] = (
    (range(9, 18), [1, 1, 2, 3, 6, 10, 14, 16, 17]),
    (range(18, 25), [1] * 7),
    (range(25, 35), [1] * 10),
    (range(35, 45), [1] * 10),
    (range(45, 55), [1] * 10),
    (range(55, 81), [0.9**i for i in range(26)]),
)
_OFFENDER_AGES: tuple[tuple[range, list[float]], ...] = (
    (range(13, 18), [1, 3, 5, 7, 8]),
    (range(18, 25), [1] * 7),
    (range(25, 35), [1] * 10),
    (range(35, 45), [1] * 10),
    (range(45, 55), [1] * 10),
    (range(55, 76), [0.88**i for i in range(21)]),
)

START = np.datetime64("2018-01-01")
SPLIT = np.datetime64("2021-01-01")
END = np.datetime64("2023-12-31")


def _draw(rng: np.random.Generator, options: dict[str, int], size: int) -> np.ndarray:
    names = np.array(list(options), dtype=object)
    w = np.array(list(options.values()), dtype=float)
    return names[rng.choice(len(names), size=size, p=w / w.sum())]


def _ages(
    rng: np.random.Generator, band: np.ndarray, table: tuple[tuple[range, list[float]], ...], na: int
) -> pd.Series:
    out = np.full(len(band), -1, dtype=np.int64)
    for b, (values, w) in enumerate(table):
        idx = np.flatnonzero(band == b)
        if len(idx):
            ww = np.asarray(w, dtype=float)
            out[idx] = np.asarray(values)[rng.choice(len(ww), size=len(idx), p=ww / ww.sum())]
    s = pd.Series(out, dtype="Int64")
    s[band == na] = pd.NA
    return s


def _nationalities(rng: np.random.Generator, nat: np.ndarray, countries: dict[str, dict[str, int]]) -> np.ndarray:
    out = np.full(len(nat), None, dtype=object)
    out[nat == 0] = UK
    for r, region in enumerate(NAT_CODES[1:7], start=1):
        idx = np.flatnonzero(nat == r)
        out[idx] = _draw(rng, countries[region], len(idx))
    idx = np.flatnonzero(nat == 7)
    out[idx] = [f"{UK}; {c}" for c in _draw(rng, DUAL_WITH_UK, len(idx))]
    idx = np.flatnonzero(nat == OFF_NAT_MULTI_NON_UK)
    out[idx] = _draw(rng, DUAL_WITHOUT_UK, len(idx))
    return out


def _dates(rng: np.random.Generator, period: np.ndarray, n_cases: np.ndarray, window: int) -> list[np.ndarray]:
    """Distinct case dates per victim: all in the victim's period, within ``window`` days."""
    out: list[np.ndarray] = []
    bounds = ((START, SPLIT - np.timedelta64(1, "D")), (SPLIT, END))
    for p, k in zip(period.tolist(), n_cases.tolist()):
        lo, hi = bounds[p]
        span = int((hi - lo) / np.timedelta64(1, "D"))
        if k == 1:
            out.append(np.array([lo + np.timedelta64(int(rng.integers(span + 1)), "D")]))
        else:
            anchor = lo + np.timedelta64(int(rng.integers(span - window + 2)), "D")
            offs = np.sort(rng.choice(window, size=k, replace=False))
            out.append(anchor + offs.astype("timedelta64[D]"))
    return out


def _entries(
    rng: np.random.Generator, t: dict[str, Any], rec: np.ndarray, n_cases: np.ndarray
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Police-record entries per victim (total, as victim, as perpetrator) meeting section 3.2."""
    E = t["victims"]["entries"]
    nv = len(rec)
    n = np.zeros(nv, dtype=np.int64)
    vic = np.zeros(nv, dtype=np.int64)
    perp = np.zeros(nv, dtype=np.int64)
    has = rec != REC_NA
    one = rec == REC_ONE
    n[one], vic[one] = 1, 1
    yes_idx = np.flatnonzero(rec == REC_SEV_YES)
    no_idx = np.flatnonzero(rec == REC_SEV_NO)
    # the two outliers of footnote 10: one more often perpetrator, one not
    out_yes = int(rng.choice(yes_idx))
    out_no = int(rng.choice(no_idx))
    big, big2 = E["outliers"]
    n[out_yes], vic[out_yes], perp[out_yes] = big, max(int(n_cases[out_yes]), 640), 1530
    n[out_no], vic[out_no], perp[out_no] = big2, max(int(n_cases[out_no]), 910), 700
    yes_idx = yes_idx[yes_idx != out_yes]
    no_idx = no_idx[no_idx != out_no]
    sev = np.concatenate([yes_idx, no_idx])
    # totals: 2 + a lognormal draw, more for those more often recorded as perpetrator
    mu = np.where(rec[sev] == REC_SEV_YES, 2.25, 1.85)
    draw = 2 + np.floor(np.exp(rng.normal(mu, 1.15))).astype(np.int64)
    need = np.where(rec[sev] == REC_SEV_YES, 2 * n_cases[sev] + 1, np.maximum(2, n_cases[sev] + 1))
    vals = np.minimum(np.maximum(draw, need), E["max_without_outliers"] - 1)
    vals[int(np.argmax(vals))] = E["max_without_outliers"]
    n[sev] = vals
    # median exactly 8 over victims with records, outliers removed
    base = np.flatnonzero(has)
    base = base[(base != out_yes) & (base != out_no)]
    half = len(base) // 2 - 1 if len(base) % 2 == 0 else len(base) // 2
    med = E["median"]
    for cmp in ("low", "high"):
        sel = n[base] < med if cmp == "low" else n[base] > med
        excess = int(sel.sum()) - half
        if excess > 0:
            cand = base[sel]
            floor = np.where(rec[cand] == REC_SEV_YES, 2 * n_cases[cand] + 1, n_cases[cand] + 1)
            cand = cand[(rec[cand] != REC_ONE) & (n[cand] != E["max_without_outliers"]) & (floor <= med)]
            n[rng.choice(cand, excess, replace=False)] = med
    # roles
    zero = rng.choice(yes_idx[(n_cases[yes_idx] == 1)], E["with_no_victim_entry"], replace=False)
    for v in yes_idx.tolist():
        tot, k = int(n[v]), int(n_cases[v])
        if v in zero:
            vic[v] = 0
            perp[v] = 1 + int(rng.integers(tot))
            continue
        hi_v = (tot - 1) // 2
        vic[v] = k + int(rng.binomial(hi_v - k, 0.3)) if hi_v > k else k
        lo_p, hi_p = vic[v] + 1, tot - vic[v]
        perp[v] = lo_p + int(rng.binomial(hi_p - lo_p, 0.6)) if hi_p > lo_p else lo_p
    # at least one entry as perpetrator: all of "more often perpetrator" (outlier excluded), the
    # rest from "not more often"
    n_perp_no = E["with_perpetrator_entry"] - len(yes_idx)
    ok = no_idx[n[no_idx] >= n_cases[no_idx] + 1]
    with_perp = set(rng.choice(ok, n_perp_no, replace=False).tolist())
    for v in no_idx.tolist():
        tot, k = int(n[v]), int(n_cases[v])
        if v in with_perp:
            hi_p = min(tot // 2, tot - k)
            perp[v] = 1 + int(rng.binomial(hi_p - 1, 0.4)) if hi_p > 1 else 1
            lo_v = max(k, int(perp[v]))
            vic[v] = lo_v + int(rng.binomial(tot - perp[v] - lo_v, 0.5)) if tot - perp[v] > lo_v else lo_v
        else:
            perp[v] = 0
            vic[v] = k + int(rng.binomial(tot - k, 0.6)) if tot > k else k
    na = ~has
    to_s = lambda a: pd.Series(a, dtype="Int64").mask(na)  # noqa: E731
    return to_s(n), to_s(vic), to_s(perp)


def _frames(t: dict[str, Any], s1: Stage1Result, s2: Stage2Result, rng: np.random.Generator) -> Population:
    nv, nc = len(s1.n_cases), len(s1.victim_of_case)
    # --- victims ---------------------------------------------------------------------------
    n_entries, n_vic, n_perp = _entries(rng, t, s1.rec, s1.n_cases)
    victims = pd.DataFrame(
        {
            "victim_id": np.arange(1, nv + 1, dtype=np.int64),
            "sex": np.array(["male", "female", None], dtype=object)[s1.sex],
            "age": _ages(rng, s1.age6, _VICTIM_AGES, AGE_NA),
            "nationality": _nationalities(rng, s1.nat, VICTIM_COUNTRIES),
            "n_entries": n_entries,
            "n_as_victim": n_vic,
            "n_as_perpetrator": n_perp,
        }
    )
    # --- cases -----------------------------------------------------------------------------
    window = int(t["victims"]["cases_per_victim"]["window_days"])
    per_victim = _dates(rng, s1.period, s1.n_cases, window)
    order = np.argsort(s1.victim_of_case, kind="stable")  # cases are grouped by victim already
    dates = np.empty(nc, dtype="datetime64[D]")
    dates[order] = np.concatenate(per_victim)
    eng = np.empty(nc, dtype=object)
    eng[s1.eng3 == 0], eng[s1.eng3 == 1] = "positive", "negative"
    other = np.flatnonzero(s1.eng3 == 2)
    e = t["cases"]["engagement"]
    rest_codes = np.array(["ongoing", "no_crime", "unknown"], dtype=object)
    eng[other] = rng.permutation(np.repeat(rest_codes, [e["ongoing"], e["no_crime"], e["unknown"]]))
    offered = np.array([None, "no", "yes", "yes"], dtype=object)[s1.off4]
    accepted = np.array([None, None, "no", "yes"], dtype=object)[s1.off4]
    cases = pd.DataFrame(
        {
            "case_index": np.arange(nc),
            "victim_id": s1.victim_of_case + 1,
            "date": pd.to_datetime(dates).astype("datetime64[ns]"),
            "referral_form": np.array(["ms1", "nrm", None], dtype=object)[s1.referral],
            "referring_agency": np.array(["internal", "external", None], dtype=object)[s1.agency],
            "criminal_exploitation": (s1.types & BIT_C) > 0,
            "labour_exploitation": (s1.types & BIT_L) > 0,
            "sexual_exploitation": (s1.types & BIT_S) > 0,
            "domestic_servitude": (s1.types & BIT_D) > 0,
            "other_exploitation": (s1.types & BIT_O) > 0,
            "exploitation_location": np.array(["uk_only", "overseas_only", "both", None], dtype=object)[s1.location],
            "county_lines": np.array(["yes", "no", None], dtype=object)[s1.county],
            "engagement": eng,
            "offered": offered,
            "accepted": accepted,
            "recorded_offender": np.array(["yes", "no"], dtype=object)[s1.recoff],
        }
    )
    cases = cases.sort_values(["date", "victim_id", "case_index"], kind="stable").reset_index(drop=True)
    case_id_of_index = np.empty(nc, dtype=np.int64)
    case_id_of_index[cases["case_index"].to_numpy()] = np.arange(1, nc + 1, dtype=np.int64)
    cases.insert(0, "case_id", np.arange(1, nc + 1, dtype=np.int64))
    cases = cases.drop(columns="case_index")
    # --- offenders -----------------------------------------------------------------------------
    n_p = len(s2.sex)
    person_order = rng.permutation(n_p)  # offender ids in random order
    off_age = _ages(rng, s2.age6, _OFFENDER_AGES, AGE_NA)
    off_nat = _nationalities(rng, s2.nat, OFFENDER_COUNTRIES)
    p = s2.pair_person
    offenders = pd.DataFrame(
        {
            "case_id": case_id_of_index[s2.pair_case],
            "offender_id": (person_order[p] + 1).astype(np.int64),
            "sex": np.array(["male", "female", None], dtype=object)[s2.sex[p]],
            "age": off_age.iloc[p].reset_index(drop=True),
            "ethnicity_group5": np.array([*ETH_CODES, None], dtype=object)[s2.eth5[p]],
            "nationality": off_nat[p],
        }
    ).sort_values(["case_id", "offender_id"], kind="stable").reset_index(drop=True)
    return Population(victims=victims, cases=cases, offenders=offenders)


def _replicate(pop: Population, scale: int) -> Population:
    """``scale`` copies of ``pop`` with new IDs (counts exactly proportional)."""
    if scale == 1:
        return pop
    nv = int(pop.victims["victim_id"].max())
    nc = int(pop.cases["case_id"].max())
    no = int(pop.offenders["offender_id"].max()) if len(pop.offenders) else 0
    vs, cs, os_ = [], [], []
    for r in range(scale):
        vs.append(pop.victims.assign(victim_id=pop.victims["victim_id"] + r * nv))
        cs.append(pop.cases.assign(case_id=pop.cases["case_id"] + r * nc, victim_id=pop.cases["victim_id"] + r * nv))
        o = pop.offenders
        os_.append(o.assign(case_id=o["case_id"] + r * nc, offender_id=o["offender_id"] + r * no))
    return Population(
        victims=pd.concat(vs, ignore_index=True),
        cases=pd.concat(cs, ignore_index=True),
        offenders=pd.concat(os_, ignore_index=True),
    )


class CalibrationError(RuntimeError):
    """The annealer stopped before meeting every hard target (should not happen)."""


def _build(seed: int) -> Population:
    """Build the scale-1 population of ``seed`` (no cache)."""
    t = load_targets()
    rng = np.random.default_rng(seed)
    s1 = stage1(t, rng)
    if s1.score_app4 != 0:
        raise CalibrationError(f"stage 1 stopped {s1.score_app4} count units from the Appendix 4 targets")
    s2 = stage2(t, s1, rng)
    if s2.score != 0:
        raise CalibrationError(f"stage 2 stopped {s2.score} count units from the Appendix 4 offender targets")
    pop = _frames(t, s1, s2, rng)
    pop.check()
    return pop


_CACHE: dict[int, Population] = {}


def build_population(seed: int = 20240132, scale: int = 1) -> Population:
    """Build the calibrated, deterministic, clean synthetic population.

    At ``scale`` 1 it reproduces the targets of ``msht/data/targets.yaml`` (see
    :func:`calibration_report`); ``scale`` k > 1 replicates that population k times with new
    IDs, so every count is exactly k times the scale-1 count. The same seed gives the same
    frames. The scale-1 population of the last few seeds is cached in memory (the frames
    returned are copies).
    """
    if int(scale) != scale or int(scale) < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    seed = int(seed)
    if seed not in _CACHE:
        if len(_CACHE) >= 2:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[seed] = _build(seed)
    base = _CACHE[seed]
    pop = Population(victims=base.victims.copy(), cases=base.cases.copy(), offenders=base.offenders.copy())
    return _replicate(pop, int(scale))


# =============================================================================================
# Calibration report: every target, published vs reproduced
# =============================================================================================

REPORT_COLUMNS = (
    "source", "table", "variable", "level", "subgroup",
    "published", "reproduced", "difference", "tolerance", "within_tolerance", "note",
)
#: Notes of report rows that show a printed figure the twin deliberately does not reproduce
#: (a conflict between printed figures; see TARGETS.md) start with this word. They are not
#: targets, and their ``within_tolerance`` is False.
CONFLICT = "conflict"
T1_TITLE = "Victims' sociodemographic characteristics by MSHT type"

_REGION_OF: dict[str, str] = {c: r for r, cs in VICTIM_COUNTRIES.items() for c in cs}
for _r, _cs in OFFENDER_COUNTRIES.items():
    for _c in _cs:
        _REGION_OF.setdefault(_c, _r)


def _data_path(name: str):  # noqa: ANN202 - an open text file
    from importlib import resources

    return resources.files("msht").joinpath(f"data/{name}").open("r", encoding="utf-8")


def _region_of_country(country: str) -> str:
    if country not in _REGION_OF:  # another canonical name: the WHO lookup shipped as data
        try:
            with _data_path("who_regions.csv") as fh:
                table = pd.read_csv(fh, dtype=str)
            for c, r in zip(table["country"], table["who_region"]):
                _REGION_OF.setdefault(c, r)
        except (FileNotFoundError, KeyError):  # pragma: no cover - data file absent
            pass
    return _REGION_OF.get(country, "unknown")


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA


def derive_nationality(s: pd.Series) -> pd.DataFrame:
    """Simple coding of clean nationality strings: ``uk_national`` (uk/non_uk; any UK nationality
    counts as UK) and ``region`` (vocab codes; ``multiple`` for dual nationals); None if missing."""
    parts = s.astype(object).map(lambda x: None if _missing(x) else [p.strip() for p in str(x).split(";")])

    def region(ps: list[str] | None) -> str | None:
        if ps is None:
            return None
        if len(ps) > 1:
            return "multiple"
        return "uk" if ps[0] == UK else _region_of_country(ps[0])

    uk = parts.map(lambda ps: None if ps is None else ("uk" if UK in ps else "non_uk"))
    return pd.DataFrame({"uk_national": uk, "region": parts.map(region)}, index=s.index)


_AGE6_EDGES = (
    ("17_and_under", -1, 17), ("18_24", 18, 24), ("25_34", 25, 34), ("35_44", 35, 44), ("45_54", 45, 54),
    ("55_plus", 55, 200),
)
_AGE3_OF = {"17_and_under": "17_and_under", "18_24": "18_24", **{c: "25_plus" for c in AGE6_CODES[2:]}}


def age_band6(age: pd.Series) -> pd.Series:
    """Six age bands (vocab ``victim_age6`` codes) of completed years; None where missing."""
    a = age.astype("Float64")
    out = pd.Series(None, index=age.index, dtype=object)
    for code, lo, hi in _AGE6_EDGES:
        out[((a >= lo) & (a <= hi)).fillna(False)] = code
    return out


def _map(s: pd.Series, f) -> pd.Series:  # noqa: ANN001 - a callable on non-missing values
    return s.map(lambda x: None if _missing(x) else f(x))


def analysis_frames(pop: Population) -> dict[str, pd.DataFrame]:
    """Victim-, case-, pair- and offender-person-level frames with the analysis' derived factors
    (vocab codes; None where missing). Victim factors are repeated on each of a victim's cases;
    pairs carry their case's outcomes."""
    v = pop.victims.copy()
    nat = derive_nationality(v["nationality"])
    v["victim_sex"] = v["sex"]
    v["victim_age6"] = age_band6(v["age"])
    v["victim_age3"] = _map(v["victim_age6"], _AGE3_OF.get)
    v["victim_age2"] = _map(v["victim_age6"], lambda b: "17_and_under" if b == "17_and_under" else "adult")
    v["victim_uk_national"] = nat["uk_national"]
    v["victim_nationality_region"] = nat["region"]
    ne = v["n_entries"]
    v["police_entries"] = np.where(ne.isna(), None, np.where(ne.fillna(0) > 1, "several", "one"))
    more = v["n_as_perpetrator"].fillna(0) > v["n_as_victim"].fillna(0)
    v["more_perp_than_victim"] = np.where(ne.isna(), None, np.where(more, "yes", "no"))
    keep = ["victim_id", "victim_sex", "victim_age3", "victim_age2", "victim_uk_national", "police_entries"]
    c = pop.cases.merge(v[[*keep, "more_perp_than_victim"]], on="victim_id", how="left", validate="many_to_one")
    none = ~c[list(EXPLOITATION_COLUMNS)].any(axis=1)
    for col in TYPE_FACTORS:  # no type recorded: missing for every type factor
        c[f"{col}_code"] = np.where(none, None, np.where(c[col], "yes", "no"))
    c["period"] = np.where(c["date"] < pd.Timestamp("2021-01-01"), "before_2021", "from_2021")
    o = pop.offenders.copy()
    onat = derive_nationality(o["nationality"])
    o["offender_sex"] = o["sex"]
    o["offender_age6"] = age_band6(o["age"])
    o["offender_age3"] = _map(o["offender_age6"], _AGE3_OF.get)
    o["offender_ethnicity5"] = o["ethnicity_group5"]
    o["offender_ethnicity2"] = _map(o["ethnicity_group5"], lambda e: "white" if e == "white" else "other")
    o["offender_uk_national"] = onat["uk_national"]
    o["offender_nationality_region"] = onat["region"]
    outcomes = c[["case_id", "engagement", "offered", "accepted"]]
    pairs = o.merge(outcomes, on="case_id", how="left", validate="many_to_one")
    persons = o.drop_duplicates("offender_id")
    return {"victims": v, "cases": c, "pairs": pairs, "persons": persons}


_FACTOR_COLUMN = {f: f"{f}_code" for f in TYPE_FACTORS}


def _outcome_counts(df: pd.DataFrame, col: str, level: str) -> dict[str, tuple[int, int]]:
    """(n, N) of each Appendix 4 outcome among the rows of ``df`` with ``col == level``."""
    sel = df[col] == level
    eng, off, acc = df["engagement"], df["offered"], df["accepted"]
    return {
        "engagement": (int((sel & (eng == "positive")).sum()), int((sel & eng.isin(["positive", "negative"])).sum())),
        "offered": (int((sel & (off == "yes")).sum()), int((sel & off.isin(["yes", "no"])).sum())),
        "accepted": (int((sel & (acc == "yes")).sum()), int((sel & (off == "yes")).sum())),
    }


#: Figures the text prints only as the end of a range (``published.csv`` keeps them in a note):
#: section 3.1 "range: 1-6" cases per victim, section 3.3 "range 2-7" offenders per case.
PRINTED_MAX_CASES_PER_VICTIM = 6
PRINTED_MAX_OFFENDERS_PER_CASE = 7
#: Section 3.4's printed verdicts on the before/from 2021 comparison: offers differ at p<0.001;
#: acceptances do not differ (met when p >= 0.05).
PRINTED_P_OFFERED_BY_PERIOD = 0.001
NO_DIFFERENCE_ALPHA = 0.05
#: Section 3.2 leaves out victims with at least this many police-record entries (footnote 10).
OUTLIER_MIN_ENTRIES = 1500


class _Report:
    """Rows of the calibration report (:data:`REPORT_COLUMNS`) of a scale-``scale`` population,
    with the published figures of ``published.csv`` at hand."""

    def __init__(self, scale: int) -> None:
        from msht.synth.targets import load_published

        self.scale = scale
        self.rows: list[dict[str, Any]] = []
        pub = load_published()
        self.published_rows = pub
        self._published = {
            (r.source, r.variable, str(r.level), "" if pd.isna(r.subgroup) else str(r.subgroup)): r
            for r in pub.itertuples(index=False)
        }

    def published(self, source: str, variable: str, level: str, subgroup: str = "", measure: str = "n") -> float:
        """The printed ``measure`` (``n`` or ``pct``) of one figure of ``published.csv``.
        Raises ``KeyError`` naming the figure when the file lacks it."""
        key = (source, variable, level, subgroup)
        if key not in self._published:
            raise KeyError(f"msht/data/published.csv has no row {key}")
        value = getattr(self._published[key], measure)
        if pd.isna(value) or value == "":
            raise KeyError(f"msht/data/published.csv row {key} has no {measure}")
        return float(value)

    def add(self, where: tuple[str, str], variable: str, level: str, subgroup: str, published: float,
            reproduced: float, tol: float, note: str = "", within: bool | None = None) -> None:
        """Append one row; ``within`` overrides the tolerance check (conflict rows never pass)."""
        diff = float(reproduced) - float(published)
        ok = abs(diff) <= tol + 1e-9 if within is None else within
        self.rows.append(
            {
                "source": where[0], "table": where[1], "variable": variable, "level": level, "subgroup": subgroup,
                "published": float(published), "reproduced": float(reproduced), "difference": diff,
                "tolerance": float(tol), "within_tolerance": bool(ok) and not note.startswith(CONFLICT), "note": note,
            }
        )

    def count(self, mask: pd.Series) -> float:
        """Rows of ``mask`` that are True, per scale-1 population."""
        return float(mask.sum()) / self.scale

    @staticmethod
    def pct(num: pd.Series, den: pd.Series) -> float:
        """Percentage of the ``den`` rows that are ``num`` rows (NaN for an empty denominator)."""
        d = int(den.sum())
        return 100.0 * int((num & den).sum()) / d if d else float("nan")


def _report_appendices_1_to_3(rep: _Report, t: dict[str, Any], f: dict[str, pd.DataFrame]) -> None:
    """Appendices 1-3: every printed count, exactly (county lines per TARGETS.md D2)."""
    frame_of = {"Appendix 1": f["victims"], "Appendix 2": f["cases"], "Appendix 3": f["persons"]}
    pub = rep.published_rows
    for _, r in pub[pub["source"].isin(list(frame_of))].iterrows():
        df, var, lv = frame_of[r["source"]], r["variable"], r["level"]
        reproduced = rep.count(df[var]) if var in EXPLOITATION_COLUMNS else rep.count(df[var] == lv)
        published, note = float(r["n"]), ""
        if r["source"] == "Appendix 2" and var == "county_lines":
            published = float(t["cases"]["county_lines"][lv])
            note = f"printed {r['n']} ({r['pct']}%): labels swapped; target per TARGETS.md D2"
        rep.add((r["source"], r["table"]), var, lv, "", published, reproduced, 0.0, note)


def _report_appendix4(rep: _Report, t: dict[str, Any], f: dict[str, pd.DataFrame]) -> None:
    """Appendix 4: the overall outcomes, every level's n and N exactly, and the 51 tests."""
    from msht.synth.targets import appendix4_cells

    A4 = ("Appendix 4", "Victim engagement")
    c, pairs, scale = f["cases"], f["pairs"], rep.scale
    tot = t["appendix4_totals"]
    overall = {
        "engagement": (tot["eng_n"], tot["eng_N"]),
        "offered": (tot["off_n"], tot["off_N"]),
        "accepted": (tot["acc_n"], tot["off_n"]),
    }
    printed = _appendix4_published().set_index(["outcome", "factor"])
    everyone = _outcome_counts(c.assign(_all="all"), "_all", "all")
    for outcome, (n_pub, big_pub) in overall.items():
        n_rep, big_rep = everyone[outcome]
        rep.add(A4, "overall", "overall", f"{outcome} n", n_pub, n_rep / scale, 0.0)
        rep.add(A4, "overall", "overall", f"{outcome} N", big_pub, big_rep / scale, 0.0, "implied denominator")
    for (outcome, factor), grp in appendix4_cells(t).groupby(["outcome", "factor"], sort=False):
        pair_level = factor.startswith("offender_")
        df = pairs if pair_level else c
        col = _FACTOR_COLUMN.get(factor, factor)
        unit = "; case-offender pairs" if pair_level else ""
        ns, bigs = [], []
        for _, cell in grp.iterrows():
            n_rep, big_rep = _outcome_counts(df, col, cell["level"])[outcome]
            rep.add(A4, factor, cell["level"], f"{outcome} n", cell["n"], n_rep / scale, 0.0, unit.lstrip("; "))
            rep.add(A4, factor, cell["level"], f"{outcome} N", cell["N"], big_rep / scale, 0.0, "implied denominator" + unit)
            ns.append(n_rep // scale)
            bigs.append(big_rep // scale)
        _report_appendix4_test(rep, printed.loc[(outcome, factor)], outcome, factor, ns, bigs)


def _report_appendix4_test(rep: _Report, printed: pd.Series, outcome: str, factor: str, ns: list[int],
                           bigs: list[int]) -> None:
    """One Appendix 4 test: chi-square within 0.1 of the ``printed`` one, with the same verdict."""
    from msht.synth.targets import chi2_of

    chi2, p = chi2_of(ns, bigs)
    p_print = str(printed["p_printed"])
    significant = p_print.startswith("<") or float(p_print) < 0.05
    note = f"{'Yates' if len(ns) == 2 else 'Pearson'} chi-square; printed p {p_print}; reproduced p {p:.3f}"
    if (outcome, factor) == ("engagement", "county_lines"):
        note += "; printed chi2 not reproducible from the printed n and % (TARGETS.md D5)"
    within = abs(chi2 - float(printed["chi2"])) <= 0.1 and (p < 0.05) == significant
    rep.add(("Appendix 4", "Victim engagement"), factor, "chi2", outcome, float(printed["chi2"]), chi2, 0.1, note,
            within=within)


def _appendix4_published() -> pd.DataFrame:
    """``appendix4_published.csv``: the first printed row of each test (outcome, factor)."""
    with _data_path("appendix4_published.csv") as fh:
        a4p = pd.read_csv(fh, dtype={"p_printed": str, "level": str})
    return a4p.drop_duplicates(["outcome", "factor"])


def _report_table1(rep: _Report, t: dict[str, Any], f: dict[str, pd.DataFrame]) -> None:
    """Table 1: victim level for "all", case level by exploitation type, within the tolerance."""
    T1 = ("Table 1", T1_TITLE)
    v, c = f["victims"], f["cases"]
    tol1 = t["table1_tolerance_points"]
    loc = c["exploitation_location"]
    attrs = (
        ("victim_sex", "male", "male"),
        ("victim_age2", "under18", "17_and_under"),
        ("victim_uk_national", "uk", "uk"),
    )
    for sg, shares in t["table1"].items():
        if sg == "all":
            for var, key, lv in attrs:
                rep.add(T1, var, lv, sg, shares[key], rep.pct(v[var] == lv, v[var].notna()), tol1,
                        "victim level (Appendix 1)")
            rep.add(T1, "exploitation_location", "uk_only", sg, shares["uk_only"], rep.pct(loc == "uk_only", loc.notna()),
                    tol1, "case level")
            continue
        m = c[sg]
        for var, key, lv in attrs:
            rep.add(T1, var, lv, sg, shares[key], rep.pct(c[var] == lv, m & c[var].notna()), tol1, "cases of this type")
        rep.add(T1, "exploitation_location", "uk_only", sg, shares["uk_only"],
                rep.pct(loc == "uk_only", m & loc.notna()), tol1, "cases of this type; overseas = overseas only + both")


def _report_section31(rep: _Report, tol: float, f: dict[str, pd.DataFrame]) -> None:
    """Section 3.1: cases, victims, cases per victim, UK nationals, adults."""
    S = "Section 3.1"
    S1 = (S, "Victims' sociodemographic characteristics and case-level factors")
    v, c = f["victims"], f["cases"]
    ncase = c.groupby("victim_id").size()
    uk = v["victim_uk_national"]
    n_cases, n_one = rep.published(S, "cases", "all"), rep.published(S, "cases_per_victim", "one")
    n_several = rep.published(S, "cases_per_victim", "several")
    rep.add(S1, "cases", "all", "", n_cases, len(c) / rep.scale, 0.0)
    rep.add(S1, "victims", "all", "", rep.published(S, "victims", "all"), len(v) / rep.scale, 0.0)
    rep.add(S1, "cases_per_victim", "one", "", n_one, rep.count(ncase == 1), 0.0)
    rep.add(S1, "cases_per_victim", "several", "", n_several, rep.count(ncase > 1), 0.0)
    rep.add(S1, "cases_per_victim", "several", "pct", rep.published(S, "cases_per_victim", "several", measure="pct"),
            100.0 * (ncase > 1).mean(), tol)
    rep.add(S1, "cases_per_victim", "max", "", PRINTED_MAX_CASES_PER_VICTIM, ncase.max(), 0.0,
            f"{CONFLICT}: a range of 1-{PRINTED_MAX_CASES_PER_VICTIM} cannot hold with {n_one:,.0f} + {n_several:,.0f} "
            f"victims and {n_cases:,.0f} cases (TARGETS.md D1)")
    rep.add(S1, "victim_uk_national", "uk", "", rep.published(S, "victim_uk_national", "uk"), rep.count(uk == "uk"), 0.0,
            "869 UK + 23 dual nationals with UK (D9)")
    rep.add(S1, "victim_uk_national", "uk", "pct", rep.published(S, "victim_uk_national", "uk", measure="pct"),
            rep.pct(uk == "uk", uk.notna()), tol)
    rep.add(S1, "victim_age2", "adult", "", rep.published(S, "victim_age2", "adult"),
            rep.count(v["victim_age2"] == "adult"), 0.0)


def _report_section32(rep: _Report, tol: float, f: dict[str, pd.DataFrame]) -> None:
    """Section 3.2: victims with police-record data, the two outliers removed."""
    S = "Section 3.2"
    S2 = (S, "Previous victims' records in police databases")
    v = f["victims"]
    ne = v["n_entries"]
    outlier = ne.fillna(0) >= OUTLIER_MIN_ENTRIES
    base = ne.notna() & ~outlier
    several, with_perp = ne.fillna(0) > 1, v["n_as_perpetrator"].fillna(0) > 0
    more = v["more_perp_than_victim"] == "yes"
    d8 = f"{CONFLICT}: the printed n fits a denominator near 1,811 victims (TARGETS.md D8)"

    def printed(variable: str, level: str, measure: str = "n") -> float:
        return rep.published(S, variable, level, measure=measure)

    rep.add(S2, "police_entries", "several", "pct", printed("police_entries", "several", "pct"), rep.pct(several, base),
            tol, "victims with records, outliers out")
    rep.add(S2, "police_entries", "several", "", printed("police_entries", "several"), rep.count(several & base), 0.0, d8)
    rep.add(S2, "entries_median", "all", "", printed("entries_median", "all"), float(ne[base].median()), 0.0)
    rep.add(S2, "entries_max", "all", "", printed("entries_max", "all"), float(ne[base].max()), 0.0)
    big = sorted(set(ne[outlier].astype(int).tolist()), reverse=True) + [0, 0]
    rep.add(S2, "entries_outlier", "first", "", printed("entries_outlier", "first"), big[0], 0.0)
    rep.add(S2, "entries_outlier", "second", "", printed("entries_outlier", "second"), big[1], 0.0)
    rep.add(S2, "has_victim_entry", "yes", "pct", printed("has_victim_entry", "yes", "pct"),
            rep.pct(v["n_as_victim"].fillna(0) > 0, base), tol)
    rep.add(S2, "has_perpetrator_entry", "yes", "pct", printed("has_perpetrator_entry", "yes", "pct"),
            rep.pct(with_perp, base), tol)
    rep.add(S2, "has_perpetrator_entry", "yes", "", printed("has_perpetrator_entry", "yes"),
            rep.count(with_perp & base), 0.0, d8)
    rep.add(S2, "more_perp_than_victim", "yes", "pct", printed("more_perp_than_victim", "yes", "pct"),
            rep.pct(more, base), tol)
    rep.add(S2, "more_perp_than_victim", "yes", "", printed("more_perp_than_victim", "yes"), rep.count(more & base),
            0.0, d8)


def _report_section33(rep: _Report, t: dict[str, Any], tol: float, f: dict[str, pd.DataFrame]) -> None:
    """Section 3.3: offenders per case and the offender persons' shares."""
    S = "Section 3.3"
    S3 = (S, "Offenders' sociodemographic characteristics")
    c, pairs, persons = f["cases"], f["pairs"], f["persons"]
    n_cases = rep.published("Section 3.1", "cases", "all")
    with_offender = t["cases"]["recorded_offender"]["yes"]
    per_case = pairs.groupby("case_id").size().reindex(c["case_id"], fill_value=0)
    rep.add(S3, "offenders_per_case", "one", "pct", rep.published(S, "offenders_per_case", "one", measure="pct"),
            100.0 * (per_case == 1).mean(), tol, f"of {n_cases:,.0f} cases")
    rep.add(S3, "offenders_per_case", "one", "", rep.published(S, "offenders_per_case", "one"), rep.count(per_case == 1),
            0.0, f"{CONFLICT}: Appendix 4 allows at most {with_offender} cases with an offender (TARGETS.md D6)")
    rep.add(S3, "offenders_per_case", "several", "pct", rep.published(S, "offenders_per_case", "several", measure="pct"),
            100.0 * (per_case > 1).mean(), tol)
    rep.add(S3, "offenders_per_case", "several", "", rep.published(S, "offenders_per_case", "several"),
            rep.count(per_case > 1), 0.0)
    rep.add(S3, "offenders_per_case", "max", "", PRINTED_MAX_OFFENDERS_PER_CASE, per_case.max(), 0.0)
    rep.add(S3, "recorded_offender", "yes", "", with_offender, rep.count(c["recorded_offender"] == "yes"), 0.0,
            "TARGETS.md D6")
    # (report variable, published variable, level): the report bands ages in six, the text in two
    for var, pub_var, lv in (
        ("offender_sex", "offender_sex", "male"),
        ("offender_age6", "offender_age2", "adult"),
        ("offender_uk_national", "offender_uk_national", "uk"),
        ("offender_ethnicity5", "offender_ethnicity5", "white"),
    ):
        col = persons[var]
        num = ((col != "17_and_under") & col.notna()) if lv == "adult" else (col == lv)
        rep.add(S3, var, lv, "", rep.published(S, pub_var, lv), rep.count(num), 0.0, "offender persons")
        rep.add(S3, var, lv, "pct", rep.published(S, pub_var, lv, measure="pct"), rep.pct(num, col.notna()), tol,
                "offender persons")


def _report_section34(rep: _Report, tol: float, f: dict[str, pd.DataFrame]) -> None:
    """Section 3.4: offers, acceptances (overall and by period, with the period tests) and engagement."""
    from msht.synth.targets import chi2_of

    S = "Section 3.4"
    S4 = (S, "Victim engagement")
    c, scale = f["cases"], rep.scale
    off, acc, eng = c["offered"], c["accepted"], c["engagement"]

    def printed(variable: str, level: str, subgroup: str = "", measure: str = "n") -> float:
        return rep.published(S, variable, level, subgroup, measure)

    rep.add(S4, "offered", "yes", "pct", printed("offered", "yes", measure="pct"), rep.pct(off == "yes", off.notna()), tol,
            "of cases with an offer recorded")
    rep.add(S4, "accepted", "yes", "pct", printed("accepted", "yes", measure="pct"), rep.pct(acc == "yes", off == "yes"),
            tol)
    pre = c["period"] == "before_2021"
    n_off = {sg: printed("offered", "yes", sg) for sg in ("before_2021", "from_2021")}
    n_acc = {sg: printed("accepted", "yes", sg) for sg in ("before_2021", "from_2021")}
    d4 = (f"{CONFLICT}: {n_off['before_2021']:.0f} + {n_off['from_2021']:.0f} = {sum(n_off.values()):.0f} offers and "
          f"{n_acc['before_2021']:.0f} + {n_acc['from_2021']:.0f} = {sum(n_acc.values()):.0f} acceptances; "
          f"the {printed('offered', 'yes'):.0f}th is from 2021 (TARGETS.md D4)")
    for sg, m in (("before_2021", pre), ("from_2021", ~pre)):
        note = "" if sg == "before_2021" else d4
        rep.add(S4, "offered", "yes", sg, printed("offered", "yes", sg, "pct"), rep.pct(off == "yes", m & off.notna()),
                tol, "percentage")
        rep.add(S4, "offered", "yes", f"{sg} n", n_off[sg], rep.count((off == "yes") & m), 0.0, note)
        rep.add(S4, "accepted", "yes", sg, printed("accepted", "yes", sg, "pct"),
                rep.pct(acc == "yes", m & (off == "yes")), tol, "percentage")
        rep.add(S4, "accepted", "yes", f"{sg} n", n_acc[sg], rep.count((acc == "yes") & m), 0.0, note)
    _, p_off = chi2_of(
        [int(((off == "yes") & m).sum()) // scale for m in (pre, ~pre)],
        [int((off.notna() & m).sum()) // scale for m in (pre, ~pre)],
    )
    rep.add(S4, "offered_by_period", "p", "", PRINTED_P_OFFERED_BY_PERIOD, p_off, 0.0,
            f"printed p<{PRINTED_P_OFFERED_BY_PERIOD:g}: met when p < {PRINTED_P_OFFERED_BY_PERIOD:g}",
            within=p_off < PRINTED_P_OFFERED_BY_PERIOD)
    _, p_acc = chi2_of(
        [int(((acc == "yes") & m).sum()) // scale for m in (pre, ~pre)],
        [int(((off == "yes") & m).sum()) // scale for m in (pre, ~pre)],
    )
    rep.add(S4, "accepted_by_period", "p", "", NO_DIFFERENCE_ALPHA, p_acc, 0.0,
            f"printed: no difference; met when p >= {NO_DIFFERENCE_ALPHA:g}", within=p_acc >= NO_DIFFERENCE_ALPHA)
    known = ~eng.isin(["ongoing", "no_crime"])
    for lv in ("positive", "negative", "unknown"):
        rep.add(S4, "engagement", lv, "pct", printed("engagement", lv, measure="pct"), rep.pct(eng == lv, known), tol,
                "excluding ongoing and no crime (fn 12)")
        rep.add(S4, "engagement", lv, "", printed("engagement", lv), rep.count(eng == lv), 0.0)
    for lv in ("ongoing", "no_crime"):
        rep.add(S4, "engagement", lv, "", printed("engagement", lv), rep.count(eng == lv), 0.0)


def calibration_report(pop: Population, scale: int = 1) -> pd.DataFrame:
    """Every calibration target: published value, value reproduced by ``pop``, difference,
    tolerance and whether it is met (columns :data:`REPORT_COLUMNS`).

    ``pop`` is a scale-``scale`` population (counts are divided by ``scale``). The printed
    figures come from ``msht/data/published.csv`` and ``appendix4_published.csv`` (the few the
    text prints only as a range or a verdict are the ``PRINTED_*`` constants); the twin's own
    targets from ``targets.yaml``. Rows whose ``note`` starts with :data:`CONFLICT` show printed
    figures the twin deliberately departs from (TARGETS.md); they are not targets and are never
    within tolerance. This checks the clean population before any extract is written; the
    pipeline's ``calibration.csv`` (:mod:`msht.analysis.calibration`) checks the same figures again from
    the cleaned extracts. Raises ``KeyError`` if ``published.csv`` lacks a figure.
    """
    t = load_targets()
    f = analysis_frames(pop)
    rep = _Report(scale)
    tol = t["shares_tolerance_points"]
    _report_appendices_1_to_3(rep, t, f)
    _report_appendix4(rep, t, f)
    _report_table1(rep, t, f)
    _report_section31(rep, tol, f)
    _report_section32(rep, tol, f)
    _report_section33(rep, t, tol, f)
    _report_section34(rep, tol, f)
    return pd.DataFrame(rep.rows, columns=list(REPORT_COLUMNS))
