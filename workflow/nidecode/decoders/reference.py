"""Reference decoders users already trust, beside the paper's GLM and network
(docs/method.md §3b): the GLM, an RBF SVC and kNN on the responses, and an RBF SVC on ``W``.

Each is a plain ``(x_train, y_train, x_test, **params) -> labels`` function registered with
:func:`nidecode.decoders.registry.decoder` under the name ``decoding.baselines`` uses.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

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


def rbf_gamma(a: np.ndarray, gamma: str | float = "scale") -> float:
    """scikit-learn's RBF width: ``"scale"`` 1 / (features x variance of ``a``), ``"auto"``
    1 / features, or the number given."""
    if gamma == "scale":
        var = float(a.var())
        return 1.0 / (a.shape[1] * var) if var > 0 else 1.0
    if gamma == "auto":
        return 1.0 / a.shape[1]
    return float(gamma)


def rbf_kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """``exp(-gamma |a_i - b_j|^2)``, by libsvm's own expansion (|a|^2 + |b|^2 - 2 a.b), as
    one matrix product."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.exp(-gamma * np.maximum(sq, 0.0))


class KernelCache:
    """The RBF kernels of recent training sets, keyed by their bytes.

    A kernel does not depend on the labels, so every block relabelling, label shuffle and
    refit on the same training trials (the same fold mask) shares one training kernel: the
    null's refits cost an SVC solve on a precomputed kernel, not a kernel. The test rows'
    kernel against them (a matrix product) is computed for each call. Least recently used
    kernels go first once ``max_bytes`` is held (a 50-repeat session's training kernel is
    about 0.5 GB).
    """

    def __init__(self, max_bytes: int = 1_500_000_000) -> None:
        self.max_bytes = max_bytes
        self._store: OrderedDict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray, float,
                                              np.ndarray]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(x_train: np.ndarray, *params: object) -> bytes:
        h = hashlib.blake2b(repr((x_train.shape, x_train.dtype.str, params)).encode(),
                            digest_size=20)
        h.update(np.ascontiguousarray(x_train).data)
        return h.digest()

    def kernels(self, x_train: np.ndarray, x_test: np.ndarray, gamma: str | float
                ) -> tuple[np.ndarray, np.ndarray]:
        """The training (train x train) and test (test x train) kernels on features
        standardised with the training trials, and ``gamma`` as scikit-learn's."""
        key = self.key(x_train, gamma)
        if key in self._store:
            self.hits += 1
            self._store.move_to_end(key)
            mean, scale, a, g, k_train = self._store[key]
        else:
            self.misses += 1
            mean = x_train.mean(axis=0)
            scale = x_train.std(axis=0)
            scale = np.where(scale > 0, scale, 1.0)  # StandardScaler's rule for constant columns
            a = (x_train - mean) / scale
            g = rbf_gamma(a, gamma)
            k_train = rbf_kernel(a, a, g)
            size = k_train.nbytes + a.nbytes
            while self._store and self._size() + size > self.max_bytes:
                self._store.popitem(last=False)
            if size <= self.max_bytes:
                self._store[key] = (mean, scale, a, g, k_train)
        return k_train, rbf_kernel((x_test - mean) / scale, a, g)

    def _size(self) -> int:
        return sum(k.nbytes + a.nbytes for _, _, a, _, k in self._store.values())


KERNELS = KernelCache()


def _svc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, C: float = 1.0,
         gamma: str | float = "scale") -> np.ndarray:
    """scikit-learn's RBF SVC on a precomputed kernel (the same solver and solution, to
    rounding) shared through :data:`KERNELS`."""
    from sklearn.svm import SVC

    k_train, k_test = KERNELS.kernels(np.asarray(x_train, dtype=np.float64),
                                      np.asarray(x_test, dtype=np.float64), gamma)
    clf = SVC(C=C, kernel="precomputed", class_weight="balanced")
    return clf.fit(k_train, y_train).predict(k_test)


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
