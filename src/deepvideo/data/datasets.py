"""Map-style clip datasets over a list of local videos, in the PyTorchVideo sample-dict style.

A sample is a dict with stable keys: ``video`` (float ``(C, T, H, W)``, or ``(V, C, T, H, W)`` for
``V`` evaluation views of one clip), ``label`` (multi-hot float ``(num_classes,)``),
``video_index``, ``clip_index``, ``valid`` and ``failures``. Video-level prediction is then a
group-by on ``video_index``.

A video that fails to decode never ends a run: in training another video is drawn in its place
(up to ``max_retries`` times; after that the sample is ``valid = False`` and the step leaves it
out), in evaluation its clips come back with ``valid = False`` (never another video, and the
metrics leave them out). Either way the sample says what failed: ``failures`` lists
``(video_index, path, reason)`` of every file that failed while it was made. DataLoader workers
are separate processes, so the dataset does not count or log anything itself: the failures travel
with the batch to the main process, where :class:`deepvideo.data.faults.FaultLog` reports each
file once, counts it (``data/skipped_videos`` in the logged metrics and ``metrics.json``) and, with
``data.strict=true``, stops the run naming it.

Evaluation and prediction build their clips through one object, :class:`EvalClips`: the clip
positions of a video (drawn from a generator seeded by the data seed and the video's id, so a
video gets the same clips whatever split, subset or process it is read in), one decode of all the
frames those clips need (sorted, unique indices from one open file), and the views of each clip.

Training draws ``train_clips_per_video`` random clips of every video per epoch (Ng et al. 2015's
several random-start examples). Item ``i`` is a clip of video ``i % len(videos)`` whose start,
crop and flip come from its own generator. The training samplers (:class:`EpochSampler`,
:class:`VideoClipsBatchSampler` with a ``seed``) hand the dataset keys ``(epoch, i)``, and the
generator is seeded by the data seed, the epoch and ``i`` alone: an epoch's clips are the same
whichever worker reads them, how many workers there are, and whether the run was interrupted and
resumed before that epoch (a plain index ``i``, from another sampler, falls back to the worker's
torch seed). When a batch holds several clips of one video (:class:`VideoClipsBatchSampler` puts
them together), the dataset reads them from one open and one sorted decode of the union of their
frames (:meth:`ClipDataset.__getitems__`); each clip is drawn exactly as it is when read alone.
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

# What failed while a sample was made: (index of the video in its split, file, reason).
Failure = tuple[int, str, str]
# A training key: a plain item index, or (epoch, item index) from the epoch-seeded samplers.
TrainKey = int | tuple[int, int]
Sample = dict[str, torch.Tensor | int | bool | list[Failure]]


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed of (``seed``, ``epoch``): the shuffle of that epoch, in any process."""
    state = np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, np.uint64)
    return int(state[0]) >> 1


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

    def read(self, path: str | Path, video_id: str) -> DecodedClips:
        """Open ``path``, decode every frame its clips need, close it."""
        with self.open(path) as video:
            return self.decode(video, video_id)

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
        # the last video decoded for evaluation (each worker holds its own): consecutive items
        # are clips of the same video, so each video is opened and decoded once
        self._cached: tuple[int, DecodedClips | VideoDecodeError] | None = None

    def __len__(self) -> int:
        return len(self.videos) * (
            self.train_clips_per_video if self.train else self.clips_per_video
        )

    def __getitem__(self, index: TrainKey) -> Sample:
        if self.train:
            return self._train_item(index)
        assert isinstance(index, int), "evaluation items are plain indices"
        return self._eval_item(index)

    def __getitems__(self, indices: Sequence[TrainKey]) -> list[Sample]:
        """The samples of a batch (the DataLoader's batched fetch). In training, the clips of one
        video are read from one open and one sorted decode of all their frames; each sample is the
        one ``self[i]`` gives."""
        if not self.train:
            return [self[i] for i in indices]
        by_video: dict[int, list[int]] = defaultdict(list)
        for position, key in enumerate(indices):
            by_video[self._item(key) % len(self.videos)].append(position)
        samples: dict[int, Sample] = {}
        for video_index, group in by_video.items():
            keys = [indices[p] for p in group]
            if len(group) == 1:
                samples[group[0]] = self._train_item(keys[0])
                continue
            try:
                samples.update(zip(group, self._train_clips(video_index, keys), strict=True))
            except VideoDecodeError:  # each clip draws its replacement, as read alone
                samples.update((p, self._train_item(k)) for p, k in zip(group, keys, strict=True))
        return [samples[p] for p in range(len(indices))]

    @staticmethod
    def _item(key: TrainKey) -> int:
        return key[1] if isinstance(key, tuple) else int(key)

    def _train_rng(self, key: TrainKey) -> np.random.Generator:
        if isinstance(key, tuple):  # (epoch, index): the same clip in any worker, or on resume
            epoch, index = key
            return np.random.default_rng([int(self.seed), int(epoch), int(index)])
        # a plain index: the worker's torch seed (distinct per worker) mixed with the index
        return np.random.default_rng([torch.initial_seed() % 2**63, int(key)])

    def _failure(self, video_index: int, err: VideoDecodeError) -> Failure:
        return (video_index, err.path, err.reason)

    def _train_clips(self, video_index: int, keys: Sequence[TrainKey]) -> list[Sample]:
        """Clips ``keys`` (all of video ``video_index``) from one open and one sorted decode."""
        item = self.videos[video_index]
        rngs = [self._train_rng(k) for k in keys]
        with EncodedVideo(item.path, backend=self.decoder) as video:
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
                "failures": [],
            }
            for c, rng in enumerate(rngs)
        ]

    def _train_item(self, key: TrainKey) -> Sample:
        rng = self._train_rng(key)
        # several random-start examples per video (Ng et al. 2015)
        index = self._item(key) % len(self.videos)
        failures: list[Failure] = []
        for _ in range(self.max_retries + 1):
            item = self.videos[index]
            try:
                with EncodedVideo(item.path, backend=self.decoder) as video:
                    indices = random_clip(video.num_frames, self.clip, rng, video.fps)
                    frames = video.get_frames(indices)
            except VideoDecodeError as err:
                failures.append(self._failure(index, err))
                index = int(rng.integers(0, len(self.videos)))  # another video in its place
                continue
            return {
                "video": self.transform.train(frames, rng),
                "label": multi_hot(item.labels, self.num_classes),
                "video_index": index,
                "clip_index": 0,
                "valid": True,
                "failures": failures,
            }
        # every draw failed: an invalid sample the training step leaves out
        side = self.transform.crop
        return {
            "video": torch.zeros(3, self.clip.num_frames, side, side),
            "label": torch.zeros(self.num_classes),
            "video_index": index,
            "clip_index": 0,
            "valid": False,
            "failures": failures,
        }

    def _decoded(self, video_index: int) -> DecodedClips:
        if self._cached is None or self._cached[0] != video_index:
            item = self.videos[video_index]
            result: DecodedClips | VideoDecodeError
            try:
                result = self.eval_clips.read(item.path, item.video_id)
            except VideoDecodeError as err:
                result = err
            self._cached = (video_index, result)
        cached = self._cached[1]
        if isinstance(cached, VideoDecodeError):
            raise cached
        return cached

    def _eval_item(self, index: int) -> Sample:
        video_index, clip_index = divmod(index, self.clips_per_video)
        item = self.videos[video_index]
        side = self.transform.crop
        failures: list[Failure] = []
        try:
            views = self.eval_clips.views_of(self._decoded(video_index), item.video_id, clip_index)
            valid = True
        except VideoDecodeError as err:
            # left out of the metrics (valid = False), never replaced by another video
            failures.append(self._failure(video_index, err))
            views = torch.zeros(self.views, 3, self.clip.num_frames, side, side)
            valid = False
        return {
            "video": views,
            "label": multi_hot(item.labels, self.num_classes),
            "video_index": video_index,
            "clip_index": clip_index,
            "valid": valid,
            "failures": failures,
        }


