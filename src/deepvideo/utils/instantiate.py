"""Building callbacks, loggers and the trainer from their config groups."""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from deepvideo.utils.hardware import resolve_precision

log = logging.getLogger(__name__)


def instantiate_group(cfg: DictConfig | None) -> list[Any]:
    """Instantiate every ``_target_`` node of a group (``callbacks``, ``logger``); skip nulls."""
    if not cfg:
        return []
    return [instantiate(node) for node in cfg.values() if node and "_target_" in node]


def instantiate_trainer(cfg: DictConfig, **kwargs: Any) -> pl.Trainer:
    """The trainer of ``cfg.trainer`` with callbacks and loggers, ``precision: auto`` resolved."""
    precision = resolve_precision(cfg.trainer.get("precision", "auto"))
    log.info("precision: %s", precision)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    return instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, precision=precision, **kwargs
    )
