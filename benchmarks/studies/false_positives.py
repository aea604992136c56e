"""How often each test the project reports calls a stimulus-blind, drifting session significant,
and how often it finds the information in sessions that have it, on Allen's clock.

Simulates stimulus-blind sessions (N0 of the default config: 90 VISp units, the simulator's
default slow drift) and sessions with stimulus information (M0: 120 VISp units, drive 1.2,
gain noise 0.2), each with its own seed, Allen's block order and times, runs each through the
NWB file, the reader and the decoders, and prints:

* per session: the rate at which the binomial, label-shuffle and block-relabelling (``p_time``)
  tests reject at alpha 0.05 and 0.1, per split and decoder, with each test's floor (the
  smallest p it can give; "cannot reject" where the floor is above alpha);
* per group of nine animals (disjoint groups, in seed order): the exact block-relabelling test
  of the mean (:func:`nidecode.evaluation.statistics.group_relabelling_p`).

    .venv/bin/python benchmarks/studies/false_positives.py [--null 180] [--informative 27]
        [--processes 2] [--out results/false_positives.csv]

The sessions are small by default (6 repeats, 6 blanks, small grids: fast). ``--main-settings``
simulates them at the size the main job does (config/config.yaml: 10 repeats, 50 blanks, its
grids); ``--main-settings --repeats 50`` at Allen's 50 repeats.

With ``--real FOLDER`` it runs the study's real arm instead: every session of a gabor-epoch
folder (the exchange format of :mod:`nidecode.data.gabors`; ``benchmarks/studies/export_gabor.py``
writes one from Allen NWB files) through the workflow's drift control, a label that is only
time on real drift, and prints the same rejection rates and the group test over disjoint and
random groups of nine real sessions:

    .venv/bin/python benchmarks/studies/false_positives.py --real /work/shared/data/allen-real \
        [--sessions 3] [--real-decoders glm] [--permutations 5] [--processes 1] \
        [--out results/false_positives_real.csv]

A session the drift control cannot read (no VISp unit, fewer than five passing Allen's
filters, a short or interrupted epoch) is not decoded: one line on stderr names it and the
reason, its records keep the reason in ``skipped``, and the tables hold the other sessions.

tests/test_validation.py runs a small version of the same study and checks its limits.
"""

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from nidecode.studies.false_positives import (  # noqa: E402
    DECODERS,
    GROUP_SIZE,
    REAL_DECODERS,
    cross_null_study,
    false_positive_study,
    group_table,
    main_job_settings,
    real_arm,
    real_arm_markdown,
    rejection_table,
    skipped_sessions,
)


def load_config(files: list) -> dict:
    """Configs layered as ``--configfile`` layers them."""
    import yaml
    from snakemake.utils import update_config

    config: dict = {}
    for f in files:
        update_config(config, yaml.safe_load(Path(f).read_text()))
    return config


def verdict(row: dict, alpha: float) -> str:
    """The rejection rate at ``alpha``, or "cannot reject" where the test's floor is above it."""
    if row["floor"] > alpha:
        return "cannot reject"
    return f"{row[f'rejected_at_{alpha:g}']:.3f}"


