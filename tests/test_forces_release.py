"""Review of issue 19, finding 1: a release of several forces (``min_cell_count`` > 1) is refused.

Each force's Appendix 4 is protected on its own (:func:`msht.publish.forces_tables.appendix4_by_force`
runs :func:`msht.publish.sdc.protect_associations` force by force), and the linked-table audit does
not cover sums across forces. A reader who has the all-forces counts (``associations.csv``) and the
other forces' shown counts gets a small force's hidden cell back by subtraction. Until the audit
covers the forces' files, such a run must be refused in one line."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from msht import config
from msht.publish import sdc

#: (force, level) -> (offered "yes", cases) for one factor; Force C is tiny.
COUNTS: dict[tuple[str, str], tuple[int, int]] = {
    ("Force A", "male"): (40, 100), ("Force A", "female"): (50, 120),
    ("Force B", "male"): (20, 50), ("Force B", "female"): (25, 60),
    ("Force C", "male"): (2, 8), ("Force C", "female"): (6, 10),
}
M = 5


def _rows(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Association rows (the columns :func:`sdc.protect_associations` reads) of one table."""
    return pd.DataFrame([{"outcome": "offered", "factor": "victim_sex", "level": level, "n": n, "denominator": d,
                          "pct": 100 * n / d, "statistic": 1.0, "df": 1, "p": 0.5, "test": "chi2"}
                         for level, (n, d) in counts.items()])


def _per_force_release() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Each force's table protected on its own (as notebook 05 does), and the all-forces table
    protected on its own (as notebook 03 does)."""
    forces = sorted({f for f, _ in COUNTS})
    per_force = {f: sdc.protect_associations(_rows({lv: v for (g, lv), v in COUNTS.items() if g == f}), M)
                 for f in forces}
    totals: dict[str, tuple[int, int]] = {}
    for (_, level), (n, d) in COUNTS.items():
        n0, d0 = totals.get(level, (0, 0))
        totals[level] = (n0 + n, d0 + d)
    return per_force, sdc.protect_associations(_rows(totals), M)


def _recovered(per_force: dict[str, pd.DataFrame], overall: pd.DataFrame) -> dict[tuple[str, str, str], int]:
    """The attack: every hidden per-force count that the all-forces count minus the other forces'
    shown counts gives back exactly -> its value."""
    found = {}
    for force, table in per_force.items():
        for col in ("n", "denominator"):
            for _, row in table[table[col].isna()].iterrows():
                total = overall.loc[overall["level"] == row["level"], col]
                others = [t.loc[t["level"] == row["level"], col] for f, t in per_force.items() if f != force]
                if total.notna().all() and all(o.notna().all() for o in others):
                    found[(force, row["level"], col)] = int(total.iloc[0]) - sum(int(o.iloc[0]) for o in others)
    return found


def test_per_force_protection_leaks_across_forces() -> None:
    """The attack of the finding works on per-force protection: Force C's hidden male cell is the
    all-forces count minus Force A's and Force B's (why a release of several forces is refused)."""
    per_force, overall = _per_force_release()
    c = per_force["Force C"].set_index("level")
    assert pd.isna(c.at["male", "n"]) and c.at["male", "display"] == f"<{M}"  # hidden in Force C's own table
    recovered = _recovered(per_force, overall)
    assert recovered[("Force C", "male", "n")] == COUNTS[("Force C", "male")][0]
    assert all(COUNTS[(f, lv)][0 if col == "n" else 1] == v for (f, lv, col), v in recovered.items())


@pytest.fixture(scope="module")
def three_forces(root, make_forces_params) -> dict:
    """A run of three forces (one a tenth of the size) from the default params file."""
    return make_forces_params(root, [
        {"name": "Force A", "raw_dir": "data/raw/three/force_a", "seed": 1, "scale": 1},
        {"name": "Force B", "raw_dir": "data/raw/three/force_b", "seed": 2, "scale": 1},
        {"name": "Force C", "raw_dir": "data/raw/three/force_c", "seed": 3, "scale": 0.1},
    ])


@pytest.mark.parametrize("m", [2, 5, 10])
def test_a_release_of_several_forces_is_refused_in_one_line(three_forces, m: int) -> None:
    with pytest.raises(config.ParamsError) as info:
        config.validate_params({**three_forces, "min_cell_count": m}, source="params file three.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"params file three.yaml: min_cell_count: {m} with forces: a release of several forces")


@pytest.mark.parametrize("m", [0, 1])
def test_a_run_of_several_forces_without_disclosure_control_is_accepted(three_forces, m: int) -> None:
    params = config.validate_params({**three_forces, "min_cell_count": m})
    assert params.is_multi_force and int(params.min_cell_count) == m


def test_national_params_as_a_release_are_refused(root, tmp_path) -> None:
    """``params/national.yaml`` with ``min_cell_count: 5`` stops at loading (so ``msht run`` and
    :func:`msht.pipeline.protect_release` never publish it), naming the params file."""
    raw = yaml.safe_load((root / "params" / "national.yaml").read_text())
    path = tmp_path / "national_release.yaml"
    path.write_text(yaml.safe_dump({**raw, "run_name": "national_release", "min_cell_count": 5}))
    with pytest.raises(config.ParamsError, match=r"national_release\.yaml: min_cell_count: 5 with forces: "):
        config.load_params(path)
