"""Simulated Allen Visual Coding Neuropixels sessions, written as NWB files in Allen's layout.

The embedded default of the workflow: machines without access to the Allen Institute's servers
still run every stage on files that the real loader reads exactly as it reads Allen's.

The spike model (see docs/simulation.md):

* every unit has a receptive field applied to the rendered stimulus image, by its area's
  response model (the table :data:`nidecode.data.area_models.AREA_MODELS`; an area not in it is
  an error): V1 (VISp) and higher visual area (VISl) units have Gabor fields, either simple
  (half-wave rectified linear) or complex (quadrature energy), tuned to orientation and to
  spatial frequency (log-normal around 0.04 cycles/degree in VISp, lower in VISl); LGd units
  have centre-surround (difference of Gaussians) ON or OFF fields; CA1 units are weakly driven
  or not at all;
* the drive becomes a rate through a threshold-power nonlinearity, is delayed by a latency
  (40-70 ms) and shaped by a transient-plus-sustained kernel that spills into the next
  presentation (presentations run back to back, as in Allen);
* a gain shared across units fluctuates from trial to trial (log-normal), and running (a
  two-state bout process) multiplies the gain of running-modulated units;
* slow drift: every unit's rate is multiplied by a slowly fluctuating gain on the session clock
  (an Ornstein-Uhlenbeck process of log-gain per unit plus one shared by all units, time
  constant minutes), so that responses to one stimulus differ between blocks minutes apart;
* novelty: when a stimulus is new to the session units fire more, whatever it shows, for a
  few minutes;
* spikes are Poisson in 5 ms bins, simulated only where the workflow reads them (around the
  presentations, coarser over grey screen);
* a "null" animal has units whose rates do not depend on the stimulus at all.

The session clock is a real brain_observatory_1.1 session's epoch table (nidecode.data.schedule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from nidecode.data.area_models import AreaModel, area_model
from nidecode.data.gabors import (
    GABOR_CONTRAST,
    GABOR_REPEATS,
    GABOR_SF_CPD,
    GABOR_SIZE_DEG,
    GABOR_TF_HZ,
    gabor_conditions,
    render_gabor,
)
from nidecode.data.nwb import PRESENTATION_COLUMNS, STIMULUS_BLOCKS
from nidecode.data.schedule import (
    ALLEN_SCHEDULE,
    PRESENTATION_S,
    check_epochs,
    place_presentations,
    read_epochs,
    spontaneous_epochs,
)
from nidecode.data.stimuli import (
    MEAN_GREY,
    Canvas,
    grating_table,
    packaged_natural_scenes,
    render_grating,
)

DT = 0.005  # seconds per simulation bin
SPONTANEOUS_DT = 0.05  # grey screen: nothing is shown, rates change only over seconds
LEAD_S = 0.5  # simulated grey screen before each run of presentations (its pre-onset window)
TAIL_S = 0.25
KERNEL_S = 0.45
NULL_NOTE = ", null animal: units blind to the stimulus"
# Slow drift defaults (docs/simulation.md, "Slow drift"): fitted to the condition-removed
# counts of 32 real Allen gabor epochs (binned variance, shared fraction, autocorrelation and
# the time-label probe; docs/simulation.md, "Fidelity"); they were 300 s, 0.35 and 0.25.
DRIFT_TAU_S = 60.0
DRIFT_UNIT_SD = 0.22
DRIFT_SHARED_SD = 0.135
# Settling: each unit's log-gain starts away from its mean and relaxes to it over the session
# (docs/simulation.md, "Slow drift"), so that rates change fastest early in a recording.
DRIFT_SETTLE_SD = 0.0
DRIFT_SETTLE_TAU_S = 3000.0
# Per-unit spread of the drift: unit u's own log-gain has SD drift_unit_sd * exp(spread * z_u),
# z_u standard normal (docs/simulation.md, "Slow drift"); 0 (every unit the same SD) draws
# nothing, so the default leaves every spike as it was.
DRIFT_UNIT_SD_SPREAD = 0.0
DRIFT_GRID_S = 1.0
# Novelty (docs/simulation.md, "Novelty"): evoked responses are larger when a stimulus is new to
# the session and relax over its first minutes of showings.
NOVELTY = 0.5
NOVELTY_TAU_S = 300.0
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
# Frames of the drifting gabor's cycle a condition's drive is averaged over.
GABOR_PHASES = (0.0, 0.25, 0.5, 0.75)
# A patch in the receptive field drives a unit more than the linear field predicts from its
# full-field responses (which surround suppression, absent here, would damp): the gabor
# epoch's drive is multiplied by this, calibrated on Allen's gabor epochs (docs/simulation.md).
GABOR_GAIN = 10.0
# Median evoked amplitude (Hz) at drive 1, calibrated with the drift, baseline and novelty so
# that AllenSDK's quick-start scene decoder lands where it does on Allen's data
# (docs/simulation.md, "Fidelity"); it was 15 Hz before the simulator ran on Allen's clock and
# 5.7 Hz before the drift and baseline were fitted to real gabor epochs.
EVOKED_HZ = 3.2


@dataclass(frozen=True)
class AnimalSpec:
    """Per-animal simulation settings.

    ``n_units`` maps area -> number of units; ``gain_noise`` is the SD of the log of the shared
    trial gain; ``drive`` scales stimulus-driven rates; ``stimulus_blind`` makes every unit
    blind to the stimulus (the null animal, a leakage control).

    Slow drift (see :func:`drift_log_gain`): ``drift_tau_s`` is the time constant (s) of the
    Ornstein-Uhlenbeck log-gains, ``drift_unit_sd`` the stationary SD of each unit's own
    log-gain and ``drift_shared_sd`` that of the log-gain shared by all units. Both SDs 0 turn
    drift off (and the session's other random draws are the same as with drift on).
    """

    name: str
    seed: int
    n_units: dict[str, int] = field(
        default_factory=lambda: {"VISp": 80, "VISl": 30, "LGd": 25, "CA1": 20}
    )
    gain_noise: float = 0.3
    drive: float = 1.0
    stimulus_blind: bool = False
    running_modulation: float = 0.4
    novelty: float = NOVELTY
    novelty_tau_s: float = NOVELTY_TAU_S
    fraction_failing_qc: float = 0.15
    drift_tau_s: float = DRIFT_TAU_S
    drift_unit_sd: float = DRIFT_UNIT_SD
    drift_shared_sd: float = DRIFT_SHARED_SD
    drift_settle_sd: float = DRIFT_SETTLE_SD
    drift_settle_tau_s: float = DRIFT_SETTLE_TAU_S
    drift_unit_sd_spread: float = DRIFT_UNIT_SD_SPREAD
    gabor_gain: float = GABOR_GAIN
    base_hz: float = BASE_HZ
    base_log_sd: float = BASE_LOG_SD
    base_min_hz: float = BASE_MIN_HZ
    scene_gain_log_mean: float = SCENE_GAIN_LOG_MEAN
    scene_gain_log_sd: float = SCENE_GAIN_LOG_SD

    @classmethod
    def from_config(cls, config: dict, session: str) -> AnimalSpec:
        """Simulation settings of one animal from ``simulation.animals.<session>``.

        Slow drift: ``simulation.drift`` (``tau_s``, ``unit_sd``, ``shared_sd``) holds the
        simulation-wide setting; an animal's ``drift`` overrides it key by key (a mapping),
        keeps it (``true``) or turns drift off (``false``).
        """
        sim = config["simulation"]
        spec = dict(sim["animals"][session])
        drift = {"tau_s": DRIFT_TAU_S, "unit_sd": DRIFT_UNIT_SD, "shared_sd": DRIFT_SHARED_SD,
                 "settle_sd": DRIFT_SETTLE_SD, "settle_tau_s": DRIFT_SETTLE_TAU_S,
                 "unit_sd_spread": DRIFT_UNIT_SD_SPREAD}
        drift.update(sim.get("drift") or {})
        own = spec.pop("drift", True)
        if own is False:
            drift["unit_sd"] = drift["shared_sd"] = drift["settle_sd"] = 0.0
        elif isinstance(own, dict):
            drift.update(own)
        return cls(name=session, drift_tau_s=float(drift["tau_s"]),
                   drift_unit_sd=float(drift["unit_sd"]),
                   drift_shared_sd=float(drift["shared_sd"]),
                   drift_settle_sd=float(drift["settle_sd"]),
                   drift_settle_tau_s=float(drift["settle_tau_s"]),
                   drift_unit_sd_spread=float(drift["unit_sd_spread"]), **spec)

    @property
    def has_drift(self) -> bool:
        return self.drift_unit_sd > 0 or self.drift_shared_sd > 0 or self.drift_settle_sd > 0


@dataclass(frozen=True)
class Protocol:
    """Stimulus protocol: repeats per condition, blank presentations per stimulus (in the whole
    session, as Allen counts them), the session's epoch table (None: Allen's
    brain_observatory_1.1 session 756029989, :data:`nidecode.data.schedule.ALLEN_SCHEDULE`) and the
    length in seconds of the back-to-back runs a block's presentations come in when it shows
    fewer than Allen (:func:`nidecode.data.schedule.place_presentations`)."""

    repeats: int = 10
    blanks_gratings: int = 50
    blanks_scenes: int = 50
    epochs: pd.DataFrame | None = None
    run_s: float = 10.0
    seed: int = 0

    @classmethod
    def from_config(cls, config: dict) -> Protocol:
        """From the ``simulation`` section (drift is per animal: :meth:`AnimalSpec.from_config`)."""
        sim = config["simulation"]
        schedule = sim.get("schedule", "allen")
        epochs = read_epochs(ALLEN_SCHEDULE if schedule == "allen" else schedule)
        return cls(repeats=sim["repeats"], blanks_gratings=sim["blanks"],
                   blanks_scenes=sim["blanks"], epochs=epochs, run_s=sim.get("run_s", 10.0))

    def epoch_table(self) -> pd.DataFrame:
        return read_epochs() if self.epochs is None else check_epochs(self.epochs)


# ----------------------------------------------------------------------------- stimulus schedule


def presentation_schedule(protocol: Protocol, rng: np.random.Generator) -> dict[str, dict]:
    """The session's presentations on its epoch table's clock.

    Per decoded stimulus (:func:`nidecode.data.schedule.place_presentations`): start and stop
    times, condition index (-1 = blank) and the table's ``stimulus_block``, each stimulus's
    presentations in a seeded pseudo-random order, back to back within runs. ``spontaneous``:
    start and stop of the grey-screen epochs; ``epochs``: the whole table (the epochs nothing
    decodes are written to the file too); ``end_time``: one second after the last epoch.
    """
    epochs = protocol.epoch_table()
    blanks = {"static_gratings": protocol.blanks_gratings,
              "natural_scenes": protocol.blanks_scenes}
    blocks: dict[str, dict] = place_presentations(epochs, protocol.repeats, blanks,
                                                  protocol.run_s, rng)
    blocks["gabors"] = gabor_schedule(epochs, np.random.default_rng([protocol.seed, 0x6AB0]))
    spont = spontaneous_epochs(epochs)
    blocks["spontaneous"] = {"start": spont.start_time.to_numpy(float),
                             "stop": spont.stop_time.to_numpy(float)}
    blocks["epochs"] = {"table": epochs}
    blocks["end_time"] = {"t": float(epochs.stop_time.max()) + 1.0}
    return blocks


def gabor_schedule(epochs: pd.DataFrame, rng: np.random.Generator) -> dict | None:
    """The gabor epoch's presentations: Allen's 243 conditions x 15 repeats in a seeded random
    order, back to back from the table's first ``gabors`` epoch (as many as fit), or None when
    the table has none. ``start``, ``stop``, ``condition`` (index into
    :func:`nidecode.data.gabors.gabor_conditions`) and ``block`` arrays."""
    rows = epochs[epochs.stimulus_name == "gabors"]
    if rows.empty:
        return None
    epoch = rows.iloc[0]
    slots = int(np.floor((epoch.stop_time - epoch.start_time) / PRESENTATION_S + 1e-9))
    cond = rng.permutation(np.repeat(np.arange(len(gabor_conditions())), GABOR_REPEATS))
    cond = cond[:slots]
    start = epoch.start_time + np.arange(len(cond)) * PRESENTATION_S
    return {"start": start, "stop": start + PRESENTATION_S, "condition": cond.astype(np.int64),
            "block": np.full(len(cond), int(epoch.stimulus_block), dtype=np.int64),
            "epoch_stop": float(epoch.stop_time)}


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


def simulated_segments(blocks: dict[str, dict]) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop times of the stretches whose spikes are simulated finely (DT bins).

    Spikes are simulated only where the workflow reads them: around every run of back-to-back
    presentations, from ``LEAD_S`` before its first onset (the first pre-onset window, grey
    screen here) to ``TAIL_S`` after its last offset. Grey-screen epochs are simulated on a
    coarser grid (:data:`SPONTANEOUS_DT`): nothing is shown there, so rates change only with
    drift and running.
    """
    start = np.sort(np.concatenate([blocks[n]["start"] for n in STIMULUS_BLOCKS]))
    breaks = np.flatnonzero(np.diff(start) > PRESENTATION_S + 1e-6) + 1
    first = start[np.r_[0, breaks]]
    last = start[np.r_[breaks - 1, len(start) - 1]] + PRESENTATION_S
    t0, t1 = first - LEAD_S, last + TAIL_S
    seg = [[t0[0], t1[0]]]
    for a, b in zip(t0[1:], t1[1:], strict=True):  # runs closer than a lead-in: one stretch
        if a <= seg[-1][1]:
            seg[-1][1] = max(seg[-1][1], b)
        else:
            seg.append([a, b])
    seg_arr = np.array(seg)
    return seg_arr[:, 0], seg_arr[:, 1]


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


