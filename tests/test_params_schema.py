"""Issue 14 item 5: the params file is validated once, against one typed schema (pydantic),
before anything runs; every error is one line naming the file, the key and the value."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hypothesis_profiles import examples
from msht import cli, config
from msht import params_schema as params_schema_module
from msht.params_schema import ParamsSchema


@pytest.fixture(scope="module")
def default(root) -> dict:
    return yaml.safe_load((root / "params" / "default.yaml").read_text())


def _write(tmp_path, default, **changes) -> str:
    raw = {**default, **changes}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def _error(tmp_path, default, **changes) -> str:
    path = _write(tmp_path, default, **changes)
    with pytest.raises(config.ParamsError) as info:
        config.load_params(path)
    message = str(info.value)
    assert "\n" not in message and path in message, "one line naming the file"
    return message


def test_f06_day_first_period_start_is_refused_not_read_as_4_january(tmp_path, default):
    message = _error(tmp_path, default, period_start="01/04/2018")
    assert "key 'period_start': value '01/04/2018' is not an ISO date" in message


def test_f10_blank_funder_is_no_funder_line_and_blank_period_end_is_refused(tmp_path, root, default):
    path = tmp_path / "f10.yaml"
    text = (root / "params" / "default.yaml").read_text()
    text = "\n".join("funder:" if line.startswith("funder:") else line for line in text.splitlines())
    path.write_text(text)
    params = config.load_params(path)
    assert params.funder == "" and params.funder != "None"
    path.write_text(text.replace('period_end: "2023-12-31"', "period_end:"))
    with pytest.raises(config.ParamsError, match=r"key 'period_end' is blank"):
        config.load_params(path)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"min_cel_count": 5}, "unknown keys ['min_cel_count' (did you mean 'min_cell_count'?)]"),
        ({"alpha": 1.0}, "key 'alpha': value 1.0 must be less than 1"),
        ({"alpha": 0}, "key 'alpha': value 0 must be greater than 0"),
        ({"alpha": "0.05"}, "key 'alpha': value '0.05' must be a number"),
        ({"min_cell_count": -1}, "key 'min_cell_count': value -1 must be greater than or equal to 0"),
        ({"outlier_min_entries": 1.5}, "key 'outlier_min_entries': value 1.5 must be a whole number"),
        ({"scale": 0}, "key 'scale': value 0 must be greater than or equal to 1"),
        ({"synthetic": "yes"}, "key 'synthetic': value 'yes' must be true or false"),
        ({"period_start": "2024-01-01"}, "period_start '2024-01-01' is after period_end '2023-12-31'"),
        ({"period_end": "2023-02-30"}, "key 'period_end': value '2023-02-30' is not a real calendar date"),
        ({"period_end": "31 December 2023"}, "key 'period_end': value '31 December 2023' is not an ISO date"),
        ({"force_name": "  "}, "key 'force_name': value '  ' is blank"),
        ({"force_name": None}, "key 'force_name' is blank"),
        ({"run_name": "../x"}, "key 'run_name': value '../x' may hold only"),
        ({"synthetic": False, "raw_dir": "no/such/folder"}, "raw_dir 'no/such/folder' is not a folder"),
    ],
)
def test_each_bad_value_is_named_with_its_key(tmp_path, default, changes, expected):
    assert expected in _error(tmp_path, default, **changes)


def test_unquoted_iso_dates_are_read_as_the_same_text(tmp_path, root):
    text = (root / "params" / "default.yaml").read_text().replace('"2018-01-01"', "2018-01-01")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    assert config.load_params(path).period_start == "2018-01-01"


@settings(max_examples=examples(150), deadline=None)
@given(day=st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)),
       fmt=st.sampled_from(["%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%Y", "%d %B %Y", "%Y%m%d", "%d/%m/%y"]))
def test_property_only_iso_dates_are_accepted(default, day, fmt):
    raw = {**default, "period_start": day.strftime(fmt), "period_end": "2099-12-31"}
    with pytest.raises(config.ParamsError, match=r"key 'period_start': value .* is not an ISO date"):
        config.validate_params(raw, source="params file p.yaml")
    ok = {**default, "period_start": day.isoformat(), "period_end": (day + timedelta(days=1)).isoformat()}
    assert config.validate_params(ok).period_start == day.isoformat()


@settings(max_examples=examples(100), deadline=None)
@given(alpha=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.floats(allow_nan=True).filter(lambda x: x != x)))
def test_property_alpha_outside_the_open_unit_interval_is_refused(default, alpha):
    with pytest.raises(config.ParamsError, match="key 'alpha'"):
        config.validate_params({**default, "alpha": alpha})


def test_the_schema_and_the_params_dataclass_have_the_same_keys():
    assert tuple(ParamsSchema.model_fields) == config.PARAM_NAMES + config.MAPPING_KEYS
    assert config.MAPPING_KEYS == params_schema_module.MAPPING_KEYS


@pytest.mark.parametrize("changes", [{"period_start": "01/04/2018"}, {"period_end": None}, {"min_cel_count": 1},
                                     {"alpha": 2}])
def test_command_line_gives_one_line_and_no_traceback_before_anything_runs(tmp_path, default, capsys, changes):
    path = _write(tmp_path, default, **changes)
    code = cli.main(["run", "--params", path])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("msht: error: params file ")


def test_notebook_parameters_are_validated_too(default):
    with pytest.raises(config.ParamsError, match="the notebook's parameters: key 'alpha'"):
        config.params_from({**default, "alpha": 5.0})
