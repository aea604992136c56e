"""Errors a user can cause. Each message names the file or setting and says how to fix it."""


class NidecodeError(Exception):
    """Base class: bad input or settings, reported as one clear message."""


class NWBReadError(NidecodeError):
    """An NWB file is missing, truncated, corrupt or not in Allen's layout.

    The message says what to do given where the file came from (``read_session``'s
    ``provenance``): files the workflow made may be deleted and made again; a user's own files
    are never called deletable.
    """


class SessionTypeError(NidecodeError):
    """The session lacks the stimulus blocks this analysis needs."""


class UnitSelectionError(NidecodeError):
    """No unit survives the area selection and quality filters."""


class BaselineError(NidecodeError):
    """A unit's baseline cannot normalise its responses (zero SD)."""


class RunningSpeedError(NidecodeError):
    """The file has no running speed, but the analysis asks for it."""


class ConfigError(NidecodeError):
    """The workflow configuration is invalid."""


class DownloadError(NidecodeError):
    """Fetching a session from an archive failed (unreachable, not found, incomplete)."""
