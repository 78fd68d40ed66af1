"""Reading a table written by :meth:`pandas.DataFrame.to_parquet` faster, as the same frame.

pandas turns each text cell of a Parquet file into a new Python string (``StringDtype``'s
``__from_arrow__``), one per row; the analysis tables hold mostly codes, a few distinct values
per column. :func:`read_frame` reads every text column as a dictionary (its distinct values and
one index per row, as Parquet stores it), makes one Python string per distinct value and takes
the rows from them: the same values, dtypes, column order and index as ``pandas.read_parquet``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def _default_text_dtype() -> pd.StringDtype | None:
    """pandas' own dtype of a column of text: pandas 3's ``str`` (a ``StringDtype`` whose missing
    value is NaN), or None under pandas 2, where text is ``object`` (and ``read_parquet`` gives
    an ``object`` column of a text column that pandas metadata calls ``object``)."""
    dtype = pd.Series(["a"]).dtype
    return dtype if isinstance(dtype, pd.StringDtype) else None


def _text_dtype(numpy_type: str) -> pd.StringDtype | None:
    """The pandas dtype ``read_parquet`` gives a text column whose pandas metadata says
    ``numpy_type``: ``string`` (missing ``<NA>``), else (``str``, ``object``) pandas 3's ``str`` (missing NaN), both in
    the storage of the ``mode.string_storage`` option; None for an ``object`` column under
    pandas 2 (read by ``read_parquet`` itself)."""
    if numpy_type == "string":
        return pd.StringDtype()
    return _default_text_dtype()


def _text_column(column: pa.ChunkedArray, dtype: pd.StringDtype) -> pd.api.extensions.ExtensionArray:
    """A dictionary-encoded text column as a pandas array of ``dtype``: the distinct values made
    into Python strings once, the rows taken from them (missing rows: ``dtype``'s missing value)."""
    parts = []
    for chunk in column.chunks:
        words = np.append(np.asarray(chunk.dictionary.to_numpy(zero_copy_only=False), dtype=object), dtype.na_value)
        parts.append(words[chunk.indices.fill_null(-1).to_numpy()])
    values = np.concatenate(parts) if parts else np.array([], dtype=object)
    return pd.array(values, dtype=dtype)


def read_frame(path: str | Path) -> pd.DataFrame:
    """The frame ``pandas.read_parquet(path)`` returns, for a file written by ``to_parquet(...,
    index=False)`` with pandas metadata; its text columns read through their dictionaries
    (:func:`_text_column`). Other files (no pandas metadata, a stored index, text columns whose
    dtype is not ``str`` or ``string``) are read by ``pandas.read_parquet`` itself."""
    schema = pq.read_schema(path)
    meta = schema.pandas_metadata
    string_storage = pd.get_option("mode.string_storage")
    if not meta or meta.get("index_columns") or string_storage != "python":
        return pd.read_parquet(path)
    numpy_types = {c["field_name"]: c["numpy_type"] for c in meta["columns"]}
    text = [f.name for f in schema if pa.types.is_string(f.type) and numpy_types.get(f.name) in ("string", "str", "object")
            and _text_dtype(numpy_types[f.name]) is not None]
    if not text:
        return pd.read_parquet(path)
    table = pq.read_table(path, read_dictionary=text)
    rest = table.drop_columns(text).to_pandas()
    columns = {name: (_text_column(table.column(name), _text_dtype(numpy_types[name])) if name in text else rest[name])
               for name in table.column_names}
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))
