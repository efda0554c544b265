"""Choosing numeric precision from what the hardware does fast.

bf16 autocast is a large win where the hardware has bf16 matrix units (CUDA GPUs with bf16,
CPUs with AMX or AVX512-BF16) and a large loss where it is emulated: on an AVX2-only CPU a bf16
matmul ran 582x and a Slow Fusion training step 17x slower than fp32 in our measurement
(`python scripts/bench_precision.py`).
"""

from __future__ import annotations

import torch


def cpu_has_fast_bf16() -> bool:
    """True when this CPU has AMX tiles or AVX512-BF16 instructions."""
    cpu = torch.cpu
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            return True
    return False


def resolve_precision(precision: str | int | None) -> str | int | None:
    """Map ``"auto"`` to ``bf16-mixed`` where bf16 is fast, else ``32-true``; pass others through."""
    if precision != "auto":
        return precision
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_fast_bf16() else "32-true"
