"""The per-unit spread of the slow drift (simulation.drift.unit_sd_spread, issue 27): off by
default, drawing nothing then; on, each unit's own log-gain SD is unit_sd * exp(spread z_u)."""

from __future__ import annotations

import math

import numpy as np

from nidecode.config import validate_config
from nidecode.data.drift import DRIFT_GRID_S, drift_log_gain, ou_process
from nidecode.data.simulate import AnimalSpec

# The fast component alone: the slow one (tests/test_drift_slow.py) is drawn after the spread,
# and settling (on by default) is added on top.
NO_SLOW = {"drift_slow_unit_sd": 0.0, "drift_slow_shared_sd": 0.0, "drift_settle_sd": 0.0}


def test_without_spread_the_log_gains_are_the_draws_they_always_were():
    spec = AnimalSpec("X", 1, drift_tau_s=60.0, drift_unit_sd=0.3, drift_shared_sd=0.2, **NO_SLOW)
    t, lg = drift_log_gain(spec, 7, 500.0, np.random.default_rng(5))
    # The model as it stood before the knob, drawn from the same generator in the same order.
    rng = np.random.default_rng(5)
    m = int(math.ceil(500.0 / DRIFT_GRID_S)) + 2
    shared = ou_process(m, DRIFT_GRID_S, 60.0, 0.2, rng) - 0.2**2 / 2
    own = ou_process(m, DRIFT_GRID_S, 60.0, 0.3, rng, 7) - 0.3**2 / 2
    offset = rng.normal(0.0, 1.0, 7) * 0.0
    own = own + offset * np.exp(-t / spec.drift_settle_tau_s)[:, None]
    np.testing.assert_array_equal(lg, shared + own)


def test_spread_scales_each_units_own_sd_and_keeps_its_mean_gain():
    su, spread = 0.3, 0.5
    base = AnimalSpec("X", 1, drift_tau_s=20.0, drift_unit_sd=su, drift_shared_sd=0.0, **NO_SLOW)
    spec = AnimalSpec("X", 1, drift_tau_s=20.0, drift_unit_sd=su, drift_shared_sd=0.0,
                      drift_unit_sd_spread=spread, **NO_SLOW)
    _, off = drift_log_gain(base, 400, 20_000.0, np.random.default_rng(0))
    _, on = drift_log_gain(spec, 400, 20_000.0, np.random.default_rng(0))
    # The same OU paths, each unit's scaled by its own factor.
    scale = on.std(axis=0) / off.std(axis=0)
    np.testing.assert_allclose((on - on.mean(0)) / scale, off - off.mean(0), atol=1e-9)
    log_sd = np.log(on.std(axis=0))
    assert abs(np.median(log_sd) - math.log(su)) < 0.1  # median unit: unit_sd
    assert abs(log_sd.std() - spread) < 0.06  # spread: SD of the log of the unit SDs
    assert np.all(np.abs(np.exp(on).mean(axis=0) - 1) < 0.1 * np.maximum(1, scale**2))


def _config(simulation: dict) -> dict:
    from pathlib import Path

    import yaml
    from snakemake.utils import update_config

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/config.yaml").read_text())
    cfg["simulation"]["animals"] = {}
    cfg["sessions"] = list(simulation["animals"])
    update_config(cfg, {"simulation": simulation})
    return validate_config(cfg)


def test_config_key_reaches_the_animal():
    cfg = _config({"drift": {"unit_sd_spread": 0.4},
                   "animals": {"A": {"seed": 1},
                               "B": {"seed": 2, "drift": {"unit_sd_spread": 0.0}}}})
    assert AnimalSpec.from_config(cfg, "A").drift_unit_sd_spread == 0.4
    assert AnimalSpec.from_config(cfg, "B").drift_unit_sd_spread == 0.0
    default = _config({"animals": {"A": {"seed": 1}}})
    assert AnimalSpec.from_config(default, "A").drift_unit_sd_spread == 0.0
