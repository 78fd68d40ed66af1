"""The tables of a run of several forces (issue 19; notebook 05): the forces and their sizes, each
force's data-quality tables and exclusions with a ``force`` column, and each force's Appendix 4,
every one under the run's disclosure control, force by force.

Each force's tables are built and protected exactly as notebook 01 and 03 build and protect a
single force's (:mod:`msht.publish.quality`, :func:`msht.publish.association_tables.protect`), then
stacked with a leading ``force`` column in params order (:func:`by_force`). A small force has small
cells: under ``min_cell_count`` they are hidden in its own tables. The results files (tidy CSV) are
``forces`` (:func:`sizes`), ``forces_exclusions``, ``forces_appendix4`` (contract names in
:mod:`msht.base.contract`), ``forces_problems``, ``forces_completeness`` and
``forces_spellings`` (the data-quality files with a ``force`` column), and ``inputs`` (with a
``force`` column, for the reproducibility appendix). Their ``suppression.csv`` rows name these
files (:data:`msht.publish.results.FORCES_FILES`, which notebooks 02 and 03 keep).

These tables are protected force by force and table by table; a small force's hidden cell would
then be the all-forces count minus the other forces' shown counts. So the forces' Appendix 4 are
also protected against each other by block suppression (:func:`across_forces`: a force with a
hidden cell of an outcome and factor withholds that whole block, and never alone), and the
linked-table audit models the per-force files with the combined tables of notebooks 02 and 03
(:mod:`msht.publish.audit_forces`); under a release's fixpoint (:func:`msht.pipeline.protect_release`)
notebook 05 hides the cells it chooses (``forced``, each force given its own by :func:`force_cells`)
and writes the unprotected values of every per-force file for the audit
(:func:`msht.publish.results.write_unprotected`). A force that no suppression can protect (a size,
or an outcome's overall count, from 1 to m-1) stops a release in one line
(:func:`refuse_small_forces`).

A force that sends no offender extract has no case–offender pairs, and whether its cases have a
recorded offender is not known (:func:`msht.clean.forces.offenders_not_known`): the factors of
:data:`NOT_AVAILABLE_WITHOUT_OFFENDERS` (``recorded_offender`` and the offender factors) are *not
available* for it (:func:`appendix4_by_force` runs only its other tests and :func:`not_available`
lists what is missing), and it is left out of those factors' strata in the pooled tests.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from msht.analysis import associate
from msht.base import vocab
from msht.clean.forces import FORCE, ForcesClean
from msht.ingest import extracts as ingest
from msht.publish import association_tables, quality, sdc

#: The offender factors of Appendix 4 (tested on case–offender pairs).
OFFENDER_FACTORS: tuple[str, ...] = vocab.APPENDIX4_BLOCKS["offender"][1]

#: The Appendix 4 factors not available for a force that sends no offender extract: whether the
#: case has a recorded offender, then the offender factors (the tests an empty offender extract
#: leaves without units, :data:`msht.base.vocab.EMPTY_EXTRACT_TESTS`).
NOT_AVAILABLE_WITHOUT_OFFENDERS: tuple[str, ...] = vocab.EMPTY_EXTRACT_TESTS["offenders"][1]


def force_cells(forced: Collection[tuple[str, str, str, str, str]], force: str) -> frozenset[tuple[str, ...]]:
    """The cells of ``forced`` (complementary suppressions chosen by a release's audit,
    :func:`msht.publish.sdc.forced_cells`) that lie in ``force``'s own tables, named as a single
    force's: ``("forces_appendix4", "<force>: offered", ...)`` -> ``("associations", "offered", ...)``,
    ``("forces_exclusions", "<force>: cases", ...)`` -> ``("exclusions", "cases", ...)``."""
    prefix = f"{force}: "
    out = set()
    for file, table, *rest in forced:
        if file in FORCE_FILES and table.startswith(prefix):
            out.add((FORCE_FILES[file], table.removeprefix(prefix), *rest))
    return frozenset(out)


#: The per-force files whose ``suppression.csv`` tables are ``"<force>: <table>"``, and the file of
#: a single force's tables they are protected as.
FORCE_FILES: dict[str, str] = {
    "forces_appendix4": "associations", "forces_exclusions": "exclusions", "forces_completeness": "completeness",
    "forces_spellings": "spellings", "forces_problems": "problems",
}


def by_force(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Stack per-force frames (force name -> frame, params order) with a leading ``force`` column
    (categorical, categories in the order given); an empty frame adds no rows."""
    names = list(frames)
    parts = [frame.assign(**{FORCE: name}) for name, frame in frames.items() if not frame.empty]
    if not parts:
        columns = next(iter(frames.values())).columns if frames else []
        out = pd.DataFrame(columns=[FORCE, *columns])
    else:
        out = pd.concat(parts, ignore_index=True)
        out = out[[FORCE, *[c for c in out.columns if c != FORCE]]]
    out[FORCE] = pd.Categorical(out[FORCE], categories=names)
    return out


