"""Map-style clip datasets over a list of local videos, in the PyTorchVideo sample-dict style.

A sample is a dict with stable keys: ``video`` (float ``(C, T, H, W)``, or ``(V, C, T, H, W)`` for
``V`` evaluation views of one clip), ``label`` (multi-hot float ``(num_classes,)``),
``video_index``, ``clip_index`` and ``valid``. Video-level prediction is then a group-by on
``video_index``.

A video that fails to decode never ends a run: in training another video is drawn in its place,
in evaluation the clip comes back with ``valid = False`` (the metrics skip it); each broken file is
logged once, with its path and the fix.

Evaluation and prediction build their clips through one object, :class:`EvalClips`: the clip
positions of a video (drawn from a generator seeded by the data seed and the video's id, so a
video gets the same clips whatever split, subset or process it is read in), one decode of all the
frames those clips need (sorted, unique indices from one open file), and the views of each clip.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from deepvideo.data.sampling import ClipSpec, EvalClipSampler, random_clip
from deepvideo.data.transforms import ClipTransform, Compose
from deepvideo.data.video import EncodedVideo, VideoDecodeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoItem:
    """A video the dataset can read: its file, its labels and its index in the split."""

    path: Path
    labels: tuple[int, ...]
    video_id: str


def multi_hot(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    target = torch.zeros(num_classes)
    target[list(labels)] = 1.0
    return target


def video_entropy(seed: int, video_id: str) -> list[int]:
    """Generator entropy of a video: the data seed and a stable 64-bit hash of its id."""
    digest = hashlib.sha1(video_id.encode("utf-8")).digest()
    return [int(seed), int.from_bytes(digest[:8], "big")]


@dataclass(frozen=True)
class DecodedClips:
    """The clips of one video and the frames they need, decoded once."""

    positions: list[list[int]]  # frame indices of each clip
    indices: np.ndarray  # sorted unique frame indices that were decoded
    frames: torch.Tensor  # (len(indices), H, W, C) uint8

    def clip_frames(self, clip_index: int) -> torch.Tensor:
        """``(T, H, W, C)`` frames of clip ``clip_index``."""
        rows = np.searchsorted(self.indices, np.asarray(self.positions[clip_index]))
        return self.frames[torch.from_numpy(rows)]


@dataclass(frozen=True)
class EvalClips:
    """The one evaluation clip path (Karpathy et al. 2014, Sec. 4.1): which clips of a video,
    decoded how, seen in which views. ``src/eval.py`` (through :class:`ClipDataset`) and
    ``src/predict.py`` both use it, configured from the same ``data`` config node."""

    sampler: EvalClipSampler
    transform: ClipTransform
    views: int = 4
    seed: int = 0

    @property
    def clips_per_video(self) -> int:
        return self.sampler.clips_per_video

    @property
    def pipeline(self) -> Compose:
        return self.transform.eval_pipeline(self.views)

    def decode(self, video: EncodedVideo, video_id: str) -> DecodedClips:
        """Clip positions of ``video`` and every frame they need, in one sorted read."""
        rng = np.random.default_rng(video_entropy(self.seed, video_id))
        positions = self.sampler(video.num_frames, video.fps, rng)
        clipped = np.clip(np.asarray(positions, dtype=np.int64), 0, video.num_frames - 1)
        positions = clipped.tolist()
        indices = np.unique(clipped)
        return DecodedClips(positions, indices, video.get_frames(indices.tolist()))

    def views_of(self, decoded: DecodedClips, video_id: str, clip_index: int) -> torch.Tensor:
        """``(V, C, T, crop, crop)`` views of one clip; crops seeded by video id and clip."""
        rng = np.random.default_rng([*video_entropy(self.seed, video_id), clip_index])
        sample = {"video": decoded.clip_frames(clip_index)}
        views: torch.Tensor = self.pipeline(sample, rng)["video"]
        return views

    def batches(
        self, decoded: DecodedClips, video_id: str, batch_size: int
    ) -> Iterator[torch.Tensor]:
        """All clips of a decoded video as ``(B, V, C, T, crop, crop)`` batches, in order."""
        count = len(decoded.positions)
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            yield torch.stack([self.views_of(decoded, video_id, c) for c in range(start, stop)])


class ClipDataset(Dataset):
    """Clips of videos: random clips (``train``, ``train_clips_per_video`` per video per epoch)
    or fixed clips x views (``eval``).

    In ``eval`` mode item ``i`` is clip ``i % clips_per_video`` of video ``i // clips_per_video``,
    built by :class:`EvalClips` (positions and crops seeded by the data seed and the video's id),
    so every evaluation of a checkpoint sees the same clips; a worker decodes each video once for
    all of its clips.
    """

    def __init__(
        self,
        videos: Sequence[VideoItem],
        num_classes: int,
        clip: ClipSpec,
        transform: ClipTransform,
        train: bool,
        clips_per_video: int = 1,
        views: int = 1,
        clip_mode: str = "random",
        seed: int = 0,
        max_retries: int = 10,
        train_clips_per_video: int = 1,
    ) -> None:
        self.videos = list(videos)
        self.num_classes = num_classes
        self.clip = clip
        self.transform = transform
        self.train = train
        self.clips_per_video = clips_per_video
        self.views = views
        self.clip_mode = clip_mode
        self.seed = seed
        self.max_retries = max_retries
        self.train_clips_per_video = train_clips_per_video
        self.eval_clips = EvalClips(
            EvalClipSampler(clip, clips_per_video, clip_mode), transform, views, seed
        )
        self._reported: set[str] = set()
        # the last video decoded for evaluation (each worker holds its own): consecutive items
        # are clips of the same video, so each video is opened and decoded once
        self._cached: tuple[int, DecodedClips | VideoDecodeError] | None = None

    def __len__(self) -> int:
        return len(self.videos) * (
            self.train_clips_per_video if self.train else self.clips_per_video
        )

    def _report(self, err: VideoDecodeError) -> None:
        if err.path not in self._reported:
            self._reported.add(err.path)
            log.warning("skipping a broken video: %s", err)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int | bool]:
        if self.train:
            return self._train_item(index)
        return self._eval_item(index)

    def _train_item(self, index: int) -> dict[str, torch.Tensor | int | bool]:
        # Worker processes get distinct torch seeds (per epoch, per worker); mixing in the index
        # gives every item its own stream, reproducible under `seed_everything(workers=True)`.
        rng = np.random.default_rng([torch.initial_seed() % 2**63, index])
        index %= len(self.videos)  # several random-start examples per video (Ng et al. 2015)
        for attempt in range(self.max_retries + 1):
            item = self.videos[index]
            try:
                video = EncodedVideo(item.path)
                indices = random_clip(video.num_frames, self.clip, rng, video.fps)
                frames = video.get_frames(indices)
            except VideoDecodeError as err:
                self._report(err)
                if attempt == self.max_retries:
                    raise
                index = int(rng.integers(0, len(self.videos)))
                continue
            return {
                "video": self.transform.train(frames, rng),
                "label": multi_hot(item.labels, self.num_classes),
                "video_index": index,
                "clip_index": 0,
                "valid": True,
            }
        raise AssertionError("unreachable")

    def _decoded(self, video_index: int) -> DecodedClips:
        if self._cached is None or self._cached[0] != video_index:
            item = self.videos[video_index]
            result: DecodedClips | VideoDecodeError
            try:
                result = self.eval_clips.decode(EncodedVideo(item.path), item.video_id)
            except VideoDecodeError as err:
                result = err
            self._cached = (video_index, result)
        cached = self._cached[1]
        if isinstance(cached, VideoDecodeError):
            raise cached
        return cached

    def _eval_item(self, index: int) -> dict[str, torch.Tensor | int | bool]:
        video_index, clip_index = divmod(index, self.clips_per_video)
        item = self.videos[video_index]
        side = self.transform.crop
        try:
            views = self.eval_clips.views_of(self._decoded(video_index), item.video_id, clip_index)
            valid = True
        except VideoDecodeError as err:
            self._report(err)
            views = torch.zeros(self.views, 3, self.clip.num_frames, side, side)
            valid = False
        return {
            "video": views,
            "label": multi_hot(item.labels, self.num_classes),
            "video_index": video_index,
            "clip_index": clip_index,
            "valid": valid,
        }
