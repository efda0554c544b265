#!/usr/bin/env python
"""Table 2 of Karpathy et al. 2014 on our benchmark: per-class AP, motion-aware vs single frame.

Compares two runs' per-video scores (``video_scores.pt`` from ``src/eval.py``; a ``.ckpt`` or run
directory is evaluated first, into ``--eval-dir``): per-class video average precision, the classes
with the largest differences, each with its group from ``class_groups.tsv``, and per-group mean
AP. The work is :func:`deepvideo.reports.table2.run_table2`. Examples::

    python scripts/table2.py --a RUN_SF/checkpoints/epoch_030.ckpt --b RUN_SLOW/checkpoints/epoch_035.ckpt
    python scripts/table2.py --from-manifest reports/table1_synthetic.json   # single vs slow fusion
    python scripts/table2.py --from-manifest reports/table1_synthetic.json --seeds 3

With ``--from-manifest`` (and neither ``--a`` nor ``--b``) it compares the two models at every
seed the manifest records for both (``--seeds N``: at seeds 0..N-1, each required): cells are
mean ± sd over the seeds with the per-seed values, and a findings section says for every class
group whether ``--b-model`` beats ``--a-model`` at every seed beyond the spread. One explicit pair
(``--a``/``--b``) is a single seed, and the table says so.
    python scripts/table2.py --a a/video_scores.pt --b b/video_scores.pt --out reports/table2.md
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from deepvideo.cli import run_or_exit  # noqa: E402
from deepvideo.reports.table2 import Table2Options, run_table2  # noqa: E402


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
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="with --from-manifest: compare at seeds 0..N-1 (default: every seed of both models)",
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
    command = shlex.join(["python", "scripts/table2.py", *(sys.argv[1:] if argv is None else argv)])
    options = Table2Options(
        a=args.a,
        b=args.b,
        from_manifest=args.from_manifest,
        a_model=args.a_model,
        b_model=args.b_model,
        groups=args.groups,
        top=args.top,
        out=args.out,
        eval_dir=args.eval_dir,
        command=command,
        seeds=args.seeds,
    )
    out = run_or_exit(run_table2, options)
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
