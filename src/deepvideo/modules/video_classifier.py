"""One LightningModule for every network: loss, metrics, optimizer and LR schedule.

The network (``net``) is any ``nn.Module`` mapping ``(B, C, T, H, W)`` clips to class logits; it
knows nothing of Lightning. Optimizer and scheduler come from the config as partials (Karpathy et
al. 2014, Sec. 3.3: SGD, momentum 0.9, weight decay 5e-4, learning rate 1e-3, reduced when the
validation metric plateaus; the recipes' schedules are in :mod:`deepvideo.modules.schedules`);
under DDP ``lr_scaling=linear`` scales the rate by the global batch over the recipe's
(:func:`lr_scaling_factor`).

Training sees one clip per video. Validation and test see several clips per video, each as
``V`` views (crops/flips, batch shape ``(B, V, C, T, H, W)``): view probabilities are averaged into
a clip prediction, and clips into a video prediction (:class:`deepvideo.metrics.VideoLevelMetrics`).

A network with per-frame outputs (``net.frame_outputs``: the deep LSTM of Ng et al. 2015, Sec.
3.2) returns ``(B, T, num_classes)`` logits: training backpropagates the video's label at every
frame with the gain ``g`` rising linearly from 0 to 1 over the frames (Sec. 3.3, "LSTM Training"),
and evaluation turns the per-frame softmax into one score per example by ``frame_rule``, one of
Sec. 3.3's four inference rules (``last``, ``max``, ``sum``, ``weighted``).

Broken files (:mod:`deepvideo.data.faults`): every batch carries the ``failures`` its samples met
and a ``valid`` flag per sample. The module hands the failures to the DataModule's ``FaultLog``
(reported once per file; ``data.strict=true`` stops the run there), counts them per split
(``train/``, ``val/``, ``test/skipped_videos`` and their sum ``data/skipped_videos``, logged and so
in ``metrics.json``), and leaves invalid samples out of the loss and out of every metric: a video
that never decoded is not a video of the video-level metrics (``test/videos`` counts those that
are), and is never scored as zeros or as another video.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from deepvideo.data.faults import FaultLog
from deepvideo.metrics import SkippedVideos, VideoLevelMetrics, hits_at_k
from deepvideo.models.lstm import INFERENCE_RULES, combine_frames, frame_gains
from deepvideo.modules.schedules import make_scheduler

log = logging.getLogger(__name__)

LOSSES = ("softmax", "bce")
LR_SCALINGS = ("none", "linear")


def lr_scaling_factor(
    rule: str, world_size: int, batch_size: int, reference_batch: int, accumulate: int = 1
) -> float:
    """The learning-rate multiplier of ``module.lr_scaling``.

    Karpathy et al. 2014 (Sec. 3.3) train with Downpour SGD: 10-50 replicas, each stepping
    asynchronously on its own mini-batches of 32 at the recipe's rate. Synchronous DDP instead
    averages the gradients of ``world_size x batch_size x accumulate`` examples into one step.
    ``linear`` multiplies the rate by that global batch over ``reference_batch`` (the recipe's
    batch, ``data.recipe.batch_size``), the linear scaling rule, so a step moves as far per
    example as one replica's step did; ``none`` keeps the recipe's rate.
    """
    if rule not in LR_SCALINGS:
        raise ValueError(f"module.lr_scaling must be one of {LR_SCALINGS}, got {rule!r}")
    if reference_batch < 1 or batch_size < 1:
        raise ValueError(
            f"module.reference_batch ({reference_batch}) and module.batch_size ({batch_size}) "
            "must be positive"
        )
    if rule == "none":
        return 1.0
    return world_size * batch_size * accumulate / reference_batch


STAGES = ("train", "val", "test")


class VideoClassifier(pl.LightningModule):
    """Wraps a video network for multi-label classification with clip- and video-level metrics."""

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        monitor: str = "val/video_hit@1",
        monitor_mode: str = "max",
        loss: str = "softmax",
        top_k: Sequence[int] = (1, 5),
        frame_rule: str = "weighted",
        lr_scale: float = 1.0,
        compile: bool | Mapping[str, Any] = False,
        lr_scaling: str = "none",
        batch_size: int | None = None,
        reference_batch: int | None = None,
    ) -> None:
        super().__init__()
        lr_scaling_factor(lr_scaling, 1, batch_size or 1, reference_batch or 1)  # checks
        self.lr_scaling = lr_scaling
        self.batch_size = batch_size
        self.reference_batch = reference_batch
        if loss not in LOSSES:
            raise ValueError(f"module.loss must be one of {LOSSES}, got {loss!r}")
        if frame_rule not in INFERENCE_RULES:
            raise ValueError(
                f"module.frame_rule must be one of {INFERENCE_RULES} (Ng et al. 2015, Sec. 3.3), "
                f"got {frame_rule!r}"
            )
        self.frame_rule = frame_rule
        if not lr_scale > 0:
            raise ValueError(f"module.lr_scale (model.lr_scale) must be positive, got {lr_scale}")
        self.lr_scale = float(lr_scale)
        self.net = net
        # torch.compile (module.compile: true, or torch.compile's keyword arguments): the forward
        # runs the compiled graph of `net`, whose parameters (and checkpoint keys) stay `net`'s
        self.compile_options: dict[str, Any] | None = (
            dict(compile) if isinstance(compile, Mapping) else ({} if compile else None)
        )
        self._compiled: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.monitor = monitor
        self.monitor_mode = monitor_mode
        self.loss_name = loss
        self.val_metrics = VideoLevelMetrics(top_k)
        self.test_metrics = VideoLevelMetrics(top_k)
        # distinct broken videos met per split, over the whole run (each epoch meets them again)
        self.skipped = nn.ModuleDict({f"{stage}_split": SkippedVideos() for stage in STAGES})
        self._faults = FaultLog()  # used when no DataModule brings its own
        # Set by the training entry point; stored in every checkpoint so eval/predict can rebuild
        # the exact network and data pipeline from the checkpoint alone.
        self.run_config: dict[str, Any] = {}
        self.class_names: list[str] = []
        self.last_test_scores: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def setup(self, stage: str) -> None:
        """Take the class names from the attached DataModule (after its own ``setup``), so every
        checkpoint names its outputs and ``predict.py`` prints labels, not indices; start the
        metrics from fresh states in this process."""
        names = getattr(getattr(self.trainer, "datamodule", None), "class_names", None)
        if names:
            self.class_names = list(names)
        # fresh metric states in this process: ddp_spawn on CPU hands the module to its
        # processes through shared memory and unshares only parameters and buffers, so the
        # metrics' running sums would otherwise be one tensor added to by every process
        self.val_metrics.reset()
        self.test_metrics.reset()

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        if self.compile_options is None:
            return self.net(video)
        if self._compiled is None:
            # kept out of the module tree (no second copy of the weights in the state dict)
            self.__dict__["_compiled"] = torch.compile(self.net, **self.compile_options)
        assert self._compiled is not None
        return self._compiled(video)

    @property
    def frame_outputs(self) -> bool:
        """Whether the network predicts at every frame (``(B, T, num_classes)`` logits)."""
        return bool(getattr(self.net, "frame_outputs", False))

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Softmax cross-entropy against the label set spread evenly (multi-label), or BCE.

        Per-frame logits ``(B, T, C)``: the loss at every frame, weighted by the gain ``g_t``
        (0 at the first frame, 1 at the last), ``sum_t g_t loss_t / sum_t g_t``.
        """
        if logits.ndim == 3:
            b, t, c = logits.shape
            frames = logits.reshape(b * t, c)
            per_frame = self._loss(frames, target.repeat_interleave(t, dim=0), "none").view(b, t)
            gains = frame_gains(t, device=logits.device)
            return (per_frame * gains).sum(1).mean() / gains.sum()
        return self._loss(logits, target, "mean")

    def _loss(self, logits: torch.Tensor, target: torch.Tensor, reduction: str) -> torch.Tensor:
        if self.loss_name == "bce":
            out = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(-1)
            return out.mean() if reduction == "mean" else out
        soft = target / target.sum(dim=-1, keepdim=True).clamp_min(1.0)
        return F.cross_entropy(logits, soft, reduction=reduction)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Class probabilities of each example: the softmax, or for per-frame logits the
        per-frame softmax combined by ``frame_rule`` (Sec. 3.3)."""
        probs = logits.float().softmax(-1)
        return combine_frames(probs, self.frame_rule) if probs.ndim == 3 else probs

    def fault_log(self) -> FaultLog:
        """The attached DataModule's record of broken files (``data.strict`` lives there)."""
        trainer = getattr(self, "_trainer", None)
        faults = getattr(getattr(trainer, "datamodule", None), "faults", None)
        return faults if isinstance(faults, FaultLog) else self._faults

    def note_failures(self, batch: dict[str, Any], stage: str) -> dict[str, Any] | None:
        """Report and count the batch's broken files; the batch without its invalid samples
        (``None`` when none is left)."""
        failures = batch.get("failures") or []
        if failures:
            self.fault_log().record(stage, failures)
            index = torch.tensor([int(f[0]) for f in failures], device=self.device)
            self.counter(stage).update(index)
        valid = batch.get("valid")
        if valid is None or bool(valid.all()):
            return batch
        keep = valid.bool()
        if not bool(keep.any()):
            return None
        return {
            k: v[keep] if torch.is_tensor(v) and v.shape[:1] == keep.shape else v
            for k, v in batch.items()
        }

    def counter(self, stage: str) -> SkippedVideos:
        """The distinct broken videos met in ``stage`` so far."""
        counter = self.skipped[f"{stage}_split"]
        assert isinstance(counter, SkippedVideos)
        return counter

    def skipped_videos(self) -> dict[str, torch.Tensor]:
        """``<stage>/skipped_videos`` for every split met so far, and their sum."""
        counts = {s: self.counter(s).compute() for s in STAGES if self.counter(s).update_count}
        out = {f"{s}/skipped_videos": n for s, n in counts.items()}
        out["data/skipped_videos"] = sum(counts.values(), torch.tensor(0.0))
        return out

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        kept = self.note_failures(batch, "train")
        if kept is None:  # no sample of the batch decoded: nothing to learn from
            return None
        batch = kept
        logits = self(batch["video"])
        loss = self.loss(logits.float(), batch["label"])
        hit = hits_at_k(self.scores(logits.detach()), batch["label"], 1).float().mean()
        size = len(batch["label"])
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=size)
        self.log(
            "train/clip_hit@1", hit, prog_bar=True, on_step=False, on_epoch=True, batch_size=size
        )
        return loss

    def clip_probabilities(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, V, C, T, H, W)`` views -> ``(B, num_classes)`` view-averaged probabilities."""
        if video.ndim == 5:
            video = video.unsqueeze(1)
        b, v = video.shape[:2]
        return self.scores(self(video.flatten(0, 1))).view(b, v, -1).mean(1)

    def _eval_step(self, batch: dict[str, Any], stage: str, metrics: VideoLevelMetrics) -> None:
        kept = self.note_failures(batch, stage)
        if kept is None:  # every clip of the batch is of a broken video: nothing to score
            return
        probs = self.clip_probabilities(kept["video"])
        metrics.update(probs, kept["label"], kept["video_index"])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "val", self.val_metrics)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "test", self.test_metrics)

    def _log_metrics(self, stage: str, metrics: VideoLevelMetrics) -> None:
        # gathered from every process under DDP (each video once, with all its clips)
        values = metrics.compute()
        # the metric's own count of videos left out (no valid clip) gives way to the fault
        # log's per-split count of files that failed (the same videos, and training's too)
        values.pop("skipped_videos", None)
        counts = {k: values.pop(k) for k in ("videos", "clips", "skipped_clips")}
        # the values are already the same on every process: sync_dist averages equal numbers
        # (exact), and tells Lightning they are global
        self.log_dict(
            {f"{stage}/{k}": v for k, v in values.items()}, prog_bar=stage == "val", sync_dist=True
        )
        self.log_dict({f"{stage}/{k}": v for k, v in counts.items()}, sync_dist=True)
        skipped = self.skipped_videos()
        self.log(f"{stage}/skipped_videos", skipped.get(f"{stage}/skipped_videos", 0.0))
        if stage == "test":
            self.last_test_scores = metrics.video_scores()
            self.log("data/skipped_videos", skipped["data/skipped_videos"])
        metrics.reset()

    def _start_counting(self, stage: str) -> None:
        self.counter(stage).update(torch.zeros(0, dtype=torch.long, device=self.device))

    def on_train_epoch_start(self) -> None:
        self._start_counting("train")

    def on_validation_epoch_start(self) -> None:
        self._start_counting("val")

    def on_test_epoch_start(self) -> None:
        self._start_counting("test")

    def on_train_epoch_end(self) -> None:
        skipped = self.skipped_videos()
        self.log("train/skipped_videos", skipped.get("train/skipped_videos", 0.0))
        self.log("data/skipped_videos", skipped["data/skipped_videos"])

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val", self.val_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test", self.test_metrics)

    def global_lr_factor(self) -> float:
        """``module.lr_scaling``'s multiplier for this trainer's processes and accumulation."""
        if self.batch_size is None or self.reference_batch is None:
            return 1.0
        trainer = self._trainer  # None when the optimizer is built outside a Trainer
        world = int(getattr(trainer, "world_size", 1) or 1)
        accumulate = int(getattr(trainer, "accumulate_grad_batches", 1) or 1)
        factor = lr_scaling_factor(
            self.lr_scaling, world, self.batch_size, self.reference_batch, accumulate
        )
        global_batch = world * self.batch_size * accumulate
        if global_batch != self.reference_batch:
            log.info(
                "global batch %d (%d processes x %d x %d accumulated) vs the recipe's %d: "
                "module.lr_scaling=%s, learning rate x %g",
                global_batch,
                world,
                self.batch_size,
                accumulate,
                self.reference_batch,
                self.lr_scaling,
                factor,
            )
        return factor

    def configure_optimizers(self) -> Any:
        params = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        tower = [p for n, p in params if n.startswith("net.frames.")]
        above = [p for n, p in params if not n.startswith("net.frames.")]
        if self.lr_scale == 1.0 or not tower or not above:
            optimizer = self.optimizer_factory(params=[p for _, p in params])
            for group in optimizer.param_groups:
                group["lr"] *= self.lr_scale
        else:
            # the layers above a shared frame tower (Ng et al.'s LSTM) at lr_scale x the rate
            optimizer = self.optimizer_factory(params=[{"params": tower}, {"params": above}])
            optimizer.param_groups[1]["lr"] *= self.lr_scale
        factor = self.global_lr_factor()
        for group in optimizer.param_groups:
            group["lr"] *= factor
        if self.scheduler_factory is None:
            return optimizer
        interval = "epoch"
        if getattr(self.scheduler_factory, "func", None) is make_scheduler:
            # the recipes' schedules (data.recipe.schedule): a per-step one needs the run's length
            if self._trainer is None:
                # built outside a Trainer (to inspect the optimizer): no run length to schedule
                return {"optimizer": optimizer}
            total = int(self.trainer.estimated_stepping_batches)
            epochs = self.trainer.max_epochs or 1
            per_epoch = max(1, total // epochs) if epochs > 0 else total
            scheduler, interval = self.scheduler_factory(
                optimizer=optimizer, total_steps=total, steps_per_epoch=per_epoch
            )
        else:
            scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor, "interval": interval},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["deepvideo"] = {
            "config": self.run_config,
            "class_names": self.class_names,
            "epoch_end": self._epoch_end_state(),
        }

    def _epoch_end_state(self) -> dict[str, Any] | None:
        """At the end of an epoch (where the checkpoints are written): the epoch and the value of
        the monitored metric, which the epoch's LR-scheduler step is about to use."""
        trainer = getattr(self, "_trainer", None)
        if trainer is None or not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return None
        value = trainer.callback_metrics.get(self.monitor)
        return {
            "epoch": int(trainer.current_epoch),
            "monitor": None if value is None else float(value),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._resumed_epoch_end = (checkpoint.get("deepvideo") or {}).get("epoch_end")

    def on_train_start(self) -> None:
        """Resuming from an end-of-epoch checkpoint: take the LR-scheduler step of that epoch.

        Lightning writes epoch-end checkpoints before it steps the epoch's schedulers, and on
        resume it skips that step ("metric-based schedulers require access to metrics and those
        are not currently saved in the checkpoint"), so a resumed ReduceLROnPlateau would count
        one epoch less than the uninterrupted run and could lower the rate an epoch later. The
        checkpoint holds the epoch's monitored value (:meth:`on_save_checkpoint`): the step is
        taken here, once, if the scheduler has not taken it.
        """
        state = getattr(self, "_resumed_epoch_end", None)
        self._resumed_epoch_end = None
        if not state:
            return
        for config in self.trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if (
                config.interval != "epoch"
                or getattr(scheduler, "last_epoch", None) != state["epoch"]
            ):
                continue
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                if state["monitor"] is not None:
                    scheduler.step(state["monitor"])
            else:
                scheduler.step()
