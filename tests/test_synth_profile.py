"""Issue 19: synthetic force profiles (size below 1, support offered and accepted shifted, an
extract left out) and ``msht data`` for a run of several forces (``params/national.yaml``).

The calibrated population takes tens of seconds per seed, so these tests put the fast,
uncalibrated sampler (:func:`msht.synth.sampler.sample_population`) in its place: what they test
is what the profile and the writer do to a population, not the calibration.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from msht import cli
from msht.config import load_params
from msht.ingest.extracts import EXTRACTS
from msht.synth import generate, profile
from msht.synth.raw import write_extracts
from msht.synth.sampler import sample_population


def _sampled(seed: int = 20240132, scale: int = 1, victims: int = 1500):
    """A stand-in for :func:`msht.synth.population.build_population`: ``victims`` victims per scale."""
    from msht.synth.population import _replicate

    return _replicate(sample_population(victims, seed=seed % 1000), scale)


@pytest.fixture
def fast_population(monkeypatch):
    """Replace the calibration by the sampler wherever the profile builds a population."""
    monkeypatch.setattr(profile, "build_population", _sampled)
    return _sampled


def _rates(pop) -> tuple[float, float]:
    offered, accepted = pop.cases["offered"], pop.cases["accepted"]
    recorded = offered.isin(["yes", "no"])
    return (offered == "yes").sum() / recorded.sum(), (accepted == "yes").sum() / (offered == "yes").sum()


def test_defaults_return_the_calibrated_population_unchanged(fast_population):
    base = _sampled(7)
    same = profile.profiled_population(7, 1, 0.0, 0.0)
    for name in ("victims", "cases", "offenders"):
        pd.testing.assert_frame_equal(getattr(same, name), getattr(base, name))


def test_defaults_write_the_files_generate_writes(fast_population, tmp_path):
    generate.generate_force(tmp_path / "force", seed=7, scale=1.0)
    write_extracts(_sampled(7), tmp_path / "plain", seed=7)
    written = sorted(p.relative_to(tmp_path / "plain") for p in (tmp_path / "plain").rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(tmp_path / "force") for p in (tmp_path / "force").rglob("*") if p.is_file())
    assert all((tmp_path / "plain" / p).read_bytes() == (tmp_path / "force" / p).read_bytes() for p in written)


@pytest.mark.parametrize("shift", [0.8, -0.8])
def test_offered_log_odds_moves_the_rate_of_support_offered_as_the_shift_says(fast_population, shift):
    base = _sampled(11)
    shifted = profile.profiled_population(11, 1, offered_log_odds=shift)
    before, after = _rates(base)[0], _rates(shifted)[0]
    odds = before / (1 - before) * np.exp(shift)
    expected = odds / (1 + odds)
    assert (after > before) == (shift > 0)
    assert after == pytest.approx(expected, abs=0.03)  # 1,500 victims: about 3,000 cases, sd about 0.007
    # an offer not recorded stays unrecorded; acceptance only where support was offered
    assert (shifted.cases["offered"].isna() == base.cases["offered"].isna()).all()
    assert shifted.cases.loc[shifted.cases["offered"] != "yes", "accepted"].isna().all()
    assert shifted.cases.loc[shifted.cases["offered"] == "yes", "accepted"].isin(["yes", "no"]).all()
    for name in ("victims", "offenders"):
        pd.testing.assert_frame_equal(getattr(shifted, name), getattr(base, name))
    pd.testing.assert_frame_equal(shifted.cases.drop(columns=["offered", "accepted"]),
                                  base.cases.drop(columns=["offered", "accepted"]))


def test_accepted_log_odds_moves_acceptance_and_leaves_offers_alone(fast_population):
    base = _sampled(12)
    shifted = profile.profiled_population(12, 1, accepted_log_odds=-1.0)
    assert shifted.cases["offered"].equals(base.cases["offered"])
    assert _rates(shifted)[1] < _rates(base)[1] - 0.05


def test_a_shift_keeps_an_odds_ratio_the_model_knows():
    """A population whose referral form raises the odds of an offer fourfold keeps about that
    odds ratio when every case's log-odds is shifted (the model's intercept moves)."""
    pop = sample_population(3000, seed=5)
    rng = np.random.default_rng(1)
    nrm = (pop.cases["referral_form"] == "nrm").to_numpy()
    p = np.where(nrm, 0.4, 1 / 7)  # odds 2/3 against 1/6: odds ratio 4
    pop.cases["offered"] = np.where(rng.random(len(p)) < p, "yes", "no").astype(object)
    pop.cases["accepted"] = np.where(pop.cases["offered"] == "yes", "no", None).astype(object)
    pop.cases.loc[pop.cases.index[:50], "accepted"] = np.where(pop.cases["offered"].iloc[:50] == "yes", "yes", None)

    def odds_ratio(frame: pd.DataFrame) -> float:
        yes = frame["offered"] == "yes"
        form = frame["referral_form"] == "nrm"
        other = frame["referral_form"] == "ms1"
        return ((yes & form).sum() / (~yes & form).sum()) / ((yes & other).sum() / (~yes & other).sum())

    shifted = profile.shift_support(pop, np.random.default_rng(2), offered_log_odds=1.0, accepted_log_odds=0.0)
    assert odds_ratio(shifted.cases) == pytest.approx(odds_ratio(pop.cases), rel=0.25)
    assert _rates(shifted)[0] > _rates(pop)[0] + 0.1


def test_scale_one_tenth_keeps_a_tenth_of_the_victims_with_all_their_cases(fast_population):
    base = _sampled(13)
    small = profile.profiled_population(13, 0.1)
    assert len(small.victims) == round(0.1 * len(base.victims))
    assert small.cases["victim_id"].isin(small.victims["victim_id"]).all()
    kept = base.cases[base.cases["victim_id"].isin(small.victims["victim_id"])]
    assert len(small.cases) == len(kept)
    assert small.offenders["case_id"].isin(small.cases["case_id"]).all()
    assert len(small.offenders) == base.offenders["case_id"].isin(kept["case_id"]).sum()
    assert 0.07 < len(small.cases) / len(base.cases) < 0.13


@pytest.mark.parametrize("scale", [0, -1, float("nan"), float("inf")])
def test_a_scale_that_is_not_a_positive_number_is_refused(scale):
    with pytest.raises(ValueError, match="scale"):
        profile.profiled_population(1, scale)


def test_a_force_without_an_offender_extract_has_none_written(fast_population, tmp_path):
    raw = tmp_path / "force_d"
    raw.mkdir()
    (raw / "offenders.csv").write_text("an old offender file\n")
    generate.generate_force(raw, seed=3, scale=0.5, extracts=("cases", "victims", "police_records"))
    assert sorted(p.name for p in raw.iterdir() if p.is_file()) == [
        "MANIFEST.json", "cases.csv", "police_records.csv", "victims.csv"]
    manifest = json.loads((raw / "MANIFEST.json").read_text())
    assert manifest["extracts_omitted"] == ["offenders"] and "offenders" not in manifest["rows"]
    truth = pd.read_csv(raw / "_truth" / "defects.csv")
    assert len(truth) and "offenders" not in set(truth["extract"])
    assert generate.extracts_present(raw, extracts=("cases", "victims", "police_records"))
    assert not generate.extracts_present(raw)


def test_an_extract_list_without_cases_is_refused(tmp_path):
    with pytest.raises(ValueError, match="include cases"):
        generate.generate_force(tmp_path, seed=1, extracts=("victims",))


def _national_in(tmp_path: Path, root: Path) -> Path:
    """``params/national.yaml`` with each force's raw_dir under ``tmp_path``."""
    raw = yaml.safe_load((root / "params" / "national.yaml").read_text(encoding="utf-8"))
    for force in raw["forces"]:
        force["raw_dir"] = str(tmp_path / Path(force["raw_dir"]).name)
    path = tmp_path / "national.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_msht_data_writes_the_five_forces_of_the_national_twin(monkeypatch, root, tmp_path, capsys):
    monkeypatch.setattr(profile, "build_population", lambda seed, scale: _sampled(seed, scale, victims=300))
    params_path = _national_in(tmp_path, root)
    assert cli.main(["data", "--params", str(params_path)]) == 0
    forces = load_params(params_path).forces
    assert len(forces) == 5 and len({f.name for f in forces}) == 5
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [f"force_{c}" for c in "abcde"]
    rows = {f.name: json.loads((tmp_path / Path(f.raw_dir).name / "MANIFEST.json").read_text())["rows"]
            for f in forces}
    # sizes: A and B the published size, C a tenth, D a half, E twice (raw rows include injected defects)
    assert rows["Force C"]["cases"] / rows["Force A"]["cases"] == pytest.approx(0.1, abs=0.03)
    assert rows["Force D"]["cases"] / rows["Force A"]["cases"] == pytest.approx(0.5, abs=0.05)
    assert rows["Force E"]["cases"] / rows["Force A"]["cases"] == pytest.approx(2.0, abs=0.1)
    # B in the second layout, D without an offender extract, the others in the dictionary's layout
    assert sorted(p.name for p in (tmp_path / "force_b").iterdir() if p.is_file()) == [
        "MANIFEST.json", "MSHT_Cases_Export.xlsx", "Nominal_Involvements.csv", "Suspects_Offenders.csv",
        "Victim_Nominals.csv"]
    assert not (tmp_path / "force_d" / "offenders.csv").exists()
    for name in ("force_a", "force_c", "force_e"):
        assert all((tmp_path / name / f"{e}.csv").exists() for e in EXTRACTS)
    # a second `msht data` leaves the forces' extracts alone
    before = (tmp_path / "force_a" / "cases.csv").stat().st_mtime_ns
    assert cli.main(["data", "--params", str(params_path)]) == 0
    assert (tmp_path / "force_a" / "cases.csv").stat().st_mtime_ns == before
    assert "already present" in capsys.readouterr().out


def test_the_national_twin_offers_support_at_the_rates_its_params_give(fast_population, root):
    """Force A (+0.7) offers support more often than Force B (-0.7), clearly."""
    forces = {f.name: f for f in load_params(root / "params" / "national.yaml").forces}
    a, b = (profile.profiled_population(forces[n].seed, forces[n].scale, forces[n].offered_log_odds,
                                        forces[n].accepted_log_odds) for n in ("Force A", "Force B"))
    assert _rates(a)[0] - _rates(b)[0] > 0.12
