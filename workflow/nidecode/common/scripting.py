"""Glue for the workflow's thin scripts: logging to the rule's log and clean error exits."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from nidecode.common.errors import NidecodeError


def run(main: Callable[[Any], None], smk: Any) -> None:
    """Run ``main(smk)`` with logging to the rule's log file and to stderr.

    A NidecodeError (bad input a user can fix) ends the job with its one-line message and no
    traceback; anything else is a bug and keeps its traceback. BLAS and OpenMP run as many
    threads as the job declares (``threads:``): by default they take every core, and two
    one-thread jobs on two cores then run four threads between them.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if getattr(smk, "log", None):
        handlers.append(logging.FileHandler(smk.log[0], mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(max(1, int(getattr(smk, "threads", 1) or 1))):
            main(smk)
    except NidecodeError as err:
        logging.getLogger("nidecode").error("%s", err)
        sys.exit(1)
    except Exception:
        logging.getLogger("nidecode").exception("job failed")  # traceback into the rule's log
        raise
