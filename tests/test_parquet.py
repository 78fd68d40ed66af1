"""msht.base.parquet.read_frame gives the frame pandas.read_parquet gives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import msht  # noqa: F401 - sets pandas' string storage, as every run does
from msht.base.parquet import read_frame


TEXT = pd.Series(["a"]).dtype


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": pd.array(["a1", None, "a3", "a1"], dtype="string"),
        # pandas' own text dtype: pandas 3's str (missing NaN), object under pandas 2
        "code": pd.Series(["yes", "no", None, "yes"], dtype=TEXT),
        "words": pd.Series(["a", "b", None, "a"], dtype=object),
        "flag": [True, False, True, True],
        "n": [1, 2, 3, 4],
        "age": pd.array([30, None, 5, 7], dtype="Int64"),
        "date": pd.to_datetime(["2020-01-01", None, "2021-05-02", "2019-12-31"]),
        "force": pd.Categorical(["f1", "f2", "f1", "f2"], categories=["f2", "f1"]),
        "empty_text": pd.array([None] * 4, dtype="string"),
    })


@pytest.mark.parametrize("rows", [slice(None), slice(0, 0), slice(1, 2)])
def test_read_frame_is_read_parquet(tmp_path: Path, rows: slice) -> None:
    path = tmp_path / "t.parquet"
    _frame().iloc[rows].reset_index(drop=True).to_parquet(path, index=False)
    got, want = read_frame(path), pd.read_parquet(path)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.dtypes.equals(want.dtypes) and got.to_csv() == want.to_csv()


def test_read_frame_of_a_file_with_an_index_is_read_parquet(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    _frame().set_index("n").to_parquet(path)
    pd.testing.assert_frame_equal(read_frame(path), pd.read_parquet(path), check_exact=True)
