"""Benchmark (``make bench``): time and peak memory of each stage at several synthetic scales.

Each stage runs in its own child process, so its peak memory (max RSS) is its own; its time is
measured inside that process after the imports (``inner_seconds``) and from outside
(``seconds``, start-up included). The floor is the time pyarrow takes simply to read the same
CSV files; each stage is reported as a ratio to it. The default run is also timed end to end
(``msht data``, ``msht run``, ``msht report`` without Quarto), and the targets of the project's
issue 18 are checked (scale 100 within 15 s and 1.5 GB, cost growing no faster than the data
from scale 10 to 100, scale 1000 within the machine's memory). Scales above 100 are built by
tiling the scale-100 extracts with disjoint identifiers (:func:`tile_extracts`): the generator
would take most of an hour for scale 1000. Results go to ``_output/bench/``: ``bench.csv`` (every stage),
``summary.csv`` (per scale), ``targets.csv`` and ``bench.png`` (time against size); the tables
are printed. POSIX only (children are measured with ``os.wait4``).

Usage: ``python -m msht.bench [--scales 1 10 100] [--out _output/bench]``

The national row (issue 19), on its own: ``python -m msht.bench --forces 43`` runs 43 forces of
the published size through cleaning (each force on its own) and the pooled analysis, in one child
process, and checks it against the national-scale target (``national.csv``,
``national_targets.csv``); the forces' extracts are generated once under ``_output/bench/national/``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from msht.config import load_params, project_root

if TYPE_CHECKING:
    import nbformat

#: Stages timed at each scale, each in its own process. ``ingest+clean`` reads the extracts again
#: (a stage's input is what the user would have), so cleaning alone is its time minus ``ingest``.
STAGES = ("generate", "floor", "ingest", "ingest+clean", "descriptives", "associations")
#: Targets of issue 18 (seconds, MB, growth exponent), checked by :func:`targets`.
TARGET_SECONDS_SCALE100 = 15.0
TARGET_PEAK_MB_SCALE100 = 1500.0
TARGET_GROWTH_EXPONENT = 1.0
#: Scale 1000 (about 35 M rows) must complete within the machine's memory (24 GB).
TARGET_PEAK_MB_SCALE1000 = 24 * 1024.0
#: Scales above this one are tiled from its extracts (:func:`tile_extracts`).
TILE_BASE_SCALE = 100
TARGET_REPORT_SECONDS = 30.0
TARGET_GENERATE_SECONDS = 60.0
REPORT_STAGE = "report without Quarto (msht report)"
CHECK_STAGE = "check the default twin (msht check)"
#: Issue 17: ``msht check`` lists every problem of the default twin in under 5 s (command included).
TARGET_CHECK_SECONDS = 5.0
GENERATE_STAGE = "generate default twin (msht data)"
#: Target of issue 18: ``msht run`` in at most this share of its floor, four bare notebook runs.
TARGET_RUN_TO_FLOOR = 0.6
RUN_STAGE = "msht run, 4 notebooks (median)"
BARE_STAGE = "4 bare notebooks: floor of msht run (median)"
#: What the bare notebook imports besides the notebooks' own import lines: every heavy library
#: any notebook uses, all at once, as a notebook importing everything would.
FLOOR_LIBRARIES = ("pandas", "scipy.stats", "statsmodels.api", "matplotlib.pyplot", "great_tables")
#: A child process that runs a notebook ``argv[3]`` times with papermill, one after the other,
#: with the kernel options of ``msht run`` (:func:`msht.pipeline.kernel_options`).
_BARE_RUNS = """
import sys, tempfile
from pathlib import Path
import papermill as pm
from msht.pipeline import kernel_options
source, target, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with tempfile.TemporaryDirectory(prefix="msht-kernel-") as sockets:
    for _ in range(count):
        pm.execute_notebook(str(source), target, cwd=str(source.parent), kernel_name="python3", progress_bar=False,
                            log_output=False, report_mode=False, **kernel_options(Path(sockets)))
