"""One entry point for every trained-network job of the workflow (the rules share one script).

The job's decoder (``network`` on neural images, ``raster_network`` on raster images) and its
wildcards say what to train and on what: a fold of one animal (``session``, ``fold``, with
``mode``, ``analysis``, ``control`` or a transfer-learning ``variant``) or a batch of
cross-animal combos (``decoding.dnn.cross_batch_size`` of them, in one process). Every
seed of ``decoding.dnn.seeds`` trains; accuracies are averaged over them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import xarray as xr

from nidecode.common.analyses import Analysis
from nidecode.common.errors import NidecodeError
from nidecode.common.io import open_netcdf, write_netcdf
from nidecode.decoders.network import DNNSettings
from nidecode.decoders.registry import get
from nidecode.evaluation.metrics import combine_seeds, write_metrics, write_metrics_rows
from nidecode.evaluation.splits import parse_combo
from nidecode.evaluation.statistics import add_statistics
from nidecode.jobs.runner import block_relabelling_null, cross, record, within
from nidecode.jobs.scope import Scope

log = logging.getLogger(__name__)


def train_job(decoder: str, wildcards: Mapping[str, str], inputs: Any, outputs: Sequence[str],
              config: dict, label_files: dict[str, str], workdir: str,
              combos: Sequence[str] = (), null: str | None = None) -> dict:
    """Train ``decoder`` over every seed of ``decoding.dnn.seeds`` for the job ``wildcards``
    name, write its outputs and return its metrics (:func:`combine_seeds`; across animals the
    batch's first combo's).

    Within one animal: one fold (``wildcards``). Across animals: every combo in ``combos`` (a
    batch, :func:`train_cross_batch`), writing their metrics and test trials' ``W``.
    ``null="block_relabelling"``: the animal's block-relabelling null
    (:func:`relabelling_null_job`)."""
    stimuli = open_netcdf(inputs.stimuli)
    scope = Scope.from_config(config, stimuli, label_files, split=wildcards["split"])
    if not get(decoder).trains_network:
        raise NidecodeError(f"decoder {decoder!r} is not a trained network")
    base = replace(DNNSettings.from_config(config),
                   **transfer_overrides(config, wildcards.get("variant")))
    seeds = list(config["decoding"]["dnn"]["seeds"] or [base.seed])
    if combos:
        rows, test_weights = train_cross_batch(
            decoder, list(combos), list(inputs.responses), stimuli, scope, wildcards["mode"],
            config["decoding"]["calibration_fraction"], base, seeds, Path(workdir))
        if len(rows) == 1:
            write_metrics(rows[0], outputs[0])  # a batch of one: the combo's own record
        else:
            write_metrics_rows([add_statistics(r) for r in rows], outputs[0])
        write_netcdf(test_weights, outputs[1])  # the first seed's predictions, for the figures
        return rows[0]
    ds = open_netcdf(inputs.responses)
    if null == "block_relabelling":
        m = relabelling_null_job(decoder, ds, stimuli, scope, wildcards["mode"], config, base,
                                 tuple(seeds))
        write_metrics_rows([m], outputs[0])  # a null, not a fit: no interval or binomial p
        return m
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


def train_cross_batch(decoder: str, combos: list[str], responses: list[str],
                      stimuli: xr.Dataset, scope: Scope, mode: str, calibration_fraction: float,
                      network: Any, seeds: list[int], workdir: Path
                      ) -> tuple[list[dict], xr.Dataset]:
    """Train ``decoder`` on each cross-animal combo of a batch, in this process: each animal's
    responses are read once and its ``W`` built once (per role and calibration seed).

    Each combo checkpoints in ``workdir/<combo>``. A combo that fails is logged and the others
    still train; the job then fails naming it, so Snakemake reruns the batch: the combos that
    finished resume from their last epoch's checkpoint (they predict without training again),
    and only the failed one trains. Returns each combo's metrics and the test trials' ``W``,
    label and prediction of every combo (coordinate ``combo``)."""
    files = {Path(p).stem: p for p in responses}
    loaded: dict[str, xr.Dataset] = {}

    def animals(names: list[str]) -> list[xr.Dataset]:
        for name in names:
            if name not in loaded:
                loaded[name] = open_netcdf(files[name])
        return [loaded[name] for name in names]

    cache: dict = {}
    rows, tests, failed = [], [], []
    for combo in combos:
        train, test = parse_combo(combo)
        try:
            m, w = cross(animals(train), animals(test), stimuli, mode, scope,
                         calibration_fraction, decoder, seeds=tuple(seeds), combo=combo,
                         network=network, workdir=workdir / combo, cache=cache)
        except Exception as err:  # one combo's failure does not stop its batch
            log.exception("combo %s failed", combo)
            failed.append(f"{combo} ({type(err).__name__}: {err})")
            continue
        m["cross_batch"] = combos
        rows.append(m)
        tests.append(w.assign_coords(combo=("trial", [combo] * w.sizes["trial"])))
        log.info("combo %s: accuracy %.3f (%d of %d in this batch)", combo, m["accuracy"],
                 len(rows), len(combos))
    if failed:
        raise NidecodeError(
            f"{len(failed)} of {len(combos)} combos failed: {'; '.join(failed)}. Rerun: the "
            "others resume from their checkpoints without training, the failed ones train")
    weights = xr.concat(tests, dim="trial", combine_attrs="drop_conflicts")
    weights.attrs.update(combo=",".join(combos), ps_mode=mode)
    return rows, weights


def transfer_overrides(config: dict, variant: str | None) -> dict:
    """Network settings of one transfer-learning variant (``decoding.transfer``), or none."""
    if not variant:
        return {}
    t = config["decoding"]["transfer"]
    shared = {k: t[k] for k in ("image_size", "epochs", "lr", "batch_size") if t.get(k)}
    return {**shared, **t["variants"][variant]}


def relabelling_null_job(decoder: str, ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope,
                         mode: str, config: dict, network: DNNSettings, seeds: tuple[int, ...]
                         ) -> dict:
    """The network's time-respecting test on one animal: its block-relabelling null
    (:func:`nidecode.jobs.runner.block_relabelling_null`) on the folds the network runs on
    (``decoding.dnn_folds``), every seed, every whole-block relabelling (at most
    ``controls.dnn_relabellings``, else ``controls.block_relabellings``), the true labels
    refitted as the observed statistic.

    Fits on the same training blocks share their frozen features, so the null costs a feature
    pass per distinct training set (at most 5 for fold 0 of Allen's 3 + 3 blocks: fold 0 holds
    out the first block) and a linear head per fit; nothing is checkpointed. The record's
    ``p_time`` and null go to the network's main rows of this animal, split and mode, and to
    the group test across animals (:mod:`nidecode.report.aggregate`)."""
    import time

    t0 = time.perf_counter()
    d = config["decoding"]
    folds = list(range(scope.n_folds)) if d["dnn_folds"] is None else list(d["dnn_folds"])
    c = config["controls"]
    null = block_relabelling_null(ds, stimuli, scope, decoder, mode=mode,
                                  max_relabellings=c["dnn_relabellings"] or c["block_relabellings"],
                                  network=network, seeds=seeds, folds=folds)
    if not null:
        raise NidecodeError(f"{ds.attrs['animal']}: the labels vary within stimulus blocks, so "
                            "there is no whole-block relabelling null; set "
                            "controls.dnn_relabelling_null: false")
    sel = scope.select(ds, stimuli)
    return record(ds, sel, scope, t0, model=network.arch, inputs="neural_image", ps_mode=mode,
                  control="block_relabelling_null", fold=None, n_folds=scope.n_folds,
                  seeds=list(seeds),
                  arch=network.arch, finetune=network.finetune, image_size=network.image_size,
                  epochs=network.epochs, image_channels=network.image_channels, **null)
