#!/usr/bin/env python3
"""Download Allen Visual Coding - Neuropixels data through the AllenSDK.

This script runs inside the AllenSDK environment (``envs/allensdk-requirements.txt``), where the
``nidecode`` package is *not* installed, so it imports only the standard library, numpy and the
AllenSDK (plus ``requests``, which the AllenSDK itself uses for every download).

Two subcommands:

``session``
    Download one session's NWB file into the AllenSDK cache with
    ``EcephysProjectCache.get_session_data`` and place it (hard link, or copy across file
    systems) at ``--out``. Only ``brain_observatory_1.1`` sessions are accepted: the
    ``functional_connectivity`` sessions show neither static gratings nor natural scenes.

``scene-templates``
    Download the 118 natural-scene templates with
    ``EcephysProjectCache.get_natural_scene_template`` and save them as a compressed ``.npz``
    with keys ``templates`` (uint8, shape (118, 918, 1174)) and ``frame`` (0..117).

Each output is written under a temporary name in its destination folder and renamed into place
only once complete, so an interrupted or failed download never leaves a file that looks finished.

Downloading needs the Allen Institute's warehouse (http://api.brain-map.org). On clusters whose
compute nodes have no internet, run these rules where there is (they are Snakemake localrules).

Examples::

    python workflow/scripts/download_allen.py session --session-id 715093703 \\
        --cache-dir resources/allen/cache --out resources/allen/sessions/S0.nwb
    python workflow/scripts/download_allen.py scene-templates \\
        --cache-dir resources/allen/cache --out resources/allen/natural_scene_templates.npz
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("download_allen")

DEFAULT_SCHEME = "http"
DEFAULT_HOST = "api.brain-map.org"  # EcephysProjectWarehouseApi.default()'s host
ACCEPTED_SESSION_TYPE = "brain_observatory_1.1"
N_NATURAL_SCENES = 118
SCENE_SHAPE = (918, 1174)


class DownloadError(RuntimeError):
    """A failure with a message meant for the person running the workflow."""


def _unreachable_message(host: str, exc: BaseException) -> str:
    return (
        f"could not reach the Allen Institute's warehouse ({host}): "
        f"{type(exc).__name__}: {exc}. Downloading Allen data needs internet access; run this "
        "rule on a machine with internet, e.g. the login node; it is a localrule."
    )


def make_cache(cache_dir: Path, scheme: str, host: str, timeout: int) -> Any:
    """An ``EcephysProjectCache`` backed by the warehouse, with its manifest in ``cache_dir``."""
    from allensdk.brain_observatory.ecephys.ecephys_project_cache import EcephysProjectCache

    cache_dir.mkdir(parents=True, exist_ok=True)
    return EcephysProjectCache.from_warehouse(
        scheme=scheme,
        host=host,
        manifest=str(cache_dir / "manifest.json"),
        timeout=timeout,
    )


def _partial_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.part")


def _publish(out: Path, write: Callable[[Path], None]) -> None:
    """Run ``write`` on a temporary file beside ``out``, then rename it to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial_path(out)
    tmp.unlink(missing_ok=True)
    try:
        write(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
        log.info("hard-linked %s -> %s", src, dst)
    except OSError:
        shutil.copyfile(src, dst)
        log.info("copied %s -> %s", src, dst)


def check_session_type(cache: Any, session_id: int) -> None:
    """Fail unless ``session_id`` is a ``brain_observatory_1.1`` session."""
    table = cache.get_session_table()
    if session_id not in table.index:
        raise DownloadError(
            f"session {session_id} is not in the Allen Visual Coding - Neuropixels session table "
            f"({len(table)} sessions); check the session id in the config"
        )
    session_type = str(table.loc[session_id, "session_type"])
    if session_type != ACCEPTED_SESSION_TYPE:
        raise DownloadError(
            f"session {session_id} is a {session_type!r} session, but only "
            f"{ACCEPTED_SESSION_TYPE!r} sessions show static_gratings and natural_scenes; "
            f"choose a {ACCEPTED_SESSION_TYPE} session id in the config"
        )
    log.info("session %d is a %s session", session_id, session_type)


def download_session(cache: Any, session_id: int, out: Path) -> None:
    """Download one session's NWB into the cache and publish it at ``out``."""
    check_session_type(cache, session_id)
    nwb_path = Path(cache.get_cache_path(None, cache.SESSION_NWB_KEY, session_id, session_id))
    log.info("fetching session %d into %s (several GB on first download)", session_id, nwb_path)
    # Downloads session_<id>/session_<id>.nwb unless already cached, and opens it to check it
    # is readable (the AllenSDK deletes and refetches a file that fails to open).
    cache.get_session_data(session_id)
    if not nwb_path.is_file():
        raise DownloadError(f"AllenSDK reported success but {nwb_path} does not exist")
    _publish(out, lambda tmp: _link_or_copy(nwb_path, tmp))
    log.info("wrote %s (%.1f MiB)", out, out.stat().st_size / 2**20)


def download_scene_templates(cache: Any, out: Path) -> None:
    """Download the 118 natural-scene templates and save them as one ``.npz``."""
    templates = np.empty((N_NATURAL_SCENES, *SCENE_SHAPE), dtype=np.uint8)
    for i in range(N_NATURAL_SCENES):
        image = np.asarray(cache.get_natural_scene_template(i))
        if image.shape != SCENE_SHAPE:
            raise DownloadError(
                f"natural scene template {i} has shape {image.shape}, expected {SCENE_SHAPE}"
            )
        if image.dtype != np.uint8 and (image.min() < 0 or image.max() > 255):
            raise DownloadError(
                f"natural scene template {i} has values outside 0..255 (dtype {image.dtype})"
            )
        templates[i] = image.astype(np.uint8, copy=False)
        log.debug("template %d/%d", i + 1, N_NATURAL_SCENES)
    log.info("fetched %d natural scene templates", N_NATURAL_SCENES)

    def write(tmp: Path) -> None:
        # Write through a file object: given a path, numpy would append ".npz" to the temp name.
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh, templates=templates, frame=np.arange(N_NATURAL_SCENES, dtype=np.int64)
            )

    _publish(out, write)
    log.info("wrote %s", out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Download Allen Visual Coding - Neuropixels data with the AllenSDK.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--cache-dir",
        type=Path,
        required=True,
        help="AllenSDK cache folder (holds manifest.json and the downloaded files)",
    )
    common.add_argument(
        "--out",
        type=Path,
        required=True,
        help="where to write the result",
    )
    common.add_argument(
        "--warehouse-host",
        default=DEFAULT_HOST,
        help="warehouse host[:port] (default: %(default)s)",
    )
    common.add_argument(
        "--warehouse-scheme",
        default=DEFAULT_SCHEME,
        help="URL scheme (default: %(default)s)",
    )
    common.add_argument(
        "--timeout",
        type=int,
        default=3 * 3600,
        help="longest time in seconds one file may take to download (default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_session = sub.add_parser(
        "session",
        parents=[common],
        help="download one session's NWB file",
    )
    p_session.add_argument(
        "--session-id",
        type=int,
        required=True,
        help="ecephys session id, e.g. 715093703",
    )
    sub.add_parser(
        "scene-templates",
        parents=[common],
        help="download the 118 natural-scene templates into one .npz",
    )
    return parser


def run(args: argparse.Namespace) -> None:
    import requests

    cache = make_cache(args.cache_dir, args.warehouse_scheme, args.warehouse_host, args.timeout)
    try:
        if args.command == "session":
            download_session(cache, args.session_id, args.out)
        else:
            download_scene_templates(cache, args.out)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise DownloadError(_unreachable_message(args.warehouse_host, exc)) from exc
    except requests.RequestException as exc:
        raise DownloadError(
            f"the Allen Institute's warehouse ({args.warehouse_host}) gave an unusable answer: "
            f"{type(exc).__name__}: {exc}. Retry later, or from a machine with direct internet "
            "access, e.g. the login node; this rule is a localrule."
        ) from exc


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    what = f"session {args.session_id}" if args.command == "session" else "scene templates"
    try:
        run(args)
    except DownloadError as exc:
        log.error("%s: %s", what, exc)
        return 1
    except Exception as exc:  # anything else: still one clear line, plus the traceback on -v
        log.debug("traceback", exc_info=True)
        log.error("downloading %s failed: %s: %s", what, type(exc).__name__, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
