"""benchmarks/scale/scale.py's table from finished runs (--existing): per-rule sums, growth and its
exponent, hand-computed."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _scale():
    spec = importlib.util.spec_from_file_location(
        "scale", REPO / "benchmarks" / "scale" / "scale.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(folder: Path, jobs: dict[str, list[tuple[float, float]]]) -> Path:
    for rule, times in jobs.items():
        for i, (s, rss) in enumerate(times):
            f = folder / "results" / "benchmarks" / rule / f"job{i}.tsv"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(f"s\tmax_rss\n{s}\t{rss}\n")
    return folder


def test_scale_table_from_finished_runs(tmp_path, capsys):
    ten = _run(tmp_path / "a", {"baselines_within": [(2.0, 300), (3.0, 320)],
                                "responses": [(1.0, 100)]})
    fifty = _run(tmp_path / "b", {"baselines_within": [(20.0, 900), (30.0, 1000)],
                                  "responses": [(5.0, 150)]})
    out = tmp_path / "scale.json"
    _scale().main(["--existing", str(ten), str(fifty), "--repeats", "10", "50",
                   "--json", str(out)])
    rules = {r["rule"]: r for r in json.loads(out.read_text())["rules"]}
    # 5 s -> 50 s: 10 x for 5 x the trials, exponent log 10 / log 5.
    assert rules["baselines_within"]["growth"] == pytest.approx(10.0)
    assert rules["baselines_within"]["exponent"] == pytest.approx(math.log(10) / math.log(5),
                                                                 abs=1e-3)
    assert rules["baselines_within"]["max_rss_mb@50"] == 1000
    assert rules["responses"]["exponent"] == pytest.approx(1.0)  # linear in the trials
    assert "the run at 50 repeats: 3 jobs, 55.0 job-s" in capsys.readouterr().out


def test_scale_needs_one_folder_per_repeats(tmp_path):
    with pytest.raises(SystemExit):
        _scale().main(["--existing", str(tmp_path), "--repeats", "10", "50"])
