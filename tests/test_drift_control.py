"""The gabor epoch: simulated as Allen shows it, written and read as AllenSDK's gabors
presentations, and decoded as a label that is only time (the drift control)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nidecode.data.gabors import (
    ALLEN_BLOCK_ORDER,
    GABOR_REPEATS,
    GaborEpoch,
    condition_residuals,
    gabor_conditions,
    session_block_order,
    session_epoch,
    time_only_label,
)
from nidecode.data.nwb import read_session
from nidecode.data.responses import ALLEN_UNIT_FILTERS, spike_counts
from nidecode.data.schedule import read_epochs
from nidecode.data.session_clock import Protocol
from nidecode.data.simulate import AnimalSpec, simulate_session, write_nwb
from nidecode.data.stimuli import Canvas
from nidecode.jobs.drift_control import drift_control_session

SMALL = {"VISp": 30, "LGd": 4}
DECODERS = {"glm": {"C": 1.0}, "knn": {"n_neighbors": 15}}


# ------------------------------------------------------------------------ label and residuals


def test_time_only_label_cuts_six_equal_stretches_in_allens_block_order():
    # 12 presentations, given out of order: two per stretch, SG NS NS SG NS SG (SG = 1).
    start = np.array([5.0, 0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0])
    y, block = time_only_label(start)
    by_time = np.argsort(start)
    assert block[by_time].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert y[by_time].tolist() == [1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1]


def test_condition_residuals_remove_each_conditions_mean_per_unit():
    counts = np.array([[1, 10], [3, 20], [5, 0], [7, 4]])
    condition = np.array([0, 0, 1, 1])
    # Unit 0: condition 0 mean 2, condition 1 mean 6; unit 1: 15 and 2.
    expected = np.array([[-1, -5], [1, 5], [-1, -2], [1, 2]], dtype=float)
    np.testing.assert_allclose(condition_residuals(counts, condition), expected)


# ------------------------------------------------------------------ simulated and read back


@pytest.fixture(scope="module")
def gabor_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("gabor") / "S0.nwb"
    sim = simulate_session(AnimalSpec("S0", seed=3, n_units=SMALL),
                           Protocol(repeats=1, blanks_gratings=2, blanks_scenes=2),
                           Canvas(20, 32))
    write_nwb(sim, path)
    return path, sim


def test_the_gabor_epoch_is_allens_and_is_read_back(gabor_file):
    path, sim = gabor_file
    epoch = read_epochs().set_index("stimulus_name").loc["gabors"]
    gab = sim.blocks["gabors"]
    # 9 x 9 positions x 3 orientations x 15 repeats, back to back from the epoch's start.
    assert len(gab["start"]) == 81 * 3 * GABOR_REPEATS == 3645
    np.testing.assert_allclose(np.diff(gab["start"]), 0.25)
    assert gab["start"][0] == epoch.start_time and gab["stop"][-1] <= epoch.stop_time
    assert (np.bincount(gab["condition"]) == GABOR_REPEATS).all()
    session = read_session(path, "simulated")
    table = session.gabors
    assert len(table) == 3645
    np.testing.assert_allclose(table.start_time, gab["start"])
    conds = np.asarray(gabor_conditions())[gab["condition"]]
    np.testing.assert_array_equal(table[["x_position", "y_position", "orientation"]], conds)
    # The presentation ids are AllenSDK's: the gabors come first in the session.
    assert table.presentation_id.tolist() == list(range(1, 3646))  # 0: the first spontaneous
    ep = session_epoch(session, ("VISp",), ALLEN_UNIT_FILTERS, "simulated", "S0")
    assert ep.skipped is None and ep.counts.shape[0] == 3645 and len(set(ep.condition)) == 243
    kept = session.units.index.isin(ep.unit_ids)
    direct = spike_counts(session.unit_spikes(kept), table.start_time.to_numpy(),
                          table.stop_time.to_numpy())
    np.testing.assert_array_equal(ep.counts, direct)


def test_units_with_receptive_fields_respond_to_where_the_patch_is(gabor_file):
    # Between-condition variance of the counts, relative to Poisson: driven units' counts
    # follow the patch's position and orientation; a stimulus-blind animal's do not.
    path, _ = gabor_file

    def position_f(epoch: GaborEpoch) -> float:
        means = pd.DataFrame(epoch.counts).groupby(epoch.condition).mean()
        return float(np.median(means.var(axis=0) / (epoch.counts.mean(axis=0) / 15 + 1e-9)))

    driven = session_epoch(read_session(path, "simulated"), ("VISp",), {}, "simulated", "S0")
    blind_path = path.with_name("N0.nwb")
    write_nwb(simulate_session(AnimalSpec("N0", seed=3, n_units=SMALL, stimulus_blind=True),
                               Protocol(repeats=1, blanks_gratings=2, blanks_scenes=2),
                               Canvas(20, 32)), blind_path)
    blind = session_epoch(read_session(blind_path, "simulated"), ("VISp",), {}, "simulated",
                          "N0")
    assert position_f(driven) > 2 * position_f(blind)


def test_the_gabor_epoch_leaves_every_other_spike_unchanged(gabor_file, monkeypatch):
    # Its presentations and spikes come from generators of their own: without them (the
    # simulator before it played the epoch, which left it silent) every spike outside the
    # epoch is the same, so the decoded blocks' numbers do not move.
    import nidecode.data.session_clock as session_clock

    _, sim = gabor_file
    # presentation_schedule looks gabor_schedule up in its own module, the session clock.
    monkeypatch.setattr(session_clock, "gabor_schedule", lambda epochs, rng: None)
    silent = simulate_session(AnimalSpec("S0", seed=3, n_units=SMALL),
                              Protocol(repeats=1, blanks_gratings=2, blanks_scenes=2),
                              Canvas(20, 32))
    assert silent.blocks["gabors"] is None
    for a, b in zip(sim.spike_times, silent.spike_times, strict=True):
        during = (a >= 84.5) & (a < 996.5)
        np.testing.assert_array_equal(a[~during], b)
        assert during.any() and not ((b >= 84.5) & (b < 996.5)).any()


def test_a_file_without_gabor_presentations_is_skipped_with_the_reason(gabor_file, tmp_path):
    import h5py

    path, _ = gabor_file
    copy = tmp_path / "old.nwb"
    copy.write_bytes(path.read_bytes())
    with h5py.File(copy, "a") as f:  # an older file: positions absent
        del f["intervals/gabors_presentations/x_position"]
    session = read_session(copy, "simulated")
    assert session.gabors is None
    ep = session_epoch(session, ("VISp",), {}, "simulated", "S0")
    assert "no gabor presentations" in ep.skipped
    rows = drift_control_session(ep, "block", DECODERS)
    assert [r["model"] for r in rows] == ["glm", "knn"]
    assert all("no gabor presentations" in r["skipped"] for r in rows)


# ------------------------------------------------------------------------------- decoding


def _epoch(drift_sd: float, seed: int = 0, n_units: int = 20) -> GaborEpoch:
    """3,645 presentations of Poisson counts of tuned units; in each sixth of the epoch every
    unit's rate is multiplied by its own log-normal gain (SD ``drift_sd``): time, no stimulus."""
    rng = np.random.default_rng(seed)
    n = 3645
    condition = rng.permutation(np.repeat(np.arange(243), 15))
    tuning = rng.gamma(2.0, 0.5, (243, n_units))
    stretch_gain = np.exp(rng.normal(0, drift_sd, (6, n_units)))
    gain = stretch_gain[(np.arange(n) * 6) // n]
    counts = rng.poisson(tuning[condition] * gain)
    return GaborEpoch("X", "test", counts, 85 + 0.25 * np.arange(n), condition,
                      np.arange(n_units), np.array(["VISp"] * n_units))


def test_drift_control_rows_carry_every_p_value_of_the_main_analysis():
    rows = drift_control_session(_epoch(0.0), "block", DECODERS, n_permutations={"glm": 5})
    assert len(rows) == 2 * 3
    for r in rows:
        assert r["analysis"] == "drift_control" and r["chance"] == 0.5
        assert r["n_train"] + r["n_test"] == 3645 and r["n_time_null"] == 9
        assert 0.1 <= r["p_time"] <= 1 and 0 <= r["p_binomial"] <= 1
        assert r["ci95_low"] <= r["accuracy"] <= r["ci95_high"]
    assert [r["n_permutations"] for r in rows if r["model"] == "glm"] == [5, 5, 5]
    assert all("n_permutations" not in r for r in rows if r["model"] == "knn")
    # The block split holds out the k-th stretch of each pseudo-class.
    assert [r["test_blocks"] for r in rows[:3]] == [[0, 1], [2, 3], [4, 5]]


def test_drift_is_read_by_the_trial_split_and_not_by_the_block_split():
    # Each stretch has its own pattern of unit gains: random folds train on every stretch and
    # learn which stretch (hence which pseudo-class) a trial is from; whole stretches held
    # out leave a pattern never seen in training.
    epoch = _epoch(0.3, seed=1)
    trial = drift_control_session(epoch, "trial", {"glm": {}}, max_relabellings=0)
    block = drift_control_session(epoch, "block", {"glm": {}})
    assert trial[0]["mean_balanced_accuracy"] > 0.65
    assert all(r["p_binomial"] < 1e-6 for r in trial)  # the trial-split p is fooled
    assert abs(block[0]["mean_balanced_accuracy"] - 0.5) < 0.1
    assert block[0]["p_time"] > 0.05
    # No drift: chance in both splits.
    still = drift_control_session(_epoch(0.0, seed=1), "trial", {"glm": {}}, max_relabellings=0)
    assert abs(still[0]["mean_balanced_accuracy"] - 0.5) < 0.05


def test_the_stretches_follow_the_sessions_own_block_order():
    # A session that shows NS SG NS SG (two blocks each, onsets out of row order): the epoch is
    # cut in four, labelled in that order; Allen's order is what a brain_observatory_1.1
    # session gives (the simulated file, on Allen's clock).
    table = pd.DataFrame({"stimulus_name": ["static_gratings", "natural_scenes", "spontaneous",
                                            "natural_scenes", "static_gratings"],
                          "stimulus_block": [3, 0, 1, 2, 1],
                          "start_time": [40.0, 10.0, 15.0, 30.0, 20.0]})
    order = session_block_order(table)
    assert order == ("natural_scenes", "static_gratings", "natural_scenes", "static_gratings")
    y, block = time_only_label(np.arange(8.0), order)
    assert block.tolist() == [0, 0, 1, 1, 2, 2, 3, 3] and y.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    assert session_block_order(table[table.stimulus_name == "spontaneous"]) == ()


def test_the_simulated_sessions_block_order_is_allens(gabor_file):
    path, _ = gabor_file
    session = read_session(path, "simulated")
    assert session_block_order(session.presentations) == ALLEN_BLOCK_ORDER
    ep = session_epoch(session, ("VISp",), {}, "simulated", "S0")
    assert ep.block_order == ALLEN_BLOCK_ORDER


def test_folds_the_blocks_cannot_give_are_skipped_with_the_reason_not_raised():
    # Allen's 3 + 3 blocks and decoding.n_folds = 4: the block split needs four stretches of
    # each pseudo-class (block_fold_masks raised, and stopped the whole workflow); the trial
    # split's stratified folds still run.
    epoch = _epoch(0.0)
    rows = drift_control_session(epoch, "block", {"glm": {}}, n_folds=4)
    assert len(rows) == 1 and "fewer than decoding.n_folds = 4" in rows[0]["skipped"]
    assert "SG NS NS SG NS SG" in rows[0]["skipped"]
    trial = drift_control_session(epoch, "trial", {"glm": {}}, n_folds=4, max_relabellings=2)
    assert len(trial) == 4 and not any("skipped" in r for r in trial)
    # Four stretches (two of each) give two block folds, each holding out one of each.
    two = GaborEpoch("Y", "test", epoch.counts, epoch.start_time, epoch.condition,
                     epoch.unit_ids, epoch.area, block_order=("natural_scenes",
                                                              "static_gratings") * 2)
    rows = drift_control_session(two, "block", {"glm": {}}, n_folds=2)
    assert [r["test_blocks"] for r in rows] == [[0, 1], [2, 3]]
    assert rows[0]["label"].startswith("time only: 4 equal stretches of the gabor epoch, "
                                       "NS SG NS SG")
    assert "fewer than decoding.n_folds = 3" in drift_control_session(
        two, "block", {"glm": {}}, n_folds=3)[0]["skipped"]
    # One pseudo-class never shown: nothing to decode in either split.
    scenes = GaborEpoch("Z", "test", epoch.counts, epoch.start_time, epoch.condition,
                        epoch.unit_ids, epoch.area, block_order=("natural_scenes",) * 3)
    assert "lack one of" in drift_control_session(scenes, "trial", {"glm": {}})[0]["skipped"]


def test_a_session_without_units_in_the_decoded_area_is_skipped_with_the_reason(gabor_file):
    path, _ = gabor_file
    session = read_session(path, "simulated")
    # No CA1 unit in this file: the epoch says so instead of raising.
    ep = session_epoch(session, ("CA1",), {}, "simulated", "S0")
    assert ep.skipped and "no units in areas ['CA1']" in ep.skipped
    rows = drift_control_session(ep, "block", DECODERS, areas=("CA1",))
    assert all("no units in areas ['CA1']" in r["skipped"] for r in rows)
    # Units in the epoch, none in the decoded area (an exchange-format epoch, say).
    other = _epoch(0.0)
    rows = drift_control_session(other, "block", {"glm": {}}, areas=("VISl",))
    assert "no unit in ['VISl'] passes the filters" in rows[0]["skipped"]


# ------------------------------------------------------------------------------- reporting


def test_drift_control_rows_reach_the_front_page_and_the_group_test(tmp_path):
    from nidecode.evaluation.metrics import write_metrics_rows
    from nidecode.report.aggregate import group_time_tests, summarise
    from nidecode.report.front_page import drift_control_lines

    files = []
    for animal, scale in (("M0", 1.0), ("S0", 0.5), ("N0", 0.0)):
        for split in ("trial", "block"):
            epoch = _epoch(0.3 * scale, seed=len(animal) + len(files))
            rows = drift_control_session(
                GaborEpoch(animal, "simulated", epoch.counts, epoch.start_time,
                           epoch.condition, epoch.unit_ids, epoch.area),
                split, {"glm": {}}, max_relabellings=1000)
            files.append(tmp_path / f"{animal}_{split}.json")
            write_metrics_rows(rows, files[-1])
    skipped = drift_control_session(GaborEpoch.missing("S9", "own", "no gabors here"), "block",
                                    {"glm": {}})
    write_metrics_rows(skipped, tmp_path / "S9.json")
    summary = summarise([*files, tmp_path / "S9.json"])
    groups = group_time_tests(files, null_sessions=["N0"], analysis="drift_control")
    # Two animals with information, the null animal alone, in each split.
    assert sorted(zip(groups.split, groups.group, groups.n_sessions, strict=True)) == [
        ("block", "animals", 2), ("block", "null N0", 1), ("trial", "animals", 2),
        ("trial", "null N0", 1)]
    # 10 partitions per animal: the floor of two animals is 1/100.
    assert groups[groups.group == "animals"].p_floor.tolist() == pytest.approx([0.01, 0.01])
    # The main analysis's group test ignores these rows.
    assert group_time_tests(files, null_sessions=["N0"]).empty
    text = "\n".join(drift_control_lines(summary, groups, ["N0"]))
    glm = summary[summary.model == "glm"]
    for animal in ("M0", "N0"):
        trial, block = (glm[(glm.session == animal) & (glm.split == sp)].balanced_accuracy
                        .mean() for sp in ("trial", "block"))
        null = " (null animal)" if animal == "N0" else ""
        assert (f"{animal}{null}: on this recording's gabor epoch, a label that is only time is "
                f"decoded at {trial:.2f} (trial split) and {block:.2f} (block split) by the "
                "GLM.") in text
    assert "S9: skipped (no gabors here)" in text
    block = groups[(groups.group == "animals") & (groups.split == "block")].iloc[0]
    assert (f"Mean over the 2 animals with stimulus information, block split, with the "
            f"time-respecting group test: GLM {block.balanced_accuracy_mean:.2f} "
            f"(p {block.p_time_group:.2g})") in text
    assert drift_control_lines(summary[summary.analysis != "drift_control"], None) == [
        "* **Gabor-epoch drift control**: not run"]
