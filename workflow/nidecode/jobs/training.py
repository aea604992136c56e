"""One entry point for every GoogLeNet job of the workflow (the rules share one script).

The rule's name says what to train; the wildcards say on what. Neural images come from ``W``
built here from the responses (one route for W: :func:`nidecode.jobs.decode.within_weights_dataset`
for within-animal jobs, :func:`nidecode.images.neural_images.cross_animal_weights` across animals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from nidecode.common.errors import NidecodeError
from nidecode.common.io import open_netcdf, write_netcdf
from nidecode.decoders.network import DNNSettings
from nidecode.evaluation.metrics import combine_seeds, write_metrics
from nidecode.jobs.decode import Scope, dnn_cross, dnn_within, raster_within, within_weights_dataset

TRAINING_RULES = ("dnn_within", "dnn_cross", "dnn_control", "dnn_analysis", "raster_within",
                  "dnn_transfer")


def train_job(rule: str, wildcards: Mapping[str, str], inputs: Any, outputs: Sequence[str],
              config: dict, label_files: dict[str, str], workdir: str) -> dict:
    """Run the training job of ``rule`` over every seed of ``decoding.dnn.seeds`` and write its
    outputs; return its metrics (:func:`combine_seeds`)."""
    if rule not in TRAINING_RULES:
        raise NidecodeError(f"rule {rule!r} is not a training rule ({TRAINING_RULES})")
    stimuli = open_netcdf(inputs.stimuli)
    scope = Scope.from_config(config, stimuli, label_files, split=wildcards["split"])
    base = DNNSettings.from_config(config)
    overrides = transfer_overrides(config, wildcards.get("variant"))
    seeds = list(config["decoding"]["dnn"]["seeds"] or [base.seed])
    # Inputs (and W) do not depend on the network's seed: read and built once per job.
    if rule == "dnn_cross":
        train_ds = [open_netcdf(p) for p in inputs.train]
        test_ds = [open_netcdf(p) for p in inputs.test]
    else:
        ds = open_netcdf(inputs.responses)
        weights = None if rule == "raster_within" else _weights(wildcards, ds, stimuli, scope)
    runs, test_weights = [], None
    for seed in seeds:
        settings = replace(base, seed=seed, **overrides)
        # One checkpoint folder per seed when there are several: each resumes on its own.
        seed_dir = Path(workdir) / f"seed{seed}" if len(seeds) > 1 else Path(workdir)
        if rule == "dnn_cross":
            m, w = dnn_cross(train_ds, test_ds, stimuli, wildcards["mode"], settings, seed_dir,
                             config["decoding"]["calibration_fraction"], scope,
                             combo=wildcards["combo"])
            test_weights = test_weights or w  # the first seed's predictions go to the figures
        elif rule == "raster_within":
            m = raster_within(ds, stimuli, int(wildcards["fold"]), scope, settings, seed_dir)
        else:
            kind, _, k = wildcards.get("control", "none").partition("-")
            m = dnn_within(weights, stimuli, int(wildcards["fold"]), settings, seed_dir,
                           label_shuffle=int(k) if kind == "label_shuffle" else None)
            if wildcards.get("variant"):
                m["analysis"] = f"transfer-{wildcards['variant']}"
        runs.append(m)
    m = combine_seeds(runs)
    if rule == "dnn_cross":
        write_netcdf(test_weights, outputs[1])
    write_metrics(m, outputs[0])
    return m


def _weights(wildcards: Mapping[str, str], ds, stimuli, scope: Scope):
    """W of every fold for a within-animal job: its mode, analysis and control."""
    control = wildcards.get("control", "none")
    kind, _, k = control.partition("-")
    return within_weights_dataset(
        ds, stimuli, scope, wildcards.get("mode", "train"),
        analysis=wildcards.get("analysis", "main"),
        response_shuffle=control == "response_shuffle",
        relabelling=int(k) if kind == "relabel" else None)


def transfer_overrides(config: dict, variant: str | None) -> dict:
    """DNN settings of one transfer-learning variant (``decoding.transfer``), or none."""
    if not variant:
        return {}
    t = config["decoding"]["transfer"]
    shared = {k: t[k] for k in ("image_size", "epochs", "lr", "batch_size") if t.get(k)}
    return {**shared, **t["variants"][variant]}
