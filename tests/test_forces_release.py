"""Issue 19: a release of several forces (``min_cell_count`` > 1) is safe across forces.

Each force's Appendix 4 is protected on its own (:func:`msht.publish.sdc.protect_associations`, as
notebook 05 does), and a reader who has the all-forces counts (``associations.csv``) and the other
forces' shown counts gets a small force's hidden cell back by subtraction. The linked-table audit
models the per-force files with the combined ones (:mod:`msht.publish.audit_forces`), so it finds
that attack, and the fixpoint (:func:`msht.publish.audit.fixpoint`) hides complementary cells in
the other forces until every hidden count keeps at least three values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from msht import config
from msht.publish import audit, forces_tables, results, sdc

#: (force, level) -> (offered "yes", cases) for one factor; Force C is tiny.
COUNTS: dict[tuple[str, str], tuple[int, int]] = {
    ("Force A", "male"): (40, 100), ("Force A", "female"): (50, 120),
    ("Force B", "male"): (20, 50), ("Force B", "female"): (25, 60),
    ("Force C", "male"): (2, 8), ("Force C", "female"): (6, 10),
}
FORCES = ("Force A", "Force B", "Force C")
M = 5
#: The cell of the attack.
TARGET = "forces_appendix4|Force C: offered|victim_sex|male|n"


def _rows(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Association rows (the columns :func:`sdc.protect_associations` reads) of one table, with
    its ``overall`` row."""
    n, d = sum(v[0] for v in counts.values()), sum(v[1] for v in counts.values())
    rows = [{"outcome": "offered", "factor": "overall", "level": "overall", "n": n, "denominator": d,
             "pct": round(100 * n / d, 1), "statistic": float("nan"), "df": pd.NA, "p": float("nan"), "test": ""}]
    rows += [{"outcome": "offered", "factor": "victim_sex", "level": level, "n": n, "denominator": d,
              "pct": round(100 * n / d, 1), "statistic": 1.0, "df": 1, "p": 0.5, "test": "Yates chi-square"}
             for level, (n, d) in counts.items()]
    return pd.DataFrame(rows)


def _force_rows(force: str) -> pd.DataFrame:
    return _rows({lv: v for (f, lv), v in COUNTS.items() if f == force})


def _combined_rows() -> pd.DataFrame:
    totals: dict[str, tuple[int, int]] = {}
    for (_, level), (n, d) in COUNTS.items():
        n0, d0 = totals.get(level, (0, 0))
        totals[level] = (n0 + n, d0 + d)
    return _rows(totals)


def _publish(folder: Path, forced: frozenset = frozenset()) -> tuple[Path, Path]:
    """The hand-made release: each force's table protected on its own with the forced cells of its
    own (:func:`forces_tables.force_cells`), the all-forces table with its own, as notebooks 05
    and 03 protect them; the results and the unprotected values written as a run writes them."""
    out, truth = folder / "results", folder / "processed" / results.UNPROTECTED_DIR
    combined = sdc.protect_associations(_combined_rows(), M, forced=forced)
    per_force, supp = {}, [sdc.suppression_table(associations=combined)]
    for force in FORCES:
        protected = sdc.protect_associations(_force_rows(force), M, forced=forces_tables.force_cells(forced, force))
        per_force[force] = protected
        s = sdc.suppression_table(associations=protected)
        supp.append(s.assign(table=[f"{force}: {t}" for t in s["table"]], file="forces_appendix4"))
    sizes = pd.DataFrame([{"force": f, "offender_extract": "yes", "case_entries": 300, "cases": 200, "victims": 150,
                           "case_offender_pairs": 250} for f in FORCES])
    for frame, name in ((combined, "associations"), (forces_tables.by_force(per_force), "forces_appendix4"),
                        (sizes, "forces")):
        results.write_csv(frame, name, out)
    results.write_csv(pd.concat(supp, ignore_index=True), "suppression", out)
    for frame, name in ((_combined_rows(), "associations"), (sizes, "forces"),
                        (forces_tables.by_force({f: _force_rows(f) for f in FORCES}), "forces_appendix4")):
        results.write_csv(frame, name, truth)
    return out, truth


