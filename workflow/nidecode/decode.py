"""Decoding jobs: GLM and GoogLeNet, within one animal and across animals.

Each function takes labelled responses (``results/responses/{session}.nc``) and the stimulus
table, and returns the metrics dict of one job (DESIGN §6).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
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

NOT_APPLICABLE = "na"


def trial_labels(ds: xr.Dataset, stimuli: xr.Dataset, label: str = "stimulus_class"
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Integer labels of the trials that have one, their mask, and the label names.

    ``label`` names a per-stimulus coordinate of ``stimuli`` (``stimulus_class`` or a
    ``label_*`` sub-class column); trials whose stimulus has no label ("na") are left out.
    """
    if label not in stimuli.coords:
        allowed = ["stimulus_class"] + [c for c in stimuli.coords if str(c).startswith("label_")]
        raise NidecodeError(f"label '{label}' is not a stimulus coordinate; allowed: {allowed}")
    per_stimulus = stimuli[label].values.astype(str)
    names = per_stimulus[ds.stimulus_index.values]
    keep = names != NOT_APPLICABLE
    classes = sorted(set(names[keep]))
    if len(classes) < 2:
        raise NidecodeError(f"label '{label}' has fewer than two classes in {ds.attrs['animal']}")
    y = np.searchsorted(classes, names[keep])
    return y, keep, classes


def _base_record(ds_list: list[xr.Dataset], **extra) -> dict:
    return {
        "source": ",".join(sorted({d.attrs["source"] for d in ds_list})),
        "n_units": [int(d.sizes["unit"]) for d in ds_list],
        "areas": ds_list[0].attrs.get("areas"),
        "baseline": ds_list[0].attrs.get("baseline_method"),
        **extra,
    }


def glm_within(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, n_folds: int, seed: int,
               C: float = 1.0, label: str = "stimulus_class") -> dict:
    """L2 logistic regression on the z-scored responses of one animal, on fold ``fold``."""
    t0 = time.perf_counter()
    y, keep, names = trial_labels(ds, stimuli, label)
    x = ds.response.values[keep]
    train = fold_masks(y, n_folds, fold, seed)
    scaler = StandardScaler().fit(x[train])
    clf = LogisticRegression(C=C, max_iter=5000)
    clf.fit(scaler.transform(x[train]), y[train])
    y_pred = clf.predict(scaler.transform(x[~train]))
    out = classification_metrics(y[~train], y_pred, names)
    out.update(_base_record(
        [ds], model="glm", task="within", session=ds.attrs["animal"], fold=fold,
        n_folds=n_folds, n_train=int(train.sum()), seed=seed, label=label, C=C,
        ps_mode=None, pretrained=None, image_size=None, epochs=None,
        wall_time_s=round(time.perf_counter() - t0, 3),
    ))
    return out


def within_weights_dataset(ds: xr.Dataset, stimuli: xr.Dataset, n_folds: int, seed: int,
                           mode: PSMode, label: str = "stimulus_class") -> xr.Dataset:
    """``W`` of every fold of one animal, with the fold masks and labels (one file per session).

    ``W[fold]`` (trial, stimulus): the trials' neural images are ``W[fold] @ U``.
    """
    y, keep, names = trial_labels(ds, stimuli, label)
    r = ds.response.values[keep]
    idx = ds.stimulus_index.values[keep]
    n_stim = stimuli.sizes["stimulus"]
    trains = np.stack([fold_masks(y, n_folds, k, seed) for k in range(n_folds)])
    w = np.stack([within_animal_weights(r, idx, n_stim, trains[k], mode)
                  for k in range(n_folds)])
    return xr.Dataset(
        {"W": (("fold", "trial", "stimulus"), w.astype(np.float32)),
         "train": (("fold", "trial"), trains),
         "label": ("trial", y)},
        coords={"fold": np.arange(n_folds), "stimulus": np.arange(n_stim),
                "presentation_id": ("trial", ds.presentation_id.values[keep]),
                "stimulus_index": ("trial", idx)},
        attrs={"ps_mode": mode, "label": label, "label_names": json.dumps(names),
               "seed": seed, "n_folds": n_folds, "animal": ds.attrs["animal"],
               "source": ds.attrs["source"], "n_units": int(ds.sizes["unit"]),
               "areas": ds.attrs.get("areas", ""), "baseline": ds.attrs.get("baseline_method", ""),
               "description": "neural images are W[fold] @ U with U = stimuli.nc image; "
                              f"preferred stimuli in '{mode}' mode"},
    )


