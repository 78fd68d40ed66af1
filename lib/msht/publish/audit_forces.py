"""The disclosure audit's model of the per-force files of a run of several forces (issue 19).

:mod:`msht.publish.audit` bounds every hidden count of a release from everything published. A run of
several forces (notebook 05) publishes, besides the combined tables of notebooks 02 and 03, each
force's own tables; :func:`build_forces` adds them to the attacker's system, with the relations a
reader knows (each kept only where it holds in the unprotected values, as :meth:`msht.publish.audit.System.add`
keeps every relation). Every count is named as ``suppression.csv`` names it (``file|table|variable|level|column``,
a force's table ``"<force>: <table>"``), so a mark of ``suppression.csv`` bounds it and
:func:`msht.publish.audit.complementary` can choose it.

* each force's data-quality files (``forces_exclusions``, ``forces_completeness``,
  ``forces_spellings``, ``forces_problems``), force by force exactly as a single force's
  (:func:`msht.publish.audit.exclusions_frames` and its siblings: chains, spellings adding up to the
  extract's rows, a problem that is an exclusion rule, the missing victim IDs);
* ``forces.csv`` (published whole): each force's case entries are its case chain's first rows
  in, its cases, victims and case–offender pairs the chains' last rows out; the forces' cases and
  victims add up to section 3.1's;
* ``forces_appendix4``: per force and outcome, every factor's levels add up to the force's totals
  (n and denominator), 0 <= n <= d, a printed percentage with a hidden count bounds it, and
  ``accepted``'s denominator of a level is at most ``offered``'s n; **across forces**, every count that exists
  per force and combined (``associations.csv``) is the forces' sum;
* ``forces_funnel``: a force's events and cases are its Appendix 4 ``overall`` n and denominator,
  and add up across forces to the combined ``overall`` row;
* ``forces_odds_ratios``: a = the level's n, a + b its denominator, c and c + d the reference's,
  n = a + b + c + d;
* ``forces_pooled``: n is the sum of the pooled forces' n (the forces whose comparison is
  computable: the note of each force's row says which are not).

Non-linear values are not modelled but checked (:func:`check_withheld`; a failed check is an
``AssertionError``, which the fixpoint turns into :class:`msht.publish.audit.AuditError`, so such a
release is never published): an odds ratio or CI shown with a hidden cell of its row; a pooled
statistic shown while a pooled force (for the generalized CMH: any force of the factor) has a
hidden cell; a funnel rate, position or control limit shown with a hidden events or cases count;
the funnel's overall rate shown while the combined ``overall`` row of its outcome hides a count;
a p band of a per-force block; a published force size from 1 to m-1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pandas as pd

from msht.publish import audit

#: The per-force data-quality files, in the order the audit reads them (completeness first: the
#: exclusions link to its missing victim IDs, the problems to the exclusions).
QUALITY: Final[tuple[str, ...]] = ("completeness", "spellings", "exclusions", "problems")
#: ``forces.csv``'s counts and the exclusion chain whose end each is: (entity, "first"/"last").
SIZE_CHAINS: Final[dict[str, tuple[str, str]]] = {
    "case_entries": ("cases", "first"), "cases": ("cases", "last"), "victims": ("victims", "last"),
    "case_offender_pairs": ("offenders", "last"),
}
#: ``forces.csv``'s counts that add up across forces to a count of section 3.1.
SIZE_TOTALS: Final[dict[str, str]] = {"cases": "descriptives|section3_1|cases|all|n",
                                       "victims": "descriptives|section3_1|victims|all|n"}


def _pair(results_dir: Path, truth_dir: Path, name: str, reader=None) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(true, published) frames of results file ``name``; None when the run did not publish it.
    Raises ``AssertionError`` when it is published without its unprotected values."""
    path = results_dir / f"{name}.csv"
    if not path.exists():
        return None
    if not (truth_dir / f"{name}.csv").exists():
        raise AssertionError(f"audit: {name}.csv is published but its unprotected values are not in {truth_dir}")
    read = reader or (lambda p: pd.read_csv(p, dtype={"level": str, "force": str, "reference": str}))
    return read(truth_dir / f"{name}.csv"), read(path)


