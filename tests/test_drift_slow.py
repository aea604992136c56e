"""The slow drift component (simulation.drift.slow_tau_s, slow_unit_sd, slow_shared_sd): a
second pair of OU log-gains with the stated SDs and autocorrelation exp(-lag / slow_tau_s),
drawn after everything else, so that SDs 0 give the drift of before bit for bit."""

import math

import numpy as np
import pytest

from nidecode.data.drift import DRIFT_GRID_S, drift_log_gain, ou_process
from nidecode.data.simulate import AnimalSpec

OFF = {"drift_slow_unit_sd": 0.0, "drift_slow_shared_sd": 0.0}


def _old_drift_log_gain(animal, n_units, duration, rng):
    """drift_log_gain as it was before the slow component (commit a1b0ec6), verbatim."""
    m = int(math.ceil(duration / DRIFT_GRID_S)) + 2
    t = np.arange(m) * DRIFT_GRID_S
    tau, su, ss = animal.drift_tau_s, animal.drift_unit_sd, animal.drift_shared_sd
    shared = ou_process(m, DRIFT_GRID_S, tau, ss, rng) - ss**2 / 2
    own_ou = ou_process(m, DRIFT_GRID_S, tau, su, rng, n_units)
    offset = rng.normal(0.0, 1.0, n_units) * animal.drift_settle_sd
    if animal.drift_unit_sd_spread > 0 and su > 0:
        scale = np.exp(animal.drift_unit_sd_spread * rng.standard_normal(n_units))
        own = own_ou * scale - (su * scale) ** 2 / 2
    else:
        own = own_ou - su**2 / 2
    decay = np.exp(-t / animal.drift_settle_tau_s)[:, None]
    own = own + offset * decay - (animal.drift_settle_sd * decay) ** 2 / 2
    return t, shared + own


def _bartlett_se(tau: float, lag: float, n: float) -> float:
    """Bartlett's standard error of an AR(1) process's sample autocorrelation at ``lag``
    (steps of DRIFT_GRID_S) from ``n`` independent samples' worth of series."""
    phi, k = math.exp(-DRIFT_GRID_S / tau), lag / DRIFT_GRID_S
    var = ((1 + phi**2) * (1 - phi ** (2 * k)) / (1 - phi**2) - 2 * k * phi ** (2 * k)) / n
    return math.sqrt(var)


def test_slow_component_has_its_stated_sd_and_autocorrelation():
    tau, su, ss, n_units, duration = 300.0, 0.3, 0.2, 400, 60_000.0
    spec = AnimalSpec("X", 1, drift_unit_sd=0.0, drift_shared_sd=0.0, drift_slow_tau_s=tau,
                      drift_slow_unit_sd=su, drift_slow_shared_sd=ss)
    t, lg = drift_log_gain(spec, n_units, duration, np.random.default_rng(3))
    n = len(t)
    # Means -sd^2/2 (so E[gain] = 1); the variance of an OU process's time average over n
    # steps is about sd^2 * 2 tau / (n dt): the shared mean's standard error, 4 of them.
    assert abs(lg.mean() + (su**2 + ss**2) / 2) < 4 * ss * math.sqrt(2 * tau / duration)
    assert abs(np.exp(lg).mean() - 1.0) < 4 * ss * math.sqrt(2 * tau / duration) + 0.01
    # SDs: an OU sample variance has SE about sd^2 sqrt(2 tau / D), so the SD sd sqrt(tau/(2D));
    # the units' own part pools n_units independent processes.
    shared = lg.mean(axis=1)
    own = lg - shared[:, None]
    se_shared = ss * math.sqrt(tau / (2 * duration)) + su / math.sqrt(n_units)
    assert abs(shared.std() - math.hypot(ss, su / math.sqrt(n_units))) < 4 * se_shared
    se_own = su * math.sqrt(tau / (2 * duration * n_units))
    assert abs(own.std() * math.sqrt(n_units / (n_units - 1)) - su) < 4 * se_own + 1e-3
    # Autocorrelation exp(-lag / tau), on the units' own part (pooled) and on the shared part.
    x = own - own.mean(axis=0)
    s = shared - shared.mean()
    for lag in (60, 300, 900):
        k = int(lag / DRIFT_GRID_S)
        expected = math.exp(-lag / tau)
        r_own = (x[k:] * x[:-k]).mean() / (x * x).mean()
        assert abs(r_own - expected) < 4 * _bartlett_se(tau, lag, n * n_units), (lag, r_own)
        r_shared = (s[k:] * s[:-k]).mean() / (s * s).mean()
        assert abs(r_shared - expected) < 4 * _bartlett_se(tau, lag, n), (lag, r_shared)


