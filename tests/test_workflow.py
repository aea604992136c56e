"""Workflow tests through the real Snakemake: dry runs, errors, and a tiny end-to-end run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    # Snakemake 9 prints errors on stdout or stderr depending on where they arise: merge them.
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        timeout=1800,
    )


def jobs_in_dry_run(out: str) -> dict[str, int]:
    table = out.split("Job stats:")[1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_default_dry_run_is_keyed_by_session(tmp_path):
    res = snakemake(tmp_path, "-n")
    assert res.returncode == 0, res.stdout
    jobs = jobs_in_dry_run(res.stdout)
    assert jobs["simulate_session"] == 10
    assert jobs["responses"] == 10
    assert jobs["render_stimuli"] == 1
    for s in ("S0", "S4", "M0", "M3", "N0"):
        assert f"results/responses/{s}.nc" in res.stdout


def test_allen_dry_run_downloads_then_reads(tmp_path):
    res = snakemake(tmp_path, "-n", "-p", "--configfile", str(REPO / "config" / "allen.yaml"))
    assert res.returncode == 0, res.stdout
    jobs = jobs_in_dry_run(res.stdout)
    assert jobs["download_session"] == 9
    assert jobs["download_scene_templates"] == 1
    assert "simulate_session" not in jobs
    assert "resources/allen/sessions/M3.nwb" in res.stdout
    assert "download_allen.py session --session-id 744228101" in res.stdout


def test_bad_config_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("responses:\n  baseline: prestim\n")
    res = snakemake(tmp_path, "-n", "--configfile", str(bad))
    assert res.returncode != 0
    assert "responses.baseline" in res.stdout and "pre_onset" in res.stdout
    bad.write_text("sessions: [S0, Q7]\n")
    res = snakemake(tmp_path, "-n", "--configfile", str(bad))
    assert res.returncode != 0 and "unknown sessions ['Q7']" in res.stdout


@pytest.mark.slow
def test_tiny_end_to_end_run(tmp_path):
    res = snakemake(tmp_path, "--cores", "2", "--configfile", str(REPO / "config" / "ci.yaml"))
    assert res.returncode == 0, res.stdout[-3000:]
    stimuli = xr.open_dataset(tmp_path / "results" / "stimuli.nc")
    assert stimuli.sizes["stimulus"] == 238 and stimuli.image.shape[1:] == (24, 40)
    for session in ("S0", "N0"):
        ds = xr.open_dataset(tmp_path / "results" / "responses" / f"{session}.nc")
        assert ds.attrs["source"] == "simulated" and ds.attrs["animal"] == session
        assert ds.sizes["presentation"] == 2 * 238
        assert set(ds.area.values) == {"VISp"}
        assert np.isfinite(ds.response.values).all()
        assert ds.counts.shape[1] == 25
    # A rerun has nothing to do.
    res = snakemake(
        tmp_path, "--cores", "2", "--configfile", str(REPO / "config" / "ci.yaml"), "-n"
    )
    assert "Nothing to be done" in res.stdout


@pytest.mark.slow
def test_corrupt_input_fails_cleanly_and_leaves_no_output(tmp_path):
    cfg = tmp_path / "nwb.yaml"
    broken = tmp_path / "broken.nwb"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    cfg.write_text(f"source: nwb\nsessions: [X]\nnwb_files: {{X: {broken}}}\n")
    res = snakemake(tmp_path, "--cores", "1", "--configfile", str(cfg))
    assert res.returncode != 0
    assert "broken.nwb: not a readable NWB (HDF5) file" in res.stdout
    assert "truncated or corrupt" in res.stdout
    responses = tmp_path / "results" / "responses"
    assert not responses.exists() or not any(responses.iterdir())
