"""The training task behind ``src/train.py``: build everything from the config, fit, test."""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from deepvideo.checkpoint import load_pretrained_from_config
from deepvideo.runs import build, output_dir, print_summary, to_float_dict, write_metrics
from deepvideo.utils.instantiate import instantiate_trainer

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data``, test the best checkpoint, return all logged metrics."""
    pl.seed_everything(cfg.seed, workers=True)
    datamodule, module = build(cfg)
    # transfer learning (Karpathy et al. 2014, Sec. 4.2): start from a pretrained checkpoint's
    # weights, unless resuming
    if cfg.get("pretrained") and not cfg.get("ckpt_path"):
        load_pretrained_from_config(module.net, cfg)
    trainer = instantiate_trainer(cfg, net=module.net)
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
