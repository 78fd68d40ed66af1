"""Disclosure audit: bound every hidden count from everything published, the way an attacker can.

:mod:`msht.sdc` chooses suppressions block by block. This module checks the result across the
published files of a run at once: it builds one integer linear system whose unknowns are the
hidden counts and whose constraints are what a careful reader knows, and bounds each hidden count
with an integer-programming solver (:func:`scipy.optimize.milp`, HiGHS). A hidden count whose
feasible range holds fewer than :data:`MIN_RANGE` whole values is a disclosure.

What the system holds (each relation is kept only if it holds in the unprotected values, so no
false relation weakens the attacker; a relation that holds by coincidence only makes the audit
stricter):

* every count of ``descriptives.csv`` and ``associations.csv`` (``n`` and ``denominator``), hidden
  or shown, as a variable; a shown value fixes it; a ``"<m"`` mark bounds it to 1..m-1; a
  ``"[c]"`` mark says 0 or at least m (a binary variable), unless the reason says nothing
  (``withheld``, ``linked``, ``linked_total``, ``unknown_total``, ``test_withheld``);
* a printed percentage with a hidden count or denominator: 100 n / d rounded to one decimal;
* descriptives blocks: the known levels add up to the denominator (where they partition it); the
  denominator plus the ``unknown`` count is the table's number of units, one unknown per table;
  a ``yes`` flag is at most its denominator; a row's own denominator (``left_out``) is a count;
* association blocks: 0 <= n <= d; per outcome, the levels' totals and "yes" counts add up to
  the same total across every factor (the column totals and the grand total are public);
* section 3.2: the victims of section 3.1 are those with no police-record data, those left out as
  outliers and those analysed;
* ``completeness.csv``: each field's missing count;
* across files: ``accepted``'s total per level is ``offered``'s "yes" count; an association
  level's total is at most the case-level descriptives count of its variable and level.

Not modelled (listed in the report of the audit, :data:`NOT_MODELLED`): the p-value bands and
test statistics, the derived association files (blanked block by block), spellings, figures,
the regression, and links between descriptives and associations other than those above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

#: A hidden count must keep at least this many feasible whole values.
MIN_RANGE: Final[int] = 3
#: Upper bound on any count (no count of the study exceeds it).
BIG: Final[int] = 10**6
#: Reasons under which a ``"[c]"`` says nothing about the value.
SILENT_REASONS: Final[frozenset[str]] = frozenset(
    {"withheld", "linked", "linked_total", "unknown_total", "test_withheld", "extreme_value", "small_total"}
)
NOT_MODELLED: Final[tuple[str, ...]] = (
    "p-value bands and test statistics",
    "association_tests/residuals/vs_published (blanked per block with any suppression)",
    "spellings.csv, figures, regression.csv",
)


@dataclass
class System:
    """Integer unknowns (one per published or hidden count) and linear constraints over them."""

    names: list[str] = field(default_factory=list)
    truth: list[int] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    hidden: list[bool] = field(default_factory=list)
    rows: list[dict[int, float]] = field(default_factory=list)
    row_lo: list[float] = field(default_factory=list)
    row_hi: list[float] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    reason: dict[int, str] = field(default_factory=dict)
    #: association blocks: (outcome, factor) -> (n variables, denominator variables), in level order
    blocks: dict[tuple[str, str], tuple[list[int], list[int]]] = field(default_factory=dict)
    #: published p bands of blocks with hidden cells: (outcome, factor) -> band (``"p<0.05"``...)
    bands: dict[tuple[str, str], str] = field(default_factory=dict)

    def var(self, name: str, truth: int, *, hidden: bool, lo: float = 0, hi: float = BIG) -> int:
        """Add (or return) variable ``name``; a shown value is fixed to ``truth``."""
        if name in self.index:
            return self.index[name]
        self.index[name] = len(self.names)
        self.names.append(name)
        self.truth.append(int(truth))
        self.lo.append(lo if hidden else truth)
        self.hi.append(hi if hidden else truth)
        self.hidden.append(hidden)
        return self.index[name]

    def add(self, coefs: dict[int, float], lo: float, hi: float) -> None:
        """Add ``lo <= sum(coefs[i] * x_i) <= hi`` if it holds for the true values (else skip)."""
        value = sum(c * self.truth[i] for i, c in coefs.items())
        if lo - 1e-9 <= value <= hi + 1e-9:
            self.rows.append(coefs)
            self.row_lo.append(lo)
            self.row_hi.append(hi)

    def equal(self, left: list[int], right: list[int]) -> None:
        """sum(left) == sum(right), if true."""
        coefs: dict[int, float] = {}
        for i in left:
            coefs[i] = coefs.get(i, 0) + 1
        for i in right:
            coefs[i] = coefs.get(i, 0) - 1
        coefs = {i: c for i, c in coefs.items() if c}
        if coefs:
            self.add(coefs, 0, 0)


def _mark(system: System, i: int, display: str, reason: str, m: int, binaries: list[tuple[int, int]]) -> None:
    """Bound hidden variable ``i`` by what its mark says (a mark the true value contradicts is a
    bug of the audit's model, raised as such)."""
    t = system.truth[i]
    system.reason[i] = reason
    if display.startswith("<"):
        system.lo[i], system.hi[i] = 1, m - 1
        ok = 1 <= t <= m - 1
    elif reason not in SILENT_REASONS:
        binaries.append((i, m))  # 0 or >= m
        ok = t == 0 or t >= m
    else:
        ok = True
    if not ok:
        raise AssertionError(f"audit model: {system.names[i]} = {t} contradicts its mark {display} ({reason})")


def _value(v: object) -> int | None:
    return None if pd.isna(v) else int(round(float(v)))


def build(results_dir: Path, truth_dir: Path, m: int) -> tuple[System, list[tuple[int, int]], list[tuple]]:
    """The attacker's system for a protected run's ``results_dir``; ``truth_dir`` holds the same
    run's unprotected results (``min_cell_count: 0``), used only as the true values."""
    s = System()
    binaries: list[tuple[int, int]] = []
    pct_rows: list[tuple] = []
    supp = pd.read_csv(results_dir / "suppression.csv", dtype=str, keep_default_na=False)
    marks = {(r.file, r.table, r.variable, r.level, r.column): (r.display, r.reason) for r in supp.itertuples()}
    s.bands = {(r.table, r.variable): r.display for r in supp.itertuples()
               if r.file == "associations" and r.column == "p" and r.display.startswith("p")}
    _descriptives(s, results_dir, truth_dir, marks, m, binaries, pct_rows)
    _associations(s, results_dir, truth_dir, marks, m, binaries, pct_rows)
    _completeness(s, results_dir, truth_dir, marks, m, binaries)
    _cross_file(s)
    return s, binaries, pct_rows


#: Case-level descriptives tables: an association level's total (cases with the level and the
#: outcome recorded) is at most the table's count of cases with the level.
CASE_TABLES: Final[tuple[str, ...]] = ("appendix2", "table1_all_cases")


def _cross_file(s: System) -> None:
    """Structural links between files: ``accepted`` is measured on the cases offered support, so
    its total per level is ``offered``'s "yes" count; an association level's total is at most the
    case-level descriptives count of the same variable and level (:data:`CASE_TABLES`)."""
    from msht import sdc

    desc: dict[tuple[str, str], list[int]] = {}
    for name, i in s.index.items():
        parts = name.split("|")
        if parts[0] == "descriptives" and parts[1] in CASE_TABLES and parts[4] == "n":
            desc.setdefault((parts[2], parts[3]), []).append(i)
    for name, i in list(s.index.items()):
        parts = name.split("|")
        if parts[0] != "associations":
            continue
        _, outcome, factor, level, column = parts
        if column == "denominator":
            for j in desc.get((factor, level), []):
                s.add({i: 1, j: -1}, -BIG, 0)
            parent = sdc.NESTED.get(outcome)
            key = "|".join(("associations", parent or "", factor, level, "n"))
            if parent and key in s.index:
                s.equal([i], [s.index[key]])


def _cell(s: System, key: tuple, truth: int, shown: int | None, marks: dict, m: int, binaries: list) -> int:
    hidden = shown is None
    i = s.var("|".join(map(str, key)), truth, hidden=hidden)
    if hidden and key in marks:
        _mark(s, i, *marks[key], m, binaries)
    return i


def _descriptives(s: System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list,
                  pct_rows: list) -> None:
    from msht import sdc

    if not (results_dir / "descriptives.csv").exists():
        return
    pub = pd.read_csv(results_dir / "descriptives.csv", dtype={"level": str})
    tru = pd.read_csv(truth_dir / "descriptives.csv", dtype={"level": str})
    counts = ~tru["level"].isin(sdc.NON_COUNT_LEVELS)
    units: dict[str, int] = {}
    for (table, variable), blk in tru[counts].groupby(["table", "variable"], sort=False):
        known = blk[blk["level"] != "unknown"]
        unknown = blk[blk["level"] == "unknown"]
        n_idx = []
        for idx, r in known.iterrows():
            key = ("descriptives", table, variable, r["level"], "n")
            i = _cell(s, key, int(r["n"]), _value(pub.at[idx, "n"]), marks, m, binaries)
            n_idx.append(i)
            if pd.notna(r["denominator"]):
                dkey = ("descriptives", table, variable, r["level"], "denominator")
                d = _cell(s, dkey, int(r["denominator"]), _value(pub.at[idx, "denominator"]), marks, m, binaries)
                s.add({i: 1, d: -1}, -BIG, 0)  # n <= d
                if pd.notna(pub.at[idx, "pct"]) and (s.hidden[i] or s.hidden[d]):
                    pct_rows.append((i, d, float(pub.at[idx, "pct"])))
        d_rows = known["denominator"].dropna()
        if len(d_rows) and d_rows.nunique() == 1:
            d0 = s.index["|".join(map(str, ("descriptives", table, variable, known.iloc[0]["level"], "denominator")))]
            for lv in known["level"].iloc[1:]:
                s.equal([d0], [s.index["|".join(map(str, ("descriptives", table, variable, lv, "denominator")))]])
            s.equal(n_idx, [d0])  # kept only where the levels partition the denominator
            for idx, r in unknown.iterrows():
                key = ("descriptives", table, variable, "unknown", "n")
                u = _cell(s, key, int(r["n"]), _value(pub.at[idx, "n"]), marks, m, binaries)
                total = units.setdefault(table, s.var(f"units|{table}", int(r["n"]) + int(d_rows.iloc[0]),
                                                      hidden=True))
                s.equal([u, d0], [total])
    # section 3.2: victims = no police-record data + left out + analysed; left_out's own denominator
    try:
        victims = s.index["descriptives|section3_1|victims|all|n"]
        left = s.index["descriptives|section3_2|entries_outliers|left_out|n"]
        left_d = s.index["descriptives|section3_2|entries_outliers|left_out|denominator"]
        d = s.index["descriptives|section3_2|police_entries|several|denominator"]
        u = s.index["descriptives|section3_2|police_entries|unknown|n"]
        s.equal([victims], [u, left, d])
        s.equal([left_d], [left, d])
    except KeyError:
        pass


def _associations(s: System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list,
                  pct_rows: list) -> None:
    if not (results_dir / "associations.csv").exists():
        return
    pub = pd.read_csv(results_dir / "associations.csv", dtype={"level": str})
    tru = pd.read_csv(truth_dir / "associations.csv", dtype={"level": str})
    for outcome, oblk in tru.groupby("outcome", sort=False):
        d_total = s.var(f"assoc_total|{outcome}|d", int(oblk[oblk["factor"] == "overall"]["denominator"].sum()),
                        hidden=True)
        n_total = s.var(f"assoc_total|{outcome}|n", int(oblk[oblk["factor"] == "overall"]["n"].sum()), hidden=True)
        for factor, blk in oblk.groupby("factor", sort=False):
            n_idx, d_idx = [], []
            for idx, r in blk.iterrows():
                base = ("associations", outcome, factor, r["level"])
                i = _cell(s, (*base, "n"), int(r["n"]), _value(pub.at[idx, "n"]), marks, m, binaries)
                d = _cell(s, (*base, "denominator"), int(r["denominator"]), _value(pub.at[idx, "denominator"]),
                          marks, m, binaries)
                s.add({i: 1, d: -1}, -BIG, 0)
                n_idx.append(i)
                d_idx.append(d)
                if pd.notna(pub.at[idx, "pct"]) and (s.hidden[i] or s.hidden[d]):
                    pct_rows.append((i, d, float(pub.at[idx, "pct"])))
            s.equal(d_idx, [d_total])
            s.equal(n_idx, [n_total])
            s.blocks[(str(outcome), str(factor))] = (n_idx, d_idx)


def _completeness(s: System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list) -> None:
    path = results_dir / "completeness.csv"
    if not path.exists():
        return
    pub = pd.read_csv(path)
    tru = pd.read_csv(truth_dir / "completeness.csv")
    for idx, r in tru.iterrows():
        key = ("completeness", r["extract"], r["field"], "", "missing")
        _cell(s, key, int(r["missing"]), _value(pub.at[idx, "missing"]), marks, m, binaries)


def _matrices(s: System, binaries: list, pct_rows: list) -> tuple:
    """The milp inputs: counts first, then one binary per ``"[c]"`` (0 or >= m)."""
    nv, nb = len(s.names), len(binaries)
    rows, lo, hi = list(s.rows), list(s.row_lo), list(s.row_hi)
    for k, (i, m) in enumerate(binaries):
        z = nv + k
        rows.append({i: 1, z: -m})  # x >= m z
        lo.append(0), hi.append(np.inf)
        rows.append({i: 1, z: -BIG})  # x <= BIG z
        lo.append(-np.inf), hi.append(0)
    for i, d, p in pct_rows:  # p - 0.05 <= 100 n / d < p + 0.05, times d (d >= 1)
        rows.append({i: 100, d: -(p - 0.05)})
        lo.append(0), hi.append(np.inf)
        rows.append({i: 100, d: -(p + 0.05)})
        lo.append(-np.inf), hi.append(0)
    a = np.zeros((len(rows), nv + nb))
    for r, coefs in enumerate(rows):
        for i, c in coefs.items():
            a[r, i] += c
    bounds = Bounds(np.array(s.lo + [0] * nb, float), np.array(s.hi + [1] * nb, float))
    return a, np.array(lo, float), np.array(hi, float), bounds, nv + nb


def bound_hidden(s: System, binaries: list, pct_rows: list, m: int = 5) -> pd.DataFrame:
    """Per hidden count: its true value, the smallest and largest feasible values (milp), and
    ``required``: whether it must keep :data:`MIN_RANGE` values. A count hidden only because its
    whole block is withheld (``withheld``), and not itself from 1 to m-1, is not required to: a
    withheld block hides all it can, and its totals may be public elsewhere (``accepted``'s totals
    are ``offered``'s published "yes" counts), as :mod:`msht.sdc` states."""
    a, lo, hi, bounds, nvar = _matrices(s, binaries, pct_rows)
    constraints = LinearConstraint(a, lo, hi) if len(a) else None
    integrality = np.ones(nvar)
    out = []
    for i, name in enumerate(s.names):
        if not s.hidden[i] or name.startswith(("units|", "assoc_total|")):
            continue
        ends = []
        for sign in (1, -1):
            c = np.zeros(nvar)
            c[i] = sign
            res = milp(c, constraints=constraints, integrality=integrality, bounds=bounds)
            if not res.success:
                raise RuntimeError(f"audit system infeasible or unsolved for {name}: {res.message}")
            ends.append(round(res.x[i]))
        required = not (s.reason.get(i) == "withheld" and not 1 <= s.truth[i] < m)
        out.append({"cell": name, "reason": s.reason.get(i, ""), "true": s.truth[i], "low": ends[0],
                    "high": ends[1], "values": ends[1] - ends[0] + 1, "required": required})
    frame = pd.DataFrame(out, columns=["cell", "reason", "true", "low", "high", "values", "required"])
    return _apply_bands(s, frame)


#: Most candidate tables :func:`band_consistent_values` enumerates for one block.
ENUMERATION_CAP: Final[int] = 2_000_000


def _p_bands(p: np.ndarray) -> np.ndarray:
    """:func:`msht.sdc.p_band` of each p (``""`` for NaN), vectorised."""
    out = np.full(p.shape, "p≥0.05", dtype=object)
    out[p < 0.05] = "p<0.05"
    out[p < 0.01] = "p<0.01"
    out[p < 0.001] = "p<0.001"
    out[np.isnan(p)] = ""
    return out


def seed_p(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The seed-convention p of k x 2 tables (rows: level; columns: outcome yes, no), one table
    per row of ``n`` and ``d`` (shape ``(tables, k)``): Pearson's chi-square, with Yates'
    correction when k = 2, as :func:`scipy.stats.chi2_contingency` computes it
    (:func:`msht.stats.association_test`'s ``p_seed``); NaN where a row or column total is 0
    (the test is not computable)."""
    from scipy.stats import chi2

    n, d = np.asarray(n, float), np.asarray(d, float)
    obs = np.stack([n, d - n], axis=2)  # tables x k x 2
    total = d.sum(axis=1)
    cols = obs.sum(axis=1)  # tables x 2
    with np.errstate(divide="ignore", invalid="ignore"):
        exp = d[:, :, None] * cols[:, None, :] / total[:, None, None]
        if n.shape[1] == 2:
            diff = exp - obs
            obs = obs + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
        stat = ((obs - exp) ** 2 / exp).sum(axis=(1, 2))
    degenerate = (d == 0).any(axis=1) | (cols == 0).any(axis=1)
    p = chi2.sf(stat, n.shape[1] - 1)
    p[degenerate] = np.nan
    return p


def band_consistent_values(n_ranges: list[tuple[int, int]], d_ranges: list[tuple[int, int]], band: str,
                           total_n: int | None = None, total_d: int | None = None) -> list[tuple[set[int], set[int]]]:
    """Per row of an association block, the values of n and d that stay consistent with a printed
    p band.

    ``n_ranges``/``d_ranges`` give each row's feasible range (lo, hi) of its outcome-yes count
    and total (a shown value is (v, v)); ``total_n``/``total_d`` the block's published column
    total and grand total (``None``: not published). Every table within the ranges with
    0 <= n <= d and the totals is enumerated, its seed-convention p recomputed (:func:`seed_p`)
    and kept when its band (:func:`msht.sdc.p_band`) is ``band``. Raises ``ValueError`` when
    more than :data:`ENUMERATION_CAP` tables would have to be enumerated (the audit then fails:
    a band it cannot check is not shown to be safe)."""
    ranges = [*n_ranges, *d_ranges]
    size = 1
    for lo, hi in ranges:
        size *= hi - lo + 1
    if size > ENUMERATION_CAP:
        raise ValueError(f"{size} candidate tables for band {band}: more than {ENUMERATION_CAP}")
    grids = np.meshgrid(*[np.arange(lo, hi + 1) for lo, hi in ranges], indexing="ij")
    flat = np.stack([g.ravel() for g in grids], axis=1)
    k = len(n_ranges)
    n, d = flat[:, :k], flat[:, k:]
    keep = (n <= d).all(axis=1)
    if total_n is not None:
        keep &= n.sum(axis=1) == total_n
    if total_d is not None:
        keep &= d.sum(axis=1) == total_d
    n, d = n[keep], d[keep]
    if len(n):
        match = _p_bands(seed_p(n, d)) == band
        n, d = n[match], d[match]
    return [(set(n[:, j].tolist()), set(d[:, j].tolist())) for j in range(k)]


def _apply_bands(s: System, frame: pd.DataFrame) -> pd.DataFrame:
    """Narrow each hidden count of a block whose p band is published to the values that keep the
    band (:func:`band_consistent_values`, within the integer programme's ranges): ``values`` is
    then the number of consistent values, ``band`` the band that narrowed it."""
    frame = frame.assign(band="")
    if not s.bands:
        return frame
    rows = {c: k for k, c in enumerate(frame["cell"])}

    def rng(i: int) -> tuple[int, int]:
        k = rows.get(s.names[i])
        return (s.truth[i], s.truth[i]) if k is None else (int(frame.at[k, "low"]), int(frame.at[k, "high"]))

    def fixed_total(name: str) -> int | None:
        i = s.index.get(name)
        return None if i is None else _fixed(s, i)

    for (outcome, factor), band in s.bands.items():
        if (outcome, factor) not in s.blocks:
            continue
        n_idx, d_idx = s.blocks[(outcome, factor)]
        found = band_consistent_values([rng(i) for i in n_idx], [rng(i) for i in d_idx], band,
                                       fixed_total(f"assoc_total|{outcome}|n"), fixed_total(f"assoc_total|{outcome}|d"))
        for (ns, ds), i, j in zip(found, n_idx, d_idx):
            for var, values in ((i, ns), (j, ds)):
                k = rows.get(s.names[var])
                if k is None:
                    continue
                frame.loc[k, ["low", "high", "values", "band"]] = [min(values, default=s.truth[var]),
                                                                    max(values, default=s.truth[var]),
                                                                    len(values), band]
    return frame


def _fixed(s: System, i: int) -> int | None:
    """The value of variable ``i`` if the published constraints fix it (an equality with shown
    variables only), else None."""
    if not s.hidden[i]:
        return s.truth[i]
    for coefs, lo, hi in zip(s.rows, s.row_lo, s.row_hi):
        if i in coefs and lo == hi == 0 and all(not s.hidden[j] for j in coefs if j != i):
            return int(round(-sum(c * s.truth[j] for j, c in coefs.items() if j != i) / coefs[i]))
    return None


def audit(results_dir: Path, truth_dir: Path, m: int) -> pd.DataFrame:
    """Bound every hidden count of a protected run (see the module docstring)."""
    s, binaries, pct_rows = build(Path(results_dir), Path(truth_dir), int(m))
    return bound_hidden(s, binaries, pct_rows, int(m))
