#!/usr/bin/env python
"""Table 1 of Karpathy et al. 2014 on the synthetic benchmark (or any dataset), in one command.

Trains every Table 1 experiment (``conf/experiment/table1_*.yaml``) with ``src/train.py`` at
seeds 0..N-1 (``--seeds N``, default 3; ``seed=S`` passed to each run), one after the other,
measures every model's training clips/s back to back on the same batches (once), evaluates the
CNN average ensemble (Single+Early+Late+Slow) of each seed's members on their test clips and
writes a markdown table (every metric as mean ± sd over the seeds with the per-seed values; with
chance, the command, the machine, the precision of the runs, per-group video Hit@1, the findings
that hold at every seed and wall times) plus a JSON manifest of the run directories per seed next
to it. Examples::

    python scripts/report_table1.py                          # all rows at 3 seeds, default epochs
    python scripts/report_table1.py --seeds 1                # one run per row (no spread)
    python scripts/report_table1.py --epochs 25 --models single_frame slow_fusion
    python scripts/report_table1.py --skip-train             # rebuild the table from the manifest
    python scripts/report_table1.py --resume --seeds 5       # reuse seeds 0-2, train seeds 3, 4
    python scripts/report_table1.py --out reports/table1_sports1m.md data=sports1m data.root=DIR

Other arguments are Hydra overrides passed to every training run.
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
from deepvideo.reports.table1 import Table1Options, run_table1  # noqa: E402
from deepvideo.reports.table1_markdown import TABLE1  # noqa: E402

MODELS = [row.experiment.removeprefix("table1_") for row in TABLE1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other arguments are Hydra overrides passed to every training run.",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="trainer.max_epochs (default: the config's)"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=MODELS,
        help=f"rows to run (default: all: {' '.join(MODELS)})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "reports" / "table1_synthetic.md",
        help="the markdown table (manifest: same name, .json)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=ROOT / "logs" / "table1",
        help="where the runs go (<log-dir>/<time>/seed<S>/<experiment>)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        metavar="N",
        help="train every row at seeds 0..N-1 (default 3; with --skip-train: the seeds the "
        "manifest records for every row; --seeds 1: one run per row)",
    )
    parser.add_argument(
        "--skip-train",
        action="store_true",
        help="reuse the runs recorded in the manifest; train nothing",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the manifest's finished runs and train the others",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="training runs at a time (default 1; each run's wall time then shares the machine)",
    )
    parser.add_argument(
        "--throughput-steps", type=int, default=20, help="timed SGD steps per model (default 20)"
    )
    parser.add_argument("--no-ensemble", action="store_true", help="leave out the CNN average row")
    parser.add_argument(
        "--title", default="Table 1 (Karpathy et al. 2014) on the synthetic benchmark"
    )
    args, overrides = parser.parse_known_args(argv)
    unknown = [m for m in args.models if m.removeprefix("table1_") not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {MODELS}")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be >= 1")
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if any(o.lstrip("+").split("=", 1)[0] == "seed" for o in overrides):
        parser.error("the report passes seed=S to every run itself: use --seeds N")
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    command = shlex.join(
        ["python", "scripts/report_table1.py", *(sys.argv[1:] if argv is None else argv)]
    )
    options = Table1Options(
        experiments=[f"table1_{m.removeprefix('table1_')}" for m in args.models],
        out=args.out,
        log_dir=args.log_dir,
        epochs=args.epochs,
        skip_train=args.skip_train,
        resume=args.resume,
        jobs=args.jobs,
        overrides=overrides,
        throughput_steps=args.throughput_steps,
        ensemble=not args.no_ensemble,
        command=command,
        title=args.title,
        seeds=args.seeds,
    )
    out = run_or_exit(run_table1, options)
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
