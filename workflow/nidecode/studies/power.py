"""Power on real drift: a known pseudo-class signal injected into real gabor epochs.

The real arm (:func:`nidecode.studies.false_positives.real_arm`) shows that the drift
control's tests hold alpha on real drift; it cannot show that they detect anything. Here a
known signal is added to the REAL counts of a gabor epoch, so the real drift stays
underneath, and the same drift control (the same folds, relabellings, decoders and
statistics, :func:`nidecode.studies.false_positives.drift_control_records`) decodes it.

The injected signal (:func:`inject_signal`): the pseudo-class is the drift control's own
time-only label (:func:`nidecode.data.gabors.time_only_label`: the epoch cut into six equal
stretches, SG NS NS SG NS SG). A seeded ``fraction`` of the decoded units is chosen; the first
half of them (rounded up) fire ``1 + effect`` times as much on the presentations of the
natural-scenes pseudo-class, the other half on those of the static-gratings pseudo-class. A
gain above 1 adds Poisson spikes of mean ``(gain - 1) * count`` to each affected count, a gain
below 1 (a negative ``effect``) keeps each spike with probability ``gain`` (binomial
thinning): either way the expected count is ``gain`` times the real one, trial by trial, so
the real drift and trial-to-trial variability stay under the signal. The signal depends on
the stretch, not on the gabor condition, so removing each condition's mean (which the drift
control does) keeps it: every condition is shown throughout the epoch.

:func:`power_records` runs one epoch at several effect sizes, :func:`real_power` every
session of a gabor-epoch folder, :func:`simulated_power` the real arm's simulated counterpart
(stimulus-blind, drifting N0-like sessions, their gabor epochs read back from NWB files as the
workflow reads them), and :func:`power_table` turns the records into detection rates per test.
``benchmarks/studies/real_power.py`` prints them.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nidecode.data.gabors import LABEL_NAMES, GaborEpoch, time_only_label
from nidecode.studies.false_positives import (
    DECODERS,
    GROUP_SIZE,
    N_RANDOM_GROUPS,
    _records,
    drift_control_records,
    real_group_table,
    test_floor,
)

EFFECTS = (0.0, 0.05, 0.1, 0.2)
FRACTION = 0.3
POWER_TESTS = ("p_time", "p_binomial")


@dataclass(frozen=True)
class Injection:
    """Which units carry the injected signal: ``units`` (column indices of the counts, sorted)
    and ``preferred`` (per chosen unit, the pseudo-class, an index into
    :data:`nidecode.data.gabors.LABEL_NAMES`, whose presentations get the gain
    ``1 + effect``)."""

    units: np.ndarray
    preferred: np.ndarray
    effect: float
    fraction: float


def choose_units(n_units: int, fraction: float, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``round(fraction * n_units)`` units (at least one when ``fraction`` > 0) from one
    ``rng.permutation(n_units)``: the first of the permutation, sorted; the first half of the
    sorted units (rounded up) prefer pseudo-class 0 (natural scenes), the rest class 1."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction {fraction} is not in [0, 1]")
    n = int(round(fraction * n_units))
    n = max(n, 1) if fraction > 0 and n_units else n
    units = np.sort(rng.permutation(n_units)[:n])
    preferred = np.where(np.arange(n) < (n + 1) // 2, 0, 1).astype(np.int64)
    return units, preferred


def apply_gain(counts: np.ndarray, gain: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Counts whose expectation is ``gain`` times the given counts, cell by cell (``gain`` of
    the counts' shape, >= 0): where ``gain`` > 1 one Poisson draw of mean
    ``(gain - 1) * count`` is added, where ``gain`` < 1 each spike is kept with probability
    ``gain`` (one binomial draw), elsewhere the count is kept. Draws: first one
    ``rng.poisson`` over the whole array (mean 0 where ``gain`` <= 1), then one
    ``rng.binomial`` over the whole array (probability 1 where ``gain`` >= 1)."""
    c = np.asarray(counts, dtype=np.int64)
    if (c < 0).any() or (np.asarray(gain) < 0).any():
        raise ValueError("counts and gains must be >= 0")
    up = rng.poisson(np.where(gain > 1, (gain - 1) * c, 0.0))
    kept = rng.binomial(c, np.clip(np.where(gain < 1, gain, 1.0), 0, 1))
    return kept + up


