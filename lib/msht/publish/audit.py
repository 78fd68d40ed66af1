"""Disclosure audit and linked-table protection: bound every hidden count from everything published.

:mod:`msht.publish.sdc` and :func:`msht.publish.quality.protect_completeness` and its siblings protect table by
table. This module checks the result across the published files of a run at once, the way a
careful reader can: it builds one integer linear system whose unknowns are the hidden counts and
whose constraints are what the reader knows, and bounds each hidden count with an
integer-programming solver (:func:`scipy.optimize.milp`, HiGHS), component by component. A
hidden count whose feasible range holds fewer than :data:`MIN_RANGE` whole values is a
disclosure. :func:`fixpoint` (and :func:`msht.pipeline.protect_release`, which ``msht run`` uses) turns the
audit into linked-table protection: publish, audit, hide the cheapest count linked to each
too-narrow hidden count, publish again, until the audit passes.

The true values come from the run's ``<processed_dir>/unprotected/`` folder
(:func:`msht.publish.results.write_unprotected`). What the system holds (each relation is kept only if it
holds in the unprotected values, so no false relation weakens the attacker; a relation that holds
by coincidence only makes the audit stricter):

* every count of ``descriptives.csv`` and ``associations.csv`` (``n`` and ``denominator``), of
  ``completeness.csv`` (``missing``), ``spellings.csv`` (``n``), ``problems.csv`` (``n``) and
  ``exclusions.csv`` (``rows_in``, ``excluded``, ``rows_out``; the flow diagram and the cleaning
  summary print the same numbers), hidden or shown, as a variable; a shown value fixes it; a
  ``"<m"`` mark bounds it to 1..m-1; a ``"[c]"`` mark says 0 or at least m (a binary variable),
  unless the reason says nothing (:data:`SILENT_REASONS`), and its possible values are counted
  as such (0, then from the smallest feasible value at least m to the largest); published and
  true rows are joined on their keys (:func:`aligned`);
* a printed percentage with a hidden count or denominator: 100 n / d rounded to one decimal
  (the rounding interval);
* descriptives blocks: the known levels add up to the denominator (where they partition it); the
  denominator plus the ``unknown`` count is the table's published number of units
  (:data:`POPULATIONS`: section 3.1's cases or victims, section 3.3's offender persons, and for
  ``accepted`` the cases offered support);
* section 3.4's ``offered``/``accepted``: the "yes" count and the denominator are also the sums
  of the rows by period, of figure 1's bars by year and the associations' ``overall`` row
  (:data:`OUTCOME_PLACES`);
  a ``yes`` flag is at most its denominator; a row's own denominator (``left_out``) is a count;
* association blocks: 0 <= n <= d; per outcome, the levels' totals and "yes" counts add up to
  the same total across every factor (the column totals and the grand total are public);
* section 3.2 (and so the prose of sections 3.1 and 3.2, which prints these counts): the victims
  of section 3.1 are those with no police-record data, those left out as outliers and those
  analysed;
* data-quality tables: a field's spellings add up to the extract's rows; each exclusion chain
  ``rows_out = rows_in - excluded``, step to step; a problem that is an exclusion rule is the
  same rows (:data:`msht.publish.quality.PROBLEM_RULES`); the case entries with no victim ID are
  ``completeness.csv``'s missing victim IDs;
* across files: ``accepted``'s total per level is at most ``offered``'s "yes" count (the
  difference, summed over the levels, is the unknown acceptance count); an association
  level's total is at most the case-level descriptives count of its variable and level;
* non-linear: a printed p band of a block with hidden cells is checked by enumerating the
  block's candidate tables within the integer programme's ranges and recomputing the
  study-convention p (:func:`band_consistent_values`); the hidden count keeps only the values of
  tables that give the printed band. The release prints no band, test statistic, odds ratio or
  confidence interval for a block with hidden cells (:mod:`msht.publish.sdc`: withheld, ``"[c]"``), and
  the derived association files are blanked block by block, so there is nothing else
  non-linear to check there.

* statistics' denominators (a median's victims, a range's cases, a test's cases: rows of
  :data:`msht.publish.sdc.NON_COUNT_LEVELS`): each is the count it prints again
  (:func:`msht.publish.descriptive_tables.value_denominator_source`), and is hidden with it;
* section 3.4's rows by period are figure 1's bars by year summed before and from 2021 (a period
  outside the run's dates is 0 by its published dates: not required to keep three values);
* ``regression.csv`` and its paragraph, per outcome (:func:`_regression_model`): the population
  is the association analysis' ``overall`` total and N + the cases dropped; the complete cases at
  each level of each factor (a term's ``n_level``; the reference and any level left out as an
  unpublished count, ``complete``, required to keep three values only when from 1 to m-1) add up
  to N, each at most the level's association total (and, for ``accepted``, at most ``offered``'s;
  accepted's N at most offered's complete cases with a "yes"); the events are the rarer outcome
  among the N (y or N - y, a binary choice; y at most the ``overall`` "yes" count, N - y at most
  its "no" count); the counts the model's note prints ("0 of N complete cases have it", "e events
  for", "N complete cases for") and its separations (a level's complete cases all of one outcome,
  or all the other cases: :func:`_separations`); and the paragraph's share of cases with county
  lines recorded.
  A model's counts from 1 to m-1 are hidden, N, the dropped and the events together, all four when
  the population is (:func:`msht.publish.regression_tables.protect_regression`), and N is a count
  :func:`complementary` may hide (it did on the 10% sample, where N and the referring agency's
  association totals left a level's complete cases two values).

An outcome whose ``unknown`` count is hidden has its number of cases with a status recorded hidden
wherever it is printed (:func:`msht.publish.sdc.hide_status_total`: rows by period, figure 1, the
outcome's association rows and tests, the regression's population, N, cases dropped and events), so the
links above leave the hidden count its range.

Not modelled (:data:`NOT_MODELLED`), and why that is safe:

* the regression's adjusted odds ratios, CIs and p values: an adjusted odds ratio is the maximum
  of a likelihood over the complete cases' joint table of the outcome and all twelve factors, of
  which nothing is published but the margins above; no linear system captures it. What keeps it
  from narrowing a hidden count: a level's OR, CI and p are withheld whenever the association
  table of its outcome and factor has any hidden count or total (``test_withheld``) and whenever
  the level or the rest of its model has 1 to m-1 complete cases (``small_count``), so an OR is
  printed only where every count of its own cross-table is printed; every ``n_level`` is hidden;
* the before/after-2021 test (section 3.4) needs no model: its statistic and p are withheld
  whenever either period's count or total is hidden (:mod:`msht.publish.sdc`, a block with one
  denominator per level), and with every cell printed the test adds nothing;
* figures other than the flow diagram: drawn from the protected tables (figure 1's bars are the
  rows by year above);
* ``association_tests``/``residuals``/``vs_published``: blanked block by block wherever the block
  has a suppression (:func:`msht.publish.sdc.withhold_for_blocks`), and the q-values are
  recomputed over the published tests only; nothing about a hidden cell is left to model;
* links between descriptives and associations other than those above;

The per-force files of a run of several forces (``forces*.csv``, notebook 05) are modelled by
:mod:`msht.publish.audit_forces`: each force's data-quality files and Appendix 4 as a single
force's, the funnel's and odds ratios' counts as the Appendix 4 cells they are, and every count
that exists per force and combined as the forces' sum; their non-linear values are checked to be
withheld wherever a count they use is hidden.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # scipy.optimize is imported by the functions that solve (1 s; `msht run` imports this module)
    from scipy.optimize import Bounds

logger = logging.getLogger(__name__)

#: A hidden count must keep at least this many feasible whole values.
MIN_RANGE: Final[int] = 3
#: Upper bound on any count (no count of the study exceeds it).
BIG: Final[int] = 10**6
#: Reasons under which a ``"[c]"`` says nothing about the value.
SILENT_REASONS: Final[frozenset[str]] = frozenset(
    {"withheld", "withheld_across_forces", "linked", "linked_total", "unknown_total", "test_withheld", "extreme_value",
     "small_total"}
)
NOT_MODELLED: Final[tuple[str, ...]] = (
    "regression.csv's adjusted odds ratios, CIs and p (multivariable; withheld for a level whose association "
    "table has a hidden cell or whose complete cases are 1 to m-1; every n_level hidden)",
    "figures other than the flow diagram (drawn from the protected tables)",
    "association_tests/residuals/vs_published (blanked per block with any suppression: nothing published to model)",
    "a run of several forces' odds ratios, pooled statistics, funnel rates and limits (non-linear; "
    "msht.publish.audit_forces.check_withheld fails the audit if one is shown with a hidden count it uses)",
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
    #: hidden counts whose value the run's parameters give (a period outside its dates: 0), not the data
    structural: set[int] = field(default_factory=set)

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
    _spellings(s, results_dir, truth_dir, marks, m, binaries)
    _exclusions(s, results_dir, truth_dir, marks, m, binaries)
    _problems(s, results_dir, truth_dir, marks, m, binaries)
    _outcome_links(s)
    _cross_file(s)
    _regression(s, results_dir, truth_dir, marks, m, binaries, pct_rows)
    from msht.publish import audit_forces  # the per-force files of a run of several forces

    audit_forces.build_forces(s, results_dir, truth_dir, marks, m, binaries, pct_rows)
    return s, binaries, pct_rows


#: Case-level descriptives tables: an association level's total (cases with the level and the
#: outcome recorded) is at most the table's count of cases with the level.
CASE_TABLES: Final[tuple[str, ...]] = ("appendix2", "table1_all_cases")


def _cross_file(s: System) -> None:
    """Structural links between files: ``accepted`` is measured on the cases offered support, so
    its total per level is at most ``offered``'s "yes" count (equal where no case offered support
    at the level lacks an acceptance status; a reader knows only the levels' sum of those, the
    section 3.4 ``unknown`` count, which the blocks' totals give: an equality added where it
    happens to hold would tell the attacker which levels hold the unknown cases); an association
    level's total is at most the case-level descriptives count of the same variable and level
    (:data:`CASE_TABLES`)."""
    from msht.publish import sdc

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
            if parent and key in s.index:  # at most: the cases offered with no acceptance recorded are not in it
                s.add({i: 1, s.index[key]: -1}, -BIG, 0)


def _cell(s: System, key: tuple, truth: int, shown: int | None, marks: dict, m: int, binaries: list) -> int:
    hidden = shown is None
    i = s.var("|".join(map(str, key)), truth, hidden=hidden)
    if hidden and key in marks:
        _mark(s, i, *marks[key], m, binaries)
    return i


def _descriptives(s: System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list,
                  pct_rows: list) -> None:
    from msht.publish import sdc

    if not (results_dir / "descriptives.csv").exists():
        return
    tru = pd.read_csv(truth_dir / "descriptives.csv", dtype={"level": str})
    pub = aligned(pd.read_csv(results_dir / "descriptives.csv", dtype={"level": str}), tru,
                  ["table", "variable", "level"], "descriptives.csv")
    counts = ~tru["level"].isin(sdc.NON_COUNT_LEVELS)
    units: dict[tuple[str, str], tuple[int, int]] = {}
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
                units.setdefault((table, variable), (u, d0))
    _populations(s, units)
    _value_denominators(s, tru, pub, marks, m, binaries)
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


def _value_denominators(s: System, tru: pd.DataFrame, pub: pd.DataFrame, marks: dict, m: int, binaries: list) -> None:
    """The denominator of a statistic's row (a median, a range, a test: levels in
    :data:`msht.publish.sdc.NON_COUNT_LEVELS`) is a count printed again: the count of
    :func:`msht.publish.descriptive_tables.value_denominator_source` (a block's denominator, or the
    sum of its levels' denominators where each has its own; or one level's count)."""
    from msht.publish import descriptive_tables, sdc

    values = tru["level"].isin(sdc.NON_COUNT_LEVELS) & tru["denominator"].notna()
    for idx, r in tru[values].iterrows():
        key = ("descriptives", r["table"], r["variable"], r["level"], "denominator")
        i = _cell(s, key, int(r["denominator"]), _value(pub.at[idx, "denominator"]), marks, m, binaries)
        table, variable, level = descriptive_tables.value_denominator_source(r["table"], r["variable"])
        prefix = f"descriptives|{table}|{variable}|"
        if level is not None:
            source = [j for name, j in s.index.items() if name == f"{prefix}{level}|n"]
        else:
            source = [j for name, j in s.index.items() if name.startswith(prefix) and name.endswith("|denominator")
                      and name.split("|")[3] not in sdc.NON_COUNT_LEVELS]
            dens = {s.truth[j] for j in source}
            if len(source) > 1 and len(dens) == 1 and sum(s.truth[j] for j in source) != r["denominator"]:
                source = source[:1]  # one shared denominator, not one per level
        if source:
            s.equal([i], source)


#: The published number of units of each descriptives table (``unknown`` + denominator of each of
#: its blocks): cases (section 3.1's count), victims, offender persons; section 3.4's
#: ``accepted`` is measured on the cases offered support (``offered``'s "yes" count), section
#: 3.3's ``offenders_per_case`` on the cases (its ``unknown`` row: the cases of a force that sent no
#: offender extract).
POPULATIONS: Final[dict[str, str]] = {
    "section3_1": "descriptives|section3_1|cases|all|n",
    "appendix2": "descriptives|section3_1|cases|all|n",
    "table1_all_cases": "descriptives|section3_1|cases|all|n",
    "section3_4": "descriptives|section3_1|cases|all|n",
    "section3_4|accepted": "descriptives|section3_4|offered|yes|n",
    "appendix1": "descriptives|section3_1|victims|all|n",
    "appendix3": "descriptives|section3_3|offender_persons|all|n",
    "section3_3": "descriptives|section3_3|offender_persons|all|n",
    "section3_3|offenders_per_case": "descriptives|section3_1|cases|all|n",
}


def _populations(s: System, units: dict[tuple[str, str], tuple[int, int]]) -> None:
    """Each block's ``unknown`` count plus its denominator is the table's published number of
    units (:data:`POPULATIONS`): the reader knows N, so a hidden unknown count is N - D."""
    for (table, variable), (u, d0) in units.items():
        name = POPULATIONS.get(f"{table}|{variable}", POPULATIONS.get(table))
        if name is not None and name in s.index:
            s.equal([u, d0], [s.index[name]])


#: Section 3.4's outcomes and the other places their counts are printed: the rows by period,
#: figure 1's bars by year and the association analysis' ``overall`` row.
OUTCOME_PLACES: Final[dict[str, tuple[str, ...]]] = {
    "offered": ("descriptives|section3_4|offered_by_period", "descriptives|figure1|offered_by_year",
                "associations|offered|overall"),
    "accepted": ("descriptives|section3_4|accepted_by_period", "descriptives|figure1|accepted_by_year",
                 "associations|accepted|overall"),
}


def _outcome_links(s: System) -> None:
    """Section 3.4's ``offered``/``accepted``: the "yes" count and the denominator (cases with a
    status recorded) are also the sums of the rows by period, of figure 1's bars by year and the
    association analysis' ``overall`` row (:data:`OUTCOME_PLACES`)."""
    for outcome, places in OUTCOME_PLACES.items():
        yes_n = s.index.get(f"descriptives|section3_4|{outcome}|yes|n")
        yes_d = s.index.get(f"descriptives|section3_4|{outcome}|yes|denominator")
        for place in places:
            for column, own in (("n", yes_n), ("denominator", yes_d)):
                parts = [i for name, i in s.index.items()
                         if name.startswith(place + "|") and name.endswith("|" + column)]
                if own is not None and parts:
                    s.equal([own], parts)
        _period_years(s, outcome, places)


