"""The one home of the per-video score file, ``video_scores.pt``.

Evaluation (``src/eval.py``), the :class:`~deepvideo.modules.SaveVideoScores` callback of the
transfer recipes and the CNN-average ensemble all write it with :func:`write_video_scores`; the
reports read it with :func:`load_video_scores`. Content: per-video mean clip probabilities
``scores (V, C)``, multi-hot ``targets (V, C)``, the videos' ids, the class names, and where the
dataset has them the class groups and the fold. :func:`fuse_video_scores` is the late fusion of
two-stream models (an image and an optical-flow run's scores, averaged video by video) and
:func:`save_video_scores` writes any :class:`VideoScores`, fused ones included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "VideoScores",
    "fuse_video_scores",
    "load_video_scores",
    "save_video_scores",
    "write_video_scores",
]


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

    def subset(self, video_ids: Sequence[str]) -> VideoScores:
        """These scores restricted to ``video_ids`` (each must be here), in that order."""
        where = {v: i for i, v in enumerate(self.video_ids)}
        order = torch.tensor([where[v] for v in video_ids], dtype=torch.long)
        return replace(
            self, scores=self.scores[order], targets=self.targets[order], video_ids=list(video_ids)
        )


def fuse_video_scores(
    streams: Sequence[VideoScores], weights: Sequence[float] | None = None, model: str = "fused"
) -> VideoScores:
    """Late fusion of several runs on the same test set (two-stream models: Ng et al. 2015,
    Sec. 3.4, after Simonyan and Zisserman 2014's averaging): each video's probabilities are the
    ``weights``-weighted mean (normalised to sum 1; default equal) of the streams' probabilities,
    over the videos every stream scored, matched by id, in the first stream's order.

    Raises ``ValueError`` naming the files when the streams have other classes, share no video,
    or disagree on a video's labels (not the same test set).
    """
    if not streams:
        raise ValueError("fusion needs at least one stream of video scores")
    weights = [1.0] * len(streams) if weights is None else [float(w) for w in weights]
    if len(weights) != len(streams) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(
            f"fusion weights must be one non-negative number per stream with a positive sum, "
            f"got {weights} for {len(streams)} streams"
        )
    first = streams[0]
    for other in streams[1:]:
        if other.class_names != first.class_names:
            raise ValueError(
                f"{first.path} and {other.path} score different classes "
                f"({len(first.class_names)} vs {len(other.class_names)}): fuse runs of one dataset"
            )
    shared = set(first.video_ids).intersection(*(s.video_ids for s in streams[1:]))
    common = [v for v in first.video_ids if v in shared]
    if not common:
        raise ValueError(
            f"{', '.join(str(s.path) for s in streams)} share no test video: fuse runs evaluated "
            "on the same test split"
        )
    aligned = [s.subset(common) for s in streams]
    for other in aligned[1:]:
        if not torch.equal(other.targets, aligned[0].targets):
            raise ValueError(
                f"{first.path} and {other.path} disagree on the labels of the same videos: "
                "fuse runs of one dataset and split"
            )
    total = sum(weights)
    fused = sum(w / total * s.scores for w, s in zip(weights, aligned, strict=True))
    assert isinstance(fused, Tensor)
    return VideoScores(
        fused,
        aligned[0].targets,
        common,
        list(first.class_names),
        model,
        None,
        dict(first.class_groups),
        first.fold,
    )


def save_video_scores(path: str | Path, scores: VideoScores) -> Path:
    """Write ``scores`` as a ``video_scores.pt`` (the format :func:`write_video_scores` writes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "video_index": torch.arange(len(scores.video_ids)),
            "scores": scores.scores,
            "targets": scores.targets,
            "video_ids": list(scores.video_ids),
            "class_names": list(scores.class_names),
            "class_groups": dict(scores.class_groups),
            "fold": scores.fold,
            "model": scores.model,
        },
        path,
    )
    return path


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
