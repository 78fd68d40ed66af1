import pandas as pd
import pytest

from msht.publish import results


def test_write_conforms_to_contract_and_is_byte_stable(tmp_path):
    frame = pd.DataFrame({"pct": [1 / 3], "extra": [1], "table": ["t"], "variable": ["v"], "level": ["l"], "n": [1], "denominator": [3]})
    path = results.write_csv(frame, "descriptives", tmp_path)
    first = path.read_bytes()
    assert first.decode().splitlines()[0] == "table,variable,level,n,denominator,pct"
    assert "0.333333" in first.decode()
    results.write_csv(frame, "descriptives", tmp_path)
    assert path.read_bytes() == first
    assert not list(tmp_path.glob(".descriptives*"))  # no temporary file left behind


def test_missing_contract_column_is_named(tmp_path):
    with pytest.raises(results.ResultsContractError, match=r"\['rows_out'\]"):
        results.write_csv(pd.DataFrame({"step": [1], "rule": ["r"], "entity": ["e"], "rows_in": [1], "excluded": [0]}), "exclusions", tmp_path)