"""


def rss_mb(maxrss: int, platform: str = sys.platform) -> float:
    """``ru_maxrss`` in MB: the kernel reports kilobytes on Linux, bytes on macOS."""
    return maxrss / (1024 * 1024 if platform == "darwin" else 1024)


def _warm_up() -> None:
    """Import what the stages use, so that a stage's own time leaves out the fixed start-up cost
    (as the floor leaves out pyarrow's first call)."""
    import pyarrow.compute  # noqa: F401
    import pyarrow.csv  # noqa: F401

    from msht.analysis import associate, describe  # noqa: F401
    from msht.clean import rules as clean  # noqa: F401
    from msht.ingest import extracts as ingest  # noqa: F401
    from msht.synth import population, raw  # noqa: F401

    ingest.load_dictionary()
    load_params(project_root() / "params" / "default.yaml")


def _stage(stage: str, raw: Path, work: Path, scale: int, seed: int) -> dict:
    """Run one stage in this process; return what it counted."""
    from msht.analysis import associate, describe
    from msht.clean import rules as clean
    from msht.ingest import extracts as ingest

    params = load_params(project_root() / "params" / "default.yaml")
    if stage == "generate":
        from msht.synth.population import build_population
        from msht.synth.raw import write_extracts

        if scale > TILE_BASE_SCALE and scale % TILE_BASE_SCALE == 0:
            base = raw.parent.parent / f"scale{TILE_BASE_SCALE}" / "raw"
            if not (base / "cases.csv").exists():
                write_extracts(build_population(seed=seed, scale=TILE_BASE_SCALE), base, seed=seed)
            return {"rows": tile_extracts(base, raw, scale // TILE_BASE_SCALE)}
        pop = build_population(seed=seed, scale=scale)
        write_extracts(pop, raw, seed=seed)
        return {"rows": int(len(pop.cases))}
    if stage == "floor":
        import pyarrow.csv as pacsv

        pacsv.read_csv(ingest.find_extract(raw, "offenders"))  # warm-up: import and first-call costs
        start = time.perf_counter()  # the floor is the reading alone
        rows = sum(pacsv.read_csv(ingest.find_extract(raw, name)).num_rows for name in ingest.EXTRACTS)
        return {"rows": rows, "seconds": round(time.perf_counter() - start, 3)}
    if stage == "ingest":
        extracts = ingest.read_all(raw)
        return {"rows": sum(len(e.frame) for e in extracts.values())}
    if stage == "ingest+clean":
        result = clean.clean_extracts(ingest.read_all(raw), params, key=b"bench")
        clean.write_tables(result, work)
        return {"rows": len(result.cases)}
    data = clean.read_tables(work)
    if stage == "descriptives":
        parts = describe.section3(
            data["cases"], data["victims"], data["offenders"],
            outlier_min_entries=params.outlier_min_entries,
            years=describe.period_years(params.period_start, params.period_end),
        )
        return {"rows": len(describe.combine(parts))}
    if stage == "associations":
        rows, _ = associate.run_all(data["cases"], data["offenders"])
        return {"rows": len(rows)}
    raise ValueError(f"unknown stage {stage}")


#: Identifier columns of each extract file, made disjoint between tiles by :func:`tile_extracts`.
TILE_ID_COLUMNS = {
    "cases": ("occurrence_number", "victim_person_id"),
    "victims": ("occurrence_number", "person_id"),
    "police_records": ("person_id", "incident_reference"),
    "offenders": ("occurrence_number", "offender_person_id"),
}


def tile_extracts(base: Path, raw: Path, times: int) -> int:
    """Write into ``raw`` the extracts of ``base`` repeated ``times`` times, each copy with its
    own identifiers (``T<k>_`` inserted before an identifier's first digit, so that spaces,
    invisible characters and missing-value markers, which hold no digit, stay as they were and
    the copies link among themselves only). Returns the case entries written. Every cell is read
    and written as text (pyarrow), blank cells included."""
    import pyarrow as pa_
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    raw.mkdir(parents=True, exist_ok=True)
    cases = 0
    for name, ids in TILE_ID_COLUMNS.items():
        src = base / f"{name}.csv"
        with src.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle))
        table = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(
            column_types={c: pa_.string() for c in header}, strings_can_be_null=False))
        tiles = []
        for k in range(times):
            tile = table
            for col in ids:
                tagged = pc.replace_substring_regex(tile[col], "([0-9])", f"T{k}_\\1", max_replacements=1)
                tile = tile.set_column(tile.schema.get_field_index(col), col, tagged)
            tiles.append(tile)
        out = pa_.concat_tables(tiles)
        try:  # unquoted, as the generator writes; quoted where a value needs it
            pacsv.write_csv(out, raw / f"{name}.csv", pacsv.WriteOptions(quoting_style="none"))
        except pa_.ArrowInvalid:
            pacsv.write_csv(out, raw / f"{name}.csv", pacsv.WriteOptions(quoting_style="needed"))
        del tiles, out
        cases += table.num_rows * times if name == "cases" else 0
    return cases


