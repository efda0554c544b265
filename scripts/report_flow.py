#!/usr/bin/env python
"""The Table 4 analogue of Ng et al. 2015 (optical flow and two-stream late fusion), one command.

Trains each model (``--models``, default Ng et al.'s conv pooling over 4 frames at 1 fps and
Karpathy et al.'s single frame) on the frames and on the flow videos under ``--flow-root``
(``data.modality=flow``; make them with ``scripts/compute_flow.py``), and for ``--from-image``
models a flow model initialised from the image model (``experiment=flow_from_image``), at
``--seeds`` seeds with ``src/train.py``; fuses the two streams of every seed and writes one
markdown report (frames / flow / fused per model and class group, findings that hold at every
seed, convergence from scratch vs from the image model) plus a JSON manifest of the runs
(``deepvideo.reports.flow``). Examples::

    python scripts/compute_flow.py data/synthetic/sports1m_2400/videos data/synthetic/sports1m_2400_flow_farneback --method farneback --workers 2
    python scripts/report_flow.py --flow-root data/synthetic/sports1m_2400_flow_farneback --seeds 2
    python scripts/report_flow.py --flow-root data/synthetic/sports1m_2400_flow_farneback --skip-train

Other arguments are Hydra overrides passed to every training run (default data: synthetic).
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
from deepvideo.reports.flow import (  # noqa: E402
    DEFAULT_OUT,
    MODELS,
    FlowReportOptions,
    run_flow_report,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other arguments are Hydra overrides passed to every training run.",
    )
    parser.add_argument("--flow-root", type=Path, required=True, help="compute_flow.py's output")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 (default 2)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument(
        "--from-image",
        nargs="*",
        default=["conv_pooling"],
        choices=list(MODELS),
        help="models also trained on flow from the image checkpoint (default conv_pooling)",
    )
    parser.add_argument("--epochs", type=int, default=None, help="trainer.max_epochs")
    parser.add_argument("--out", type=Path, default=ROOT / DEFAULT_OUT)
    parser.add_argument("--log-dir", type=Path, default=ROOT / "logs" / "flow")
    parser.add_argument("--skip-train", action="store_true", help="rebuild from the manifest")
    parser.add_argument(
        "--resume", action="store_true", help="keep the manifest's finished runs, train the rest"
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a reading of the results for the report (repeatable; kept in the manifest)",
    )
    args, overrides = parser.parse_known_args(argv)
    if not any(o.startswith("data=") for o in overrides):
        overrides = ["data=synthetic", *overrides]
    command = "python scripts/report_flow.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    opts = FlowReportOptions(
        out=args.out,
        log_dir=args.log_dir,
        flow_root=args.flow_root,
        seeds=args.seeds,
        models=args.models,
        from_image=[m for m in args.from_image if m in args.models],
        epochs=args.epochs,
        overrides=overrides,
        skip_train=args.skip_train,
        resume=args.resume,
        command=command.strip(),
        notes=args.note,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(run_or_exit(run_flow_report, opts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
