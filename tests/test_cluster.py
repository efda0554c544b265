"""Cluster launch without a cluster: the SLURM (submitit) and torchrun configs compose to the
parameters they would launch with, rank-0-only outputs, and ckpt_path=last resumes a re-launch."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from conftest import CONF, FAST, compose_config, tiny_overrides
from deepvideo.training import train
from deepvideo.utils.distributed import global_rank_from_env, register_resolvers
from deepvideo.utils.instantiate import instantiate_group


@pytest.fixture(autouse=True)
def _no_hydra_config_left_behind() -> Iterator[None]:
    """Compositions here set Hydra's global config (one in MULTIRUN mode): later tests must not
    run inside it."""
    yield
    HydraConfig.instance().cfg = None


def compose_with_hydra(overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    return cfg


def test_slurm_launcher_gets_nodes_tasks_gpus_time_and_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(
        "hydra_plugins.hydra_submitit_launcher", reason="pip install -e .[cluster] (submitit)"
    )
    import submitit
    from submitit.slurm import slurm

    cfg = compose_with_hydra(
        [
            "cluster=slurm",
            "trainer.devices=8",
            "trainer.num_nodes=4",
            "hydra.launcher.partition=gpu",
            f"hydra.sweep.dir={tmp_path}",
        ]
    )
    assert cfg.hydra.launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert cfg.trainer.strategy == "ddp" and cfg.ckpt_path == "last"
    # what the launcher hands submitit, captured where it would submit the job array
    captured: dict[str, dict] = {}

    def record(self: submitit.AutoExecutor, fn: object, *iterables: object) -> list:
        captured["parameters"] = dict(self._executor.parameters)
        return []

    monkeypatch.setattr(slurm.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    monkeypatch.setattr(submitit.AutoExecutor, "map_array", record)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.setup(hydra_context=None, task_function=None, config=cfg)
    assert launcher.launch([["model=slow_fusion"]], initial_job_idx=0) == []
    params = captured["parameters"]
    assert params["nodes"] == 4 and params["ntasks_per_node"] == 8  # Lightning: 1 task/device
    assert params["gpus_per_node"] == 8 and params["partition"] == "gpu"
    assert params["time"] == 2880 and params["cpus_per_task"] == 10
    sbatch = slurm._make_sbatch_string(command="python -u -m submitit", folder=tmp_path, **params)
    for line in ("--nodes=4", "--ntasks-per-node=8", "--gpus-per-node=8", "--partition=gpu"):
        assert f"#SBATCH {line}" in sbatch, sbatch
    assert f"export PROJECT_ROOT={cfg.paths.root_dir}" in sbatch
    # the trainer side: Lightning's SLURM environment without its own requeue (submitit's)
    plugin = instantiate(cfg.trainer.plugins[0])
    assert type(plugin).__name__ == "SLURMEnvironment" and plugin.auto_requeue is False


def test_torchrun_config_takes_devices_and_run_dir_from_the_launcher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job42")
    cfg = compose_with_hydra(["cluster=torchrun", "trainer.num_nodes=4", "paths.output_dir=run"])
    assert cfg.trainer.devices == 8 and cfg.trainer.num_nodes == 4
    assert cfg.trainer.strategy == "ddp" and cfg.ckpt_path == "last"
    assert cfg.hydra.run.dir.endswith("train/runs/torchrun-job42")
    callbacks = {type(c).__name__: c for c in instantiate_group(cfg.callbacks)}
    assert len(callbacks) >= 2  # the epoch-end checkpoint and the periodic one
    periodic = instantiate(cfg.callbacks.periodic_checkpoint)
    assert periodic._train_time_interval.total_seconds() == 1800 and periodic.save_last


def test_only_global_rank_zero_writes_the_hydra_config(monkeypatch: pytest.MonkeyPatch) -> None:
    register_resolvers()
    node = OmegaConf.create({"subdir": "${rank_zero_only:.hydra}", "log": "train${rank_suffix:}"})
    for variables, rank in (({}, 0), ({"RANK": "3"}, 3), ({"SLURM_PROCID": "5"}, 5)):
        for name in ("RANK", "SLURM_PROCID"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        assert global_rank_from_env() == rank
        resolved = OmegaConf.to_container(node, resolve=True)
        assert resolved == (
            {"subdir": ".hydra", "log": "train"}
            if rank == 0
            else {"subdir": None, "log": f"train.rank{rank}"}
        )
    cfg = compose_with_hydra([])
    hydra_node = OmegaConf.to_container(cfg.hydra)  # unresolved: the interpolation itself
    assert isinstance(hydra_node, dict)
    assert "rank_zero_only" in str(hydra_node["output_subdir"])


def test_ckpt_path_last_starts_fresh_then_resumes_the_relaunched_run(
    tiny_root: Path, tmp_path: Path
) -> None:
    """The same command twice into one run directory: a fresh start, then a resume."""
    common = [
        "model=single_frame",
        "debug=limit",
        "test=false",
        "ckpt_path=last",
        *tiny_overrides(tiny_root),
        *FAST,
    ]
    train(compose_config("train", [*common, "trainer.max_epochs=1"], tmp_path))
    last = tmp_path / "checkpoints" / "last.ckpt"
    first = torch.load(last, map_location="cpu", weights_only=False)
    assert first["epoch"] == 0 and first["global_step"] == 3  # limit_train_batches=3
    metrics = train(compose_config("train", [*common, "trainer.max_epochs=2"], tmp_path))
    second = torch.load(last, map_location="cpu", weights_only=False)
    assert second["global_step"] == 6
    # the re-launch trained epoch 1 only (a fresh start would have logged epoch 0 again)
    rows = list(csv.DictReader((tmp_path / "csv" / "version_1" / "metrics.csv").open()))
    assert {r["epoch"] for r in rows if r["epoch"]} == {"1"}
    assert metrics["train/clips_per_s"] > 0 and metrics["val/best_epoch"] in (0.0, 1.0)


def test_optuna_search_over_lr_and_weight_decay_composes(tmp_path: Path) -> None:
    pytest.importorskip(
        "hydra_plugins.hydra_optuna_sweeper", reason="pip install -e .[optuna] (Optuna sweeper)"
    )
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
    from optuna.distributions import LogUniformDistribution

    cfg = compose_with_hydra(["hparams_search=optuna_lr_wd", "model=slow_fusion"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and cfg.hydra.mode.name == "MULTIRUN"
    assert sweeper.direction == "maximize" and cfg.optimized_metric == "val/video_hit@1"
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler"
    assert sweeper.study_name == "train-slow_fusion-lr-wd"
    space, fixed = create_params_from_overrides([f"{k}={v}" for k, v in sweeper.params.items()])
    assert not fixed and set(space) == {"module.optimizer.lr", "module.optimizer.weight_decay"}
    lr = space["module.optimizer.lr"]
    assert isinstance(lr, LogUniformDistribution) and (lr.low, lr.high) == (1e-4, 1e-1)
    # the keys it sets are the module's optimizer arguments
    assert {"lr", "weight_decay"} <= set(cfg.module.optimizer)
