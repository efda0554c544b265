"""LightningDataModules: Sports-1M as distributed, and the built-in synthetic set in its layout.

``Sports1MDataModule`` reads ``<root>/original/{train,test}_partition.txt`` (or the 10-fold
``<root>/cross-validation/sportsX_{train,test}.txt``), the class names (``<root>/labels.txt`` if
present, else the 487 shipped names) and a local folder of videos named by YouTube id. Listed
videos without a local file are counted and reported once; a validation split is held out of the
training partition by :func:`deepvideo.data.sports1m.holdout_split`.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from deepvideo.data.datasets import ClipDataset, VideoItem
from deepvideo.data.metadata import filter_by_duration, load_metadata
from deepvideo.data.sampling import ClipSpec
from deepvideo.data.sports1m import (
    VideoRecord,
    holdout_split,
    index_videos,
    load_class_names,
    parse_partition,
)
from deepvideo.data.transforms import ClipTransform
from deepvideo.data.video import VIDEO_EXTENSIONS

log = logging.getLogger(__name__)


class DataNotFoundError(FileNotFoundError):
    """The configured data root holds no usable dataset; the message says where and what to do."""


def _collate_keys(batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key in batch[0]:
        values = [sample[key] for sample in batch]
        out[key] = torch.stack(values) if torch.is_tensor(values[0]) else torch.tensor(values)
    return out


class VideoDataModule(pl.LightningDataModule, abc.ABC):
    """What every video DataModule shares: clip spec, transforms, loaders and split bookkeeping.

    Subclasses say where the dataset lives (:meth:`check_available`) and read its own files into
    class names and per-split :class:`VideoItem` lists (:meth:`load_splits`), filling
    ``self.stats[split]`` with ``listed``/``found``/``missing``/``multi_label`` counts.
    """

    dataset_name = "dataset"
    how_to_get = "check data.root"

    def __init__(
        self,
        root: str,
        num_classes: int,
        clip: Mapping[str, Any] | None = None,
        sizes: Mapping[str, int] | None = None,
        target_fps: float | None = None,
        pad: str = "last",
        train_clips_per_video: int = 1,
        mean: float = 117.0,
        std: float = 1.0,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 2,
        pin_memory: bool = False,
        val_clips: Mapping[str, Any] | None = None,
        test_clips: Mapping[str, Any] | None = None,
        seed: int = 0,
        **unused: Any,
    ) -> None:
        super().__init__()
        clip = dict(clip or {})
        sizes = dict(sizes or {"resize": 200, "crop": 170})
        self.root = Path(root).expanduser()
        self.num_classes = num_classes
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.seed = seed
        self.clip = ClipSpec(
            num_frames=int(clip.get("num_frames", 1)),
            frame_stride=int(clip.get("frame_stride", 1)),
            target_fps=target_fps,
            pad=pad,
        )
        self.train_clips_per_video = train_clips_per_video
        crop = int(clip.get("crop_size", sizes["crop"]))
        self.transform = ClipTransform(resize=int(sizes["resize"]), crop=crop, mean=mean, std=std)
        self.val_clips = {"clips_per_video": 2, "views": 1, "mode": "uniform", **(val_clips or {})}
        self.test_clips = {
            "clips_per_video": 20,
            "views": 4,
            "mode": "random",
            **(test_clips or {}),
        }
        self.class_names: list[str] = []
        self.splits: dict[str, list[VideoItem]] = {}
        self.stats: dict[str, dict[str, int]] = {}
        self.listed_labels: dict[str, list[tuple[int, ...]]] = {}

    # ------------------------------------------------------------------- for subclasses to say
    @abc.abstractmethod
    def check_available(self) -> None:
        """Raise :class:`DataNotFoundError` (one line: where, and how to get it) if absent."""

    @abc.abstractmethod
    def load_splits(self) -> tuple[list[str], dict[str, list[VideoItem]]]:
        """Class names and the ``train``/``val``/``test`` videos found locally."""

    def video_folder(self) -> Path:
        return self.root

    # ------------------------------------------------------------------------------- lightning
    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.check_available()
        self.class_names, self.splits = self.load_splits()
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{self.dataset_name} at {self.root} has {len(self.class_names)} classes but "
                f"data.num_classes={self.num_classes}; set data.num_classes={len(self.class_names)}"
            )
        missing = {s: v["missing"] for s, v in self.stats.items() if v["missing"]}
        if missing:
            log.warning(
                "%s: %s listed videos have no local file under %s (%s); they are left out of "
                "this run",
                self.dataset_name,
                sum(missing.values()),
                self.video_folder(),
                ", ".join(f"{s} {n}" for s, n in missing.items()),
            )
        log.info("%s videos found/listed: %s", self.dataset_name, self.summary())

    def count(
        self, split: str, listed_labels: Sequence[tuple[int, ...]], items: list[VideoItem]
    ) -> None:
        """Record what ``split`` lists (label sets of its videos) against what was found."""
        self.listed_labels[split] = list(listed_labels)
        self.stats[split] = {
            "listed": len(listed_labels),
            "found": len(items),
            "missing": len(listed_labels) - len(items),
            "multi_label": sum(len(labels) > 1 for labels in listed_labels),
        }

    def summary(self) -> str:
        return ", ".join(f"{s} {v['found']}/{v['listed']}" for s, v in self.stats.items())

    def dataset(self, split: str) -> ClipDataset:
        if split == "train":
            return ClipDataset(
                self.splits["train"],
                self.num_classes,
                self.clip,
                self.transform,
                train=True,
                train_clips_per_video=self.train_clips_per_video,
            )
        spec = self.val_clips if split == "val" else self.test_clips
        return ClipDataset(
            self.splits[split],
            self.num_classes,
            self.clip,
            self.transform,
            train=False,
            clips_per_video=int(spec["clips_per_video"]),
            views=int(spec["views"]),
            clip_mode=str(spec["mode"]),
            seed=self.seed,
        )

    def _loader(self, split: str) -> DataLoader:
        train = split == "train"
        data = self.dataset(split)
        if len(data) == 0:
            raise DataNotFoundError(
                f"{self.dataset_name}: the {split} split has no local videos under "
                f"{self.video_folder()}; {self.how_to_get}"
            )
        return DataLoader(
            data,
            batch_size=self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            drop_last=train and len(data) >= self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            collate_fn=_collate_keys,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def num_videos(self, split: str) -> int:
        return len(self.splits[split])

    def chance_hit_at_1(self, split: str = "test") -> float:
        """Expected video Hit@1 of a uniformly random guess: mean of |labels| / num_classes."""
        videos = self.splits.get(split) or []
        if not videos:
            return 0.0
        return sum(len(v.labels) for v in videos) / (len(videos) * self.num_classes)


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
        if missing or not index_videos(self.video_folder(), self.extensions):
            what = f"no partition file {missing[0]}" if missing else "no videos"
            raise DataNotFoundError(
                f"{self.dataset_name}: {what} under data.root={self.root} "
                f"(looked for {files['train'].name} and videos in {self.video_folder()}); "
                f"{self.how_to_get}"
            )

    def load_classes(self) -> list[str]:
        local = self.root / "labels.txt"
        return load_class_names(self.labels_file or (local if local.is_file() else None))

    def load_splits(self) -> tuple[list[str], dict[str, list[VideoItem]]]:
        lists = self.partition_files()
        files = index_videos(self.video_folder(), self.extensions)
        train_records = parse_partition(lists["train"], self.num_classes)
        test_records = parse_partition(lists["test"], self.num_classes)
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
        from deepvideo.data.synthetic import SyntheticConfig, ensure_generated

        ensure_generated(
            self.root, SyntheticConfig(**self.generator), workers=self.generator_workers
        )
