"""Write the gabor-epoch exchange format from Allen-layout NWB files, so that a user can rebuild
the real-data benchmarks (``benchmarks/studies/false_positives.py --real``,
``benchmarks/studies/fidelity.py --real``) from downloaded sessions.

    .venv/bin/python benchmarks/studies/export_gabor.py OUT_FOLDER session1.nwb [session2.nwb ...]

Each file is read as the workflow reads it (:func:`nidecode.data.nwb.read_session`); its gabor
epoch (:func:`nidecode.data.gabors.session_epoch`: presentations outside the stimulus-invalid
intervals, in time order) is counted for every unit in the visual cortex (VISp, VISl, VISal,
VISrl, VISam, VISpm), with no quality filter, and written as ``OUT_FOLDER/gabor/<session>.npz``
(:func:`nidecode.data.gabors.save_epoch`). ``OUT_FOLDER/units.csv.gz`` lists those units with
their area, Allen's quality metrics as the file has them (so that the studies can apply
Allen's default filters) and Allen's unit metrics under natural scenes and static gratings
(``firing_rate_ns/_sg``, ``lifetime_sparseness_ns/_sg``, ``image_selectivity_ns``,
``g_osi_sg``, ``fano_ns/_sg``), computed from the file's own scene and grating presentations
by the function that computes them for simulated sessions
(:func:`nidecode.studies.fidelity.session_block_statistics`). The session is the file's
session id, or its stem without one.

A file is skipped, with one line on stderr naming it and the reason, when it cannot be read
as a brain_observatory_1.1 session (a functional_connectivity file shows no scenes or
gratings), has no unit in those areas, or has no gabor epoch, a short one or an interrupted
one (:func:`nidecode.data.gabors.interruption`).
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

from nidecode.common.errors import NidecodeError  # noqa: E402
from nidecode.data.gabors import interruption, save_epoch, session_epoch  # noqa: E402
from nidecode.data.nwb import read_session  # noqa: E402
from nidecode.data.responses import invalid_presentation_mask  # noqa: E402
from nidecode.studies.fidelity import METRIC_COLUMNS, session_block_statistics  # noqa: E402

AREAS = ("VISp", "VISl", "VISal", "VISrl", "VISam", "VISpm")
UNIT_COLUMNS = ("quality", "amplitude_cutoff", "presence_ratio", "isi_violations", "snr",
                "firing_rate")


def export_session(path: Path, out: Path) -> pd.DataFrame | str:
    """Export one NWB file's gabor epoch into ``out``: its units' rows, or why it was skipped."""
    try:
        session = read_session(path)
        name = str(session.session_id or "").strip() or path.stem
        epoch = session_epoch(session, AREAS, {}, "allen", name)
    except (NidecodeError, OSError) as err:  # not an NWB file, no units in the areas, ...
        return str(err)
    if epoch.skipped:
        return epoch.skipped
    table = session.gabors
    table = table[~invalid_presentation_mask(session, table)].sort_values("start_time")
    stop = table["stop_time"].to_numpy(float)
    why = interruption(epoch.start_time, stop)
    if why:
        return why
    ids = (table["presentation_id"] if "presentation_id" in table else table.index).to_numpy()
    save_epoch(epoch, out, presentation_ids=ids, stop_time=stop, table=table)
    units = session.units.loc[epoch.unit_ids]
    rows = pd.DataFrame({"ecephys_session_id": name, "ecephys_unit_id": epoch.unit_ids,
                         "ecephys_structure_acronym": epoch.area})
    for col in UNIT_COLUMNS:
        if col in units:
            rows[col] = units[col].to_numpy()
    metrics = session_block_statistics(session, np.isin(session.units.index, epoch.unit_ids))
    metrics = metrics.reindex(epoch.unit_ids)  # the epoch's unit order
    for col in METRIC_COLUMNS:
        rows[col] = metrics[col].to_numpy()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="the folder to write (gabor/*.npz, units.csv.gz)")
    ap.add_argument("files", type=Path, nargs="+", help="Allen-layout NWB files")
    args = ap.parse_args()
    tables = []
    for path in args.files:
        result = export_session(path, args.out)
        if isinstance(result, str):
            why = result.removeprefix(f"{path}: ")  # the reader's reasons name the file too
            print(f"skipped {path}: {why}", file=sys.stderr)
            continue
        name = result.ecephys_session_id.iloc[0]
        blank = [what for what, col in (("natural scenes", "firing_rate_ns"),
                                        ("static gratings", "firing_rate_sg"))
                 if result[col].isna().all()]
        note = f"; no metrics of {' or '.join(blank)} (none shown)" if blank else ""
        print(f"{path}: session {name}, {len(result)} units{note}")
        tables.append(result)
    if not tables:
        print("no session had a usable gabor epoch; nothing written", file=sys.stderr)
        return 1
    units = pd.concat(tables, ignore_index=True)
    old = args.out / "units.csv.gz"
    if old.exists():  # a folder grown over several calls keeps the other sessions' units
        prev = pd.read_csv(old)
        units = pd.concat([prev[~prev.ecephys_session_id.astype(str).isin(
            units.ecephys_session_id.astype(str))], units], ignore_index=True)
    units.to_csv(old, index=False)
    print(f"{args.out}: {len(tables)} sessions, {len(units)} units")
    return 0


if __name__ == "__main__":
    sys.exit(main())
