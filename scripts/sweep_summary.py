#!/usr/bin/env python
"""Summarise a Hydra sweep: one markdown table (and a CSV of the same rows) of its runs.

    python src/train.py -m model=single_frame,slow_fusion trainer.max_epochs=5
    python scripts/sweep_summary.py logs/train/multiruns/<date>

Prints the table and writes ``summary.md`` and ``summary.csv`` into SWEEP_DIR: the overrides that
vary, status, video Hit@1/5, clip Hit@1, training clips/s, wall time, best epoch, and for a failed
run the reason from its log. The library part is ``deepvideo.reports.sweep``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

from deepvideo.cli import run_or_exit  # noqa: E402
from deepvideo.reports.sweep import summarize_sweep  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sweep_dir", type=Path, help="a multirun directory (logs/<task>/multiruns/<date>)"
    )
    args = parser.parse_args(argv)
    table, md_path, csv_path = run_or_exit(summarize_sweep, args.sweep_dir)
    print(table, end="")
    print(f"\nwritten: {md_path}, {csv_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
