#!/usr/bin/env python
"""Two-stream late fusion (Ng et al. 2015, Sec. 3.4): an image run and an optical-flow run.

Each of ``--image`` and ``--flow`` is a ``video_scores.pt``, a checkpoint or a run directory
(evaluated with ``src/eval.py`` first when it holds no scores; other arguments are Hydra
overrides for that evaluation, e.g. ``data.test_clips.clips_per_video=50``). The two runs' video
scores are averaged video by video with ``--weights IMAGE FLOW`` (default 1 1) over the videos
both scored; the report gives each stream's and the fused video Hit@1, Hit@5, mAP, per-group
Hit@1 / mAP and per-class AP (``deepvideo.reports.two_stream``), with a JSON summary and the
fused ``video_scores.pt`` next to it. Works for any model: Karpathy et al.'s fusion family, Ng et
al.'s pooling models and LSTM. Examples::

    python scripts/two_stream.py --image logs/train/runs/IMAGE --flow logs/train/runs/FLOW
    python scripts/two_stream.py --image a/video_scores.pt --flow b/video_scores.pt --weights 1 2
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from deepvideo.cli import run_or_exit  # noqa: E402
from deepvideo.reports.two_stream import TwoStreamOptions, run_two_stream  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other arguments are Hydra overrides for src/eval.py (when a run is evaluated).",
    )
    parser.add_argument("--image", type=Path, required=True, help="the image (RGB) run")
    parser.add_argument("--flow", type=Path, required=True, help="the optical-flow run")
    parser.add_argument(
        "--weights",
        type=float,
        nargs=2,
        default=(1.0, 1.0),
        metavar=("IMAGE", "FLOW"),
        help="fusion weights (default 1 1: the mean)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "two_stream.md")
    parser.add_argument("--eval-dir", type=Path, default=ROOT / "logs" / "two_stream")
    args, overrides = parser.parse_known_args(argv)
    command = "python scripts/two_stream.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    opts = TwoStreamOptions(
        image=args.image,
        flow=args.flow,
        weights=(args.weights[0], args.weights[1]),
        out=args.out,
        eval_dir=args.eval_dir,
        eval_overrides=overrides,
        command=command.strip(),
    )
    result = run_or_exit(run_two_stream, opts)
    for stream in result.streams():
        print(
            f"{stream.name}: video Hit@1 {stream.hit1:.3f}, Hit@5 {stream.hit5:.3f}, "
            f"mAP {stream.mean_ap:.3f} ({stream.videos} videos)"
        )
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
