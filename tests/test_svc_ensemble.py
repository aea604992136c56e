"""The RBF SVCs above their trial budget (decoding.baselines.<svc>.max_train_trials): an
ensemble of exact SVCs on class-stratified chunks, their decision functions averaged; within the
budget the exact fit, unchanged."""

import numpy as np
import pytest

from nidecode.decoders import reference
from nidecode.decoders.registry import get


def _data(n: int = 300, d: int = 12, classes: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(size=(n, d)) + 0.8 * np.eye(classes, d)[y]
    return x, y


def test_chunks_cover_every_row_once_with_every_class_in_proportion():
    y = np.r_[np.zeros(70, int), np.ones(31, int), np.full(9, 2)]
    np.random.default_rng(1).shuffle(y)
    parts = reference.svc_chunks(y, 40)
    assert len(parts) == 3  # ceil(110 / 40)
    rows = np.concatenate(parts)
    assert sorted(rows.tolist()) == list(range(110))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # 37, 37, 36
    for c, n_c in ((0, 70), (1, 31), (2, 9)):
        counts = [int((y[p] == c).sum()) for p in parts]
        assert max(counts) - min(counts) <= 1 and sum(counts) == n_c
    assert all(np.all(np.diff(p) > 0) for p in parts)  # each in time order
    # The same labels give the same chunks; nothing else enters.
    again = reference.svc_chunks(y.copy(), 40)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


@pytest.mark.parametrize("name", ["svc", "svc_w"])
def test_within_the_budget_the_fit_is_the_exact_one(name):
    x, y = _data()
    fn = getattr(reference, name)
    exact = fn(x[:200], y[:200], x[200:])
    np.testing.assert_array_equal(fn(x[:200], y[:200], x[200:], max_train_trials=200), exact)
    fit = get(name).fit_predict(x[:200], y[:200], x[200:], max_train_trials=200)
    np.testing.assert_array_equal(fit.predicted, exact)
    assert fit.record == {"fit": "exact"}


@pytest.mark.parametrize("classes", [2, 3])
def test_above_the_budget_it_averages_exact_svcs_on_the_chunks(classes):
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = _data(classes=classes)
    xtr, ytr, xte = x[:240], y[:240], x[240:]
    parts = reference.svc_chunks(ytr, 100)
    assert len(parts) == 3
    # By hand: scikit-learn's own RBF SVC (gamma "scale" on standardised features) per chunk.
    score = 0
    for rows in parts:
        scaler = StandardScaler().fit(xtr[rows])
        clf = SVC(C=1.0, kernel="rbf", gamma="scale", class_weight="balanced")
        score = score + clf.fit(scaler.transform(xtr[rows]), ytr[rows]).decision_function(
            scaler.transform(xte))
    expected = (score > 0).astype(int) if classes == 2 else np.argmax(score, axis=1)
    fit = get("svc").fit_predict(xtr, ytr, xte, max_train_trials=100)
    np.testing.assert_array_equal(fit.predicted, expected)
    assert fit.record == {"fit": "ensemble of 3 exact SVCs on 80 trials each"}
    # It is not the exact fit in disguise: the exact SVC differs on some test trials here.
    assert not np.array_equal(reference.svc(xtr, ytr, xte), fit.predicted)
