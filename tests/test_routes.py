"""The README's real-data routes, each run through the real Snakemake exactly as shipped:
``config/own_nwb.yaml`` on one, two and three session files, ``config/allen.yaml`` and
``config/dandi.yaml`` with their downloads served from files placed where the download rules
write them (this machine reaches neither Allen's warehouse nor DANDI).

Each route is a layer on the embedded default, so it runs the default's analysis: the same
network (EfficientNet-Lite0 from its packaged ImageNet weights), reference decoders, controls
and splits. The test layer below only shrinks sizes (fewer label shuffles and epochs; for
Allen's and DANDI's nine sessions, two of them): nothing it sets changes what is computed.
The session files are small simulated sessions written as Allen writes them: Allen's clock,
its block order and its gabor epoch (tests/conftest.py), so the drift control runs on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import REPO, jobs_in_dry_run, snakemake

pytestmark = pytest.mark.slow

# Sizes only: every decoder, the network and its weights, the controls and splits stay.
SHRINK = """\
decoding:
  dnn: {epochs: 2}
controls:
  glm_permutations: 5
"""
EVERY_DECODER = "GLM, RBF SVC, kNN, RBF SVC on W"
NETWORK_JOBS = ("dnn_within", "dnn_cross", "dnn_transfer", "dnn_control", "raster_within",
                "dnn_relabelling_null")


def run_route(workdir: Path, route: str, *extra: str) -> tuple[str, pd.DataFrame]:
    """``snakemake --cores 2 --configfile config/<route> <shrink layer> <extra layers>`` in
    ``workdir``; Snakemake's output and results/summary.csv."""
    shrink = workdir / "shrink.yaml"
    shrink.write_text(SHRINK)
    res = snakemake(workdir, "--cores", "2", "--configfile", str(REPO / "config" / route),
                    str(shrink), *extra)
    assert res.returncode == 0, res.stdout[-5000:]
    assert "Traceback" not in res.stdout, res.stdout[res.stdout.find("Traceback") - 3000:][:6000]
    assert "nidecode: WARNING" not in res.stdout
    return res.stdout, pd.read_csv(workdir / "results" / "summary.csv")


def assert_default_analysis(workdir: Path, summary: pd.DataFrame, sessions: list[str]) -> None:
    """What the default analysis gives every session: EfficientNet-Lite0 on its packaged
    ImageNet weights, every reference decoder in both splits, the drift control read on each
    session's gabor epoch (not skipped), the blank control and the network's controls."""
    metrics = [json.loads(p.read_text()) for p in (workdir / "results" / "decode" / "block")
               .glob("dnn_train/within/*/fold0/metrics.json")]
    assert sorted(m["session"] for m in metrics) == sorted(sessions)
    for m in metrics:
        assert m["arch"] == "efficientnet_lite0" and m["pretrained"] is True
        assert m["weights_sha256"].startswith("579344248a93")  # the packaged file, read
    within = summary[(summary.task == "within") & (summary.analysis == "main")]
    for split in ("block", "trial"):
        models = set(within[within.split == split].model)
        assert {"glm", "svc", "knn", "svc_w"} <= models, (split, models)
    for session in sessions:
        for split in ("block", "trial"):
            path = workdir / "results" / "decode" / split / "drift_control" / f"{session}.json"
            rows = json.loads(path.read_text())
            assert {r["model"] for r in rows} == {"glm", "svc", "knn"}
            assert not any(r.get("skipped") for r in rows), rows[0].get("skipped")
            assert all(r["n_presentations"] == 3645 for r in rows)
            assert rows[0]["label"].endswith("SG NS NS SG NS SG; condition means removed")
    assert set(summary[summary.analysis == "blank_control"].session) >= set(sessions)
    # The network's time-respecting test on every session: all 9 relabellings, both seeds.
    for session in sessions:
        null = json.loads((workdir / "results" / "decode" / "block" / "dnn_train"
                           / "relabelling_null" / f"{session}.json").read_text())[0]
        assert null["n_time_null"] == 9 and null["seeds"] == [0, 1], null


