"""The calibration study's real arm (issue 27) on a small fixture folder in the gabor-epoch
exchange format, and benchmarks/studies/export_gabor.py's round trip. No shared data."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nidecode.data.gabors import (
    GaborEpoch,
    epoch_sessions,
    gabor_conditions,
    load_epoch,
    save_epoch,
    session_epoch,
)
from nidecode.data.nwb import read_session
from nidecode.data.session_clock import Protocol
from nidecode.data.simulate import AnimalSpec, simulate_session, write_nwb
from nidecode.data.stimuli import Canvas
from nidecode.studies.false_positives import (
    real_arm,
    real_arm_markdown,
    real_group_table,
    real_groups,
    rejection_table,
)

ROOT = Path(__file__).resolve().parents[1]
N_GOOD = 15  # VISp units that pass Allen's default filters, per session
DECODERS = {"glm": {"C": 1.0}, "knn": {"n_neighbors": 15}}


def _session(folder: Path, name: str, seed: int, drift: float) -> list[dict]:
    """3,645 Poisson presentations (243 conditions x 15, random order, 250 ms apart) of
    N_GOOD good VISp units, one VISl unit and one VISp unit failing amplitude_cutoff. Each
    unit's rate steps by exp(N(0, drift)) in each sixth of the epoch (per-stretch drift)."""
    rng = np.random.default_rng(seed)
    cond = rng.permutation(np.repeat(np.arange(len(gabor_conditions())), 15))
    n_units = N_GOOD + 2
    tuning = rng.gamma(4.0, 0.25, (len(gabor_conditions()), n_units))  # spikes / presentation
    stretch = (np.arange(len(cond)) * 6) // len(cond)
    step = np.exp(rng.normal(0, drift, (6, n_units))) if drift else np.ones((6, n_units))
    counts = rng.poisson(tuning[cond] * step[stretch])
    table = pd.DataFrame([gabor_conditions()[c] for c in cond],
                         columns=["x_position", "y_position", "orientation"])
    ids = np.arange(n_units) + 1000 * seed
    epoch = GaborEpoch(name, "allen", counts, np.arange(len(cond)) * 0.25 + 80.0, cond, ids,
                       np.array(["VISp"] * n_units))
    save_epoch(epoch, folder, table=table)
    area = ["VISp"] * N_GOOD + ["VISl", "VISp"]
    return [{"ecephys_session_id": name, "ecephys_unit_id": int(u),
             "ecephys_structure_acronym": a, "quality": "good",
             "amplitude_cutoff": 0.5 if k == n_units - 1 else 0.01, "presence_ratio": 0.99,
             "isi_violations": 0.1} for k, (u, a) in enumerate(zip(ids, area, strict=True))]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("real")
    rows = (_session(out, "s0_drift", 1, 0.6) + _session(out, "s1", 2, 0.0)
            + _session(out, "s2", 3, 0.0))
    pd.DataFrame(rows).to_csv(out / "units.csv.gz", index=False)
    return out


@pytest.fixture(scope="module")
def arm(folder):
    return real_arm(folder, decoders=DECODERS, n_permutations=2)


def test_one_record_per_session_split_and_decoder(arm):
    assert len(arm) == 3 * 2 * len(DECODERS)
    assert set(arm.groupby(["session", "split", "decoder"]).size()) == {1}
    assert arm.stimulus_blind.all() and arm.skipped.isna().all()
    # Allen's default filters and VISp only: the VISl unit and the failing unit are left out.
    assert set(arm.n_units) == {N_GOOD}
    assert set(arm.n_presentations) == {3645}
    # Six stretches, three a pseudo-class: C(6, 3) / 2 = 10 partitions, 9 relabellings.
    assert set(arm.n_time_null) == {9}
    assert (arm[arm.decoder == "glm"].n_label_shuffles == 2).all()
    assert arm[arm.decoder == "knn"].p_label_shuffle.isna().all()


