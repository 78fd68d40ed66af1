"""Statistical disclosure control: no suppressed count can be worked out from what is published.

The checks here do not reuse :mod:`msht.publish.sdc`'s own audit: an independent brute force lists every
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

from hypothesis_profiles import examples
from msht.publish import results, sdc
from msht.base.formats import pct

M_VALUES = (3, 5)


# ----------------------------------------------------------------------------------------------
# Builders
# ----------------------------------------------------------------------------------------------


def desc_rows(values: list[int], unknown: int = 0, *, binary: bool = False, variable: str = "v") -> pd.DataFrame:
    levels = ["yes"] if binary else [f"l{i}" for i in range(len(values))]
    d = values[0] + unknown if binary else sum(values)  # binary: `unknown` is the complement "no"
    rows = [
        {"table": "t", "variable": variable, "level": lv, "n": v, "denominator": d, "pct": pct(v, d)}
        for lv, v in zip(levels, values)
    ]
    if unknown and not binary:
        rows.append(
            {
                "table": "t",
                "variable": variable,
                "level": "unknown",
                "n": unknown,
                "denominator": pd.NA,
                "pct": math.nan,
            }
        )
    out = pd.DataFrame(rows)
    out["denominator"] = out["denominator"].astype("Int64")
    return out


def assoc_rows(cells: list[tuple[int, int]], outcome: str = "offered", factor: str = "f") -> pd.DataFrame:
    """``cells``: (n, d) per level."""
    return pd.DataFrame(
        [
            {
                "outcome": outcome,
                "factor": factor,
                "level": f"l{i}",
                "n": n,
                "denominator": d,
                "pct": pct(n, d),
                "statistic": 1.5,
                "df": len(cells) - 1,
                "p": 0.02,
                "test": "Pearson chi-square",
            }
            for i, (n, d) in enumerate(cells)
        ]
    )


def in_marker(value: int, reason: str, m: int) -> bool:
    """What the published reason (and its mark: ``"<m"`` for small ones) says about a hidden count."""
    if reason == "withheld":
        return value >= 0
    if reason in ("small_count", "small_total"):
        return 1 <= value <= m - 1
    return value == 0 or value >= m


def small_m(value: int, m: int) -> bool:
    return 1 <= value <= m - 1


# ----------------------------------------------------------------------------------------------
# What is published: a "view" of a block, from a protected frame or from sdc's block functions
# ----------------------------------------------------------------------------------------------


def desc_view_from_frame(out: pd.DataFrame, binary: bool) -> dict:
    known = out[out["level"] != "unknown"]
    unk = out[out["level"] == "unknown"]
    d = known["denominator"].dropna()
    return {
        "known": [(None if r["suppressed"] else int(r["n"]), r["reason"]) for _, r in known.iterrows()],
        "pct": [None if math.isnan(p) else p for p in known["pct"].astype(float)],
        "D": int(d.iloc[0]) if len(d) else None,
        "u": None
        if unk.empty
        else ((None, unk.iloc[0]["reason"]) if unk.iloc[0]["suppressed"] else (int(unk.iloc[0]["n"]), "")),
        "binary": binary,
    }


def desc_view_from_block(b: sdc.DescBlock) -> dict:
    return {
        "known": [(None, b.hide[i]) if i in b.hide else (v, "") for i, v in enumerate(b.values)],
        "pct": [None] * len(b.values),  # a shown percentage of a shown n and D adds nothing
        "D": None if b.d_hidden else b.d,
        "u": None if b.u_index is None else ((None, b.u_reason) if b.u_reason else (b.u, "")),
        "binary": b.binary,
    }


def assoc_view_from_frame(out: pd.DataFrame) -> list[dict]:
    return [
        {
            "n": None if r["suppressed"] else int(r["n"]),
            "n_reason": r["reason"],
            "d": None if r["denominator_suppressed"] else int(r["denominator"]),
            "d_reason": r["denominator_reason"],
            "pct": None if math.isnan(r["pct"]) else r["pct"],
        }
        for _, r in out.iterrows()
    ]


def assoc_view_from_block(b: sdc.AssocBlock) -> list[dict]:
    return [
        {
            "n": None if i in b.n_reason else b.n[i],
            "n_reason": b.n_reason.get(i, ""),
            "d": None if i in b.d_reason else b.d[i],
            "d_reason": b.d_reason.get(i, ""),
            "pct": None,
        }
        for i in range(len(b.n))
    ]


# ----------------------------------------------------------------------------------------------
# Independent brute-force attackers
# ----------------------------------------------------------------------------------------------


def attack_descriptives(view: dict, m: int, n_total: int) -> dict[str, set[int]]:
    """All values of each cell consistent with a published descriptives block.

    Public: every shown value, N (= known + unknown: the number of units, printed elsewhere),
    and the reasons (with their marks). Returns {cell: feasible values} for each level's n,
    the unknown count u, the denominator D and the flag complement c0.
    """
    binary = view["binary"]
    ranges = [
        [v] if v is not None else [x for x in range(n_total + 1) if in_marker(x, reason, m)]
        for v, reason in view["known"]
    ]
    if view["u"] is None:
        u_range = [0]
    elif view["u"][0] is not None:
        u_range = [view["u"][0]]
    else:
        u_range = [x for x in range(1, n_total + 1) if in_marker(x, view["u"][1], m)]
    feasible: dict[str, set[int]] = {}
    for combo in itertools.product(*ranges, u_range):
        ns, u = combo[:-1], combo[-1]
        d = n_total - u
        c0 = d - sum(ns)
        if d < 0 or c0 < 0 or (not binary and c0 != 0):
            continue
        if binary:
            value, reason = view["known"][0]
            if value is not None and small_m(c0, m):
                continue  # a small complement would have hidden n
            if reason == "small_complement" and not small_m(c0, m):
                continue
        if view["D"] is not None and d != view["D"]:
            continue
        if any(p is not None and p != pct(n, d) for n, p in zip(ns, view["pct"])):
            continue
        for i, n in enumerate(ns):
            feasible.setdefault(f"n{i}", set()).add(n)
        feasible.setdefault("u", set()).add(u)
        feasible.setdefault("D", set()).add(d)
        feasible.setdefault("c0", set()).add(c0)
    return feasible


def assert_desc_safe(view: dict, values: list[int], unknown: int, m: int) -> None:
    """Every hidden cell has two or more feasible values (in a withheld block: every small one)."""
    binary = view["binary"]
    n_total = (values[0] + unknown) if binary else sum(values) + unknown
    feasible = attack_descriptives(view, m, n_total)
    assert feasible, f"the true table is not consistent with what was published: {values}, {unknown}"
    withheld = any(reason == "withheld" for _, reason in view["known"])
    # a withheld block hides all it can; its public total may be too small for three values
    need = 2 if withheld else sdc.needed_values(m)
    for i, (v, _) in enumerate(view["known"]):
        # a small count is never published nor derivable; a hidden one is never derivable
        if small_m(values[i], m) or (v is None and not withheld):
            assert len(feasible[f"n{i}"]) >= need, (values, unknown, m, view)
    if not binary and (small_m(unknown, m) or (view["u"] is not None and view["u"][0] is None)):
        assert len(feasible["u"]) >= need, (values, unknown, m, view)
        assert len(feasible["D"]) >= need, (values, unknown, m, view)
    if binary and small_m(unknown, m):
        assert len(feasible["c0"]) >= need, (values, unknown, m, view)


def check_descriptives(values: list[int], unknown: int, m: int, *, binary: bool = False) -> pd.DataFrame:
    """Protect through the frame API and attack what it publishes."""
    out = sdc.protect_descriptives(desc_rows(values, unknown, binary=binary), m)
    assert_desc_safe(desc_view_from_frame(out, binary), values, unknown, m)
    return out


def check_frequency_block(values: list[int], unknown: int, m: int, *, binary: bool = False) -> sdc.DescBlock:
    """Protect through the block API (fast) and attack what it publishes."""
    if binary:
        b = sdc.protect_frequency_block(values, None, m, binary=True, denominator=values[0] + unknown)
    else:
        b = sdc.protect_frequency_block(values, unknown or None, m)
    assert_desc_safe(desc_view_from_block(b), values, unknown, m)
    return b


def attack_associations(view: list[dict], m: int, c_pos: int, grand: int) -> dict[str, set[int]]:
    """All values of each hidden n, d and d - n consistent with a published association block
    (public: shown values, the column total of n, the grand total, the reasons and marks)."""
    d_ranges = [
        [r["d"]] if r["d"] is not None else [v for v in range(grand + 1) if in_marker(v, r["d_reason"], m)]
        for r in view
    ]
    feasible: dict[str, set[int]] = {}
    for ds in itertools.product(*d_ranges):
        if sum(ds) != grand:
            continue
        n_ranges = []
        for r, d in zip(view, ds):
            if r["n"] is not None:
                n_ranges.append([r["n"]])
                continue
            vals = []
            for v in range(d + 1):
                rest, reason = d - v, r["n_reason"]
                if reason == "small_count" and not small_m(v, m):
                    continue
                if reason == "small_complement" and (small_m(v, m) or not small_m(rest, m)):
                    continue
                if reason == "secondary" and (small_m(v, m) or small_m(rest, m)):
                    continue
                vals.append(v)
            n_ranges.append(vals)
        for ns in itertools.product(*n_ranges):
            if sum(ns) != c_pos or any(n > d for n, d in zip(ns, ds)):
                continue
            if any(r["pct"] is not None and r["pct"] != pct(n, d) for r, n, d in zip(view, ns, ds)):
                continue
            for i, (n, d) in enumerate(zip(ns, ds)):
                feasible.setdefault(f"n{i}", set()).add(n)
                feasible.setdefault(f"d{i}", set()).add(d)
                feasible.setdefault(f"r{i}", set()).add(d - n)
    return feasible


def assert_assoc_safe(view: list[dict], cells: list[tuple[int, int]], m: int) -> None:
    c_pos, grand = sum(n for n, _ in cells), sum(d for _, d in cells)
    feasible = attack_associations(view, m, c_pos, grand)
    assert feasible, f"the true table is not consistent with what was published: {cells}"
    withheld = any(r["n_reason"] == "withheld" for r in view)
    need = 2 if withheld else sdc.needed_values(m)
    for i, r in enumerate(view):
        n, d = cells[i]
        # a withheld block hides all it can: a value the public totals alone pin down (e.g. n = 0
        # when the column total is 0) is then only a disclosure if it is a small count
        # a small count (n, d - n or d) is never published nor derivable; a hidden one never derivable
        if small_m(n, m) or (r["n"] is None and not withheld):
            assert len(feasible[f"n{i}"]) >= need, (cells, m, view)
        if small_m(d - n, m):
            assert len(feasible[f"r{i}"]) >= need, (cells, m, view)
        if small_m(d, m) or (r["d"] is None and not withheld):
            assert len(feasible[f"d{i}"]) >= need, (cells, m, view)


def check_associations(cells: list[tuple[int, int]], m: int) -> pd.DataFrame:
    out = sdc.protect_associations(assoc_rows(cells), m)
    assert_assoc_safe(assoc_view_from_frame(out), cells, m)
    return out


def check_association_block(cells: list[tuple[int, int]], m: int) -> sdc.AssocBlock:
    b = sdc.protect_association_block([n for n, _ in cells], [d for _, d in cells], m)
    assert_assoc_safe(assoc_view_from_block(b), cells, m)
    return b


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
    for a, b, u in itertools.product(range(10), range(10), range(7)):
        if a + b:
            check_frequency_block([a, b], u, m)


@pytest.mark.parametrize("m", M_VALUES)
def test_brute_force_frequency_blocks_three_levels(m):
    for a, b, c in itertools.product(range(9), repeat=3):
        if a + b + c:
            check_frequency_block([a, b, c], 0, m)
    for a, b, c, u in itertools.product(range(0, 8, 2), range(1, 8, 3), range(7), range(5)):
        check_frequency_block([a, b, c], u, m)


@pytest.mark.parametrize("m", M_VALUES)
def test_brute_force_yes_flags_protect_the_complement(m):
    for yes, no in itertools.product(range(16), range(16)):
        if yes + no:
            b = check_frequency_block([yes], no, m, binary=True)
            if small_m(no, m):
                assert 0 in b.hide, "a small 'no' complement must hide the 'yes' count"


@pytest.mark.parametrize("m", M_VALUES)
def test_brute_force_association_two_by_two(m):
    pairs = [(n, d) for d in range(12) for n in range(d + 1)]
    for c1, c2 in itertools.product(pairs, repeat=2):
        check_association_block([c1, c2], m)


def test_brute_force_association_three_levels_sample():
    rng = random.Random(20240132)
    for _ in range(600):
        m = rng.choice(M_VALUES)
        cells = []
        for _ in range(3):
            d = rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 10, 14])
            cells.append((rng.randint(0, d), d))
        check_association_block(cells, m)


def test_frame_api_publishes_what_the_block_api_decides():
    """The frame wrappers hide exactly the block decisions (spot checks through pandas)."""
    rng = random.Random(7)
    for _ in range(40):
        m = rng.choice(M_VALUES)
        values, u = [rng.randint(0, 9) for _ in range(3)], rng.randint(0, 4)
        if sum(values):
            rows = desc_rows(values, u)
            out = check_descriptives(values, u, m)
            assert_invariants_descriptives(rows, out, m)
        cells = [(n, n + rng.randint(0, 9)) for n in (rng.randint(0, 9) for _ in range(2))]
        out = check_associations(cells, m)
        assert_invariants_associations(assoc_rows(cells), out, m)


# ----------------------------------------------------------------------------------------------
# Property tests
# ----------------------------------------------------------------------------------------------

counts = st.one_of(st.integers(0, 6), st.integers(0, 40))


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(counts, min_size=2, max_size=4).filter(lambda v: sum(v) > 0),
    unknown=st.integers(0, 6),
    m=st.sampled_from(M_VALUES),
)
def test_property_frequency_blocks(values, unknown, m):
    rows = desc_rows(values, unknown)
    out = sdc.protect_descriptives(rows, m)
    assert_invariants_descriptives(rows, out, m)
    if out["suppressed"].sum() <= 3:  # keep the brute force small
        assert_desc_safe(desc_view_from_frame(out, False), values, unknown, m)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 12)).map(lambda t: (min(t), max(t))), min_size=2, max_size=4
    ),
    m=st.sampled_from(M_VALUES),
)
def test_property_association_blocks(cells, m):
    rows = assoc_rows(cells)
    out = sdc.protect_associations(rows, m)
    assert_invariants_associations(rows, out, m)
    if out["denominator_suppressed"].sum() <= 2:
        assert_assoc_safe(assoc_view_from_frame(out), cells, m)


@settings(max_examples=examples(60), deadline=None)
@given(values=st.lists(st.integers(0, 3000), min_size=2, max_size=8), unknown=st.integers(0, 60))
def test_property_large_tables_are_protected_and_deterministic(values, unknown):
    rows = desc_rows(values, unknown) if sum(values) else desc_rows([1, *values], unknown)
    first = sdc.protect_descriptives(rows, 5)
    assert_invariants_descriptives(rows, first, 5)
    assert first.equals(sdc.protect_descriptives(rows, 5))


# ----------------------------------------------------------------------------------------------
# Frame-level behaviour
# ----------------------------------------------------------------------------------------------


def test_off_reproduces_the_published_tables(root, tmp_path):
    committed = root / "results" / "default"
    for name, protect in (("descriptives", sdc.protect_descriptives), ("associations", sdc.protect_associations)):
        rows = results.read_csv(name, committed)
        for m in (0, 1):
            out = protect(rows, m)
            assert not out["suppressed"].any()
            written = results.write_csv(out, name, tmp_path / f"{name}{m}")
            assert written.read_bytes() == (committed / f"{name}.csv").read_bytes()
            assert sdc.suppression_table(
                out if name == "descriptives" else None, out if name == "associations" else None
            ).empty
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
    rows = pd.DataFrame(
        [
            {
                "table": "t",
                "variable": "labour_exploitation",
                "level": "yes",
                "n": 50,
                "denominator": 120,
                "pct": pct(50, 120),
            },
            {
                "table": "t",
                "variable": "domestic_servitude",
                "level": "yes",
                "n": 3,
                "denominator": 120,
                "pct": pct(3, 120),
            },
            {
                "table": "t",
                "variable": "sexual_exploitation",
                "level": "yes",
                "n": 118,
                "denominator": 120,
                "pct": pct(118, 120),
            },
            {
                "table": "t",
                "variable": "exploitation_type",
                "level": "unknown",
                "n": 2,
                "denominator": pd.NA,
                "pct": math.nan,
            },
        ]
    )
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
    assert (table.loc[table["column"] == "p", "display"] == "[c]").all()  # not even the band (issue 15)


def test_release_params_turn_sdc_on(root):
    from msht.config import load_params

    release = load_params(root / "params" / "release.yaml")
    default = load_params(root / "params" / "default.yaml")
    assert release.min_cell_count == 5 and release.run_name == "release"
    for key in ("results_dir", "processed_dir", "report_dir"):
        assert Path(getattr(release, key)).parts[:2] == ("_output", "release")
    same = {
        k
        for k in default.as_dict()
        if k not in ("run_name", "min_cell_count", "results_dir", "processed_dir", "report_dir")
    }
    assert {k: release.as_dict()[k] for k in same} == {k: default.as_dict()[k] for k in same}


def test_overall_row_and_non_count_rows():
    rows = pd.concat([assoc_rows([(3, 200)], factor="overall"), assoc_rows([(1, 100), (2, 100)])], ignore_index=True)
    out = sdc.protect_associations(rows, 5)
    assert out.loc[0, "suppressed"] and out.loc[0, "display"] == "<5"
    desc = pd.DataFrame(
        [
            {
                "table": "s",
                "variable": "entries_outliers",
                "level": "threshold",
                "n": 1500,
                "denominator": pd.NA,
                "pct": math.nan,
            },
            {
                "table": "s",
                "variable": "entries_outliers",
                "level": "left_out",
                "n": 2,
                "denominator": 900,
                "pct": pct(2, 900),
            },
            {
                "table": "s",
                "variable": "entries_per_victim",
                "level": "median",
                "n": 3,
                "denominator": 900,
                "pct": math.nan,
            },
            {
                "table": "s",
                "variable": "entries_per_victim",
                "level": "min",
                "n": 1,
                "denominator": 900,
                "pct": math.nan,
            },
        ]
    )
    out = sdc.protect_descriptives(desc, 5)
    assert list(out["suppressed"]) == [False, True, False, True]
    assert list(out["reason"]) == ["", "small_count", "", "extreme_value"]


def test_withhold_for_blocks_blanks_derived_statistics():
    assoc = pd.concat(
        [assoc_rows([(3, 40), (60, 200)], factor="f"), assoc_rows([(30, 40), (60, 200)], factor="g")], ignore_index=True
    )
    protected = sdc.protect_associations(assoc, 5)
    tests = pd.DataFrame(
        {"outcome": "offered", "factor": ["f", "g"], "N": [240, 240], "chi2_seed": [4.2, 9.9], "odds_ratio": [0.2, 3.1]}
    )
    out, rows = sdc.withhold_for_blocks(tests, protected, file="association_tests", keep=("N",))
    assert out.loc[0, ["chi2_seed", "odds_ratio"]].isna().all() and out.loc[0, "N"] == 240
    assert out.loc[1, "chi2_seed"] == 9.9
    assert set(rows["column"]) == {"chi2_seed", "odds_ratio"} and set(rows["reason"]) == {"test_withheld"}


def test_blocks_with_one_denominator_per_level_are_protected_like_associations():
    rows = pd.DataFrame(
        [
            {
                "table": "figure1",
                "variable": "offered_by_year",
                "level": str(y),
                "n": n,
                "denominator": d,
                "pct": pct(n, d),
            }
            for y, n, d in [(2018, 2, 60), (2019, 30, 70), (2020, 25, 80)]
        ]
        + [
            {
                "table": "figure1",
                "variable": "offered_by_year",
                "level": lv,
                "n": v,
                "denominator": 210,
                "pct": math.nan,
            }
            for lv, v in [("statistic", 12.5), ("df", 2), ("p", 0.002)]
        ]
    )
    out = sdc.protect_descriptives(rows, 5)
    assert out.loc[0, "display"] == "<5" and out["suppressed"].iloc[:3].sum() >= 2
    assert out.loc[3, "suppressed"] and out.loc[5, "suppressed"] and not out.loc[4, "suppressed"]  # df stays
    view = assoc_view_from_frame(out.iloc[:3])
    assert_assoc_safe(view, [(2, 60), (30, 70), (25, 80)], 5)


def test_overlapping_levels_are_each_a_level_and_rest_pair():
    rows = pd.DataFrame(
        [
            {"table": "t", "variable": "v", "level": "a", "n": 118, "denominator": 120, "pct": pct(118, 120)},
            {"table": "t", "variable": "v", "level": "b", "n": 60, "denominator": 120, "pct": pct(60, 120)},
        ]
    )
    out = sdc.protect_descriptives(rows, 5)
    assert list(out["reason"]) == ["small_complement", ""]


def _default_descriptives() -> pd.DataFrame:
    from pathlib import Path

    return pd.read_csv(Path(__file__).resolve().parents[1] / "results" / "default" / "descriptives.csv")


def test_outlier_count_cannot_be_worked_back_from_section3_totals():
    """Issue 15 item 1: on the default twin 2 victims are left out as outliers (shown "<5"), but
    1,790 victims - 1,688 with police-record data - 100 without = 2, and the hidden row printed
    its own denominator 1,690 next to 1,688. Every count of that identity must not be published
    together with the outlier count hidden."""
    from msht.publish import descriptive_tables

    desc = _default_descriptives()
    protected, _ = descriptive_tables.protect({"all": desc}, 5)
    s32 = protected[protected["table"] == "section3_2"]
    left = s32[(s32["variable"] == "entries_outliers") & (s32["level"] == "left_out")].iloc[0]
    assert bool(left["suppressed"]) and int(desc.loc[left.name, "n"]) == 2
    assert pd.isna(left["denominator"]), "the hidden row prints its own denominator (1,690)"
    victims = protected[(protected["table"] == "section3_1") & (protected["variable"] == "victims")].iloc[0]
    blocks = [(v, b) for v, b in s32.groupby("variable") if (b["level"] == "unknown").any()]
    assert blocks
    for variable, block in blocks:
        known = block[block["level"] != "unknown"]
        unknown = block[block["level"] == "unknown"]
        published = [victims["n"], known["denominator"].iloc[0], *unknown["n"]]
        assert any(pd.isna(v) for v in published), f"{variable}: N - D - unknown gives the outlier count"
    supp = sdc.suppression_table(descriptives=protected)
    assert ((supp["table"] == "section3_2") & (supp["reason"] == "linked_total")).any()


def test_partition_link_does_nothing_with_sdc_off():
    from msht.publish import descriptive_tables

    desc = _default_descriptives()
    protected, _ = descriptive_tables.protect({"all": desc}, 0)
    assert not protected["suppressed"].any() and not protected["denominator_suppressed"].any()


def test_near_miss_two_values_is_no_longer_enough():
    """Issue 15 item 5: on a 10% sample, Table 1's sexual exploitation victims by sex were male 2
    ("<5"), female 30 and unknown 1 ("<5"), with the table's number of victims public: male +
    unknown = 3 left two possible values (1 or 2) for each. A hidden count must keep three."""
    values, unknown, m = [2, 30], 1, 5
    b = sdc.protect_frequency_block(values, unknown, m)
    feasible = attack_descriptives(desc_view_from_block(b), m, sum(values) + unknown)
    assert len(feasible["n0"]) >= 3 and len(feasible["u"]) >= 3


def test_near_miss_in_an_association_block_keeps_three_values():
    """Issue 15 item 5 (associations): 9 of 14 and 3 of 6 ("<5"): with the column total public,
    the old rule hid 9 as a secondary that could only be 8 or 9. Three values are now kept."""
    cells, m = [(9, 14), (3, 6)], 5
    b = sdc.protect_association_block([n for n, _ in cells], [d for _, d in cells], m)
    feasible = attack_associations(assoc_view_from_block(b), m, sum(n for n, _ in cells), sum(d for _, d in cells))
    for i, r in enumerate(assoc_view_from_block(b)):
        if r["n"] is None and r["n_reason"] != "withheld":
            assert len(feasible[f"n{i}"]) >= 3, (i, feasible)


def test_disclosure_note_says_how_much_is_suppressed_and_withheld():
    """Issue 15 "any size runs": where a table has too little left to publish, the report says so."""
    cells = [(1, 2), (0, 1)]
    out = sdc.protect_associations(assoc_rows(cells), 5)
    note = sdc.disclosure_note(5, out)
    assert "1 of 1 association tables have suppressed cells" in note
    assert "withheld whole: too few units are left" in note
    assert sdc.disclosure_note(0, sdc.protect_associations(assoc_rows(cells), 0)) == ""
    big = sdc.protect_associations(assoc_rows([(40, 80), (30, 90)]), 5)
    assert sdc.disclosure_note(5, big) == sdc.disclosure_note(5)