def inject_signal(counts: np.ndarray, y: np.ndarray, effect: float,
                  fraction: float = FRACTION, seed: int | list[int] = 0
                  ) -> tuple[np.ndarray, Injection]:
    """``counts`` (presentations x units, spike counts) with a pseudo-class signal: the units
    :func:`choose_units` picks (seeded by ``seed``, the same units at every ``effect``) fire
    ``1 + effect`` times as much on the presentations whose ``y`` (pseudo-class per
    presentation) is their preferred class, by :func:`apply_gain` with the same generator.
    ``effect`` 0 returns the counts unchanged (a copy, int64); ``effect`` >= -1."""
    if effect < -1:
        raise ValueError(f"effect {effect} < -1: a rate cannot fall below 0")
    c = np.asarray(counts, dtype=np.int64)
    y = np.asarray(y)
    if len(y) != c.shape[0]:
        raise ValueError(f"{len(y)} labels for {c.shape[0]} presentations")
    rng = np.random.default_rng(seed)
    units, preferred = choose_units(c.shape[1], fraction, rng)
    info = Injection(units, preferred, float(effect), float(fraction))
    if effect == 0 or len(units) == 0:
        return c.copy(), info
    gain = np.ones(c.shape)
    gain[:, units] = np.where(y[:, None] == preferred[None, :], 1.0 + effect, 1.0)
    return apply_gain(c, gain, rng), info


def inject_epoch(epoch: GaborEpoch, effect: float, fraction: float = FRACTION,
                 seed: int | list[int] = 0, areas: tuple[str, ...] = ("VISp",)
                 ) -> tuple[GaborEpoch, Injection]:
    """``epoch`` with :func:`inject_signal` applied to its units in ``areas`` (the ones the
    drift control decodes; ``Injection.units`` index those), the pseudo-class being the drift
    control's time-only label of the epoch's own block order. Other fields are kept."""
    y, _ = time_only_label(epoch.start_time, epoch.block_order)
    keep = np.flatnonzero(np.isin(epoch.area, areas))
    sub, info = inject_signal(epoch.counts[:, keep], y, effect, fraction, seed)
    counts = np.asarray(epoch.counts, dtype=np.int64).copy()
    counts[:, keep] = sub
    return dataclasses.replace(epoch, counts=counts,
                               info={**epoch.info, "effect": float(effect),
                                     "fraction": float(fraction),
                                     "injected_units": int(len(info.units))}), info


def power_records(epoch: GaborEpoch, base: dict, effects: tuple[float, ...] = EFFECTS,
                  fraction: float = FRACTION, splits: tuple[str, ...] = ("block", "trial"),
                  decoders: dict[str, dict] | None = None, seed: int | list[int] = 0
                  ) -> list[dict]:
    """One epoch at every effect size through the drift control: the records of
    :func:`nidecode.studies.false_positives.drift_control_records` (no label shuffle), each
    with ``effect``, ``fraction`` and ``injected_units``. The same units carry the signal at
    every effect (``seed``)."""
    decoders = decoders or {"glm": DECODERS["glm"]}
    out = []
    for effect in effects:
        if epoch.skipped:
            injected, n = epoch, 0
        else:
            injected, info = inject_epoch(epoch, effect, fraction, seed)
            n = len(info.units)
        row = {**base, "effect": float(effect), "fraction": float(fraction),
               "injected_units": n}
        out += drift_control_records(injected, row, splits, decoders, n_permutations=0)
    return out


def _real_power_session(args: tuple) -> list[dict]:
    from nidecode.data.gabors import load_epoch
    from nidecode.data.responses import ALLEN_UNIT_FILTERS

    folder, name, index, units, effects, fraction, splits, decoders, seed = args
    epoch = load_epoch(folder, name, ("VISp",), dict(ALLEN_UNIT_FILTERS), units)
    base = {"source": "real", "session": name, "index": index, "split": None,
            "decoder": None, "stimulus_blind": True,
            "n_units": epoch.info.get("n_units", len(epoch.unit_ids)),
            "n_presentations": epoch.info.get("n_presentations", len(epoch.start_time))}
    return power_records(epoch, base, effects, fraction, splits, decoders, [seed, index])


