"""One LightningModule for every network: loss, metrics, optimizer and LR schedule.

The network (``net``) is any ``nn.Module`` mapping ``(B, C, T, H, W)`` clips to class logits; it
knows nothing of Lightning. Optimizer and scheduler come from the config as partials (Karpathy et
al. 2014, Sec. 3.3: SGD, momentum 0.9, weight decay 5e-4, learning rate 1e-3, reduced when the
validation metric plateaus; the recipes' schedules are in :mod:`deepvideo.modules.schedules`).

Training sees one clip per video. Validation and test see several clips per video, each as
``V`` views (crops/flips, batch shape ``(B, V, C, T, H, W)``): view probabilities are averaged into
a clip prediction, and clips into a video prediction (:class:`deepvideo.metrics.VideoLevelMetrics`).

A network with per-frame outputs (``net.frame_outputs``: the deep LSTM of Ng et al. 2015, Sec.
3.2) returns ``(B, T, num_classes)`` logits: training backpropagates the video's label at every
frame with the gain ``g`` rising linearly from 0 to 1 over the frames (Sec. 3.3, "LSTM Training"),
and evaluation turns the per-frame softmax into one score per example by ``frame_rule``, one of
Sec. 3.3's four inference rules (``last``, ``max``, ``sum``, ``weighted``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from deepvideo.metrics import VideoLevelMetrics, hits_at_k
from deepvideo.models.lstm import INFERENCE_RULES, combine_frames, frame_gains
from deepvideo.modules.schedules import make_scheduler

LOSSES = ("softmax", "bce")


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
    ) -> None:
        super().__init__()
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
        # Set by the training entry point; stored in every checkpoint so eval/predict can rebuild
        # the exact network and data pipeline from the checkpoint alone.
        self.run_config: dict[str, Any] = {}
        self.class_names: list[str] = []
        self.last_test_scores: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def setup(self, stage: str) -> None:
        """Take the class names from the attached DataModule (after its own ``setup``), so every
        checkpoint names its outputs and ``predict.py`` prints labels, not indices."""
        names = getattr(getattr(self.trainer, "datamodule", None), "class_names", None)
        if names:
            self.class_names = list(names)

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

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self(batch["video"])
        loss = self.loss(logits.float(), batch["label"])
        hit = hits_at_k(self.scores(logits.detach()), batch["label"], 1).float().mean()
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        self.log("train/clip_hit@1", hit, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def clip_probabilities(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, V, C, T, H, W)`` views -> ``(B, num_classes)`` view-averaged probabilities."""
        if video.ndim == 5:
            video = video.unsqueeze(1)
        b, v = video.shape[:2]
        return self.scores(self(video.flatten(0, 1))).view(b, v, -1).mean(1)

    def _eval_step(self, batch: dict[str, torch.Tensor], metrics: VideoLevelMetrics) -> None:
        probs = self.clip_probabilities(batch["video"])
        metrics.update(probs, batch["label"], batch["video_index"], batch.get("valid"))

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics)

    def _log_metrics(self, stage: str, metrics: VideoLevelMetrics) -> None:
        values = metrics.compute()
        videos = values.pop("videos")
        self.log_dict({f"{stage}/{k}": v for k, v in values.items()}, prog_bar=stage == "val")
        self.log(f"{stage}/videos", videos)
        if stage == "test":
            self.last_test_scores = metrics.video_scores()
        metrics.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val", self.val_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test", self.test_metrics)

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
        if self.scheduler_factory is None:
            return optimizer
        interval = "epoch"
        if getattr(self.scheduler_factory, "func", None) is make_scheduler:
            # the recipes' schedules (data.recipe.schedule): a per-step one needs the run's length
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
        checkpoint["deepvideo"] = {"config": self.run_config, "class_names": self.class_names}
