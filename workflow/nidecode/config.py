"""Validate the workflow configuration before any job runs.

JSON-schema validation with defaults filled in, then cross-checks the schema cannot express
(every session must be defined for the chosen source). Errors name the key and the allowed values.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from .errors import ConfigError
from .splits import all_subsets, leave_one_animal_out, parse_combo

if TYPE_CHECKING:  # heavy modules stay out of the Snakefile's parse (dry runs must be quick)
    from .dnn import DNNSettings
    from .responses import ResponseSettings
    from .simulate import AnimalSpec, Protocol
    from .stimuli import Canvas

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


def _with_defaults(validator_class: type) -> type:
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = _copy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


def _describe(err: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    if err.validator == "enum":
        allowed = err.validator_value
        return f"config key '{key}': {err.instance!r} is not allowed; allowed values: {allowed}"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = err.message.split("(")[-1].rstrip(")")
        return f"config key '{key}': unknown key ({extra}); allowed keys: {allowed}"
    if err.validator == "required":
        hint = ("; layer a partial config on the default: --configfile config/config.yaml "
                "YOURS.yaml") if not err.absolute_path else ""
        return f"config key '{key}': {err.message}{hint}"
    if err.validator == "type":
        return f"config key '{key}': {err.instance!r} should be of type {err.validator_value}"
    return f"config key '{key}': {err.message}"


def validate_config(config: dict, schema_path: Path = SCHEMA_PATH) -> dict:
    """Validate ``config`` in place (defaults filled in) and return it; raise ConfigError."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    cls = _with_defaults(jsonschema.Draft202012Validator)
    errors = sorted(cls(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = "\n  ".join(_describe(e) for e in errors[:10])
        raise ConfigError(f"invalid configuration:\n  {lines}")
    source = config["source"]
    known = {
        "simulated": set(config["simulation"]["animals"]),
        "allen": set(config["allen"]["session_ids"]),
        "nwb": set(config["nwb_files"]),
    }[source]
    where = {"simulated": "simulation.animals", "allen": "allen.session_ids", "nwb": "nwb_files"}[
        source
    ]
    unknown = [s for s in config["sessions"] if s not in known]
    if unknown:
        raise ConfigError(
            f"config key 'sessions': unknown sessions {unknown} for source '{source}'; "
            f"sessions defined in {where}: {sorted(known)}. Add them to {where} or remove them "
            "from sessions."
        )
    for combo in combos(config):
        train, test = parse_combo(combo)
        missing = sorted({a for a in train + test if a not in config["sessions"]})
        if missing:
            raise ConfigError(
                f"config key 'decoding.combos': combo '{combo}' uses {missing}, which are not "
                f"in sessions {config['sessions']}"
            )
        if set(train) & set(test):
            raise ConfigError(f"config key 'decoding.combos': combo '{combo}' tests on a "
                              "training animal")
    sessions = set(config["sessions"])
    compare = config["decoding"]["compare_dnn_sessions"] or []
    for key, values in (("controls.sessions", config["controls"]["sessions"]),
                        ("decoding.compare_dnn_sessions", compare),
                        ("controls.null_sessions", config["controls"]["null_sessions"]),
                        ("analyses.dnn.sessions", config["analyses"]["dnn"]["sessions"])):
        if bad := sorted(set(values) - sessions):
            raise ConfigError(f"config key '{key}': {bad} not in sessions {config['sessions']}")
    if bad := sorted(set(config["decoding"]["areas"]) - set(config["responses"]["areas"])):
        raise ConfigError(f"config key 'decoding.areas': {bad} are not kept by responses.areas "
                          f"{config['responses']['areas']}; add them there")
    needed = {a for s in config["analyses"]["area_sets"] for a in s}
    if bad := sorted(needed - set(config["responses"]["areas"])):
        raise ConfigError(f"config key 'analyses.area_sets': {bad} are not kept by "
                          f"responses.areas {config['responses']['areas']}; add them there")
    if bad := sorted(set(config["analyses"]["labels"]) - set(config["labels"])):
        raise ConfigError(f"config key 'analyses.labels': {bad} have no label map; define "
                          f"them under labels (defined: {sorted(config['labels'])})")
    folds = range(config["decoding"]["n_folds"])
    if bad := [f for f in config["decoding"]["dnn_folds"] or [] if f not in folds]:
        raise ConfigError(f"config key 'decoding.dnn_folds': {bad} outside 0..{max(folds)}")
    for key in ("controls", "analyses"):
        block = config[key] if key == "controls" else config[key]["dnn"]
        if bad := [f for f in block["folds"] if f not in folds]:
            raise ConfigError(f"config key '{key}.folds': {bad} outside 0..{max(folds)}")
    fig = config["figures"]["session"]
    if fig is not None and fig not in config["sessions"]:
        raise ConfigError(f"config key 'figures.session': '{fig}' is not in sessions "
                          f"{config['sessions']}")
    raster = config["decoding"]["raster"]["sessions"]
    if raster and (bad := [s for s in raster if s not in config["sessions"]]):
        raise ConfigError(f"config key 'decoding.raster.sessions': {bad} not in sessions "
                          f"{config['sessions']}")
    return config


def combos(config: dict) -> list[str]:
    """Explicit combos, then generated ones, without duplicates, in a stable order."""
    dec = config["decoding"]
    out = list(dec["combos"])
    for gen in dec["combo_generators"]:
        make = {"leave_one_animal_out": leave_one_animal_out, "all_subsets": all_subsets}[gen]
        # Null animals carry no stimulus information: never train or test on them in combos.
        out += make(list(config["sessions"]), exclude=config["controls"]["null_sessions"])
    return list(dict.fromkeys(out))


def analysis_names(config: dict) -> list[str]:
    """The GLM's extra analyses (sub-classes, regions, arousal, unit counts), by name."""
    a = config["analyses"]
    names = [f"label-{name}" for name in a["labels"]]
    names += ["areas-" + "+".join(areas) for areas in a["area_sets"]]
    if a["arousal"]:
        names += ["arousal-running", "arousal-still"]
    names += [f"units-{n}-r{k}" for n in a["unit_counts"] for k in range(a["unit_repeats"])]
    return names


def dnn_settings(config: dict) -> DNNSettings:
    """GoogLeNet settings from decoding.dnn (torch_home is handled by the workflow)."""
    from .dnn import DNNSettings

    cluster_only = ("torch_home", "gpus", "mem_mb", "runtime_min")  # the workflow's business
    d = {k: v for k, v in config["decoding"]["dnn"].items() if k not in cluster_only}
    return DNNSettings(seed=config["decoding"]["seed"], **d)


def load_config(path: str | Path) -> dict:
    """Read a YAML config file and validate it."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read config ({err})") from None
    return validate_config(config)


def animal_spec(config: dict, session: str) -> AnimalSpec:
    """Simulation settings of one simulated animal.

    Slow drift: ``simulation.drift`` (``tau_s``, ``unit_sd``, ``shared_sd``) holds the
    simulation-wide setting; an animal's ``drift`` overrides it key by key (a mapping), keeps
    it (``true``) or turns drift off (``false``).
    """
    from .simulate import DRIFT_SHARED_SD, DRIFT_TAU_S, DRIFT_UNIT_SD, AnimalSpec

    sim = config["simulation"]
    spec = dict(sim["animals"][session])
    drift = {"tau_s": DRIFT_TAU_S, "unit_sd": DRIFT_UNIT_SD, "shared_sd": DRIFT_SHARED_SD}
    drift.update(sim.get("drift") or {})
    own = spec.pop("drift", True)
    if own is False:
        drift["unit_sd"] = drift["shared_sd"] = 0.0
    elif isinstance(own, dict):
        drift.update(own)
    return AnimalSpec(
        name=session,
        drift_tau_s=float(drift["tau_s"]),
        drift_unit_sd=float(drift["unit_sd"]),
        drift_shared_sd=float(drift["shared_sd"]),
        **spec,
    )


def protocol(config: dict) -> Protocol:
    """The simulated stimulus protocol."""
    from .simulate import Protocol

    sim = config["simulation"]
    return Protocol(
        repeats=sim["repeats"],
        blanks_gratings=sim["blanks"],
        n_blocks=sim["blocks"],
        blanks_scenes=sim["blanks"],
        spontaneous_s=sim["spontaneous_s"],
    )  # drift lives in AnimalSpec (per animal, see animal_spec)


def simulation_canvas(config: dict) -> Canvas:
    from .stimuli import Canvas

    return Canvas(*config["simulation"]["canvas"])


def stimulus_canvas(config: dict) -> Canvas:
    from .stimuli import Canvas

    return Canvas(config["stimuli"]["height"], config["stimuli"]["width"])


def response_settings(config: dict) -> ResponseSettings:
    from .responses import ResponseSettings

    r = config["responses"]
    return ResponseSettings(
        areas=tuple(r["areas"]),
        filters=dict(r["filters"]),
        baseline=r["baseline"],
        baseline_window_s=r["baseline_window_s"],
        zero_sd_units=r["zero_sd_units"],
        time_bin_s=r["time_bin_s"],
        require_running_speed=r["require_running_speed"],
    )


def nwb_path(config: dict, session: str) -> str:
    """Where the session's NWB file lives for the configured source."""
    source = config["source"]
    if source == "simulated":
        return f"resources/simulated/{session}.nwb"
    if source == "allen":
        return f"resources/allen/sessions/{session}.nwb"
    return config["nwb_files"][session]


def decoding_scope(config: dict, stimuli, label_files: dict[str, str] | None = None,
                   split: str | None = None):
    """The :class:`nidecode.decode.Scope` of the config, with label maps read from files.

    ``split`` overrides ``decoding.split`` (the trial- vs block-split comparison).
    """
    from .decode import Scope
    from .variants import read_label_map

    maps = {name: read_label_map(path, stimuli) for name, path in (label_files or {}).items()}
    return Scope(areas=tuple(config["decoding"]["areas"]), label_maps=maps,
                 running_threshold=config["analyses"]["running_threshold_cm_s"],
                 seed=config["decoding"]["seed"], n_folds=config["decoding"]["n_folds"],
                 split=split or config["decoding"]["split"])
