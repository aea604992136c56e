"""benchmarks/scale/cluster_plan.py: the plan's arithmetic from its measured parts, by hand."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

SCALE = Path(__file__).resolve().parents[1] / "benchmarks" / "scale"


@pytest.fixture(scope="module")
def cluster_plan():
    sys.path.insert(0, str(SCALE))
    spec = importlib.util.spec_from_file_location("cluster_plan", SCALE / "cluster_plan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path.remove(str(SCALE))


def test_the_straight_line_through_measured_points(cluster_plan):
    assert cluster_plan.line([1.0, 2.0, 4.0], [3.0, 5.0, 9.0]) == pytest.approx((1.0, 2.0))


def test_a_plan_by_hand(cluster_plan):
    rule = {"jobs@50": 10, "s@50": 360.0, "max_rss_mb@50": 100.0, "growth": 2.0}
    scale = {r: dict(rule) for r in cluster_plan.PER_SESSION + ("dnn_cross",)}
    scale["baselines_within"] = {**rule, "jobs@50": 20, "s@50": 720.0}
    gpu = {"startup_s": 10.0, "animal_data_s": 1.0,
           "cases": [{"arch": "efficientnet_lite0", "image_size": 64, "batch_size": 64,
                      "train_images_per_s": 1000.0, "warmup_s": 5.0,
                      "predict_s_1024_images": 1.0}]}
    parts = {"scale": scale, "null_s@10": 30.0, "null_peak@10": 50.0,
             "cross_s": (2.0, 0.001), "cross_mb": (1000.0, 0.01), "startup_s": 4.0,
             "sched_s": 5.0, "gpu": gpu}
    d = cluster_plan.plan("x", 5, False, 4, 6, 2.0, 1, (2,), 8, parts)
    cpu = {r["rule"]: r for r in d["variants"]["cpu"]["rules"]}
    assert "simulate_session" not in cpu  # real sessions are read, not simulated
    assert cpu["baselines_within"]["jobs"] == 10 and cpu["baselines_within"][
        "cpu_h"] == pytest.approx(10 * 36 / 3600)
    assert cpu["dnn_relabelling_null"]["cpu_h"] == pytest.approx(5 * 30 * 2.0 / 3600)
    n_train = 2.0 * 50 * 238
    assert cpu["baselines_cross"]["cpu_h"] == pytest.approx(4 * (4 + 2 + 0.001 * n_train)
                                                             / 3600)
    assert cpu["baselines_cross"]["peak_mb"] == pytest.approx(1000 + 0.01 * n_train)
    # The network on CPUs: the two-animal job's 36 s, times 2 / 2 training animals, 4 combos.
    net = cpu["dnn_cross (CPU, the default network)"]
    assert net["jobs"] == 4 and net["cpu_h"] == pytest.approx(4 * 36 / 3600)
    total = sum(r["cpu_h"] for r in cpu.values())
    chain = (36.0 + 36.0) / 3600
    longest = max(r["cpu_h"] / r["jobs"] for r in cpu.values())
    assert d["variants"]["cpu"]["wall_h"][2] == pytest.approx(max(total / 16, longest) + chain)
    assert math.isclose(d["variants"]["cpu"]["cpu_h"], total)
