"""The AllenSDK environment installs from envs/allensdk-requirements.txt, and the download script
runs in it and fails cleanly without a reachable warehouse.

The venv is built once and reused: ``$NIDECODE_ALLENSDK_VENV`` if set, else
``<repo>/.venv-allensdk`` (ignored by git through the ``.venv*/`` line of ``.gitignore``).
Building it takes about a minute with a warm pip cache. No test here talks to the Allen
Institute: the network test points the script at a closed port on 127.0.0.1, so it behaves the
same with or without internet.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "envs" / "allensdk-requirements.txt"
SCRIPT = REPO / "workflow" / "scripts" / "download_allen.py"
IMPORT_CHECK = (
    "from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache"
)

pytestmark = pytest.mark.slow


def _venv_dir() -> Path:
    return Path(os.environ.get("NIDECODE_ALLENSDK_VENV") or REPO / ".venv-allensdk")


def _base_python() -> str:
    exe = shutil.which("python3.11")
    if exe:
        return exe
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    pytest.skip("python3.11 is needed to build the AllenSDK venv")


def _imports_ok(python: Path) -> bool:
    if not python.exists():
        return False
    done = subprocess.run([str(python), "-c", IMPORT_CHECK], capture_output=True, timeout=600)
    return done.returncode == 0


@pytest.fixture(scope="module")
def allensdk_python() -> Path:
    venv = _venv_dir()
    python = venv / "bin" / "python"
    if not _imports_ok(python):
        if not python.exists():
            subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True, timeout=600)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
            check=True,
            timeout=3600,
        )
    return python


def _run(python: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def _closed_port() -> int:
    """A localhost port with nothing listening on it (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_allensdk_imports(allensdk_python: Path) -> None:
    code = IMPORT_CHECK + "; import allensdk; print(allensdk.__version__)"
    done = _run(allensdk_python, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.16.2"


def test_pinned_hdmf_and_pynwb_read_nwb(allensdk_python: Path, tmp_path: Path) -> None:
    """The hdmf pin is what lets this pynwb write and read NWB files at all."""
    code = textwrap.dedent(
        f"""
        from datetime import datetime, timezone
        import hdmf, pynwb
        assert hdmf.__version__ == "3.14.6", hdmf.__version__
        path = {str(tmp_path / "x.nwb")!r}
        nwb = pynwb.NWBFile("d", "id-1", datetime(2019, 1, 1, tzinfo=timezone.utc))
        with pynwb.NWBHDF5IO(path, "w") as io:
            io.write(nwb)
        with pynwb.NWBHDF5IO(path, "r") as io:
            assert io.read().identifier == "id-1"
        """
    )
    done = _run(allensdk_python, "-c", code)
    assert done.returncode == 0, done.stderr


def test_download_script_help(allensdk_python: Path) -> None:
    for args in ([], ["session"], ["scene-templates"]):
        done = _run(allensdk_python, str(SCRIPT), *args, "--help")
        assert done.returncode == 0, done.stderr
        assert "usage:" in done.stdout


def test_session_without_warehouse_fails_cleanly(allensdk_python: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "sessions"
    out = out_dir / "S0.nwb"
    host = f"127.0.0.1:{_closed_port()}"
    done = _run(
        allensdk_python,
        str(SCRIPT),
        "session",
        "--session-id",
        "715093703",
        "--cache-dir",
        str(tmp_path / "bogus" / "cache"),
        "--out",
        str(out),
        "--warehouse-host",
        host,
        timeout=300,
    )
    assert done.returncode != 0
    assert "could not reach the Allen Institute's warehouse" in done.stderr, done.stderr
    assert "715093703" in done.stderr
    assert "login node" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
    assert not out_dir.exists() or not any(out_dir.iterdir())


FAKE_CACHE = """
import importlib.util, sys
from pathlib import Path
import numpy as np
import pandas as pd

spec = importlib.util.spec_from_file_location("download_allen", {script!r})
da = importlib.util.module_from_spec(spec)
spec.loader.exec_module(da)
root = Path({root!r})

class FakeCache:
    SESSION_NWB_KEY = "session_nwb"
    def get_session_table(self):
        return pd.DataFrame(
            {{"session_type": ["brain_observatory_1.1", "functional_connectivity"]}},
            index=pd.Index([715093703, 766640955], name="id"),
        )
    def get_cache_path(self, file_name, key, *args):
        return str(root / "cache" / f"session_{{args[0]}}" / f"session_{{args[1]}}.nwb")
    def get_session_data(self, session_id):
        path = Path(self.get_cache_path(None, self.SESSION_NWB_KEY, session_id, session_id))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"nwb-bytes")
    def get_natural_scene_template(self, number):
        if {fail_at} == number:
            raise RuntimeError("boom")
        return np.full((918, 1174), number, dtype=np.uint8)

da.make_cache = lambda *a, **k: FakeCache()
sys.exit(da.main(sys.argv[1:]))
"""


def _fake(python: Path, tmp_path: Path, *args: str, fail_at: int = -1):
    code = FAKE_CACHE.format(script=str(SCRIPT), root=str(tmp_path), fail_at=fail_at)
    return _run(python, "-c", code, *args, "--cache-dir", str(tmp_path / "cache"))


def test_session_and_templates_with_fake_cache(allensdk_python: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "S0.nwb"
    done = _fake(
        allensdk_python, tmp_path, "session", "--session-id", "715093703", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == b"nwb-bytes"

    bad = tmp_path / "out" / "S1.nwb"
    done = _fake(
        allensdk_python, tmp_path, "session", "--session-id", "766640955", "--out", str(bad)
    )
    assert done.returncode == 1
    assert "766640955" in done.stderr and "functional_connectivity" in done.stderr
    assert not bad.exists()

    npz = tmp_path / "out" / "templates.npz"
    done = _fake(allensdk_python, tmp_path, "scene-templates", "--out", str(npz), fail_at=117)
    assert done.returncode == 1 and "boom" in done.stderr
    assert not npz.exists()
    done = _fake(allensdk_python, tmp_path, "scene-templates", "--out", str(npz))
    assert done.returncode == 0, done.stderr
    check = textwrap.dedent(
        f"""
        import numpy as np
        with np.load({str(npz)!r}) as data:
            assert sorted(data.files) == ["frame", "templates"], data.files
            assert data["templates"].shape == (118, 918, 1174)
            assert data["templates"].dtype == np.uint8
            assert data["templates"][5, 0, 0] == 5
            assert np.array_equal(data["frame"], np.arange(118))
        """
    )
    done = _run(allensdk_python, "-c", check)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in npz.parent.iterdir()) == ["S0.nwb", "templates.npz"]
