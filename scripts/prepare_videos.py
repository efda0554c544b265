#!/usr/bin/env python
"""Re-encode a folder of downloaded videos for fast training (H.264, small, many keyframes).

Every ``<src>/<path>.<ext>`` becomes ``<dst>/<path>.mp4`` (the id-based Sports-1M layout
``<id>.mp4`` and UCF-101's ``<ClassName>/<clip>.mp4`` alike): video only (audio is dropped),
scaled so that its short side is ``--short-side`` (default 128; never upscaled), a keyframe every
``--keyframe-seconds`` (default 1 s) so that a random clip read seeks to a keyframe close by,
optionally at most ``--max-fps`` frames per second (:mod:`deepvideo.data.prepare`).

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
import sys
from collections.abc import Sequence
from pathlib import Path

from deepvideo.data.prepare import EncodeOptions, Result, prepare_videos


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
    options = EncodeOptions(
        short_side=args.short_side,
        keyframe_seconds=args.keyframe_seconds,
        max_fps=args.max_fps,
        crf=args.crf,
        preset=args.preset,
        verify=args.verify,
    )

    def report(result: Result) -> None:
        if result.status == "failed":
            print(f"failed: {result.source}: {result.message}; skipped", file=sys.stderr)
        elif result.status == "done" and not args.quiet:
            print(f"done: {result.target} ({result.message})", file=sys.stderr)

    try:
        summary = prepare_videos(args.src, args.dst, options, args.workers, report)
    except (NotADirectoryError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary.line())
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
