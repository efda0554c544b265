"""Re-evaluate a checkpoint at video level: ``python src/eval.py ckpt_path=PATH``.

Writes ``metrics.json`` (and ``video_scores.pt``) to the run directory. Logic: ``deepvideo.evaluation``.
"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

from deepvideo.cli import main_or_exit, run_or_exit  # noqa: E402
from deepvideo.evaluation import evaluate  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    run_or_exit(evaluate, cfg)


if __name__ == "__main__":
    main_or_exit(main)
