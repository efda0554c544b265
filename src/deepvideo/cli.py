"""What the entry points share: bad input ends the process with one line and exit status 2.

In a Hydra multirun (``-m``) a failed job must not end the sweep: the error goes to the job's own
log (``<job>/train.log``: one ``run failed:`` line, then the traceback for an unexpected error)
and is raised to Hydra, which records the job as failed and runs the next one;
``scripts/sweep_summary.py`` shows it as a failed row with that line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode

from deepvideo.data.datamodule import DataNotFoundError
from deepvideo.data.video import VideoDecodeError
from deepvideo.errors import ConfigError, PartitionFormatError
from deepvideo.utils.distributed import register_resolvers

log = logging.getLogger(__name__)

T = TypeVar("T")

# the config resolvers of conf/hydra (rank-zero-only outputs), before Hydra resolves them
register_resolvers()

USER_ERRORS = (
    DataNotFoundError,
    PartitionFormatError,
    VideoDecodeError,
    ConfigError,
    InstantiationException,
)
FAILED_PREFIX = "run failed:"


class RunFailed(RuntimeError):
    """A job of a Hydra multirun stopped on bad input (its one-line message is in its log)."""


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run_or_exit(task: Callable[..., T], *args: Any) -> T:
    """Run ``task``; bad input ends the process with one line on stderr and exit status 2
    (in a multirun: the line goes to the job's log and the sweep goes on)."""
    try:
        return task(*args)
    except USER_ERRORS as err:
        message = str(err).strip().replace("\n", " ")
        if in_multirun():
            log.error("%s %s: %s", FAILED_PREFIX, type(err).__name__, message)
            raise RunFailed(message) from None
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as err:
        if in_multirun():
            message = str(err).strip().replace("\n", " ")
            log.exception("%s %s: %s", FAILED_PREFIX, type(err).__name__, message)
        raise