def _recovered(out: Path) -> dict[tuple[str, str], int]:
    """The attack on the published files: every hidden per-force count that the all-forces count
    minus the other forces' shown counts gives back exactly -> its value."""
    combined = pd.read_csv(out / "associations.csv", dtype={"level": str})
    per = pd.read_csv(out / "forces_appendix4.csv", dtype={"level": str})
    found = {}
    for r in per[per["n"].isna()].itertuples():
        total = combined.loc[(combined["factor"] == r.factor) & (combined["level"] == r.level), "n"]
        others = per[(per["force"] != r.force) & (per["factor"] == r.factor) & (per["level"] == r.level)]["n"]
        if total.notna().all() and others.notna().all():
            found[(r.force, r.level)] = int(total.iloc[0] - others.sum())
    return found


def test_per_force_protection_alone_leaks_and_the_audit_finds_it(tmp_path) -> None:
    """Force C's hidden male count is the all-forces count minus Force A's and Force B's when each
    table is protected on its own; the audit of the per-force files pins it to that one value."""
    out, truth = _publish(tmp_path)
    per = pd.read_csv(out / "forces_appendix4.csv", dtype={"level": str})
    c = per[(per["force"] == "Force C") & (per["level"] == "male")]
    assert c["n"].isna().all()  # hidden in Force C's own table
    assert _recovered(out)[("Force C", "male")] == COUNTS[("Force C", "male")][0]
    frame = audit.audit(out, truth, M).set_index("cell")
    assert frame.at[TARGET, "values"] == 1 and frame.at[TARGET, "low"] == COUNTS[("Force C", "male")][0]
    assert TARGET in audit.narrow_cells(frame.reset_index())


def test_the_fixpoint_hides_across_forces_until_the_attack_fails(tmp_path) -> None:
    """The fixpoint over the per-force and combined files: complementary cells in another force
    (or the combined table) until every hidden count keeps three values; the subtraction attack
    then recovers nothing, and the audit bounds Force C's male count to at least three values
    around its true one."""
    rounds = []

    def publish(forced: frozenset) -> tuple[Path, Path]:
        rounds.append(forced)
        return _publish(tmp_path / f"round{len(rounds)}", forced)

    frame, forced = audit.fixpoint(publish, M)
    assert forced and all(cell[0] in ("forces_appendix4", "associations") for cell in forced)
    out = tmp_path / f"round{len(rounds)}" / "results"
    assert _recovered(out) == {}
    row = frame.set_index("cell").loc[TARGET]
    assert row["values"] >= audit.MIN_RANGE and row["low"] <= COUNTS[("Force C", "male")][0] <= row["high"]
    assert not audit.narrow_cells(frame)


def test_force_cells_maps_a_forces_cells_to_its_own_tables() -> None:
    forced = frozenset({("forces_appendix4", "Force B: offered", "victim_sex", "male", "n"),
                        ("forces_exclusions", "Force B: cases", "no_victim_id", "1", "excluded"),
                        ("forces_appendix4", "Force Bee: offered", "victim_sex", "male", "n"),
                        ("associations", "offered", "victim_sex", "male", "n")})
    assert forces_tables.force_cells(forced, "Force B") == {
        ("associations", "offered", "victim_sex", "male", "n"), ("exclusions", "cases", "no_victim_id", "1", "excluded")}


def test_a_force_too_small_to_release_with_the_others_is_refused_in_one_line() -> None:
    sizes = pd.DataFrame([{"force": "Force A", "offender_extract": "yes", "case_entries": 300, "cases": 200,
                           "victims": 150, "case_offender_pairs": 250},
                          {"force": "Force C", "offender_extract": "no", "case_entries": 12, "cases": 10,
                           "victims": 9, "case_offender_pairs": 0}])
    rows = forces_tables.by_force({"Force A": _force_rows("Force A"), "Force C": _force_rows("Force C")})
    forces_tables.refuse_small_forces(sizes, rows, M)  # every size and overall count is 0 or at least m
    tiny = rows.assign(n=rows["n"].where(~((rows["force"] == "Force C") & (rows["factor"] == "overall")), 3))
    with pytest.raises(forces_tables.SmallForceError) as info:
        forces_tables.refuse_small_forces(sizes, tiny, M)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("min_cell_count: 5 with forces: Force C has 3 cases with ")
    with pytest.raises(forces_tables.SmallForceError, match="Force C has 3 victims"):
        forces_tables.refuse_small_forces(sizes.assign(victims=[150, 3]), rows, M)
    forces_tables.refuse_small_forces(sizes.assign(victims=[150, 3]), tiny, 0)  # no disclosure control


