"""Reference decoders users already trust, beside the paper's GLM and network
(docs/method.md §3b): the GLM, an RBF SVC and kNN on the responses, and an RBF SVC on ``W``.

Each is a plain ``(x_train, y_train, x_test, **params) -> labels`` function registered with
:func:`nidecode.decoders.registry.decoder` under the name ``decoding.baselines`` uses.
"""

from __future__ import annotations

import numpy as np

from nidecode.decoders.registry import decoder

# scikit-learn is imported inside the decoders: the Snakefile reads the registry (which
# decoders read W) at parse time, and dry runs stay quick.


def row_standardise(w: np.ndarray) -> np.ndarray:
    """Each trial's ``W`` row z-scored across stimuli (its own mean and SD only).

    Across animals the scale of ``W`` follows each animal's unit count and response sizes
    (``W = R R^T A``); per row, only how a trial weighs the stimuli relative to each other
    remains, and no other trial (no test trial) informs the scaling.
    """
    w = np.asarray(w, dtype=np.float64)
    sd = w.std(axis=1, keepdims=True)
    return (w - w.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)


def _standardised(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each feature z-scored with the training trials' mean and SD only."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_test)


@decoder("glm", "responses", "GLM")
def glm(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, C: float = 1.0
        ) -> np.ndarray:
    """The paper's GLM: L2 logistic regression on standardised responses, class-balanced
    (k-class sub-class tasks have unequal classes, 10 vs 108 scenes)."""
    from sklearn.linear_model import LogisticRegression

    a, b = _standardised(x_train, x_test)
    clf = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    return clf.fit(a, y_train).predict(b)


def _svc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, C: float = 1.0,
         gamma: str | float = "scale") -> np.ndarray:
    from sklearn.svm import SVC

    a, b = _standardised(x_train, x_test)
    return SVC(C=C, gamma=gamma, class_weight="balanced").fit(a, y_train).predict(b)


@decoder("svc", "responses", "SVC", long_label="RBF SVC")
def svc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, C: float = 1.0,
        gamma: str | float = "scale") -> np.ndarray:
    """RBF-kernel SVC on standardised responses, scikit-learn's defaults (``C`` 1,
    ``gamma="scale"``), as AllenSDK's Neuropixels quick-start decodes; class-balanced."""
    return _svc(x_train, y_train, x_test, C, gamma)


@decoder("knn", "responses", "kNN")
def knn(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, n_neighbors: int = 15
        ) -> np.ndarray:
    """k-nearest neighbours (Euclidean, majority vote) on standardised responses."""
    from sklearn.neighbors import KNeighborsClassifier

    a, b = _standardised(x_train, x_test)
    k = min(n_neighbors, len(a))
    return KNeighborsClassifier(n_neighbors=k).fit(a, y_train).predict(b)


@decoder("svc_w", "weights", "SVC on W", across_animals=row_standardise,
         long_label="RBF SVC on W")
def svc_w(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, C: float = 1.0,
          gamma: str | float = "scale") -> np.ndarray:
    """RBF-kernel SVC on ``W``, each stimulus's weight standardised with the training trials
    (the network's own input scaling,
    :func:`nidecode.decoders.network.standardise_weights`): how much the
    network's input holds, read without the image or the network."""
    return _svc(x_train, y_train, x_test, C, gamma)
