"""The decoders that read the neural images' weights W, on chosen sessions of a finished run:
the RBF SVC on W and the top-stimulus readout, mean accuracy over the 3 folds, in both splits
and both preferred-stimulus modes. Run it with two commits' code on their own runs to see what
a change to W did (the network's numbers are in each run's summary.csv).

    .venv/bin/python benchmarks/studies/w_decoders.py results --sessions M0,S0,N0
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

from nidecode.common.io import open_netcdf  # noqa: E402
from nidecode.jobs.glm_session import top_stimulus_readout as readout  # noqa: E402
from nidecode.jobs.runner import within  # noqa: E402
from nidecode.jobs.scope import Scope  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--sessions", default="M0,S0,N0")
    args = ap.parse_args()
    stimuli = open_netcdf(args.results / "stimuli.nc")
    print("| session | split | mode | SVC on W | top-stimulus readout |")
    print("| --- | --- | --- | --- | --- |")
    for s in args.sessions.split(","):
        ds = open_netcdf(args.results / "responses" / f"{s}.nc")
        for split in ("block", "trial"):
            scope = Scope(split=split)
            for mode in ("train", "paper"):
                svc = np.mean([within(ds, stimuli, k, scope, "svc_w",
                                      {"C": 1.0, "gamma": "scale"}, mode=mode)["accuracy"]
                               for k in range(scope.n_folds)])
                top = np.mean([readout(ds, stimuli, k, scope, mode)["accuracy"]
                               for k in range(scope.n_folds)])
                print(f"| {s} | {split} | {mode} | {svc:.3f} | {top:.3f} |", flush=True)


if __name__ == "__main__":
    main()
