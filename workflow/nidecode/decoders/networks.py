"""The trained networks as decoders: on neural images (``W @ U``) and on raster images.

Both train :func:`nidecode.decoders.network.fit_predict` with the job's network settings
(``decoding.dnn``, or a transfer-learning variant of them); torch loads only when one fits.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from nidecode.decoders.registry import Context, Decoder, Fit, register


def _same_scale(w: np.ndarray) -> np.ndarray:
    """Across animals the network reads each animal's ``W`` as built (it standardises each
    stimulus's weight with its training trials itself)."""
    return w


def train_network(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                  context: Context) -> Fit:
    """Train the configured backbone on the training rows' images and predict the test rows
    (checkpoints and logs in ``context.workdir``; none without one)."""
    from nidecode.decoders.network import fit_predict

    s = context.network
    if s is None:
        raise ValueError("a network decoder needs its settings (decoding.dnn)")
    predicted, record = fit_predict(x_train, y_train, x_test, context.n_classes, context.basis,
                                    s, context.workdir)
    inputs = "neural_image" if context.basis is not None else "raster"
    return Fit(predicted, {**record, "model": s.arch, "inputs": inputs, "seed": s.seed,
                           "image_size": s.image_size, "epochs": s.epochs,
                           "settings": asdict(s)})


register(Decoder("network", "weights", "network", train_network, across_animals=_same_scale,
                 trains_network=True))
register(Decoder("raster_network", "raster", "network on raster images", train_network,
                 trains_network=True))
