"""Sources of session files: messages that fit where a file came from, DANDI paths and errors up
to the network, and sessions found in a user's folder (nwb_dir)."""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from nidecode.common.errors import ConfigError, DownloadError, NWBReadError, SessionTypeError
from nidecode.config import nwb_path, validate_config
from nidecode.data.nwb import read_session
from nidecode.data.sources import (
    dandi_asset_glob,
    dandi_asset_path,
    discover_sessions,
    pick_session_asset,
    session_name,
)

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
RULES = {"simulated": "simulate_session", "allen": "download_session", "dandi": "download_dandi"}


def _load_script(name: str):
    path = REPO / "workflow" / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        timeout=600,
    )


def _jobs(out: str) -> dict[str, int]:
    table = out.split("Job stats:")[1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def _archive_resolves() -> bool:
    try:
        socket.getaddrinfo("api.dandiarchive.org", 443)
    except OSError:
        return False
    return True


# ------------------------------------------------------------------ messages by provenance


def _text_file(path: Path) -> Path:
    path.write_text("session,unit\n1,2\n")
    return path


def _truncated_hdf5(path: Path) -> Path:
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    return path


def _hdf5_without_units(path: Path) -> Path:
    """An HDF5 file with the stimulus tables' names but none of Allen's other layout."""
    with h5py.File(path, "w") as f:
        f.create_group("intervals/static_gratings_presentations")
        f.create_group("intervals/natural_scenes_presentations")
        f["analysis/notes"] = "not a session"
    return path


BAD_FILES = {"text": _text_file, "truncated": _truncated_hdf5, "layout": _hdf5_without_units}


def _read_error(path: Path, provenance: str | None) -> str:
    with pytest.raises(NWBReadError) as err:
        read_session(path) if provenance is None else read_session(path, provenance=provenance)
    return str(err.value)


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("provenance", ["simulated", "allen", "dandi"])
def test_files_the_workflow_made_may_be_deleted_and_remade(tmp_path, provenance, kind):
    path = BAD_FILES[kind](tmp_path / "S0.nwb")
    msg = _read_error(path, provenance)
    assert msg.startswith(str(path))
    assert f"The {RULES[provenance]} rule made this file: delete it (rm {path})" in msg
    if kind == "layout":
        assert "has no /units table" in msg
    else:
        assert "not a readable NWB (HDF5) file" in msg and "truncated or corrupt" in msg
    if provenance != "simulated":
        assert "localrule" in msg and "internet" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("provenance", ["own", "nwb", None])  # None: the default
def test_own_files_are_never_called_deletable(tmp_path, provenance, kind):
    path = BAD_FILES[kind](tmp_path / "my_recording.nwb")
    msg = _read_error(path, provenance)
    assert msg.startswith(str(path))
    assert "delete" not in msg.lower() and "rm " not in msg
    assert not any(rule in msg for rule in RULES.values())
    assert "your own file (config nwb_files or nwb_dir)" in msg
    assert "fix its path in the config (nwb_files, nwb_dir)" in msg
    if kind == "layout":
        assert "has no /units table" in msg
        assert "brain_observatory_1.1 session file" in msg and "per-probe LFP" in msg
    else:
        assert "not a readable NWB (HDF5) file" in msg
        assert "may be truncated or corrupt" in msg and "or not an NWB file at all" in msg
        assert "does not remake it" in msg


def test_missing_file_says_which_rule_or_to_fix_the_path(tmp_path):
    path = tmp_path / "gone.nwb"
    for provenance, rule in RULES.items():
        assert f"run the {rule} rule that makes it" in _read_error(path, provenance)
    own = _read_error(path, "own")
    assert "no such file" in own and "fix its path in the config" in own
    assert "rule that makes it" not in own


def test_session_type_advice_fits_the_source(tmp_path):
    path = tmp_path / "fc.nwb"
    with h5py.File(path, "w") as f:
        f.create_group("intervals/flashes_presentations")
    advice = {
        "allen": "allen.session_ids",
        "dandi": "dandi.session_ids",
        "own": "Point nwb_files (or nwb_dir) at a brain_observatory_1.1 session file",
    }
    for provenance, hint in advice.items():
        with pytest.raises(SessionTypeError, match="fc.nwb.*brain_observatory_1.1") as err:
            read_session(path, provenance=provenance)
        assert hint in str(err.value)


def test_unknown_provenance_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="provenance 'web'"):
        read_session(tmp_path / "x.nwb", provenance="web")