def child_report(cmd: list[str], what: str) -> tuple[float, dict]:
    """Run a benchmark child process ``cmd``; return its wall seconds and the JSON object it prints
    on its last line. Raises RuntimeError naming ``what`` with the end of its stderr when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{what} failed:\n{proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def run_child(stage: str, raw: Path, work: Path, scale: int, seed: int) -> dict:
    """Run a stage in a child process; return wall seconds, peak RSS (MB) and its count."""
    cmd = [sys.executable, "-m", "msht.bench", "--child", stage, str(raw), str(work), str(scale), str(seed)]
    wall, info = child_report(cmd, f"stage {stage} at scale {scale}")
    return {"stage": stage, "scale": scale, "seconds": round(wall, 2), "inner_seconds": info["seconds"],
            "peak_mb": info["peak_mb"], "rows": info["rows"]}


def timed(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Run ``cmd``; return its wall seconds and peak RSS in MB (the largest of it and its children).

    Raises RuntimeError with the end of its stderr when it fails.
    """
    start = time.perf_counter()
    with subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          errors="replace") as proc:
        try:
            err = proc.stderr.read() if proc.stderr else ""
            _, status, usage = os.wait4(proc.pid, 0)  # POSIX: the child's own resource usage
        except BaseException:
            proc.kill()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, rss_mb(usage.ru_maxrss)


def end_to_end(root: Path, out: Path) -> list[dict]:
    """Time the default run end to end, as a user runs it, into a scratch folder under ``out``.

    Rows: generating the default twin from scratch (``msht data``), checking it (``msht check``,
    every injected recording problem listed; the process's start-up included), the papermill run of every
    notebook (``msht run``), and ``msht report`` without Quarto once the environment and the
    extracts exist (papermill run plus the HTML fallback). Quarto is turned off
    (``MSHT_NO_QUARTO=1``), so the figure is the same on a machine that has it.
    """
    import yaml

    from msht.pipeline import NOTEBOOKS

    params = yaml.safe_load((root / "params" / "default.yaml").read_text())
    scratch = out.relative_to(root) if out.is_relative_to(root) else out
    params.update({"run_name": "bench", "raw_dir": f"{scratch}/default/raw", "processed_dir": f"{scratch}/default/processed",
                   "results_dir": f"{scratch}/default/results", "report_dir": f"{scratch}/default/report"})
    path = out / "bench_params.yaml"
    path.write_text(yaml.safe_dump(params))
    raw = root / params["raw_dir"]
    if raw.exists():
        shutil.rmtree(raw)
    env = dict(os.environ, MSHT_NO_QUARTO="1", MSHT_PROGRESS="0")
    cli = [sys.executable, "-m", "msht.cli"]
    rows = []
    for stage, command in ((GENERATE_STAGE, "data"), (CHECK_STAGE, "check"),
                           (f"papermill, {len(NOTEBOOKS)} notebooks (msht run)", "run"), (REPORT_STAGE, "report")):
        wall, peak = timed([*cli, command, "--params", str(path)], env=env, cwd=root)
        rows.append({"stage": stage, "scale": 1, "seconds": round(wall, 2), "inner_seconds": round(wall, 2),
                     "peak_mb": round(peak, 1), "rows": 0})
        print(f"scale    1  {stage:<38} {wall:>8.2f} s  peak {peak:>8.1f} MB", flush=True)
    return rows


