"""Sports-1M's own files: partition lists, class names, and a local video folder keyed by id.

Partition format (the dataset's README): one video per line, ``URL<space><CSV of 0-based label
indices>``, e.g. ``https://www.youtube.com/watch?v=UDqivjS-lpI 168,169``. About 5% of the videos
carry several labels, and a real local copy always has holes (dead URLs), so the index of local
files is built once with a directory scan and the records without a file are counted, not fatal.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from deepvideo.data.video import VIDEO_EXTENSIONS

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
EXAMPLE_LINE = "https://www.youtube.com/watch?v=UDqivjS-lpI 168,169"


class PartitionFormatError(ValueError):
    """A partition line does not follow ``URL<space><CSV of 0-based labels>``."""


@dataclass(frozen=True)
class VideoRecord:
    """One listed video: its id, its 0-based labels, and where it was listed."""

    video_id: str
    labels: tuple[int, ...]
    source: str = ""
    line: int = 0


def youtube_id(url: str) -> str | None:
    """The 11-character id of a YouTube URL (``watch?v=``, ``youtu.be/``, ``/embed/``) or bare id."""
    if YOUTUBE_ID.match(url):
        return url
    parsed = urlparse(url)
    candidates = parse_qs(parsed.query).get("v", [])
    if parsed.netloc.endswith("youtu.be") or "/embed/" in parsed.path or "/shorts/" in parsed.path:
        candidates.append(parsed.path.rstrip("/").rsplit("/", 1)[-1])
    for candidate in candidates:
        if YOUTUBE_ID.match(candidate):
            return candidate
    return None


def parse_partition(path: str | Path, num_classes: int) -> list[VideoRecord]:
    """Read a Sports-1M partition file; a bad line raises naming the file, line and value."""
    path = Path(path)
    records: list[VideoRecord] = []
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            where = f"{path}:{number}"
            if len(parts) != 2:
                raise PartitionFormatError(
                    f"{where}: expected 'URL<space><CSV of 0-based labels>' "
                    f"(e.g. '{EXAMPLE_LINE}'), got {line!r}; fix or delete the line"
                )
            url, csv = parts
            video_id = youtube_id(url)
            if video_id is None:
                raise PartitionFormatError(
                    f"{where}: cannot find an 11-character YouTube id in {url!r}; "
                    "fix or delete the line"
                )
            try:
                labels = tuple(sorted({int(tok) for tok in csv.split(",") if tok != ""}))
            except ValueError:
                raise PartitionFormatError(
                    f"{where}: labels must be comma-separated integers, got {csv!r}; "
                    "fix or delete the line"
                ) from None
            bad = [lab for lab in labels if not 0 <= lab < num_classes]
            if not labels or bad:
                raise PartitionFormatError(
                    f"{where}: label(s) {bad or csv!r} outside 0..{num_classes - 1} "
                    f"(data.num_classes={num_classes}); fix the line or set data.num_classes"
                )
            records.append(VideoRecord(video_id, labels, str(path), number))
    return records


def load_class_names(path: str | Path | None = None) -> list[str]:
    """Class names, one per line (line 1 = label 0). Default: the 487 shipped Sports-1M labels."""
    if path is None:
        text = resources.files("deepvideo.resources.sports1m").joinpath("labels.txt").read_text()
    else:
        text = Path(path).read_text(encoding="utf-8")
    return [name.strip() for name in text.splitlines() if name.strip()]


def index_videos(
    video_dir: str | Path, extensions: Sequence[str] = VIDEO_EXTENSIONS
) -> dict[str, Path]:
    """Map video id -> file for every ``<id>.<ext>`` in ``video_dir`` (one directory scan)."""
    found: dict[str, Path] = {}
    allowed = {ext.lower() if ext.startswith(".") else f".{ext.lower()}" for ext in extensions}
    video_dir = Path(video_dir)
    if not video_dir.is_dir():
        return found
    with os.scandir(video_dir) as entries:
        for entry in entries:
            stem, ext = os.path.splitext(entry.name)
            if ext.lower() in allowed and entry.is_file():
                found.setdefault(stem, Path(entry.path))
    return found


def holdout_split(
    records: Iterable[VideoRecord], fraction: float, seed: int
) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """Split records into (train, val) by a hash of ``seed:video_id``.

    A video lands in validation when ``sha1(f"{seed}:{id}")`` read as a number in [0, 1) is below
    ``fraction``. The rule needs no shuffling, does not depend on file order, and keeps every video
    on the same side when other videos go missing or are added. The paper held out 10% of all
    videos for validation next to 70% train and 20% test, i.e. ``fraction = 1/8`` of train.
    """
    train: list[VideoRecord] = []
    val: list[VideoRecord] = []
    for record in records:
        digest = hashlib.sha1(f"{seed}:{record.video_id}".encode()).digest()
        (val if int.from_bytes(digest[:8], "big") / 2**64 < fraction else train).append(record)
    return train, val
