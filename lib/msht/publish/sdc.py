"""Statistical disclosure control (SDC) of the published count tables.

A count of one or two people in a published table can identify a person. With the params key
``min_cell_count`` = *m* > 0 (``params/release.yaml`` sets 5), every count from 1 to *m* - 1 is
suppressed ("primary suppression") and shown as ``"<m"``; further cells are suppressed
("secondary suppression", shown as ``"[c]"``, the ONS mark for "confidential") so that no
suppressed count can be worked out from what is published. ``min_cell_count: 0`` (the default)
turns SDC off and reproduces the study's tables exactly.

What an attacker is assumed to know
-----------------------------------
Everything published in the block (shown counts, denominators and percentages), what each mark
means (``"<m"``: a count from 1 to m-1; ``"[c]"``: a suppressed count that is *not* from 1 to
m-1; the ``reason`` of each suppression, published in ``suppression.csv``), and, to be safe,
every total of the block even where it is not printed:

* a **descriptives block** (one ``variable`` of one ``table``): the known levels' counts
  ``n_1..n_k`` add up to the printed ``denominator`` D, and the ``unknown`` row's count u
  (the units with no recorded value) to N = D + u, the number of units, which the report
  prints elsewhere (section 3.1, the flow diagram). A block whose only known level is ``yes``
  (a flag such as "labour exploitation identified") has an unprinted complement ``no`` =
  D - n;
* an **association block** (one ``factor`` for one ``outcome``): a k x 2 table of level x
  (outcome yes, outcome no) with row totals ``denominator`` d_i, ``n`` the "yes" cell and
  d_i - n the "no" cell; the column totals and the grand total are taken as public.

Rules
-----
Descriptives block:

1. a level count in 1..m-1 is hidden (reason ``small_count``, shown ``"<m"``); for a ``yes``
   flag, a complement ``no`` count in 1..m-1 hides ``n`` (``small_complement``, ``"[c]"``);
2. an ``unknown`` count in 1..m-1 is hidden (``small_count``); since u = N - D, the block's
   denominator is then hidden too (``unknown_total``), and so are all of its percentages
   (each percentage n/D would give D back). ``protect_unknown=False`` publishes small
   ``unknown`` counts instead (a policy choice: "not recorded" is not a person's attribute);
3. whenever a hidden count could still be worked out -- one hidden cell and a printed total,
  two hidden cells whose sum pins both down (1 + 1), a primary next to a secondary just above m
  -- the smallest further count that makes the block safe is hidden (``secondary``, ``"[c]"``);
4. if no choice of cells can make the block safe, the whole block is withheld (``withheld``,
   every count ``"[c]"``, which then says nothing about its size);
5. rows whose ``n`` is not a count (levels in :data:`NON_COUNT_LEVELS`: a median, a
   parameter) are left alone, except a maximum or minimum (the largest number of cases of one
   victim), which describes one person and is hidden (``extreme_value``).

A block with one known count level other than ``all`` (a ``yes`` flag, ``left_out`` of
``entries_outliers``) is treated as the binary "this level / the rest" with an unprinted
complement D - n; so is each level of a block whose counts do not add up to its denominator
(levels that overlap). A block whose levels each have their own denominator (the share offered
support per year or period) is protected like an association block, and its test rows
(``statistic``, ``p``) are withheld with it. Flags of one table share their denominator and their one ``unknown`` row
(variable ``exploitation_type``): a hidden small unknown count hides the denominator of all.

Association block: a row total d_i in 1..m-1 hides the row (``small_total``); an outcome-yes
count n in 1..m-1 hides it (``small_count``); an outcome-no count d_i - n in 1..m-1 hides n
(``small_complement``). Then secondary suppression as above, first of further ``n`` cells, then
of row totals, then the whole block. Because ``accepted`` is measured on cases *offered*
support, a level whose ``offered`` "yes" count is hidden has its whole ``accepted`` row hidden
(``linked``; see :data:`NESTED`). A one-row block (``overall``, the population itself) only
gets primary suppression: there is nothing to hide it among. In a block with any suppression the test statistic and p
(which would give the hidden cells back) are withheld (``test_withheld``, shown ``"[c]"``), and
so is the band of p: a printed band (``p<0.05``, ``p≥0.05``) is a non-linear constraint on the
hidden cells, and on the default twin the band of "accepted support by referral type" left MS1's
hidden count two possible values (3 or 4) where the linear constraints kept four (issue 15).
:func:`p_band` remains for the audit, which checks any band a run does publish by enumerating
the hidden cells (:func:`msht.publish.audit.band_consistent_values`).

Every suppression is checked, not assumed: :func:`audit_block` finds, for each hidden cell, the
values it can take given everything published (an exact bitset dynamic programme over the
block's linear constraints and the marks' ranges), and a rule adds suppressions until every
hidden cell has at least :data:`MIN_FEASIBLE` (three) feasible values. ``tests/test_sdc.py`` checks the result again by
brute force.

How the results CSVs carry it
-----------------------------
The contract columns do not change: a hidden ``n``, ``denominator``, ``pct``, ``statistic`` or
``p`` is written **empty**. A separate ``suppression.csv`` (columns
:data:`SUPPRESSION_COLUMNS`) lists one row per hidden value: ``file`` (``descriptives`` or
``associations``), ``table`` (the descriptives table, or the association outcome),
``variable`` (variable or factor), ``level``, ``column`` (which value is hidden), ``reason``
and ``display`` (what the report shows instead: ``"<5"``, ``"[c]"``). An empty
value that has no row in ``suppression.csv`` is an ordinary missing value (e.g. the
percentage of an ``unknown`` row). The protected frames returned here carry the same
information as columns for the display layer: ``suppressed`` (the count is hidden),
``denominator_suppressed``, ``pct_suppressed``, ``display`` (the text to show for ``n``),
``denominator_display``, and ``reason``/``denominator_reason``/``pct_reason``; association
frames also ``test_suppressed`` and ``p_display``. :func:`msht.publish.results.conform` drops these
columns when the contract CSV is written.

Other results files built from the same cross-tables (test details, residuals, comparisons with
the published study, regression) must not publish what a suppression hides: :func:`withhold_for_blocks`
blanks them block by block.

Limits: each block is protected on its own, plus the ``accepted``-within-``offered`` link and
section 3.2's split of the victims (:func:`protect_partition_link`); requiring three feasible
values per hidden count (:data:`MIN_FEASIBLE`) leaves room for the links between blocks.
Linked-table protection across every published file is :mod:`msht.publish.audit`'s: a release's audit
bounds each hidden count from everything published (integer programming) and
:func:`msht.pipeline.protect_release` reruns the notebooks with the complementary suppressions it
chooses (``forced`` cells, :func:`forced_cells`) until every hidden count keeps three values; what
it does not model is listed there. A release should still be read by a person before it leaves
the force.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

import pandas as pd

#: Display mark of a hidden count that is from 1 to m-1 (formatted with m).
SMALL_MARK: Final[str] = "<{m}"
#: Display mark of every other hidden value (ONS "[c]": confidential).
SECONDARY_MARK: Final[str] = "[c]"
#: Levels of a descriptives block that carry a test of the block (withheld with its cells).
TEST_LEVELS: Final[frozenset[str]] = frozenset({"statistic", "p"})
#: Level codes whose ``n`` is a statistic or a parameter, not a count of units.
NON_COUNT_LEVELS: Final[frozenset[str]] = frozenset(
    {"max", "min", "median", "mean", "threshold", "first_year", "statistic", "df", "p"}
)
#: Of those, the ones that describe one unit (the largest or smallest value): hidden under SDC.
EXTREME_LEVELS: Final[frozenset[str]] = frozenset({"max", "min"})
#: The level of a block whose one count is its own denominator (``section3_1``'s ``cases``).
TOTAL_LEVELS: Final[frozenset[str]] = frozenset({"all", "overall"})
#: The ``unknown`` level code (see :mod:`msht.base.vocab`).
UNKNOWN: Final[str] = "unknown"
#: The reason of a force's block withheld whole with another force's (a run of several forces).
WITHHELD_ACROSS_FORCES: Final[str] = "withheld_across_forces"
#: The reasons of a block withheld whole: each of its ``"[c]"`` says nothing about the count's size.
WITHHELD_REASONS: Final[frozenset[str]] = frozenset({"withheld", WITHHELD_ACROSS_FORCES})
#: Association outcomes measured within another outcome's "yes" cases: child -> parent.
NESTED: Final[dict[str, str]] = {"accepted": "offered"}
#: Columns of ``suppression.csv``.
SUPPRESSION_COLUMNS: Final[tuple[str, ...]] = ("file", "table", "variable", "level", "column", "reason", "display")
#: A hidden count must keep at least this many feasible whole values given what is published (the
#: protection interval of tau-ARGUS and sdcTable; with two, one more published relation often
#: pins it down).
MIN_FEASIBLE: Final[int] = 3
#: A cell of a results file, as ``suppression.csv`` keys it: (file, table, variable, level, column).
Cell = tuple[str, str, str, str, str]
#: Environment variable naming a CSV of cells to hide as complementary suppressions (columns
#: file, table, variable, level, column): set by :func:`msht.pipeline.protect_release` while it
#: reruns a release after its audit, read by the notebooks through :func:`forced_cells`.
FORCED_ENV: Final[str] = "MSHT_SDC_FORCED"
#: Blocks with more hidden row totals than this sum are audited constraint by constraint.
_EXACT_2D_LIMIT: Final[int] = 400

REASONS: Final[dict[str, str]] = {
    "small_count": "the count is from 1 to m-1",
    "small_complement": "the complementary count (total minus this count) is from 1 to m-1",
    "small_total": "the row total is from 1 to m-1",
    "unknown_total": "hidden because the block's unknown count is hidden (it is total minus denominator)",
    "secondary": "hidden so that another hidden count cannot be worked out from totals",
    "linked": "the level's count in the enclosing outcome (offered support) is hidden",
    "linked_total": "hidden because, with totals published elsewhere in the report, it would give a hidden count back",
    "withheld": "the whole block is withheld: no smaller suppression protects it",
    "withheld_across_forces": "the force's whole block is withheld with at least one other force's, so that the "
                              "all-forces count minus the other forces' gives no hidden count back",
    "extreme_value": "a maximum or minimum describes one person",
    "test_withheld": "the test statistic, its p-value or its band would give hidden counts back",
}


# ----------------------------------------------------------------------------------------------
# Feasibility engine: integer cells with ranges, linear sum constraints, bitsets
# ----------------------------------------------------------------------------------------------

#: A domain is a tuple of closed integer intervals; ``None`` as upper end means unbounded.
Domain = tuple[tuple[int, int | None], ...]
ANY: Final[Domain] = ((0, None),)


def small(m: int) -> Domain:
    """Counts from 1 to m-1 (what ``"<m"`` says)."""
    return ((1, m - 1),)


def not_small(m: int) -> Domain:
    """Counts that are 0 or at least m (what ``"[c]"`` says of a secondary)."""
    return ((0, 0), (m, None))


def _bits(dom: Domain, cap: int, lo_cap: int = 0) -> int:
    """Bitset of the values of ``dom`` within ``[lo_cap, cap]`` (bit v set <=> v feasible)."""
    out = 0
    for lo, hi in dom:
        lo = max(lo, lo_cap)
        hi = cap if hi is None else min(hi, cap)
        if lo <= hi:
            out |= ((1 << (hi - lo + 1)) - 1) << lo
    return out


def _runs(bits: int) -> Iterator[tuple[int, int]]:
    """The maximal runs of set bits, as (first, last)."""
    while bits:
        lo = (bits & -bits).bit_length() - 1
        x = bits >> lo
        length = (x ^ (x + 1)).bit_length() - 1
        yield lo, lo + length - 1
        bits &= ~(((1 << length) - 1) << lo)


def _shift_or(x: int, lo: int, hi: int, mask: int) -> int:
    """OR of ``x << v`` for v in [lo, hi], masked."""
    acc = (x << lo) & mask
    length, span = hi - lo + 1, 1
    while span * 2 <= length:
        acc |= (acc << span) & mask
        span *= 2
    if span < length:
        acc |= (acc << (length - span)) & mask
    return acc


def _add(reach: int, bits: int, mask: int) -> int:
    out = 0
    for lo, hi in _runs(bits):
        out |= _shift_or(reach, lo, hi, mask)
    return out


def _reverse(bits: int, width: int) -> int:
    """Bit v of the result is bit ``width - v`` of ``bits`` (v in 0..width)."""
    if width < 0:
        return 0
    text = format(bits & ((1 << (width + 1)) - 1), f"0{width + 1}b")
    return int(text[::-1], 2)


@dataclass
class Item:
    """One hidden row of a block: its possible (d, n) values.

    ``options`` maps a value d of the row's hidden total (0 when the total is printed, so it does
    not enter the total constraint) to the bitset of feasible n. ``d_value`` is the printed total
    (or ``None``). ``check_n``/``check_d``/``check_r`` say which of n, d and d - n must keep two
    feasible values.
    """

    options: dict[int, int]
    d_value: int | None = None
    check_n: bool = True
    check_d: bool = False
    check_r: bool = False


def _reach(items: list[Item], cap_d: int, cap_n: int) -> dict[int, int]:
    mask = (1 << (cap_n + 1)) - 1
    reach = {0: 1}
    for item in items:
        new: dict[int, int] = {}
        for ds, nb in reach.items():
            for dv, bits in item.options.items():
                k = ds + dv
                if k > cap_d:
                    continue
                add = _add(nb, bits, mask)
                if add:
                    new[k] = new.get(k, 0) | add
        reach = new
        if not reach:
            break
    return reach


def feasible_values(items: list[Item], s_d: int, s_n: int) -> list[tuple[set[int], set[int], set[int]]]:
    """For each item, the feasible (n values, d values, d - n values) given that the items'
    hidden totals add up to ``s_d`` and their counts to ``s_n``."""
    out = []
    for j, item in enumerate(items):
        others = items[:j] + items[j + 1 :]
        reach = _reach(others, s_d, s_n)
        ns: set[int] = set()
        ds: set[int] = set()
        rs: set[int] = set()
        for dv, bits in item.options.items():
            if dv > s_d:
                continue
            fn = bits & _reverse(reach.get(s_d - dv, 0), s_n)
            if not fn:
                continue
            d_actual = item.d_value if item.d_value is not None else dv
            values = [v for lo, hi in _runs(fn) for v in range(lo, hi + 1)]
            ns.update(values)
            ds.add(d_actual)
            rs.update(d_actual - v for v in values)
        out.append((ns, ds, rs))
    return out


def forced_cells() -> frozenset[Cell]:
    """The complementary suppressions chosen by the release's audit (:data:`FORCED_ENV`), as
    cells; empty when the variable is unset (every run but a release's second and later rounds,
    so the default run is unchanged)."""
    path = os.environ.get(FORCED_ENV)
    if not path or not os.path.exists(path):
        return frozenset()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frozenset(tuple(r) for r in frame[list(FORCED_COLUMNS)].itertuples(index=False, name=None))


#: Columns of the forced-cells file (:data:`FORCED_ENV`).
FORCED_COLUMNS: Final[tuple[str, ...]] = ("file", "table", "variable", "level", "column")


def needed_values(m: int) -> int:
    """Feasible values a hidden count must keep under threshold m: :data:`MIN_FEASIBLE`, or
    m - 1 when a ``"<m"`` mark itself allows fewer (m <= 3)."""
    return max(2, min(MIN_FEASIBLE, m - 1))


def audit_block(items: list[Item], s_d: int, s_n: int, need: int = MIN_FEASIBLE) -> bool:
    """True when every checked value of every item has at least ``need`` feasible values."""
    if not items:
        return True
    if s_d > _EXACT_2D_LIMIT and any(len(i.options) > 1 for i in items):
        return _audit_relaxed(items, s_d, s_n, need)
    for item, (ns, ds, rs) in zip(items, feasible_values(items, s_d, s_n)):
        if item.check_n and len(ns) < need:
            return False
        if item.check_d and len(ds) < need:
            return False
        if item.check_r and len(rs) < need:
            return False
    return True


def _audit_relaxed(items: list[Item], s_d: int, s_n: int, need: int = MIN_FEASIBLE) -> bool:
    """Audit the total constraint and the count constraint separately (large hidden totals)."""
    d_items = [
        Item(options={0: _union(1 << dv for dv in i.options) if i.d_value is None else 1}, check_n=i.d_value is None)
        for i in items
    ]
    n_cap = s_n
    n_items = [
        Item(options={0: _union(i.options.values()) & ((1 << (n_cap + 1)) - 1)}, check_n=i.check_n) for i in items
    ]
    return audit_block(d_items, 0, s_d, need) and audit_block(n_items, 0, s_n, need)


def _union(values: Iterable[int]) -> int:
    out = 0
    for v in values:
        out |= v
    return out


# ----------------------------------------------------------------------------------------------
# Descriptives blocks
# ----------------------------------------------------------------------------------------------


@dataclass
class DescBlock:
    """One descriptives block and, after protection, what is hidden and why.

    ``hide`` maps a known level's position to its reason; ``u_reason`` is the unknown count's;
    ``d_hidden`` says the denominator (and so every percentage) is hidden.
    """

    known: list[int]  # frame index of each known-level row
    values: list[int]
    d: int
    binary: bool
    u_index: int | None
    u: int
    hide: dict[int, str] = field(default_factory=dict)  # position in known -> reason
    u_reason: str | None = None
    d_hidden: bool = False
    withheld: bool = False

    @property
    def n_total(self) -> int:
        return self.d + self.u


def _desc_items(b: DescBlock, m: int) -> tuple[list[Item], int]:
    """The hidden cells of a descriptives block as items of one sum constraint, and its target."""
    items: list[Item] = []
    shown = sum(v for i, v in enumerate(b.values) if i not in b.hide)
    if b.d_hidden:
        target = b.n_total - shown - (0 if b.u_reason else b.u)
        cap = max(target, 0)
    else:
        if b.u_reason:  # u = N - D with D printed: no protection possible
            return [Item(options={0: 1}, check_n=True)], 0
        target = b.d - shown
        cap = max(target, 0)
    for i in sorted(b.hide):
        reason = b.hide[i]
        dom = small(m) if reason == "small_count" else ANY if reason == "withheld" else not_small(m)
        items.append(Item(options={0: _bits(dom, cap)}))
    if b.binary:
        reason = b.hide.get(0)
        true_c0 = b.d - b.values[0]
        if reason is None:
            dom = not_small(m)
        elif reason == "small_complement":
            dom = small(m)
        elif reason == "secondary":
            dom = not_small(m)
        else:
            dom = ANY
        if reason is not None or b.d_hidden:
            items.append(Item(options={0: _bits(dom, cap)}, check_n=1 <= true_c0 < m))
    if b.d_hidden and b.u_reason:
        dom = small(m) if b.u_reason == "small_count" else ((1, None),) if b.u_reason == "withheld" else ((m, None),)
        items.append(Item(options={0: _bits(dom, cap)}))
    return items, target


def _desc_ok(b: DescBlock, m: int) -> bool:
    items, target = _desc_items(b, m)
    if target < 0:
        return False
    return audit_block(items, 0, target, needed_values(m))


def _protect_desc_block(b: DescBlock, m: int, protect_unknown: bool, forced: Iterable[int] = ()) -> None:
    for i, v in enumerate(b.values):
        if 1 <= v < m:
            b.hide[i] = "small_count"
    if b.binary and 0 not in b.hide and 1 <= b.d - b.values[0] < m:
        b.hide[0] = "small_complement"
    for i in forced:  # complementary suppressions chosen across tables (msht.pipeline.protect_release)
        b.hide.setdefault(i, "secondary")
    if protect_unknown and b.u_index is not None and 1 <= b.u < m:
        b.u_reason = "small_count"
        b.d_hidden = True
    while not _desc_ok(b, m):
        candidates = sorted(
            (i for i in range(len(b.values)) if i not in b.hide and (b.values[i] == 0 or b.values[i] >= m)),
            key=lambda i: (b.values[i] == 0, b.values[i], i),
        )
        if not candidates:
            _withhold_desc(b)
            return
        for i in candidates:
            b.hide[i] = "secondary"
            if _desc_ok(b, m):
                return
            del b.hide[i]
        b.hide[candidates[0]] = "secondary"


def protect_frequency_block(
    values: list[int],
    unknown: int | None,
    min_cell_count: int,
    *,
    binary: bool = False,
    denominator: int | None = None,
    protect_unknown: bool = True,
    forced: Iterable[int] = (),
) -> DescBlock:
    """Protect one descriptives block given as plain counts (what :func:`protect_descriptives` does
    per block). ``unknown`` is the unknown row's count (``None``: no such row); ``binary`` marks a
    single ``yes`` level whose complement is ``denominator - values[0]``; ``forced`` lists
    positions to hide as secondaries whatever the block needs (chosen across tables)."""
    m = _check_m(min_cell_count)
    d = sum(values) if denominator is None else denominator
    b = DescBlock(
        known=list(range(len(values))),
        values=list(values),
        d=d,
        binary=binary,
        u_index=None if unknown is None else len(values),
        u=unknown or 0,
    )
    if m > 1:
        _protect_desc_block(b, m, protect_unknown, forced)
    return b


def _withhold_desc(b: DescBlock) -> None:
    b.withheld = True
    for i in range(len(b.values)):
        b.hide[i] = "withheld"
    if not b.binary:
        b.d_hidden = True
        if b.u_index is not None:
            b.u_reason = "withheld"


def _check_m(min_cell_count: int) -> int:
    m = int(min_cell_count)
    if m < 0:
        raise ValueError(f"min_cell_count must be 0 (off) or a positive count, got {min_cell_count!r}")
    return m


def _mark(m: int, reason: str) -> str:
    return SMALL_MARK.format(m=m) if reason in ("small_count", "small_total") else SECONDARY_MARK


def _with_markers(rows: pd.DataFrame) -> pd.DataFrame:
    """A copy with the marker columns; the value columns keep their dtypes (so that, with SDC
    off, the CSVs written are byte-identical to the unprotected ones)."""
    out = rows.copy()
    out["suppressed"] = False
    out["denominator_suppressed"] = False
    out["pct_suppressed"] = False
    out["display"] = ""
    out["denominator_display"] = ""
    out["reason"] = ""
    out["denominator_reason"] = ""
    out["pct_reason"] = ""
    return out


def protect_descriptives(rows: pd.DataFrame, min_cell_count: int, *, protect_unknown: bool = True,
                         forced: Collection[Cell] = frozenset()) -> pd.DataFrame:
    """Apply SDC to descriptives rows (``table, variable, level, n, denominator, pct``).

    Returns a copy with hidden ``n``/``denominator``/``pct`` set to missing and the marker
    columns of the module docstring. ``min_cell_count`` 0 or 1 changes nothing. ``forced``:
    cells (``("descriptives", table, variable, level, "n")`` of known levels) to hide as
    secondaries, chosen across tables by :func:`msht.pipeline.protect_release`.
    """
    m = _check_m(min_cell_count)
    out = _with_markers(rows)
    if m <= 1:
        return out
    src = out.copy()  # the true values (``out`` is edited as cells are hidden)
    # flag groups: a table's single-"yes" variables share one denominator and one unknown row
    for _, tframe in src.groupby("table", sort=False):
        blocks = {var: blk for var, blk in tframe.groupby("variable", sort=False)}
        lone_unknown = [var for var, blk in blocks.items() if (blk["level"] == UNKNOWN).all()]
        flag_vars = [var for var, blk in blocks.items() if list(blk.loc[blk["level"] != UNKNOWN, "level"]) == ["yes"]]
        shared_u = blocks[lone_unknown[0]].index[0] if len(lone_unknown) == 1 and flag_vars else None
        for var, blk in blocks.items():
            counts = blk[~blk["level"].isin(NON_COUNT_LEVELS)]
            for idx in blk.index[blk["level"].isin(EXTREME_LEVELS)]:
                _hide(out, idx, "n", "extreme_value", SECONDARY_MARK)
                _hide(out, idx, "pct", "extreme_value", SECONDARY_MARK)
            known = counts[counts["level"] != UNKNOWN]
            unknown = counts[counts["level"] == UNKNOWN]
            if known.empty:
                if var in lone_unknown and shared_u is not None:
                    continue  # handled with its flags
                for idx in unknown.index:
                    if protect_unknown and 1 <= int(src.at[idx, "n"]) < m:
                        _hide(out, idx, "n", "small_count", SMALL_MARK.format(m=m))
                continue
            denominators = known["denominator"].dropna().astype(int)
            table = str(blk["table"].iloc[0])
            pushed = [i for i, lv in enumerate(known["level"])
                      if ("descriptives", table, str(var), str(lv), "n") in forced]
            if len(known) > 1 and denominators.nunique() > 1:
                # one denominator per level (a share per year or period): the association layout
                _protect_rows_as_association(out, src, known, blk, m, pushed)
                continue
            d = int(denominators.iloc[0]) if len(denominators) else int(known["n"].sum())
            u_index = unknown.index[0] if len(unknown) else (shared_u if var in flag_vars else None)
            u = int(src.at[u_index, "n"]) if u_index is not None else 0
            if len(known) > 1 and int(known["n"].sum()) != d:
                # levels that overlap or do not cover everyone: each level is its own "level / rest" pair
                for k, idx in enumerate(known.index):
                    b = DescBlock(known=[idx], values=[int(src.at[idx, "n"])], d=d, binary=True, u_index=None, u=0)
                    _protect_desc_block(b, m, protect_unknown, [0] if k in pushed else [])
                    _apply_desc(out, b, m)
                continue
            binary = len(known) == 1 and known["level"].iloc[0] not in TOTAL_LEVELS
            b = DescBlock(
                known=list(known.index), values=[int(v) for v in known["n"]], d=d, binary=binary, u_index=u_index, u=u
            )
            _protect_desc_block(b, m, protect_unknown, pushed)
            _apply_desc(out, b, m)
    return out


def _protect_rows_as_association(
    out: pd.DataFrame, src: pd.DataFrame, known: pd.DataFrame, blk: pd.DataFrame, m: int, forced: Iterable[int] = ()
) -> None:
    """Protect a descriptives block whose levels each have their own denominator (n "yes" of d)
    like an association block; its test rows (``statistic``, ``p``) are withheld if anything is."""
    b = protect_association_block(
        [int(v) for v in src.loc[known.index, "n"]], [int(v) for v in src.loc[known.index, "denominator"]], m,
        forced=forced,
    )
    for i, idx in enumerate(known.index):
        if i in b.n_reason:
            reason = b.n_reason[i]
            small_n = reason == "small_count" and not b.withheld
            _hide(out, idx, "n", reason, SMALL_MARK.format(m=m) if small_n else SECONDARY_MARK)
            _hide(out, idx, "pct", reason)
        if i in b.d_reason:
            reason = b.d_reason[i]
            _hide(out, idx, "denominator", reason, SECONDARY_MARK if b.withheld else _mark(m, reason))
            _hide(out, idx, "pct", reason)
    if b.n_reason:
        for idx in blk.index[blk["level"].isin(TEST_LEVELS)]:
            _hide(out, idx, "n", "test_withheld")


def _hide(out: pd.DataFrame, idx, column: str, reason: str, display: str = SECONDARY_MARK) -> None:
    """Hide one value of row ``idx`` and record why and what to show instead."""
    if column in ("n", "denominator") and pd.api.types.is_integer_dtype(out[column].dtype):
        out[column] = out[column].astype("Int64")  # an int64 column cannot hold a missing value
    if column == "n":
        out.at[idx, "n"] = pd.NA
        out.at[idx, "suppressed"] = True
        out.at[idx, "display"] = display
        out.at[idx, "reason"] = reason
    elif column == "denominator":
        out.at[idx, "denominator"] = pd.NA
        out.at[idx, "denominator_suppressed"] = True
        out.at[idx, "denominator_display"] = display
        out.at[idx, "denominator_reason"] = reason
    elif column == "pct" and not out.at[idx, "pct_suppressed"]:
        out.at[idx, "pct"] = math.nan
        out.at[idx, "pct_suppressed"] = True
        out.at[idx, "pct_reason"] = reason


def hide(out: pd.DataFrame, idx, column: str, reason: str, display: str = SECONDARY_MARK) -> None:
    """Hide value ``column`` (``n``, ``denominator`` or ``pct``) of row ``idx`` of a protected
    frame, recording why (``reason``) and what to show (``display``), as every rule here does."""
    _hide(out, idx, column, reason, display)


def _apply_desc(out: pd.DataFrame, b: DescBlock, m: int) -> None:
    for i, idx in enumerate(b.known):
        if i in b.hide:
            _hide(out, idx, "n", b.hide[i], _mark(m, b.hide[i]) if not b.withheld else SECONDARY_MARK)
            _hide(out, idx, "pct", b.hide[i], SECONDARY_MARK)
        if b.d_hidden:
            reason = "withheld" if b.withheld else "unknown_total"
            _hide(out, idx, "denominator", reason, SECONDARY_MARK)
            _hide(out, idx, "pct", reason, SECONDARY_MARK)
    if b.u_reason and b.u_index is not None and not out.at[b.u_index, "suppressed"]:
        _hide(out, b.u_index, "n", b.u_reason, _mark(m, b.u_reason) if not b.withheld else SECONDARY_MARK)


def protect_partition_link(out: pd.DataFrame, part_idx: object, unknown_idx: Iterable[object], m: int) -> None:
    """Protect a count that, with a block's published totals, splits a population published elsewhere.

    Section 3.2's victims are split three ways: no police-record data (the blocks' ``unknown``
    rows, u), left out as outliers (row ``part_idx``, p, printed with its own denominator
    D + p) and analysed (the blocks' denominator D), and the number of victims N = u + p + D is
    printed in section 3.1. If p is hidden, N - D - u gives it back, and D + p - D does too: its
    denominator and the ``unknown`` counts are hidden (``linked_total``), which leaves p from 1
    to m-1 and u within m-1 values. If u is hidden (so D is, :func:`protect_descriptives` rule 2),
    D + p would give D back: the denominator of ``part_idx`` is hidden as well.
    """
    if m <= 1:
        return
    unknown_idx = list(unknown_idx)
    part_hidden = bool(out.at[part_idx, "suppressed"])
    unknown_hidden = any(bool(out.at[i, "suppressed"]) for i in unknown_idx)
    if not (part_hidden or unknown_hidden):
        return
    if not out.at[part_idx, "denominator_suppressed"]:
        _hide(out, part_idx, "denominator", "linked_total", SECONDARY_MARK)
        _hide(out, part_idx, "pct", "linked_total", SECONDARY_MARK)
    if part_hidden:
        for i in unknown_idx:
            if not out.at[i, "suppressed"] and out.at[i, "n"] != 0:
                _hide(out, i, "n", "linked_total", SECONDARY_MARK)
                if not pd.isna(out.at[i, "pct"]):
                    _hide(out, i, "pct", "linked_total", SECONDARY_MARK)


# ----------------------------------------------------------------------------------------------
# Association blocks
# ----------------------------------------------------------------------------------------------


@dataclass
class AssocBlock:
    """One association block (rows of (n, d)) and, after protection, the reasons per row."""

    index: list[int]
    n: list[int]
    d: list[int]
    n_reason: dict[int, str] = field(default_factory=dict)
    d_reason: dict[int, str] = field(default_factory=dict)
    withheld: bool = False


def _n_domain(reason: str | None, d: int, m: int) -> int:
    """Bitset of the n a row with printed total d can have, given the published reason."""
    if reason == "small_count":
        return _bits(small(m), d)
    if reason == "small_complement":  # n not small, d - n small
        return _bits(not_small(m), d) & _bits(((d - m + 1, d - 1),), d)
    if reason == "secondary":  # neither n nor d - n small
        n_ok = _bits(not_small(m), d)
        r_ok = _reverse(_bits(not_small(m), d), d)
        return n_ok & r_ok
    return _bits(ANY, d)  # small_total, linked, withheld: nothing is said about n


def _d_domain(reason: str, m: int) -> Domain:
    if reason == "small_total":
        return small(m)
    if reason in WITHHELD_REASONS:
        return ANY
    return not_small(m)  # linked, secondary


def _assoc_items(b: AssocBlock, m: int) -> tuple[list[Item], int, int]:
    shown_n = sum(v for i, v in enumerate(b.n) if i not in b.n_reason)
    shown_d = sum(v for i, v in enumerate(b.d) if i not in b.d_reason)
    s_n = sum(b.n) - shown_n
    s_d = sum(b.d) - shown_d
    items = []
    for i in sorted(b.n_reason):
        true_r = b.d[i] - b.n[i]
        if i in b.d_reason:
            opts = {}
            for dv in (v for lo, hi in _runs(_bits(_d_domain(b.d_reason[i], m), s_d)) for v in range(lo, hi + 1)):
                bits = _n_domain(b.n_reason[i], dv, m) & ((1 << (min(dv, s_n) + 1)) - 1)
                if bits:
                    opts[dv] = bits
            items.append(Item(options=opts, check_d=True, check_r=1 <= true_r < m))
        else:
            bits = _n_domain(b.n_reason[i], b.d[i], m) & ((1 << (s_n + 1)) - 1)
            items.append(Item(options={0: bits}, d_value=b.d[i], check_r=False))
    return items, s_d, s_n


def _assoc_ok(b: AssocBlock, m: int) -> bool:
    items, s_d, s_n = _assoc_items(b, m)
    return audit_block(items, s_d, s_n, needed_values(m))


def _protect_assoc_block(b: AssocBlock, m: int, linked: set[int], forced: Iterable[int] = (),
                         forced_totals: Iterable[int] = ()) -> None:
    for i, (n, d) in enumerate(zip(b.n, b.d)):
        if 1 <= d < m:
            b.n_reason[i] = b.d_reason[i] = "small_total"
        elif i in linked:
            b.n_reason[i] = b.d_reason[i] = "linked"
        elif 1 <= n < m:
            b.n_reason[i] = "small_count"
        elif 1 <= d - n < m:
            b.n_reason[i] = "small_complement"
    for i in forced:  # complementary suppressions chosen across tables (msht.pipeline.protect_release)
        b.n_reason.setdefault(i, "secondary")
    for i in forced_totals:  # a row total chosen so (a force's Appendix 4 in a run of several forces)
        b.d_reason.setdefault(i, "secondary")
        b.n_reason.setdefault(i, "secondary")
    if len(b.n) == 1:  # the block is the population itself (``overall``): nothing to hide it among
        return
    while not _assoc_ok(b, m):
        n_cands = sorted((i for i in range(len(b.n)) if i not in b.n_reason), key=lambda i: (b.n[i], i))
        d_cands = sorted((i for i in range(len(b.n)) if i not in b.d_reason), key=lambda i: (b.d[i], i))
        moves = [("n", i) for i in n_cands] + [("d", i) for i in d_cands]
        if not moves:
            _withhold_assoc(b)
            return
        for kind, i in moves:
            undo = _apply_move(b, kind, i)
            if _assoc_ok(b, m):
                return
            undo()
        kind, i = moves[0]
        _apply_move(b, kind, i)


def _apply_move(b: AssocBlock, kind: str, i: int):
    if kind == "n":
        b.n_reason[i] = "secondary"
        return lambda: b.n_reason.pop(i)
    added_n = i not in b.n_reason
    b.d_reason[i] = "secondary"
    if added_n:
        b.n_reason[i] = "secondary"

    def undo():
        b.d_reason.pop(i)
        if added_n:
            b.n_reason.pop(i)

    return undo


def protect_association_block(
    n: list[int], d: list[int], min_cell_count: int, *, linked: Iterable[int] = (), forced: Iterable[int] = (),
    forced_totals: Iterable[int] = (),
) -> AssocBlock:
    """Protect one association block given as plain counts: per level, the outcome-yes count ``n``
    and the row total ``d``; ``linked`` lists the rows hidden because of an enclosing outcome,
    ``forced`` the rows whose ``n`` is hidden as a secondary whatever the block needs,
    ``forced_totals`` those whose ``d`` (and so ``n``) is."""
    m = _check_m(min_cell_count)
    b = AssocBlock(index=list(range(len(n))), n=list(n), d=list(d))
    if m > 1:
        _protect_assoc_block(b, m, set(linked), forced, forced_totals)
    return b


def _withhold_assoc(b: AssocBlock, reason: str = "withheld") -> None:
    b.withheld = True
    for i in range(len(b.n)):
        b.n_reason[i] = reason
        b.d_reason[i] = reason


def p_band(p: float) -> str:
    """The published band of a withheld p-value."""
    if p is None or (isinstance(p, float) and math.isnan(p)) or pd.isna(p):
        return ""
    for bound in (0.001, 0.01, 0.05):
        if p < bound:
            return f"p<{bound:g}"
    return "p≥0.05"


def protect_associations(
    rows: pd.DataFrame, min_cell_count: int, *, nested: dict[str, str] | None = None,
    forced: Collection[Cell] = frozenset(), withheld: Collection[tuple[str, str]] = frozenset(),
) -> pd.DataFrame:
    """Apply SDC to association rows (``outcome, factor, level, n, denominator, pct, statistic, df, p, test``).

    Returns a copy with hidden values set to missing and the marker columns of the module
    docstring, plus ``test_suppressed`` and ``p_display``. ``nested`` maps an outcome to the
    outcome whose "yes" cases it is measured on (default :data:`NESTED`). ``forced``: cells
    (``("associations", outcome, factor, level, "n")``; ``"denominator"``: the row total and its
    count) to hide as secondaries, chosen across tables by :func:`msht.pipeline.protect_release`.
    ``withheld``: blocks (``(outcome, factor)``) withheld whole whatever their own rules need
    (reason :data:`WITHHELD_ACROSS_FORCES`, every count ``"[c]"``, which says nothing about its
    size): a force's blocks that the forces of a run hide together
    (:func:`msht.publish.forces_tables.across_forces`).
    """
    m = _check_m(min_cell_count)
    out = _with_markers(rows)
    out["test_suppressed"] = False
    out["p_display"] = ""
    if m <= 1:
        return out
    out["statistic"] = pd.to_numeric(out["statistic"], errors="coerce").astype(float)
    out["p"] = pd.to_numeric(out["p"], errors="coerce").astype(float)
    nested = NESTED if nested is None else nested
    order = sorted(out["outcome"].unique(), key=lambda o: (o in nested, list(out["outcome"].unique()).index(o)))
    hidden_yes: dict[tuple[str, str], set[str]] = {}
    for outcome in order:
        for factor, blk in out[out["outcome"] == outcome].groupby("factor", sort=False):
            b = AssocBlock(
                index=list(blk.index),
                n=[int(v) for v in rows.loc[blk.index, "n"]],
                d=[int(v) for v in rows.loc[blk.index, "denominator"]],
            )
            parent = nested.get(outcome)
            parent_hidden = hidden_yes.get((parent, factor), set()) if parent else set()
            linked = {i for i, idx in enumerate(b.index) if out.at[idx, "level"] in parent_hidden}
            pushed, totals = ([i for i, idx in enumerate(b.index)
                               if ("associations", str(outcome), str(factor), str(out.at[idx, "level"]), c) in forced]
                              for c in ("n", "denominator"))
            _protect_assoc_block(b, m, linked, pushed, totals)
            if (str(outcome), str(factor)) in withheld and len(b.n) > 1:
                _withhold_assoc(b, WITHHELD_ACROSS_FORCES)
            hidden_yes[(outcome, factor)] = {out.at[b.index[i], "level"] for i in b.n_reason}
            for i, idx in enumerate(b.index):
                if i in b.n_reason:
                    reason = b.n_reason[i]
                    small_n = reason == "small_count" and not b.withheld
                    _hide(out, idx, "n", reason, SMALL_MARK.format(m=m) if small_n else SECONDARY_MARK)
                    _hide(out, idx, "pct", reason, SECONDARY_MARK)
                if i in b.d_reason:
                    reason = b.d_reason[i]
                    _hide(out, idx, "denominator", reason, SECONDARY_MARK if b.withheld else _mark(m, reason))
                    _hide(out, idx, "pct", reason, SECONDARY_MARK)
            if b.n_reason:
                for idx in b.index:
                    out.at[idx, "p_display"] = SECONDARY_MARK  # not the band: see the module docstring
                    out.at[idx, "statistic"] = math.nan
                    out.at[idx, "p"] = math.nan
                    out.at[idx, "test_suppressed"] = True
    return out


def hide_status_total(out: pd.DataFrame, where: pd.Series) -> None:
    """Hide the number of units with a status recorded in the rows ``where`` of a protected frame
    (descriptives or associations): their denominators and percentages (``linked_total``), and
    their tests (``test_withheld``: statistic and p; in descriptives the rows whose level is in
    :data:`TEST_LEVELS`).

    For an outcome whose ``unknown`` count is hidden (1 to m-1) while its number of units is
    published (section 3.4's ``offered``: the cases), every place that prints the number with a
    status recorded would give it back as units minus that number: the rows by period, figure
    1's bars, the association rows of the outcome (their denominators add up to it) and the
    regression's population. A count ``n`` stays; the denominators and every statistic of the
    outcome go."""
    for idx in out.index[where.to_numpy()]:
        if "table" in out.columns and out.at[idx, "level"] in TEST_LEVELS:
            _hide(out, idx, "n", "test_withheld", SECONDARY_MARK)
            continue
        if not out.at[idx, "denominator_suppressed"]:  # a denominator hidden already keeps its mark
            _hide(out, idx, "denominator", "linked_total", SECONDARY_MARK)
        _hide(out, idx, "pct", "linked_total", SECONDARY_MARK)
        if "outcome" in out.columns:
            out.at[idx, "p_display"] = SECONDARY_MARK
            out.at[idx, "statistic"] = math.nan
            out.at[idx, "p"] = math.nan
            out.at[idx, "test_suppressed"] = True


def withhold_for_blocks(
    frame: pd.DataFrame, protected: pd.DataFrame, *, file: str, keep: Iterable[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Blank every value of ``frame`` that belongs to an association block with a suppression.

    For the files derived from the same cross-tables (``association_tests.csv``,
    ``association_residuals.csv``, ``association_vs_published.csv``): their statistics, expected
    counts, residuals, odds ratios and counts would give the hidden cells back. ``frame`` needs
    ``outcome`` and ``factor`` columns; ``protected`` is the output of
    :func:`protect_associations`. Columns in ``keep`` (and ``outcome``, ``factor``, ``level``)
    are left as they are. Returns the blanked frame and its ``suppression.csv`` rows (reason
    ``test_withheld``).
    """
    out = frame.copy()
    blocks = protected.loc[protected["suppressed"] | protected["denominator_suppressed"], ["outcome", "factor"]]
    hit = pd.MultiIndex.from_frame(out[["outcome", "factor"]]).isin(pd.MultiIndex.from_frame(blocks.drop_duplicates()))
    keys = {"outcome", "factor", "level", *keep}
    cols = [c for c in out.columns if c not in keys]
    rows = []
    if hit.any():
        for col in cols:
            out[col] = out[col].astype(object)
        out.loc[hit, cols] = pd.NA
        for _, r in out[hit].iterrows():
            rows += [
                {
                    "file": file,
                    "table": r["outcome"],
                    "variable": r["factor"],
                    "level": r.get("level", ""),
                    "column": c,
                    "reason": "test_withheld",
                    "display": SECONDARY_MARK,
                }
                for c in cols
            ]
    return out, pd.DataFrame(rows, columns=list(SUPPRESSION_COLUMNS))


# ----------------------------------------------------------------------------------------------
# suppression.csv, and the report's sentence
# ----------------------------------------------------------------------------------------------


def suppression_table(
    descriptives: pd.DataFrame | None = None, associations: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per hidden value of protected frames (columns :data:`SUPPRESSION_COLUMNS`)."""
    out = []
    for file, frame, table_col, var_col in (
        ("descriptives", descriptives, "table", "variable"),
        ("associations", associations, "outcome", "factor"),
    ):
        if frame is None or "suppressed" not in frame.columns:
            continue
        for _, r in frame.iterrows():
            base = {"file": file, "table": r[table_col], "variable": r[var_col], "level": r["level"]}
            if r["suppressed"]:
                out.append({**base, "column": "n", "reason": r["reason"], "display": r["display"]})
            if r["denominator_suppressed"]:
                out.append(
                    {
                        **base,
                        "column": "denominator",
                        "reason": r["denominator_reason"],
                        "display": r["denominator_display"],
                    }
                )
            if r["pct_suppressed"]:
                out.append({**base, "column": "pct", "reason": r["pct_reason"], "display": SECONDARY_MARK})
            if file == "associations" and r.get("test_suppressed", False):
                for col in ("statistic", "p"):
                    out.append({**base, "column": col, "reason": "test_withheld", "display": r["p_display"]})
    return pd.DataFrame(out, columns=list(SUPPRESSION_COLUMNS))


def disclosure_note(min_cell_count: int, protected: pd.DataFrame | None = None) -> str:
    """The sentence the report prints under its tables when SDC is on ("" when it is off).

    With ``protected`` (the output of :func:`protect_descriptives` or
    :func:`protect_associations`) it also says how much of this release is suppressed, and
    how many blocks are withheld whole because too few units are left to publish them."""
    m = _check_m(min_cell_count)
    if m <= 1:
        return ""
    small_counts = "Counts of 1 are" if m == 2 else f"Counts from 1 to {m - 1} are"
    note = (
        f'Statistical disclosure control: {small_counts} suppressed and shown as "<{m}". '
        "Further counts, totals and percentages that would allow a suppressed count to be worked out "
        'are also suppressed and shown as "[c]", and where a table has suppressed cells its test '
        "statistic and p-value are withheld."
    )
    summary = release_summary(protected) if protected is not None else ""
    if summary and "outcome" in protected.columns:  # tests withheld: BH adjusts the rest
        summary += " Benjamini–Hochberg q-values are computed over the published tests only."
    return note + summary


def release_summary(protected: pd.DataFrame) -> str:
    """" In this release, k of K tables have suppressed cells and w are withheld whole: too few
    units are left to publish them." for a protected frame ("" when nothing is hidden)."""
    keys = ["outcome", "factor"] if "outcome" in protected.columns else ["table", "variable"]
    hidden = protected["suppressed"] | protected["denominator_suppressed"]
    blocks = protected.assign(_h=hidden, _w=protected["reason"].isin(WITHHELD_REASONS)).groupby(keys, sort=False)
    total, with_hidden, withheld = blocks.ngroups, int(blocks["_h"].any().sum()), int(blocks["_w"].any().sum())
    if not with_hidden:
        return ""
    what = "association tables" if "outcome" in protected.columns else "tables' variables"
    text = f" In this release, {with_hidden} of {total} {what} have suppressed cells"
    if withheld:
        text += f", and {withheld} are withheld whole: too few units are left to publish them"
    return text + "."
