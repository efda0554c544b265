"""Training throughput at 1 and N processes, measured back to back in one command.

``python scripts/bench_ddp.py [--processes 1 2] [--repeats 2] [overrides]`` trains the same short
job with ``trainer=cpu`` (one process) and ``trainer=ddp_cpu trainer.devices=N`` (N processes,
gloo, synchronous DDP), alternating the settings ``repeats`` times so that a shared machine's
drift hits both alike, and reads each run's ``train/clips_per_s`` (training clips per second of
training-loop wall time, summed over the processes: :class:`deepvideo.modules.RunStats`) from its
``metrics.json``. Each process keeps ``data.batch_size`` (Karpathy et al. 2014, Sec. 3.3: 32 per
replica at paper size), so N processes step on an N times larger global batch.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deepvideo.reports.experiments import train_experiment
from deepvideo.reports.throughput import machine_description

__all__ = ["DEFAULT_JOB", "ProcessRate", "compare_processes", "rates_markdown"]

# a short training job: the synthetic recipe's single-frame net, 40 steps, no test
DEFAULT_JOB = (
    "model=single_frame",
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=40",
    "+trainer.limit_val_batches=1",
    "test=false",
    "logger=csv",
    # the same precision at every number of processes (fp32: bf16 is emulated on AVX2 CPUs)
    "trainer.precision=32-true",
)


@dataclass
class ProcessRate:
    """Training clips/s of every repeat at one number of processes."""

    processes: int
    clips_per_s: list[float] = field(default_factory=list)
    train_s: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.clips_per_s)


def trainer_overrides(processes: int) -> list[str]:
    if processes == 1:
        return ["trainer=cpu"]
    return ["trainer=ddp_cpu", f"trainer.devices={processes}"]


def compare_processes(
    out_dir: str | Path,
    processes: Sequence[int] = (1, 2),
    repeats: int = 2,
    overrides: Sequence[str] = (),
) -> list[ProcessRate]:
    """Train the job at each number of processes, alternating, ``repeats`` times each."""
    out_dir = Path(out_dir)
    rates = {n: ProcessRate(n) for n in processes}
    for repeat in range(repeats):
        for n in processes:
            run = train_experiment(
                None,
                out_dir / f"p{n}_r{repeat}",
                overrides=[*DEFAULT_JOB, *trainer_overrides(n), *overrides],
                log_name="bench_ddp.log",
            )
            rates[n].clips_per_s.append(run.metrics["train/clips_per_s"])
            rates[n].train_s.append(run.metrics.get("time/train_s", float("nan")))
    return list(rates.values())


def rates_markdown(rates: Sequence[ProcessRate], overrides: Sequence[str] = ()) -> str:
    """The table: processes, clips/s per repeat, mean, ratio to one process."""
    base = next((r.mean for r in rates if r.processes == 1), rates[0].mean)
    lines = [
        f"Machine: {machine_description()}",
        f"Job: {' '.join([*DEFAULT_JOB, *overrides])}",
        "",
        "| processes | train clips/s (each repeat) | mean | vs 1 process |",
        "| ---: | --- | ---: | ---: |",
    ]
    for r in rates:
        each = ", ".join(f"{v:.1f}" for v in r.clips_per_s)
        lines.append(f"| {r.processes} | {each} | {r.mean:.1f} | {r.mean / base:.2f}x |")
    return "\n".join(lines) + "\n"