def _period_years(s: System, outcome: str, places: tuple[str, ...]) -> None:
    """Section 3.4's rows by period are figure 1's bars by year summed before and from the split
    year (:data:`msht.analysis.describe.PERIOD_SPLIT_YEAR`), count and denominator alike."""
    from msht.analysis.describe import PERIOD_SPLIT_YEAR, PERIODS

    by_period, by_year = places[0], places[1]
    for column in ("n", "denominator"):
        years = {int(name.split("|")[3]): i for name, i in s.index.items()
                 if name.startswith(by_year + "|") and name.endswith("|" + column) and name.split("|")[3].isdigit()}
        for period, keep in zip(PERIODS, (lambda y: y < PERIOD_SPLIT_YEAR, lambda y: y >= PERIOD_SPLIT_YEAR)):
            own = s.index.get(f"{by_period}|{period}|{column}")
            inside = [i for y, i in years.items() if keep(y)]
            if own is not None and years:
                s.equal([own], inside)
                if not inside:  # a period outside the run's dates: 0 by the published dates, not by the data
                    s.structural.add(own)


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
    completeness_frames(s, _read(truth_dir / "completeness.csv"), _read(path), marks, m, binaries)


def completeness_frames(s: System, tru: pd.DataFrame, pub: pd.DataFrame, marks: dict, m: int, binaries: list,
                        file: str = "completeness", table: str = "") -> None:
    """``completeness.csv``'s rows (true and published frames) as variables; ``file`` and the
    ``table`` prefix (``"<force>: "`` for ``forces_completeness``) name them as ``suppression.csv`` does."""
    pub = aligned(pub, tru, ["extract", "field"], f"{file}.csv")
    for idx, r in tru.iterrows():
        key = (file, table + str(r["extract"]), r["field"], "", "missing")
        _cell(s, key, int(r["missing"]), _value(pub.at[idx, "missing"]), marks, m, binaries)


