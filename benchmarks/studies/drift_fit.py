"""The drift rows of the fidelity table for each of a list of drift settings: the grid search
behind the slow-drift defaults (docs/simulation.md, "After (slow drift)").

    .venv/bin/python benchmarks/studies/drift_fit.py --real FOLDER --half fit \\
        --grid '[{}, {"drift_slow_tau_s": 1500, "drift_slow_unit_sd": 0.24}]' [--out grid.jsonl]

Each setting (AnimalSpec fields for every animal) simulates the config's animals with
stimulus information, as ``fidelity.py --real`` does, and prints one line: the simulated
median of each (a) and (b) drift row, "!" where it lies outside the real IQR of the chosen
sessions (``--half``: the fit or validation half, nidecode.studies.fidelity.session_half).
Only the drift rows, so about 40 s a setting on one core; the full table is fidelity.py's.
"""

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from snakemake.utils import update_config  # noqa: E402

from nidecode.config import validate_config  # noqa: E402
from nidecode.data.gabors import epoch_sessions, session_epoch  # noqa: E402
from nidecode.data.nwb import read_session  # noqa: E402
from nidecode.data.responses import ALLEN_UNIT_FILTERS  # noqa: E402
from nidecode.data.session_clock import Protocol  # noqa: E402
from nidecode.data.simulate import AnimalSpec, simulate_session, write_nwb  # noqa: E402
from nidecode.data.stimuli import Canvas  # noqa: E402
from nidecode.studies.fidelity import (  # noqa: E402
    HALVES,
    epoch_statistics,
    real_side,
    session_half,
)

SESSION_ROWS = ("probe_trial", "probe_block", "shared_fraction_30s", "autocorrelation_30s",
                "autocorrelation_60s", "autocorrelation_120s", "autocorrelation_300s")
UNIT_ROWS = ("excess_variance_30s", "excess_variance_120s")


def quartiles(x) -> np.ndarray:
    return np.percentile(pd.Series(x, dtype=float).dropna(), [25, 50, 75])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configfile", nargs="+", default=[str(ROOT / "config/config.yaml")])
    ap.add_argument("--real", type=Path, required=True, help="a gabor-epoch folder")
    ap.add_argument("--half", choices=HALVES, default=None, help="default: every session")
    ap.add_argument("--grid", required=True, help="JSON list of AnimalSpec overrides")
    ap.add_argument("--out", type=Path, default=None, help="append each setting's rows (JSONL)")
    args = ap.parse_args()
    config: dict = {}
    for f in args.configfile:
        update_config(config, yaml.safe_load(Path(f).read_text()))
    config = validate_config(config)
    protocol, canvas = Protocol.from_config(config), Canvas.from_config(config, "simulation")
    filters = dict(ALLEN_UNIT_FILTERS)
    names = session_half(epoch_sessions(args.real), args.half) if args.half else None
    real = real_side(args.real, filters, names)
    rq = {c: quartiles(real.sessions[c]) for c in SESSION_ROWS}
    rq.update({c: quartiles(real.units[c]) for c in UNIT_ROWS})
    print("real " + " ".join(f"{c}={q[1]:.3f}[{q[0]:.3f},{q[2]:.3f}]" for c, q in rq.items()))
    for point in json.loads(args.grid):
        t0 = time.perf_counter()
        sessions, units = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for name in config["simulation"]["animals"]:
                spec = replace(AnimalSpec.from_config(config, name), **point)
                if spec.stimulus_blind:
                    continue
                path = Path(tmp) / f"{name}.nwb"
                write_nwb(simulate_session(spec, protocol, canvas), path)
                epoch = session_epoch(read_session(path, "simulated"), ("VISp",), filters,
                                      "simulated", name)
                s, u = epoch_statistics(epoch)
                sessions.append(s)
                units.append(u)
        sim_s, sim_u = pd.DataFrame(sessions), pd.concat(units)
        medians, inside = {}, 0
        for c in SESSION_ROWS + UNIT_ROWS:
            medians[c] = float(quartiles((sim_s if c in SESSION_ROWS else sim_u)[c])[1])
            ok = rq[c][0] <= medians[c] <= rq[c][2]
            inside += ok
        marks = " ".join(f"{c}={m:.3f}{'' if rq[c][0] <= m <= rq[c][2] else '!'}"
                         for c, m in medians.items())
        print(f"{json.dumps(point)} inside {inside}/{len(medians)} {marks} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        if args.out is not None:
            with args.out.open("a") as fh:
                fh.write(json.dumps({"point": point, "medians": medians,
                                     "sessions": sim_s.to_dict("list")}) + "\n")


if __name__ == "__main__":
    main()
