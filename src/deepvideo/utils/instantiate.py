"""Building callbacks, loggers and the trainer from their config groups."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from deepvideo.utils.hardware import resolve_precision

log = logging.getLogger(__name__)


def instantiate_group(cfg: DictConfig | None, task: str = "train") -> list[Any]:
    """Instantiate every ``_target_`` node of a group (``callbacks``, ``logger``); skip nulls.

    A W&B logger whose ``group`` is null gets :func:`wandb_group` of ``task``."""
    if not cfg:
        return []
    out = []
    for node in cfg.values():
        if not node or "_target_" not in node:
            continue
        if str(node._target_).endswith("WandbLogger") and node.get("group", "") is None:
            out.append(instantiate(node, group=wandb_group(task)))
        else:
            out.append(instantiate(node))
    return out


def wandb_group(task: str = "train") -> str:
    """The W&B group of this run: ``<task>-<sweep directory>`` inside a Hydra multirun (the runs
    of one sweep together), else ``task``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return task
    hydra = HydraConfig.get()
    if hydra.mode == RunMode.MULTIRUN:
        return f"{task}-{os.path.basename(os.path.normpath(str(hydra.sweep.dir)))}"
    return task


def batch_shape(cfg: DictConfig) -> tuple[int, int, int, int, int]:
    """``(B, 3, T, S, S)``: a training batch of ``cfg``'s model on ``cfg``'s data."""
    clip = cfg.model.clip
    size = int(clip.crop_size)
    return (int(cfg.data.batch_size), 3, int(clip.num_frames), size, size)


def is_distributed(cfg: DictConfig) -> bool:
    """True when ``cfg.trainer`` asks for more than one process (devices x nodes)."""
    devices = cfg.trainer.get("devices", 1)
    count = (
        len(devices)
        if isinstance(devices, (list, tuple)) or OmegaConf.is_list(devices)
        else (int(devices) if str(devices).lstrip("-").isdigit() else 1)
    )
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    return count * int(cfg.trainer.get("num_nodes", 1) or 1) > 1 or world > 1


def instantiate_trainer(
    cfg: DictConfig,
    net: nn.Module | None = None,
    extra_callbacks: Sequence[Any] = (),
    **kwargs: Any,
) -> pl.Trainer:
    """The trainer of ``cfg.trainer`` with callbacks (``cfg.callbacks``, then
    ``extra_callbacks``) and loggers; ``precision: auto`` resolved, by measuring ``net`` at the
    run's batch shape where that decides it."""
    # every replica must use the same precision: under DDP the rule decides, not a measurement
    shape = batch_shape(cfg) if net is not None and not is_distributed(cfg) else None
    precision = resolve_precision(cfg.trainer.get("precision", "auto"), net, shape)
    log.info("precision: %s", precision)
    callbacks = instantiate_group(cfg.get("callbacks")) + list(extra_callbacks)
    loggers = instantiate_group(cfg.get("logger"), task=str(cfg.get("task_name") or "train"))
    return instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, precision=precision, **kwargs
    )