def aligned(pub: pd.DataFrame, tru: pd.DataFrame, keys: list[str], name: str) -> pd.DataFrame:
    """The published rows of ``name`` in the order (and with the index) of its true rows, joined
    on ``keys``. Raises ``AssertionError`` when the two files do not hold the same keys, each once
    (the audit would pair a published value with another row's true value)."""
    def key_index(frame: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(frame[keys].astype(str))

    pk, tk = key_index(pub), key_index(tru)
    if pk.has_duplicates or tk.has_duplicates or set(pk) != set(tk):
        extra, lost = sorted(set(pk) - set(tk))[:3], sorted(set(tk) - set(pk))[:3]
        raise AssertionError(f"audit: {name}'s published and true rows differ (keys {keys}; only published: "
                             f"{extra}, only true: {lost}, duplicates: {pk.has_duplicates or tk.has_duplicates})")
    out = pub.set_axis(pk).reindex(tk)
    return out.set_axis(tru.index)


def _read(path: Path) -> pd.DataFrame:
    """A results file with text as written (a raw spelling ``NA`` stays ``NA``), counts as numbers."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("rows", "missing", "n", "rows_in", "excluded", "rows_out"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column].mask(frame[column] == ""))
    return frame


def _spellings(s: System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list) -> None:
    """``spellings.csv``: the spellings of one field add up to the extract's rows (public in
    ``completeness.csv`` and the inputs table)."""
    path, true_path = results_dir / "spellings.csv", truth_dir / "spellings.csv"
    if not (path.exists() and true_path.exists()):
        return
    spellings_frames(s, _read(true_path), _read(path), _extract_rows(truth_dir), marks, m, binaries)


def spellings_frames(s: System, tru: pd.DataFrame, pub: pd.DataFrame, rows: dict[str, int], marks: dict, m: int,
                     binaries: list, file: str = "spellings", table: str = "") -> None:
    """``spellings.csv``'s rows (true and published frames): a field's spellings add up to its
    extract's ``rows`` (extract -> rows); ``file``/``table`` as :func:`completeness_frames`."""
    from msht.publish import quality

    pub = aligned(pub, tru, ["extract", "field", "code", "raw_value"], f"{file}.csv")
    for (extract, fld), blk in tru.groupby(["extract", "field"], sort=False):
        idx = [_cell(s, (file, table + str(extract), fld, quality.spelling_level(r), "n"), int(r["n"]),
                     _value(pub.at[k, "n"]), marks, m, binaries) for k, r in blk.iterrows()]
        if extract in rows:
            s.equal(idx, [s.var(f"extract_rows|{table}{extract}", rows[extract], hidden=False)])