def sizes(cleaned: ForcesClean) -> pd.DataFrame:
    """``forces.csv``: one row per force (params order): ``force``, ``offender_extract`` (yes/no),
    ``case_entries`` (rows of its case extract), ``cases`` (analysed), ``victims`` (persons
    analysed), ``case_offender_pairs`` (analysed)."""
    rows = []
    for c in cleaned.forces:
        rows.append({
            FORCE: c.force.name,
            "offender_extract": "yes" if c.force.has_offenders else "no",
            "case_entries": len(c.extracts["cases"].frame),
            "cases": len(c.result.cases),
            "victims": len(c.result.victims),
            "case_offender_pairs": len(c.result.offenders),
        })
    return pd.DataFrame(rows)


#: Column labels of the sizes table (:func:`sizes`) for display.
SIZES_LABELS: dict[str, str] = {"force": "Force", "offender_extract": "Offender extract", "case_entries": "Case entries",
                                "cases": "Cases", "victims": "Victims", "case_offender_pairs": "Case–offender pairs"}


@dataclass(frozen=True)
class QualityByForce:
    """The data-quality tables of every force, protected force by force and stacked
    (:func:`by_force`): ``inputs``, ``exclusions``, ``problems``, ``completeness``,
    ``spellings``; ``suppression``: their ``suppression.csv`` rows (``table`` prefixed with the
    force's name, ``file`` the results file's: ``forces_exclusions``...); ``shown``: the same tables with each hidden count replaced by its mark, for
    display; ``marks``: force -> (entity, rule) -> mark of each hidden exclusion count."""

    tables: dict[str, pd.DataFrame]
    shown: dict[str, pd.DataFrame]
    suppression: pd.DataFrame
    marks: dict[str, dict[tuple[str, str], str]]
    #: The same tables unprotected (``exclusions``, ``problems``, ``completeness``, ``spellings``),
    #: for :func:`msht.publish.results.write_unprotected` and the release's audit.
    unprotected: dict[str, pd.DataFrame] = field(default_factory=dict)


#: The data-quality tables of :class:`QualityByForce`, in the order notebook 01 shows them.
QUALITY_TABLES: tuple[str, ...] = ("inputs", "exclusions", "problems", "completeness", "spellings")


class ForceQuality(NamedTuple):
    """One force's data-quality tables (:func:`_force_quality`): ``protected`` and ``shown`` (table
    name -> frame, :data:`QUALITY_TABLES`), their ``suppression`` rows, the exclusion ``marks``
    ((entity, rule) -> mark) and the ``unprotected`` tables (table name -> frame)."""

    protected: dict[str, pd.DataFrame]
    shown: dict[str, pd.DataFrame]
    suppression: pd.DataFrame
    marks: dict[tuple[str, str], str]
    unprotected: dict[str, pd.DataFrame]


def _force_quality(c, min_cell_count: int, period_end: str, forced: Collection[tuple] = frozenset()) -> ForceQuality:
    """One force's data-quality tables as notebook 01 builds and protects them, ``forced`` its
    cells named as a single force's (:func:`force_cells`)."""
    sent = {name: e for name, e in c.extracts.items() if name in c.force.extracts}
    frames = {name: e.frame for name, e in sent.items()}  # an extract not sent has no fields to count
    truth = {"exclusions": c.result.exclusions, "completeness": quality.completeness(frames),
             "spellings": quality.spellings(frames),
             "problems": pd.concat([quality.problems(c.result.status), ingest.input_warnings(sent, period_end=period_end)],
                                   ignore_index=True)}
    exclusions, ex_supp = quality.protect_exclusions(truth["exclusions"], min_cell_count, forced)
    completeness, co_supp = quality.protect_completeness(truth["completeness"], min_cell_count, ex_supp, forced)
    spellings, sp_supp = quality.protect_spellings(truth["spellings"], min_cell_count, forced)
    problems, pr_supp = quality.protect_problems(truth["problems"], ex_supp, min_cell_count, forced)
    supp = pd.concat([co_supp, sp_supp, pr_supp, ex_supp], ignore_index=True)
    protected = {"inputs": ingest.inputs_table(c.extracts), "exclusions": exclusions, "problems": problems,
                 "completeness": completeness, "spellings": spellings}
    shown = {name: protected[name] if name == "inputs" else quality.shown(protected[name], supp, name)
             for name in QUALITY_TABLES}
    return ForceQuality(protected, shown, supp, quality.exclusion_marks(supp), truth)


