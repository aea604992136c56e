"""One record per backbone: the shipped records' facts, and a toy backbone added as one record
and trained through the network's fit_predict (CPU, a second or two)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nidecode.common.errors import NidecodeError
from nidecode.decoders import backbones
from nidecode.decoders.backbones import (
    BACKBONES,
    Backbone,
    PackageWeights,
    TorchvisionWeights,
    build_backbone,
    imagenet_checkpoint,
    torchvision_weights,
)
from nidecode.decoders.network import DNNSettings, NeuralImageClassifier, fit_predict


def test_torchvision_records_name_torchvisions_files():
    import torchvision.models as tvm

    served = torchvision_weights()
    assert {b.name for b in served.values()} == {"googlenet", "resnet18"}
    for file, b in served.items():
        url = getattr(tvm, b.weights.enum).IMAGENET1K_V1.url
        assert b.weights.url == url and file == Path(url).name
        assert len(b.weights.sha256_prefix) == 8 and file.startswith(f"{b.name}-")


def test_packaged_weights_have_the_recorded_sha256():
    weights = BACKBONES["efficientnet_lite0"].weights
    assert isinstance(weights, PackageWeights)
    path, note = weights.locate()
    assert path is not None, note
    assert hashlib.sha256(path.read_bytes()).hexdigest() == weights.sha256


def test_imagenet_checkpoint_is_the_torch_home_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert imagenet_checkpoint("resnet18") == tmp_path / "hub" / "checkpoints" / \
        BACKBONES["resnet18"].weights.file
    with pytest.raises(ValueError, match="no torchvision weights"):
        imagenet_checkpoint("efficientnet_lite0")
    with pytest.raises(ValueError, match="arch must be one of"):
        build_backbone("vgg16", 2, pretrained=False)


def test_fetch_checks_the_hash(tmp_path, monkeypatch):
    """fetch_weights's download (offline here: the download writes chosen bytes)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    payload = b"not GoogLeNet"

    def download(url, dst, hash_prefix=None, progress=True):
        Path(dst).write_bytes(payload)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    digest = hashlib.sha256(payload).hexdigest()
    good = TorchvisionWeights("X_Weights", f"https://example.org/x-{digest[:8]}.pth")
    assert good.fetch() == good.path() and good.path().read_bytes() == payload
    bad = TorchvisionWeights("X_Weights", "https://example.org/y-00000000.pth")
    with pytest.raises(ValueError, match="SHA-256"):
        bad.fetch()


# ------------------------------------------------------------------ a new backbone: one record