class EpochSampler(Sampler[tuple[int, int]]):
    """Training order: a fresh random permutation of ``range(size)`` every epoch, drawn from
    (``seed``, epoch) alone, yielding keys ``(epoch, index)``.

    Lightning calls :meth:`set_epoch` at the start of every epoch (also under DDP, through its
    sampler wrapper), so epoch ``e``'s order and, through the keys, its clips, crops and flips
    (:meth:`ClipDataset._train_rng`) depend on nothing that happened before it: a run resumed at
    epoch ``e`` from a checkpoint sees exactly the batches the uninterrupted run saw. ``epoch``
    is where to start: Lightning (2.6) creates the loader's first iterator, and its workers
    start fetching, *before* its first ``set_epoch`` call, so a resumed run must build the
    sampler at the epoch it resumes (``VideoDataModule._starting_epoch``), or its
    first epoch would be drawn as epoch 0.
    """

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True, epoch: int = 0) -> None:
        self.size = int(size)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.epoch = int(epoch)
        self.drawn_epoch: int | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        self.drawn_epoch = self.epoch  # what the live iteration is (drawn_epoch(loader))
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(epoch_seed(self.seed, self.epoch))
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        return iter([(self.epoch, i) for i in order])


def drawn_epoch(loader: Any) -> int | None:
    """The epoch whose order the live iteration of a training loader was drawn for: its
    :class:`EpochSampler`'s (directly, under :class:`VideoClipsBatchSampler`, or wrapped by
    Lightning for DDP), None where it has none or has not been iterated."""
    stack, seen = [loader], 0
    while stack and seen < 16:
        obj, seen = stack.pop(), seen + 1
        if isinstance(obj, EpochSampler):
            return obj.drawn_epoch
        for name in ("loader", "sampler", "batch_sampler", "dataset", "_sampler"):
            child = getattr(obj, name, None)
            if child is not None and not isinstance(child, (ClipDataset, str, int)):
                stack.append(child)
    return None