def quality_by_force(cleaned: ForcesClean, min_cell_count: int, period_end: str,
                     forced: Collection[tuple[str, str, str, str, str]] = frozenset()) -> QualityByForce:
    """Every force's data-quality tables (:class:`QualityByForce`), protected under
    ``min_cell_count`` force by force, as notebook 01 protects a single force's; ``forced``: the
    complementary suppressions a release's audit chose (:func:`msht.publish.sdc.forced_cells`),
    each force given its own (:func:`force_cells`)."""
    per = {c.force.name: _force_quality(c, min_cell_count, period_end, force_cells(forced, c.force.name))
           for c in cleaned.forces}
    tables = {name: by_force({force: p.protected[name] for force, p in per.items()}) for name in QUALITY_TABLES}
    shown = {name: by_force({force: p.shown[name] for force, p in per.items()}) for name in QUALITY_TABLES}
    supp = [p.suppression.assign(table=[f"{force}: {t}" for t in p.suppression["table"]],
                                 file=[f"forces_{f}" for f in p.suppression["file"]])
            for force, p in per.items() if not p.suppression.empty]
    suppression = pd.concat(supp, ignore_index=True) if supp else next(iter(per.values())).suppression
    names = tuple(next(iter(per.values())).unprotected) if per else ()
    unprotected = {name: by_force({force: p.unprotected[name] for force, p in per.items()}) for name in names}
    return QualityByForce(tables=tables, shown=shown, suppression=suppression,
                          marks={force: p.marks for force, p in per.items()}, unprotected=unprotected)


def cleaning_summary(sizes_table: pd.DataFrame) -> str:
    """One paragraph for the report: per force the case entries read and the cases analysed, and
    the total (each count public: the rows read and analysed are in every force's inputs and
    tables)."""
    parts = [f"{r.force}: {int(r.case_entries):,} case entries, **{int(r.cases):,} cases** analysed"
             for r in sizes_table.itertuples()]
    return (f"The {len(sizes_table)} forces' case files held {int(sizes_table['case_entries'].sum()):,} entries. "
            f"Each force's extracts were validated and cleaned by the section 2.5 rules on their own "
            f"({'; '.join(parts)}), leaving **{int(sizes_table['cases'].sum()):,} MSHT cases** for analysis.")


def appendix4_pairs(has_offenders: bool) -> list[tuple[str, str]]:
    """The Appendix 4 tests of a force: all 51, or without those of
    :data:`NOT_AVAILABLE_WITHOUT_OFFENDERS` (the offender factors and ``recorded_offender``) when the
    force sends no offender extract."""
    return [(o, f) for o, f in associate.published_pairs()
            if has_offenders or f not in NOT_AVAILABLE_WITHOUT_OFFENDERS]


@dataclass(frozen=True)
class Appendix4ByForce:
    """Every force's Appendix 4 (:func:`appendix4_by_force`), stacked with a ``force`` column:
    ``rows`` (protected associations), ``tests``, ``suppression`` (rows of file
    ``forces_appendix4``) and ``unprotected`` (the rows before disclosure control)."""

    rows: pd.DataFrame
    tests: pd.DataFrame
    suppression: pd.DataFrame
    unprotected: pd.DataFrame


