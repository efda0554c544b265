#!/usr/bin/env python
"""UCF-101 transfer (Karpathy et al. 2014, Sec. 4.2) on the three official folds, and its report.

Runs one Hydra multirun, ``python src/train.py -m experiment=transfer_<regime> data.fold=1,2,3``
(with ``pretrained.ckpt_path=CKPT`` and the checkpoint's ``model=`` and ``data.recipe.width``
unless given), then reads each fold's ``metrics.json`` and ``video_scores.pt`` and writes a
markdown report: per-fold video accuracy and the mean next to the paper's Table 3, per-group mAP
(Table 4) and per-class AP. Extra arguments are Hydra overrides passed to every fold. The work is
:func:`deepvideo.reports.transfer.run_transfer_report`.

``--seeds N`` runs the folds at seeds 0..N-1 (``seed=S``; one multirun per seed in ``OUT/seed<S>``)
and reports every Table 3 / Table 4 cell as mean ± sd over the seeds of the 3-fold means, with the
per-seed values (default 1: one multirun in ``OUT``, the config's seed). ``--ckpt`` with one
checkpoint per seed fine-tunes seed S's own pretrained net at seed S, so the spread includes the
pretraining's; ``--resume`` keeps a seed whose folds all finished with the same command line.
Every report writes a JSON summary next to it (``report.json``: each seed's 3-fold accuracy and
per-group mAP);
``--compare DIR_A DIR_B`` reads two regimes' summaries and says whether B beats A at every seed
beyond the spread. Examples::

    python scripts/transfer_folds.py --regime top3 --ckpt SPORTS1M_RUN/checkpoints/last.ckpt \\
        data.root=/data/ucf101
    python scripts/transfer_folds.py --regime scratch model=slow_fusion data.root=/data/ucf101
    python scripts/transfer_folds.py --regime top3 --out logs/transfer/top3 --skip-train
    python scripts/transfer_folds.py --regime top3 --seeds 3 --ckpt CKPT --out logs/transfer/top3
    python scripts/transfer_folds.py --regime top3 --seeds 3 --ckpt CKPT0 CKPT1 CKPT2 --resume \\
        --out logs/transfer/top3_paired
    python scripts/transfer_folds.py --compare logs/transfer/top logs/transfer/top3
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
from deepvideo.modules import REGIMES  # noqa: E402
from deepvideo.reports.transfer import compare_regimes, run_transfer_report  # noqa: E402
from deepvideo.transfer import MultirunFailed, TransferOptions  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--regime", choices=sorted(REGIMES), help="required unless --compare")
    parser.add_argument(
        "--ckpt",
        type=Path,
        nargs="+",
        help="pretrained checkpoint (not for scratch); one per seed, in seed order, to pair "
        "every seed with its own pretraining",
    )
    parser.add_argument("--folds", default="1,2,3", help="UCF-101 folds (default 1,2,3)")
    parser.add_argument("--out", type=Path, help="sweep directory (default logs/transfer/...)")
    parser.add_argument("--report", type=Path, help="markdown report (default OUT/report.md)")
    parser.add_argument("--skip-train", action="store_true", help="only rebuild the report")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep a seed whose folds all finished with this command line, train the others",
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="run the folds at seeds 0..N-1 (default 1)"
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("DIR_A", "DIR_B"),
        help="only compare two regimes' reports (sweep dirs or report.json): B − A over seeds",
    )
    args, overrides = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.compare:
        if overrides:
            parser.error(f"--compare takes no other arguments: {' '.join(overrides)}")
        print(run_or_exit(compare_regimes, *args.compare))
        return 0
    if args.regime is None:
        parser.error("the following arguments are required: --regime (or --compare)")
    options = TransferOptions(
        regime=args.regime,
        ckpt=args.ckpt[0] if args.ckpt and len(args.ckpt) == 1 else None,
        seed_ckpts=tuple(args.ckpt) if args.ckpt and len(args.ckpt) > 1 else (),
        folds=args.folds,
        out=args.out,
        overrides=overrides,
        skip_train=args.skip_train,
        seeds=args.seeds,
        resume=args.resume,
    )
    try:
        report = run_or_exit(run_transfer_report, options, args.report)
    except MultirunFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return err.returncode
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
