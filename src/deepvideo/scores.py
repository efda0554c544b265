"""The one home of the per-video score file, ``video_scores.pt``.

Evaluation (``src/eval.py``), the :class:`~deepvideo.modules.SaveVideoScores` callback of the
transfer recipes and the CNN-average ensemble all write it with :func:`write_video_scores`; the
reports read it with :func:`load_video_scores`. Content: per-video mean clip probabilities
``scores (V, C)``, multi-hot ``targets (V, C)``, the videos' ids, the class names, and where the
dataset has them the class groups and the fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = ["VideoScores", "load_video_scores", "write_video_scores"]


@dataclass
class VideoScores:
    """The content of ``video_scores.pt``: per-video mean clip probabilities and targets."""

    scores: Tensor  # (V, C)
    targets: Tensor  # (V, C) multi-hot
    video_ids: list[str]
    class_names: list[str]
    model: str
    path: Path | None = None
    class_groups: dict[str, str] = field(default_factory=dict)
    fold: int | None = None

    def aligned_to(self, other: VideoScores) -> VideoScores:
        """These scores with videos reordered to ``other``'s order (both must list the same)."""
        if self.video_ids == other.video_ids:
            return self
        where = {v: i for i, v in enumerate(self.video_ids)}
        missing = [v for v in other.video_ids if v not in where]
        if missing or len(where) != len(other.video_ids):
            raise ValueError(
                f"{self.path} and {other.path} were evaluated on different videos "
                f"({len(self.video_ids)} vs {len(other.video_ids)}; e.g. {missing[:3]})"
            )
        order = torch.tensor([where[v] for v in other.video_ids])
        return VideoScores(
            self.scores[order],
            self.targets[order],
            list(other.video_ids),
            self.class_names,
            self.model,
            self.path,
            self.class_groups,
            self.fold,
        )


def write_video_scores(
    path: str | Path,
    datamodule: Any,
    video_index: Tensor,
    scores: Tensor,
    targets: Tensor,
    model: str | None,
) -> Path:
    """Write ``video_scores.pt``: per-video scores of ``datamodule``'s test videos, with their ids,
    the class names, and (where the dataset has them) the class groups and the fold."""
    videos = datamodule.splits["test"] if datamodule is not None else []
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "video_index": video_index,
            "scores": scores,
            "targets": targets,
            "video_ids": [videos[i].video_id for i in video_index.tolist()] if videos else [],
            "class_names": list(getattr(datamodule, "class_names", [])),
            "class_groups": dict(getattr(datamodule, "class_groups", {}) or {}),
            "fold": getattr(datamodule, "fold", None),
            "model": model,
        },
        path,
    )
    return path


def load_video_scores(path: str | Path) -> VideoScores:
    """Read a ``video_scores.pt``; a missing file is a ``FileNotFoundError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: run src/eval.py on the run's checkpoint (it writes "
            "video_scores.pt), or train with a recipe whose callbacks write it"
        )
    data: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    scores = data["scores"].float()
    names = list(data.get("class_names") or [str(i) for i in range(scores.shape[1])])
    ids = list(data.get("video_ids") or [str(int(i)) for i in data["video_index"]])
    fold = data.get("fold")
    return VideoScores(
        scores,
        data["targets"].float(),
        ids,
        names,
        str(data.get("model")),
        path,
        dict(data.get("class_groups") or {}),
        int(fold) if fold is not None else None,
    )