def appendix4_by_force(cleaned: ForcesClean, min_cell_count: int, alpha: float,
                       forced: Collection[tuple[str, str, str, str, str]] = frozenset()) -> Appendix4ByForce:
    """Each force's Appendix 4 as notebook 03 builds and protects a single force's
    (:func:`msht.analysis.associate.run_all` on the force's own cases and case–offender pairs,
    :func:`msht.publish.association_tables.protect` under ``min_cell_count``), stacked with a
    ``force`` column (:class:`Appendix4ByForce`). A force without an offender extract has no rows
    of :data:`NOT_AVAILABLE_WITHOUT_OFFENDERS` (not available). Only ``forces_appendix4`` (the
    associations) is written: ``suppression`` holds its rows alone (file ``forces_appendix4``), not
    those of the single-force tests, residuals and comparison files, which a run of several forces
    does not write (the tests' withheld values are shown only as the associations' marks).

    ``forced``: the complementary suppressions a release's audit chose, each force given its own
    (:func:`force_cells`); a force's ``overall`` denominator of an outcome among them hides the
    outcome's number of cases with a status recorded in its table
    (:func:`msht.publish.sdc.hide_status_total`), as a small unknown count does. Under disclosure
    control the forces' tables are then protected against each other too (:func:`across_forces`,
    block suppression: a force's whole block of an outcome and factor is hidden where one of its
    cells is, and a lone hidden block brings the smallest other force's), and the forces protected
    again, until nothing more is needed."""
    found = {}
    for c in cleaned.forces:
        rows, study = associate.run_all(c.result.cases, c.result.offenders, appendix4_pairs(c.force.has_offenders))
        found[c.force.name] = (rows, study, len(c.result.cases))
    own = {name: set(force_cells(forced, name)) for name in found}
    blocks: dict[str, set[tuple[str, str]]] = {name: set() for name in found}
    while True:
        protected = {name: _protect_force(rows, study, cases, min_cell_count, alpha, own[name], blocks[name])
                     for name, (rows, study, cases) in found.items()}
        extra = across_forces({name: (found[name][0], p["associations"]) for name, p in protected.items()},
                              min_cell_count)
        if all(more <= blocks[name] for name, more in extra.items()):  # blocks only grow: this ends
            break
        for name, more in extra.items():
            blocks[name] |= more
    supp = []
    for name, p in protected.items():
        s = p["suppression"]
        s = s[s["file"] == "associations"]
        if not s.empty:
            supp.append(s.assign(table=[f"{name}: {t}" for t in s["table"]], file="forces_appendix4"))
    suppression = pd.concat(supp, ignore_index=True) if supp else pd.DataFrame()
    return Appendix4ByForce(by_force({n: p["associations"] for n, p in protected.items()}),
                            by_force({n: p["association_tests"] for n, p in protected.items()}), suppression,
                            by_force({n: f[0] for n, f in found.items()}))


def _protect_force(rows: pd.DataFrame, study, cases: int, min_cell_count: int, alpha: float,
                   own: Collection[tuple[str, str, str, str, str]],
                   blocks: Collection[tuple[str, str]] = frozenset()) -> dict[str, pd.DataFrame]:
    """One force's Appendix 4 protected (:func:`msht.publish.association_tables.protect`) with its
    own forced cells ``own`` (named as a single force's) and its ``blocks`` withheld whole
    (``(outcome, factor)``, from :func:`across_forces`). An ``overall`` denominator among the forced
    cells, or an ``(outcome, "overall")`` among the blocks, hides the outcome's number of cases with
    a status recorded (``hidden_totals``), not the ``overall`` count, which each factor's levels
    would give back."""
    overall = {cell for cell in own if cell[0] == "associations" and cell[2] == associate.OVERALL}
    totals = {cell[1] for cell in overall if cell[4] == "denominator"}
    totals |= {outcome for outcome, factor in blocks if factor == associate.OVERALL}
    return association_tables.protect(
        rows, associate.test_table(study, alpha), associate.residual_rows(study), associate.vs_published(rows, alpha),
        min_cell_count, frozenset(set(own) - overall), alpha=alpha, cases=cases, hidden_totals=totals,
        withheld=frozenset(block for block in blocks if block[1] != associate.OVERALL))


