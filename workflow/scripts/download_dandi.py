#!/usr/bin/env python3
"""Download one Allen Visual Coding - Neuropixels session NWB from the DANDI archive.

Allen's brain_observatory_1.1 sessions are dandiset 000021: one session file
``sub-<subject>/sub-<subject>_ses-<session id>.nwb`` per session (the subject is Allen's
specimen id), beside per-probe LFP files ``..._ses-<session id>_probe-<probe id>_ecephys.nwb``,
which are not session files and are never fetched. With the subject known (config
``dandi.subjects``) the path is fixed and ``get_asset_by_path`` fetches it; without it the
dandiset's assets matching ``sub-*/sub-*_ses-<session id>.nwb`` are listed and the one session
file among them is taken.

The file is written under a temporary name beside ``--out`` (``.<name>.part``) and renamed only
once complete (size checked against the archive's, HDF5 signature checked), so an interrupted
download never leaves a file that looks finished.

Runs in the main environment (the ``dandi`` client, ``pip install dandi``), as the
download_dandi rule (a localrule: compute nodes are often offline) or from the command line::

    python workflow/scripts/download_dandi.py --name M1 --session-id 742951821 \\
        --subject 723627600 --out resources/dandi/sessions/M1.nwb
"""


import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nidecode.common.errors import DownloadError
from nidecode.data.sources import (
    DANDI_API_URL,
    DEFAULT_DANDISET,
    HDF5_SIGNATURE,
    dandi_asset_glob,
    dandi_asset_path,
    dandi_unreachable_message,
    fetch_elsewhere_hint,
    pick_session_asset,
)

log = logging.getLogger("nidecode.download_dandi")
PROGRESS_BYTES = 512 * 2**20


class _NoTraceback(logging.Filter):
    """The dandi client logs each failed request with its traceback; our own message says what
    failed and what to do, so keep the client's line and drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = record.exc_text = None
        return True


def find_asset(dandiset: Any, session_id: int, subject: int | None, name: str, where: str) -> Any:
    """The session's asset in ``dandiset`` (a dandi RemoteDandiset)."""
    from dandi.exceptions import NotFoundError

    if subject is not None:
        path = dandi_asset_path(subject, session_id)
        log.info("session %s: %s of %s", name, path, where)
        try:
            return dandiset.get_asset_by_path(path)
        except NotFoundError:
            raise DownloadError(
                f"{where} has no file {path} for session {name} (session id {session_id}, "
                f"subject {subject}). Check dandi.session_ids.{name} and dandi.subjects.{name}, "
                "or leave the subject out to let download_dandi look it up by session id."
            ) from None
    pattern = dandi_asset_glob(session_id)
    log.info("session %s: listing %s assets matching %s", name, where, pattern)
    assets = {a.path: a for a in dandiset.get_assets_by_glob(pattern)}
    path = pick_session_asset(list(assets), session_id, where)
    log.info("session %s: found %s", name, path)
    return assets[path]


def download_asset(asset: Any, out: Path) -> None:
    """Stream ``asset`` into ``.<out name>.part`` beside ``out``, check it, rename it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    tmp.unlink(missing_ok=True)
    expected = int(getattr(asset, "size", -1))
    log.info("downloading %s (%.1f MiB) to %s", asset.path, expected / 2**20, out)
    try:
        written, reported = 0, 0
        with open(tmp, "wb") as fh:
            for chunk in asset.get_download_file_iter()(0):
                fh.write(chunk)
                written += len(chunk)
                if written - reported >= PROGRESS_BYTES:
                    log.info("%.0f / %.0f MiB", written / 2**20, expected / 2**20)
                    reported = written
        if expected >= 0 and written != expected:
            raise DownloadError(
                f"{asset.path}: downloaded {written} bytes but the archive lists {expected}; "
                "the download was cut short. Rerun the rule."
            )
        with open(tmp, "rb") as fh:
            if fh.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                raise DownloadError(
                    f"{asset.path}: the downloaded file is not an HDF5 (NWB) file; the archive "
                    "sent something else. Rerun the rule later."
                )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s (%.1f MiB)", out, out.stat().st_size / 2**20)


def fetch_session(
    name: str,
    session_id: int,
    out: str | Path,
    subject: int | None = None,
    dandiset_id: str = DEFAULT_DANDISET,
    version: str = "draft",
    client: Any = None,
) -> Path:
    """Fetch session ``name`` (Allen session ``session_id``) into ``out``.

    Raises DownloadError with one clear message (unreachable archive, no such file, ...).
    """
    import requests
    from dandi.exceptions import NotFoundError

    out = Path(out)
    dandi_log = logging.getLogger("dandi")
    if not any(isinstance(f, _NoTraceback) for f in dandi_log.filters):
        dandi_log.addFilter(_NoTraceback())
    where = f"dandiset {dandiset_id} (version {version})"
    api_url = getattr(client, "api_url", None) or DANDI_API_URL
    hint = fetch_elsewhere_hint(name, dandiset_id, version, session_id, subject)
    try:
        if client is None:
            from dandi.dandiapi import DandiAPIClient

            client = DandiAPIClient()
            api_url = client.api_url
        log.info("asking the DANDI archive (%s) for session %s; an unreachable archive is "
                 "retried for about a minute before the rule gives up", api_url, name)
        with client:
            dandiset = client.get_dandiset(dandiset_id, version)
            asset = find_asset(dandiset, session_id, subject, name, where)
            download_asset(asset, out)
    except (requests.ConnectionError, requests.Timeout) as err:
        raise DownloadError(
            dandi_unreachable_message(name, dandiset_id, version, session_id, subject, api_url, err)
        ) from None
    except NotFoundError as err:
        raise DownloadError(
            f"{where}: {err} (session {name}, session id {session_id}). Check dandi.dandiset "
            f"and dandi.version. {hint}"
        ) from None
    except requests.RequestException as err:
        raise DownloadError(
            f"the DANDI archive ({api_url}) gave an unusable answer while fetching session {name} "
            f"(session id {session_id}) of {where}: {type(err).__name__}: {err}. Retry later. "
            f"{hint}"
        ) from None
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", required=True, help="the session's name in the config, e.g. M1")
    p.add_argument("--session-id", type=int, required=True, help="Allen ecephys session id")
    p.add_argument("--subject", type=int, help="Allen specimen id (else looked up)")
    p.add_argument("--dandiset", default=DEFAULT_DANDISET, help="default: %(default)s")
    p.add_argument("--version", default="draft", help="dandiset version (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="where to write the session file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        fetch_session(args.name, args.session_id, args.out, args.subject, args.dandiset,
                      args.version)
    except DownloadError as err:
        log.error("%s", err)
        return 1
    return 0


def main_snakemake(smk: Any) -> None:
    fetch_session(
        smk.wildcards.session,
        int(smk.params.session_id),
        smk.output[0],
        None if smk.params.subject is None else int(smk.params.subject),
        smk.params.dandiset,
        smk.params.version,
    )


if "snakemake" in globals():  # the download_dandi rule (script directive)
    from nidecode.common.scripting import run

    run(main_snakemake, snakemake)  # noqa: F821
elif __name__ == "__main__":
    sys.exit(main())
