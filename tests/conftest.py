"""Shared fixtures: Hydra composition of the real configs, and small generated datasets."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
os.environ.setdefault("PROJECT_ROOT", str(ROOT))


def compose_config(
    name: str, overrides: Sequence[str] = (), output_dir: Path | None = None
) -> DictConfig:
    """Compose ``conf/<name>.yaml`` as the entry point would, with the Hydra runtime set."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    def make(name: str = "train", overrides: Sequence[str] = ()) -> DictConfig:
        return compose_config(name, overrides, tmp_path)

    return make


# A tiny synthetic set: 12 classes x (4 train + 1 test) short videos.
TINY = {
    "data.generator.train_per_class": 4,
    "data.generator.test_per_class": 1,
    "data.generator.min_seconds": 1.5,
    "data.generator.max_seconds": 2.0,
}
FAST = ["data.test_clips.clips_per_video=2", "data.test_clips.views=2", "data.num_workers=0"]


def tiny_overrides(root: Path) -> list[str]:
    return [f"data.root={root}", "data.workers=1"] + [f"{k}={v}" for k, v in TINY.items()]


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic set, generated once per test session."""
    root = tmp_path_factory.mktemp("synthetic") / "tiny"
    cfg = compose_config("train", tiny_overrides(root))
    from hydra.utils import instantiate

    instantiate(cfg.data, _recursive_=False).prepare_data()
    return root
