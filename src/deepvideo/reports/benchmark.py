"""How fast the models and the data path run on this machine, against what it can do.

For each model at paper size (Karpathy et al. 2014: 170x170 frames, 178 for the multiresolution
nets, 487 classes, full width), per precision: training clips/s (forward, backward and an SGD
step), inference clips/s, peak memory, FLOPs per clip (``torch.utils.flop_counter``) and the
achieved FLOP/s as a fraction of this machine's matmul peak in that precision, measured in the
same run. Models are timed interleaved (round-robin, best round kept), so their ratios are
comparable on a shared, noisy machine. The data path (decode rates, loader and evaluation
throughput) comes from :mod:`deepvideo.data.bench`. :func:`ratios` reduces both to the figures
the performance targets are stated in.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from hydra.utils import instantiate
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from deepvideo.data.bench import markdown as data_markdown
from deepvideo.utils.hardware import cpu_has_fast_bf16, cpu_name

__all__ = [
    "ModelResult",
    "PrecisionPeak",
    "markdown",
    "matmul_peak",
    "measure_models",
    "measured_precisions",
    "ratios",
]

PRECISIONS = ("fp32", "bf16")


@dataclass
class PrecisionPeak:
    """Achieved GFLOP/s of a large square matmul: the practical peak of this machine."""

    precision: str
    gflops: float
    size: int


@dataclass
class ModelResult:
    name: str
    precision: str
    batch_size: int
    input_shape: tuple[int, ...]
    params_m: float
    gflop_per_clip_forward: float
    gflop_per_clip_train: float
    train_clips_per_s: float
    infer_clips_per_s: float
    peak_memory_mb: float
    train_peak_fraction: float = 0.0
    infer_peak_fraction: float = 0.0
    compiled: bool = False
    # seconds of the first (warm-up) training and inference steps: torch.compile's cost
    warmup_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _autocast(precision: str) -> Any:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16")


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def matmul_peak(precision: str, size: int = 2048, repeats: int = 5) -> PrecisionPeak:
    """GFLOP/s of a ``size x size`` matmul in ``precision`` (best of ``repeats``)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        a @ b
        _sync()
        best = min(best, time.perf_counter() - start)
    return PrecisionPeak(precision, 2 * size**3 / best / 1e9, size)


def measured_precisions() -> tuple[list[str], str | None]:
    """The precisions worth timing here: fp32, and bf16 where the hardware has it (a CUDA GPU
    with bf16, a CPU with AMX or AVX512-BF16). Elsewhere bf16 is emulated and is left out, with
    a note giving a small matmul's rate in both precisions, measured now (on a 2-core AVX2 AMD
    EPYC: 0.9 GFLOP/s in bf16 against 155 in fp32)."""
    if torch.cuda.is_available():
        return (["fp32", "bf16"], None) if torch.cuda.is_bf16_supported() else (["fp32"], None)
    if cpu_has_fast_bf16():
        return ["fp32", "bf16"], None
    fp32 = matmul_peak("fp32", size=512, repeats=3).gflops
    bf16 = matmul_peak("bf16", size=512, repeats=1).gflops
    note = (
        f"bf16 left out: emulated on this CPU (no AMX/AVX512-BF16): a 512^2 matmul ran at "
        f"{bf16:.1f} GFLOP/s in bf16 against {fp32:.0f} in fp32 ({fp32 / bf16:.0f}x slower), "
        "so precision=auto trains in fp32 here; --precision fp32 bf16 times it anyway"
    )
    return ["fp32"], note


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


@contextmanager
def peak_memory() -> Iterator[Callable[[], float]]:
    """Peak memory (MiB) used inside the block: CUDA's allocator peak, or resident memory above
    the level at entry, sampled every 5 ms."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        yield lambda: (torch.cuda.max_memory_allocated() - start) / 2**20
        return
    base = _rss_mb()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak[0] - base
    finally:
        done.set()
        thread.join()
        peak[0] = max(peak[0], _rss_mb())


def flops_per_clip(net: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """(forward, forward + backward) FLOPs of one clip, counted by torch's flop counter."""
    counter = FlopCounterMode(display=False)
    with counter:
        net(x[:1]).sum().backward()
    net.zero_grad(set_to_none=True)
    total = float(counter.get_total_flops())
    with FlopCounterMode(display=False) as forward_only, torch.no_grad():
        net(x[:1])
    return float(forward_only.get_total_flops()), total


