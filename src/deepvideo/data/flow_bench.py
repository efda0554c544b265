"""What optical flow costs, and how it is stored: the measurements behind ``docs/flow.md``.

- :func:`method_table`: flow pairs per second of each method (:data:`deepvideo.data.flow.FLOW_METHODS`)
  on the same video, one thread (decoding excluded);
- :func:`encoding_table`: candidate codecs for the flow images, each written and read back by
  both decoders the project has (decord, PyAV: ``EncodedVideo``): the largest error against the
  values written, size and decode rate; the bound the data layer needs is 2 levels;
- :func:`dataset_costs`: what the measured rates mean for Sports-1M and UCF-101 on N cores.

:func:`run` does all three on a generated 320x240 30 fps H.264 video (the size
``scripts/prepare_videos.py`` leaves; the synthetic benchmark's content), ``scripts/bench_flow.py``
prints them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from deepvideo.data.flow import (
    FLOW_METHODS,
    flow_estimator,
    flow_to_image,
    grey_frame,
    pairs_per_second,
)
from deepvideo.data.prepare import frames_at_rate
from deepvideo.data.video import EncodedVideo

if TYPE_CHECKING:
    from av.video.stream import VideoStream

__all__ = ["CANDIDATES", "DATASETS", "dataset_costs", "encoding_table", "method_table", "run"]

# name, codec, pixel format, codec options
CANDIDATES: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    ("libx264 yuv420p crf 0", "libx264", "yuv420p", {"crf": "0"}),
    ("libx264 yuv444p qp 0 (lossless YUV)", "libx264", "yuv444p", {"qp": "0"}),
    ("libx264 yuv444p crf 4", "libx264", "yuv444p", {"crf": "4"}),
    ("libx264rgb crf 2", "libx264rgb", "rgb24", {"crf": "2"}),
    ("libx264rgb crf 10", "libx264rgb", "rgb24", {"crf": "10"}),
    ("libx264rgb qp 0 (lossless RGB, ours)", "libx264rgb", "rgb24", {"qp": "0"}),
)
# name: (videos, seconds of flow per video at most, where the figures come from)
DATASETS: dict[str, tuple[int, float, str]] = {
    "Sports-1M": (
        1_100_000,
        300.0,
        "1.1 M videos (Ng et al. Sec. 4.1), the first 5 minutes (their rule; the videos "
        "average 5 min 36 s, Karpathy et al. Sec. 4.1): an upper bound",
    ),
    "UCF-101": (13_320, 7.21, "13,320 clips of 7.21 s on average (Soomro et al. 2012)"),
}


def method_table(path: str | Path, pairs: Sequence[int] = (10, 40, 40)) -> list[dict[str, Any]]:
    """Pairs/s of every flow method on ``path`` (sampled at 15 fps), one thread each."""
    return [
        {"method": method, "pairs": n, "pairs_per_s": pairs_per_second(path, method, n)}
        for method, n in zip(FLOW_METHODS, pairs, strict=True)
    ]


def flow_images(path: str | Path, method: str = "tvl1", pairs: int = 20) -> np.ndarray:
    """``(pairs, H, W, 3)`` uint8 flow images of the first frames of ``path`` at 15 fps."""
    import av

    with av.open(str(path)) as reader:
        _, frames = frames_at_rate(reader, 15.0)
        grey = []
        for _, _, frame in frames:
            grey.append(grey_frame(frame))
            if len(grey) > pairs:
                break
    estimate = flow_estimator(method)
    return np.stack(
        [flow_to_image(estimate(a, b)) for a, b in zip(grey[:-1], grey[1:], strict=True)]
    )


def encoding_table(images: np.ndarray, folder: str | Path, rate: int = 15) -> list[dict[str, Any]]:
    """Each candidate of :data:`CANDIDATES` on ``images``: KiB per frame, and for decord and
    PyAV the largest decoded error per channel and the decode rate (frames per CPU second, one
    decoder thread)."""
    import av

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (name, codec, pix_fmt, options) in enumerate(CANDIDATES):
        path = folder / f"candidate_{index}.mp4"
        with av.open(str(path), "w", format="mp4") as writer:
            stream = cast("VideoStream", writer.add_stream(codec, rate=Fraction(rate)))
            stream.width, stream.height = images.shape[2], images.shape[1]
            stream.pix_fmt = pix_fmt
            stream.codec_context.thread_count = 1
            stream.options = {"preset": "veryfast", "g": str(rate), **options}
            for image in images:
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    writer.mux(packet)
            for packet in stream.encode():
                writer.mux(packet)
        row: dict[str, Any] = {
            "candidate": name,
            "kib_per_frame": path.stat().st_size / len(images) / 1024,
        }
        for backend in ("decord", "pyav"):
            start = time.process_time()  # CPU time: other work on the machine does not count
            video = EncodedVideo(path, backend=backend)
            decoded = video.get_frames(range(video.num_frames)).numpy()
            seconds = time.process_time() - start
            error = np.abs(decoded.astype(np.int16) - images.astype(np.int16))
            row[f"{backend}_max_error"] = error.reshape(-1, 3).max(0).tolist()
            row[f"{backend}_frames_per_s"] = video.num_frames / seconds
        worst = max(max(row["decord_max_error"]), max(row["pyav_max_error"]))
        row["within_2"] = worst <= 2
        rows.append(row)
    return rows


def dataset_costs(
    rates: Sequence[dict[str, Any]], cores: Sequence[int] = (16, 64, 1000), fps: float = 15.0
) -> list[dict[str, Any]]:
    """Core-hours per dataset and method at the measured pairs/s (one core per worker, flow
    alone), and the wall hours on each number of ``cores``."""
    rows = []
    for dataset, (videos, seconds, _) in DATASETS.items():
        pairs = videos * seconds * fps
        for rate in rates:
            core_hours = pairs / rate["pairs_per_s"] / 3600
            row = {"dataset": dataset, "method": rate["method"], "pairs": pairs}
            row["core_hours"] = core_hours
            row.update({f"hours_on_{n}_cores": core_hours / n for n in cores})
            rows.append(row)
    return rows


def run(root: str | Path = "data/bench", tvl1_pairs: int = 20) -> dict[str, Any]:
    """All three tables on a generated 320x240 30 fps video (made once under ``root``)."""
    from deepvideo.synthetic import SyntheticConfig, ensure_generated

    config = SyntheticConfig(
        height=240, width=320, fps=30.0, train_per_class=1, test_per_class=1,
        min_seconds=4.0, max_seconds=5.0,
    )  # fmt: skip
    folder = ensure_generated(Path(root) / "flow_320x240", config, workers=1, progress=False)
    video = sorted((folder / "videos").glob("*.mp4"))[0]
    methods = method_table(video, (tvl1_pairs, 40, 40))
    images = flow_images(video, "tvl1", tvl1_pairs)
    return {
        "video": f"{video.name}: 320x240, 30 fps, H.264 (synthetic), sampled at 15 fps",
        "methods": methods,
        "encoding": encoding_table(images, Path(root) / "flow_encoding"),
        "encoding_content": f"{len(images)} TV-L1 flow images of that video",
        "costs": dataset_costs(methods),
    }