def across_forces(tables: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
                  min_cell_count: int) -> dict[str, set[tuple[str, str]]]:
    """The blocks each force's Appendix 4 must withhold so that the forces protect each other:
    block suppression across forces.

    ``tables``: force -> (unprotected rows, protected rows) of its Appendix 4. A force's *block* of
    an outcome and factor (not ``overall``: :func:`refuse_small_forces`) is every level's n and
    denominator (and with them the block's test, :func:`msht.publish.sdc.protect_associations`
    withholds it); ``accepted``'s block goes with ``offered``'s of the factor (its denominators are
    ``offered``'s n: :data:`msht.publish.sdc.NESTED`). A force with any hidden cell in a block
    withholds the whole block (reason ``withheld_across_forces``: every count ``"[c]"``, which says nothing about
    its size, as a single force's block withheld whole); when exactly one force of those with the
    factor hides it, the force with the smallest block (fewest cases with a status recorded for the
    outcome, ties in params order) of at least ``min_cell_count`` cases (else the smallest of all)
    withholds its block too, so an all-forces count minus the shown forces' counts is the sum of two
    or more hidden forces' counts, never one force's. So it is with a force's ``overall``
    denominator of an outcome (its cases with a status recorded, which a release's audit may choose
    to hide): never hidden in one force alone. Returns the further blocks per force,
    ``(outcome, factor)``, ``(outcome, "overall")`` for an ``overall`` denominator; applied and run
    again (:func:`appendix4_by_force`) until nothing more is needed: withholding only grows, so it
    ends. Empty when ``min_cell_count`` is 0 or 1 or there is one force."""
    out: dict[str, set[tuple[str, str]]] = {name: set() for name in tables}
    if int(min_cell_count) <= 1 or len(tables) < 2:
        return out
    groups: dict[tuple[str, str], dict[str, tuple[int, bool, set[tuple[str, str]]]]] = {}
    for name, (truth, prot) in tables.items():
        size = truth[truth["factor"] != associate.OVERALL].groupby(["outcome", "factor"], sort=False)["denominator"].sum()
        rows = prot[prot["factor"] != associate.OVERALL]
        for (outcome, factor), blk in rows.groupby(["outcome", "factor"], sort=False):
            hidden = bool(blk["suppressed"].astype(bool).any() or blk["denominator_suppressed"].astype(bool).any())
            key = (sdc.NESTED.get(str(outcome), str(outcome)), str(factor))  # accepted's denominators are offered's n
            was = groups.setdefault(key, {}).get(name, (0, False, set()))
            groups[key][name] = (max(was[0], int(size.get((outcome, factor), 0))), was[1] or hidden,
                                 was[2] | {(str(outcome), str(factor))})
    order = list(tables)
    for name, (truth, prot) in tables.items():  # a force's overall denominator of an outcome (chosen by an audit)
        overall = prot[prot["factor"] == associate.OVERALL]
        sizes = truth[truth["factor"] == associate.OVERALL].set_index("outcome")["denominator"]
        for r in overall.itertuples():  # accepted's too: offered's n, less the cases with no acceptance recorded
            group = groups.setdefault(("overall", str(r.outcome)), {})
            group[name] = (int(sizes.get(r.outcome, 0)), bool(r.denominator_suppressed),
                           {(str(r.outcome), associate.OVERALL)})
    m = int(min_cell_count)
    for group in groups.values():
        hidden = [name for name, (_, h, _) in group.items() if h]
        if len(hidden) == 1 and len(group) >= 2:
            others = [name for name in group if name not in hidden]
            # a partner with fewer than m cases adds little doubt: the smallest of at least m
            hidden.append(min(others, key=lambda name: (group[name][0] < m, group[name][0], order.index(name))))
        for name in hidden:
            out[name] |= group[name][2]
    return out


def withheld_blocks(rows: pd.DataFrame) -> dict[tuple[str, str], set[str]]:
    """Per (outcome, factor): the forces whose block of the forces' protected Appendix 4 (``rows``,
    :class:`Appendix4ByForce`'s, with their marker columns) hides a count or a denominator. A
    release pools each factor across the other forces only
    (:func:`msht.analysis.stratified.stratified_tests`' ``left_out``), so that every pooled
    statistic is computed from published counts; empty without disclosure control."""
    from msht.publish.forces_figures import appendix4_hidden

    out: dict[tuple[str, str], set[str]] = {}
    if rows.empty or "suppressed" not in rows.columns:
        return out
    for (force, outcome, factor, _), (n_hidden, d_hidden, _) in appendix4_hidden(rows).items():
        if factor != associate.OVERALL and (n_hidden or d_hidden):
            out.setdefault((str(outcome), str(factor)), set()).add(force)
    return out


#: What a force's Appendix 4 says, under its notes, when a block is withheld across forces.
WITHHELD_ACROSS_FORCES_NOTE = (
    "[c] throughout a force's factor: the block is withheld with at least one other force's, so that no "
    "force's hidden count is the all-forces count minus the other forces' (disclosure control across "
    "forces); such a force is left out of that factor's pooled tests."
)


def across_forces_note(rows: pd.DataFrame) -> str:
    """:data:`WITHHELD_ACROSS_FORCES_NOTE` when a force's block of the forces' protected Appendix 4
    (``rows``, with their marker columns) is withheld whole with another force's (reason
    :data:`msht.publish.sdc.WITHHELD_ACROSS_FORCES`), else ""."""
    if rows.empty or "reason" not in rows.columns:
        return ""
    return WITHHELD_ACROSS_FORCES_NOTE if bool((rows["reason"] == sdc.WITHHELD_ACROSS_FORCES).any()) else ""


def combined_status_hidden(appendix4: pd.DataFrame, sizes_table: pd.DataFrame, min_cell_count: int) -> set[str]:
    """The outcomes whose all-forces number of cases with a status recorded the combined tables
    (notebook 03) hide (:func:`msht.publish.association_tables.status_hidden` of the forces'
    ``overall`` rows summed; ``appendix4``: the forces' unprotected Appendix 4 rows, ``sizes_table``:
    ``forces.csv``, whose cases add up to the published number of cases). Notebook 05 runs before
    notebook 03, so it finds them so, and withholds what is computed from them (the funnel's
    overall rate: :func:`msht.publish.forces_figures.protect_funnel`)."""
    overall = appendix4[appendix4["factor"] == associate.OVERALL]
    summed = overall.groupby("outcome", sort=False)[["n", "denominator"]].sum().reset_index()
    rows = summed.assign(factor=associate.OVERALL, level=associate.OVERALL)
    return association_tables.status_hidden(rows, int(sizes_table["cases"].sum()), min_cell_count)


