"""benchmarks/studies/settings_choice.py's rule: the network's default is replaced only by an
eligible candidate (a linear head within the cost limit) that beats it by more than the margin."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "studies"))

from settings_choice import DEFAULT, choose  # noqa: E402


def rows(name: str, acc: tuple[float, float], seconds: float, finetune: str = "head") -> list:
    return [{"session": s, "fold": 0, "variant": name, "finetune": finetune, "seeds": 2,
             "network": a, "gap": 0.9 - a, "seconds": seconds * 2}
            for s, a in zip(("H0", "H1"), acc, strict=True)]


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(rows(DEFAULT, (0.60, 0.62), 5.0) + rows("grey", (0.55, 0.57), 5.0)
                        + rows("128", (0.70, 0.72), 50.0) + rows("20 epochs", (0.606, 0.624), 4.0)
                        + rows("fine-tune", (0.80, 0.80), 200.0, "all"))


def test_the_default_stays_unless_an_eligible_candidate_beats_the_margin(table):
    chosen, summary = choose(table, margin=0.01, cost_limit=2.0)
    assert chosen == DEFAULT  # 20 epochs: +0.005; 128²: ten times the cost; fine-tune: not head
    s = summary.set_index("candidate")
    assert s.loc["20 epochs", "minus_default"] == pytest.approx(0.005)
    assert s.loc["grey", "minus_default"] == pytest.approx(-0.05)
    assert s.loc["128", "seconds_per_fit"] == pytest.approx(50.0)
    assert list(s.eligible) == [True, True, False, True, False]
    assert s.loc["20 epochs", "animals_better"] == 2 and s.loc["grey", "animals_better"] == 0


def test_a_smaller_margin_or_a_larger_cost_limit_changes_the_choice(table):
    assert choose(table, margin=0.001, cost_limit=2.0)[0] == "20 epochs"
    assert choose(table, margin=0.01, cost_limit=20.0)[0] == "128"