def _extract_rows(truth_dir: Path) -> dict[str, int]:
    path = truth_dir / "completeness.csv"
    if not path.exists():
        return {}
    frame = _read(path)
    return {str(e): int(r) for e, r in zip(frame["extract"], frame["rows"])}


def _exclusions(s: System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list) -> None:
    """``exclusions.csv`` (and the flow diagram and the cleaning summary, which print its
    numbers): per entity a chain ``rows_out = rows_in - excluded``, each step's ``rows_in`` the
    previous ``rows_out``; rows read are also the extract's rows. A case entry with no victim ID
    is also a missing ``victim_person_id`` of ``completeness.csv``."""
    path, true_path = results_dir / "exclusions.csv", truth_dir / "exclusions.csv"
    if not (path.exists() and true_path.exists()):
        return
    exclusions_frames(s, _read(true_path), _read(path), marks, m, binaries)


def exclusions_frames(s: System, tru: pd.DataFrame, pub: pd.DataFrame, marks: dict, m: int, binaries: list,
                      file: str = "exclusions", table: str = "") -> None:
    """``exclusions.csv``'s rows (true and published frames) as chains (see :func:`_exclusions`);
    ``file``/``table`` as :func:`completeness_frames` (``completeness`` then ``forces_completeness``)."""
    pub = aligned(pub, tru, ["entity", "rule", "step"], f"{file}.csv")
    for entity, blk in tru.groupby("entity", sort=False):
        prev = None
        for k, r in blk.iterrows():
            key = (file, table + str(entity), r["rule"], str(r["step"]))
            cells = {c: _cell(s, (*key, c), int(r[c]), _value(pub.at[k, c]), marks, m, binaries)
                     for c in ("rows_in", "excluded", "rows_out")}
            s.add({cells["rows_out"]: 1, cells["rows_in"]: -1, cells["excluded"]: 1}, 0, 0)
            if prev is not None:
                s.equal([prev], [cells["rows_in"]])
            prev = cells["rows_out"]
    completeness = file.replace("exclusions", "completeness")
    victim_id = s.index.get(f"{completeness}|{table}cases|victim_person_id||missing")
    no_id = [i for name, i in s.index.items() if name.startswith(f"{file}|{table}cases|no_victim_id|")
             and name.endswith("|excluded")]
    if victim_id is not None and no_id:
        s.equal([victim_id], no_id)


def _problems(s: System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list) -> None:
    """``problems.csv``: each count, and a problem that is an exclusion rule is the same rows as
    the rule's ``excluded`` count (:data:`msht.publish.quality.PROBLEM_RULES`); such a problem not listed
    says its rule excluded no row."""
    path, true_path = results_dir / "problems.csv", truth_dir / "problems.csv"
    if not (path.exists() and true_path.exists()):
        return
    problems_frames(s, _read(true_path), _read(path), marks, m, binaries)


def problems_frames(s: System, tru: pd.DataFrame, pub: pd.DataFrame, marks: dict, m: int, binaries: list,
                    file: str = "problems", table: str = "") -> None:
    """``problems.csv``'s rows (true and published frames; see :func:`_problems`); ``file``/``table``
    as :func:`completeness_frames`, the exclusions read from ``file``'s sibling (``exclusions``,
    ``forces_exclusions``)."""
    from msht.publish import quality

    exclusions = file.replace("problems", "exclusions")
    true_n = {(e, p): int(n) for e, p, n in zip(tru["extract"], tru["problem"], tru["n"])}
    listed = {}
    for _, r in pub.iterrows():
        key = (r["extract"], r["problem"])
        listed[key] = _cell(s, (file, table + str(r["extract"]), r["problem"], "", "n"), true_n.get(key, 0),
                            _value(r["n"]), marks, m, binaries)
    for key, rule in quality.PROBLEM_RULES.items():
        for name, j in list(s.index.items()):
            if name.startswith(f"{exclusions}|{table}{rule[0]}|{rule[1]}|") and name.endswith("|excluded"):
                if key in listed:
                    s.equal([listed[key]], [j])
                else:  # a problem is listed only when found: not listed, none was
                    s.add({j: 1}, 0, 0)


def _regression(s: System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list,
                pct_rows: list) -> None:
    """``regression.csv`` and its paragraph (see :func:`_regression_model`), per outcome; and the
    paragraph's share of cases with county lines recorded (100 k / cases, one decimal)."""
    path, true_path = results_dir / "regression.csv", truth_dir / "regression_counts.csv"
    if not (path.exists() and true_path.exists()):
        return
    pub = pd.read_csv(path, dtype={"level": str, "factor": str, "note": str}, keep_default_na=False,
                      na_values={c: [""] for c in ("n_level", *MODEL_COLUMNS)})
    counts = pd.read_csv(true_path, dtype=str, keep_default_na=False)
    counts["n"] = counts["n"].astype(int)
    counts["n_yes"] = counts["n_yes"].astype(int)
    complete = {}
    for outcome, rows in pub.groupby("outcome", sort=False):
        truth = counts[counts["outcome"] == outcome]
        complete[outcome] = _regression_model(s, str(outcome), rows, truth, marks, m, binaries)
    for child, parent in NESTED_MODELS.items():  # accepted's complete cases: offered's with "yes"
        if child in complete and parent in complete:
            (n_c, lv_c, _), (_, lv_p, yes_p) = complete[child], complete[parent]
            s.add({n_c: 1, yes_p: -1}, -BIG, 0)
            for key, i in lv_c.items():
                if key in lv_p:
                    s.add({i: 1, lv_p[key]: -1}, -BIG, 0)
    known = s.index.get("descriptives|appendix2|county_lines|yes|denominator")
    cases = s.index.get("descriptives|section3_1|cases|all|n")
    if known is not None and cases is not None and s.truth[cases] and (s.hidden[known] or s.hidden[cases]):
        pct_rows.append((known, cases, round(100 * s.truth[known] / s.truth[cases], 1)))


#: ``regression.csv``'s counts of a model (:data:`msht.publish.regression_tables.MODEL_COUNTS`).
MODEL_COLUMNS: Final[tuple[str, ...]] = ("N", "n_population", "n_dropped_missing", "n_events")
#: Models whose population is within another's positive cases: child -> parent.
NESTED_MODELS: Final[dict[str, str]] = {"accepted": "offered"}


