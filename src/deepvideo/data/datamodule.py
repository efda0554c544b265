"""What every video DataModule shares, and the one way to build one from its config node.

The datasets sit symmetrically on :class:`VideoDataModule`: ``Sports1MDataModule`` and
``SyntheticDataModule`` in :mod:`deepvideo.data.sports1m`, ``UCF101DataModule`` and
``SyntheticUCF101DataModule`` in :mod:`deepvideo.data.ucf101`, each configured as
``_target_: deepvideo.data.<Name>`` in ``conf/data/``. :func:`build_datamodule` instantiates one,
makes it ready (``prepare_data`` on rank 0: the synthetic sets generate themselves), checks that
its data is present and optionally sets it up: every task, report and script builds its data so.

``modality: flow`` (Ng et al. 2015, Sec. 3.4) reads every video's optical flow video instead of
its frames: the file at the same path relative to the video folder under ``flow_root`` (what
``scripts/compute_flow.py VIDEO_FOLDER FLOW_ROOT`` writes), with the same samplers, crops and
views, the horizontal component negated in flipped crops and the flow normalisation
(``flow_mean``, ``flow_std``; the third channel fed as 0).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.data import DataLoader

from deepvideo.data.datasets import (
    ClipDataset,
    EpochSampler,
    EvalClips,
    ReadBatches,
    VideoClipsBatchSampler,
    VideoItem,
)
from deepvideo.data.distributed import eval_sampler
from deepvideo.data.faults import FaultLog
from deepvideo.data.sampling import ClipSpec, EvalClipSampler
from deepvideo.data.transforms import ClipTransform
from deepvideo.data.video import DEFAULT_DECODER, check_decoder
from deepvideo.errors import ConfigError

log = logging.getLogger(__name__)

MODALITIES = ("rgb", "flow")


class DataNotFoundError(FileNotFoundError):
    """The configured data root holds no usable dataset; the message says where and what to do."""


def collate_samples(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the samples' tensors and numbers; ``failures`` (lists of ``(video_index, path,
    reason)``) become one list for the batch, which carries them to the main process."""
    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [sample[key] for sample in batch]
        if key == "failures":
            out[key] = [failure for failures in values for failure in failures]
        elif torch.is_tensor(values[0]):
            out[key] = torch.stack(values)
        else:
            out[key] = torch.tensor(values)
    return out


def training_loader(
    data: ClipDataset,
    batch_size: int,
    together: bool,
    drop_last: bool,
    seed: int = 0,
    epoch: int = 0,
    **loader_args: Any,
) -> DataLoader | ReadBatches:
    """The training batches of ``data``, their order and draws from (``seed``, epoch)
    (:class:`EpochSampler`, starting at ``epoch``): shuffled clips read one by one, or
    (``together``, with several clips per video) read batches of ``batch_size`` videos x all
    their clips, each video read from one open and one decode, dealt into batches of one clip per
    video (:class:`ReadBatches`)."""
    if together and data.train_clips_per_video > 1:
        sampler = VideoClipsBatchSampler(
            len(data.videos), data.train_clips_per_video, batch_size, seed=seed, epoch=epoch
        )
        reads = DataLoader(data, batch_sampler=sampler, **loader_args)
        return ReadBatches(reads, data.train_clips_per_video, drop_last)
    order = EpochSampler(len(data), seed, epoch=epoch)
    return DataLoader(data, batch_size, sampler=order, drop_last=drop_last, **loader_args)


