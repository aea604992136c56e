"""The network's learning rate scaled to its batch size (decoding.dnn.lr_scaling)."""

from __future__ import annotations

import pytest
import torch

from nidecode.decoders.backbones import build_backbone
from nidecode.decoders.network import DNNSettings, NeuralImageClassifier


@pytest.mark.parametrize(("scaling", "batch", "expected"), [
    ("none", 1024, 0.003),
    ("linear", 1024, 0.003 * 16),  # 1024 / 64 = 16
    ("sqrt", 1024, 0.003 * 4),  # sqrt(16) = 4
    ("sqrt", 256, 0.003 * 2),
    ("linear", 64, 0.003),  # the reference batch: unchanged
])
def test_peak_lr_by_hand(scaling, batch, expected):
    s = DNNSettings(lr=0.003, batch_size=batch, lr_scaling=scaling, lr_reference_batch=64)
    assert s.peak_lr == pytest.approx(expected)


def test_unknown_scaling_is_refused():
    with pytest.raises(ValueError, match="lr_scaling"):
        DNNSettings(lr_scaling="cubic")


def test_the_optimiser_uses_the_scaled_rate():
    s = DNNSettings(arch="efficientnet_lite0", pretrained=False, finetune="head",
                    image_size=32, schedule="constant", lr=0.001, batch_size=512,
                    lr_scaling="linear", lr_reference_batch=64)
    model, _ = build_backbone(s.arch, 2, False)
    module = NeuralImageClassifier(model, 2, torch.rand(4, 8, 8), s)
    opt = module.configure_optimizers()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.008)


def test_the_schema_default_keeps_the_rate_unscaled():
    from nidecode.config import validate_config

    cfg = validate_config(
        {"source": "simulated", "sessions": ["A"], "simulation": {"animals": {"A": {"seed": 1}}}})
    s = DNNSettings.from_config(cfg)
    assert (s.lr_scaling, s.lr_reference_batch) == ("none", 64) and s.peak_lr == s.lr
