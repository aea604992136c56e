"""The network's block-relabelling null (nidecode.jobs.runner.block_relabelling_null with a
trained network): fits on the same training blocks share their frozen features, and the null is
that of fresh fits, each with its own checkpoints, in order."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_time_confound import drifting_session

from nidecode.decoders import network as net
from nidecode.decoders.network import DNNSettings, fit_predict
from nidecode.evaluation.splits import block_relabellings
from nidecode.jobs.inputs import decoder_inputs
from nidecode.jobs.runner import balanced, block_relabelling_null
from nidecode.jobs.scope import Scope, blocks

# EfficientNet-Lite0 with the weights its package ships: frozen features are reused only for
# loaded ImageNet weights (random ones differ by seed).
SETTINGS = DNNSettings(arch="efficientnet_lite0", pretrained=True, finetune="head",
                       image_channels="on_off", image_size=32, epochs=2, batch_size=32,
                       threads=1, accelerator="cpu")
SEEDS = (0, 1)


def test_shared_feature_null_equals_fresh_fits(small_stimuli, tmp_path, monkeypatch):
    ds = drifting_session(small_stimuli, 5, informative=True, per_block=30)
    scope = Scope(split="block")
    sel = scope.select(ds, small_stimuli)
    block, _ = blocks(sel, "block")
    names = np.array(sel.names)
    basis = small_stimuli.image.values
    n_stim = small_stimuli.sizes["stimulus"]
    relabellings = list(block_relabellings(sel.y, block, 3, scope.seed))

    # Fresh fits: every labelling (the true one first) and seed alone, features computed anew,
    # checkpoints written.
    want, masks = [], set()
    for i, labels in enumerate([sel.y, *relabellings]):
        train = scope.train_mask(sel, 0, labels, names[labels])
        masks.add(train.tobytes())
        x = decoder_inputs("weights", ds, sel, train, "train", n_stim, "block").astype(np.float32)
        per_seed = []
        for seed in SEEDS:
            net._FEATURES.clear()
            predicted, record = fit_predict(
                x[train], labels[train], x[~train], 2, basis,
                replace(SETTINGS, seed=seed), tmp_path / f"{i}-{seed}")
            assert not record.get("features_reused")
            assert (tmp_path / f"{i}-{seed}" / "checkpoints" / "last.ckpt").exists()
            per_seed.append(balanced(labels[~train], predicted, 2))
        want.append(float(np.mean(per_seed)))

    passes = []
    extract = net.NeuralImageClassifier.extract_features

    def counted(self, x, *args, **kwargs):
        passes.append(len(x))
        return extract(self, x, *args, **kwargs)

    monkeypatch.setattr(net.NeuralImageClassifier, "extract_features", counted)
    net._FEATURES.clear()
    got = block_relabelling_null(ds, small_stimuli, scope, "network", mode="train",
                                 max_relabellings=3, network=SETTINGS, seeds=SEEDS, folds=[0])
    assert got["time_null_observed"] == want[0]
    assert got["time_null_accuracies"] == want[1:]
    assert got["n_time_null"] == 3 and got["time_null_folds"] == [0]
    assert got["p_time"] == pytest.approx((1 + sum(v >= want[0] for v in want[1:])) / 4)
    assert "mean over 2 seeds" in got["time_null_statistic"]
    # One feature pass (training and test rows) per distinct training set, not per fit.
    assert len(passes) == 2 * len(masks) < 2 * len(SEEDS) * len(want)
