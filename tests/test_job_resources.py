"""Memory a reference-decoder job declares, from its inputs' sizes (nidecode.jobs.resources),
against hand-computed kernel sizes; and the Snakefile declares it."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from nidecode.jobs import resources
from nidecode.jobs.resources import (
    CPU_JOB_MB,
    cross_memory_mb,
    presentations,
    svc_kernels_mb,
    within_memory_mb,
)


def _responses(path, n: int) -> str:
    xr.Dataset({"response": (("presentation", "unit"), np.zeros((n, 3)))}).to_netcdf(path)
    return str(path)


def test_svc_kernels_by_hand():
    # 1,024 training rows: 1,024 x (1,024 + 1,024) doubles = 16 MiB.
    assert svc_kernels_mb(1024, 1024) == 16.0


def test_memory_floor_and_quadratic_growth(tmp_path, monkeypatch):
    small = _responses(tmp_path / "small.nc", 2400)
    big = _responses(tmp_path / "big.nc", 12000)
    assert presentations(big) == 12000
    assert within_memory_mb(small, 3, 2) == CPU_JOB_MB  # the embedded default's size
    monkeypatch.setattr(resources, "file_mb", lambda paths: 0.0)
    # 8,000 training and 4,000 test trials: 8 B x 8,000 x 12,000 = 732.4 MiB per thread.
    assert within_memory_mb(big, 3, 1) == CPU_JOB_MB  # 1,733 MB: the floor
    assert within_memory_mb(big, 3, 8) == np.ceil(resources.BASE_MB + 8 * 8 * 8000 * 12000
                                                  / 2**20)
    # Two training animals (24,000 trials) and one test animal: 8 B x 24,000 x 36,000.
    assert cross_memory_mb([big, big], [big]) == np.ceil(resources.BASE_MB
                                                         + 8 * 24000 * 36000 / 2**20)

    # Above the SVCs' budget one ensemble member at a time: 24,000 trials in 2 chunks of
    # 12,000 against the 12,000 test trials, 8 B x 12,000 x 24,000 (3,198 MB: the floor), and
    # the same for eight training animals; a larger test set raises it.
    member = np.ceil(resources.BASE_MB + 8 * 12000 * 24000 / 2**20)
    assert cross_memory_mb([big, big], [big], 12000) == max(CPU_JOB_MB, member)
    assert cross_memory_mb([big] * 8, [big], 12000) == max(CPU_JOB_MB, member)
    assert cross_memory_mb([big] * 8, [big] * 4, 12000) == np.ceil(
        resources.BASE_MB + 8 * 12000 * 60000 / 2**20)
    # Within the budget the exact fit's kernels, as without one.
    assert within_memory_mb(big, 3, 8, 12000) == within_memory_mb(big, 3, 8)


def test_the_svc_budget_is_the_smallest_and_none_if_any_svc_is_exact():
    assert resources.svc_budget({"svc": {"max_train_trials": 9000}, "knn": {},
                                 "svc_w": {"max_train_trials": 12000}}) == 9000
    assert resources.svc_budget({"svc": {"max_train_trials": 9000}, "svc_w": {}}) is None
    assert resources.svc_budget({"glm": {}, "knn": None}) is None
    # 25,000 trials over a 12,000 budget: 3 chunks of at most 8,334.
    assert svc_kernels_mb(25000, 100, 12000) == 8 * 8334 * 8434 / 2**20


def test_a_file_not_written_yet_names_itself(tmp_path):
    # Snakemake defers a resource whose FileNotFoundError names one of the job's inputs.
    missing = str(tmp_path / "results" / "responses" / "S0.nc")
    with pytest.raises(FileNotFoundError) as err:
        within_memory_mb(missing, 3, 1)
    assert err.value.filename == missing
