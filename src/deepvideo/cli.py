"""What the entry points share: bad input ends the process with one line and exit status 2.

Two layers, because Hydra stands between the command line and the task:

- :func:`main_or_exit` wraps the ``@hydra.main`` function: a config Hydra cannot compose (an
  unknown ``model=``, a malformed override, a missing ``???`` value) ends with Hydra's message on
  one line instead of its multi-line report and exit status 1;
- :func:`run_or_exit` wraps the task inside it: the errors bad input raises (missing data, a
  malformed list line, an undecodable video under ``data.strict=true``, a configuration that
  cannot work) end with their message on one line. A config object that fails to build is
  reported by its cause (``data.sizes.crop=300 ...: crop_size 300 is larger than resize 200``),
  with the config key Hydra names, not by Hydra's wrapper around it.

Both check before any DataLoader worker starts where they can, so an error never surfaces as a
traceback from a worker process.

In a Hydra multirun (``-m``) a failed job must not end the sweep: the error goes to the job's own
log (``<job>/train.log``: one ``run failed:`` line, then the traceback for an unexpected error)
and is raised to Hydra, which records the job as failed and runs the next one;
``scripts/sweep_summary.py`` shows it as a failed row with that line.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, InstantiationException
from hydra.types import RunMode
from omegaconf.errors import OmegaConfBaseException

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
    OmegaConfBaseException,
)
FAILED_PREFIX = "run failed:"


class RunFailed(RuntimeError):
    """A job of a Hydra multirun stopped on bad input (its one-line message is in its log)."""


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def one_line(err: BaseException) -> str:
    """``err``'s message on one line; a Hydra instantiation error by its cause and config key."""
    if isinstance(err, InstantiationException) and isinstance(err.__cause__, Exception):
        cause = err.__cause__
        while isinstance(cause, InstantiationException) and isinstance(cause.__cause__, Exception):
            cause = cause.__cause__
        key = str(err).rsplit("full_key:", 1)[1].strip() if "full_key:" in str(err) else ""
        where = f" (building {key})" if key else ""
        return f"{one_line(cause)}{where}"
    # Hydra's "Could not find 'model/x'" lists the options, then its search path: not for users
    text = str(err).split("Config search path:", 1)[0]
    return " ".join(text.split()) or type(err).__name__


def exit_with(err: BaseException) -> None:
    print(f"error: {one_line(err)}", file=sys.stderr)
    raise SystemExit(2) from None


def run_or_exit(task: Callable[..., T], *args: Any) -> T:
    """Run ``task``; bad input ends the process with one line on stderr and exit status 2
    (in a multirun: the line goes to the job's log and the sweep goes on)."""
    try:
        return task(*args)
    except USER_ERRORS as err:
        if in_multirun():
            message = one_line(err)
            log.error("%s %s: %s", FAILED_PREFIX, type(err).__name__, message)
            raise RunFailed(message) from None
        exit_with(err)
        raise AssertionError("unreachable") from err
    except Exception as err:
        if in_multirun():
            message = str(err).strip().replace("\n", " ")
            log.exception("%s %s: %s", FAILED_PREFIX, type(err).__name__, message)
        raise


def main_or_exit(main: Callable[[], Any]) -> None:
    """Run a ``@hydra.main`` function; a config Hydra cannot compose ends with one line and
    exit status 2 (Hydra would print several lines and exit 1). Hydra then raises instead of
    printing (``HYDRA_FULL_ERROR=1``), so an unexpected error shows its whole traceback."""
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        main()
    except (HydraException, OmegaConfBaseException) as err:
        exit_with(err)
