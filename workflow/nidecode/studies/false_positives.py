"""Calibration of the tests on simulated sessions whose ground truth is known.

:func:`false_positive_study` simulates stimulus-blind sessions with the default slow drift on
Allen's clock (and, for power, sessions with stimulus information), runs each through the real
path (simulator -> NWB file -> reader -> responses -> decoders) and records every p-value the
project reports: binomial, label shuffle and block relabelling (``p_time``) per session, and
the exact block-relabelling test of the mean over groups of nine animals.
:func:`rejection_table` and :func:`group_table` turn the records into false-positive rates,
resolutions and power. ``benchmarks/false_positives.py`` prints them; a slow test checks them.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nidecode.data.nwb import read_session
from nidecode.data.responses import ResponseSettings, compute_responses
from nidecode.data.simulate import AnimalSpec, Protocol, simulate_session, write_nwb
from nidecode.data.stimuli import Canvas, render_stimuli
from nidecode.evaluation.statistics import group_relabelling_p
from nidecode.jobs.runner import session
from nidecode.jobs.scope import Scope

# The main job's decoders and parameters (config/config.yaml, decoding.glm and .baselines).
DECODERS: dict[str, dict] = {"glm": {"C": 1.0}, "svc": {"C": 1.0, "gamma": "scale"},
                             "knn": {"n_neighbors": 15}, "svc_w": {"C": 1.0, "gamma": "scale"}}
TESTS = ("p_binomial", "p_label_shuffle", "p_time")
GROUP_SIZE = 9  # the main job's nine animals


def simulated_responses(animal: AnimalSpec, protocol: Protocol, stimuli: xr.Dataset,
                        workdir: Path, canvas: Canvas | None = None) -> xr.Dataset:
    """One simulated session through the NWB file and the reader, as the workflow reads it."""
    path = Path(workdir) / f"{animal.name}.nwb"
    write_nwb(simulate_session(animal, protocol, canvas or Canvas(20, 32)), path)
    settings = ResponseSettings(areas=("VISp",), time_bin_s=None)
    return compute_responses(read_session(path, provenance="simulated"), stimuli, settings,
                             animal.name, "simulated")


def session_tests(ds: xr.Dataset, stimuli: xr.Dataset, decoders: dict[str, dict],
                  splits: dict[str, tuple[str, ...]], n_permutations: int = 50,
                  seed: int = 0) -> list[dict]:
    """One row per split and decoder: accuracy over the three folds and every p-value.

    A session counts as significant by the binomial or label-shuffle test when every fold is
    (the published practice reports each fold's p); the block-relabelling null is one test per
    session. ``splits`` maps a split to the decoders run in it. The label shuffle runs for the
    GLM only, as in the main job (``decoding.baseline_permutations: 0``).
    """
    rows = []
    for split, names in splits.items():
        scope = Scope(split=split, seed=seed)
        for name in names:
            folds = session(ds, stimuli, scope, {name: decoders[name]}, ["train"],
                            n_permutations=n_permutations if name == "glm" else 0)
            first = folds[0]
            rows.append({
                "session": ds.attrs["animal"], "split": split, "decoder": name,
                "accuracy": float(np.mean([f["accuracy"] for f in folds])),
                "p_binomial": max(f["p_binomial"] for f in folds),
                "p_label_shuffle": (max(f["p_permutation"] for f in folds)
                                    if "p_permutation" in first else np.nan),
                "n_label_shuffles": len(first.get("null_accuracies") or []),
                "p_time": first["p_time"], "n_time_null": first["n_time_null"],
                "time_null_observed": first["time_null_observed"],
                "time_null_accuracies": first["time_null_accuracies"],
            })
    return rows


def _one_session(args: tuple) -> list[dict]:
    k, spec, repeats, decoders, splits, n_permutations = args
    stimuli = render_stimuli(Canvas(24, 40))
    protocol = Protocol(repeats=repeats, blanks_gratings=6, blanks_scenes=6)  # Allen's clock
    with tempfile.TemporaryDirectory() as tmp:
        ds = simulated_responses(spec, protocol, stimuli, Path(tmp))
    return [{**r, "stimulus_blind": spec.stimulus_blind, "index": k}
            for r in session_tests(ds, stimuli, decoders, splits, n_permutations)]


def false_positive_study(n_null: int = 20, n_informative: int = 3, repeats: int = 6,
                         n_units: int = 90, informative_units: int = 120,
                         informative_drive: float = 1.2, informative_gain_noise: float = 0.2,
                         n_permutations: int = 50, base_seed: int = 5000,
                         decoders: tuple[str, ...] = ("glm",),
                         trial_decoders: tuple[str, ...] = ("glm",),
                         processes: int = 1) -> pd.DataFrame:
    """Per-session, per-decoder results of ``n_null`` stimulus-blind drifting sessions (N0 of
    the default config: ``n_units`` VISp units) and ``n_informative`` drifting sessions with
    stimulus information (M0: ``informative_units`` VISp units, ``informative_drive``,
    ``informative_gain_noise``), on Allen's clock with the simulator's default drift.

    ``decoders`` run in the block split (the default), ``trial_decoders`` in the trial split
    (the published recipe). Sessions are independent draws (seed ``base_seed + k``), so
    ``processes`` > 1 gives the same table faster.
    """
    splits = {"block": tuple(decoders)}
    if trial_decoders:
        splits["trial"] = tuple(trial_decoders)
    jobs = []
    for k in range(n_null + n_informative):
        blind = k < n_null
        spec = AnimalSpec(name=f"{'null' if blind else 'info'}{k}", seed=base_seed + k,
                          n_units={"VISp": n_units if blind else informative_units},
                          stimulus_blind=blind, fraction_failing_qc=0.0,
                          drive=1.0 if blind else informative_drive,
                          gain_noise=0.3 if blind else informative_gain_noise)
        jobs.append((k, spec, repeats, DECODERS, splits, n_permutations))
    if processes > 1:
        with ProcessPoolExecutor(processes) as pool:
            out = list(pool.map(_one_session, jobs))
    else:
        out = [_one_session(j) for j in jobs]
    return pd.DataFrame([r for rows in out for r in rows])


def test_floor(test: str, g: pd.DataFrame) -> float:
    """The smallest p-value ``test`` can give one session of ``g``: 1 / (1 + size of its null)
    for the permutation tests, 0 for the binomial test (its p is continuous)."""
    if test == "p_time":
        return float((1.0 / (1 + g.n_time_null)).max())
    if test == "p_label_shuffle":
        return float((1.0 / (1 + g.n_label_shuffles)).max())
    return 0.0


def rejection_table(results: pd.DataFrame, alphas: tuple[float, ...] = (0.05, 0.1)
                    ) -> pd.DataFrame:
    """Fraction of sessions called significant, per ground truth, split, decoder and test,
    with each test's floor and the mean accuracy of its sessions (and of the relabellings)."""
    out = []
    for (blind, split, decoder), g in results.groupby(["stimulus_blind", "split", "decoder"],
                                                      sort=False):
        for test in TESTS:
            if g[test].isna().all():
                continue
            floor = test_floor(test, g)
            row = {"sessions": "stimulus-blind" if blind else "stimulus information",
                   "split": split, "decoder": decoder, "test": test, "n_sessions": len(g),
                   "floor": floor}
            for a in alphas:
                row[f"rejected_at_{a:g}"] = float(np.mean(g[test] <= a))
            row["smallest_p"] = float(g[test].min())
            row["mean_accuracy"] = round(float(g.accuracy.mean()), 3)
            if test == "p_time":
                row["relabelling_mean"] = round(float(np.mean(
                    [np.mean(a) for a in g.time_null_accuracies])), 3)
            out.append(row)
    return pd.DataFrame(out)


def group_table(results: pd.DataFrame, group_size: int = GROUP_SIZE,
                alphas: tuple[float, ...] = (0.05, 0.1)) -> pd.DataFrame:
    """The exact block-relabelling test of the mean over disjoint groups of ``group_size``
    sessions (in session order), per ground truth, split and decoder: how many groups it
    rejects at each alpha, its floor and the groups' p-values."""
    out = []
    for (blind, split, decoder), g in results.groupby(["stimulus_blind", "split", "decoder"],
                                                      sort=False):
        g = g.sort_values("index")
        n_groups = len(g) // group_size
        if n_groups == 0:
            continue
        ps, floors = [], []
        for j in range(n_groups):
            part = g.iloc[j * group_size:(j + 1) * group_size]
            nulls = [list(a) for a in part.time_null_accuracies]
            ps.append(group_test_p(part))
            floors.append(1.0 / float(np.prod([1 + len(n) for n in nulls])))
        row = {"sessions": "stimulus-blind" if blind else "stimulus information",
               "split": split, "decoder": decoder, "n_groups": n_groups,
               "group_size": group_size, "floor": max(floors)}
        for a in alphas:
            row[f"rejected_at_{a:g}"] = float(np.mean(np.array(ps) <= a))
        row["smallest_p"] = float(min(ps))
        row["median_p"] = float(np.median(ps))
        out.append(row)
    return pd.DataFrame(out)


def group_test_p(results: pd.DataFrame) -> float:
    """Exact block-relabelling p-value of the mean over the sessions in ``results`` (one
    split, one decoder): :func:`nidecode.evaluation.statistics.group_relabelling_p`."""
    p, _ = group_relabelling_p(list(results.time_null_observed),
                               [list(a) for a in results.time_null_accuracies])
    return p


def group_test(results: pd.DataFrame, split: str, decoder: str = "glm") -> float:
    """:func:`group_test_p` of the sessions of one split and decoder in ``results``."""
    return group_test_p(results[(results.split == split) & (results.decoder == decoder)])
