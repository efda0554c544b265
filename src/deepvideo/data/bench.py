"""How fast the data layer reads video: decoder backends, clip reads and training loaders.

Library functions a benchmark script or report calls; every rate is measured in the calling
process on the files given, so compare rates as ratios taken in one run (a shared machine is
noisy):

- :func:`sequential_decode_rate`: the codec's own speed, every frame in order to RGB (frames/s).
- :func:`clip_read_rate`: training-style clip reads, each opening the file, drawing a random
  clip (:func:`~deepvideo.data.sampling.random_clip`), decoding it and, with a transform, the
  Sec. 3.3 crop (frames/s); over the sequential rate it says what random access costs.
- :func:`loader_rate`: training DataLoader throughput (clips/s) over a :class:`ClipDataset`,
  reading each clip alone or the clips of a video together (:class:`VideoClipsBatchSampler`).
- :func:`decoder_table` and :func:`loader_table` run those over backends and clip shapes;
  :func:`make_long_video` writes an Ng et al. (2015)-length video from short ones.
- :func:`eval_rate`: evaluation videos/s (every clip x view of a video from one decode).
- :func:`run`: all of it on a generated 320x240 set (the size ``prepare_videos.py`` leaves), as
  ``scripts/benchmark.py`` reports it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepvideo.data.datamodule import collate_samples, training_loader
from deepvideo.data.datasets import ClipDataset, EvalClips, VideoItem, decode_clips
from deepvideo.data.sampling import ClipSpec, EvalClipSampler, random_clip
from deepvideo.data.transforms import ClipTransform
from deepvideo.data.video import DECODERS, DEFAULT_DECODER, EncodedVideo, VideoDecodeError

# Karpathy et al. 2014, Sec. 3.3 (conf/data/sports1m.yaml sizes): resize 200, crop 170
PAPER_TRANSFORM = ClipTransform(resize=200, crop=170, mean=117.0)


@dataclass(frozen=True)
class ClipRead:
    """One way of reading clips: the clip, how many clips each open of a video reads (1: a
    training item read alone; 8: the synthetic recipe's clips of a video read together, as
    ``data.train_clips_together`` does; 20: evaluation's clips), and from which videos."""

    spec: ClipSpec
    clips_per_open: int = 1
    long_video: bool = False


# Karpathy et al.'s single frame and Slow Fusion's 10 frames, read alone and 8 to an open (on the
# short videos and on the 150 s one), and Ng et al.'s 120 one-second frames
CLIP_READS: dict[str, ClipRead] = {
    "1 frame": ClipRead(ClipSpec(num_frames=1)),
    "10 frames": ClipRead(ClipSpec(num_frames=10)),
    "10 frames, 8 per open": ClipRead(ClipSpec(num_frames=10), clips_per_open=8),
    "10 frames, 8 per open, 150 s video": ClipRead(
        ClipSpec(num_frames=10), clips_per_open=8, long_video=True
    ),
    "120 frames @ 1 fps": ClipRead(ClipSpec(num_frames=120, target_fps=1.0), long_video=True),
}


def available_decoders(path: str | Path, decoders: Iterable[str] = DECODERS) -> list[str]:
    """The backends among ``decoders`` that open ``path`` here (torchcodec needs system FFmpeg)."""
    usable = []
    for name in decoders:
        try:
            EncodedVideo(path, backend=name).get_frames([0])
        except VideoDecodeError:
            continue
        usable.append(name)
    return usable


def sequential_decode_rate(paths: Sequence[str | Path], backend: str) -> float:
    """Frames/s decoding every frame of each of ``paths`` in order to RGB, one thread, each open
    included: the codec's ceiling for reads of those files."""
    count = 0
    start = time.perf_counter()
    for path in paths:
        count += _decode_all(path, backend)
    return count / (time.perf_counter() - start)


def _decode_all(path: str | Path, backend: str) -> int:
    count = 0
    if backend == "decord":
        import decord

        reader = decord.VideoReader(str(path), num_threads=1)
        for _ in range(len(reader)):
            reader.next().asnumpy()
            count += 1
    elif backend == "pyav":
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for frame in container.decode(stream):
                frame.to_ndarray(format="rgb24")
                count += 1
    elif backend == "torchcodec":
        from torchcodec.decoders import VideoDecoder

        decoder = VideoDecoder(str(path), dimension_order="NHWC", num_ffmpeg_threads=1)
        total = len(decoder)
        for first in range(0, total, 64):
            count += len(decoder.get_frames_in_range(first, min(first + 64, total)).data)
    else:
        raise ValueError(f"unknown decoder {backend!r}; use one of {DECODERS}")
    return count


def clip_read_rate(
    paths: Sequence[str | Path],
    backend: str,
    spec: ClipSpec,
    num_clips: int,
    clips_per_open: int = 1,
    transform: ClipTransform | None = None,
    seed: int = 0,
) -> float:
    """Frames/s of ``num_clips`` random clips read as training reads them: open a video
    (``paths`` in turn), draw ``clips_per_open`` uniform random clips, decode their frames in one
    sorted read (:func:`~deepvideo.data.datasets.decode_clips`) and, with ``transform``, crop
    each (Sec. 3.3). Without ``transform`` it is the decoder's work alone, comparable with
    :func:`sequential_decode_rate`."""
    rng = np.random.default_rng(seed)
    frames = 0
    start = time.perf_counter()
    for c in range(-(-num_clips // clips_per_open)):
        video = EncodedVideo(paths[c % len(paths)], backend=backend)
        positions = [
            random_clip(video.num_frames, spec, rng, video.fps) for _ in range(clips_per_open)
        ]
        decoded = decode_clips(video, positions)
        for clip_index in range(clips_per_open):
            clip = decoded.clip_frames(clip_index)
            if transform is not None:
                transform.train(clip, rng)
            frames += len(clip)
    return frames / (time.perf_counter() - start)


def decoder_table(
    short_paths: Sequence[str | Path],
    long_path: str | Path,
    decoders: Iterable[str] | None = None,
    clips: dict[str, int] | None = None,
    transform: ClipTransform | None = PAPER_TRANSFORM,
    short_sequential: Sequence[str | Path] | None = None,
) -> list[dict[str, Any]]:
    """One row per backend: the sequential decode rate of the files each read uses (every frame
    in order, open included: ``long_path``, and ``short_sequential``, default ``short_paths``)
    and, per clip read of :data:`CLIP_READS` (``clips``: how many clips of each), the frames/s
    of the decode alone (``read_fps``), that over the sequential rate of the same files
    (``read_over_sequential``) and the rate with the paper's crop (``read+crop_fps``)."""
    clips = clips or {
        "1 frame": 200,
        "10 frames": 60,
        "10 frames, 8 per open": 240,
        "10 frames, 8 per open, 150 s video": 64,
        "120 frames @ 1 fps": 3,
    }
    names = list(decoders) if decoders is not None else available_decoders(long_path)
    rows = []
    for name in names:
        row: dict[str, Any] = {"decoder": name}
        sequential = {
            False: sequential_decode_rate(short_sequential or short_paths, name),
            True: sequential_decode_rate([long_path], name),
        }
        row["sequential_decode_fps (short videos)"] = sequential[False]
        row["sequential_decode_fps (150 s video)"] = sequential[True]
        for shape, count in clips.items():
            read = CLIP_READS[shape]
            paths = [long_path] if read.long_video else list(short_paths)
            rate = clip_read_rate(paths, name, read.spec, count, read.clips_per_open)
            row[f"{shape}: read_fps"] = rate
            row[f"{shape}: read_over_sequential"] = rate / sequential[read.long_video]
            if transform is not None:
                row[f"{shape}: read+crop_fps"] = clip_read_rate(
                    paths, name, read.spec, count, read.clips_per_open, transform
                )
        rows.append(row)
    return rows


def loader_rate(
    dataset: ClipDataset,
    batch_size: int = 16,
    num_workers: int = 2,
    together: bool = False,
    warmup_batches: int | None = 2,
    max_batches: int | None = None,
) -> float:
    """Training clips/s of a DataLoader over ``dataset`` (one epoch, after ``warmup_batches``):
    shuffled clips read one by one, or (``together``) the clips of a video in one batch, read
    from one open and one decode. ``warmup_batches=None`` times every batch from the loader's
    creation, workers' start included: for epochs of a few batches, where the batches the
    workers prefetch during a warm-up would arrive at once and inflate the rate."""
    drop_last = len(dataset) >= batch_size
    loader = training_loader(
        dataset,
        batch_size,
        together,
        drop_last,
        num_workers=num_workers,
        collate_fn=collate_samples,
    )
    clips = 0
    start = time.perf_counter()
    for step, batch in enumerate(loader):
        if step == warmup_batches:
            clips, start = 0, time.perf_counter()
        clips += len(batch["label"])
        if max_batches is not None and step + 1 >= (warmup_batches or 0) + max_batches:
            break
    return clips / (time.perf_counter() - start)


def loader_table(
    paths: Sequence[str | Path],
    decoders: Iterable[str] = ("decord",),
    clip_frames: Sequence[int] = (1, 10),
    clips_per_video: int = 8,
    batch_size: int = 16,
    num_workers: int = 2,
    transform: ClipTransform = PAPER_TRANSFORM,
    max_batches: int | None = None,
) -> list[dict[str, Any]]:
    """Training DataLoader clips/s over the videos ``paths``, per decoder and clip length, with
    the clips of a video read one by one (``alone``) and together (``together``)."""
    videos = [VideoItem(Path(p), (0,), Path(p).stem) for p in paths]
    rows = []
    for name in decoders:
        for frames in clip_frames:
            data = ClipDataset(
                videos,
                1,
                ClipSpec(num_frames=frames),
                transform,
                train=True,
                train_clips_per_video=clips_per_video,
                decoder=name,
            )
            row: dict[str, Any] = {"decoder": name, "clip_frames": frames}
            for mode in ("alone", "together"):
                row[f"{mode}_clips_per_s"] = loader_rate(
                    data, batch_size, num_workers, mode == "together", max_batches=max_batches
                )
            row["together_over_alone"] = row["together_clips_per_s"] / row["alone_clips_per_s"]
            rows.append(row)
    return rows


def sequence_loader_rate(
    path: str | Path,
    decoder: str = DEFAULT_DECODER,
    frames: int = 120,
    fps: float = 1.0,
    copies: int = 16,
    batch_size: int = 2,
    num_workers: int = 2,
    transform: ClipTransform = PAPER_TRANSFORM,
) -> float:
    """Training clips/s of a DataLoader of Ng et al.'s sequences (``frames`` frames at ``fps``
    from a random start, Sec. 4.1) over ``copies`` entries of the long video ``path``, timed
    over the whole epoch from the loader's creation (a few batches: see :func:`loader_rate`)."""
    videos = [VideoItem(Path(path), (0,), f"{Path(path).stem}_{i}") for i in range(copies)]
    data = ClipDataset(
        videos,
        1,
        ClipSpec(num_frames=frames, target_fps=fps),
        transform,
        train=True,
        decoder=decoder,
    )
    return loader_rate(data, batch_size, num_workers, warmup_batches=None)


def make_long_video(
    sources: Sequence[str | Path], path: str | Path, seconds: float = 150.0
) -> Path:
    """An Ng et al.-length video: the frames of ``sources`` one after another (repeated as
    needed) until ``seconds``, encoded as the synthetic sports1m videos are
    (:func:`deepvideo.synthetic.encode.encode_video`: H.264, a keyframe a second)."""
    from deepvideo.synthetic.encode import encode_video
    from deepvideo.synthetic.layouts import SyntheticConfig

    fps = EncodedVideo(sources[0]).fps
    wanted = int(round(seconds * fps))

    def frames() -> Iterator[np.ndarray]:
        written = 0
        while written < wanted:
            for source in sources:
                video = EncodedVideo(source)
                take = min(video.num_frames, wanted - written)
                yield from video.get_frames(list(range(take))).numpy()
                written += take
                if written >= wanted:
                    return

    encode_video(frames(), path, SyntheticConfig(fps=fps))
    return Path(path)


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """``rows`` as a Markdown table, rates to 3 significant digits: a column for every key of
    any row (in first-seen order), ``—`` where a row has none."""
    keys = list(dict.fromkeys(k for r in rows for k in r))

    def cell(value: Any) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k, "—")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def eval_rate(
    paths: Sequence[str | Path],
    clips_per_video: int = 20,
    views: int = 4,
    num_frames: int = 10,
    backend: str = "decord",
    transform: ClipTransform = PAPER_TRANSFORM,
) -> float:
    """Evaluation videos/s (Karpathy et al. 2014, Sec. 4.1: 20 clips x 4 views a video): each
    video opened once, its clips' frames decoded in one sorted read, every view cropped."""
    clips = EvalClips(
        EvalClipSampler(ClipSpec(num_frames=num_frames), clips_per_video), transform, views
    )
    start = time.perf_counter()
    for path in paths:
        video_id = Path(path).stem
        decoded = clips.decode(EncodedVideo(path, backend=backend), video_id)
        for clip_index in range(clips_per_video):
            clips.views_of(decoded, video_id, clip_index)
    return len(paths) / (time.perf_counter() - start)


def run(quick: bool = False, root: str | Path = "data/bench") -> dict[str, Any]:
    """The data-path benchmark on a generated 320x240 H.264 set under ``root`` (made once).

    Returns the decoder table (decord and PyAV side by side; torchcodec where it loads), the
    loader table (2 workers, batch 16), evaluation videos/s and the headline figures:
    ``loader_clips_per_s`` (the default decoder, by model clip length, clips read one by one as
    every data config reads them by default, and Ng et al.'s 120 frames at 1 fps) and
    ``clip_read_over_sequential_decode`` (10-frame clips, 8 to an open, decode alone over the
    sequential decode of the same files);
    ``clip_read_alone_over_sequential_decode`` is the same for a clip read alone.
    """
    from deepvideo.synthetic import SyntheticConfig, ensure_generated

    config = SyntheticConfig(
        height=240, width=320, fps=30.0, train_per_class=3 if quick else 8, test_per_class=1
    )
    name = "synthetic_320x240" + ("_quick" if quick else "")
    folder = ensure_generated(Path(root) / name, config, workers=2, progress=False)
    paths = sorted((folder / "videos").glob("*.mp4"))
    long_path = Path(root) / "long_150s.mp4"
    if not long_path.is_file():
        make_long_video(paths[:20], long_path, seconds=150.0)
    decoders = available_decoders(long_path, ("decord", "pyav") if quick else DECODERS)
    counts = None
    if quick:
        counts = {
            "1 frame": 60,
            "10 frames": 24,
            "10 frames, 8 per open": 96,
            "10 frames, 8 per open, 150 s video": 24,
            "120 frames @ 1 fps": 2,
        }
    decoding = decoder_table(paths, long_path, decoders, counts, short_sequential=paths[:12])
    loading = loader_table(paths, decoders, max_batches=6 if quick else None)
    sequences = [
        {
            "decoder": d,
            "clip_frames": "120 @ 1 fps (150 s video)",
            "alone_clips_per_s": sequence_loader_rate(long_path, d, copies=8 if quick else 16),
        }
        for d in decoders
    ]
    evaluation = {d: eval_rate(paths[: 8 if quick else 30], backend=d) for d in decoders}
    default = next(row for row in decoding if row["decoder"] == DEFAULT_DECODER)
    # what training reads by default: every data config has train_clips_together: false
    alone = {
        row["clip_frames"]: row["alone_clips_per_s"]
        for row in loading
        if row["decoder"] == DEFAULT_DECODER
    }
    ng = next(row for row in sequences if row["decoder"] == DEFAULT_DECODER)
    return {
        "videos": f"{len(paths)} synthetic videos, 320x240, 30 fps, H.264, 1 s keyframes",
        "decoders": decoding,
        "loaders": loading + sequences,
        "eval_videos_per_s": evaluation,
        "loader_clips_per_s": {
            "single_frame": alone.get(1),
            "slow_fusion": alone.get(10),
            "ng2015_120_frames_1fps": ng["alone_clips_per_s"],
        },
        "clip_read_over_sequential_decode": default["10 frames, 8 per open: read_over_sequential"],
        "clip_read_alone_over_sequential_decode": default["10 frames: read_over_sequential"],
    }