def test_per_stretch_drift_is_read_in_the_trial_split(arm):
    r = arm.set_index(["session", "split", "decoder"])
    # Strong per-stretch drift: every trial-split fold of the drifting session decodes the
    # time-only label (binomial p of every fold, the record's max, far below 0.05) ...
    for dec in DECODERS:
        assert r.loc[("s0_drift", "trial", dec), "p_binomial"] < 1e-6
        assert r.loc[("s0_drift", "trial", dec), "accuracy"] > 0.6
    # ... while stationary sessions sit near chance in both splits.
    stationary = arm[arm.session != "s0_drift"]
    assert (stationary.accuracy.between(0.4, 0.6)).all()
    table = rejection_table(arm[arm.session != "s0_drift"])
    trial = table[(table.split == "trial") & (table.test == "p_binomial")]
    assert (trial["rejected_at_0.05"] == 0).all()
    # p_time rests on 10 partitions: floor 0.1 for one session.
    p_time = rejection_table(arm).query("test == 'p_time'")
    assert np.allclose(p_time.floor, 0.1)


def test_groups_are_disjoint_and_their_overlap_is_counted():
    names = [f"s{k}" for k in range(32)]
    disjoint, random, overlap = real_groups(names, 9, 200, seed=0)
    assert len(disjoint) == 3 and all(len(g) == 9 for g in disjoint)
    assert len(set(itertools.chain(*disjoint))) == 27
    assert len(random) == 200 and all(len(set(g)) == 9 for g in random)
    shared = [len(set(a) & set(b)) for a, b in itertools.combinations(random, 2)]
    assert overlap == pytest.approx(np.mean(shared))
    assert overlap == pytest.approx(9 * 9 / 32, abs=0.15)  # expected 2.53
    assert real_groups(names, 9, 200, seed=0) == (disjoint, random, overlap)  # seeded


def test_group_table_and_markdown(arm):
    g = real_group_table(arm, group_size=2, n_random=4)
    assert set(g.groups) == {"disjoint", "random"}
    assert len(g) == 2 * 2 * len(DECODERS)
    d = g[g.groups == "disjoint"]
    assert (d.n_groups == 1).all() and (d.mean_overlap == 0).all()
    assert np.allclose(g.floor, 1 / 100)  # two sessions of 10 partitions each
    assert np.allclose(g[g.groups == "random"].expected_overlap, 4 / 3)
    md = real_arm_markdown(arm, group_size=2, n_random=4)
    assert "(1 of 3)" in md  # the drifting session, binomial test in the trial split
    assert "cannot reject" in md  # p_time at 0.05, one session
    assert md.count("\n| disjoint |") == 2 * len(DECODERS)


def _export_module():
    spec = importlib.util.spec_from_file_location(
        "export_gabor", ROOT / "benchmarks" / "studies" / "export_gabor.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_export_round_trip(tmp_path, capsys, monkeypatch):
    path = tmp_path / "S0.nwb"
    write_nwb(simulate_session(AnimalSpec("S0", seed=3, n_units={"VISp": 30, "LGd": 4}),
                               Protocol(repeats=1, blanks_gratings=2, blanks_scenes=2),
                               Canvas(20, 32)), path)
    (tmp_path / "broken.nwb").write_bytes(b"not an NWB file")
    out = tmp_path / "exported"
    mod = _export_module()
    monkeypatch.setattr("sys.argv", ["export_gabor.py", str(out), str(path),
                                     str(tmp_path / "broken.nwb")])
    assert mod.main() == 0
    printed = capsys.readouterr().err  # skip lines go to stderr
    assert "skipped" in printed and "broken.nwb" in printed
    session = read_session(path)
    name = epoch_sessions(out)[0]
    assert name in (str(session.session_id), "S0")
    want = session_epoch(session, ("VISp",), {}, "allen", name)
    got = load_epoch(out, name, ("VISp",), None)
    assert got.counts.shape == want.counts.shape == (3645, 30)
    np.testing.assert_array_equal(got.counts, want.counts)
    np.testing.assert_array_equal(got.unit_ids, want.unit_ids)
    np.testing.assert_allclose(got.start_time, want.start_time)
    # Same conditions, up to the ids' numbering.
    assert len(np.unique(got.condition)) == len(np.unique(want.condition)) == 243
    units = pd.read_csv(out / "units.csv.gz")
    assert set(units.ecephys_structure_acronym) == {"VISp"}  # LGd is not visual cortex
    for col in ("ecephys_session_id", "ecephys_unit_id", "quality", "amplitude_cutoff",
                "presence_ratio", "isi_violations"):
        assert col in units
