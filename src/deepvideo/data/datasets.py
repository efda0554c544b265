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

Training draws ``train_clips_per_video`` random clips of every video per epoch (Ng et al. 2015's
several random-start examples). Item ``i`` is a clip of video ``i % len(videos)`` whose start,
crop and flip come from its own generator (the worker's torch seed and ``i``). When a batch holds
several clips of one video (:class:`VideoClipsBatchSampler`'s read batches), the dataset reads
them from one open and one sorted decode of the union of their frames
(:meth:`ClipDataset.__getitems__`); each clip is drawn exactly as it is when read alone, and
:class:`ReadBatches` deals a read batch out into training batches of one clip per video.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from deepvideo.data.sampling import ClipSpec, EvalClipSampler, random_clip
from deepvideo.data.transforms import ClipTransform, Compose
from deepvideo.data.video import DEFAULT_DECODER, EncodedVideo, VideoDecodeError, check_decoder

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


def decode_clips(video: EncodedVideo, positions: Sequence[Sequence[int]]) -> DecodedClips:
    """The frames of the clips at ``positions`` (frame indices per clip, clamped to the video)
    from one sorted read of their union: every frame decoded once, in order."""
    flat = np.clip(np.asarray(positions, dtype=np.int64), 0, video.num_frames - 1)
    unique = np.unique(flat)
    return DecodedClips(flat.tolist(), unique, video.get_frames(unique.tolist()))


@dataclass(frozen=True)
class EvalClips:
    """The one evaluation clip path (Karpathy et al. 2014, Sec. 4.1): which clips of a video,
    decoded how, seen in which views. ``src/eval.py`` (through :class:`ClipDataset`) and
    ``src/predict.py`` both use it, configured from the same ``data`` config node."""

    sampler: EvalClipSampler
    transform: ClipTransform
    views: int = 4
    seed: int = 0
    decoder: str = DEFAULT_DECODER

    def __post_init__(self) -> None:
        check_decoder(self.decoder)

    def open(self, path: str | Path) -> EncodedVideo:
        """``path`` opened with this clip path's decoder (``data.decoder``)."""
        return EncodedVideo(path, backend=self.decoder)

    @property
    def clips_per_video(self) -> int:
        return self.sampler.clips_per_video

    @property
    def pipeline(self) -> Compose:
        return self.transform.eval_pipeline(self.views)

    def decode(self, video: EncodedVideo, video_id: str) -> DecodedClips:
        """Clip positions of ``video`` and every frame they need, in one sorted read."""
        rng = np.random.default_rng(video_entropy(self.seed, video_id))
        return decode_clips(video, self.sampler(video.num_frames, video.fps, rng))

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


# A training item as samplers hand it to ClipDataset: (dataset index, the epoch's draw seed)
TrainDraw = tuple[int, int]


def epoch_seed(generator: torch.Generator | None = None) -> int:
    """A 63-bit seed for one epoch's draws, from ``generator`` or torch's global generator."""
    return int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64, generator=generator).item())


def own_generator(generator: torch.Generator | None = None) -> torch.Generator:
    """``generator``, or one seeded now from torch's global generator: a sampler's orders and
    epoch seeds then follow from the seed at its creation alone (the DataLoader also draws from
    the global generator, once per iterator: every epoch without persistent workers, once with)."""
    if generator is not None:
        return generator
    own = torch.Generator()
    own.manual_seed(epoch_seed())
    return own


