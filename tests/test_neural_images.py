"""The neural-image algebra against the paper's two sums computed literally."""

from __future__ import annotations

import numpy as np
import pytest

from nidecode.images.neural_images import (
    cross_animal_weights,
    literal_neural_images,
    neural_image_weights,
    preferred_stimuli,
    preferred_stimulus_weights,
    stimulus_onehot,
    within_animal_weights,
)

rng = np.random.default_rng(42)
N_TRIALS, N_UNITS, N_STIM = 9, 4, 5
R = rng.normal(size=(N_TRIALS, N_UNITS)).astype(np.float32)
STIM = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3])
U = rng.random((N_STIM, 2, 3)).astype(np.float32)
SHOWN = U[STIM]  # S_t: the image shown at trial t
TRAIN = np.array([1, 1, 0, 1, 1, 0, 1, 0, 1], dtype=bool)


def synthesise(w: np.ndarray) -> np.ndarray:
    return (w @ U.reshape(N_STIM, -1)).reshape(-1, *U.shape[1:])


def test_onehot_and_preferred_stimulus_weights_by_hand():
    r = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]], dtype=np.float32)
    idx = np.array([1, 0, 1])
    np.testing.assert_array_equal(stimulus_onehot(idx, 3), [[0, 1, 0], [1, 0, 0], [0, 1, 0]])
    # M = R^T A: unit 0 gives stimulus 0 weight 3, stimulus 1 weight 1 + 0.5.
    np.testing.assert_allclose(preferred_stimulus_weights(r, idx, 3),
                               [[3.0, 1.5, 0.0], [-1.0, 2.0, 0.0]])


def test_preferred_stimuli_equal_the_literal_sum():
    ps = preferred_stimuli(R, STIM, U)
    literal = np.zeros((N_UNITS, 2, 3))
    for i in range(N_UNITS):
        for t in range(N_TRIALS):
            literal[i] += R[t, i] * SHOWN[t]
    np.testing.assert_allclose(ps, literal, rtol=1e-5, atol=1e-5)


def test_paper_mode_equals_the_two_literal_sums():
    w = within_animal_weights(R, STIM, N_STIM, TRAIN, "paper")
    np.testing.assert_allclose(synthesise(w), literal_neural_images(R, SHOWN), rtol=1e-4,
                               atol=1e-4)


def scaled_literal(basis: np.ndarray, t: int, counts_from: np.ndarray) -> np.ndarray:
    """Trial t's image from the preferred stimuli of the ``basis`` trials, each stimulus's sum
    scaled to the number of ``counts_from`` trials showing it (the literal two sums)."""
    scale = np.array([(STIM[counts_from] == s).sum() / max((STIM[basis] == s).sum(), 1)
                      for s in range(N_STIM)])
    ps = np.zeros((N_UNITS, 2, 3))
    for i in range(N_UNITS):
        for u in np.flatnonzero(basis):
            ps[i] += R[u, i] * SHOWN[u] * scale[STIM[u]]
    return np.einsum("i,ijk->jk", R[t], ps)


def test_train_mode_equals_the_literal_sums_over_training_trials():
    w = within_animal_weights(R, STIM, N_STIM, TRAIN, "train")
    images = synthesise(w)
    # Test trials: PS from all training trials.
    literal_test = literal_neural_images(R, SHOWN, basis=TRAIN)
    np.testing.assert_allclose(images[~TRAIN], literal_test[~TRAIN], rtol=1e-4, atol=1e-4)
    # Training trial t: PS from the other training trials (leave-one-out), its own stimulus's
    # sum scaled back to as many trials as the test images' PS have.
    for t in np.flatnonzero(TRAIN):
        basis = TRAIN.copy()
        basis[t] = False
        np.testing.assert_allclose(images[t], scaled_literal(basis, t, TRAIN), rtol=1e-4,
                                   atol=1e-4)


