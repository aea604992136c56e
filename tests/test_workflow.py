"""Workflow tests through the real Snakemake: dry runs, errors, and a tiny end-to-end run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nidecode.common.constants import FIGURES

REPO = Path(__file__).resolve().parents[1]
# Partial configs are layered on the embedded default explicitly.
# The tiny run adds a decoder the way a user adds one (tests/toy_decoder.py, one module and
# one entry in decoding.baselines): it must run within and across animals and reach every
# table, figure and the front page with nothing else changed.
CI_CONFIG = ("--configfile", str(REPO / "config" / "config.yaml"), str(REPO / "config" / "ci.yaml"),
             str(REPO / "tests" / "toy_decoder.yaml"))
TOY = "nearest class mean on W"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    # Snakemake 9 prints errors on stdout or stderr depending on where they arise: merge them.
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        timeout=1800,
    )


def jobs_in_dry_run(out: str) -> dict[str, int]:
    table = out.split("Job stats:")[1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_default_dry_run_is_keyed_by_session(tmp_path):
    res = snakemake(tmp_path, "-n")
    assert res.returncode == 0, res.stdout
    jobs = jobs_in_dry_run(res.stdout)
    assert jobs["simulate_session"] == 10
    assert jobs["responses"] == 10
    assert jobs["render_stimuli"] == 1
    # The network on fold 0 (the paper's single split) of 10 sessions in train mode, plus the
    # null animal N0 in paper mode, in the block split; in the compared trial split N0 alone.
    assert jobs["dnn_within"] == (10 + 1) + 2
    # M0 x the grey-image ImageNet probe and the random-feature head (the ON/OFF ImageNet
    # probe is the main network itself)
    assert jobs["dnn_transfer"] == 2
    # Baselines beside the GLM: one job per session and split; SVC on W per combo (the
    # paper's five and the negative control M0+M1 -> N0).
    assert jobs["baselines_within"] == 2 * 10 and jobs["baselines_cross"] == 6
    assert jobs["glm_within"] == 2 * 10  # one job per session and split, all folds
    assert jobs["blank_control"] == 2 * 10  # beside the GLM: every session in both splits
    assert jobs["drift_control"] == 10  # one job per session writes both splits
    assert jobs["glm_analyses"] == 10
    assert jobs["dnn_control"] == 2  # response shuffle of M0 fold 0 in both modes
    # The network's block-relabelling null: every animal, block split, train mode.
    assert jobs["dnn_relabelling_null"] == 10
    assert jobs["dnn_cross"] == 6 and jobs["raster_within"] == 1
    for split in ("block", "trial"):
        assert f"results/decode/{split}/dnn_paper/within/N0/fold0/metrics.json" in res.stdout
        assert f"results/decode/{split}/glm/within/N0.json" in res.stdout
        assert f"results/decode/{split}/blank_control/N0.json" in res.stdout
        assert f"results/decode/{split}/drift_control/N0.json" in res.stdout
    for combo in ("M0+M1__M3", "M2__M3", "M0+M1__N0"):
        assert f"results/decode/block/dnn_train/cross/{combo}/metrics.json" in res.stdout
    for s in ("S0", "S4", "M0", "M3", "N0"):
        assert f"results/responses/{s}.nc" in res.stdout
        assert f"results/decode/block/dnn_train/relabelling_null/{s}.json" in res.stdout


def test_allen_dry_run_downloads_then_reads(tmp_path):
    res = snakemake(tmp_path, "-n", "-p", "--configfile", str(REPO / "config" / "allen.yaml"))
    assert res.returncode == 0, res.stdout
    jobs = jobs_in_dry_run(res.stdout)
    assert jobs["download_session"] == 9
    assert jobs["download_scene_templates"] == 1
    assert "simulate_session" not in jobs
    assert "resources/allen/sessions/M3.nwb" in res.stdout
    assert "download_allen.py session --session-id 744228101" in res.stdout


def test_bad_config_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("responses:\n  baseline: prestim\n")
    default = str(REPO / "config" / "config.yaml")
    res = snakemake(tmp_path, "-n", "--configfile", default, str(bad))
    assert res.returncode != 0
    assert "responses.baseline" in res.stdout and "pre_onset" in res.stdout
    bad.write_text("sessions: [S0, Q7]\n")
    res = snakemake(tmp_path, "-n", "--configfile", default, str(bad))
    assert res.returncode != 0 and "unknown sessions ['Q7']" in res.stdout
    # A config given alone is a layer on the default too: the same error.
    res = snakemake(tmp_path, "-n", "--configfile", str(bad))
    assert res.returncode != 0 and "unknown sessions ['Q7']" in res.stdout
    # Without that base (--replace-workflow-config), a partial config says what is missing.
    bad.write_text("sessions: [S0]\n")
    res = snakemake(tmp_path, "-n", "--replace-workflow-config", "--configfile", str(bad))
    assert res.returncode != 0 and "'source' is a required property" in res.stdout
    assert "the Snakefile layers every --configfile on config/config.yaml" in res.stdout


def test_a_missing_weight_stops_the_run_before_any_job(tmp_path):
    """A network that asks for ImageNet weights nobody fetched stops the run at start-up, with
    one error naming the key, the file and the fixes; nothing runs, and the target that
    fetches them is not stopped (its dry run lists the download)."""
    layer = tmp_path / "googlenet.yaml"
    layer.write_text("decoding:\n  dnn: {arch: googlenet}\n")
    res = snakemake(tmp_path, "--cores", "1", "--configfile", str(layer))
    assert res.returncode != 0
    error = ("config key 'decoding.dnn' (arch: googlenet, pretrained: true) asks for ImageNet "
             "weights that are not here: ImageNet weights not found at "
             "resources/torch/hub/checkpoints/googlenet-1378be20.pth (TORCH_HOME cache). Fix: "
             "run `snakemake fetch_weights` (your --configfile after it) on a machine that "
             "reaches the internet: it fills resources/torch (decoding.dnn.torch_home); or set "
             "'decoding.dnn.missing_weights: scratch'")
    assert error in res.stdout
    assert "Finished job" not in res.stdout and not (tmp_path / "results").exists()
    assert not (tmp_path / "resources" / "simulated").exists()
    # The dry run says it, and still lists the jobs; fetch_weights itself is not stopped.
    res = snakemake(tmp_path, "-n", "--configfile", str(layer))
    assert res.returncode == 0 and f"nidecode: WARNING: {error}" in res.stdout
    res = snakemake(tmp_path, "fetch_weights", "-n", "--configfile", str(layer))
    assert res.returncode == 0 and "fetch_backbone_weights" in res.stdout
    # A transfer variant asking for them is named by its own key, and scratch silences it.
    layer.write_text("decoding:\n  dnn: {arch: googlenet, missing_weights: scratch}\n"
                     "  transfer:\n    variants:\n      gn: {arch: resnet18, "
                     "missing_weights: error}\n")
    res = snakemake(tmp_path, "-n", "--configfile", str(layer))
    assert "'decoding.transfer.variants.gn' (arch: resnet18" in res.stdout
    assert "'decoding.dnn'" not in res.stdout



@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny config, run end to end once for the module's tests."""
    workdir = tmp_path_factory.mktemp("tiny")
    res = snakemake(workdir, "--cores", "2", *CI_CONFIG)
    assert res.returncode == 0, res.stdout[-5000:]
    return workdir


