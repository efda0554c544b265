"""Optical flow images (Ng et al. 2015, Sec. 3.4), computed once per video and stored as videos.

Sec. 3.4: "Optical flow is computed from two adjacent frames sampled at 15fps using the approach
of [26] (Zach, Pock, Bischof 2007: TV-L1). [...] we store optical flow as images by thresholding
at -40, 40 and rescaling the horizontal and vertical components of the flow to [0, 255] range.
The third dimension is set to zero". So, for every ``<src>/<path>.<ext>``, ``<dst>/<path>.mp4``:

- **Frames**: the video decoded at ``fps`` (15; a video at a lower rate keeps its own), the first
  frame of every 1/15 s period (the rule of ``prepare_videos --max-fps``,
  :func:`deepvideo.data.prepare.frames_at_rate`), optionally only its first ``max_seconds``
  (Ng et al. use the first 5 minutes of a Sports-1M video, Sec. 4.1).
- **Flow**: between every two adjacent sampled frames, on their luma, by ``method``: ``tvl1``
  (the paper's, OpenCV contrib's ``DualTVL1OpticalFlow`` with its default parameters),
  ``farneback`` or ``dis`` (``DISOpticalFlow``, preset medium), 40-80x faster (``docs/flow.md``).
  OpenCV's convention: a point at ``(x, y)`` in frame k is at ``(x + u, y + v)`` in frame k + 1,
  so motion to the right is ``u > 0`` and motion down the image is ``v > 0``.
- **Image**: ``u`` and ``v`` clipped to ``[-bound, bound]`` (40 px) and rescaled to [0, 255]
  (``(f + 40) * 255 / 80``, rounded) in the first two channels, so 127.5 is no motion; the
  third channel 0. One step is 80 / 255 = 0.31 px.
- **Video**: H.264 lossless RGB (``libx264rgb``, ``qp`` 0, a keyframe every second) in MP4: a
  decoded value equals the written one (``yuv420p`` mixes the channels through the colour
  conversion and halves the chroma: errors up to 10 levels; lossless ``yuv444p`` still errs by
  2 through the conversion; every lossy RGB setting errs by 3 or more: ``docs/flow.md``).

**Timing**: flow frame k is the motion from sampled frame k to k + 1, stamped at frame k's time;
the flow video runs at the sampling rate and has one frame fewer. A sampler that asks for the
moment ``t`` seconds into the video (``data.target_fps``, Ng et al.'s 1 fps) gets frame
``floor(t * rate)`` of either file: the same moment, the flow being the motion that starts there.
When the source runs at 15 fps (or less, e.g. the synthetic sets), flow frame k belongs to RGB
frame k exactly; otherwise a clip of N consecutive native frames (``target_fps: null``) spans N
frames of the flow video's rate, not of the source's: set ``data.target_fps`` to compare like
with like.

Work is parallel (``workers`` processes, one OpenCV thread each), resumable (each output is
written under a temporary name and renamed when complete, so a rerun skips finished videos) and
never silent: every input comes back as a :class:`~deepvideo.data.prepare.Result`, and the
failures are listed with their reasons at the end (``scripts/compute_flow.py``). The settings
(method, rate, bound, codec) are written to ``<dst>/flow.json``, and a rerun with other settings
is refused, so a folder never mixes two computations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from deepvideo.data.prepare import (
    PrepareSummary,
    Result,
    check_folders,
    frames_at_rate,
    resumable,
    run_folder,
)

__all__ = [
    "FLOW_METHODS",
    "FlowOptions",
    "compute_flow",
    "flow_estimator",
    "flow_one",
    "flow_to_image",
    "grey_frame",
    "image_to_flow",
    "import_cv2",
    "pairs_per_second",
    "read_settings",
    "write_flow_video",
]

FLOW_METHODS: tuple[str, ...] = ("tvl1", "farneback", "dis")
# Lossless H.264 in RGB: decoded values are the written ones, whichever decoder reads them.
FLOW_CODEC: Final = "libx264rgb"
FLOW_PIX_FMT = "rgb24"
# written next to the flow videos: the settings they were made with
SETTINGS_FILE = "flow.json"
INSTALL_HINT = "pip install opencv-contrib-python-headless (a dependency of deepvideo)"


@dataclass(frozen=True)
class FlowOptions:
    """How every video's flow is computed and stored (Ng et al. 2015, Sec. 3.4; module doc)."""

    method: str = "tvl1"
    fps: float = 15.0
    bound: float = 40.0
    max_seconds: float | None = None
    keyframe_seconds: float = 1.0
    preset: str = "veryfast"
    verify: bool = False
    threads: int = 1

    def __post_init__(self) -> None:
        if self.method not in FLOW_METHODS:
            raise ValueError(f"unknown flow method {self.method!r}: use one of {FLOW_METHODS}")
        if not self.fps > 0 or not self.bound > 0 or not self.keyframe_seconds > 0:
            raise ValueError(
                f"need fps > 0, bound > 0 and keyframe_seconds > 0, got fps={self.fps}, "
                f"bound={self.bound}, keyframe_seconds={self.keyframe_seconds}"
            )
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0 or None, got {self.max_seconds}")