def dnn_within(weights: xr.Dataset, stimuli: xr.Dataset, fold: int, settings: DNNSettings,
               workdir: Path) -> dict:
    """GoogLeNet within one animal on fold ``fold``, from that fold's ``W`` and ``U``."""
    t0 = time.perf_counter()
    names = json.loads(weights.attrs["label_names"])
    w = weights.W.values[fold]
    train = weights.train.values[fold]
    y = weights.label.values
    y_pred, record = fit_predict(w[train], y[train], w[~train], len(names),
                                 stimuli.image.values, settings, workdir)
    out = classification_metrics(y[~train], y_pred, names)
    out.update(record)
    out.update(
        source=weights.attrs["source"], n_units=[int(weights.attrs["n_units"])],
        areas=weights.attrs["areas"], baseline=weights.attrs["baseline"], model="googlenet",
        inputs="neural_image", task="within", session=weights.attrs["animal"], fold=fold,
        n_folds=int(weights.attrs["n_folds"]), n_train=int(train.sum()), seed=settings.seed,
        label=weights.attrs["label"], ps_mode=weights.attrs["ps_mode"],
        image_size=settings.image_size, epochs=settings.epochs, settings=asdict(settings),
        wall_time_s=round(time.perf_counter() - t0, 3),
    )
    return out


def raster_within(ds: xr.Dataset, stimuli: xr.Dataset, fold: int, n_folds: int, seed: int,
                  settings: DNNSettings, workdir: Path, label: str = "stimulus_class") -> dict:
    """The paper's temporal raster-image variant: (time bin x unit) counts through GoogLeNet.

    Same model, same folds (same seed and labels) as the neural-image jobs.
    """
    t0 = time.perf_counter()
    if "counts" not in ds:
        raise NidecodeError(
            f"{ds.attrs['animal']}: responses have no time-binned counts; set "
            "responses.time_bin_s in the config for raster images")
    y, keep, names = trial_labels(ds, stimuli, label)
    train = fold_masks(y, n_folds, fold, seed)
    x = ds.counts.values[keep].astype(np.float32)
    y_pred, record = fit_predict(x[train], y[train], x[~train], len(names), None, settings,
                                 workdir)
    out = classification_metrics(y[~train], y_pred, names)
    out.update(record)
    out.update(_base_record(
        [ds], model="googlenet", inputs="raster", task="within", session=ds.attrs["animal"],
        fold=fold, n_folds=n_folds, n_train=int(train.sum()), seed=seed, label=label,
        ps_mode=None, image_size=settings.image_size, epochs=settings.epochs,
        time_bin_s=float(ds.time_bin.values[1] - ds.time_bin.values[0]),
        settings=asdict(settings), wall_time_s=round(time.perf_counter() - t0, 3),
    ))
    return out


def dnn_cross(train_ds: list[xr.Dataset], test_ds: list[xr.Dataset], stimuli: xr.Dataset,
              mode: PSMode, settings: DNNSettings, workdir: Path, calibration_fraction: float,
              label: str = "stimulus_class", combo: str = "") -> tuple[dict, xr.Dataset]:
    """GoogLeNet trained on some animals' neural images, tested on other animals'.

    In ``train`` mode each test animal's preferred stimuli come from a calibration split
    (``calibration_fraction`` of its trials, stratified, seeded) and only the remaining trials
    are evaluated. Returns the metrics and the evaluated trials' ``W`` with predictions.
    """
    t0 = time.perf_counter()
    n_stim = stimuli.sizes["stimulus"]
    xs, ys, names = [], [], None
    for ds in train_ds:
        y, keep, names = trial_labels(ds, stimuli, label)
        w, _ = cross_animal_weights(ds.response.values[keep], ds.stimulus_index.values[keep],
                                    n_stim, "train", mode)
        xs.append(w)
        ys.append(y)
    xt, yt, n_cal = [], [], 0
    for ds in test_ds:
        y, keep, names_t = trial_labels(ds, stimuli, label)
        if names_t != names:
            raise NidecodeError(f"test animal {ds.attrs['animal']} has labels {names_t}, "
                                f"training animals {names}")
        cal = calibration_mask(y, calibration_fraction, settings.seed) if mode == "train" else None
        w, evaluated = cross_animal_weights(ds.response.values[keep],
                                            ds.stimulus_index.values[keep], n_stim, "test",
                                            mode, cal)
        xt.append(w[evaluated])
        yt.append(y[evaluated])
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
    out.update(_base_record(
        train_ds + test_ds, model="googlenet", inputs="neural_image", task="cross", combo=combo,
        train_sessions=[d.attrs["animal"] for d in train_ds],
        test_sessions=[d.attrs["animal"] for d in test_ds], n_train=int(len(y_train)),
        n_calibration=n_cal, calibration_fraction=calibration_fraction if mode == "train" else None,
        seed=settings.seed, label=label, ps_mode=mode, image_size=settings.image_size,
        epochs=settings.epochs, settings=asdict(settings),
        wall_time_s=round(time.perf_counter() - t0, 3),
    ))
    return out, test_weights
