"""Cross-animal combos trained in batches: one process per batch, each animal's W built once,
and a combo that fails inside a batch is the only one trained again when the batch reruns."""

from pathlib import Path

import numpy as np
import pytest
from test_time_confound import drifting_session

from nidecode.common.errors import NidecodeError
from nidecode.common.io import write_netcdf
from nidecode.config import cross_batches, load_config
from nidecode.decoders.network import DNNSettings
from nidecode.jobs.inputs import cross_weights
from nidecode.jobs.scope import Scope
from nidecode.jobs.training import train_cross_batch

REPO = Path(__file__).resolve().parents[1]
NET = DNNSettings(image_size=16, epochs=2, batch_size=16, threads=1, pretrained=False)


def test_batches_chunk_the_combos_in_order():
    config = load_config(REPO / "config" / "config.yaml")
    one = cross_batches(config)
    assert len(one) == 6  # the paper's five combos and the null animal's negative control
    assert all(v == [k] for k, v in one.items())  # a batch of one is named after its combo
    config["decoding"]["dnn"]["cross_batch_size"] = 2
    two = cross_batches(config)
    flat = [c for batch in two.values() for c in batch]
    assert flat == list(one) and list(two)[0] == "batch0000"
    assert [len(b) for b in two.values()] == [2, 2, 2]


def _animals(small_stimuli, tmp_path):
    files = []
    for seed, name in ((1, "A1"), (2, "A2"), (3, "A3")):
        ds = drifting_session(small_stimuli, seed, informative=True, per_block=20)
        ds = ds.assign_attrs(animal=name, baseline_method="pre_onset")
        files.append(str(tmp_path / f"{name}.nc"))
        write_netcdf(ds, files[-1])
    return files


def test_an_animals_w_is_built_once_per_batch(small_stimuli, tmp_path):
    from nidecode.common.io import open_netcdf

    a1, a2, a3 = (open_netcdf(f) for f in _animals(small_stimuli, tmp_path))
    scope, cache = Scope(split="block"), {}
    first = cross_weights([a1, a2], [a3], small_stimuli, "train", scope, 0.5, 0, cache)
    assert len(cache) == 3  # A1 and A2 as training animals, A3 as the test animal
    second = cross_weights([a2], [a3], small_stimuli, "train", scope, 0.5, 0, cache)
    assert len(cache) == 3  # nothing rebuilt
    fresh = cross_weights([a2], [a3], small_stimuli, "train", scope, 0.5, 0)
    for got, want in zip(second, fresh, strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert first[2].shape == second[2].shape


def test_a_failed_combo_is_the_only_one_trained_again(small_stimuli, tmp_path):
    files = _animals(small_stimuli, tmp_path)
    combos = ["A1+A2__A3", "A1__A2"]
    work = tmp_path / "cross"
    blocked = work / "A1__A2" / "checkpoints"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the checkpoint folder goes: this combo fails\n")

    def run():
        return train_cross_batch("network", combos, files, small_stimuli, Scope(split="block"),
                                 "train", 0.5, NET, [0], work)

    with pytest.raises(NidecodeError, match=r"1 of 2 combos failed: A1__A2 \(NotADirectory"):
        run()
    assert (work / "A1+A2__A3" / "checkpoints" / "last.ckpt").exists()  # the other finished
    blocked.unlink()
    rows, weights = run()
    done = {r["combo"]: r for r in rows}
    # The combo that had finished resumes after its last epoch: no training again.
    assert done["A1+A2__A3"]["resumed_from_checkpoint"]
    assert done["A1+A2__A3"]["resumed_after_epochs"] == NET.epochs
    assert not done["A1__A2"]["resumed_from_checkpoint"]  # the failed one trains
    assert set(weights.combo.values) == set(combos)
    assert weights.sizes["trial"] == sum(r["n_test"] for r in rows)
