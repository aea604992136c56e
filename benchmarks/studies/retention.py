"""Does the network keep what its images hold? Network variants against an RBF SVC on the same W.

For each session and fold, builds W (train mode, the configured split) from a run's responses,
decodes it with ``svc_w`` (an RBF SVC on W, nidecode.decoders.reference) and
trains each network variant
(decoding.dnn settings that differ, as JSON) on the neural images of the same W; prints one row
per session, fold and variant with the gap (svc_w - network). Runs on the CPU or a GPU.

    .venv/bin/python benchmarks/studies/retention.py --results results --sessions M0,S0 --folds 0 \\
        [--configfile config/config.yaml [config/gpu.yaml]] [--variants '{"name": {...}}']
    .venv/bin/python benchmarks/studies/retention.py --results results --sessions M0,S0 --span

--span prints, instead of training networks, how much an image can hold before any network
sees it: the SVC on the part of W that the images W @ channels determine (W projected onto the
span of the stimulus images at the stimuli's own grid), for grey and ON/OFF channels.

Without --variants it compares the variants behind the default network: the frozen probe with
grey and with ON/OFF images, and full fine-tuning with both.
"""

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from nidecode.common.io import open_netcdf  # noqa: E402
from nidecode.config import validate_config  # noqa: E402
from nidecode.jobs.inputs import within_weights_dataset  # noqa: E402
from nidecode.jobs.runner import within  # noqa: E402
from nidecode.jobs.scope import Scope  # noqa: E402

DEFAULT_VARIANTS = {
    "linear head, grey": {"finetune": "head", "image_channels": "grey"},
    "linear head, on_off": {"finetune": "head", "image_channels": "on_off"},
    "fine-tune, grey": {"finetune": "all", "image_channels": "grey"},
    "fine-tune, on_off": {"finetune": "all", "image_channels": "on_off"},
}


def load(files: list[str]) -> dict:
    """The configs layered as ``--configfile`` layers them, validated."""
    from snakemake.utils import update_config

    config: dict = {}
    for f in files:
        update_config(config, yaml.safe_load(Path(f).read_text()))
    return validate_config(config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results", help="a run's results folder")
    ap.add_argument("--configfile", nargs="+", default=[str(ROOT / "config" / "config.yaml")])
    ap.add_argument("--sessions", default="M0,S0")
    ap.add_argument("--folds", default="0")
    ap.add_argument("--seeds", default="0", help="network seeds (mean over them)")
    ap.add_argument("--variants", default=None, help="JSON: name -> decoding.dnn overrides")
    ap.add_argument("--json", type=Path, default=None,
                    help="also write the rows, with the command, as JSON")
    ap.add_argument("--span", action="store_true",
                    help="what the images can hold (SVC on W projected onto their span)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    from nidecode.decoders.network import DNNSettings

    config = load(args.configfile)
    variants = json.loads(args.variants) if args.variants else DEFAULT_VARIANTS
    results = Path(args.results)
    stimuli = open_netcdf(results / "stimuli.nc")
    scope = Scope.from_config(config, stimuli)
    base = DNNSettings.from_config(config)
    svc_w = config["decoding"]["baselines"].get("svc_w") or {}
    if args.span:
        return span_table(stimuli, scope, results, args.sessions.split(","),
                          [int(f) for f in args.folds.split(",")], svc_w)
    rows = variant_rows(results, stimuli, scope, base, svc_w, args.sessions.split(","),
                        [int(f) for f in args.folds.split(",")],
                        [int(s) for s in args.seeds.split(",")], variants)
    table = pd.DataFrame(rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "rows": rows}, indent=1) + "\n")
    print("\n" + table.to_string(index=False))
    print("\nmean gap per variant:\n" + table.groupby("variant").gap.agg(
        ["mean", "min", "max"]).round(3).to_string())


def variant_rows(results: Path, stimuli, scope: Scope, base, svc_w: dict, sessions: list[str],
                 folds: list[int], seeds: list[int], variants: dict[str, dict]) -> list[dict]:
    """One row per session, fold and variant: the network (mean over ``seeds``) beside the RBF
    SVC on the same ``W`` (train mode), printed as it comes. A variant's overrides may carry
    ``folds`` and ``seeds`` of its own (a costly variant on fewer of them)."""
    rows = []
    for session in sessions:
        ds = open_netcdf(results / "responses" / f"{session}.nc")
        for fold in folds:
            ref = within(ds, stimuli, fold, scope, "svc_w", svc_w, mode="train")
            for name, overrides in variants.items():
                overrides = dict(overrides)
                if fold not in overrides.pop("folds", folds):
                    continue
                accs, t0 = [], time.perf_counter()
                for seed in overrides.pop("seeds", seeds):
                    settings = replace(base, seed=seed, **overrides)
                    with tempfile.TemporaryDirectory() as tmp:
                        accs.append(within(ds, stimuli, fold, scope, "network", mode="train",
                                           network=settings, workdir=Path(tmp))["accuracy"])
                net = sum(accs) / len(accs)
                rows.append({"session": session, "fold": fold, "split": scope.split,
                             "variant": name, "arch": settings.arch,
                             "finetune": settings.finetune,
                             "image_channels": settings.image_channels,
                             "image_size": settings.image_size, "epochs": settings.epochs,
                             "seeds": len(accs), "seed_accuracies": [round(a, 4) for a in accs],
                             "network": round(net, 4), "svc_w": round(ref["accuracy"], 4),
                             "gap": round(ref["accuracy"] - net, 4),
                             "seconds": round(time.perf_counter() - t0, 1)})
                print(pd.DataFrame(rows[-1:]).drop(columns="seed_accuracies").to_string(
                    index=False, header=len(rows) == 1), flush=True)
    return rows


def span_table(stimuli, scope: Scope, results: Path, sessions: list[str], folds: list[int],
               params: dict) -> None:
    """SVC on W against the SVC on W's projection onto the image span of each channel kind."""
    import numpy as np

    from nidecode.decoders.network import neural_image_channels, standardise_weights
    from nidecode.decoders.reference import svc_w

    projectors = {}
    for kind in ("grey", "on_off"):
        basis = neural_image_channels(stimuli.image.values, kind).reshape(
            stimuli.sizes["stimulus"], -1).numpy().astype(np.float64)
        sv = np.linalg.svd(basis, compute_uv=False)
        # rcond 1e-6: float32 images leave the exactly cancelling directions at ~1e-9.
        projectors[kind] = (basis @ np.linalg.pinv(basis, rcond=1e-6),
                            int((sv > 1e-6 * sv[0]).sum()))
    rows = []
    for session in sessions:
        ds = open_netcdf(results / "responses" / f"{session}.nc")
        weights = within_weights_dataset(ds, stimuli, scope, "train")
        for fold in folds:
            train, y = weights.train.values[fold], weights.label.values
            a, b = standardise_weights(*(weights.W.values[fold][m].astype(np.float64)
                                         for m in (train, ~train)))
            row = {"session": session, "fold": fold, "split": scope.split,
                   "svc_w": round(float(np.mean(svc_w(a, y[train], b, **params)
                                                == y[~train])), 3)}
            for kind, (proj, rank) in projectors.items():
                acc = np.mean(svc_w(a @ proj, y[train], b @ proj, **params) == y[~train])
                row[f"svc on W in the {kind} image span (rank {rank})"] = round(float(acc), 3)
            rows.append(row)
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
