"""Config validation: schema errors name the key and the allowed values."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from nidecode.config import load_config, nwb_path, validate_config
from nidecode.errors import ConfigError
from nidecode.responses import ResponseSettings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_shipped_configs_are_valid():
    for name in ("config.yaml", "allen.yaml"):
        cfg = load_config(REPO / "config" / name)
        assert cfg["sessions"]
    from snakemake.utils import update_config

    for layer in ("ci.yaml", "gpu.yaml"):  # layered on the default, as Snakemake merges them
        base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        update_config(base, yaml.safe_load((REPO / "config" / layer).read_text()))
        validate_config(base)


def test_defaults_are_filled_in():
    cfg = validate_config(
        {"source": "simulated", "sessions": ["A"], "simulation": {"animals": {"A": {"seed": 1}}}}
    )
    assert cfg["responses"]["baseline"] == "pre_onset"
    assert cfg["responses"]["filters"]["presence_ratio_min"] == 0.95
    assert ResponseSettings.from_config(cfg).areas == ("VISp",)
    assert nwb_path(cfg, "A") == "resources/simulated/A.nwb"


def test_bad_enum_names_key_and_allowed_values(default_config):
    cfg = copy.deepcopy(default_config)
    cfg["responses"]["baseline"] = "prestim"
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    msg = str(err.value)
    assert "responses.baseline" in msg
    assert "'prestim'" in msg and "['pre_onset', 'spontaneous']" in msg


def test_unknown_key_is_named(default_config):
    cfg = copy.deepcopy(default_config)
    cfg["responses"]["baselin"] = "pre_onset"
    with pytest.raises(ConfigError, match=r"responses.*'baselin'.*allowed keys"):
        validate_config(cfg)


def test_wrong_type_is_named(default_config):
    cfg = copy.deepcopy(default_config)
    cfg["simulation"]["repeats"] = "ten"
    with pytest.raises(ConfigError, match=r"simulation.repeats.*'ten'.*integer"):
        validate_config(cfg)


def test_unknown_sessions(default_config):
    cfg = copy.deepcopy(default_config)
    cfg["sessions"] = ["S0", "Q7"]
    with pytest.raises(ConfigError, match=r"unknown sessions \['Q7'\].*simulation.animals"):
        validate_config(cfg)
    allen = load_config(REPO / "config" / "allen.yaml")
    allen["sessions"] = ["S0", "N0"]
    with pytest.raises(ConfigError, match=r"unknown sessions \['N0'\].*allen.session_ids"):
        validate_config(allen)
