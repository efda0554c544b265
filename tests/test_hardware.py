"""``precision: auto``: the flag rule where bf16 is emulated, a cached measurement where it is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from deepvideo.utils import hardware


def tiny_net() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 4))


def test_emulated_bf16_means_fp32_without_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: False)
    monkeypatch.setattr(hardware, "measure_cpu_precision", lambda *a, **k: pytest.fail("measured"))
    assert hardware.resolve_precision("auto", tiny_net(), (2, 3, 2, 8, 8)) == "32-true"
    assert hardware.resolve_precision("bf16-mixed") == "bf16-mixed"


@pytest.mark.parametrize(("speedup", "expected"), [(1.02, "32-true"), (1.6, "bf16-mixed")])
def test_fast_bf16_is_chosen_by_measurement_and_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, speedup: float, expected: str
) -> None:
    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr(hardware, "CACHE", tmp_path)
    calls: list[tuple[int, ...]] = []

    def measure(net: nn.Module, shape: tuple[int, ...]) -> dict[str, float]:
        calls.append(tuple(shape))
        return {"fp32_s": speedup, "bf16_s": 1.0, "speedup": speedup}

    monkeypatch.setattr(hardware, "measure_cpu_precision", measure)
    net = tiny_net()
    assert hardware.resolve_precision("auto", net, (2, 3, 2, 8, 8)) == expected
    assert hardware.resolve_precision("auto", net, (2, 3, 2, 8, 8)) == expected
    assert calls == [(2, 3, 2, 8, 8)]  # the second run read the cache
    cached = json.loads((tmp_path / "precision.json").read_text())
    assert [v["speedup"] for v in cached.values()] == [speedup]


def test_runs_started_together_share_one_measurement(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two runs resolving ``auto`` at once (a report's ``--jobs 2``) measure once and agree: the
    second waits for the first's measurement under the cache's lock. Without the lock each
    measured while the other ran, and here they would get opposite answers."""
    import threading
    import time

    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr(hardware, "CACHE", tmp_path)
    answers = iter([1.6, 1.0])  # what a loaded machine measured in turn

    def measure(net: nn.Module, shape: tuple[int, ...]) -> dict[str, float]:
        speedup = next(answers)
        time.sleep(0.2)  # the other run starts meanwhile
        return {"fp32_s": speedup, "bf16_s": 1.0, "speedup": speedup}

    monkeypatch.setattr(hardware, "measure_cpu_precision", measure)
    chosen: list[object] = []
    runs = [
        threading.Thread(
            target=lambda: chosen.append(
                hardware.resolve_precision("auto", tiny_net(), (2, 3, 2, 8, 8))
            )
        )
        for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert chosen == ["bf16-mixed", "bf16-mixed"]


def test_measurement_leaves_the_network_and_the_rng_alone() -> None:
    net = tiny_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    speed = hardware.measure_cpu_precision(net, (2, 3, 2, 8, 8), steps=1)
    assert speed["fp32_s"] > 0 and speed["bf16_s"] > 0
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
