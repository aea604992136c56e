#!/usr/bin/env bash
# One prepared GPU session: the benchmark table (bf16 + channels_last, then with torch.compile)
# and a Lightning fit through the project's fit_predict on the GPU. Writes to ${OUT:-results/gpu}.
set -uo pipefail
out=${OUT:-results/gpu}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, torchvision, lightning; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'lightning', lightning.__version__)" | tee -a "$out/gpu.txt"

python3 - <<'PY' 2>&1 | tee "$out/fit_check.log"
# The project's training function on the GPU: bf16, channels_last, pinned W rows, checkpoints.
import sys, tempfile, time
sys.path.insert(0, "workflow")
import numpy as np
from nidecode.decoders.network import DNNSettings, fit_predict
rng = np.random.default_rng(0)
u = rng.random((238, 60, 96)).astype(np.float32)
w = rng.normal(size=(4096, 238)).astype(np.float32)
y = (w[:, 0] > 0).astype(np.int64)
w[:, 0] += 2 * y
s = DNNSettings(image_size=224, epochs=2, batch_size=256, precision="bf16-mixed",
                channels_last=True, pretrained=False)
with tempfile.TemporaryDirectory() as d:
    t0 = time.time()
    pred, rec = fit_predict(w[:3072], y[:3072], w[3072:], 2, u, s, d)
    print("fit_check device", rec["device"], "accuracy", float((pred == y[3072:]).mean()),
          "images/s (incl. first epoch)", rec["train_images_per_second"],
          "seconds", round(time.time() - t0, 1))
PY

python3 benchmarks/benchmark.py --only a,b,c,d --image-size 224 --batch-size 256 \
    --precision bf16-mixed --trials 12000 --epochs 3 --json "$out/bench_bf16.json" 2>&1 \
    | tee "$out/bench_bf16.log"
python3 benchmarks/benchmark.py --only a,b --compile --image-size 224 --batch-size 256 \
    --precision bf16-mixed --trials 12000 --epochs 3 --json "$out/bench_compile.json" 2>&1 \
    | tee "$out/bench_compile.log"