def test_leave_one_out_by_hand():
    # Two trials of stimulus 0, one of stimulus 1, one unit: M = [r0 + r1, r2].
    r = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    idx = np.array([0, 0, 1])
    w = neural_image_weights(r, idx, 2, np.ones(3, bool), np.arange(3))
    # Trial 0 without itself: stimulus 0 sums r1 = 2 over 1 trial, scaled x2 -> 4; times r0.
    # Trial 2 is stimulus 1's only trial: nothing of it is left, weight 0.
    np.testing.assert_allclose(w, [[1 * 4, 1 * 3], [2 * 2, 2 * 3], [3 * 3, 0]])


def test_block_leave_out_by_hand_and_block_mates_do_not_matter():
    blocks = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    w = within_animal_weights(R, STIM, N_STIM, TRAIN, "train", blocks)
    images = synthesise(w)
    for t in np.flatnonzero(TRAIN):
        basis = TRAIN & (blocks != blocks[t])
        np.testing.assert_allclose(images[t], scaled_literal(basis, t, TRAIN), rtol=1e-4,
                                   atol=1e-4)
    # A training trial's W is unchanged when its block-mates' responses change.
    t = np.flatnonzero(TRAIN)[0]
    mates = (blocks == blocks[t]) & (np.arange(N_TRIALS) != t)
    changed = R.copy()
    changed[mates] = rng.normal(size=(mates.sum(), N_UNITS)) * 50
    w_changed = within_animal_weights(changed, STIM, N_STIM, TRAIN, "train", blocks)
    np.testing.assert_array_equal(w_changed[t], w[t])
    # With leave-one-out it changes: block-mates build its preferred stimuli.
    loo = within_animal_weights(R, STIM, N_STIM, TRAIN, "train")
    loo_changed = within_animal_weights(changed, STIM, N_STIM, TRAIN, "train")
    assert not np.allclose(loo[t], loo_changed[t])


def test_paper_mode_self_term_is_the_squared_response_norm():
    w_paper = neural_image_weights(R, STIM, N_STIM, np.ones(N_TRIALS, bool))
    w_loo = neural_image_weights(R, STIM, N_STIM, np.ones(N_TRIALS, bool), np.arange(N_TRIALS))
    n_s = np.bincount(STIM, minlength=N_STIM)[STIM]
    expected = w_paper.copy()
    own = w_paper[np.arange(N_TRIALS), STIM] - (R**2).sum(1)
    expected[np.arange(N_TRIALS), STIM] = np.where(n_s > 1, own * n_s / np.maximum(n_s - 1, 1),
                                                   0)
    np.testing.assert_allclose(w_loo, expected, rtol=1e-5, atol=1e-5)


def test_train_mode_never_uses_test_trials():
    w = within_animal_weights(R, STIM, N_STIM, TRAIN, "train")
    changed = R.copy()
    changed[~TRAIN] = rng.normal(size=((~TRAIN).sum(), N_UNITS)) * 100
    w_changed = within_animal_weights(changed, STIM, N_STIM, TRAIN, "train")
    # Training inputs (training trials' W) are untouched by the test trials' responses...
    np.testing.assert_array_equal(w[TRAIN], w_changed[TRAIN])
    # ...while paper mode's are not: it leaks test trials into training images.
    p = within_animal_weights(R, STIM, N_STIM, TRAIN, "paper")
    p_changed = within_animal_weights(changed, STIM, N_STIM, TRAIN, "paper")
    assert not np.allclose(p[TRAIN], p_changed[TRAIN])
    # And a test trial's image depends on no other test trial.
    t = np.flatnonzero(~TRAIN)[0]
    other = changed.copy()
    other[t] = R[t]
    w_other = within_animal_weights(other, STIM, N_STIM, TRAIN, "train")
    np.testing.assert_array_equal(w_other[t], w[t])


