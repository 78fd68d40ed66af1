"""The benchmark's bookkeeping: ratios to the floor, per-scale summary, targets, child timing."""

from __future__ import annotations

import math
import os
import sys

import pandas as pd
import pytest

from msht import bench

posix_only = pytest.mark.skipif(not hasattr(os, "wait4"), reason="the benchmark measures children with os.wait4 (POSIX)")


def _table() -> pd.DataFrame:
    rows = []
    for scale, k in ((1, 1.0), (10, 3.0), (100, 25.0)):
        for stage, sec, peak in (("generate", 5 * k, 200), ("floor", 0.5 * k, 150), ("ingest", 1.0 * k, 300),
                                 ("ingest+clean", 2.0 * k, 400 * k), ("descriptives", 0.5 * k, 100),
                                 ("associations", 0.25 * k, 100)):
            rows.append({"stage": stage, "scale": scale, "seconds": sec + 0.4, "inner_seconds": sec, "peak_mb": peak, "rows": 1})
    rows.append({"stage": bench.GENERATE_STAGE, "scale": 1, "seconds": 9.0, "inner_seconds": 9.0, "peak_mb": 200, "rows": 0})
    rows.append({"stage": bench.REPORT_STAGE, "scale": 1, "seconds": 31.0, "inner_seconds": 31.0, "peak_mb": 500, "rows": 0})
    rows.append({"stage": bench.CHECK_STAGE, "scale": 1, "seconds": 3.5, "inner_seconds": 3.5, "peak_mb": 300, "rows": 0})
    return pd.DataFrame(rows)


def test_ratio_to_floor_only_for_reading_and_later_stages():
    t = bench.with_ratios(_table()).set_index(["stage", "scale"])["ratio_to_floor"]
    assert t[("ingest", 10)] == 2.0
    assert t[("ingest+clean", 100)] == 4.0
    assert math.isnan(t[("generate", 1)]) and math.isnan(t[("floor", 1)])
    assert math.isnan(t[(bench.REPORT_STAGE, 1)])


def test_summary_separates_cleaning_from_reading_and_does_not_count_reading_twice():
    s = bench.summary(_table()).set_index("scale")
    assert s.at[10, "ingest"] == 3.0
    assert s.at[10, "clean"] == 3.0  # ingest+clean 6.0 minus ingest 3.0
    assert s.at[10, "analysis"] == 2.25
    assert s.at[10, "total"] == 8.25  # ingest+clean + analysis, not ingest twice
    assert s.at[100, "peak_mb"] == 10000
    assert s.at[1, "total_ratio_to_floor"] == 5.5
    assert math.isnan(s.at[1, "growth_exponent"])
    assert s.at[10, "growth_exponent"] == round(math.log10(3.0), 2)  # 3 times the time for 10 times the data
    assert s.at[100, "growth_exponent"] == round(math.log10(25.0 / 3.0), 2)


def test_targets_report_measure_limit_and_whether_met():
    t = bench.targets(_table()).set_index("target")
    assert t.at["scale 100: ingest, cleaning and analysis (s)", "measured"] == pytest.approx(68.75)
    assert t.at["scale 100: ingest, cleaning and analysis (s)", "met"] == False  # noqa: E712
    assert t.at["scale 100: peak memory (MB)", "met"] == False  # noqa: E712
    # 68.75 / 8.25 times the time for 10 times the data: slower than the data grows (exponent 0.92)
    assert t.at["growth exponent, scale 10 to 100", "measured"] == pytest.approx(math.log10(68.75 / 8.25), abs=0.01)
    assert t.at["growth exponent, scale 10 to 100", "met"] == True  # noqa: E712
    assert pd.isna(t.at["scale 1000: peak memory (MB)", "met"])  # not run
    assert t.at["default report without Quarto, extracts present (s)", "met"] == False  # noqa: E712
    assert t.at["generate the default twin from scratch (s)", "met"] == True  # noqa: E712
    assert t.at["msht check of the default twin, command included (s)", "measured"] == 3.5
    assert t.at["msht check of the default twin, command included (s)", "met"] == True  # noqa: E712