class TrainDraws(Sampler[TrainDraw]):
    """Training items in a fresh random order every epoch, each paired with that epoch's seed:
    ``(index, seed)``. :class:`ClipDataset` draws an item's clip start, crop and flip from both,
    so every epoch draws new clips of every video, and a run's draws do not depend on the number
    of DataLoader workers or on which worker reads an item. (Seeding from the worker's torch seed
    alone repeated each item's draw from epoch to epoch: persistent workers keep their seed, so
    over 4 epochs a video showed about 3.7 distinct clips of its 8.)"""

    def __init__(self, num_items: int, generator: torch.Generator | None = None) -> None:
        self.num_items = num_items
        self.generator = own_generator(generator)

    def __len__(self) -> int:
        return self.num_items

    def __iter__(self) -> Iterator[TrainDraw]:
        seed = epoch_seed(self.generator)
        order = torch.randperm(self.num_items, generator=self.generator).tolist()
        return iter([(i, seed) for i in order])


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
        decoder: str = DEFAULT_DECODER,
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
        self.decoder = check_decoder(decoder)
        self.eval_clips = EvalClips(
            EvalClipSampler(clip, clips_per_video, clip_mode), transform, views, seed, decoder
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

    def __getitem__(self, index: int | TrainDraw) -> dict[str, torch.Tensor | int | bool]:
        if self.train:
            return self._train_item(*self._draw(index))
        assert isinstance(index, int)
        return self._eval_item(index)

    def __getitems__(
        self, indices: Sequence[int | TrainDraw]
    ) -> list[dict[str, torch.Tensor | int | bool]]:
        """The samples of a batch (the DataLoader's batched fetch). In training, the clips of one
        video are read from one open and one sorted decode of all their frames; each sample is the
        one ``self[i]`` gives."""
        if not self.train:
            return [self._eval_item(int(i)) for i in indices]  # type: ignore[arg-type]
        draws = [self._draw(i) for i in indices]
        by_video: dict[int, list[TrainDraw]] = defaultdict(list)
        for draw in draws:
            by_video[draw[0] % len(self.videos)].append(draw)
        samples: dict[TrainDraw, dict[str, torch.Tensor | int | bool]] = {}
        for video_index, group in by_video.items():
            if len(group) == 1:
                samples[group[0]] = self._train_item(*group[0])
                continue
            try:
                samples.update(zip(group, self._train_clips(video_index, group), strict=True))
            except VideoDecodeError as err:  # each clip draws its replacement, as read alone
                self._report(err)
                samples.update((d, self._train_item(*d)) for d in group)
        return [samples[d] for d in draws]

    @staticmethod
    def _draw(index: int | TrainDraw) -> TrainDraw:
        """``(index, seed)`` of a training item: a :class:`TrainDraws` sampler's pair, or a plain
        index with the process's torch seed (a worker's, or the main process's)."""
        if isinstance(index, tuple):
            return int(index[0]), int(index[1])
        return int(index), torch.initial_seed()

    @staticmethod
    def _train_rng(index: int, seed: int) -> np.random.Generator:
        # the draw's seed (a fresh one every epoch from the sampler) and the item's index: every
        # item of every epoch its own stream, whichever worker reads it
        return np.random.default_rng([seed % 2**63, index])

    def _train_clips(
        self, video_index: int, draws: Sequence[TrainDraw]
    ) -> list[dict[str, torch.Tensor | int | bool]]:
        """The clips ``draws`` (all of video ``video_index``) from one open and one sorted
        decode."""
        item = self.videos[video_index]
        video = EncodedVideo(item.path, backend=self.decoder)
        rngs = [self._train_rng(i, seed) for i, seed in draws]
        positions = [random_clip(video.num_frames, self.clip, r, video.fps) for r in rngs]
        decoded = decode_clips(video, positions)
        label = multi_hot(item.labels, self.num_classes)
        return [
            {
                "video": self.transform.train(decoded.clip_frames(c), rng),
                "label": label.clone(),
                "video_index": video_index,
                "clip_index": 0,
                "valid": True,
            }
            for c, rng in enumerate(rngs)
        ]

    def _train_item(self, index: int, seed: int) -> dict[str, torch.Tensor | int | bool]:
        rng = self._train_rng(index, seed)
        index %= len(self.videos)  # several random-start examples per video (Ng et al. 2015)
        for attempt in range(self.max_retries + 1):
            item = self.videos[index]
            try:
                video = EncodedVideo(item.path, backend=self.decoder)
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
                result = self.eval_clips.decode(self.eval_clips.open(item.path), item.video_id)
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


class VideoClipsBatchSampler(Sampler[list[TrainDraw]]):
    """Read batches: the ``clips_per_video`` clips of ``videos_per_batch`` videos, video-major,
    so that :meth:`ClipDataset.__getitems__` reads each video's clips from one open and one
    sorted decode; :class:`ReadBatches` then deals every read batch out into ``clips_per_video``
    training batches of one clip per video.

    Each epoch visits the videos in a fresh random order (from torch's global generator, as
    :class:`~torch.utils.data.RandomSampler` does, unless ``generator`` is given). A read batch
    is ``[v1, v1 + V, ..., v1 + (k - 1) V, v2, ...]`` (``V`` videos, ``k`` clips each), each
    index paired with the epoch's draw seed as :class:`TrainDraws` does: every
    clip is still drawn alone (uniform start, its own crop and flip), every clip of the epoch
    once; the last read batch holds the videos left over.
    """

    def __init__(
        self,
        num_videos: int,
        clips_per_video: int,
        videos_per_batch: int,
        generator: torch.Generator | None = None,
    ) -> None:
        if num_videos < 1 or clips_per_video < 1 or videos_per_batch < 1:
            raise ValueError(
                "VideoClipsBatchSampler needs num_videos, clips_per_video and videos_per_batch "
                f">= 1, got {num_videos}, {clips_per_video}, {videos_per_batch}"
            )
        self.num_videos = num_videos
        self.clips_per_video = clips_per_video
        self.videos_per_batch = videos_per_batch
        self.generator = own_generator(generator)

    def __len__(self) -> int:
        return -(-self.num_videos // self.videos_per_batch)

    def __iter__(self) -> Iterator[list[TrainDraw]]:
        seed = epoch_seed(self.generator)
        order = torch.randperm(self.num_videos, generator=self.generator).tolist()
        for start in range(0, self.num_videos, self.videos_per_batch):
            yield [
                (v + k * self.num_videos, seed)
                for v in order[start : start + self.videos_per_batch]
                for k in range(self.clips_per_video)
            ]


def deal_read_batch(
    batch: dict[str, torch.Tensor], clips_per_video: int
) -> list[dict[str, torch.Tensor]]:
    """A collated read batch (``V`` videos x ``k`` clips, video-major) as ``k`` batches, batch
    ``j`` holding clip ``j`` of every video (rows ``j, k + j, 2k + j, ...``)."""
    rows = len(next(iter(batch.values())))
    if rows % clips_per_video:
        raise ValueError(f"a read batch of {rows} clips is not a multiple of {clips_per_video}")
    return [
        {key: value[j::clips_per_video] for key, value in batch.items()}
        for j in range(clips_per_video)
    ]


class ReadBatches:
    """The training batches of a DataLoader over :class:`VideoClipsBatchSampler` read batches:
    each read batch (``V`` videos x ``k`` clips, read one open and one decode per video) dealt
    into ``k`` batches of ``V`` clips, one per video, so a batch mixes as many videos as a
    shuffled batch of clips read alone. What changes is that the ``k`` consecutive steps of a
    read batch see the same ``V`` videos (other clips, crops and flips). A short last read batch
    gives short batches, left out with ``drop_last``."""

    def __init__(self, loader: Any, clips_per_video: int, drop_last: bool = False) -> None:
        self.loader = loader
        self.clips_per_video = clips_per_video
        self.drop_last = drop_last
        sampler = loader.batch_sampler
        self._full = sampler.num_videos // sampler.videos_per_batch
        self._short = sampler.num_videos % sampler.videos_per_batch

    def __len__(self) -> int:
        reads = self._full + (0 if self.drop_last or not self._short else 1)
        return reads * self.clips_per_video

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        full = self.loader.batch_sampler.videos_per_batch
        for batch in self.loader:
            if self.drop_last and len(batch["label"]) < full * self.clips_per_video:
                continue
            yield from deal_read_batch(batch, self.clips_per_video)
