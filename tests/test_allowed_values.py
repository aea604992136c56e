"""Each allowed value in one place: the schema and the code cannot disagree.

Every ``enum`` of workflow/schemas/config.schema.yaml is either the code's tuple of the same
values (in the same order) or listed in SCHEMA_ONLY, values the code passes on without a list of
its own (Lightning's precision and accelerator). Every default of a dataclass built from the
config is the schema's default of the key it reads: the workflow always reads the schema's
defaults, so a dataclass default that differs would only mislead the tests and scripts that use
the dataclass directly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from nidecode.common.constants import PS_MODES, SPLITS
from nidecode.config import SCHEMA_PATH, combos, validate_config
from nidecode.data.nwb import SOURCE_PROVENANCE
from nidecode.data.responses import BASELINES, ZERO_SD_UNITS, ResponseSettings
from nidecode.decoders.backbones import BACKBONES, FINETUNE
from nidecode.decoders.network import (
    IMAGE_CHANNELS,
    LR_SCALINGS,
    MISSING_WEIGHTS,
    SCHEDULES,
    WORKFLOW_KEYS,
    DNNSettings,
)

SCHEMA = yaml.safe_load(Path(SCHEMA_PATH).read_text())

# Where each enum lives in the schema (properties by name, [] for an array's items, * for a
# mapping's values) -> the code's tuple of its values.
CODE_VALUES: dict[str, tuple] = {
    "source": tuple(SOURCE_PROVENANCE),
    "responses.baseline": BASELINES,
    "responses.zero_sd_units": ZERO_SD_UNITS,
    "decoding.split": SPLITS,
    "decoding.compare_splits[]": SPLITS,
    "decoding.ps_modes[]": PS_MODES,
    "controls.ps_modes[]": PS_MODES,
    "decoding.dnn.arch": tuple(BACKBONES),
    "decoding.transfer.variants.*.arch": tuple(BACKBONES),
    "decoding.dnn.finetune": FINETUNE,
    "decoding.transfer.variants.*.finetune": FINETUNE,
    "decoding.dnn.image_channels": IMAGE_CHANNELS,
    "decoding.transfer.variants.*.image_channels": IMAGE_CHANNELS,
    "decoding.dnn.schedule": SCHEDULES,
    "decoding.dnn.lr_scaling": LR_SCALINGS,
    "decoding.dnn.missing_weights": MISSING_WEIGHTS,
    "decoding.transfer.variants.*.missing_weights": MISSING_WEIGHTS,
}
# Enums the code has no list of: it hands the value to a library, or looks it up where the
# check below (test_every_combo_generator_is_known) covers it.
SCHEMA_ONLY = {
    "decoding.dnn.precision",  # Lightning's Trainer(precision=...)
    "decoding.dnn.accelerator",  # Lightning's Trainer(accelerator=...)
    "decoding.combo_generators[]",  # nidecode.config.combos
}


def schema_enums(node: object, path: str = "") -> dict[str, list]:
    """Every ``enum`` under ``node``, by its path."""
    found: dict[str, list] = {}
    if isinstance(node, dict):
        if "enum" in node:
            found[path] = node["enum"]
        for key, sub in node.get("properties", {}).items():
            found |= schema_enums(sub, f"{path}.{key}" if path else key)
        if isinstance(node.get("items"), dict):
            found |= schema_enums(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            found |= schema_enums(node["additionalProperties"], f"{path}.*")
        for key in ("oneOf", "anyOf"):
            for sub in node.get(key, []):
                found |= schema_enums(sub, path)
    return found


def schema_node(path: str) -> dict:
    node = SCHEMA
    for key in path.split("."):
        node = node["properties"][key]
    return node


def test_every_schema_enum_is_the_codes_tuple():
    enums = schema_enums(SCHEMA)
    assert set(enums) == set(CODE_VALUES) | SCHEMA_ONLY, (
        "a schema enum was added or removed: name the code's tuple in CODE_VALUES "
        "(or SCHEMA_ONLY if the code keeps no list)")
    for path, values in CODE_VALUES.items():
        assert tuple(enums[path]) == tuple(values), path


def test_every_combo_generator_is_known():
    config = validate_config({"source": "simulated", "sessions": ["A", "B", "C"],
                              "simulation": {"animals": {k: {"seed": i} for i, k in
                                                         enumerate("ABC")}}})
    for generator in schema_enums(SCHEMA)["decoding.combo_generators[]"]:
        config["decoding"]["combo_generators"] = [generator]
        assert combos(config), generator


def _defaults(cls: type) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _same(code: object, schema: object) -> bool:
    """Equal as the config would give it: a list where the code keeps a tuple, a number where
    the code keeps a float; booleans only as booleans."""
    if isinstance(code, tuple):
        code = list(code)
    if isinstance(code, float) and isinstance(schema, int | float) \
            and not isinstance(schema, bool):
        return code == schema
    return type(code) is type(schema) and code == schema


def test_response_settings_defaults_are_the_schemas():
    section = schema_node("responses")["properties"]
    defaults = _defaults(ResponseSettings)
    assert set(defaults) == set(section)  # from_config reads every key, and only those
    for name, value in defaults.items():
        assert _same(value, section[name]["default"]), (name, value, section[name]["default"])


def test_dnn_settings_defaults_are_the_schemas():
    section = schema_node("decoding.dnn")["properties"]
    defaults = _defaults(DNNSettings)
    # from_config passes every key of decoding.dnn but the workflow's, and decoding.seed.
    assert set(defaults) - {"seed"} == set(section) - set(WORKFLOW_KEYS)
    assert set(WORKFLOW_KEYS) <= set(section)
    assert defaults["seed"] == schema_node("decoding.seed")["default"]
    for name, value in defaults.items():
        if name != "seed":
            assert _same(value, section[name]["default"]), (name, value, section[name]["default"])


def test_scope_defaults_are_the_schemas():
    from nidecode.jobs.scope import Scope

    d = _defaults(Scope)
    assert _same(d["areas"], schema_node("decoding.areas")["default"])
    assert d["seed"] == schema_node("decoding.seed")["default"]
    assert d["n_folds"] == schema_node("decoding.n_folds")["default"]
    assert d["split"] == schema_node("decoding.split")["default"]
    assert _same(d["running_threshold"],
                 schema_node("analyses.running_threshold_cm_s")["default"])


def test_simulation_defaults_are_the_schemas():
    from nidecode.data import drift as drift_model
    from nidecode.data import session_clock, simulate

    protocol = _defaults(session_clock.Protocol)
    assert protocol["repeats"] == schema_node("simulation.repeats")["default"]
    assert protocol["blanks_gratings"] == protocol["blanks_scenes"] == \
        schema_node("simulation.blanks")["default"]
    assert _same(protocol["run_s"], schema_node("simulation.run_s")["default"])
    drift = schema_node("simulation.drift")["properties"]
    for key in drift:  # AnimalSpec.from_config starts from these before simulation.drift
        assert _same(getattr(drift_model, f"DRIFT_{key.upper()}"), drift[key]["default"]), key
        assert _same(_defaults(simulate.AnimalSpec)[f"drift_{key}"], drift[key]["default"]), key


@pytest.mark.parametrize("broken", ["enum", "default"])
def test_the_checks_catch_a_disagreement(broken, monkeypatch):
    """Proof the checks can fail: one value changed on either side is caught."""
    if broken == "enum":
        monkeypatch.setitem(CODE_VALUES, "decoding.split", ("block", "trial", "session"))
        with pytest.raises(AssertionError, match="decoding.split"):
            test_every_schema_enum_is_the_codes_tuple()
    else:
        field = next(f for f in dataclasses.fields(ResponseSettings) if f.name == "time_bin_s")
        monkeypatch.setattr(field, "default", None)
        with pytest.raises(AssertionError, match="time_bin_s"):
            test_response_settings_defaults_are_the_schemas()
