"""Training throughput of Table 1's models, and the machine it was measured on.

Karpathy et al. 2014 (Sec. 4.1, "Training") report about 5 clips/s for the full-frame nets and
up to 20 clips/s for the multiresolution ones on one model replica; Table 1's report gives ours
(:func:`measure_throughput`) with the machine (:func:`machine_description`).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from hydra.utils import instantiate

from deepvideo.data.datamodule import build_datamodule
from deepvideo.reports.ensemble import Member, build_ensemble, ensemble_clip

__all__ = ["machine_description", "measure_throughput"]


def measure_throughput(
    members: Sequence[Member],
    steps: int = 20,
    warmup: int = 3,
    rounds: int = 2,
) -> dict[str, float]:
    """Training clips/s of each member's architecture on the same preloaded batches.

    One clip covering every member (as for the ensemble) is drawn ``warmup + steps`` times by
    the dataset's training loader and kept in memory, so decoding is excluded; each model (a
    freshly built net with its run's optimizer and loss) then runs ``steps`` SGD steps
    (forward, backward, update) on its frames of those batches, back to back, ``rounds`` times
    interleaved; the best round counts. Ratios between models are therefore comparable.
    """
    clip = ensemble_clip(members)
    datamodule = build_datamodule(clip.data, stage="fit")
    batches: list[dict[str, torch.Tensor]] = []
    while len(batches) < warmup + steps:
        for batch in datamodule.train_dataloader():
            batches.append({"video": batch["video"], "label": batch["label"]})
            if len(batches) == warmup + steps:
                break
    slicer = build_ensemble(members, clip)
    inputs = {m.name: [slicer.member_input(m.name, b["video"]) for b in batches] for m in members}
    best: dict[str, float] = {}
    for _ in range(max(1, rounds)):
        for m in members:
            net = instantiate(m.run.model.net).train()
            module = instantiate(m.run.module, net=net)
            optimizer = module.optimizer_factory(params=list(net.parameters()))
            clips, start = 0, 0.0
            for i, (x, b) in enumerate(zip(inputs[m.name], batches, strict=True)):
                if i == warmup:
                    start = time.perf_counter()
                loss = module.loss(net(x).float(), b["label"])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if i >= warmup:
                    clips += x.shape[0]
            rate = clips / (time.perf_counter() - start)
            best[m.name] = max(best.get(m.name, 0.0), rate)
    return best


def machine_description() -> str:
    """CPU model and core count (``/proc/cpuinfo``, ``nproc``), GPU if any, torch threads."""
    cpu = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    parts = [f"{cpu}, {len(os.sched_getaffinity(0))} cores (nproc)"]
    if simd:
        parts.append("/".join(simd).upper())
    if torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    else:
        parts.append("no GPU")
    parts.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32")
    return "; ".join(parts)
