"""Issue 19 item 1: the params of a run of several forces (``forces:``), validated by the same
schema with one line per complaint, and each force's single-force view (``force_params``)."""

from __future__ import annotations

import pytest
import yaml

from msht import config
from msht.params_schema import ForceParams, force_slug


@pytest.fixture(scope="module")
def national(root, make_forces_params) -> dict:
    """A run of three forces, built from the default params file (top-level per-force keys moved into the forces)."""
    return make_forces_params(root, [
        {"name": "Force A", "raw_dir": "data/raw/three/force_a", "seed": 1, "scale": 1},
        {"name": "Force B", "raw_dir": "data/raw/three/force_b", "seed": 2, "scale": 0.1,
         "extracts": ["cases", "victims", "police_records"]},
        {"name": "Force C", "raw_dir": "data/raw/three/force_c", "seed": 3, "offered_log_odds": -0.5,
         "columns": {"cases": {"OccRef": "occurrence_number"}}, "internal_agency_names": "constabulary"},
    ])


def _error(raw: dict, **changes) -> str:
    with pytest.raises(config.ParamsError) as info:
        config.validate_params({**raw, **changes}, source="params file x.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("params file x.yaml: ")
    return message


def _with_force(raw: dict, index: int, **changes) -> dict:
    forces = [dict(f) for f in raw["forces"]]
    forces[index] = {k: v for k, v in {**forces[index], **changes}.items() if v is not ...}
    return {**raw, "forces": forces}


def test_a_run_of_three_forces_is_read_with_each_force_typed(national):
    params = config.validate_params(national)
    assert params.is_multi_force and [f.name for f in params.forces] == ["Force A", "Force B", "Force C"]
    a, b, c = params.forces
    assert isinstance(a, ForceParams) and a.extracts == ["cases", "victims", "police_records", "offenders"]
    assert a.has_offenders and not b.has_offenders and b.scale == 0.1 and c.scale == 1
    assert c.offered_log_odds == -0.5 and a.accepted_log_odds == 0.0
    assert params.raw_dir is None and params.seed is None and params.scale is None and params.columns == {}


def test_as_dict_round_trips_through_the_notebooks_parameters(national):
    """What papermill injects (``as_dict``) over a parameters cell's single-force defaults reads back
    as the same run: the cell's raw_dir/seed/scale defaults are not the run's and are left out."""
    params = config.validate_params(national)
    injected = params.as_dict()
    assert "raw_dir" not in injected and "seed" not in injected and "columns" not in injected
    namespace = {"raw_dir": "data/raw/default", "seed": 20240132, "scale": 1, **injected}
    assert config.params_from(namespace) == params


def test_single_force_params_are_unchanged_by_an_empty_forces_key(root):
    raw = yaml.safe_load((root / "params" / "default.yaml").read_text())
    plain = config.validate_params(raw)
    assert config.validate_params({**raw, "forces": []}) == plain
    assert config.validate_params({**raw, "forces": None}) == plain
    assert not plain.is_multi_force and "forces" not in plain.as_dict()
    assert list(plain.as_dict()) == list(raw)


def test_force_params_gives_each_force_a_single_force_view(national):
    params = config.validate_params(national)
    a, b, c = params.forces
    view = config.force_params(params, c)
    assert view.force_name == "Force C" and view.raw_dir == "data/raw/three/force_c" and view.seed == 3
    assert view.processed_dir == "data/processed/default/forces/force_c"
    assert view.results_dir == "results/default/forces/force_c"
    assert view.run_name == "three.force_c" and not config.is_reference_run(view)
    assert view.columns == {"cases": {"OccRef": "occurrence_number"}} and view.forces == []
    assert view.force_words == ["constabulary"]
    assert config.force_params(params, a).force_words == params.force_words
    assert config.force_params(params, b).scale == 0.1
    assert view.period_start == params.period_start and view.min_cell_count == params.min_cell_count
    with pytest.raises(ValueError, match="not one of the run's forces"):
        config.force_params(config.validate_params(national), ForceParams(name="Elsewhere", raw_dir="x", seed=1))


def test_force_paths_follow_the_runs_paths_staged_or_not(national, tmp_path):
    params = config.validate_params(national)
    paths = config.RunPaths.from_params(params, tmp_path)
    assert paths.raw_dir is None
    force = config.force_paths(paths, params.forces[1])
    assert force.raw_dir == tmp_path / "data/raw/three/force_b"
    assert force.processed_dir == paths.processed_dir / "forces" / "force_b"
    assert force.results_dir == paths.results_dir / "forces" / "force_b"


@pytest.mark.parametrize(("name", "slug"), [("Force A", "force_a"), ("  Thames-Valley (TVP) ", "thames_valley_tvp"),
                                            ("???", "force")])
def test_force_slug(name, slug):
    assert force_slug(name) == slug


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"raw_dir": "data/raw/x"}, "key 'raw_dir': value 'data/raw/x' is given per force in a run with forces: "
                                    "move it into each force"),
        ({"seed": 1}, "key 'seed': value 1 is given per force"),
        ({"scale": 2}, "key 'scale': value 2 is given per force"),
        ({"files": {"cases": "c.csv"}}, "key 'files': is given per force"),
        ({"forces": "Force A"}, "key 'forces': value 'Force A' "),
        ({"forcse": []}, "unknown keys ['forcse' (did you mean 'forces'?)]"),
    ],
)
def test_top_level_keys_of_a_run_of_forces(national, changes, expected):
    assert expected in _error(national, **changes)


