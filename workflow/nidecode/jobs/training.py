"""One entry point for every trained-network job of the workflow (the rules share one script).

The job's decoder (``network`` on neural images, ``raster_network`` on raster images) and its
wildcards say what to train and on what: a fold of one animal (``session``, ``fold``, with
``mode``, ``analysis``, ``control`` or a transfer-learning ``variant``) or a cross-animal
``combo``. Every seed of ``decoding.dnn.seeds`` trains; accuracies are averaged over them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from nidecode.common.analyses import Analysis
from nidecode.common.errors import NidecodeError
from nidecode.common.io import open_netcdf, write_netcdf
from nidecode.decoders.network import DNNSettings
from nidecode.decoders.registry import get
from nidecode.evaluation.metrics import combine_seeds, write_metrics
from nidecode.jobs.runner import cross, within
from nidecode.jobs.scope import Scope


def train_job(decoder: str, wildcards: Mapping[str, str], inputs: Any, outputs: Sequence[str],
              config: dict, label_files: dict[str, str], workdir: str) -> dict:
    """Train ``decoder`` over every seed of ``decoding.dnn.seeds`` for the job ``wildcards``
    name, write its outputs (metrics, and across animals the test trials' ``W``) and return
    its metrics (:func:`combine_seeds`)."""
    stimuli = open_netcdf(inputs.stimuli)
    scope = Scope.from_config(config, stimuli, label_files, split=wildcards["split"])
    if not get(decoder).trains_network:
        raise NidecodeError(f"decoder {decoder!r} is not a trained network")
    base = replace(DNNSettings.from_config(config),
                   **transfer_overrides(config, wildcards.get("variant")))
    seeds = list(config["decoding"]["dnn"]["seeds"] or [base.seed])
    if "combo" in wildcards:
        m, test_weights = cross(
            [open_netcdf(p) for p in inputs.train], [open_netcdf(p) for p in inputs.test],
            stimuli, wildcards["mode"], scope, config["decoding"]["calibration_fraction"],
            decoder, seeds=tuple(seeds), combo=wildcards["combo"], network=base,
            workdir=Path(workdir))
        write_netcdf(test_weights, outputs[1])  # the first seed's predictions, for the figures
    else:
        ds = open_netcdf(inputs.responses)
        runs = []
        for seed in seeds:
            # One checkpoint folder per seed when there are several: each resumes on its own.
            seed_dir = Path(workdir) / f"seed{seed}" if len(seeds) > 1 else Path(workdir)
            runs.append(within(
                ds, stimuli, int(wildcards["fold"]), scope, decoder,
                analysis=wildcards.get("analysis", "main"),
                mode=wildcards.get("mode", "train") if get(decoder).inputs == "weights" else None,
                control=wildcards.get("control", "none"), network=replace(base, seed=seed),
                workdir=seed_dir))
            if wildcards.get("variant"):
                runs[-1]["analysis"] = Analysis.transfer(wildcards["variant"]).name
        m = combine_seeds(runs)
    write_metrics(m, outputs[0])
    return m


def transfer_overrides(config: dict, variant: str | None) -> dict:
    """Network settings of one transfer-learning variant (``decoding.transfer``), or none."""
    if not variant:
        return {}
    t = config["decoding"]["transfer"]
    shared = {k: t[k] for k in ("image_size", "epochs", "lr", "batch_size") if t.get(k)}
    return {**shared, **t["variants"][variant]}
