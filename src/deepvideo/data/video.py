"""Encoded videos on disk, decoded with decord.

One small class, :class:`EncodedVideo`, opens a file once and returns the frames at given indices
as a ``(T, H, W, C)`` uint8 tensor. Every failure is raised as :class:`VideoDecodeError`, whose
message names the file and says what to do, so a dataset can skip a broken file without losing
the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4",
    ".webm",
    ".mkv",
    ".avi",
    ".mov",
    ".m4v",
    ".flv",
    ".mpg",
)

FIX_HINT = (
    "re-download it, or re-encode the folder with `python scripts/prepare_videos.py`; "
    "deleting the file makes the run count it as missing"
)


class VideoDecodeError(RuntimeError):
    """A video file is missing, empty or cannot be decoded."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot decode video {self.path}: {reason}; {FIX_HINT}")


class EncodedVideo:
    """A video file opened with decord for random access to its frames.

    ``short_side`` asks decord to scale frames while decoding (cheaper than resizing after);
    ``num_threads`` is decord's decoding threads (1 inside DataLoader workers).
    """

    def __init__(self, path: str | Path, short_side: int | None = None, num_threads: int = 1):
        import decord

        self.path = Path(path)
        if not self.path.is_file():
            raise VideoDecodeError(self.path, "no such file")
        if self.path.stat().st_size == 0:
            raise VideoDecodeError(self.path, "the file is empty")
        width = height = -1
        try:
            if short_side is not None:
                probe = decord.VideoReader(str(self.path), num_threads=1)
                h, w = probe[0].shape[:2]
                del probe
                scale = short_side / min(h, w)
                width, height = round(w * scale), round(h * scale)
            self._reader = decord.VideoReader(
                str(self.path), width=width, height=height, num_threads=num_threads
            )
            self.num_frames = len(self._reader)
            self.fps = float(self._reader.get_avg_fps()) or 25.0
        except VideoDecodeError:
            raise
        except Exception as err:  # decord raises its own DECORDError and plain RuntimeErrors
            raise VideoDecodeError(self.path, _first_line(err)) from err
        if self.num_frames <= 0:
            raise VideoDecodeError(self.path, "it holds no video frames")

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps

    def get_frames(self, indices: Sequence[int]) -> torch.Tensor:
        """Frames at ``indices`` (clamped to the video) as a ``(T, H, W, C)`` uint8 tensor."""
        idx = np.clip(np.asarray(indices, dtype=np.int64), 0, self.num_frames - 1)
        unique, inverse = np.unique(idx, return_inverse=True)
        try:
            frames = self._reader.get_batch(unique.tolist()).asnumpy()
        except Exception as err:
            raise VideoDecodeError(self.path, _first_line(err)) from err
        return torch.from_numpy(frames[inverse])


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
