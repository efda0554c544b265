#!/usr/bin/env python
"""Re-encode a folder of downloaded videos for fast training (H.264, small, many keyframes).

Every ``<src>/<path>.<ext>`` becomes ``<dst>/<path>.mp4`` (the id-based Sports-1M layout
``<id>.mp4`` and UCF-101's ``<ClassName>/<clip>.mp4`` alike): video only (audio is dropped),
scaled so that its short side is ``--short-side`` (default 128; never upscaled), a keyframe every
``--keyframe-seconds`` (default 1 s) so that a random clip read seeks to a keyframe close by,
optionally at most ``--max-fps`` frames per second.

Karpathy et al. 2014 (Sec. 4.1) resize frames to 200 px before the 170 px crop: use
``--short-side 200`` to train at paper resolution, or keep 128 for a much faster data loader and
set ``data.sizes.resize``/``data.sizes.crop`` to match.

Resumable: each output is written under a temporary name and renamed when complete, so a file at
the final name is complete and is skipped on the next run (``--verify`` also decodes one frame of
it, and of every new output, and redoes a file that does not decode). A broken input is reported
with its path and skipped; it never stops the batch. The last line is a summary
(done / skipped / failed); the exit status is 1 if anything failed. Examples::

    python scripts/prepare_videos.py data/sports1m/raw data/sports1m/videos --workers 8
    python scripts/prepare_videos.py data/ucf101/UCF-101 data/ucf101_128 --max-fps 25 --verify
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from deepvideo.data.video import VIDEO_EXTENSIONS

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class EncodeOptions:
    """How every video is re-encoded (see the module docstring)."""

    short_side: int = 128
    keyframe_seconds: float = 1.0
    max_fps: float | None = None
    crf: int = 23
    preset: str = "veryfast"
    verify: bool = False
    threads: int = 1


@dataclass(frozen=True)
class Result:
    """What happened to one input: ``done``, ``skipped`` or ``failed`` (with the reason)."""

    status: str
    source: str
    target: str
    message: str = ""


def find_videos(src: Path, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """Every video file under ``src`` (recursively; hidden and partial files left out), sorted."""
    allowed = {e.lower() for e in extensions}
    found = []
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in allowed:
                found.append(Path(folder) / name)
    return sorted(found)


def target_for(source: Path, src: Path, dst: Path) -> Path:
    """``<dst>/<path relative to src>.mp4``."""
    return (dst / source.relative_to(src)).with_suffix(".mp4")


def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) scaled so the short side is ``short_side`` (never up), both even."""
    scale = min(1.0, short_side / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def decodes_a_frame(path: Path) -> str | None:
    """``None`` if ``path`` decodes at least one video frame, else the reason."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "no video stream"
            for _ in container.decode(video=0):
                return None
        return "no video frame decodes"
    except Exception as err:  # PyAV raises av.error.* and plain OSError/ValueError
        return _first_line(err)


def encode(source: Path, partial: Path, options: EncodeOptions) -> int:
    """Re-encode ``source`` into ``partial`` (MP4, H.264); returns the number of frames written."""
    import av

    with av.open(str(source)) as reader:
        if not reader.streams.video:
            raise ValueError("no video stream")
        in_stream = reader.streams.video[0]
        in_stream.thread_type = "AUTO"
        in_stream.codec_context.thread_count = options.threads
        in_rate = Fraction(in_stream.average_rate or in_stream.guessed_rate or 25)
        out_rate = in_rate
        if options.max_fps is not None and in_rate > options.max_fps:
            out_rate = Fraction(options.max_fps).limit_denominator(1001)
        gop = max(1, round(options.keyframe_seconds * out_rate))
        written = 0
        last_pts = -1
        with av.open(str(partial), "w", format="mp4") as writer:
            out_stream = None
            for index, frame in enumerate(reader.decode(in_stream)):
                # The output frame index from the frame's own time: keeps the timing of
                # variable-rate inputs; when capping the rate, the first frame of each output
                # period is kept and the others dropped.
                seconds = frame.time if frame.time is not None else float(index / in_rate)
                ticks = seconds * out_rate
                pts = math.floor(ticks + 1e-3) if out_rate < in_rate else round(ticks)
                if written and pts <= last_pts:
                    continue
                if out_stream is None:
                    width, height = output_size(frame.width, frame.height, options.short_side)
                    out_stream = writer.add_stream("libx264", rate=out_rate)
                    out_stream.width, out_stream.height = width, height
                    out_stream.pix_fmt = "yuv420p"
                    out_stream.codec_context.time_base = 1 / out_rate
                    out_stream.codec_context.thread_count = options.threads
                    out_stream.options = {
                        "crf": str(options.crf),
                        "preset": options.preset,
                        "g": str(gop),
                        "keyint_min": str(gop),
                    }
                    first_pts = pts
                image = frame.reformat(width, height, format="yuv420p", interpolation="AREA")
                image.pts = pts - first_pts
                image.time_base = 1 / out_rate
                last_pts = pts
                for packet in out_stream.encode(image):
                    writer.mux(packet)
                written += 1
            if out_stream is None:
                raise ValueError("no video frame decodes")
            for packet in out_stream.encode():
                writer.mux(packet)
    return written


def prepare_one(job: tuple[Path, Path, EncodeOptions]) -> Result:
    """Re-encode one video unless its output exists (and, with ``verify``, decodes)."""
    source, target, options = job
    if target.is_file():
        problem = decodes_a_frame(target) if options.verify else None
        if problem is None:
            return Result("skipped", str(source), str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}{PARTIAL_SUFFIX}-{os.getpid()}")
    try:
        frames = encode(source, partial, options)
        if options.verify:
            problem = decodes_a_frame(partial)
            if problem is not None:
                raise ValueError(f"the re-encoded file does not decode: {problem}")
        os.replace(partial, target)
    except Exception as err:
        partial.unlink(missing_ok=True)
        return Result("failed", str(source), str(target), _first_line(err))
    return Result("done", str(source), str(target), f"{frames} frames")


def prepare_folder(
    src: Path, dst: Path, options: EncodeOptions, workers: int = 1
) -> Iterator[Result]:
    """Re-encode every video under ``src`` into ``dst``, ``workers`` processes at a time."""
    jobs = [(source, target_for(source, src, dst), options) for source in find_videos(src)]
    if workers <= 1:
        yield from map(prepare_one, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(prepare_one, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = EncodeOptions()
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("src", type=Path, help="folder of downloaded videos")
    parser.add_argument("dst", type=Path, help="output folder (same layout, .mp4)")
    parser.add_argument(
        "--short-side",
        type=int,
        default=defaults.short_side,
        help="short side in pixels (default 128; the paper resizes to 200 before its 170 crop)",
    )
    parser.add_argument(
        "--keyframe-seconds",
        type=float,
        default=defaults.keyframe_seconds,
        help="keyframe interval in seconds (default 1)",
    )
    parser.add_argument("--max-fps", type=float, default=None, help="cap the frame rate")
    parser.add_argument("--crf", type=int, default=defaults.crf, help="x264 quality (default 23)")
    parser.add_argument("--preset", default=defaults.preset, help="x264 preset (default veryfast)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument(
        "--verify", action="store_true", help="decode a frame of every output (existing too)"
    )
    parser.add_argument("--quiet", action="store_true", help="only the summary and failures")
    args = parser.parse_args(argv)
    if args.short_side < 2 or args.keyframe_seconds <= 0 or args.workers < 1:
        parser.error("need --short-side >= 2, --keyframe-seconds > 0 and --workers >= 1")
    if args.max_fps is not None and args.max_fps <= 0:
        parser.error("--max-fps must be > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.src.is_dir():
        print(f"error: no folder {args.src}; pass the folder holding the videos", file=sys.stderr)
        return 2
    if args.dst.resolve() == args.src.resolve():
        print("error: dst must differ from src (outputs would replace inputs)", file=sys.stderr)
        return 2
    options = EncodeOptions(
        short_side=args.short_side,
        keyframe_seconds=args.keyframe_seconds,
        max_fps=args.max_fps,
        crf=args.crf,
        preset=args.preset,
        verify=args.verify,
    )
    start = time.perf_counter()
    counts = {"done": 0, "skipped": 0, "failed": 0}
    for result in prepare_folder(args.src, args.dst, options, args.workers):
        counts[result.status] += 1
        if result.status == "failed":
            print(f"failed: {result.source}: {result.message}; skipped", file=sys.stderr)
        elif result.status == "done" and not args.quiet:
            print(f"done: {result.target} ({result.message})", file=sys.stderr)
    seconds = time.perf_counter() - start
    print(
        f"prepare_videos: done {counts['done']}, skipped {counts['skipped']}, failed "
        f"{counts['failed']} ({sum(counts.values())} videos under {args.src} -> {args.dst}, "
        f"{seconds:.1f} s)"
    )
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
