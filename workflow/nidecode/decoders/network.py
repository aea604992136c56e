"""An image classifier (any backbone of :data:`nidecode.decoders.backbones.BACKBONES`:
EfficientNet-Lite0 in the shipped configs, GoogLeNet as in the paper, ResNet-18) on neural images
or raster images, with Lightning.

Images are never materialised ahead of time: a batch holds rows of ``W`` (trials x stimuli) and
the model synthesises ``W[batch] @ U`` on its own device, scales each image to [0, 1], repeats
the grey channel three times and normalises it as the backbone's ImageNet training did
(:attr:`nidecode.decoders.backbones.Backbone.mean` and ``std``). The raster variant feeds per-trial
(time bin x unit) z-scored counts through the same path as (unit x time) images, resized to the
image size with antialiasing.

Training is resumable exactly: the data order is a function of (seed, epoch) and checkpoints carry
the RNG states, so a run resumed from ``last.ckpt`` continues as the uninterrupted run would
(bit for bit on the CPU, where training is deterministic).

``finetune: all`` fine-tunes the whole network; ``finetune: head`` trains only a new linear head
on frozen features (their BatchNorm layers stay in eval mode): a linear classifier of ImageNet
features.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import nn

# IMAGENET_MEAN, IMAGENET_STD and imagenet_checkpoint are re-exported: callers import them here.
from nidecode.decoders.backbones import (
    BACKBONES,
    FINETUNE,
    build_backbone,
    freeze_features,
    head,
    set_frozen_features_mode,
)
from nidecode.decoders.backbones import IMAGENET_MEAN as IMAGENET_MEAN
from nidecode.decoders.backbones import IMAGENET_STD as IMAGENET_STD
from nidecode.decoders.backbones import imagenet_checkpoint as imagenet_checkpoint

log = logging.getLogger(__name__)


# decoding.dnn's keys that are the workflow's business (cluster resources, the seeds a job trains
# in turn, where weights are cached), not training settings.
WORKFLOW_KEYS = ("torch_home", "gpus", "mem_mb", "runtime_min", "seeds", "cross_batch_size")
# decoding.dnn.schedule: one-cycle warm-up and annealing, or a constant learning rate.
SCHEDULES = ("onecycle", "constant")
MISSING_WEIGHTS = ("error", "scratch")
# decoding.dnn.lr_scaling: the peak learning rate for a batch other than lr_reference_batch
# (larger batches take fewer, less noisy steps): unchanged, in proportion, or by its root.
LR_SCALINGS = ("none", "linear", "sqrt")


@dataclass(frozen=True)
class DNNSettings:
    """Training settings; every field is recorded in metrics.json.

    The defaults are the schema's (``decoding.dnn``; tests/test_allowed_values.py checks them).
    """

    image_size: int = 32
    epochs: int = 4
    batch_size: int = 64
    lr: float = 3e-3
    lr_scaling: str = "none"  # "linear" or "sqrt": lr scaled by batch_size / lr_reference_batch
    lr_reference_batch: int = 64  # the batch size ``lr`` was chosen for
    weight_decay: float = 0.05
    schedule: str = "onecycle"  # or "constant"
    pretrained: bool = True
    # "error": a requested pretrained backbone whose weights are missing stops the job;
    # "scratch": it trains from scratch, recorded as pretrained: false
    missing_weights: str = "error"
    precision: str = "32-true"  # "bf16-mixed" on GPUs
    channels_last: bool = True
    compile: bool = False
    accelerator: str = "auto"
    threads: int = 1
    seed: int = 0
    arch: str = "googlenet"  # a key of BACKBONES: "efficientnet_lite0", "resnet18", ...
    finetune: str = "all"  # or "head": a new linear head on frozen features
    standardise_weights: bool = True  # z-score each stimulus's weight with training trials
    # "grey": W @ U in all three input channels (the paper); "on_off": W @ ON(U), W @ OFF(U)
    # and W @ U, the stimuli split at mean grey (see neural_image_channels)
    image_channels: str = "grey"

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        if self.lr_scaling not in LR_SCALINGS:
            raise ValueError(f"lr_scaling must be one of {LR_SCALINGS}, not {self.lr_scaling!r}")
        if self.missing_weights not in MISSING_WEIGHTS:
            raise ValueError(f"missing_weights must be one of {MISSING_WEIGHTS}, not "
                             f"{self.missing_weights!r}")
        if self.arch not in BACKBONES:
            raise ValueError(f"arch must be one of {tuple(BACKBONES)}, not {self.arch!r}")
        if self.finetune not in FINETUNE:
            raise ValueError(f"finetune must be one of {FINETUNE}, not {self.finetune!r}")
        if self.image_channels not in IMAGE_CHANNELS:
            raise ValueError(f"image_channels must be one of {IMAGE_CHANNELS}, "
                             f"not {self.image_channels!r}")

    @property
    def peak_lr(self) -> float:
        """The learning rate training uses: ``lr`` scaled to the batch size (``lr_scaling``;
        the one-cycle schedule warms up to it over its first 30 % of steps)."""
        ratio = self.batch_size / self.lr_reference_batch
        return self.lr * {"none": 1.0, "linear": ratio, "sqrt": ratio ** 0.5}[self.lr_scaling]

    @classmethod
    def from_config(cls, config: dict) -> DNNSettings:
        """From ``decoding.dnn`` (cluster keys are the workflow's business) and its seed."""
        d = {k: v for k, v in config["decoding"]["dnn"].items() if k not in WORKFLOW_KEYS}
        return cls(seed=config["decoding"]["seed"], **d)


IMAGE_CHANNELS = ("grey", "on_off")


def neural_image_channels(images: np.ndarray | torch.Tensor, kind: str = "grey",
                          grey: float = 0.5) -> torch.Tensor:
    """The images each neural-image channel weighs: (stimuli, channels, h, w).

    ``grey``: the stimuli ``U`` themselves (one channel). ``on_off``: ``max(U - grey, 0)``,
    ``max(grey - U, 0)`` and ``U``. Why: a grating and its antiphase copy (Allen's phases 0 and
    0.5, 0.25 and 0.75) sum to uniform grey, so ``W @ U`` cannot tell "weighs both phases of a
    grating" from "weighs neither": the 120 gratings span only 61 dimensions and ``U`` 179 of
    238. Split at grey, a grating's ON part is its antiphase copy's OFF part, so the ON and OFF
    images together span 235 (30 x 48 grid) to 238 (60 x 96) dimensions, and
    ``U = ON - OFF + grey`` keeps the
    published image as the third channel.
    """
    u = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if kind == "grey":
        return u[:, None]
    if kind == "on_off":
        return torch.stack([(u - grey).clamp_min(0), (grey - u).clamp_min(0), u], dim=1)
    raise ValueError(f"image_channels must be one of {IMAGE_CHANNELS}, not {kind!r}")


# ----------------------------------------------------------------------------- model building


def build_googlenet(n_classes: int, pretrained: bool, missing_weights: str = "error"
                    ) -> tuple[nn.Module, dict]:
    """torchvision GoogLeNet with an ``n_classes`` head: ``build_backbone("googlenet", ...)``.

    With ``pretrained`` the ImageNet weights are loaded from ``$TORCH_HOME``'s cache only (no
    download); without them an error, or with ``missing_weights="scratch"`` a network from
    scratch whose record says ``pretrained: false`` with the reason.
    """
    return build_backbone("googlenet", n_classes, pretrained, missing_weights)


# ------------------------------------------------------------------------------ Lightning module


class NeuralImageClassifier(L.LightningModule):
    """A ``settings.arch`` network classifying neural images synthesised on the device.

    ``model``: from :func:`build_backbone` for ``settings.arch``. ``basis``: ``U`` (stimuli, h, w)
    for neural images, or None for raster inputs, which arrive as (batch, time_bin, unit) and
    become (unit x time) images of ``image_size``. ``class_weight``: per-class weights of the
    cross-entropy loss (None: unweighted). With ``settings.finetune == "head"`` only the head
    trains, and the features stay in eval mode (frozen BatchNorm statistics).
    """

    def __init__(self, model: nn.Module, n_classes: int, basis: torch.Tensor | None,
                 settings: DNNSettings, class_weight: torch.Tensor | None = None):
        super().__init__()
        self.model = model
        self.settings = settings
        self.n_classes = n_classes
        # finetune: head: batches are the frozen network's features, computed once (see
        # extract_features), and only the dropout and head in front of them run per step.
        self.from_features = False
        # Not persistent: it derives from the training labels, which the fingerprint covers.
        self.register_buffer("class_weight", None if class_weight is None
                             else class_weight.float(), persistent=False)
        s = settings.image_size
        self.n_channels = 1
        if basis is not None:
            # Resize U once; afterwards a batch of images costs one (B x stimuli) @ (stimuli x
            # channels * s^2).
            u = neural_image_channels(basis, settings.image_channels)
            self.n_channels = u.shape[1]
            u = F.interpolate(u.float(), size=(s, s), mode="bilinear", align_corners=False,
                              antialias=True)
            self.register_buffer("basis", u.reshape(len(basis), -1).contiguous())
        else:
            self.basis = None
        backbone = BACKBONES[settings.arch]
        self.register_buffer("mean", torch.tensor(backbone.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(backbone.std).view(1, 3, 1, 1))
        if settings.finetune == "head":
            freeze_features(self.model, settings.arch)
        # Lightning keeps the modes modules have when fitting starts (it calls no train()).
        self.train()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.settings.finetune == "head":
            set_frozen_features_mode(self.model, self.settings.arch, mode)
        return self

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """Network input (B, 3, s, s) from W rows (B, stimuli) or rasters (B, T, N)."""
        s, c = self.settings.image_size, self.n_channels
        if self.basis is not None:
            img = (x.float() @ self.basis).view(-1, c, s, s)
        else:
            # As in the paper: units on the y axis, time on the x axis. Antialiasing averages
            # neighbouring units when there are more units than pixels, so no unit's row is
            # skipped by the bilinear taps.
            img = F.interpolate(x.float().transpose(1, 2)[:, None], size=(s, s),
                                mode="bilinear", align_corners=False, antialias=True)
        # Each image (each channel of it) scaled to [0, 1], as a photograph's grey levels.
        flat = img.flatten(2)
        lo = flat.min(2, keepdim=True).values
        hi = flat.max(2, keepdim=True).values
        img = ((flat - lo) / (hi - lo).clamp_min(1e-8)).view(-1, c, s, s)
        img = (img.expand(-1, 3, -1, -1) - self.mean) / self.std
        if self.settings.channels_last:
            img = img.contiguous(memory_format=torch.channels_last)
        return img

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.from_features:
            for name in BACKBONES[self.settings.arch].head_train_modules:
                x = getattr(self.model, name)(x)
            return head(self.model, self.settings.arch)(x)
        out = self.model(self.images(x))
        return out.logits if hasattr(out, "logits") else out

    @torch.inference_mode()
    def extract_features(self, x: np.ndarray, device: str = "cpu",
                         batch_size: int | None = None) -> np.ndarray:
        """The frozen network's input to its head (eval mode: BatchNorm statistics and
        dropout fixed) for every row of ``x``: (n, features) float32.

        With ``finetune: head`` the features never change during training, so they are
        computed once instead of once per epoch: the head's epochs then cost almost nothing.
        ``batch_size``: by default 256 on a GPU, and 32 on the CPU, where a batch's activations
        then stay in cache (a third faster than 256, with the same values: each image's
        features do not depend on its batch).
        """
        batch_size = batch_size or (32 if device == "cpu" else 256)
        was_training = self.training
        name = BACKBONES[self.settings.arch].head
        fc = getattr(self.model, name)
        self.to(device).eval()
        setattr(self.model, name, nn.Identity())
        try:
            out = []
            for i in range(0, len(x), batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size], np.float32))
                f = self.model(self.images(xb.to(device)))
                out.append((f.logits if hasattr(f, "logits") else f).float().cpu())
        finally:
            setattr(self.model, name, fc)
            self.to("cpu").train(was_training)
        return torch.cat(out).numpy()

    def training_step(self, batch, _):
        x, y = batch
        loss = F.cross_entropy(self(x), y, weight=self.class_weight)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def predict_step(self, batch, _):
        return self(batch[0]).argmax(1)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.settings.peak_lr,
                                weight_decay=self.settings.weight_decay)
        if self.settings.schedule == "constant":
            return opt
        # One-cycle: warm-up then annealing; converges in the few epochs a CPU run affords.
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.settings.peak_lr,
            total_steps=int(self.trainer.estimated_stepping_batches))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


