"""Per-image training throughput of the project's training path, per backbone and image size.

    python benchmarks/gpu/gpu_throughput.py --out DIR [--tiny]

Each case runs :func:`nidecode.decoders.network.fit_predict` itself (Lightning, pinned W rows,
``W[batch] @ U``
synthesised on the device, ON/OFF channels as config/gpu.yaml, every layer fine-tuned,
checkpoint after every epoch), with its per-epoch progress callback replaced by one that
synchronises the device at both ends of each epoch. The first epoch (cuDNN autotuning, warm-up)
is recorded apart from the steady-state epochs after it. Rows are appended to
DIR/throughput.csv as each case finishes, so a run cut short keeps the cases it measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))

# (arch, image size, batch size): both backbones at 64, 128 and 224 with batch 256, and
# EfficientNet-Lite0 at 64 with config/gpu.yaml's batch of 64.
CASES = [("efficientnet_lite0", 64, 64)] + [
    (arch, size, 256) for arch in ("googlenet", "efficientnet_lite0") for size in (64, 128, 224)]
TINY_CASES = [("efficientnet_lite0", 32, 32), ("googlenet", 32, 64)]

FIELDS = ["arch", "image_size", "batch_size", "precision", "channels_last", "image_channels",
          "finetune", "device", "n_train", "epochs", "first_epoch_s", "first_epoch_images_per_s",
          "steady_epochs", "steady_epoch_s_mean", "steady_images_per_s", "steady_s_per_image",
          "fit_seconds", "fit_images_per_s_all_epochs", "predict_s", "total_case_s",
          "peak_gpu_mem_gb", "error"]


def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--tiny", action="store_true", help="a CPU rehearsal in miniature")
    p.add_argument("--n-train", type=int, default=8192)
    p.add_argument("--epochs", type=int, default=4, help="the first is reported apart")
    p.add_argument("--cases", default=None,
                   help="arch:size:batch,... instead of the default cases")
    args = p.parse_args()
    import lightning as L
    import torch

    import nidecode.decoders.network as dnn

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "throughput.csv"
    cases = TINY_CASES if args.tiny else CASES
    if args.cases:
        cases = [(a, int(s), int(b)) for a, s, b in (c.split(":") for c in args.cases.split(","))]
    n_train = 256 if args.tiny else args.n_train
    epochs = 2 if args.tiny else args.epochs
    n_test = 256 if args.tiny else 1024
    on_gpu = torch.cuda.is_available()

    class SyncedEpochs(L.Callback):
        """Epoch times with the device synchronised at both ends (replaces EpochProgress)."""

        times: list[float] = []

        def __init__(self, n_images: int, label: str = "") -> None:
            self.n_images = n_images
            SyncedEpochs.times = []

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            _sync()
            self.t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            _sync()
            SyncedEpochs.times.append(time.perf_counter() - self.t0)

    dnn.EpochProgress = SyncedEpochs  # fit_predict looks the name up when it runs

    rng = np.random.default_rng(0)
    # U as config/gpu.yaml renders it (238 stimuli, 120 x 192); content does not change speed.
    u = rng.random((238, 120, 192), dtype=np.float32)
    rows = []
    with csv_path.open("w", newline="") as f:
        csv.DictWriter(f, FIELDS).writeheader()
    for arch, size, batch in cases:
        row = {"arch": arch, "image_size": size, "batch_size": batch, "n_train": n_train,
               "epochs": epochs, "precision": "bf16-mixed", "channels_last": True,
               "image_channels": "on_off", "finetune": "all"}
        t_case = time.perf_counter()
        try:
            w = rng.normal(size=(n_train + n_test, 238)).astype(np.float32)
            y = (w[:, 0] > 0).astype(np.int64)
            settings = dnn.DNNSettings(
                arch=arch, image_size=size, epochs=epochs, batch_size=batch,
                precision="bf16-mixed", channels_last=True, compile=False, pretrained=False,
                finetune="all", image_channels="on_off", lr=1e-3,
                threads=8 if on_gpu else (os.cpu_count() or 1))
            if on_gpu:
                torch.cuda.reset_peak_memory_stats()
            with tempfile.TemporaryDirectory(prefix="thr_") as d:
                t_fit = time.perf_counter()
                _, rec = dnn.fit_predict(w[:n_train], y[:n_train], w[n_train:], 2, u, settings, d)
                total_fit_predict = time.perf_counter() - t_fit
            times = list(SyncedEpochs.times)
            steady = times[1:] or times
            row.update(
                device=rec["device"] + (f" ({torch.cuda.get_device_name(0)})" if on_gpu else ""),
                first_epoch_s=round(times[0], 4),
                first_epoch_images_per_s=round(n_train / times[0], 1),
                steady_epochs=len(steady),
                steady_epoch_s_mean=round(float(np.mean(steady)), 4),
                steady_images_per_s=round(n_train * len(steady) / float(np.sum(steady)), 1),
                steady_s_per_image=float(f"{float(np.sum(steady)) / (n_train * len(steady)):.4g}"),
                fit_seconds=rec["fit_seconds"],
                fit_images_per_s_all_epochs=rec["train_images_per_second"],
                predict_s=round(total_fit_predict - rec["fit_seconds"], 3),
                peak_gpu_mem_gb=round(torch.cuda.max_memory_allocated() / 2**30, 2)
                if on_gpu else None,
            )
        except Exception as e:  # one failed case must not lose the others
            row["error"] = f"{type(e).__name__}: {e}"
        row["total_case_s"] = round(time.perf_counter() - t_case, 2)
        rows.append(row)
        with csv_path.open("a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow(row)
        print("throughput", json.dumps(row), flush=True)
    print(f"\n{'arch':<20}{'size':>5}{'batch':>6}{'img/s steady':>14}{'s/img':>11}"
          f"{'1st epoch img/s':>17}")
    for r in rows:
        if r.get("error"):
            print(f"{r['arch']:<20}{r['image_size']:>5}{r['batch_size']:>6}  FAILED {r['error']}")
            continue
        print(f"{r['arch']:<20}{r['image_size']:>5}{r['batch_size']:>6}"
              f"{r['steady_images_per_s']:>14,.0f}{r['steady_s_per_image']:>11.3g}"
              f"{r['first_epoch_images_per_s']:>17,.0f}")


if __name__ == "__main__":
    main()
