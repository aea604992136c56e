"""Benchmarks of the training path, printed as a table and written as JSON.

    python benchmarks/scale/benchmark.py [--image-size 224] [--precision bf16-mixed] [--compile]
                                   [--only a,b,c,d,e] [--json results/benchmark.json]

(a) GoogLeNet's training-step ceiling: random tensors already on the device, same image size,
    precision, channels_last and compile settings as (b).
(b) The project's training pipeline (Lightning, W rows pinned in host memory, images synthesised
    on the device as W[batch] @ U) on a simulated session: images/s of steady-state epochs.
(c) A naive pipeline as a typical user would write it: one neural-image file per trial, read by a
    torchvision-style Dataset and DataLoader, trained in fp32 in a plain PyTorch loop.
(d) Building the neural images: W = R (R^T A) for 9 sessions x 12,000 trials x 800 units with U at
    the image size (time, peak memory), against the literal double sum (measured on a subset,
    extrapolated by its operation count; the extrapolation is labelled as such).
(e) The CPU end-to-end time of the embedded default (`snakemake --cores 2` in a scratch copy).
(f) `snakemake -n` on the 2,295-combo DAG of config/all_combos.yaml.
(g) The responses step (read_session + compute_responses, config/config.yaml's settings) on one
    session at real size: 2,000 units, 3 h, ~10^8 spikes, a synthetic file in Allen's NWB
    layout made once and cached in resources/benchmark/ (benchmarks/scale/real_size.py); wall
    time and peak memory of the lazy reader, and of the old reader (every spike read and sorted).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"


def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _autocast(precision: str, device: str):
    import torch

    if precision.startswith("bf16"):
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    if precision.startswith("16"):
        return torch.autocast(device_type=device, dtype=torch.float16)
    return torch.autocast(device_type=device, enabled=False)


def ceiling(args) -> dict:
    """(a) GoogLeNet train steps on random on-device tensors."""
    import torch
    import torch.nn.functional as F
    from torchvision.models import googlenet

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model = googlenet(weights=None, aux_logits=False, init_weights=True, num_classes=2).to(dev)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size, device=dev)
    y = torch.randint(0, 2, (args.batch_size,), device=dev)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    step_model = torch.compile(model) if args.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        with _autocast(args.precision, dev):
            loss = F.cross_entropy(step_model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    _sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    _sync()
    dt = time.perf_counter() - t0
    return {"images_per_s": args.batch_size * args.steps / dt, "steps": args.steps}


def simulated_weights(n_trials: int, n_units: int, seed: int = 0):
    """R, stimulus index, W, labels and U (238 stimuli, 120 x 192, as config/gpu.yaml renders).

    Throughput does not depend on the images' content, so U is seeded noise here: the benchmark
    needs neither the rendered stimuli nor their packages on the GPU machine.
    """
    from nidecode.images.neural_images import neural_image_weights

    rng = np.random.default_rng(seed)
    n_stim = 238
    u = rng.random((n_stim, 120, 192), dtype=np.float32)
    idx = rng.integers(0, n_stim, n_trials)
    tuning = rng.normal(size=(n_stim, n_units)).astype(np.float32)
    r = (tuning[idx] + rng.normal(size=(n_trials, n_units))).astype(np.float32)
    w = neural_image_weights(r, idx, n_stim, np.ones(n_trials, bool))
    labels = (idx >= 120).astype(np.int64)  # rows 0-119 gratings, 120-237 natural scenes
    return r, idx, w, labels, u


def pipeline(args) -> dict:
    """(b) The project's Lightning training path on a simulated session."""
    import lightning as L
    import torch

    from nidecode.decoders.network import (
        DNNSettings,
        NeuralImageClassifier,
        _loader,
        build_googlenet,
    )

    _, _, w, y, u = simulated_weights(args.trials, 800)
    settings = DNNSettings(
        image_size=args.image_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        precision=args.precision,
        channels_last=args.channels_last,
        compile=args.compile,
        pretrained=False,
        threads=os.cpu_count() or 1,
    )
    model, _ = build_googlenet(2, pretrained=False)
    module = NeuralImageClassifier(model, 2, torch.from_numpy(u), settings)
    if settings.channels_last:
        module = module.to(memory_format=torch.channels_last)
    if settings.compile:
        module.model = torch.compile(module.model)

    class EpochTimer(L.Callback):
        def __init__(self):
            self.times: list[float] = []

        def on_train_epoch_start(self, trainer, pl_module):
            _sync()
            self.t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module):
            _sync()
            self.times.append(time.perf_counter() - self.t0)

    timer = EpochTimer()
    on_gpu = torch.cuda.is_available()
    trainer = L.Trainer(
        max_epochs=args.epochs,
        accelerator="auto",
        devices=1,
        precision=args.precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    loader = _loader(w, y, args.batch_size, True, 0, on_gpu)
    trainer.fit(module, loader)
    steady = timer.times[1:] or timer.times  # the first epoch holds compilation and warm-up
    n = (len(w) // args.batch_size) * args.batch_size if False else len(w)
    return {
        "images_per_s": n / float(np.mean(steady)),
        "epoch_s": float(np.mean(steady)),
        "epochs_timed": len(steady),
        "trials": len(w),
    }


def naive(args) -> dict:
    """(c) Per-trial image files + torchvision-style Dataset/DataLoader + fp32 training."""
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms
    from torchvision.models import googlenet

    _, _, w, y, u = simulated_weights(args.trials, 800)
    flat_u = u.reshape(len(u), -1)
    tmp = Path(tempfile.mkdtemp(prefix="naive_images_"))
    t0 = time.perf_counter()
    for t in range(len(w)):  # materialise every neural image as a PNG, as a user would
        img = (w[t] @ flat_u).reshape(u.shape[1:])
        img = (img - img.min()) / (img.max() - img.min() + 1e-9)
        Image.fromarray((img * 255).astype(np.uint8)).save(tmp / f"trial_{t:06d}.png")
    write_s = time.perf_counter() - t0

    class Images(Dataset):
        def __init__(self):
            self.files = sorted(tmp.glob("*.png"))
            self.tf = transforms.Compose(
                [
                    transforms.Resize((args.image_size, args.image_size)),
                    transforms.Grayscale(num_output_channels=3),
                    transforms.ToTensor(),
                    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
                ]
            )

        def __len__(self):
            return len(self.files)

        def __getitem__(self, i):
            return self.tf(Image.open(self.files[i])), int(y[i])

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model = googlenet(weights=None, aux_logits=False, init_weights=True, num_classes=2).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = DataLoader(
        Images(), batch_size=args.batch_size, shuffle=True, num_workers=min(8, os.cpu_count() or 1)
    )
    times = []
    for _ in range(2):
        _sync()
        t0 = time.perf_counter()
        for x, yy in loader:
            x, yy = x.to(dev), yy.to(dev)
            loss = F.cross_entropy(model(x), yy)
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync()
        times.append(time.perf_counter() - t0)
    disk = sum(f.stat().st_size for f in tmp.glob("*.png"))
    for f in tmp.glob("*.png"):
        f.unlink()
    tmp.rmdir()
    return {
        "images_per_s": len(w) / times[-1],
        "epoch_s": times[-1],
        "write_images_s": write_s,
        "disk_mb": disk / 1e6,
        "trials": len(w),
    }


def build_images(args) -> dict:
    """(d) W for 9 x 12,000 x 800 at the image size, in a child process for peak memory."""
    code = f"""
import json, resource, time, sys
sys.path.insert(0, {str(REPO / "workflow")!r})
import numpy as np, torch, torch.nn.functional as F
from nidecode.images.neural_images import neural_image_weights, literal_neural_images
size = {args.image_size}
rng = np.random.default_rng(0)
images = rng.random((238, 120, 192), dtype=np.float32)  # U as config/gpu.yaml renders it
# The inputs (responses of 9 sessions) are in memory before timing starts.
sessions = [(rng.standard_normal((12000, 800), dtype=np.float32),
             rng.integers(0, len(images), 12000)) for _ in range(9)]
t0 = time.perf_counter()
u = F.interpolate(torch.from_numpy(images)[:, None], size=(size, size),
                  mode="bilinear", antialias=True)[:, 0].reshape(len(images), -1).numpy()
ws = [neural_image_weights(r, idx, u.shape[0], np.ones(12000, bool)) for r, idx in sessions]
algebra_s = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# The literal double sum on a subset: 300 trials x 100 units at the same size.
sub_t, sub_u = 300, 100
r = rng.standard_normal((sub_t, sub_u)).astype(np.float32)
idx = rng.integers(0, u.shape[0], sub_t)
shown = u[idx].reshape(sub_t, size, size)
t1 = time.perf_counter()
literal_neural_images(r, shown)
literal_sub_s = time.perf_counter() - t1
# The double sum costs 2 * trials * units pixel-vector updates per session.
scale = (9 * 12000 * 800) / (sub_t * sub_u)
print(json.dumps(dict(algebra_s=algebra_s, peak_mb=peak_mb, w_mb=sum(w.nbytes for w in ws) / 1e6,
                      literal_subset_s=literal_sub_s, literal_extrapolated_s=literal_sub_s * scale,
                      literal_materialised_gb=9 * 12000 * size * size * 4 / 1e9)))
"""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.build_threads),
        "OPENBLAS_NUM_THREADS": str(args.build_threads),
        "MKL_NUM_THREADS": str(args.build_threads),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def end_to_end(args) -> dict:
    """(e) The embedded default, `snakemake --cores 2`, in a scratch working directory."""
    with tempfile.TemporaryDirectory(prefix="e2e_") as d:
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--snakefile",
                str(REPO / "Snakefile"),
                "--directory",
                d,
                "--cores",
                "2",
                "-q",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return {"seconds": time.perf_counter() - t0}


def dry_run(args) -> dict:
    """(f) `snakemake -n` on the 2,295-combo DAG (config/all_combos.yaml)."""
    with tempfile.TemporaryDirectory(prefix="dry_") as d:
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", d, "-n", "--configfile", str(REPO / "config" / "config.yaml"),
               str(REPO / "config" / "all_combos.yaml")]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        seconds = time.perf_counter() - t0
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", out.split("Job stats:")[1], re.M))
    jobs, combos = int(stats["total"]), int(stats["dnn_cross"])
    return {"seconds": seconds, "jobs": jobs, "combos": combos}


