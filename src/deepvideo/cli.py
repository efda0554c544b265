"""What the entry points share: one-line errors for bad input, and metrics files."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from hydra.errors import InstantiationException

from deepvideo.data.datamodule import DataNotFoundError
from deepvideo.data.sports1m import PartitionFormatError
from deepvideo.data.video import VideoDecodeError

log = logging.getLogger(__name__)
T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot work; the message says which setting to change."""


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


def to_float_dict(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def write_metrics(path: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics`` as sorted JSON and log where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_float_dict(metrics), indent=2, sort_keys=True) + "\n")
    log.info("metrics written to %s", path)
    return path