def test_targets_of_scales_not_run_are_unknown_not_met():
    t = bench.targets(_table().query("scale != 100")).set_index("target")
    assert math.isnan(t.at["scale 100: ingest, cleaning and analysis (s)", "measured"])
    assert pd.isna(t.at["scale 100: ingest, cleaning and analysis (s)", "met"])


def test_peak_memory_units_follow_the_platform():
    assert bench.rss_mb(2048, "linux") == 2.0
    assert bench.rss_mb(2 * 1024 * 1024, "darwin") == 2.0


@posix_only
def test_timed_measures_a_child_and_reports_its_failure():
    wall, peak = bench.timed([sys.executable, "-c", "x = bytearray(200 * 1024 * 1024)"])
    assert wall > 0 and peak >= 200
    with pytest.raises(RuntimeError, match="boom"):
        bench.timed([sys.executable, "-c", "import sys; sys.exit('boom')"])


@posix_only
def test_floor_and_ingest_stages_run_in_a_child_on_real_extracts(small_raw, tmp_path):
    floor = bench.run_child("floor", small_raw[0], tmp_path, 1, 7)
    ingest = bench.run_child("ingest", small_raw[0], tmp_path, 1, 7)
    assert floor["rows"] == ingest["rows"] > 0
    assert 0 < floor["inner_seconds"] <= floor["seconds"]
    assert ingest["peak_mb"] > 0


def test_tiled_extracts_repeat_the_rows_with_disjoint_identifiers(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "cases.csv").write_text("\ufeffoccurrence_number,victim_person_id,outcome\nMS/1, P7 ,\"a, b\"\nMS/2,N/K,\n",
                                    encoding="utf-8")
    (base / "victims.csv").write_text("occurrence_number,person_id\nMS/1,P7\n", encoding="utf-8")
    (base / "police_records.csv").write_text("person_id,incident_reference,role\nP7,INC1,Victim\n", encoding="utf-8")
    (base / "offenders.csv").write_text("occurrence_number,offender_person_id\nMS/1,P9\n", encoding="utf-8")
    assert bench.tile_extracts(base, tmp_path / "tiled", 3) == 6
    cases = pd.read_csv(tmp_path / "tiled" / "cases.csv", dtype=str, keep_default_na=False)
    assert cases["occurrence_number"].tolist() == ["MS/T0_1", "MS/T0_2", "MS/T1_1", "MS/T1_2", "MS/T2_1", "MS/T2_2"]
    # spaces around an ID and a missing-value marker (no digit) stay; other values are kept as they are
    assert cases["victim_person_id"].tolist()[:2] == [" PT0_7 ", "N/K"] and cases["outcome"].tolist()[:2] == ["a, b", ""]
    police = pd.read_csv(tmp_path / "tiled" / "police_records.csv", dtype=str)
    assert police["person_id"].tolist() == ["PT0_7", "PT1_7", "PT2_7"]


def test_run_target_is_msht_run_over_its_floor():
    rows = [{"stage": bench.RUN_STAGE, "seconds": 12.0}, {"stage": bench.BARE_STAGE, "seconds": 24.0}]
    t = bench.run_targets(pd.DataFrame(rows)).iloc[0]
    assert t["measured"] == 0.5 and t["limit"] == bench.TARGET_RUN_TO_FLOOR and t["met"] == True  # noqa: E712
    slow = bench.run_targets(pd.DataFrame([{**rows[0], "seconds": 30.0}, rows[1]])).iloc[0]
    assert slow["measured"] == 1.25 and slow["met"] == False  # noqa: E712
    unknown = bench.run_targets(pd.DataFrame(rows[:1])).iloc[0]
    assert math.isnan(unknown["measured"]) and pd.isna(unknown["met"])


def test_bare_notebook_only_imports_what_the_notebooks_and_the_heavy_libraries_do():
    from msht.config import project_root

    nb = bench.bare_notebook(project_root())
    (cell,) = nb.cells
    lines = cell.source.splitlines()
    assert all(line.startswith(("import ", "from ")) for line in lines)
    assert len(lines) == len(set(lines))
    for name in bench.FLOOR_LIBRARIES:
        assert f"import {name}" in lines
    assert any(line.startswith("from msht.analysis import") and "models" in line for line in lines)
    assert "from msht.clean import rules as clean" in lines
