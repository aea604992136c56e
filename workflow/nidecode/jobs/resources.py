"""What a reference-decoder job asks a cluster for: memory from the sizes of its inputs.

An exact RBF SVC holds its training kernel (train x train) and test kernel (test x train) in
float64: quadratic in the trials. At the embedded default's 10 repeats (about 2,400 trials a
session) that is 31 MB and every job fits the flat 4 GB a CPU job declares; at Allen's 50
repeats (about 11,900) it is 0.75 GB per thread within one animal and 5.8 GB across two
training animals, so a flat figure either wastes a cluster or gets jobs killed. These estimates
are checked against the peaks Snakemake's benchmarks record (docs/benchmarks.md).
"""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Iterable
from functools import cache

#: What a CPU job declares at least (MB): the interpreter, scikit-learn and torch imports,
#: the stimuli and one session's responses at the embedded default's size.
CPU_JOB_MB = 4000
#: The interpreter and imports (MB).
BASE_MB = 1000
#: A responses file in memory, per MB of file: its decompressed arrays and the copies a job
#: selects from them (the files are compressed about 2:1).
READ_FACTOR = 3.0


@cache
def presentations(path: str) -> int:
    """Stimulus presentations (trials) in a responses file, read from its header only.

    A file not written yet raises FileNotFoundError naming ``path`` as given: Snakemake then
    leaves the resource to be computed when the job runs (a dry run shows it as <TBD>)."""
    import xarray as xr

    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "responses not written yet", path)

    with xr.open_dataset(path) as ds:
        return int(ds.sizes["presentation"])


def file_mb(paths: Iterable[str]) -> float:
    return sum(os.path.getsize(p) for p in paths) / 2**20


def svc_kernels_mb(n_train: int, n_test: int, max_train_trials: int | None = None) -> float:
    """The training and test kernels of one RBF SVC fit (float64), in MB: the exact fit's,
    or above ``max_train_trials`` one ensemble member's at a time (its largest chunk,
    :func:`nidecode.decoders.reference.svc_chunks`)."""
    if max_train_trials is not None and n_train > max_train_trials:
        k = math.ceil(n_train / max_train_trials)
        n_train = math.ceil(n_train / k)
    return 8 * n_train * (n_train + n_test) / 2**20


def svc_budget(baselines: dict | None) -> int | None:
    """The smallest ``max_train_trials`` of the SVCs in ``decoding.baselines`` (None: any SVC
    there fits exactly at every size), the one that bounds a job's kernels."""
    budgets = [(p or {}).get("max_train_trials") for name, p in (baselines or {}).items()
               if name in ("svc", "svc_w")]
    if not budgets or any(b is None for b in budgets):
        return None
    return min(budgets)


def within_memory_mb(responses: str, n_folds: int, threads: int,
                     max_train_trials: int | None = None) -> int:
    """Memory of a ``baselines_within`` job: one session's responses, and one fit's kernels
    per thread (its block-relabelling null fits ``threads`` at once)."""
    n = presentations(responses)
    n_train = math.ceil(n * (n_folds - 1) / n_folds)
    need = BASE_MB + READ_FACTOR * file_mb([responses]) + max(1, threads) * svc_kernels_mb(
        n_train, n - n_train, max_train_trials)
    return max(CPU_JOB_MB, math.ceil(need))


def cross_memory_mb(train: list[str], test: list[str], max_train_trials: int | None = None
                    ) -> int:
    """Memory of a ``baselines_cross`` job: every training and test animal's responses and
    ``W``, and one fit on all training animals' trials, tested on all the test animals'
    trials (``paper`` mode; ``train`` mode tests fewer)."""
    n_train = sum(presentations(p) for p in train)
    n_test = sum(presentations(p) for p in test)
    need = BASE_MB + READ_FACTOR * file_mb([*train, *test]) + svc_kernels_mb(
        n_train, n_test, max_train_trials)
    return max(CPU_JOB_MB, math.ceil(need))
