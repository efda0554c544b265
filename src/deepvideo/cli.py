"""What the entry points share: bad input ends the process with one line and exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from hydra.errors import InstantiationException

from deepvideo.data.datamodule import DataNotFoundError
from deepvideo.data.video import VideoDecodeError
from deepvideo.errors import ConfigError, PartitionFormatError

T = TypeVar("T")

USER_ERRORS = (
    DataNotFoundError,
    PartitionFormatError,
    VideoDecodeError,
    ConfigError,
    InstantiationException,
)


def run_or_exit(task: Callable[..., T], *args: Any) -> T:
    """Run ``task``; bad input ends the process with one line on stderr and exit status 2."""
    try:
        return task(*args)
    except USER_ERRORS as err:
        message = str(err).strip().replace("\n", " ")
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