def real_power(folder: str | Path, effects: tuple[float, ...] = EFFECTS,
               fraction: float = FRACTION, splits: tuple[str, ...] = ("block", "trial"),
               decoders: dict[str, dict] | None = None, sessions: int | None = None,
               seed: int = 0, processes: int = 1) -> pd.DataFrame:
    """Every session of a gabor-epoch folder (the first ``sessions``), as the real arm loads
    it (VISp units passing Allen's default filters), with the signal injected at each effect
    (seed ``[seed, session index]``): :func:`power_records`' records, ``source`` "real"."""
    from nidecode.data.gabors import epoch_sessions, unit_table

    names = epoch_sessions(folder)[:sessions]
    units = unit_table(folder)
    jobs = [(str(folder), s, k, units, tuple(effects), fraction, tuple(splits),
             decoders or {"glm": DECODERS["glm"]}, seed) for k, s in enumerate(names)]
    return _records(_real_power_session, jobs, processes)


def simulated_epoch(name: str, seed: int, n_units: int = 90) -> GaborEpoch:
    """The gabor epoch of one stimulus-blind drifting session as the workflow reads it (the
    real arm's simulated counterpart: N0 of the default config, as
    :func:`nidecode.studies.false_positives.false_positive_study` simulates it, ``n_units``
    VISp units, the simulator's default drift, Allen's clock and block order), through the NWB
    file, the reader and :func:`nidecode.data.gabors.session_epoch` with Allen's filters."""
    from nidecode.data.gabors import session_epoch
    from nidecode.data.nwb import read_session
    from nidecode.data.responses import ALLEN_UNIT_FILTERS
    from nidecode.data.session_clock import Protocol
    from nidecode.data.simulate import AnimalSpec, simulate_session, write_nwb
    from nidecode.data.stimuli import Canvas

    spec = AnimalSpec(name=name, seed=seed, n_units={"VISp": n_units}, stimulus_blind=True,
                      fraction_failing_qc=0.0, drive=1.0, gain_noise=0.3)
    protocol = Protocol(repeats=6, blanks_gratings=6, blanks_scenes=6)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.nwb"
        write_nwb(simulate_session(spec, protocol, Canvas(20, 32)), path)
        return session_epoch(read_session(path, provenance="simulated"), ("VISp",),
                             dict(ALLEN_UNIT_FILTERS), "simulated", name)


def _simulated_power_session(args: tuple) -> list[dict]:
    index, base_seed, n_units, effects, fraction, splits, decoders, seed = args
    name = f"null{index}"
    epoch = simulated_epoch(name, base_seed + index, n_units)
    base = {"source": "simulated", "session": name, "index": index, "split": None,
            "decoder": None, "stimulus_blind": True, "n_units": int(epoch.counts.shape[1]),
            "n_presentations": int(len(epoch.start_time))}
    return power_records(epoch, base, effects, fraction, splits, decoders, [seed, index])


def simulated_power(n_sessions: int, effects: tuple[float, ...] = EFFECTS,
                    fraction: float = FRACTION, splits: tuple[str, ...] = ("block", "trial"),
                    decoders: dict[str, dict] | None = None, base_seed: int = 5000,
                    n_units: int = 90, seed: int = 0, processes: int = 1) -> pd.DataFrame:
    """:func:`real_power` on ``n_sessions`` simulated stimulus-blind sessions
    (:func:`simulated_epoch`, seeds ``base_seed + k``, the simulated study's null sessions),
    the same injection (seed ``[seed, k]``), decoders and tests; ``source`` "simulated"."""
    jobs = [(k, base_seed, n_units, tuple(effects), fraction, tuple(splits),
             decoders or {"glm": DECODERS["glm"]}, seed) for k in range(n_sessions)]
    return _records(_simulated_power_session, jobs, processes)