def write_records(results, out: Path) -> None:
    """The per-session records as CSV, each relabelling null as one space-separated cell (a
    skipped session's records keep their reason in ``skipped``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    nulls = results.get("time_null_accuracies", pd.Series([None] * len(results)))
    results.drop(columns=["time_null_accuracies"], errors="ignore").assign(
        time_null_accuracies=[" ".join(f"{a:.6f}" for a in x) if isinstance(x, list) else ""
                              for x in nulls]).to_csv(out, index=False)


def print_rejections(table) -> None:
    """The per-session rejection table as markdown."""
    print("| sessions | split | decoder | test | n | floor | rejected at 0.05 | rejected at 0.1 | "
          "mean accuracy | relabellings' mean |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in table.to_dict("records"):
        rel = r.get("relabelling_mean")
        print(f"| {r['sessions']} | {r['split']} | {r['decoder']} | {r['test']} | "
              f"{r['n_sessions']} | {r['floor']:.2g} | {verdict(r, 0.05)} | "
              f"{verdict(r, 0.1)} | {r['mean_accuracy']:.3f} | "
              f"{'' if rel is None or rel != rel else f'{rel:.3f}'} |")


def main_real(args: argparse.Namespace) -> None:
    """The real arm: ``--real FOLDER``. Each session left out is named with its reason on
    stderr (and in the records' ``skipped``); the tables hold the rest."""
    t0 = time.perf_counter()
    decoders = {k: DECODERS[k] for k in args.real_decoders.split(",")}
    results = real_arm(args.real, decoders=decoders, n_permutations=args.permutations,
                       processes=args.processes, sessions=args.sessions)
    write_records(results, args.out or Path("results/false_positives_real.csv"))
    skipped = skipped_sessions(results)
    for name, why in skipped:
        print(f"skipped {name}: {why}", file=sys.stderr)
    n = results.session.nunique()
    print(f"Real arm: {n - len(skipped)} of {n} sessions of {args.real} (gabor epoch, VISp "
          "units passing Allen's default filters, a label that is only time):\n")
    print(real_arm_markdown(results))
    print(f"\n{time.perf_counter() - t0:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--null", type=int, default=180, help="stimulus-blind sessions")
    ap.add_argument("--informative", type=int, default=27,
                    help="sessions with stimulus information")
    ap.add_argument("--repeats", type=int, default=6, help="presentations of each stimulus")
    ap.add_argument("--blanks", type=int, default=6, help="blank presentations per class")
    ap.add_argument("--canvas", type=int, nargs=2, default=(20, 32), metavar=("H", "W"),
                    help="the simulator's grid")
    ap.add_argument("--stimuli-canvas", type=int, nargs=2, default=(24, 40),
                    metavar=("H", "W"), help="the rendered stimuli's grid")
    ap.add_argument("--main-settings", nargs="*", metavar="CONFIG", default=None,
                    help="sessions of the size the main job simulates: repeats, blanks and "
                    "grids from these configs (default: config/config.yaml); --repeats, when "
                    "given, still overrides")
    ap.add_argument("--decoders", default="glm,svc,knn,svc_w",
                    help="decoders run in the block split")
    ap.add_argument("--trial-decoders", default="glm,knn",
                    help="decoders run in the trial split (the published recipe)")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=5000, help="first session seed")
    ap.add_argument("--out", type=Path, help="write the per-session table here (CSV; with "
                    "--real, results/false_positives_real.csv unless given)")
    ap.add_argument("--real", type=Path, help="run the real arm on this gabor-epoch folder")
    ap.add_argument("--cross", action="store_true",
                    help="the cross-animal arm: the SVC on W trained on two animals with "
                    "information, tested on --null blind and --informative informative ones")
    ap.add_argument("--cross-permutations", type=int, default=0,
                    help="with --cross: label shuffles of the training animals (the main job "
                    "runs none: decoding.baseline_permutations 0)")
    ap.add_argument("--sessions", type=int, help="with --real: the first N sessions only")
    ap.add_argument("--real-decoders", default=",".join(REAL_DECODERS),
                    help="with --real: the drift control's decoders to run")
    ap.add_argument("--permutations", type=int, default=50,
                    help="with --real: label shuffles per fold for the GLM (the main job's 50)")
    args = ap.parse_args()
    if args.real:
        args.processes = args.processes if "--processes" in sys.argv else 1
        main_real(args)
        return
    t0 = time.perf_counter()
    size = {"repeats": args.repeats, "blanks": args.blanks, "canvas": tuple(args.canvas),
            "stimuli_canvas": tuple(args.stimuli_canvas)}
    if args.main_settings is not None:
        size = main_job_settings(load_config(args.main_settings or [ROOT / "config" /
                                                                    "config.yaml"]))
        if "--repeats" in sys.argv:
            size["repeats"] = args.repeats
    if args.cross:
        results = cross_null_study(args.null, args.informative, **size,
                                   n_permutations=args.cross_permutations,
                                   processes=args.processes)
        if args.out:
            write_records(results, args.out)
        print(f"Across animals ({args.null} stimulus-blind and {args.informative} informative "
              f"test animals; trained on two informative animals; {size['repeats']} repeats, "
              f"{size['blanks']} blanks):\n")
        print_rejections(rejection_table(results))
        print(f"\n{time.perf_counter() - t0:.0f} s")
        return
    network = None
    if "network" in args.decoders.split(","):  # the main job's network, its seeds and folds
        from nidecode.config import load_config as layered
        from nidecode.decoders.network import DNNSettings

        config = layered()
        settings = DNNSettings.from_config(config)
        folds = config["decoding"]["dnn_folds"]
        network = {"settings": settings,
                   "seeds": tuple(config["decoding"]["dnn"]["seeds"] or [settings.seed]),
                   "folds": None if folds is None else list(folds)}
    results = false_positive_study(
        args.null, args.informative, **size, base_seed=args.seed, network=network,
        decoders=tuple(args.decoders.split(",")),
        trial_decoders=tuple(d for d in args.trial_decoders.split(",") if d),
        processes=args.processes)
    if args.out:
        write_records(results, args.out)
    print(f"Per session ({args.null} stimulus-blind, {args.informative} with information; "
          f"Allen's clock, {size['repeats']} repeats, {size['blanks']} blanks, simulator grid "
          f"{size['canvas']}, stimuli {size['stimuli_canvas']}):\n")
    print_rejections(rejection_table(results))
    groups = group_table(results)
    print(f"\nPer group of {GROUP_SIZE} animals (exact block-relabelling test of the mean):\n")
    print("| sessions | split | decoder | groups | floor | rejected at 0.05 | rejected at 0.1 | "
          "median p |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in groups.to_dict("records"):
        print(f"| {r['sessions']} | {r['split']} | {r['decoder']} | {r['n_groups']} | "
              f"{r['floor']:.0e} | {verdict(r, 0.05)} | {verdict(r, 0.1)} | "
              f"{r['median_p']:.2g} |")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
