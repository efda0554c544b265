"""The evaluation task behind ``src/eval.py``: rebuild a run from its checkpoint and test it.

A deepvideo checkpoint stores the resolved config of the run that wrote it, so the network, the
clip sampling and the preprocessing are exactly those of training. ``data.*`` overrides on the
command line change that data config (a new root, 50 clips per video, ...); ``data=<name>`` swaps
in another dataset config whole. The network is the checkpoint's: a ``model=<name>`` naming another
model stops with one line (evaluating a Slow Fusion checkpoint "as" Late Fusion cannot work).
"""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from deepvideo.checkpoint import describe, load_checkpoint, stored_config, without_init_weights
from deepvideo.errors import ConfigError
from deepvideo.modules import SaveVideoScores
from deepvideo.modules.dashboards import WandbDashboard, finish_wandb_run
from deepvideo.runs import (
    build,
    data_counts,
    eval_threads,
    output_dir,
    print_summary,
    to_float_dict,
    write_metrics,
)
from deepvideo.utils.instantiate import instantiate_trainer

log = logging.getLogger(__name__)


def command_line_overrides() -> list[str]:
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def check_model(cfg: DictConfig, stored: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` when the command names a ``model=`` other than the checkpoint's."""
    given = [o.split("=", 1)[1] for o in command_line_overrides() if o.split("=", 1)[0] == "model"]
    held = (stored.get("model") or {}).get("name")
    if given and held and given[-1] != held:
        raise ConfigError(
            f"ckpt_path={cfg.ckpt_path} holds {describe(stored)}, not model={given[-1]}: eval.py "
            "rebuilds the checkpoint's own network, so drop model= or pass a checkpoint of "
            f"model={given[-1]}"
        )


def run_config(cfg: DictConfig, stored: dict[str, Any]) -> DictConfig:
    """The stored run config with this command's data settings and runtime settings applied."""
    run = OmegaConf.create(stored)
    check_model(cfg, stored)
    overrides = command_line_overrides()
    if any(o.split("=", 1)[0] == "data" for o in overrides):
        # a different dataset config: resolve it against the checkpoint's model (its clip needs)
        scratch = OmegaConf.create(
            {"paths": OmegaConf.to_container(cfg.paths, resolve=True), "seed": cfg.seed}
        )
        scratch.model = run.model
        scratch.data = OmegaConf.to_container(cfg.data, resolve=False)
        run.data = OmegaConf.to_container(scratch.data, resolve=True)
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key.startswith("data."):
            value = OmegaConf.select(cfg, key)
            OmegaConf.update(run, key, value, force_add=True)
            # a model with its own evaluation examples (Ng et al.: model.clip.test_clips) reads
            # them from its clip node, which would win over data.test_clips: this command's
            # setting goes there too
            part = key.split(".")
            if part[1] in ("test_clips", "val_clips") and OmegaConf.select(
                run, f"data.clip.{part[1]}", default=None
            ):
                OmegaConf.update(run, "data.clip." + ".".join(part[1:]), value, force_add=True)
    # Ng et al. 2015, Sec. 3.3: how a per-frame (LSTM) model's frame predictions become one
    if cfg.get("frame_rule"):
        OmegaConf.update(run, "module.frame_rule", cfg.frame_rule, force_add=True)
    without_init_weights(run)
    for section in ("trainer", "logger", "paths", "seed", "task_name", "tags"):
        value = cfg.get(section)
        run[section] = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    run.callbacks = None
    return run


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint ``cfg.ckpt_path``; write ``metrics.json`` (and per-video scores)."""
    checkpoint = load_checkpoint(cfg.ckpt_path)
    run = run_config(cfg, stored_config(checkpoint))
    pl.seed_everything(run.seed, workers=True)
    datamodule, module = build(run)
    out = output_dir(cfg)
    # the per-video scores are written where the test ran, by rank 0, from the scores gathered
    # from every process (under ddp_spawn the test runs in the spawned processes)
    extra: list[Any] = [WandbDashboard(), *eval_threads(run)]
    if cfg.get("save_scores", True):
        extra.append(SaveVideoScores(out / "video_scores.pt"))
    trainer = instantiate_trainer(run, net=module.net, extra_callbacks=extra)
    trainer.test(module, datamodule=datamodule, ckpt_path=str(cfg.ckpt_path))
    finish_wandb_run(trainer)
    metrics = {**to_float_dict(trainer.callback_metrics), **data_counts(datamodule)}
    if trainer.is_global_zero:
        write_metrics(out / "metrics.json", metrics)
        print_summary(metrics, datamodule)
    return metrics


__all__ = ["check_model", "evaluate", "run_config"]
