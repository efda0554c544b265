"""Read the records of an offline W&B run (``run-<id>.wandb``) with the installed wandb.

wandb writes a run as a log of ``wandb.proto.wandb_internal_pb2.Record`` protobufs in LevelDB's
log format: a 7-byte file header (``:W&B``, magic ``0xBEE1``, version 0), then 32 KiB blocks of
chunks, each with a 7-byte header (crc32, length, type: 1 full, 2 first, 3 middle, 4 last) and a
block tail too short for a header left as padding. The installed wandb (0.31) ships the protobuf
classes but its reader lives in the Go core, so this is the reader the tests use.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from google.protobuf.message import DecodeError
from wandb.proto import wandb_internal_pb2 as pb

HEADER = struct.Struct("<4sHB")
CHUNK = struct.Struct("<IHB")
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
# the generated protobuf module declares its messages at run time, out of mypy's sight
RECORD: Any = cast(Any, pb).Record


def records(path: str | Path) -> Iterator[Any]:
    """Every record of a ``.wandb`` file, in order."""
    data = Path(path).read_bytes()
    ident, magic, version = HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1 or version != 0:
        raise ValueError(f"{path} is not a W&B transaction log ({ident!r}, {magic:#x}, {version})")
    pos, pending = HEADER.size, b""
    while pos + CHUNK.size <= len(data):
        room = BLOCK - pos % BLOCK
        if room < CHUNK.size:  # block trailer
            pos += room
            continue
        _, length, kind = CHUNK.unpack_from(data, pos)
        chunk = data[pos + CHUNK.size : pos + CHUNK.size + length]
        pos += CHUNK.size + length
        if kind == 0 and length == 0:  # zero padding at the end of a block
            pos += BLOCK - pos % BLOCK if pos % BLOCK else 0
            continue
        if kind in (FIRST, MIDDLE):
            pending = (pending if kind == MIDDLE else b"") + chunk
            continue
        record = RECORD()
        record.ParseFromString(pending + chunk if kind == LAST else chunk)
        pending = b""
        yield record


def wait_for_exit(path: str | Path, timeout_s: float = 60.0) -> None:
    """Wait until the run's log ends with its ``exit`` record. ``wandb.finish()`` can return
    before wandb-core's writer has flushed and closed the file: on a loaded machine the CI once
    read a 27 KB run that still held no ``run`` record (the same file was complete seconds
    later)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            kinds = [r.WhichOneof("record_type") for r in records(path)]
        except (OSError, ValueError, struct.error, DecodeError):  # not written yet, mid-write
            kinds = []
        if kinds and kinds[-1] == "exit":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} has no exit record after {timeout_s:.0f} s: {kinds}")
        time.sleep(0.5)


def run_contents(path: str | Path) -> dict[str, Any]:
    """What an offline run holds, once complete (:func:`wait_for_exit`): ``run`` (group, name),
    ``config`` (key -> value), ``history`` (one dict per logged row) and ``summary`` (key -> last
    value)."""
    wait_for_exit(path)
    out: dict[str, Any] = {"run": {}, "config": {}, "history": [], "summary": {}}

    def items(update: Any) -> dict[str, Any]:
        return {
            (item.key or "/".join(item.nested_key)): json.loads(item.value_json) for item in update
        }

    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["run"] = {"group": record.run.run_group, "name": record.run.display_name}
            out["config"].update(items(record.run.config.update))
        elif kind == "config":
            out["config"].update(items(record.config.update))
        elif kind == "history":
            out["history"].append(items(record.history.item))
        elif kind == "summary":
            out["summary"].update(items(record.summary.update))
    return out
