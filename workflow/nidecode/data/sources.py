"""Where session NWB files come from, and which sessions a config names.

Four sources (config ``source``):

* ``simulated``: ``resources/simulated/<name>.nwb``, written by the simulate_session rule;
* ``allen``: ``resources/allen/sessions/<name>.nwb``, downloaded with AllenSDK (download_session);
* ``dandi``: ``<dandi.cache_dir>/sessions/<name>.nwb``, downloaded from the DANDI archive
  (download_dandi): Allen's Visual Coding - Neuropixels sessions are dandiset 000021, one
  ``sub-<subject>/sub-<subject>_ses-<session>.nwb`` per session (the subject is Allen's
  specimen id) beside per-probe LFP files ``..._ses-<session>_probe-<probe>_ecephys.nwb``;
* ``nwb``: the user's own files, named one by one (``nwb_files``) or found in a folder
  (``nwb_dir``: DANDI's layout or AllenSDK's cache layout ``session_<id>/session_<id>.nwb``,
  per-probe LFP files skipped). Each session found is named ``<subject>_<session id>`` from the
  file's own ``general/subject/subject_id`` and ``general/session_id`` (else ``identifier``).

Importable without pandas, xarray or torch: the Snakefile calls :func:`resolve_sessions` (through
``validate_config``) at parse time, and dry runs must stay quick.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from nidecode.common.errors import ConfigError, DownloadError

log = logging.getLogger("nidecode.data.sources")

# `sessions: [all]` (with any source) means every session the source defines or finds.
ALL_SESSIONS = "all"
DEFAULT_DANDISET = "000021"
DANDI_API_URL = "https://api.dandiarchive.org/api"
# Sources whose natural scenes are Allen's templates (download_scene_templates, AllenSDK).
ALLEN_SCENE_SOURCES = ("allen", "dandi")
STIMULUS_TABLES = ("static_gratings_presentations", "natural_scenes_presentations")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NAME_PART = re.compile(r"[^A-Za-z0-9]+")
# DANDI's per-probe LFP files: sub-<subject>_ses-<session>_probe-<probe>_ecephys.nwb.
_DANDI_PROBE = re.compile(r"_probe-[^_/]+(_[A-Za-z0-9]+)?\.nwb$")
# AllenSDK's cache: session_<id>/probe_<probe id>_lfp.nwb.
_ALLENSDK_PROBE = re.compile(r"^probe_[0-9]+_lfp\.nwb$")


def uses_allen_scenes(source: str) -> bool:
    """Whether ``source``'s stimuli are rendered with Allen's natural-scene templates."""
    return source in ALLEN_SCENE_SOURCES


# ------------------------------------------------------------------------------------- DANDI


def dandi_asset_path(subject: int | str, session_id: int | str) -> str:
    """The session file of ``session_id`` in an Allen dandiset (000021's layout)."""
    return f"sub-{subject}/sub-{subject}_ses-{session_id}.nwb"


def dandi_asset_glob(session_id: int | str) -> str:
    """A glob that lists the session file of ``session_id`` when its subject is unknown (the
    per-probe LFP files end in ``_probe-<id>_ecephys.nwb`` and do not match)."""
    return f"sub-*/sub-*_ses-{session_id}.nwb"


def is_dandi_session_path(path: str, session_id: int | str) -> bool:
    """Whether ``path`` is exactly ``sub-<s>/sub-<s>_ses-<session_id>.nwb`` (no ``_probe-``)."""
    m = re.fullmatch(
        rf"sub-(?P<subject>[^/_]+)/sub-(?P=subject)_ses-{re.escape(str(session_id))}\.nwb", path
    )
    return m is not None


def pick_session_asset(paths: list[str], session_id: int | str, where: str) -> str:
    """The one session file of ``session_id`` among listed asset ``paths``.

    ``where`` names the dandiset and version for messages. Raises DownloadError when there is
    none or more than one.
    """
    hits = sorted(p for p in paths if is_dandi_session_path(p, session_id))
    if len(hits) == 1:
        return hits[0]
    if not hits:
        others = sorted(paths)[:5]
        listed = f" (listed instead: {others})" if others else ""
        raise DownloadError(
            f"{where} has no session file for session id {session_id} (looked for "
            f"{dandi_asset_glob(session_id)}, not per-probe _probe- files){listed}. Check "
            "the session id in dandi.session_ids: dandiset 000021 holds Allen's "
            "brain_observatory_1.1 sessions."
        )
    raise DownloadError(
        f"{where} has several session files for session id {session_id}: {hits}. Give the "
        "subject (specimen id) in dandi.subjects to choose one."
    )


def dandi_session_file(config: dict, session: str) -> str:
    """Where download_dandi writes a session's file."""
    return f"{config['dandi']['cache_dir']}/sessions/{session}.nwb"


def dandi_download_url(
    dandiset: str, version: str, session_id: int | str, subject: int | str | None
) -> str:
    """An API URL that ``dandi download`` accepts for the session's file."""
    base = f"{DANDI_API_URL}/dandisets/{dandiset}/versions/{version}/assets/"
    if subject is not None:
        return f"{base}?path={dandi_asset_path(subject, session_id)}"
    return f"{base}?glob={dandi_asset_glob(session_id)}"


def fetch_elsewhere_hint(
    name: str, dandiset: str, version: str, session_id: int | str, subject: int | str | None
) -> str:
    """How to get the file without this rule: download elsewhere, then point the config at it."""
    url = dandi_download_url(dandiset, version, session_id, subject)
    filename = (
        dandi_asset_path(subject, session_id).split("/")[-1]
        if subject is not None
        else f"sub-<subject>_ses-{session_id}.nwb"
    )
    return (
        f"Or fetch the file on a machine with internet (dandi download '{url}', or the "
        f"archive's web page https://dandiarchive.org/dandiset/{dandiset}), copy it here and "
        f"use it as your own file: source: nwb with nwb_files: {{{name}: /path/to/{filename}}} "
        "or nwb_dir: {path: /folder/holding/it}."
    )


def _network_reason(err: BaseException) -> str:
    """``ConnectionError: <the innermost cause>`` (requests wraps urllib3's reason in a long
    MaxRetryError text with the URL-encoded request)."""
    inner = getattr(err.args[0], "reason", None) if err.args else None
    return f"{type(err).__name__}: {inner if inner is not None else err}"


def dandi_unreachable_message(
    name: str,
    dandiset: str,
    version: str,
    session_id: int | str,
    subject: int | str | None,
    api_url: str,
    err: BaseException,
) -> str:
    """One clear message for an archive that cannot be reached."""
    return (
        f"could not reach the DANDI archive ({api_url}) to fetch session {name} (session id "
        f"{session_id}) of dandiset {dandiset} (version {version}): {_network_reason(err)}. "
        "Downloading needs internet access: run the download_dandi rule where the "
        "internet is reachable (it is a localrule, e.g. on a login node). "
        + fetch_elsewhere_hint(name, dandiset, version, session_id, subject)
    )


# ------------------------------------------------------------------------------ own folders


@dataclass(frozen=True)
class FoundSession:
    """A session file found under ``nwb_dir``."""

    name: str
    path: Path
    session_id: str
    subject: str | None


@dataclass
class Discovery:
    """What a folder holds: session files by name, and every other file with the reason."""

    root: Path
    glob: str
    found: dict[str, FoundSession] = field(default_factory=dict)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def skipped_lines(self, limit: int = 30) -> str:
        lines = [f"    {p}: {why}" for p, why in self.skipped[:limit]]
        if len(self.skipped) > limit:
            lines.append(f"    ... and {len(self.skipped) - limit} more")
        return "\n".join(lines)


def skip_reason_by_name(path: Path) -> str | None:
    """Why a file is not a session file, from its name alone (None: look inside)."""
    name = path.name
    if name.startswith("."):
        return "hidden or temporary file (a copy or download in progress?)"
    if _DANDI_PROBE.search(name):
        return "per-probe LFP file (DANDI layout ..._probe-<id>_ecephys.nwb), not a session file"
    if _ALLENSDK_PROBE.match(name):
        return "per-probe LFP file (AllenSDK cache layout probe_<id>_lfp.nwb), not a session file"
    return None


def _text(value) -> str:
    """An HDF5 scalar (bytes, str, number, or a 1-element array) as text."""
    if hasattr(value, "shape") and getattr(value, "shape", ()) not in ((), None):
        value = value.reshape(-1)[0] if value.size else ""
    if isinstance(value, bytes):
        return value.decode(errors="replace").strip()
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, bytes):
            return value.decode(errors="replace").strip()
    return str(value).strip()


