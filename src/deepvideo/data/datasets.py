"""Map-style clip datasets over a list of local videos, in the PyTorchVideo sample-dict style.

A sample is a dict with stable keys: ``video`` (float ``(C, T, H, W)``, or ``(V, C, T, H, W)`` for
``V`` evaluation views of one clip), ``label`` (multi-hot float ``(num_classes,)``),
``video_index``, ``clip_index`` and ``valid``. Video-level prediction is then a group-by on
``video_index``.

A video that fails to decode never ends a run: in training another video is drawn in its place,
in evaluation the clip comes back with ``valid = False`` (the metrics skip it); each broken file is
logged once, with its path and the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from deepvideo.data.sampling import ClipSpec, eval_clips, random_clip
from deepvideo.data.transforms import ClipTransform
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


class ClipDataset(Dataset):
    """Clips of videos: random clips (``train``, ``train_clips_per_video`` per video per epoch)
    or fixed clips x views (``eval``).

    In ``eval`` mode item ``i`` is clip ``i % clips_per_video`` of video ``i // clips_per_video``,
    with its clip positions and crops drawn from a generator seeded by ``(seed, video, clip)``, so
    every evaluation of a checkpoint sees the same clips.
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
        self._reported: set[str] = set()

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

    def _eval_item(self, index: int) -> dict[str, torch.Tensor | int | bool]:
        video_index, clip_index = divmod(index, self.clips_per_video)
        item = self.videos[video_index]
        rng = np.random.default_rng([self.seed, video_index, clip_index])
        side = self.transform.crop
        try:
            video = EncodedVideo(item.path)
            # All clips of a video come from one draw so they are distinct positions.
            starts_rng = np.random.default_rng([self.seed, video_index])
            clips = eval_clips(
                video.num_frames,
                self.clip,
                self.clips_per_video,
                starts_rng,
                video.fps,
                self.clip_mode,
            )
            frames = video.get_frames(clips[clip_index])
            views = self.transform.views(frames, self.views, rng)
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
