"""One entry point for every GoogLeNet job of the workflow (the rules share one script).

The rule's name says what to train; the wildcards say on what. Neural images come from ``W``
built here from the responses (one route for W: :func:`nidecode.decode.within_weights_dataset`
for within-animal jobs, :func:`nidecode.neural_images.cross_animal_weights` across animals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .decode import Scope, dnn_cross, dnn_within, raster_within, within_weights_dataset
from .dnn import DNNSettings
from .errors import NidecodeError
from .io import open_netcdf, write_netcdf
from .metrics import write_metrics

TRAINING_RULES = ("dnn_within", "dnn_cross", "dnn_control", "dnn_analysis", "raster_within")


def train_job(rule: str, wildcards: Mapping[str, str], inputs: Any, outputs: Sequence[str],
              config: dict, label_files: dict[str, str], workdir: str) -> dict:
    """Run the training job of ``rule`` and write its outputs; return its metrics."""
    if rule not in TRAINING_RULES:
        raise NidecodeError(f"rule {rule!r} is not a training rule ({TRAINING_RULES})")
    stimuli = open_netcdf(inputs.stimuli)
    scope = Scope.from_config(config, stimuli, label_files, split=wildcards["split"])
    settings = DNNSettings.from_config(config)
    if rule == "dnn_cross":
        m, test_weights = dnn_cross(
            [open_netcdf(p) for p in inputs.train], [open_netcdf(p) for p in inputs.test],
            stimuli, wildcards["mode"], settings, workdir,
            config["decoding"]["calibration_fraction"], scope, combo=wildcards["combo"])
        write_netcdf(test_weights, outputs[1])
        write_metrics(m, outputs[0])
        return m
    ds = open_netcdf(inputs.responses)
    fold = int(wildcards["fold"])
    if rule == "raster_within":
        m = raster_within(ds, stimuli, fold, scope, settings, workdir)
    else:
        control = wildcards.get("control", "none")
        kind, _, k = control.partition("-")
        weights = within_weights_dataset(
            ds, stimuli, scope, wildcards.get("mode", "train"),
            analysis=wildcards.get("analysis", "main"),
            response_shuffle=control == "response_shuffle",
            relabelling=int(k) if kind == "relabel" else None)
        m = dnn_within(weights, stimuli, fold, settings, workdir,
                       label_shuffle=int(k) if kind == "label_shuffle" else None)
    write_metrics(m, outputs[0])
    return m