@pytest.mark.parametrize(
    ("index", "changes", "expected"),
    [
        (1, {"name": ...}, "forces[1]: key 'name' is missing"),
        (1, {"name": " "}, "forces[1]: key 'name': value ' ' is blank"),
        (0, {"raw_dir": ...}, "forces[0] ('Force A'): key 'raw_dir' is missing"),
        (0, {"sead": 4}, "forces[0] ('Force A'): unknown key 'sead' (did you mean 'seed'?)"),
        (0, {"seed": -1}, "forces[0] ('Force A'): key 'seed': value -1 must be greater than or equal to 0"),
        (0, {"scale": 0}, "forces[0] ('Force A'): key 'scale': value 0 must be greater than 0"),
        (0, {"scale": True}, "forces[0] ('Force A'): key 'scale': value True must be a number"),
        (0, {"offered_log_odds": "high"}, "key 'offered_log_odds': value 'high' must be a number"),
        (0, {"extracts": ["cases", "victims"]}, "forces[0] ('Force A'): key 'extracts': lacks ['police_records']: "
                                                "every force sends"),
        (0, {"extracts": ["cases", "victims", "police_records", "offender"]},
         "unknown extract 'offender' (did you mean 'offenders'?)"),
        (0, {"extracts": ["cases", "victims", "police_records", "cases"]}, "lists ['cases'] twice"),
        (1, {"columns": {"offenders": {"X": "sex"}}}, "forces[1] ('Force B'): columns: offenders is mapped but extracts: "
                                                       "leaves it out"),
        (2, {"columns": {"cases": {"OccRef": "occurence_number"}}},
         "forces[2] ('Force C'): key 'columns': unknown field 'occurence_number' for header 'OccRef' of cases "
         "(did you mean 'occurrence_number'?)"),
        (2, {"sheets": {"cases": "Data"}, "files": {"cases": "cases.csv"}}, "sheet 'Data' is named but files: gives"),
        (2, {"seed": ...}, "force 'Force C': seed is missing (synthetic is true"),
        (2, {"name": "Force A"}, "forces[0] and forces[2] have the same name 'Force A'"),
        (2, {"name": "force-a"}, "forces[0] and forces[2] have the same folder name 'force_a'"),
        (2, {"raw_dir": "data/raw/three/force_a"}, "have the same raw_dir 'data/raw/three/force_a'"),
    ],
)
def test_each_bad_force_key_is_one_line_naming_the_force(national, index, changes, expected):
    assert expected in _error(_with_force(national, index, **changes))


def test_a_force_that_is_not_a_mapping_and_several_errors_at_once(national):
    message = _error({**national, "forces": ["Force A", {"name": "B", "raw_dir": "b", "seed": -2}]})
    assert "forces[0]: must be a mapping" in message and "forces[1] ('B'): key 'seed': value -2" in message


def test_real_extracts_of_each_force_must_be_there(national, tmp_path):
    (tmp_path / "a").mkdir()
    raw = {**national, "synthetic": False, "forces": [{"name": "A", "raw_dir": str(tmp_path / "a")},
                                                       {"name": "B", "raw_dir": "no/such/folder"}]}
    message = _error(raw)
    assert "force 'B': raw_dir 'no/such/folder' is not a folder" in message and "force 'A'" not in message


def test_a_params_file_of_forces_is_loaded_and_its_errors_name_the_file(national, tmp_path):
    path = tmp_path / "national.yaml"
    path.write_text(yaml.safe_dump(national))
    assert config.load_params(path).forces[2].name == "Force C"
    path.write_text(yaml.safe_dump(_with_force(national, 0, seed="x")))
    with pytest.raises(config.ParamsError, match=r"national.yaml: forces\[0\] \('Force A'\): key 'seed': value 'x'"):
        config.load_params(path)
