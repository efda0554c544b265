"""The training task behind ``src/train.py``: build everything from the config, fit, test."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from deepvideo.cli import to_float_dict, write_metrics
from deepvideo.data.datamodule import VideoDataModule
from deepvideo.modules import VideoClassifier
from deepvideo.transfer import load_pretrained_from_config
from deepvideo.utils.instantiate import instantiate_trainer

log = logging.getLogger(__name__)


def output_dir(cfg: DictConfig) -> Path:
    """The run directory (Hydra's, unless a caller set ``paths.output_dir``)."""
    return Path(cfg.paths.output_dir)


def build(cfg: DictConfig) -> tuple[VideoDataModule, VideoClassifier]:
    """DataModule and LightningModule of ``cfg``; the data is made ready (and checked) first."""
    datamodule = instantiate(cfg.data, _recursive_=False)
    if getattr(rank_zero_only, "rank", 0) == 0:
        datamodule.prepare_data()
    datamodule.check_available()
    net = instantiate(cfg.model.net)
    module = instantiate(cfg.module, net=net)
    module.run_config = OmegaConf.to_container(cfg, resolve=True)
    return datamodule, module


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data``, test the best checkpoint, return all logged metrics."""
    pl.seed_everything(cfg.seed, workers=True)
    datamodule, module = build(cfg)
    # transfer learning (Sec. 4.2): start from a pretrained checkpoint's weights, unless resuming
    if cfg.get("pretrained") and not cfg.get("ckpt_path"):
        load_pretrained_from_config(module.net, cfg)
    trainer = instantiate_trainer(cfg)
    if cfg.get("train", True):
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics: dict[str, Any] = dict(trainer.callback_metrics)
    if cfg.get("test", True):
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
        if best is None and cfg.get("train", True):
            log.warning("no best checkpoint was saved: testing the current weights")
        trainer.test(module, datamodule=datamodule, ckpt_path=best)
        metrics.update(trainer.callback_metrics)
        metrics = to_float_dict(metrics)
        if trainer.is_global_zero:
            write_metrics(output_dir(cfg) / "metrics.json", metrics)
            print_summary(metrics, datamodule)
    return to_float_dict(metrics)


def print_summary(metrics: dict[str, float], datamodule: Any) -> None:
    """Print the video-level results next to chance for the same test set."""
    chance = getattr(datamodule, "chance_hit_at_1", None)
    keys = ["test/clip_hit@1", "test/video_hit@1", "test/video_hit@5"]
    line = ", ".join(f"{k} {metrics[k]:.3f}" for k in keys if k in metrics)
    if chance is not None:
        line += f" (chance Hit@1 {chance():.3f})"
    log.info("%s", line)
    print(line)