def test_cross_animal_test_animal_uses_calibration_trials_only():
    cal = TRAIN
    w, evaluated = cross_animal_weights(R, STIM, N_STIM, "test", "train", cal)
    np.testing.assert_array_equal(evaluated, ~cal)
    changed = R.copy()
    e = np.flatnonzero(evaluated)
    changed[e[1:]] *= -7  # other evaluated trials must not matter to the first one
    w_changed, _ = cross_animal_weights(changed, STIM, N_STIM, "test", "train", cal)
    np.testing.assert_array_equal(w[e[0]], w_changed[e[0]])
    # Paper mode evaluates every trial with PS from all of them.
    wp, ev_p = cross_animal_weights(R, STIM, N_STIM, "test", "paper")
    assert ev_p.all()
    np.testing.assert_allclose(synthesise(wp), literal_neural_images(R, SHOWN), rtol=1e-4,
                               atol=1e-4)
    with pytest.raises(ValueError, match="calibration"):
        cross_animal_weights(R, STIM, N_STIM, "test", "train")
    with pytest.raises(ValueError, match="allowed"):
        within_animal_weights(R, STIM, N_STIM, TRAIN, "transductive")


def test_top_stimulus_readout_finds_the_paper_mode_leak_on_blind_units(small_stimuli):
    import xarray as xr

    from nidecode.jobs.glm_session import top_stimulus_readout
    from nidecode.jobs.scope import Scope

    rng = np.random.default_rng(3)
    stim = np.repeat(np.arange(238), 4)  # 4 repeats of every stimulus
    n = len(stim)
    ds = xr.Dataset(
        {"response": (("presentation", "unit"), rng.normal(size=(n, 60)))},  # blind units
        coords={"stimulus_index": ("presentation", stim), "area": ("unit", ["VISp"] * 60)},
        attrs={"animal": "blind", "source": "test"},
    )
    paper = top_stimulus_readout(ds, small_stimuli, 0, Scope(split="trial"), "paper")
    train = top_stimulus_readout(ds, small_stimuli, 0, Scope(split="trial"), "train")
    # Paper mode: the trial's own stimulus tops its image far above chance (1/238)...
    assert paper["own_stimulus_top_fraction"] > 0.3
    assert paper["accuracy"] > 0.6
    # ...train mode (preferred stimuli from training trials only): nothing to read.
    assert train["own_stimulus_top_fraction"] < 0.03
    assert abs(train["accuracy"] - 0.5) < 0.08


def test_on_off_channels_by_hand():
    from nidecode.decoders.network import neural_image_channels

    u = np.array([[[0.2, 0.8], [0.5, 1.0]]], dtype=np.float32)  # one 2 x 2 stimulus
    grey = neural_image_channels(u, "grey").numpy()
    assert grey.shape == (1, 1, 2, 2)
    on, off, lin = neural_image_channels(u, "on_off").numpy()[0]
    np.testing.assert_allclose(on, [[0, 0.3], [0, 0.5]], atol=1e-7)
    np.testing.assert_allclose(off, [[0.3, 0], [0, 0]], atol=1e-7)
    np.testing.assert_allclose(lin, u[0])
    np.testing.assert_allclose(on - off + 0.5, u[0], atol=1e-7)  # U = ON - OFF + grey


def test_antiphase_gratings_cancel_in_w_at_u_but_not_in_on_off_images():
    """W @ U cannot tell a grating's two antiphase copies apart from grey: the 120 gratings span
    6 x 5 x 2 + 1 = 61 dimensions and U 61 + 118 = 179 of 238. Split at grey, they do not."""
    from nidecode.data.stimuli import Canvas, render_stimuli
    from nidecode.decoders.network import neural_image_channels

    stimuli = render_stimuli(Canvas(30, 48))
    u = stimuli.image.values.astype(np.float64)
    gratings = stimuli.stimulus_class.values.astype(str) == "artificial"

    def rank(images: np.ndarray) -> int:
        sv = np.linalg.svd(images.reshape(len(images), -1), compute_uv=False)
        return int((sv > 1e-6 * sv[0]).sum())

    assert rank(u[gratings]) == 61
    assert rank(u) == 179
    on_off = neural_image_channels(u, "on_off").numpy().astype(np.float64)
    assert rank(on_off) >= 230
