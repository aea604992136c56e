"""Simulated Allen Visual Coding Neuropixels sessions, written as NWB files in Allen's layout.

The embedded default of the workflow: machines without access to the Allen Institute's servers
still run every stage on files that the real loader reads exactly as it reads Allen's.

The spike model (see docs/simulation.md):

* every unit has a receptive field applied to the rendered stimulus image, by its area's
  response model (the table :data:`nidecode.data.area_models.AREA_MODELS`; an area not in it is
  an error): V1 (VISp) and higher visual area (VISl) units have Gabor fields, either simple
  (half-wave rectified linear) or complex (quadrature energy), tuned to orientation and to
  spatial frequency (log-normal around 0.04 cycles/degree in VISp, lower in VISl); LGd units
  have centre-surround (difference of Gaussians) ON or OFF fields; CA1 units are weakly driven
  or not at all;
* the drive becomes a rate through a threshold-power nonlinearity, is delayed by a latency
  (40-70 ms) and shaped by a transient-plus-sustained kernel that spills into the next
  presentation (presentations run back to back, as in Allen);
* a gain shared across units fluctuates from trial to trial (log-normal), and running (a
  two-state bout process) multiplies the gain of running-modulated units;
* slow drift: every unit's rate is multiplied by a slowly fluctuating gain on the session clock
  (Ornstein-Uhlenbeck processes of log-gain per unit plus ones shared by all units, one
  component with a time constant of a minute and a slower one of many minutes), so that
  responses to one stimulus differ between blocks minutes apart;
* novelty: when a stimulus is new to the session units fire more, whatever it shows, for a
  few minutes;
* spikes are Poisson in 5 ms bins, simulated only where the workflow reads them (around the
  presentations, coarser over grey screen);
* a "null" animal has units whose rates do not depend on the stimulus at all.

The session clock is a real brain_observatory_1.1 session's epoch table (nidecode.data.schedule).

The parts live in modules of their own: the session clock (:mod:`nidecode.data.session_clock`),
the unit model (:mod:`nidecode.data.unit_model`), slow drift (:mod:`nidecode.data.drift`) and
the gabor epoch (:mod:`nidecode.data.gabor_epoch`). Here: the animal's settings, novelty, the
session put together (:func:`simulate_session`) and its NWB file (:func:`write_nwb`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from nidecode.data.area_models import area_model
from nidecode.data.drift import (
    DRIFT_SETTLE_SD,
    DRIFT_SETTLE_TAU_S,
    DRIFT_SHARED_SD,
    DRIFT_SLOW_SHARED_SD,
    DRIFT_SLOW_TAU_S,
    DRIFT_SLOW_UNIT_SD,
    DRIFT_TAU_S,
    DRIFT_UNIT_SD,
    DRIFT_UNIT_SD_SPREAD,
    drift_log_gain,
)
from nidecode.data.gabor_epoch import GABOR_GAIN, GABOR_PHASES, simulate_gabor_epoch
from nidecode.data.gabors import (
    GABOR_CONTRAST,
    GABOR_SF_CPD,
    GABOR_SIZE_DEG,
    GABOR_TF_HZ,
    gabor_conditions,
    render_gabor,
)
from nidecode.data.nwb import PRESENTATION_COLUMNS, STIMULUS_BLOCKS
from nidecode.data.schedule import PRESENTATION_S
from nidecode.data.session_clock import (
    DT,
    SPONTANEOUS_DT,
    Protocol,
    presentation_schedule,
    simulated_segments,
)
from nidecode.data.stimuli import (
    MEAN_GREY,
    Canvas,
    grating_table,
    packaged_natural_scenes,
    render_grating,
)
from nidecode.data.unit_model import (
    BASE_HZ,
    BASE_LOG_SD,
    BASE_MIN_HZ,
    EVOKED_HZ,
    KERNEL_S,
    SCENE_GAIN_LOG_MEAN,
    SCENE_GAIN_LOG_SD,
    response_kernel,
    running_speed_trace,
    unit_drives,
)

NULL_NOTE = ", null animal: units blind to the stimulus"
# Novelty (docs/simulation.md, "Novelty"): evoked responses are larger when a stimulus is new to
# the session and relax over its first minutes of showings.
NOVELTY = 0.5
NOVELTY_TAU_S = 300.0


@dataclass(frozen=True)
class AnimalSpec:
    """Per-animal simulation settings.

    ``n_units`` maps area -> number of units; ``gain_noise`` is the SD of the log of the shared
    trial gain; ``drive`` scales stimulus-driven rates; ``stimulus_blind`` makes every unit
    blind to the stimulus (the null animal, a leakage control).

    Slow drift (see :func:`nidecode.data.drift.drift_log_gain`): ``drift_tau_s`` is the time
    constant (s) of the Ornstein-Uhlenbeck log-gains, ``drift_unit_sd`` the stationary SD of
    each unit's own log-gain and ``drift_shared_sd`` that of the log-gain shared by all units;
    ``drift_slow_tau_s``, ``drift_slow_unit_sd`` and ``drift_slow_shared_sd`` are the same for
    a second, slower component added to them. All SDs 0 turn drift off (and the session's
    other random draws are the same as with drift on).
    """

    name: str
    seed: int
    n_units: dict[str, int] = field(
        default_factory=lambda: {"VISp": 80, "VISl": 30, "LGd": 25, "CA1": 20}
    )
    gain_noise: float = 0.3
    drive: float = 1.0
    stimulus_blind: bool = False
    running_modulation: float = 0.4
    novelty: float = NOVELTY
    novelty_tau_s: float = NOVELTY_TAU_S
    fraction_failing_qc: float = 0.15
    drift_tau_s: float = DRIFT_TAU_S
    drift_unit_sd: float = DRIFT_UNIT_SD
    drift_shared_sd: float = DRIFT_SHARED_SD
    drift_settle_sd: float = DRIFT_SETTLE_SD
    drift_settle_tau_s: float = DRIFT_SETTLE_TAU_S
    drift_unit_sd_spread: float = DRIFT_UNIT_SD_SPREAD
    drift_slow_tau_s: float = DRIFT_SLOW_TAU_S
    drift_slow_unit_sd: float = DRIFT_SLOW_UNIT_SD
    drift_slow_shared_sd: float = DRIFT_SLOW_SHARED_SD
    gabor_gain: float = GABOR_GAIN
    base_hz: float = BASE_HZ
    base_log_sd: float = BASE_LOG_SD
    base_min_hz: float = BASE_MIN_HZ
    scene_gain_log_mean: float = SCENE_GAIN_LOG_MEAN
    scene_gain_log_sd: float = SCENE_GAIN_LOG_SD

    @classmethod
    def from_config(cls, config: dict, session: str) -> AnimalSpec:
        """Simulation settings of one animal from ``simulation.animals.<session>``.

        Slow drift: ``simulation.drift`` (``tau_s``, ``unit_sd``, ``shared_sd``) holds the
        simulation-wide setting; an animal's ``drift`` overrides it key by key (a mapping),
        keeps it (``true``) or turns drift off (``false``).
        """
        sim = config["simulation"]
        spec = dict(sim["animals"][session])
        drift = {"tau_s": DRIFT_TAU_S, "unit_sd": DRIFT_UNIT_SD, "shared_sd": DRIFT_SHARED_SD,
                 "settle_sd": DRIFT_SETTLE_SD, "settle_tau_s": DRIFT_SETTLE_TAU_S,
                 "unit_sd_spread": DRIFT_UNIT_SD_SPREAD, "slow_tau_s": DRIFT_SLOW_TAU_S,
                 "slow_unit_sd": DRIFT_SLOW_UNIT_SD, "slow_shared_sd": DRIFT_SLOW_SHARED_SD}
        drift.update(sim.get("drift") or {})
        own = spec.pop("drift", True)
        if own is False:
            drift["unit_sd"] = drift["shared_sd"] = drift["settle_sd"] = 0.0
            drift["slow_unit_sd"] = drift["slow_shared_sd"] = 0.0
        elif isinstance(own, dict):
            drift.update(own)
        return cls(name=session, drift_tau_s=float(drift["tau_s"]),
                   drift_unit_sd=float(drift["unit_sd"]),
                   drift_shared_sd=float(drift["shared_sd"]),
                   drift_settle_sd=float(drift["settle_sd"]),
                   drift_settle_tau_s=float(drift["settle_tau_s"]),
                   drift_unit_sd_spread=float(drift["unit_sd_spread"]),
                   drift_slow_tau_s=float(drift["slow_tau_s"]),
                   drift_slow_unit_sd=float(drift["slow_unit_sd"]),
                   drift_slow_shared_sd=float(drift["slow_shared_sd"]), **spec)

    @property
    def has_drift(self) -> bool:
        return (self.drift_unit_sd > 0 or self.drift_shared_sd > 0 or self.drift_settle_sd > 0
                or self.drift_slow_unit_sd > 0 or self.drift_slow_shared_sd > 0)


# ------------------------------------------------------------------------------------ simulation


@dataclass
class SimulatedSession:
    """Everything that goes into the NWB file."""

    animal: AnimalSpec
    blocks: dict[str, dict]
    unit_area: np.ndarray
    unit_kind: np.ndarray
    spike_times: list[np.ndarray]
    quality: dict[str, np.ndarray]
    running_t: np.ndarray
    running_speed: np.ndarray
    channel_area: dict[int, str]
    unit_channel: np.ndarray
    # Slow drift on a coarse grid (docs/simulation.md): grid times (s) and each unit's log-gain
    # (n_grid, n_units); rates at time t are multiplied by exp(interp(t, drift_t, drift_log_gain)).
    # Empty (0 grid points) when the animal has no drift.
    drift_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    drift_log_gain: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    # Seconds of the session whose spikes were simulated (simulated_segments and grey screen);
    # the file's firing_rate is spikes per simulated second.
    simulated_s: float = 0.0


def _quality_metrics(n: int, frac_fail: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Allen's quality-metric columns; about ``frac_fail`` of units fail the default filters."""
    q = {
        "quality": np.array(["good"] * n, dtype=object),
        "isi_violations": rng.uniform(0.0, 0.3, n),
        "amplitude_cutoff": rng.uniform(0.0, 0.08, n),
        "presence_ratio": rng.uniform(0.96, 1.0, n),
        "snr": rng.gamma(4.0, 0.8, n),
    }
    fail = np.flatnonzero(rng.random(n) < frac_fail)
    for j, u in enumerate(fail):
        which = j % 4
        if which == 0:
            q["quality"][u] = "noise"
        elif which == 1:
            q["isi_violations"][u] = rng.uniform(0.6, 3.0)
        elif which == 2:
            q["amplitude_cutoff"][u] = rng.uniform(0.15, 0.5)
        else:
            q["presence_ratio"][u] = rng.uniform(0.5, 0.9)
    return q