def _regression_model(s: System, outcome: str, rows: pd.DataFrame, truth: pd.DataFrame, marks: dict, m: int,
                      binaries: list) -> tuple[int, dict[tuple[str, str], int], int]:
    """One outcome's model. Its counts as variables (a shown value fixes one; a hidden one has
    its mark): the population is the association analysis' ``overall`` total and N plus the cases
    dropped; the complete cases at each level of a factor (a term's ``n_level``; the reference and
    any level left out unpublished, variable ``complete``) add up to N, each at most the level's
    association total; the events are the rarer outcome among the N (y or N - y, a binary choice,
    y the complete cases with the positive outcome, at most the ``overall`` "yes" count, N - y at
    most its "no" count); the note's counts (:func:`_note_counts`). Returns the variables of N,
    of the levels, and of y."""
    from msht.analysis import models
    from msht.base import vocab

    first = rows.iloc[0]
    tv = {r.level: r.n for r in truth[truth["factor"] == ""].itertuples()}
    n_t, pop_t, yes_t = tv["complete"], tv["population"], tv["complete_yes"]
    true_total = {"N": n_t, "n_population": pop_t, "n_dropped_missing": pop_t - n_t,
                  "n_events": min(yes_t, n_t - yes_t)}
    where = (str(first["factor"]) if pd.notna(first["factor"]) else "", str(first["level"]) if pd.notna(first["level"]) else "")
    tot = {c: _cell(s, ("regression", outcome, *where, c), true_total[c], _value(first[c]), marks, m, binaries)
           for c in MODEL_COLUMNS}
    big_n, pop, dropped, events = (tot[c] for c in MODEL_COLUMNS)
    s.equal([pop], [big_n, dropped])
    overall = {c: s.index.get(f"associations|{outcome}|overall|overall|{c}") for c in ("n", "denominator")}
    if overall["denominator"] is not None:
        s.equal([pop], [overall["denominator"]])
    yes = s.var(f"regression_yes|{outcome}", yes_t, hidden=True)
    choice = s.var(f"regression_choice|{outcome}", int(yes_t != true_total["n_events"]), hidden=True, lo=0, hi=1)
    s.add({yes: 1, big_n: -1}, -BIG, 0)
    big = 2 * max(s.truth) + 10  # above any count (all are at most the published cases or rows read)
    s.add({yes: 1, events: -1, choice: -big}, -2 * big, 0)  # choice 0: y = events
    s.add({events: 1, yes: -1, choice: -big}, -2 * big, 0)
    s.add({yes: 1, big_n: -1, events: 1, choice: big}, -2 * big, big)  # choice 1: y = N - events
    s.add({big_n: 1, events: -1, yes: -1, choice: big}, -2 * big, big)
    if overall["n"] is not None and overall["denominator"] is not None:
        s.add({yes: 1, overall["n"]: -1}, -BIG, 0)
        s.add({big_n: 1, yes: -1, overall["denominator"]: -1, overall["n"]: 1}, -BIG, 0)
    published = {(str(r.factor), str(r.level)): k for k, r in rows.iterrows() if pd.notna(r.factor)}
    levels: dict[tuple[str, str], int] = {}
    true_level = {(r.factor, r.level): r.n for r in truth[truth["factor"] != ""].itertuples()}
    for factor in models.REGRESSION_FACTORS:
        members = []
        for level in vocab.levels(factor):
            k = published.get((factor, level))
            if k is not None:
                i = _cell(s, ("regression", outcome, factor, level, "n_level"), true_level[(factor, level)],
                          _value(rows.at[k, "n_level"]), marks, m, binaries)
            else:
                i = s.var(f"regression|{outcome}|{factor}|{level}|complete", true_level[(factor, level)], hidden=True)
                s.reason[i] = "implicit"
            levels[(factor, level)] = i
            members.append(i)
            d = s.index.get(f"associations|{outcome}|{factor}|{level}|denominator")
            if d is not None:
                s.add({i: 1, d: -1}, -BIG, 0)
        s.equal(members, [big_n])
    note = str(first["note"]) if pd.notna(first["note"]) else ""
    _note_counts(s, outcome, note, levels, big_n, events)
    true_yes = {(r.factor, r.level): r.n_yes for r in truth[truth["factor"] != ""].itertuples()}
    _separations(s, outcome, note, levels, true_yes, big_n, yes)
    return big_n, levels, yes


def _separations(s: System, outcome: str, note: str, levels: dict[tuple[str, str], int],
                 true_yes: dict[tuple[str, str], int], big_n: int, yes: int) -> None:
    """A level a model's note leaves out for separation ("every case at or not at this level has
    the same ... value"): of its c complete cases, those with the positive outcome (cy, at most
    the level's association "yes" count, c - cy at most its "no" count) are 0 or c, or the other
    N - c cases' (y - cy) are 0 or N - c: one of four equalities holds (four binaries, at least
    one true)."""
    import re

    from msht.analysis import models

    big = 2 * max(s.truth) + 10
    for (factor, level), c in levels.items():
        if re.search(re.escape(models.level_name(factor, level)) + r" left out: separation", note) is None:
            continue
        cy_t = true_yes[(factor, level)]
        cy = s.var(f"regression_yes|{outcome}|{factor}|{level}", cy_t, hidden=True)
        s.add({cy: 1, c: -1}, -BIG, 0)
        s.add({yes: 1, cy: -1}, 0, BIG)
        s.add({yes: 1, cy: -1, big_n: -1, c: 1}, -BIG, 0)
        assoc = {k: s.index.get(f"associations|{outcome}|{factor}|{level}|{k}") for k in ("n", "denominator")}
        if assoc["n"] is not None:
            s.add({cy: 1, assoc["n"]: -1}, -BIG, 0)
            if assoc["denominator"] is not None:
                s.add({c: 1, cy: -1, assoc["denominator"]: -1, assoc["n"]: 1}, -BIG, 0)
        y_t, n_t, c_t = s.truth[yes], s.truth[big_n], s.truth[c]
        cases = (({cy: 1}, cy_t == 0), ({cy: 1, c: -1}, cy_t == c_t), ({yes: 1, cy: -1}, y_t - cy_t == 0),
                 ({yes: 1, cy: -1, big_n: -1, c: 1}, y_t - cy_t == n_t - c_t))
        flags = []
        for k, (expr, holds) in enumerate(cases):
            z = s.var(f"regression_choice|{outcome}|{factor}|{level}|{k}", int(holds), hidden=True, lo=0, hi=1)
            flags.append(z)
            s.add({**expr, z: big}, -BIG * 4, big)  # z = 1: expr <= 0
            s.add({**{i: -v for i, v in expr.items()}, z: big}, -BIG * 4, big)  # z = 1: expr >= 0
        s.add({z: 1 for z in flags}, 1, len(flags))