# ------------------------------------------------------------------ config/own_nwb.yaml

def run_own_nwb(workdir: Path, write_own_folder, kinds: list[str]
                ) -> tuple[list[str], str, str, pd.DataFrame, pd.DataFrame]:
    """The own_nwb.yaml route on a folder (its shipped ``data/nwb``) of ``kinds`` files, to
    the front page: the sessions' names, Snakemake's output, the front page's text,
    summary.csv and group_tests.csv."""
    names = write_own_folder(workdir / "data" / "nwb", kinds)
    out, summary = run_route(workdir, "own_nwb.yaml")
    front = (workdir / "results" / "front_page.rst").read_text()
    assert_default_analysis(workdir, summary, names)
    return names, out, front, summary, pd.read_csv(workdir / "results" / "group_tests.csv")


def test_own_nwb_route_with_one_session_file(tmp_path, write_own_folder):
    """One own file: no combo (and the start-up line says why), every within-animal analysis,
    and a front page that says the time test cannot decide with one animal."""
    names, out, front, summary, groups = run_own_nwb(tmp_path, write_own_folder,
                                                     ["informative"])
    assert ("nidecode: combos: none (leave_one_animal_out needs at least 2 sessions, found 1)"
            in out)
    assert set(summary.session.dropna()) == set(names) and "cross" not in set(summary.task)
    block = groups[(groups.split == "block") & (groups.ps_mode.fillna("train") == "train")]
    # The reference decoders and the network (its null job, on fold 0 with both seeds).
    assert set(block.model) == {"glm", "svc", "knn", "svc_w", "efficientnet_lite0"}
    assert (block.n_sessions == 1).all() and (block.p_floor > 0.05).all()  # 10 partitions
    assert f"sessions {names[0]}.\n" in front
    assert (f"The time-respecting test cannot reach p ≤ 0.05 with 1 animal (its smallest p is "
            f"{block.p_floor.iloc[0]:.2g}), so it decides nothing for GLM, RBF SVC, kNN, "
            "RBF SVC on W and network on neural images") in front
    assert "not tested against drift" not in front
    assert "one animal)" in front and "rejects" not in front
    assert "null animal" not in front.lower() and "nan" not in front


def test_own_nwb_route_with_two_session_files(tmp_path, write_own_folder):
    """Two own files, both with stimulus information: each tested on the other, and the time
    test over both animals rejects chance for every reference decoder (the sessions carry the
    stimulus, strongly; real data name no null animal)."""
    names, out, front, summary, groups = run_own_nwb(tmp_path, write_own_folder,
                                                     ["informative", "informative_b"])
    a, b = names
    assert f"nidecode: combos: {b}__{a}, {a}__{b}\n" in out
    assert set(summary[summary.task == "cross"].combo) == {f"{b}__{a}", f"{a}__{b}"}
    block = groups[(groups.split == "block") & (groups.n_sessions == 2)]
    assert set(block.model) == {"glm", "svc", "knn", "svc_w", "efficientnet_lite0"}
    assert (block.p_floor <= 0.05).all()
    # The reference decoders reject (expected from the design); the network, trained for 2
    # epochs here, is named with what its own group test says.
    net = block[block.model == "efficientnet_lite0"].p_time_group.item()
    decided = (f"every decoder it was run for ({EVERY_DECODER}, network on neural images)"
               if net <= 0.05 else
               "GLM, RBF SVC, kNN and RBF SVC on W and not for network on neural images")
    assert ("The time-respecting test across the 2 animals rejects chance (p ≤ 0.05) for "
            + decided) in front
    assert "not tested against drift" not in front
    assert "for none" not in front and "nan" not in front
    assert "null animal" not in front.lower()


