"""Reference decoders users already trust, beside the paper's GLM and network
(docs/method.md §3b): the GLM, an RBF SVC and kNN on the responses, and an RBF SVC on ``W``.

Each is a plain ``(x_train, y_train, x_test, **params) -> labels`` function registered with
:func:`nidecode.decoders.registry.decoder` under the name ``decoding.baselines`` uses.
"""

from __future__ import annotations

import hashlib
import threading

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


#: Bytes of one band of :func:`rbf_kernel`'s element-wise steps: small enough to stay in a
#: core's cache between the steps (512 KB made a 7,900-trial kernel 17 % faster than 16 MB on
#: the 2-core development machine, with the same values).
BAND_BYTES = 512 * 2**10


def band_rows(n_cols: int, chunk_bytes: int | None = None) -> int:
    """Rows of a float64 band of about ``chunk_bytes`` (default :data:`BAND_BYTES`)."""
    return max(1, (chunk_bytes or BAND_BYTES) // (8 * max(1, n_cols)))


def rbf_kernel(a: np.ndarray, b: np.ndarray, gamma: float, out: np.ndarray | None = None,
               scratch: np.ndarray | None = None, chunk_bytes: int | None = None
               ) -> np.ndarray:
    """``exp(-gamma |a_i - b_j|^2)``, by libsvm's own expansion (|a|^2 + |b|^2 - 2 a.b), into
    ``out`` when given, shaped (len(a), len(b)).

    ``a.b`` is one matrix product into ``out`` (the same BLAS call, hence the same rounding, as
    one would make for the whole kernel: BLAS rounds a band of rows differently, and ``a @
    a.T`` takes its symmetric routine); the element-wise steps then run a band of rows at a
    time (about ``chunk_bytes``; ``scratch`` holds a band's |a|^2 + |b|^2, at least (rows,
    len(b))), in cache, and no second kernel-sized buffer is needed (a 24,000-trial
    cross-animal kernel is 4.6 GB). The values are those of the whole-matrix steps, bit for
    bit (tests/test_kernel_svc.py).
    """
    k = np.empty((len(a), len(b))) if out is None else out
    np.matmul(a, b.T, out=k)
    rows = min(len(a), band_rows(len(b), chunk_bytes))
    if scratch is None or scratch.size < rows * len(b):
        scratch = np.empty(rows * len(b))
    sums = scratch.reshape(-1)[:rows * len(b)].reshape(rows, len(b))
    na, nb = (a * a).sum(1), (b * b).sum(1)
    for i in range(0, len(a), rows):
        band, s = k[i:i + rows], sums[:min(rows, len(a) - i)]
        np.add.outer(na[i:i + rows], nb, out=s)
        band *= 2.0
        np.subtract(s, band, out=band)
        np.maximum(band, 0.0, out=band)
        band *= -gamma
        np.exp(band, out=band)
    return k


class KernelWorkspace:
    """The RBF kernels of the SVCs, in memory reused from one fit to the next.

    A kernel depends on the training trials, never on their labels: consecutive fits on the
    same training trials (label shuffles of one fold, the block relabellings that share a
    fold's trials) reuse the last training kernel, and the last test kernel when the test
    trials are the same too. Fresh memory is what costs here: a 2,430-trial kernel is 47 MB,
    and first-touching new pages ran at about 100 MB/s on the 2-core development machine
    (0.45 s a kernel, against 0.05 s to compute it), so kernels are recomputed into the same
    buffers rather than kept for later folds or relabellings. One workspace per thread
    (:func:`workspace`): the block-relabelling null fits in threads
    (:func:`nidecode.jobs.runner.block_relabelling_null`).
    """

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}
        self._last: bytes | None = None
        self._last_test: bytes | None = None
        self._state: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = None
        self.hits = 0
        self.misses = 0
        self.test_hits = 0

    @staticmethod
    def key(x_train: np.ndarray, *params: object) -> bytes:
        h = hashlib.blake2b(repr((x_train.shape, x_train.dtype.str, params)).encode(),
                            digest_size=20)
        h.update(np.ascontiguousarray(x_train).data)
        return h.digest()

    def _buffer(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        """A (rows, cols) view of buffer ``name``, grown (never shrunk) as needed."""
        size = shape[0] * shape[1]
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = self._buffers[name] = np.empty(size)
        return buf[:size].reshape(shape)

    def kernels(self, x_train: np.ndarray, x_test: np.ndarray, gamma: str | float
                ) -> tuple[np.ndarray, np.ndarray]:
        """The training (train x train) and test (test x train) kernels on features
        standardised with the training trials, ``gamma`` as scikit-learn's. Valid until the
        next call (their memory is reused)."""
        for name, x in (("training", x_train), ("test", x_test)):
            if not np.isfinite(x).all():
                raise ValueError(f"the SVC's {name} features contain NaN or infinity")
        key, test_key = self.key(x_train, gamma), self.key(x_test)
        n = len(x_train)
        if key == self._last and self._state is not None:
            self.hits += 1
            mean, scale, a, g = self._state
            k_train = self._buffer("train", (n, n))
            if test_key == self._last_test:
                self.test_hits += 1
                return k_train, self._buffer("test", (len(x_test), n))
        else:
            self.misses += 1
            mean = x_train.mean(axis=0)
            scale = x_train.std(axis=0)
            scale = np.where(scale > 0, scale, 1.0)  # StandardScaler's rule for constant columns
            a = (x_train - mean) / scale
            g = rbf_gamma(a, gamma)
            k_train = rbf_kernel(a, a, g, self._buffer("train", (n, n)), self._scratch(n))
            self._last, self._state = key, (mean, scale, a, g)
        b = (x_test - mean) / scale
        self._last_test = None  # the test buffer is being overwritten
        k_test = rbf_kernel(b, a, g, self._buffer("test", (len(b), n)), self._scratch(n))
        self._last_test = test_key
        return k_train, k_test

    def _scratch(self, n: int) -> np.ndarray:
        """Room for one band of :func:`rbf_kernel` against ``n`` training rows."""
        return self._buffer("scratch", (band_rows(n), n))


_LOCAL = threading.local()


def workspace() -> KernelWorkspace:
    """This thread's kernel workspace."""
    ws = getattr(_LOCAL, "workspace", None)
    if ws is None:
        ws = _LOCAL.workspace = KernelWorkspace()
    return ws


def svc_chunks(y_train: np.ndarray, max_train_trials: int) -> list[np.ndarray]:
    """The training rows of an SVC ensemble: ``ceil(n / max_train_trials)`` chunks of
    near-equal size, each class dealt round-robin over them from a permutation seeded by the
    class sizes alone (each chunk holds every class in proportion; the same rows for the same
    labels, whatever the features). Each chunk's row indices, sorted (time order kept)."""
    y = np.asarray(y_train)
    k = -(-len(y) // max(1, int(max_train_trials)))
    classes, counts = np.unique(y, return_counts=True)
    rng = np.random.default_rng([len(y), k, *counts.tolist()])
    parts: list[list[np.ndarray]] = [[] for _ in range(k)]
    offset = 0
    for c in classes:
        rows = rng.permutation(np.flatnonzero(y == c))
        for j in range(k):  # round-robin from where the last class stopped: equal sizes
            parts[(offset + j) % k].append(rows[j::k])
        offset += len(rows)
    return [np.sort(np.concatenate(p)) for p in parts]


def svc_fit(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, C: float = 1.0,
            gamma: str | float = "scale", max_train_trials: int | None = None) -> dict:
    """What an SVC row's ``fit`` says: ``exact``, or the ensemble of :func:`_svc` with its
    size (the chunks' trials)."""
    n = len(y_train)
    if max_train_trials is None or n <= max_train_trials:
        return {"fit": "exact"}
    sizes = [len(r) for r in svc_chunks(y_train, max_train_trials)]
    lo, hi = min(sizes), max(sizes)
    return {"fit": f"ensemble of {len(sizes)} exact SVCs on {lo}"
                   + (f"-{hi}" if hi > lo else "") + " trials each"}


def _svc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, C: float = 1.0,
         gamma: str | float = "scale", max_train_trials: int | None = None) -> np.ndarray:
    """scikit-learn's RBF SVC on a precomputed kernel (the same solver and solution, to
    rounding) computed in this thread's :func:`workspace` (reused memory).

    Above ``max_train_trials`` training trials (None: never) the kernel and libsvm's solver
    grow with the square of the trials or faster, so the fit is an ensemble instead: one exact
    SVC on each of :func:`svc_chunks` (each standardised with its own trials, ``gamma`` from
    them), tested on every test trial, their decision functions averaged. Its cost is linear
    in the trials and its memory bounded by the budget (docs/method.md, "The reference
    decoders at Allen's size"); the record's ``fit`` says which one ran (:func:`svc_fit`).
    """
    from sklearn import config_context
    from sklearn.svm import SVC

    x_train = np.asarray(x_train, dtype=np.float64)
    x_test = np.asarray(x_test, dtype=np.float64)
    y_train = np.asarray(y_train)
    if max_train_trials is None or len(x_train) <= max_train_trials:
        k_train, k_test = workspace().kernels(x_train, x_test, gamma)
        # The features are checked finite (trials x features, cheap); their kernels then are
        # too, and scikit-learn's own check would read each kernel once more (0.5 GB a fit at
        # Allen's size).
        with config_context(assume_finite=True):
            clf = SVC(C=C, kernel="precomputed", class_weight="balanced")
            return clf.fit(k_train, y_train).predict(k_test)
    parts = svc_chunks(y_train, max_train_trials)
    classes = np.unique(y_train)
    score = None
    for rows in parts:
        k_train, k_test = workspace().kernels(x_train[rows], x_test, gamma)
        with config_context(assume_finite=True):
            clf = SVC(C=C, kernel="precomputed", class_weight="balanced")
            d = clf.fit(k_train, y_train[rows]).decision_function(k_test)
        score = d if score is None else score + d
    # Binary: one score, positive for classes[1]; k classes: one-vs-rest scores.
    assert score is not None
    return classes[(score > 0).astype(int)] if score.ndim == 1 else classes[
        np.argmax(score, axis=1)]


@decoder("svc", "responses", "SVC", long_label="RBF SVC", record=svc_fit)
def svc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, C: float = 1.0,
        gamma: str | float = "scale", max_train_trials: int | None = None) -> np.ndarray:
    """RBF-kernel SVC on standardised responses, scikit-learn's defaults (``C`` 1,
    ``gamma="scale"``), as AllenSDK's Neuropixels quick-start decodes; class-balanced. Above
    ``max_train_trials`` training trials, an ensemble of exact SVCs (:func:`_svc`)."""
    return _svc(x_train, y_train, x_test, C, gamma, max_train_trials)


@decoder("knn", "responses", "kNN")
def knn(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, n_neighbors: int = 15
        ) -> np.ndarray:
    """k-nearest neighbours (Euclidean, majority vote) on standardised responses."""
    from sklearn.neighbors import KNeighborsClassifier

    a, b = _standardised(x_train, x_test)
    k = min(n_neighbors, len(a))
    return KNeighborsClassifier(n_neighbors=k).fit(a, y_train).predict(b)


@decoder("svc_w", "weights", "SVC on W", across_animals=row_standardise,
         long_label="RBF SVC on W", record=svc_fit)
def svc_w(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, C: float = 1.0,
          gamma: str | float = "scale", max_train_trials: int | None = None) -> np.ndarray:
    """RBF-kernel SVC on ``W``, each stimulus's weight standardised with the training trials
    (the network's own input scaling,
    :func:`nidecode.decoders.network.standardise_weights`): how much the
    network's input holds, read without the image or the network. Above
    ``max_train_trials`` training trials, an ensemble of exact SVCs (:func:`_svc`)."""
    return _svc(x_train, y_train, x_test, C, gamma, max_train_trials)
