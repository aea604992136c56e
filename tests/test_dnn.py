"""GoogLeNet through Lightning on the CPU: fitting, resuming, offline pretrained weights."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from nidecode.dnn import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DNNSettings,
    NeuralImageClassifier,
    build_googlenet,
    fit_predict,
    imagenet_checkpoint,
)
from nidecode.weights_cache import GOOGLENET_IMAGENET_FILE

SMALL = DNNSettings(image_size=32, epochs=1, batch_size=8, threads=1, pretrained=False)


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


def test_same_seed_same_predictions(tmp_path):
    w, y, basis = toy_problem(seed=1)
    a, _ = fit_predict(w[:24], y[:24], w[24:], 2, basis, SMALL, tmp_path / "a")
    b, _ = fit_predict(w[:24], y[:24], w[24:], 2, basis, SMALL, tmp_path / "b")
    np.testing.assert_array_equal(a, b)


def test_raster_inputs_go_through_the_same_model(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, size=(20, 25, 7)).astype(np.float32)
    y = np.arange(20) % 2
    pred, _ = fit_predict(x[:16], y[:16], x[16:], 2, None, SMALL, tmp_path)
    assert pred.shape == (4,)


def test_weights_file_name_matches_torchvision():
    from torchvision.models import GoogLeNet_Weights

    assert Path(GoogLeNet_Weights.IMAGENET1K_V1.url).name == GOOGLENET_IMAGENET_FILE


def test_pretrained_weights_load_offline_from_torch_home(tmp_path, monkeypatch):
    from torchvision.models import googlenet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # Without a cached file: from scratch, and the record says so.
    model, record = build_googlenet(2, pretrained=True)
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
    torch.testing.assert_close(model.conv1.conv.weight, reference.conv1.conv.weight)
    torch.testing.assert_close(model.inception5b.branch1.conv.weight,
                               reference.inception5b.branch1.conv.weight)
    assert model.fc.out_features == 3 and model.aux1 is None and model.transform_input
    model.eval()
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)


@pytest.mark.parametrize("n_classes", [2, 6])
def test_k_class_head(n_classes):
    model, _ = build_googlenet(n_classes, pretrained=False)
    model.eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, n_classes)