def test_own_nwb_route_with_three_session_files(tmp_path, write_own_folder):
    """Three own files, one stimulus-blind: each animal held out in turn and tested after
    training on the other two, and the blind animal below both informative ones for every
    reference decoder within animal (block split)."""
    names, out, front, summary, groups = run_own_nwb(
        tmp_path, write_own_folder, ["informative", "informative_b", "stimulus_blind"])
    a, b, blind = names
    expected = {f"{b}+{blind}__{a}", f"{a}+{blind}__{b}", f"{a}+{b}__{blind}"}
    assert set(summary[summary.task == "cross"].combo) == expected
    within = summary[(summary.task == "within") & (summary.analysis == "main") &
                     (summary.split == "block")]
    for model in ("glm", "svc", "knn"):
        acc = within[within.model == model].groupby("session").balanced_accuracy.mean()
        assert acc[blind] < min(acc[a], acc[b]), (model, acc.to_dict())
    assert f"sessions {a}, {b}, {blind}." in front and "across the 3 animals" in front
    assert "nan" not in front


# ------------------------------------------------------- config/allen.yaml and config/dandi.yaml
# Two of the nine sessions (a size), served where download_session / download_dandi write
# them, and Allen's 118 scene templates at their real size where download_scene_templates
# writes them. The files are simulated sessions carrying the Allen ids of the config.

TWO_SESSIONS = "sessions: [M0, M1]\n"


def write_scene_templates(path: Path) -> Path:
    """Allen's natural-scene templates file as download_allen.py writes it: ``templates``
    (118, 918, 1174) uint8 and ``frame``, each frame a different smooth pattern."""
    y, x = np.mgrid[0:918, 0:1174].astype(np.float32)
    frames = np.stack([(127 + 120 * np.sin((x * np.cos(k) + y * np.sin(k)) / (8 + k)))
                       .astype(np.uint8) for k in range(118)])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, templates=frames, frame=np.arange(118))
    return path


def run_download_route(workdir: Path, route: str, session_file, write_allen_session
                       ) -> tuple[str, pd.DataFrame]:
    config = yaml.safe_load((REPO / "config" / route).read_text())
    ids = config[config["source"]]["session_ids"]
    for session, kind in (("M0", "informative"), ("M1", "informative_b")):
        write_allen_session(workdir / session_file(session), kind, ids[session])
    write_scene_templates(workdir / "resources" / "allen" / "natural_scene_templates.npz")
    two = workdir / "two.yaml"
    two.write_text(TWO_SESSIONS)
    dry = snakemake(workdir, "-n", "--configfile", str(REPO / "config" / route), str(two))
    assert dry.returncode == 0, dry.stdout[-3000:]
    jobs = jobs_in_dry_run(dry.stdout)
    # Nothing to download: the files are where the download rules write them.
    assert not {"download_session", "download_dandi", "download_scene_templates"} & set(jobs)
    assert all(jobs.get(rule) for rule in NETWORK_JOBS), jobs
    out, summary = run_route(workdir, route, str(two))
    assert_default_analysis(workdir, summary, ["M0", "M1"])
    assert set(summary[summary.task == "cross"].combo) == {"M1__M0", "M0__M1"}
    # The scene templates rendered are the ones served, not the stand-in photographs.
    import xarray as xr

    with xr.open_dataset(workdir / "results" / "stimuli.nc") as stimuli:
        assert "stand-in" not in stimuli.attrs["natural_scene_source"], stimuli.attrs
    return out, summary


def test_allen_route_runs_from_served_downloads(tmp_path, write_allen_session):
    out, summary = run_download_route(
        tmp_path, "allen.yaml", lambda s: f"resources/allen/sessions/{s}.nwb",
        write_allen_session)
    assert "nidecode: sessions (allen): M0 (739448407), M1 (742951821)" in out
    assert "allen" in set(summary.source.dropna())


def test_dandi_route_runs_from_served_downloads(tmp_path, write_allen_session):
    out, summary = run_download_route(
        tmp_path, "dandi.yaml", lambda s: f"resources/dandi/sessions/{s}.nwb",
        write_allen_session)
    assert "nidecode: sessions (dandi): M0 (739448407), M1 (742951821)" in out
    assert (tmp_path / "results" / "front_page.rst").is_file()
