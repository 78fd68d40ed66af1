"""Statistical disclosure control: no suppressed count can be worked out from what is published.

The checks here do not reuse :mod:`msht.sdc`'s own audit: an independent brute force lists every
table consistent with the published values (shown counts, denominators, percentages, the public
totals and what each mark and reason says) and asserts that each hidden value can take at least
two values in them.
"""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msht import results, sdc
from msht.describe import pct

M_VALUES = (3, 5)


# ----------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------


def desc_rows(values: list[int], unknown: int = 0, *, binary: bool = False, variable: str = "v") -> pd.DataFrame:
    levels = ["yes"] if binary else [f"l{i}" for i in range(len(values))]
    d = values[0] + unknown if binary else sum(values)  # binary: `unknown` is the complement "no"
    rows = [{"table": "t", "variable": variable, "level": lv, "n": v, "denominator": d, "pct": pct(v, d)}
            for lv, v in zip(levels, values)]
    if unknown and not binary:
        rows.append({"table": "t", "variable": variable, "level": "unknown", "n": unknown, "denominator": pd.NA,
                     "pct": math.nan})
    out = pd.DataFrame(rows)
    out["denominator"] = out["denominator"].astype("Int64")
    return out


def assoc_rows(cells: list[tuple[int, int]], outcome: str = "offered", factor: str = "f") -> pd.DataFrame:
    """``cells``: (n, d) per level."""
    return pd.DataFrame([
        {"outcome": outcome, "factor": factor, "level": f"l{i}", "n": n, "denominator": d, "pct": pct(n, d),
         "statistic": 1.5, "df": len(cells) - 1, "p": 0.02, "test": "Pearson chi-square"}
        for i, (n, d) in enumerate(cells)
    ])


def in_marker(value: int, display: str, reason: str, m: int) -> bool:
    """What a published mark and reason say about a hidden count."""
    if reason == "withheld":
        return value >= 0
    if display == f"<{m}":
        return 1 <= value <= m - 1
    return value == 0 or value >= m


def small_m(value: int, m: int) -> bool:
    return 1 <= value <= m - 1


# ----------------------------------------------------------------------------------------------
# Independent brute-force attackers
# ----------------------------------------------------------------------------------------------


def attack_descriptives(out: pd.DataFrame, m: int, n_total: int, binary: bool) -> dict[str, set[int]]:
    """All values of each hidden cell consistent with a protected descriptives block.

    Public: every shown value, N (= known + unknown, printed elsewhere), marks and reasons.
    Returns {cell name: feasible values} for hidden n of each level, u, D and the complement.
    """
    known = out[out["level"] != "unknown"].reset_index(drop=True)
    unk = out[out["level"] == "unknown"]
    u_row = unk.iloc[0] if len(unk) else None
    ranges = []
    for _, r in known.iterrows():
        if r["suppressed"]:
            ranges.append([v for v in range(n_total + 1) if in_marker(v, r["display"], r["reason"], m)])
        else:
            ranges.append([int(r["n"])])
    if u_row is None:
        u_range = [0]
    elif u_row["suppressed"]:
        u_range = [v for v in range(1, n_total + 1) if in_marker(v, u_row["display"], u_row["reason"], m)]
    else:
        u_range = [int(u_row["n"])]
    d_pub = known["denominator"].dropna()
    d_pub = int(d_pub.iloc[0]) if len(d_pub) else None
    feasible: dict[str, set[int]] = {}
    for combo in itertools.product(*ranges, u_range):
        ns, u = combo[:-1], combo[-1]
        d = n_total - u
        if d < 0:
            continue
        c0 = d - sum(ns)
        if c0 < 0 or (not binary and c0 != 0):
            continue
        if binary:
            r = known.iloc[0]
            if not r["suppressed"] and small_m(c0, m):
                continue  # a small complement would have hidden n
            if r["suppressed"] and r["reason"] == "small_complement" and not small_m(c0, m):
                continue
        if d_pub is not None and d != d_pub:
            continue
        if any(not math.isnan(p) and p != pct(n, d) for n, p in zip(ns, known["pct"].astype(float))):
            continue
        for i, n in enumerate(ns):
            feasible.setdefault(f"n{i}", set()).add(n)
        feasible.setdefault("u", set()).add(u)
        feasible.setdefault("D", set()).add(d)
        feasible.setdefault("c0", set()).add(c0)
    return feasible


