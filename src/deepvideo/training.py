"""The training task behind ``src/train.py``: build everything from the config, fit, test."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from deepvideo.checkpoint import FINAL_CHECKPOINT, expand_from, load_pretrained_from_config
from deepvideo.errors import ConfigError
from deepvideo.modules import FreezeLayers, RunStats
from deepvideo.modules.dashboards import WandbDashboard, finish_wandb_run
from deepvideo.runs import build, output_dir, print_summary, to_float_dict, write_metrics
from deepvideo.utils.distributed import global_rank_from_env
from deepvideo.utils.instantiate import instantiate_trainer

log = logging.getLogger(__name__)


def checkpoint_dir(cfg: DictConfig) -> Path:
    """Where this run's checkpoints go (``callbacks.model_checkpoint.dirpath``)."""
    node = (cfg.get("callbacks") or {}).get("model_checkpoint") or {}
    return Path(node.get("dirpath") or output_dir(cfg) / "checkpoints")


def resume_path(cfg: DictConfig) -> str | None:
    """The checkpoint to resume from: ``ckpt_path``, where ``last`` is this run directory's
    ``checkpoints/last.ckpt`` when there is one and a fresh start when there is none yet, so one
    command serves the first launch of a (multi-node) job and every re-launch of it into the same
    run directory (``hydra.run.dir``; a requeued SLURM job keeps its own)."""
    ckpt = cfg.get("ckpt_path")
    if ckpt != "last":
        return None if ckpt is None else str(ckpt)
    last = checkpoint_dir(cfg) / "last.ckpt"
    if last.is_file():
        log.info("ckpt_path=last: resuming from %s", last)
        return str(last)
    log.info("ckpt_path=last: no %s yet, starting the run from the beginning", last)
    return None


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data``, test the best checkpoint (or, with
    ``test_weights=final``, the weights training ended with), return all logged metrics."""
    started = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True)
    datamodule, module = build(cfg)
    resume = resume_path(cfg)
    rank_zero = global_rank_from_env() == 0
    # transfer learning (Karpathy et al. 2014, Sec. 4.2): start from a pretrained checkpoint's
    # weights, unless resuming
    if cfg.get("pretrained") and not resume:
        load_pretrained_from_config(module.net, cfg)
    # network expansion (Ng et al. 2015, Sec. 3.3): start from a model over fewer frames
    if cfg.get("expand_from") and not resume:
        report = expand_from(module.net, cfg.expand_from)
        out = output_dir(cfg)
        summary = {"ckpt_path": str(cfg.expand_from), **report}
        if rank_zero:
            out.mkdir(parents=True, exist_ok=True)
            (out / "expansion.json").write_text(json.dumps(summary, indent=2) + "\n")
    # a model that trains only some of its layers (Ng et al. Table 2's "(fc)" LSTM: model.trainable)
    extra: list[Any] = [RunStats(), WandbDashboard()]
    trainable = cfg.model.get("trainable")
    callbacks = cfg.get("callbacks") or {}
    freezing = any(n and "FreezeLayers" in str(n.get("_target_", "")) for n in callbacks.values())
    if trainable and not freezing:
        extra.append(FreezeLayers(trainable=list(trainable)))
    trainer = instantiate_trainer(cfg, net=module.net, extra_callbacks=extra)
    if cfg.get("train", True):
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    metrics: dict[str, Any] = dict(trainer.callback_metrics)
    if cfg.get("test", True):
        weights = cfg.get("test_weights", "best")
        if weights not in ("best", "final"):
            raise ConfigError(f"test_weights must be 'best' or 'final', got {weights!r}")
        tested = None
        if weights == "best":
            tested = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
            if tested is None and cfg.get("train", True):
                log.warning("no best checkpoint was saved: testing the current weights")
        elif cfg.get("train", True):
            # the weights training ended with, kept as the run's tested checkpoint
            tested = str(output_dir(cfg) / "checkpoints" / FINAL_CHECKPOINT)
            trainer.save_checkpoint(tested)
        trainer.test(module, datamodule=datamodule, ckpt_path=tested)
        metrics.update(trainer.callback_metrics)
    finish_wandb_run(trainer)
    metrics = to_float_dict(metrics)
    metrics["time/run_s"] = time.perf_counter() - started
    if trainer.is_global_zero:
        write_metrics(output_dir(cfg) / "metrics.json", metrics)
        if cfg.get("test", True):
            print_summary(metrics, datamodule)
    return metrics