def _note_counts(s: System, outcome: str, note: str, levels: dict[tuple[str, str], int], big_n: int,
                 events: int) -> None:
    """The counts a model's note prints (:data:`msht.publish.regression_tables.NOTE_COUNTS`): a
    level left out that ``"k of N complete cases have it"`` (``"[c] of [c]"``: all N), ``"e events
    for"``, ``"N complete cases for"``; each a published value tied to its variable."""
    import re

    from msht.analysis import models
    from msht.publish import regression_tables

    def number(text: str) -> int | None:
        return int(text.replace(",", "")) if text[:1].isdigit() else None

    left_out, events_at, n_at = (pattern for pattern, _ in regression_tables.NOTE_COUNTS)
    for (factor, level), i in levels.items():
        label = re.escape(models.level_name(factor, level))
        hit = re.search(label + r" left out: (\S+) of (\S+) complete cases have it", note)
        if hit is None:
            continue
        k, n = number(hit.group(1)), number(hit.group(2))
        if k is None:
            s.equal([i], [big_n])
        else:
            s.equal([i], [s.var(f"regression_note|{outcome}|{factor}|{level}", k, hidden=False)])
        if n is not None:
            s.equal([big_n], [s.var(f"regression_note|{outcome}|N", n, hidden=False)])
    for pattern, var in ((events_at, events), (n_at, big_n)):
        hit = re.search(pattern.replace(r"\b(\d[\d,]*)", r"(\S+)", 1), note)
        if hit is not None and number(hit.group(1)) is not None:
            s.equal([var], [s.var(f"regression_note|{outcome}|{s.names[var]}", number(hit.group(1)), hidden=False)])


def _matrices(s: System, binaries: list, pct_rows: list) -> tuple:
    """The milp inputs: counts first, then one binary per ``"[c]"`` (0 or >= m)."""
    from scipy.optimize import Bounds

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


#: Variables of the system that are not counts of a published file (totals, a model's choice
#: between its outcomes): bounded through the others, never reported.
HELPERS: Final[tuple[str, ...]] = ("units|", "assoc_total|", "regression_yes|", "regression_choice|")


def bound_hidden(s: System, binaries: list, pct_rows: list, m: int = 5) -> pd.DataFrame:
    """Per hidden count: its true value, the smallest and largest feasible values (milp), and
    ``required``: whether it must keep :data:`MIN_RANGE` values. A count hidden only because its
    whole block is withheld (``withheld``; a force's, with another force's: ``withheld_across_forces``),
    and not itself from 1 to m-1, is not required to: a
    withheld block hides all it can, and its totals may be public elsewhere (``accepted``'s totals
    are ``offered``'s published "yes" counts), as :mod:`msht.publish.sdc` states; nor is a count of an
    exclusion chain withheld whole (:func:`_withheld_chains`).

    Each count is bounded within its connected component of the system (:func:`_components`),
    twice (min and max) with :func:`scipy.optimize.milp`; a block whose p band is published is
    then narrowed to the values that keep the band (:func:`_apply_bands`)."""
    from scipy.optimize import LinearConstraint, milp

    from msht.publish import sdc

    a, lo, hi, bounds, nvar = _matrices(s, binaries, pct_rows)
    parts = _components(a, bounds)
    public_total = _withheld_chains(s)
    zero_or_m = dict(binaries)
    solved: dict[int, tuple] = {}
    out = []
    for i, name in enumerate(s.names):
        if not s.hidden[i] or name.startswith(HELPERS):
            continue
        key = parts[i]
        if key not in solved:
            solved[key] = _subsystem(a, lo, hi, bounds, np.flatnonzero(parts == key))
        cols, sub_a, sub_lo, sub_hi, sub_bounds = solved[key]
        constraints = LinearConstraint(sub_a, sub_lo, sub_hi) if len(sub_a) else None
        at = int(np.flatnonzero(cols == i)[0])
        ends = []
        for sign in (1, -1):
            c = np.zeros(len(cols))
            c[at] = sign
            res = milp(c, constraints=constraints, integrality=np.ones(len(cols)), bounds=sub_bounds)
            if not res.success:
                raise RuntimeError(f"audit system infeasible or unsolved for {name}: {res.message}")
            ends.append(round(res.x[at]))
        whole_block = s.reason.get(i) in (*sdc.WITHHELD_REASONS, "implicit")
        required = (not (whole_block and not 1 <= s.truth[i] < m)
                    and i not in public_total and i not in s.structural)
        values = ends[1] - ends[0] + 1
        if i in zero_or_m and ends[0] == 0 < ends[1]:  # "[c]": 0, or m and more; nothing from 1 to m-1
            values = 1 + _count_from(solved[key], at, zero_or_m[i], ends[1])
        out.append({"cell": name, "reason": s.reason.get(i, ""), "true": s.truth[i], "low": ends[0],
                    "high": ends[1], "values": values, "required": required})
    frame = pd.DataFrame(out, columns=["cell", "reason", "true", "low", "high", "values", "required"])
    return _apply_bands(s, frame, zero_or_m)


def _count_from(sub: tuple, at: int, m: int, high: int) -> int:
    """How many values from the smallest feasible one at or above ``m`` up to ``high`` a
    ``"[c]"`` count (0 or at least ``m``) can take besides 0: the values in between are not
    possible, so they are not counted (0 when no value from ``m`` is feasible)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    cols, sub_a, sub_lo, sub_hi, sub_bounds = sub
    lb = sub_bounds.lb.copy()
    lb[at] = max(lb[at], m)
    if lb[at] > sub_bounds.ub[at]:
        return 0
    c = np.zeros(len(cols))
    c[at] = 1
    constraints = LinearConstraint(sub_a, sub_lo, sub_hi) if len(sub_a) else None
    res = milp(c, constraints=constraints, integrality=np.ones(len(cols)), bounds=Bounds(lb, sub_bounds.ub))
    return int(high - round(res.x[at]) + 1) if res.success else 0


def _withheld_chains(s: System) -> set[int]:
    """The variables of ``exclusions.csv`` entities withheld whole: their rows read and rows
    analysed are published elsewhere (the inputs table, every count of the report), so their
    total of excluded rows is published and from 1 to m-1 (which is why the chain is withheld);
    no suppression can protect a published total, only which step removed the rows is hidden.
    These, and the counts equal to them (a problem that is the same rows, completeness's missing
    victim IDs), are not required to keep :data:`MIN_RANGE` values (see :func:`bound_hidden`)."""
    chains = ("exclusions|", "forces_exclusions|")  # a force's entity is "<force>: <entity>"
    withheld = {tuple(name.split("|")[:2]) for name, i in s.index.items()
                if name.startswith(chains) and s.reason.get(i) == "withheld"}
    out = {i for name, i in s.index.items() if name.startswith(chains) and tuple(name.split("|")[:2]) in withheld}
    grew = bool(out)
    while grew:  # the same numbers published elsewhere (a problem, completeness's missing IDs)
        grew = False
        for coefs, lo, hi in zip(s.rows, s.row_lo, s.row_hi):
            if lo == hi == 0 and len(coefs) == 2 and sorted(coefs.values()) == [-1, 1]:
                a, b = coefs
                if (a in out) != (b in out):
                    out |= {a, b}
                    grew = True
    return out


def _components(a: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Label each variable with its connected component: two free variables (not fixed by a
    shown value) are connected when a constraint holds both. Bounding a count needs only its
    component (fixed variables are constants), so each small system is solved on its own."""
    free = bounds.lb < bounds.ub
    parent = np.arange(a.shape[1])

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in a:
        members = [j for j in np.flatnonzero(row) if free[j]]
        for j in members[1:]:
            ra, rb = find(members[0]), find(j)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(j) for j in range(a.shape[1])])


