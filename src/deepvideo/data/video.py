"""Encoded videos on disk, decoded with decord (the default) or PyAV.

One small class, :class:`EncodedVideo`, opens a file once and returns the frames at given indices
as a ``(T, H, W, C)`` uint8 tensor, whichever decoder ``backend`` reads it (``data.decoder``):

- ``decord``: the project's default (design card); its reader indexes the file's packets at open
  and seeks to the keyframe before each wanted frame.
- ``pyav``: PyAV (FFmpeg bundled in its wheel). The packets are indexed at open (demuxed, not
  decoded: presentation timestamps and keyframe flags), so frame ``i`` is the ``i``-th frame in
  presentation order, as decord counts them. One call reads all its wanted frames (sorted, unique)
  in one forward pass: seek to the keyframe at or before the first, decode forward, and seek
  forward again only when a later wanted frame lies past another keyframe.
- ``torchcodec``: optional, not a dependency. Its wheel ships no FFmpeg: it loads the system's
  FFmpeg 4-8 shared libraries (Debian: ``apt-get install libavdevice59``), absent on a bare
  machine; opened in ``exact`` seek mode (the frame index scanned at open, like the others).

Both use FFmpeg's H.264 decoder, so they count the same frames at the same rate and return the
same pixels up to the YUV->RGB conversion (see ``tests/test_video_backends.py`` for the measured
agreement). Every failure is raised as :class:`VideoDecodeError`, whose message names the file, says
in words what is wrong (no video stream, not a readable container, a stream that breaks after its
first frames) and what to do, so a dataset can skip a broken file without losing the run; decord's
and FFmpeg's own C++ log lines are silenced (``decord.logging.QUIET``), the error says it once.

An :class:`EncodedVideo` holds the decoder's file and buffers until :meth:`EncodedVideo.close` (or
the end of a ``with`` block): a PyAV container left to the garbage collector after a failed read
kept ~0.6 MB per file alive (measured: 60 rounds over 8 files grew a process from 551 to 590 MB;
closed, it stays flat), which a many-epoch run over a dataset with bad files would accumulate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

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

DECODERS: tuple[str, ...] = ("decord", "pyav", "torchcodec")
DEFAULT_DECODER = "decord"

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


def check_decoder(name: str) -> str:
    """``name`` if it is a known decoder backend, else a one-line ``ValueError`` with the fix."""
    if name not in DECODERS:
        raise ValueError(f"unknown video decoder {name!r}: set data.decoder to one of {DECODERS}")
    return name


class _Reader(Protocol):
    """What a decoder backend gives :class:`EncodedVideo`."""

    num_frames: int
    fps: float

    def read(self, indices: list[int]) -> np.ndarray:
        """``(N, H, W, C)`` uint8 frames at sorted, unique, in-range ``indices``."""
        ...

    def close(self) -> None:
        """Release the file and the decoder's buffers."""
        ...


