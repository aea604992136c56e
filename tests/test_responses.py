"""The loader's rates and z-scores against values computed by hand on a hand-made NWB file."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import UNIT_A, write_allen_nwb
from nidecode.errors import (
    BaselineError,
    NWBReadError,
    RunningSpeedError,
    SessionTypeError,
    UnitSelectionError,
)
from nidecode.nwb import read_session
from nidecode.responses import ResponseSettings, compute_responses

# Unit A by hand (presentations in time order, blanks dropped):
#   window [start, start+0.25)       spikes        rate (Hz)
#   gratings 10.00 10.25 10.50     2, 1, 0       8, 4, 0
#   scenes   20.00 20.25 20.50     3, 0, 1       12, 0, 4
#   pre-onset 200 ms windows        1,1,1,2,2,0   5, 5, 5, 10, 10, 0
# baseline mean 35/6 = 5.8333 Hz; SD (ddof=1) = sqrt(70.8333/5) = 3.7639 Hz.
RATES = [8.0, 4.0, 0.0, 12.0, 0.0, 4.0]
MU, SD = 35 / 6, np.sqrt(70.8333333 / 5)


def test_rates_and_zscores_match_hand_computation(hand_nwb, small_stimuli):
    ds = compute_responses(read_session(hand_nwb), small_stimuli, ResponseSettings(), "T", "test")
    assert ds.sizes == {"presentation": 6, "unit": 1}  # CA1 unit, noise unit and blanks gone
    np.testing.assert_allclose(ds.rate.values[:, 0], RATES, rtol=1e-6)
    np.testing.assert_allclose(ds.baseline_mean.values, [MU], rtol=1e-5)
    np.testing.assert_allclose(ds.baseline_sd.values, [SD], rtol=1e-5)
    np.testing.assert_allclose(ds.response.values[:, 0], (np.array(RATES) - MU) / SD, rtol=1e-5)
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