def _subsystem(a: np.ndarray, lo: np.ndarray, hi: np.ndarray, bounds: Bounds, cols: np.ndarray) -> tuple:
    """The constraints on the variables ``cols`` of one component, the other variables (fixed)
    moved into the bounds."""
    from scipy.optimize import Bounds

    rows = np.flatnonzero(np.abs(a[:, cols]).sum(axis=1) > 0)
    rest = np.setdiff1d(np.arange(a.shape[1]), cols)
    fixed = a[np.ix_(rows, rest)] @ bounds.lb[rest]
    return (cols, a[np.ix_(rows, cols)], lo[rows] - fixed, hi[rows] - fixed,
            Bounds(bounds.lb[cols], bounds.ub[cols]))


#: Most candidate tables :func:`band_consistent_values` enumerates for one block.
ENUMERATION_CAP: Final[int] = 2_000_000


def _p_bands(p: np.ndarray) -> np.ndarray:
    """:func:`msht.publish.sdc.p_band` of each p (``""`` for NaN), vectorised."""
    out = np.full(p.shape, "p≥0.05", dtype=object)
    out[p < 0.05] = "p<0.05"
    out[p < 0.01] = "p<0.01"
    out[p < 0.001] = "p<0.001"
    out[np.isnan(p)] = ""
    return out