def test_across_forces_withholds_whole_blocks_and_the_smallest_other_force() -> None:
    """Block suppression across forces: Force C hides a count of victim_sex, so it withholds its
    whole victim_sex block; being the only force that does, the smallest other force (Force B)
    withholds its block too; Force A shows its own. Withheld, every count of the two blocks is
    ``"[c]"`` (reason ``withheld``, which says nothing about its size), and running it again on the
    protected tables asks for nothing more (a fixpoint)."""
    tables = {f: (_force_rows(f), sdc.protect_associations(_force_rows(f), M)) for f in FORCES}
    assert tables["Force C"][1]["suppressed"].astype(bool).any()
    extra = forces_tables.across_forces(tables, M)
    assert extra == {"Force A": set(), "Force B": {("offered", "victim_sex")}, "Force C": {("offered", "victim_sex")}}
    assert forces_tables.across_forces(tables, 0) == {f: set() for f in FORCES}
    again = {f: (t, sdc.protect_associations(t, M, withheld=frozenset(extra[f]))) for f, (t, _) in tables.items()}
    for force in ("Force B", "Force C"):
        block = again[force][1][again[force][1]["factor"] == "victim_sex"]
        assert block["n"].isna().all() and block["denominator"].isna().all()
        assert set(block["reason"]) == {sdc.WITHHELD_ACROSS_FORCES} and set(block["display"]) == {sdc.SECONDARY_MARK}
    assert again["Force A"][1]["n"].notna().all()
    assert all(forces_tables.across_forces(again, M)[f] <= extra[f] for f in FORCES)  # a fixpoint


def test_across_forces_takes_as_partner_the_smallest_force_of_at_least_m_cases() -> None:
    """A force with no case (or fewer than m) in the block adds no doubt to the hidden force's
    counts (its zeros follow from its public sizes): the partner is the smallest force of at least
    m cases (Force B), not Force D, which has none."""
    rows = {f: _force_rows(f) for f in ("Force A", "Force C", "Force B")}
    rows["Force D"] = rows["Force B"].assign(n=0, denominator=0, pct=float("nan"))  # no case with a status
    tables = {f: (r, sdc.protect_associations(r, M)) for f, r in rows.items()}
    assert not tables["Force D"][1]["suppressed"].astype(bool).any()
    extra = forces_tables.across_forces(tables, M)
    assert extra["Force B"] and not extra["Force A"] and not extra["Force D"]