class VideoClipsBatchSampler(Sampler[list[TrainKey]]):
    """Read batches: the ``clips_per_video`` clips of ``videos_per_batch`` videos, video-major,
    so that :meth:`ClipDataset.__getitems__` reads each video's clips from one open and one
    sorted decode; :class:`ReadBatches` then deals every read batch out into ``clips_per_video``
    training batches of one clip per video.

    A read batch is ``[v1, v1 + V, ..., v1 + (k - 1) V, v2, ...]`` (``V`` videos, ``k`` clips
    each): every clip is still drawn alone (uniform start, its own crop and flip), every clip of
    the epoch once; the last read batch holds the videos left over. With a ``seed`` (the
    DataModules pass the data seed) the video order of epoch ``e`` comes from an
    :class:`EpochSampler` (whose ``set_epoch`` Lightning reaches through :meth:`set_epoch`) and
    the keys are ``(e, index)``; without one, the order comes from torch's global generator (as
    :class:`~torch.utils.data.RandomSampler` does, unless ``generator`` is given) and the keys
    are plain indices.
    """

    def __init__(
        self,
        num_videos: int,
        clips_per_video: int,
        videos_per_batch: int,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        epoch: int = 0,
    ) -> None:
        if num_videos < 1 or clips_per_video < 1 or videos_per_batch < 1:
            raise ValueError(
                "VideoClipsBatchSampler needs num_videos, clips_per_video and videos_per_batch "
                f">= 1, got {num_videos}, {clips_per_video}, {videos_per_batch}"
            )
        self.num_videos = num_videos
        self.clips_per_video = clips_per_video
        self.videos_per_batch = videos_per_batch
        self.generator = generator
        self.sampler = None if seed is None else EpochSampler(num_videos, seed, epoch=epoch)

    def set_epoch(self, epoch: int) -> None:
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return -(-self.num_videos // self.videos_per_batch)

    def __iter__(self) -> Iterator[list[TrainKey]]:
        n, k = self.num_videos, self.clips_per_video
        order: list[tuple[int | None, int]]
        if self.sampler is not None:
            order = [(e, v) for e, v in self.sampler]
        else:
            generator = self.generator
            if generator is None:
                generator = torch.Generator()
                generator.manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
            order = [(None, v) for v in torch.randperm(n, generator=generator).tolist()]
        for start in range(0, n, self.videos_per_batch):
            yield [
                v + c * n if e is None else (e, v + c * n)
                for e, v in order[start : start + self.videos_per_batch]
                for c in range(k)
            ]


def deal_read_batch(batch: dict[str, Any], clips_per_video: int) -> list[dict[str, Any]]:
    """A collated read batch (``V`` videos x ``k`` clips, video-major) as ``k`` batches, batch
    ``j`` holding clip ``j`` of every video (rows ``j, k + j, 2k + j, ...``). The batch's
    ``failures`` (files that failed while it was read) travel with the first of them, once."""
    rows = len(next(v for k, v in batch.items() if k != "failures"))
    if rows % clips_per_video:
        raise ValueError(f"a read batch of {rows} clips is not a multiple of {clips_per_video}")
    dealt = []
    for j in range(clips_per_video):
        part: dict[str, Any] = {}
        for key, value in batch.items():
            if key == "failures":
                part[key] = list(value) if j == 0 else []
            else:
                part[key] = value[j::clips_per_video]
        dealt.append(part)
    return dealt


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

    @property
    def batch_sampler(self) -> VideoClipsBatchSampler:
        """The read batches' sampler: Lightning calls its ``set_epoch`` every epoch."""
        sampler: VideoClipsBatchSampler = self.loader.batch_sampler
        return sampler

    def __len__(self) -> int:
        reads = self._full + (0 if self.drop_last or not self._short else 1)
        return reads * self.clips_per_video

    def __iter__(self) -> Iterator[dict[str, Any]]:
        full = self.loader.batch_sampler.videos_per_batch
        for batch in self.loader:
            if self.drop_last and len(batch["label"]) < full * self.clips_per_video:
                continue
            yield from deal_read_batch(batch, self.clips_per_video)
