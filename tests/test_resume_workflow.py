"""A GoogLeNet job killed mid-training resumes from its checkpoint and ends as if uninterrupted.

Through the real Snakemake CLI on the tiny config (more epochs than ci.yaml's one): one
workdir runs the job uninterrupted (the reference); a second workdir, given the same inputs,
starts the job, is SIGKILLed (the whole process group) once a checkpoint holds a finished
epoch, and is rerun with ``--rerun-incomplete``. The rerun must say it resumed and give the
reference's accuracy, confusion matrix and every other result, exactly (CPU training is
deterministic).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CI_CONFIG = ("--configfile", str(REPO / "config" / "config.yaml"), str(REPO / "config" / "ci.yaml"))
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
EPOCHS = 8  # about 0.8 s each here: the kill lands seconds before training ends
# The trial split (compared with the default block split): there the tiny run's GoogLeNet
# predicts both classes, so equal confusion matrices say something; in the block split it
# predicts one class after a few epochs.
JOB = Path("results/decode/trial/dnn_train/within/S0/fold0")
TARGET = str(JOB / "metrics.json")
# Beside metrics.json, or in the job's per-seed folder (one seed here).
CHECKPOINT, CSV_LOG = "checkpoints/last.ckpt", "lightning/v0/metrics.csv"
# Inputs built once (reference workdir) and copied, timestamps kept, to the interrupted one.
INPUTS = ("resources", "results/stimuli.nc", "results/responses")
# Differ between runs by nature: timings, throughput and the resume record itself.
RUN_SPECIFIC = {"wall_time_s", "fit_seconds", "train_images_per_second",
                "resumed_from_checkpoint", "resumed_after_epochs"}
KILL_DEADLINE_S = 900  # to reach a checkpointed epoch (inputs are ready: one job only)


def _command(workdir: Path, config: Path, *args: str) -> list[str]:
    # The target before --configfile, which takes every word after it.
    return [*SNAKEMAKE, TARGET, "--directory", str(workdir), "--cores", "1", *args,
            *CI_CONFIG, str(config)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": "0"}


def snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(workdir, config, *args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=_env(), timeout=1800)


def rules_run(out: str) -> list[str]:
    """Rules of the jobs an invocation started, from Snakemake's log."""
    return [line.split()[-1].rstrip(":") for line in out.splitlines()
            if line.startswith(("rule ", "localrule "))]


def epochs_logged(metrics_csv: Path | None) -> int:
    """Finished epochs in Lightning's CSV log (one row with train_loss per epoch)."""
    if metrics_csv is None or not metrics_csv.exists():
        return 0
    try:
        with metrics_csv.open(newline="") as f:
            return sum(1 for row in csv.DictReader(f) if row.get("train_loss"))
    except (OSError, csv.Error):  # caught mid-write: ask again
        return 0


def _one(workdir: Path, pattern: str) -> Path | None:
    """The job's file matching ``pattern`` (at the job's top or in a per-seed folder)."""
    found = sorted((workdir / JOB).glob(f"**/{pattern}"))
    assert len(found) <= 1, f"one training run expected, found {found}"
    return found[0] if found else None


def epoch_losses(workdir: Path) -> dict[str, str]:
    """Epoch -> train_loss as Lightning's CSV log wrote it (a resumed run's last write wins)."""
    with _one(workdir, CSV_LOG).open(newline="") as f:
        return {row["epoch"]: row["train_loss"] for row in csv.DictReader(f)
                if row.get("train_loss")}


