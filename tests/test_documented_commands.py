"""Every Snakemake command the README, docs/ and the shipped configs document: each one parses,
validates its configs and builds its DAG (as a dry run), exactly as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def readme_commands() -> list[str]:
    """Snakemake command lines in the bash blocks of the README and docs/ (comments and pipes
    cut off)."""
    text = "\n".join(p.read_text() for p in DOCS)
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].split(" | ")[0].split(" > ")[0].strip()
            if line.startswith(".venv/bin/snakemake"):
                out.append(line)
    return list(dict.fromkeys(out))


def config_header_commands() -> list[str]:
    """Commands in the shipped configs' header comments (how each layer is meant to be used)."""
    out = []
    for path in sorted((REPO / "config").glob("*.yaml")):
        for line in path.read_text().splitlines():
            if line.startswith("#") and "snakemake " in line:
                cmd = line.lstrip("# ").split("  (")[0].strip()
                out.append(".venv/bin/" + cmd[cmd.index("snakemake"):])
    return list(dict.fromkeys(out))


def dry_run(cmd: str, workdir: Path) -> subprocess.CompletedProcess:
    args = shlex.split(cmd)[1:]
    if "--report" in args:  # a report needs results: tests/test_workflow.py renders one
        i = args.index("--report")
        args = args[:i] + args[i + 2:]
    if not {"--rulegraph", "--dag", "--summary", "-n"} & set(args):
        args.append("-n")
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(workdir), *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)


COMMANDS = sorted(set(readme_commands()) | set(config_header_commands()))


def test_the_documented_commands_are_found():
    assert any("all_combos.yaml" in c for c in COMMANDS)
    assert any("--profile slurm" in c for c in COMMANDS)
    for layer in ("ci", "gpu", "full", "all_combos", "allen", "dandi", "own_nwb", "allen_scale"):
        assert any(f"config/{layer}.yaml" in c for c in COMMANDS), layer


@pytest.mark.slow
@pytest.mark.parametrize("cmd", COMMANDS)
def test_documented_command_builds_its_dag(cmd, tmp_path, write_session_file):
    t0 = time.perf_counter()
    if "own_nwb.yaml" in cmd:  # the folder config/own_nwb.yaml reads: two sessions of "yours"
        folder = tmp_path / "data" / "nwb" / "sub-723627600"
        folder.mkdir(parents=True)
        write_session_file(folder / "sub-723627600_ses-742951821.nwb", "742951821", "723627600")
        write_session_file(folder / "sub-723627600_ses-744228101.nwb", "744228101", "723627600")
    res = dry_run(cmd, tmp_path)
    assert res.returncode == 0, f"{cmd}\n{res.stdout[-3000:]}"
    if "all_combos.yaml" in cmd:
        assert "2295" in res.stdout.replace(",", "") or "dnn_cross" in res.stdout
        print(f"all-combos dry run: {time.perf_counter() - t0:.1f} s")
