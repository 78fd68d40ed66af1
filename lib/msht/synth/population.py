"""Swap-only simulated annealing behind :mod:`msht.synth.population` (internal).

Stage 1 fits victims and cases, stage 2 fits case-offender pairs. Every column starts as a
shuffled array holding exactly its target counts (missing remainder included); the annealer
then only *swaps* a value between two units, so one-way counts never change. The score is the
sum of absolute differences from every Appendix 4 cell (plus Table 1 as a soft term), updated
incrementally per move; hard rules live in the move generator.

Integer codes used here (the public frames use the vocabulary codes):

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

# --- codes ---------------------------------------------------------------------------------
SEX_NA, AGE_NA, NAT_NA, ETH_NA = 2, 6, 9, 5
REC_NA, REC_ONE, REC_SEV_YES, REC_SEV_NO = 0, 1, 2, 3
CL_YES = 0
LOC_UK, LOC_NA = 0, 3
BIT_C, BIT_L, BIT_S, BIT_D, BIT_O = 1, 2, 4, 8, 16
TYPE_BITS = (BIT_C, BIT_L, BIT_S, BIT_D)

SEX_CODES = ("male", "female")
AGE6_CODES = ("17_and_under", "18_24", "25_34", "35_44", "45_54", "55_plus")
NAT_CODES = ("uk", "european", "eastern_mediterranean", "western_pacific", "african", "south_east_asia", "americas", "multiple")
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


def stage1(t: dict[str, Any], rng: np.random.Generator, max_iter: int = 30_000_000, anneal_iter: int = 3_000_000, temp0: float = 1.5, temp1: float = 0.15) -> Stage1Result:
    """Fit victims and cases to Appendix 1, 2 and 4 (case-level factors) and Table 1."""
    V, C = t["victims"], t["cases"]
    nv, nc = t["totals"]["victims"], t["totals"]["cases"]

    # --- structure: cases per victim -------------------------------------------------------
    cpv = V["cases_per_victim"]
    multi = _multi_case_counts(rng, cpv["multi"], cpv["multi_cases"], cpv["multi_min"], cpv["multi_max"])
    n_cases = np.concatenate([np.ones(cpv["single"], dtype=np.int64), multi])
    rng.shuffle(n_cases)
    victim_of_case = np.repeat(np.arange(nv, dtype=np.int64), n_cases)
    assert len(victim_of_case) == nc

    # --- victim attributes (exact counts, shuffled) -----------------------------------------
    sex = _counts_array(rng, [V["sex"]["male"], V["sex"]["female"], V["sex"]["unknown"]])
    age6 = _counts_array(rng, [V["age6"][c] for c in AGE6_CODES] + [V["age6"]["unknown"]])
    nr = V["nationality_region"]
    nat = _counts_array(rng, [nr[c] for c in NAT_CODES] + [0, nr["unknown"]])  # all multiples hold UK
    period = np.zeros(nv, dtype=np.int64)
    period[rng.permutation(nv)[: nv // 2]] = 1
    pr = V["police_records"]
    rec = np.full(nv, -1, dtype=np.int64)
    singles = np.flatnonzero(n_cases == 1)
    rec[rng.choice(singles, pr["one"], replace=False)] = REC_ONE
    rest = np.flatnonzero(rec < 0)
    rest = rest[rng.permutation(len(rest))]
    n_na, n_yes = pr["unknown"], pr["several_more_perp"]
    rec[rest[:n_na]] = REC_NA
    rec[rest[n_na : n_na + n_yes]] = REC_SEV_YES
    rec[rest[n_na + n_yes :]] = REC_SEV_NO
    assert (rec == REC_SEV_NO).sum() == pr["several_not_more_perp"]

    # --- case attributes ---------------------------------------------------------------------
    referral = _counts_array(rng, [C["referral_form"]["ms1"], C["referral_form"]["nrm"], C["referral_form"]["unknown"]])
    agency = _counts_array(rng, [C["referring_agency"]["internal"], C["referring_agency"]["external"], C["referring_agency"]["unknown"]])
    loc = C["exploitation_location"]
    location = _counts_array(rng, [loc["uk_only"], loc["overseas_only"], loc["both"], loc["unknown"]])
    recoff = _counts_array(rng, [C["recorded_offender"]["yes"], C["recorded_offender"]["no"]])
    eng = C["engagement"]
    eng3 = _counts_array(rng, [eng["positive"], eng["negative"], eng["ongoing"] + eng["no_crime"] + eng["unknown"]])
    off = C["offered"]
    off4 = _counts_array(rng, [off["unknown"], off["no"], C["accepted"]["no"], C["accepted"]["yes"]])
    # exploitation types: one type on each recorded case, the surplus mentions as second types
    et = C["exploitation_types"]
    bits_of = {"criminal_exploitation": BIT_C, "labour_exploitation": BIT_L, "sexual_exploitation": BIT_S, "domestic_servitude": BIT_D, "other_exploitation": BIT_O}
    mentions = np.concatenate([np.full(n, bits_of[k], dtype=np.int64) for k, n in et.items()])
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
    # county lines: "yes" only on criminal cases located in the UK or unrecorded
    cl = C["county_lines"]
    county = np.full(nc, 2, dtype=np.int64)
    ok_yes = np.flatnonzero((types & BIT_C > 0) & ((location == LOC_UK) | (location == LOC_NA)))
    yes_idx = rng.choice(ok_yes, cl["yes"], replace=False)
    county[yes_idx] = 0
    others = np.flatnonzero(county == 2)
    county[rng.choice(others, cl["no"], replace=False)] = 1

    # --- Appendix 4 groups -------------------------------------------------------------------
    a4 = t["appendix4"]
    tgt: list[int] = []
    wts: list[float] = []
    gnames: list[tuple[str, str]] = []

    def add_group(factor: str, level: str, values: list[int], weights: tuple[float, ...] = (1.0,) * 5) -> int:
        gnames.append((factor, level))
        tgt.extend(values)
        wts.extend(weights)
        return len(gnames) - 1

    def groups_for(factor: str, levels: list[str]) -> list[int]:
        return [add_group(factor, lv, list(a4[factor][lv])) for lv in levels]

    g_sex = groups_for("victim_sex", ["male", "female"])
    g_age = groups_for("victim_age3", ["17_and_under", "18_24", "25_plus"])
    g_uk = groups_for("victim_uk_national", ["uk", "non_uk"])
    g_pe = groups_for("police_entries", ["one", "several"])
    g_mp = groups_for("more_perp_than_victim", ["yes", "no"])
    per = C["period"]
    g_per = [
        add_group("period", p, [0, 0, per[p]["offered_N"], per[p]["offered_n"], per[p]["accepted_n"]], (0.0, 0.0, 1.0, 1.0, 1.0))
        for p in ("before_2021", "from_2021")
    ]
    g_ref = groups_for("referral_form", ["ms1", "nrm"])
    g_agy = groups_for("referring_agency", ["internal", "external"])
    g_cl = groups_for("county_lines", ["yes", "no"])
    g_types = [groups_for(f, ["yes", "no"]) for f in ("criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude")]
    g_rof = groups_for("recorded_offender", ["yes", "no"])
    n_groups = len(gnames)

    # gmap per factor: attribute value -> group (-1 = no target)
    gmaps: list[list[int]] = [
        [g_sex[0], g_sex[1], -1],  # 0 victim sex
        [g_age[a] if a >= 0 else -1 for a in AGE3_OF_AGE6],  # 1 age
        [g_uk[u] if u >= 0 else -1 for u in UK_OF_NAT],  # 2 uk
        [-1, g_pe[0], g_pe[1], g_pe[1]],  # 3 police entries (rec)
        [-1, g_mp[1], g_mp[0], g_mp[1]],  # 4 more perp (rec): one entry -> not more perp
        [g_per[0], g_per[1]],  # 5 period
        [g_ref[0], g_ref[1], -1],  # 6 referral
        [g_agy[0], g_agy[1], -1],  # 7 agency
        [g_cl[0], g_cl[1], -1],  # 8 county lines
    ]
    for j, bit in enumerate(TYPE_BITS):  # 9..12 types (bit mask -> yes/no; none recorded -> -1)
        gmaps.append([-1 if m == 0 else (g_types[j][0] if m & bit else g_types[j][1]) for m in range(32)])
    gmaps.append([g_rof[0], g_rof[1]])  # 13 recorded offender
    n_f = len(gmaps)
    VATTR = {"sex": [0], "age6": [1], "nat": [2], "rec": [3, 4], "period": [5]}

    # --- state as Python lists (fast scalar access) ------------------------------------------
    vsex, vage, vnat, vrec, vper = sex.tolist(), age6.tolist(), nat.tolist(), rec.tolist(), period.tolist()
    cref, cagy, ccl, cloc, ctyp = referral.tolist(), agency.tolist(), county.tolist(), location.tolist(), types.tolist()
    ceng, coff, crof = eng3.tolist(), off4.tolist(), recoff.tolist()
    vic = victim_of_case.tolist()
    ncas = n_cases.tolist()
    cases_of: list[list[int]] = [[] for _ in range(nv)]
    for c, v in enumerate(vic):
        cases_of[v].append(c)
    contrib = [CONTRIB[ceng[c]][coff[c]] for c in range(nc)]
    VC = [[0, 0, 0, 0, 0] for _ in range(nv)]
    for c in range(nc):
        vc, cc = VC[vic[c]], contrib[c]
        for k in range(5):
            vc[k] += cc[k]
    vattr_of = {"sex": vsex, "age6": vage, "nat": vnat, "rec": vrec, "period": vper}

    def case_groups(c: int) -> list[int]:
        v = vic[c]
        vals = (vsex[v], vage[v], vnat[v], vrec[v], vrec[v], vper[v], cref[c], cagy[c], ccl[c], ctyp[c], ctyp[c], ctyp[c], ctyp[c], crof[c])
        return [gmaps[f][vals[f]] for f in range(n_f)]

    caseg = [case_groups(c) for c in range(nc)]
    cur = [0] * (5 * n_groups)
    for c in range(nc):
        cc = contrib[c]
        for g in caseg[c]:
            if g >= 0:
                b = 5 * g
                for k in range(5):
                    cur[b + k] += cc[k]
    dev = [cur[i] - tgt[i] for i in range(len(cur))]

    # --- Table 1 cells: (type j, attribute A) with A in sex, age2, uk, location --------------
    t1 = t["table1"]
    type_names = ("criminal_exploitation", "labour_exploitation", "sexual_exploitation", "domestic_servitude")
    IND = {
        "sex": ([1, 0, 0], [1, 1, 0]),
        "age6": ([1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0]),
        "nat": ([1, 0, 0, 0, 0, 0, 0, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]),
        "loc": ([1, 0, 0, 0], [1, 1, 1, 0]),
    }
    attr_keys = ("sex", "age6", "nat", "loc")
    share_keys = ("male", "under18", "uk", "uk_only")
    p1 = [[t1[tn][sk] / 100.0 for sk in share_keys] for tn in type_names]
    n1 = [[0, 0, 0, 0] for _ in range(4)]
    nk = [[0, 0, 0, 0] for _ in range(4)]
    tv = [[0, 0, 0, 0] for _ in range(nv)]

    def case_attr_vals(c: int) -> tuple[int, int, int, int]:
        v = vic[c]
        return vsex[v], vage[v], vnat[v], cloc[c]

    for c in range(nc):
        m = ctyp[c]
        vals = case_attr_vals(c)
        for j, bit in enumerate(TYPE_BITS):
            if m & bit:
                tv[vic[c]][j] += 1
                for a, key in enumerate(attr_keys):
                    n1[j][a] += IND[key][0][vals[a]]
                    nk[j][a] += IND[key][1][vals[a]]
    W1 = 1.0

    def t1_score() -> float:
        return sum(W1 * abs(n1[j][a] - p1[j][a] * nk[j][a]) for j in range(4) for a in range(4))

    score_a4 = sum(wts[i] * abs(dev[i]) for i in range(len(dev)))
    score_t1 = t1_score()

    # --- move kinds ---------------------------------------------------------------------------
    kinds = [
        ("eng", 10), ("off", 14), ("sex", 6), ("age6", 7), ("nat", 7), ("rec", 10), ("period", 5),
        ("ref", 4), ("agy", 5), ("cl", 5), ("rof", 8), ("loc", 5), ("types", 10),
    ]
    table: list[str] = []
    for name, w in kinds:
        table.extend([name] * w)
    n_table = len(table)
    IND_sex, IND_age, IND_nat, IND_loc = IND["sex"], IND["age6"], IND["nat"], IND["loc"]
    t1_ind_for = {"sex": (0, IND_sex), "age6": (1, IND_age), "nat": (2, IND_nat)}
    case_attr = {"ref": (cref, 6), "agy": (cagy, 7), "cl": (ccl, 8), "rof": (crof, 13)}

    R = _Rand(rng)
    R.refill()
    buf = R.buf
    bi = 0
    blen = len(buf)
    exp = math.exp
    it = 0
    check_every = 256 * 80
    log_ratio = math.log(temp1 / temp0)
    temp = temp0
    for it in range(1, max_iter + 1):
        if bi + 4 > blen:
            R.refill()
            buf, bi, blen = R.buf, 0, len(R.buf)
        kind = table[int(buf[bi] * n_table)]
        ra, rb, racc = buf[bi + 1], buf[bi + 2], buf[bi + 3]
        bi += 4
        if it % 256 == 0:
            temp = temp0 * exp(log_ratio * min(1.0, it / anneal_iter))
            if it % check_every == 0:
                score_a4 = sum(wts[i] * abs(dev[i]) for i in range(len(dev)))
                if score_a4 == 0 and _table1_ok(n1, nk, p1):
                    break
        if kind in vattr_of:
            arr = vattr_of[kind]
            a = int(ra * nv)
            b = int(rb * nv)
            xa, xb = arr[a], arr[b]
            if xa == xb:
                continue
            if kind == "rec" and ((xb == REC_ONE and ncas[a] > 1) or (xa == REC_ONE and ncas[b] > 1)):
                continue
            VCa, VCb = VC[a], VC[b]
            delta = 0.0
            ch: list[tuple[int, int]] = []
            for f in VATTR[kind]:
                gm = gmaps[f]
                g1, g2 = gm[xa], gm[xb]
                if g1 == g2:
                    continue
                for k in range(5):
                    d = VCb[k] - VCa[k]
                    if d:
                        if g1 >= 0:
                            i = 5 * g1 + k
                            o = dev[i]
                            delta += wts[i] * (abs(o + d) - abs(o))
                            ch.append((i, d))
                        if g2 >= 0:
                            i = 5 * g2 + k
                            o = dev[i]
                            delta += wts[i] * (abs(o - d) - abs(o))
                            ch.append((i, -d))
            ch1: list[tuple[int, int, int, int]] = []
            if kind in t1_ind_for:
                ai, (ind1, kn) = t1_ind_for[kind]
                di, dk = ind1[xb] - ind1[xa], kn[xb] - kn[xa]
                if di or dk:
                    tva, tvb = tv[a], tv[b]
                    for j in range(4):
                        m = tva[j] - tvb[j]
                        if m:
                            on1, onk, p = n1[j][ai], nk[j][ai], p1[j][ai]
                            nn1, nnk = on1 + m * di, onk + m * dk
                            delta += W1 * (abs(nn1 - p * nnk) - abs(on1 - p * onk))
                            ch1.append((j, ai, m * di, m * dk))
            if delta > 0 and racc >= exp(-delta / temp):
                continue
            for i, d in ch:
                dev[i] += d
            for j, ai2, d1, dk1 in ch1:
                n1[j][ai2] += d1
                nk[j][ai2] += dk1
            arr[a], arr[b] = xb, xa
            for f in VATTR[kind]:
                gm = gmaps[f]
                ga, gb = gm[xb], gm[xa]
                for c in cases_of[a]:
                    caseg[c][f] = ga
                for c in cases_of[b]:
                    caseg[c][f] = gb
        elif kind == "eng" or kind == "off":
            a = int(ra * nc)
            b = int(rb * nc)
            if kind == "eng":
                ea, eb = ceng[a], ceng[b]
                if ea == eb:
                    continue
                na_c, nb_c = CONTRIB[eb][coff[a]], CONTRIB[ea][coff[b]]
            else:
                oa, ob = coff[a], coff[b]
                if oa == ob:
                    continue
                na_c, nb_c = CONTRIB[ceng[a]][ob], CONTRIB[ceng[b]][oa]
            ca = contrib[a]
            da = [na_c[k] - ca[k] for k in range(5)]
            ks = [k for k in range(5) if da[k]]
            if not ks:
                # same contribution: a neutral move
                if kind == "eng":
                    ceng[a], ceng[b] = ceng[b], ceng[a]
                else:
                    coff[a], coff[b] = coff[b], coff[a]
                continue
            cga, cgb = caseg[a], caseg[b]
            delta = 0.0
            ch = []
            for f in range(n_f):
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
            if delta > 0 and racc >= exp(-delta / temp):
                continue
            for i, d in ch:
                dev[i] += d
            if kind == "eng":
                ceng[a], ceng[b] = ceng[b], ceng[a]
            else:
                coff[a], coff[b] = coff[b], coff[a]
            contrib[a], contrib[b] = na_c, nb_c
            va, vb = VC[vic[a]], VC[vic[b]]
            for k in ks:
                va[k] += da[k]
                vb[k] -= da[k]
        elif kind in case_attr:
            arr, f = case_attr[kind]
            a = int(ra * nc)
            b = int(rb * nc)
            xa, xb = arr[a], arr[b]
            if xa == xb:
                continue
            if kind == "cl":
                if xb == CL_YES and (not ctyp[a] & BIT_C or cloc[a] not in (LOC_UK, LOC_NA)):
                    continue
                if xa == CL_YES and (not ctyp[b] & BIT_C or cloc[b] not in (LOC_UK, LOC_NA)):
                    continue
            ca, cb = contrib[a], contrib[b]
            gm = gmaps[f]
            g1, g2 = gm[xa], gm[xb]
            delta = 0.0
            ch = []
            if ca != cb:
                for k in range(5):
                    d = cb[k] - ca[k]
                    if d:
                        if g1 >= 0:
                            i = 5 * g1 + k
                            o = dev[i]
                            delta += wts[i] * (abs(o + d) - abs(o))
                            ch.append((i, d))
                        if g2 >= 0:
                            i = 5 * g2 + k
                            o = dev[i]
                            delta += wts[i] * (abs(o - d) - abs(o))
                            ch.append((i, -d))
            if delta > 0 and racc >= exp(-delta / temp):
                continue
            for i, d in ch:
                dev[i] += d
            arr[a], arr[b] = xb, xa
            caseg[a][f], caseg[b][f] = g2, g1
        elif kind == "loc":
            a = int(ra * nc)
            b = int(rb * nc)
            xa, xb = cloc[a], cloc[b]
            if xa == xb:
                continue
            if (ccl[a] == CL_YES and xb not in (LOC_UK, LOC_NA)) or (ccl[b] == CL_YES and xa not in (LOC_UK, LOC_NA)):
                continue
            ind1, kn = IND_loc
            di, dk = ind1[xb] - ind1[xa], kn[xb] - kn[xa]
            ta, tb = ctyp[a], ctyp[b]
            delta = 0.0
            ch1 = []
            if di or dk:
                for j, bit in enumerate(TYPE_BITS):
                    m = (1 if ta & bit else 0) - (1 if tb & bit else 0)
                    if m:
                        on1, onk, p = n1[j][3], nk[j][3], p1[j][3]
                        nn1, nnk = on1 + m * di, onk + m * dk
                        delta += W1 * (abs(nn1 - p * nnk) - abs(on1 - p * onk))
                        ch1.append((j, 3, m * di, m * dk))
            if delta > 0 and racc >= exp(-delta / temp):
                continue
            for j, ai2, d1, dk1 in ch1:
                n1[j][ai2] += d1
                nk[j][ai2] += dk1
            cloc[a], cloc[b] = xb, xa
        else:  # types: swap the whole type mask
            a = int(ra * nc)
            b = int(rb * nc)
            ta, tb = ctyp[a], ctyp[b]
            if ta == tb:
                continue
            if (ccl[a] == CL_YES and not tb & BIT_C) or (ccl[b] == CL_YES and not ta & BIT_C):
                continue
            ca, cb = contrib[a], contrib[b]
            delta = 0.0
            ch = []
            if ca != cb:
                dd = [cb[k] - ca[k] for k in range(5)]
                for f in (9, 10, 11, 12):
                    gm = gmaps[f]
                    g1, g2 = gm[ta], gm[tb]
                    if g1 == g2:
                        continue
                    for k in range(5):
                        d = dd[k]
                        if d:
                            if g1 >= 0:
                                i = 5 * g1 + k
                                o = dev[i]
                                delta += wts[i] * (abs(o + d) - abs(o))
                                ch.append((i, d))
                            if g2 >= 0:
                                i = 5 * g2 + k
                                o = dev[i]
                                delta += wts[i] * (abs(o - d) - abs(o))
                                ch.append((i, -d))
            ch1 = []
            vala, valb = case_attr_vals(a), case_attr_vals(b)
            for j, bit in enumerate(TYPE_BITS):
                m = (1 if tb & bit else 0) - (1 if ta & bit else 0)  # change of case a's membership
                if m:
                    for ai, key in enumerate(attr_keys):
                        ind1, kn = IND[key]
                        d1 = m * (ind1[vala[ai]] - ind1[valb[ai]])
                        dk1 = m * (kn[vala[ai]] - kn[valb[ai]])
                        if d1 or dk1:
                            on1, onk, p = n1[j][ai], nk[j][ai], p1[j][ai]
                            delta += W1 * (abs(on1 + d1 - p * (onk + dk1)) - abs(on1 - p * onk))
                            ch1.append((j, ai, d1, dk1))
            if delta > 0 and racc >= exp(-delta / temp):
                continue
            for i, d in ch:
                dev[i] += d
            for j, ai2, d1, dk1 in ch1:
                n1[j][ai2] += d1
                nk[j][ai2] += dk1
            ctyp[a], ctyp[b] = tb, ta
            tva, tvb = tv[vic[a]], tv[vic[b]]
            for j, bit in enumerate(TYPE_BITS):
                m = (1 if tb & bit else 0) - (1 if ta & bit else 0)
                if m:
                    tva[j] += m
                    tvb[j] -= m
            for f in (9, 10, 11, 12):
                caseg[a][f], caseg[b][f] = gmaps[f][tb], gmaps[f][ta]
    score_a4 = sum(wts[i] * abs(dev[i]) for i in range(len(dev)))
    return Stage1Result(
        n_cases=n_cases,
        victim_of_case=victim_of_case,
        sex=np.array(vsex), age6=np.array(vage), nat=np.array(vnat), rec=np.array(vrec), period=np.array(vper),
        referral=np.array(cref), agency=np.array(cagy), county=np.array(ccl), location=np.array(cloc),
        types=np.array(ctyp), eng3=np.array(ceng), off4=np.array(coff), recoff=np.array(crof),
        score_app4=score_a4, score_table1=t1_score(), iterations=it,
        stats={"groups": gnames, "dev": dev},
    )


def _table1_ok(n1: list[list[int]], nk: list[list[int]], p1: list[list[float]], margin: float = 0.6) -> bool:
    """True when every Table 1 share is within ``margin`` points of its target."""
    for j in range(4):
        for a in range(4):
            if nk[j][a] == 0 or abs(100.0 * (n1[j][a] / nk[j][a] - p1[j][a])) > margin:
                return False
    return True
