"""Analyses as typed records: name <-> record, the config's analyses, errors for bad names."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nidecode.common.analyses import (
    FUTURE_WORK_KINDS,
    KINDS,
    SELECTION_KINDS,
    Analysis,
    analyses_from_config,
    analysis_field,
)
from nidecode.common.errors import ConfigError, NidecodeError
from nidecode.config import validate_config

REPO = Path(__file__).resolve().parents[1]

# One record of every kind, beside its name (the strings in paths and in summary.csv).
EVERY_KIND = [
    (Analysis.main(), "main"),
    (Analysis.label("orientation_6way"), "label-orientation_6way"),
    (Analysis.area_set(["LGd"]), "areas-LGd"),
    (Analysis.area_set(("LGd", "VISl")), "areas-LGd+VISl"),
    (Analysis.arousal("running"), "arousal-running"),
    (Analysis.arousal("still"), "arousal-still"),
    (Analysis.unit_count(40, 2), "units-40-r2"),
    (Analysis.readout("paper"), "readout-paper"),
    (Analysis.time("natural_scenes"), "time-natural_scenes"),
    (Analysis.transfer("efficientnet_lite0-imagenet-linear-grey"),
     "transfer-efficientnet_lite0-imagenet-linear-grey"),
    (Analysis.blank_control(), "blank_control"),
    (Analysis.drift_control(), "drift_control"),
]


@pytest.mark.parametrize(("record", "name"), EVERY_KIND, ids=[n for _, n in EVERY_KIND])
def test_name_and_record_round_trip(record, name):
    assert record.name == name and str(record) == name
    assert Analysis.parse(name) == record
    assert Analysis.parse(record.name).name == name
    assert Analysis.of(name) == Analysis.of(record) == record
    assert hash(Analysis.parse(name)) == hash(record)


def test_every_kind_is_covered_and_has_its_fields():
    assert {r.kind for r, _ in EVERY_KIND} == set(KINDS)
    assert Analysis.parse("areas-LGd+VISl").areas == ("LGd", "VISl")
    units = Analysis.parse("units-40-r2")
    assert (units.n_units, units.repeat) == (40, 2) and isinstance(units.n_units, int)
    assert Analysis.parse("label-predator").label_map == "predator"
    assert Analysis.parse("arousal-still").state == "still"
    assert Analysis.parse("readout-train").mode == "train"
    assert Analysis.parse("time-static_gratings").stimulus == "static_gratings"
    assert Analysis.parse("transfer-googlenet-scratch").variant == "googlenet-scratch"
    assert Analysis.parse("areas-LGd+VISl").detail == "LGd+VISl"
    assert Analysis.main().detail == ""
    assert [k for k in KINDS if Analysis.parse(dict(
        (r.kind, n) for r, n in EVERY_KIND)[k]).is_selection] == list(SELECTION_KINDS)


@pytest.mark.parametrize("name", [
    "", "Main", "areas CA1", "areas-", "areas-A++B", "areas-A+", "label-", "label-a-b",
    "label-a.b", "arousal-sleep", "arousal-", "units-5", "units-5-r", "units-x-r0",
    "units-05-r0", "units-5-r01", "readout-", "time-", "transfer-", "transfer-a.b",
    "blank_control-x", "drift_control-x", "main-x", "foo", " main",
])
def test_bad_names_are_refused(name):
    with pytest.raises(NidecodeError, match="unknown analysis"):
        Analysis.parse(name)


def test_records_whose_name_would_not_read_back_are_refused():
    for make in (lambda: Analysis.label("a-b"), lambda: Analysis.area_set(["VIS p"]),
                 lambda: Analysis.area_set([]), lambda: Analysis.arousal("asleep"),
                 lambda: Analysis("units", n_units=5), lambda: Analysis("main", state="running"),
                 lambda: Analysis("region", areas=("LGd",)),
                 lambda: Analysis("units", n_units="5", repeat=0)):
        with pytest.raises(NidecodeError):
            make()


def test_config_builder_keeps_the_order_of_the_names():
    """Label maps, area sets, running then still, then each unit count's repeats: the order
    (and so the job list) the workflow had when analyses were strings."""
    config = {"analyses": {"labels": ["predator", "orientation_0_90"],
                           "area_sets": [["VISl"], ["LGd", "CA1"]], "arousal": True,
                           "unit_counts": [5, 10], "unit_repeats": 2}}
    assert [a.name for a in analyses_from_config(config)] == [
        "label-predator", "label-orientation_0_90", "areas-VISl", "areas-LGd+CA1",
        "arousal-running", "arousal-still", "units-5-r0", "units-5-r1", "units-10-r0",
        "units-10-r1"]
    config["analyses"].update(arousal=False, unit_counts=[], labels=[])
    assert [a.kind for a in analyses_from_config(config)] == ["areas", "areas"]


def test_default_config_analyses():
    config = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    analyses = analyses_from_config(config)
    assert [a.name for a in analyses][:8] == [
        "label-predator", "label-orientation_0_90", "label-orientation_6way", "areas-VISl",
        "areas-LGd", "areas-CA1", "arousal-running", "arousal-still"]
    assert [a.name for a in analyses][8:] == [f"units-{n}-r{k}" for n in (5, 10, 20, 40)
                                              for k in range(3)]
    assert all(a.kind in FUTURE_WORK_KINDS for a in analyses)


def test_config_refuses_an_analysis_without_a_wildcard_safe_name():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    bad = copy.deepcopy(config)
    bad["labels"]["sub-class"] = bad["labels"]["predator"]
    bad["analyses"]["labels"] = ["sub-class"]
    with pytest.raises(ConfigError, match="config key 'analyses'.*label-sub-class"):
        validate_config(bad)


def test_every_analysis_of_the_documented_run_parses():
    """summary.csv of the run the docs quote: every name reads back as itself."""
    summary = pd.read_csv(REPO / "docs" / "run" / "summary.csv", usecols=["analysis"])
    names = summary.analysis.dropna().unique()
    assert {Analysis.parse(n).name for n in names} == set(names)
    assert {Analysis.parse(n).kind for n in names} == set(KINDS)


def test_analysis_field_of_a_column():
    column = pd.Series(["main", "units-5-r0", None, float("nan"), "units-5-r0"])
    assert analysis_field(column) == ["main", "units", None, None, "units"]
    assert analysis_field(column, "n_units") == [None, 5, None, None, 5]


def test_the_record_module_imports_nothing_heavy():
    """The Snakefile imports it (and the area table) while it is parsed."""
    code = ("import sys, nidecode.common.analyses, nidecode.data.area_models; "
            "heavy = {'torch', 'xarray', 'numpy', 'pandas', 'h5py'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
