#!/usr/bin/env python
"""Optical flow videos for a folder of videos (Ng et al. 2015, Sec. 3.4), parallel and resumable.

Every ``SRC/<path>.<ext>`` becomes ``DST/<path>.mp4`` (the Sports-1M ``<id>.mp4`` and UCF-101
``<ClassName>/<clip>.mp4`` layouts alike): the flow between adjacent frames sampled at ``--fps``
(15), horizontal and vertical components clipped to [-40, 40] px and rescaled to [0, 255] in the
first two channels (127.5: no motion), the third channel 0, stored losslessly (H.264 RGB, qp 0:
decoded values are the written ones). ``--method tvl1`` (TV-L1, Zach et al. 2007, the paper's;
OpenCV contrib) is the default; ``farneback`` and ``dis`` are 40-80x faster (docs/flow.md).
Flow frame k is the motion from sampled frame k to k + 1, at frame k's time
(:mod:`deepvideo.data.flow`).

Resumable: each output is written under a temporary name and renamed when complete, so a rerun
skips finished videos (``--verify`` also decodes a frame of each). A video that fails (no video
stream, one frame, unreadable) never stops the batch; every failure is listed at the end with its
reason, and the exit status is then 1. Train on the result with ``data.modality=flow
data.flow_root=DST``. Examples::

    python scripts/compute_flow.py data/sports1m/videos data/sports1m/flow --workers 16 --max-seconds 300
    python scripts/compute_flow.py data/ucf101/UCF-101 data/ucf101/flow --method dis --workers 8
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from deepvideo.data.flow import FLOW_METHODS, FlowOptions, compute_flow


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = FlowOptions()
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("src", type=Path, help="folder of videos")
    parser.add_argument("dst", type=Path, help="output folder (same layout, .mp4 flow videos)")
    parser.add_argument(
        "--method",
        choices=FLOW_METHODS,
        default=defaults.method,
        help="tvl1 (the paper's, default), farneback or dis",
    )
    parser.add_argument(
        "--fps", type=float, default=defaults.fps, help="sampling rate (default 15, Sec. 3.4)"
    )
    parser.add_argument(
        "--bound", type=float, default=defaults.bound, help="clip at +-bound px (default 40)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="only the first seconds of each video (Ng et al. use 300 on Sports-1M)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument(
        "--verify", action="store_true", help="decode a frame of every output (existing too)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        options = FlowOptions(
            method=args.method,
            fps=args.fps,
            bound=args.bound,
            max_seconds=args.max_seconds,
            verify=args.verify,
        )
        summary = compute_flow(
            args.src, args.dst, options, args.workers, progress=not args.no_progress
        )
    except (ImportError, NotADirectoryError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for line in summary.failures():
        print(f"failed: {line}", file=sys.stderr)
    print(summary.line())
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
