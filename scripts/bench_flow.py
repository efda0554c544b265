#!/usr/bin/env python
"""What optical flow costs and how it is stored: pairs/s per method, codecs, dataset costs.

On a generated 320x240 30 fps video (sampled at 15 fps, one thread): the flow pairs per second of
TV-L1, Farneback and DIS; for each candidate codec of the flow images, the largest error of the
decoded values (decord and PyAV, through ``EncodedVideo``), the size and the decode rate; and
what the rates mean for Sports-1M and UCF-101 on N cores (``deepvideo.data.flow_bench``; the
tables of ``docs/flow.md``). Examples::

    python scripts/bench_flow.py
    python scripts/bench_flow.py --json flow_bench.json --tvl1-pairs 40
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from deepvideo.data.flow_bench import run


def duration(hours: float) -> str:
    """``3.2 h``, ``41 min`` or ``12.5 days``."""
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/bench"), help="work folder")
    parser.add_argument("--tvl1-pairs", type=int, default=20, help="TV-L1 pairs to time")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    results = run(args.root, args.tvl1_pairs)
    print(f"video: {results['video']}\n")
    print("| method | pairs timed | pairs per CPU second (1 thread) |\n| --- | ---: | ---: |")
    for row in results["methods"]:
        print(f"| {row['method']} | {row['pairs']} | {row['pairs_per_s']:.1f} |")
    print(f"\nflow image codecs ({results['encoding_content']}):\n")
    print(
        "| codec | KiB/frame | max error decord (R, G, B) | max error PyAV | decord fr/CPU s "
        "| PyAV fr/CPU s | within 2 |\n| --- | ---: | --- | --- | ---: | ---: | --- |"
    )
    for row in results["encoding"]:
        print(
            f"| {row['candidate']} | {row['kib_per_frame']:.1f} | {row['decord_max_error']} | "
            f"{row['pyav_max_error']} | {row['decord_frames_per_s']:.0f} | "
            f"{row['pyav_frames_per_s']:.0f} | {'yes' if row['within_2'] else 'no'} |"
        )
    print("\n| dataset | method | flow pairs | core-hours | wall time on 16 / 64 / 1000 cores |")
    print("| --- | --- | ---: | ---: | --- |")
    for row in results["costs"]:
        wall = " / ".join(duration(row[f"hours_on_{n}_cores"]) for n in (16, 64, 1000))
        print(
            f"| {row['dataset']} | {row['method']} | {row['pairs']:.3g} | "
            f"{row['core_hours']:,.0f} | {wall} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
