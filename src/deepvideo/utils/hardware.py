"""Choosing numeric precision from what this machine does fast, measured per model.

bf16 autocast is a large win where the hardware has bf16 matrix units and a large loss where it
is emulated: on an AVX2-only CPU a bf16 matmul ran 582x and a Slow Fusion training step 17x
slower than fp32 (`python scripts/bench_precision.py`), so there ``auto`` is ``32-true`` without
measuring. Where the CPU has AMX or AVX512-BF16 the answer depends on the model: on a 2-core AMD
EPYC with AVX512-BF16 a 2048x2048 matmul ran 3.1x faster in bf16 but the synthetic recipe's Slow
Fusion step (quarter width, 64x64) was no faster (1.02x). So ``auto`` times a few training steps
of the actual network at the run's batch shape in both precisions (interleaved, median) and
keeps bf16 only when it is at least 5% faster; the choice is cached per CPU, torch version,
network and input shape (``~/.cache/deepvideo/precision.json``), so only the first run pays, and
runs started together (a report's ``--jobs 2``) wait for one measurement under a file lock
rather than each timing the steps while the other loads the cores (two such runs of one report
once measured opposite answers). CUDA devices with bf16 use ``bf16-mixed``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import platform
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

CACHE = Path(os.environ.get("DEEPVIDEO_CACHE", Path.home() / ".cache" / "deepvideo"))
BF16_MIN_SPEEDUP = 1.05


def cpu_has_fast_bf16() -> bool:
    """True when this CPU has AMX tiles or AVX512-BF16 instructions."""
    cpu = torch.cpu
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            return True
    return False


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the machine type."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def time_train_step(
    net: nn.Module, shape: Sequence[int], bf16: bool, steps: int = 3, warmup: int = 1
) -> float:
    """Median seconds of a forward + backward pass of ``net`` on a random ``shape`` batch."""
    x = torch.randn(*shape)
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(x)
        out.float().sum().backward()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    net.zero_grad(set_to_none=True)
    return sorted(times)[len(times) // 2]


def measure_cpu_precision(net: nn.Module, shape: Sequence[int], steps: int = 2) -> dict[str, float]:
    """fp32 and bf16 seconds per training step of a copy of ``net`` (RNG state untouched)."""
    state = torch.random.get_rng_state()
    try:
        probe = copy.deepcopy(net).train()
        fp32, bf16 = [], []
        for _ in range(2):  # interleaved rounds, best of each
            fp32.append(time_train_step(probe, shape, bf16=False, steps=steps))
            bf16.append(time_train_step(probe, shape, bf16=True, steps=steps))
    finally:
        torch.random.set_rng_state(state)
    return {"fp32_s": min(fp32), "bf16_s": min(bf16), "speedup": min(fp32) / min(bf16)}


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (POSIX ``flock``; no lock where the file cannot be
    made or the platform has no ``fcntl``)."""
    try:
        import fcntl

        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a")  # noqa: SIM115 (closed below, after the unlock)
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock


def _cache_key(net: nn.Module, shape: Sequence[int]) -> str:
    params = sum(p.numel() for p in net.parameters())
    dims = "x".join(str(int(d)) for d in shape)
    return f"{cpu_name()}|torch {torch.__version__}|{type(net).__name__}|{params}|{dims}"


def resolve_precision(
    precision: str | int | None,
    net: nn.Module | None = None,
    shape: Sequence[int] | None = None,
) -> str | int | None:
    """Map ``"auto"`` to the faster of ``bf16-mixed`` / ``32-true`` here; pass others through.

    With ``net`` and its batch ``shape`` on a CPU with fast bf16, the choice is measured (and
    cached); without them such a CPU gets ``bf16-mixed``.
    """
    if precision != "auto":
        return precision
    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    if not cpu_has_fast_bf16():
        return "32-true"
    if net is None or shape is None:
        return "bf16-mixed"
    path = CACHE / "precision.json"
    key = _cache_key(net, shape)
    with _locked(path.with_suffix(".lock")):
        try:
            cache = json.loads(path.read_text())
        except (OSError, ValueError):
            cache = {}
        if key not in cache:
            cache[key] = measure_cpu_precision(net, shape)
            try:
                path.write_text(json.dumps(cache, indent=1, sort_keys=True))
            except OSError as err:  # a read-only home still gets the measured answer
                log.warning("cannot cache the precision measurement in %s: %s", path, err)
    speed = cache[key]
    chosen = "bf16-mixed" if speed["speedup"] >= BF16_MIN_SPEEDUP else "32-true"
    log.info(
        "precision auto -> %s: a training step of %s at %s takes %.3f s in fp32, %.3f s in "
        "bf16 (%.2fx) on %s",
        chosen,
        type(net).__name__,
        "x".join(map(str, shape)),
        speed["fp32_s"],
        speed["bf16_s"],
        speed["speedup"],
        cpu_name(),
    )
    return chosen