def final_weights_equal(a: Path, b: Path) -> bool:
    """Whether two final checkpoints hold bit-identical model weights."""
    import torch

    wa, wb = (torch.load(_one(p, CHECKPOINT), map_location="cpu",
                         weights_only=True)["state_dict"] for p in (a, b))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def _kill_leftovers(workdir: Path) -> None:
    """SIGKILL any process still running from ``workdir`` (a job outside the group)."""
    needle = str(workdir).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def kill_after_first_epoch(workdir: Path, config: Path) -> str:
    """Start the job, SIGKILL Snakemake's process group after a checkpointed epoch."""
    log = workdir / "interrupted.log"
    with log.open("w") as out:
        proc = subprocess.Popen(_command(workdir, config), stdout=out, stderr=subprocess.STDOUT,
                                env=_env(), start_new_session=True)
        try:
            deadline = time.monotonic() + KILL_DEADLINE_S
            while True:
                assert proc.poll() is None, (
                    f"snakemake ended (rc {proc.returncode}) before a checkpointed epoch:\n"
                    + log.read_text()[-3000:])
                assert time.monotonic() < deadline, "no checkpointed epoch in time\n" + \
                    log.read_text()[-3000:]
                # Lightning writes the checkpoint atomically (temporary file, then a move) at the
                # end of an epoch, and the CSV row of that epoch with it.
                if _one(workdir, CHECKPOINT) and epochs_logged(_one(workdir, CSV_LOG)) >= 1:
                    break
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            _kill_leftovers(workdir)
    return log.read_text()


@pytest.mark.slow
def test_killed_training_job_resumes_to_the_uninterrupted_result(tmp_path):
    config = tmp_path / "epochs.yaml"
    # One seed: one training run to kill and resume.
    config.write_text(f"decoding:\n  dnn:\n    epochs: {EPOCHS}\n    seeds: [0]\n")
    ref, resumed = tmp_path / "reference", tmp_path / "resumed"

    # Reference: inputs and the training job, uninterrupted.
    res = snakemake(ref, config)
    assert res.returncode == 0, res.stdout[-5000:]
    reference = json.loads((ref / TARGET).read_text())
    assert reference["epochs"] == EPOCHS and reference["resumed_from_checkpoint"] is False
    # Both classes predicted: equal results below are not those of a constant classifier.
    assert all(sum(col) > 0 for col in zip(*reference["confusion_matrix"], strict=True)), \
        reference["confusion_matrix"]

    # The same inputs for the second workdir, timestamps kept: only the training job is due.
    for name in INPUTS:
        src, dst = ref / name, resumed / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)  # copy2: modification times kept
        else:
            shutil.copy2(src, dst)
    dry = snakemake(resumed, config, "-n")
    assert dry.returncode == 0, dry.stdout[-3000:]
    assert rules_run(dry.stdout) == ["dnn_within"], dry.stdout[-3000:]

    # Killed (SIGKILL, whole process group) after a finished, checkpointed epoch...
    out = kill_after_first_epoch(resumed, config)
    assert rules_run(out) == ["dnn_within"], out[-3000:]
    assert not (resumed / TARGET).exists(), "the job finished before it was killed"
    # ...then rerun: the kill left Snakemake's lock and the job marked incomplete.
    res = snakemake(resumed, config, "--unlock")
    assert res.returncode == 0, res.stdout[-3000:]
    res = snakemake(resumed, config, "--rerun-incomplete")
    assert res.returncode == 0, res.stdout[-5000:]
    assert rules_run(res.stdout) == ["dnn_within"], res.stdout[-3000:]
    rerun = json.loads((resumed / TARGET).read_text())

    assert rerun["resumed_from_checkpoint"] is True
    assert 1 <= rerun["resumed_after_epochs"] < EPOCHS, rerun["resumed_after_epochs"]
    assert rerun["accuracy"] == reference["accuracy"]
    assert rerun["confusion_matrix"] == reference["confusion_matrix"]
    for key in ("predictions", "y_pred"):
        if key in reference:
            assert rerun[key] == reference[key], key
    # The epochs trained after the resume: same losses, same final weights.
    losses, ref_losses = epoch_losses(resumed), epoch_losses(ref)
    assert len(ref_losses) == EPOCHS and str(EPOCHS - 1) in losses
    assert {e: ref_losses.get(e) for e in losses} == losses
    assert final_weights_equal(ref, resumed)
    same = {k: v for k, v in reference.items() if k not in RUN_SPECIFIC}
    assert {k: rerun.get(k) for k in same} == same
    print(f"killed after {rerun['resumed_after_epochs']} of {EPOCHS} epochs; "
          f"accuracy {rerun['accuracy']:.4f} in both runs")