def bare_notebook(root: Path) -> nbformat.NotebookNode:
    """The floor of ``msht run``: a notebook of one cell that only imports, with every import line
    of the four notebooks (``msht``'s modules, IPython) and :data:`FLOOR_LIBRARIES`."""
    import nbformat

    from msht.config import NOTEBOOKS, notebooks_dir

    lines = [f"import {name}" for name in FLOOR_LIBRARIES]
    for name in NOTEBOOKS:
        for cell in nbformat.read(notebooks_dir(root) / name, as_version=4).cells:
            if cell.cell_type == "code":
                lines += [line for line in cell.source.splitlines() if line.startswith(("import ", "from "))]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("\n".join(dict.fromkeys(lines)))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def run_against_floor(root: Path, params_path: Path, out: Path, repeats: int = 3) -> list[dict]:
    """Time ``msht run`` with ``params_path`` (its extracts must exist) and its floor, four papermill
    runs of :func:`bare_notebook` in one process, each ``repeats`` times in turn (so that both see
    the same load on a shared machine); return two rows with the median seconds and the largest
    peak memory. The floor pays what every notebook pays whatever it does: a kernel, and the
    imports. Raises RuntimeError when a run fails."""
    import nbformat

    from msht.config import NOTEBOOKS

    bare = out / "bare.ipynb"
    nbformat.write(bare_notebook(root), bare)
    env = dict(os.environ, MSHT_NO_QUARTO="1", MSHT_PROGRESS="0")
    commands = {
        BARE_STAGE: [sys.executable, "-c", _BARE_RUNS, str(bare), str(out / "bare_out.ipynb"), str(len(NOTEBOOKS))],
        RUN_STAGE: [sys.executable, "-m", "msht.cli", "run", "--params", str(params_path)],
    }
    times: dict[str, list[tuple[float, float]]] = {stage: [] for stage in commands}
    for _ in range(repeats):
        for stage, cmd in commands.items():
            times[stage].append(timed(cmd, env=env, cwd=root))
    rows = []
    for stage, measured in times.items():
        wall = float(np.median([w for w, _ in measured]))
        peak = max(p for _, p in measured)
        rows.append({"stage": stage, "scale": 1, "seconds": round(wall, 2), "inner_seconds": round(wall, 2),
                     "peak_mb": round(peak, 1), "rows": 0})
        print(f"scale    1  {stage:<38} {wall:>8.2f} s  peak {peak:>8.1f} MB  "
              f"(runs: {', '.join(f'{w:.2f}' for w, _ in measured)} s)", flush=True)
    return rows