@pytest.mark.slow
def test_tiny_end_to_end_run(tiny_run):
    stimuli = xr.open_dataset(tiny_run / "results" / "stimuli.nc")
    assert stimuli.sizes["stimulus"] == 238 and stimuli.image.shape[1:] == (24, 40)
    for session in ("S0", "N0"):
        ds = xr.open_dataset(tiny_run / "results" / "responses" / f"{session}.nc")
        assert ds.attrs["source"] == "simulated" and ds.attrs["animal"] == session
        assert ds.sizes["presentation"] == 2 * 238
        assert "VISp" in set(ds.area.values) <= {"VISp", "VISl", "LGd", "CA1"}
        assert np.isfinite(ds.response.values).all()
        assert ds.counts.shape[1] == 25
    summary = pd.read_csv(tiny_run / "results" / "summary.csv")
    main = summary[(summary.analysis == "main") & (summary.control == "none")]
    counts = main.groupby(["task", "model_label"]).size().to_dict()
    # GLM: 2 sessions x 2 folds x 2 splits. GoogLeNet on fold 0 of both sessions in both splits,
    # the null animal N0 also in paper mode; one combo; raster for S0 (block split).
    # Baselines: SVC, kNN and SVC on W (train mode; paper mode too for the control and null
    # animals) like the GLM; SVC on W across animals on the combo.
    assert counts == {("within", "GLM"): 8, ("within", "network (train)"): 4,
                      ("within", "network (paper)"): 2, ("within", "network on raster images"): 1,
                      ("cross", "network (train)"): 1, ("within", "SVC"): 8, ("within", "kNN"): 8,
                      ("within", "SVC on W (train)"): 8, ("within", "SVC on W (paper)"): 8,
                      ("cross", "SVC on W (train)"): 1,
                      ("within", f"{TOY} (train)"): 8, ("within", f"{TOY} (paper)"): 8,
                      ("cross", f"{TOY} (train)"): 1}
    toy = main[main.model == "nearest_mean_w"]
    assert toy.accuracy.between(0, 1).all() and len(toy[toy.task == "cross"]) == 1
    assert (toy[toy.task == "within"].n_time_null == 9).all()  # the GLM's nulls, as SVC on W
    baselines = main[main.model.isin(["svc", "knn", "svc_w"]) & (main.task == "within")]
    assert (baselines.n_time_null == 9).all() and (baselines.n_permutations == 2).all()
    # Information retention: each network job beside SVC on the same W (same split, mode,
    # fold or combo), recomputed here from summary.csv.
    kept = pd.read_csv(tiny_run / "results" / "retention.csv")
    assert len(kept) == 7 and set(kept.task) == {"within", "cross"}
    for _, r in kept.iterrows():
        same = main[(main.split == r.split) & (main.ps_mode == r.ps_mode)
                    & ((main.session == r.unit) | (main.combo == r.unit))]
        if r.task == "within":
            same = same[same.fold == r.fold]
        net = same[same.inputs == "neural_image"].accuracy.item()
        ref = same[same.model == "svc_w"].accuracy.item()
        assert r.gap == pytest.approx(ref - net, abs=1e-4)
    assert set(main.split) == {"block", "trial"}
    assert set(main[main.task == "cross"].split) == {"block"}
    assert summary.accuracy.dropna().between(0, 1).all() and (summary.n_test.dropna() > 0).all()
    assert (summary[summary.model == "googlenet"].pretrained == False).all()  # noqa: E712
    assert set(summary[summary.model == "googlenet"].arch) == {"googlenet"}
    # Statistics on every job.
    done = summary[summary.skipped.isna()]
    assert done.ci95_low.notna().all() and done.p_binomial.between(0, 1).all()
    # The GLM's label-shuffle p is recomputed here from the null accuracies it was built on.
    glm = main[main.model == "glm"]
    assert (glm.n_permutations == 20).all()
    for _, row in glm.iterrows():
        rows = json.loads((tiny_run / row.metrics_file).read_text())
        m = next(r for r in rows if r["analysis"] == "main" and r["fold"] == row.fold
                 and r["model"] == "glm")
        assert len(m["null_accuracies"]) == 20
        expected = (1 + sum(a >= m["accuracy"] - 1e-12 for a in m["null_accuracies"])) / 21
        assert row.p_permutation == pytest.approx(expected)
        # The time-respecting null: the 9 other whole-block partitions of 3 + 3 blocks.
        assert row.time_null == "block_relabelling" and row.n_time_null == 9
        assert row.p_time == pytest.approx((1 + sum(
            a >= m["time_null_observed"] - 1e-12 for a in m["time_null_accuracies"])) / 10)
    # The null animal: the GLM's time-respecting null does not reject, the paper-mode readout
    # reads the leak, the train-mode readout does not.
    n0 = summary[summary.session == "N0"]
    n0_glm = n0[(n0.model == "glm") & (n0.analysis == "main") & (n0.split == "block")]
    assert (n0_glm.p_time > 0.1).all()
    readout = n0[n0.split == "block"].groupby("analysis").accuracy.mean()
    assert readout["readout-paper"] > 0.75
    assert 0.35 < readout["readout-train"] < 0.65
    # Time-confound control in the main split's GLM job: one row per stimulus and session.
    confound = summary[summary.analysis.astype(str).str.startswith("time-")]
    assert len(confound) == 4 and set(confound.session) == {"S0", "N0"}
    # Controls: response shuffle, one label shuffle and one block relabelling, S0 fold 0,
    # both modes. The network's null job (dnn_relabelling_null, ci.yaml's 2 relabellings)
    # gives the main rows their time-respecting p-value, over the retrained relabelling's.
    controls = summary[summary.control != "none"]
    assert sorted(controls.control.unique()) == ["label_shuffle-0", "relabel-0",
                                                 "response_shuffle"]
    assert set(controls.ps_mode) == {"train", "paper"}
    s0_dnn = main[(main.session == "S0") & (main.model_label == "network (train)")
                  & (main.split == "block")]
    assert s0_dnn.n_time_null.tolist() == [2] and s0_dnn.n_permutations.tolist() == [1]
    for session in ("S0", "N0"):
        net = main[(main.session == session) & (main.model_label == "network (train)")
                   & (main.split == "block")].iloc[0]
        null = json.loads((tiny_run / "results" / "decode" / "block" / "dnn_train"
                           / "relabelling_null" / f"{session}.json").read_text())[0]
        # The null job refits the true labels: the same fold-0 fits, seeds and numbers as the
        # main network job, and its p counts the relabellings reaching them.
        assert null["time_null_observed"] == pytest.approx(net.balanced_accuracy, abs=1e-12)
        assert null["seeds"] == [0, 1] and null["time_null_folds"] == [0]
        assert net.p_time == (1 + sum(a >= null["time_null_observed"]
                                      for a in null["time_null_accuracies"])) / 3
        assert net.time_null == "block_relabelling" and net.n_time_null == 2
    # Every network trains with both seeds of ci.yaml: the mean and the SD over seeds.
    nets = summary[summary.model.isin(["googlenet", "efficientnet_lite0"])]
    assert (nets.n_seeds == 2).all() and nets.seed_accuracy_sd.notna().all()
    # The transfer comparison: the ImageNet probe of grey images and the same head on random
    # features (the main network is its ON/OFF ImageNet arm: no variant trains it twice).
    transfer = summary[summary.analysis.astype(str).str.startswith("transfer-")]
    assert len(transfer) == 2 and set(transfer.session) == {"S0"}
    assert dict(zip(transfer.analysis, transfer.pretrained, strict=True)) == {
        "transfer-efficientnet_lite0-imagenet-linear-grey": True,
        "transfer-efficientnet_lite0-random-linear": False}
    assert (transfer.arch == "efficientnet_lite0").all() and (transfer.finetune == "head").all()
    # The grey variant is the published single-channel image; the random-feature head reads
    # the main network's images.
    channels = dict(zip(transfer.analysis, transfer.image_channels, strict=True))
    assert channels["transfer-efficientnet_lite0-imagenet-linear-grey"] == "grey"
    # Future-work analyses: sub-classes (k-class), areas, arousal, unit counts; each kind has
    # decoded rows (not only skipped ones).
    for a in ("label-predator", "label-orientation_6way", "areas-LGd", "areas-CA1",
              "arousal-running", "arousal-still", "units-5-r0", "units-10-r0"):
        rows = summary[summary.analysis == a]
        assert len(rows) and rows.accuracy.notna().any(), a
    six = summary[summary.analysis == "label-orientation_6way"]
    assert np.allclose(six.chance_balanced_accuracy.dropna(), 1 / 6)
    assert len(six.chance_balanced_accuracy.dropna()) > 0
    # Sub-classes vary within blocks: their time-respecting null permutes labels within blocks.
    assert (six.time_null == "within_block_permutation").all()
    # The blank-presentation control: GLM, SVC and kNN per fold, session and split. ci.yaml's
    # 12 blanks per stimulus fall at random among its presentations, so a block can hold too
    # few for a fold: such a fold is skipped, with the reason; the trial split's 6 + 6 per fold
    # decode.
    blank = summary[summary.analysis == "blank_control"]
    assert len(blank) == 3 * 2 * 2 * 2 and set(blank.model) == {"glm", "svc", "knn"}
    block = blank[blank.split == "block"]
    skipped = block.skipped.notna()
    assert block[skipped].skipped.str.contains("fewer than 2").all()
    assert block[~skipped].balanced_accuracy.between(0, 1).all() and (~skipped).any()
    decoded = blank[blank.split == "trial"]
    assert decoded.skipped.isna().all() and decoded.balanced_accuracy.between(0, 1).all()
    assert (decoded.chance_balanced_accuracy == 0.5).all() and (decoded.n_test == 12).all()
    # The gabor-epoch drift control: GLM, SVC and kNN per fold, session and split, on every
    # session's own gabor epoch (Allen's full 3,645 presentations whatever the repeats), with
    # the block-relabelling null and, for the GLM, ci.yaml's 20 label shuffles.
    drift = summary[summary.analysis == "drift_control"]
    assert len(drift) == 3 * 2 * 2 * 2 and set(drift.model) == {"glm", "svc", "knn"}
    assert drift.skipped.isna().all() and drift.balanced_accuracy.between(0, 1).all()
    assert (drift.n_train + drift.n_test == 3645).all() and (drift.n_time_null == 9).all()
    assert (drift[drift.model == "glm"].n_permutations == 20).all()
    drift_groups = pd.read_csv(tiny_run / "results" / "group_tests_drift_control.csv")
    assert set(drift_groups.group) == {"animals", "null N0"}
    assert set(drift_groups.model) == {"glm", "svc", "knn"}
    folds = pd.read_csv(tiny_run / "results" / "summary_folds.csv")
    assert {"accuracy_mean", "accuracy_sd", "n_folds", "split"} <= set(folds.columns)
    groups = pd.read_csv(tiny_run / "results" / "group_tests.csv")
    assert set(groups.group) == {"animals", "null N0"} and set(groups.split) == {"block", "trial"}
    # The network beside the other decoders: S0 alone, and the null animal.
    net_groups = groups[groups.model == "googlenet"]
    assert set(zip(net_groups.split, net_groups.group, strict=True)) == {("block", "animals"),
                                                                         ("block", "null N0")}
    assert np.allclose(net_groups.p_floor, 1 / 3)
    # Every job aggregate depends on has its benchmark row (time and peak memory).
    bench = pd.read_csv(tiny_run / "results" / "benchmarks.csv")
    assert set(bench.rule) == {"simulate_session", "render_stimuli", "responses", "glm_within",
                               "glm_analyses", "dnn_within", "dnn_cross", "raster_within",
                               "dnn_control", "dnn_transfer", "baselines_within",
                               "baselines_cross", "blank_control", "drift_control",
                               "dnn_relabelling_null"}
    networks = main[main.inputs.isin(["neural_image", "raster"])]
    # ... then one drift-control job per session writes both splits, and one network null
    # job per session.
    assert len(bench) == (len(networks) + len(controls) + len(transfer)
                          + 2 + 2 + 1 + 2 * 2 + 2 + 2 * 2 + 1 + 2 * 2 + 2 + 2)
    assert (bench.s > 0).all() and (bench.max_rss_mb > 0).all()
    for name in FIGURES:
        assert (tiny_run / "results" / "figures" / f"{name}.png").stat().st_size > 5000, name
    metrics = json.loads((tiny_run / "results" / "decode" / "block" / "dnn_train" / "cross"
                          / "S0__N0" / "metrics.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "confusion_matrix", "n_train", "n_test",
                "chance_level", "pretrained", "image_size", "epochs", "seed", "ps_mode",
                "wall_time_s", "split"):
        assert key in metrics, key
    assert metrics["n_calibration"] + metrics["n_test"] == 2 * 238
    # The calibration trials are whole blocks: 2 of 3 of each stimulus, the third evaluated.
    assert metrics["n_test"] < metrics["n_calibration"]
    # A rerun has nothing to do.
    res = snakemake(tiny_run, "--cores", "2", *CI_CONFIG, "-n")
    assert "Nothing to be done" in res.stdout


@pytest.mark.slow
def test_report_holds_every_figure(tiny_run):
    report = tiny_run / "report.zip"
    res = snakemake(tiny_run, *CI_CONFIG, "--report", str(report))
    assert res.returncode == 0, res.stdout[-3000:]
    with zipfile.ZipFile(report) as z:
        names = "\n".join(z.namelist())
        html = "\n".join(z.read(n).decode(errors="ignore") for n in z.namelist()
                         if n.endswith((".html", ".js")))
    for name in FIGURES:
        assert f"{name}.png" in names, name
    for table in ("summary.csv", "group_tests.csv", "group_tests_drift_control.csv",
                  "benchmarks.csv", "retention.csv"):
        assert table in names, table
    # The front page is generated from this run's summary: headline numbers, the null
    # animal and the caveats of the run.
    front = (tiny_run / "results" / "front_page.rst").read_text()
    summary = pd.read_csv(tiny_run / "results" / "summary.csv")
    glm = summary[(summary.model == "glm") & (summary.analysis == "main")
                  & (summary.split == "block") & (summary.session == "S0")]
    # The answer first, then every decoder side by side (the GLM's mean over its folds).
    assert front.index("**Answer**: On these data ") < front.index("**Every decoder**")
    # One animal with stimulus information (S0): no paired test between decoders is possible.
    assert "with one animal no difference between decoders can be tested" in front
    assert f"     - {glm.accuracy.mean():.3f}\n" in front
    assert "   * - network on neural images" in front and "   * - RBF SVC on W" in front
    assert f"   * - {TOY}" in front  # the user's decoder, with nothing but its module
    assert "Null animal N0" in front and "**simulated data**" in front
    assert "pretrained weights loaded: false" in front  # GoogLeNet from scratch in ci.yaml
    assert "The paper's raster variant" in front  # raster for S0 in ci.yaml
    # One sentence per animal for the gabor-epoch drift control, with this run's GLM means.
    drift = summary[(summary.analysis == "drift_control") & (summary.model == "glm")]
    for animal in ("S0", "N0"):
        trial, block = (drift[(drift.session == animal) & (drift.split == sp)]
                        .balanced_accuracy.mean() for sp in ("trial", "block"))
        assert (f"on this recording's gabor epoch, a label that is only time is decoded at "
                f"{trial:.2f} (trial split) and {block:.2f} (block split) by the GLM") in front
    assert "Answer" in html and "Caveats of this run" in html
    # The network's null job (ci.yaml: 2 relabellings) gives it a group test too, over the
    # retrained relabelling's (1 relabelling, floor 0.5).
    groups = pd.read_csv(tiny_run / "results" / "group_tests.csv")
    net = groups[(groups.model == "googlenet") & (groups.group == "animals")]
    assert len(net) and (net.sessions == "S0").all() and np.allclose(net.p_floor, 1 / 3)
    assert "network on neural images" in front.split("**Every decoder**")[0]  # in the verdict


@pytest.mark.slow
def test_two_runs_give_identical_accuracies(tiny_run, tmp_path):
    # The second run fits the reference decoders in two threads (decoding.baseline_threads):
    # the same numbers, as for any thread count.
    threads = tmp_path / "threads.yaml"
    threads.write_text("decoding: {baseline_threads: 2}\n")
    res = snakemake(tmp_path, "results/summary.csv", "--cores", "2", *CI_CONFIG, str(threads))
    assert res.returncode == 0, res.stdout[-3000:]
    jobs = re.findall(r"rule (baselines_\w+):\n(?:    .*\n)*?    threads: (\d+)\n    resources: "
                      r".*mem_mb=(\d+)", res.stdout)
    assert len(jobs) >= 4 and {t for _, t, _ in jobs} == {"2"}, res.stdout[-3000:]
    assert all(int(mem) >= 4000 for _, _, mem in jobs)  # nidecode.jobs.resources' floor
    a = pd.read_csv(tiny_run / "results" / "summary.csv")
    b = pd.read_csv(tmp_path / "results" / "summary.csv")
    pd.testing.assert_series_equal(a.accuracy, b.accuracy)
    pd.testing.assert_series_equal(a.balanced_accuracy, b.balanced_accuracy)


@pytest.mark.slow
def test_corrupt_input_fails_cleanly_and_leaves_no_output(tmp_path):
    cfg = tmp_path / "nwb.yaml"
    broken = tmp_path / "broken.nwb"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    cfg.write_text(f"source: nwb\nsessions: [X]\nnwb_files: {{X: {broken}}}\n")
    res = snakemake(tmp_path, "--cores", "1", "--configfile", str(cfg))
    assert res.returncode != 0
    assert "broken.nwb: not a readable NWB (HDF5) file" in res.stdout
    assert "truncated or corrupt" in res.stdout
    responses = tmp_path / "results" / "responses"
    assert not responses.exists() or not any(responses.iterdir())


@pytest.mark.slow
def test_retention_benchmark_runs_on_a_finished_run(tiny_run):
    """benchmarks/studies/retention.py (the measurements behind the default network) on the tiny
    run: one row per session, fold and variant, gap = svc_w - network."""
    variants = json.dumps({"probe": {"arch": "efficientnet_lite0", "finetune": "head",
                                     "image_size": 32, "epochs": 1}})
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "studies" / "retention.py"), "--results",
         str(tiny_run / "results"), "--configfile", str(REPO / "config" / "config.yaml"),
         str(REPO / "config" / "ci.yaml"), "--sessions", "S0", "--folds", "0", "--variants",
         variants], cwd=tiny_run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600)
    assert res.returncode == 0, res.stdout[-3000:]
    table = res.stdout.split("mean gap per variant")[0]
    row = next(line.split() for line in table.splitlines() if line.split()[:1] == ["S0"])
    network, svc_w, gap = (float(v) for v in row[-4:-1])
    assert gap == pytest.approx(svc_w - network, abs=0.0011)
    # --span: the SVC on W, and on W projected onto the grey and the ON/OFF image spans.
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "studies" / "retention.py"), "--results",
         str(tiny_run / "results"), "--configfile", str(REPO / "config" / "config.yaml"),
         str(REPO / "config" / "ci.yaml"), "--sessions", "S0,N0", "--folds", "0,1", "--span"],
        cwd=tiny_run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "grey image span (rank 179)" in res.stdout and "on_off image span" in res.stdout
    rows = [line for line in res.stdout.splitlines() if line.split()[:1] in (["S0"], ["N0"])]
    assert len(rows) == 4