# ---------------------------------------------------------------------------------- training


class _Rows(torch.utils.data.Dataset):
    """Rows of a tensor pair, indexed a whole batch at a time (no per-sample Python work)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx_t = torch.as_tensor(idx)
        return self.x[idx_t], self.y[idx_t]


class EpochBatches(torch.utils.data.Sampler):
    """Batches of indices whose order depends only on (seed, epoch).

    Lightning's fit loop calls ``set_epoch`` on the DataLoader's sampler before every epoch
    (``_set_sampler_epoch``), also after resuming, so a resumed run sees exactly the batches
    the uninterrupted run would have. A last batch of one joins the previous batch: BatchNorm
    cannot normalise a single sample in training.
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int):
        self.n, self.shuffle, self.seed, self.epoch = n, shuffle, seed, 0
        starts = list(range(0, n, batch_size))
        if len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        self.bounds = list(zip(starts, [*starts[1:], n], strict=True))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.bounds)

    def __iter__(self):
        # A generator: the order is drawn at the first batch, after Lightning's set_epoch, even
        # though Lightning creates the first epoch's iterator before calling set_epoch.
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
                 if self.shuffle else np.arange(self.n))
        for a, b in self.bounds:
            yield order[a:b].tolist()


def _loader(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int, pin: bool):
    """Batches of W rows (or rasters) and labels; pinned for asynchronous copies to a GPU."""
    from torch.utils.data import DataLoader

    ds = _Rows(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
               torch.from_numpy(y.astype(np.int64)))
    # batch_size=None: the sampler yields whole batches of indices; one gather per batch.
    # Its own generator: creating an iterator draws a worker base seed, which would otherwise
    # come from the global torch RNG that dropout uses, at points that differ after a resume.
    return DataLoader(ds, sampler=EpochBatches(len(ds), batch_size, shuffle, seed),
                      batch_size=None, num_workers=0, pin_memory=pin,
                      generator=torch.Generator().manual_seed(seed))