class EncodedVideo:
    """A video file opened for random access to its frames, by ``backend`` (``decord``/``pyav``).

    ``short_side`` scales frames while decoding (cheaper than resizing after; the two backends'
    scalers differ slightly); ``num_threads`` is the decoder's threads (1 inside DataLoader
    workers).
    """

    _reader: _Reader | None

    def __init__(
        self,
        path: str | Path,
        short_side: int | None = None,
        num_threads: int = 1,
        backend: str = DEFAULT_DECODER,
    ) -> None:
        self._reader = None
        self.path = Path(path)
        self.backend = check_decoder(backend)
        if not self.path.is_file():
            raise VideoDecodeError(self.path, "no such file")
        if self.path.stat().st_size == 0:
            raise VideoDecodeError(self.path, "the file is empty")
        readers: dict[str, Callable[[Path, int | None, int], _Reader]]
        readers = {"decord": _DecordReader, "pyav": _PyAVReader, "torchcodec": _TorchCodecReader}
        try:
            self._reader = readers[backend](self.path, short_side, num_threads)
        except VideoDecodeError:
            raise
        except Exception as err:  # decord's DECORDError, PyAV's FFmpegError, plain RuntimeErrors
            raise VideoDecodeError(self.path, open_failure(err)) from err
        self.num_frames = self._reader.num_frames
        self.fps = self._reader.fps or 25.0
        if self.num_frames <= 0:
            self.close()
            raise VideoDecodeError(self.path, "it holds no video frames")

    def close(self) -> None:
        """Release the decoder (its file, its buffers); safe to call twice."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def __enter__(self) -> EncodedVideo:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps

    def get_frames(self, indices: Sequence[int]) -> torch.Tensor:
        """Frames at ``indices`` (any order, repeats allowed, clamped to the video) as a
        ``(T, H, W, C)`` uint8 tensor; each distinct frame is decoded once, in sorted order."""
        if self._reader is None:
            raise ValueError(f"{self.path} was closed; open it again to read frames")
        idx = np.clip(np.asarray(indices, dtype=np.int64), 0, self.num_frames - 1)
        unique, inverse = np.unique(idx, return_inverse=True)
        try:
            frames = self._reader.read(unique.tolist())
        except VideoDecodeError:
            raise
        except Exception as err:
            span = (int(unique[0]), int(unique[-1]), self.num_frames)
            raise VideoDecodeError(self.path, read_failure(err, *span)) from err
        return torch.from_numpy(frames[inverse.reshape(-1)])


_decord_quiet = False


def _quiet_decord() -> None:
    """decord's and its FFmpeg's log lines off (once per process): our error says it once."""
    global _decord_quiet
    if not _decord_quiet:
        import decord

        decord.logging.set_level(decord.logging.QUIET)
        _decord_quiet = True


class _DecordReader:
    def __init__(self, path: Path, short_side: int | None, num_threads: int) -> None:
        import decord

        _quiet_decord()
        width = height = -1
        if short_side is not None:
            probe = decord.VideoReader(str(path), num_threads=1)
            h, w = probe[0].shape[:2]
            del probe
            width, height = _scaled(w, h, short_side)
        self._reader = decord.VideoReader(
            str(path), width=width, height=height, num_threads=num_threads
        )
        self.num_frames = len(self._reader)
        self.fps = float(self._reader.get_avg_fps())

    def read(self, indices: list[int]) -> np.ndarray:
        frames: np.ndarray = self._reader.get_batch(indices).asnumpy()
        return frames

    def close(self) -> None:
        del self._reader


class _PyAVReader:
    def __init__(self, path: Path, short_side: int | None, num_threads: int) -> None:
        import av

        self.path = path
        self._container = av.open(str(path))
        try:
            self._index(short_side, num_threads)
        except BaseException:
            self._container.close()
            raise

    def close(self) -> None:
        self._container.close()

    def _index(self, short_side: int | None, num_threads: int) -> None:
        path = self.path
        if not self._container.streams.video:
            raise VideoDecodeError(path, NO_VIDEO_STREAM)
        self._stream = self._container.streams.video[0]
        self._stream.codec_context.thread_count = max(1, num_threads)
        # the packet index (demuxed, not decoded): presentation order and keyframes
        stamps: list[int] = []
        keys: list[bool] = []
        for packet in self._container.demux(self._stream):
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None or packet.size == 0:
                continue
            stamps.append(int(stamp))
            keys.append(bool(packet.is_keyframe))
        order = np.argsort(np.asarray(stamps, dtype=np.int64), kind="stable")
        self._pts = np.asarray(stamps, dtype=np.int64)[order]
        self._keyframes = np.flatnonzero(np.asarray(keys, dtype=bool)[order])
        if len(self._pts) and (not len(self._keyframes) or self._keyframes[0] != 0):
            self._keyframes = np.concatenate([[0], self._keyframes])  # decode from the start
        self._frame_of_pts = {int(p): i for i, p in enumerate(self._pts.tolist())}
        self.num_frames = len(self._pts)
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 0.0
        self._size: dict[str, Any] = {}
        if short_side is not None:
            w, h = self._stream.codec_context.width, self._stream.codec_context.height
            self._size = dict(zip(("width", "height"), _scaled(w, h, short_side), strict=True))

    def _keyframe_before(self, index: int) -> int:
        return int(self._keyframes[np.searchsorted(self._keyframes, index, side="right") - 1])

    def read(self, indices: list[int]) -> np.ndarray:
        found: dict[int, np.ndarray] = {}
        pending = sorted(set(indices))  # the wanted frames not decoded yet, first at `nxt`
        nxt = 0
        sought = -1  # the last wanted frame a seek was made for
        while nxt < len(pending):
            target = pending[nxt]
            if target == sought:  # a seek to its keyframe did not bring it out
                raise VideoDecodeError(self.path, f"frame {target} of {self.num_frames} not found")
            sought = target
            keyframe = self._keyframe_before(target)
            self._container.seek(
                int(self._pts[keyframe]), stream=self._stream, backward=True, any_frame=False
            )
            position = keyframe - 1  # the last frame decoded, in presentation order
            for frame in self._container.decode(self._stream):
                index = self._frame_of_pts.get(frame.pts, -1) if frame.pts is not None else -1
                position = index if index >= 0 else position + 1
                if position == pending[nxt]:
                    found[position] = frame.to_ndarray(format="rgb24", **self._size)
                    nxt += 1
                    if nxt == len(pending):
                        break
                if position > pending[nxt]:  # passed a wanted frame: seek back for it
                    break
                # the next wanted frame lies past another keyframe: seek there, skip the gap
                if self._keyframe_before(pending[nxt]) > position + 1:
                    break
            else:
                if nxt < len(pending):
                    raise VideoDecodeError(
                        self.path,
                        f"the stream ended before frame {pending[nxt]} of {self.num_frames}",
                    )
        return np.stack([found[i] for i in indices])


class _TorchCodecReader:
    def __init__(self, path: Path, short_side: int | None, num_threads: int) -> None:
        try:
            from torchcodec.decoders import VideoDecoder
        except (ImportError, RuntimeError, OSError) as err:
            raise RuntimeError(
                "data.decoder=torchcodec needs `pip install torchcodec` and FFmpeg 4-8 shared "
                f"libraries (apt-get install libavdevice59), or use decord/pyav ({err})"
            ) from err

        def open_decoder(transforms: list[Any] | None = None) -> Any:
            return VideoDecoder(
                str(path),
                seek_mode="exact",
                dimension_order="NHWC",
                num_ffmpeg_threads=max(1, num_threads),
                transforms=transforms,
            )

        self._decoder = open_decoder()
        if short_side is not None:
            from torchvision.transforms import v2

            meta = self._decoder.metadata
            width, height = _scaled(int(meta.width or 0), int(meta.height or 0), short_side)
            self._decoder = open_decoder([v2.Resize((height, width))])
        meta = self._decoder.metadata
        self.num_frames = int(meta.num_frames or 0)
        self.fps = float(meta.average_fps or 0.0)

    def read(self, indices: list[int]) -> np.ndarray:
        frames: np.ndarray = self._decoder.get_frames_at(indices).data.numpy()
        return frames

    def close(self) -> None:
        del self._decoder


def _scaled(width: int, height: int, short_side: int) -> tuple[int, int]:
    scale = short_side / min(height, width)
    return round(width * scale), round(height * scale)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


NO_VIDEO_STREAM = "it holds no video stream (an audio-only file?)"
NOT_A_CONTAINER = "not a readable video file (a truncated download, or not a video at all)"
# decord's C++ log prefix: "[08:40:18] /github/workspace/src/video/video_reader.cc:83: "
_CPP_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+\.(?:cc|h|cpp):\d+: ")


def _decoder_text(err: BaseException) -> str:
    return _CPP_PREFIX.sub("", _first_line(err)).strip()


def open_failure(err: BaseException) -> str:
    """What an exception raised while opening a file means, in words (decord, PyAV, FFmpeg)."""
    text = _decoder_text(err)
    low = text.lower()
    if "cannot find video stream" in low or "no video stream" in low:
        return NO_VIDEO_STREAM
    if "av_read_frame failed" in low or "partial file" in low:
        return f"the file breaks off in the middle of its stream, a truncated download ({text})"
    if "invalid data found" in low or low.startswith("error reading") or "moov atom" in low:
        return NOT_A_CONTAINER
    return text


def read_failure(err: BaseException, first: int, last: int, num_frames: int) -> str:
    """What an exception raised while decoding frames ``first..last`` of ``num_frames`` means."""
    text = _decoder_text(err)
    low = text.lower()
    if "send_packet" in low or "sending packet" in low or "invalid data found" in low:
        text = "corrupt data in the stream"
    return (
        f"decoding frames {first}-{last} of {num_frames} failed after the file opened: {text} "
        "(a damaged or cut-off stream)"
    )