class SmallForceError(ValueError):
    """A release of several forces that cannot be made safe: a force whose size, or whose number of
    cases with or without an outcome, is from 1 to m-1 (:func:`refuse_small_forces`)."""


def refuse_small_forces(sizes_table: pd.DataFrame, appendix4: pd.DataFrame, min_cell_count: int) -> None:
    """Refuse, in one line, a release (``min_cell_count`` = m > 1) of several forces that no
    suppression makes safe: ``forces.csv`` publishes each force's size (case entries, cases, victims,
    case–offender pairs), so one from 1 to m-1 would be published; and a force's ``overall`` count of
    an outcome (its cases with the outcome, or without it: ``appendix4`` holds the forces' unprotected
    Appendix 4 rows) from 1 to m-1 is the all-forces count minus the other forces' counts, which
    every factor of those forces' own tables gives again (each factor's levels add up to it), so
    hiding it would mean hiding a cell of every block of another force. Raises
    :class:`SmallForceError` naming the force, the count and what to do; nothing when m <= 1."""
    m = int(min_cell_count)
    if m <= 1:
        return
    for r in sizes_table.itertuples():
        for column in ("case_entries", "cases", "victims", "case_offender_pairs"):
            value = int(getattr(r, column))
            if 1 <= value < m:
                _refuse(m, f"{r.force} has {value} {SIZES_LABELS[column].lower()}")
    overall = appendix4[appendix4["factor"] == associate.OVERALL]
    for r in overall.itertuples():
        label = vocab.variable_label(r.outcome).lower()
        for value, what in ((int(r.n), "with"), (int(r.denominator) - int(r.n), "without")):
            if 1 <= value < m:
                _refuse(m, f"{r.force} has {value} cases {what} {label} (its Appendix 4 overall row)")


def _refuse(m: int, found: str) -> None:
    raise SmallForceError(
        f"min_cell_count: {m} with forces: {found}, from 1 to {m - 1}: in a release of several forces it is the "
        f"all-forces count minus the other forces' and cannot be hidden; release that force on its own "
        f"(a single-force params file) or leave it out of forces:")


def not_available(cleaned: ForcesClean) -> pd.DataFrame:
    """The forces without an offender extract and the factors not available for them
    (:data:`NOT_AVAILABLE_WITHOUT_OFFENDERS`, by their labels): ``force, factors`` (an empty frame
    when every force sends one)."""
    factors = ", ".join(vocab.variable_label(f) for f in NOT_AVAILABLE_WITHOUT_OFFENDERS)
    rows = [{FORCE: c.force.name, "factors": factors} for c in cleaned.forces if not c.force.has_offenders]
    return pd.DataFrame(rows, columns=[FORCE, "factors"])


def without_not_available(frame: pd.DataFrame, cleaned: ForcesClean) -> pd.DataFrame:
    """``frame`` (rows with ``force`` and ``factor`` columns: ``forces_odds_ratios``) without the
    rows of a force that sends no offender extract for the factors not available for it
    (:data:`NOT_AVAILABLE_WITHOUT_OFFENDERS`): their zero cells are not known zeros, and its
    Appendix 4 has no rows for them either. Index reset."""
    missing = {c.force.name for c in cleaned.forces if not c.force.has_offenders}
    drop = frame[FORCE].astype(str).isin(missing) & frame["factor"].isin(NOT_AVAILABLE_WITHOUT_OFFENDERS)
    return frame[~drop].reset_index(drop=True)


def not_available_note(cleaned: ForcesClean) -> str:
    """A sentence naming the forces without an offender extract and what that leaves out
    (:data:`NOT_AVAILABLE_WITHOUT_OFFENDERS`), or ""."""
    missing = [c.force.name for c in cleaned.forces if not c.force.has_offenders]
    if not missing:
        return ""
    names = ", ".join(missing)
    one = len(missing) == 1
    verb, it, they, its = ("sends", "it", "it is", "its") if one else ("send", "them", "they are", "their")
    return (f"{names} {verb} no offender extract: these factors are not available for {it} ("
            + "; ".join(vocab.variable_label(f).lower() for f in NOT_AVAILABLE_WITHOUT_OFFENDERS)
            + f"), {they} left out of their strata in the pooled tests, and {its} cases count as unknown, "
            "not as having no offender, in the combined tables.")