def simulate_session(
    animal: AnimalSpec, protocol: Protocol, canvas: Canvas | None = None
) -> SimulatedSession:
    """Simulate one animal's spikes on the protocol's session clock; seeded by ``animal.seed``
    (and ``protocol.seed``)."""
    canvas = canvas or Canvas(30, 48)
    rng = np.random.default_rng([animal.seed, protocol.seed])
    sched = presentation_schedule(protocol, np.random.default_rng(protocol.seed + animal.seed))
    end = sched["end_time"]["t"]

    # The same images the workflow renders: simulator and stimuli.nc agree by construction.
    gratings = np.stack([render_grating(o, sf, ph, canvas) for o, sf, ph in grating_table()])
    scenes, _, _ = packaged_natural_scenes(canvas)

    # Every area's response model, before anything is drawn: an area not in the table is an
    # error naming it (config key simulation.animals.<session>.n_units).
    models = {a: area_model(a, f"simulation.animals.{animal.name}.n_units")
              for a in animal.n_units}
    areas = [a for a, n in animal.n_units.items() for _ in range(n)]
    n_units = len(areas)
    unit_area = np.array(areas)
    # The gabor epoch's patches drift at 4 Hz: each condition drives a unit by its mean drive
    # over GABOR_PHASES frames of the cycle.
    gabor_frames = np.stack([render_gabor(x, y, o, ph, canvas.grid_deg(), mean_grey=MEAN_GREY)
                             for x, y, o in gabor_conditions() for ph in GABOR_PHASES])
    n_decoded = len(gratings) + len(scenes)
    image_gain = np.r_[np.ones(n_decoded), np.full(len(gabor_frames), animal.gabor_gain)]
    drive_g = np.zeros((len(gratings), n_units))
    drive_s = np.zeros((len(scenes), n_units))
    drive_gab = np.zeros((len(gabor_conditions()), n_units))
    kinds = np.empty(n_units, dtype=object)
    for area in animal.n_units:
        idx = np.flatnonzero(unit_area == area)
        if not len(idx):
            continue
        d, p = unit_drives(np.concatenate([gratings, scenes, gabor_frames]), models[area],
                           len(idx), canvas, rng, n_norm=n_decoded, image_gain=image_gain)
        drive_g[:, idx], drive_s[:, idx] = d[: len(gratings)], d[len(gratings) : n_decoded]
        drive_gab[:, idx] = d[n_decoded:].reshape(-1, len(GABOR_PHASES), len(idx)).mean(1)
        kinds[idx] = p["kind"]
    if animal.scene_gain_log_mean or animal.scene_gain_log_sd:
        scene_rng = np.random.default_rng([animal.seed, protocol.seed, 0x5CE4E])
        drive_s *= np.exp(scene_rng.normal(animal.scene_gain_log_mean,
                                           animal.scene_gain_log_sd, n_units))
    if animal.stimulus_blind:
        drive_g[:], drive_s[:], drive_gab[:] = 0.0, 0.0, 0.0
        kinds[:] = "null"

    base = np.exp(rng.normal(math.log(animal.base_hz), animal.base_log_sd, n_units)
                  ).clip(animal.base_min_hz, 30.0)  # Hz, the grey-screen rate
    amp = animal.drive * np.exp(rng.normal(math.log(EVOKED_HZ), 0.5, n_units))  # Hz at drive 1
    for area, model in models.items():  # CA1: half the evoked amplitude
        if model.amplitude != 1.0:
            amp[unit_area == area] *= model.amplitude
    latency = (np.array([models[a].latency_s for a in areas], dtype=np.float64)
               + rng.uniform(0, 0.02, n_units))
    run_mod = animal.running_modulation * rng.uniform(0.0, 1.0, n_units)

    run_t, run_v = running_speed_trace(end, rng)

    # Fine bins only around the runs of presentations (simulated_segments); a kernel's length
    # of empty bins after each stretch keeps one stretch's responses out of the next.
    seg0, seg1 = simulated_segments(sched)
    kern_n = int(round(KERNEL_S / DT))
    seg_n = np.round((seg1 - seg0) / DT).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(seg_n + kern_n)])
    nbins = int(offsets[-1])
    t_bins = np.zeros(nbins)
    valid = np.zeros(nbins, dtype=bool)
    for k in range(len(seg0)):
        t_bins[offsets[k] : offsets[k] + seg_n[k]] = seg0[k] + np.arange(seg_n[k]) * DT
        valid[offsets[k] : offsets[k] + seg_n[k]] = True
    running_bins = np.interp(t_bins, run_t, run_v) > 5.0

    # Shared trial gain, piecewise constant over each presentation; each presentation's drive
    # enters as an impulse at its onset bin, convolved with the unit's kernel below.
    per = int(round(PRESENTATION_S / DT))
    gain = np.ones(nbins)
    onset_bins, drives = [], []
    for name, dmat in (("static_gratings", drive_g), ("natural_scenes", drive_s)):
        blk = sched[name]
        start = np.asarray(blk["start"])
        k = np.searchsorted(seg0, start, side="right") - 1
        b0 = offsets[k] + np.round((start - seg0[k]) / DT).astype(np.int64)
        g = np.exp(rng.normal(-(animal.gain_noise**2) / 2, animal.gain_noise, len(b0)))
        # Novelty: when a stimulus is new to the session, units fire more whatever it shows
        # (excess, unselective activity), relaxing over its first minutes.
        novel = 1 + animal.novelty * np.exp(-(start - start.min()) / animal.novelty_tau_s)
        gain[(b0[:, None] + np.arange(per)).ravel()] = np.repeat(g * novel, per)
        shown = blk["condition"] >= 0
        onset_bins.append(b0[shown])
        drives.append(dmat[blk["condition"][shown]] * g[shown, None])
    onset = np.concatenate(onset_bins)
    drive_at_onset = np.concatenate(drives) * amp  # (shown presentations, units), Hz

    # Grey-screen epochs on a coarse grid, leaving out what the fine stretches cover.
    sp_t = np.concatenate([np.arange(a, b - SPONTANEOUS_DT / 2, SPONTANEOUS_DT)
                           for a, b in zip(sched["spontaneous"]["start"],
                                           sched["spontaneous"]["stop"], strict=True)] or
                          [np.zeros(0)])
    k = np.searchsorted(seg0, sp_t + SPONTANEOUS_DT, side="left") - 1
    inside = (k >= 0) & (sp_t < seg1[np.maximum(k, 0)])
    sp_t = sp_t[~inside]
    sp_running = np.interp(sp_t, run_t, run_v) > 5.0
    simulated_s = float(valid.sum() * DT + len(sp_t) * SPONTANEOUS_DT)

    # Slow drift from its own generator, so every other draw is the same with drift on or off.
    if animal.has_drift:
        drift_rng = np.random.default_rng([animal.seed, protocol.seed, 0xD21F7])
        drift_t, drift_lg = drift_log_gain(animal, n_units, end, drift_rng)
    else:
        drift_t, drift_lg = np.zeros(0), np.zeros((0, n_units))

    spike_times: list[np.ndarray] = []
    impulse = np.zeros(nbins, dtype=np.float32)
    for u in range(n_units):
        kern = response_kernel(latency[u]).astype(np.float32)
        impulse[onset] = drive_at_onset[:, u]
        evoked = np.convolve(impulse, kern)[:nbins]
        rate = (base[u] * gain + evoked) * (1 + run_mod[u] * running_bins)
        sp_rate = base[u] * (1 + run_mod[u] * sp_running)
        if animal.has_drift:
            rate = rate * np.exp(np.interp(t_bins, drift_t, drift_lg[:, u]))
            sp_rate = sp_rate * np.exp(np.interp(sp_t, drift_t, drift_lg[:, u]))
        counts = rng.poisson(np.where(valid, np.maximum(rate, 0), 0.0) * DT)
        st = np.repeat(t_bins, counts) + rng.uniform(0, DT, counts.sum())
        sp_counts = rng.poisson(sp_rate * SPONTANEOUS_DT)
        sp = np.repeat(sp_t, sp_counts) + rng.uniform(0, SPONTANEOUS_DT, sp_counts.sum())
        spike_times.append(np.sort(np.concatenate([st, sp])))

    # The gabor epoch from generators of its own, so the decoded blocks' spikes are the same
    # with or without it.
    if sched.get("gabors") is not None:
        gab_spikes, gab_s = simulate_gabor_epoch(
            sched["gabors"], drive_gab * amp, base, latency, run_mod, run_t, run_v,
            (drift_t, drift_lg) if animal.has_drift else None, animal.gain_noise,
            np.random.default_rng([animal.seed, protocol.seed, 0x6AB0]))
        spike_times = [np.sort(np.concatenate([a, b]))
                       for a, b in zip(spike_times, gab_spikes, strict=True)]
        simulated_s += gab_s

    # Channels: 8 per area with Allen-like ids; each unit sits on one of its area's channels.
    channel_area: dict[int, str] = {}
    unit_channel = np.empty(n_units, dtype=np.int64)
    for a_i, area in enumerate(animal.n_units):
        ids = [850_000_000 + animal.seed * 1000 + a_i * 8 + c for c in range(8)]
        channel_area.update({c: area for c in ids})
        idx = np.flatnonzero(unit_area == area)
        unit_channel[idx] = rng.choice(ids, len(idx))

    return SimulatedSession(
        animal=animal,
        blocks=sched,
        unit_area=unit_area,
        unit_kind=kinds.astype(str),
        spike_times=spike_times,
        quality=_quality_metrics(n_units, animal.fraction_failing_qc, rng),
        running_t=run_t,
        running_speed=run_v,
        channel_area=channel_area,
        unit_channel=unit_channel,
        drift_t=drift_t,
        drift_log_gain=drift_lg,
        simulated_s=simulated_s,
    )


