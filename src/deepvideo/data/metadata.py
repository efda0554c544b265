"""The per-video JSON metadata released with Sports-1M, and filtering videos by duration.

Each entry looks like ``{"id": "Drdm1WsRQwA", "label487": [205], "source487": "train",
"duration": 86, "width": 640, "height": 360, "stitle": "...", "thumbnail": "..."}``
(``duration`` in seconds). Karpathy et al. 2014 (Sec. 4.1) sample clips from whole YouTube videos
of a few minutes; knowing the durations from this file lets a run drop very short or very long
videos *before* anything is downloaded or decoded. Accepted layouts: a JSON list of entries, a JSON
object keyed by id (``{"Drdm1WsRQwA": {...}, ...}``), or JSON lines (one entry per line).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from deepvideo.errors import PartitionFormatError

EXAMPLE_ENTRY = '{"id": "Drdm1WsRQwA", "label487": [205], "duration": 86}'


class MetadataFormatError(PartitionFormatError):
    """A metadata file or entry cannot be read (the message names the file, entry and value)."""


@dataclass(frozen=True)
class VideoMetadata:
    """What the metadata says about one video (``None`` where an entry leaves a field out)."""

    video_id: str
    duration: float | None = None
    labels: tuple[int, ...] = ()
    source: str = ""
    width: int | None = None
    height: int | None = None
    title: str = ""


class HasVideoId(Protocol):
    @property
    def video_id(self) -> str: ...


RecordT = TypeVar("RecordT", bound=HasVideoId)


def _number(value: Any, where: str, field: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise MetadataFormatError(
            f"{where}: {field} must be a non-negative number, got {value!r}; fix the entry"
        )
    return number


def parse_entry(entry: Any, where: str, video_id: str | None = None) -> VideoMetadata:
    """One metadata entry (a JSON object); ``video_id`` is the key when the file is keyed by id."""
    if not isinstance(entry, dict):
        raise MetadataFormatError(
            f"{where}: expected a JSON object like {EXAMPLE_ENTRY}, got {entry!r:.80}; fix the entry"
        )
    vid = entry.get("id", video_id)
    if not isinstance(vid, str) or not vid:
        raise MetadataFormatError(
            f"{where}: entry has no string 'id' (e.g. {EXAMPLE_ENTRY}), got {entry!r:.80}; "
            "fix the entry"
        )
    labels = entry.get("label487", ())
    if isinstance(labels, int):
        labels = [labels]
    if not isinstance(labels, list | tuple) or not all(isinstance(x, int) for x in labels):
        raise MetadataFormatError(
            f"{where}: 'label487' of {vid} must be a list of integers, got {labels!r}; fix it"
        )
    width, height = (
        _number(entry.get("width"), where, "width"),
        _number(entry.get("height"), where, "height"),
    )
    return VideoMetadata(
        video_id=vid,
        duration=_number(entry.get("duration"), where, f"duration of {vid}"),
        labels=tuple(labels),
        source=str(entry.get("source487") or ""),
        width=None if width is None else int(width),
        height=None if height is None else int(height),
        title=str(entry.get("stitle") or entry.get("title") or ""),
    )


def load_metadata(path: str | Path) -> dict[str, VideoMetadata]:
    """Read a metadata file (JSON list, JSON object keyed by id, or JSON lines) into id -> entry."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MetadataFormatError(
            f"no metadata file {path}; fix data.metadata_file or set it to null"
        ) from None
    entries: list[VideoMetadata] = []
    try:
        document = json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        document = None  # not one JSON document: JSON lines
    if isinstance(document, list):
        entries = [parse_entry(e, f"{path}: entry {i}") for i, e in enumerate(document)]
    elif isinstance(document, dict):
        if isinstance(document.get("id"), str):  # a single entry (a one-line JSON-lines file)
            entries = [parse_entry(document, f"{path}:1")]
        else:
            entries = [parse_entry(e, f"{path}: entry {k!r}", str(k)) for k, e in document.items()]
    elif document is not None:
        raise MetadataFormatError(
            f"{path}: expected a JSON list, a JSON object keyed by id, or JSON lines, got "
            f"{type(document).__name__}; check the file"
        )
    else:
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as err:
                raise MetadataFormatError(
                    f"{path}:{number}: not valid JSON ({err.msg}) in {line!r:.80}; fix or delete "
                    "the line"
                ) from None
            entries.append(parse_entry(value, f"{path}:{number}"))
    return {entry.video_id: entry for entry in entries}


def filter_by_duration(
    records: Iterable[RecordT],
    metadata: Mapping[str, VideoMetadata],
    min_seconds: float | None = None,
    max_seconds: float | None = None,
    keep_unknown: bool = True,
) -> tuple[list[RecordT], int]:
    """Keep the records whose video lasts ``min_seconds <= duration <= max_seconds``.

    Works on anything with a ``video_id`` (e.g. :class:`deepvideo.data.sports1m.VideoRecord`),
    before any video is read. A bound left ``None`` is open. Videos the metadata does not know, or
    whose entry has no duration, are kept unless ``keep_unknown=False``. Returns the kept records,
    in their order, and how many were dropped.
    """
    if min_seconds is not None and max_seconds is not None and min_seconds > max_seconds:
        raise ValueError(
            f"min_duration={min_seconds} exceeds max_duration={max_seconds}; swap or widen them"
        )
    kept: list[RecordT] = []
    dropped = 0
    for record in records:
        entry = metadata.get(record.video_id)
        duration = entry.duration if entry is not None else None
        if duration is None:
            ok = keep_unknown
        else:
            ok = (min_seconds is None or duration >= min_seconds) and (
                max_seconds is None or duration <= max_seconds
            )
        if ok:
            kept.append(record)
        else:
            dropped += 1
    return kept, dropped
