# Configuration checks and helpers shared by every rule file.
from snakemake.exceptions import WorkflowError

from nidecode.config import nwb_path, validate_config
from nidecode.errors import ConfigError

try:
    validate_config(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

SESSIONS = list(config["sessions"])
SOURCE = config["source"]


wildcard_constraints:
    session="|".join(SESSIONS),


def session_nwb(wildcards):
    """The NWB file of a session for the configured source."""
    return nwb_path(config, wildcards.session)
