"""Positive control: do the networks see their images?

The null animal N0 with 800 VISp units in ``paper`` mode: each trial's own stimulus enters its
own neural image with weight ||R_t||^2, so the images do show the stimulus class (the
training-free top-stimulus readout reads it), although the units know nothing. A decoder that
cannot tell a grating from a photograph there cannot test the paper's claim. The default DNN
settings (config/config.yaml) must be clearly above chance.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from conftest import REPO
from nidecode.config import validate_config
from nidecode.data.session_clock import Protocol
from nidecode.data.simulate import AnimalSpec
from nidecode.data.stimuli import Canvas, render_stimuli
from nidecode.decoders.network import DNNSettings, fit_predict, standardise_weights
from nidecode.evaluation.statistics import binomial_p
from nidecode.jobs.glm_session import top_stimulus_readout
from nidecode.jobs.inputs import within_weights_dataset
from nidecode.jobs.scope import Scope
from nidecode.jobs.training import transfer_overrides
from nidecode.studies.false_positives import simulated_responses


def test_standardise_weights_uses_training_statistics_only():
    train = np.array([[1.0, 10.0], [3.0, 10.0]])
    test = np.array([[5.0, 12.0]])
    z_train, z_test = standardise_weights(train, test)
    np.testing.assert_allclose(z_train, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(z_test, [[3.0, 2.0]])  # constant column: SD taken as 1


@pytest.mark.slow
def test_networks_see_the_stimulus_in_leaky_images(tmp_path):
    config = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    stimuli = render_stimuli(Canvas(60, 96))
    spec = AnimalSpec(name="N0", seed=109, n_units={"VISp": 800}, stimulus_blind=True,
                      fraction_failing_qc=0.0)
    ds = simulated_responses(spec, Protocol(), stimuli, tmp_path, Canvas(30, 48))
    scope = Scope(split="block")
    weights = within_weights_dataset(ds, stimuli, scope, "paper")
    y = weights.label.values
    default = replace(DNNSettings.from_config(config), accelerator="cpu")
    # GoogLeNet from scratch as config/full.yaml's transfer comparison trains it.
    full = yaml.safe_load((REPO / "config" / "full.yaml").read_text())["decoding"]["transfer"]
    config["decoding"]["transfer"]["variants"] = full["variants"]
    scratch = replace(default, **transfer_overrides(config, "googlenet-scratch"))
    correct = {"readout": 0, "glm_on_w": 0, "default DNN": 0, "GoogLeNet scratch": 0}
    n = 0
    for k in range(scope.n_folds):
        w, train = weights.W.values[k], weights.train.values[k]
        correct["readout"] += round(top_stimulus_readout(ds, stimuli, k, scope, "paper")["accuracy"]
                                    * (~train).sum())
        s = StandardScaler().fit(w[train])
        glm = LogisticRegression(max_iter=5000).fit(s.transform(w[train]), y[train])
        correct["glm_on_w"] += int((glm.predict(s.transform(w[~train])) == y[~train]).sum())
        for name, settings in (("default DNN", default), ("GoogLeNet scratch", scratch)):
            pred, _ = fit_predict(w[train], y[train], w[~train], 2, stimuli.image.values,
                                  settings, tmp_path / name.replace(" ", "_") / str(k))
            correct[name] += int((pred == y[~train]).sum())
        n += int((~train).sum())
    acc = {k: v / n for k, v in correct.items()}
    print({k: round(v, 3) for k, v in acc.items()}, n)
    assert acc["readout"] > 0.8  # the images carry the class
    # The default network (EfficientNet-Lite0's ImageNet features, a linear probe) sees them.
    # GoogLeNet from scratch at 32² is printed, not required (measured: 0.49 on the former
    # alternating schedule, why the CPU default became the ImageNet probe; 0.82 on Allen's).
    assert binomial_p(correct["default DNN"], n, 0.5) < 0.001, acc["default DNN"]
