"""The workflow on a real one-node SLURM cluster through the project's `slurm` profile.

The test starts Debian's slurm-wlm itself (tests/slurm/cluster.sh; root needed), runs the tiny
config with `snakemake --profile slurm` (partition overridden to the test cluster's), checks
that every job ran as a SLURM job, makes one combo fail through a test-only switch, and
checks that a rerun redoes only that combo's jobs.
"""

from __future__ import annotations

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
STARTED = re.compile(r"^(?:local)?rule (\w+):\n(?:.*\n)*?\s+jobid: (\d+)", re.M)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="starting slurmctld/munged needs root"),
    pytest.mark.skipif(
        shutil.which("apt-get") is None and shutil.which("slurmctld") is None,
        reason="needs Debian's slurm-wlm",
    ),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm")
    subprocess.run([str(CLUSTER), "install"], check=True, timeout=900)
    subprocess.run([str(CLUSTER), "start", str(state)], check=True, timeout=120)
    yield state
    subprocess.run([str(CLUSTER), "stop", str(state)], check=False, timeout=60)


def run_profile(workdir: Path, fail_combo: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["USER"] = env.get("USER") or "root"
    env.pop("NIDECODE_TEST_FAIL_COMBO", None)
    if fail_combo:
        env["NIDECODE_TEST_FAIL_COMBO"] = fail_combo  # test-only fault switch (dnn_cross)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--profile",
        "slurm",  # ./slurm/ of the repository
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config" / "config.yaml"),
        str(REPO / "config" / "ci.yaml"),
        str(REPO / "tests" / "slurm" / "config.yaml"),
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
    first = run_profile(tmp_path, fail_combo="S0__N0")
    out = first.stdout
    assert first.returncode != 0, out[-3000:]  # the faulty combo fails...
    ran = jobs_run(out)
    submitted = dict(SUBMITTED.findall(out))
    # ...every job except the local `all` target was a SLURM job, and SLURM saw it finish.
    for jobid, rule in ran.items():
        if rule == "all":
            continue
        assert jobid in submitted, f"{rule} (job {jobid}) did not go through SLURM\n{out[-3000:]}"
    states = {rule: slurm_state(submitted[j]) for j, rule in ran.items() if j in submitted}
    assert "COMPLETED" in states.values()
    rules_first = sorted(ran.values())
    # --keep-going (profile): the other combo and every within-animal job still finished.
    done = tmp_path / "results" / "decode"
    assert (done / "dnn_train" / "cross" / "N0__S0" / "metrics.json").exists()
    assert not (done / "dnn_train" / "cross" / "S0__N0" / "metrics.json").exists()
    assert len(list(done.glob("dnn_train/within/*/fold*/metrics.json"))) == 4
    log = tmp_path / "results" / "logs" / "dnn_cross" / "train" / "S0__N0.log"
    assert "failing on purpose" in log.read_text()
    assert rules_first.count("dnn_cross") == 2 and "aggregate" not in rules_first

    # Fault removed: only the failed combo and what depends on it run again.
    second = run_profile(tmp_path, fail_combo=None)
    assert second.returncode == 0, second.stdout[-3000:]
    rerun = sorted(jobs_run(second.stdout).values())
    assert rerun == ["aggregate", "all", "dnn_cross", "figures"], rerun
    assert "cross/S0__N0" in second.stdout
    assert (done / "dnn_train" / "cross" / "S0__N0" / "metrics.json").exists()
    print("first run:", rules_first)
    print("rerun:", rerun)