def ou_process(
    n: int, dt: float, tau: float, sd: float, rng: np.random.Generator, size: int = 1
) -> np.ndarray:
    """``size`` stationary Ornstein-Uhlenbeck processes of mean 0 and SD ``sd``: (n, size).

    Exact discretisation on a grid of step ``dt``: x[k+1] = a x[k] + sd sqrt(1 - a^2) e[k],
    a = exp(-dt / tau), x[0] drawn from the stationary distribution; the autocorrelation at lag
    L is exp(-L / tau).
    """
    a = math.exp(-dt / tau)
    e = rng.standard_normal((n, size))
    x = np.empty((n, size))
    x[0] = sd * e[0]
    innov = sd * math.sqrt(1.0 - a * a)
    for k in range(1, n):
        x[k] = a * x[k - 1] + innov * e[k]
    return x


def drift_log_gain(
    animal: AnimalSpec, n_units: int, duration: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Slow log-gain of every unit on a coarse grid: (grid times (m,), log-gain (m, n_units)).

    log g_u(t) = s(t) + x_u(t): ``s`` shared by all units, ``x_u`` the unit's own; both are
    stationary OU processes (time constant ``drift_tau_s``) with means -sd^2/2, so that
    E[g_u(t)] = 1: drift moves rates around their means without changing them on average.
    With ``drift_unit_sd_spread`` > 0 unit u's own SD is ``drift_unit_sd * exp(spread * z_u)``
    (z_u standard normal, drawn last, so the OU processes and settling stay as they were).
    """
    m = int(math.ceil(duration / DRIFT_GRID_S)) + 2
    t = np.arange(m) * DRIFT_GRID_S
    tau, su, ss = animal.drift_tau_s, animal.drift_unit_sd, animal.drift_shared_sd
    shared = ou_process(m, DRIFT_GRID_S, tau, ss, rng) - ss**2 / 2
    own_ou = ou_process(m, DRIFT_GRID_S, tau, su, rng, n_units)
    # Drawn after the OU processes, so that settling leaves them as they were.
    offset = rng.normal(0.0, 1.0, n_units) * animal.drift_settle_sd
    if animal.drift_unit_sd_spread > 0 and su > 0:  # drawn last: nothing else moves
        scale = np.exp(animal.drift_unit_sd_spread * rng.standard_normal(n_units))
        own = own_ou * scale - (su * scale) ** 2 / 2
    else:
        own = own_ou - su**2 / 2
    decay = np.exp(-t / animal.drift_settle_tau_s)[:, None]
    own = own + offset * decay - (animal.drift_settle_sd * decay) ** 2 / 2
    return t, shared + own


# ------------------------------------------------------------------------------------ simulation


@dataclass
class SimulatedSession:
    """Everything that goes into the NWB file."""

    animal: AnimalSpec
    blocks: dict[str, dict]
    unit_area: np.ndarray
    unit_kind: np.ndarray
    spike_times: list[np.ndarray]
    quality: dict[str, np.ndarray]
    running_t: np.ndarray
    running_speed: np.ndarray
    channel_area: dict[int, str]
    unit_channel: np.ndarray
    # Slow drift on a coarse grid (docs/simulation.md): grid times (s) and each unit's log-gain
    # (n_grid, n_units); rates at time t are multiplied by exp(interp(t, drift_t, drift_log_gain)).
    # Empty (0 grid points) when the animal has no drift.
    drift_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    drift_log_gain: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    # Seconds of the session whose spikes were simulated (simulated_segments and grey screen);
    # the file's firing_rate is spikes per simulated second.
    simulated_s: float = 0.0


def _quality_metrics(n: int, frac_fail: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Allen's quality-metric columns; about ``frac_fail`` of units fail the default filters."""
    q = {
        "quality": np.array(["good"] * n, dtype=object),
        "isi_violations": rng.uniform(0.0, 0.3, n),
        "amplitude_cutoff": rng.uniform(0.0, 0.08, n),
        "presence_ratio": rng.uniform(0.96, 1.0, n),
        "snr": rng.gamma(4.0, 0.8, n),
    }
    fail = np.flatnonzero(rng.random(n) < frac_fail)
    for j, u in enumerate(fail):
        which = j % 4
        if which == 0:
            q["quality"][u] = "noise"
        elif which == 1:
            q["isi_violations"][u] = rng.uniform(0.6, 3.0)
        elif which == 2:
            q["amplitude_cutoff"][u] = rng.uniform(0.15, 0.5)
        else:
            q["presence_ratio"][u] = rng.uniform(0.5, 0.9)
    return q


def simulate_session(
    animal: AnimalSpec, protocol: Protocol, canvas: Canvas | None = None
) -> SimulatedSession:
    """Simulate one animal's spikes on the protocol's session clock; seeded by ``animal.seed``
    (and ``protocol.seed``)."""
    canvas = canvas or Canvas(30, 48)
    rng = np.random.default_rng([animal.seed, protocol.seed])
    sched = presentation_schedule(protocol, np.random.default_rng(protocol.seed + animal.seed))
    end = sched["end_time"]["t"]

    # The same images the workflow renders: simulator and stimuli.nc agree by construction.
    gratings = np.stack([render_grating(o, sf, ph, canvas) for o, sf, ph in grating_table()])
    scenes, _, _ = packaged_natural_scenes(canvas)

    # Every area's response model, before anything is drawn: an area not in the table is an
    # error naming it (config key simulation.animals.<session>.n_units).
    models = {a: area_model(a, f"simulation.animals.{animal.name}.n_units")
              for a in animal.n_units}
    areas = [a for a, n in animal.n_units.items() for _ in range(n)]
    n_units = len(areas)
    unit_area = np.array(areas)
    # The gabor epoch's patches drift at 4 Hz: each condition drives a unit by its mean drive
    # over GABOR_PHASES frames of the cycle.
    gabor_frames = np.stack([render_gabor(x, y, o, ph, canvas.grid_deg(), mean_grey=MEAN_GREY)
                             for x, y, o in gabor_conditions() for ph in GABOR_PHASES])
    n_decoded = len(gratings) + len(scenes)
    image_gain = np.r_[np.ones(n_decoded), np.full(len(gabor_frames), animal.gabor_gain)]
    drive_g = np.zeros((len(gratings), n_units))
    drive_s = np.zeros((len(scenes), n_units))
    drive_gab = np.zeros((len(gabor_conditions()), n_units))
    kinds = np.empty(n_units, dtype=object)
    for area in animal.n_units:
        idx = np.flatnonzero(unit_area == area)
        if not len(idx):
            continue
        d, p = unit_drives(np.concatenate([gratings, scenes, gabor_frames]), models[area],
                           len(idx), canvas, rng, n_norm=n_decoded, image_gain=image_gain)
        drive_g[:, idx], drive_s[:, idx] = d[: len(gratings)], d[len(gratings) : n_decoded]
        drive_gab[:, idx] = d[n_decoded:].reshape(-1, len(GABOR_PHASES), len(idx)).mean(1)
        kinds[idx] = p["kind"]
    if animal.scene_gain_log_mean or animal.scene_gain_log_sd:
        scene_rng = np.random.default_rng([animal.seed, protocol.seed, 0x5CE4E])
        drive_s *= np.exp(scene_rng.normal(animal.scene_gain_log_mean,
                                           animal.scene_gain_log_sd, n_units))
    if animal.stimulus_blind:
        drive_g[:], drive_s[:], drive_gab[:] = 0.0, 0.0, 0.0
        kinds[:] = "null"

    base = np.exp(rng.normal(math.log(animal.base_hz), animal.base_log_sd, n_units)
                  ).clip(animal.base_min_hz, 30.0)  # Hz, the grey-screen rate
    amp = animal.drive * np.exp(rng.normal(math.log(EVOKED_HZ), 0.5, n_units))  # Hz at drive 1
    for area, model in models.items():  # CA1: half the evoked amplitude
        if model.amplitude != 1.0:
            amp[unit_area == area] *= model.amplitude
    latency = (np.array([models[a].latency_s for a in areas], dtype=np.float64)
               + rng.uniform(0, 0.02, n_units))
    run_mod = animal.running_modulation * rng.uniform(0.0, 1.0, n_units)

    run_t, run_v = running_speed_trace(end, rng)

    # Fine bins only around the runs of presentations (simulated_segments); a kernel's length
    # of empty bins after each stretch keeps one stretch's responses out of the next.
    seg0, seg1 = simulated_segments(sched)
    kern_n = int(round(KERNEL_S / DT))
    seg_n = np.round((seg1 - seg0) / DT).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(seg_n + kern_n)])
    nbins = int(offsets[-1])
    t_bins = np.zeros(nbins)
    valid = np.zeros(nbins, dtype=bool)
    for k in range(len(seg0)):
        t_bins[offsets[k] : offsets[k] + seg_n[k]] = seg0[k] + np.arange(seg_n[k]) * DT
        valid[offsets[k] : offsets[k] + seg_n[k]] = True
    running_bins = np.interp(t_bins, run_t, run_v) > 5.0

    # Shared trial gain, piecewise constant over each presentation; each presentation's drive
    # enters as an impulse at its onset bin, convolved with the unit's kernel below.
    per = int(round(PRESENTATION_S / DT))
    gain = np.ones(nbins)
    onset_bins, drives = [], []
    for name, dmat in (("static_gratings", drive_g), ("natural_scenes", drive_s)):
        blk = sched[name]
        start = np.asarray(blk["start"])
        k = np.searchsorted(seg0, start, side="right") - 1
        b0 = offsets[k] + np.round((start - seg0[k]) / DT).astype(np.int64)
        g = np.exp(rng.normal(-(animal.gain_noise**2) / 2, animal.gain_noise, len(b0)))
        # Novelty: when a stimulus is new to the session, units fire more whatever it shows
        # (excess, unselective activity), relaxing over its first minutes.
        novel = 1 + animal.novelty * np.exp(-(start - start.min()) / animal.novelty_tau_s)
        gain[(b0[:, None] + np.arange(per)).ravel()] = np.repeat(g * novel, per)
        shown = blk["condition"] >= 0
        onset_bins.append(b0[shown])
        drives.append(dmat[blk["condition"][shown]] * g[shown, None])
    onset = np.concatenate(onset_bins)
    drive_at_onset = np.concatenate(drives) * amp  # (shown presentations, units), Hz

    # Grey-screen epochs on a coarse grid, leaving out what the fine stretches cover.
    sp_t = np.concatenate([np.arange(a, b - SPONTANEOUS_DT / 2, SPONTANEOUS_DT)
                           for a, b in zip(sched["spontaneous"]["start"],
                                           sched["spontaneous"]["stop"], strict=True)] or
                          [np.zeros(0)])
    k = np.searchsorted(seg0, sp_t + SPONTANEOUS_DT, side="left") - 1
    inside = (k >= 0) & (sp_t < seg1[np.maximum(k, 0)])
    sp_t = sp_t[~inside]
    sp_running = np.interp(sp_t, run_t, run_v) > 5.0
    simulated_s = float(valid.sum() * DT + len(sp_t) * SPONTANEOUS_DT)

    # Slow drift from its own generator, so every other draw is the same with drift on or off.
    if animal.has_drift:
        drift_rng = np.random.default_rng([animal.seed, protocol.seed, 0xD21F7])
        drift_t, drift_lg = drift_log_gain(animal, n_units, end, drift_rng)
    else:
        drift_t, drift_lg = np.zeros(0), np.zeros((0, n_units))

    spike_times: list[np.ndarray] = []
    impulse = np.zeros(nbins, dtype=np.float32)
    for u in range(n_units):
        kern = response_kernel(latency[u]).astype(np.float32)
        impulse[onset] = drive_at_onset[:, u]
        evoked = np.convolve(impulse, kern)[:nbins]
        rate = (base[u] * gain + evoked) * (1 + run_mod[u] * running_bins)
        sp_rate = base[u] * (1 + run_mod[u] * sp_running)
        if animal.has_drift:
            rate = rate * np.exp(np.interp(t_bins, drift_t, drift_lg[:, u]))
            sp_rate = sp_rate * np.exp(np.interp(sp_t, drift_t, drift_lg[:, u]))
        counts = rng.poisson(np.where(valid, np.maximum(rate, 0), 0.0) * DT)
        st = np.repeat(t_bins, counts) + rng.uniform(0, DT, counts.sum())
        sp_counts = rng.poisson(sp_rate * SPONTANEOUS_DT)
        sp = np.repeat(sp_t, sp_counts) + rng.uniform(0, SPONTANEOUS_DT, sp_counts.sum())
        spike_times.append(np.sort(np.concatenate([st, sp])))

    # The gabor epoch from generators of its own, so the decoded blocks' spikes are the same
    # with or without it.
    if sched.get("gabors") is not None:
        gab_spikes, gab_s = simulate_gabor_epoch(
            sched["gabors"], drive_gab * amp, base, latency, run_mod, run_t, run_v,
            (drift_t, drift_lg) if animal.has_drift else None, animal.gain_noise,
            np.random.default_rng([animal.seed, protocol.seed, 0x6AB0]))
        spike_times = [np.sort(np.concatenate([a, b]))
                       for a, b in zip(spike_times, gab_spikes, strict=True)]
        simulated_s += gab_s

    # Channels: 8 per area with Allen-like ids; each unit sits on one of its area's channels.
    channel_area: dict[int, str] = {}
    unit_channel = np.empty(n_units, dtype=np.int64)
    for a_i, area in enumerate(animal.n_units):
        ids = [850_000_000 + animal.seed * 1000 + a_i * 8 + c for c in range(8)]
        channel_area.update({c: area for c in ids})
        idx = np.flatnonzero(unit_area == area)
        unit_channel[idx] = rng.choice(ids, len(idx))

    return SimulatedSession(
        animal=animal,
        blocks=sched,
        unit_area=unit_area,
        unit_kind=kinds.astype(str),
        spike_times=spike_times,
        quality=_quality_metrics(n_units, animal.fraction_failing_qc, rng),
        running_t=run_t,
        running_speed=run_v,
        channel_area=channel_area,
        unit_channel=unit_channel,
        drift_t=drift_t,
        drift_log_gain=drift_lg,
        simulated_s=simulated_s,
    )