def test_across_forces_hides_accepted_with_offered() -> None:
    """``accepted``'s denominators of a level are ``offered``'s n: a force hiding its ``offered``
    block of a factor hides its ``accepted`` block of the factor too (and the complementary force both)."""
    def with_accepted(rows: pd.DataFrame) -> pd.DataFrame:
        offered = rows[rows["factor"] != "overall"]
        accepted = offered.assign(outcome="accepted", denominator=offered["n"], n=offered["n"] // 2)
        overall = rows[rows["factor"] == "overall"]
        acc_overall = overall.assign(outcome="accepted", denominator=overall["n"], n=overall["n"] // 2)
        return pd.concat([rows, acc_overall, accepted], ignore_index=True)

    forced = {("associations", "offered", "victim_sex", "male", "n")}  # Force A's, chosen by an audit
    tables = {f: (with_accepted(_force_rows(f)),) for f in ("Force A", "Force B")}
    tables = {f: (t[0], sdc.protect_associations(t[0], M, forced=forced if f == "Force A" else frozenset()))
              for f, t in tables.items()}
    extra = forces_tables.across_forces(tables, M)
    for force in ("Force A", "Force B"):
        assert extra[force] == {("offered", "victim_sex"), ("accepted", "victim_sex")}, force


def test_across_forces_never_hides_one_forces_overall_denominator_alone() -> None:
    """A force's overall denominator of an outcome (its cases with a status recorded, which an audit
    may choose) is the all-forces one minus the others': the smallest other force's goes with it."""
    block = ("offered", "overall")
    tables = {f: (_force_rows(f), sdc.protect_associations(_force_rows(f), M)) for f in ("Force A", "Force B")}
    tables["Force A"][1].loc[tables["Force A"][1]["factor"] == "overall", "denominator_suppressed"] = True
    extra = forces_tables.across_forces(tables, M)
    assert block in extra["Force B"] and block in extra["Force A"]  # Force B's goes with Force A's


def test_the_audit_may_choose_a_forces_overall_denominator_of_accepted_too() -> None:
    """A force's ``accepted`` overall denominator is its ``offered`` overall n less its cases offered
    support with no acceptance recorded: not published when some are, so the audit may choose to
    hide it (its acceptance status total), as ``offered``'s."""
    s = audit.System()
    names = [f"forces_appendix4|Force A: {o}|overall|overall|denominator" for o in ("offered", "accepted")]
    ids = [s.var(name, 10, hidden=False) for name in names]
    assert audit._forceable(s, ids[0]) and audit._forceable(s, ids[1])
    n = s.var("forces_appendix4|Force A: accepted|overall|overall|n", 4, hidden=False)
    assert not audit._forceable(s, n)


def test_across_forces_gives_a_forces_hidden_acceptance_total_a_partner() -> None:
    """Force A hides its number of cases with an acceptance status (2 cases offered support have
    none, from 1 to m-1); shown alone it would be the all-forces total minus the others', and its
    2 would follow: the smallest other force of at least m cases withholds its total too."""
    def with_accepted(rows: pd.DataFrame, unknown: int) -> pd.DataFrame:
        overall = rows[rows["factor"] == "overall"]
        accepted = overall.assign(outcome="accepted", denominator=overall["n"] - unknown, n=overall["n"] // 2)
        return pd.concat([rows, accepted], ignore_index=True)

    tables = {}
    for force, unknown in (("Force A", 2), ("Force B", 0), ("Force C", 0)):
        rows = with_accepted(_force_rows(force), unknown)
        protected = sdc.protect_associations(rows, M)
        if unknown:  # as association_tables.protect hides it (status_hidden)
            sdc.hide_status_total(protected, protected["outcome"] == "accepted")
        tables[force] = (rows, protected)
    extra = forces_tables.across_forces(tables, M)
    assert ("accepted", "overall") in extra["Force A"]
    assert sum(("accepted", "overall") in extra[f] for f in ("Force B", "Force C")) == 1


def test_odds_ratios_and_funnel_hide_what_the_forces_appendix4_hides() -> None:
    """A cell of ``forces_odds_ratios`` and ``forces_funnel`` is hidden where the Appendix 4 cell it
    is computed from is, so the files never show what the other hides."""
    from msht.publish import forces_figures

    rows = {f: sdc.protect_associations(_force_rows(f), M, forced=forces_tables.force_cells(
        {("forces_appendix4", "Force A: offered", "victim_sex", "male", "n")}, f)) for f in FORCES}
    appendix4 = forces_tables.by_force(rows)
    odds = pd.DataFrame([{"force": f, "outcome": "offered", "factor": "victim_sex", "level": "male",
                          "reference": "female", "n": COUNTS[(f, "male")][1] + COUNTS[(f, "female")][1],
                          "a": COUNTS[(f, "male")][0], "b": COUNTS[(f, "male")][1] - COUNTS[(f, "male")][0],
                          "c": COUNTS[(f, "female")][0], "d": COUNTS[(f, "female")][1] - COUNTS[(f, "female")][0],
                          "odds_ratio": 1.0, "ci_low": 0.5, "ci_high": 2.0, "note": ""} for f in FORCES])
    out, _ = forces_figures.protect_odds_ratios(odds, M, appendix4)
    a = out.set_index("force")
    assert pd.isna(a.at["Force A", "a"]) and pd.isna(a.at["Force A", "odds_ratio"])  # forced in Force A's table
    assert pd.notna(a.at["Force B", "a"]) and pd.notna(a.at["Force B", "odds_ratio"])
    assert pd.isna(a.at["Force C", "a"]) and pd.isna(a.at["Force C", "c"])
    appendix4.loc[(appendix4["force"] == "Force B") & (appendix4["factor"] == "overall"), "denominator_suppressed"] = True
    funnel = pd.DataFrame([{"force": f, "outcome": "offered", "n": 200, "events": 90, "rate": 0.45,
                            "overall_rate": 0.45, "lower_95": 0.4, "upper_95": 0.5, "lower_998": 0.35,
                            "upper_998": 0.55, "position": "within 95%"} for f in FORCES])
    protected, _ = forces_figures.protect_funnel(funnel, M, appendix4)
    hidden = protected.set_index("force")["n"].isna()
    # exactly where the Appendix 4 overall row hides them (the same counts, published there); the
    # forces' overall rows protect each other in across_forces
    assert hidden.to_dict() == {"Force A": False, "Force B": True, "Force C": False}
    shown = forces_figures.funnel_display(protected).set_index("force")  # a hidden position is pd.NA
    assert shown.at["Force B", "rate"] == sdc.SECONDARY_MARK and shown.at["Force B", "position"] == sdc.SECONDARY_MARK


@pytest.fixture(scope="module")
def three_forces(root, make_forces_params) -> dict:
    """A run of three forces (one a tenth of the size) from the default params file."""
    return make_forces_params(root, [
        {"name": "Force A", "raw_dir": "data/raw/three/force_a", "seed": 1, "scale": 1},
        {"name": "Force B", "raw_dir": "data/raw/three/force_b", "seed": 2, "scale": 1},
        {"name": "Force C", "raw_dir": "data/raw/three/force_c", "seed": 3, "scale": 0.1},
    ])


@pytest.mark.parametrize("m", [0, 1, 2, 5, 10])
def test_a_run_of_several_forces_is_accepted_with_or_without_disclosure_control(three_forces, m: int) -> None:
    params = config.validate_params({**three_forces, "min_cell_count": m})
    assert params.is_multi_force and int(params.min_cell_count) == m


def test_national_params_as_a_release_load(root, tmp_path) -> None:
    """``params/national.yaml`` with ``min_cell_count: 5`` and a run name of its own is a release
    of several forces (:func:`msht.pipeline.protect_release` protects it); under the reference
    run's name it is refused, as a single force's release is."""
    raw = yaml.safe_load((root / "params" / "national.yaml").read_text())
    path = tmp_path / "national_release.yaml"
    path.write_text(yaml.safe_dump({**raw, "run_name": "national_release", "min_cell_count": 5}))
    assert int(config.load_params(path).min_cell_count) == 5
    path.write_text(yaml.safe_dump({**raw, "run_name": "default", "min_cell_count": 5}))
    with pytest.raises(config.ParamsError, match=r"national_release\.yaml: min_cell_count: 5 with run_name: default"):
        config.load_params(path)


def test_a_forced_overall_denominator_hides_the_forces_status_total_not_its_overall_count(cleaned_two) -> None:
    """The audit may choose a force's ``overall`` denominator of an outcome: the force's table then
    hides that outcome's number of cases with a status recorded (every denominator and test of the
    outcome), and keeps its ``overall`` count, which every factor's levels would give back."""
    forced = {("forces_appendix4", "Force A: offered", "overall", "overall", "denominator")}
    rows = forces_tables.appendix4_by_force(cleaned_two, M, 0.05, forced).rows
    mine = rows[(rows["force"] == "Force A") & (rows["outcome"] == "offered")]
    overall = mine[mine["factor"] == "overall"]
    assert overall["denominator"].isna().all() and overall["n"].notna().all()
    assert mine["denominator"].isna().all() and mine["p"].isna().all()
    other = rows[(rows["force"] == "Force B") & (rows["outcome"] == "offered") & (rows["factor"] == "overall")]
    assert other["denominator"].isna().all() and other["n"].notna().all()  # never one force's alone (across_forces)


@pytest.fixture(scope="module")
def cleaned_two(tmp_path_factory, root):
    """Two small forces cleaned (no run): for the per-force protection."""
    from msht.clean import forces as clean_forces
    from msht.synth.raw import write_extracts
    from msht.synth.sampler import sample_population

    folder = tmp_path_factory.mktemp("two_forces")
    forces = []
    for i, (name, n) in enumerate((("Force A", 200), ("Force B", 120))):
        raw = folder / name.replace(" ", "_").lower()
        raw.mkdir()
        write_extracts(sample_population(n, seed=60 + i), raw, seed=60 + i)
        forces.append({"name": name, "raw_dir": str(raw)})
    raw = yaml.safe_load((root / "params" / "default.yaml").read_text())
    for key in ("raw_dir", "seed", "scale"):
        raw.pop(key)
    raw.update(run_name="two", synthetic=False, processed_dir=str(folder / "processed"),
               results_dir=str(folder / "results"), report_dir=str(folder / "report"), forces=forces)
    params = config.validate_params(raw)
    return clean_forces.clean_forces(params, config.RunPaths.from_params(params), key=b"a fixed test key")


#: Victims of each force of the end-to-end release (Force B sends no offender extract).
RELEASE_SIZES: dict[str, int] = {"Force A": 300, "Force B": 150, "Force C": 200}


@pytest.fixture(scope="module")
def released(tmp_path_factory, root, in_process, make_sampled_forces) -> tuple[Path, Path, int]:
    """A release (``min_cell_count: 5``) of three small forces run as ``msht run`` runs one
    (:func:`msht.pipeline.protect_release`: notebooks 05, 02 and 03, in-process, again with the
    audit's complementary cells until it passes): (results folder, unprotected values folder, m)."""
    from msht import pipeline

    folder = tmp_path_factory.mktemp("forces_release")
    path = make_sampled_forces(root, folder, RELEASE_SIZES, seed=70, without_offenders="Force B",
                               run_name="forces_release_test", min_cell_count=M)
    pipeline.protect_release(path, root=root, runner=in_process)
    return folder / "results", folder / "processed" / results.UNPROTECTED_DIR, M


def _subtracted(out: Path) -> dict[tuple[str, ...], int]:
    """The subtraction attack on a release of several forces: each hidden count of a force's
    Appendix 4 (n or denominator) whose all-forces count is shown and whose every other force's
    count is shown (a force without the row has none) -> the all-forces count minus the others'."""
    combined = pd.read_csv(out / "associations.csv", dtype={"level": str}).set_index(["outcome", "factor", "level"])
    per = pd.read_csv(out / "forces_appendix4.csv", dtype={"level": str, "force": str})
    keyed = per.set_index(["force", "outcome", "factor", "level"])
    found = {}
    for r in per.itertuples():
        for column in ("n", "denominator"):
            key = (r.outcome, r.factor, r.level)
            if pd.notna(getattr(r, column)) or key not in combined.index or pd.isna(combined.at[key, column]):
                continue
            others = [keyed.at[(f, *key), column] for f in per["force"].unique()
                      if f != r.force and (f, *key) in keyed.index]
            if all(pd.notna(v) for v in others):
                found[(r.force, *key, column)] = int(combined.at[key, column] - sum(int(v) for v in others))
    return found


@pytest.mark.slow
def test_a_release_of_several_forces_is_safe_from_an_attacker_who_has_every_file(released) -> None:
    """Issue 19: a release of several forces completes, and an attacker with every published file
    gets no hidden count back: the subtraction attack (all-forces count minus the other forces')
    recovers nothing; the integer-programming audit of every file (per-force and combined), run
    again on the final release, leaves every required hidden count at least three values; no
    per-force file shows a count from 1 to m-1; every hidden count of a force's Appendix 4 is
    listed in ``suppression.csv``; the forces' blocks hidden across forces are withheld whole."""
    out, truth, m = released
    assert _subtracted(out) == {}
    frame = audit.audit(out, truth, m)
    assert not audit.narrow_cells(frame), audit.summary(frame)
    assert frame["cell"].str.startswith("forces_appendix4|").any()
    per = pd.read_csv(out / "forces_appendix4.csv", dtype={"level": str, "force": str})
    checks = {"forces_appendix4": ("n", "denominator"), "forces_funnel": ("events", "n"),
              "forces_odds_ratios": ("a", "b", "c", "d", "n"), "forces_pooled": ("n",)}
    for name, columns in checks.items():
        frame_ = pd.read_csv(out / f"{name}.csv")
        for column in columns:
            shown = pd.to_numeric(frame_[column], errors="coerce").dropna()
            assert not ((shown >= 1) & (shown < m)).any(), f"{name}.csv shows a {column} from 1 to {m - 1}"
    supp = pd.read_csv(out / "suppression.csv", dtype=str)
    listed = set(zip(supp["table"], supp["variable"], supp["level"], supp["column"]))
    for r in per.itertuples():
        for column in ("n", "denominator"):
            if pd.isna(getattr(r, column)):
                assert (f"{r.force}: {r.outcome}", r.factor, r.level, column) in listed, (r.force, r.factor, r.level)
    mine = supp[supp["file"] == "forces_appendix4"]
    hidden_blocks = mine.groupby("table")["variable"].nunique()
    assert (mine["reason"] == sdc.WITHHELD_ACROSS_FORCES).any() and len(hidden_blocks) >= 2
    _pooled_from_published_counts(out)


def _pooled_from_published_counts(out: Path) -> None:
    """Every published pooled odds ratio and CMH p of a two-level comparison is recomputed from the
    published per-force cells of the forces it pools (those its note does not leave out): each of
    them is shown, so the statistic tells nothing the cells do not; a withheld odds-ratio row
    publishes no note (a "zero cell" note would say a hidden cell is 0)."""
    from msht.analysis import stratified

    odds = pd.read_csv(out / "forces_odds_ratios.csv", dtype={"level": str, "reference": str, "force": str})
    withheld = odds[["a", "b", "c", "d"]].isna().any(axis=1)
    assert withheld.any() and odds.loc[withheld, "note"].isna().all()
    pooled = pd.read_csv(out / "forces_pooled.csv", dtype={"level": str, "reference": str})
    checked = 0
    for r in pooled[(pooled["method"] == stratified.METHOD_2X2) & pooled["mh_or"].notna()].itertuples():
        rows = odds[(odds["outcome"] == r.outcome) & (odds["factor"] == r.factor) & (odds["level"] == r.level)
                    & (odds["reference"] == r.reference) & ~odds["force"].isin(stratified.withheld_strata(r.note))]
        cells = rows[["a", "b", "c", "d"]]
        assert cells.notna().all().all(), (r.outcome, r.factor, r.level)
        res = stratified.mantel_haenszel(cells.to_numpy(dtype="int64").reshape(-1, 2, 2), list(rows["force"]))
        assert res.mh_or == pytest.approx(r.mh_or, rel=1e-5) and res.cmh_p == pytest.approx(r.cmh_p, rel=1e-5, abs=1e-12)
        checked += 1
    assert checked >= 10


def test_the_funnel_withholds_its_overall_rate_where_the_all_forces_status_total_is_hidden() -> None:
    """The funnel's overall rate is the all-forces events over the all-forces cases with a status
    recorded: where the combined tables hide that number (its unknown count is from 1 to m-1), the
    overall rate, the control limits drawn around it and every force's position are withheld, and
    listed in ``suppression.csv``; the other outcome's are kept."""
    from msht.publish import forces_figures

    funnel = pd.DataFrame([{"force": f, "outcome": o, "n": 200, "events": 90, "rate": 0.45, "overall_rate": 0.45,
                            "lower_95": 0.4, "upper_95": 0.5, "lower_998": 0.35, "upper_998": 0.55,
                            "position": "within 95%"} for f in FORCES for o in ("offered", "accepted")])
    out, supp = forces_figures.protect_funnel(funnel, M, combined_hidden={"accepted"})
    accepted, offered = out[out["outcome"] == "accepted"], out[out["outcome"] == "offered"]
    for column in ("overall_rate", "position", *forces_figures.FUNNEL_LIMITS):
        assert accepted[column].isna().all() and offered[column].notna().all(), column
    assert accepted["rate"].notna().all() and accepted["events"].notna().all()  # Appendix 4's, published there
    listed = supp[supp["table"] == "accepted"]
    assert set(listed["column"]) == {"overall_rate", "position", *forces_figures.FUNNEL_LIMITS}
    assert set(listed["reason"]) == {"test_withheld"}


def test_combined_status_hidden_sums_the_forces_overall_rows() -> None:
    """The all-forces number of cases with an acceptance status is the forces' sum: with 2 + 1 + 1
    cases offered support and no acceptance recorded (4, from 1 to m-1) the combined tables hide
    it, and with none they do not (nor does a run without disclosure control)."""
    rows = []
    for force, (offered_yes, accepted_d) in {"Force A": (113, 111), "Force B": (55, 54), "Force C": (65, 64)}.items():
        rows += [{"force": force, "outcome": "offered", "factor": "overall", "level": "overall", "n": offered_yes,
                  "denominator": 500},
                 {"force": force, "outcome": "accepted", "factor": "overall", "level": "overall", "n": 20,
                  "denominator": accepted_d}]
    rows = pd.DataFrame(rows)
    sizes = pd.DataFrame({"force": list(FORCES), "cases": [500, 500, 500]})
    assert forces_tables.combined_status_hidden(rows, sizes, M) == {"accepted"}
    assert forces_tables.combined_status_hidden(rows, sizes, 0) == set()
    full = rows.assign(denominator=rows["denominator"].where(rows["outcome"] == "offered", rows["n"].shift(1)))
    assert forces_tables.combined_status_hidden(full, sizes, M) == set()


def test_the_audit_links_accepted_within_offered_as_at_most_not_as_equal() -> None:
    """``accepted``'s denominator of a level is at most ``offered``'s n of the level: an equality
    added where it happens to hold would tell the attacker which levels hold the cases offered
    support with no acceptance recorded (and pin a small unknown count from the levels' sums)."""
    from msht.publish import audit_forces

    s = audit.System()
    for level, (offered_n, accepted_d) in {"male": (10, 10), "female": (12, 11)}.items():
        s.var(f"forces_appendix4|Force A: offered|victim_sex|{level}|n", offered_n, hidden=True)
        s.var(f"forces_appendix4|Force A: accepted|victim_sex|{level}|denominator", accepted_d, hidden=True)
    audit_forces._nested(s)
    assert len(s.rows) == 2 and all((lo, hi) == (-audit.BIG, 0) for lo, hi in zip(s.row_lo, s.row_hi, strict=True))
    combined = audit.System()
    combined.var("associations|offered|victim_sex|male|n", 10, hidden=True)
    combined.var("associations|accepted|victim_sex|male|denominator", 10, hidden=True)
    audit._cross_file(combined)
    assert [(lo, hi) for lo, hi in zip(combined.row_lo, combined.row_hi, strict=True)] == [(-audit.BIG, 0)]


def test_a_run_of_several_forces_never_chooses_a_count_given_by_the_forces_sum() -> None:
    """In a run of several forces an all-forces count is the sum of the forces' shown counts:
    hiding it would protect nothing, so the audit's choice skips it for the next cheapest linked
    count (a single force's choice is unchanged)."""
    s = audit.System()
    x = s.var("descriptives|section3_4|accepted|unknown|n", 4, hidden=True)
    y = s.var("descriptives|section3_4|accepted|yes|n", 66, hidden=False)
    z = s.var("descriptives|section3_4|accepted|no|n", 163, hidden=False)
    total = s.var("descriptives|section3_4|offered|yes|n", 233, hidden=False)
    s.equal([x, y, z], [total])
    parts = [s.var(f"forces_appendix4|{f}: accepted|overall|overall|n", v, hidden=False)
             for f, v in zip(FORCES, (29, 20, 17), strict=True)]
    s.equal([y], parts)
    narrow = [s.names[x]]
    assert audit.complementary(s, narrow) == {tuple(s.names[y].split("|"))}
    assert audit.complementary(s, narrow, skip_given=True) == {tuple(s.names[z].split("|"))}


def test_msht_says_in_one_line_that_a_force_is_too_small_to_release_with_the_others(root, monkeypatch, capsys) -> None:
    """A force too small to release with the others stops ``msht run`` in notebook 05: the command
    prints the error's one line (exit 2, a problem of the data and params), no traceback."""
    from papermill.exceptions import PapermillExecutionError

    from msht import cli, pipeline

    line = ("min_cell_count: 5 with forces: Force B has 3 cases with positive victim engagement (its Appendix 4 "
            "overall row), from 1 to 4: ...")

    def stopped(*args, **kwargs):
        raise PapermillExecutionError(7, 1, "forces_tables.refuse_small_forces(...)", "SmallForceError", line,
                                      ["Traceback ..."])

    monkeypatch.setattr(pipeline, "protect_release", stopped)
    assert cli.main(["run", "--params", str(root / "params" / "national.yaml")]) == 2
    err = capsys.readouterr().err
    assert err == f"msht: error: {line}\n"


def test_a_forces_appendix4_explains_blocks_withheld_across_forces_only_when_there_are_some() -> None:
    tables = {f: (_force_rows(f), sdc.protect_associations(_force_rows(f), M)) for f in FORCES}
    extra = forces_tables.across_forces(tables, M)
    shown = forces_tables.by_force({f: sdc.protect_associations(t, M) for f, (t, _) in tables.items()})
    assert forces_tables.across_forces_note(shown) == ""
    withheld = forces_tables.by_force({f: sdc.protect_associations(t, M, withheld=frozenset(extra[f]))
                                        for f, (t, _) in tables.items()})
    assert forces_tables.across_forces_note(withheld) == forces_tables.WITHHELD_ACROSS_FORCES_NOTE