# --------------------------------------------------------------------------------- DANDI


def _dandi_config(**dandi) -> dict:
    return validate_config(
        {
            "source": "dandi",
            "sessions": ["M1", "M2"],
            "dandi": {"session_ids": {"M1": 742951821, "M2": 743475441}, **dandi},
        }
    )


def test_dandi_asset_paths_for_configured_sessions():
    cfg = _dandi_config(subjects={"M1": 723627600})
    assert cfg["dandi"]["dandiset"] == "000021" and cfg["dandi"]["version"] == "draft"
    assert nwb_path(cfg, "M1") == "resources/dandi/sessions/M1.nwb"
    sid, subject = cfg["dandi"]["session_ids"]["M1"], cfg["dandi"]["subjects"]["M1"]
    assert dandi_asset_path(subject, sid) == "sub-723627600/sub-723627600_ses-742951821.nwb"
    assert dandi_asset_glob(743475441) == "sub-*/sub-*_ses-743475441.nwb"
    listed = [
        "sub-723627600/sub-723627600_ses-742951821_probe-769322820_ecephys.nwb",
        "sub-723627600/sub-723627600_ses-742951821.nwb",
        "sub-723627600/sub-723627600_ses-742951821_probe-769322824_ecephys.nwb",
    ]
    where = "dandiset 000021 (version draft)"
    assert pick_session_asset(listed, sid, where) == listed[1]
    with pytest.raises(DownloadError, match=r"has no session file for session id 1\b"):
        pick_session_asset(listed, 1, where)
    with pytest.raises(DownloadError, match="several session files.*dandi.subjects"):
        pick_session_asset([*listed, "sub-9/sub-9_ses-742951821.nwb"], sid, where)
    with pytest.raises(ConfigError, match=r"'dandi.subjects': \['M9'\]"):
        _dandi_config(subjects={"M9": 1})


class _FakeAsset:
    def __init__(self, path: str, payload: bytes, size: int | None = None):
        self.path, self.payload = path, payload
        self.size = len(payload) if size is None else size

    def get_download_file_iter(self):
        return lambda start: iter([self.payload[:10], self.payload[10:]])


class _FakeDandiset:
    def __init__(self, assets):
        self.assets = {a.path: a for a in assets}
        self.calls: list[tuple[str, str]] = []

    def get_asset_by_path(self, path):
        self.calls.append(("path", path))
        return self.assets[path]

    def get_assets_by_glob(self, pattern):
        self.calls.append(("glob", pattern))
        return [a for p, a in self.assets.items() if "742951821" in p]


def test_download_script_asks_for_the_session_file_and_writes_atomically(tmp_path):
    script = _load_script("download_dandi")
    hdf5 = b"\x89HDF\r\n\x1a\n" + b"\0" * 40
    session = _FakeAsset("sub-723627600/sub-723627600_ses-742951821.nwb", hdf5)
    probe = _FakeAsset("sub-723627600/sub-723627600_ses-742951821_probe-7_ecephys.nwb", b"x")
    ds = _FakeDandiset([probe, session])
    where = "dandiset 000021 (version draft)"
    assert script.find_asset(ds, 742951821, 723627600, "M1", where) is session
    assert ds.calls == [("path", session.path)]
    assert script.find_asset(ds, 742951821, None, "M1", where) is session
    assert ds.calls[-1] == ("glob", "sub-*/sub-*_ses-742951821.nwb")
    out = tmp_path / "sessions" / "M1.nwb"
    script.download_asset(session, out)
    assert out.read_bytes() == hdf5 and sorted(os.listdir(out.parent)) == ["M1.nwb"]
    # Cut short, or not HDF5: an error, and nothing left that looks finished.
    for bad in (_FakeAsset(session.path, hdf5, size=len(hdf5) + 1), _FakeAsset("a.nwb", b"<html>")):
        with pytest.raises(DownloadError, match="cut short|not an HDF5"):
            script.download_asset(bad, tmp_path / "other" / "M2.nwb")
        assert os.listdir(tmp_path / "other") == []


