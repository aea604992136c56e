"""Which units, trials and labels an analysis decodes (the paper's future work).

An analysis is a :class:`nidecode.common.analyses.Analysis` of one of the selection kinds:

* ``main`` — units of ``decoding.areas``, natural vs artificial;
* ``label`` (``label-<name>``) — k-class sub-class labels from a TSV label map
  (``labels.<name>``);
* ``areas`` (``areas-<A>[+<B>...]``) — units of other areas (LGd, CA1, higher visual areas);
* ``arousal`` (``arousal-running`` / ``arousal-still``) — trials split at
  ``analyses.running_threshold_cm_s``; both states keep the same number of trials of each
  class, so that state is not confounded with class and the accuracies compare fairly;
* ``units`` (``units-<n>-r<k>``) — ``n`` units drawn at random (repeat ``k``) for accuracy vs
  unit count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nidecode.common.analyses import Analysis
from nidecode.common.errors import NidecodeError

NOT_APPLICABLE = "na"
# An arousal analysis decodes each state from the same number of trials of each class; with
# fewer than this many in the rarer state it is skipped (and says so).
MIN_STATE_TRIALS = 10


@dataclass
class Selection:
    """Responses, stimuli and labels of the trials and units an analysis decodes."""

    response: np.ndarray  # (trials, units)
    stimulus_index: np.ndarray  # (trials,)
    y: np.ndarray  # (trials,) integer labels
    names: list[str]
    trial_mask: np.ndarray  # over the dataset's presentations
    unit_mask: np.ndarray  # over the dataset's units
    info: dict = field(default_factory=dict)
    block: np.ndarray | None = None  # (trials,) stimulus_block, for time-aware splits
    stimulus_name: np.ndarray | None = None  # (trials,) what each trial's block shows
    rate: np.ndarray | None = None  # (trials, units) Hz, for training_response
    baseline_rate: np.ndarray | None = None  # (trials, units) pre-onset Hz, likewise
    session_sd: np.ndarray | None = None  # (units,) the session-wide baseline SD

    def training_response(self, basis: np.ndarray) -> np.ndarray:
        """Responses z-scored with the baseline windows of the ``basis`` trials only (each
        unit's pre-onset mean and SD over them), so that the other trials inform no scaling.

        The session-wide ``response`` where the file has no per-presentation baseline (the
        spontaneous baseline, whose grey-screen windows hold no trial). A unit silent in every
        basis window keeps its session-wide SD.
        """
        if self.baseline_rate is None or self.rate is None:
            return self.response
        return self.training_scaled(self.rate, basis)

    def training_scaled(self, rate: np.ndarray, basis: np.ndarray) -> np.ndarray:
        """Any rates of these units (trials, or blanks) z-scored as :meth:`training_response`
        z-scores the trials': with the ``basis`` trials' baseline windows."""
        b = self.baseline_rate[basis].astype(np.float64)
        mu, sd = b.mean(axis=0), b.std(axis=0, ddof=1)
        fallback = self.session_sd if self.session_sd is not None else np.ones_like(sd)
        sd = np.where(sd > 0, sd, fallback)
        return ((rate - mu) / sd).astype(np.float32)

    def counts(self, ds: xr.Dataset) -> np.ndarray:
        """Time-binned counts (trials, time_bin, units) of the selection."""
        return ds.counts.values[self.trial_mask][:, :, self.unit_mask]


def read_label_map(path: str | Path, stimuli: xr.Dataset) -> np.ndarray:
    """Per-stimulus labels from a TSV label map; stimuli it does not list get "na".

    Columns: ``stimulus_name`` and ``label``, plus ``frame`` (natural scenes) or any of
    ``orientation``, ``spatial_frequency``, ``phase`` (static gratings); an empty cell matches
    every value. Each stimulus takes the label of the first row it matches.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str).fillna("")
    except (OSError, pd.errors.ParserError) as err:
        raise NidecodeError(f"{path}: cannot read label map ({err})") from None
    missing = {"stimulus_name", "label"} - set(table.columns)
    if missing:
        raise NidecodeError(f"{path}: label map lacks columns {sorted(missing)}; it needs "
                            "stimulus_name, label and frame or orientation/spatial_frequency/phase")
    labels = np.full(stimuli.sizes["stimulus"], NOT_APPLICABLE, dtype=object)
    for _, row in table.iloc[::-1].iterrows():  # reversed: the first matching row wins
        match = stimuli.stimulus_name.values == row["stimulus_name"]
        for col in ("frame", "orientation", "spatial_frequency", "phase"):
            if col in table.columns and row[col] != "":
                match &= np.isclose(stimuli[col].values.astype(float), float(row[col]))
        if not match.any():
            raise NidecodeError(f"{path}: row {dict(row)} matches no stimulus in stimuli.nc")
        labels[match] = row["label"]
    return labels.astype(str)


