import math

import pandas as pd
import pytest

from msht.analysis import describe
from msht.publish import descriptive_tables
from msht.base import formats


@pytest.mark.parametrize(
    "n,d,expected",
    [(394, 2291, "17.2% (n=394)"), (1, 8, "12.5% (n=1)"), (1299, 1776, "73.1% (n=1,299)"), (0, 0, "-% (n=0)")],
)
def test_fmt_pct_n_prose(n, d, expected):
    assert formats.fmt_pct_n(n, d) == expected


def test_fmt_pct_n_table_and_half_up_rounding():
    assert formats.fmt_pct_n(1, 8, style="table") == "12.5 (1)"
    assert formats.pct(1, 8) == 12.5
    assert formats.pct(5, 16) == 31.3  # 31.25 rounds half up, as SPSS prints it
    assert math.isnan(formats.pct(3, 0))
    with pytest.raises(ValueError):
        formats.fmt_pct_n(1, 2, style="latex")


def test_frequency_counts_levels_in_vocab_order_with_unknown_row():
    frame = pd.DataFrame({"victim_sex": ["female", "male", "male", None, "unknown"]})
    rows = describe.frequency(frame, "victim_sex", table="t")
    assert list(rows["level"]) == ["male", "female", "unknown"]
    assert list(rows["n"]) == [2, 1, 2]
    assert rows.loc[0, "denominator"] == 3 and rows.loc[0, "pct"] == 66.7
    assert pd.isna(rows.loc[2, "denominator"])


def test_frequency_refuses_codes_outside_the_vocabulary():
    with pytest.raises(ValueError, match="outside the vocabulary"):
        describe.frequency(pd.DataFrame({"victim_sex": ["m"]}), "victim_sex", table="t")


def test_overview_rows():
    cases = pd.DataFrame({"person_id": ["a", "a", "b"]})
    victims = pd.DataFrame({"person_id": ["a", "b"], "n_cases": [2, 1]})
    rows = describe.overview_rows(cases, victims).set_index(["variable", "level"])
    assert rows.loc[("cases", "all"), "n"] == 3
    assert rows.loc[("victim_case_count", "several"), "n"] == 1
    assert rows.loc[("victim_case_count", "one"), "pct"] == 50.0


def test_display_table_and_denominator_note():
    frame = pd.DataFrame({"victim_sex": ["male", "male", "female", "unknown"]})
    rows = describe.frequency(frame, "victim_sex", table="t")
    shown = descriptive_tables.display_table(rows)
    assert list(shown["value"]) == ["66.7 (2)", "33.3 (1)", "n=1 not recorded"]
    assert descriptive_tables.denominator_note(rows, unit="victims") == "Percentages are of victims with a recorded value; sex: N=3 (1 not recorded)."


def test_frequency_counts_alike_whatever_the_column_dtype() -> None:
    """level_counts counts missing values and the literal missing code together, in one pass,
    the same for text, object and categorical columns (unused categories count nothing)."""
    values = ["male", None, "female", "unknown", "male", None]
    text = pd.Series(["a"]).dtype  # pandas' own text dtype: str under pandas 3, object under pandas 2
    frames = [pd.DataFrame({"victim_sex": pd.array(values, dtype=dtype)}) for dtype in ("string", text, object)]
    frames.append(pd.DataFrame({"victim_sex": pd.Categorical(values, categories=["other", "female", "male", "unknown"])}))
    rows = [describe.frequency(f, "victim_sex", table="t") for f in frames]
    for got in rows[1:]:
        pd.testing.assert_frame_equal(got, rows[0])
    assert rows[0].set_index("level")["n"].to_dict() == {"male": 2, "female": 1, "unknown": 3}
