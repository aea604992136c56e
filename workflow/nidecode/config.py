"""Validate the workflow configuration before any job runs.

JSON-schema validation with defaults filled in, then cross-checks the schema cannot express
(every session must be defined for the chosen source). Errors name the key and the allowed values.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from nidecode.common.analyses import analyses_from_config
from nidecode.common.errors import ConfigError
from nidecode.data.area_models import check_simulated_areas
from nidecode.data.sources import dandi_session_file, resolve_sessions
from nidecode.evaluation.splits import (
    MIN_COMBO_ANIMALS,
    all_subsets,
    combo_name,
    leave_one_animal_out,
    parse_combo,
)

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"
# The embedded default: the base every run's config is layered on (the Snakefile's configfile).
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"


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
        hint = ("; the Snakefile layers every --configfile on config/config.yaml, which sets "
                "it (unless --replace-workflow-config drops that base)"
                ) if not err.absolute_path else ""
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
    # Sessions against the source; `sessions: [all]` and nwb_dir's sessions filled in here.
    resolve_sessions(config)
    resolve_roles(config)
    check_simulated_areas(config)
    _check_combos(config)
    sessions = set(config["sessions"])
    compare = config["decoding"]["compare_dnn_sessions"] or []
    for key, values in (("controls.sessions", config["controls"]["sessions"]),
                        ("decoding.transfer.sessions",
                         config["decoding"]["transfer"]["sessions"] or []),
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
    analyses_from_config(config)  # every analysis has a wildcard-safe name
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
    _check_baselines(config)
    fig = config["figures"]["session"]
    if fig is not None and fig not in config["sessions"]:
        raise ConfigError(f"config key 'figures.session': '{fig}' is not in sessions "
                          f"{config['sessions']}")
    raster = config["decoding"]["raster"]["sessions"]
    if raster and (bad := [s for s in raster if s not in config["sessions"]]):
        raise ConfigError(f"config key 'decoding.raster.sessions': {bad} not in sessions "
                          f"{config['sessions']}")
    return config


def _check_combos(config: dict) -> None:
    """Every explicit ``decoding.combos`` entry trains and tests on sessions of ``sessions``,
    never the same one (generated combos are so by construction)."""
    sessions = config["sessions"]
    for combo in config["decoding"]["combos"]:
        try:
            train, test = parse_combo(combo)
        except ValueError:
            raise ConfigError(f"config key 'decoding.combos': '{combo}' is not of the form "
                              "TRAIN+TRAIN__TEST (e.g. M0+M1__M3); fix or remove it") from None
        if missing := sorted({a for a in train + test if a not in sessions}):
            raise ConfigError(
                f"config key 'decoding.combos': combo '{combo}' names {missing}, not among the "
                f"sessions {sessions}; name only those sessions in it, or remove it (the "
                "session list comes from 'sessions', or from the files nwb_dir finds)")
        if both := sorted(set(train) & set(test)):
            raise ConfigError(f"config key 'decoding.combos': combo '{combo}' tests on {both}, "
                              "which it also trains on; test on an animal it does not train on")


def _check_baselines(config: dict) -> None:
    """Every ``decoding.baselines`` entry names a registered decoder (this package's, or one a
    file in ``decoding.decoder_modules`` registers) and only its parameters."""
    from nidecode.decoders.registry import load_modules, registered

    modules = config["decoding"].get("decoder_modules") or []
    try:
        load_modules(modules)
    except (ImportError, OSError, SyntaxError) as err:
        raise ConfigError(f"config key 'decoding.decoder_modules': cannot import {modules} "
                          f"({type(err).__name__}: {err})") from None
    decoders = registered()
    for name, params in config["decoding"]["baselines"].items():
        if name not in decoders:
            raise ConfigError(f"config key 'decoding.baselines': unknown decoder '{name}'; "
                              f"registered: {sorted(decoders)} (add a module to "
                              "workflow/nidecode/decoders/ or name one in "
                              "decoding.decoder_modules)")
        if decoders[name].trains_network:
            raise ConfigError(f"config key 'decoding.baselines': '{name}' is a trained network; "
                              "it runs in its own jobs (decoding.dnn, decoding.raster)")
        if bad := sorted(set(params or {}) - set(decoders[name].params)):
            raise ConfigError(f"config key 'decoding.baselines.{name}': unknown parameter(s) "
                              f"{bad}; {name} takes {list(decoders[name].params)}")


def runs_across_animals(name: str) -> bool:
    """Whether decoder ``name`` also runs across animals (it reads ``W``, which lives in
    stimulus space, and says how to scale each animal's rows)."""
    from nidecode.decoders.registry import get

    return get(name).across_animals is not None


# Words a session role may use instead of names, so that changing `sessions` is one edit.
FIRST, NULLS, EVERY = "first", "nulls", "all"


def _informative(config: dict) -> list[str]:
    nulls = config["controls"]["null_sessions"] or []
    return [s for s in config["sessions"] if s not in nulls]


def _expand(config: dict, key: str, values: list[str] | None) -> list[str] | None:
    """A role's session list with ``first`` (the first session with stimulus information),
    ``nulls`` (the null sessions) and ``all`` (every session) replaced by names."""
    if values is None:
        return None
    out: list[str] = []
    for v in values:
        if v == FIRST:
            informative = _informative(config)
            if not informative:
                raise ConfigError(f"config key '{key}': 'first' names the first session with "
                                  f"stimulus information, but every session in "
                                  f"{config['sessions']} is a null session")
            out.append(informative[0])
        elif v == NULLS:
            out += list(config["controls"]["null_sessions"])
        elif v == EVERY:
            out += list(config["sessions"])
        else:
            out.append(v)
    return list(dict.fromkeys(out))


def resolve_roles(config: dict) -> list[str]:
    """Fill in the sessions each role uses, in place, from ``sessions``; return one line per
    role saying which sessions it got and why.

    ``controls.null_sessions: null`` takes the simulated animals marked ``stimulus_blind`` (none
    for real data); ``figures.session: null`` the first session with stimulus information;
    ``first``, ``nulls`` and ``all`` in the session lists of ``decoding.raster``,
    ``decoding.transfer``, ``decoding.compare_dnn_sessions``, ``controls.sessions`` and
    ``analyses.dnn.sessions`` stand for those sessions. A session named like one of these words
    is an error.
    """
    sessions = config["sessions"]
    if clash := sorted({FIRST, NULLS, EVERY} & set(sessions)):
        raise ConfigError(f"config key 'sessions': {clash} are words of the session roles "
                          "(first, nulls, all); rename those sessions")
    lines = []
    ctrl, dec = config["controls"], config["decoding"]
    if ctrl["null_sessions"] is None:
        animals = config["simulation"]["animals"] if config["source"] == "simulated" else {}
        ctrl["null_sessions"] = [s for s in sessions
                                 if animals.get(s, {}).get("stimulus_blind", False)]
        why = ("the simulated animals marked stimulus_blind" if config["source"] == "simulated"
               else "none for real data")
        lines.append(f"null sessions: {ctrl['null_sessions']} ({why})")
    if config["figures"]["session"] is None:
        config["figures"]["session"] = _expand(config, "figures.session", [FIRST])[0]
        lines.append(f"figures: {config['figures']['session']} (the first session with "
                     "stimulus information)")
    for key, holder, name in (("decoding.raster.sessions", dec["raster"], "sessions"),
                              ("decoding.transfer.sessions", dec["transfer"], "sessions"),
                              ("decoding.compare_dnn_sessions", dec, "compare_dnn_sessions"),
                              ("controls.sessions", ctrl, "sessions"),
                              ("analyses.dnn.sessions", config["analyses"]["dnn"], "sessions")):
        before = holder[name]
        holder[name] = _expand(config, key, before)
        if before is not None and before != holder[name]:
            lines.append(f"{key}: {holder[name]} (from {before})")
    return lines


def describe_sessions(config: dict) -> list[str]:
    """What a run decodes, before anything runs: each session and where it comes from, and the
    sessions each role got (printed by the workflow at start)."""
    source, sessions = config["source"], config["sessions"]
    if source == "nwb":  # own files: each name beside the file it was read from
        lines = [f"session {s}: {config['nwb_files'].get(s, '?')}" for s in sessions]
    else:
        ids = {"allen": config["allen"]["session_ids"],
               "dandi": config["dandi"]["session_ids"]}.get(source, {})
        lines = [f"sessions ({source}): " + ", ".join(
            f"{s} ({ids[s]})" if s in ids else s for s in sessions)]
    dec, ctrl = config["decoding"], config["controls"]
    roles = {"null sessions": ctrl["null_sessions"], "figures": config["figures"]["session"],
             "raster": dec["raster"]["sessions"] or "every session",
             # transfer: null is every session, [] none (rules/common.smk, TRANSFER_SESSIONS)
             "transfer comparison": ("every session" if dec["transfer"]["sessions"] is None
                                     else dec["transfer"]["sessions"]),
             "network controls": ctrl["sessions"]}
    lines += [f"{k}: {(', '.join(v) or 'none') if isinstance(v, list) else v}"
              for k, v in roles.items()]
    notes = combo_notes(config)
    lines.append(f"combos: {', '.join(combos(config)) or 'none'}"
                 + (f" ({'; '.join(notes)})" if notes else ""))
    return lines


def paper_combos(sessions: list[str]) -> list[str]:
    """The paper's four-animal design on the first four sessions a, b, c, d: each held out in
    turn, trained on a subset of the other three (a+b -> d, c -> d, b+c -> a, c+d -> b,
    a+d -> c); with fewer sessions, leave one animal out."""
    if len(sessions) < 2:
        return []
    if len(sessions) < 4:
        return leave_one_animal_out(sessions)
    a, b, c, d = sessions[:4]
    return [combo_name(t, [x]) for t, x in (([a, b], d), ([c], d), ([b, c], a), ([c, d], b),
                                            ([a, d], c))]


def _paper(sessions: list[str], exclude: list[str] | tuple = ()) -> list[str]:
    return paper_combos([s for s in sessions if s not in exclude])


# decoding.combo_generators: name -> (sessions, null sessions) -> combos.
COMBO_GENERATORS = {"leave_one_animal_out": leave_one_animal_out, "all_subsets": all_subsets,
                    "paper": _paper}


def null_combos(config: dict) -> list[str]:
    """The cross-animal negative control (``decoding.null_combos``): for each null animal, the
    training animals of the paper's first combo (the first two with stimulus information, or
    the one there is) -> that animal. Its ``W`` is built from its own calibration blocks, so
    its drift can enter the columns a decoder of ``W`` reads: above chance is that channel."""
    if not config["decoding"].get("null_combos", True):
        return []
    train = _informative(config)[:2]
    if not train:
        return []
    return [combo_name(train, [n]) for n in config["controls"]["null_sessions"] or []]


def combos(config: dict) -> list[str]:
    """Explicit combos, then generated ones, then the null animals' negative-control combos
    (:func:`null_combos`), without duplicates, in a stable order."""
    dec = config["decoding"]
    out = list(dec["combos"])
    for gen in dec["combo_generators"]:
        # Null animals carry no stimulus information: the generators never train or test on
        # them; null_combos tests on them, as a negative control.
        out += COMBO_GENERATORS[gen](list(config["sessions"]),
                                    exclude=config["controls"]["null_sessions"])
    out += null_combos(config)
    return list(dict.fromkeys(out))


def combo_notes(config: dict) -> list[str]:
    """Why a combo generator made fewer combos than its name promises, one note per generator
    (printed at start-up beside the combos): each needs ``MIN_COMBO_ANIMALS`` sessions with
    stimulus information, and ``paper`` four for its own design."""
    nulls = config["controls"]["null_sessions"] or []
    n = len([s for s in config["sessions"] if s not in nulls])
    which = "sessions" + (f" with stimulus information (null sessions {', '.join(nulls)} take "
                          "no part)" if nulls else "")
    notes = []
    for gen in config["decoding"]["combo_generators"]:
        if n < MIN_COMBO_ANIMALS:
            notes.append(f"{gen} needs at least {MIN_COMBO_ANIMALS} {which}, found {n}")
        elif gen == "paper" and n < 4:
            notes.append(f"paper needs 4 {which}, found {n}: it leaves one animal out")
    return notes


def cross_batches(config: dict) -> dict[str, list[str]]:
    """The cross-animal combos each network job trains (``decoding.dnn.cross_batch_size`` per
    job, in the order of :func:`combos`): batch id -> combos. A batch of one is named after its
    combo; larger ones ``batch0000``, ``batch0001``, ..."""
    all_combos = combos(config)
    size = config["decoding"]["dnn"]["cross_batch_size"]
    if size == 1:
        return {c: [c] for c in all_combos}
    return {f"batch{k // size:04d}": all_combos[k:k + size]
            for k in range(0, len(all_combos), size)}


def networks_to_train(config: dict, variants: Iterable[str | None] | None = None
                      ) -> dict[str, dict]:
    """The networks a run trains, by config key (``decoding.dnn``,
    ``decoding.transfer.variants.<name>``) -> their settings, a variant's over
    ``decoding.dnn``'s. ``variants``: for each training job about to run, its transfer
    variant, or None for ``decoding.dnn``'s network; None: every network the config names
    (the variants where ``decoding.transfer.sessions`` is not empty)."""
    dnn = config["decoding"]["dnn"]
    transfer = config["decoding"]["transfer"]
    if variants is None:
        named = [None]
        if transfer["sessions"] is None or transfer["sessions"]:
            named += list(transfer["variants"])
    else:
        named = list(dict.fromkeys(variants))
    return {("decoding.dnn" if v is None else f"decoding.transfer.variants.{v}"):
            (dnn if v is None else {**dnn, **transfer["variants"][v]}) for v in named}


def load_config(*layers: str | Path) -> dict:
    """The config a run with ``--configfile LAYERS...`` gets, validated: the embedded default
    (:data:`DEFAULT_CONFIG`) with each YAML file layered on it as Snakemake layers them (later
    files win key by key; lists are replaced, mappings merged)."""
    from snakemake.utils import update_config

    config: dict = {}
    for path in (DEFAULT_CONFIG, *layers):
        path = Path(path)
        try:
            layer = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read config ({err})") from None
        update_config(config, layer)
    return validate_config(config)


def nwb_path(config: dict, session: str) -> str:
    """Where the session's NWB file lives for the configured source (nwb_dir's sessions are in
    nwb_files once the config is validated)."""
    source = config["source"]
    if source == "simulated":
        return f"resources/simulated/{session}.nwb"
    if source == "allen":
        return f"resources/allen/sessions/{session}.nwb"
    if source == "dandi":
        return dandi_session_file(config, session)
    return config["nwb_files"][session]
