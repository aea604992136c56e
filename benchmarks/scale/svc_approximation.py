"""Is a Nyström approximation of the RBF SVC close enough, and cheaper, at Allen's size?

On chosen sessions of a finished run (``config/allen_scale.yaml`` for Allen's 50 repeats),
for the true labels and the first block relabellings, in every fold: the exact RBF SVC (the
project's ``svc`` or ``svc_w``: a precomputed kernel on standardised features,
class-balanced, C 1, gamma "scale") against scikit-learn's ``Nystroem`` features of the same
kernel (``m`` landmarks) and a linear SVM on them (hinge loss, C 1, class-balanced). Prints
each fit's balanced accuracy, their agreement and seconds, and a summary per ``m``: the mean
difference on the true labels against the exact SVC's spread over folds.

    .venv/bin/python benchmarks/scale/svc_approximation.py results --sessions M0,S0 \
        --components 300,1000 --relabellings 2 --json /tmp/svc_approximation.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

from nidecode.common.io import open_netcdf  # noqa: E402
from nidecode.decoders.reference import rbf_gamma, workspace  # noqa: E402
from nidecode.evaluation.splits import block_relabellings  # noqa: E402
from nidecode.jobs.inputs import decoder_inputs  # noqa: E402
from nidecode.jobs.runner import balanced  # noqa: E402
from nidecode.jobs.scope import Scope, blocks  # noqa: E402

INPUTS = {"svc": "responses", "svc_w": "weights"}


def nystroem_svm(a: np.ndarray, y: np.ndarray, b: np.ndarray, gamma: float, m: int,
                 seed: int = 0) -> np.ndarray:
    """A linear SVM on ``m`` Nyström features of the RBF kernel (``a``, ``b`` standardised)."""
    from sklearn.kernel_approximation import Nystroem
    from sklearn.svm import LinearSVC

    ny = Nystroem(gamma=gamma, n_components=min(m, len(a)), random_state=seed).fit(a)
    clf = LinearSVC(C=1.0, loss="hinge", class_weight="balanced", max_iter=20000)
    return clf.fit(ny.transform(a), y).predict(ny.transform(b))


def exact_svm(a: np.ndarray, y: np.ndarray, b: np.ndarray) -> np.ndarray:
    from sklearn.svm import SVC

    k_train, k_test = workspace().kernels(a, b, "scale")
    return SVC(C=1.0, kernel="precomputed", class_weight="balanced").fit(k_train, y).predict(
        k_test)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--sessions", default="M0")
    ap.add_argument("--decoder", choices=sorted(INPUTS), default="svc")
    ap.add_argument("--split", choices=["block", "trial"], default="block")
    ap.add_argument("--components", default="300,1000")
    ap.add_argument("--relabellings", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    ms = [int(v) for v in args.components.split(",")]
    stimuli = open_netcdf(args.results / "stimuli.nc")
    scope = Scope(split=args.split)
    fits = []
    print("| session | labels | fold | train | exact | s | " + " | ".join(
        f"m {m} | agree | s" for m in ms) + " |")
    print("| --- " * (6 + 3 * len(ms)) + "|")
    for session in args.sessions.split(","):
        ds = open_netcdf(args.results / "responses" / f"{session}.nc")
        sel = scope.select(ds, stimuli)
        block, _ = blocks(sel, "block")
        names = np.array(sel.names)
        labellings = [sel.y] + list(block_relabellings(sel.y, block, 1000, scope.seed))[
            :args.relabellings]
        for li, labels in enumerate(labellings):
            for fold in range(scope.n_folds):
                train = scope.train_mask(sel, fold, labels, None if li == 0 else names[labels])
                x = decoder_inputs(INPUTS[args.decoder], ds, sel, train, "train",
                                   stimuli.sizes["stimulus"], scope.split).astype(np.float64)
                mean, sd = x[train].mean(0), x[train].std(0)
                a, b = (x[train] - mean) / np.where(sd > 0, sd, 1), (x[~train] - mean) / \
                    np.where(sd > 0, sd, 1)
                t0 = time.perf_counter()
                exact = exact_svm(x[train], labels[train], x[~train])
                row = {"session": session, "labels": "true" if li == 0 else f"relabel {li}",
                       "fold": fold, "n_train": int(train.sum()),
                       "exact": balanced(labels[~train], exact, len(names)),
                       "exact_s": time.perf_counter() - t0, "nystroem": {}}
                for m in ms:
                    t0 = time.perf_counter()
                    approx = nystroem_svm(a, labels[train], b, rbf_gamma(a), m)
                    row["nystroem"][m] = {"balanced": balanced(labels[~train], approx,
                                                               len(names)),
                                          "agreement": float(np.mean(approx == exact)),
                                          "s": time.perf_counter() - t0}
                fits.append(row)
                print(f"| {session} | {row['labels']} | {fold} | {row['n_train']} | "
                      f"{row['exact']:.3f} | {row['exact_s']:.2f} | " + " | ".join(
                          f"{v['balanced']:.3f} | {v['agreement']:.3f} | {v['s']:.2f}"
                          for v in row["nystroem"].values()) + " |", flush=True)
    print("\n| m | true labels: mean (Nyström - exact) | exact's fold spread (max - min, "
          "mean over sessions) | mean agreement | s a fit (exact s) |")
    print("| --- | --- | --- | --- | --- |")
    true = [f for f in fits if f["labels"] == "true"]
    spread = np.mean([np.ptp([f["exact"] for f in true if f["session"] == s])
                      for s in args.sessions.split(",")])
    summary = {}
    for m in ms:
        diff = float(np.mean([f["nystroem"][m]["balanced"] - f["exact"] for f in true]))
        agree = float(np.mean([f["nystroem"][m]["agreement"] for f in fits]))
        sec = float(np.mean([f["nystroem"][m]["s"] for f in fits]))
        exact_s = float(np.mean([f["exact_s"] for f in fits]))
        summary[m] = {"difference": diff, "exact_fold_spread": float(spread),
                      "agreement": agree, "s": sec, "exact_s": exact_s}
        print(f"| {m} | {diff:+.3f} | {spread:.3f} | {agree:.3f} | {sec:.2f} ({exact_s:.2f}) |")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "fits": fits, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
