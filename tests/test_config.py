"""Config validation: schema errors name the key and the allowed values."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from nidecode.common.errors import ConfigError
from nidecode.config import load_config, nwb_path, validate_config
from nidecode.data.responses import ResponseSettings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_shipped_configs_are_valid():
    # Every config is a layer on the default, as the Snakefile layers --configfile.
    for name in ("config.yaml", "allen.yaml", "dandi.yaml", "ci.yaml", "gpu.yaml", "full.yaml",
                 "allen_scale.yaml", "held_apart.yaml", "slow_drift.yaml"):
        assert load_config(REPO / "config" / name)["sessions"], name


# What a real-data route may set: its data, sessions, roles and real-data settings. Everything
# else (network, decoders, controls, splits) comes from config/config.yaml alone.
REAL_DATA_KEYS = {"source", "sessions", "results_label", "allen", "dandi", "nwb_dir",
                  "nwb_files", "responses.areas", "analyses.area_sets",
                  "decoding.combo_generators"}


def _leaves(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in REAL_DATA_KEYS:
            out |= _leaves(v, key + ".")
        else:
            out.add(key)
    return out


@pytest.mark.parametrize("route", ["allen.yaml", "dandi.yaml", "own_nwb.yaml"])
def test_real_data_routes_run_the_default_analysis(route, tmp_path, monkeypatch,
                                                   write_session_file):
    """A route sets only real-data keys, so given alone it runs config/config.yaml's network,
    decoders, controls and splits (issue: the routes ran GoogLeNet from missing weights)."""
    layer = yaml.safe_load((REPO / "config" / route).read_text())
    assert _leaves(layer) <= REAL_DATA_KEYS, _leaves(layer) - REAL_DATA_KEYS
    if route == "own_nwb.yaml":  # its shipped folder, with one file in it
        monkeypatch.chdir(tmp_path)
        write_session_file(tmp_path / "data" / "nwb" / "session_1" / "session_1.nwb", "1")
    cfg = load_config(REPO / "config" / route)
    default = load_config(REPO / "config" / "config.yaml")
    def settings(block: dict) -> dict:  # roles resolve to each config's own sessions
        return {k: v for k, v in block.items() if k not in ("sessions", "null_sessions")}

    for key in ("dnn", "baselines", "split", "compare_splits", "n_folds", "glm"):
        assert cfg["decoding"][key] == default["decoding"][key], key
    assert settings(cfg["decoding"]["transfer"]) == settings(default["decoding"]["transfer"])
    assert settings(cfg["controls"]) == settings(default["controls"])
    assert cfg["decoding"]["dnn"]["arch"] == "efficientnet_lite0"
    assert cfg["decoding"]["dnn"]["pretrained"] is True


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


def test_changing_the_animals_is_one_edit():
    """The default config's roles pick from `sessions`: a new list of animals needs no other
    edit (figures, raster, transfer, controls, null animals and combos follow)."""
    import yaml

    from nidecode.config import combos, describe_sessions, validate_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["sessions"] = ["S2", "S3", "M1", "S0", "N0"]
    validate_config(config)
    assert config["controls"]["null_sessions"] == ["N0"]  # the stimulus_blind animal
    assert config["figures"]["session"] == "S2"  # the first with stimulus information
    assert config["decoding"]["raster"]["sessions"] == ["S2"]
    assert config["decoding"]["transfer"]["sessions"] == ["S2"]
    assert config["controls"]["sessions"] == ["S2"]
    assert config["decoding"]["compare_dnn_sessions"] == ["N0"]
    # The paper's five combos on the first four animals with information, then the negative
    # control: the first combo's training animals -> the null animal.
    assert combos(config) == ["S2+S3__S0", "M1__S0", "S3+M1__S2", "M1+S0__S3", "S2+S0__M1",
                              "S2+S3__N0"]
    lines = describe_sessions(config)
    assert lines[0] == "sessions (simulated): S2, S3, M1, S0, N0"
    assert "combos: S2+S3__S0, M1__S0, S3+M1__S2, M1+S0__S3, S2+S0__M1, S2+S3__N0" in lines
    config["decoding"]["null_combos"] = False
    assert combos(config)[-1] == "S2+S0__M1"
    assert "transfer comparison: S2" in lines
    config["decoding"]["transfer"]["sessions"] = []  # no transfer job runs: says so
    assert "transfer comparison: none" in describe_sessions(config)
    # A session named like a role word is refused.
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["simulation"]["animals"]["first"] = config["simulation"]["animals"]["S0"]
    config["sessions"] = ["first", "S1"]
    with pytest.raises(ConfigError, match="words of the session roles"):
        validate_config(config)


@pytest.mark.parametrize("generator", ["leave_one_animal_out", "all_subsets", "paper"])
@pytest.mark.parametrize("sessions, made, note", [
    # A lone animal has none to train on: no combo, and the start-up line says why.
    (["S0"], 0, "{g} needs at least 2 sessions, found 1"),
    (["S0", "N0"], 0, "{g} needs at least 2 sessions with stimulus information (null sessions "
                      "N0 take no part), found 1"),
    (["S0", "S1"], 2, None),
    (["S0", "S1", "S2", "S3", "S4"], {"leave_one_animal_out": 5, "all_subsets": 5 * 15,
                                      "paper": 5}, None),
])
def test_every_combo_generator_for_one_two_and_many_sessions(default_config, generator,
                                                             sessions, made, note):
    from nidecode.config import combos, describe_sessions
    from nidecode.evaluation.splits import parse_combo

    cfg = copy.deepcopy(default_config)
    cfg["sessions"] = sessions
    cfg["decoding"]["combo_generators"] = [generator]
    cfg["decoding"]["null_combos"] = False  # the generators alone
    validate_config(cfg)
    got = combos(cfg)
    assert len(got) == (made[generator] if isinstance(made, dict) else made)
    for combo in got:  # each trains and tests on different animals with information
        train, test = parse_combo(combo)
        assert train and test and not set(train) & set(test) and "N0" not in train + test
    line = describe_sessions(cfg)[-1]
    if note is not None:
        assert line == f"combos: none ({note.format(g=generator)})"
    elif generator == "paper" and len(sessions) < 4:
        assert line == (f"combos: {', '.join(got)} (paper needs 4 sessions, found 2: it leaves "
                        "one animal out)")
    else:
        assert line == f"combos: {', '.join(got)}"


@pytest.mark.parametrize("sessions, want", [
    (["S0", "S1", "S2", "N0"], ["S0+S1__N0"]),
    (["S0", "N0"], ["S0__N0"]),  # one animal with information trains it alone
    (["S0", "S1"], []),  # no null animal
])
def test_null_combos_test_on_each_null_animal(default_config, sessions, want):
    from nidecode.config import null_combos

    cfg = copy.deepcopy(default_config)
    cfg["sessions"] = sessions
    validate_config(cfg)
    assert null_combos(cfg) == want
    cfg["decoding"]["null_combos"] = False
    assert null_combos(cfg) == []


def test_explicit_combo_naming_a_missing_session_is_one_config_error(default_config):
    cfg = copy.deepcopy(default_config)
    cfg["sessions"] = ["S0"]
    cfg["decoding"]["combos"] = ["S0__S1"]
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert str(err.value) == (
        "config key 'decoding.combos': combo 'S0__S1' names ['S1'], not among the sessions "
        "['S0']; name only those sessions in it, or remove it (the session list comes from "
        "'sessions', or from the files nwb_dir finds)")
    cfg = copy.deepcopy(default_config)
    cfg["decoding"]["combos"] = ["S0+S1__S1"]
    with pytest.raises(ConfigError, match=r"combo 'S0\+S1__S1' tests on \['S1'\], which it also "
                                          "trains on; test on an animal it does not train on"):
        validate_config(cfg)
    cfg["decoding"]["combos"] = ["__S1"]  # no training animal: refused by the schema's pattern
    with pytest.raises(ConfigError, match=r"config key 'decoding.combos.0': '__S1' does not "
                                          "match"):
        validate_config(cfg)
