"""What every decoding job shares: areas, label maps, arousal threshold, seed, folds, split."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr

from nidecode.common.analyses import Analysis
from nidecode.common.errors import NidecodeError
from nidecode.data.selection import Selection, read_label_map, select
from nidecode.decoders.registry import load_modules
from nidecode.evaluation.splits import Split, check_classes, train_mask


@dataclass(frozen=True)
class Scope:
    """What every decoding job shares: areas, label maps, arousal threshold, seed, folds, split.

    ``split``: ``block`` holds out whole stimulus blocks (default: immune to slow drift),
    ``trial`` draws trials at random (the published recipe).
    """

    areas: tuple[str, ...] = ("VISp",)
    label_maps: dict = field(default_factory=dict)
    running_threshold: float = 5.0
    seed: int = 0
    n_folds: int = 3
    split: Split = "block"

    @classmethod
    def from_config(cls, config: dict, stimuli: xr.Dataset,
                    label_files: dict[str, str] | None = None, split: str | None = None) -> Scope:
        """The config's scope, with label maps read from files; ``split`` overrides
        ``decoding.split`` (the trial- vs block-split comparison). Loads the decoder modules
        the config names (``decoding.decoder_modules``)."""
        d = config["decoding"]
        load_modules(d.get("decoder_modules") or ())
        maps = {name: read_label_map(path, stimuli) for name, path in (label_files or {}).items()}
        return cls(areas=tuple(d["areas"]), label_maps=maps,
                   running_threshold=config["analyses"]["running_threshold_cm_s"],
                   seed=d["seed"], n_folds=d["n_folds"], split=split or d["split"])

    def select(self, ds: xr.Dataset, stimuli: xr.Dataset,
               analysis: Analysis | str = "main") -> Selection:
        return select(ds, stimuli, analysis, list(self.areas), self.label_maps,
                      self.running_threshold, self.seed)

    def train_mask(self, sel: Selection, fold: int, y: np.ndarray | None = None,
                   group: np.ndarray | None = None) -> np.ndarray:
        """Training mask of ``fold`` for the selection (``y``/``group``: a relabelling)."""
        y = sel.y if y is None else y
        block, name = blocks(sel, self.split)
        group = name if group is None else group
        train = train_mask(self.split, y, block, group, self.n_folds, fold, self.seed,
                           sel.info.get("animal", ""))
        check_classes(y, train, len(sel.names), f"{sel.info.get('animal', '?')} "
                      f"{sel.info.get('analysis', '')} fold {fold} ({self.split} split)")
        return train


def analysis_folds(ds: xr.Dataset, stimuli: xr.Dataset, scope: Scope,
                   analysis: Analysis | str = "main") -> Scope:
    """The scope ``analysis`` runs in: ``scope``, or under the block split with fewer folds
    where the analysis's trials (a running state) lie in fewer blocks of some stimulus than
    ``decoding.n_folds``: leave-one-block-out over the blocks they have, at least 2."""
    if scope.split != "block" or Analysis.of(analysis).kind != "arousal":
        return scope
    sel = scope.select(ds, stimuli, analysis)
    block, name = blocks(sel, "block")
    have = {g: len(set(block[name == g].tolist())) for g in sorted(set(name.tolist()))}
    fewest = min(have.values())
    if fewest < 2:
        raise NidecodeError(
            f"{ds.attrs.get('animal', '?')} {analysis}: its trials lie in {have} blocks "
            "(stimulus -> blocks); the block split needs at least 2 of each to hold one out")
    return replace(scope, n_folds=min(scope.n_folds, fewest))


def blocks(sel: Selection, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Each selected trial's stimulus block and what its block shows (zeros under the trial
    split when the responses have no blocks)."""
    if sel.block is None or sel.stimulus_name is None:
        if split == "block":
            raise NidecodeError(
                f"{sel.info.get('animal', '?')}: responses have no stimulus_block coordinate, "
                "so whole blocks cannot be held out. Rerun the responses rule (older responses "
                "files lack it) or set decoding.split: trial.")
        n = len(sel.y)
        return np.zeros(n), np.zeros(n).astype(str)
    return sel.block, sel.stimulus_name
