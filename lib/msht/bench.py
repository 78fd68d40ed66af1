"""Benchmark (``make bench``): time and peak memory of each stage at several synthetic scales.

Each stage runs in its own child process, so its peak memory (max RSS) is its own. The floor is
the time pyarrow takes simply to read the same CSV files; each stage is reported as a ratio to
it. Results go to ``_output/bench/bench.csv`` and ``bench.png``, and a table is printed.

Usage: ``python -m msht.bench [--scales 1 10 100] [--out _output/bench]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from msht.config import load_params, project_root

STAGES = ("generate", "floor", "ingest", "clean", "descriptives", "associations")


def _stage(stage: str, raw: Path, work: Path, scale: int, seed: int) -> dict:
    """Run one stage in this process; return what it counted."""
    from msht import associate, clean, describe, ingest
    from msht.config import load_params as _lp

    params = _lp(project_root() / "params" / "default.yaml")
    if stage == "generate":
        from msht.synth.population import build_population
        from msht.synth.raw import write_extracts

        pop = build_population(seed=seed, scale=scale)
        write_extracts(pop, raw, seed=seed)
        return {"rows": int(len(pop.cases))}
    if stage == "floor":
        import pyarrow.csv as pacsv

        pacsv.read_csv(ingest.find_extract(raw, "offenders"))  # warm-up: import and first-call costs
        rows = 0
        for name in ingest.EXTRACTS:
            rows += pacsv.read_csv(ingest.find_extract(raw, name)).num_rows
        return {"rows": rows}
    if stage == "ingest":
        extracts = ingest.read_all(raw)
        return {"rows": sum(len(e.frame) for e in extracts.values())}
    if stage == "clean":
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


def run_child(stage: str, raw: Path, work: Path, scale: int, seed: int) -> dict:
    """Run a stage in a child process; return wall seconds, peak RSS (MB) and its count."""
    cmd = [sys.executable, "-m", "msht.bench", "--child", stage, str(raw), str(work), str(scale), str(seed)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"stage {stage} at scale {scale} failed:\n{proc.stderr[-2000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"stage": stage, "scale": scale, "seconds": round(wall, 2), "inner_seconds": info["seconds"],
            "peak_mb": info["peak_mb"], "rows": info["rows"]}


def papermill_run(root: Path) -> dict:
    """Time the whole default papermill run (without rendering) into a scratch results folder."""
    import yaml

    from msht.pipeline import run_notebooks

    params = yaml.safe_load((root / "params" / "default.yaml").read_text())
    params.update({"run_name": "bench", "processed_dir": "_output/bench/processed", "results_dir": "_output/bench/results",
                   "report_dir": "_output/bench/report"})
    path = root / "_output" / "bench" / "bench_params.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(params))
    start = time.perf_counter()
    run_notebooks(path, log=lambda *_: None)
    return {"stage": "papermill (3 notebooks)", "scale": 1, "seconds": round(time.perf_counter() - start, 2),
            "inner_seconds": float("nan"), "peak_mb": float("nan"), "rows": 0}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="msht.bench", description=__doc__)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--out", default="_output/bench")
    parser.add_argument("--child", nargs=5, metavar=("STAGE", "RAW", "WORK", "SCALE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        stage, raw, work, scale, seed = args.child
        start = time.perf_counter()
        info = _stage(stage, Path(raw), Path(work), int(scale), int(seed))
        info["seconds"] = round(time.perf_counter() - start, 3)
        info["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(info))
        return 0
    root = project_root()
    out = root / args.out
    out.mkdir(parents=True, exist_ok=True)
    seed = load_params(root / "params" / "default.yaml").seed
    rows = []
    for scale in args.scales:
        raw, work = out / f"scale{scale}" / "raw", out / f"scale{scale}" / "processed"
        for stage in STAGES:
            row = run_child(stage, raw, work, scale, seed)
            rows.append(row)
            print(f"scale {scale:>4}  {stage:<13} {row['seconds']:>8.2f} s  peak {row['peak_mb']:>8.1f} MB", flush=True)
    rows.append(papermill_run(root))
    table = pd.DataFrame(rows)
    floor = table[table["stage"] == "floor"].set_index("scale")["inner_seconds"]
    table["ratio_to_floor"] = [round(r.inner_seconds / floor.get(r.scale, float("nan")), 1) if r.stage in STAGES[2:] else float("nan")
                               for r in table.itertuples()]
    table.to_csv(out / "bench.csv", index=False)
    _plot(table, out / "bench.png")
    pipeline = table[table["stage"].isin(["ingest", "clean", "descriptives", "associations"])].groupby("scale").agg(
        seconds=("inner_seconds", "sum"), peak_mb=("peak_mb", "max"))
    print()
    print(table.to_string(index=False))
    print()
    print("ingest + clean + analysis, per scale (inner seconds, max peak MB):")
    print(pipeline.to_string())
    return 0


def _plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for stage, block in table[table["stage"].isin(STAGES)].groupby("stage"):
        ax.plot(block["scale"], block["inner_seconds"], marker="o", label=stage)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("scale (1 = published size)")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
