"""What a sweep compares besides accuracy: training throughput, wall time and the best epoch.

:class:`RunStats` logs, at the end of every training epoch, ``train/clips_per_s`` (training clips
per second of training-loop wall time, data loading included, validation and each epoch's first
batch, which waits for the loader workers to start, excluded; summed over the DDP processes),
``time/train_s`` (those seconds, so far) and ``val/best_epoch`` (the epoch whose validation
``module.monitor`` was best so far). They reach the loggers and ``metrics.json`` like any other
metric, and :mod:`deepvideo.reports.sweep` reads them back.
"""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

__all__ = ["RunStats"]


class RunStats(Callback):
    """Training clips/s, training seconds and best epoch of a run (see the module docstring)."""

    def __init__(self) -> None:
        self.train_seconds = 0.0
        self.clips = 0
        self.best_epoch: int | None = None
        self.best_value: float | None = None
        self._epoch_start: float | None = None
        self._last_batch_end: float | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = None
        self._last_batch_end = None

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        now = time.perf_counter()
        if self._epoch_start is None:
            # the clock starts at the end of the epoch's first batch: that one also waits for
            # the loader workers to start (seconds, and more under ddp_spawn, whose workers are
            # spawned rather than forked), which is not the steady rate
            self._epoch_start = now
            return
        video = batch.get("video") if isinstance(batch, dict) else None
        self.clips += int(video.shape[0]) if torch.is_tensor(video) else 0
        self._last_batch_end = now

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        monitor = getattr(pl_module, "monitor", None)
        logged = trainer.callback_metrics.get(monitor) if monitor else None
        if logged is None:
            return
        value = float(logged)
        better = (
            self.best_value is None
            or (getattr(pl_module, "monitor_mode", "max") == "max" and value > self.best_value)
            or (getattr(pl_module, "monitor_mode", "max") == "min" and value < self.best_value)
        )
        if better:
            self.best_value, self.best_epoch = value, trainer.current_epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._epoch_start is not None and self._last_batch_end is not None:
            self.train_seconds += self._last_batch_end - self._epoch_start
        if self.train_seconds > 0:
            # per-process rates, summed over the processes: the run's global throughput
            rate = torch.tensor(self.clips / self.train_seconds)
            pl_module.log("train/clips_per_s", rate, sync_dist=True, reduce_fx="sum")
            pl_module.log("time/train_s", float(self.train_seconds), rank_zero_only=True)
        if self.best_epoch is not None:
            pl_module.log("val/best_epoch", float(self.best_epoch), rank_zero_only=True)
