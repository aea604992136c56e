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
