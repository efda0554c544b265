#!/usr/bin/env python
"""The paper's figures as PNGs: Fig. 3 (first-layer filters), Fig. 4 (ranked predictions),
and the video-level confusion matrix with its most confused pairs (a markdown file beside it).

Checkpoints may be given as ``.ckpt`` files or run directories (the best checkpoint is used);
``--scores`` may also be a ``video_scores.pt`` (otherwise the checkpoint is evaluated with
``src/eval.py`` into ``--eval-dir``). Examples::

    python scripts/figures.py --from-manifest reports/table1_synthetic.json
    python scripts/figures.py --multires RUN_MR --temporal RUN_SLOW --scores RUN_SLOW --out-dir reports/figures
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from omegaconf import OmegaConf  # noqa: E402

from deepvideo.cli import ConfigError, run_or_exit  # noqa: E402
from deepvideo.evaluation import load_checkpoint  # noqa: E402
from deepvideo.reports.analysis import load_video_scores  # noqa: E402
from deepvideo.reports.figures import write_figures  # noqa: E402
from deepvideo.reports.table1 import (  # noqa: E402
    best_checkpoint,
    evaluate_checkpoint,
    resolve_run_dir,
)


def checkpoint_of(path: Path | None) -> Path | None:
    if path is None:
        return None
    return best_checkpoint(path) if path.is_dir() else path


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

    def run() -> list[Path]:
        multires, temporal, scores = args.multires, args.temporal, args.scores
        if args.from_manifest:
            runs = json.loads(args.from_manifest.read_text())["runs"]

            def run_dir(name: str) -> Path | None:
                entry = runs.get(f"table1_{name}")
                return resolve_run_dir(entry["run_dir"]) if entry else None

            multires = multires or run_dir("multires")
            temporal = temporal or run_dir("slow_fusion")
            scores = scores or temporal
        if not (multires or temporal or scores):
            raise ConfigError(
                "nothing to draw: pass --multires, --temporal, --scores or --from-manifest"
            )
        video_scores = scores_run = None
        if scores is not None:
            ckpt = checkpoint_of(scores) if scores.suffix != ".pt" else None
            path = (
                scores
                if ckpt is None
                else evaluate_checkpoint(ckpt, args.eval_dir / ckpt.resolve().parent.parent.name)
            )
            video_scores = load_video_scores(path)
            if ckpt is not None:
                scores_run = OmegaConf.create(load_checkpoint(ckpt)["deepvideo"]["config"])
        return write_figures(
            args.out_dir,
            checkpoint_of(multires),
            checkpoint_of(temporal),
            video_scores,
            scores_run,
            args.samples,
        )

    for path in run_or_exit(run):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
