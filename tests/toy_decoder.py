"""A decoder added the way a user adds one: this file and one entry in ``decoding.baselines``
(config/ci.yaml layered with tests/toy_decoder.yaml). Nearest class mean on ``W``, each
stimulus's weight standardised with the training trials; across animals each row is z-scored
as the SVC on W's are."""

import numpy as np

from nidecode.decoders.reference import row_standardise
from nidecode.decoders.registry import decoder


@decoder("nearest_mean_w", "weights", "nearest class mean on W", across_animals=row_standardise)
def nearest_mean_w(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                   shrink: float = 0.0) -> np.ndarray:
    """Each test row goes to the class whose training mean is nearest (Euclidean), after
    standardising every column with the training rows; ``shrink`` pulls the class means
    towards the grand mean (0: none)."""
    mu, sd = x_train.mean(0), x_train.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    a, b = (x_train - mu) / sd, (x_test - mu) / sd
    classes = np.unique(y_train)
    means = np.stack([a[y_train == c].mean(0) for c in classes]) * (1.0 - shrink)
    distance = ((b[:, None, :] - means[None]) ** 2).sum(-1)
    return classes[np.argmin(distance, axis=1)]
