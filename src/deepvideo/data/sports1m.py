"""Sports-1M (Karpathy et al. 2014, Sec. 4.1): its own files, and its DataModules.

Its files: partition lists, class names, and a local video folder keyed by id.

Partition format (the dataset's README): one video per line, ``URL<space><CSV of 0-based label
indices>``, e.g. ``https://www.youtube.com/watch?v=UDqivjS-lpI 168,169``. About 5% of the videos
carry several labels, and a real local copy always has holes (dead URLs), so the index of local
files is built once with a directory scan and the records without a file are counted, not fatal.

A malformed line stops the run before anything is trained, with the file, the line number and the
value (:class:`~deepvideo.errors.PartitionFormatError`): a line that is not ``URL<space>CSV``, a
URL without an 11-character id, a label that is not a plain decimal integer or lies outside
``0..num_classes-1``, an empty label in the CSV (``3,,5``), an empty line between entries (blank
lines at the end of the file are fine; ``#`` lines are comments).

YouTube holds duplicates (Sec. 4.1 found 1755 videos with many near-duplicate frames), and a
partition can list an id twice or list a test id in the training partition:
:func:`duplicate_ids` and :func:`overlapping_ids` find them; ``dataset_stats.py`` reports both. A
training run refuses an id listed twice in a partition (naming the file, both lines and the id)
unless ``data.allow_duplicate_ids=true`` (then each is used once, with its labels merged), and
refuses test videos in its training set unless ``data.allow_test_in_train=true``.

``Sports1MDataModule`` reads ``<root>/original/{train,test}_partition.txt`` (or the 10-fold
``<root>/cross-validation/sportsX_{train,test}.txt``), the class names (``<root>/labels.txt`` if
present, else the 487 shipped names) and ``<root>/videos/<id>.<ext>``; a validation split is held
out of the training partition by :func:`holdout_split`. ``SyntheticDataModule`` is the built-in
benchmark (:mod:`deepvideo.synthetic`) in the same layout, generated on first use.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from deepvideo.data.datamodule import DataNotFoundError, VideoDataModule
from deepvideo.data.datasets import VideoItem
from deepvideo.data.metadata import filter_by_duration, load_metadata
from deepvideo.data.ucf101 import CLASS_GROUPS, parse_class_groups
from deepvideo.data.video import VIDEO_EXTENSIONS
from deepvideo.errors import ConfigError, PartitionFormatError

log = logging.getLogger(__name__)

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
EXAMPLE_LINE = "https://www.youtube.com/watch?v=UDqivjS-lpI 168,169"


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
    blank: int | None = None  # the first blank line since the last entry
    try:
        with path.open(encoding="utf-8") as handle:
            lines = list(enumerate(handle, start=1))
    except UnicodeDecodeError as err:
        raise PartitionFormatError(
            f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); is it a partition file?"
        ) from None
    for number, raw in lines:
        line = raw.strip()
        if not line:
            blank = number if blank is None else blank
            continue
        if blank is not None:
            raise PartitionFormatError(
                f"{path}:{blank}: empty line between entries (the next entry is on line "
                f"{number}); delete it"
            )
        if line.startswith("#"):
            continue
        records.append(_partition_record(path, number, line, num_classes))
    return records


def _partition_record(path: Path, number: int, line: str, num_classes: int) -> VideoRecord:
    """One ``URL<space><CSV labels>`` line, or :class:`PartitionFormatError` naming it."""
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
            f"{where}: cannot find an 11-character YouTube id in {url!r}; fix or delete the line"
        )
    tokens = csv.split(",")
    if not all(tok.isascii() and tok.isdigit() for tok in tokens):
        raise PartitionFormatError(
            f"{where}: labels must be comma-separated integers, got {csv!r}; fix or delete the line"
        )
    labels = tuple(sorted({int(tok) for tok in tokens}))
    bad = [lab for lab in labels if not 0 <= lab < num_classes]
    if bad:
        raise PartitionFormatError(
            f"{where}: label(s) {bad} outside 0..{num_classes - 1} "
            f"(data.num_classes={num_classes}); fix the line or set data.num_classes"
        )
    return VideoRecord(video_id, labels, str(path), number)


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


def duplicate_ids(records: Iterable[VideoRecord]) -> dict[str, list[int]]:
    """Ids listed more than once, with the line numbers that list them."""
    lines: dict[str, list[int]] = {}
    for record in records:
        lines.setdefault(record.video_id, []).append(record.line)
    return {vid: where for vid, where in lines.items() if len(where) > 1}


def merge_duplicates(records: Iterable[VideoRecord]) -> list[VideoRecord]:
    """One record per id, at its first line, with the union of the labels of every listing."""
    merged: dict[str, VideoRecord] = {}
    for record in records:
        first = merged.get(record.video_id)
        if first is None:
            merged[record.video_id] = record
        elif not set(record.labels) <= set(first.labels):
            labels = tuple(sorted(set(first.labels) | set(record.labels)))
            merged[record.video_id] = replace(first, labels=labels)
    return list(merged.values())


def overlapping_ids(a: Iterable[VideoRecord], b: Iterable[VideoRecord]) -> list[str]:
    """Ids listed in both ``a`` and ``b`` (e.g. the training and the test partition), sorted."""
    return sorted({r.video_id for r in a} & {r.video_id for r in b})


class Sports1MDataModule(VideoDataModule):
    """Sports-1M (Karpathy et al. 2014, Sec. 4.1): 487 classes, multi-label, with local holes."""

    dataset_name = "Sports-1M"
    how_to_get = (
        "download a partition with `python scripts/download_sports1m.py --root DIR`, re-encode it "
        "with `python scripts/prepare_videos.py`, and pass data.root=DIR; or try data=synthetic"
    )

    def __init__(
        self,
        root: str,
        num_classes: int = 487,
        partition: str = "original",
        fold: int = 0,
        video_dir: str = "videos",
        extensions: Sequence[str] = VIDEO_EXTENSIONS,
        labels_file: str | None = None,
        val_fraction: float = 0.125,
        split_seed: int = 0,
        allow_test_in_train: bool = False,
        allow_duplicate_ids: bool = False,
        metadata_file: str | None = None,
        min_duration: float | None = None,
        max_duration: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(root=root, num_classes=num_classes, **kwargs)
        self.metadata_file = metadata_file
        self.min_duration = min_duration
        self.max_duration = max_duration
        self.partition = partition
        self.fold = fold
        self.video_dir = video_dir
        self.extensions = tuple(extensions)
        self.labels_file = labels_file
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.allow_test_in_train = allow_test_in_train
        self.allow_duplicate_ids = allow_duplicate_ids
        self.duplicates: dict[str, dict[str, list[int]]] = {}
        self.test_in_train: list[str] = []

    @property
    def class_groups(self) -> dict[str, str]:
        """ClassName -> group from ``<root>/class_groups.tsv`` where the root has one (the
        synthetic benchmarks: motion / appearance / both; window / order / appearance), so that
        per-video scores and reports can break results down by group; ``{}`` otherwise."""
        path = self.root / CLASS_GROUPS
        return parse_class_groups(path) if path.is_file() else {}

    def video_folder(self) -> Path:
        return self.root / self.video_dir

    def partition_files(self) -> dict[str, Path]:
        """The train/test list files for the configured partition."""
        if self.partition == "original":
            folder = self.root / "original"
            return {
                "train": folder / "train_partition.txt",
                "test": folder / "test_partition.txt",
            }
        if self.partition == "cross-validation":
            if not 0 <= self.fold <= 9:
                raise ValueError(f"data.fold must be 0..9 for cross-validation, got {self.fold}")
            folder = self.root / "cross-validation"
            return {
                "train": folder / f"sports{self.fold}_train.txt",
                "test": folder / f"sports{self.fold}_test.txt",
            }
        raise ValueError(
            f"unknown data.partition {self.partition!r}: use 'original' or 'cross-validation'"
        )

    def check_available(self) -> None:
        files = self.partition_files()
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing or not index_videos(self.files_folder(), self.extensions):
            what = f"no partition file {missing[0]}" if missing else "no videos"
            raise DataNotFoundError(
                f"{self.dataset_name}: {what} under data.root={self.root} "
                f"(looked for {files['train'].name} and videos in {self.files_folder()}); "
                f"{self.how_to_get if missing else self.hint()}"
            )

    def load_classes(self) -> list[str]:
        local = self.root / "labels.txt"
        return load_class_names(self.labels_file or (local if local.is_file() else None))

    def load_splits(self) -> tuple[list[str], dict[str, list[VideoItem]]]:
        lists = self.partition_files()
        files = index_videos(self.files_folder(), self.extensions)
        train_records, test_records = self.read_partitions(lists)
        if self.metadata_file:
            # filter by the released per-video metadata before anything is decoded
            metadata = load_metadata(self.root / self.metadata_file)
            train_records, dropped_train = filter_by_duration(
                train_records, metadata, self.min_duration, self.max_duration
            )
            test_records, dropped_test = filter_by_duration(
                test_records, metadata, self.min_duration, self.max_duration
            )
            log.info(
                "%s: the duration filter left out %d train and %d test videos",
                self.dataset_name,
                dropped_train,
                dropped_test,
            )
        train_records, val_records = holdout_split(
            train_records, self.val_fraction, self.split_seed
        )
        splits: dict[str, list[VideoItem]] = {}
        for split, records in (
            ("train", train_records),
            ("val", val_records),
            ("test", test_records),
        ):
            items = self.records_to_items(records, files)
            self.count(split, [r.labels for r in records], items)
            splits[split] = items
        return self.load_classes(), splits

    def read_partitions(
        self, lists: Mapping[str, Path]
    ) -> tuple[list[VideoRecord], list[VideoRecord]]:
        """Both partitions, each id once; an id listed twice is refused unless
        ``allow_duplicate_ids`` (then merged), test ids in the training partition are refused
        (Sec. 4.1: no video on both sides) unless ``allow_test_in_train``."""
        parsed = {split: parse_partition(lists[split], self.num_classes) for split in lists}
        for split, records in parsed.items():
            repeated = duplicate_ids(records)
            self.duplicates[split] = repeated
            if repeated and not self.allow_duplicate_ids:
                example, where = next(iter(repeated.items()))
                raise PartitionFormatError(
                    f"{lists[split]}:{where[1]}: video id {example!r} is listed again (first on "
                    f"line {where[0]}; ids listed more than once: {len(repeated)}); delete "
                    "the repeats, or pass data.allow_duplicate_ids=true to use each id once "
                    "with its labels merged"
                )
            if repeated:
                example, where = next(iter(repeated.items()))
                log.warning(
                    "%s: %d video ids are listed more than once in %s (e.g. %s on lines %s); "
                    "each is used once, with the union of its labels",
                    self.dataset_name,
                    len(repeated),
                    lists[split],
                    example,
                    ", ".join(map(str, where)),
                )
            parsed[split] = merge_duplicates(records)
        train, test = parsed["train"], parsed["test"]
        self.test_in_train = overlapping_ids(train, test)
        if self.test_in_train:
            shown = ", ".join(self.test_in_train[:3])
            if not self.allow_test_in_train:
                raise ConfigError(
                    f"{len(self.test_in_train)} test videos of {lists['test']} are also in the "
                    f"training partition {lists['train']} (e.g. {shown}): a model would be "
                    "tested on videos it trained on. Remove them from the training list, or "
                    "pass data.allow_test_in_train=true to keep them (they are then left out "
                    "of training)"
                )
            log.warning(
                "%s: %d test videos are also in the training partition (e.g. %s); "
                "data.allow_test_in_train=true: they are left out of training",
                self.dataset_name,
                len(self.test_in_train),
                shown,
            )
            overlap = set(self.test_in_train)
            train = [r for r in train if r.video_id not in overlap]
        return train, test

    @staticmethod
    def records_to_items(records: list[VideoRecord], files: dict[str, Path]) -> list[VideoItem]:
        return [
            VideoItem(files[r.video_id], r.labels, r.video_id)
            for r in records
            if r.video_id in files
        ]


class SyntheticDataModule(Sports1MDataModule):
    """The built-in synthetic benchmark in Sports-1M's layout, generated once under ``root``."""

    dataset_name = "synthetic"
    how_to_get = "it is generated on first use; check data.root is writable"

    def __init__(
        self, root: str, generator: Mapping[str, Any] | None = None, workers: int = 1, **kwargs: Any
    ):
        super().__init__(root=root, **kwargs)
        self.generator = dict(generator or {})
        self.generator_workers = workers

    def prepare_data(self) -> None:
        from deepvideo.synthetic import SyntheticConfig, ensure_generated

        ensure_generated(
            self.root, SyntheticConfig(**self.generator), workers=self.generator_workers
        )
