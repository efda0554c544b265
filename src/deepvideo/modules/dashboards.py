"""W&B dashboards worth opening: what a run logs beyond scalars when ``logger=wandb``.

Lightning already sends the scalars to every logger: losses (``train/loss``), the learning rate
(``lr-SGD``, LearningRateMonitor), clip and video Hit@k (``val/*``, ``test/*``), the counts of
videos and clips scored and skipped (``test/skipped_videos``, ``test/skipped_clips``), throughput
(``train/clips_per_s``). :class:`WandbDashboard` adds, only where a ``WandbLogger`` is attached
and on global rank 0:

- at the start: the run's resolved config (``run_config``: model, data, module, trainer, ...) and
  the dataset's counts per split, with the videos listed but missing on disk
  (``data/<split>/missing``: about 7% of Sports-1M's URLs are dead);
- after testing, from the per-video scores gathered from every process: per-class average
  precision as a table (``test/per_class_ap``: class, AP, test videos), the video-level
  confusion matrix (``test/confusion_matrix``: the true label is, for a multi-label video, the
  one the model ranks highest), and ``panels`` test videos as image panels (their middle frame)
  with their labels and top-5 predictions (``test/predictions``, a table, and
  ``test/video_panels``, images with the top-5 as captions).

The W&B run's ``group`` (``conf/logger/wandb.yaml``) is the Hydra sweep a run belongs to, so the
runs of one multirun sit together (:func:`deepvideo.utils.instantiate.wandb_group`).
"""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import WandbLogger
from torchmetrics.functional.classification import multilabel_average_precision

from deepvideo.data.video import EncodedVideo, VideoDecodeError

log = logging.getLogger(__name__)

__all__ = ["WandbDashboard", "finish_wandb_run", "per_class_ap", "video_top_k"]


def per_class_ap(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(C,)`` average precision of every class over videos (NaN where a class has no test
    video), as Table 2 of Karpathy et al. 2014 compares per class."""
    ap = multilabel_average_precision(
        scores.float(), targets.long(), num_labels=scores.shape[1], average=None
    )
    return torch.where(targets.sum(0) > 0, ap, torch.full_like(ap, float("nan")))


def video_top_k(scores: torch.Tensor, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """``(values, indices)`` of the top ``k`` classes of every video."""
    top = scores.topk(min(k, scores.shape[1]), dim=1)
    return top.values, top.indices


def _wandb_loggers(trainer: pl.Trainer) -> list[WandbLogger]:
    return [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]


def finish_wandb_run(trainer: pl.Trainer) -> None:
    """Close this process's W&B run at the end of a task, so that the next job of a multirun
    (same process) starts its own run instead of WandbLogger reusing this one, and the offline
    files are complete."""
    if not _wandb_loggers(trainer):
        return
    import wandb

    if wandb.run is not None:
        wandb.finish()


class WandbDashboard(Callback):
    """Config, per-class AP, confusion matrix and test-video panels for W&B (module docstring)."""

    def __init__(self, panels: int = 8, top_k: int = 5) -> None:
        self.panels = int(panels)
        self.top_k = int(top_k)
        self._config_logged = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        loggers = _wandb_loggers(trainer)
        if not loggers or not trainer.is_global_zero or self._config_logged:
            return
        config = dict(getattr(pl_module, "run_config", {}) or {})
        datamodule = getattr(trainer, "datamodule", None)
        stats = getattr(datamodule, "stats", {}) or {}
        counts = {
            f"data/{split}/{key}": value
            for split, values in stats.items()
            for key, value in values.items()
        }
        for logger in loggers:
            if config:
                logger.experiment.config.update(config, allow_val_change=True)
            if counts:
                logger.experiment.summary.update(counts)
        self._config_logged = True

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loggers = _wandb_loggers(trainer)
        scores = getattr(pl_module, "last_test_scores", None)
        if not loggers or not trainer.is_global_zero or scores is None:
            return
        ids, probs, targets = scores
        if len(ids) == 0:
            return
        import wandb

        datamodule = getattr(trainer, "datamodule", None)
        videos = (getattr(datamodule, "splits", {}) or {}).get("test", [])
        names = list(getattr(pl_module, "class_names", []) or []) or [
            str(c) for c in range(probs.shape[1])
        ]
        ap = per_class_ap(probs, targets)
        ap_table = wandb.Table(
            columns=["class", "AP", "test videos"],
            data=[
                [names[c], None if torch.isnan(ap[c]) else float(ap[c]), int(targets[:, c].sum())]
                for c in range(len(names))
            ],
        )
        # the true label of a multi-label video: the one the model ranks highest
        truth = (probs.masked_fill(targets == 0, -1.0)).argmax(1)
        confusion = wandb.plot.confusion_matrix(
            y_true=truth.tolist(),
            preds=probs.argmax(1).tolist(),
            class_names=names,
            title="test: video-level confusion",
        )
        values, indices = video_top_k(probs, self.top_k)
        table = wandb.Table(columns=["video", "frame", "labels", f"top-{self.top_k}"])
        panels = []
        for row in range(min(self.panels, len(ids))):
            index = int(ids[row])
            item = videos[index] if index < len(videos) else None
            labels = ", ".join(names[c] for c in torch.nonzero(targets[row]).flatten().tolist())
            top = ", ".join(
                f"{names[int(c)]} {float(p):.2f}"
                for p, c in zip(values[row], indices[row], strict=True)
            )
            image = self._middle_frame(item.path) if item is not None else None
            video_id = item.video_id if item is not None else str(index)
            panel = (
                wandb.Image(image, caption=f"{video_id} [{labels}]: {top}")
                if image is not None
                else None
            )
            table.add_data(video_id, panel, labels, top)
            if panel is not None:
                panels.append(panel)
        payload: dict[str, Any] = {
            "test/per_class_ap": ap_table,
            "test/mAP": float(ap[~torch.isnan(ap)].mean()) if (~torch.isnan(ap)).any() else 0.0,
            "test/confusion_matrix": confusion,
            "test/predictions": table,
        }
        if panels:
            payload["test/video_panels"] = panels
        for logger in loggers:
            logger.experiment.log(payload)
        log.info("W&B: per-class AP, confusion matrix and %d test-video panels logged", len(panels))

    @staticmethod
    def _middle_frame(path: Any) -> Any:
        """The middle frame of a video as an ``(H, W, 3)`` uint8 array (None if undecodable)."""
        try:
            video = EncodedVideo(path)
            return video.get_frames([video.num_frames // 2])[0].numpy()
        except (VideoDecodeError, IndexError, OSError) as err:
            log.warning("W&B panel: cannot read %s (%s)", path, err)
            return None
