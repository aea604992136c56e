"""The RBF SVC on a shared precomputed kernel (nidecode.decoders.reference) against
scikit-learn's own RBF SVC, and its kernel cache."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import rbf_kernel as sk_rbf_kernel
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from nidecode.decoders import reference
from nidecode.decoders.reference import KernelWorkspace, rbf_gamma, rbf_kernel


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


def test_rbf_kernel_into_given_memory_is_the_same():
    x, _ = _data(seed=2)
    out, scratch = np.empty((100, 200)), np.empty((100, 200))
    k = rbf_kernel(x[:100], x[100:], 0.05, out, scratch)
    assert k is out
    np.testing.assert_array_equal(k, rbf_kernel(x[:100], x[100:], 0.05))


def test_kernel_workspace_reuses_the_last_training_kernel_and_its_memory():
    x, _ = _data(seed=1)
    ws = KernelWorkspace()
    k1, t1 = ws.kernels(x[:200], x[200:], "scale")
    first = (k1.copy(), t1.copy())
    k2, t2 = ws.kernels(x[:200].copy(), x[250:], "scale")  # same trials, other test rows
    assert (ws.hits, ws.misses) == (1, 1) and np.shares_memory(k1, k2)
    np.testing.assert_array_equal(k2, first[0])
    np.testing.assert_array_equal(t2, first[1][50:])
    assert ws.test_hits == 0  # other test rows: the test kernel was recomputed
    k3, t3 = ws.kernels(x[:200], x[250:].copy(), "scale")  # the same test rows again
    assert ws.test_hits == 1 and np.shares_memory(t2, t3)
    np.testing.assert_array_equal(t3, first[1][50:])
    ws.kernels(x[:200], x[200:], "auto")  # another gamma: recomputed
    ws.kernels(x[1:201], x[201:], "scale")  # another training set: recomputed
    k5, _ = ws.kernels(x[:200], x[200:], "scale")  # not the last one: recomputed, same values
    assert (ws.hits, ws.misses) == (2, 4)
    np.testing.assert_array_equal(k5, first[0])
    assert k1.shape == (200, 200) and t1.shape == (100, 200)
    # Features standardised with the training rows, as StandardScaler: the kernel of the
    # standardised rows.
    a = StandardScaler().fit(x[:200])
    g = rbf_gamma(a.transform(x[:200]), "scale")
    np.testing.assert_allclose(first[1], sk_rbf_kernel(a.transform(x[200:]),
                                                       a.transform(x[:200]), gamma=g),
                               rtol=1e-10)
    # A larger training set grows the buffers; a smaller one reuses them.
    big, _ = ws.kernels(x[:250], x[250:], "scale")
    small, _ = ws.kernels(x[:50], x[50:], "scale")
    assert big.shape == (250, 250) and small.shape == (50, 50) and np.shares_memory(big, small)


def test_rbf_kernel_in_bands_is_the_same_bit_for_bit():
    x, _ = _data(n=500, d=30, seed=3)
    whole = rbf_kernel(x[:300], x[300:], 0.04, chunk_bytes=2**40)  # one band
    for chunk in (8, 8 * 200 * 7, 8 * 200 * 64):  # 1 row, 7 rows, 64 rows a band
        np.testing.assert_array_equal(rbf_kernel(x[:300], x[300:], 0.04, chunk_bytes=chunk),
                                      whole)


def test_kernel_workspace_is_one_per_thread():
    # Two threads alive at once (the barrier), each asking twice: each keeps its own
    # workspace, and neither gets the main thread's. One shared workspace fails every check.
    import threading

    main = reference.workspace()
    barrier = threading.Barrier(2)
    seen: dict[int, tuple] = {}

    def ask(k: int) -> None:
        first = reference.workspace()
        barrier.wait()
        seen[k] = (first, reference.workspace())

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a, a_again), (b, b_again) = seen[0], seen[1]
    assert a is a_again and b is b_again and reference.workspace() is main
    assert a is not b and main is not a and main is not b


def test_svc_refuses_non_finite_features():
    x, y = _data(n=60)
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match="training features contain NaN"):
        reference.svc(x[:40], y[:40], x[40:])