def not_sent_note(cleaned: ForcesClean) -> str:
    """A sentence naming each force that sends no offender extract (its completeness and spellings
    have no offender rows, and the first of :data:`NOT_AVAILABLE_WITHOUT_OFFENDERS`, whether a case
    has a recorded offender, is not known for its cases), or "" when every force sends all four."""
    missing = [c.force.name for c in cleaned.forces if not c.force.has_offenders]
    if not missing:
        return ""
    it = "it" if len(missing) == 1 else "them"
    return (", ".join(missing) + (" sends" if len(missing) == 1 else " send")
            + f" no offender extract: not sent, so no offender fields are counted for {it}, and "
            + f"\"{vocab.variable_label(NOT_AVAILABLE_WITHOUT_OFFENDERS[0])}\" is not known for {it}.")


#: Short names of Appendix 4's blocks, to tell apart factors of one name (the victim's and the
#: offender's age group) in one force's table.
BLOCK_NAMES: dict[str, str] = {"victim": "Victim", "offender": "Offender", "case": "Case", "police": "Police records"}


def force_appendix4_display(rows: pd.DataFrame, tests: pd.DataFrame, force: str,
                            has_offenders: bool) -> pd.DataFrame:
    """One force's Appendix 4 in the study's layout (:func:`msht.publish.association_tables.appendix4_display`):
    the overall row, then every block's factors, each group named with its block (``"Offender:
    Age group (years)"``); the factors of :data:`NOT_AVAILABLE_WITHOUT_OFFENDERS` (the offender
    block, and ``recorded_offender`` of the police block) only when the force sends an offender
    extract."""
    mine = rows[rows[FORCE] == force].drop(columns=[FORCE])
    mine_tests = tests[tests[FORCE] == force].drop(columns=[FORCE])
    parts = []
    for key, (_, factors) in vocab.APPENDIX4_BLOCKS.items():
        shown = [f for f in _unique(factors) if has_offenders or f not in NOT_AVAILABLE_WITHOUT_OFFENDERS]
        if not shown:
            continue
        block = association_tables.appendix4_display(mine, mine_tests, shown)
        overall = block["group"] == block["group"].iloc[0]
        block.loc[~overall, "group"] = BLOCK_NAMES.get(key, key) + ": " + block.loc[~overall, "group"]
        parts.append(block if not parts else block[~overall])
    return pd.concat(parts, ignore_index=True)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


#: What the report says, in every run of several forces, about linking people across forces.
NO_LINKING = (
    "Identifiers are pseudonymised force by force, with a key of each force's own: the same raw "
    "identifier in two forces is counted as two people. Without a national identifier, people "
    "cannot be linked across forces, so a victim or offender known to two forces is counted once in each."
)


def forces_text(sizes_table: pd.DataFrame, cleaned: ForcesClean) -> str:
    """The opening paragraph of the forces compared: how many forces, their sizes (smallest and
    largest by cases analysed), the forces without an offender extract, and :data:`NO_LINKING`."""
    by_size = sizes_table.sort_values("cases", kind="stable")
    small, large = by_size.iloc[0], by_size.iloc[-1]
    text = (f"This run analyses {len(sizes_table)} forces, each validated, cleaned and counted by the same rules "
            f"on its own, from {int(small.cases):,} cases ({small.force}) to {int(large.cases):,} ({large.force}); "
            f"{int(sizes_table['cases'].sum()):,} cases in all. {NO_LINKING}")
    note = not_available_note(cleaned)
    return f"{text}\n\n{note}" if note else text


def strongest_disagreement(pooled: pd.DataFrame, outcome: str) -> str | None:
    """The two-level factor of ``outcome`` whose forces' odds ratios differ most (the smallest
    homogeneity p among the comparisons with one; ties: Appendix 4's order); the first two-level
    factor when none has a homogeneity test (a run of one force); None when ``pooled`` has none."""
    two_level = pooled[(pooled["outcome"] == outcome) & pooled["factor"].map(lambda f: len(vocab.levels(f)) == 2)]
    sub = two_level[two_level["homogeneity_p"].notna()]
    if sub.empty:  # no homogeneity test (one force, or all withheld): the first factor
        return str(two_level["factor"].iloc[0]) if not two_level.empty else None
    return str(sub.loc[sub["homogeneity_p"].astype(float).idxmin(), "factor"])


