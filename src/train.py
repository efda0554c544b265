"""Train and test a video classifier: ``python src/train.py model=slow_fusion data=synthetic``.

A thin Hydra entry point: everything it runs is in ``deepvideo.training``; the config is ``conf/``.
"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

from deepvideo.cli import main_or_exit, run_or_exit  # noqa: E402
from deepvideo.training import train  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = run_or_exit(train, cfg)
    return metrics.get(cfg.get("optimized_metric") or "")


if __name__ == "__main__":
    main_or_exit(main)
