"""Encoding rendered frames as the real datasets ship them.

``sports1m``: H.264 (``libx264``, yuv420p, ``crf`` 18, a keyframe every ``gop_seconds`` = 1 s so
random clip reads seek cheaply) in MP4. ``ucf101``: MPEG-4 part 2 in AVI with the ``XVID`` tag as
in the real UCF-101 (fixed quantiser ``mpeg4_qscale`` = 2, same keyframe interval). The 2-px
texture survives both (adjacent-row luminance differences on a striped object stay ~80 after
decoding with decord). The encoders run single-threaded; the MPEG-4 bytes were identical every
time, the H.264 ones not always (see :mod:`deepvideo.synthetic.layouts`, "Determinism").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from deepvideo.synthetic.layouts import SyntheticConfig


def encode_video(
    frames: np.ndarray | Iterable[np.ndarray], path: str | Path, config: SyntheticConfig
) -> int:
    """Write ``(T, H, W, 3)`` uint8 frames (an array, or ``(H, W, 3)`` frames one by one, so a
    long video need not sit in memory); the codec follows the suffix (.mp4 H.264, .avi XVID)."""
    import av

    stream_of_frames = iter(frames)
    first = next(stream_of_frames)
    path = Path(path)
    gop = max(1, round(config.gop_seconds * config.fps))
    rate = Fraction(config.fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        if path.suffix == ".avi":
            stream = container.add_stream("mpeg4", rate=rate)
            stream.options = {
                "g": str(gop),
                "flags": "+qscale",
                "global_quality": str(config.mpeg4_qscale * 118),  # FF_QP2LAMBDA
            }
            stream.codec_context.codec_tag = "XVID"
        else:
            stream = container.add_stream("libx264", rate=rate)
            stream.options = {
                "crf": str(config.crf),
                "preset": config.preset,
                "g": str(gop),
                "keyint_min": str(gop),
            }
        stream.width = first.shape[1]
        stream.height = first.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1  # the worker processes parallelise
        for frame in itertools.chain([first], stream_of_frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.stat().st_size
