#!/usr/bin/env python
"""The Ng et al. 2015 ("Beyond Short Snippets") tables on the long-video benchmark, one command.

Trains every run the report needs (``deepvideo.reports.ng2015.RUNS``: the five pooling models, the
AlexNet-style and GoogLeNet towers, the LSTM and its "(fc)" variant, conv pooling expanded
1 -> 30 -> 120 frames, and Karpathy et al.'s single frame and Slow Fusion) at ``--seeds`` seeds
with ``src/train.py``, evaluates the LSTMs under the four inference rules with ``src/eval.py``,
and writes one markdown report (Tables 1-3 analogues, the rules, the per-group comparison, the
findings that hold at every seed) plus a JSON manifest of the runs. Examples::

    python scripts/report_ng2015.py                          # 3 seeds, every run
    python scripts/report_ng2015.py --seeds 2 --runs conv_pooling_30 lstm_30 single_frame
    python scripts/report_ng2015.py --skip-train             # rebuild the report from the manifest
    python scripts/report_ng2015.py --jobs 2                 # two runs at a time (towers first)

Other arguments are Hydra overrides passed to every training run (default data: synthetic_long).
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
from deepvideo.reports.ng2015 import DEFAULT_OUT, RUNS, Ng2015Options, run_ng2015  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other arguments are Hydra overrides passed to every training run.",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument(
        "--runs",
        nargs="+",
        default=[r.name for r in RUNS],
        help="runs to train (the runs they are expanded from are added); default: all",
    )
    parser.add_argument("--epochs", type=int, default=None, help="trainer.max_epochs")
    parser.add_argument("--out", type=Path, default=ROOT / DEFAULT_OUT)
    parser.add_argument("--log-dir", type=Path, default=ROOT / "logs" / "ng2015")
    parser.add_argument("--skip-train", action="store_true", help="rebuild from the manifest")
    parser.add_argument(
        "--resume", action="store_true", help="keep the manifest's finished runs, train the rest"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs trained at a time (a run waits for the tower it is expanded from)",
    )
    args, overrides = parser.parse_known_args(argv)
    if not any(o.startswith("data=") for o in overrides):
        overrides = ["data=synthetic_long", *overrides]
    command = "python scripts/report_ng2015.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    opts = Ng2015Options(
        out=args.out,
        log_dir=args.log_dir,
        seeds=args.seeds,
        runs=args.runs,
        epochs=args.epochs,
        overrides=overrides,
        skip_train=args.skip_train,
        resume=args.resume,
        command=command.strip(),
        jobs=args.jobs,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(run_or_exit(run_ng2015, opts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
