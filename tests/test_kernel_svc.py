"""The RBF SVC on a shared precomputed kernel (nidecode.decoders.reference) against
scikit-learn's own RBF SVC, and its kernel cache."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import rbf_kernel as sk_rbf_kernel
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from nidecode.decoders import reference
from nidecode.decoders.reference import KernelCache, rbf_gamma, rbf_kernel


def _data(n: int = 300, d: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = (x[:, 0] + 0.8 * rng.normal(size=n) > 0).astype(int)
    return x, y


def test_rbf_gamma_hand_values():
    a = np.array([[0.0, 2.0], [2.0, 0.0]])  # variance of all entries: 1
    assert rbf_gamma(a, "scale") == pytest.approx(1 / 2)
    assert rbf_gamma(a, "auto") == pytest.approx(1 / 2)
    assert rbf_gamma(a * 2, "scale") == pytest.approx(1 / 8)
    assert rbf_gamma(a, 0.3) == 0.3
    assert rbf_gamma(np.zeros((3, 2)), "scale") == 1.0  # scikit-learn's value for var 0


def test_rbf_kernel_hand_values_and_scikit_learn():
    a = np.array([[0.0, 0.0], [1.0, 1.0]])
    b = np.array([[1.0, 0.0]])
    k = rbf_kernel(b, a, 0.5)  # |b-a0|^2 = 1, |b-a1|^2 = 1
    np.testing.assert_allclose(k, [[np.exp(-0.5), np.exp(-0.5)]])
    np.testing.assert_allclose(rbf_kernel(a, a, 2.0), [[1, np.exp(-4)], [np.exp(-4), 1]])
    x, _ = _data()
    np.testing.assert_allclose(rbf_kernel(x[:50], x[50:], 0.07),
                               sk_rbf_kernel(x[:50], x[50:], gamma=0.07), rtol=1e-12)


def test_precomputed_svc_matches_scikit_learns_rbf_svc():
    x, y = _data()
    train = np.arange(len(y)) % 3 != 0
    got = reference.svc(x[train], y[train], x[~train])
    a = StandardScaler().fit(x[train])
    want = SVC(class_weight="balanced").fit(a.transform(x[train]), y[train]).predict(
        a.transform(x[~train]))
    np.testing.assert_array_equal(got, want)
    assert 0.6 < np.mean(got == y[~train])  # it decodes the signal in column 0


def test_kernel_cache_shares_training_kernels_across_labels_and_test_rows():
    x, _ = _data(seed=1)
    cache = KernelCache()
    k1 = cache.kernels(x[:200], x[200:], "scale")
    k2 = cache.kernels(x[:200].copy(), x[200:].copy(), "scale")  # same trials, new arrays
    assert (cache.hits, cache.misses) == (1, 1) and k1[0] is k2[0]
    np.testing.assert_array_equal(k1[1], k2[1])
    k3 = cache.kernels(x[:200], x[250:], "scale")  # other test rows: the same training kernel
    assert cache.hits == 2 and k3[0] is k1[0]
    np.testing.assert_array_equal(k3[1], k1[1][50:])
    cache.kernels(x[:200], x[200:], "auto")  # another gamma: another kernel
    cache.kernels(x[1:201], x[201:], "scale")  # another mask: another kernel
    assert (cache.hits, cache.misses) == (2, 3)
    assert k1[0].shape == (200, 200) and k1[1].shape == (100, 200)
    # Features standardised with the training rows, as StandardScaler: the kernel of the
    # standardised rows.
    a = StandardScaler().fit(x[:200])
    g = rbf_gamma(a.transform(x[:200]), "scale")
    np.testing.assert_allclose(k1[1], sk_rbf_kernel(a.transform(x[200:]), a.transform(x[:200]),
                                                    gamma=g), rtol=1e-10)


def test_kernel_cache_evicts_least_recent_within_its_budget():
    x, _ = _data(n=100)
    one = (80 * 80 + 80 * 12) * 8  # the training kernel and the standardised training rows
    cache = KernelCache(max_bytes=2 * one)
    for shift in range(3):
        cache.kernels(np.roll(x, shift, 0)[:80], np.roll(x, shift, 0)[80:], "scale")
    assert len(cache._store) == 2 and cache._size() <= 2 * one
    cache.kernels(x[:80], x[80:], "scale")  # the first was evicted
    assert cache.misses == 4 and cache.hits == 0
    tiny = KernelCache(max_bytes=10)  # larger than the budget: computed, never kept
    tiny.kernels(x[:80], x[80:], "scale")
    assert len(tiny._store) == 0
