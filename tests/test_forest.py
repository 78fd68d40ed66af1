"""The forest plot draws exactly the odds ratios of association_tests.csv."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("agg")  # tests only; the notebook keeps its inline backend

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PathCollection
import pandas as pd
import pytest

from msht.analysis import associate
from msht.publish import forest


def _tests() -> pd.DataFrame:
    rows = [
        ("engagement", "victim_sex", "Yates chi-square", 2.0, 1.2, 3.1, 0.01, "male vs female"),
        ("engagement", "victim_age3", "Pearson chi-square", math.nan, math.nan, math.nan, 0.2, ""),
        ("engagement", "county_lines", "Fisher exact", 0.5, 0.2, 0.9, 0.04, "yes vs no"),
        ("offered", "victim_sex", "Yates chi-square", 1.1, 0.9, 1.3, 0.30, "male vs female"),
        ("offered", "county_lines", associate.NOT_COMPUTABLE, math.nan, math.nan, math.nan, math.nan, ""),
        ("accepted", "county_lines", "Yates chi-square", 0.8, 0.5, 1.2, 0.5, "yes vs no"),
    ]
    frame = pd.DataFrame(rows, columns=["outcome", "factor", "test_chosen", "odds_ratio", "or_ci_low", "or_ci_high",
                                        "q_bh", "or_contrast"])
    frame["significant_bh"] = pd.array([True, False, True, False, pd.NA, False], dtype="boolean")
    return frame


def test_forest_frame_keeps_computable_2x2_tests_in_order() -> None:
    frame = forest.forest_frame(_tests())
    assert list(frame.columns) == list(forest.FOREST_COLUMNS)
    assert list(zip(frame["outcome"], frame["factor"])) == [
        ("engagement", "victim_sex"), ("engagement", "county_lines"), ("offered", "victim_sex"),
        ("accepted", "county_lines")]
    assert frame["odds_ratio"].tolist() == [2.0, 0.5, 1.1, 0.8]
    assert frame["ci_low"].tolist() == [1.2, 0.2, 0.9, 0.5]
    assert frame["row"].tolist() == [0, 1, 0, 1]  # shared rows across panels
    assert frame["label"].tolist()[:2] == ["Males vs Females", "County lines vs No county lines"]
    assert frame["significant_bh"].tolist() == [True, True, False, False]


def test_forest_plot_draws_the_frame_on_log_axes() -> None:
    frame = forest.forest_frame(_tests())
    fig = forest.forest_plot(frame)
    try:
        axes = fig.axes
        assert len(axes) == 3 and all(ax.get_xscale() == "log" for ax in axes)
        drawn = np.vstack([c.get_offsets() for c in axes[0].collections if isinstance(c, PathCollection)])
        engagement = frame[frame["outcome"] == "engagement"]
        assert sorted(drawn[:, 0].tolist()) == sorted(engagement["odds_ratio"].tolist())
        assert [t.get_text() for t in axes[0].get_yticklabels()] == ["Males vs Females",
                                                                    "County lines vs No county lines"]
        lo, hi = axes[0].get_xlim()
        assert lo < frame["ci_low"].min() and hi > frame["ci_high"].max()
    finally:
        plt.close(fig)


def test_save_figure_writes_reproducible_png_and_svg(tmp_path) -> None:
    frame = forest.forest_frame(_tests())
    fig = forest.forest_plot(frame)
    try:
        png, svg = forest.save_figure(fig, tmp_path / "figures", "fig_forest")
        first = svg.read_bytes()
        forest.save_figure(fig, tmp_path / "figures", "fig_forest")
        assert png.exists() and svg.read_bytes() == first
    finally:
        plt.close(fig)


def test_empty_frame_still_draws() -> None:
    frame = forest.forest_frame(_tests().iloc[[1, 4]])
    assert frame.empty
    fig = forest.forest_plot(frame)
    plt.close(fig)


@pytest.mark.parametrize("outcomes", [("offered",), ("engagement", "offered", "accepted")])
def test_one_panel_per_outcome(outcomes: tuple[str, ...]) -> None:
    fig = forest.forest_plot(forest.forest_frame(_tests()), outcomes=outcomes)
    assert len(fig.axes) == len(outcomes)
    plt.close(fig)