def _check_unreachable_message(msg: str) -> None:
    assert msg.startswith("could not reach the DANDI archive")
    for part in (
        "session M1 (session id 742951821) of dandiset 000021 (version draft)",
        "): ConnectionError: HTTPSConnection(host='api.dandiarchive.org', port=443): Failed",
        "run the download_dandi rule where the internet is reachable (it is a localrule",
        "dandi download 'https://api.dandiarchive.org/api/dandisets/000021/versions/draft/"
        "assets/?path=sub-723627600/sub-723627600_ses-742951821.nwb'",
        "source: nwb with nwb_files: {M1: /path/to/sub-723627600_ses-742951821.nwb}",
        "nwb_dir: {path: /folder/holding/it}",
    ):
        assert part in msg, part


@pytest.mark.skipif(_archive_resolves(), reason="the DANDI archive is reachable from here")
def test_unreachable_archive_gives_one_clear_error(tmp_path, monkeypatch):
    import dandi.dandiapi

    monkeypatch.setenv("DANDI_NO_ET", "1")  # no version check against the internet
    monkeypatch.setattr(dandi.dandiapi, "REQUEST_RETRIES", 1)  # the real client, one try
    script = _load_script("download_dandi")
    out = tmp_path / "resources" / "dandi" / "sessions" / "M1.nwb"
    with pytest.raises(DownloadError) as err:
        script.fetch_session("M1", 742951821, out, subject=723627600)
    _check_unreachable_message(str(err.value))
    assert not out.parent.exists() or os.listdir(out.parent) == []
    # Without the subject, the hint names the glob that finds the file.
    with pytest.raises(DownloadError, match=r"assets/\?glob=sub-\*/sub-\*_ses-742951821.nwb"):
        script.fetch_session("M1", 742951821, out)


def test_dandi_dry_run_downloads_then_reads(tmp_path):
    cfg = tmp_path / "dandi.yaml"
    cfg.write_text(
        "source: dandi\nsessions: [M1, M2]\ndandi:\n  session_ids: {M1: 742951821, "
        "M2: 743475441}\n  subjects: {M1: 723627600}\n"
    )
    res = _snakemake(tmp_path, "-n", "--configfile", str(cfg))
    assert res.returncode == 0, res.stdout[-3000:]
    jobs = _jobs(res.stdout)
    assert jobs["download_dandi"] == 2 and jobs["responses"] == 2
    assert "simulate_session" not in jobs and "download_session" not in jobs
    assert "resources/dandi/sessions/M2.nwb" in res.stdout


@pytest.mark.slow
@pytest.mark.skipif(_archive_resolves(), reason="the DANDI archive is reachable from here")
def test_download_dandi_rule_fails_clearly_offline(tmp_path):
    """The rule itself, with the real client and its own retries (about a minute offline)."""
    cfg = tmp_path / "dandi.yaml"
    cfg.write_text(
        "source: dandi\nsessions: [M1]\ndandi:\n  session_ids: {M1: 742951821}\n"
        "  subjects: {M1: 723627600}\n"
    )
    res = _snakemake(tmp_path, "resources/dandi/sessions/M1.nwb", "--cores", "1",
                     "--configfile", str(cfg))
    assert res.returncode != 0
    log = (tmp_path / "results" / "logs" / "download_dandi" / "M1.log").read_text()
    _check_unreachable_message(log[log.index("could not reach"):].splitlines()[0])
    assert "Traceback" not in log
    assert not (tmp_path / "resources" / "dandi" / "sessions" / "M1.nwb").exists()


# ------------------------------------------------------------------------------ nwb_dir


@pytest.fixture
def user_folder(tmp_path, write_session_file):
    """A folder holding two sessions, one in DANDI's layout and one in AllenSDK's cache
    layout, each beside a per-probe LFP decoy (a full session copy: only its name says it is
    no session file), plus a non-session NWB file and a text file named .nwb."""
    from conftest import write_allen_nwb

    root = tmp_path / "data"
    dandi = root / "dandi" / "sub-723627600"
    dandi.mkdir(parents=True)
    write_session_file(dandi / "sub-723627600_ses-742951821.nwb", "742951821", "723627600")
    write_session_file(
        dandi / "sub-723627600_ses-742951821_probe-769322820_ecephys.nwb", "742951821",
        "723627600",
    )
    cache = root / "allensdk" / "session_715093703"
    cache.mkdir(parents=True)
    write_session_file(cache / "session_715093703.nwb", "715093703", "699733573")
    write_session_file(cache / "probe_810755797_lfp.nwb", "715093703", "699733573")
    write_allen_nwb(root / "flashes_only.nwb", {"A": ("VISp", "good", [1.0])}, gratings=False)
    (root / "notes.nwb").write_text("not hdf5")
    return root