@pytest.mark.parametrize("extra", [{}, {"drift_settle_sd": 0.5, "drift_settle_tau_s": 900.0},
                                   {"drift_unit_sd_spread": 0.4}])
def test_slow_sds_zero_reproduce_the_old_drift_bit_for_bit(extra):
    spec = AnimalSpec("X", 1, drift_tau_s=60.0, drift_unit_sd=0.22, drift_shared_sd=0.135,
                      drift_slow_tau_s=900.0, **OFF, **extra)
    t, lg = drift_log_gain(spec, 7, 2000.0, np.random.default_rng(5))
    t0, lg0 = _old_drift_log_gain(spec, 7, 2000.0, np.random.default_rng(5))
    np.testing.assert_array_equal(t, t0)
    np.testing.assert_array_equal(lg, lg0)
    # On, the slow part is added to the old drift, drawn after it: the rest does not move.
    on = AnimalSpec("X", 1, drift_tau_s=60.0, drift_unit_sd=0.22, drift_shared_sd=0.135,
                    drift_slow_tau_s=900.0, drift_slow_unit_sd=0.2, drift_slow_shared_sd=0.1,
                    **extra)
    rng = np.random.default_rng(5)
    _, lg_on = drift_log_gain(on, 7, 2000.0, rng)
    ref = np.random.default_rng(5)
    _old_drift_log_gain(spec, 7, 2000.0, ref)
    m = len(t)
    slow = (ou_process(m, DRIFT_GRID_S, 900.0, 0.1, ref) - 0.1**2 / 2
            + ou_process(m, DRIFT_GRID_S, 900.0, 0.2, ref, 7) - 0.2**2 / 2)
    np.testing.assert_allclose(lg_on, lg0 + slow, rtol=0, atol=1e-12)


def _config(simulation: dict) -> dict:
    from pathlib import Path

    import yaml
    from snakemake.utils import update_config

    from nidecode.config import validate_config

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/config.yaml").read_text())
    cfg["simulation"]["animals"] = {}
    cfg["sessions"] = list(simulation["animals"])
    update_config(cfg, {"simulation": simulation})
    return validate_config(cfg)


def test_slow_drift_from_config_and_off_switch():
    cfg = _config({"drift": {"slow_tau_s": 800, "slow_unit_sd": 0.1, "slow_shared_sd": 0.05},
                   "animals": {"A": {"seed": 1}, "B": {"seed": 2, "drift": {"slow_unit_sd": 0.3}},
                               "C": {"seed": 3, "drift": False}}})
    a, b, c = (AnimalSpec.from_config(cfg, n) for n in "ABC")
    assert (a.drift_slow_tau_s, a.drift_slow_unit_sd, a.drift_slow_shared_sd) == (800, 0.1, 0.05)
    assert (b.drift_slow_unit_sd, b.drift_slow_shared_sd) == (0.3, 0.05)
    assert not c.has_drift and c.drift_slow_unit_sd == c.drift_slow_shared_sd == 0.0
    only_slow = AnimalSpec("X", 1, drift_unit_sd=0.0, drift_shared_sd=0.0,
                           drift_slow_unit_sd=0.1, drift_slow_shared_sd=0.0)
    assert only_slow.has_drift
