"""Baseline decoders (RBF SVC and kNN on responses, RBF SVC on W) beside the GLM: hand-checkable
toy problems, chance where there is nothing to decode, and no test-trial leakage across animals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_time_confound import drifting_session

from nidecode.common.errors import ConfigError
from nidecode.config import load_config
from nidecode.decoders import reference as baselines
from nidecode.decoders.reference import row_standardise
from nidecode.decoders.registry import DECODERS, decoder, get
from nidecode.jobs.runner import cross, session, within
from nidecode.jobs.scope import Scope

REPO = Path(__file__).resolve().parents[1]
BASELINES = {"svc": {}, "knn": {"n_neighbors": 3}, "svc_w": {}, "glm": {}}


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_each_decoder_solves_a_separable_toy_problem(name):
    # Two clusters on a line, far apart: the nearest class is obvious to every decoder.
    x_train = np.array([[0.0, 0], [1, 0], [0, 1], [10, 10], [11, 10], [10, 11]])
    y_train = np.array([0, 0, 0, 1, 1, 1])
    x_test = np.array([[0.5, 0.5], [10.5, 10.5], [-1, 0], [12, 11]])
    pred = get(name).fit_predict(x_train, y_train, x_test, **BASELINES[name]).predicted
    assert pred.tolist() == [0, 1, 0, 1]


def test_knn_votes_among_its_k_nearest_neighbours():
    # Standardised, the training points sit at -1.04, -0.83, 0.83, 1.04 (x 1 SD) ... hand-checked:
    # the test point 4 is nearest to 0, 1 (class 0) and then 10 (class 1): 2 votes to 1 -> 0.
    x_train = np.array([[0.0], [1], [10], [11]])
    y_train = np.array([0, 0, 1, 1])
    assert baselines.knn(x_train, y_train, np.array([[4.0], [7.0]]), n_neighbors=3).tolist() \
        == [0, 1]
    # With k = 1 only the single nearest neighbour counts.
    assert baselines.knn(x_train, y_train, np.array([[5.4], [5.6]]), n_neighbors=1).tolist() \
        == [0, 1]


@pytest.mark.parametrize("name", ["svc", "knn", "svc_w"])
def test_shuffled_labels_decode_at_chance(name):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 4))
    y = (x[:, 0] > 0).astype(int)
    pred = get(name).fit_predict(x[:1000], y[:1000], x[1000:], **BASELINES[name]).predicted
    assert np.mean(pred == y[1000:]) > 0.85  # the information is there...
    # Labels shuffled across all trials carry nothing: test accuracy is a binomial draw around
    # 0.5 (SD 0.016 for 1000 test trials).
    shuffled = rng.permutation(y)
    pred = get(name).fit_predict(x[:1000], shuffled[:1000], x[1000:],
                                **BASELINES[name]).predicted
    assert abs(np.mean(pred == shuffled[1000:]) - 0.5) < 0.06


@pytest.mark.parametrize("name", ["svc", "knn", "svc_w"])
def test_blind_drifting_units_decode_time_in_trial_split_and_chance_in_block_split(
        small_stimuli, name):
    ds = drifting_session(small_stimuli, 1, informative=False)
    mode = "train" if get(name).inputs == "weights" else None

    def accuracy(split: str) -> float:
        return float(np.mean([within(ds, small_stimuli, k, Scope(split=split), name,
                                     BASELINES[name], mode=mode)["accuracy"]
                              for k in range(3)]))

    assert accuracy("trial") > 0.6  # slow drift read as stimulus: the time confound
    assert accuracy("block") < 0.6
    informative = drifting_session(small_stimuli, 2, informative=True)
    rows = session(informative, small_stimuli, Scope(split="block"),
                   {name: BASELINES[name]}, ["train"], n_permutations=3)
    assert len(rows) == 3 and all(r["model"] == name for r in rows)
    assert np.mean([r["accuracy"] for r in rows]) > 0.7
    # Its nulls: block relabelling (9 partitions) and the label shuffle, as the GLM's.
    assert rows[0]["n_time_null"] == 9 and len(rows[0]["null_accuracies"]) == 3
    assert rows[0]["p_time"] == pytest.approx(0.1)  # the floor of one session: 1 / (1 + 9)


def _animal(small_stimuli, seed: int):
    ds = drifting_session(small_stimuli, seed, informative=True, per_block=40)
    return ds.assign_attrs(animal=f"A{seed}", baseline_method="pre_onset")


def test_svc_w_across_animals_never_sees_the_test_animals_evaluated_trials(small_stimuli,
                                                                          monkeypatch):
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    @decoder("spy", "weights", "spy", across_animals=row_standardise)
    def spy(x_train, y_train, x_test):
        seen.append((x_train.copy(), x_test.copy()))
        return np.zeros(len(x_test), dtype=int)

    monkeypatch.setitem(DECODERS, "spy", DECODERS.pop("spy"))
    train = [_animal(small_stimuli, 1), _animal(small_stimuli, 2)]
    test = _animal(small_stimuli, 3)
    scope = Scope(split="block")
    out, _ = cross(train, [test], small_stimuli, "train", scope, 0.5, "spy")
    assert out["n_calibration"] + out["n_test"] == test.sizes["presentation"]
    assert out["n_train"] == sum(d.sizes["presentation"] for d in train)
    x_train, x_test = seen[-1]
    assert len(x_train) == out["n_train"] and len(x_test) == out["n_test"]
    # Change the responses of the evaluated trials of the test animal: what the decoder is
    # fitted on is unchanged, and so is every other evaluated trial's input (each trial's W
    # comes from the calibration trials' preferred stimuli, and its scaling from itself).
    from nidecode.evaluation.splits import calibration

    sel = scope.select(test, small_stimuli)
    cal = calibration("block", sel.y, sel.block, sel.stimulus_name, 0.5, 0, "A3")
    evaluated = np.flatnonzero(~cal)
    changed = test.copy(deep=True)
    changed.response.values[evaluated[0]] *= -3.0
    cross(train, [changed], small_stimuli, "train", scope, 0.5, "spy")
    x_train2, x_test2 = seen[-1]
    np.testing.assert_array_equal(x_train, x_train2)
    np.testing.assert_allclose(x_test[1:], x_test2[1:], rtol=1e-6)
    assert not np.allclose(x_test[0], x_test2[0])


def test_row_standardise_by_hand():
    w = np.array([[1.0, 2, 3], [10, 10, 10]])
    z = row_standardise(w)
    s = np.sqrt(2 / 3)
    np.testing.assert_allclose(z[0], [-1 / s, 0, 1 / s])
    np.testing.assert_array_equal(z[1], [0, 0, 0])  # a flat row stays flat, no division by 0


def test_svc_w_across_animals_decodes_shared_stimulus_space(small_stimuli):
    train = [_animal(small_stimuli, 1), _animal(small_stimuli, 2)]
    out, _ = cross(train, [_animal(small_stimuli, 3)], small_stimuli, "train",
                   Scope(split="block"), 0.5, "svc_w", seeds=(0, 1))
    assert out["n_seeds"] == 2 and len(out["seed_accuracies"]) == 2
    assert out["model"] == "svc_w" and out["task"] == "cross"
    assert 0 <= out["accuracy"] <= 1


def test_unknown_baseline_or_parameter_is_one_clear_config_error(tmp_path):
    from nidecode.config import validate_config

    cfg = load_config(REPO / "config" / "config.yaml")
    cfg["decoding"]["baselines"] = {"forest": {}}
    with pytest.raises(ConfigError, match="unknown decoder 'forest'.*registered"):
        validate_config(cfg)
    cfg = load_config(REPO / "config" / "config.yaml")
    cfg["decoding"]["baselines"] = {"knn": {"k": 5}}
    with pytest.raises(ConfigError, match=r"decoding.baselines.knn.*\['k'\].*n_neighbors"):
        validate_config(cfg)


def test_a_decoder_module_that_cannot_be_imported_is_one_clear_config_error(tmp_path):
    from nidecode.config import validate_config

    cfg = load_config(REPO / "config" / "config.yaml")
    cfg["decoding"]["decoder_modules"] = [str(tmp_path / "missing.py")]
    with pytest.raises(ConfigError, match="decoding.decoder_modules.*missing.py"):
        validate_config(cfg)


def test_every_decoder_runs_through_the_one_interface(small_stimuli):
    # The reference decoders, the readout and a W-reading plugin all go through runner.within
    # on the same fold; each records its own model name and what it read.
    from nidecode.decoders.registry import registered

    ds = drifting_session(small_stimuli, 2, informative=True)
    scope = Scope(split="block")
    names = {n for n, d in registered().items() if not d.trains_network}
    assert {"glm", "svc", "knn", "svc_w", "readout"} <= names
    for name in sorted(names):
        mode = "train" if get(name).inputs == "weights" else None
        out = within(ds, small_stimuli, 0, scope, name, mode=mode)
        assert out["model"] == name and out["fold"] == 0 and 0 <= out["accuracy"] <= 1
        assert out["inputs"] == {"responses": "responses", "weights": (
            "neural_image" if name == "readout" else "neural_image_weights")}[get(name).inputs]


@pytest.mark.parametrize("name", ["svc", "svc_w"])
def test_relabelling_null_in_threads_and_from_the_folds_is_the_same(small_stimuli, name):
    """The block-relabelling null fitted in threads, with its observed accuracy taken from the
    session's folds, equals the serial null that refits the true labels too."""
    from nidecode.jobs.runner import block_relabelling_null, pooled_balanced

    ds = drifting_session(small_stimuli, 3, informative=True)
    mode = "train" if get(name).inputs == "weights" else None
    scope = Scope(split="block")
    serial = block_relabelling_null(ds, small_stimuli, scope, name, {}, mode=mode)
    folds = [within(ds, small_stimuli, k, scope, name, {}, mode=mode) for k in range(3)]
    observed = pooled_balanced(np.sum([r["confusion_matrix"] for r in folds], axis=0))
    threaded = block_relabelling_null(ds, small_stimuli, scope, name, {}, mode=mode,
                                      observed=observed, n_jobs=3)
    assert observed == serial["time_null_observed"]  # bit for bit
    assert threaded == serial
    assert len(serial["time_null_accuracies"]) == 9
    assert len(set(serial["time_null_accuracies"])) > 1  # the relabellings differ


