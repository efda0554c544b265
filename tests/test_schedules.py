"""The recipes' learning-rate schedules (deepvideo.modules.schedules) and how the module steps them."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from deepvideo.modules.schedules import make_scheduler, warmup_cosine, warmup_cosine_factor


def _sgd(*rates: float) -> torch.optim.SGD:
    groups = [{"params": [nn.Parameter(torch.zeros(1))], "lr": lr} for lr in rates]
    return torch.optim.SGD(groups, lr=rates[0])


def test_warmup_cosine_shape() -> None:
    total, warm = 100, 10
    values = [warmup_cosine_factor(s, total, warm, 0.1, 0.0) for s in range(total + 1)]
    assert values[0] == pytest.approx(0.1)
    assert values[warm] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(values[:warm], values[1 : warm + 1], strict=True))
    assert all(a >= b for a, b in zip(values[warm:], values[warm + 1 :], strict=False))
    assert values[warm + 45] == pytest.approx(0.5)
    assert values[total] == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine_factor(total, total, warm, 0.1, 0.2) == pytest.approx(0.2)


def test_warmup_cosine_scheduler_keeps_each_groups_rate() -> None:
    """Every parameter group follows the same factor of its own rate (the LSTM above its tower)."""
    optimizer = _sgd(0.01, 0.3)
    scheduler = warmup_cosine(optimizer, total_steps=20, warmup_steps=4, warmup_start=0.25)
    seen = []
    for _ in range(20):
        seen.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert seen[0] == pytest.approx([0.0025, 0.075])
    assert seen[4] == pytest.approx([0.01, 0.3])
    for a, b in seen:
        assert b / a == pytest.approx(30.0)
    expected = 0.5 * (1 + math.cos(math.pi * 15 / 16))
    assert seen[19][0] == pytest.approx(0.01 * expected)


def test_make_scheduler_kinds_and_errors() -> None:
    scheduler, interval = make_scheduler(_sgd(0.1), "plateau", patience=3)
    assert isinstance(scheduler, ReduceLROnPlateau) and interval == "epoch"
    _, interval = make_scheduler(_sgd(0.1), "warmup_cosine", total_steps=50, steps_per_epoch=5)
    assert interval == "step"
    with pytest.raises(ValueError, match="data.recipe.schedule"):
        make_scheduler(_sgd(0.1), "cosine")
    with pytest.raises(ValueError, match="total and per-epoch steps"):
        make_scheduler(_sgd(0.1), "warmup_cosine")
    with pytest.raises(ValueError, match="warmup_start"):
        warmup_cosine(_sgd(0.1), 10, 2, warmup_start=0.0)


def test_module_steps_the_recipe_schedule_every_step() -> None:
    """configure_optimizers hands Lightning a per-step scheduler sized to the run."""
    from types import SimpleNamespace

    from deepvideo.modules import VideoClassifier

    net = nn.Sequential(nn.Flatten(), nn.Linear(3, 4))
    module = VideoClassifier(
        net,
        partial(torch.optim.SGD, lr=0.1, momentum=0.9),
        partial(make_scheduler, kind="warmup_cosine", warmup_epochs=2),
    )
    fake = SimpleNamespace(estimated_stepping_batches=100, max_epochs=10)
    object.__setattr__(module, "_trainer", fake)
    config = module.configure_optimizers()
    assert config["lr_scheduler"]["interval"] == "step"
    scheduler = config["lr_scheduler"]["scheduler"]
    assert scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)  # warm-up start
    for _ in range(20):
        scheduler.optimizer.step()
        scheduler.step()
    assert scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(0.1)  # 2 epochs of 10 steps