def build_forces(s: audit.System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list,
                 pct_rows: list) -> None:
    """Add the per-force files of a run of several forces to the system (see the module
    docstring); nothing when the run published no ``forces.csv`` (a single-force run)."""
    sizes = _pair(results_dir, truth_dir, "forces")
    if sizes is None:
        return
    forces = [str(f) for f in sizes[0]["force"]]
    _quality(s, results_dir, truth_dir, marks, m, binaries, forces)
    _sizes(s, sizes[0], sizes[1], m, forces)
    _appendix4(s, results_dir, truth_dir, marks, m, binaries, pct_rows)
    _funnel(s, results_dir, truth_dir, marks, m, binaries)
    _odds_ratios(s, results_dir, truth_dir, marks, m, binaries)
    _pooled(s, results_dir, truth_dir, marks, m, binaries)
    check_withheld(results_dir, marks, m)


def _quality(s: audit.System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list,
             forces: list[str]) -> None:
    frames = {name: _pair(results_dir, truth_dir, f"forces_{name}", audit._read) for name in QUALITY}
    for force in forces:
        table = f"{force}: "

        def mine(name: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
            pair = frames[name]
            if pair is None:
                return None
            tru, pub = pair
            return tru[tru["force"] == force], pub[pub["force"] == force]

        if (c := mine("completeness")) is not None:
            audit.completeness_frames(s, *c, marks, m, binaries, file="forces_completeness", table=table)
            rows = {str(e): int(r) for e, r in zip(c[0]["extract"], c[0]["rows"])}
            if (sp := mine("spellings")) is not None:
                audit.spellings_frames(s, *sp, rows, marks, m, binaries, file="forces_spellings", table=table)
        if (ex := mine("exclusions")) is not None:
            audit.exclusions_frames(s, *ex, marks, m, binaries, file="forces_exclusions", table=table)
        if (pr := mine("problems")) is not None:
            audit.problems_frames(s, *pr, marks, m, binaries, file="forces_problems", table=table)


def _chain_end(s: audit.System, force: str, entity: str, end: str) -> int | None:
    """The variable of a force's exclusion chain's first ``rows_in`` or last ``rows_out``."""
    prefix = f"forces_exclusions|{force}: {entity}|"
    column = "|rows_in" if end == "first" else "|rows_out"
    found = [(int(name.split("|")[3]), i) for name, i in s.index.items()
             if name.startswith(prefix) and name.endswith(column) and name.split("|")[3].isdigit()]
    if not found:
        return None
    return (min if end == "first" else max)(found)[1]


def _sizes(s: audit.System, tru: pd.DataFrame, pub: pd.DataFrame, m: int, forces: list[str]) -> None:
    """``forces.csv``, published whole: each count fixed, tied to its force's chain ends
    (:data:`SIZE_CHAINS`), and summed across forces to section 3.1's counts (:data:`SIZE_TOTALS`).
    A published size from 1 to m-1 is a disclosure (``AssertionError``)."""
    pub = audit.aligned(pub, tru, ["force"], "forces.csv")
    totals: dict[str, list[int]] = {}
    for idx, r in tru.iterrows():
        force = str(r["force"])
        for column, (entity, end) in SIZE_CHAINS.items():
            value = audit._value(pub.at[idx, column])
            if value is None or value != int(r[column]):
                raise AssertionError(f"audit: forces.csv's {column} of {force} is not published as it is")
            if 1 <= value < m:
                raise AssertionError(f"audit: forces.csv publishes {force}'s {column} {value}, from 1 to m-1 = {m - 1}")
            i = s.var(f"forces|{force}|sizes||{column}", value, hidden=False)
            j = _chain_end(s, force, entity, end)
            if j is not None:
                s.equal([i], [j])
            totals.setdefault(column, []).append(i)
    for column, name in SIZE_TOTALS.items():
        if name in s.index and column in totals:
            s.equal([s.index[name]], totals[column])


def _appendix4(s: audit.System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list,
               pct_rows: list) -> None:
    """``forces_appendix4``: per force and outcome the blocks as :func:`msht.publish.audit._associations`
    models the combined ones, ``accepted`` within ``offered`` per level, and the forces' counts
    adding up to the combined count of each outcome, factor, level and column."""
    pair = _pair(results_dir, truth_dir, "forces_appendix4")
    if pair is None:
        return
    tru, pub = pair
    pub = audit.aligned(pub, tru, ["force", "outcome", "factor", "level"], "forces_appendix4.csv")
    by_cell: dict[str, list[int]] = {}
    for (force, outcome), oblk in tru.groupby(["force", "outcome"], sort=False):
        table = f"{force}: {outcome}"
        overall = oblk[oblk["factor"] == "overall"]
        totals = {c: s.var(f"assoc_total|{table}|{k}", int(overall[c].sum()), hidden=True)
                  for c, k in (("n", "n"), ("denominator", "d"))}
        for c, k in (("n", "n"), ("denominator", "d")):
            by_cell.setdefault(f"assoc_total|{outcome}|{k}", []).append(totals[c])
        for factor, blk in oblk.groupby("factor", sort=False):
            idx_of = {"n": [], "denominator": []}
            for idx, r in blk.iterrows():
                cells = {}
                for c in ("n", "denominator"):
                    key = ("forces_appendix4", table, factor, r["level"], c)
                    cells[c] = audit._cell(s, key, int(r[c]), audit._value(pub.at[idx, c]), marks, m, binaries)
                    idx_of[c].append(cells[c])
                    by_cell.setdefault(f"associations|{outcome}|{factor}|{r['level']}|{c}", []).append(cells[c])
                s.add({cells["n"]: 1, cells["denominator"]: -1}, -audit.BIG, 0)
                if pd.notna(pub.at[idx, "pct"]) and (s.hidden[cells["n"]] or s.hidden[cells["denominator"]]):
                    pct_rows.append((cells["n"], cells["denominator"], float(pub.at[idx, "pct"])))
            s.equal(idx_of["denominator"], [totals["denominator"]])
            s.equal(idx_of["n"], [totals["n"]])
    _nested(s)
    for name, parts in by_cell.items():  # across forces: the combined count is the forces' sum
        if name in s.index:
            s.equal([s.index[name]], parts)


def _nested(s: audit.System) -> None:
    """Per force: ``accepted``'s denominator of a level is at most ``offered``'s n of the level (the
    cases offered support, less those with no acceptance status), as
    :func:`msht.publish.audit._cross_file` links the combined ones."""
    from msht.publish import sdc

    for name, i in list(s.index.items()):
        parts = name.split("|")
        if parts[0] != "forces_appendix4" or parts[4] != "denominator":
            continue
        force, _, outcome = parts[1].rpartition(": ")
        parent = sdc.NESTED.get(outcome)
        key = "|".join(("forces_appendix4", f"{force}: {parent}", parts[2], parts[3], "n"))
        if parent and key in s.index:
            s.add({i: 1, s.index[key]: -1}, -audit.BIG, 0)


def _funnel(s: audit.System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list) -> None:
    """``forces_funnel``: a force's events and cases of an outcome, 0 <= events <= cases, equal to its
    Appendix 4 ``overall`` row, and adding up across forces to the combined ``overall`` row."""
    pair = _pair(results_dir, truth_dir, "forces_funnel")
    if pair is None:
        return
    tru, pub = pair
    pub = audit.aligned(pub, tru, ["force", "outcome"], "forces_funnel.csv")
    sums: dict[tuple[str, str], list[int]] = {}
    for idx, r in tru.iterrows():
        force, outcome = str(r["force"]), str(r["outcome"])
        cells = {c: audit._cell(s, ("forces_funnel", outcome, "force", force, c), int(r[c]),
                                audit._value(pub.at[idx, c]), marks, m, binaries) for c in ("events", "n")}
        s.add({cells["events"]: 1, cells["n"]: -1}, -audit.BIG, 0)
        for c, column in (("events", "n"), ("n", "denominator")):
            own = s.index.get(f"forces_appendix4|{force}: {outcome}|overall|overall|{column}")
            if own is not None:
                s.equal([cells[c]], [own])
            sums.setdefault((outcome, column), []).append(cells[c])
    for (outcome, column), parts in sums.items():
        combined = s.index.get(f"associations|{outcome}|overall|overall|{column}")
        if combined is not None:
            s.equal([combined], parts)


#: ``forces_odds_ratios``' cells and (the Appendix 4 cell they are: level or reference, column) as
#: sums of cells: a = n(level), a + b = d(level), c = n(reference), c + d = d(reference).
OR_LINKS: Final[tuple[tuple[tuple[str, ...], str, str], ...]] = (
    (("a",), "level", "n"), (("a", "b"), "level", "denominator"),
    (("c",), "reference", "n"), (("c", "d"), "reference", "denominator"),
)


def _odds_ratios(s: audit.System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list) -> None:
    """``forces_odds_ratios``: each row's cells (see :data:`OR_LINKS`), n = a + b + c + d."""
    pair = _pair(results_dir, truth_dir, "forces_odds_ratios")
    if pair is None:
        return
    tru, pub = pair
    pub = audit.aligned(pub, tru, ["force", "outcome", "factor", "level", "reference"], "forces_odds_ratios.csv")
    for idx, r in tru.iterrows():
        force, outcome, factor = str(r["force"]), str(r["outcome"]), str(r["factor"])
        level = f"{force}: {r['level']} vs {r['reference']}"
        cells = {c: audit._cell(s, ("forces_odds_ratios", outcome, factor, level, c), int(r[c]),
                                audit._value(pub.at[idx, c]), marks, m, binaries) for c in ("a", "b", "c", "d", "n")}
        s.equal([cells["n"]], [cells[c] for c in "abcd"])
        for parts, which, column in OR_LINKS:
            own = s.index.get(f"forces_appendix4|{force}: {outcome}|{factor}|{r[which]}|{column}")
            if own is not None:
                s.equal([cells[c] for c in parts], [own])


def _pooled(s: audit.System, results_dir: Path, truth_dir: Path, marks: dict, m: int, binaries: list) -> None:
    """``forces_pooled``: a comparison's n is the sum of the n of the forces it pools (their
    ``forces_odds_ratios`` rows not "not computable", less the forces its note leaves out as
    withheld: :func:`msht.analysis.stratified.withheld_strata`; where that does not hold, of every
    force but those)."""
    from msht.analysis import stratified

    pair = _pair(results_dir, truth_dir, "forces_pooled")
    odds = _pair(results_dir, truth_dir, "forces_odds_ratios")
    if pair is None or odds is None:
        return
    tru, pub = pair
    pub = audit.aligned(pub, tru, ["outcome", "factor", "level", "reference"], "forces_pooled.csv")
    rows = odds[0]  # the unprotected rows: a withheld row's note is blanked where it is published
    for idx, r in tru.iterrows():
        outcome, factor, comparison = str(r["outcome"]), str(r["factor"]), f"{r['level']} vs {r['reference']}"
        i = audit._cell(s, ("forces_pooled", outcome, factor, comparison, "n"), int(r["n"]),
                        audit._value(pub.at[idx, "n"]), marks, m, binaries)
        mine = rows[(rows["outcome"] == outcome) & (rows["factor"] == factor) & (rows["level"] == r["level"])
                    & (rows["reference"] == r["reference"])]
        mine = mine[~mine["force"].astype(str).isin(stratified.withheld_strata(str(r["note"])))]
        pooled = ~mine["note"].fillna("").astype(str).str.startswith("not computable")
        for chosen in (mine[pooled], mine):
            parts = [s.index.get(f"forces_odds_ratios|{outcome}|{factor}|{f}: {comparison}|n") for f in chosen["force"]]
            parts = [j for j in parts if j is not None]
            rows_before = len(s.rows)
            s.equal([i], parts)
            if len(s.rows) > rows_before or not parts:
                break


def _hidden(marks: dict, file: str) -> set[tuple[str, str, str, str]]:
    """(table, variable, level, column) of the counts ``suppression.csv`` hides in ``file``."""
    return {(t, v, lv, c) for (f, t, v, lv, c) in marks if f == file}


def check_withheld(results_dir: Path, marks: dict, m: int) -> None:
    """The non-linear values of the per-force files are withheld wherever a count they are computed
    from is hidden (see the module docstring); an ``AssertionError`` names the first that is not."""
    bands = [k for k, (display, _) in marks.items() if k[0] == "forces_appendix4" and display.startswith("p")]
    if bands:
        raise AssertionError(f"audit: a p band of a force's Appendix 4 is published (not modelled): {bands[0]}")
    _check_odds_ratios(results_dir, marks)
    _check_funnel(results_dir, marks)


def _check_odds_ratios(results_dir: Path, marks: dict) -> None:
    path = results_dir / "forces_odds_ratios.csv"
    if not path.exists():
        return
    odds = pd.read_csv(path, dtype={"level": str, "force": str, "reference": str})
    hidden = _hidden(marks, "forces_odds_ratios")
    # (outcome, factor) -> the forces with a hidden cell of any comparison; (outcome, factor,
    # comparison) -> those with a hidden cell of it whose comparison is computable
    withheld_cells: dict[tuple[str, str], set[str]] = {}
    by_comparison: dict[tuple[str, str, str], set[str]] = {}
    for r in odds.itertuples():
        level = f"{r.force}: {r.level} vs {r.reference}"
        cells = [c for c in ("a", "b", "c", "d", "n") if (r.outcome, r.factor, level, c) in hidden]
        if cells:
            withheld_cells.setdefault((r.outcome, r.factor), set()).add(str(r.force))
            if not str(r.note).startswith("not computable"):
                comparison = (r.outcome, r.factor, f"{r.level} vs {r.reference}")
                by_comparison.setdefault(comparison, set()).add(str(r.force))
            if any(pd.notna(getattr(r, c)) for c in ("odds_ratio", "ci_low", "ci_high")):
                raise AssertionError(f"audit: forces_odds_ratios shows the odds ratio of {r.outcome}, {r.factor}, "
                                     f"{level} with hidden cells {cells}")
    pooled_path = results_dir / "forces_pooled.csv"
    if not pooled_path.exists():
        return
    from msht.analysis import stratified
    from msht.publish import forces_figures

    pooled = pd.read_csv(pooled_path, dtype={"level": str, "reference": str})
    for r in pooled.itertuples():
        comparison = f"{r.level} vs {r.reference}"
        general = r.method == stratified.METHOD_GENERALIZED
        left_out = set(stratified.withheld_strata(str(r.note)))
        cells = {key for key, forces in withheld_cells.items() if forces - left_out}
        compared = {key for key, forces in by_comparison.items() if forces - left_out}
        columns = [*(forces_figures.POOLED_OR if (r.outcome, r.factor, comparison) in compared else ()),
                   *(forces_figures.POOLED_CMH if ((r.outcome, r.factor) in cells if general
                                                   else (r.outcome, r.factor, comparison) in compared) else ())]
        shown = [c for c in columns if c != "cmh_df" and pd.notna(getattr(r, c))]
        if shown:
            raise AssertionError(f"audit: forces_pooled shows {shown} of {r.outcome}, {r.factor}, {comparison}, "
                                 "computed from hidden cells")


def _check_funnel(results_dir: Path, marks: dict) -> None:
    from msht.publish import forces_figures

    path = results_dir / "forces_funnel.csv"
    if not path.exists():
        return
    funnel = pd.read_csv(path, dtype={"force": str})
    hidden = _hidden(marks, "forces_funnel")
    combined = _hidden(marks, "associations")
    for r in funnel.itertuples():
        events = (r.outcome, "force", r.force, "events") in hidden
        n = (r.outcome, "force", r.force, "n") in hidden
        derived = [*(("rate", "position") if events or n else ()), *(forces_figures.FUNNEL_LIMITS if n else ())]
        shown = [c for c in derived if pd.notna(getattr(r, c))]
        if shown:
            raise AssertionError(f"audit: forces_funnel shows {shown} of {r.force}, {r.outcome} with a hidden count")
        overall_hidden = any((r.outcome, "overall", "overall", c) in combined for c in ("n", "denominator"))
        around = [c for c in ("overall_rate", "position", *forces_figures.FUNNEL_LIMITS) if pd.notna(getattr(r, c))]
        if overall_hidden and around:
            raise AssertionError(f"audit: forces_funnel shows {around} of {r.force}, {r.outcome}, computed from the "
                                 "all-forces overall rate, whose count is hidden")