def study_p(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The study-convention p of k x 2 tables (rows: level; columns: outcome yes, no), one table
    per row of ``n`` and ``d`` (shape ``(tables, k)``): Pearson's chi-square, with Yates'
    correction when k = 2, as :func:`scipy.stats.chi2_contingency` computes it
    (:func:`msht.analysis.stats.association_test`'s ``p_study``); NaN where a row or column total is 0
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
    0 <= n <= d and the totals is enumerated, its study-convention p recomputed (:func:`study_p`)
    and kept when its band (:func:`msht.publish.sdc.p_band`) is ``band``. Raises ``ValueError`` when
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
        match = _p_bands(study_p(n, d)) == band
        n, d = n[match], d[match]
    return [(set(n[:, j].tolist()), set(d[:, j].tolist())) for j in range(k)]


def _apply_bands(s: System, frame: pd.DataFrame, zero_or_m: dict[int, int] | None = None) -> pd.DataFrame:
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
                if var in (zero_or_m or {}):  # a "[c]" count is 0 or at least m
                    values = {v for v in values if v == 0 or v >= zero_or_m[var]}
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


# ----------------------------------------------------------------------------------------------
# Linked-table protection: complementary suppressions chosen across every published file
# ----------------------------------------------------------------------------------------------

#: Cells that complementary suppression may hide: (file, column) of a count a protect function
#: accepts as ``forced`` (:func:`msht.publish.sdc.forced_cells`).
FORCEABLE: Final[frozenset[tuple[str, str]]] = frozenset({
    ("descriptives", "n"), ("associations", "n"), ("completeness", "missing"), ("spellings", "n"),
    ("problems", "n"), ("exclusions", "excluded"), ("regression", "N"),
    ("forces_appendix4", "n"), ("forces_appendix4", "denominator"), ("forces_completeness", "missing"), ("forces_spellings", "n"),
    ("forces_problems", "n"), ("forces_exclusions", "excluded"),
})
#: Most rounds of :func:`fixpoint` (each adds at least one suppression) before it gives up.
MAX_ROUNDS: Final[int] = 8


class DisclosureError(RuntimeError):
    """A release whose audit still finds a hidden count with fewer than :data:`MIN_RANGE` values."""


class AuditError(DisclosureError):
    """The audit could not bound a release's hidden counts (its system is infeasible, a mark
    contradicts a true value, a band cannot be checked): no release is shown to be safe."""


def _forceable(s: System, j: int) -> bool:
    from msht.publish import sdc

    parts = s.names[j].split("|")
    if len(parts) != 5 or (parts[0], parts[4]) not in FORCEABLE or s.hidden[j]:
        return False
    if parts[0] == "descriptives" and parts[3] in (sdc.UNKNOWN, *sdc.TOTAL_LEVELS, *sdc.NON_COUNT_LEVELS):
        return False
    if parts[0] == "forces_appendix4" and parts[2] == "overall":  # a force's number of cases with a status
        # recorded can be hidden (its outcome's denominators and tests go); accepted's too: it is
        # offered's overall n less the force's cases offered support with no acceptance recorded
        return parts[4] == "denominator"
    return not (parts[0] == "associations" and parts[2] == "overall")


#: Columns that hold counts of units (the others, ``denominator``, ``rows_in``, ``rows_out``, are
#: totals): :func:`complementary` serves a too-narrow count before a too-narrow total.
COUNT_COLUMNS: Final[frozenset[str]] = frozenset({"n", "missing", "excluded"})


def complementary(s: System, narrow: list[str], *, per_group: bool = True,
                  skip_given: bool = False) -> set[tuple[str, str, str, str, str]]:
    """For too-narrow hidden counts (their names in ``narrow``), the cheapest shown counts linked
    to them: for a too-narrow count, among the shown counts that share a constraint with it (else
    with a hidden count that does, breadth first), the one a protect function can hide
    (:data:`FORCEABLE`) with the smallest value (with ``skip_given``, a run of several forces: one
    that no equality gives from shown counts of other files alone, such as an all-forces count
    that is the forces' shown counts' sum), ties broken by name. One count is chosen per group
    of linked hidden counts per round (hiding one often widens all of the group), counts
    of units served before totals, by name: the choice is deterministic. Returns their cells.
    ``per_group=False`` serves every too-narrow count (a run of several forces, whose sums across
    forces link most hidden counts into one group: one choice per group would take a round per
    count)."""
    touching: dict[int, list[int]] = {}
    parent = list(range(len(s.names)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r, coefs in enumerate(s.rows):
        hidden = [i for i in coefs if s.hidden[i]]
        for i in coefs:
            touching.setdefault(i, []).append(r)
        for i in hidden[1:]:
            parent[find(i)] = find(hidden[0])

    def given(j: int) -> bool:
        """Whether an equality gives count ``j`` from shown counts of other files alone (an
        all-forces count that is the sum of the forces' shown counts, a section 3.4 count that is
        an association total): hiding ``j`` would protect nothing. Counts of ``j``'s own file are
        not taken as given: its protect function hides what goes with ``j`` (a regression's N
        with its cases dropped)."""
        own = s.names[j].split("|", 1)[0]
        return any(s.row_lo[r] == s.row_hi[r] and all(not s.hidden[k] and s.names[k].split("|", 1)[0] != own
                                                       for k in s.rows[r] if k != j)
                   for r in touching.get(j, []))

    chosen: set[tuple[str, str, str, str, str]] = set()
    served: set[int] = set()
    for name in sorted(narrow, key=lambda c: (c.split("|")[-1] not in COUNT_COLUMNS, c)):
        if per_group and find(s.index[name]) in served:
            continue
        seen, frontier, pick = {s.index[name]}, [s.index[name]], None
        while frontier and pick is None:
            shown: set[int] = set()
            nxt: list[int] = []
            for i in frontier:
                for r in touching.get(i, []):
                    for j in s.rows[r]:
                        if j in seen:
                            continue
                        seen.add(j)
                        if _forceable(s, j) and not (skip_given and given(j)):
                            shown.add(j)
                        elif s.hidden[j]:
                            nxt.append(j)
            if shown:
                pick = min(shown, key=lambda j: (s.truth[j], s.names[j]))
            frontier = nxt
        if pick is not None:
            chosen.add(tuple(s.names[pick].split("|")))
            served.add(find(s.index[name]))
    return chosen


def narrow_cells(frame: pd.DataFrame) -> list[str]:
    """The hidden counts of an audit frame required to keep :data:`MIN_RANGE` values that do not."""
    return frame.loc[frame["required"] & (frame["values"] < MIN_RANGE), "cell"].tolist()


def fixpoint(publish, m: int, *, max_rounds: int = MAX_ROUNDS) -> tuple[pd.DataFrame, set]:
    """Linked-table protection by a fixpoint over every published file.

    ``publish(forced)`` writes a release with the cells ``forced`` hidden as complementary
    suppressions (on top of each table's own protection) and returns its results folder and its
    unprotected values' folder. Round by round: publish, audit (:func:`audit`), and for each
    hidden count left with fewer than :data:`MIN_RANGE` values add the cheapest linked count
    (:func:`complementary`); stop when the audit passes.

    Guarantees, when it returns: given every constraint the audit models (see the module
    docstring), every required hidden count keeps at least :data:`MIN_RANGE` whole values. Same
    input, same choice (the audit and the choice are deterministic). Raises
    :class:`DisclosureError` when a round adds nothing new (no linked count left to hide) or
    after ``max_rounds`` rounds. Returns the last audit frame and the forced cells.

    Why this is the guarantee of a joint choice (the issue asks for secondary suppression
    "chosen across all published tables at once"): the guarantee is a property of the release
    that stays on disk, and the fixpoint returns only after the audit has bounded every hidden
    count of that very release, from every published file at once. A joint choice (one integer
    programme choosing every suppression together, as tau-ARGUS does) would be certified by the
    same audit and could promise no more. Round by round only the set of forced cells grows (each
    round adds at least one, chosen by :func:`complementary` among the counts linked to a
    too-narrow one), and the tables' own rules run again on top of it, so what one round hides to
    protect a count cannot be undone by the next. What a joint choice could do better is hide
    fewer cells: the choice here is greedy. ``tests/test_sdc_findings.py`` checks, on a release
    small enough to enumerate, that no smaller set of forced cells passes the audit, and
    ``tests/test_sdc_audit.py`` audits the final release of the default twin and the three cuts
    again.
    """
    forced: set[tuple[str, str, str, str, str]] = set()
    for rnd in range(1, max_rounds + 1):
        results_dir, truth_dir = publish(frozenset(forced))
        try:
            s, binaries, pct_rows = build(Path(results_dir), Path(truth_dir), int(m))
            frame = bound_hidden(s, binaries, pct_rows, int(m))
        except (AssertionError, ValueError, RuntimeError, KeyError) as exc:
            raise AuditError(f"the disclosure audit failed in round {rnd}: {exc}") from exc
        narrow = narrow_cells(frame)
        if not narrow:
            return frame, forced
        several = any(name.startswith("forces_appendix4|") for name in narrow)
        forces = any(name.startswith("forces|") for name in s.index)  # a run of several forces
        new = complementary(s, narrow, per_group=not several, skip_given=forces) - forced
        if not new:
            raise DisclosureError(f"{len(narrow)} hidden counts keep fewer than {MIN_RANGE} values and no linked "
                                  f"count is left to hide: {', '.join(narrow[:5])}")
        logger.info(f"disclosure audit, round {rnd}: {len(narrow)} hidden counts keep fewer than {MIN_RANGE} values; "
            f"hiding {len(new)} linked counts and publishing again")
        forced |= new
    raise DisclosureError(f"the disclosure audit still fails after {max_rounds} rounds")


def summary(frame: pd.DataFrame, name: str = "") -> str:
    """One line of an audit's figures: hidden counts, how many must keep :data:`MIN_RANGE`
    values, the narrowest range among those, and how many are too narrow."""
    required = frame[frame["required"]]
    narrowest = int(required["values"].min()) if len(required) else "-"
    return (f"{name + ': ' if name else ''}{len(frame)} hidden counts, {len(required)} required to keep "
            f"{MIN_RANGE} values, narrowest range {narrowest}, too narrow {len(narrow_cells(frame))}")


if __name__ == "__main__":  # python -m msht.publish.audit PARAMS...: the figures of each protected run
    import sys

    from msht.config import load_params, project_root

    for arg in sys.argv[1:]:
        params = load_params(arg)
        root = project_root()
        print(summary(audit(root / params.results_dir, root / params.processed_dir / "unprotected",
                            int(params.min_cell_count)), params.run_name))