def _labels(per_stimulus: np.ndarray, stimulus_index: np.ndarray, what: str
            ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names_t = per_stimulus[stimulus_index]
    keep = names_t != NOT_APPLICABLE
    classes = sorted(set(names_t[keep]))
    if len(classes) < 2:
        raise NidecodeError(f"{what}: fewer than two classes among the trials")
    return np.searchsorted(classes, names_t[keep]), keep, classes


def select(ds: xr.Dataset, stimuli: xr.Dataset, analysis: Analysis | str, areas: list[str],
           label_maps: dict[str, np.ndarray] | None = None, running_threshold: float = 5.0,
           seed: int = 0) -> Selection:
    """The units, trials and labels that ``analysis`` (a record, or its name) decodes in one
    session."""
    a = Analysis.of(analysis)
    if not a.is_selection:
        raise NidecodeError(f"unknown analysis '{a.name}': a {a.kind} record selects no units "
                            "or trials (selections: main, label, areas, arousal, units)")
    analysis = a.name
    animal = ds.attrs.get("animal", "?")
    unit_area = ds.area.values.astype(str)
    use_areas = list(a.areas) if a.kind == "areas" else areas
    unit_mask = np.isin(unit_area, use_areas)
    if not unit_mask.any():
        raise NidecodeError(f"{animal}: no units in areas {use_areas} (units here: "
                            f"{sorted(set(unit_area))}); add them to responses.areas")
    per_stimulus = stimuli.stimulus_class.values.astype(str)
    if a.kind == "label":
        name = a.label_map
        if not label_maps or name not in label_maps:
            raise NidecodeError(f"label map '{name}' is not configured (labels.{name})")
        per_stimulus = label_maps[name]
    y, keep, names = _labels(per_stimulus, ds.stimulus_index.values, f"{animal} {analysis}")
    trial_mask = keep.copy()
    info: dict = {"analysis": a.name, "areas_used": "+".join(use_areas), "animal": animal}
    rng = np.random.default_rng(seed)
    if a.kind == "arousal":
        speed = ds.running_speed.values
        if np.isnan(speed).all():
            raise NidecodeError(f"{animal}: no running speed; arousal analyses need it")
        running = keep & (speed > running_threshold)
        still = keep & (speed <= running_threshold)
        # Same number of trials of each class in both states: state is not confounded with
        # class (running bouts can overlap one stimulus block more than another).
        state = running if a.state == "running" else still
        labels_all = per_stimulus[ds.stimulus_index.values]
        chosen = []
        for c in names:
            n_c = int(min((running & (labels_all == c)).sum(), (still & (labels_all == c)).sum()))
            if n_c < MIN_STATE_TRIALS:
                raise NidecodeError(
                    f"{animal}: only {n_c} '{c}' trials in the rarer arousal state (at least "
                    f"{MIN_STATE_TRIALS} of each class in each state are needed to test); "
                    "lower analyses.running_threshold_cm_s or drop arousal")
            chosen.append(rng.choice(np.flatnonzero(state & (labels_all == c)), n_c,
                                     replace=False))
        trial_mask = np.zeros_like(keep)
        trial_mask[np.concatenate(chosen)] = True
        y = np.searchsorted(names, labels_all[trial_mask])
        info.update(running_threshold_cm_s=running_threshold, n_running=int(running.sum()),
                    n_still=int(still.sum()), n_per_state=int(trial_mask.sum()))
    if a.kind == "units":
        n_units, rep = a.n_units, a.repeat
        available = np.flatnonzero(unit_mask)
        if n_units > len(available):
            raise NidecodeError(f"{animal}: asked for {n_units} units, only {len(available)}")
        pick = np.random.default_rng([seed, rep, n_units]).choice(available, n_units,
                                                                  replace=False)
        unit_mask = np.zeros_like(unit_mask)
        unit_mask[pick] = True
        info["n_units_requested"] = n_units
    r = ds.response.values[trial_mask][:, unit_mask]
    if len(np.unique(y)) < 2:
        raise NidecodeError(f"{animal} {analysis}: fewer than two classes among the trials")
    block = ds.stimulus_block.values[trial_mask] if "stimulus_block" in ds else None
    name = (ds.stimulus_name.values[trial_mask].astype(str) if "stimulus_name" in ds
            else None)
    per_trial = {}
    if "baseline_rate" in ds and "rate" in ds:
        per_trial = {"rate": ds.rate.values[trial_mask][:, unit_mask],
                     "baseline_rate": ds.baseline_rate.values[trial_mask][:, unit_mask],
                     "session_sd": (ds.baseline_sd.values[unit_mask]
                                    if "baseline_sd" in ds else None)}
    return Selection(r, ds.stimulus_index.values[trial_mask], y, names, trial_mask, unit_mask,
                     info, block, name, **per_trial)
