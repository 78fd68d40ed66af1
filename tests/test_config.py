from pathlib import Path

import pytest

from msht import config


def test_default_params_load_and_paths_are_under_root(root):
    params = config.load_params(root / "params" / "default.yaml")
    assert params.run_name == "default"
    assert params.synthetic is True
    paths = config.RunPaths.from_params(params, root)
    for p in (paths.raw_dir, paths.processed_dir, paths.results_dir, paths.report_dir):
        assert root in p.parents


def _shipped_params(root: Path) -> list[Path]:
    """The params files the project ships (tracked by git; a clone without git: every one), not a
    user's own files kept beside them in ``params/``."""
    import subprocess

    found = subprocess.run(["git", "-C", str(root), "ls-files", "params/*.yaml"], capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.strip():
        return sorted((root / "params").glob("*.yaml"))
    return sorted(root / line for line in found.stdout.split())


def test_every_params_file_has_the_same_keys_and_relative_paths(root):
    for path in _shipped_params(root):
        params = config.load_params(path)
        # A run of several forces has no top-level raw_dir: each force names its own.
        raw_dirs = [force.raw_dir for force in params.forces] if params.forces else [params.raw_dir]
        assert raw_dirs and all(raw_dirs), f"{path.name}: every force needs a raw_dir"
        for raw_dir in raw_dirs:
            assert not Path(raw_dir).is_absolute(), f"{path.name}: raw_dir {raw_dir} must be relative"
        for key in ("processed_dir", "results_dir", "report_dir"):
            assert not Path(getattr(params, key)).is_absolute(), f"{path.name}: {key} must be relative"


def test_missing_and_unknown_keys_are_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("run_name: x\nsurprise: 1\n")
    with pytest.raises(config.ParamsError, match=r"missing keys \[.*'alpha'.*unknown keys \['surprise'\]"):
        config.load_params(bad)


def test_wrong_type_is_named(tmp_path, root):
    text = (root / "params" / "default.yaml").read_text().replace("scale: 1 ", "scale: big ")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(config.ParamsError, match="key 'scale': value 'big' must be a whole number"):
        config.load_params(bad)


def test_params_from_namespace_round_trip(root):
    params = config.load_params(root / "params" / "default.yaml")
    assert config.params_from(params.as_dict()) == params
    with pytest.raises(config.ParamsError, match="lacks"):
        config.params_from({"run_name": "x"})


def test_force_words_split(root):
    params = config.load_params(root / "params" / "default.yaml")
    assert params.force_words == ["police", "constabulary", "force"]


def test_seed_and_scale_are_needed_only_for_a_synthetic_run(tmp_path, root):
    """A force's own extracts (synthetic: false) need no seed or scale; a twin needs a seed."""
    import yaml

    raw = yaml.safe_load((root / "params" / "default.yaml").read_text())
    for key in ("seed", "scale"):
        raw.pop(key)
    (tmp_path / "raw").mkdir()
    real = tmp_path / "real.yaml"
    real.write_text(yaml.safe_dump({**raw, "synthetic": False, "raw_dir": str(tmp_path / "raw")}))
    params = config.load_params(real)
    assert params.seed is None and params.scale == 1
    twin = tmp_path / "twin.yaml"
    twin.write_text(yaml.safe_dump(raw))
    with pytest.raises(config.ParamsError, match="seed is missing"):
        config.load_params(twin)