def real_size(args) -> dict:
    """(g) The responses step on a real-size session (benchmarks/scale/real_size.py)."""
    sys.path.insert(0, str(REPO / "benchmarks" / "scale"))
    import real_size as rs

    return rs.benchmark(n_units=args.real_units, hours=args.real_hours, old=not args.real_no_old)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--precision", default="bf16-mixed")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--trials", type=int, default=12000, help="trials of the simulated session")
    p.add_argument("--epochs", type=int, default=3, help="(b): epochs, the first is not timed")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--build-threads", type=int, default=2, help="(d): CPU threads")
    p.add_argument("--real-units", type=int, default=2000, help="(g): units of the session")
    p.add_argument("--real-hours", type=float, default=3.0, help="(g): its duration")
    p.add_argument("--real-no-old", action="store_true", help="(g): skip the old reader")
    p.add_argument("--only", default="a,b,c,d", help="which parts, e.g. a,b,c,d,e,f,g")
    p.add_argument("--json", default="results/benchmark.json")
    args = p.parse_args()
    parts = set(args.only.split(","))
    result: dict = {
        "device": device_name(),
        "settings": {
            k: getattr(args, k)
            for k in ("image_size", "batch_size", "precision", "channels_last", "compile", "trials")
        },
    }
    import torch

    result["torch"] = torch.__version__
    for key, fn in (
        ("a", ceiling),
        ("b", pipeline),
        ("c", naive),
        ("d", build_images),
        ("e", end_to_end),
        ("f", dry_run),
        ("g", real_size),
    ):
        if key in parts:
            print(f"running ({key}) ...", file=sys.stderr, flush=True)
            result[key] = fn(args)
    rows = []
    if "a" in result:
        rows.append(
            (
                "(a) GoogLeNet ceiling, random on-device tensors",
                f"{result['a']['images_per_s']:,.0f} img/s",
            )
        )
    if "b" in result:
        b = result["b"]
        rows.append(("(b) project pipeline (W@U on device)", f"{b['images_per_s']:,.0f} img/s"))
        if "a" in result:
            rows.append(
                (
                    "    (b) / (a)",
                    f"{b['images_per_s'] / result['a']['images_per_s']:.2f} (target >= 0.8)",
                )
            )
    if "c" in result:
        c = result["c"]
        rows.append(
            ("(c) naive: PNG per trial + DataLoader, fp32", f"{c['images_per_s']:,.0f} img/s")
        )
        rows.append(
            (
                "    (c) writing the image files",
                f"{c['write_images_s']:.1f} s, {c['disk_mb']:.0f} MB",
            )
        )
        if "b" in result:
            rows.append(
                (
                    "    (b) / (c) per epoch",
                    f"{c['epoch_s'] / result['b']['epoch_s']:.1f}x (target >= 5)",
                )
            )
    if "d" in result:
        d = result["d"]
        rows.append(
            (
                "(d) W for 9 x 12,000 x 800 (algebra)",
                f"{d['algebra_s']:.2f} s, peak {d['peak_mb']:.0f} MB (targets < 10 s, < 2000 MB)",
            )
        )
        rows.append(
            (
                "    (d) literal double sum, extrapolated",
                f"{d['literal_extrapolated_s']:,.0f} s (extrapolated from "
                f"{d['literal_subset_s']:.2f} s on 300 x 100); the images would take "
                f"{d['literal_materialised_gb']:.1f} GB",
            )
        )
    if "e" in result:
        rows.append(
            (
                "(e) embedded default, CPU end to end",
                f"{result['e']['seconds']:.0f} s (target <= 900 s)",
            )
        )
    if "f" in result:
        f = result["f"]
        rows.append(
            (
                f"(f) snakemake -n, {f['combos']:,} combos ({f['jobs']:,} jobs)",
                f"{f['seconds']:.1f} s (target < 20 s)",
            )
        )
    if "g" in result:
        import real_size as rs

        rows += rs.rows(result["g"])
    width = max(len(r[0]) for r in rows) if rows else 10
    print(
        f"\nnidecode benchmark on {result['device']} (torch {result['torch']}), "
        f"image {args.image_size}², {args.precision}, channels_last={args.channels_last}, "
        f"compile={args.compile}"
    )
    print("-" * (width + 50))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