# ------------------------------------------------------------------------------------ NWB writing


def _stim_str(values: np.ndarray) -> list[str]:
    """Allen stores non-applicable stimulus parameters as the string "null"."""
    return [
        "null" if (v is None or (isinstance(v, float) and np.isnan(v))) else f"{v:g}"
        for v in values
    ]


def write_nwb(sim: SimulatedSession, path: str | Path) -> None:
    """Write ``sim`` as an NWB file in Allen's brain_observatory_1.1 layout.

    Written to a temporary name and renamed, so an interrupted write leaves no file that looks
    complete.
    """
    from pynwb import NWBHDF5IO, NWBFile, ProcessingModule, TimeSeries
    from pynwb.epoch import TimeIntervals

    path = Path(path)
    animal = sim.animal
    nwb = NWBFile(
        session_description=(
            f"SIMULATED session of animal {animal.name} (nidecode simulator, seed "
            f"{animal.seed}{NULL_NOTE if animal.stimulus_blind else ''})"
        ),
        identifier=f"nidecode-simulated-{animal.name}-{animal.seed}",
        session_start_time=datetime(2019, 1, 1, tzinfo=UTC),
        institution="simulated (nidecode); layout of the Allen Institute for Brain Science",
        stimulus_notes="brain_observatory_1.1",
        session_id=animal.name,
    )
    device = nwb.create_device(name="probeA", description="simulated Neuropixels probe")
    group = nwb.create_electrode_group(
        name="probeA", description="simulated probe", location="see electrodes", device=device
    )
    nwb.add_electrode_column("probe_vertical_position", "µm from probe tip")
    nwb.add_electrode_column("valid_data", "channel usable")
    for k, (cid, area) in enumerate(sorted(sim.channel_area.items())):
        nwb.add_electrode(
            id=int(cid),
            location=area,
            group=group,
            probe_vertical_position=20 * k,
            valid_data=True,
        )

    for col, desc in (
        ("peak_channel_id", "electrode id of the channel with the largest waveform"),
        ("quality", "Kilosort/manual label"),
        ("isi_violations", "ISI violation rate"),
        ("amplitude_cutoff", "estimated missed-spike fraction"),
        ("presence_ratio", "fraction of session with spikes"),
        ("snr", "waveform signal-to-noise ratio"),
        ("firing_rate", "mean firing rate over the session, Hz"),
        ("simulated_rf_kind", "simulator's receptive-field model (simulated data only)"),
    ):
        nwb.add_unit_column(col, desc)
    duration = sim.simulated_s or sim.blocks["end_time"]["t"]
    for u, st in enumerate(sim.spike_times):
        nwb.add_unit(
            id=950_000_000 + animal.seed * 10_000 + u,
            spike_times=st,
            peak_channel_id=int(sim.unit_channel[u]),
            quality=str(sim.quality["quality"][u]),
            isi_violations=float(sim.quality["isi_violations"][u]),
            amplitude_cutoff=float(sim.quality["amplitude_cutoff"][u]),
            presence_ratio=float(sim.quality["presence_ratio"][u]),
            snr=float(sim.quality["snr"][u]),
            firing_rate=len(st) / duration,
            simulated_rf_kind=str(sim.unit_kind[u]),
        )
    # Millions of spike times: as one numpy array, hdmf converts them at once, not one by one.
    nwb.units.spike_times.transform(func=lambda d: np.asarray(d, dtype=np.float64))
    nwb.units.spike_times_index.transform(func=lambda d: np.asarray(d, dtype=np.uint64))

    gratings = grating_table()
    for name in ("static_gratings", "natural_scenes"):
        blk = sim.blocks[name]
        cond = blk["condition"]
        ti = TimeIntervals(name=f"{name}_presentations", description=f"{name} presentations")
        for col in PRESENTATION_COLUMNS:  # the columns the reader expects, from one place
            ti.add_column(col, col)
        for j, c in enumerate(cond):
            if name == "static_gratings":
                o, sf, ph = gratings[c] if c >= 0 else (np.nan, np.nan, np.nan)
                params = _stim_str(np.array([o, sf, ph, 0.8 if c >= 0 else np.nan]))
                frame = "null"
            else:
                params = ["null"] * 4
                frame = f"{c:d}"  # -1 marks a blank, as in Allen
            ti.add_interval(
                start_time=float(blk["start"][j]),
                stop_time=float(blk["stop"][j]),
                stimulus_name=name,
                stimulus_block=float(blk["block"][j]),
                orientation=params[0],
                spatial_frequency=params[1],
                phase=params[2],
                contrast=params[3],
                frame=frame,
            )
        nwb.add_time_intervals(ti)
    spont = TimeIntervals(name="spontaneous_presentations", description="grey screen")
    spont.add_column("stimulus_name", "stimulus_name")
    for s0, s1 in zip(
        sim.blocks["spontaneous"]["start"], sim.blocks["spontaneous"]["stop"], strict=True
    ):
        spont.add_interval(start_time=float(s0), stop_time=float(s1), stimulus_name="spontaneous")
    nwb.add_time_intervals(spont)
    # The epochs nothing decodes (gabors, flashes, drifting gratings, movies) exist in time, so
    # drift runs through them; one row per epoch here, where Allen has one per presentation.
    epochs = sim.blocks["epochs"]["table"]
    gab = sim.blocks.get("gabors")
    if gab is not None:  # one row per presentation, AllenSDK's gabors columns
        cond = np.asarray(gabor_conditions())[gab["condition"]]
        n = len(cond)
        nwb.add_time_intervals(TimeIntervals.from_dataframe(pd.DataFrame({
            "start_time": gab["start"], "stop_time": gab["stop"],
            "stimulus_name": ["gabors"] * n, "stimulus_block": gab["block"].astype(float),
            "x_position": cond[:, 0], "y_position": cond[:, 1], "orientation": cond[:, 2],
            "spatial_frequency": np.full(n, GABOR_SF_CPD),
            "temporal_frequency": np.full(n, GABOR_TF_HZ), "size": np.full(n, GABOR_SIZE_DEG),
            "contrast": np.full(n, GABOR_CONTRAST)}),
            name="gabors_presentations", table_description="gabors presentations"))
    shown = [*STIMULUS_BLOCKS, "spontaneous"] + (["gabors"] if gab is not None else [])
    other = epochs[~epochs.stimulus_name.isin(shown)]
    for name, rows in other.groupby("stimulus_name", sort=False):
        ti = TimeIntervals(name=f"{name}_presentations",
                           description=f"{name} epochs (simulated: one row per epoch)")
        ti.add_column("stimulus_name", "stimulus_name")
        ti.add_column("stimulus_block", "stimulus_block")
        for row in rows.itertuples():
            ti.add_interval(start_time=float(row.start_time), stop_time=float(row.stop_time),
                            stimulus_name=str(name), stimulus_block=float(row.stimulus_block))
        nwb.add_time_intervals(ti)

    running = ProcessingModule(name="running", description="running speed on the disk")
    running.add(
        TimeSeries(
            name="running_speed",
            data=sim.running_speed.astype(np.float32),
            timestamps=sim.running_t,
            unit="cm/s",
            description="running speed (simulated)",
        )
    )
    nwb.add_processing_module(running)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial.nwb")
    with NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    tmp.replace(path)
