"""The training task behind ``src/train.py``: build everything from the config, fit, test.

Resuming (``ckpt_path=``): ``ckpt_path=last`` is the ``checkpoints/last.ckpt`` of this run's
directory when it has one (``hydra.run.dir=`` the killed run's directory), else of the newest run
under ``<paths.log_dir>/<task_name>/`` whose stored config has this run's model, data root,
number of classes and seed; when there is none, training starts from the beginning (with a
warning), so a job requeued after a crash can always pass ``ckpt_path=last``. A resumed run writes
on in the directory of the checkpoint it resumes (checkpoints, CSV logs, ``metrics.json``), so
Lightning restores the checkpoint callback's best model and score as well. Lightning restores the
weights, the optimizer, the LR scheduler, the epoch and the step; the data order, clips and crops
of an epoch depend only on the seed and the epoch (:class:`deepvideo.data.datasets.EpochSampler`)
and the random numbers of a step only on the seed and the step (:class:`SeedEachStep`), so a run
killed and resumed ends with the metrics of an uninterrupted one. Checkpoints are written at the
end of every epoch, atomically (:class:`deepvideo.checkpoint.AtomicCheckpointIO`): a kill in the
middle of an epoch repeats that epoch from its start, exactly as it ran the first time.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from deepvideo.checkpoint import (
    FINAL_CHECKPOINT,
    AtomicCheckpointIO,
    check_resumable,
    expand_from,
    load_pretrained_from_config,
    stored_run_config,
)
from deepvideo.errors import ConfigError
from deepvideo.modules import FreezeLayers, RunStats, SeedEachStep
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
from deepvideo.utils.distributed import global_rank_from_env
from deepvideo.utils.instantiate import instantiate_trainer

log = logging.getLogger(__name__)

__all__ = ["RUN_IDENTITY", "resume_checkpoint", "train"]

# what a run's checkpoint must share with this run for ckpt_path=last to pick it
RUN_IDENTITY = ("model.name", "data._target_", "data.root", "data.num_classes", "seed")


def _identity(config: DictConfig | dict[str, Any]) -> tuple[Any, ...]:
    node = config if isinstance(config, DictConfig) else OmegaConf.create(config)
    return tuple(OmegaConf.select(node, key, default=None) for key in RUN_IDENTITY)


def resume_checkpoint(cfg: DictConfig) -> Path | None:
    """The checkpoint ``cfg.ckpt_path`` resumes from: ``None`` (a fresh run), the given file, or
    for ``last`` this run directory's ``last.ckpt``, else the newest matching run's (see the
    module docstring)."""
    value = cfg.get("ckpt_path")
    if not value:
        return None
    if str(value) != "last":
        path = Path(str(value)).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"ckpt_path={path} does not exist; pass a checkpoint of a training run (e.g. "
                "logs/train/runs/<run>/checkpoints/last.ckpt) or ckpt_path=last"
            )
        return path
    own = output_dir(cfg) / "checkpoints" / "last.ckpt"
    if own.is_file():
        return own
    logs = Path(str(cfg.paths.log_dir)) / str(cfg.task_name)
    found = [*logs.glob("runs/*/checkpoints/last.ckpt")]
    found += logs.glob("multiruns/*/*/checkpoints/last.ckpt")
    wanted = _identity(cfg)
    for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        if _identity(stored_run_config(path)) == wanted:
            return path
    log.warning(
        "ckpt_path=last: no last.ckpt of a run with this %s under %s: training from the start",
        ", ".join(RUN_IDENTITY),
        logs,
    )
    return None


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data``, test the best checkpoint (or, with
    ``test_weights=final``, the weights training ended with), return all logged metrics."""
    started = time.perf_counter()
    resume = resume_checkpoint(cfg)
    if resume is not None and resume.parent.name == "checkpoints":
        run_dir = resume.parent.parent
        if run_dir.resolve() != output_dir(cfg).resolve():
            OmegaConf.update(cfg, "paths.output_dir", str(run_dir))
        log.info("resuming %s: the run continues in %s", resume, run_dir)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule, module = build(cfg)
    if resume is not None:
        check_resumable(module.net, resume, cfg.model.get("name"))
    rank_zero = global_rank_from_env() == 0
    # transfer learning (Karpathy et al. 2014, Sec. 4.2): start from a pretrained checkpoint's
    # weights, unless resuming
    if cfg.get("pretrained") and resume is None:
        load_pretrained_from_config(module.net, cfg)
    # network expansion (Ng et al. 2015, Sec. 3.3): start from a model over fewer frames
    if cfg.get("expand_from") and resume is None:
        report = expand_from(module.net, cfg.expand_from)
        out = output_dir(cfg)
        summary = {"ckpt_path": str(cfg.expand_from), **report}
        if rank_zero:
            out.mkdir(parents=True, exist_ok=True)
            (out / "expansion.json").write_text(json.dumps(summary, indent=2) + "\n")
    # the random numbers of every step from (seed, step): a resumed run draws what it drew
    extra: list[Any] = [SeedEachStep(cfg.seed), RunStats(), WandbDashboard(), *eval_threads(cfg)]
    # a model that trains only some of its layers (Ng et al. Table 2's "(fc)" LSTM: model.trainable)
    trainable = cfg.model.get("trainable")
    callbacks = cfg.get("callbacks") or {}
    freezing = any(n and "FreezeLayers" in str(n.get("_target_", "")) for n in callbacks.values())
    if trainable and not freezing:
        extra.append(FreezeLayers(trainable=list(trainable)))
    trainer = instantiate_trainer(
        cfg, net=module.net, extra_callbacks=extra, plugins=[AtomicCheckpointIO()]
    )
    if cfg.get("train", True):
        trainer.fit(
            module, datamodule=datamodule, ckpt_path=None if resume is None else str(resume)
        )
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
    metrics = {**to_float_dict(metrics), **data_counts(datamodule)}
    metrics["time/run_s"] = time.perf_counter() - started
    if trainer.is_global_zero:
        write_metrics(output_dir(cfg) / "metrics.json", metrics)
        if cfg.get("test", True):
            print_summary(metrics, datamodule)
    return metrics
