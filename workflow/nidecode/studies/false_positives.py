"""Calibration of the tests on simulated sessions whose ground truth is known.

:func:`false_positive_study` simulates stimulus-blind sessions with the default slow drift on
Allen's clock (and, for power, sessions with stimulus information), runs each through the real
path (simulator -> NWB file -> reader -> responses -> decoders) and records every p-value the
project reports: binomial, label shuffle and block relabelling (``p_time``) per session, and
the exact block-relabelling test of the mean over groups of nine animals.
:func:`rejection_table` and :func:`group_table` turn the records into false-positive rates,
resolutions and power. ``benchmarks/studies/false_positives.py`` prints them; a slow test
checks them.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nidecode.data.nwb import read_session
from nidecode.data.responses import ResponseSettings, compute_responses
from nidecode.data.session_clock import Protocol
from nidecode.data.simulate import AnimalSpec, simulate_session, write_nwb
from nidecode.data.stimuli import Canvas, render_stimuli
from nidecode.evaluation.statistics import group_relabelling_p
from nidecode.jobs.runner import session
from nidecode.jobs.scope import Scope

# The main job's decoders and parameters (config/config.yaml, decoding.glm and .baselines).
DECODERS: dict[str, dict] = {"glm": {"C": 1.0}, "svc": {"C": 1.0, "gamma": "scale"},
                             "knn": {"n_neighbors": 15}, "svc_w": {"C": 1.0, "gamma": "scale"}}
# The network on neural images: only its block-relabelling null runs here, as the main job's
# dnn_relabelling_null runs it. Its "parameters" (``false_positive_study(network=...)``): the
# settings (DNNSettings), seeds and folds, which the caller takes from a config.
NETWORK = "network"
TESTS = ("p_binomial", "p_label_shuffle", "p_time")


def network_row(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope, settings: Any,
                seeds: tuple[int, ...], folds: list[int] | None) -> dict:
    """The network (``settings``: :class:`nidecode.decoders.network.DNNSettings`) on one
    session: its block-relabelling ``p_time`` on ``folds`` with ``seeds``, as
    ``dnn_relabelling_null`` computes it; the binomial and label-shuffle tests do not run
    (NaN)."""
    from nidecode.jobs.runner import block_relabelling_null

    null = block_relabelling_null(ds, stimuli, scope, NETWORK, mode="train", network=settings,
                                  seeds=tuple(seeds), folds=folds)
    return {"accuracy": null["time_null_observed"], "p_binomial": np.nan,
            "p_label_shuffle": np.nan, "n_label_shuffles": 0, "p_time": null["p_time"],
            "n_time_null": null["n_time_null"],
            "time_null_observed": null["time_null_observed"],
            "time_null_accuracies": null["time_null_accuracies"]}


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
            if name == NETWORK:
                rows.append({"session": ds.attrs["animal"], "split": split, "decoder": name,
                             **network_row(ds, stimuli, scope, **decoders[name])})
                continue
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
    k, spec, protocol, canvas, stimuli_canvas, decoders, splits, n_permutations = args
    stimuli = render_stimuli(stimuli_canvas)
    with tempfile.TemporaryDirectory() as tmp:
        ds = simulated_responses(spec, protocol, stimuli, Path(tmp), canvas)
    return [{**r, "stimulus_blind": spec.stimulus_blind, "index": k}
            for r in session_tests(ds, stimuli, decoders, splits, n_permutations)]


def false_positive_study(n_null: int = 20, n_informative: int = 3, repeats: int = 6,
                         blanks: int = 6, canvas: tuple[int, int] = (20, 32),
                         stimuli_canvas: tuple[int, int] = (24, 40),
                         n_units: int = 90, informative_units: int = 120,
                         informative_drive: float = 1.2, informative_gain_noise: float = 0.2,
                         n_permutations: int = 50, base_seed: int = 5000,
                         decoders: tuple[str, ...] = ("glm",),
                         trial_decoders: tuple[str, ...] = ("glm",),
                         processes: int = 1, network: dict | None = None) -> pd.DataFrame:
    """Per-session, per-decoder results of ``n_null`` stimulus-blind drifting sessions (N0 of
    the default config: ``n_units`` VISp units) and ``n_informative`` drifting sessions with
    stimulus information (M0: ``informative_units`` VISp units, ``informative_drive``,
    ``informative_gain_noise``), on Allen's clock with the simulator's default drift.

    ``decoders`` run in the block split (the default), ``trial_decoders`` in the trial split
    (the published recipe); the decoder ``network`` needs ``network`` (its settings, seeds
    and folds: :func:`network_row`). Sessions are independent draws (seed ``base_seed + k``), so
    ``processes`` > 1 gives the same table faster. ``repeats``, ``blanks`` (per stimulus
    class, as ``simulation.blanks``), ``canvas`` (the simulator's grid) and ``stimuli_canvas``
    (the rendered stimuli's): the defaults are a small, fast session; the main job's are 10,
    50, (30, 48) and (60, 96) (:func:`main_job_settings`).
    """
    protocol = Protocol(repeats=repeats, blanks_gratings=blanks, blanks_scenes=blanks)
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
        jobs.append((k, spec, protocol, Canvas(*canvas), Canvas(*stimuli_canvas),
                     {**DECODERS, **({NETWORK: network} if network else {})}, splits,
                     n_permutations))
    return _records(_one_session, jobs, processes)


def main_job_settings(config: dict) -> dict:
    """The session size a config's main job simulates, as :func:`false_positive_study`'s
    arguments: repeats, blanks, the simulator's canvas and the rendered stimuli's grid."""
    sim = config["simulation"]
    return {"repeats": int(sim["repeats"]), "blanks": int(sim["blanks"]),
            "canvas": tuple(sim["canvas"]),
            "stimuli_canvas": (config["stimuli"]["height"], config["stimuli"]["width"])}


def _records(one, jobs: list, processes: int) -> pd.DataFrame:
    """Every job's rows (``one(job)`` -> list of dicts), in ``processes`` processes."""
    if processes > 1:
        with ProcessPoolExecutor(processes) as pool:
            out = list(pool.map(one, jobs))
    else:
        out = [one(j) for j in jobs]
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


# ------------------------------------------------- across animals onto blind test animals

_TRAINING_ANIMALS: dict[str, list[xr.Dataset]] = {}


def _cross_session(args: tuple) -> list[dict]:
    """One test animal decoded by a decoder trained on the study's training animals."""
    (k, spec, protocol, canvas, stimuli_canvas, train_specs, decoders, n_permutations,
     calibration_fraction) = args
    from nidecode.evaluation.statistics import add_statistics
    from nidecode.jobs.runner import cross

    stimuli = render_stimuli(stimuli_canvas)
    key = repr((train_specs, protocol, canvas, stimuli_canvas))
    with tempfile.TemporaryDirectory() as tmp:
        if key not in _TRAINING_ANIMALS:  # the same in every draw: simulated once a process
            _TRAINING_ANIMALS.clear()
            _TRAINING_ANIMALS[key] = [simulated_responses(t, protocol, stimuli, Path(tmp),
                                                          canvas) for t in train_specs]
        train = _TRAINING_ANIMALS[key]
        test = simulated_responses(spec, protocol, stimuli, Path(tmp), canvas)
    scope = Scope(split="block", seed=0)
    combo = f"{'+'.join(t.name for t in train_specs)}__{spec.name}"
    rows = []
    for name in decoders:
        m, _ = cross(train, [test], stimuli, "train", scope, calibration_fraction, name,
                     DECODERS[name], combo=combo, n_permutations=n_permutations)
        add_statistics(m)
        rows.append({"session": spec.name, "index": k, "split": "block, across animals",
                     "decoder": name, "stimulus_blind": spec.stimulus_blind,
                     "accuracy": float(m["accuracy"]), "p_binomial": float(m["p_binomial"]),
                     "p_label_shuffle": m.get("p_permutation", np.nan),
                     "n_label_shuffles": len(m.get("null_accuracies") or []),
                     "p_time": np.nan, "n_time_null": 0, "time_null_observed": np.nan,
                     "time_null_accuracies": None, "n_test": int(m["n_test"])})
    return rows


def cross_null_study(n_null: int = 20, n_informative: int = 0, repeats: int = 6,
                     blanks: int = 6, canvas: tuple[int, int] = (20, 32),
                     stimuli_canvas: tuple[int, int] = (24, 40), n_permutations: int = 0,
                     base_seed: int = 8000, decoders: tuple[str, ...] = ("svc_w",),
                     calibration_fraction: float = 0.5, processes: int = 1) -> pd.DataFrame:
    """The cross-animal arm: decoders that run across animals (``decoders``: those on ``W``),
    trained on two animals with stimulus information (M0's and M1's settings, seeds
    ``base_seed - 2`` and ``base_seed - 1``, the same in every draw) and tested on
    ``n_null`` stimulus-blind animals and ``n_informative`` animals with information, each
    its own seed, in ``train`` mode with the test animal's preferred stimuli from its own
    calibration blocks (the main job's negative-control combo, ``decoding.null_combos``).
    The test used across animals is the binomial test of the accuracy (and, with
    ``n_permutations``, the label shuffle of the training animals). Records in
    :func:`rejection_table`'s columns (split ``block, across animals``)."""
    protocol = Protocol(repeats=repeats, blanks_gratings=blanks, blanks_scenes=blanks)
    train_specs = (
        AnimalSpec(name="train0", seed=base_seed - 2, n_units={"VISp": 120},
                   fraction_failing_qc=0.0, drive=1.2, gain_noise=0.2),
        AnimalSpec(name="train1", seed=base_seed - 1, n_units={"VISp": 100},
                   fraction_failing_qc=0.0, drive=1.1, gain_noise=0.25))
    jobs = []
    for k in range(n_null + n_informative):
        blind = k < n_null
        spec = AnimalSpec(name=f"{'null' if blind else 'info'}{k}", seed=base_seed + k,
                          n_units={"VISp": 90 if blind else 120}, stimulus_blind=blind,
                          fraction_failing_qc=0.0, drive=1.0 if blind else 1.2,
                          gain_noise=0.3 if blind else 0.2)
        jobs.append((k, spec, protocol, Canvas(*canvas), Canvas(*stimuli_canvas), train_specs,
                     tuple(decoders), n_permutations, calibration_fraction))
    return _records(_cross_session, jobs, processes)


# ------------------------------------------------------------------ the real arm (issue 27)

REAL_DECODERS = ("glm", "svc", "knn")  # the drift control's decoders
N_RANDOM_GROUPS = 200


def drift_control_records(epoch, base: dict, splits: tuple[str, ...],
                          decoders: dict[str, dict], n_permutations: int = 0) -> list[dict]:
    """One epoch (:class:`nidecode.data.gabors.GaborEpoch`) through the drift control
    (:func:`nidecode.jobs.drift_control.drift_control_session`, VISp units), one record per
    split and decoder in :func:`rejection_table`'s columns, each starting with ``base``. An
    epoch the drift control cannot decode gives one record per split and decoder with
    ``skipped``, the reason. The label shuffle (``n_permutations`` per fold) runs for the GLM
    only; a session is significant by the binomial or label-shuffle test when every fold is."""
    from nidecode.common.errors import NidecodeError
    from nidecode.jobs.drift_control import drift_control_session

    def skipped(why: str) -> list[dict]:
        return [{**base, "split": s, "decoder": d, "skipped": why}
                for s in splits for d in decoders]

    if epoch.skipped:
        return skipped(epoch.skipped)
    out = []
    for split in splits:
        try:
            rows = drift_control_session(epoch, split, decoders, areas=("VISp",),
                                         n_permutations={"glm": n_permutations})
        except NidecodeError as err:  # e.g. a block structure the folds cannot split
            return skipped(str(err))
        for decoder in decoders:
            folds = [r for r in rows if r["model"] == decoder]
            first = folds[0]
            if first.get("skipped"):
                return skipped(first["skipped"])
            shuffles = first.get("null_accuracies") or []
            out.append({
                **base, "split": split, "decoder": decoder, "skipped": None,
                # Balanced accuracy, mean over folds (the relabellings' statistic).
                "accuracy": float(first["mean_balanced_accuracy"]),
                "p_binomial": max(f["p_binomial"] for f in folds),
                "p_label_shuffle": (max(f["p_permutation"] for f in folds) if shuffles
                                    else np.nan),
                "n_label_shuffles": len(shuffles),
                "p_time": first["p_time"], "n_time_null": first["n_time_null"],
                "time_null_observed": first["time_null_observed"],
                "time_null_accuracies": list(first["time_null_accuracies"])})
    return out


def _real_session(args: tuple) -> list[dict]:
    """One real session's gabor epoch through the drift control, one record per split and
    decoder in :func:`rejection_table`'s columns (:func:`drift_control_records`). A session
    the drift control cannot read (:func:`nidecode.data.gabors.load_epoch`'s reasons: no VISp
    unit, too few passing the filters, a short or interrupted epoch) is never decoded: one
    record per split and decoder with ``skipped``, the reason."""
    from nidecode.data.gabors import load_epoch
    from nidecode.data.responses import ALLEN_UNIT_FILTERS

    folder, name, index, units, splits, decoders, n_permutations = args
    epoch = load_epoch(folder, name, ("VISp",), dict(ALLEN_UNIT_FILTERS), units)
    base = {"session": name, "index": index, "split": None, "decoder": None,  # column order
            "stimulus_blind": True,
            "n_units": epoch.info.get("n_units", len(epoch.unit_ids)),
            "n_presentations": epoch.info.get("n_presentations", len(epoch.start_time))}
    return drift_control_records(epoch, base, splits, decoders, n_permutations)


def real_arm(folder: str | Path, splits: tuple[str, ...] = ("block", "trial"),
             decoders: dict[str, dict] | None = None, n_permutations: int = 50,
             processes: int = 1, sessions: int | None = None) -> pd.DataFrame:
    """The calibration study's real arm: every session of a gabor-epoch folder
    (:mod:`nidecode.data.gabors`' exchange format) through the workflow's drift control
    (:func:`nidecode.jobs.drift_control.drift_control_session`: VISp units passing Allen's
    default filters, the time-only label, condition means removed), one record per session,
    split and decoder in :func:`rejection_table`'s columns.

    The label carries no stimulus, so every session is ``stimulus_blind``. A session is
    significant by the binomial or label-shuffle test when every fold is, as in
    :func:`session_tests`; the label shuffle (``n_permutations`` per fold) runs for the GLM
    only, as in the main job. ``sessions``: the first N sessions only (a quick check).
    Sessions without a usable epoch keep one record per split and decoder with ``skipped``
    (the reason, :func:`skipped_sessions`) and are left out of every table.
    """
    from nidecode.data.gabors import epoch_sessions, unit_table

    decoders = decoders or {k: DECODERS[k] for k in REAL_DECODERS}
    names = epoch_sessions(folder)[:sessions]
    units = unit_table(folder)
    jobs = [(str(folder), s, k, units, tuple(splits), decoders, n_permutations)
            for k, s in enumerate(names)]
    return _records(_real_session, jobs, processes)


def skipped_sessions(results: pd.DataFrame) -> list[tuple[str, str]]:
    """The sessions of a real arm's records that were left out, each once with its reason, in
    session order."""
    if "skipped" not in results:
        return []
    s = results[results.skipped.notna()].drop_duplicates("session")
    return [(str(n), str(why)) for n, why in s[["session", "skipped"]].to_numpy()]


def real_groups(sessions: list[str], group_size: int = GROUP_SIZE,
                n_random: int = N_RANDOM_GROUPS, seed: int = 0
                ) -> tuple[list[list[str]], list[list[str]], float]:
    """Groups of ``group_size`` sessions: the disjoint groups of one seeded shuffle (the
    sessions left over join none), ``n_random`` seeded random groups (each without repeats,
    drawn independently, so they overlap), and the random groups' mean overlap (sessions two
    of them share, averaged over every pair; ``group_size**2 / len(sessions)`` expected)."""
    rng = np.random.default_rng([seed, 2027])
    order = [sessions[i] for i in rng.permutation(len(sessions))]
    disjoint = [order[j * group_size:(j + 1) * group_size]
                for j in range(len(sessions) // group_size)]
    random = [[sessions[i] for i in sorted(rng.choice(len(sessions), group_size, replace=False))]
              for _ in range(n_random if len(sessions) >= group_size else 0)]
    member = np.zeros((len(random), len(sessions)))
    index = {s: i for i, s in enumerate(sessions)}
    for g, group in enumerate(random):
        member[g, [index[s] for s in group]] = 1
    shared = member @ member.T
    pairs = np.triu_indices(len(random), 1)
    overlap = float(shared[pairs].mean()) if len(random) > 1 else float("nan")
    return disjoint, random, overlap


def real_group_table(results: pd.DataFrame, group_size: int = GROUP_SIZE,
                     n_random: int = N_RANDOM_GROUPS, seed: int = 0,
                     alphas: tuple[float, ...] = (0.05, 0.1)) -> pd.DataFrame:
    """The exact block-relabelling test of the mean (:func:`group_test_p`) over groups of
    ``group_size`` real sessions (:func:`real_groups`, the same groups for every split and
    decoder), per split and decoder: the disjoint groups, then the random groups with their
    mean overlap. Rejections as rates and counts; each group's floor is 1 / (product of its
    sessions' null sizes + 1 each)."""
    done = results[results.skipped.isna()] if "skipped" in results else results
    names = list(dict.fromkeys(done.sort_values("index").session))
    disjoint, random, overlap = real_groups(names, group_size, n_random, seed)
    out = []
    for (split, decoder), g in done.groupby(["split", "decoder"], sort=False):
        by = g.set_index("session")
        for kind, groups in (("disjoint", disjoint), ("random", random)):
            if not groups:
                continue
            ps, floors = [], []
            for group in groups:
                part = by.loc[group]
                ps.append(group_test_p(part))
                floors.append(1.0 / float(np.prod([1 + len(a)
                                                   for a in part.time_null_accuracies])))
            ps = np.array(ps)
            row = {"groups": kind, "split": split, "decoder": decoder, "n_groups": len(groups),
                   "group_size": group_size, "n_sessions": len(names),
                   "mean_overlap": 0.0 if kind == "disjoint" else overlap,
                   "expected_overlap": (0.0 if kind == "disjoint"
                                        else group_size**2 / len(names)),
                   "floor": max(floors)}
            for a in alphas:
                row[f"rejected_at_{a:g}"] = float(np.mean(ps <= a))
                row[f"n_rejected_at_{a:g}"] = int(np.sum(ps <= a))
            row.update(smallest_p=float(ps.min()), median_p=float(np.median(ps)),
                       mean_accuracy=round(float(np.mean([by.loc[s].accuracy for grp in groups
                                                          for s in grp])), 3))
            out.append(row)
    return pd.DataFrame(out)


def _cell(r: dict, alpha: float, n: int) -> str:
    """A rejection rate at ``alpha`` with k of n, or "cannot reject" below the floor."""
    if r["floor"] > alpha:
        return "cannot reject"
    rate = r[f"rejected_at_{alpha:g}"]
    return f"{rate:.3f} ({int(round(rate * n))} of {n})"


def real_arm_markdown(results: pd.DataFrame, group_size: int = GROUP_SIZE,
                      n_random: int = N_RANDOM_GROUPS, seed: int = 0) -> str:
    """The real arm's two tables in Markdown: per session (:func:`rejection_table`) and per
    group of ``group_size`` sessions (:func:`real_group_table`)."""
    done = results[results.skipped.isna()] if "skipped" in results else results
    lines = ["| split | decoder | test | sessions | floor | rejected at α = 0.05 | "
             "at α = 0.1 | mean balanced accuracy | relabellings' mean |",
             "|" + " --- |" * 9]
    for r in rejection_table(done).to_dict("records"):
        rel = r.get("relabelling_mean")
        lines.append(f"| {r['split']} | {r['decoder']} | {r['test']} | {r['n_sessions']} | "
                     f"{r['floor']:.2g} | {_cell(r, 0.05, r['n_sessions'])} | "
                     f"{_cell(r, 0.1, r['n_sessions'])} | {r['mean_accuracy']:.3f} | "
                     f"{'' if rel is None or rel != rel else f'{rel:.3f}'} |")
    skipped = skipped_sessions(results)
    if skipped:
        lines.append("")
        lines += [f"Skipped: {s} ({why})." for s, why in skipped]
    groups = real_group_table(results, group_size, n_random, seed)
    if groups.empty:  # fewer usable sessions than one group
        n = results.session.nunique() - len(skipped)
        return "\n".join([*lines, "", f"No group of {group_size}: {n} sessions."])
    lines += ["", f"| groups of {group_size} | split | decoder | groups | mean overlap "
              "(expected) | floor | rejected at α = 0.05 | at α = 0.1 | smallest p | "
              "median p | mean balanced accuracy |", "|" + " --- |" * 11]
    for r in groups.to_dict("records"):
        ov = ("none" if r["groups"] == "disjoint"
              else f"{r['mean_overlap']:.2f} ({r['expected_overlap']:.2f})")
        lines.append(f"| {r['groups']} | {r['split']} | {r['decoder']} | {r['n_groups']} | "
                     f"{ov} | {r['floor']:.0e} | {_cell(r, 0.05, r['n_groups'])} | "
                     f"{_cell(r, 0.1, r['n_groups'])} | {r['smallest_p']:.2g} | "
                     f"{r['median_p']:.2g} | {r['mean_accuracy']:.3f} |")
    return "\n".join(lines)
