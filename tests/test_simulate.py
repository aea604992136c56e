"""The simulator's NWB files: readable by pynwb, in Allen's layout, and informative."""

from __future__ import annotations

import numpy as np
import pytest

from nidecode.nwb import read_session
from nidecode.responses import ALLEN_UNIT_FILTERS, select_units
from nidecode.simulate import AnimalSpec, Protocol, simulate_session, write_nwb
from nidecode.stimuli import Canvas

SMALL = {"VISp": 30, "VISl": 6, "LGd": 6, "CA1": 6}


@pytest.fixture(scope="module")
def sim_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "S0.nwb"
    proto = Protocol(repeats=2, blanks_gratings=4, blanks_scenes=4, spontaneous_s=5.0)
    sim = simulate_session(AnimalSpec("S0", seed=3, n_units=SMALL), proto, Canvas(20, 32))
    write_nwb(sim, path)
    return path


def test_opens_with_pynwb_and_has_allen_tables(sim_file):
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(sim_file), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        for col in (
            "spike_times",
            "peak_channel_id",
            "quality",
            "isi_violations",
            "amplitude_cutoff",
            "presence_ratio",
            "snr",
            "firing_rate",
        ):
            assert col in units.columns, col
        electrodes = nwb.electrodes.to_dataframe()
        assert {"VISp", "VISl", "LGd", "CA1"} <= set(electrodes.location)
        sg = nwb.intervals["static_gratings_presentations"].to_dataframe()
        ns = nwb.intervals["natural_scenes_presentations"].to_dataframe()
        for table in (sg, ns):
            for col in (
                "start_time",
                "stop_time",
                "stimulus_name",
                "stimulus_block",
                "orientation",
                "spatial_frequency",
                "phase",
                "contrast",
                "frame",
            ):
                assert col in table.columns, col
        assert "spontaneous_presentations" in nwb.intervals
        speed = nwb.processing["running"]["running_speed"]
        assert len(speed.data[:]) == len(speed.timestamps[:]) > 0
        assert "SIMULATED" in nwb.session_description
    # Allen's values: 250 ms presentations back to back, blanks as "null" / frame -1.
    assert np.allclose(sg.stop_time - sg.start_time, 0.25)
    for _, block in sg.groupby("stimulus_block"):  # back to back within each block
        assert np.allclose(np.diff(block.start_time.to_numpy()), 0.25)
    assert sg.stimulus_block.nunique() == 3 and ns.stimulus_block.nunique() == 3
    assert (sg.orientation == "null").sum() == 4
    assert (ns.frame == "-1").sum() == 4
    assert len(sg) == 120 * 2 + 4 and len(ns) == 118 * 2 + 4
    assert set(sg.orientation[sg.orientation != "null"].astype(float)) == set(range(0, 180, 30))


def test_some_units_fail_allen_filters(sim_file):
    session = read_session(sim_file)
    passing = select_units(session, ("VISp", "VISl", "LGd", "CA1"), ALLEN_UNIT_FILTERS)
    assert 0 < (~passing).sum() < len(passing) / 2


def test_null_animal_carries_no_stimulus_information():
    from nidecode.responses import spike_counts

    proto = Protocol(repeats=4, blanks_gratings=0, blanks_scenes=0, spontaneous_s=2.0)
    out = {}
    for blind in (False, True):
        sim = simulate_session(
            AnimalSpec("X", seed=7, n_units={"VISp": 40}, stimulus_blind=blind),
            proto,
            Canvas(20, 32),
        )
        blk = sim.blocks["static_gratings"]
        counts = spike_counts(sim.spike_times, blk["start"], blk["stop"])
        # Fraction of count variance explained by the grating shown (per unit, averaged).
        cond = blk["condition"]
        means = np.stack([counts[cond == c].mean(0) for c in range(120)])
        out[blind] = float(np.mean(means.var(0) / counts.var(0)))
    # Four repeats: pure noise explains ~1/4 of the variance; tuned units explain much more.
    assert out[False] > 0.5
    assert out[True] < 0.4


