"""The loader's rates and z-scores against values computed by hand on a hand-made NWB file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from conftest import UNIT_A, write_allen_nwb
from nidecode.common.errors import (
    BaselineError,
    NidecodeError,
    NWBReadError,
    RunningSpeedError,
    SessionTypeError,
    UnitSelectionError,
)
from nidecode.data.nwb import read_session
from nidecode.data.responses import (
    ResponseSettings,
    StaleStimuliError,
    check_stimuli,
    compute_responses,
)

# Unit A by hand (presentations in time order, blanks dropped):
#   window [start, start+0.25)       spikes        rate (Hz)
#   gratings 10.00 10.25 10.50     2, 1, 0       8, 4, 0
#   scenes   20.00 20.25 20.50     3, 0, 1       12, 0, 4
#   pre-onset 200 ms windows        1,1,1,2,2,0   5, 5, 5, 10, 10, 0
# baseline mean 35/6 = 5.8333 Hz; SD (ddof=1) = sqrt(70.8333/5) = 3.7639 Hz.
RATES = [8.0, 4.0, 0.0, 12.0, 0.0, 4.0]
MU, SD = 35 / 6, np.sqrt(70.8333333 / 5)


def test_rates_and_zscores_match_hand_computation(hand_nwb, small_stimuli):
    ds = compute_responses(read_session(hand_nwb), small_stimuli,
                           ResponseSettings(time_bin_s=None), "T", "test")
    # CA1 unit and noise unit gone; the blanks are on their own dimension (no time bins).
    assert ds.sizes == {"presentation": 6, "unit": 1, "blank": 2}
    np.testing.assert_allclose(ds.rate.values[:, 0], RATES, rtol=1e-6)
    np.testing.assert_allclose(ds.baseline_mean.values, [MU], rtol=1e-5)
    np.testing.assert_allclose(ds.baseline_sd.values, [SD], rtol=1e-5)
    np.testing.assert_allclose(ds.response.values[:, 0], (np.array(RATES) - MU) / SD, rtol=1e-5)
    # Each presentation's own pre-onset window is kept, for z-scoring with training blocks.
    np.testing.assert_allclose(ds.baseline_rate.values[:, 0], [5, 5, 5, 10, 10, 0], rtol=1e-6)
    assert list(ds.stimulus_class.values) == ["artificial"] * 3 + ["natural"] * 3
    assert ds.attrs["n_blank_presentations_dropped"] == 2
    # Stimulus rows: grating (0 deg, 0.04 cpd, phase 0) is Allen-order row 4; scene 5 -> 125.
    assert ds.stimulus_index.values[0] == 4
    assert ds.stimulus_index.values[3] == 120 + 5
    # Running: samples 2 and 4 cm/s fall in the first presentation, 7 in the second.
    np.testing.assert_allclose(ds.running_speed.values[:3], [3.0, 7.0, np.nan])


def test_spontaneous_baseline_without_grey_screen_is_an_error(hand_nwb, small_stimuli):
    with pytest.raises(BaselineError, match="responses.baseline: pre_onset"):
        compute_responses(
            read_session(hand_nwb),
            small_stimuli,
            ResponseSettings(baseline="spontaneous"),
            "T",
            "test",
        )


def test_time_binned_counts_sum_to_window_counts(hand_nwb, small_stimuli):
    ds = compute_responses(
        read_session(hand_nwb), small_stimuli, ResponseSettings(time_bin_s=0.05), "T", "test"
    )
    assert ds.counts.shape == (6, 5, 1)
    np.testing.assert_array_equal(ds.counts.sum("time_bin").values[:, 0], np.array(RATES) * 0.25)
    # 10.01 and 10.1 fall in bins 0 and 2 of the first presentation.
    np.testing.assert_array_equal(ds.counts.values[0, :, 0], [1, 0, 1, 0, 0])


# ------------------------------------------------------------------------------ bad inputs


def test_truncated_nwb_file(hand_nwb, small_stimuli, tmp_path):
    broken = tmp_path / "broken.nwb"
    broken.write_bytes(hand_nwb.read_bytes()[:5000])
    with pytest.raises(NWBReadError, match="broken.nwb.*truncated or corrupt"):
        read_session(broken)


def test_not_hdf5_at_all(tmp_path):
    junk = tmp_path / "junk.nwb"
    junk.write_text("<html>proxy error</html>")
    with pytest.raises(NWBReadError, match="junk.nwb"):
        read_session(junk)


def test_functional_connectivity_session(tmp_path):
    path = write_allen_nwb(
        tmp_path / "fc.nwb", {"A": ("VISp", "good", UNIT_A)}, gratings=False, scenes=False
    )
    with pytest.raises(SessionTypeError, match="fc.nwb.*brain_observatory_1.1"):
        read_session(path)


def test_no_units_in_area(hand_nwb, small_stimuli):
    with pytest.raises(UnitSelectionError, match=r"no units in areas \['VISrl'\].*responses.areas"):
        compute_responses(
            read_session(hand_nwb), small_stimuli, ResponseSettings(areas=("VISrl",)), "T", "test"
        )


def test_every_unit_filtered_out(tmp_path, small_stimuli):
    path = write_allen_nwb(tmp_path / "noisy.nwb", {"C": ("VISp", "noise", UNIT_A)})
    with pytest.raises(UnitSelectionError, match="fail the quality filters.*responses.filters"):
        compute_responses(read_session(path), small_stimuli, ResponseSettings(), "T", "test")
    # With the filters off the same unit is kept.
    ds = compute_responses(
        read_session(path), small_stimuli, ResponseSettings(filters={}), "T", "test"
    )
    assert ds.sizes["unit"] == 1


def test_zero_baseline_sd(tmp_path, small_stimuli):
    # Unit D's only spike (10.01 s) lies in no pre-onset window: its baseline is 0 Hz throughout.
    path = write_allen_nwb(
        tmp_path / "silent.nwb", {"A": ("VISp", "good", UNIT_A), "D": ("VISp", "good", [10.01])}
    )
    with pytest.raises(BaselineError, match=r"units \[1\] have zero baseline SD.*zero_sd_units"):
        compute_responses(read_session(path), small_stimuli, ResponseSettings(), "T", "test")
    ds = compute_responses(
        read_session(path), small_stimuli, ResponseSettings(zero_sd_units="drop"), "T", "test"
    )
    assert ds.unit_id.values.tolist() == [0]
    assert ds.attrs["zero_sd_units_dropped"] == "[1]"
    assert np.isfinite(ds.response.values).all()


def test_missing_running_speed(tmp_path, small_stimuli):
    path = write_allen_nwb(tmp_path / "norun.nwb", {"A": ("VISp", "good", UNIT_A)}, running=False)
    with pytest.raises(RunningSpeedError, match="norun.nwb.*require_running_speed: false"):
        compute_responses(read_session(path), small_stimuli, ResponseSettings(), "T", "test")
    ds = compute_responses(
        read_session(path),
        small_stimuli,
        ResponseSettings(require_running_speed=False),
        "T",
        "test",
    )
    assert np.isnan(ds.running_speed.values).all()


# ---------------------------------------------------------------------------- blanks kept apart


def test_blanks_have_their_own_dimension_with_the_presentations_baseline(hand_nwb, small_stimuli):
    # Blanks 3 (gratings block 2, 10.75-11.00) and 7 (scenes block 4, 20.75-21.00): unit A has
    # no spike in either, so rate 0 and z = (0 - MU) / SD with the presentations' baseline.
    ds = compute_responses(read_session(hand_nwb), small_stimuli, ResponseSettings(), "T", "test")
    assert ds.blank_rate.dims == ds.blank_response.dims == ("blank", "unit")
    assert ds.blank_rate.dtype == ds.blank_response.dtype == np.float32
    np.testing.assert_allclose(ds.blank_rate.values[:, 0], [0.0, 0.0])
    np.testing.assert_allclose(ds.blank_response.values[:, 0], [-MU / SD] * 2, rtol=1e-5)
    assert ds.blank_presentation_id.values.tolist() == [3, 7]
    assert ds.blank_stimulus_block.values.tolist() == [2, 4]
    assert ds.blank_stimulus_name.values.tolist() == ["static_gratings", "natural_scenes"]
    np.testing.assert_allclose(ds.blank_start_time.values, [10.75, 20.75])
    # The main dimension is what it was without them (hand values above).
    np.testing.assert_allclose(ds.response.values[:, 0], (np.array(RATES) - MU) / SD, rtol=1e-5)


def test_masked_blanks_stay_out_and_no_blanks_is_a_zero_sized_dimension(tmp_path, small_stimuli):
    from nidecode.common.io import open_netcdf, write_netcdf

    both = [(10.75, 11.0, ["stimulus"]), (20.75, 21.0, ["stimulus"])]
    for invalid, ids in (([both[0]], [7]), (both, [])):
        path = write_allen_nwb(
            tmp_path / "b.nwb", {"A": ("VISp", "good", UNIT_A)}, invalid_times=invalid
        )
        ds = compute_responses(read_session(path), small_stimuli, ResponseSettings(), "T", "t")
        assert ds.blank_presentation_id.values.tolist() == ids
        assert ds.blank_response.shape == (len(ids), 1)
        write_netcdf(ds, tmp_path / "r.nc")  # the blank variables round-trip, even empty
        xr.testing.assert_identical(open_netcdf(tmp_path / "r.nc"), ds)


def test_blanks_match_the_nwb_blanks_of_a_simulated_session(small_stimuli, tmp_path):
    import h5py

    from nidecode.data.session_clock import Protocol
    from nidecode.data.simulate import AnimalSpec, simulate_session, write_nwb
    from nidecode.data.stimuli import Canvas

    sim = simulate_session(
        AnimalSpec(name="M1", seed=3, n_units={"VISp": 6}),
        Protocol(repeats=1, blanks_gratings=5, blanks_scenes=4),  # Allen's clock: 3 blocks each
        Canvas(12, 20),
    )
    path = tmp_path / "M1.nwb"
    write_nwb(sim, path)
    expected = {}  # (stimulus_name, block) -> number of blanks, read from the file itself
    with h5py.File(path, "r") as f:
        for name, col in (("static_gratings", "orientation"), ("natural_scenes", "frame")):
            t = f[f"intervals/{name}_presentations"]
            vals = t[col].asstr()[:]
            is_blank = (vals == "null") if col == "orientation" else (vals == "-1")
            for b in t["stimulus_block"][:][is_blank]:
                expected[(name, int(b))] = expected.get((name, int(b)), 0) + 1
    ds = compute_responses(
        read_session(path, provenance="simulated"), small_stimuli,
        ResponseSettings(zero_sd_units="drop"), "M1", "simulated",
    )
    got: dict = {}
    for name, b in zip(ds.blank_stimulus_name.values, ds.blank_stimulus_block.values,
                       strict=True):
        got[(str(name), int(b))] = got.get((str(name), int(b)), 0) + 1
    assert got == expected and sum(got.values()) == 9
    assert ds.attrs["n_blank_presentations_dropped"] == 9
    # Blank blocks are the blocks the stimuli were shown in; ids are not presentations' ids.
    assert set(ds.blank_stimulus_block.values) <= set(ds.stimulus_block.values)
    assert not set(ds.blank_presentation_id.values) & set(ds.presentation_id.values)
    assert np.isfinite(ds.blank_response.values).all()


# ------------------------------------------------------------- blocks and presentation ids


def test_block_and_presentation_id_coords(hand_nwb, small_stimuli):
    # AllenSDK numbers the concatenated *_presentations tables after sorting by start time:
    # gratings (10.00-10.75 s) are 0-3, scenes (20.00-20.75 s) 4-7; blanks (3, 7) dropped.
    ds = compute_responses(read_session(hand_nwb), small_stimuli, ResponseSettings(), "T", "test")
    assert ds.presentation_id.values.tolist() == [0, 1, 2, 4, 5, 6]
    assert ds.nwb_row_id.values.tolist() == [0, 1, 2, 0, 1, 2]
    assert ds.stimulus_block.values.tolist() == [2, 2, 2, 4, 4, 4]
    for coord in ("presentation_id", "nwb_row_id", "stimulus_block"):
        assert ds[coord].dtype == np.int64
        assert ds[coord].dims == ("presentation",)


def test_presentation_ids_count_every_presentations_table(hand_nwb, small_stimuli):
    # Grey screen and other stimuli (here flashes) take AllenSDK ids too. In time order:
    # spontaneous 0 s -> 0, gratings 10.00-10.75 -> 1-4, flashes 11.0, 11.5 -> 5, 6,
    # spontaneous 15 s -> 7, scenes 20.00-20.75 -> 8-11.
    from pynwb import NWBHDF5IO
    from pynwb.epoch import TimeIntervals

    with NWBHDF5IO(str(hand_nwb), "a") as io:
        nwb = io.read()
        spont = TimeIntervals(name="spontaneous_presentations", description="")
        spont.add_column("stimulus_name", "")
        for a, b in ((15.0, 19.0), (0.0, 9.5)):  # rows out of time order on purpose
            spont.add_interval(start_time=a, stop_time=b, stimulus_name="spontaneous")
        flashes = TimeIntervals(name="flashes_presentations", description="")
        for a in (11.0, 11.5):
            flashes.add_interval(start_time=a, stop_time=a + 0.25)
        nwb.add_time_intervals(spont)
        nwb.add_time_intervals(flashes)
        io.write(nwb)
    session = read_session(hand_nwb)
    assert session.presentations.presentation_id.tolist() == [1, 2, 3, 4, 8, 9, 10, 11]
    assert session.spontaneous.presentation_id.tolist() == [7, 0]
    assert session.spontaneous.nwb_row_id.tolist() == [0, 1]
    ds = compute_responses(session, small_stimuli, ResponseSettings(), "T", "test")
    assert ds.presentation_id.values.tolist() == [1, 2, 3, 8, 9, 10]


def test_stimulus_block_must_be_whole_numbers(tmp_path, small_stimuli):
    import h5py

    path = write_allen_nwb(tmp_path / "blocks.nwb", {"A": ("VISp", "good", UNIT_A)})
    with h5py.File(path, "a") as f:
        f["intervals/static_gratings_presentations/stimulus_block"][1] = 2.5
    with pytest.raises(NWBReadError, match="stimulus_block"):
        read_session(path)


# ------------------------------------------------- AllenSDK's invalid times and valid channels

# Presentations of the hand-made file (AllenSDK ids; each lasts 0.25 s):
#   gratings 0: 10.00-10.25  1: 10.25-10.50  2: 10.50-10.75  3: 10.75-11.00 (blank)
#   scenes   4: 20.00-20.25  5: 20.25-20.50  6: 20.50-20.75  7: 20.75-21.00 (blank)
INVALID_TIMES = [
    (10.3, 10.4, ["EcephysSession", "test", "stimulus"]),  # inside 1
    (20.75, 21.0, ["EcephysSession", "test", "stimulus"]),  # 7, and touches 6 at 20.75
    (20.0, 20.3, ["EcephysProbe", "7", "probeA"]),  # spikes of probeA: masks no presentation
    (10.0, 10.2, ["EcephysSession", "test", "all_probes"]),  # spikes of every probe: neither
    (20.3, 20.4, ["EcephysSession", "test", "optotagging"]),  # neither
]


def test_invalid_times_are_read_with_their_tags(tmp_path):
    path = write_allen_nwb(
        tmp_path / "inv.nwb", {"A": ("VISp", "good", UNIT_A)}, invalid_times=INVALID_TIMES
    )
    session = read_session(path)
    inv = session.invalid_times
    assert inv.start_time.tolist() == [t[0] for t in INVALID_TIMES]
    assert inv.stop_time.tolist() == [t[1] for t in INVALID_TIMES]
    assert inv.tags.tolist() == [tuple(t[2]) for t in INVALID_TIMES]
    assert session.probe_names == ("probeA",)


def test_presentations_overlapping_stimulus_invalid_times_are_masked(tmp_path, small_stimuli):
    # AllenSDK (_mask_invalid_stimulus_presentations) masks only presentations overlapping an
    # interval tagged "stimulus", endpoints included: 1 (10.3-10.4 inside it), 6 (touches
    # 20.75) and the blank 7. Probe, all_probes and optotagging intervals mask nothing.
    path = write_allen_nwb(
        tmp_path / "inv.nwb", {"A": ("VISp", "good", UNIT_A)}, invalid_times=INVALID_TIMES
    )
    ds = compute_responses(read_session(path), small_stimuli, ResponseSettings(), "T", "test")
    assert ds.presentation_id.values.tolist() == [0, 2, 4, 5]
    assert ds.attrs["n_presentations_invalid_masked"] == 3
    assert ds.attrs["n_blank_presentations_dropped"] == 1  # 3 only: 7 is counted as masked
    assert ds.attrs["n_spontaneous_invalid_masked"] == 0
    assert json.loads(ds.attrs["invalid_times"])[1] == [20.75, 21.0, INVALID_TIMES[1][2]]
    # Rates of the kept presentations (RATES without 1 and 6); pre-onset baselines of 0, 2,
    # 4, 5: 1, 1, 2, 2 spikes in 200 ms = 5, 5, 10, 10 Hz: mean 7.5, SD sqrt(25/3).
    np.testing.assert_allclose(ds.rate.values[:, 0], [8.0, 0.0, 12.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(ds.baseline_mean.values, [7.5], rtol=1e-6)
    np.testing.assert_allclose(ds.baseline_sd.values, [np.sqrt(25 / 3)], rtol=1e-6)


def test_invalid_time_touching_a_presentation_start_masks_it(tmp_path, small_stimuli):
    # [9.0, 10.0] ends where presentation 0 starts: closed intervals overlap (AllenSDK _overlap).
    path = write_allen_nwb(
        tmp_path / "touch.nwb",
        {"A": ("VISp", "good", UNIT_A)},
        invalid_times=[(9.0, 10.0, ["EcephysSession", "test", "stimulus"])],
    )
    ds = compute_responses(read_session(path), small_stimuli, ResponseSettings(), "T", "test")
    assert ds.presentation_id.values.tolist() == [1, 2, 4, 5, 6]
    assert ds.attrs["n_presentations_invalid_masked"] == 1


def test_no_invalid_times_masks_nothing(hand_nwb, small_stimuli):
    session = read_session(hand_nwb)
    assert session.invalid_times.empty
    ds = compute_responses(session, small_stimuli, ResponseSettings(), "T", "test")
    assert ds.attrs["n_presentations_invalid_masked"] == 0
    assert ds.attrs["invalid_times"] == "[]"
    assert ds.sizes["presentation"] == 6


def test_invalid_times_mask_grey_screen_for_the_spontaneous_baseline(tmp_path, small_stimuli):
    # Grey screen 0-9.5 s (38 windows of 250 ms) and 15-19 s (16 windows). The invalid interval
    # 9.5-9.6 s touches the first block, so AllenSDK masks it and only 16 windows remain.
    # Unit E spikes in them; unit A has none there (zero SD, dropped).
    from pynwb import NWBHDF5IO
    from pynwb.epoch import TimeIntervals

    path = write_allen_nwb(
        tmp_path / "spont.nwb",
        {
            "A": ("VISp", "good", UNIT_A),
            "E": ("VISp", "good", [1.0, 10.1, 15.1, 16.1, 16.2, 20.1]),
        },
        invalid_times=[(9.5, 9.6, ["EcephysSession", "test", "stimulus"])],
    )
    with NWBHDF5IO(str(path), "a") as io:
        nwb = io.read()
        spont = TimeIntervals(name="spontaneous_presentations", description="")
        spont.add_column("stimulus_name", "")
        for a, b in ((0.0, 9.5), (15.0, 19.0)):
            spont.add_interval(start_time=a, stop_time=b, stimulus_name="spontaneous")
        nwb.add_time_intervals(spont)
        io.write(nwb)
    settings = ResponseSettings(baseline="spontaneous", zero_sd_units="drop")
    ds = compute_responses(read_session(path), small_stimuli, settings, "T", "test")
    assert ds.attrs["n_spontaneous_invalid_masked"] == 1
    assert "16 consecutive 250 ms windows" in ds.attrs["baseline"]
    assert ds.unit_id.values.tolist() == [1]
    # E: 3 spikes in 16 windows of 0.25 s: mean 3 / 16 / 0.25 Hz.
    np.testing.assert_allclose(ds.baseline_mean.values, [0.75], rtol=1e-6)


def test_units_on_invalid_channels_are_dropped(tmp_path, small_stimuli):
    # Electrodes: 1000 (CA1), 1001 (VISp), 1005 (VISp, F's peak channel). valid_data is False
    # on 1000 and 1005, so B (CA1) and F (VISp) are left out, as AllenSDK's units table does.
    path = write_allen_nwb(
        tmp_path / "valid.nwb",
        {
            "A": ("VISp", "good", UNIT_A),
            "F": ("VISp", "good", [9.9, 10.1, 20.1, 20.3]),
            "B": ("CA1", "good", [10.1, 20.1]),
        },
        peak_channels={"F": 1005},
        valid_data={1000: False, 1005: False},
    )
    session = read_session(path)
    assert session.units.index.tolist() == [0]
    assert session.units_invalid_channel == (1, 2)
    assert [s.tolist() for s in session.spike_times] == [UNIT_A]
    ds = compute_responses(session, small_stimuli, ResponseSettings(), "T", "test")
    assert ds.unit_id.values.tolist() == [0]
    np.testing.assert_allclose(ds.rate.values[:, 0], RATES, rtol=1e-6)
    assert ds.attrs["n_units_invalid_channel_dropped"] == 2
    assert ds.attrs["units_invalid_channel_dropped"] == "[1, 2]"


def test_valid_channels_keep_their_units(tmp_path, small_stimuli):
    # The column present and True everywhere, or absent (hand_nwb): every unit stays.
    path = write_allen_nwb(
        tmp_path / "allvalid.nwb",
        {"A": ("VISp", "good", UNIT_A), "B": ("CA1", "good", [10.1, 20.1])},
        valid_data={},
    )
    session = read_session(path)
    assert session.units.index.tolist() == [0, 1]
    assert session.units_invalid_channel == ()
    ds = compute_responses(session, small_stimuli, ResponseSettings(), "T", "test")
    assert ds.attrs["n_units_invalid_channel_dropped"] == 0
    assert ds.attrs["units_invalid_channel_dropped"] == "[]"


def test_no_valid_data_column_keeps_every_unit(hand_nwb):
    session = read_session(hand_nwb)
    assert session.units.index.tolist() == [0, 1, 2]
    assert session.units_invalid_channel == ()


# ------------------------------------------------------------------------- stale stimuli.nc


def _stale_copy(stimuli, path):
    """stimuli.nc without the natural scenes (as if rendered by another configuration)."""
    from nidecode.common.io import open_netcdf, write_netcdf

    write_netcdf(stimuli.isel(stimulus=slice(0, 120)), path)
    return open_netcdf(path)


def test_stimulus_missing_from_stimuli_file_is_a_stale_stimuli_error(
    hand_nwb, small_stimuli, tmp_path
):
    stale = _stale_copy(small_stimuli, tmp_path / "stimuli.nc")
    # Presentation 4 (first scene, frame 5) is the first whose stimulus is missing; the three
    # scenes 4, 5, 6 of the six presentations are.
    with pytest.raises(StaleStimuliError) as err:
        compute_responses(read_session(hand_nwb), stale, ResponseSettings(), "T", "test")
    msg = str(err.value)
    assert isinstance(err.value, NidecodeError)
    assert str(tmp_path / "stimuli.nc") in msg
    assert "presentation 4 (stimulus_presentation_id)" in msg
    assert "natural_scenes frame 5" in msg
    assert "3 of 6 presentations" in msg
    assert "rerun render_stimuli" in msg
    assert f"rm {tmp_path / 'stimuli.nc'}" in msg


def test_check_stimuli_against_the_config(small_stimuli, tmp_path):
    from nidecode.data.stimuli import Canvas

    check_stimuli(small_stimuli, "results/stimuli.nc", Canvas(12, 20), allen_scenes=False)
    with pytest.raises(StaleStimuliError, match=r"results/stimuli.nc: stale.*12 x 20 px.*60 x 96"):
        check_stimuli(small_stimuli, "results/stimuli.nc", Canvas(60, 96))
    with pytest.raises(StaleStimuliError, match="needs Allen's templates.*render_stimuli"):
        check_stimuli(small_stimuli, "results/stimuli.nc", Canvas(12, 20), allen_scenes=True)
    stale = _stale_copy(small_stimuli, tmp_path / "stimuli.nc")
    with pytest.raises(StaleStimuliError, match="120 static gratings and 0 natural scenes"):
        check_stimuli(stale, tmp_path / "stimuli.nc", Canvas(12, 20))


def test_responses_script_reports_stale_stimuli_in_one_line(hand_nwb, small_stimuli, tmp_path):
    import logging
    import runpy
    from types import SimpleNamespace

    from conftest import REPO
    from nidecode.common.io import write_netcdf

    stimuli = tmp_path / "stimuli.nc"
    write_netcdf(small_stimuli, stimuli)  # 12 x 20 px; the config below asks for 60 x 96
    log = tmp_path / "responses.log"
    smk = SimpleNamespace(
        input=SimpleNamespace(nwb=str(hand_nwb), stimuli=str(stimuli)),
        output=[str(tmp_path / "out.nc")],
        log=[str(log)],
        wildcards=SimpleNamespace(session="T"),
        config={"source": "simulated", "stimuli": {"height": 60, "width": 96}},
    )
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with pytest.raises(SystemExit) as exit_:
            runpy.run_path(
                str(REPO / "workflow" / "scripts" / "responses.py"),
                init_globals={"snakemake": smk},
            )
    finally:
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
                h.close()
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)
    assert exit_.value.code == 1
    text = log.read_text()
    assert f"{stimuli}: stale stimuli file" in text and "rerun render_stimuli" in text
    assert "Traceback" not in text
    assert not (tmp_path / "out.nc").exists()


# ----------------------------------------------------- lazy spike times (real-size sessions)


def _eager_session(path, session):
    """``session`` with the spike times the reader read before it became lazy: the whole
    units/spike_times dataset at once, every unit sorted, units on invalid channels dropped."""
    import dataclasses

    import h5py

    with h5py.File(path, "r") as f:
        ids = f["units/id"][:]
        bounds = np.concatenate([[0], f["units/spike_times_index"][:].astype(np.int64)])
        spikes = f["units/spike_times"][:]
    every = dict(
        zip(ids, (np.sort(spikes[bounds[k] : bounds[k + 1]]) for k in range(len(ids))),
            strict=True)
    )
    return dataclasses.replace(session, spike_times=[every[i] for i in session.units.index])


def _interleaved_nwb(path, unsorted=False):
    """Selected (VISp, good) units between unselected ones (CA1, or failing the filters)."""
    rng = np.random.default_rng(3)
    e = sorted(rng.uniform(9.0, 22.0, 40).round(4).tolist())
    b = [9.95, 10.1, 10.6, 20.1, 20.4]
    d = sorted(rng.uniform(9.0, 22.0, 25).round(4).tolist())
    if unsorted:  # the reader sorts what the file does not hold in order
        e, d = e[::-1], rng.permutation(d).tolist()
    return write_allen_nwb(
        path,
        {
            "A": ("VISp", "good", UNIT_A),
            "B": ("CA1", "good", b),
            "C": ("VISp", "noise", [10.1, 10.2, 20.1]),
            "D": ("VISp", "good", d),
            "E": ("VISp", "good", e),
            "F": ("CA1", "good", [9.91, 10.05, 20.05]),
        },
    )


LAZY_SETTINGS = [
    ResponseSettings(),
    ResponseSettings(time_bin_s=0.05),
    ResponseSettings(areas=("VISp", "CA1"), filters={}, time_bin_s=0.05),
    ResponseSettings(areas=("CA1",), zero_sd_units="drop"),
]


@pytest.mark.parametrize("settings", LAZY_SETTINGS)
@pytest.mark.parametrize("kind", ["hand", "interleaved", "unsorted", "invalid_channels"])
def test_lazy_spike_times_give_the_responses_of_the_eager_reader(
    kind, settings, hand_nwb, small_stimuli, tmp_path
):
    import xarray as xr

    if kind == "hand":
        path = hand_nwb
    elif kind == "invalid_channels":
        path = write_allen_nwb(
            tmp_path / "valid.nwb",
            {
                "A": ("VISp", "good", UNIT_A),
                "F": ("VISp", "good", [9.9, 10.1, 20.1, 20.3]),
                "B": ("CA1", "good", [9.95, 10.1, 10.6, 20.1, 20.4]),
                "G": ("CA1", "good", [9.85, 10.3, 20.1, 20.7]),
            },
            peak_channels={"F": 1005},
            valid_data={1005: False},
        )
    else:
        path = _interleaved_nwb(tmp_path / f"{kind}.nwb", unsorted=kind == "unsorted")
    session = read_session(path)
    eager = _eager_session(path, session)
    try:
        expected = compute_responses(eager, small_stimuli, settings, "T", "test")
    except NidecodeError as err:  # the same error either way
        with pytest.raises(type(err), match=str(err)[:40].replace("[", r"\[")):
            compute_responses(session, small_stimuli, settings, "T", "test")
        return
    got = compute_responses(session, small_stimuli, settings, "T", "test")
    xr.testing.assert_identical(got, expected)
    assert [s.tolist() for s in session.spike_times] == [s.tolist() for s in eager.spike_times]


def test_lazy_spike_times_on_a_simulated_session(small_stimuli, tmp_path):
    import xarray as xr

    from nidecode.data.schedule import alternating_epochs
    from nidecode.data.session_clock import Protocol
    from nidecode.data.simulate import AnimalSpec, simulate_session, write_nwb
    from nidecode.data.stimuli import Canvas

    sim = simulate_session(
        AnimalSpec(name="M2", seed=4, n_units={"VISp": 8, "CA1": 4, "LGd": 5, "VISl": 3}),
        Protocol(repeats=1, blanks_gratings=1, blanks_scenes=1,
                 epochs=alternating_epochs(n_blocks=1, block_s=31.0, spontaneous_s=5.0)),
        Canvas(12, 20),
    )
    path = tmp_path / "M2.nwb"
    write_nwb(sim, path)
    for settings in (
        ResponseSettings(areas=("VISp", "LGd"), zero_sd_units="drop", time_bin_s=0.01),
        ResponseSettings(areas=("VISl", "CA1"), baseline="spontaneous", zero_sd_units="drop"),
    ):
        session = read_session(path, provenance="simulated")
        got = compute_responses(session, small_stimuli, settings, "M2", "test")
        expected = compute_responses(
            _eager_session(path, session), small_stimuli, settings, "M2", "test"
        )
        xr.testing.assert_identical(got, expected)
        # Only the selected units' spikes were read, and every simulated spike is there.
        mask = session.units["area"].isin(settings.areas).to_numpy()
        assert session.spike_times.spikes_read <= int(session.spike_times.counts()[mask].sum())
    assert [len(s) for s in session.spike_times] == [len(s) for s in sim.spike_times]


def test_only_the_selected_units_spikes_are_read(tmp_path, small_stimuli, monkeypatch):
    import h5py

    path = _interleaved_nwb(tmp_path / "inter.nwb")
    reads = []
    getitem = h5py.Dataset.__getitem__

    def recording(self, args, *rest, **kw):
        out = getitem(self, args, *rest, **kw)
        if self.name == "/units/spike_times":
            reads.append(np.asarray(out).size)
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", recording)
    session = read_session(path)
    assert reads == []  # read_session reads the index, never the spike times
    ds = compute_responses(session, small_stimuli, ResponseSettings(), "T", "test")
    # Selected: A, D, E (VISp, good); not B, F (CA1) nor C (noise). D and E are adjacent in
    # the file: one read; A another.
    assert ds.unit_id.values.tolist() == [0, 3, 4]
    counts = session.spike_times.counts()
    assert sorted(reads) == sorted([counts[0], counts[3] + counts[4]])
    assert session.spike_times.spikes_read == counts[[0, 3, 4]].sum() < counts.sum()


def test_lazy_spike_times_behave_as_a_list(tmp_path):
    path = _interleaved_nwb(tmp_path / "inter.nwb", unsorted=True)
    session = read_session(path)
    st = session.spike_times
    eager = _eager_session(path, session).spike_times
    assert len(st) == len(eager) == 6
    assert st[0].tolist() == UNIT_A and st[-1].tolist() == eager[-1].tolist()
    assert [s.tolist() for s in st[1:4]] == [s.tolist() for s in eager[1:4]]
    import h5py

    with h5py.File(path, "r") as f:  # the file holds D and E out of order ...
        raw = f["units/spike_times"][:]
    in_order = [bool(np.all(np.diff(raw[a:b]) >= 0)) for a, b in zip(st.starts, st.stops,
                                                                     strict=True)]
    assert in_order == [True, True, True, False, False, True]
    assert all(np.all(np.diff(s) >= 0) for s in st)  # ... and the reader sorts them
    picked = st.select(np.array([4, 0, 3]))  # positions, any order
    assert [s.tolist() for s in picked] == [eager[k].tolist() for k in (4, 0, 3)]
    with pytest.raises(IndexError):
        st[6]
    with pytest.raises(ValueError, match="mask has 2 entries for 6 units"):
        session.unit_spikes(np.array([True, False]))


def test_lazy_spike_times_of_a_file_gone_or_damaged(tmp_path, small_stimuli):
    import h5py

    path = _interleaved_nwb(tmp_path / "gone.nwb")
    session = read_session(path, provenance="simulated")
    path.unlink()
    with pytest.raises(NWBReadError, match="gone.nwb: no such NWB file.*simulate_session"):
        compute_responses(session, small_stimuli, ResponseSettings(), "T", "test")
    path = _interleaved_nwb(tmp_path / "changed.nwb")
    session = read_session(path)
    _interleaved_nwb(path, unsorted=True)  # rewritten since it was read
    with pytest.raises(NWBReadError, match="changed.nwb: the file changed after read_session"):
        session.unit_spikes(np.ones(6, dtype=bool))
    path = _interleaved_nwb(tmp_path / "index.nwb")
    with h5py.File(path, "a") as f:
        f["units/spike_times_index"][2] = 250  # past the end of units/spike_times (86)
    with pytest.raises(NWBReadError, match="index.nwb: units/spike_times_index.*damaged"):
        read_session(path)
