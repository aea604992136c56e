"""Power on real drift (nidecode.studies.power): the injection checked by hand, and a tiny
end-to-end power computation on simulated epochs. No shared data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nidecode.data.gabors import GaborEpoch, condition_residuals, time_only_label
from nidecode.studies.power import (
    apply_gain,
    choose_units,
    inject_epoch,
    inject_signal,
    power_markdown,
    power_records,
    power_table,
)

COUNTS = np.array([[0, 1, 2],
                   [3, 4, 5],
                   [6, 7, 8],
                   [1, 1, 1]])
Y = np.array([0, 0, 1, 1])  # pseudo-class per presentation: NS, NS, SG, SG


def test_choose_units_takes_the_stated_fraction_half_for_each_pseudo_class():
    units, preferred = choose_units(10, 0.3, np.random.default_rng(0))
    assert len(units) == 3 and list(units) == sorted(units) and len(set(units)) == 3
    assert list(preferred) == [0, 0, 1]  # half (rounded up) prefer NS, the rest SG
    assert len(choose_units(10, 0.0, np.random.default_rng(0))[0]) == 0
    assert len(choose_units(3, 0.1, np.random.default_rng(0))[0]) == 1  # at least one
    with pytest.raises(ValueError):
        choose_units(10, 1.5, np.random.default_rng(0))


def test_effect_zero_returns_the_counts_unchanged():
    out, info = inject_signal(COUNTS, Y, 0.0, fraction=1.0, seed=3)
    assert out.dtype == np.int64 and np.array_equal(out, COUNTS)
    assert list(info.units) == [0, 1, 2] and list(info.preferred) == [0, 0, 1]


def test_full_thinning_by_hand():
    # effect -1: gain 0 on each chosen unit's preferred class; every spike there is dropped.
    out, _ = inject_signal(COUNTS, Y, -1.0, fraction=1.0, seed=3)
    # units 0 and 1 prefer NS (rows 0, 1), unit 2 prefers SG (rows 2, 3)
    assert out.tolist() == [[0, 0, 2],
                            [0, 0, 5],
                            [6, 7, 0],
                            [1, 1, 0]]
    with pytest.raises(ValueError):
        inject_signal(COUNTS, Y, -1.5)


def test_added_poisson_spikes_by_hand_seeded():
    # effect 1: gain 2 on the preferred class, Poisson spikes of mean 1 x count added there.
    out, info = inject_signal(COUNTS, Y, 1.0, fraction=1.0, seed=7)
    rng = np.random.default_rng(7)
    rng.permutation(3)  # choose_units' one draw, replayed
    lam = np.array([[0, 1, 0],   # unit 0, 1: NS rows 0, 1; unit 2: SG rows 2, 3
                    [3, 4, 0],
                    [0, 0, 8],
                    [0, 0, 1]], dtype=float)
    expected = COUNTS + rng.poisson(lam)
    assert np.array_equal(out, expected)
    # only the preferred cells change, and only upwards
    assert np.array_equal(out[lam == 0], COUNTS[lam == 0])
    assert (out >= COUNTS).all()
    # the same seed gives the same units at every effect
    assert np.array_equal(inject_signal(COUNTS, Y, 0.2, 1.0, seed=7)[1].units, info.units)


def test_the_expected_count_is_gain_times_the_count():
    rng = np.random.default_rng(0)
    counts = np.full((2000, 2), 20)
    gain = np.tile([1.1, 0.8], (2000, 1))
    out = apply_gain(counts, gain, rng)
    # mean 22 (sd of the mean sqrt(2 / 2000)) and 16 (sd sqrt(20 * .8 * .2 / 2000))
    assert abs(out[:, 0].mean() - 22) < 0.15
    assert abs(out[:, 1].mean() - 16) < 0.15
    assert (out[:, 1] <= 20).all()  # thinning never adds


def test_only_the_chosen_units_change():
    rng = np.random.default_rng(1)
    counts = rng.poisson(3.0, (600, 10))
    y = np.repeat([1, 0, 0, 1, 0, 1], 100)
    out, info = inject_signal(counts, y, 0.5, fraction=0.4, seed=11)
    assert len(info.units) == 4
    others = np.setdiff1d(np.arange(10), info.units)
    assert np.array_equal(out[:, others], counts[:, others])
    for u, pref in zip(info.units, info.preferred, strict=True):
        assert np.array_equal(out[y != pref, u], counts[y != pref, u])
        assert (out[y == pref, u] >= counts[y == pref, u]).all()
        assert out[y == pref, u].sum() > counts[y == pref, u].sum()


def _epoch(seed: int, n_units: int = 16, n: int = 1215, drift_sd: float = 0.15,
           areas: list[str] | None = None) -> GaborEpoch:
    """A tiny simulated gabor epoch: 27 conditions x 45 presentations in random order, 250 ms
    apart, Poisson counts of tuned units under a slow random-walk drift of each unit's gain
    (no stimulus information, no label: the time-only label is the drift control's)."""
    rng = np.random.default_rng(seed)
    condition = rng.permutation(np.repeat(np.arange(27), n // 27))
    tuning = rng.gamma(4.0, 0.5, (27, n_units))
    walk = np.cumsum(rng.normal(0, drift_sd / np.sqrt(n / 60), (n, n_units)), axis=0)
    counts = rng.poisson(tuning[condition] * np.exp(walk))
    return GaborEpoch(f"s{seed}", "simulated", counts, 85 + 0.25 * np.arange(n), condition,
                      np.arange(n_units), np.array(areas or ["VISp"] * n_units))


def test_the_signal_survives_condition_mean_removal():
    # Constant counts: the residuals of untouched units are exactly 0; an injected unit keeps
    # the stretch signal, + effect x count / 2 in its class and - effect x count / 2 in the
    # other (each condition is shown in both classes, so its mean absorbs half the gain).
    ep = _epoch(0)
    ep.counts = np.full_like(ep.counts, 40)
    out, info = inject_epoch(ep, 0.5, fraction=0.5, seed=2)
    y, _ = time_only_label(ep.start_time, ep.block_order)
    res = condition_residuals(out.counts, out.condition)
    others = np.setdiff1d(np.arange(16), info.units)
    assert np.abs(res[:, others]).max() < 1e-9
    for u, pref in zip(info.units, info.preferred, strict=True):
        gap = res[y == pref, u].mean() - res[y != pref, u].mean()
        assert abs(gap - 0.5 * 40) < 2.0, gap  # the injected 20 spikes, not removed


def test_inject_epoch_touches_only_the_decoded_area():
    areas = ["VISp"] * 8 + ["VISl"] * 8
    ep = _epoch(0, areas=areas)
    out, info = inject_epoch(ep, 0.5, fraction=1.0, seed=0)
    assert np.array_equal(out.counts[:, 8:], ep.counts[:, 8:])
    assert len(info.units) == 8 and out.info["effect"] == 0.5
    assert not np.array_equal(out.counts[:, :8], ep.counts[:, :8])


def test_a_large_effect_is_detected_and_none_is_not():
    base = {"source": "simulated", "split": None, "decoder": None, "stimulus_blind": True}
    records = []
    for k in range(9):  # one group of nine sessions
        records += power_records(_epoch(100 + k), {**base, "session": f"s{k}", "index": k},
                                 effects=(0.0, 1.0), fraction=0.5, splits=("block",),
                                 decoders={"glm": {"C": 1.0}}, seed=[0, k])

    results = pd.DataFrame(records)
    table = power_table(results, n_random=5).set_index("effect")
    big, none = table.loc[1.0], table.loc[0.0]
    text = power_markdown(table.reset_index())
    assert "cannot reject (floor 0.1)" in text and "| 1 | block | glm | simulated | 9 |" in text
    assert big.n_sessions == none.n_sessions == 9
    assert big.group_disjoint == 1.0 and none.group_disjoint == 0.0
    # p_time cannot reach 0.05 (floor 0.1); at 0.1 it finds some sessions: relabellings that
    # keep two of the three stretches of each class decode much of the signal too.
    assert np.isnan(big.p_time) and np.isnan(none.p_time)
    assert big["p_time_at_0.1"] > none["p_time_at_0.1"] == 0.0
    assert big.p_binomial >= 0.8 and none.p_binomial <= 2 / 9  # every fold p <= 0.05
    assert big.mean_accuracy > 0.75 and abs(none.mean_accuracy - 0.5) < 0.1
    # deterministic: the same records again
    again = power_records(_epoch(100), {**base, "session": "s0", "index": 0},
                          effects=(0.0, 1.0), fraction=0.5, splits=("block",),
                          decoders={"glm": {"C": 1.0}}, seed=[0, 0])
    first = results[results.session == "s0"]
    assert [r["time_null_observed"] for r in again] == list(first.time_null_observed)
