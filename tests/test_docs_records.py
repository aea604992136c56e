"""Docs tables with a record in docs/run/ are that record's, row for row: the settling fit and
the joint refit of the fast drift with settling (docs/simulation.md), the SVCs above their
trial budget (docs/benchmarks.md) and the cluster plan (docs/cluster.md). Each is rendered
again from its record by the code that printed it, and every row must stand in the page as
rendered."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from nidecode.studies.fidelity import grid_choice, grid_markdown, grid_scores, halves_markdown

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "docs" / "run"


def _script(path: Path):
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(path.stem + "_docs_check", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


def _rows(table: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]


def _missing(table: str, page: str) -> list[str]:
    text = (ROOT / page).read_text()
    return [row for row in _rows(table) if row not in text]


def test_the_settling_fidelity_table():
    halves = [pd.read_csv(RUN / "fidelity" / f"settling_{h}.csv")
              for h in ("fit", "validate", "all")]
    table = halves_markdown(*halves)
    assert len(_rows(table)) == 22  # the header and 21 statistics
    assert not _missing(table, "docs/simulation.md")


def _joint_grid() -> list[dict]:
    points = [json.loads(line) for k in (1, 2)
              for line in (RUN / "fidelity" / f"joint_grid_{k}.jsonl").read_text().splitlines()]
    return sorted(points, key=lambda p: tuple(p["point"].values()))


JOINT_NAMES = {"drift_tau_s": "tau_s", "drift_unit_sd": "unit_sd",
               "drift_settle_sd": "settle_sd", "drift_settle_tau_s": "settle_tau_s"}


def test_the_joint_drift_refit_tables_and_the_rules_choice_is_the_default():
    """The grid (its scores by the stated rule) and the three halves of the chosen setting;
    the rule's choice is what config/config.yaml and the schema ship."""
    import yaml

    fit = pd.read_csv(RUN / "fidelity" / "joint_fit.csv")
    points = _joint_grid()
    grid = grid_markdown(points, fit, JOINT_NAMES)
    assert len(_rows(grid)) == 22  # the header and 21 settings
    assert not _missing(grid, "docs/simulation.md")
    halves = halves_markdown(*[pd.read_csv(RUN / "fidelity" / f"joint_{h}.csv")
                               for h in ("fit", "validate", "all")])
    assert not _missing(halves, "docs/simulation.md")
    best = points[grid_choice(grid_scores(points, fit))]
    drift = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["simulation"]["drift"]
    assert {f"drift_{k}": drift[k] for k in ("tau_s", "unit_sd", "settle_sd", "settle_tau_s")
            } == best["point"]


def test_the_svc_ensemble_tables():
    m = _script(ROOT / "benchmarks" / "scale" / "svc_ensemble.py")
    data = json.loads((RUN / "svc_ensemble.json").read_text())
    for table in (m.budget_table(data), m.animal_table(data, 6000)):
        assert not _missing(table, "docs/benchmarks.md")


def test_the_cross_animal_tables():
    m = _script(ROOT / "benchmarks" / "scale" / "cross_size.py")
    size = json.loads((RUN / "cross_size.json").read_text())["rows"]
    loss = json.loads((RUN / "cross_loss.json").read_text())["rows"]
    assert not _missing(m.loss_table(size + loss), "docs/benchmarks.md")
    assert not _missing(m.size_table(size), "docs/benchmarks.md")


def test_the_cluster_plan():
    m = _script(ROOT / "benchmarks" / "scale" / "cluster_plan.py")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["cluster_plan.py"])
        m.main()
    assert len(_rows(out.getvalue())) > 20
    assert not _missing(out.getvalue(), "docs/cluster.md")


def test_a_changed_number_is_caught():
    halves = [pd.read_csv(RUN / "fidelity" / f"settling_{h}.csv")
              for h in ("fit", "validate", "all")]
    halves[2].loc[0, "sim_median"] += 0.01
    assert len(_missing(halves_markdown(*halves), "docs/simulation.md")) == 1
