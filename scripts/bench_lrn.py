"""A/B of the towers' local response normalisation in one process: our
``deepvideo.models.tower.LocalResponseNorm`` (explicit backward) against
``torch.nn.LocalResponseNorm``'s own forward (``avg_pool3d``, ``pow``, ``div``, autograd through
each), on the same network and weights, alternated round by round.

    python scripts/bench_lrn.py [--models single_frame slow_fusion] [--batch-size 32]
        [--rounds 3] [--steps 2] [--synthetic]

Prints training clips/s per model and implementation and the ratio ours / torch. ``--synthetic``
times the synthetic recipe's size (quarter width, 64x64, batch 16) instead of the paper's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from deepvideo.models import tower  # noqa: E402
from deepvideo.reports.benchmark import _time_train  # noqa: E402

IMPLEMENTATIONS = {
    "ours": tower.LocalResponseNorm.forward,
    "torch": nn.LocalResponseNorm.forward,
}


def build(name: str, synthetic: bool) -> tuple[nn.Module, tuple[int, int, int]]:
    data = ["data=synthetic"] if synthetic else ["data=sports1m"]
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3", job_name="bench_lrn"):
        cfg = compose("train", overrides=[f"model={name}", *data])
    net = instantiate(cfg.model.net)
    clip = (3, int(cfg.model.clip.num_frames), int(cfg.model.clip.crop_size))
    return net, clip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["single_frame", "slow_fusion"])
    parser.add_argument("--batch-size", type=int, default=None, help="32 (paper), 16 synthetic")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round")
    parser.add_argument("--synthetic", action="store_true")
    args = parser.parse_args(argv)
    batch = args.batch_size or (16 if args.synthetic else 32)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {batch}")
    print("| model | input | ours clips/s | torch clips/s | ours / torch |")
    print("|---|---|---:|---:|---:|")
    for name in args.models:
        net, (c, t, s) = build(name, args.synthetic)
        x = torch.randn(batch, c, t, s, s)
        y = torch.randint(0, int(getattr(net, "num_classes", 2)), (batch,))
        best = {impl: 0.0 for impl in IMPLEMENTATIONS}
        for _ in range(args.rounds):
            for impl, forward in IMPLEMENTATIONS.items():
                tower.LocalResponseNorm.forward = forward  # type: ignore[method-assign]
                rate, _ = _time_train(net, x, y, "fp32", args.steps)
                best[impl] = max(best[impl], rate)
        tower.LocalResponseNorm.forward = IMPLEMENTATIONS["ours"]  # type: ignore[method-assign]
        ratio = best["ours"] / best["torch"]
        print(
            f"| {name} | {c}x{t}x{s}x{s} | {best['ours']:.2f} | {best['torch']:.2f} | "
            f"{ratio:.2f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
