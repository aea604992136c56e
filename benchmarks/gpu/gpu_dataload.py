"""What a training job does with one animal's data before it trains, at paper scale.

    python benchmarks/gpu/gpu_dataload.py prep --dir D [--tiny]      # make the responses file
    python benchmarks/gpu/gpu_dataload.py measure --dir D --out OUT  # time reading it and W

``prep`` runs the workflow itself (render_stimuli, simulate_session, responses) for animal M0 in
scratch folder D with config/config.yaml + config/gpu.yaml (Allen's 50 repeats: ~11,900
presentations; ``--tiny``: config/config.yaml alone), then tiles the responses file's units to
``--units`` (default 800; every variable on the unit dimension, unit ids made unique) and writes it
with the workflow's writer (D/paper/M0.nc): a file of the size a real session's responses take.

``measure`` times, in its own process, the steps of nidecode.jobs.training.train_job before
training:
reading stimuli.nc, the label maps (Scope.from_config), reading the responses file, and building
W as a within-animal job does (within_weights_dataset, every fold, both preferred-stimulus modes)
and as a cross-animal job does for one training and one test animal (cross_weights). It does
this for decoding.areas (VISp, as configured) and for every unit of the file. Thread count: as
the calling environment sets it (Snakemake gives a job OMP_NUM_THREADS = its threads).
Writes OUT/dataload.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))


def _merged_config(tiny: bool) -> dict:
    import yaml

    from nidecode.config import validate_config

    def update(d: dict, u: dict) -> dict:  # as Snakemake layers config files
        for k, v in u.items():
            d[k] = update(d.get(k) or {}, v) if isinstance(v, dict) else v
        return d

    config: dict = {}
    files = ["config.yaml"] if tiny else ["config.yaml", "gpu.yaml"]
    for name in files:
        update(config, yaml.safe_load((REPO / "config" / name).read_text()))
    return validate_config(config)


def prep(args) -> None:
    import numpy as np

    from nidecode.common.io import open_netcdf, write_netcdf

    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    files = [str(REPO / "config" / "config.yaml")]
    if not args.tiny:
        files.append(str(REPO / "config" / "gpu.yaml"))
    t0 = time.perf_counter()
    with (d / "prep_snakemake.log").open("w") as log:
        subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                        "--directory", str(d), "--cores", "4", "--configfile", *files, "--",
                        "results/responses/M0.nc"], check=True, stdout=log,
                       stderr=subprocess.STDOUT)
    workflow_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    ds = open_netcdf(d / "results" / "responses" / "M0.nc")
    n = ds.sizes["unit"]
    idx = np.arange(args.units) % n
    big = ds.isel(unit=idx)
    copy = np.arange(args.units) // n
    big = big.assign_coords(unit_id=("unit", big.unit_id.values + 10_000_000 * copy))
    big.attrs["note"] = (f"units of M0 tiled from {n} to {args.units} "
                         "(benchmarks/gpu/gpu_dataload.py)")
    write_netcdf(big, d / "paper" / "M0.nc")
    info = {"workflow_s": round(workflow_s, 2),
            "inflate_write_s": round(time.perf_counter() - t1, 2),
            "original_units": int(n), "units": args.units,
            "presentations": int(ds.sizes["presentation"]),
            "file_mb": round((d / "paper" / "M0.nc").stat().st_size / 1e6, 1),
            "visp_units": int((big.area.values.astype(str) == "VISp").sum())}
    (d / "prep.json").write_text(json.dumps(info, indent=2))
    print("dataload prep", json.dumps(info), flush=True)


def _drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def measure(args) -> None:
    t_imp = time.perf_counter()
    from dataclasses import replace

    from nidecode.common.io import open_netcdf
    from nidecode.jobs.inputs import cross_weights, within_weights_dataset
    from nidecode.jobs.scope import Scope

    import_s = time.perf_counter() - t_imp
    d = Path(args.dir)
    config = _merged_config(args.tiny)
    out: dict = {"prep": json.loads((d / "prep.json").read_text()), "import_s": round(import_s, 3),
                 "threads_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS",
                                                                 "OPENBLAS_NUM_THREADS")},
                 "cpu_count": os.cpu_count()}
    label_files = {k: str(REPO / v) for k, v in config["labels"].items()}
    responses = d / "paper" / "M0.nc"
    for rep in range(2):
        rec: dict = {"page_cache_dropped": _drop_caches() if rep == 0 else False}
        t = time.perf_counter()
        stimuli = open_netcdf(d / "results" / "stimuli.nc")
        rec["read_stimuli_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        scope = Scope.from_config(config, stimuli, label_files)
        rec["scope_labels_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        ds = open_netcdf(responses)
        rec["read_responses_s"] = round(time.perf_counter() - t, 3)
        rec["responses_shape"] = {k: int(v) for k, v in ds.sizes.items()}
        for areas_name, areas in (("decoding_areas", scope.areas),
                                  ("all_units", tuple(sorted(set(ds.area.values.astype(str)))))):
            sc = replace(scope, areas=tuple(areas))
            for mode in config["decoding"]["ps_modes"]:
                t = time.perf_counter()
                w = within_weights_dataset(ds, stimuli, sc, mode)
                rec[f"W_within_{mode}_{areas_name}_s"] = round(time.perf_counter() - t, 3)
                rec[f"W_within_{areas_name}_shape"] = list(w.W.shape)
                rec[f"n_units_{areas_name}"] = int(w.attrs["n_units"])
                t = time.perf_counter()
                x_train, _, x_test, _, _, _ = cross_weights(
                    [ds], [ds], stimuli, mode, sc, config["decoding"]["calibration_fraction"],
                    config["decoding"]["seed"])
                rec[f"W_cross_{mode}_{areas_name}_s"] = round(time.perf_counter() - t, 3)
                rec[f"W_cross_{areas_name}_shapes"] = [list(x_train.shape), list(x_test.shape)]
        out[f"repeat{rep}"] = rec
        print("dataload", rep, json.dumps(rec), flush=True)
        del ds, stimuli
    r = out["repeat1"]
    modes = config["decoding"]["ps_modes"]
    out["summary"] = {
        "read_responses_s (cold, warm)": [out["repeat0"]["read_responses_s"],
                                          r["read_responses_s"]],
        "within job before training, decoding areas, per mode (s, warm)":
            {m: round(r["read_stimuli_s"] + r["scope_labels_s"] + r["read_responses_s"]
                      + r[f"W_within_{m}_decoding_areas_s"], 3) for m in modes},
        "W per animal, decoding areas (within all folds | cross one animal), s": {
            m: [r[f"W_within_{m}_decoding_areas_s"], r[f"W_cross_{m}_decoding_areas_s"]]
            for m in modes},
        "W per animal, all units, s": {
            m: [r[f"W_within_{m}_all_units_s"], r[f"W_cross_{m}_all_units_s"]] for m in modes},
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "dataload.json").write_text(json.dumps(out, indent=2))
    print("dataload summary", json.dumps(out["summary"], indent=1), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("prep", "measure"))
    p.add_argument("--dir", required=True)
    p.add_argument("--out", default=None)
    p.add_argument("--units", type=int, default=800)
    p.add_argument("--tiny", action="store_true")
    args = p.parse_args()
    prep(args) if args.what == "prep" else measure(args)


if __name__ == "__main__":
    main()
