#!/usr/bin/env python
"""Benchmark the models at paper size and the data path on this machine; print a table, write JSON.

    python scripts/benchmark.py [--quick] [--json FILE] [--models single_frame multires ...]
                                [--precision fp32 bf16] [--batch-size 32] [--no-data | --no-models]
                                [--compile]

Per model and precision: training and inference clips/s, peak memory, FLOPs per clip and the
fraction of this machine's matmul peak (measured in the same run); the data path (sequential
decode, clip reads, training loader, evaluation); and the ``ratios`` the performance targets are
stated in, with how far each is from its target. Models run at the paper's batch of 32 unless
``--batch-size`` says otherwise; ``--precision`` defaults to fp32 plus bf16 where the hardware has
it (on an emulated-bf16 CPU the table says why bf16 is left out). ``--quick`` (fewer steps, one
round, a smaller data set) finishes within about 5 minutes on a 2-core CPU. Logic:
``deepvideo.reports.benchmark`` and ``deepvideo.data.bench``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402

from deepvideo.cli import run_or_exit  # noqa: E402
from deepvideo.reports import benchmark as bench  # noqa: E402
from deepvideo.utils.hardware import resolve_precision  # noqa: E402

PAPER_MODELS = ("single_frame", "multires", "slow_fusion", "multires_slow_fusion")


def model_configs(names: Sequence[str]) -> tuple[dict, dict]:
    """``model.net`` configs at paper size (``data=sports1m``) and their (frames, crop) clips."""
    nets, clips = {}, {}
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3", job_name="benchmark"):
        for name in names:
            cfg = compose("train", overrides=[f"model={name}", "data=sports1m"])
            nets[name] = cfg.model.net
            clips[name] = (int(cfg.model.clip.num_frames), int(cfg.model.clip.crop_size))
    return nets, clips


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, one round (~5 min)")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--models", nargs="+", default=list(PAPER_MODELS))
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=bench.PRECISIONS,
        default=None,
        help="default: fp32, and bf16 where the hardware has it",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="default: the paper's 32")
    parser.add_argument("--no-data", action="store_true", help="models only")
    parser.add_argument("--no-models", action="store_true", help="the data path only")
    parser.add_argument(
        "--compile", action="store_true", help="also time every model through torch.compile"
    )
    args = parser.parse_args(argv)
    if args.no_data and args.no_models:
        parser.error("--no-data and --no-models leave nothing to measure")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    return run_or_exit(run, args)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    batch = args.batch_size
    precisions, note = (args.precision, None) if args.precision else bench.measured_precisions()
    nets, clips = model_configs([] if args.no_models else args.models)
    peaks = {p: bench.matmul_peak(p) for p in precisions} if nets else {}
    models = bench.measure_models(
        nets,
        clips,
        precisions=precisions,
        batch_size=batch,
        steps=2 if args.quick else 3,
        rounds=1 if args.quick else 2,
        peaks=peaks,
        compile=args.compile,
    )
    auto = {}
    for name, cfg in nets.items():
        from hydra.utils import instantiate

        frames, side = clips[name]
        chosen = resolve_precision("auto", instantiate(cfg), (batch, 3, frames, side, side))
        auto[name] = "bf16" if chosen == "bf16-mixed" else "fp32"
    data = None if args.no_data else bench_data(args.quick)
    ratios = bench.ratios(models, data, auto)
    result = {
        "machine": bench.cpu_name(),
        "quick": args.quick,
        "batch_size": batch,
        "auto_precision": auto,
        "precision_note": note,
        "matmul_peak_gflops": {p: v.gflops for p, v in peaks.items()},
        "models": [m.to_json() for m in models],
        "data": data,
        "ratios": ratios,
        "targets": bench.TARGETS,
        "wall_s": time.perf_counter() - start,
    }
    if args.json:  # first: the measurements outlive a failure to print them
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if note:
        print(note + "\n")
    print(bench.markdown(models, peaks, ratios, data))
    if args.json:
        print(f"written to {args.json}")
    return 0


def bench_data(quick: bool) -> dict:
    from deepvideo.data import bench as data_bench

    return data_bench.run(quick=quick)


if __name__ == "__main__":
    sys.exit(main())