def _merged(*paths: Path) -> dict:
    """Configs layered as Snakemake layers --configfile (later files win, key by key)."""
    import yaml

    def update(a: dict, b: dict) -> dict:
        for k, v in b.items():
            a[k] = update(a.get(k, {}), v) if isinstance(v, dict) and isinstance(
                a.get(k), dict) else v
        return a

    out: dict = {}
    for p in paths:
        update(out, yaml.safe_load(Path(p).read_text()))
    return out


@pytest.mark.slow
def test_every_figure_is_readable(tiny_run, tmp_path, monkeypatch):
    """Every figure of the tiny run drawn again with the layout check: no overlapping text,
    no data outside the axes, no legend over a plotting area."""
    import runpy
    import types

    from nidecode.common.constants import FIGURES
    from nidecode.config import validate_config
    from nidecode.report import figures

    config = validate_config(_merged(*CI_CONFIG[1:]))
    res = tiny_run / "results"
    problems: dict[str, list[str]] = {}
    save = figures._save

    def checked(fig, path):
        problems[Path(path).stem] = figures.layout_problems(fig)
        save(fig, path)

    monkeypatch.setattr(figures, "_save", checked)
    monkeypatch.chdir(tiny_run)  # label files are read relative to the run, as Snakemake does
    smk = types.SimpleNamespace(
        input=types.SimpleNamespace(
            summary=str(res / "summary.csv"), benchmarks=str(res / "benchmarks.csv"),
            responses=str(res / "responses" / f"{config['figures']['session']}.nc"),
            stimuli=str(res / "stimuli.nc"),
            cross=sorted(str(p) for p in res.glob("decode/block/dnn_*/cross/*/test_weights.nc"))),
        output=types.SimpleNamespace(**{n: str(tmp_path / f"{n}.png") for n in FIGURES}),
        params=types.SimpleNamespace(mode=config["decoding"]["ps_modes"][0]),
        config=config, log=[str(tmp_path / "figures.log")])
    runpy.run_path(str(REPO / "workflow" / "scripts" / "figures.py"),
                   init_globals={"snakemake": smk})
    assert set(problems) == set(FIGURES)
    assert not {k: v for k, v in problems.items() if v}


def test_the_layout_check_finds_overlaps_and_clipping():
    import matplotlib.pyplot as plt

    from nidecode.report.figures import layout_problems

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0.2, 0.9], label="a line")
    ax.set_ylim(0.3, 1.0)  # cuts the line's first point off
    ax.text(0.5, 0.5, "same place")
    ax.text(0.5, 0.5, "same place too")
    ax.legend(loc="center")  # over the data
    found = "\n".join(layout_problems(fig))
    assert "outside the axes" in found and "text overlaps" in found
    assert "legend over a plotting area" in found
    plt.close(fig)
