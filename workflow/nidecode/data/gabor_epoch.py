"""The simulated gabor epoch: how its drifting patches drive the units (:data:`GABOR_PHASES`,
:data:`GABOR_GAIN`) and its spikes (:func:`simulate_gabor_epoch`). Its presentations are placed
on the session clock by :func:`nidecode.data.session_clock.gabor_schedule`."""

from __future__ import annotations

import numpy as np

from nidecode.data.schedule import PRESENTATION_S
from nidecode.data.session_clock import DT, TAIL_S
from nidecode.data.unit_model import response_kernel

# Frames of the drifting gabor's cycle a condition's drive is averaged over.
GABOR_PHASES = (0.0, 0.25, 0.5, 0.75)
# A patch in the receptive field drives a unit more than the linear field predicts from its
# full-field responses (which surround suppression, absent here, would damp): the gabor
# epoch's drive is multiplied by this, calibrated on Allen's gabor epochs (docs/simulation.md).
GABOR_GAIN = 10.0


def simulate_gabor_epoch(
    gabors: dict, drive_hz: np.ndarray, base: np.ndarray, latency: np.ndarray,
    run_mod: np.ndarray, run_t: np.ndarray, run_v: np.ndarray,
    drift: tuple[np.ndarray, np.ndarray] | None, gain_noise: float, rng: np.random.Generator,
) -> tuple[list[np.ndarray], float]:
    """Spike times of every unit during the gabor epoch, and the seconds simulated.

    The decoded blocks' model on the gabor presentations: each presentation's drive
    (``drive_hz``: conditions x units, Hz) times a shared log-normal trial gain through each
    unit's kernel, on top of the unit's baseline, modulated by running and multiplied by the
    slow drift of the whole session (``drift``: grid times and log-gains). No novelty term:
    the epoch opens the session, before the decoded stimuli are new. Fine bins run from the
    first onset to the epoch's stop (or the last offset plus ``TAIL_S``, if earlier), inside
    the epoch, so they never overlap the grey-screen grid.
    """
    start = np.asarray(gabors["start"])
    t0 = float(start[0])
    t1 = min(float(gabors["stop"][-1]) + TAIL_S, gabors["epoch_stop"])
    nbins = int(round((t1 - t0) / DT))
    t_bins = t0 + np.arange(nbins) * DT
    b0 = np.round((start - t0) / DT).astype(np.int64)
    per = int(round(PRESENTATION_S / DT))
    g = np.exp(rng.normal(-(gain_noise**2) / 2, gain_noise, len(b0)))
    gain = np.ones(nbins)
    idx = (b0[:, None] + np.arange(per)).ravel()
    ok = idx < nbins
    gain[idx[ok]] = np.repeat(g, per)[ok]
    drive_at_onset = drive_hz[gabors["condition"]] * g[:, None]
    running = np.interp(t_bins, run_t, run_v) > 5.0
    out = []
    impulse = np.zeros(nbins, dtype=np.float32)
    for u in range(drive_hz.shape[1]):
        impulse[b0] = drive_at_onset[:, u]
        evoked = np.convolve(impulse, response_kernel(latency[u]).astype(np.float32))[:nbins]
        rate = (base[u] * gain + evoked) * (1 + run_mod[u] * running)
        if drift is not None:
            rate = rate * np.exp(np.interp(t_bins, drift[0], drift[1][:, u]))
        counts = rng.poisson(np.maximum(rate, 0) * DT)
        out.append(np.repeat(t_bins, counts) + rng.uniform(0, DT, counts.sum()))
    return out, nbins * DT
