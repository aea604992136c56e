"""Which units, trials and labels each analysis decodes."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nidecode.common.errors import NidecodeError
from nidecode.data.selection import read_label_map, select


@pytest.fixture(scope="module")
def toy(small_stimuli):
    """60 trials (30 gratings at 0/90 deg, 30 scenes), 6 units in 3 areas."""
    rng = np.random.default_rng(0)
    stim = np.concatenate([np.tile([0, 4 * 15], 15), 120 + np.arange(30)])  # rows: 0 deg, 90 deg
    n = len(stim)
    ds = xr.Dataset(
        {"response": (("presentation", "unit"), rng.normal(size=(n, 6)))},
        coords={"stimulus_index": ("presentation", stim),
                "running_speed": ("presentation", np.tile([0.0, 20.0], n // 2)),
                "area": ("unit", ["VISp", "VISp", "VISp", "VISl", "LGd", "LGd"])},
        attrs={"animal": "T"},
    )
    return ds, small_stimuli


def test_label_map_from_tsv(tmp_path, small_stimuli):
    path = tmp_path / "ori.tsv"
    path.write_text("stimulus_name\torientation\tlabel\nstatic_gratings\t0\tzero\n"
                    "static_gratings\t90\tninety\n")
    labels = read_label_map(path, small_stimuli)
    assert (labels == "zero").sum() == 20 and (labels == "ninety").sum() == 20
    assert labels[0] == "zero" and labels[60] == "ninety" and labels[130] == "na"
    bad = tmp_path / "bad.tsv"
    bad.write_text("name\tlabel\nx\ty\n")
    with pytest.raises(NidecodeError, match="bad.tsv.*stimulus_name"):
        read_label_map(bad, small_stimuli)
    bad.write_text("stimulus_name\torientation\tlabel\nstatic_gratings\t45\tx\n")
    with pytest.raises(NidecodeError, match="matches no stimulus"):
        read_label_map(bad, small_stimuli)


def test_main_label_and_area_selections(toy, tmp_path):
    ds, stimuli = toy
    main = select(ds, stimuli, "main", ["VISp"])
    assert main.response.shape == (60, 3) and main.names == ["artificial", "natural"]
    assert (main.y == np.r_[np.zeros(30), np.ones(30)]).all()
    lgd = select(ds, stimuli, "areas-LGd+VISl", ["VISp"])
    assert lgd.unit_mask.tolist() == [False, False, False, True, True, True]
    path = tmp_path / "ori.tsv"
    path.write_text("stimulus_name\torientation\tlabel\nstatic_gratings\t0\tzero\n"
                    "static_gratings\t90\tninety\n")
    sub = select(ds, stimuli, "label-ori", ["VISp"], {"ori": read_label_map(path, stimuli)})
    assert sub.names == ["ninety", "zero"] and len(sub.y) == 30  # scenes left out
    with pytest.raises(NidecodeError, match="no units in areas"):
        select(ds, stimuli, "areas-CA1", ["VISp"])
    with pytest.raises(NidecodeError, match="unknown analysis"):
        select(ds, stimuli, "areas CA1", ["VISp"])


def test_arousal_keeps_equal_class_counts_in_both_states(toy):
    ds, stimuli = toy
    run = select(ds, stimuli, "arousal-running", ["VISp"], running_threshold=5.0)
    still = select(ds, stimuli, "arousal-still", ["VISp"], running_threshold=5.0)
    assert np.bincount(run.y).tolist() == np.bincount(still.y).tolist() == [15, 15]
    assert (ds.running_speed.values[run.trial_mask] > 5).all()
    assert (ds.running_speed.values[still.trial_mask] <= 5).all()


def test_unit_subsets_are_seeded_and_sized(toy):
    ds, stimuli = toy
    a = select(ds, stimuli, "units-2-r0", ["VISp"], seed=0)
    b = select(ds, stimuli, "units-2-r0", ["VISp"], seed=0)
    assert a.unit_mask.sum() == 2 and (a.unit_mask == b.unit_mask).all()
    assert not a.unit_mask[3:].any()  # drawn from the main area only
    with pytest.raises(NidecodeError, match="only 3"):
        select(ds, stimuli, "units-5-r0", ["VISp"])


def test_a_record_and_its_name_select_the_same(toy, tmp_path):
    """select takes an Analysis or its name; records other jobs name (readout, time, ...)
    select nothing."""
    from nidecode.common.analyses import Analysis

    ds, stimuli = toy
    for record in (Analysis.main(), Analysis.area_set(["LGd", "VISl"]),
                   Analysis.arousal("running"), Analysis.arousal("still"),
                   Analysis.unit_count(2, 1)):
        a = select(ds, stimuli, record, ["VISp"], seed=3)
        b = select(ds, stimuli, record.name, ["VISp"], seed=3)
        assert a.info == b.info and a.info["analysis"] == record.name
        assert (a.unit_mask == b.unit_mask).all() and (a.trial_mask == b.trial_mask).all()
        np.testing.assert_array_equal(a.response, b.response)
    for name in ("readout-train", "time-natural_scenes", "transfer-x", "blank_control"):
        with pytest.raises(NidecodeError, match=f"unknown analysis '{name}'"):
            select(ds, stimuli, name, ["VISp"])


def test_training_response_z_scores_with_the_basis_windows_only():
    from nidecode.data.selection import Selection

    rate = np.array([[2.0], [4.0], [6.0], [8.0]])
    base = np.array([[1.0], [3.0], [10.0], [20.0]])
    sel = Selection(np.zeros((4, 1)), np.arange(4), np.array([0, 0, 1, 1]), ["a", "b"],
                    np.ones(4, bool), np.ones(1, bool), rate=rate, baseline_rate=base,
                    session_sd=np.array([9.0]))
    basis = np.array([True, True, False, False])
    # Basis windows 1 and 3 Hz: mean 2, SD (ddof 1) sqrt(2).
    np.testing.assert_allclose(sel.training_response(basis)[:, 0],
                               (rate[:, 0] - 2) / np.sqrt(2), rtol=1e-6)
    # The other trials' windows do not matter...
    sel.baseline_rate = np.array([[1.0], [3.0], [-50.0], [99.0]])
    np.testing.assert_allclose(sel.training_response(basis)[:, 0],
                               (rate[:, 0] - 2) / np.sqrt(2), rtol=1e-6)
    # ...a unit silent in every basis window keeps the session-wide SD...
    sel.baseline_rate = np.array([[0.0], [0.0], [5.0], [5.0]])
    np.testing.assert_allclose(sel.training_response(basis)[:, 0], rate[:, 0] / 9.0, rtol=1e-6)
    # ...and without per-presentation windows the session-wide responses are used.
    sel.baseline_rate = None
    np.testing.assert_array_equal(sel.training_response(basis), sel.response)


def test_arousal_folds_adapt_to_the_blocks_a_state_has(small_stimuli):
    from nidecode.jobs.runner import within
    from nidecode.jobs.scope import Scope, analysis_folds

    # Three gratings blocks (1, 4, 6) and three scenes blocks (2, 3, 5), 40 trials each. The
    # animal runs in every scenes block but only in gratings blocks 1 and 4.
    rng = np.random.default_rng(1)
    blocks = np.repeat([1, 2, 3, 4, 5, 6], 40)
    name = np.where(np.isin(blocks, [1, 4, 6]), "static_gratings", "natural_scenes")
    stim = np.where(name == "static_gratings", rng.integers(0, 120, len(blocks)),
                    rng.integers(120, 238, len(blocks)))
    speed = np.tile([0.0, 20.0], len(blocks) // 2)
    speed[blocks == 6] = 0.0
    ds = xr.Dataset(
        {"response": (("presentation", "unit"), rng.normal(size=(len(blocks), 4)))},
        coords={"stimulus_index": ("presentation", stim),
                "stimulus_block": ("presentation", blocks),
                "stimulus_name": ("presentation", name),
                "running_speed": ("presentation", speed), "area": ("unit", ["VISp"] * 4)},
        attrs={"animal": "T", "source": "test"},
    )
    scope = Scope(split="block")
    assert analysis_folds(ds, small_stimuli, scope, "arousal-still").n_folds == 3
    running = analysis_folds(ds, small_stimuli, scope, "arousal-running")
    assert running.n_folds == 2  # leave-one-block-out over gratings blocks 1 and 4
    tested = [set(ds.stimulus_block.values[
        select(ds, small_stimuli, "arousal-running", ["VISp"]).trial_mask][
        ~running.train_mask(select(ds, small_stimuli, "arousal-running", ["VISp"]), k)])
        for k in range(2)]
    assert tested == [{1, 2, 5}, {3, 4}]
    assert within(ds, small_stimuli, 1, running, analysis="arousal-running")["n_test"] > 0
    assert analysis_folds(ds, small_stimuli, scope, "main").n_folds == 3
    # Running in one gratings block only: nothing to hold out, one clear error.
    speed[blocks == 4] = 0.0
    ds["running_speed"] = ("presentation", speed)
    with pytest.raises(NidecodeError, match="at least 2 of each"):
        analysis_folds(ds, small_stimuli, scope, "arousal-running")
