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
from pathlib import Path
from typing import Any

import numpy as np

from deepvideo.data.datamodule import collate_samples, training_loader
from deepvideo.data.datasets import ClipDataset, EvalClips, VideoItem
from deepvideo.data.sampling import ClipSpec, EvalClipSampler, random_clip
from deepvideo.data.transforms import ClipTransform
from deepvideo.data.video import DECODERS, EncodedVideo, VideoDecodeError

# Karpathy et al. 2014, Sec. 3.3 (conf/data/sports1m.yaml sizes): resize 200, crop 170
PAPER_TRANSFORM = ClipTransform(resize=200, crop=170, mean=117.0)
# the clip shapes measured: single frame, Slow Fusion's 10 frames, Ng et al.'s 120 s at 1 fps
CLIP_SHAPES: dict[str, ClipSpec] = {
    "1 frame": ClipSpec(num_frames=1),
    "10 frames": ClipSpec(num_frames=10),
    "120 frames @ 1 fps": ClipSpec(num_frames=120, target_fps=1.0),
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


def sequential_decode_rate(path: str | Path, backend: str) -> float:
    """Frames/s decoding every frame of ``path`` in order to RGB, one thread, open included."""
    start = time.perf_counter()
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
    return count / (time.perf_counter() - start)


def clip_read_rate(
    paths: Sequence[str | Path],
    backend: str,
    spec: ClipSpec,
    num_clips: int,
    transform: ClipTransform | None = PAPER_TRANSFORM,
    seed: int = 0,
) -> float:
    """Frames/s of ``num_clips`` random clips, each read as a training item reads one: open the
    file (``paths`` in turn), draw a uniform random start, decode, and crop with ``transform``."""
    rng = np.random.default_rng(seed)
    frames = 0
    start = time.perf_counter()
    for c in range(num_clips):
        video = EncodedVideo(paths[c % len(paths)], backend=backend)
        clip = video.get_frames(random_clip(video.num_frames, spec, rng, video.fps))
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
) -> list[dict[str, Any]]:
    """One row per backend: the sequential decode rate of ``long_path`` and, per clip shape of
    :data:`CLIP_SHAPES` (the number of clips read in ``clips``), the clip read rate and its
    ``clip_read_over_sequential_decode``. 1- and 10-frame clips come from ``short_paths``, the
    1 fps sequence from ``long_path``."""
    clips = clips or {"1 frame": 200, "10 frames": 60, "120 frames @ 1 fps": 3}
    names = list(decoders) if decoders is not None else available_decoders(long_path)
    rows = []
    for name in names:
        row: dict[str, Any] = {"decoder": name}
        sequential = sequential_decode_rate(long_path, name)
        row["sequential_decode_fps"] = sequential
        for shape, count in clips.items():
            paths = [long_path] if "fps" in shape else list(short_paths)
            rate = clip_read_rate(paths, name, CLIP_SHAPES[shape], count, transform)
            row[f"{shape}: clip_read_fps"] = rate
            row[f"{shape}: clip_read_over_sequential_decode"] = rate / sequential
        rows.append(row)
    return rows


def loader_rate(
    dataset: ClipDataset,
    batch_size: int = 16,
    num_workers: int = 2,
    together: bool = False,
    warmup_batches: int = 2,
    max_batches: int | None = None,
) -> float:
    """Training clips/s of a DataLoader over ``dataset`` (one epoch, after ``warmup_batches``):
    shuffled clips read one by one, or (``together``) the clips of a video in one batch, read
    from one open and one decode."""
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
        if max_batches is not None and step + 1 >= warmup_batches + max_batches:
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
    """``rows`` (dicts with the same keys) as a Markdown table, rates to 3 significant digits."""
    keys = list(rows[0])

    def cell(value: Any) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r[k]) for k in keys) + " |" for r in rows]
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

    Returns the decoder table, the loader table (2 workers, batch 16), evaluation videos/s and
    the two headline figures: ``loader_clips_per_s`` (decord, clips read alone, by model clip
    length) and ``clip_read_over_sequential_decode`` (decord, 10-frame clips).
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
    decoders = ["decord"] if quick else available_decoders(long_path)
    counts = {"1 frame": 60, "10 frames": 20, "120 frames @ 1 fps": 2} if quick else None
    decoding = decoder_table(paths, long_path, decoders, counts)
    loading = loader_table(paths, decoders, max_batches=6 if quick else None)
    evaluation = eval_rate(paths[: 8 if quick else 30])
    decord = next(row for row in decoding if row["decoder"] == "decord")
    alone = {
        row["clip_frames"]: row["alone_clips_per_s"]
        for row in loading
        if row["decoder"] == "decord"
    }
    return {
        "videos": f"{len(paths)} synthetic videos, 320x240, 30 fps, H.264, 1 s keyframes",
        "decoders": decoding,
        "loaders": loading,
        "eval_videos_per_s": evaluation,
        "loader_clips_per_s": {"single_frame": alone.get(1), "slow_fusion": alone.get(10)},
        "clip_read_over_sequential_decode": decord["10 frames: clip_read_over_sequential_decode"],
    }
