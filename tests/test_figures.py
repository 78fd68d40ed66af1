"""Figures 1 and 2: the numbers they plot (tidy rows) and the files they are saved as."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from IPython.display import Image
from matplotlib.figure import Figure

from msht.analysis import describe
from msht.publish import figures


def year_cases() -> pd.DataFrame:
    """2018: 4 cases (1 offered, 1 unknown); 2019: none; 2021: 3 cases, 2 offered, 1 accepted."""
    return pd.DataFrame({
        "date": pd.to_datetime(["2018-02-01", "2018-05-01", "2018-07-01", "2018-12-31",
                                "2021-01-01", "2021-03-01", "2021-12-01"]),
        "offered": ["yes", "no", "no", "unknown", "yes", "yes", "no"],
        "accepted": ["unknown", "unknown", "unknown", "unknown", "yes", "no", "unknown"],
        "engagement": ["positive", "negative", "unknown", "ongoing", "no_crime", "unknown", "positive"],
    })


def test_support_by_year_counts_offers_and_acceptances_per_year():
    rows = describe.support_by_year(year_cases(), [2018, 2019, 2020, 2021])
    assert set(rows["table"]) == {"figure1"}
    offered = rows[rows["variable"] == "offered_by_year"].set_index("level")
    assert offered.index.tolist() == ["2018", "2019", "2020", "2021"]
    assert offered.loc["2018", ["n", "denominator", "pct"]].tolist() == [1, 3, 33.3]  # the unknown offer is not counted
    assert offered.loc["2021", ["n", "denominator", "pct"]].tolist() == [2, 3, 66.7]
    assert offered.loc["2019", "denominator"] == 0 and math.isnan(offered.loc["2019", "pct"])
    accepted = rows[rows["variable"] == "accepted_by_year"].set_index("level")
    assert accepted.loc["2018", ["n", "denominator"]].tolist() == [0, 0]  # offered once, acceptance not recorded
    assert accepted.loc["2021", ["n", "denominator", "pct"]].tolist() == [1, 2, 50.0]


def test_support_by_year_ignores_years_outside_the_period():
    rows = describe.support_by_year(year_cases(), [2021])
    assert rows["level"].unique().tolist() == ["2021"]


def test_engagement_figure_rows_are_the_section_rows_under_figure2():
    cases = year_cases()
    fig_rows = describe.engagement_figure_rows(cases)
    section_rows = describe.engagement_rows(cases)
    assert set(fig_rows["table"]) == {"figure2"}
    pd.testing.assert_frame_equal(fig_rows.drop(columns="table"), section_rows.drop(columns="table"))
    levels = fig_rows[fig_rows["variable"] == "engagement_level"].set_index("level")
    assert levels.loc["positive", ["n", "denominator", "pct"]].tolist() == [2, 5, 40.0]
    assert levels.loc["not_determined", "n"] == 2


def test_figure1_plots_the_yearly_shares_and_marks_the_split():
    rows = describe.support_by_year(year_cases(), [2018, 2019, 2020, 2021])
    fig = figures.offers_by_year(rows)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    offered = lines[figures.SERIES_LABELS["offered_by_year"]]
    assert list(offered.get_xdata()) == [2018, 2019, 2020, 2021]
    np.testing.assert_allclose(offered.get_ydata(), [33.3, np.nan, np.nan, 66.7])
    split = [line for line in ax.get_lines() if list(line.get_xdata()) == [2020.5, 2020.5]]
    assert len(split) == 1
    assert ax.get_ylim()[0] == 0


def test_figure2_bars_are_the_engagement_shares():
    rows = describe.engagement_figure_rows(year_cases())
    fig = figures.engagement_levels(rows)
    widths = [patch.get_width() for patch in fig.axes[0].patches]
    assert widths == [40.0, 20.0, 40.0]  # positive, negative, not determined
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "40.0% (n=2)" in texts and "20.0% (n=1)" in texts


def test_save_writes_identical_png_and_svg_files_and_show_displays_the_png(tmp_path):
    rows = describe.support_by_year(year_cases(), [2018, 2019, 2020, 2021])
    first = figures.save(figures.offers_by_year(rows), tmp_path / "a", figures.FIG1_NAME)
    second = figures.save(figures.offers_by_year(rows), tmp_path / "b", figures.FIG1_NAME)
    assert [p.name for p in first] == ["fig1_offers_by_year.png", "fig1_offers_by_year.svg"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes()
    shown = figures.show(first)
    assert isinstance(shown, Image) and shown.width == 800
    with pytest.raises(ValueError, match="no .png"):
        figures.show([first[1]])