NAMES = ["699733573_715093703", "723627600_742951821"]


def test_nwb_dir_finds_sessions_in_both_layouts(user_folder):
    found = discover_sessions(user_folder)
    assert list(found.found) == NAMES
    s = found.found["723627600_742951821"]
    assert (s.session_id, s.subject) == ("742951821", "723627600")
    reasons = {p.name: why for p, why in found.skipped}
    assert "DANDI layout" in reasons["sub-723627600_ses-742951821_probe-769322820_ecephys.nwb"]
    assert "AllenSDK cache layout" in reasons["probe_810755797_lfp.nwb"]
    assert "not an Allen brain_observatory_1.1 session" in reasons["flashes_only.nwb"]
    assert "not a readable NWB (HDF5) file" in reasons["notes.nwb"]
    assert session_name("S0", None) == "S0" and session_name("7-1", "a.b") == "a_b_7_1"


def test_nwb_dir_fills_sessions_and_nwb_files(user_folder):
    cfg = validate_config({"source": "nwb", "sessions": ["all"],
                           "nwb_dir": {"path": str(user_folder)}})
    assert cfg["sessions"] == NAMES
    path = Path(nwb_path(cfg, NAMES[1]))
    assert path == user_folder / "dandi" / "sub-723627600" / "sub-723627600_ses-742951821.nwb"
    assert read_session(path).session_id == "742951821"
    assert validate_config(cfg)["sessions"] == NAMES  # validating again changes nothing
    one = validate_config({"source": "nwb", "sessions": [NAMES[0]],
                           "nwb_dir": {"path": str(user_folder), "glob": "allensdk/**/*.nwb"}})
    assert one["sessions"] == [NAMES[0]] and list(one["nwb_files"]) == [NAMES[0]]
    with pytest.raises(ConfigError, match=r"unknown sessions \['S0'\].*nwb_files and nwb_dir"):
        validate_config({"source": "nwb", "sessions": ["S0"],
                         "nwb_dir": {"path": str(user_folder)}})


def test_nwb_dir_without_sessions_lists_what_it_skipped(user_folder, tmp_path):
    with pytest.raises(ConfigError) as err:
        validate_config({"source": "nwb", "sessions": ["all"],
                         "nwb_dir": {"path": str(user_folder), "glob": "**/*_lfp.nwb"}})
    msg = str(err.value)
    assert "no readable Allen brain_observatory_1.1 session file under" in msg
    assert "probe_810755797_lfp.nwb: per-probe LFP file (AllenSDK cache layout" in msg
    with pytest.raises(ConfigError) as err:
        validate_config({"source": "nwb", "sessions": ["all"],
                         "nwb_dir": {"path": str(user_folder), "glob": "*.nwb"}})
    msg = str(err.value)
    assert "flashes_only.nwb: no intervals/static_gratings_presentations" in msg
    assert "notes.nwb: not a readable NWB (HDF5) file" in msg
    with pytest.raises(ConfigError, match="'nwb_dir.path'.*is not a folder"):
        validate_config({"source": "nwb", "sessions": ["all"],
                         "nwb_dir": {"path": str(tmp_path / "nowhere")}})


def test_nwb_dir_refuses_two_copies_of_a_session(user_folder, write_session_file):
    write_session_file(user_folder / "copy.nwb", "715093703", "699733573")
    with pytest.raises(ConfigError, match="several files .* hold the same session"):
        validate_config({"source": "nwb", "sessions": ["all"],
                         "nwb_dir": {"path": str(user_folder)}})


def test_snakemake_dry_run_lists_the_sessions_found(user_folder, tmp_path):
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(f"source: nwb\nsessions: [all]\nnwb_dir:\n  path: {user_folder}\n")
    workdir = tmp_path / "run"
    workdir.mkdir()
    res = _snakemake(workdir, "-n", "--configfile", str(cfg))
    assert res.returncode == 0, res.stdout[-3000:]
    jobs = _jobs(res.stdout)
    assert jobs["responses"] == 2
    assert not {"simulate_session", "download_session", "download_dandi"} & set(jobs)
    for name in NAMES:
        assert f"results/responses/{name}.nc" in res.stdout