def test_pooled_balanced_by_hand():
    from nidecode.jobs.runner import pooled_balanced

    # Recalls 3/4 and 1/2 -> 0.625; a class absent from the test trials is left out.
    assert pooled_balanced(np.array([[3, 1], [2, 2]])) == 0.625
    assert pooled_balanced(np.array([[3, 1, 0], [0, 0, 0], [1, 0, 1]])) == 0.625


def test_a_session_in_threads_gives_the_same_rows(small_stimuli):
    ds = drifting_session(small_stimuli, 4, informative=True)
    decoders = {"svc": {}, "knn": {"n_neighbors": 3}, "svc_w": {}}

    def rows(n_jobs: int) -> list[dict]:
        out = session(ds, small_stimuli, Scope(split="block"), decoders, ["train", "paper"],
                      n_jobs=n_jobs)
        return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in out]

    serial, threaded = rows(1), rows(2)
    assert len(serial) == 3 * 4  # svc, knn and svc_w in two modes, three folds each
    assert threaded == serial


@pytest.mark.parametrize("split", ["block", "trial"])
def test_relabelling_null_builds_each_training_sets_kernel_once(small_stimuli, split):
    """Fits that share their training trials (in the block split, relabellings whose folds
    hold out the same blocks) share one kernel, and the null is that of one fresh fit per
    relabelling and fold, in order."""
    from nidecode.evaluation.splits import block_relabellings
    from nidecode.jobs.inputs import decoder_inputs
    from nidecode.jobs.runner import balanced, block_relabelling_null
    from nidecode.jobs.scope import blocks

    ds = drifting_session(small_stimuli, 3, informative=True)
    scope = Scope(split=split)
    sel = scope.select(ds, small_stimuli)
    block, _ = blocks(sel, "block")
    names = np.array(sel.names)
    want, masks = [], set()
    for labels in block_relabellings(sel.y, block, 1000, scope.seed):
        truth, predicted = [], []
        for k in range(scope.n_folds):
            train = scope.train_mask(sel, k, labels, names[labels])
            masks.add(train.tobytes())
            x = decoder_inputs("responses", ds, sel, train, None,
                               small_stimuli.sizes["stimulus"], split)
            baselines._LOCAL.workspace = baselines.KernelWorkspace()  # a fresh fit
            truth.append(labels[~train])
            predicted.append(baselines.svc(x[train], labels[train], x[~train]))
        want.append(balanced(np.concatenate(truth), np.concatenate(predicted), len(names)))
    ws = baselines._LOCAL.workspace = baselines.KernelWorkspace()
    got = block_relabelling_null(ds, small_stimuli, scope, "svc", {}, observed=0.5)
    assert got["time_null_accuracies"] == want
    assert ws.misses == len(masks) and ws.misses + ws.hits == 3 * len(want)
    assert ws.test_hits == ws.hits  # the same training trials leave the same test trials
    if split == "block":  # 27 fits of 3 + 3 blocks hold out 10 distinct pairs of blocks
        assert len(want) == 9 and len(masks) < 3 * len(want)
