"""Calibration of the tests on simulated sessions whose ground truth is known.

:func:`false_positive_study` simulates stimulus-blind sessions with slow drift (and, for power,
sessions with stimulus information), runs them through the real path (simulator -> NWB file ->
reader -> responses -> GLM) and counts how often each split and null calls the result
significant. ``benchmarks/false_positives.py`` prints the table; a slow test checks it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .decode import Scope, glm_block_relabelling, glm_within
from .nwb import read_session
from .responses import ResponseSettings, compute_responses
from .simulate import AnimalSpec, Protocol, simulate_session, write_nwb
from .statistics import add_statistics, group_relabelling_p
from .stimuli import Canvas, render_stimuli


def simulated_responses(animal: AnimalSpec, protocol: Protocol, stimuli: xr.Dataset,
                        workdir: Path, canvas: Canvas | None = None) -> xr.Dataset:
    """One simulated session through the NWB file and the reader, as the workflow reads it."""
    path = Path(workdir) / f"{animal.name}.nwb"
    write_nwb(simulate_session(animal, protocol, canvas or Canvas(20, 32)), path)
    settings = ResponseSettings(areas=("VISp",), time_bin_s=None)
    return compute_responses(read_session(path, provenance="simulated"), stimuli, settings,
                             animal.name, "simulated")


def session_tests(ds: xr.Dataset, stimuli: xr.Dataset, n_permutations: int = 100,
                  seed: int = 0) -> list[dict]:
    """Accuracy and p-values of one session in both splits (GLM, three folds, pooled)."""
    rows = []
    for split in ("trial", "block"):
        scope = Scope(split=split, seed=seed)
        folds = [add_statistics(glm_within(ds, stimuli, k, scope, n_permutations=n_permutations))
                 for k in range(scope.n_folds)]
        null = glm_block_relabelling(ds, stimuli, scope)
        rows.append({
            "session": ds.attrs["animal"], "split": split,
            "accuracy": float(np.mean([f["accuracy"] for f in folds])),
            # a session counts as significant when every fold is (the published practice
            # reports each split's p); the block-relabelling null is one test per session
            "p_binomial": max(f["p_binomial"] for f in folds),
            "p_label_shuffle": max(f["p_permutation"] for f in folds),
            "p_time": null["p_time"], "n_time_null": null["n_time_null"],
            "time_null_observed": null["time_null_observed"],
            "time_null_accuracies": null["time_null_accuracies"],
        })
    return rows


def false_positive_study(n_null: int = 20, n_informative: int = 3, repeats: int = 6,
                         n_units: int = 40, informative_units: int = 120,
                         informative_drive: float = 1.2, informative_gain_noise: float = 0.2,
                         n_permutations: int = 100, base_seed: int = 5000) -> pd.DataFrame:
    """Per-session results of ``n_null`` stimulus-blind drifting sessions and ``n_informative``
    drifting sessions with stimulus information (M0 of the default config:
    ``informative_units`` VISp units, ``informative_drive``, ``informative_gain_noise``); the
    simulator's default drift and Allen's clock in all of them."""
    stimuli = render_stimuli(Canvas(24, 40))
    protocol = Protocol(repeats=repeats, blanks_gratings=6, blanks_scenes=6)  # Allen's clock
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(n_null + n_informative):
            blind = k < n_null
            spec = AnimalSpec(name=f"{'null' if blind else 'info'}{k}", seed=base_seed + k,
                              n_units={"VISp": n_units if blind else informative_units},
                              stimulus_blind=blind, fraction_failing_qc=0.0,
                              drive=1.0 if blind else informative_drive,
                              gain_noise=0.3 if blind else informative_gain_noise)
            ds = simulated_responses(spec, protocol, stimuli, Path(tmp))
            for r in session_tests(ds, stimuli, n_permutations):
                rows.append({**r, "stimulus_blind": blind})
            Path(tmp, f"{spec.name}.nwb").unlink(missing_ok=True)
    return pd.DataFrame(rows)


def rejection_table(results: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Fraction of sessions called significant, per split, null and ground truth."""
    out = []
    for (blind, split), g in results.groupby(["stimulus_blind", "split"]):
        for test in ("p_binomial", "p_label_shuffle", "p_time"):
            out.append({"sessions": "stimulus-blind" if blind else "stimulus information",
                        "split": split, "test": test, "n_sessions": len(g),
                        f"rejected_at_{alpha:g}": float(np.mean(g[test] <= alpha)),
                        "smallest_p": float(g[test].min()),
                        "mean_accuracy": round(float(g.accuracy.mean()), 3)})
    return pd.DataFrame(out)


def group_test(results: pd.DataFrame, split: str, n_draws: int = 100_000,
               seed: int = 0) -> float:
    """Block-relabelling p-value of the mean over the sessions in ``results`` (one split)."""
    g = results[results.split == split]
    return group_relabelling_p(list(g.time_null_observed), list(g.time_null_accuracies),
                               n_draws, seed)[0]