class VideoDataModule(pl.LightningDataModule, abc.ABC):
    """What every video DataModule shares: clip spec, transforms, loaders and split bookkeeping.

    Subclasses say where the dataset lives (:meth:`check_available`) and read its own files into
    class names and per-split :class:`VideoItem` lists (:meth:`load_splits`), filling
    ``self.stats[split]`` with ``listed``/``found``/``missing``/``multi_label`` counts.

    Files that are listed and present but do not decode are met while loading: the module hands
    the batches' ``failures`` to ``self.faults`` (a :class:`~deepvideo.data.faults.FaultLog`),
    which reports each once and counts it, or with ``strict`` stops the run naming it.

    The training loader draws its order from (``seed``, epoch) (:class:`EpochSampler`), and its
    workers' base seed from a generator of its own, so that nothing in it depends on what the
    process did before an epoch: a resumed run sees the batches the uninterrupted run saw.
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
        pad: str = "loop",
        max_seconds: float | None = None,
        train_clips_per_video: int = 1,
        train_clips_together: bool = False,
        decoder: str = DEFAULT_DECODER,
        mean: float = 117.0,
        std: float = 1.0,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 2,
        pin_memory: bool = False,
        val_clips: Mapping[str, Any] | None = None,
        test_clips: Mapping[str, Any] | None = None,
        seed: int = 0,
        modality: str = "rgb",
        flow_root: str | None = None,
        flow_mean: float = 127.5,
        flow_std: float = 1.0,
        strict: bool = False,
        **unused: Any,
    ) -> None:
        super().__init__()
        self.faults = FaultLog(strict=strict)
        if modality not in MODALITIES:
            raise ConfigError(f"data.modality must be one of {MODALITIES}, got {modality!r}")
        if modality == "flow" and not flow_root:
            raise ConfigError(
                "data.modality=flow needs data.flow_root=DIR: the folder scripts/compute_flow.py "
                "wrote the flow videos to (python scripts/compute_flow.py VIDEO_FOLDER DIR)"
            )
        self.modality = modality
        self.flow_root = Path(flow_root).expanduser() if flow_root else None
        clip = dict(clip or {})
        sizes = dict(sizes or {"resize": 200, "crop": 170})
        self.root = Path(root).expanduser()
        self.num_classes = num_classes
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.seed = seed
        # A model that samples its own way (Ng et al. 2015's 1 fps, loop padding and 5-minute
        # cap: conf/model/clip/ng2015.yaml) says so in its clip node; it wins over the dataset's.
        fps_from_clip = clip.get("target_fps", target_fps)
        seconds_from_clip = clip.get("max_seconds", max_seconds)
        self.clip = ClipSpec(
            num_frames=int(clip.get("num_frames", 1)),
            frame_stride=int(clip.get("frame_stride", 1)),
            target_fps=None if fps_from_clip is None else float(fps_from_clip),
            pad=str(clip.get("pad", pad)),
            max_seconds=None if seconds_from_clip is None else float(seconds_from_clip),
        )
        self.train_clips_per_video = train_clips_per_video
        self.train_clips_together = bool(train_clips_together)
        # the training epoch of the checkpoint being resumed (load_state_dict), known before
        # Lightning restores its loops
        self._resumed_epoch = 0
        self.decoder = check_decoder(decoder)
        crop = int(clip.get("crop_size", sizes["crop"]))
        resize = int(clip.get("resize", sizes["resize"]))
        if modality == "flow":  # Ng et al. 2015, Sec. 3.4: flow images, third channel fed as 0
            self.transform = ClipTransform(resize, crop, flow_mean, flow_std, flow=True)
        else:
            self.transform = ClipTransform(resize=resize, crop=crop, mean=mean, std=std)
        # evaluation clips: the dataset's rule (Karpathy et al.: 20 clips x 4 views), unless the
        # model's clip node has its own (Ng et al.: test_examples random examples, one view each)
        self.val_clips = {
            "clips_per_video": 2,
            "views": 1,
            "mode": "uniform",
            **(val_clips or {}),
            **dict(clip.get("val_clips") or {}),
        }
        self.test_clips = {
            "clips_per_video": 20,
            "views": 4,
            "mode": "random",
            **(test_clips or {}),
            **dict(clip.get("test_clips") or {}),
        }
        for name, spec in (("val_clips", self.val_clips), ("test_clips", self.test_clips)):
            frames = spec.get("num_frames")
            if frames is not None and int(frames) < 1:
                raise ValueError(f"data.{name}.num_frames must be >= 1 or null, got {frames}")
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

    def files_folder(self) -> Path:
        """Where the files this run reads are: the video folder, or with ``modality: flow`` the
        flow root, which mirrors its layout (``scripts/compute_flow.py VIDEO_FOLDER FLOW_ROOT``)."""
        if self.modality == "flow" and self.flow_root is not None:
            return self.flow_root
        return self.video_folder()

    def hint(self) -> str:
        """How to get the files :meth:`files_folder` lacks."""
        if self.modality == "flow":
            return (
                f"compute them with `python scripts/compute_flow.py {self.video_folder()} "
                f"{self.flow_root}`, or point data.flow_root at that command's output"
            )
        return self.how_to_get

    # ------------------------------------------------------------------------------- lightning
    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.check_available()
        self.class_names, self.splits = self.load_splits()
        if len(self.class_names) != self.num_classes:
            raise ConfigError(
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
                self.files_folder(),
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
                seed=self.seed,
                decoder=self.decoder,
            )
        spec = self.val_clips if split == "val" else self.test_clips
        return ClipDataset(
            self.splits[split],
            self.num_classes,
            self.eval_spec(spec),
            self.transform,
            train=False,
            clips_per_video=int(spec["clips_per_video"]),
            views=int(spec["views"]),
            clip_mode=str(spec["mode"]),
            seed=self.seed,
            decoder=self.decoder,
        )

    def eval_clips(self, split: str = "test", **overrides: Any) -> EvalClips:
        """The evaluation clip path of ``split`` (``val_clips`` / ``test_clips``), with
        ``clips_per_video``, ``views`` or ``mode`` overridden where given (not None); prediction
        uses this, so it builds clips exactly as evaluation does."""
        spec = {**(self.val_clips if split == "val" else self.test_clips)}
        spec.update({k: v for k, v in overrides.items() if v is not None})
        sampler = EvalClipSampler(
            self.eval_spec(spec), int(spec["clips_per_video"]), str(spec["mode"])
        )
        return EvalClips(sampler, self.transform, int(spec["views"]), self.seed, self.decoder)

    def eval_spec(self, spec: Mapping[str, Any]) -> ClipSpec:
        """The clip spec of evaluation: the training one, with ``num_frames`` from ``spec`` when
        it sets one (Ng et al.'s one pass over a whole video: ``mode: whole, num_frames: 300``)."""
        frames = spec.get("num_frames")
        return self.clip if frames is None else replace(self.clip, num_frames=int(frames))

    def _split_dataset(self, split: str) -> ClipDataset:
        data = self.dataset(split)
        if len(data) == 0:
            raise DataNotFoundError(
                f"{self.dataset_name}: the {split} split has no local videos under "
                f"{self.files_folder()}; {self.hint()}"
            )
        return data

    def _loader_args(self) -> dict[str, Any]:
        # the workers' base seed from a generator of the loader's own, not torch's global one
        generator = torch.Generator()
        generator.manual_seed(self.seed)
        return {
            "num_workers": self.num_workers,
            "pin_memory": self.pin_memory,
            "persistent_workers": self.num_workers > 0,
            "collate_fn": collate_samples,
            "generator": generator,
        }

    def _eval_loader(self, split: str) -> DataLoader:
        data = self._split_dataset(split)
        # under DDP: whole videos per process, no padded duplicates (exact video-level Hit@k)
        shard = eval_sampler(data, data.clips_per_video)
        return DataLoader(
            data,
            batch_size=self.eval_batch_size,
            shuffle=False,
            sampler=shard,
            **self._loader_args(),
        )

    def _epoch_processed(self) -> int | None:
        trainer = getattr(self, "trainer", None)
        progress = getattr(getattr(trainer, "fit_loop", None), "epoch_progress", None)
        return None if progress is None else int(progress.current.processed)

    def _starting_epoch(self) -> int:
        """The epoch a training loader built now starts at: the one Lightning's next
        ``set_epoch`` will pass (its ``epoch_progress.current.processed``; a resumed run's, whose
        ``current_epoch`` still reads one less while the loader is built), 0 without a trainer.

        A run resumed with a per-step LR schedule builds its training loader, and Lightning
        creates its first iterator, inside ``configure_optimizers``
        (``trainer.estimated_stepping_batches``), before the loops are restored from the
        checkpoint (Lightning issue #20550), when ``processed`` still reads 0; the checkpoint's
        own count (:meth:`load_state_dict`, restored before that) is used then."""
        processed = self._epoch_processed()
        return max(processed or 0, self._resumed_epoch)

    def state_dict(self) -> dict[str, Any]:
        """Saved in every checkpoint: the training epoch a run resumed from it starts at."""
        processed = self._epoch_processed()
        return {} if processed is None else {"train_epoch": processed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resumed_epoch = int(state_dict.get("train_epoch", 0))

    def _clips_together(self) -> bool:
        """``train_clips_together``, where it applies: several clips per video, one process (a
        distributed run keeps Lightning's per-rank sampler, and reads clips one by one)."""
        if not self.train_clips_together or self.train_clips_per_video < 2:
            return False
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            log.warning(
                "data.train_clips_together is ignored in a distributed run: the clips of a "
                "video are read one by one"
            )
            return False
        return True

    def train_dataloader(self) -> DataLoader | ReadBatches:
        data = self._split_dataset("train")
        drop_last = len(data) >= self.batch_size
        return training_loader(
            data,
            self.batch_size,
            self._clips_together(),
            drop_last,
            seed=self.seed,
            epoch=self._starting_epoch(),
            **self._loader_args(),
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def num_videos(self, split: str) -> int:
        return len(self.splits[split])

    def chance_hit_at_1(self, split: str = "test") -> float:
        """Expected video Hit@1 of a uniformly random guess: mean of |labels| / num_classes."""
        videos = self.splits.get(split) or []
        if not videos:
            return 0.0
        return sum(len(v.labels) for v in videos) / (len(videos) * self.num_classes)


def build_datamodule(
    data: DictConfig | Mapping[str, Any],
    *,
    prepare: bool = True,
    check: bool = True,
    stage: str | None = None,
) -> VideoDataModule:
    """The DataModule of a ``data`` config node, made ready the one way every caller needs.

    ``prepare``: run ``prepare_data`` (rank 0 only under DDP; the synthetic sets are generated
    there); ``check``: raise :class:`DataNotFoundError` with the fix when the data is absent;
    ``stage``: also run ``setup(stage)`` (``"fit"``, ``"test"``), reading the split lists.
    """
    datamodule = instantiate(data, _recursive_=False)
    if not isinstance(datamodule, VideoDataModule):
        raise TypeError(
            f"data._target_ built a {type(datamodule).__name__}, not a VideoDataModule; "
            "point it at deepvideo.data.<Name>DataModule"
        )
    if prepare and getattr(rank_zero_only, "rank", 0) == 0:
        datamodule.prepare_data()
    if check:
        datamodule.check_available()
    if stage is not None:
        datamodule.setup(stage)
    return datamodule
