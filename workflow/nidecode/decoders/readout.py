"""The top-stimulus readout of the neural images: a training-free decoder of ``W``."""

from __future__ import annotations

import numpy as np

from nidecode.decoders.registry import Context, Decoder, Fit, register


def top_stimulus(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                 context: Context) -> Fit:
    """The class of each test image's top-weighted stimulus.

    Each image is a weighted sum of the unique stimuli (``W @ U``). Standardise each stimulus's
    weight with the training trials' mean and SD, take the test trial's top-weighted stimulus
    and predict its class. ``own_stimulus_top_fraction`` is how often that top stimulus is the
    very stimulus shown (chance: 1 / number of stimuli). In ``paper`` mode a trial's own
    stimulus enters its image with weight ``||R_t||^2``, so on the null animal both numbers rise
    above chance: the leak, measured without any network. In ``train`` mode they cannot.
    """
    if context.stimulus_label is None:
        raise ValueError("the top-stimulus readout needs each stimulus's class")
    z = (x_test - x_train.mean(0)) / (x_train.std(0) + 1e-9)
    top = np.argmax(z, axis=1)
    record: dict = {"inputs": "neural_image", "own_stimulus_top_chance": 1.0 / x_test.shape[1]}
    if context.test_stimulus is not None:
        record["own_stimulus_top_fraction"] = float(np.mean(top == context.test_stimulus))
    return Fit(context.stimulus_label[top], record)


register(Decoder("readout", "weights", "top-stimulus readout", top_stimulus, scores_blanks=False))
