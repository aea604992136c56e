"""The workflow on a real one-node SLURM cluster through the project's `slurm` profile.

The test starts Debian's slurm-wlm itself (tests/slurm/cluster.sh; root needed), runs the tiny
config with `snakemake --profile slurm` (partition overridden to the test cluster's), checks
that every job ran as a SLURM job, makes one combo's training job fail, and checks that a rerun
redoes only that combo's jobs.

The failure comes from the test side, not from a switch in the workflow: a regular file where
the combo's training job keeps its checkpoints (``<job dir>/checkpoints``, a directory to
nidecode.decoders.network.fit_predict, which no other job uses) makes that one job fail with
NotADirectoryError. Removing the file is the fix the rerun sees.

Under CI (``CI=true``) a cluster that cannot be started fails the test; elsewhere it skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")
# Array submission (`--slurm-array-jobs`, off in slurm/config.yaml): one sbatch, several jobs.
SUBMITTED_ARRAY = re.compile(
    r"Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\d+)")


def submissions(out: str) -> dict[str, str]:
    """Snakemake job id -> SLURM job id, for single jobs and array tasks alike."""
    ids = dict(SUBMITTED.findall(out))
    for jobs, slurm in SUBMITTED_ARRAY.findall(out):
        ids.update({j: slurm for j in jobs.split(",")})
    return ids
STARTED = re.compile(r"^(?:local)?rule (\w+):\n(?:.*\n)*?\s+jobid: (\d+)", re.M)

pytestmark = pytest.mark.slow
# The combo made to fail; decode outputs of the default (block) split.
FAILING = "S0__N0"
DECODE = Path("results") / "decode" / "block"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _unavailable(reason: str) -> None:
    """No cluster: a failure under CI, where the test must run; a skip elsewhere."""
    if _in_ci():
        pytest.fail(f"CI: the SLURM cluster could not be started: {reason}", pytrace=False)
    pytest.skip(reason)


def _step(*args: str, timeout: int) -> str | None:
    """Run cluster.sh; None if it worked, else why not (its output's tail)."""
    try:
        res = subprocess.run([str(CLUSTER), *args], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"cluster.sh {args[0]}: {err}"
    if res.returncode != 0:
        return f"cluster.sh {args[0]} exited {res.returncode}:\n{res.stdout[-2000:]}"
    return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0:
        _unavailable("starting slurmctld/munged needs root")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        _unavailable("needs Debian's slurm-wlm (or apt-get to install it)")
    state = tmp_path_factory.mktemp("slurm")
    why = _step("install", timeout=900) or _step("start", str(state), timeout=120)
    if why:
        _step("stop", str(state), timeout=60)  # whatever did start
        _unavailable(why)
    yield state
    _step("stop", str(state), timeout=60)


def run_profile(workdir: Path, layers: tuple[Path, ...] = (), targets: tuple[str, ...] = ()
                ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["USER"] = env.get("USER") or "root"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,  # before --configfile, which takes every word after it
        "--profile",
        "slurm",  # ./slurm/ of the repository
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config" / "config.yaml"),
        str(REPO / "config" / "ci.yaml"),
        str(REPO / "tests" / "slurm" / "config.yaml"),
        *map(str, layers),
        # Test overrides: the test cluster's partition, no accounting database.
        "--default-resources",
        "slurm_partition=debug",
        "mem_mb=1000",
        "runtime=10",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--retries",
        "0",
    ]
    return subprocess.run(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=1800,
    )


def jobs_run(out: str) -> dict[str, str]:
    """Snakemake job id -> rule, for every job this invocation started."""
    return {jobid: rule for rule, jobid in STARTED.findall(out)}


def slurm_state(slurm_id: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", slurm_id], capture_output=True, text=True)
    m = re.search(r"JobState=(\w+)", out.stdout)
    return m[1] if m else "UNKNOWN"


def test_profile_runs_on_slurm_and_reruns_only_the_failed_combo(cluster, tmp_path):
    done = tmp_path / DECODE
    job = done / "dnn_train" / "cross" / FAILING
    # The fault: files where the combo's training job wants folders, so it fails when it sets
    # up its checkpoints: <job>/checkpoints (one seed) and <job>/seed0 (several seeds: a
    # folder per seed, holding its checkpoints). No other job uses them.
    blockers = [job / "checkpoints", job / "seed0"]
    job.mkdir(parents=True)
    for blocker in blockers:
        blocker.write_text("not a directory: makes this one training job fail\n")
    first = run_profile(tmp_path)
    out = first.stdout
    assert first.returncode != 0, out[-3000:]  # the blocked combo fails...
    ran = jobs_run(out)
    submitted = submissions(out)
    # ...every job except the local `all` target was a SLURM job, and SLURM saw it finish.
    for jobid, rule in ran.items():
        if rule == "all":
            continue
        assert jobid in submitted, f"{rule} (job {jobid}) did not go through SLURM\n{out[-3000:]}"
    states = {rule: slurm_state(submitted[j]) for j, rule in ran.items() if j in submitted}
    assert "COMPLETED" in states.values()
    rules_first = sorted(ran.values())
    # --keep-going (profile): the other combo and every within-animal job still finished.
    assert (done / "dnn_train" / "cross" / "N0__S0" / "metrics.json").exists()
    assert not (done / "dnn_train" / "cross" / FAILING / "metrics.json").exists()
    within = list(tmp_path.glob("results/decode/*/dnn_train/within/*/fold*/metrics.json"))
    assert len(within) == 4, within  # S0, N0 fold 0 in the block and the trial split
    assert (done / "raster" / "within" / "S0" / "fold0" / "metrics.json").exists()
    assert len(list(tmp_path.glob("results/decode/*/glm/within/*.json"))) == 4
    log = tmp_path / "results" / "logs" / "dnn_cross" / "block" / "train" / f"{FAILING}.log"
    assert "NotADirectoryError" in log.read_text(), log.read_text()[-3000:]
    assert set(re.findall(r"Error in rule (\w+):", out)) == {"dnn_cross"}, out[-3000:]
    assert rules_first.count("dnn_cross") == 2 and "aggregate" not in rules_first, rules_first

    # Fault removed: only the failed combo and what depends on it run again.
    for blocker in blockers:
        blocker.unlink()
    second = run_profile(tmp_path)
    assert second.returncode == 0, second.stdout[-3000:]
    rerun = sorted(jobs_run(second.stdout).values())
    assert rerun == ["aggregate", "all", "dnn_cross", "figures", "front_page"], rerun
    assert f"cross/{FAILING}" in second.stdout
    assert (job / "metrics.json").exists() and (tmp_path / "results" / "summary.csv").exists()
    assert list(job.glob("**/checkpoints/last.ckpt")), "the rerun trained and checkpointed"
    print("first run:", rules_first)
    print("rerun:", rerun)


def test_a_combo_failed_inside_a_batch_is_the_only_one_trained_again(cluster, tmp_path):
    # Both combos in one training job (decoding.dnn.cross_batch_size: 2), one process.
    layer = tmp_path / "batch.yaml"
    layer.write_text("decoding:\n  dnn:\n    cross_batch_size: 2\n")
    cross = tmp_path / DECODE / "dnn_train" / "cross"
    target = str((cross / "batch0000" / "metrics.json").relative_to(tmp_path))
    job = cross / FAILING
    blockers = [job / "checkpoints", job / "seed0"]
    job.mkdir(parents=True)
    for blocker in blockers:
        blocker.write_text("not a directory: makes this one combo of the batch fail\n")
    first = run_profile(tmp_path, (layer,), (target,))
    assert first.returncode != 0, first.stdout[-3000:]
    assert sorted(jobs_run(first.stdout).values()).count("dnn_cross") == 1  # one job, 2 combos
    # The other combo of the batch finished and checkpointed its last epoch.
    assert list((cross / "N0__S0").glob("**/checkpoints/last.ckpt"))
    log = tmp_path / "results" / "logs" / "dnn_cross" / "block" / "train" / "batch0000.log"
    assert f"1 of 2 combos failed: {FAILING}" in log.read_text(), log.read_text()[-3000:]

    for blocker in blockers:
        blocker.unlink()
    second = run_profile(tmp_path, (layer,), (target,))
    assert second.returncode == 0, second.stdout[-3000:]
    assert sorted(jobs_run(second.stdout).values()) == ["dnn_cross"]
    rows = {r["combo"]: r for r in json.loads((tmp_path / target).read_text())}
    assert set(rows) == {FAILING, "N0__S0"}
    # The combo that had finished was not trained again: it resumed after its last epoch.
    epochs = rows["N0__S0"]["epochs"]
    assert rows["N0__S0"]["resumed_from_checkpoint"] and rows["N0__S0"][
        "resumed_after_epochs"] == epochs
    assert not rows[FAILING]["resumed_from_checkpoint"]  # the failed one trained, from scratch