def read_identity(path: Path) -> tuple[str, str | None]:
    """A session file's (session id, subject id) from the file itself.

    Raises ValueError with the reason when it is no brain_observatory_1.1 session file.
    """
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"not a readable NWB (HDF5) file ({err})") from None
    with f:
        missing = [t for t in STIMULUS_TABLES if f"intervals/{t}" not in f]
        if missing:
            raise ValueError(
                f"no intervals/{', intervals/'.join(missing)}: not an Allen brain_observatory_1.1 "
                "session (functional_connectivity sessions and other NWB files look like this)"
            )
        if "units" not in f or "spike_times" not in f["units"]:
            raise ValueError("no /units table with spike_times: not an ecephys session file")
        session = None
        for key in ("general/session_id", "identifier"):
            if key in f and isinstance(f[key], h5py.Dataset):
                session = _text(f[key][()]) or None
                if session:
                    break
        if session is None:
            raise ValueError("has neither general/session_id nor identifier")
        subject = None
        key = "general/subject/subject_id"
        if key in f and isinstance(f[key], h5py.Dataset):
            subject = _text(f[key][()]) or None
    return session, subject


def session_name(session_id: str, subject: str | None) -> str:
    """``<subject>_<session id>`` (or the session id alone), in the characters session names
    allow (letters, digits, ``_``)."""
    parts = [subject, session_id] if subject and subject != session_id else [session_id]
    return "_".join(_NAME_PART.sub("_", p).strip("_") for p in parts if p) or "session"