def balanced_class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """sklearn's ``class_weight="balanced"``: n_samples / (n_classes * count_c).

    ``n_classes`` in the formula counts the classes present in ``y``, as sklearn does; absent
    classes get weight 0 (they have no samples to weigh).
    """
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = len(y) / (present.sum() * counts[present])
    return weights


def _rng_states() -> dict:
    """Every RNG training draws from, in a form ``torch.load(weights_only=True)`` accepts."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                  *(np_state[2:])],
        "python": random.getstate(),
    }


def _set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available() \
            and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    name, key, *rest = states["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), *rest))
    random.setstate(states["python"])


class RNGStateCheckpoint(L.Callback):
    """Saves the torch (CPU, CUDA), numpy and Python RNG states in each checkpoint.

    On resume they are restored at ``on_train_start``, after Lightning's setup, so the first
    resumed epoch draws its dropout masks from the very state the uninterrupted run had after
    the checkpointed epoch.
    """

    def __init__(self) -> None:
        self.pending: dict | None = None

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint["rng_states"] = _rng_states()

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        self.pending = checkpoint.get("rng_states")

    def on_train_start(self, trainer, pl_module) -> None:
        if self.pending is not None:
            _set_rng_states(self.pending)
            self.pending = None


class EpochProgress(L.Callback):
    """One log line per epoch (the rule's log): epoch, mean training loss, images/s and an ETA,
    so that a slow job can be told from a stuck one without a progress bar in CI logs."""

    def __init__(self, n_images: int, label: str = "") -> None:
        self.n_images, self.label, self.t0 = n_images, label, 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        dt = max(time.perf_counter() - self.t0, 1e-9)
        loss = trainer.callback_metrics.get("train_loss")
        left = trainer.max_epochs - trainer.current_epoch - 1
        log.info("%sepoch %d/%d: loss %s, %.0f images/s, ETA %.0f s", self.label,
                 trainer.current_epoch + 1, trainer.max_epochs,
                 "n/a" if loss is None else f"{float(loss):.4f}", self.n_images / dt, left * dt)


# Frozen ImageNet features of the same images are the same for every seed of a job: computed
# once per process (a job trains its seeds in turn), keyed by everything they depend on.
_FEATURES: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def fingerprint(*parts: object) -> str:
    """Hash of everything that defines a training run, to refuse resuming a different one."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _epochs_done(ckpt: Path) -> int | None:
    """Epochs a checkpoint holds, or None if it does not open (a job killed while writing it)."""
    if not ckpt.exists():
        return None
    try:
        # Saved at the end of an epoch, while ``epoch`` still counts it from 0.
        return int(torch.load(ckpt, map_location="cpu", mmap=True, weights_only=True)["epoch"]) + 1
    except Exception as e:  # any failure means: start afresh
        log.warning("ignoring unreadable checkpoint %s: %s", ckpt, e)
        return None


def standardise_weights(w_train: np.ndarray, w_test: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Each stimulus's weight z-scored with the training trials' mean and SD.

    A neural image ``W_t @ U`` is dominated by the part every trial shares (the population's
    mean response to each stimulus, mostly mean grey); what tells trials apart is how a trial
    weighs each stimulus *relative to the other trials*. Standardising ``W`` column by column
    (training statistics only, so test trials never inform it) makes the synthesised image
    ``Z_t @ U`` show that: the top-stimulus readout's normalisation, applied to the image.
    """
    mu = w_train.mean(axis=0)
    sd = w_train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return ((w_train - mu) / sd).astype(np.float32), ((w_test - mu) / sd).astype(np.float32)


def train_head(module: NeuralImageClassifier, x_train: np.ndarray, y_train: np.ndarray,
               label: str = "") -> float:
    """The linear head on frozen features (``module.from_features``), trained in place by a
    plain loop: the same steps as Lightning's fit of the same module, bit for bit.

    A null fits 20 heads an animal and keeps none (``dnn_relabelling_null``; 1,250 steps a head
    at Allen's size), and Lightning's fit took about twice as long as this loop for the same
    steps (docs/network.md, "The head without Lightning"). This loop does what that fit
    does: the batches of :func:`_loader` (``set_epoch`` before each epoch), gradients zeroed,
    the weighted cross-entropy, backward, an AdamW step, then a one-cycle step over
    ``epochs x batches`` steps (:meth:`NeuralImageClassifier.configure_optimizers`); dropout
    draws from the global torch RNG in the same order. ``tests/test_dnn.py`` checks the head's
    weights against Lightning's. Returns the seconds it took.
    """
    s = module.settings
    loader = _loader(x_train, y_train, s.batch_size, True, s.seed, False)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=s.peak_lr, weight_decay=s.weight_decay)
    sched = (None if s.schedule == "constant" else torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=s.peak_lr, total_steps=s.epochs * len(loader)))
    t0 = time.perf_counter()
    loss_sum, n_batches = torch.zeros(()), 0  # the last epoch's, for the log line
    for epoch in range(s.epochs):
        loader.sampler.set_epoch(epoch)
        loss_sum, n_batches = torch.zeros(()), 0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(module(xb), yb, weight=module.class_weight)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            loss_sum += loss.detach()
            n_batches += 1
    seconds = time.perf_counter() - t0
    log.info("%s%d epochs: last epoch's loss %.4f, %.0f images/s", label, s.epochs,
             float(loss_sum) / max(n_batches, 1),
             len(x_train) * s.epochs / max(seconds, 1e-9))
    return seconds


def lightning_trainer(settings: DNNSettings, workdir: Path | None, on_gpu: bool,
                      progress: L.Callback) -> L.Trainer:
    """The Lightning Trainer of :func:`fit_predict`: CSV logs and a checkpoint after every
    epoch in ``workdir`` (None: neither)."""
    return L.Trainer(
        max_epochs=settings.epochs,
        accelerator=settings.accelerator,
        devices=1,
        precision=settings.precision,
        deterministic=not on_gpu,
        logger=(False if workdir is None else
                CSVLogger(save_dir=str(workdir), name="lightning", version="v0")),
        enable_checkpointing=workdir is not None,
        # One checkpoint, overwritten after every epoch. (save_last with save_top_k=0 would only
        # write it when training ends, leaving a killed job nothing to resume from.)
        callbacks=[progress] if workdir is None else [
            ModelCheckpoint(dirpath=str(Path(workdir) / "checkpoints"), filename="last",
                            save_top_k=1, enable_version_counter=False),
            RNGStateCheckpoint(), progress],
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def fit_predict(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    basis: np.ndarray | None,
    settings: DNNSettings,
    workdir: Path | None,
    *,
    class_weight: str | None = "balanced",
) -> tuple[np.ndarray, dict]:
    """Train ``settings.arch`` on ``x_train`` (W rows or rasters) and predict ``x_test``.

    Lightning writes CSV logs to ``workdir/lightning/v0`` and checkpoints to
    ``workdir/checkpoints``; an interrupted run with the same inputs, settings, class weighting
    and initial weights resumes from ``last.ckpt`` and continues exactly where it stopped.
    ``workdir`` None writes nothing (the many small fits of a null: a killed job refits them);
    the fit is the same.
    ``class_weight="balanced"`` weighs the loss by n_samples / (n_classes * count_c) of the
    training labels; None leaves it unweighted. Returns predicted labels and a record for
    metrics.json.
    """
    if class_weight not in ("balanced", None):
        raise ValueError(f"class_weight must be 'balanced' or None, not {class_weight!r}")
    if len(x_train) < 2:
        raise ValueError("BatchNorm needs at least 2 training trials")
    torch.set_num_threads(max(1, settings.threads))
    L.seed_everything(settings.seed, workers=True, verbose=False)
    y_train = np.asarray(y_train, dtype=np.int64)
    weights = balanced_class_weights(y_train, n_classes) if class_weight else None
    # Built before fingerprinting: whether ImageNet weights were actually loaded (and which
    # file) defines the run, so a resumed job can never inherit another initialisation.
    model, record = build_backbone(settings.arch, n_classes, settings.pretrained,
                                   settings.missing_weights)
    record["finetune"] = settings.finetune
    record["peak_lr"] = settings.peak_lr  # lr scaled to the batch size (lr_scaling)
    record["image_channels"] = settings.image_channels if basis is not None else None
    if settings.finetune == "head" and not record["pretrained"]:
        log.warning("finetune: head on %s without ImageNet weights: a linear head on random "
                    "features", settings.arch)
    x_train_raw = x_train  # what the fingerprint hashes, as before standardising
    if basis is not None and settings.standardise_weights:
        x_train, x_test = standardise_weights(x_train, x_test)
    resume, done = None, None
    if workdir is not None:
        workdir = Path(workdir)
        ckpt_dir = workdir / "checkpoints"
        # asdict(settings) holds arch and finetune too; named again so that the fingerprint
        # keeps them whatever becomes of the settings' fields.
        fp = fingerprint(asdict(settings), {"class_weight": class_weight},
                         {k: record[k] for k in ("arch", "finetune", "pretrained",
                                                 "weights_sha256")},
                         x_train_raw, y_train, basis if basis is not None else 0)
        fp_file = ckpt_dir / "fingerprint.txt"
        if ckpt_dir.exists() and (not fp_file.exists() or fp_file.read_text() != fp):
            shutil.rmtree(ckpt_dir)  # checkpoints of another run: never resume from them
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        fp_file.write_text(fp)
        last = ckpt_dir / "last.ckpt"
        done = _epochs_done(last)
        resume = last if done is not None else None

    module = NeuralImageClassifier(
        model, n_classes, None if basis is None else torch.from_numpy(basis), settings,
        None if weights is None else torch.from_numpy(weights),
    )
    if settings.channels_last:
        module = module.to(memory_format=torch.channels_last)
    on_gpu = torch.cuda.is_available() and settings.accelerator in ("auto", "gpu", "cuda")
    if settings.finetune == "head":  # a linear head: the frozen features, computed once
        t_features = time.perf_counter()
        # Random initial weights differ by seed; loaded ImageNet weights do not.
        key = fingerprint(settings.arch, settings.image_size, settings.channels_last,
                          settings.image_channels,
                          record["weights_sha256"], x_train, x_test,
                          basis if basis is not None else 0) if record["pretrained"] else None
        if key is not None and key in _FEATURES:
            x_train, x_test = _FEATURES[key]
            record["features_reused"] = True
        else:
            x_train = module.extract_features(x_train, "cuda" if on_gpu else "cpu")
            x_test = module.extract_features(x_test, "cuda" if on_gpu else "cpu")
            if key is not None:
                _FEATURES.clear()  # one job's features at a time
                _FEATURES[key] = (x_train, x_test)
        module.from_features = True
        record["feature_seconds"] = round(time.perf_counter() - t_features, 3)
    elif settings.compile:
        module.model = torch.compile(module.model)
    label = f"{settings.arch} seed {settings.seed}: "
    if settings.finetune == "head" and workdir is None and not on_gpu:
        # Nothing to checkpoint (so resume and done are None): the head in a plain loop
        # (train_head), prediction in eval mode in the batches Lightning's predict loop uses.
        fit_s = train_head(module, x_train, y_train, label)
        module.eval()
        with torch.inference_mode():
            y_pred = torch.cat([module(xb).argmax(1) for xb, _ in _loader(
                x_test, np.zeros(len(x_test)), 4 * settings.batch_size, False, 0, False)]).numpy()
        module.train()
        device = "cpu"
    else:
        progress = EpochProgress(len(x_train), label)
        trainer = lightning_trainer(settings, workdir, on_gpu, progress)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # fingerprint.txt is meant to share the checkpoint directory.
            warnings.filterwarnings("ignore", message="Checkpoint directory .* is not empty")
            if settings.finetune == "head":  # the frozen features, on purpose
                warnings.filterwarnings("ignore", message="Found .* module.* in eval mode")
            trainer.fit(module, _loader(x_train, y_train, settings.batch_size, True, settings.seed,
                                        on_gpu), ckpt_path=str(resume) if resume else None)
        fit_s = time.perf_counter() - t0
        preds = trainer.predict(module, _loader(x_test, np.zeros(len(x_test)),
                                                4 * settings.batch_size, False, 0, on_gpu))
        y_pred = torch.cat(preds).cpu().numpy()
        device = str(trainer.strategy.root_device)
    record.update(
        class_weight=class_weight,
        class_weights=None if weights is None else [round(float(w), 6) for w in weights],
        resumed_from_checkpoint=resume is not None,
        fit_seconds=round(fit_s, 3),
        device=device,
        resumed_after_epochs=done or 0,
        train_images_per_second=round(
            len(x_train) * max(settings.epochs - (done or 0), 0) / max(fit_s, 1e-9), 1),
        trainable_parameters=sum(p.numel() for p in module.parameters() if p.requires_grad),
        torch=torch.__version__,
    )
    return y_pred, record