# ------------------------------------------------------------------------------------ NWB writing


def _stim_str(values: np.ndarray) -> list[str]:
    """Allen stores non-applicable stimulus parameters as the string "null"."""
    return [
        "null" if (v is None or (isinstance(v, float) and np.isnan(v))) else f"{v:g}"
        for v in values
    ]


def write_nwb(sim: SimulatedSession, path: str | Path) -> None:
    """Write ``sim`` as an NWB file in Allen's brain_observatory_1.1 layout.

    Written to a temporary name and renamed, so an interrupted write leaves no file that looks
    complete.
    """
    from pynwb import NWBHDF5IO, NWBFile, ProcessingModule, TimeSeries
    from pynwb.epoch import TimeIntervals

    path = Path(path)
    animal = sim.animal
    nwb = NWBFile(
        session_description=(
            f"SIMULATED session of animal {animal.name} (nidecode simulator, seed "
            f"{animal.seed}{NULL_NOTE if animal.stimulus_blind else ''})"
        ),
        identifier=f"nidecode-simulated-{animal.name}-{animal.seed}",
        session_start_time=datetime(2019, 1, 1, tzinfo=UTC),
        institution="simulated (nidecode); layout of the Allen Institute for Brain Science",
        stimulus_notes="brain_observatory_1.1",
        session_id=animal.name,
    )
    device = nwb.create_device(name="probeA", description="simulated Neuropixels probe")
    group = nwb.create_electrode_group(
        name="probeA", description="simulated probe", location="see electrodes", device=device
    )
    nwb.add_electrode_column("probe_vertical_position", "µm from probe tip")
    nwb.add_electrode_column("valid_data", "channel usable")
    for k, (cid, area) in enumerate(sorted(sim.channel_area.items())):
        nwb.add_electrode(
            id=int(cid),
            location=area,
            group=group,
            probe_vertical_position=20 * k,
            valid_data=True,
        )

    for col, desc in (
        ("peak_channel_id", "electrode id of the channel with the largest waveform"),
        ("quality", "Kilosort/manual label"),
        ("isi_violations", "ISI violation rate"),
        ("amplitude_cutoff", "estimated missed-spike fraction"),
        ("presence_ratio", "fraction of session with spikes"),
        ("snr", "waveform signal-to-noise ratio"),
        ("firing_rate", "mean firing rate over the session, Hz"),
        ("simulated_rf_kind", "simulator's receptive-field model (simulated data only)"),
    ):
        nwb.add_unit_column(col, desc)
    duration = sim.simulated_s or sim.blocks["end_time"]["t"]
    for u, st in enumerate(sim.spike_times):
        nwb.add_unit(
            id=950_000_000 + animal.seed * 10_000 + u,
            spike_times=st,
            peak_channel_id=int(sim.unit_channel[u]),
            quality=str(sim.quality["quality"][u]),
            isi_violations=float(sim.quality["isi_violations"][u]),
            amplitude_cutoff=float(sim.quality["amplitude_cutoff"][u]),
            presence_ratio=float(sim.quality["presence_ratio"][u]),
            snr=float(sim.quality["snr"][u]),
            firing_rate=len(st) / duration,
            simulated_rf_kind=str(sim.unit_kind[u]),
        )
    # Millions of spike times: as one numpy array, hdmf converts them at once, not one by one.
    nwb.units.spike_times.transform(func=lambda d: np.asarray(d, dtype=np.float64))
    nwb.units.spike_times_index.transform(func=lambda d: np.asarray(d, dtype=np.uint64))

    gratings = grating_table()
    for name in ("static_gratings", "natural_scenes"):
        blk = sim.blocks[name]
        cond = blk["condition"]
        ti = TimeIntervals(name=f"{name}_presentations", description=f"{name} presentations")
        for col in PRESENTATION_COLUMNS:  # the columns the reader expects, from one place
            ti.add_column(col, col)
        for j, c in enumerate(cond):
            if name == "static_gratings":
                o, sf, ph = gratings[c] if c >= 0 else (np.nan, np.nan, np.nan)
                params = _stim_str(np.array([o, sf, ph, 0.8 if c >= 0 else np.nan]))
                frame = "null"
            else:
                params = ["null"] * 4
                frame = f"{c:d}"  # -1 marks a blank, as in Allen
            ti.add_interval(
                start_time=float(blk["start"][j]),
                stop_time=float(blk["stop"][j]),
                stimulus_name=name,
                stimulus_block=float(blk["block"][j]),
                orientation=params[0],
                spatial_frequency=params[1],
                phase=params[2],
                contrast=params[3],
                frame=frame,
            )
        nwb.add_time_intervals(ti)
    spont = TimeIntervals(name="spontaneous_presentations", description="grey screen")
    spont.add_column("stimulus_name", "stimulus_name")
    for s0, s1 in zip(
        sim.blocks["spontaneous"]["start"], sim.blocks["spontaneous"]["stop"], strict=True
    ):
        spont.add_interval(start_time=float(s0), stop_time=float(s1), stimulus_name="spontaneous")
    nwb.add_time_intervals(spont)
    # The epochs nothing decodes (gabors, flashes, drifting gratings, movies) exist in time, so
    # drift runs through them; one row per epoch here, where Allen has one per presentation.
    epochs = sim.blocks["epochs"]["table"]
    gab = sim.blocks.get("gabors")
    if gab is not None:  # one row per presentation, AllenSDK's gabors columns
        cond = np.asarray(gabor_conditions())[gab["condition"]]
        n = len(cond)
        nwb.add_time_intervals(TimeIntervals.from_dataframe(pd.DataFrame({
            "start_time": gab["start"], "stop_time": gab["stop"],
            "stimulus_name": ["gabors"] * n, "stimulus_block": gab["block"].astype(float),
            "x_position": cond[:, 0], "y_position": cond[:, 1], "orientation": cond[:, 2],
            "spatial_frequency": np.full(n, GABOR_SF_CPD),
            "temporal_frequency": np.full(n, GABOR_TF_HZ), "size": np.full(n, GABOR_SIZE_DEG),
            "contrast": np.full(n, GABOR_CONTRAST)}),
            name="gabors_presentations", table_description="gabors presentations"))
    shown = [*STIMULUS_BLOCKS, "spontaneous"] + (["gabors"] if gab is not None else [])
    other = epochs[~epochs.stimulus_name.isin(shown)]
    for name, rows in other.groupby("stimulus_name", sort=False):
        ti = TimeIntervals(name=f"{name}_presentations",
                           description=f"{name} epochs (simulated: one row per epoch)")
        ti.add_column("stimulus_name", "stimulus_name")
        ti.add_column("stimulus_block", "stimulus_block")
        for row in rows.itertuples():
            ti.add_interval(start_time=float(row.start_time), stop_time=float(row.stop_time),
                            stimulus_name=str(name), stimulus_block=float(row.stimulus_block))
        nwb.add_time_intervals(ti)

    running = ProcessingModule(name="running", description="running speed on the disk")
    running.add(
        TimeSeries(
            name="running_speed",
            data=sim.running_speed.astype(np.float32),
            timestamps=sim.running_t,
            unit="cm/s",
            description="running speed (simulated)",
        )
    )
    nwb.add_processing_module(running)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial.nwb")
    with NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    tmp.replace(path)