def test_same_seed_same_spikes():
    proto = Protocol(repeats=1, blanks_gratings=1, blanks_scenes=1, spontaneous_s=1.0)
    a = simulate_session(AnimalSpec("X", seed=1, n_units={"VISp": 3}), proto, Canvas(12, 20))
    b = simulate_session(AnimalSpec("X", seed=1, n_units={"VISp": 3}), proto, Canvas(12, 20))
    c = simulate_session(AnimalSpec("X", seed=2, n_units={"VISp": 3}), proto, Canvas(12, 20))
    assert all(np.array_equal(x, y) for x, y in zip(a.spike_times, b.spike_times, strict=True))
    assert not all(len(x) == len(y) for x, y in zip(a.spike_times, c.spike_times, strict=True))


# ------------------------------------------------------------------------------- slow drift

NO_DRIFT = {"drift_unit_sd": 0.0, "drift_shared_sd": 0.0}


def test_drift_off_gives_the_spikes_of_the_drift_free_simulator():
    # Spike counts of the simulator before drift existed (same seed and protocol): with both
    # drift SDs at 0 no draw of the session changes (drift has its own generator).
    proto = Protocol(repeats=1, blanks_gratings=2, blanks_scenes=2, spontaneous_s=3.0)
    before = {
        False: [1324, 766, 621, 402, 458, 628],
        True: [456, 563, 266, 175, 352, 346],
    }
    for blind, counts in before.items():
        spec = AnimalSpec("X", 11, {"VISp": 4, "LGd": 2}, stimulus_blind=blind, **NO_DRIFT)
        sim = simulate_session(spec, proto, Canvas(12, 20))
        assert [len(s) for s in sim.spike_times] == counts
        assert sim.drift_log_gain.size == 0
    # Drift on (the default) changes the spikes, and is seeded too.
    on = [simulate_session(AnimalSpec("X", 11, {"VISp": 4}), proto, Canvas(12, 20)) for _ in "ab"]
    assert on[0].drift_log_gain.shape == (len(on[0].drift_t), 4)
    np.testing.assert_array_equal(on[0].drift_log_gain, on[1].drift_log_gain)
    assert all(np.array_equal(x, y) for x, y in zip(on[0].spike_times, on[1].spike_times,
                                                    strict=True))


def test_drift_log_gain_is_a_mean_preserving_ou_process():
    from nidecode.simulate import DRIFT_GRID_S, drift_log_gain

    tau, su, ss = 50.0, 0.35, 0.25
    spec = AnimalSpec("X", 1, drift_tau_s=tau, drift_unit_sd=su, drift_shared_sd=ss)
    t, lg = drift_log_gain(spec, 300, 20_000.0, np.random.default_rng(0))
    assert np.allclose(np.diff(t), DRIFT_GRID_S) and t[-1] >= 20_000.0
    # Stationary: log-gain mean -(su^2 + ss^2)/2 and SD sqrt(su^2 + ss^2); E[gain] = 1.
    assert abs(lg.mean() + (su**2 + ss**2) / 2) < 0.03
    assert abs(lg.std() - np.hypot(su, ss)) < 0.02
    assert abs(np.exp(lg).mean() - 1.0) < 0.03
    # The shared part is the mean over units (up to su / sqrt(300)); the rest is the unit's own.
    shared = lg.mean(axis=1)
    assert abs(shared.std() - ss) < 0.04
    assert abs((lg - shared[:, None]).std() - su) < 0.02
    # Autocorrelation of an OU process: exp(-lag / tau).
    x = lg - lg.mean(axis=0)
    for lag in (10, 50, 100):
        k = int(lag / DRIFT_GRID_S)
        r = (x[k:] * x[:-k]).mean() / (x * x).mean()
        assert abs(r - np.exp(-lag / tau)) < 0.05, (lag, r)


