#!/usr/bin/env python
"""Measure the clips per second the training DataLoader delivers (decode + sample + transform).

Builds ``cfg.data`` from ``conf/train.yaml`` and the given Hydra overrides exactly as training
does (the synthetic set is generated on first use), then times ``--batches`` training batches
after ``--warmup`` batches (worker start-up and first file opens), cycling epochs as needed.
Prints one JSON line: clips/s, batches/s, num_workers, batch size and clip shape ``(C, T, H, W)``.
Examples::

    python scripts/bench_dataloader.py model=slow_fusion data.num_workers=2
    python scripts/bench_dataloader.py --batches 50 model=single_frame data.num_workers=4
    python scripts/bench_dataloader.py data=sports1m data.root=/data/sports1m data.batch_size=64
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from deepvideo.cli import run_or_exit  # noqa: E402
from deepvideo.data import build_datamodule  # noqa: E402


def compose_config(overrides: Sequence[str]) -> DictConfig:
    """``conf/train.yaml`` with ``overrides``, composed without a Hydra run (no output dirs)."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3", job_name="bench_dataloader"):
        return compose("train", overrides=list(overrides))


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo`` on Linux), for reporting where a number was measured."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def batches_forever(loader: Any) -> Iterator[dict[str, Any]]:
    while True:
        yield from loader


def bench(cfg: DictConfig, batches: int, warmup: int) -> dict[str, Any]:
    """Time ``batches`` training batches of ``cfg.data`` after ``warmup`` batches."""
    datamodule = build_datamodule(cfg.data, stage="fit")
    loader = datamodule.train_dataloader()
    stream = batches_forever(loader)
    for _ in range(warmup):
        next(stream)
    clips = 0
    shape: list[int] = []
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(stream)
        clips += int(batch["video"].shape[0])
        shape = list(batch["video"].shape[1:])
    seconds = time.perf_counter() - start
    return {
        "clips_per_s": round(clips / seconds, 1),
        "batches_per_s": round(batches / seconds, 2),
        "num_workers": datamodule.num_workers,
        "batch_size": datamodule.batch_size,
        "clip_shape": shape,
        "model": cfg.model.get("name"),
        "data": datamodule.dataset_name,
        "train_videos": len(datamodule.splits["train"]),
        "batches": batches,
        "warmup_batches": warmup,
        "seconds": round(seconds, 2),
        "cpus": os.cpu_count(),
        "cpu": cpu_name(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other arguments are Hydra overrides of conf/train.yaml.",
    )
    parser.add_argument("--batches", type=int, default=30, help="timed batches (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches (default 5)")
    args, overrides = parser.parse_known_args(argv)
    if args.batches < 1 or args.warmup < 0:
        parser.error("need --batches >= 1 and --warmup >= 0")
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s"
    )
    result = run_or_exit(lambda: bench(compose_config(overrides), args.batches, args.warmup))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
