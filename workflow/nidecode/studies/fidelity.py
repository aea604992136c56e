"""How close the simulator is to Allen: the same quantities on simulated sessions as Allen
published for real ones (benchmarks/fidelity.py prints the table, docs/simulation.md holds it).

Every Allen value here is printed in AllenSDK's example notebooks or derived from printed
numbers by arithmetic stated in :data:`ALLEN`; nothing is read off a figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import svm
from sklearn.model_selection import KFold

NB = "AllenInstitute/AllenSDK doc_template/examples_root/examples/nb/"


@dataclass(frozen=True)
class Published:
    """One published Allen number and where it is printed."""

    value: float | tuple[float, ...]
    what: str
    source: str


ALLEN = {
    "quickstart_folds": Published(
        (0.414, 0.497, 0.497, 0.507, 0.473),
        "natural-scene identity (118 scenes + blank, chance 0.0084), RBF SVC on the spike "
        "counts of the 93 VISp units passing the default filters, KFold(5) unshuffled; "
        "session 791319847",
        NB + "ecephys_quickstart.ipynb (accuracies printed per fold)"),
    "units_passing_filters": Published(
        40_010 / 99_180,
        "fraction of units passing the default filters (40,010 of 99,180, all 58 sessions)",
        NB + "ecephys_quality_metrics.ipynb and ecephys_data_access.ipynb"),
    "visp_rate_scenes_hz": Published(
        1_224_681 / (93 * 5950 * 0.25),
        "mean rate of those 93 VISp units during natural-scene presentations: 1,224,681 "
        "spikes printed for 93 units x 5,950 presentations of 0.25 s (derived)",
        NB + "ecephys_quickstart.ipynb"),
    "presence_ratio_above_0.9": Published(
        0.83, "fraction of all 99,180 units with presence_ratio > 0.9",
        NB + "ecephys_quality_metrics.ipynb"),
    "isi_violations_zero": Published(
        0.14, "fraction of all 99,180 units with isi_violations == 0",
        NB + "ecephys_quality_metrics.ipynb"),
    "scene_presentations": Published(
        5950.0, "natural-scene presentations in one session (118 scenes + blank, 50 each)",
        NB + "ecephys_quickstart.ipynb (design matrix of 5,950 rows)"),
}


def quickstart_accuracies(counts: np.ndarray, frames: np.ndarray, n_splits: int = 5
                          ) -> np.ndarray:
    """AllenSDK quick-start's scene decoder, per fold: an RBF SVC (``gamma="scale"``) on spike
    counts (presentations in time order x units) predicting ``frames`` (blank = -1 is a class),
    with ``KFold(n_splits)`` unshuffled, so each fold tests a contiguous stretch of time.
    Accuracy is the fraction of test presentations predicted exactly, as the notebook has it.
    """
    counts = np.asarray(counts, dtype=float)
    frames = np.asarray(frames)
    out = []
    for train, test in KFold(n_splits=n_splits).split(counts):
        clf = svm.SVC(gamma="scale", kernel="rbf")
        clf.fit(counts[train], frames[train])
        out.append(float(np.mean(clf.predict(counts[test]) == frames[test])))
    return np.array(out)


def presentations_with_spikes(counts: np.ndarray) -> np.ndarray:
    """Rows the quick-start keeps: its pivot table has only presentations in which at least one
    of the units spiked."""
    return np.asarray(counts).sum(axis=1) > 0