def pooled_text(pooled: pd.DataFrame, alpha: float) -> str:
    """One paragraph on the pooled tests: per outcome, how many factors are associated within
    forces (CMH p below ``alpha``; a three-level factor's generalized CMH counts once) and the
    factors whose forces' odds ratios differ (a homogeneity p below ``alpha``). Factors whose test
    is withheld or not computable are counted as such."""
    parts = []
    for outcome in vocab.OUTCOMES:
        sub = pooled[pooled["outcome"] == outcome]
        if sub.empty:
            continue
        factors = sub.drop_duplicates("factor")  # a three-level factor's rows share its generalized CMH
        tested = factors[factors["cmh_p"].notna()]
        associated = int((tested["cmh_p"].astype(float) < alpha).sum())
        differ = sub[sub["homogeneity_p"].notna() & (sub["homogeneity_p"].astype(float) < alpha)]
        names = ", ".join(dict.fromkeys(vocab.variable_label(f).lower() for f in differ["factor"]))
        part = (f"for *{vocab.variable_label(outcome).lower()}*, {associated} of the {len(tested)} factors tested are "
                f"associated with the outcome within forces (CMH p < {alpha:g})")
        part += (f", and the forces' odds ratios differ (homogeneity p < {alpha:g}) for {names}" if names
                 else ", and no test finds that the forces' odds ratios differ")
        untested = len(factors) - len(tested)
        if untested:
            part += f" ({untested} more not computable or withheld)"
        parts.append(part)
    text = "; ".join(parts)
    return (text[0].upper() + text[1:] + ".") if text else "No pooled test could be computed."


def save_forests(odds_ratios: pd.DataFrame, pooled: pd.DataFrame, folder: Path,
                 shown: Iterable[tuple[str, str]] = ()) -> dict[tuple[str, str], list[Path]]:
    """Draw the forest plot (:func:`msht.publish.forces_figures.forest_by_force`) of every outcome ×
    factor of ``odds_ratios`` and write it as an SVG to ``folder``
    (``<forest_name>.svg``, byte-stable as :func:`msht.publish.figures.save` writes it); those in
    ``shown`` (the report's) as PNG too. Returns (outcome, factor) -> the files written. SVG only
    for the others: about 50 plots, each a vector file, at a third of the cost of both formats."""
    import matplotlib as mpl

    from msht.publish import figures, forces_figures

    shown = set(shown)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for outcome, factor in dict.fromkeys(zip(odds_ratios["outcome"], odds_ratios["factor"], strict=True)):
        fig = forces_figures.forest_by_force(odds_ratios, pooled, outcome, factor)
        name = forces_figures.forest_name(outcome, factor)
        if (outcome, factor) in shown:
            written[(outcome, factor)] = figures.save(fig, folder, name)
            continue
        with mpl.rc_context({"svg.hashsalt": name, "svg.fonttype": "none"}):
            fig.savefig(folder / f"{name}.svg", metadata={"Date": None, "Creator": None})
        written[(outcome, factor)] = [folder / f"{name}.svg"]
    return written


def grouped(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame`` (a ``force`` column first) with a ``group`` column ``"<force> · <column's value>"``
    for a display table's row groups (``exclusions``' entity with ``_`` as spaces)."""
    values = frame[column].astype(str).str.replace("_", " ")
    return frame.assign(group=frame[FORCE].astype(str) + " · " + values)


def appendix4_all(rows: pd.DataFrame, tests: pd.DataFrame, cleaned: ForcesClean) -> pd.DataFrame:
    """Every force's Appendix 4 (:func:`force_appendix4_display`) in one display frame, params
    order, each row group named ``"<force> · <group>"``."""
    parts = []
    for c in cleaned.forces:
        part = force_appendix4_display(rows, tests, c.force.name, c.force.has_offenders)
        parts.append(part.assign(group=c.force.name + " · " + part["group"]))
    return pd.concat(parts, ignore_index=True)


def exclusions_table(shown: pd.DataFrame, *, table_id: str):  # -> great_tables.GT
    """The exclusions of every force (``forces_exclusions`` rows as shown, hidden counts as their
    marks): per force and extract a row group, each rule's rows in, excluded and rows out, as
    :func:`msht.publish.tables.exclusions_table` shows a single force's."""
    from great_tables import GT

    frame = grouped(shown, "entity")[["group", "step", "description", "rows_in", "excluded", "rows_out"]]
    counts = [c for c in ("rows_in", "excluded", "rows_out") if pd.api.types.is_numeric_dtype(frame[c])]
    return (
        GT(frame, groupname_col="group", id=table_id)
        .tab_header(title="Exclusions by the section 2.5 rules, by force")
        .cols_label(step="Step", description="Rule", rows_in="Rows in", excluded="Excluded", rows_out="Rows out")
        .fmt_integer(columns=counts)
        .tab_options(table_font_size="14px", row_group_font_weight="bold")
    )