def test_rates_follow_the_drift_trace():
    # A null animal without trial gain noise or running: its spike counts in 5 s windows
    # track exp(log-gain) of the drift trace the session returns.
    proto = Protocol(repeats=2, blanks_gratings=0, blanks_scenes=0, spontaneous_s=20.0)
    spec = AnimalSpec("X", 5, {"VISp": 20}, gain_noise=0.0, stimulus_blind=True,
                      running_modulation=0.0, drift_tau_s=20.0, drift_unit_sd=0.5,
                      drift_shared_sd=0.0)
    sim = simulate_session(spec, proto, Canvas(12, 20))
    edges = np.arange(0.0, sim.blocks["end_time"]["t"] - 5.0, 5.0)
    fine = np.arange(0.0, edges[-1] + 5.0, 0.05)
    corr = []
    for u, st in enumerate(sim.spike_times):
        counts = np.histogram(st, np.append(edges, edges[-1] + 5.0))[0]
        g = np.exp(np.interp(fine, sim.drift_t, sim.drift_log_gain[:, u]))
        expected = g.reshape(len(edges), -1).mean(axis=1)
        corr.append(np.corrcoef(counts, expected)[0, 1])
    assert np.median(corr) > 0.7


def test_blocks_are_numbered_across_the_session_as_allen_does(sim_file):
    # Allen numbers the session's stimulus epochs 0, 1, 2, ... in time order; spontaneous
    # (grey screen) lies outside every block, in intervals/spontaneous_presentations.
    session = read_session(sim_file)
    p = session.presentations
    assert p["stimulus_block"].dtype == np.int64
    first = p.groupby("stimulus_block").start_time.min().sort_values()
    assert list(first.index) == list(range(6))  # block numbers increase with time
    names = p.groupby("stimulus_block").stimulus_name.agg(set)
    assert all(len(n) == 1 for n in names)  # a block shows one stimulus
    assert [next(iter(names[b])) for b in range(6)] == ["static_gratings", "natural_scenes"] * 3
    spont = session.spontaneous
    assert len(spont) == 2
    last_of = p.groupby("stimulus_block").stop_time.max()
    assert np.isclose(spont.start_time.iloc[1], last_of[1])  # grey screen after block 1


def test_presentation_ids_are_allensdk_ids(sim_file):
    # AllenSDK: every *_presentations table (spontaneous too) concatenated, sorted by start
    # time, numbered 0..N-1. The first spontaneous block is id 0, gratings start at 1.
    session = read_session(sim_file)
    p, spont = session.presentations, session.spontaneous
    ids = np.concatenate([p.presentation_id, spont.presentation_id])
    assert np.array_equal(np.sort(ids), np.arange(len(ids)))
    starts = np.concatenate([p.start_time, spont.start_time])
    assert np.all(np.diff(starts[np.argsort(ids)]) > 0)
    # Grey screen again after the first gratings block (244 split in 3: 82) and the first
    # scenes block (240 / 3 = 80): id 1 + 82 + 80.
    assert list(spont.presentation_id) == [0, 163]
    for name, n in (("static_gratings", 244), ("natural_scenes", 240)):
        rows = p[p.stimulus_name == name]
        assert sorted(rows.nwb_row_id) == list(range(n))


@pytest.mark.slow
def test_null_animal_with_drift_decodes_stimulus_class_from_time(tmp_path):
    """The confound drift must reveal: N0 (blind) decodes natural vs artificial from drift alone
    under a random trial split, and not without drift."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from nidecode.responses import ResponseSettings, compute_responses
    from nidecode.stimuli import render_stimuli

    canvas = Canvas(20, 32)
    stimuli = render_stimuli(canvas)
    acc = {}
    for drift in (True, False):
        spec = AnimalSpec("N0", 109, {"VISp": 90}, stimulus_blind=True,
                          **({} if drift else NO_DRIFT))
        sim = simulate_session(spec, Protocol(), canvas)  # the default protocol: 10 repeats
        path = tmp_path / f"N0-{drift}.nwb"
        write_nwb(sim, path)
        ds = compute_responses(read_session(path), stimuli, ResponseSettings(), "N0", "test")
        x, y = ds.response.values, (ds.stimulus_class.values == "natural").astype(int)
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        acc[drift] = cross_val_score(clf, x, y, cv=folds, scoring="balanced_accuracy").mean()
    assert acc[True] > 0.58, acc
    assert acc[False] < 0.56, acc