def check_descriptives(values: list[int], unknown: int, m: int, *, binary: bool = False) -> pd.DataFrame:
    rows = desc_rows(values, unknown, binary=binary)
    out = sdc.protect_descriptives(rows, m)
    n_total = sum(values) + unknown
    feasible = attack_descriptives(out, m, n_total, binary)
    known = out[out["level"] != "unknown"].reset_index(drop=True)
    assert feasible, f"the true table is not consistent with what was published: {values}, {unknown}"
    withheld = out["reason"].eq("withheld").any()
    for i, r in known.iterrows():
        if r["suppressed"] and (not withheld or small_m(values[i], m)):
            assert len(feasible[f"n{i}"]) >= 2, (values, unknown, m, out)
        if r["denominator_suppressed"] and unknown and not binary:  # with no unknown row, D is N itself
            assert len(feasible["D"]) >= 2, (values, unknown, m, out)
    unk = out[out["level"] == "unknown"]
    if len(unk) and unk.iloc[0]["suppressed"]:
        assert len(feasible["u"]) >= 2, (values, unknown, m, out)
    if binary and small_m(unknown, m):
        assert len(feasible["c0"]) >= 2, (values, unknown, m, out)
    return out


def attack_associations(out: pd.DataFrame, m: int, c_pos: int, grand: int) -> dict[str, set[int]]:
    """All values of each hidden n, d and d - n consistent with a protected association block
    (public: shown values, the column total of n and the grand total, marks and reasons)."""
    rows = out.reset_index(drop=True)
    d_ranges, n_fixed = [], []
    for _, r in rows.iterrows():
        if r["denominator_suppressed"]:
            d_ranges.append([v for v in range(grand + 1) if in_marker(v, r["denominator_display"], r["denominator_reason"], m)])
        else:
            d_ranges.append([int(r["denominator"])])
        n_fixed.append(None if r["suppressed"] else int(r["n"]))
    feasible: dict[str, set[int]] = {}
    for ds in itertools.product(*d_ranges):
        if sum(ds) != grand:
            continue
        n_ranges = []
        for i, r in rows.iterrows():
            if n_fixed[i] is not None:
                n_ranges.append([n_fixed[i]])
                continue
            vals = []
            for v in range(ds[i] + 1):
                rr, reason = ds[i] - v, r["reason"]
                if reason == "small_count" and not small_m(v, m):
                    continue
                if reason == "small_complement" and (small_m(v, m) or not small_m(rr, m)):
                    continue
                if reason == "secondary" and (small_m(v, m) or small_m(rr, m)):
                    continue
                vals.append(v)
            n_ranges.append(vals)
        for ns in itertools.product(*n_ranges):
            if sum(ns) != c_pos or any(n > d for n, d in zip(ns, ds)):
                continue
            if any(not math.isnan(p) and p != pct(n, d) for n, d, p in zip(ns, ds, rows["pct"].astype(float))):
                continue
            for i, (n, d) in enumerate(zip(ns, ds)):
                feasible.setdefault(f"n{i}", set()).add(n)
                feasible.setdefault(f"d{i}", set()).add(d)
                feasible.setdefault(f"r{i}", set()).add(d - n)
    return feasible


