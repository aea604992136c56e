"""The simulator's session clock: a session's stimulus epochs and where presentations fall.

By default the simulator follows the epoch table of a real brain_observatory_1.1 session
(:data:`ALLEN_SCHEDULE`, session 756029989), so that blocks start, stop and follow each other
as in Allen's files: gratings and scenes in the order SG, NS, NS, SG, NS, SG, each block about
480 s long and about 90 minutes into the session, with gabors, flashes, drifting gratings,
movies and grey screen before and between them. Any other session's table can be given in the
same format (:func:`read_epochs`).

Inside a decoded block Allen shows about 1,920 presentations of 0.25 s back to back, blanks
included. A cheaper simulation shows fewer of them: :func:`place_presentations` puts them in
back-to-back *runs* of ``run_s`` seconds spread over the block, so that every block still
starts and stops on the table's clock and every presentation but the first of a run has its
pre-onset window inside the previous presentation, as in Allen's files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from nidecode.common.errors import ConfigError
from nidecode.data.nwb import STIMULUS_BLOCKS

PRESENTATION_S = 0.25
N_CONDITIONS = {"static_gratings": 120, "natural_scenes": 118}
# Allen's printout leaves out the ~30 s of grey screen between most epochs; gaps at least this
# long are written as spontaneous epochs (shorter ones, 1-2 s, are screen changes).
SPONTANEOUS_GAP_S = 10.0
ALLEN_SCHEDULE = Path(__file__).with_name("schedules") / "brain_observatory_1.1_756029989.tsv"
EPOCH_COLUMNS = ("stimulus_name", "stimulus_block", "start_time", "stop_time")


def read_epochs(path: str | Path = ALLEN_SCHEDULE) -> pd.DataFrame:
    """A session's stimulus epochs from a tab-separated table (``#`` lines are comments).

    Columns: ``stimulus_name``, ``stimulus_block`` (empty for spontaneous epochs),
    ``start_time``, ``stop_time`` in seconds, as AllenSDK's ``get_stimulus_epochs()`` prints
    them. Raises ConfigError naming the file when the table cannot drive a simulation.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"simulation.schedule: {path} does not exist. Give a tab-separated epoch table "
            f"({', '.join(EPOCH_COLUMNS)}) or 'allen' for the packaged brain_observatory_1.1 "
            "session."
        )
    try:
        table = pd.read_csv(path, sep="\t", comment="#")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise ConfigError(
            f"simulation.schedule: {path} is not a tab-separated table: {err}") from None
    return check_epochs(table, str(path))


def check_epochs(table: pd.DataFrame, where: str = "epoch table") -> pd.DataFrame:
    """``table`` in time order with ``stimulus_block`` as int64 (-1 for spontaneous), checked."""
    missing = [c for c in EPOCH_COLUMNS if c not in table]
    if missing:
        raise ConfigError(f"{where}: missing column(s) {missing}; expected {list(EPOCH_COLUMNS)}")
    t = table[list(EPOCH_COLUMNS)].copy()
    t["stimulus_block"] = pd.to_numeric(t["stimulus_block"]).fillna(-1).astype(np.int64)
    t = t.sort_values("start_time", kind="stable").reset_index(drop=True)
    start, stop = t["start_time"].to_numpy(float), t["stop_time"].to_numpy(float)
    if (stop <= start).any() or (start[1:] < stop[:-1] - 1e-6).any() or start[0] < 0:
        raise ConfigError(f"{where}: epochs must have start < stop, start >= 0 and not overlap")
    for name in STIMULUS_BLOCKS:
        blocks = t[t.stimulus_name == name]
        if blocks.empty:
            raise ConfigError(f"{where}: no {name} epoch; the decoded stimuli need one each")
        slots = np.floor((blocks.stop_time - blocks.start_time) / PRESENTATION_S + 1e-9)
        if (slots < 1).any():
            raise ConfigError(f"{where}: a {name} epoch is shorter than one presentation")
    return t


def alternating_epochs(n_blocks: int = 3, block_s: float = 120.0,
                       spontaneous_s: float = 30.0) -> pd.DataFrame:
    """A synthetic table: grey screen, then gratings and scenes blocks alternating, with grey
    screen after the first pair. Small sessions for tests; Allen never used this order."""
    rows = [("spontaneous", -1, 0.0, spontaneous_s)]
    t, block = spontaneous_s, 0
    for b in range(n_blocks):
        for name in STIMULUS_BLOCKS:
            rows.append((name, block, t, t + block_s))
            t, block = t + block_s, block + 1
        if b == 0 and spontaneous_s > 0:
            rows.append(("spontaneous", -1, t, t + spontaneous_s))
            t += spontaneous_s
    return check_epochs(pd.DataFrame(rows, columns=list(EPOCH_COLUMNS)), "alternating_epochs")


