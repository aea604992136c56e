"""Decoding jobs: GLM and GoogLeNet, within one animal and across animals, and controls.

Each function takes labelled responses (``results/responses/{session}.nc``) and the stimulus
table, chooses units, trials and labels through :func:`nidecode.variants.select`, and returns
the metrics dict of one job (DESIGN §6).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from .dnn import DNNSettings, fit_predict
from .errors import NidecodeError
from .metrics import classification_metrics
from .neural_images import PSMode, cross_animal_weights, within_animal_weights
from .splits import calibration_mask, fold_masks
from .variants import Selection, select


@dataclass(frozen=True)
class Scope:
    """What every decoding job shares: areas, label maps, arousal threshold, seed, folds."""

    areas: tuple[str, ...] = ("VISp",)
    label_maps: dict = field(default_factory=dict)
    running_threshold: float = 5.0
    seed: int = 0
    n_folds: int = 3

    def select(self, ds: xr.Dataset, stimuli: xr.Dataset, analysis: str = "main") -> Selection:
        return select(ds, stimuli, analysis, list(self.areas), self.label_maps,
                      self.running_threshold, self.seed)


def _record(ds: xr.Dataset, sel: Selection, **extra) -> dict:
    return {
        "source": ds.attrs["source"],
        "n_units": [int(sel.unit_mask.sum())],
        "areas": sel.info.get("areas_used"),
        "baseline": ds.attrs.get("baseline_method"),
        "session": ds.attrs["animal"],
        **sel.info,
        **extra,
    }


def _glm_fit_predict(x_train, y_train, x_test, C: float) -> np.ndarray:
    scaler = StandardScaler().fit(x_train)
    clf = LogisticRegression(C=C, max_iter=5000)
    clf.fit(scaler.transform(x_train), y_train)
    return clf.predict(scaler.transform(x_test))


def glm_within(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, scope: Scope, C: float = 1.0,
               analysis: str = "main", n_permutations: int = 0) -> dict:
    """L2 logistic regression on z-scored responses, on fold ``fold``.

    With ``n_permutations`` the training labels are shuffled that many times (seeded) and the
    refitted models' test accuracies form the label-shuffle null (``null_accuracies``).
    """
    t0 = time.perf_counter()
    sel = scope.select(ds, stimuli, analysis)
    x, y = sel.response, sel.y
    train = fold_masks(y, scope.n_folds, fold, scope.seed)
    y_pred = _glm_fit_predict(x[train], y[train], x[~train], C)
    out = classification_metrics(y[~train], y_pred, sel.names)
    rng = np.random.default_rng([scope.seed, fold, 7919])
    null = [float(np.mean(_glm_fit_predict(x[train], rng.permutation(y[train]), x[~train], C)
                          == y[~train])) for _ in range(n_permutations)]
    out.update(_record(
        ds, sel, model="glm", task="within", fold=fold, n_folds=scope.n_folds,
        n_train=int(train.sum()), seed=scope.seed, C=C, ps_mode=None, pretrained=None,
        image_size=None, epochs=None, null_accuracies=null, control="none",
        wall_time_s=round(time.perf_counter() - t0, 3),
    ))
    return out


def leakage_probe(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, scope: Scope,
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
    train = fold_masks(sel.y, scope.n_folds, fold, scope.seed)
    n_stim = stimuli.sizes["stimulus"]
    w = within_animal_weights(sel.response, sel.stimulus_index, n_stim, train, mode)
    z = (w - w[train].mean(0)) / (w[train].std(0) + 1e-9)
    top = np.argmax(z, axis=1)
    stim_class = stimuli.stimulus_class.values.astype(str)
    y_pred = np.searchsorted(sel.names, stim_class[top])
    out = classification_metrics(sel.y[~train], y_pred[~train], sel.names)
    out.update(_record(
        ds, sel, model="probe", inputs="neural_image", task="within", fold=fold,
        n_folds=scope.n_folds, n_train=int(train.sum()), seed=scope.seed, ps_mode=mode,
        control="none", analysis=f"probe-{mode}", pretrained=None, image_size=None,
        epochs=None, own_stimulus_top_fraction=float(np.mean(top[~train] ==
                                                            sel.stimulus_index[~train])),
        own_stimulus_top_chance=1.0 / n_stim, wall_time_s=round(time.perf_counter() - t0, 3),
    ))
    return out


def within_weights_dataset(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, mode: PSMode,
                           analysis: str = "main", response_shuffle: bool = False) -> xr.Dataset:
    """``W`` of every fold of one animal, with the fold masks and labels (one file per session).

    ``W[fold]`` (trial, stimulus): the trials' neural images are ``W[fold] @ U``. With
    ``response_shuffle`` each unit's responses are permuted across trials first (seeded): the
    control that keeps every unit's response distribution but breaks its link to the stimulus.
    """
    sel = scope.select(ds, stimuli, analysis)
    r, idx = sel.response, sel.stimulus_index
    if response_shuffle:
        rng = np.random.default_rng([scope.seed, 104729])
        r = np.stack([rng.permutation(col) for col in r.T], axis=1)
    n_stim = stimuli.sizes["stimulus"]
    trains = np.stack([fold_masks(sel.y, scope.n_folds, k, scope.seed)
                       for k in range(scope.n_folds)])
    w = np.stack([within_animal_weights(r, idx, n_stim, trains[k], mode)
                  for k in range(scope.n_folds)])
    info = {k: v for k, v in sel.info.items() if isinstance(v, str | int | float)}
    return xr.Dataset(
        {"W": (("fold", "trial", "stimulus"), w.astype(np.float32)),
         "train": (("fold", "trial"), trains),
         "label": ("trial", sel.y)},
        coords={"fold": np.arange(scope.n_folds), "stimulus": np.arange(n_stim),
                "presentation_id": ("trial", ds.presentation_id.values[sel.trial_mask]),
                "stimulus_index": ("trial", idx)},
        attrs={"ps_mode": mode, "label_names": json.dumps(sel.names), "seed": scope.seed,
               "n_folds": scope.n_folds, "animal": ds.attrs["animal"],
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
    if label_shuffle is not None:
        y_train = np.random.default_rng([settings.seed, fold, label_shuffle]).permutation(y_train)
        control = f"label_shuffle-{label_shuffle}"
    y_pred, record = fit_predict(w[train], y_train, w[~train], len(names),
                                 stimuli.image.values, settings, workdir)
    out = classification_metrics(y[~train], y_pred, names)
    out.update(record)
    attrs = weights.attrs
    out.update(
        source=attrs["source"], n_units=[int(attrs["n_units"])], areas=attrs.get("areas_used"),
        analysis=attrs.get("analysis", "main"), baseline=attrs["baseline"], model="googlenet",
        inputs="neural_image", task="within", session=attrs["animal"], fold=fold,
        n_folds=int(attrs["n_folds"]), n_train=int(train.sum()), seed=settings.seed,
        ps_mode=attrs["ps_mode"], control=control, image_size=settings.image_size,
        epochs=settings.epochs, settings=asdict(settings),
        wall_time_s=round(time.perf_counter() - t0, 3),
    )
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
    train = fold_masks(sel.y, scope.n_folds, fold, scope.seed)
    x = sel.counts(ds).astype(np.float32)
    y = sel.y
    y_pred, record = fit_predict(x[train], y[train], x[~train], len(sel.names), None, settings,
                                 workdir)
    out = classification_metrics(y[~train], y_pred, sel.names)
    out.update(record)
    out.update(_record(
        ds, sel, model="googlenet", inputs="raster", task="within", fold=fold,
        n_folds=scope.n_folds, n_train=int(train.sum()), seed=scope.seed, ps_mode=None,
        control="none", image_size=settings.image_size, epochs=settings.epochs,
        time_bin_s=float(ds.time_bin.values[1] - ds.time_bin.values[0]),
        settings=asdict(settings), wall_time_s=round(time.perf_counter() - t0, 3),
    ))
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
    n_stim = stimuli.sizes["stimulus"]
    xs, ys, names = [], [], None
    for ds in train_ds:
        sel = scope.select(ds, stimuli)
        w, _ = cross_animal_weights(sel.response, sel.stimulus_index, n_stim, "train", mode)
        xs.append(w)
        ys.append(sel.y)
        names = sel.names
    xt, yt, n_cal = [], [], 0
    for ds in test_ds:
        sel = scope.select(ds, stimuli)
        if sel.names != names:
            raise NidecodeError(f"test animal {ds.attrs['animal']} has labels {sel.names}, "
                                f"training animals {names}")
        cal = calibration_mask(sel.y, calibration_fraction, settings.seed) if mode == "train" \
            else None
        w, evaluated = cross_animal_weights(sel.response, sel.stimulus_index, n_stim, "test",
                                            mode, cal)
        xt.append(w[evaluated])
        yt.append(sel.y[evaluated])
        n_cal += 0 if cal is None else int(cal.sum())
    x_train, y_train = np.concatenate(xs), np.concatenate(ys)
    x_test, y_test = np.concatenate(xt), np.concatenate(yt)
    y_pred, record = fit_predict(x_train, y_train, x_test, len(names), stimuli.image.values,
                                 settings, workdir)
    test_weights = xr.Dataset(
        {"W": (("trial", "stimulus"), x_test.astype(np.float32)), "label": ("trial", y_test),
         "predicted": ("trial", y_pred)},
        attrs={"combo": combo, "ps_mode": mode, "label_names": json.dumps(names),
               "description": "evaluated test trials; neural images are W @ U"},
    )
    out = classification_metrics(y_test, y_pred, names)
    out.update(record)
    out.update(
        source=",".join(sorted({d.attrs["source"] for d in train_ds + test_ds})),
        n_units=[int(scope.select(d, stimuli).unit_mask.sum()) for d in train_ds + test_ds],
        areas="+".join(scope.areas), baseline=train_ds[0].attrs.get("baseline_method"),
        model="googlenet", inputs="neural_image", task="cross", combo=combo, analysis="main",
        train_sessions=[d.attrs["animal"] for d in train_ds],
        test_sessions=[d.attrs["animal"] for d in test_ds], n_train=int(len(y_train)),
        n_calibration=n_cal, calibration_fraction=calibration_fraction if mode == "train" else None,
        seed=settings.seed, ps_mode=mode, control="none", image_size=settings.image_size,
        epochs=settings.epochs, settings=asdict(settings),
        wall_time_s=round(time.perf_counter() - t0, 3),
    )
    return out, test_weights
