#!/usr/bin/env python
"""Training clips/s at 1 and N processes (synchronous DDP on this machine), back to back.

    python scripts/bench_ddp.py                                   # 1 vs 2 processes, 2 repeats
    python scripts/bench_ddp.py --processes 1 2 --repeats 3 data.root=/data/synthetic/default

Trailing arguments are Hydra overrides of the job (default: single_frame, 40 training steps of
the synthetic recipe, no test). The library part is ``deepvideo.reports.scaling``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

from deepvideo.cli import run_or_exit  # noqa: E402
from deepvideo.reports.scaling import compare_processes, rates_markdown  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--out", type=Path, default=None, help="run directories (default: a temp dir)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the rates as JSON")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_ddp_"))
    rates = run_or_exit(compare_processes, out, args.processes, args.repeats, args.overrides)
    print(rates_markdown(rates, args.overrides), end="")
    if args.json:
        args.json.write_text(
            json.dumps(
                [{"processes": r.processes, "clips_per_s": r.clips_per_s} for r in rates], indent=2
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