def run_targets(table: pd.DataFrame) -> pd.DataFrame:
    """Issue 18's target for the default report: ``msht run`` over its floor (:func:`run_against_floor`),
    in the columns of :func:`targets` (NaN and ``met`` unknown when not measured)."""
    seconds = table.set_index("stage")["seconds"]
    ratio = seconds[RUN_STAGE] / seconds[BARE_STAGE] if {RUN_STAGE, BARE_STAGE} <= set(seconds.index) else float("nan")
    frame = pd.DataFrame({"target": ["msht run / four bare notebook runs"], "measured": [round(ratio, 2)],
                          "limit": [TARGET_RUN_TO_FLOOR]})
    frame["met"] = (frame["measured"] <= frame["limit"]).where(frame["measured"].notna())
    return frame


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="msht.bench", description=__doc__)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--out", default="_output/bench")
    parser.add_argument("--notebook-repeats", type=int, default=3, help="runs of msht run and of its floor (median)")
    parser.add_argument("--child", nargs=5, metavar=("STAGE", "RAW", "WORK", "SCALE", "SEED"), help=argparse.SUPPRESS)
    parser.add_argument("--forces", type=int, metavar="N",
                        help="run only the national row: N forces of the published size (issue 19; e.g. 43)")
    parser.add_argument("--distinct-seeds", type=int, default=NATIONAL_DISTINCT_SEEDS, metavar="K",
                        help="national row: calibrate K distinct populations and share them among the forces "
                             "(default: %(default)s)")
    parser.add_argument("--national-child", nargs=4, metavar=("FORCES", "WORK", "N", "K"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.national_child:
        forces_root, work, n_forces, distinct = args.national_child
        return _national_child(Path(forces_root), Path(work), int(n_forces), int(distinct))
    if args.forces:
        return national_main(project_root() / args.out, args.forces, args.distinct_seeds)
    if args.child:
        import resource

        stage, raw, work, scale, seed = args.child
        _warm_up()
        start = time.perf_counter()
        info = _stage(stage, Path(raw), Path(work), int(scale), int(seed))
        info.setdefault("seconds", round(time.perf_counter() - start, 3))
        info["peak_mb"] = round(rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), 1)
        print(json.dumps(info))
        return 0
    root = project_root()
    out = root / args.out
    out.mkdir(parents=True, exist_ok=True)
    seed = load_params(root / "params" / "default.yaml").seed
    rows = []
    for scale in args.scales:
        raw, work = out / f"scale{scale}" / "raw", out / f"scale{scale}" / "processed"
        floor = 0.0
        for stage in STAGES:
            row = run_child(stage, raw, work, scale, seed)
            rows.append(row)
            floor = row["inner_seconds"] if stage == "floor" else floor
            ratio = f"  {row['inner_seconds'] / floor:>6.1f} x floor" if stage in STAGES[2:] and floor else ""
            print(f"scale {scale:>4}  {stage:<13} {row['seconds']:>8.2f} s  inner {row['inner_seconds']:>8.2f} s  "
                  f"peak {row['peak_mb']:>8.1f} MB{ratio}", flush=True)
    rows.extend(end_to_end(root, out))
    rows.extend(run_against_floor(root, out / "bench_params.yaml", out, args.notebook_repeats))
    table = with_ratios(pd.DataFrame(rows))
    table.to_csv(out / "bench.csv", index=False)
    per_scale = summary(table)
    per_scale.to_csv(out / "summary.csv", index=False)
    checks = pd.concat([targets(table), run_targets(table)], ignore_index=True)
    checks.to_csv(out / "targets.csv", index=False)
    _plot(table, out / "bench.png")
    print()
    print(table.to_string(index=False))
    print()
    print("per scale (seconds inside each stage's process; peak = largest stage):")
    print(per_scale.to_string(index=False))
    print()
    print("targets:")
    print(checks.to_string(index=False))
    print(f"\nwritten: {out / 'bench.csv'}, summary.csv, targets.csv, bench.png")
    return 0


def with_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``ratio_to_floor``: each stage's inner seconds over the pyarrow floor at its scale
    (reading and later stages only; NaN for the others)."""
    floor = table[table["stage"] == "floor"].set_index("scale")["inner_seconds"]
    ratio = table["inner_seconds"] / table["scale"].map(floor)
    return table.assign(ratio_to_floor=ratio.where(table["stage"].isin(STAGES[2:])).round(1))


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per scale: ``floor, ingest, clean`` (alone), ``analysis`` (descriptives plus
    associations), ``total`` (ingest, cleaning and analysis), ``peak_mb``, the total's ratio to
    the floor, and its ``growth_exponent`` from the previous scale (1: linear in the data)."""
    stages = table[table["stage"].isin(STAGES)].pivot(index="scale", columns="stage", values="inner_seconds")
    peak = table[table["stage"].isin(STAGES[2:])].groupby("scale")["peak_mb"].max()
    out = pd.DataFrame({
        "scale": stages.index,
        "floor": stages["floor"].to_numpy(),
        "ingest": stages["ingest"].to_numpy(),
        "clean": (stages["ingest+clean"] - stages["ingest"]).to_numpy(),
        "analysis": (stages["descriptives"] + stages["associations"]).to_numpy(),
        "total": (stages["ingest+clean"] + stages["descriptives"] + stages["associations"]).to_numpy(),
        "peak_mb": peak.reindex(stages.index).to_numpy(),
    })
    out["total_ratio_to_floor"] = out["total"] / out["floor"]
    # slope of log(total) against log(scale) from the previous scale: 1 is growth in a straight
    # line with the data, below 1 is fixed costs still being paid off, above 1 is worse than linear
    out["growth_exponent"] = np.log(out["total"] / out["total"].shift()) / np.log(out["scale"] / out["scale"].shift())
    return out.round(2).reset_index(drop=True)


def targets(table: pd.DataFrame) -> pd.DataFrame:
    """The issue's targets, each with its measured value and ``met`` (NaN measure when not run)."""
    per = summary(table).set_index("scale")
    nan = float("nan")

    def at(scale: int, column: str) -> float:
        return float(per.at[scale, column]) if scale in per.index else nan

    def stage(name: str) -> float:
        hit = table.loc[table["stage"] == name, "seconds"]
        return float(hit.iloc[0]) if len(hit) else nan

    rows = [
        ("scale 100: ingest, cleaning and analysis (s)", at(100, "total"), TARGET_SECONDS_SCALE100),
        ("scale 100: peak memory (MB)", at(100, "peak_mb"), TARGET_PEAK_MB_SCALE100),
        ("growth exponent, scale 10 to 100", float(np.log(at(100, "total") / at(10, "total")) / np.log(10)),
         TARGET_GROWTH_EXPONENT),
        ("scale 1000: peak memory (MB)", at(1000, "peak_mb"), TARGET_PEAK_MB_SCALE1000),
        ("default report without Quarto, extracts present (s)", stage(REPORT_STAGE), TARGET_REPORT_SECONDS),
        ("generate the default twin from scratch (s)", stage(GENERATE_STAGE), TARGET_GENERATE_SECONDS),
        ("msht check of the default twin, command included (s)", stage(CHECK_STAGE), TARGET_CHECK_SECONDS),
    ]
    frame = pd.DataFrame(rows, columns=["target", "measured", "limit"])
    frame["measured"] = frame["measured"].round(2)
    frame["met"] = (frame["measured"] <= frame["limit"]).where(frame["measured"].notna())
    return frame


def _plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for stage, block in table[table["stage"].isin(STAGES)].groupby("stage"):
        ax.plot(block["scale"], block["inner_seconds"], marker="o", label=stage)
    base = table[(table["stage"] == "ingest+clean")].sort_values("scale")
    if len(base) > 1:  # a line with slope 1: cost growing in proportion to the data
        first = base.iloc[0]
        ax.plot(base["scale"], first["inner_seconds"] * base["scale"] / first["scale"], ls=":", color="grey",
                label="linear growth from ingest+clean")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("scale (1 = published size)")
    ax.set_ylabel("seconds (inside the stage's process)")
    ax.set_title("Time of each stage against the size of the extracts", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


# =============================================================================================
# The national row (issue 19): many forces of the published size, cleaned one by one, then pooled
# =============================================================================================

#: The national row's forces share this many calibrated populations (one calibration each, the
#: slow part of generating a force); each force's extracts are written from its population with
#: the force's own seed, so their recording problems, and so their raw rows, differ.
NATIONAL_DISTINCT_SEEDS = 4
#: First seed of the national row's forces (force i has seed NATIONAL_FIRST_SEED + i - 1).
NATIONAL_FIRST_SEED = 1001
NATIONAL_STAGES = ("national: ingest+clean each force, pool", "national: pooled analysis", "national: total")


def national_seeds(n_forces: int, distinct: int) -> list[tuple[str, int, int]]:
    """The national row's forces: (folder name, population seed, extract seed) of each of
    ``n_forces`` forces, sharing ``distinct`` calibrated populations in turn (the folder name
    holds both seeds, so a cached force is never taken for another).

    Raises ``ValueError`` unless both counts are at least 1."""
    if n_forces < 1 or distinct < 1:
        raise ValueError(f"need at least one force and one distinct seed, got {n_forces} and {distinct}")
    plan = [(i, NATIONAL_FIRST_SEED + (i - 1) % distinct, NATIONAL_FIRST_SEED + i - 1) for i in range(1, n_forces + 1)]
    return [(f"force_{i:02d}_population{pop}_extracts{own}", pop, own) for i, pop, own in plan]


def national_forces(folder: Path, n_forces: int, distinct: int = NATIONAL_DISTINCT_SEEDS) -> list[Path]:
    """Write (once: a force whose extracts are present is kept) the extracts of ``n_forces``
    synthetic forces of the published size into ``folder`` (one subfolder each,
    :func:`national_seeds`). Returns their folders, in order."""
    from msht.synth.generate import extracts_present
    from msht.synth.population import build_population
    from msht.synth.raw import write_extracts

    plan = national_seeds(n_forces, distinct)
    for population_seed in dict.fromkeys(seed for _, seed, _ in plan):  # one calibration per distinct seed
        todo = [(name, own) for name, seed, own in plan if seed == population_seed and not extracts_present(folder / name)]
        if todo:
            pop = build_population(seed=population_seed, scale=1)
            for name, own in todo:
                write_extracts(pop, folder / name, seed=own)
    return [folder / name for name, _, _ in plan]


def national_params(forces: list[Path], work: Path):
    """A run of the forces in ``forces`` (:class:`msht.config.Params` with ``forces:``): the
    default run's keys, one force per folder (named after it), the processed tables under
    ``work``."""
    import yaml

    from msht.config import validate_params

    raw = yaml.safe_load((project_root() / "params" / "default.yaml").read_text(encoding="utf-8"))
    for key in ("raw_dir", "seed", "scale"):
        raw.pop(key)
    raw.update({"run_name": "bench_national", "processed_dir": str(work / "processed"),
                "results_dir": str(work / "results"), "report_dir": str(work / "report"),
                "forces": [{"name": folder.name, "raw_dir": str(folder), "seed": 0} for folder in forces]})
    return validate_params(raw, source="the national bench row")


def national_stage(forces: list[Path], work: Path) -> dict:
    """Run the national analysis in this process as a run with ``forces:`` does: each force's
    extracts read, validated, pseudonymised (a key per force) and cleaned on its own, its tables
    written, and the forces' tables combined with a ``force`` column
    (:func:`msht.clean.forces.clean_forces`); then the stratified tests of every Appendix 4 pair
    and the funnel rates of support offered and accepted (:mod:`msht.analysis.stratified`).
    Returns the wall and CPU seconds (user and system, this process: the cost whatever else the
    machine runs) of each part and the pooled counts."""
    from msht.analysis import stratified
    from msht.clean import forces as clean_forces
    from msht.config import RunPaths

    params = national_params(forces, work)
    start, start_cpu = time.perf_counter(), time.process_time()
    pooled_tables = clean_forces.clean_forces(params, RunPaths.from_params(params), key=b"bench").tables
    cleaned, cleaned_cpu = time.perf_counter(), time.process_time()
    cases, offenders = pooled_tables["cases"], pooled_tables["offenders"]
    pooled = stratified.stratified_tests(cases, offenders, stratum="force", alpha=params.alpha)
    funnels = [stratified.funnel_rates(cases, stratum="force", outcome=o) for o in ("offered", "accepted")]
    end, end_cpu = time.perf_counter(), time.process_time()
    return {"clean_seconds": round(cleaned - start, 3), "analysis_seconds": round(end - cleaned, 3),
            "seconds": round(end - start, 3), "clean_cpu_seconds": round(cleaned_cpu - start_cpu, 2),
            "analysis_cpu_seconds": round(end_cpu - cleaned_cpu, 2), "cpu_seconds": round(end_cpu - start_cpu, 2),
            "cases": len(cases), "pooled_rows": len(pooled), "funnel_rows": sum(len(f) for f in funnels)}


def _national_child(forces_root: Path, work: Path, n_forces: int, distinct: int) -> int:
    """``--national-child``: :func:`national_stage` on the folders of :func:`national_seeds` in
    ``forces_root``, after the imports; print its counts, seconds and peak memory as JSON."""
    import resource

    _warm_up()
    from msht.analysis import stratified  # noqa: F401 - imported before the clock starts, as the stages' modules
    from msht.clean import forces  # noqa: F401

    info = national_stage([forces_root / name for name, _, _ in national_seeds(n_forces, distinct)], work)
    info["peak_mb"] = round(rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), 1)
    print(json.dumps(info))
    return 0


def national(out: Path, n_forces: int, distinct: int = NATIONAL_DISTINCT_SEEDS) -> pd.DataFrame:
    """The national row: ``n_forces`` forces of the published size (generated once under
    ``out/national/raw``) through cleaning and the pooled analysis in one child process
    (:func:`national_stage`). One row per part (:data:`NATIONAL_STAGES`): seconds inside the
    child (``inner_seconds``; the total's ``seconds`` is the child's wall time, start-up
    included), its CPU seconds (``cpu_seconds``, user and system: the cost whatever else the
    machine runs; on an idle machine the stage, single-threaded, takes about that long), the
    child's peak memory, and the cases pooled."""
    raw, work = out / "national" / "raw", out / "national" / "processed"
    national_forces(raw, n_forces, distinct)
    shutil.rmtree(work, ignore_errors=True)
    cmd = [sys.executable, "-m", "msht.bench", "--national-child", str(raw), str(work), str(n_forces), str(distinct)]
    wall, info = child_report(cmd, f"the national row ({n_forces} forces)")
    inner = (info["clean_seconds"], info["analysis_seconds"], info["seconds"])
    cpu = (info["clean_cpu_seconds"], info["analysis_cpu_seconds"], info["cpu_seconds"])
    return pd.DataFrame({"stage": NATIONAL_STAGES, "forces": n_forces, "cases": info["cases"],
                         "seconds": [round(wall, 2) if s == NATIONAL_STAGES[-1] else s for s in inner],
                         "inner_seconds": inner, "cpu_seconds": cpu, "peak_mb": info["peak_mb"]})


def national_targets(table: pd.DataFrame) -> pd.DataFrame:
    """The national row against the national-scale target (the scale-100 target: time inside
    the child for ingest, cleaning and the pooled analysis, as wall seconds and as CPU seconds,
    which a shared machine does not inflate; the child's peak memory)."""
    total = table[table["stage"] == NATIONAL_STAGES[-1]].iloc[0]
    n = int(total["forces"])
    rows = [(f"{n} forces: ingest, cleaning and pooled analysis (s)", float(total["inner_seconds"]), TARGET_SECONDS_SCALE100),
            (f"{n} forces: the same in CPU seconds (s, the time on an idle core)", float(total["cpu_seconds"]),
             TARGET_SECONDS_SCALE100),
            (f"{n} forces: peak memory (MB)", float(total["peak_mb"]), TARGET_PEAK_MB_SCALE100)]
    frame = pd.DataFrame(rows, columns=["target", "measured", "limit"])
    frame["measured"] = frame["measured"].round(2)
    frame["met"] = frame["measured"] <= frame["limit"]
    return frame


def national_main(out: Path, n_forces: int, distinct: int = NATIONAL_DISTINCT_SEEDS) -> int:
    """``--forces N``: run the national row, write ``national.csv`` and ``national_targets.csv``
    to ``out`` and print both."""
    out.mkdir(parents=True, exist_ok=True)
    table = national(out, n_forces, distinct)
    checks = national_targets(table)
    table.to_csv(out / "national.csv", index=False)
    checks.to_csv(out / "national_targets.csv", index=False)
    print(table.to_string(index=False))
    print()
    print("targets:")
    print(checks.to_string(index=False))
    print(f"\nwritten: {out / 'national.csv'}, national_targets.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
