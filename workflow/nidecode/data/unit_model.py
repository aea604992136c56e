"""The simulator's unit model: each unit's receptive field on the rendered stimulus (by its
area's response model), its temporal response kernel, the baseline and evoked rates it is drawn
with, and the running trace that modulates it (docs/simulation.md, "The spike model")."""

from __future__ import annotations

import math

import numpy as np

from nidecode.data.area_models import AreaModel, area_model
from nidecode.data.schedule import PRESENTATION_S
from nidecode.data.session_clock import DT
from nidecode.data.stimuli import MEAN_GREY, Canvas

KERNEL_S = 0.45
# Each unit's grey-screen (baseline) rate: log-normal, median BASE_HZ, SD of log BASE_LOG_SD,
# at least BASE_MIN_HZ (docs/simulation.md, "The spike model" and "Fidelity").
BASE_HZ = 1.0
BASE_LOG_SD = 1.3
BASE_MIN_HZ = 0.05
# Each unit's drive by natural scenes is multiplied by its own log-normal gain (mean and SD of
# the log), drawn from a generator of its own: real VISp units differ in how much more they
# fire in scenes blocks than in gratings blocks (docs/simulation.md, "Fidelity").
SCENE_GAIN_LOG_MEAN = 0.0
SCENE_GAIN_LOG_SD = 0.0
# Median evoked amplitude (Hz) at drive 1, calibrated with the drift, baseline and novelty so
# that AllenSDK's quick-start scene decoder lands where it does on Allen's data
# (docs/simulation.md, "Fidelity"); it was 15 Hz before the simulator ran on Allen's clock and
# 5.7 Hz before the drift and baseline were fitted to real gabor epochs.
EVOKED_HZ = 3.2


# ------------------------------------------------------------------------------ receptive fields


def _gabor(y, x, cy, cx, sigma, theta, sf, phase) -> np.ndarray:
    u = (x - cx) * math.cos(theta) + (y - cy) * math.sin(theta)
    env = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
    return env * np.cos(2 * np.pi * sf * u + phase)


