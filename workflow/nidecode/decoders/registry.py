"""One interface for every decoder: the GLM, SVC, kNN, SVC on W, the top-stimulus readout, the
network on neural images and the network on raster images.

A decoder fits on training trials and predicts test trials, and says what it reads:

* ``responses``: the trials' z-scored unit responses (trials x units), as the GLM;
* ``weights``: ``W`` (trials x stimuli), the stimulus weights a trial's neural image ``W @ U``
  is made of, in a preferred-stimulus mode. ``W`` lives in stimulus space, so a ``weights``
  decoder can also run across animals;
* ``raster``: z-scored time-binned counts (trials x time bins x units), one image per trial.

The job runner (:mod:`nidecode.jobs.runner`) builds those inputs from the responses for each
training mask, calls :meth:`Decoder.fit_predict` and writes one record per job, within one
animal or across animals, with the nulls; nothing else knows a decoder by name.

**Adding a decoder** is one module and one entry in ``decoding.baselines``: a module of this
package (``nidecode/decoders/<name>.py``) or a file named in ``decoding.decoder_modules``
registers it with :func:`register` (any :class:`Decoder`) or :func:`decoder` (a plain
``(x_train, y_train, x_test, **params) -> labels`` function). Decoder modules import heavy
libraries (scikit-learn, torch) inside their functions: the Snakefile reads this registry at
parse time, and dry runs stay quick.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

Inputs = Literal["responses", "weights", "raster"]
INPUTS: tuple[str, ...] = ("responses", "weights", "raster")


@dataclass(frozen=True)
class Context:
    """What a decoder may read besides its training and test rows (all optional but the class
    count): the job runner fills in what the job has."""

    n_classes: int
    #: ``U`` (stimulus, height, width): a row of ``W`` is the image ``W_t @ U``.
    basis: np.ndarray | None = None
    #: The class index of each stimulus (-1 where it has none), for readouts of ``W``.
    stimulus_label: np.ndarray | None = None
    #: The stimulus index shown at each test trial.
    test_stimulus: np.ndarray | None = None
    #: Where a trained network keeps its checkpoints and logs.
    workdir: Path | None = None
    #: A trained network's settings (:class:`nidecode.decoders.network.DNNSettings`).
    network: Any = None


@dataclass(frozen=True)
class Fit:
    """A decoder's predictions for the test rows, and what it adds to the job's record."""

    predicted: np.ndarray
    record: dict = field(default_factory=dict)


FitPredict = Callable[..., Fit]


@dataclass(frozen=True)
class Decoder:
    """A registered decoder.

    ``name``: its key in ``decoding.baselines`` (and the ``model`` of its records unless its
    fit names another, as the networks name their backbone); ``label``: its name in tables and
    figures; ``inputs``: what it reads; ``fit``: ``(x_train, y_train, x_test, context,
    **params) -> Fit``; ``params``: the keyword parameters it accepts; ``across_animals``: how
    each animal's rows are scaled before a cross-animal fit (None: the decoder does not run
    across animals); ``long_label``: its name in sentences, if longer; ``trains_network``:
    trained with :mod:`nidecode.decoders.network`, one job per fold on a GPU node (settings
    ``decoding.dnn``), not in the CPU baseline jobs.
    """

    name: str
    inputs: Inputs
    label: str
    fit: FitPredict
    params: tuple[str, ...] = ()
    across_animals: Callable[[np.ndarray], np.ndarray] | None = None
    trains_network: bool = False
    long_label: str = ""
    #: Whether the main fit also calls the blanks of its test blocks (blanks through the main
    #: decoder): not for a readout that reads each test trial's own stimulus.
    scores_blanks: bool = True

    @property
    def full_label(self) -> str:
        """The name in sentences and the front page's decoder table (``long_label``, else
        ``label``)."""
        return self.long_label or self.label

    def fit_predict(self, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                    context: Context | None = None, **params: Any) -> Fit:
        """Fit on the training rows and predict the test rows."""
        context = context or Context(n_classes=int(np.max(y_train)) + 1)
        return self.fit(x_train, y_train, x_test, context, **params)


DECODERS: dict[str, Decoder] = {}
# Modules of this package that hold no decoder (the network's training code and backbones
# import torch at the top).
_NOT_DECODER_MODULES = {"registry", "network", "backbones"}
_loaded = False
_WORKFLOW_ROOT = Path(__file__).resolve().parents[3]


def register(dec: Decoder) -> Decoder:
    """Add ``dec`` to the registry under ``dec.name``."""
    if dec.inputs not in INPUTS:
        raise ValueError(f"decoder {dec.name}: inputs must be one of {INPUTS}, not "
                         f"{dec.inputs!r}")
    DECODERS[dec.name] = dec
    return dec


def decoder(name: str, inputs: Inputs, label: str,
            across_animals: Callable[[np.ndarray], np.ndarray] | None = None,
            long_label: str = "", record: Callable[..., dict] | None = None
            ) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Register a plain ``(x_train, y_train, x_test, **params) -> labels`` function as decoder
    ``name``; its keyword parameters are the ones ``decoding.baselines.<name>`` may set.
    ``record``, called with the same arguments, gives what the fit adds to the job's record
    (e.g. which fit of the SVC ran)."""
    def wrap(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        def fit(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, context: Context,
                **params: Any) -> Fit:
            extra = record(x_train, y_train, x_test, **params) if record else {}
            return Fit(fn(x_train, y_train, x_test, **params), extra)

        params = tuple(list(inspect.signature(fn).parameters)[3:])
        register(Decoder(name, inputs, label, fit, params, across_animals,
                         long_label=long_label))
        return fn
    return wrap


def load_modules(paths: Iterable[str] = ()) -> None:
    """Import every decoder module of this package once, and the files or modules in
    ``paths`` (``decoding.decoder_modules``: a ``.py`` file, or an importable module name)."""
    global _loaded
    if not _loaded:
        _loaded = True
        here = Path(__file__).parent
        names = sorted(info.name for info in pkgutil.iter_modules([str(here)])
                       if not info.ispkg and info.name not in _NOT_DECODER_MODULES)
        # The reference decoders first: tables list decoders in registration order.
        for name in sorted(names, key=lambda n: n != "reference"):
            importlib.import_module(f"{__package__}.{name}")
    for path in paths:
        _import(str(path))


def _import(path: str) -> None:
    if not path.endswith(".py"):
        importlib.import_module(path)
        return
    file = Path(path)
    if not file.is_absolute() and not file.exists():
        file = _WORKFLOW_ROOT / file  # relative to the workflow's folder, as config paths are
    file = file.resolve()
    name = f"nidecode_decoder_{file.stem}"
    if name in sys.modules:
        return
    if not file.is_file():
        raise FileNotFoundError(f"decoder module {path} (decoding.decoder_modules) not found")
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]


def get(name: str) -> Decoder:
    """The decoder registered as ``name``; one error listing the registered ones otherwise."""
    load_modules()
    if name not in DECODERS:
        raise KeyError(f"unknown decoder {name!r}; registered: {sorted(DECODERS)} "
                       "(nidecode/decoders/, or a file in decoding.decoder_modules)")
    return DECODERS[name]


def registered() -> dict[str, Decoder]:
    """Every registered decoder, by name."""
    load_modules()
    return dict(DECODERS)