def power_table(results: pd.DataFrame, alpha: float = 0.05, group_size: int = GROUP_SIZE,
                n_random: int = N_RANDOM_GROUPS) -> pd.DataFrame:
    """Detection rates at ``alpha`` per source (real, simulated), effect, split and decoder:
    per session ``p_time`` (block relabelling) and ``p_binomial`` (every fold significant),
    each with its floor (NaN rate where the floor is above ``alpha``: it cannot reject), and
    the exact group test over groups of ``group_size`` sessions
    (:func:`nidecode.studies.false_positives.real_group_table`: the disjoint groups of one
    seeded shuffle and ``n_random`` overlapping random groups), with the mean balanced
    accuracy and the relabellings' mean. Skipped sessions are left out."""
    done = results[results.skipped.isna()] if "skipped" in results else results
    out = []
    for (source, effect), part in done.groupby(["source", "effect"], sort=False):
        groups = real_group_table(part, group_size, n_random, alphas=(alpha,))
        for (split, decoder), g in part.groupby(["split", "decoder"], sort=False):
            row = {"source": source, "effect": float(effect), "split": split,
                   "decoder": decoder, "n_sessions": len(g),
                   "mean_accuracy": round(float(g.accuracy.mean()), 4),
                   "relabelling_mean": round(float(np.mean(
                       [np.mean(a) for a in g.time_null_accuracies])), 4)}
            for test in POWER_TESTS:
                floor = test_floor(test, g)
                row[f"{test}_floor"] = floor
                row[test] = (float(np.mean(g[test] <= alpha)) if floor <= alpha
                             else float("nan"))
                row[f"{test}_at_0.1"] = float(np.mean(g[test] <= 0.1))
            mine = (groups[(groups.split == split) & (groups.decoder == decoder)]
                    if len(groups) else groups)  # no group: fewer sessions than group_size
            for r in mine.to_dict("records"):
                kind = r["groups"]
                row[f"group_{kind}"] = r[f"rejected_at_{alpha:g}"]
                row[f"group_{kind}_n"] = r["n_groups"]
                row[f"group_{kind}_median_p"] = r["median_p"]
            out.append(row)
    return pd.DataFrame(out)


def power_markdown(table: pd.DataFrame, alpha: float = 0.05) -> str:
    """:func:`power_table` as one Markdown table, real and simulated side by side per effect,
    split and decoder."""
    def rate(r: dict, key: str) -> str:
        v, n = r.get(key), int(r["n_sessions"])
        if key in POWER_TESTS and (v is None or v != v):
            return f"cannot reject (floor {r[f'{key}_floor']:.2g})"
        return "" if v is None or v != v else f"{v:.3f} ({int(round(v * n))} of {n})"

    def group(r: dict) -> str:
        out = []
        for kind in ("disjoint", "random"):
            v, n = r.get(f"group_{kind}"), r.get(f"group_{kind}_n")
            if v is None or v != v:
                return "no group"
            out.append(f"{int(round(v * n))} of {int(n)}")
        return "; ".join(out)

    lines = [f"| effect | split | decoder | source | sessions | p_time ≤ {alpha:g} | "
             f"p_time ≤ 0.1 | group test ≤ {alpha:g}: disjoint; random groups | "
             f"binomial ≤ {alpha:g} | mean balanced accuracy | relabellings' mean |",
             "|" + " --- |" * 11]
    t = table.copy()
    t["_src"] = t.source.map({"real": 0, "simulated": 1})
    t["_split"] = t.split.map({"block": 0, "trial": 1})
    t = t.sort_values(["_split", "decoder", "effect", "_src"], kind="stable")
    for r in t.to_dict("records"):
        lines.append(f"| {r['effect']:g} | {r['split']} | {r['decoder']} | {r['source']} | "
                     f"{r['n_sessions']} | {rate(r, 'p_time')} | {rate(r, 'p_time_at_0.1')} | "
                     f"{group(r)} | {rate(r, 'p_binomial')} | {r['mean_accuracy']:.3f} | "
                     f"{r['relabelling_mean']:.3f} |")
    return "\n".join(lines)


__all__ = ["EFFECTS", "FRACTION", "Injection", "LABEL_NAMES", "apply_gain", "choose_units",
           "inject_epoch", "inject_signal", "power_markdown", "power_records", "power_table",
           "real_power", "simulated_epoch", "simulated_power"]