class ToyNet(nn.Module):
    """A conv layer, BatchNorm, pooling, dropout and a linear head."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.drop = nn.Dropout(0.2)
        self.classifier = nn.Linear(4, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.drop(self.features(x)))


def toy_record(weights: PackageWeights | None = None) -> Backbone:
    return Backbone(name="toy", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
                    head="classifier", head_train_modules=("drop",),
                    build=lambda n_classes, imagenet_layout: ToyNet(n_classes), weights=weights)


def toy_rows(n: int = 24, n_stim: int = 5):
    rng = np.random.default_rng(0)
    basis = rng.random((n_stim, 8, 12)).astype(np.float32)
    y = np.arange(n) % 2
    w = rng.normal(size=(n, n_stim)).astype(np.float32)
    w[:, 0] += 2 * y
    return w, y, basis


@pytest.fixture
def toy(monkeypatch) -> Backbone:
    record = toy_record()
    monkeypatch.setitem(BACKBONES, record.name, record)
    return record


def _settings(**kw) -> DNNSettings:
    return DNNSettings(**{"arch": "toy", "image_size": 16, "epochs": 1, "batch_size": 8,
                          "threads": 1, "accelerator": "cpu", "pretrained": False, **kw})


def test_an_unregistered_backbone_is_refused():
    with pytest.raises(ValueError, match="arch must be one of"):
        _settings()


def test_a_toy_backbone_trains_through_fit_predict(toy, tmp_path):
    w, y, basis = toy_rows()
    settings = _settings()
    a, record = fit_predict(w[:16], y[:16], w[16:], 2, basis, settings, tmp_path / "a")
    assert a.shape == (8,) and set(a) <= {0, 1}
    assert record["arch"] == "toy" and record["pretrained"] is False
    b, _ = fit_predict(w[:16], y[:16], w[16:], 2, basis, settings, tmp_path / "b")
    np.testing.assert_array_equal(a, b)  # deterministic on the CPU
    # Its own normalisation: the images are (x - 0.5) / 0.25 of [0, 1] images.
    module = NeuralImageClassifier(ToyNet(2), 2, torch.from_numpy(basis), settings)
    img = module.images(torch.randn(3, 5)) * 0.25 + 0.5
    assert img.min() == 0 and img.max() == 1


def test_a_toy_backbone_without_weights_stops_or_starts_from_scratch_as_asked(toy):
    with pytest.raises(NidecodeError, match="toy has no ImageNet weights"):
        build_backbone("toy", 3, pretrained=True)
    model, record = build_backbone("toy", 3, pretrained=True, missing_weights="scratch")
    assert record["pretrained"] is False and "toy has no ImageNet weights" in record["weights_note"]
    assert model.classifier.out_features == 3


def test_a_toy_backbones_weights_load_and_its_head_alone_trains(tmp_path, monkeypatch):
    torch.manual_seed(1)
    imagenet = ToyNet(backbones.IMAGENET_CLASSES)
    path = tmp_path / "toy.pth"
    torch.save(imagenet.state_dict(), path)
    record = toy_record(PackageWeights("toy-weights", "1.0", "Toy", find=lambda: path))
    monkeypatch.setitem(BACKBONES, "toy", record)
    model, info = build_backbone("toy", 2, pretrained=True)
    assert info["pretrained"] is True and info["weights"] == str(path)
    assert info["weights_note"] == "ImageNet Toy from toy-weights"
    torch.testing.assert_close(model.features[0].weight, imagenet.features[0].weight)

    w, y, basis = toy_rows()
    settings = _settings(pretrained=True, finetune="head", epochs=2)
    pred, rec = fit_predict(w[:16], y[:16], w[16:], 2, basis, settings, tmp_path / "job")
    assert rec["pretrained"] is True and rec["finetune"] == "head"
    assert rec["trainable_parameters"] == 4 * 2 + 2  # the head alone
    module = NeuralImageClassifier(model, 2, torch.from_numpy(basis), settings)
    module.train(True)  # the frozen features stay in eval mode, the head and its dropout train
    assert not model.features.training and model.drop.training and model.classifier.training


def test_same_padding_hand_values():
    # ceil(size / stride) outputs: (out - 1) * stride + (kernel - 1) * dilation + 1 - size.
    assert backbones.same_padding(64, 3, 1, 1) == 2  # 63 + 3 - 64: one each side
    assert backbones.same_padding(64, 3, 2, 1) == 1  # 62 + 3 - 64: after the input only
    assert backbones.same_padding(32, 5, 2, 1) == 3  # 30 + 5 - 32
    assert backbones.same_padding(7, 5, 1, 1) == 4
    assert backbones.same_padding(8, 1, 1, 1) == 0


@pytest.mark.parametrize("size", [64, 37])
def test_lighter_efficientnet_padding_gives_the_librarys_values_bit_for_bit(size):
    """The convolutions that pad themselves and the in-place ReLU6 compute what the library's
    own modules compute, on the CPU: features without gradients (the self-padding path), and
    gradients in training, where every swapped convolution hands its padding back to the
    library's code (counted below), so there only the in-place ReLU6 differs from it."""
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite_pytorch.utils import Conv2dDynamicSamePadding

    torch.manual_seed(0)
    ours = backbones._efficientnet_lite0(2, imagenet_layout=False)
    theirs = EfficientNet.from_name("efficientnet-lite0", image_size=None, num_classes=2)
    theirs.load_state_dict(ours.state_dict())
    swapped = [m for m in ours.modules() if isinstance(m, Conv2dDynamicSamePadding)
               and type(m) is not Conv2dDynamicSamePadding]
    assert len(swapped) > 30 and all(type(m) is Conv2dDynamicSamePadding
                                     for m in theirs.modules()
                                     if isinstance(m, Conv2dDynamicSamePadding))
    x = torch.randn(3, 3, size, size)
    ours.eval(), theirs.eval()
    with torch.inference_mode():
        assert torch.equal(ours.extract_features(x), theirs.extract_features(x))
    # Which path each swapped convolution takes: the library's forward (its own padding by
    # copying) only when gradients are on.
    calls = []
    library_forward = Conv2dDynamicSamePadding.forward

    def counted(self, x):
        calls.append(self)
        return library_forward(self, x)

    Conv2dDynamicSamePadding.forward = counted
    try:
        with torch.inference_mode():
            ours.extract_features(x)
        assert calls == []  # without gradients: no swapped convolution used the library's
        ours.train(), theirs.train()
        for m in (ours, theirs):
            torch.manual_seed(1)  # the same dropout and drop-connect draws
            calls.clear()
            m(x).square().sum().backward()
            assert {id(c) for c in calls} >= ({id(c) for c in swapped} if m is ours else set())
    finally:
        Conv2dDynamicSamePadding.forward = library_forward
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a.grad, b.grad), name


def test_missing_weights_are_named_by_key_file_and_fix_before_anything_runs(tmp_path):
    from nidecode.decoders.backbones import missing_weights_errors

    googlenet = {"arch": "googlenet", "pretrained": True, "missing_weights": "error"}
    networks = {"decoding.dnn": googlenet,
                "decoding.transfer.variants.lite": {**googlenet, "arch": "efficientnet_lite0"},
                "decoding.transfer.variants.scratch": {**googlenet, "pretrained": False},
                "decoding.transfer.variants.asked": {**googlenet, "missing_weights": "scratch"}}
    errors = missing_weights_errors(networks, tmp_path)
    # Only the network that needs a file that is not there (EfficientNet-Lite0's is packaged).
    assert len(errors) == 1 and errors[0].startswith("config key 'decoding.dnn' (arch: googlenet")
    assert str(tmp_path / "hub" / "checkpoints" / "googlenet-1378be20.pth") in errors[0]
    assert "snakemake fetch_weights" in errors[0] and "missing_weights: scratch" in errors[0]
    # Once fetched (the file where fetch_weights writes it), nothing is missing.
    path = tmp_path / "hub" / "checkpoints" / "googlenet-1378be20.pth"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert missing_weights_errors(networks, tmp_path) == []