def check_associations(cells: list[tuple[int, int]], m: int) -> pd.DataFrame:
    out = sdc.protect_associations(assoc_rows(cells), m)
    c_pos, grand = sum(n for n, _ in cells), sum(d for _, d in cells)
    feasible = attack_associations(out, m, c_pos, grand)
    assert feasible, f"the true table is not consistent with what was published: {cells}"
    withheld = out["reason"].eq("withheld").any()
    for i, r in out.reset_index(drop=True).iterrows():
        n, d = cells[i]
        # a withheld block hides all it can: a value the public totals alone pin down (e.g. n = 0
        # when the column total is 0) is then only a disclosure if it is a small count
        if r["suppressed"] and (not withheld or small_m(n, m)):
            assert len(feasible[f"n{i}"]) >= 2, (cells, m, out)
        if r["suppressed"] and small_m(d - n, m):
            assert len(feasible[f"r{i}"]) >= 2, (cells, m, out)
        if r["denominator_suppressed"] and (not withheld or small_m(d, m)):
            assert len(feasible[f"d{i}"]) >= 2, (cells, m, out)
    return out


# ----------------------------------------------------------------------------------------------
# Invariants every protected frame must satisfy
# ----------------------------------------------------------------------------------------------


def assert_invariants_descriptives(rows: pd.DataFrame, out: pd.DataFrame, m: int) -> None:
    for (_, r_in), (_, r) in zip(rows.iterrows(), out.iterrows()):
        if 1 <= int(r_in["n"]) < m and r_in["level"] not in sdc.NON_COUNT_LEVELS:
            assert r["suppressed"] and r["display"] in (f"<{m}", "[c]")
        if r["suppressed"]:
            assert pd.isna(r["n"]) and r["display"]
            if r["level"] != "unknown":
                assert math.isnan(r["pct"])
        else:
            assert int(r["n"]) == int(r_in["n"])  # shown values are never altered
        if r["denominator_suppressed"]:
            assert pd.isna(r["denominator"]) and math.isnan(r["pct"])
    for _, blk in out.groupby("variable"):
        unknown = blk[blk["level"] == "unknown"]
        if len(unknown) and unknown["suppressed"].any() and (blk["level"] != "unknown").any():
            assert blk.loc[blk["level"] != "unknown", "denominator_suppressed"].all()


def assert_invariants_associations(rows: pd.DataFrame, out: pd.DataFrame, m: int) -> None:
    any_hidden = out["suppressed"].any() or out["denominator_suppressed"].any()
    assert out["test_suppressed"].all() == bool(any_hidden)
    if any_hidden:
        assert out["statistic"].isna().all() and out["p"].isna().all() and out["p_display"].ne("").all()
        assert out["suppressed"].sum() >= 2 or out["reason"].eq("withheld").any()
    for (_, r_in), (_, r) in zip(rows.iterrows(), out.iterrows()):
        n, d = int(r_in["n"]), int(r_in["denominator"])
        if small_m(n, m) or small_m(d - n, m) or small_m(d, m):
            assert r["suppressed"]
        if small_m(d, m):
            assert r["denominator_suppressed"]
        if r["suppressed"] or r["denominator_suppressed"]:
            assert math.isnan(r["pct"])
        if not r["suppressed"]:
            assert int(r["n"]) == n


# ----------------------------------------------------------------------------------------------
# Exhaustive brute force on small tables
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("m", M_VALUES)
def test_brute_force_frequency_blocks_two_levels_and_unknown(m):
    for a, b, u in itertools.product(range(9), range(9), range(6)):
        if a + b == 0:
            continue
        check_descriptives([a, b], u, m)


@pytest.mark.parametrize("m", M_VALUES)
def test_brute_force_frequency_blocks_three_levels(m):
    for a, b, c in itertools.product(range(8), repeat=3):
        if a + b + c == 0:
            continue
        check_descriptives([a, b, c], 0, m)
    for a, b, c, u in itertools.product(range(0, 8, 2), range(1, 8, 3), range(7), range(4)):
        check_descriptives([a, b, c], u, m)


