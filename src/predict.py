"""Top-k labels for one video: ``python src/predict.py ckpt_path=CKPT video=PATH [top_k=5] [overlay=OUT.mp4]``.

Logic: ``deepvideo.prediction``. An unreadable video ends with one line on stderr and exit 2.
"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

from deepvideo.cli import main_or_exit, run_or_exit  # noqa: E402
from deepvideo.prediction import predict  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    run_or_exit(predict, cfg)


if __name__ == "__main__":
    main_or_exit(main)