def discover_sessions(root: str | Path, glob: str = "**/*.nwb") -> Discovery:
    """Every brain_observatory_1.1 session file under ``root`` matching ``glob``.

    Files skipped (per-probe LFP files, hidden files, unreadable files, other NWB files) are
    listed with the reason. Raises ConfigError when two files hold the same session.
    """
    root = Path(root)
    out = Discovery(root, glob)
    by_name: dict[str, list[FoundSession]] = {}
    for path in sorted(p for p in root.glob(glob) if p.is_file()):
        reason = skip_reason_by_name(path)
        if reason is None:
            try:
                session, subject = read_identity(path)
            except ValueError as err:
                reason = str(err)
            else:
                s = FoundSession(session_name(session, subject), path, session, subject)
                by_name.setdefault(s.name, []).append(s)
                continue
        out.skipped.append((path, reason))
    dup = {n: [str(s.path) for s in v] for n, v in by_name.items() if len(v) > 1}
    if dup:
        raise ConfigError(
            f"config key 'nwb_dir': several files under {root} hold the same session: {dup}. "
            "Keep one copy of each session there, or narrow nwb_dir.glob."
        )
    out.found = {n: v[0] for n, v in sorted(by_name.items())}
    return out


def _discover_into_nwb_files(config: dict) -> Discovery:
    """Find nwb_dir's sessions and add them to config nwb_files (name -> path)."""
    spec = config["nwb_dir"]
    root, glob = Path(spec["path"]), spec.get("glob") or "**/*.nwb"
    if not root.is_dir():
        raise ConfigError(
            f"config key 'nwb_dir.path': {root} is not a folder (relative paths are read from "
            f"the working directory, {Path.cwd()}); set it to the folder holding your NWB files"
        )
    found = discover_sessions(root, glob)
    if not found.found:
        listing = found.skipped_lines() or "    (no file matches)"
        raise ConfigError(
            f"config key 'nwb_dir': no readable Allen brain_observatory_1.1 session file under "
            f"{root} (glob {glob!r}); files found and why each was skipped:\n{listing}\n"
            "Session files are DANDI 000021's sub-<subject>/sub-<subject>_ses-<session>.nwb or "
            "AllenSDK's session_<id>/session_<id>.nwb; set nwb_dir.path and nwb_dir.glob to "
            "find them."
        )
    for path, why in found.skipped:
        if not why.startswith(("per-probe LFP file", "hidden or temporary")):
            log.warning("nwb_dir: skipped %s: %s", path, why)
    files = config["nwb_files"]
    for name, s in found.found.items():
        if name in files and Path(files[name]).resolve() != s.path.resolve():
            raise ConfigError(
                f"config key 'nwb_files': session {name} is {files[name]}, but nwb_dir finds "
                f"it in {s.path}; rename it in nwb_files or keep one of the two"
            )
        files[name] = str(s.path)
    return found


def resolve_sessions(config: dict) -> None:
    """Check config ``sessions`` against the source, in place.

    ``sessions: [all]`` becomes every session the source defines (``nwb_dir``: every session
    found, named ``<subject>_<session id>``); with ``nwb_dir`` the sessions found are added to
    ``nwb_files``. Raises ConfigError naming the key.
    """
    source = config["source"]
    found = None
    if source == "nwb" and config.get("nwb_dir"):
        found = _discover_into_nwb_files(config)
    if source == "dandi":
        dandi = config["dandi"]
        if bad := sorted(set(dandi["subjects"]) - set(dandi["session_ids"])):
            raise ConfigError(
                f"config key 'dandi.subjects': {bad} are not in dandi.session_ids "
                f"{sorted(dandi['session_ids'])}"
            )
    known = list(
        {
            "simulated": config["simulation"]["animals"],
            "allen": config["allen"]["session_ids"],
            "dandi": config["dandi"]["session_ids"],
            "nwb": config["nwb_files"],
        }[source]
    )
    where = {
        "simulated": "simulation.animals",
        "allen": "allen.session_ids",
        "dandi": "dandi.session_ids",
        "nwb": "nwb_files" + (" and nwb_dir" if found is not None else ""),
    }[source]
    sessions = config.get("sessions")
    if sessions in (None, [], ALL_SESSIONS, [ALL_SESSIONS]):
        if not known:
            raise ConfigError(
                f"config key 'sessions': all sessions asked for, but source '{source}' defines "
                f"none in {where}"
            )
        config["sessions"] = known
        return
    unknown = [s for s in sessions if s not in known]
    if unknown:
        extra = ""
        if found is not None:
            extra = (
                f" nwb_dir found {len(found.found)} sessions under {found.root}; `sessions: "
                f"[{ALL_SESSIONS}]` takes them all."
            )
        raise ConfigError(
            f"config key 'sessions': unknown sessions {unknown} for source '{source}'; "
            f"sessions defined in {where}: {sorted(known)}. Add them to {where} or remove them "
            f"from sessions.{extra}"
        )