def import_cv2(method: str = "tvl1") -> Any:
    """OpenCV, checked to have what ``method`` needs; an ``ImportError`` that says how to get it.

    TV-L1 lives in the contrib build (``cv2.optflow``); a plain ``opencv-python`` lacks it, and two
    OpenCV wheels in one environment shadow each other, so the message says which to keep.
    """
    try:
        import cv2
    except ImportError as err:
        raise ImportError(f"optical flow needs OpenCV: {INSTALL_HINT} ({err})") from err
    if method == "tvl1" and not hasattr(
        getattr(cv2, "optflow", None), "DualTVL1OpticalFlow_create"
    ):
        raise ImportError(
            f"--method tvl1 needs OpenCV's contrib build (cv2.optflow), which OpenCV "
            f"{cv2.__version__} here lacks: pip uninstall opencv-python opencv-python-headless; "
            f"{INSTALL_HINT}; or use --method farneback|dis"
        )
    return cv2


def flow_estimator(method: str, threads: int = 1) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``(previous, next)`` uint8 grey frames -> ``(H, W, 2)`` float32 flow ``(u, v)`` in pixels
    (OpenCV's convention: right and down are positive), by ``method`` on ``threads`` threads."""
    cv2 = import_cv2(method)
    cv2.setNumThreads(threads)
    if method == "tvl1":
        # Zach et al. 2007, the paper's [26]; OpenCV's defaults (5 scales, 5 warps, lambda 0.15)
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        return lambda a, b: tvl1.calc(a, b, None)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return lambda a, b: dis.calc(a, b, None)
    if method == "farneback":
        # pyramid 0.5 x 3 levels, 15 px window, 3 iterations, poly_n 5, poly_sigma 1.2: the
        # parameters of OpenCV's own dense-flow sample
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    raise ValueError(f"unknown flow method {method!r}: use one of {FLOW_METHODS}")


def flow_to_image(flow: np.ndarray, bound: float = 40.0) -> np.ndarray:
    """``(H, W, 2)`` flow in pixels -> ``(H, W, 3)`` uint8 image: ``u`` and ``v`` clipped to
    ``[-bound, bound]`` and rescaled to [0, 255] (127.5 = no motion), third channel 0 (Sec. 3.4)."""
    scaled = (np.clip(flow[..., :2], -bound, bound) + bound) * (255.0 / (2.0 * bound))
    image = np.zeros((*flow.shape[:2], 3), dtype=np.uint8)
    image[..., :2] = np.rint(scaled).astype(np.uint8)
    return image


def image_to_flow(image: np.ndarray, bound: float = 40.0) -> np.ndarray:
    """The inverse of :func:`flow_to_image`: ``(..., >=2)`` uint8 -> ``(..., 2)`` float32 pixels,
    within half a step (``bound / 255``) of the flow written, when it was inside the bound."""
    values = np.asarray(image[..., :2], dtype=np.float32)
    return values * np.float32(2.0 * bound / 255.0) - np.float32(bound)


def grey_frame(frame: Any) -> np.ndarray:
    """A decoded PyAV frame's luma as a contiguous ``(H, W)`` uint8 array (FFmpeg pads rows to
    an alignment; OpenCV's DIS refuses a padded view)."""
    return np.ascontiguousarray(frame.to_ndarray(format="gray"))


def write_flow_video(source: Path, partial: Path, options: FlowOptions) -> str:
    """The flow video of ``source`` into ``partial`` (module doc); returns what it wrote."""
    import av

    estimate = flow_estimator(options.method, options.threads)
    written = 0
    with av.open(str(source)) as reader:
        rate, frames = frames_at_rate(reader, options.fps, options.threads)
        gop = max(1, round(options.keyframe_seconds * rate))
        with av.open(str(partial), "w", format="mp4") as writer:
            stream = None
            previous: np.ndarray | None = None
            previous_pts = first_pts = 0
            for pts, seconds, frame in frames:
                if options.max_seconds is not None and seconds >= options.max_seconds:
                    break
                grey = grey_frame(frame)
                if previous is not None:
                    if stream is None:
                        stream = writer.add_stream(FLOW_CODEC, rate=rate)
                        stream.width, stream.height = grey.shape[1], grey.shape[0]
                        stream.pix_fmt = FLOW_PIX_FMT
                        stream.codec_context.time_base = 1 / rate
                        stream.codec_context.thread_count = options.threads
                        stream.options = {
                            "qp": "0",
                            "preset": options.preset,
                            "g": str(gop),
                            "keyint_min": str(gop),
                        }
                    image = flow_to_image(estimate(previous, grey), options.bound)
                    out = av.VideoFrame.from_ndarray(image, format="rgb24")
                    out.pts = previous_pts - first_pts  # stamped at the start of the motion
                    out.time_base = 1 / rate
                    for packet in stream.encode(out):
                        writer.mux(packet)
                    written += 1
                else:
                    first_pts = pts
                previous, previous_pts = grey, pts
            if stream is None:
                raise ValueError(
                    f"a flow video needs at least 2 frames at {float(rate):g} fps, the video has "
                    f"{0 if previous is None else 1}"
                )
            for packet in stream.encode():
                writer.mux(packet)
    return f"{written} flow frames at {float(rate):g} fps ({options.method})"


def flow_one(job: tuple[Path, Path, FlowOptions]) -> Result:
    """The flow video of one input unless it exists (and, with ``verify``, decodes)."""
    source, target, options = job
    return resumable(
        source, target, lambda partial: write_flow_video(source, partial, options), options.verify
    )


def compute_flow(
    src: str | Path,
    dst: str | Path,
    options: FlowOptions,
    workers: int = 1,
    report: Callable[[Result], None] | None = None,
    progress: bool = False,
) -> PrepareSummary:
    """The flow video of every video under ``src``, into ``dst`` (same relative paths, ``.mp4``),
    ``workers`` processes at a time; ``report`` sees each result as it comes, ``progress`` shows
    a bar. Raises before any work when OpenCV lacks the method or the folders are wrong."""
    import_cv2(options.method)
    check_settings(Path(dst), options)
    check_folders(Path(src), Path(dst))
    # written first, so that a run stopped half-way is resumed only with the same settings
    Path(dst).mkdir(parents=True, exist_ok=True)
    (Path(dst) / SETTINGS_FILE).write_text(json.dumps(flow_settings(options), indent=2) + "\n")
    return run_folder(
        Path(src), Path(dst), flow_one, options, workers, report, "compute_flow", progress
    )


def flow_settings(options: FlowOptions) -> dict[str, Any]:
    """What makes two flow videos comparable: method, rate, bound and storage."""
    return {
        "method": options.method,
        "fps": options.fps,
        "bound": options.bound,
        "max_seconds": options.max_seconds,
        "codec": f"{FLOW_CODEC} qp 0 ({FLOW_PIX_FMT})",
    }


def read_settings(dst: str | Path) -> dict[str, Any] | None:
    """The settings a flow folder was made with (``flow.json``), None when it has none."""
    path = Path(dst) / SETTINGS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def check_settings(dst: Path, options: FlowOptions) -> None:
    """Refuse to add videos of other settings to a flow folder (a resumed run must be the same
    computation), naming the folder, what differs and the fix."""
    made = read_settings(dst)
    wanted = flow_settings(options)
    if made is None:
        return
    differs = {k: (made.get(k), v) for k, v in wanted.items() if made.get(k) != v}
    if differs:
        what = ", ".join(f"{k} {a!r} there vs {b!r} now" for k, (a, b) in differs.items())
        raise ValueError(
            f"{dst} holds flow made with other settings ({what}, {dst / SETTINGS_FILE}): pass "
            "the same options to resume it, or another output folder"
        )


def pairs_per_second(
    path: str | Path, method: str, pairs: int = 20, fps: float = 15.0, threads: int = 1
) -> float:
    """Flow pairs per CPU second of ``method`` on the first ``pairs`` pairs of ``path`` sampled
    at ``fps``, on ``threads`` threads: the flow alone (decoding and encoding excluded), timed by
    the process's CPU time, so that other work on a shared machine does not count (with one
    thread: pairs per second of one core)."""
    import av

    with av.open(str(path)) as reader:
        _, frames = frames_at_rate(reader, fps)
        grey = []
        for _, _, frame in frames:
            grey.append(grey_frame(frame))
            if len(grey) > pairs:
                break
    if len(grey) < 2:
        raise ValueError(f"{path} has fewer than 2 frames at {fps:g} fps")
    estimate = flow_estimator(method, threads)
    estimate(grey[0], grey[1])  # warm-up (allocations)
    start = time.process_time()
    for a, b in zip(grey[:-1], grey[1:], strict=True):
        estimate(a, b)
    return (len(grey) - 1) / (time.process_time() - start)
