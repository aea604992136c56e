"""The docs' result tables from one run: snapshot a finished run, write the tables into the docs,
or check that the docs state only numbers of that run.

    # 1. copy the run's tables into docs/run/ (and the calibration study's, if given)
    .venv/bin/python benchmarks/runs/docs_tables.py snapshot --results results \
        --name main-YYYY-MM-DD \
        --commit abc1234 --command "snakemake --cores 2" --machine "the 2-core CPU machine" \
        --wall "9 min 18 s" --jobs 127 [--study results/false_positives.csv \
        --study-name ... --study-command ... --study-wall ...]
    # 2. write every <!-- run-table: NAME --> block of README.md and docs/how-to-read-results.md
    .venv/bin/python benchmarks/runs/docs_tables.py write
    # 3. what tests/test_docs_numbers.py checks
    .venv/bin/python benchmarks/runs/docs_tables.py check
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from nidecode.report.doc_tables import (  # noqa: E402
    Snapshot,
    allowed_numbers,
    fill,
    render,
    snapshot,
    unsourced_numbers,
)

DOCS = ("README.md", "docs/how-to-read-results.md")
SNAPSHOT = ROOT / "docs" / "run"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    s = sub.add_parser("snapshot", help="copy a finished run's tables into docs/run/")
    s.add_argument("--results", type=Path, default=Path("results"))
    for k in ("name", "commit", "command", "machine", "wall", "jobs"):
        s.add_argument(f"--{k}", required=True)
    s.add_argument("--null-sessions", default="N0")
    s.add_argument("--study", type=Path, help="benchmarks/studies/false_positives.py --out table")
    for k in ("study-name", "study-command", "study-commit", "study-wall"):
        s.add_argument(f"--{k}")
    sub.add_parser("write", help="write the generated blocks into the docs")
    sub.add_parser("check", help="exit 1 if a block is stale or a number is not the run's")
    args = ap.parse_args()

    if args.verb == "snapshot":
        old = SNAPSHOT / "run.json"
        # Without --study the calibration study already in docs/run/ stays, with its record.
        study = json.loads(old.read_text()).get("study") if old.exists() else None
        if args.study:
            study = {"name": args.study_name, "command": args.study_command,
                     "commit": args.study_commit, "wall": args.study_wall}
        run = {"name": args.name, "commit": args.commit, "command": args.command,
               "machine": args.machine, "wall": args.wall, "jobs": int(args.jobs),
               "null_sessions": args.null_sessions.split(","), "study": study}
        snapshot(args.results, SNAPSHOT, run, args.study)
        print(f"{SNAPSHOT}: tables of run {args.name}")
        return 0

    snap = Snapshot(SNAPSHOT)
    blocks = render(snap)
    configs = tuple(f.read_text() for f in sorted((ROOT / "config").glob("*.yaml")))
    allowed = allowed_numbers(snap, blocks, configs)
    bad = 0
    for doc in DOCS:
        path = ROOT / doc
        text = path.read_text()
        new = fill(text, blocks, doc)
        if args.verb == "write":
            if new != text:
                path.write_text(new)
                print(f"{doc}: blocks rewritten")
            text = new
        elif new != text:
            print(f"{doc}: generated blocks differ from docs/run/ "
                  "(run benchmarks/runs/docs_tables.py write)")
            bad += 1
        for n in unsourced_numbers(text, allowed):
            print(f"{doc}: {n} is not a number of run {snap.run['name']}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
