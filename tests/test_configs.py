"""Every config composes, resolves, and builds its network."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from conftest import CONF
from deepvideo.models import count_parameters

MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
DATA = sorted(p.stem for p in (CONF / "data").glob("*.yaml"))
TRAINERS = sorted(p.stem for p in (CONF / "trainer").glob("*.yaml"))
LOGGERS = sorted(p.stem for p in (CONF / "logger").glob("*.yaml"))
DEBUG = sorted(p.stem for p in (CONF / "debug").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def test_the_issue_model_and_data_names_exist() -> None:
    assert {"single_frame", "slow_fusion"} <= set(MODELS)
    assert {"synthetic", "sports1m"} <= set(DATA)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_builds_on_synthetic(
    compose_cfg: Callable[..., DictConfig], model: str
) -> None:
    cfg = compose_cfg("train", [f"model={model}"])
    OmegaConf.resolve(cfg)
    net = instantiate(cfg.model.net)
    assert count_parameters(net) > 0
    assert cfg.model.clip.num_frames >= 1
    module = instantiate(cfg.module, net=net)
    assert module.net is net


@pytest.mark.parametrize("data", DATA)
def test_every_data_config_resolves(compose_cfg: Callable[..., DictConfig], data: str) -> None:
    cfg = compose_cfg("train", [f"data={data}"])
    OmegaConf.resolve(cfg)
    assert cfg.data.num_classes > 0


def test_paper_sizes_on_sports1m(compose_cfg: Callable[..., DictConfig]) -> None:
    cfg = compose_cfg("train", ["data=sports1m", "model=slow_fusion"])
    OmegaConf.resolve(cfg)
    assert cfg.data.num_classes == 487
    assert cfg.model.net.input_size == 170 and cfg.model.net.width == 1.0
    assert cfg.model.clip.num_frames == 10
    assert list(cfg.model.net.tower.lrn.values()) == [5, 1.0e-4, 0.5, 2.0]


@pytest.mark.parametrize(
    "override",
    [f"trainer={t}" for t in TRAINERS]
    + [f"logger={lg}" for lg in LOGGERS]
    + [f"debug={d}" for d in DEBUG]
    + [f"experiment={e}" for e in EXPERIMENTS],
)
def test_every_group_option_composes(compose_cfg: Callable[..., DictConfig], override: str) -> None:
    cfg = compose_cfg("train", [override])
    OmegaConf.resolve(cfg)
    assert cfg.trainer._target_ == "pytorch_lightning.Trainer"


def test_eval_config_composes(compose_cfg: Callable[..., DictConfig]) -> None:
    cfg = compose_cfg("eval", ["ckpt_path=some.ckpt"])
    assert cfg.ckpt_path == "some.ckpt"
