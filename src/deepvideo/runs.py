"""What the tasks (training, evaluation, prediction, transfer) share: building a run, its outputs.

:func:`build` turns a composed config into the DataModule (made ready with
:func:`deepvideo.data.build_datamodule`) and the LightningModule around the configured network;
:func:`write_metrics` and :func:`print_summary` are how every task reports its results.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from deepvideo.data.datamodule import VideoDataModule, build_datamodule
from deepvideo.modules import EvalThreads, VideoClassifier

log = logging.getLogger(__name__)

__all__ = [
    "build",
    "data_counts",
    "output_dir",
    "print_summary",
    "to_float_dict",
    "write_metrics",
]


def output_dir(cfg: DictConfig) -> Path:
    """The run directory (Hydra's, unless a caller set ``paths.output_dir``)."""
    return Path(cfg.paths.output_dir)


def build(cfg: DictConfig) -> tuple[VideoDataModule, VideoClassifier]:
    """DataModule and LightningModule of ``cfg``; the data is made ready (and checked) first.

    The module stores the resolved config, so every checkpoint describes its own run.
    """
    threads = cfg.data.get("recipe", {}).get("torch_threads")
    if threads:
        # the recipe's compute threads in this process (loader workers run one thread each)
        torch.set_num_threads(int(threads))
    datamodule = build_datamodule(cfg.data)
    net = instantiate(cfg.model.net)
    module = instantiate(cfg.module, net=net)
    module.run_config = OmegaConf.to_container(cfg, resolve=True)
    return datamodule, module


def eval_threads(cfg: DictConfig) -> list[EvalThreads]:
    """The callback giving validation and testing the recipe's ``eval_threads`` compute threads
    (:func:`build` set training's, ``torch_threads``), or none where the recipe sets none."""
    threads = cfg.data.get("recipe", {}).get("eval_threads")
    return [EvalThreads(int(threads))] if threads else []


def to_float_dict(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def write_metrics(path: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics`` as sorted JSON and log where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_float_dict(metrics), indent=2, sort_keys=True) + "\n")
    log.info("metrics written to %s", path)
    return path


def data_counts(datamodule: Any) -> dict[str, float]:
    """``<split>/missing_videos`` (listed, no local file: the DataModule's ``stats``) and their
    sum ``data/missing_videos``, for ``metrics.json`` next to the ``*/skipped_videos`` counts of
    files that are there but do not decode."""
    stats = getattr(datamodule, "stats", None) or {}
    out = {f"{s}/missing_videos": float(v.get("missing", 0)) for s, v in stats.items()}
    out["data/missing_videos"] = sum(out.values())
    return out


def print_summary(metrics: Mapping[str, float], datamodule: Any) -> None:
    """Print the video-level results next to chance for the same test set, and the number of
    test videos they are over, with those left out (broken files, files missing)."""
    chance = getattr(datamodule, "chance_hit_at_1", None)
    if chance is not None and not getattr(datamodule, "splits", True):
        # under ddp_spawn the splits were read in the spawned processes, not in this one
        datamodule.setup("test")
    keys = ["test/clip_hit@1", "test/video_hit@1", "test/video_hit@5"]
    line = ", ".join(f"{k} {metrics[k]:.3f}" for k in keys if k in metrics)
    if chance is not None:
        line += f" (chance Hit@1 {chance():.3f})"
    if "test/videos" in metrics:
        videos = int(metrics["test/videos"])
        line += f"; over {videos} test video{'' if videos == 1 else 's'}"
        left_out = [
            f"{int(metrics.get(key, 0))} {what}"
            for key, what in (
                ("test/skipped_videos", "broken files left out, listed above"),
                ("test/missing_videos", "listed but missing"),
            )
            if metrics.get(key, 0)
        ]
        if left_out:
            line += " (" + "; ".join(left_out) + ")"
    log.info("%s", line)
    print(line)


def run_config(run_dir: Path) -> dict[str, Any]:
    """The config a Hydra run was composed with (its ``.hydra/config.yaml``, interpolations
    unresolved); empty when the run has none or it does not parse."""
    path = Path(run_dir) / ".hydra" / "config.yaml"
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return config if isinstance(config, dict) else {}


def run_overrides(run_dir: Path) -> list[str]:
    """The task overrides a Hydra run was launched with (its ``.hydra/overrides.yaml``, e.g.
    ``data.fold=1``); empty when the run has none or it does not parse."""
    path = Path(run_dir) / ".hydra" / "overrides.yaml"
    try:
        overrides = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return []
    return [str(o) for o in overrides] if isinstance(overrides, list) else []
