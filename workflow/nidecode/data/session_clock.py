"""The simulator's session clock: the protocol (repeats, blanks, the epoch table) and where every
presentation falls on it.

:class:`Protocol` and :func:`presentation_schedule` place the decoded stimuli's presentations,
and the gabor epoch's (:func:`gabor_schedule`), on a real session's epoch table
(nidecode.data.schedule); :func:`simulated_segments` says which stretches of the clock are
simulated in fine bins of :data:`DT` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nidecode.data.gabors import GABOR_REPEATS, gabor_conditions
from nidecode.data.nwb import STIMULUS_BLOCKS
from nidecode.data.schedule import (
    ALLEN_SCHEDULE,
    PRESENTATION_S,
    check_epochs,
    place_presentations,
    read_epochs,
    spontaneous_epochs,
)

DT = 0.005  # seconds per simulation bin
SPONTANEOUS_DT = 0.05  # grey screen: nothing is shown, rates change only over seconds
LEAD_S = 0.5  # simulated grey screen before each run of presentations (its pre-onset window)
TAIL_S = 0.25


@dataclass(frozen=True)
class Protocol:
    """Stimulus protocol: repeats per condition, blank presentations per stimulus (in the whole
    session, as Allen counts them), the session's epoch table (None: Allen's
    brain_observatory_1.1 session 756029989, :data:`nidecode.data.schedule.ALLEN_SCHEDULE`) and the
    length in seconds of the back-to-back runs a block's presentations come in when it shows
    fewer than Allen (:func:`nidecode.data.schedule.place_presentations`)."""

    repeats: int = 10
    blanks_gratings: int = 50
    blanks_scenes: int = 50
    epochs: pd.DataFrame | None = None
    run_s: float = 10.0
    seed: int = 0

    @classmethod
    def from_config(cls, config: dict) -> Protocol:
        """From the ``simulation`` section (drift is per animal:
        :meth:`nidecode.data.simulate.AnimalSpec.from_config`)."""
        sim = config["simulation"]
        schedule = sim.get("schedule", "allen")
        epochs = read_epochs(ALLEN_SCHEDULE if schedule == "allen" else schedule)
        return cls(repeats=sim["repeats"], blanks_gratings=sim["blanks"],
                   blanks_scenes=sim["blanks"], epochs=epochs, run_s=sim.get("run_s", 10.0))

    def epoch_table(self) -> pd.DataFrame:
        return read_epochs() if self.epochs is None else check_epochs(self.epochs)


# ----------------------------------------------------------------------------- stimulus schedule


def presentation_schedule(protocol: Protocol, rng: np.random.Generator) -> dict[str, dict]:
    """The session's presentations on its epoch table's clock.

    Per decoded stimulus (:func:`nidecode.data.schedule.place_presentations`): start and stop
    times, condition index (-1 = blank) and the table's ``stimulus_block``, each stimulus's
    presentations in a seeded pseudo-random order, back to back within runs. ``spontaneous``:
    start and stop of the grey-screen epochs; ``epochs``: the whole table (the epochs nothing
    decodes are written to the file too); ``end_time``: one second after the last epoch.
    """
    epochs = protocol.epoch_table()
    blanks = {"static_gratings": protocol.blanks_gratings,
              "natural_scenes": protocol.blanks_scenes}
    blocks: dict[str, dict] = place_presentations(epochs, protocol.repeats, blanks,
                                                  protocol.run_s, rng)
    blocks["gabors"] = gabor_schedule(epochs, np.random.default_rng([protocol.seed, 0x6AB0]))
    spont = spontaneous_epochs(epochs)
    blocks["spontaneous"] = {"start": spont.start_time.to_numpy(float),
                             "stop": spont.stop_time.to_numpy(float)}
    blocks["epochs"] = {"table": epochs}
    blocks["end_time"] = {"t": float(epochs.stop_time.max()) + 1.0}
    return blocks


def gabor_schedule(epochs: pd.DataFrame, rng: np.random.Generator) -> dict | None:
    """The gabor epoch's presentations: Allen's 243 conditions x 15 repeats in a seeded random
    order, back to back from the table's first ``gabors`` epoch (as many as fit), or None when
    the table has none. ``start``, ``stop``, ``condition`` (index into
    :func:`nidecode.data.gabors.gabor_conditions`) and ``block`` arrays."""
    rows = epochs[epochs.stimulus_name == "gabors"]
    if rows.empty:
        return None
    epoch = rows.iloc[0]
    slots = int(np.floor((epoch.stop_time - epoch.start_time) / PRESENTATION_S + 1e-9))
    cond = rng.permutation(np.repeat(np.arange(len(gabor_conditions())), GABOR_REPEATS))
    cond = cond[:slots]
    start = epoch.start_time + np.arange(len(cond)) * PRESENTATION_S
    return {"start": start, "stop": start + PRESENTATION_S, "condition": cond.astype(np.int64),
            "block": np.full(len(cond), int(epoch.stimulus_block), dtype=np.int64),
            "epoch_stop": float(epoch.stop_time)}


def simulated_segments(blocks: dict[str, dict]) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop times of the stretches whose spikes are simulated finely (DT bins).

    Spikes are simulated only where the workflow reads them: around every run of back-to-back
    presentations, from ``LEAD_S`` before its first onset (the first pre-onset window, grey
    screen here) to ``TAIL_S`` after its last offset. Grey-screen epochs are simulated on a
    coarser grid (:data:`SPONTANEOUS_DT`): nothing is shown there, so rates change only with
    drift and running.
    """
    start = np.sort(np.concatenate([blocks[n]["start"] for n in STIMULUS_BLOCKS]))
    breaks = np.flatnonzero(np.diff(start) > PRESENTATION_S + 1e-6) + 1
    first = start[np.r_[0, breaks]]
    last = start[np.r_[breaks - 1, len(start) - 1]] + PRESENTATION_S
    t0, t1 = first - LEAD_S, last + TAIL_S
    seg = [[t0[0], t1[0]]]
    for a, b in zip(t0[1:], t1[1:], strict=True):  # runs closer than a lead-in: one stretch
        if a <= seg[-1][1]:
            seg[-1][1] = max(seg[-1][1], b)
        else:
            seg.append([a, b])
    seg_arr = np.array(seg)
    return seg_arr[:, 0], seg_arr[:, 1]