def unit_drives(
    images: np.ndarray, area: str | AreaModel, n: int, canvas: Canvas, rng: np.random.Generator,
    n_norm: int | None = None, image_gain: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Stimulus drive (n_stimuli, n) in [0, ~3] of ``n`` units of ``area`` (its name in
    :data:`nidecode.data.area_models.AREA_MODELS`, or a model), and their RF params.

    Each unit's drive is scaled by its 90th percentile over the first ``n_norm`` images (all
    when None): further images (the gabor epoch's) are driven through the same fields
    without changing how the decoded stimuli drive them. ``image_gain`` (one per image)
    multiplies the scaled drive before the nonlinearity."""
    model = area if isinstance(area, AreaModel) else area_model(area)
    y, x = canvas.grid_deg()
    h, w = canvas.screen_deg
    contrast = images - MEAN_GREY
    flat = contrast.reshape(len(images), -1)
    drives = np.zeros((len(images), n))
    params: dict[str, list] = {"kind": [], "preferred_orientation": [], "preferred_sf": []}
    for k in range(n):
        cy, cx = rng.uniform(-0.3 * h, 0.3 * h), rng.uniform(-0.3 * w, 0.3 * w)
        if model.kind == "gabor":
            sf = float(np.exp(rng.normal(math.log(model.sf_centre_cpd), model.sf_log_sd)))
            theta = rng.uniform(0, math.pi)
            sigma = rng.uniform(0.35, 0.6) / sf  # ~ one to two cycles under the envelope
            kind = "simple" if rng.random() < model.simple_fraction else "complex"
            g0 = _gabor(y, x, cy, cx, sigma, theta, sf, rng.uniform(0, 2 * math.pi))
            g0 /= np.abs(g0).sum()
            lin = flat @ g0.ravel()
            if kind == "simple":
                d = np.maximum(lin, 0)
            else:
                g1 = _gabor(y, x, cy, cx, sigma, theta, sf, 0.0)
                g1 -= g1.mean()
                g1 /= np.abs(g1).sum()
                d = np.sqrt(lin**2 + (flat @ g1.ravel()) ** 2)
            params["preferred_orientation"].append(math.degrees(theta))
            params["preferred_sf"].append(sf)
        elif model.kind == "centre_surround":
            sc = rng.uniform(*model.centre_sd_deg)
            r2 = (x - cx) ** 2 + (y - cy) ** 2
            dog = np.exp(-r2 / (2 * sc**2)) / sc**2 - 0.8 * np.exp(-r2 / (2 * (3 * sc) ** 2)) / (
                9 * sc**2
            )
            dog /= np.abs(dog).sum()
            sign = 1 if rng.random() < model.on_fraction else -1
            kind = "on" if sign > 0 else "off"
            d = np.maximum(sign * (flat @ dog.ravel()), 0)
            params["preferred_orientation"].append(np.nan)
            params["preferred_sf"].append(np.nan)
        else:  # weak: a weak random projection, or nothing
            kind = "weak" if rng.random() < model.weak_fraction else "undriven"
            proj = rng.normal(size=flat.shape[1]) / flat.shape[1]
            d = (model.weak_gain * np.maximum(flat @ proj, 0) if kind == "weak"
                 else np.zeros(len(images)))
            params["preferred_orientation"].append(np.nan)
            params["preferred_sf"].append(np.nan)
        # Normalise so that the unit's strongest responses sit near 1, then expand.
        scale = np.percentile(d[:n_norm], 90) if d[:n_norm].any() else 1.0
        if kind not in ("weak", "undriven"):
            d = d / max(scale, 1e-9)
        if image_gain is not None:
            d = d * image_gain
        drives[:, k] = np.clip(d, 0, 3) ** 1.5
        params["kind"].append(kind)
    return drives, {k: np.asarray(v) for k, v in params.items()}


def response_kernel(latency: float, tau_rise: float = 0.012, tau_decay: float = 0.04) -> np.ndarray:
    """Transient-plus-sustained temporal kernel sampled at DT; mean over 250 ms equals 1."""
    t = np.arange(0, KERNEL_S, DT)
    s = t - latency
    transient = np.where(s > 0, (s / tau_rise) * np.exp(1 - s / tau_rise), 0.0)
    sustained = np.where((s > 0) & (s < PRESENTATION_S), 0.45, 0.0)
    decay = np.where(s >= PRESENTATION_S, 0.45 * np.exp(-(s - PRESENTATION_S) / tau_decay), 0)
    k = 1.6 * transient * np.exp(-np.maximum(s, 0) / 0.08) + sustained + decay
    on = (t >= 0) & (t < PRESENTATION_S + latency)
    return k / (k[on].sum() * DT / PRESENTATION_S)


def carryover_into_next_window(latency: float) -> float:
    """How much of a presentation's evoked response falls in the next presentation's 250-ms
    window, relative to its own window (:func:`response_kernel`): what the previous stimulus
    leaves in a blank's window (0.33 for VISp's 50-ms latency)."""
    k = response_kernel(latency)
    t = np.arange(len(k)) * DT
    own = k[t < PRESENTATION_S].sum()
    return float(k[(t >= PRESENTATION_S) & (t < 2 * PRESENTATION_S)].sum() / own)


def running_speed_trace(
    duration: float, rng: np.random.Generator, fs: float = 30.0
) -> tuple[np.ndarray, np.ndarray]:
    """Two-state (still / running bouts) running speed in cm/s sampled at ``fs`` Hz."""
    n = int(duration * fs)
    ts = np.arange(n) / fs
    state = np.zeros(n, dtype=bool)
    running = rng.random() < 0.5
    i = 0
    while i < n:
        bout = int(rng.exponential(40.0 if running else 60.0) * fs) + 1
        state[i : i + bout] = running
        running = not running
        i += bout
    target = np.where(state, 25.0, 0.5)
    noise = rng.normal(0, 1.5, n)
    # First-order smoothing towards the state's speed: v[j] = v[j-1] + 0.05 (target[j] - v[j-1])
    # + 0.3 noise[j], starting from target[0].
    from scipy.signal import lfilter

    speed, _ = lfilter([1.0], [1.0, -0.95], 0.05 * target + 0.3 * noise,
                       zi=[0.95 * target[0]])
    return ts, speed
