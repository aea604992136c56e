"""Decoding jobs: GLM and GoogLeNet, within one animal and across animals, and controls.

Each function takes labelled responses (``results/responses/{session}.nc``) and the stimulus
table, chooses units, trials and labels through :func:`nidecode.data.selection.select`, and returns
the metrics dict of one job (docs/method.md §3–6).
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from nidecode.common.analyses import Analysis
from nidecode.common.errors import NidecodeError
from nidecode.data.selection import Selection, select
from nidecode.decoders.reference import Decoder, glm, row_standardise
from nidecode.decoders.reference import get as get_decoder
from nidecode.evaluation.metrics import JobRecord, classification_metrics, combine_seeds
from nidecode.evaluation.splits import (
    Split,
    block_id,
    block_relabellings,
    calibration,
    check_classes,
    fold_masks,
    labels_constant_within_blocks,
    train_mask,
    within_block_permutation,
)
from nidecode.evaluation.statistics import add_statistics, permutation_p
from nidecode.images.neural_images import (
    PS_MODES,
    PSMode,
    cross_animal_weights,
    within_animal_weights,
)

if TYPE_CHECKING:  # torch loads only in the jobs that train (GLM jobs start faster)
    from nidecode.decoders.network import DNNSettings


@dataclass(frozen=True)
class Scope:
    """What every decoding job shares: areas, label maps, arousal threshold, seed, folds, split.

    ``split``: ``block`` holds out whole stimulus blocks (default: immune to slow drift),
    ``trial`` draws trials at random (the published recipe).
    """

    areas: tuple[str, ...] = ("VISp",)
    label_maps: dict = field(default_factory=dict)
    running_threshold: float = 5.0
    seed: int = 0
    n_folds: int = 3
    split: Split = "block"

    @classmethod
    def from_config(cls, config: dict, stimuli: xr.Dataset,
                    label_files: dict[str, str] | None = None, split: str | None = None) -> Scope:
        """The config's scope, with label maps read from files; ``split`` overrides
        ``decoding.split`` (the trial- vs block-split comparison)."""
        from nidecode.data.selection import read_label_map

        maps = {name: read_label_map(path, stimuli) for name, path in (label_files or {}).items()}
        d = config["decoding"]
        return cls(areas=tuple(d["areas"]), label_maps=maps,
                   running_threshold=config["analyses"]["running_threshold_cm_s"],
                   seed=d["seed"], n_folds=d["n_folds"], split=split or d["split"])

    def select(self, ds: xr.Dataset, stimuli: xr.Dataset, analysis: str = "main") -> Selection:
        return select(ds, stimuli, analysis, list(self.areas), self.label_maps,
                      self.running_threshold, self.seed)

    def train_mask(self, sel: Selection, fold: int, y: np.ndarray | None = None,
                   group: np.ndarray | None = None) -> np.ndarray:
        """Training mask of ``fold`` for the selection (``y``/``group``: a relabelling)."""
        y = sel.y if y is None else y
        block, name = _blocks(sel, self.split)
        group = name if group is None else group
        train = train_mask(self.split, y, block, group, self.n_folds, fold, self.seed,
                           sel.info.get("animal", ""))
        check_classes(y, train, len(sel.names), f"{sel.info.get('animal', '?')} "
                      f"{sel.info.get('analysis', '')} fold {fold} ({self.split} split)")
        return train


def analysis_folds(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope,
                   analysis: str = "main") -> Scope:
    """The scope ``analysis`` runs in: ``scope``, or under the block split with fewer folds
    where the analysis's trials (a running state) lie in fewer blocks of some stimulus than
    ``decoding.n_folds``: leave-one-block-out over the blocks they have, at least 2."""
    if scope.split != "block" or Analysis.of(analysis).kind != "arousal":
        return scope
    sel = scope.select(ds, stimuli, analysis)
    block, name = _blocks(sel, "block")
    have = {g: len(set(block[name == g].tolist())) for g in sorted(set(name.tolist()))}
    fewest = min(have.values())
    if fewest < 2:
        raise NidecodeError(
            f"{ds.attrs.get('animal', '?')} {analysis}: its trials lie in {have} blocks "
            "(stimulus -> blocks); the block split needs at least 2 of each to hold one out")
    return replace(scope, n_folds=min(scope.n_folds, fewest))


def _blocks(sel: Selection, split: str) -> tuple[np.ndarray, np.ndarray]:
    if sel.block is None or sel.stimulus_name is None:
        if split == "block":
            raise NidecodeError(
                f"{sel.info.get('animal', '?')}: responses have no stimulus_block coordinate, "
                "so whole blocks cannot be held out. Rerun the responses rule (older responses "
                "files lack it) or set decoding.split: trial.")
        n = len(sel.y)
        return np.zeros(n), np.zeros(n).astype(str)
    return sel.block, sel.stimulus_name


def _record(ds: xr.Dataset, sel: Selection, scope: Scope, t0: float, **fields) -> dict:
    """The :class:`JobRecord` of a within-animal job on selection ``sel``, as a dict, with the
    selection's own details (analysis, arousal counts, ...) and the blocks it spans."""
    fields.setdefault("split", scope.split)
    fields.setdefault("seed", scope.seed)
    info = {k: v for k, v in sel.info.items() if k not in ("animal", "areas_used", "analysis")}
    record = JobRecord(
        task="within", source=ds.attrs["source"], session=ds.attrs["animal"],
        analysis=fields.pop("analysis", sel.info.get("analysis", "main")),
        n_units=[int(sel.unit_mask.sum())], areas_used=sel.info.get("areas_used"),
        baseline=ds.attrs.get("baseline_method"),
        wall_time_s=round(time.perf_counter() - t0, 3),
        **{k: v for k, v in fields.items() if k in JobRecord.__dataclass_fields__})
    extra = {k: v for k, v in fields.items() if k not in JobRecord.__dataclass_fields__}
    n_blocks = None if sel.block is None else int(len(np.unique(sel.block)))
    return {**record.asdict(), "n_blocks": n_blocks, **info, **extra}