def spontaneous_epochs(epochs: pd.DataFrame) -> pd.DataFrame:
    """The table's spontaneous epochs plus the unlisted gaps of ``SPONTANEOUS_GAP_S`` or more."""
    listed = epochs[epochs.stimulus_name == "spontaneous"][["start_time", "stop_time"]]
    start, stop = epochs.start_time.to_numpy(float), epochs.stop_time.to_numpy(float)
    gap = start[1:] - stop[:-1]
    gaps = pd.DataFrame({"start_time": stop[:-1][gap >= SPONTANEOUS_GAP_S],
                         "stop_time": start[1:][gap >= SPONTANEOUS_GAP_S]})
    out = pd.concat([listed, gaps]).sort_values("start_time").reset_index(drop=True)
    return out


def _split_counts(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split in proportion to ``weights`` (largest remainders), summing to ``total``."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


def run_slots(n: int, slots: int, run_len: int, rng: np.random.Generator) -> np.ndarray:
    """Slot indices (sorted) of ``n`` presentations among a block's ``slots``: back-to-back runs
    of about ``run_len``, one in each of equal sections of the block, at a seeded offset."""
    n_runs = max(1, math.ceil(n / max(run_len, 1)))
    if slots - n < n_runs:  # (nearly) full, as Allen's blocks: one run from the block's start
        return np.arange(min(n, slots))
    lengths = np.array([len(a) for a in np.array_split(np.arange(n), n_runs)])
    # Each run gets its own section of the block: its length plus an equal share of the free
    # slots, and sits at a seeded offset inside it.
    free = _split_counts(slots - n, np.ones(n_runs))
    section = np.concatenate([[0], np.cumsum(lengths + free)])
    out = []
    for k, length in enumerate(lengths):
        off = int(section[k] + rng.integers(0, free[k] + 1))
        out.append(np.arange(off, off + length))
    return np.concatenate(out)


def place_presentations(epochs: pd.DataFrame, repeats: int, blanks: dict[str, int],
                        run_s: float, rng: np.random.Generator) -> dict[str, dict]:
    """Presentations of the decoded stimuli on the epoch table's clock.

    Each stimulus's conditions (``N_CONDITIONS``) ``repeats`` times plus ``blanks[name]`` blanks
    are shuffled and dealt to its blocks in proportion to their lengths, in order; a block
    holds at most ``floor(duration / 0.25)`` presentations (Allen fills its blocks, so at 50
    repeats a few presentations may not fit: they are left out). Returns per stimulus
    ``start``, ``stop``, ``condition`` (-1 = blank) and ``block`` (the table's
    ``stimulus_block``) arrays in time order.
    """
    run_len = max(1, int(round(run_s / PRESENTATION_S)))
    out: dict[str, dict] = {}
    for name in STIMULUS_BLOCKS:
        blocks = epochs[epochs.stimulus_name == name]
        slots = np.floor((blocks.stop_time - blocks.start_time).to_numpy() / PRESENTATION_S
                         + 1e-9).astype(np.int64)
        cond = np.concatenate([np.repeat(np.arange(N_CONDITIONS[name]), repeats),
                               -np.ones(blanks.get(name, 0), dtype=np.int64)])
        cond = rng.permutation(cond)
        counts = np.minimum(_split_counts(len(cond), slots.astype(float)), slots)
        starts, conds, block_no = [], [], []
        taken = 0
        for (_, blk), n, s in zip(blocks.iterrows(), counts, slots, strict=True):
            where = run_slots(int(n), int(s), run_len, rng)
            starts.append(blk.start_time + where * PRESENTATION_S)
            conds.append(cond[taken : taken + n])
            block_no.append(np.full(n, blk.stimulus_block, dtype=np.int64))
            taken += n
        start = np.concatenate(starts)
        out[name] = {"start": start, "stop": start + PRESENTATION_S,
                     "condition": np.concatenate(conds).astype(np.int64),
                     "block": np.concatenate(block_no)}
    return out
