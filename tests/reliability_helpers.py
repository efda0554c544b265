"""Callbacks the reliability tests inject into real training runs (``+callbacks.x=...``).

``KillAt`` and ``KillDuringSave`` end their own process with SIGKILL (no handler, no cleanup, as a
node failure or the OOM killer would); ``MemoryLog`` records the resident memory of the training
process and of its DataLoader workers at the end of every epoch, read from ``/proc``.
"""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback


def kill_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAt(Callback):
    """SIGKILL the process when training batch ``batch`` of epoch ``epoch`` starts."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            kill_now()


class KillDuringSave(Callback):
    """SIGKILL the process in the middle of writing epoch ``epoch``'s checkpoint file whose name
    contains ``name`` (``last.ckpt``: the one ``ckpt_path=last`` resumes from): half of its bytes
    are in the file being written, flushed to the OS, when the process dies."""

    def __init__(self, epoch: int, name: str = "last.ckpt") -> None:
        self.epoch, self.name = epoch, name

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        real_save = torch.save
        epoch, name = self.epoch, self.name

        def dying_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
            target = str(getattr(f, "name", f))
            if isinstance(obj, dict) and obj.get("epoch") == epoch and name in target:
                buffer = io.BytesIO()
                real_save(obj, buffer, *args, **kwargs)
                data = buffer.getvalue()
                f.write(data[: len(data) // 2])
                f.flush()
                kill_now()
            real_save(obj, f, *args, **kwargs)

        torch.save = dying_save


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of process ``pid`` in KiB: ``VmRSS`` of ``/proc/<pid>/status``, or one of
    its parts (``RssAnon``: heap and other private memory, where a leak shows; ``RssFile``: mapped
    files, the libraries' code pages as they get touched)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (its DataLoader workers), from ``/proc``."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(c) for c in text)
    return found


class MemoryLog(Callback):
    """After every training epoch, append the resident memory of the training process and of its
    live child processes (each, their sum, and the sums' anonymous and file-backed parts) to the
    JSON list at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        me = os.getpid()
        workers: dict[str, list[int]] = {"VmRSS": [], "RssAnon": [], "RssFile": []}
        for child in children(me):
            try:
                sizes = {field: rss_kib(child, field) for field in workers}
            except OSError:  # exited meanwhile
                continue
            for field, size in sizes.items():
                workers[field].append(size)
        self.rows.append(
            {
                "epoch": trainer.current_epoch,
                "main_kib": rss_kib(me),
                "main_anon_kib": rss_kib(me, "RssAnon"),
                "workers_kib": sum(workers["VmRSS"]),
                "workers_anon_kib": sum(workers["RssAnon"]),
                "workers_file_kib": sum(workers["RssFile"]),
                "each_worker_kib": workers["VmRSS"],
                "workers": len(workers["VmRSS"]),
            }
        )
        self.path.write_text(json.dumps(self.rows, indent=1) + "\n")


class ThreadProbe(Callback):
    """Records torch's compute threads at every training, validation and test batch, and writes
    them to ``path`` (JSON, by stage) when the test ends."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.seen: dict[str, set[int]] = {"train": set(), "val": set(), "test": set()}

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self.seen["train"].add(torch.get_num_threads())

    def on_validation_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if not trainer.sanity_checking:
            self.seen["val"].add(torch.get_num_threads())

    def on_test_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self.seen["test"].add(torch.get_num_threads())

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.path.write_text(json.dumps({k: sorted(v) for k, v in self.seen.items()}))
