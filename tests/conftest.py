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
