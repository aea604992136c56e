"""Start-up a training job's process pays before it trains, timed over fresh interpreters.

    python benchmarks/gpu/gpu_startup.py --out DIR [--repeats 3] [--device cuda]

Each command runs in a new process (torch_cuda ``--repeats`` times, the others
``--other-repeats`` times; PYTHONPATH as inherited, workflow/ put in front), wall time
measured around
it; rows go to DIR/startup.csv. ``torch_cuda``: torch, lightning, nidecode.decoders.network and
a first CUDA tensor, as a training job pays before it trains; ``as_dnn_train``: also the
modules workflow/scripts/dnn_train.py imports (nidecode.jobs.training); ``bare``: the
interpreter alone.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--repeats", type=int, default=3, help="of torch_cuda")
    p.add_argument("--other-repeats", type=int, default=1, help="of bare and as_dnn_train")
    p.add_argument("--device", default="cuda")
    args = p.parse_args()
    dev = args.device
    commands = {
        "bare": "pass",
        "torch_cuda": "import torch, lightning; import nidecode.decoders.network; "
                      f"torch.zeros(1, device={dev!r})",
        "as_dnn_train": "import torch, lightning; import nidecode.decoders.network, "
                        "nidecode.jobs.training, nidecode.common.scripting; "
                        f"torch.zeros(1, device={dev!r})",
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "workflow")] + [x for x in env.get("PYTHONPATH", "").split(os.pathsep) if x])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for rep in range(max(args.repeats, args.other_repeats)):
        for name, code in commands.items():
            if rep >= (args.repeats if name == "torch_cuda" else args.other_repeats):
                continue
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True)
            dt = time.perf_counter() - t0
            rows.append({"command": name, "repeat": rep, "seconds": round(dt, 3),
                         "rc": r.returncode, "stderr_tail": r.stderr.strip()[-300:]})
            print(f"startup {name} repeat {rep}: {dt:.2f} s (rc {r.returncode})", flush=True)
    with (out / "startup.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("code of each command:", {k: v for k, v in commands.items()})


if __name__ == "__main__":
    main()
