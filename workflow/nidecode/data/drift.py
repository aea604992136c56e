"""Slow drift of the simulated units (docs/simulation.md, "Slow drift"): every unit's rate is
multiplied by a slowly fluctuating gain on the session clock, Ornstein-Uhlenbeck processes of
log-gain per unit plus ones shared by all units, a minute-scale component and a slower one.
Its defaults, :func:`ou_process` and :func:`drift_log_gain`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nidecode.data.simulate import AnimalSpec

# Slow drift defaults (docs/simulation.md, "Slow drift"): fitted to the condition-removed
# counts of 32 real Allen gabor epochs (binned variance, shared fraction, autocorrelation at
# 30-60 s and the time-label probe; docs/simulation.md, "Fidelity"). Before: 300 s, 0.35, 0.25.
# The time constant refitted jointly with settling (docs/simulation.md, "Settling, fitted and
# the default"): 40 s, before 60 s.
DRIFT_TAU_S = 40.0
DRIFT_UNIT_SD = 0.22
DRIFT_SHARED_SD = 0.135
# Settling: each unit's log-gain starts away from its mean and relaxes to it over the session
# (docs/simulation.md, "Settling"), so that rates change fastest early in a recording. Fitted to
# the fit half of the 32 real gabor epochs (the first stimulus of a session): with it the
# block-split time-label probe falls below chance as the real one does. Before: 0 and 3000 s,
# then 0.6 with the 60-s fast component.
DRIFT_SETTLE_SD = 0.7
DRIFT_SETTLE_TAU_S = 600.0
# Per-unit spread of the drift: unit u's own log-gain has SD drift_unit_sd * exp(spread * z_u),
# z_u standard normal (docs/simulation.md, "Slow drift"); 0 (every unit the same SD) draws
# nothing, so the default leaves every spike as it was.
DRIFT_UNIT_SD_SPREAD = 0.0
# The slow component (docs/simulation.md, "A slow component, fitted and not the default"): a
# second pair of OU log-gains, per unit and shared, with a time constant of many minutes. Off by
# default: fitted to half the real epochs (config/slow_drift.yaml) it brought the 120-s
# autocorrelation inside Allen's range but pushed the 300-s one out and cost AllenSDK's
# quick-start decoder its earliest-fold-lowest order. Both SDs 0 draw nothing.
DRIFT_SLOW_TAU_S = 1500.0
DRIFT_SLOW_UNIT_SD = 0.0
DRIFT_SLOW_SHARED_SD = 0.0
DRIFT_GRID_S = 1.0


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
    (z_u standard normal, drawn after the OU processes, so they and settling stay as they were).

    The slow component adds a second shared and per-unit pair of OU log-gains, time constant
    ``drift_slow_tau_s`` and SDs ``drift_slow_shared_sd`` and ``drift_slow_unit_sd``, each
    with mean -sd^2/2 (so the gain's mean stays 1): drawn after everything above, and not at
    all when both SDs are 0, so that the rest of the drift is bit for bit what it was.
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
    slow_tau = animal.drift_slow_tau_s
    slow_su, slow_ss = animal.drift_slow_unit_sd, animal.drift_slow_shared_sd
    if slow_su > 0 or slow_ss > 0:  # drawn last: nothing above moves
        shared = shared + ou_process(m, DRIFT_GRID_S, slow_tau, slow_ss, rng) - slow_ss**2 / 2
        own = own + ou_process(m, DRIFT_GRID_S, slow_tau, slow_su, rng, n_units) - slow_su**2 / 2
    return t, shared + own