def _balanced(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Balanced accuracy (mean recall over the classes present)."""
    recalls = [np.mean(y_pred[y_true == c] == c) for c in range(n_classes) if (y_true == c).any()]
    return float(np.mean(recalls))


def _leave_out(sel: Selection, split: str) -> np.ndarray | None:
    """What a training trial's own image leaves out in ``train`` mode: its whole stimulus block
    under the block split (block-mates share its drift and label, test trials have none of
    them), itself alone under the trial split."""
    return sel.block if split == "block" and sel.block is not None else None


def _weights(sel: Selection, train: np.ndarray, mode: PSMode, n_stimuli: int, split: str,
             response: np.ndarray | None = None) -> np.ndarray:
    """``W`` of every selected trial for one training mask. In ``train`` mode the responses are
    z-scored with the training trials' baseline windows and each training trial's image
    leaves out its block (block split); ``paper`` mode is transductive, as published."""
    if mode == "paper":
        r = sel.response if response is None else response
        return within_animal_weights(r, sel.stimulus_index, n_stimuli, train, mode)
    r = sel.training_response(train) if response is None else response
    return within_animal_weights(r, sel.stimulus_index, n_stimuli, train, mode,
                                 _leave_out(sel, split))


def _decoder_inputs(dec: Decoder, sel: Selection, train: np.ndarray, mode: PSMode | None,
                    n_stimuli: int, split: str) -> np.ndarray:
    """What decoder ``dec`` reads for one training mask: the responses, or ``W`` built from
    that mask in preferred-stimulus ``mode`` (:func:`_weights`)."""
    if dec.inputs == "responses":
        return sel.response
    if mode is None:
        raise ValueError(f"decoder {dec.name} reads W: give a preferred-stimulus mode")
    return _weights(sel, train, mode, n_stimuli, split)


def decoder_within(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, scope: Scope,
                   name: str = "glm", params: dict | None = None, analysis: str = "main",
                   mode: PSMode | None = None, n_permutations: int = 0,
                   n_within_block: int = 0) -> dict:
    """Decoder ``name`` (:mod:`nidecode.decoders.reference`) on fold ``fold`` of ``scope.split``.

    ``params``: the decoder's keyword arguments; ``mode``: the preferred-stimulus mode of a
    decoder that reads ``W``. With ``n_permutations`` the training labels are shuffled that
    many times (seeded) and the refitted models' test accuracies form the label-shuffle null
    (``null_accuracies``). It ignores time, so it is valid only when trials are exchangeable
    (no slow drift). With ``n_within_block`` and labels that vary within blocks (sub-classes),
    the test labels are permuted among the trials of each block that many times, against the
    fixed predictions: a randomisation test that respects time (``p_time`` on balanced
    accuracy).
    """
    t0 = time.perf_counter()
    dec, params = get_decoder(name), dict(params or {})
    sel = scope.select(ds, stimuli, analysis)
    y = sel.y
    train = scope.train_mask(sel, fold)
    x = _decoder_inputs(dec, sel, train, mode, stimuli.sizes["stimulus"], scope.split)

    def fit(labels: np.ndarray) -> np.ndarray:
        return dec.fit_predict(x[train], labels, x[~train], **params)

    y_pred = fit(y[train])
    out = classification_metrics(y[~train], y_pred, sel.names)
    rng = np.random.default_rng([scope.seed, fold, 7919])
    null = [float(np.mean(fit(rng.permutation(y[train])) == y[~train]))
            for _ in range(n_permutations)]
    extra: dict = {}
    if n_within_block and sel.block is not None and not labels_constant_within_blocks(
            y, sel.block):
        prng = np.random.default_rng([scope.seed, fold, 6007])
        yt, bt = y[~train], sel.block[~train]
        obs = _balanced(yt, y_pred, len(sel.names))
        time_null = [_balanced(within_block_permutation(yt, bt, prng), y_pred, len(sel.names))
                     for _ in range(n_within_block)]
        extra = {"time_null": "within_block_permutation", "n_time_null": n_within_block,
                 "p_time": permutation_p(obs, np.asarray(time_null)),
                 "time_null_statistic": "balanced accuracy of the fold"}
    inputs = "responses" if dec.inputs == "responses" else "neural_image_weights"
    out.update(_record(ds, sel, scope, t0, model=name, inputs=inputs, ps_mode=mode, fold=fold,
                       n_folds=scope.n_folds, n_train=int(train.sum()), null_accuracies=null,
                       decoder_params=params, **params, **extra))
    return out


def glm_within(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, scope: Scope, C: float = 1.0,
               analysis: str = "main", n_permutations: int = 0,
               n_within_block: int = 0) -> dict:
    """The paper's GLM (L2 logistic regression on z-scored responses) on fold ``fold``:
    :func:`decoder_within` with decoder ``glm``."""
    return decoder_within(ds, stimuli, fold, scope, "glm", {"C": C}, analysis,
                          n_permutations=n_permutations, n_within_block=n_within_block)


def decoder_block_relabelling(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope,
                              name: str = "glm", params: dict | None = None,
                              analysis: str = "main", max_relabellings: int = 1000,
                              mode: PSMode | None = None) -> dict:
    """The time-respecting null of a block design: refit on whole-block relabellings.

    Every other assignment of the classes to whole stimulus blocks (each block keeps its trials
    and their drift) is decoded by decoder ``name`` with the same split and folds rebuilt from
    the pseudo-classes (``W`` rebuilt from each fold's training trials); the statistic is the
    balanced accuracy pooled over all folds. ``p_time`` = (1 + #relabellings scoring at least
    the observed) / (1 + #relabellings): with three blocks per class there are 9 (renaming the
    classes gives the same decoding), so p >= 0.1 in one session (see
    :func:`nidecode.evaluation.statistics.group_relabelling_p` for a test across animals).
    Returns {}
    when labels vary within blocks (use the within-block permutation of
    :func:`decoder_within` instead).
    """
    dec, params = get_decoder(name), dict(params or {})
    sel = scope.select(ds, stimuli, analysis)
    y = sel.y
    block, _ = _blocks(sel, "block")
    if not labels_constant_within_blocks(y, block):
        return {}
    names = np.array(sel.names)
    n_stim = stimuli.sizes["stimulus"]

    def pooled(labels: np.ndarray) -> float:
        group = names[labels]  # pseudo-classes define the block folds
        y_true, y_hat = [], []
        for k in range(scope.n_folds):
            train = scope.train_mask(sel, k, labels, group)
            x = _decoder_inputs(dec, sel, train, mode, n_stim, scope.split)
            y_hat.append(dec.fit_predict(x[train], labels[train], x[~train], **params))
            y_true.append(labels[~train])
        return _balanced(np.concatenate(y_true), np.concatenate(y_hat), len(names))

    observed = pooled(y)
    null = [pooled(lab) for lab in block_relabellings(y, block, max_relabellings, scope.seed)]
    return {"time_null": "block_relabelling", "n_time_null": len(null),
            "p_time": permutation_p(observed, np.asarray(null)),
            "time_null_observed": observed, "time_null_accuracies": null,
            "time_null_statistic": "balanced accuracy pooled over folds"}


def glm_block_relabelling(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, C: float = 1.0,
                          analysis: str = "main", max_relabellings: int = 1000) -> dict:
    """:func:`decoder_block_relabelling` of the GLM."""
    return decoder_block_relabelling(ds, stimuli, scope, "glm", {"C": C}, analysis,
                                     max_relabellings)


def decoders_session(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope,
                     decoders: dict[str, dict], modes: list[str], n_permutations: int = 0,
                     max_relabellings: int = 1000) -> list[dict]:
    """Every fold of every decoder in ``decoders`` (name -> parameters, ``decoding.baselines``)
    on one session in ``scope.split``, with the label-shuffle and block-relabelling nulls the
    GLM gets. Decoders that read ``W`` run once per preferred-stimulus mode in ``modes``."""
    rows = []
    for name, params in decoders.items():
        for mode in ([None] if get_decoder(name).inputs == "responses" else modes):
            folds = [decoder_within(ds, stimuli, k, scope, name, params, mode=mode,
                                    n_permutations=n_permutations)
                     for k in range(scope.n_folds)]
            if max_relabellings:
                null = decoder_block_relabelling(ds, stimuli, scope, name, params,
                                                 max_relabellings=max_relabellings, mode=mode)
                for r in folds:
                    r.update(null)
            rows += [add_statistics(r) for r in folds]
    return rows


def glm_session(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, C: float = 1.0,
                n_permutations: int = 0, max_relabellings: int = 1000,
                time_confound_control: bool = True) -> list[dict]:
    """Every GLM row of one session in ``scope.split``: each fold (label-shuffle null and the
    block-relabelling null), the top-stimulus readout of the neural images in both modes, and
    the time-confound control. Rows carry their statistics."""
    rows = [glm_within(ds, stimuli, k, scope, C, n_permutations=n_permutations)
            for k in range(scope.n_folds)]
    if max_relabellings:
        null = glm_block_relabelling(ds, stimuli, scope, C, max_relabellings=max_relabellings)
        for r in rows:
            r.update(null)
    rows = [add_statistics(r) for r in rows]
    rows += [add_statistics(top_stimulus_readout(ds, stimuli, k, scope, mode))
             for mode in PS_MODES for k in range(scope.n_folds)]
    if time_confound_control:
        rows += [add_statistics(r) for r in time_confound(ds, stimuli, scope, C)]
    return rows


def time_confound(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, C: float = 1.0,
                  n_folds: int = 3) -> list[dict]:
    """How much slow drift a decoder could read: *which block* a trial came from.

    Within one stimulus (the same stimuli in every block, so only time separates the blocks),
    every pair of blocks is decoded by the GLM with a random stratified ``n_folds`` split (as
    a trial-split decoder would see them); predictions are pooled over pairs and folds. Chance
    is 0.5; anything above it is time, not stimulus. One row per stimulus.
    """
    t0 = time.perf_counter()
    sel = scope.select(ds, stimuli)
    block, name = _blocks(sel, "block")
    rows = []
    for stim in sorted(set(name.tolist())):
        ids = sorted(set(block[name == stim].tolist()))
        y_true, y_hat, pairs = [], [], []
        for a, b in itertools.combinations(ids, 2):
            idx = np.flatnonzero(np.isin(block, [a, b]))
            yb = (block[idx] == b).astype(int)
            xb = sel.response[idx]
            for k in range(n_folds):
                train = fold_masks(yb, n_folds, k, scope.seed)
                y_hat.append(glm(xb[train], yb[train], xb[~train], C))
                y_true.append(yb[~train])
            pairs.append(f"{block_id(a)}-{block_id(b)}")
        if not pairs:
            continue
        out = classification_metrics(np.concatenate(y_true), np.concatenate(y_hat),
                                     ["earlier block", "later block"])
        # Within a pair of blocks the trials are drawn at random: a trial split.
        out.update(_record(ds, sel, scope, t0, model="glm", analysis=f"time-{stim}",
                           split="trial", n_folds=n_folds, C=C, block_pairs=pairs))
        rows.append(out)
    return rows


def top_stimulus_readout(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, scope: Scope,
                  mode: PSMode) -> dict:
    """Training-free readout of the neural images: the class of each test image's top stimulus.

    Each image is a weighted sum of the unique stimuli (``W @ U``). Standardise each stimulus's
    weight with the training trials' mean and SD, take the test trial's top-weighted stimulus
    and predict its class. ``own_stimulus_top_fraction`` is how often that top stimulus is the
    very stimulus shown (chance: 1 / number of stimuli). In ``paper`` mode a trial's own
    stimulus enters its image with weight ``||R_t||^2``, so on the null animal both numbers rise
    above chance: the leak, measured without any network. In ``train`` mode they cannot.
    """
    t0 = time.perf_counter()
    sel = scope.select(ds, stimuli)
    train = scope.train_mask(sel, fold)
    n_stim = stimuli.sizes["stimulus"]
    w = _weights(sel, train, mode, n_stim, scope.split)
    z = (w - w[train].mean(0)) / (w[train].std(0) + 1e-9)
    top = np.argmax(z, axis=1)
    stim_class = stimuli.stimulus_class.values.astype(str)
    y_pred = np.searchsorted(sel.names, stim_class[top])
    out = classification_metrics(sel.y[~train], y_pred[~train], sel.names)
    out.update(_record(
        ds, sel, scope, t0, model="readout", inputs="neural_image", fold=fold,
        n_folds=scope.n_folds, n_train=int(train.sum()), ps_mode=mode, analysis=f"readout-{mode}",
        own_stimulus_top_fraction=float(np.mean(top[~train] == sel.stimulus_index[~train])),
        own_stimulus_top_chance=1.0 / n_stim))
    return out


def within_weights_dataset(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, mode: PSMode,
                           analysis: str = "main", response_shuffle: bool = False,
                           relabelling: int | None = None) -> xr.Dataset:
    """``W`` of every fold of one animal, with the fold masks and labels (one file per session).

    ``W[fold]`` (trial, stimulus): the trials' neural images are ``W[fold] @ U``. With
    ``response_shuffle`` each unit's responses are permuted across trials first (seeded): the
    control that keeps every unit's response distribution but breaks its link to the stimulus.
    ``relabelling=k`` replaces the labels by the k-th whole-block relabelling in a seeded
    order (the time-respecting null; in the block split the folds follow the pseudo-classes).
    """
    sel = scope.select(ds, stimuli, analysis)
    idx = sel.stimulus_index
    shuffle = None
    if response_shuffle:  # one permutation of the trials per unit, the same in every fold
        rng = np.random.default_rng([scope.seed, 104729])
        shuffle = np.stack([rng.permutation(len(idx)) for _ in range(sel.response.shape[1])],
                           axis=1)
    n_stim = stimuli.sizes["stimulus"]
    y, group = sel.y, None
    if relabelling is not None:
        block, _ = _blocks(sel, "block")
        options = block_relabellings(sel.y, block, seed=scope.seed)
        if not 0 <= relabelling < len(options):
            raise NidecodeError(f"{ds.attrs['animal']}: block relabelling {relabelling} "
                                f"requested, only {len(options)} exist; lower "
                                "controls.dnn_block_relabellings")
        # A seeded order, so label_shuffle-0..k-1 are a random sample of the relabellings.
        order = np.random.default_rng([scope.seed, 2718]).permutation(len(options))
        y = options[order[relabelling]]
        group = np.array(sel.names)[y]
    trains = np.stack([scope.train_mask(sel, k, y, group) for k in range(scope.n_folds)])

    def fold_weights(train: np.ndarray) -> np.ndarray:
        r = sel.training_response(train) if mode == "train" else sel.response
        if shuffle is not None:
            r = np.take_along_axis(r, shuffle, axis=0)
        return _weights(sel, train, mode, n_stim, scope.split, r)

    w = np.stack([fold_weights(trains[k]) for k in range(scope.n_folds)])
    info = {k: v for k, v in sel.info.items() if isinstance(v, str | int | float)}
    return xr.Dataset(
        {"W": (("fold", "trial", "stimulus"), w.astype(np.float32)),
         "train": (("fold", "trial"), trains),
         "label": ("trial", y)},
        coords={"fold": np.arange(scope.n_folds), "stimulus": np.arange(n_stim),
                "presentation_id": ("trial", ds.presentation_id.values[sel.trial_mask]),
                "stimulus_index": ("trial", idx)},
        attrs={"ps_mode": mode, "label_names": json.dumps(sel.names), "seed": scope.seed,
               "n_folds": scope.n_folds, "animal": ds.attrs["animal"], "split": scope.split,
               "relabelling": -1 if relabelling is None else relabelling,
               "source": ds.attrs["source"], "n_units": int(sel.unit_mask.sum()),
               "baseline": ds.attrs.get("baseline_method", ""),
               "control": "response_shuffle" if response_shuffle else "none", **info,
               "description": "neural images are W[fold] @ U with U = stimuli.nc image; "
                              f"preferred stimuli in '{mode}' mode"},
    )


def dnn_within(weights: xr.Dataset, stimuli: xr.Dataset, fold: int, settings: DNNSettings,
               workdir: Path, label_shuffle: int | None = None) -> dict:
    """GoogLeNet within one animal on fold ``fold``, from that fold's ``W`` and ``U``.

    ``label_shuffle=k`` trains on the k-th seeded permutation of the training labels (one draw
    of the DNN's label-shuffle null).
    """
    t0 = time.perf_counter()
    names = json.loads(weights.attrs["label_names"])
    w = weights.W.values[fold]
    train = weights.train.values[fold]
    y = weights.label.values
    y_train = y[train]
    control = weights.attrs.get("control", "none")
    if int(weights.attrs.get("relabelling", -1)) >= 0:
        control = f"relabel-{int(weights.attrs['relabelling'])}"
    if label_shuffle is not None:
        y_train = np.random.default_rng([settings.seed, fold, label_shuffle]).permutation(y_train)
        control = f"label_shuffle-{label_shuffle}"
    from nidecode.decoders.network import fit_predict

    y_pred, record = fit_predict(w[train], y_train, w[~train], len(names),
                                 stimuli.image.values, settings, workdir)
    out = classification_metrics(y[~train], y_pred, names)
    attrs = weights.attrs
    job = JobRecord(
        model=settings.arch, task="within", source=attrs["source"], split=attrs["split"],
        inputs="neural_image", analysis=attrs.get("analysis", "main"), session=attrs["animal"],
        fold=fold, n_folds=int(attrs["n_folds"]), n_train=int(train.sum()),
        n_units=[int(attrs["n_units"])], areas_used=attrs.get("areas_used"),
        baseline=attrs["baseline"], ps_mode=attrs["ps_mode"], control=control,
        seed=settings.seed, image_size=settings.image_size, epochs=settings.epochs,
        wall_time_s=round(time.perf_counter() - t0, 3))
    shuffle_kind = ("block_relabelling" if int(attrs.get("relabelling", -1)) >= 0 else
                    "trial_label_shuffle" if label_shuffle is not None else None)
    out.update(record)  # the training record: pretrained, device, fit time, ...
    out.update(job.asdict(), pretrained=record["pretrained"], shuffle_kind=shuffle_kind,
               settings=asdict(settings))
    return out


def raster_within(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, scope: Scope,
                  settings: DNNSettings, workdir: Path) -> dict:
    """The paper's temporal raster-image variant: (time bin x unit) counts through GoogLeNet.

    Same model, same folds (same seed and labels) as the neural-image jobs.
    """
    t0 = time.perf_counter()
    if "counts" not in ds:
        raise NidecodeError(
            f"{ds.attrs['animal']}: responses have no time-binned counts; set "
            "responses.time_bin_s in the config for raster images")
    sel = scope.select(ds, stimuli)
    train = scope.train_mask(sel, fold)
    # z-scored counts, as the paper's grey levels: each unit's mean and SD over the training
    # trials' bins, so test trials never inform the scaling. One image is one trial.
    x = sel.counts(ds).astype(np.float32)
    mu = x[train].mean(axis=(0, 1))
    sd = x[train].std(axis=(0, 1))
    x = (x - mu) / np.where(sd > 0, sd, 1.0)
    y = sel.y
    from nidecode.decoders.network import fit_predict

    y_pred, record = fit_predict(x[train], y[train], x[~train], len(sel.names), None, settings,
                                 workdir)
    out = classification_metrics(y[~train], y_pred, sel.names)
    out.update(record)
    out.update(_record(
        ds, sel, scope, t0, model=settings.arch, inputs="raster", fold=fold,
        n_folds=scope.n_folds, n_train=int(train.sum()), seed=settings.seed,
        pretrained=record["pretrained"], image_size=settings.image_size, epochs=settings.epochs,
        time_bin_s=float(ds.time_bin.values[1] - ds.time_bin.values[0]),
        raster="single trial: z-scored counts, units on y, time on x",
        settings=asdict(settings)))
    return out


def cross_weights(train_ds: list[xr.Dataset], test_ds: list[xr.Dataset], stimuli: xr.Dataset,
                  mode: PSMode, scope: Scope, calibration_fraction: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], int]:
    """``W`` and labels of a cross-animal combo: every trial of the training animals, and the
    evaluated trials of the test animals (in ``train`` mode the others, a seeded
    ``calibration_fraction`` of whole blocks or trials, only build their preferred stimuli).
    Returns x_train, y_train, x_test, y_test, the label names and the calibration size."""
    n_stim = stimuli.sizes["stimulus"]
    xs, ys, names = [], [], None
    for ds in train_ds:
        sel = scope.select(ds, stimuli)
        # Every trial of a training animal trains: the session-wide z-scoring is the training
        # trials' own; in train mode each trial's image leaves out its block (block split).
        w, _ = cross_animal_weights(sel.response, sel.stimulus_index, n_stim, "train", mode,
                                    leave_out=_leave_out(sel, scope.split))
        xs.append(w)
        ys.append(sel.y)
        names = sel.names
    xt, yt, n_cal = [], [], 0
    for ds in test_ds:
        sel = scope.select(ds, stimuli)
        if sel.names != names:
            raise NidecodeError(f"test animal {ds.attrs['animal']} has labels {sel.names}, "
                                f"training animals {names}")
        if mode == "train":
            block, name = _blocks(sel, scope.split)
            cal = calibration(scope.split, sel.y, block, name, calibration_fraction, seed,
                              ds.attrs["animal"])
        else:
            cal = None
        # In train mode the test animal is z-scored with its calibration trials' baseline
        # windows: its evaluated trials inform neither its preferred stimuli nor its scaling.
        r = sel.response if cal is None else sel.training_response(cal)
        w, evaluated = cross_animal_weights(r, sel.stimulus_index, n_stim, "test", mode, cal)
        xt.append(w[evaluated])
        yt.append(sel.y[evaluated])
        n_cal += 0 if cal is None else int(cal.sum())
    return (np.concatenate(xs), np.concatenate(ys), np.concatenate(xt), np.concatenate(yt),
            list(names or []), n_cal)


def decoder_cross(train_ds: list[xr.Dataset], test_ds: list[xr.Dataset], stimuli: xr.Dataset,
                  mode: PSMode, scope: Scope, calibration_fraction: float,
                  name: str = "svc_w", params: dict | None = None, seeds: tuple[int, ...] = (0,),
                  combo: str = "", n_permutations: int = 0) -> dict:
    """A decoder that reads ``W`` (:mod:`nidecode.decoders.reference`) trained on some animals and
    tested on others, on the network's trials: the same calibration split for each of
    ``seeds`` (the network's seeds), accuracies averaged over them.

    Scaling across animals: each trial's ``W`` row is z-scored across stimuli
    (:func:`nidecode.decoders.reference.row_standardise`, its own values only), then each stimulus's
    weight is standardised with the training animals' trials. Test trials inform neither the
    fit nor the scaling. ``n_permutations`` label shuffles of the training animals give the
    label-shuffle null of the first seed's split.
    """
    t0 = time.perf_counter()
    dec, params = get_decoder(name), dict(params or {})
    if dec.inputs != "weights":
        raise NidecodeError(f"decoder {name} reads {dec.inputs}, which do not transfer across "
                            "animals (their units differ); only W-based decoders run across "
                            "animals")
    runs, null = [], []
    for i, seed in enumerate(seeds):
        x_train, y_train, x_test, y_test, names, n_cal = cross_weights(
            train_ds, test_ds, stimuli, mode, scope, calibration_fraction, seed)
        a, b = row_standardise(x_train), row_standardise(x_test)
        y_pred = dec.fit_predict(a, y_train, b, **params)
        runs.append({**classification_metrics(y_test, y_pred, names), "seed": seed})
        if i == 0:
            rng = np.random.default_rng([scope.seed, 7919])
            null = [float(np.mean(dec.fit_predict(a, rng.permutation(y_train), b, **params)
                                  == y_test)) for _ in range(n_permutations)]
    out = combine_seeds(runs)  # as the network's seeds are combined
    job = JobRecord(
        model=name, task="cross", source=",".join(sorted(
            {d.attrs["source"] for d in train_ds + test_ds})), split=scope.split,
        inputs="neural_image_weights", combo=combo,
        train_sessions=[d.attrs["animal"] for d in train_ds],
        test_sessions=[d.attrs["animal"] for d in test_ds], n_train=int(len(y_train)),
        n_units=[int(scope.select(d, stimuli).unit_mask.sum()) for d in train_ds + test_ds],
        areas_used="+".join(scope.areas), baseline=train_ds[0].attrs.get("baseline_method"),
        ps_mode=mode, seed=seeds[0], wall_time_s=round(time.perf_counter() - t0, 3))
    out.update(job.asdict(), seeds=list(seeds), n_calibration=n_cal, null_accuracies=null,
               calibration_fraction=calibration_fraction if mode == "train" else None,
               scaling="row z-score across stimuli, then per-stimulus z-score (training "
                       "animals)", decoder_params=params, **params)
    return out


def dnn_cross(train_ds: list[xr.Dataset], test_ds: list[xr.Dataset], stimuli: xr.Dataset,
              mode: PSMode, settings: DNNSettings, workdir: Path, calibration_fraction: float,
              scope: Scope, combo: str = "") -> tuple[dict, xr.Dataset]:
    """GoogLeNet trained on some animals' neural images, tested on other animals'.

    In ``train`` mode each test animal's preferred stimuli come from a calibration split
    (``calibration_fraction`` of its trials, stratified, seeded) and only the remaining trials
    are evaluated. Returns the metrics and the evaluated trials' ``W`` with predictions.
    """
    t0 = time.perf_counter()
    x_train, y_train, x_test, y_test, names, n_cal = cross_weights(
        train_ds, test_ds, stimuli, mode, scope, calibration_fraction, settings.seed)
    from nidecode.decoders.network import fit_predict

    y_pred, record = fit_predict(x_train, y_train, x_test, len(names), stimuli.image.values,
                                 settings, workdir)
    test_weights = xr.Dataset(
        {"W": (("trial", "stimulus"), x_test.astype(np.float32)), "label": ("trial", y_test),
         "predicted": ("trial", y_pred)},
        attrs={"combo": combo, "ps_mode": mode, "label_names": json.dumps(names),
               "description": "evaluated test trials; neural images are W @ U"},
    )
    out = classification_metrics(y_test, y_pred, names)
    job = JobRecord(
        model=settings.arch, task="cross", source=",".join(sorted(
            {d.attrs["source"] for d in train_ds + test_ds})), split=scope.split,
        inputs="neural_image", combo=combo, train_sessions=[d.attrs["animal"] for d in train_ds],
        test_sessions=[d.attrs["animal"] for d in test_ds], n_train=int(len(y_train)),
        n_units=[int(scope.select(d, stimuli).unit_mask.sum()) for d in train_ds + test_ds],
        areas_used="+".join(scope.areas), baseline=train_ds[0].attrs.get("baseline_method"),
        ps_mode=mode, seed=settings.seed, pretrained=record["pretrained"],
        image_size=settings.image_size, epochs=settings.epochs,
        wall_time_s=round(time.perf_counter() - t0, 3))
    out.update(record)
    out.update(job.asdict(), n_calibration=n_cal,
               calibration_fraction=calibration_fraction if mode == "train" else None,
               settings=asdict(settings))
    return out, test_weights
