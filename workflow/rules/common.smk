# Configuration checks and helpers shared by every rule file.
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from nidecode.config import (
    combos,
    cross_batches,
    describe_sessions,
    networks_to_train,
    nwb_path,
    runs_across_animals,
    validate_config,
)
from nidecode.decoders.backbones import missing_weights_errors
from nidecode.common.analyses import analyses_from_config
from nidecode.common.errors import ConfigError
from nidecode.evaluation.splits import parse_combo
from nidecode.common.constants import COMBO_PATTERN, FIGURES, MALLOC_REUSE

try:
    validate_config(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

# Which sessions this run decodes, from where, and in which roles: said before anything runs
# (own files are named <subject>_<session id> from the file itself).
if not os.environ.get("NIDECODE_QUIET"):
    print("\n".join("nidecode: " + line for line in describe_sessions(config)), file=sys.stderr)

# Every job inherits these (a user's own values win). glibc returns large freed blocks to the
# kernel at once, so the next array of that size is fresh memory, paid page by page: on some
# virtual machines that runs at ~100 MB/s and costs more than the arithmetic. Keeping freed
# blocks for reuse changes no number (docs/benchmarks.md, "Memory reuse").
for _name, _value in MALLOC_REUSE.items():
    os.environ.setdefault(_name, _value)

SESSIONS = list(config["sessions"])
SOURCE = config["source"]
# download_dandi's output pattern (source dandi), and whether render_stimuli needs Allen's
# natural-scene templates (download_scene_templates, AllenSDK): sources allen and dandi.
from nidecode.data.sources import dandi_session_file, uses_allen_scenes
from nidecode.jobs.resources import CPU_JOB_MB, cross_memory_mb, svc_budget, within_memory_mb

DANDI_SESSION_FILE = dandi_session_file(config, "{session}")
ALLEN_SCENES = uses_allen_scenes(SOURCE)
DECODING = config["decoding"]
PS_MODES = list(DECODING["ps_modes"])
FOLDS = list(range(DECODING["n_folds"]))
# The split every decoder uses, then the splits it is compared with (GLM, readout, network).
SPLIT = DECODING["split"]
SPLITS = [SPLIT] + [s for s in DECODING["compare_splits"] if s != SPLIT]
DNN_FOLDS = FOLDS if DECODING["dnn_folds"] is None else list(DECODING["dnn_folds"])
TRANSFER_SESSIONS = (SESSIONS if DECODING["transfer"]["sessions"] is None
                     else list(DECODING["transfer"]["sessions"]))
COMPARE_DNN_SESSIONS = (SESSIONS if DECODING["compare_dnn_sessions"] is None
                        else list(DECODING["compare_dnn_sessions"]))
COMBOS = combos(config)
# Combos one network job trains in one process (decoding.dnn.cross_batch_size): id -> combos.
CROSS_BATCHES = cross_batches(config)
RASTER_SESSIONS = DECODING["raster"]["sessions"] or SESSIONS
DNN_THREADS = DECODING["dnn"]["threads"]
BASELINE_THREADS = DECODING["baseline_threads"]
# The SVCs' trial budget: above it they fit an ensemble whose kernels it bounds.
SVC_BUDGET = svc_budget(DECODING["baselines"])
CONTROLS = config["controls"]
# The GLM's extra analyses (records: nidecode.common.analyses), by name for wildcards and params.
ANALYSES = [a.name for a in analyses_from_config(config)]
DNN_ANALYSIS_SESSIONS = config["analyses"]["dnn"]["sessions"]
# Every preferred-stimulus mode some job uses (the null animal and controls use both).
ALL_PS_MODES = sorted(set(PS_MODES) | (set(CONTROLS["ps_modes"]) if CONTROLS["sessions"] or
                                       CONTROLS["null_sessions"] else set()))
DNN_CONTROLS = (["response_shuffle"] if CONTROLS["dnn_response_shuffle"] else []) + [
    f"label_shuffle-{k}" for k in range(CONTROLS["dnn_label_shuffles"])] + [
    f"relabel-{k}" for k in range(CONTROLS["dnn_block_relabellings"])]


def _resolve(path):
    """Config paths relative to the working directory, else to the workflow's folder."""
    p = Path(path)
    return str(p if p.is_absolute() or p.exists() else Path(workflow.basedir) / p)


LABEL_FILES = {name: _resolve(path) for name, path in config["labels"].items()}
FIGURE_SESSION = config["figures"]["session"] or SESSIONS[0]
# Per-job needs for cluster executors; memory and time grow with each retry (attempt).
TRAINING_RESOURCES = dict(
    gpu=DECODING["dnn"]["gpus"],
    mem_mb=lambda wc, attempt: DECODING["dnn"]["mem_mb"] * attempt,
    # A cross-animal batch trains several combos one after another: time for each.
    runtime=lambda wc, attempt: DECODING["dnn"]["runtime_min"] * attempt
    * len(CROSS_BATCHES.get(wc.get("batch"), [None])),
)
CPU_RESOURCES = dict(
    mem_mb=lambda wc, attempt: CPU_JOB_MB * attempt,
    runtime=lambda wc, attempt: 30 * attempt,
)
# ImageNet weights are read from this cache only; fetch_weights fills it on a connected node.
TORCH_HOME = DECODING["dnn"]["torch_home"] or os.environ.get("TORCH_HOME") or "resources/torch"
# Weights a network asks for and cannot have: said at parsing (dry runs too), and a run that
# would train such a network stops before its first job (onstart) instead of minutes in.
for _error in missing_weights_errors(networks_to_train(config), TORCH_HOME):
    print(f"nidecode: WARNING: {_error}", file=sys.stderr)


onstart:
    # Every training rule runs dnn_train.py; a transfer job names its variant.
    _errors = missing_weights_errors(networks_to_train(config, [
        job.wildcards.get("variant") for job in workflow.dag.needrun_jobs()
        if str(job.rule.script or "").endswith("dnn_train.py")]), TORCH_HOME)
    if _errors:
        raise WorkflowError("\n".join(_errors))


wildcard_constraints:
    session="|".join(SESSIONS),
    mode="|".join(ALL_PS_MODES),
    analysis=r"[A-Za-z0-9_+\-]+",
    control="|".join(DNN_CONTROLS) or "none",
    fold="|".join(str(f) for f in FOLDS),
    split="|".join(SPLITS),
    variant="|".join(DECODING["transfer"]["variants"]) or "none",
    combo=COMBO_PATTERN,
    batch=rf"{COMBO_PATTERN}|batch\d+",


def combo_responses(combo):
    """Responses files of a combo's training and test animals."""
    train, test = parse_combo(combo)
    return ([f"results/responses/{s}.nc" for s in train],
            [f"results/responses/{s}.nc" for s in test])


def batch_responses(batch):
    """Responses files of every animal a cross-animal batch trains or tests on."""
    animals = {a for combo in CROSS_BATCHES[batch] for part in parse_combo(combo) for a in part}
    return [f"results/responses/{s}.nc" for s in sorted(animals)]


def decode_jobs():
    """Every decoding job of the configuration: (rule, its metrics file).

    Everything runs in the main split; the compared splits add the GLM (with the top-stimulus
    readout), the blank-presentation and gabor-epoch drift controls for every session, and the network within
    animal for COMPARE_DNN_SESSIONS.
    """
    null = CONTROLS["null_sessions"]
    jobs = []

    def add(rule, pattern, **wildcards):
        jobs.extend((rule, path) for path in expand(pattern, **wildcards))

    add("glm_within", "results/decode/{split}/glm/within/{session}.json", split=SPLITS,
        session=SESSIONS)
    # The blank-presentation control beside the GLM, wherever the GLM runs.
    add("blank_control", "results/decode/{split}/blank_control/{session}.json", split=SPLITS,
        session=SESSIONS)
    # The gabor-epoch drift control of every recording, in the same splits.
    add("drift_control", "results/decode/{split}/drift_control/{session}.json", split=SPLITS,
        session=SESSIONS)
    within = "results/decode/{split}/dnn_{mode}/within/{session}/fold{fold}/metrics.json"
    for split, sessions in [(SPLIT, SESSIONS)] + [(s, COMPARE_DNN_SESSIONS) for s in SPLITS[1:]]:
        add("dnn_within", within, split=split, mode=PS_MODES, session=sessions, fold=DNN_FOLDS)
        # The null animal in every mode the controls name (leakage: paper mode should fail).
        add("dnn_within", within, split=split, mode=CONTROLS["ps_modes"],
            session=[s for s in null if s in sessions], fold=DNN_FOLDS)
    # The network's block-relabelling null: every animal, in the main split and its modes.
    if CONTROLS["dnn_relabelling_null"]:
        add("dnn_relabelling_null",
            "results/decode/{split}/dnn_{mode}/relabelling_null/{session}.json", split=SPLIT,
            mode=PS_MODES, session=SESSIONS)
    add("dnn_cross", "results/decode/{split}/dnn_{mode}/cross/{batch}/metrics.json",
        split=SPLIT, mode=PS_MODES, batch=list(CROSS_BATCHES))
    if DECODING["baselines"]:
        add("baselines_within", "results/decode/{split}/baselines/within/{session}.json",
            split=SPLITS, session=SESSIONS)
    if any(runs_across_animals(name) for name in DECODING["baselines"]):
        add("baselines_cross", "results/decode/{split}/baselines/cross/{combo}.json",
            split=SPLIT, combo=COMBOS)
    add("raster_within", "results/decode/{split}/raster/within/{session}/fold{fold}/metrics.json",
        split=SPLIT, session=RASTER_SESSIONS, fold=DNN_FOLDS)
    add("dnn_control",
        "results/decode/{split}/dnn_{mode}/control/{control}/{session}/fold{fold}/metrics.json",
        split=SPLIT, mode=CONTROLS["ps_modes"], control=DNN_CONTROLS,
        session=CONTROLS["sessions"], fold=CONTROLS["folds"])
    if ANALYSES:
        add("glm_analyses", "results/decode/{split}/glm/analyses/{session}.json", split=SPLIT,
            session=SESSIONS)
    transfer = DECODING["transfer"]
    add("dnn_transfer",
        "results/decode/{split}/transfer/{variant}/{mode}/{session}/fold{fold}/metrics.json",
        split=SPLIT, variant=list(transfer["variants"]), mode=PS_MODES,
        session=TRANSFER_SESSIONS, fold=DNN_FOLDS)
    add("dnn_analysis",
        "results/decode/{split}/dnn_analysis/{analysis}/{session}/fold{fold}/metrics.json",
        split=SPLIT, analysis=ANALYSES, session=DNN_ANALYSIS_SESSIONS,
        fold=config["analyses"]["dnn"]["folds"])
    return list(dict.fromkeys(jobs))


def decode_metrics():
    """Every decoding job's metrics file (aggregate's inputs)."""
    return list(dict.fromkeys(path for _, path in decode_jobs()))


def bench(rule, output):
    """Benchmark file of ``rule``'s job that writes ``output`` (a pattern or a path):
    results/benchmarks/<rule>/<the output's path below results/...>.tsv."""
    tail = re.sub(r"^(results|resources)/(decode/)?", "", output)
    tail = re.sub(r"(/metrics)?\.(json|nc|nwb|png|csv|pth)$", "", tail)
    return f"results/benchmarks/{rule}/{tail}.tsv"


# One drift-control job per session writes every split's file: its benchmark is named after
# this pattern.
DRIFT_CONTROL_JOB = "results/decode/drift_control/{session}.json"


def job_benchmarks():
    """Benchmark files of every job aggregate depends on (results/benchmarks.csv)."""
    out = [bench(rule, path) for rule, path in decode_jobs() if rule != "drift_control"]
    out += [bench("drift_control", DRIFT_CONTROL_JOB.format(session=s)) for s in SESSIONS]
    out += [bench("responses", f"results/responses/{s}.nc") for s in SESSIONS]
    out.append(bench("render_stimuli", "results/stimuli.nc"))
    if SOURCE == "simulated":
        out += [bench("simulate_session", f"resources/simulated/{s}.nwb") for s in SESSIONS]
    return list(dict.fromkeys(out))


def session_nwb(wildcards):
    """The NWB file of a session for the configured source."""
    return nwb_path(config, wildcards.session)
