#!/usr/bin/env python
"""The paper's figures as PNGs: Fig. 3 (first-layer filters), Fig. 4 (ranked predictions),
and the video-level confusion matrix with its most confused pairs (a markdown file beside it).

Checkpoints may be given as ``.ckpt`` files or run directories (the best checkpoint is used);
``--scores`` may also be a ``video_scores.pt`` (otherwise the checkpoint is evaluated with
``src/eval.py`` into ``--eval-dir``). The work is :func:`deepvideo.reports.figures.run_figures`.
Examples::

    python scripts/figures.py --from-manifest reports/table1_synthetic.json
    python scripts/figures.py --multires RUN_MR --temporal RUN_SLOW --scores RUN_SLOW --out-dir reports/figures
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from deepvideo.cli import run_or_exit  # noqa: E402
from deepvideo.reports.figures import FiguresOptions, run_figures  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--multires", type=Path, help="multiresolution run (Fig. 3 fovea/context)")
    parser.add_argument("--temporal", type=Path, help="Slow Fusion run (Fig. 3 temporal filters)")
    parser.add_argument(
        "--scores",
        type=Path,
        help="run, .ckpt or video_scores.pt for Fig. 4 and the confusion matrix",
    )
    parser.add_argument(
        "--from-manifest", type=Path, help="take the runs from report_table1's JSON manifest"
    )
    parser.add_argument("--out-dir", type=Path, default=ROOT / "reports" / "figures")
    parser.add_argument("--samples", type=int, default=8, help="videos in Fig. 4 (default 8)")
    parser.add_argument("--eval-dir", type=Path, default=ROOT / "logs" / "table2")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    options = FiguresOptions(
        multires=args.multires,
        temporal=args.temporal,
        scores=args.scores,
        from_manifest=args.from_manifest,
        out_dir=args.out_dir,
        samples=args.samples,
        eval_dir=args.eval_dir,
    )
    for path in run_or_exit(run_figures, options):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
