"""fp32 vs bf16 autocast on this machine: why ``trainer.precision: auto`` picks what it picks.

Times, in one run and interleaved, a 2048x2048 matmul, the paper's conv1 (96 filters 11x11,
stride 3) on a batch of 64x64 frames, and a Slow Fusion training step (quarter width, 64x64,
batch 16). Prints one JSON object with the times, the bf16/fp32 ratios and the precision
``auto`` resolves to here. Usage: ``python scripts/bench_precision.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import yaml

from deepvideo.models import SlowFusion
from deepvideo.utils.hardware import cpu_has_fast_bf16, cpu_name, resolve_precision

ROOT = Path(__file__).resolve().parents[1]
# the tower and Slow Fusion's time layout from their one home in conf/ (dropout fixed here)
TOWER = {**yaml.safe_load((ROOT / "conf/model/tower/alexnet.yaml").read_text()), "dropout": 0.5}
TIME = yaml.safe_load((ROOT / "conf/model/time/slow_fusion.yaml").read_text())


def timed(fn: Callable[[], object], bf16: bool, repeats: int) -> float:
    """Median seconds of ``fn`` under fp32 or bf16 CPU autocast."""
    times = []
    for i in range(repeats + 1):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
        if i:  # the first call warms up
            times.append(elapsed)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    a = torch.randn(2048, 2048)
    frames = torch.randn(64, 3, 64, 64)
    conv1 = torch.nn.Conv2d(3, 96, 11, stride=3, padding=2)
    net = SlowFusion(
        12,
        64,
        TOWER,
        width=0.25,
        num_frames=TIME["clip"]["num_frames"],
        temporal_kernels=TIME["net"]["temporal_kernels"],
        temporal_strides=TIME["net"]["temporal_strides"],
    )
    clips = torch.randn(16, 3, 10, 64, 64)
    labels = torch.randint(0, 12, (16,))
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(net(clips).float(), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    cases = {
        "matmul_2048": lambda: a @ a,
        "conv1_b64": lambda: conv1(frames),
        "slow_fusion_step": step,
    }
    result: dict[str, object] = {
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "cpu_has_fast_bf16": cpu_has_fast_bf16(),
        "auto_precision": resolve_precision("auto"),
    }
    for name, fn in cases.items():
        fp32 = timed(fn, False, args.repeats)
        bf16 = timed(fn, True, args.repeats)
        result[name] = {
            "fp32_s": round(fp32, 5),
            "bf16_s": round(bf16, 5),
            "bf16_over_fp32": round(bf16 / fp32, 2),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