def _time_train(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    precision: str,
    steps: int,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[float, float]:
    """(clips/s of the median timed step, seconds of the warm-up step) of SGD training steps;
    ``forward`` (default ``net``) may be ``torch.compile(net)``."""
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-6, momentum=0.9)
    forward = net if forward is None else forward
    net.train()
    times = []
    for _ in range(steps + 1):
        _sync()
        start = time.perf_counter()
        with _autocast(precision):
            logits = forward(x)
        loss = nn.functional.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync()
        times.append(time.perf_counter() - start)
    timed = sorted(times[1:])  # the first step warms up (and compiles)
    return x.shape[0] / timed[len(timed) // 2], times[0]


@torch.no_grad()
def _time_infer(
    net: nn.Module,
    x: torch.Tensor,
    precision: str,
    steps: int,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[float, float]:
    forward = net if forward is None else forward
    net.eval()
    times = []
    for _ in range(steps + 1):
        _sync()
        start = time.perf_counter()
        with _autocast(precision):
            forward(x)
        _sync()
        times.append(time.perf_counter() - start)
    timed = sorted(times[1:])
    return x.shape[0] / timed[len(timed) // 2], times[0]


def measure_models(
    nets: Mapping[str, Any],
    clips: Mapping[str, tuple[int, int]],
    precisions: Sequence[str] = PRECISIONS,
    batch_size: int = 32,
    steps: int = 3,
    rounds: int = 2,
    peaks: Mapping[str, PrecisionPeak] | None = None,
    compile: bool = False,
) -> list[ModelResult]:
    """Time every model (``nets``: name -> ``model.net`` config) in every precision, eager and,
    with ``compile``, through ``torch.compile`` too (its compile time is the warm-up's).

    ``clips``: name -> (frames, crop side). Each (model, precision) runs ``steps`` timed
    training steps and inference passes per round after one warm-up; rounds go round-robin over
    the models and the best round counts.
    """
    device = "cuda" if torch.cuda.is_available() else "cpu"
    built = {name: instantiate(cfg).to(device) for name, cfg in nets.items()}
    variants = [False, True] if compile else [False]
    compiled = {name: torch.compile(net) for name, net in built.items()} if compile else {}
    results: dict[tuple[str, str, bool], ModelResult] = {}
    for name, net in built.items():
        frames, side = clips[name]
        x = torch.randn(batch_size, 3, frames, side, side, device=device)
        forward, train = flops_per_clip(net, x)
        params = sum(p.numel() for p in net.parameters()) / 1e6
        for precision in precisions:
            for variant in variants:
                results[name, precision, variant] = ModelResult(
                    name,
                    precision,
                    batch_size,
                    tuple(x.shape[1:]),
                    round(params, 2),
                    forward / 1e9,
                    train / 1e9,
                    0.0,
                    0.0,
                    0.0,
                    compiled=variant,
                )
    for round_index in range(max(1, rounds)):
        for name, net in built.items():
            frames, side = clips[name]
            x = torch.randn(batch_size, 3, frames, side, side, device=device)
            y = torch.randint(0, int(getattr(net, "num_classes", 2)), (batch_size,), device=device)
            for precision in precisions:
                for variant in variants:
                    result = results[name, precision, variant]
                    run = compiled[name] if variant else None
                    with peak_memory() as peak:
                        train, train_warmup = _time_train(net, x, y, precision, steps, run)
                        infer, infer_warmup = _time_infer(net, x, precision, steps, run)
                    if round_index == 0:
                        result.warmup_s = train_warmup + infer_warmup
                    result.train_clips_per_s = max(result.train_clips_per_s, train)
                    result.infer_clips_per_s = max(result.infer_clips_per_s, infer)
                    result.peak_memory_mb = max(result.peak_memory_mb, peak())
    for result in results.values():
        if peaks and result.precision in peaks:
            peak_flops = peaks[result.precision].gflops
            result.train_peak_fraction = (
                result.gflop_per_clip_train * result.train_clips_per_s / peak_flops
            )
            result.infer_peak_fraction = (
                result.gflop_per_clip_forward * result.infer_clips_per_s / peak_flops
            )
    return list(results.values())


def _rate(results: Sequence[ModelResult], name: str, precision: str) -> float | None:
    for r in results:
        if r.name == name and r.precision == precision and not r.compiled:
            return r.train_clips_per_s
    return None


def ratios(
    models: Sequence[ModelResult], data: Mapping[str, Any] | None, auto: Mapping[str, str]
) -> dict[str, float | None]:
    """The figures the performance targets are stated in, each from this one run.

    ``auto``: model name -> the precision ``auto`` picks for it here (``fp32``/``bf16``).
    """

    def ratio(a: str, b: str) -> float | None:
        pa, pb = auto.get(a, "fp32"), auto.get(b, "fp32")
        ra, rb = _rate(models, a, pa), _rate(models, b, pb)
        return ra / rb if ra and rb else None

    single = _rate(models, "single_frame", auto.get("single_frame", "fp32"))
    fraction = next(
        (
            r.train_peak_fraction
            for r in models
            if r.name == "single_frame"
            and r.precision == auto.get("single_frame", "fp32")
            and not r.compiled
        ),
        None,
    )
    data = data or {}
    loader = data.get("loader_clips_per_s", {}).get("single_frame")
    return {
        "multires_over_single_train": ratio("multires", "single_frame"),
        "multires_slow_over_slow_train": ratio("multires_slow_fusion", "slow_fusion"),
        "loader_over_single_frame_train": loader / single if loader and single else None,
        "single_frame_peak_fraction": fraction,
        "clip_read_over_sequential_decode": data.get("clip_read_over_sequential_decode"),
        "clip_read_alone_over_sequential_decode": data.get(
            "clip_read_alone_over_sequential_decode"
        ),
    }


TARGETS: dict[str, float] = {
    "multires_over_single_train": 1.5,
    "multires_slow_over_slow_train": 1.7,
    "loader_over_single_frame_train": 1.0,
    "single_frame_peak_fraction": 0.25,
    "clip_read_over_sequential_decode": 0.7,
}


def markdown(
    models: Sequence[ModelResult],
    peaks: Mapping[str, PrecisionPeak],
    ratio_values: Mapping[str, float | None],
    data: Mapping[str, Any] | None = None,
) -> str:
    """The benchmark as markdown tables: machine, models, data path, ratios against targets."""
    lines = [
        f"Machine: {cpu_name()}, {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
        "",
        "Matmul peak: "
        + ", ".join(f"{p.precision} {p.gflops:.0f} GFLOP/s ({p.size}^2)" for p in peaks.values()),
        "",
        "| model | precision | batch | input | params (M) | GFLOP/clip train | train clips/s | "
        "infer clips/s | train % of peak | infer % of peak | peak mem (MiB) | warm-up (s) |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in models:
        shape = "x".join(map(str, r.input_shape))
        name = f"{r.name} (torch.compile)" if r.compiled else r.name
        lines.append(
            f"| {name} | {r.precision} | {r.batch_size} | {shape} | {r.params_m:.1f} | "
            f"{r.gflop_per_clip_train:.2f} | {r.train_clips_per_s:.1f} | "
            f"{r.infer_clips_per_s:.1f} | {100 * r.train_peak_fraction:.1f} | "
            f"{100 * r.infer_peak_fraction:.1f} | {r.peak_memory_mb:.0f} | {r.warmup_s:.1f} |"
        )
    if data:
        for key, rows in data.items():
            if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
                lines += ["", f"Data path, {key}:", "", *data_markdown(rows).splitlines()]
        lines += ["", "Data path:", "", "| measure | value |", "| --- | ---: |"]
        scalars = {k: v for k, v in data.items() if not isinstance(v, list)}
        for key, value in _flatten(scalars):
            lines.append(
                f"| {key} | {value:.3g} |" if isinstance(value, float) else f"| {key} | {value} |"
            )
    lines += ["", "| ratio | measured | target | met |", "| --- | ---: | ---: | --- |"]
    for key, value in ratio_values.items():
        target = TARGETS.get(key)
        shown = "—" if target is None else target
        if value is None:
            lines.append(f"| {key} | n/a | {shown} | not measured |")
            continue
        if target is None:
            met = "(no target)"
        else:
            met = "yes" if value >= target else f"no ({value / target:.0%} of it)"
        lines.append(f"| {key} | {value:.3f} | {shown} | {met} |")
    return "\n".join(lines) + "\n"


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{name}.")
        else:
            yield name, value
