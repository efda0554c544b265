"""Learning-rate schedules of the recipes, built on torch's schedulers.

``data.recipe.schedule`` names the schedule a recipe trains with (``conf/module/default.yaml``
passes it to :func:`make_scheduler` with its parameters):

- ``plateau``: the paper's rule (Karpathy et al. 2014, Sec. 3.3: the learning rate is reduced
  when the validation metric stops improving; they did it by hand, we with torch's
  ``ReduceLROnPlateau``: x ``factor`` after ``patience`` epochs without a better
  ``module.monitor``), stepped once an epoch. The Sports-1M and UCF-101 recipes.
- ``warmup_cosine``: a linear warm-up from ``warmup_start`` x the rate over ``warmup_epochs``,
  then a half cosine down to ``final_fraction`` x the rate at the last step (torch's
  ``LambdaLR``, so every parameter group keeps its own rate, e.g. Ng et al.'s LSTM above its
  tower), stepped every optimizer step. The synthetic recipes: their budget (10 epochs) ends
  long before a plateau rule fires, so under ``plateau`` the rate stayed at its peak to the end
  and the result moved with the last few hundred steps (README, "Findings across seeds").
"""

from __future__ import annotations

import math
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau

SCHEDULES = ("plateau", "warmup_cosine")

__all__ = ["SCHEDULES", "make_scheduler", "warmup_cosine", "warmup_cosine_factor"]


def warmup_cosine_factor(
    step: int, total_steps: int, warmup_steps: int, warmup_start: float, final_fraction: float
) -> float:
    """The rate at optimizer step ``step`` as a fraction of the base rate."""
    if step < warmup_steps:
        return warmup_start + (1.0 - warmup_start) * step / warmup_steps
    decay = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay)
    return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine(
    optimizer: Optimizer,
    total_steps: int,
    warmup_steps: int,
    warmup_start: float = 0.1,
    final_fraction: float = 0.0,
) -> LambdaLR:
    """Linear warm-up over ``warmup_steps`` from ``warmup_start`` x each group's rate, then a
    cosine decay to ``final_fraction`` x that rate at ``total_steps``."""
    if total_steps < 1:
        raise ValueError(f"warmup_cosine needs total_steps >= 1, got {total_steps}")
    if not 0 < warmup_start <= 1 or not 0 <= final_fraction <= 1:
        raise ValueError(
            "warmup_cosine needs 0 < warmup_start <= 1 and 0 <= final_fraction <= 1, got "
            f"warmup_start={warmup_start}, final_fraction={final_fraction}"
        )
    warmup_steps = max(0, min(int(warmup_steps), total_steps - 1))
    return LambdaLR(
        optimizer,
        lambda step: warmup_cosine_factor(
            step, total_steps, warmup_steps, warmup_start, final_fraction
        ),
    )


def make_scheduler(
    optimizer: Optimizer,
    kind: str,
    *,
    total_steps: int | None = None,
    steps_per_epoch: int | None = None,
    mode: str = "max",
    factor: float = 0.1,
    patience: int = 2,
    warmup_epochs: float = 1.0,
    warmup_start: float = 0.1,
    final_fraction: float = 0.0,
) -> tuple[Any, str]:
    """The scheduler named ``kind`` (one of :data:`SCHEDULES`) and how often Lightning steps it
    (``"epoch"`` or ``"step"``); ``total_steps`` and ``steps_per_epoch`` come from the trainer."""
    if kind == "plateau":
        if mode not in ("min", "max"):
            raise ValueError(f"the plateau schedule's mode must be 'min' or 'max', got {mode!r}")
        plateau = ReduceLROnPlateau(
            optimizer, mode="max" if mode == "max" else "min", factor=factor, patience=patience
        )
        return plateau, "epoch"
    if kind == "warmup_cosine":
        if total_steps is None or steps_per_epoch is None:
            raise ValueError("the warmup_cosine schedule needs the run's total and per-epoch steps")
        warmup = int(round(warmup_epochs * steps_per_epoch))
        return warmup_cosine(optimizer, total_steps, warmup, warmup_start, final_fraction), "step"
    raise ValueError(
        f"unknown learning-rate schedule {kind!r}: set data.recipe.schedule to one of {SCHEDULES}"
    )