@pytest.mark.parametrize("m", M_VALUES)
def test_brute_force_yes_flags_protect_the_complement(m):
    for yes, no in itertools.product(range(14), range(14)):
        if yes + no == 0:
            continue
        out = check_descriptives([yes], no, m, binary=True)
        if small_m(no, m):
            assert out.iloc[0]["suppressed"], "a small 'no' complement must hide the 'yes' count"


@pytest.mark.parametrize("m", M_VALUES)
def test_brute_force_association_two_by_two(m):
    pairs = [(n, d) for d in range(12) for n in range(d + 1)]
    for c1, c2 in itertools.product(pairs, repeat=2):
        out = check_associations([c1, c2], m)
        assert_invariants_associations(assoc_rows([c1, c2]), out, m)


def test_brute_force_association_three_levels_sample():
    rng = random.Random(20240132)
    for _ in range(400):
        m = rng.choice(M_VALUES)
        cells = []
        for _ in range(3):
            d = rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 10, 14])
            cells.append((rng.randint(0, d), d))
        check_associations(cells, m)


# ----------------------------------------------------------------------------------------------
# Property tests
# ----------------------------------------------------------------------------------------------

counts = st.one_of(st.integers(0, 6), st.integers(0, 40))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(counts, min_size=2, max_size=4).filter(lambda v: sum(v) > 0), unknown=st.integers(0, 6),
       m=st.sampled_from(M_VALUES))
def test_property_frequency_blocks(values, unknown, m):
    rows = desc_rows(values, unknown)
    out = sdc.protect_descriptives(rows, m)
    assert_invariants_descriptives(rows, out, m)
    if out["suppressed"].sum() <= 3:  # keep the brute force small
        check_descriptives(values, unknown, m)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)).map(lambda t: (min(t), max(t))),
                      min_size=2, max_size=4),
       m=st.sampled_from(M_VALUES))
def test_property_association_blocks(cells, m):
    rows = assoc_rows(cells)
    out = sdc.protect_associations(rows, m)
    assert_invariants_associations(rows, out, m)
    if out["denominator_suppressed"].sum() <= 2:
        check_associations(cells, m)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(0, 3000), min_size=2, max_size=8), unknown=st.integers(0, 60))
def test_property_large_tables_are_protected_and_deterministic(values, unknown):
    rows = desc_rows(values, unknown) if sum(values) else desc_rows([1, *values], unknown)
    first = sdc.protect_descriptives(rows, 5)
    assert_invariants_descriptives(rows, first, 5)
    assert first.equals(sdc.protect_descriptives(rows, 5))


# ----------------------------------------------------------------------------------------------
# Frame-level behaviour
# ----------------------------------------------------------------------------------------------


def test_off_reproduces_the_seed_tables(root, tmp_path):
    committed = root / "results" / "default"
    for name, protect in (("descriptives", sdc.protect_descriptives), ("associations", sdc.protect_associations)):
        rows = results.read_csv(name, committed)
        for m in (0, 1):
            out = protect(rows, m)
            assert not out["suppressed"].any()
            written = results.write_csv(out, name, tmp_path / f"{name}{m}")
            assert written.read_bytes() == (committed / f"{name}.csv").read_bytes()
            assert sdc.suppression_table(out if name == "descriptives" else None,
                                         out if name == "associations" else None).empty
    assert sdc.disclosure_note(0) == "" and sdc.disclosure_note(1) == ""
    with pytest.raises(ValueError, match="min_cell_count"):
        sdc.protect_descriptives(results.read_csv("descriptives", committed), -1)


def test_disclosure_note():
    assert '"<5"' in sdc.disclosure_note(5) and "1 to 4" in sdc.disclosure_note(5)
    assert sdc.disclosure_note(2).startswith("Statistical disclosure control: Counts of 1 are")


