#!/usr/bin/env python
"""Table 2 of Karpathy et al. 2014 on our benchmark: per-class AP, motion-aware vs single frame.

Compares two runs' per-video scores (``video_scores.pt`` from ``src/eval.py``; a ``.ckpt`` is
evaluated first, into ``--eval-dir``): per-class video average precision, the classes with the
largest differences, each with its group from ``class_groups.tsv``, and per-group mean AP.
Examples::

    python scripts/table2.py --a RUN_SF/checkpoints/epoch_030.ckpt --b RUN_SLOW/checkpoints/epoch_035.ckpt
    python scripts/table2.py --from-manifest reports/table1_synthetic.json   # single vs slow fusion
    python scripts/table2.py --a a/video_scores.pt --b b/video_scores.pt --out reports/table2.md
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

from deepvideo.cli import ConfigError, run_or_exit  # noqa: E402
from deepvideo.reports.analysis import (  # noqa: E402
    compare_runs,
    load_class_groups,
    load_video_scores,
    markdown_table2,
)
from deepvideo.reports.table1 import (  # noqa: E402
    best_checkpoint,
    evaluate_checkpoint,
    resolve_run_dir,
)


def scores_file(path: Path, eval_dir: Path) -> Path:
    """``path`` if it is a scores file, else the scores of evaluating the checkpoint ``path``."""
    if path.suffix == ".ckpt" or path.is_dir():
        ckpt = best_checkpoint(path) if path.is_dir() else path
        return evaluate_checkpoint(ckpt, eval_dir / ckpt.resolve().parent.parent.name)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: pass a video_scores.pt, a .ckpt or a run dir")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--a", type=Path, help="baseline: video_scores.pt, .ckpt or run dir")
    parser.add_argument("--b", type=Path, help="compared model (e.g. slow fusion)")
    parser.add_argument(
        "--from-manifest", type=Path, help="take --a/--b runs from report_table1's JSON manifest"
    )
    parser.add_argument(
        "--a-model", default="single_frame", help="with --from-manifest (default single_frame)"
    )
    parser.add_argument(
        "--b-model", default="slow_fusion", help="with --from-manifest (default slow_fusion)"
    )
    parser.add_argument(
        "--groups",
        type=Path,
        default=None,
        help="class_groups.tsv (default: <data.root>/class_groups.tsv of --a's run, if any)",
    )
    parser.add_argument("--top", type=int, default=6, help="classes listed each way (default 6)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "table2_synthetic.md")
    parser.add_argument(
        "--eval-dir",
        type=Path,
        default=ROOT / "logs" / "table2",
        help="where checkpoints are evaluated",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )

    def run() -> Path:
        a, b = args.a, args.b
        if args.from_manifest:
            runs = json.loads(args.from_manifest.read_text())["runs"]
            a = a or resolve_run_dir(runs[f"table1_{args.a_model}"]["run_dir"])
            b = b or resolve_run_dir(runs[f"table1_{args.b_model}"]["run_dir"])
        if a is None or b is None:
            raise ConfigError("pass --a and --b (or --from-manifest)")
        sa = load_video_scores(scores_file(a, args.eval_dir))
        sb = load_video_scores(scores_file(b, args.eval_dir))
        groups_file = args.groups or default_groups(a)
        groups = load_class_groups(groups_file) if groups_file and groups_file.is_file() else {}
        rows = compare_runs(sa, sb, groups)
        notes = {
            "Runs": f"a = `{sa.path}` ({sa.model}), b = `{sb.path}` ({sb.model})",
            "Test set": f"{len(sa.video_ids)} videos, {len(sa.class_names)} classes",
            "AP": "per-class average precision of the video-level scores (mean clip probabilities "
            "over 20 clips x 4 views), torchmetrics multilabel_average_precision(average=None)",
            "Command": "`python scripts/table2.py "
            + " ".join(sys.argv[1:] if argv is None else argv)
            + "`",
        }
        if groups_file:
            notes["Groups"] = f"`{groups_file}`"
        text = markdown_table2(rows, sa.model, sb.model, top=args.top, notes=notes)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(text)
        return args.out

    run_or_exit(run)
    return 0


def default_groups(a: Path) -> Path | None:
    """``<data.root>/class_groups.tsv`` of the run behind ``a`` (a checkpoint or run dir)."""
    import torch

    try:
        ckpt = best_checkpoint(a) if a.is_dir() else a if a.suffix == ".ckpt" else None
        if ckpt is None:
            return None
        config = torch.load(ckpt, map_location="cpu", weights_only=False)["deepvideo"]["config"]
        return Path(config["data"]["root"]) / "class_groups.tsv"
    except (ConfigError, KeyError, OSError):
        return None


if __name__ == "__main__":
    sys.exit(main())
