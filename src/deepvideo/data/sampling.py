"""Which frames of a video make a clip: the papers' sampling rules as small, reusable pieces.

Every sampler works on frame *indices* only; decoding happens elsewhere. A clip is ``num_frames``
frames spaced ``frame_stride`` apart (Late Fusion: 2 frames, 15 apart; Slow Fusion: 10 consecutive
frames). With ``target_fps`` set, the stride counts frames of a virtual stream resampled to that
rate, so clips mean the same span of time whatever the file's own frame rate.

- :func:`random_clip`: training, a uniformly random start (Karpathy et al. 2014, Sec. 3.3).
- :func:`eval_clips`: evaluation, ``num_clips`` seeded random starts per video (20 on Sports-1M,
  Sec. 4.1; 50 on UCF-101), distinct as long as the video has that many positions;
  ``mode="uniform"`` spaces them evenly instead.
- :func:`fps_frames`: Ng et al. 2015, Sec. 4.1: frames at 1 fps from the first ``max_frames``
  seconds, the sequence repeated from the start when the video is shorter; ``eval_clips`` with
  ``mode="whole"`` uses it for long-sequence evaluation over the whole video.
- :class:`TrainClipSampler` and :class:`EvalClipSampler`: the same rules as small callables
  ``(num_frames, fps, rng) -> list of clips`` that the datasets and prediction share.

``ClipSpec.max_seconds`` keeps only the start of a video: Ng et al. use its first 5 minutes
(``max_seconds=300``, Sec. 4.1 "Data Extraction"); every sampler sees the video as ending there.

A clip longer than its video is filled by ``ClipSpec.pad``, never dropped: ``"loop"`` (the
default) repeats the video from its start, the only rule the papers give (Ng et al. 2015, Sec. 4.1:
"Frames are repeated from the start for videos that are shorter than 5 minutes"; Karpathy et al.
2014 say nothing about videos shorter than a clip), so we apply it to Karpathy's clips too;
``"last"`` repeats the last frame (``data.pad=last``, this project's rule before). A 2-frame
video gives a 10-frame clip ``0, 1, 0, 1, ...`` (loop) or ``0, 1, 1, 1, ...`` (last). With ``target_fps=1`` and
``num_frames=N`` the training sampler gives Ng et al.'s random-start sequences of N one-second
frames; several per video per epoch come from the datasets' ``train_clips_per_video``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClipSpec:
    """Frames per clip, their spacing, and the rate the spacing is measured at."""

    num_frames: int = 1
    frame_stride: int = 1
    target_fps: float | None = None
    pad: str = "loop"
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.pad not in ("last", "loop"):
            raise ValueError(f"clip pad must be 'last' or 'loop', got {self.pad!r}")
        if self.num_frames < 1 or self.frame_stride < 1:
            raise ValueError(
                f"a clip needs num_frames >= 1 and frame_stride >= 1, got "
                f"num_frames={self.num_frames}, frame_stride={self.frame_stride}: set "
                "model.clip.num_frames / model.clip.frame_stride (or the data.*_clips.num_frames "
                "of evaluation)"
            )
        if self.target_fps is not None and self.target_fps <= 0:
            raise ValueError(f"target_fps must be positive or null, got {self.target_fps}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive or null, got {self.max_seconds}")

    def usable_frames(self, num_frames: int, native_fps: float) -> int:
        """Frames of a ``num_frames`` video that clips may use: all, or the first ``max_seconds``."""
        if self.max_seconds is None:
            return num_frames
        return max(1, min(num_frames, int(np.ceil(self.max_seconds * native_fps))))

    @property
    def span(self) -> int:
        """Frames (at the sampling rate) from the first to the last frame of a clip, inclusive."""
        return (self.num_frames - 1) * self.frame_stride + 1

    def step(self, native_fps: float) -> float:
        """Native frames per sampling-rate frame."""
        return 1.0 if self.target_fps is None else native_fps / self.target_fps


def _to_native(
    starts: np.ndarray, spec: ClipSpec, native_fps: float, num_frames: int
) -> list[list[int]]:
    offsets = np.arange(spec.num_frames) * spec.frame_stride
    virtual = starts[:, None] + offsets[None, :]
    if spec.pad == "loop":
        virtual = virtual % _virtual_length(num_frames, spec, native_fps)
    native = np.floor(virtual * spec.step(native_fps) + 1e-6).astype(np.int64)
    return np.clip(native, 0, num_frames - 1).tolist()


def _virtual_length(num_frames: int, spec: ClipSpec, native_fps: float) -> int:
    return max(1, int(np.floor((num_frames - 1) / spec.step(native_fps))) + 1)


def random_clip(
    num_frames: int, spec: ClipSpec, rng: np.random.Generator, native_fps: float = 30.0
) -> list[int]:
    """Indices of one clip at a uniformly random position (a short video is padded: ``spec.pad``)."""
    num_frames = spec.usable_frames(num_frames, native_fps)
    length = _virtual_length(num_frames, spec, native_fps)
    start = int(rng.integers(0, max(1, length - spec.span + 1)))
    return _to_native(np.array([start]), spec, native_fps, num_frames)[0]


def eval_clips(
    num_frames: int,
    spec: ClipSpec,
    num_clips: int,
    rng: np.random.Generator,
    native_fps: float = 30.0,
    mode: str = "random",
) -> list[list[int]]:
    """``num_clips`` clips of one video for evaluation: seeded random or evenly spaced starts.

    ``mode="random"``: starts drawn without replacement, so the clips of a video are distinct
    while it has at least ``num_clips`` start positions; a shorter video uses every position once
    and the remaining clips repeat positions drawn at random. ``mode="whole"``: one sequence over
    the whole video at ``spec.target_fps`` (1 fps if unset), ``spec.num_frames`` frames at most,
    looped when the video is shorter (Ng et al. 2015, Sec. 4.1).
    """
    num_frames = spec.usable_frames(num_frames, native_fps)
    if mode == "whole":
        sequence = fps_frames(
            num_frames, native_fps, spec.target_fps or 1.0, spec.num_frames, repeat=True
        )
        return [sequence] * num_clips
    length = _virtual_length(num_frames, spec, native_fps)
    last_start = max(0, length - spec.span)
    if mode == "random":
        positions = last_start + 1
        distinct = rng.permutation(positions)[: min(num_clips, positions)]
        extra = rng.integers(0, positions, size=max(0, num_clips - positions))
        starts = np.concatenate([distinct, extra]).astype(np.int64)
    elif mode == "uniform":
        starts = np.round(np.linspace(0, last_start, num_clips)).astype(np.int64)
    else:
        raise ValueError(f"unknown clip sampling mode {mode!r}: use 'random', 'uniform' or 'whole'")
    return _to_native(starts, spec, native_fps, num_frames)


def fps_frames(
    num_frames: int,
    native_fps: float,
    target_fps: float = 1.0,
    max_frames: int = 300,
    repeat: bool = True,
) -> list[int]:
    """Ng et al. 2015: one frame every ``1/target_fps`` seconds, at most ``max_frames`` of them.

    A video shorter than ``max_frames / target_fps`` seconds is repeated from its start to fill
    ``max_frames`` frames when ``repeat`` (the paper's rule); otherwise its own frames are returned.
    """
    step = native_fps / target_fps
    available = int(np.floor((num_frames - 1) / step)) + 1
    own = np.floor(np.arange(min(available, max_frames)) * step + 1e-6).astype(np.int64)
    if not repeat or len(own) >= max_frames:
        return own.tolist()
    return np.resize(own, max_frames).tolist()


@dataclass(frozen=True)
class TrainClipSampler:
    """Training: one clip at a uniformly random start (Karpathy et al. 2014, Sec. 3.3)."""

    spec: ClipSpec

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        return [random_clip(num_frames, self.spec, rng, fps)]


@dataclass(frozen=True)
class EvalClipSampler:
    """Evaluation: ``clips_per_video`` clips of a video by :func:`eval_clips` (``mode``)."""

    spec: ClipSpec
    clips_per_video: int = 20
    mode: str = "random"

    def __post_init__(self) -> None:
        if self.clips_per_video < 1:
            raise ValueError(f"clips_per_video must be >= 1, got {self.clips_per_video}")
        if self.mode not in ("random", "uniform", "whole"):
            raise ValueError(
                f"unknown clip sampling mode {self.mode!r}: use 'random', 'uniform' or 'whole'"
            )

    def __call__(self, num_frames: int, fps: float, rng: np.random.Generator) -> list[list[int]]:
        return eval_clips(num_frames, self.spec, self.clips_per_video, rng, fps, self.mode)