def test_small_unknown_hides_the_denominator_and_percentages():
    out = sdc.protect_descriptives(desc_rows([40, 3], 2), 5)
    assert out["denominator_suppressed"].iloc[:2].all() and out["pct"].isna().all()
    assert list(out["display"]) == ["", "<5", "<5"]
    kept = sdc.protect_descriptives(desc_rows([40, 30], 2), 5, protect_unknown=False)
    assert not kept["suppressed"].any()


def test_max_row_is_not_a_count_and_is_hidden(root):
    desc = results.read_csv("descriptives", root / "results" / "default")
    out = sdc.protect_descriptives(desc, 5)
    mx = out[(out["variable"] == "victim_case_count") & (out["level"] == "max")].iloc[0]
    assert mx["suppressed"] and mx["reason"] == "extreme_value"


def test_flag_group_shares_its_unknown_row():
    rows = pd.DataFrame([
        {"table": "t", "variable": "labour_exploitation", "level": "yes", "n": 50, "denominator": 120, "pct": pct(50, 120)},
        {"table": "t", "variable": "domestic_servitude", "level": "yes", "n": 3, "denominator": 120, "pct": pct(3, 120)},
        {"table": "t", "variable": "sexual_exploitation", "level": "yes", "n": 118, "denominator": 120, "pct": pct(118, 120)},
        {"table": "t", "variable": "exploitation_type", "level": "unknown", "n": 2, "denominator": pd.NA, "pct": math.nan},
    ])
    out = sdc.protect_descriptives(rows, 5)
    assert list(out["suppressed"]) == [False, True, True, True]
    assert out.loc[2, "reason"] == "small_complement" and out.loc[2, "display"] == "[c]"
    assert out["denominator_suppressed"].iloc[:3].all() and out["pct"].isna().all()


def test_accepted_rows_follow_hidden_offered_counts():
    offered = assoc_rows([(3, 40), (60, 200), (30, 90)], outcome="offered")
    accepted = assoc_rows([(1, 3), (20, 60), (10, 30)], outcome="accepted")
    out = sdc.protect_associations(pd.concat([accepted, offered], ignore_index=True), 5)
    acc = out[out["outcome"] == "accepted"].set_index("level")
    off = out[out["outcome"] == "offered"].set_index("level")
    hidden_offered = set(off.index[off["suppressed"]])
    assert "l0" in hidden_offered
    for level in hidden_offered:
        assert acc.loc[level, "suppressed"] and acc.loc[level, "denominator_suppressed"]


def test_results_csv_writes_hidden_values_empty_and_lists_them(tmp_path):
    out = sdc.protect_associations(assoc_rows([(3, 40), (60, 200), (30, 90)]), 5)
    path = results.write_csv(out, "associations", tmp_path)
    text = path.read_text().splitlines()
    assert text[0] == ",".join(results.CONTRACT["associations"])
    assert text[1].startswith("offered,f,l0,,40,,,2,,")
    table = sdc.suppression_table(associations=out)
    assert tuple(table.columns) == sdc.SUPPRESSION_COLUMNS
    assert set(table["column"]) == {"n", "pct", "statistic", "p"}
    assert table.loc[table["column"] == "n", "display"].tolist() == ["<5", "[c]"]
    assert (table.loc[table["column"] == "p", "display"] == "p<0.05").all()


def test_release_params_turn_sdc_on(root):
    from msht.config import load_params

    release = load_params(root / "params" / "release.yaml")
    default = load_params(root / "params" / "default.yaml")
    assert release.min_cell_count == 5 and release.run_name == "release"
    for key in ("results_dir", "processed_dir", "report_dir"):
        assert Path(getattr(release, key)).parts[:2] == ("_output", "release")
    same = {k for k in default.as_dict() if k not in ("run_name", "min_cell_count", "results_dir", "processed_dir", "report_dir")}
    assert {k: release.as_dict()[k] for k in same} == {k: default.as_dict()[k] for k in same}
