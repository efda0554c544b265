"""The UCF-101 transfer report of Karpathy et al. 2014, Sec. 4.2: folds (Table 3) and Table 4.

A transfer regime is trained on each of UCF-101's three official folds
(``scripts/transfer_folds.py``); every fold's run directory holds ``metrics.json`` and
``video_scores.pt`` (per-video mean clip probabilities, targets, class names and class groups,
written by :class:`deepvideo.transfer.SaveVideoScores`). This module reads them back
(:func:`load_fold_run`) and writes a markdown report (:func:`markdown_report`): each fold's video
accuracy and their mean (the paper's Table 3 reports the 3-fold mean), and Table 4: the mean
average precision of every class group (UCF-101's five class types) and of all classes, with the
per-class AP below it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from deepvideo.reports.analysis import per_class_ap

__all__ = [
    "ALL_CLASSES",
    "PAPER_TABLE3",
    "FoldRun",
    "group_map",
    "load_fold_run",
    "markdown_report",
]

ALL_CLASSES = "All classes"
# Karpathy et al. 2014, Table 3: UCF-101 3-fold accuracy (%) of each regime.
PAPER_TABLE3 = {"scratch": 41.3, "top": 64.1, "top3": 65.4, "all": 62.2}
REGIME_NAMES = {
    "scratch": "Train from scratch",
    "top": "Fine-tune top layer",
    "top3": "Fine-tune top 3 layers",
    "all": "Fine-tune all layers",
}


@dataclass
class FoldRun:
    """One fold's results: test metrics and per-video scores."""

    fold: int
    run_dir: Path
    metrics: dict[str, float]
    scores: Tensor  # (V, C) per-video mean clip probabilities
    targets: Tensor  # (V, C) multi-hot
    class_names: list[str]
    class_groups: dict[str, str]

    @property
    def ap(self) -> Tensor:
        """Per-class average precision over the fold's test videos, ``(C,)`` (NaN: no positive)."""
        return per_class_ap(self.scores, self.targets)


def load_fold_run(run_dir: str | Path, fold: int | None = None) -> FoldRun:
    """Read ``metrics.json`` and ``video_scores.pt`` of a training run directory."""
    run_dir = Path(run_dir)
    metrics_path, scores_path = run_dir / "metrics.json", run_dir / "video_scores.pt"
    for path in (metrics_path, scores_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist: train with experiment=transfer_<regime> (its callbacks "
                "write video_scores.pt), or run src/eval.py on the fold's checkpoint"
            )
    metrics = {k: float(v) for k, v in json.loads(metrics_path.read_text()).items()}
    data: dict[str, Any] = torch.load(scores_path, map_location="cpu", weights_only=False)
    scores = data["scores"].float()
    names = list(data.get("class_names") or [str(i) for i in range(scores.shape[1])])
    chosen = fold if fold is not None else data.get("fold")
    return FoldRun(
        fold=int(chosen) if chosen is not None else 0,
        run_dir=run_dir,
        metrics=metrics,
        scores=scores,
        targets=data["targets"].float(),
        class_names=names,
        class_groups=dict(data.get("class_groups") or {}),
    )


def group_map(
    ap: Tensor, class_names: Sequence[str], class_groups: Mapping[str, str]
) -> dict[str, tuple[float, int]]:
    """Per class group: (mean AP over its classes with positives, their count), plus all classes.

    Groups in alphabetical order, :data:`ALL_CLASSES` last; classes without a group count only in
    :data:`ALL_CLASSES`; a group whose classes have no test positives gets NaN.
    """
    members: dict[str, list[float]] = {}
    for name, value in zip(class_names, ap.tolist(), strict=True):
        group = class_groups.get(name)
        if group is not None:
            members.setdefault(group, [])
            if not math.isnan(value):
                members[group].append(value)
    members = dict(sorted(members.items()))
    members[ALL_CLASSES] = [v for v in ap.tolist() if not math.isnan(v)]
    return {
        group: (sum(values) / len(values) if values else math.nan, len(values))
        for group, values in members.items()
    }


def _mean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def _fmt(value: float, percent: bool = False) -> str:
    if math.isnan(value):
        return "—"
    return f"{100 * value:.1f}" if percent else f"{value:.3f}"


def markdown_report(
    regime: str, folds: Sequence[FoldRun], command: str | None = None, notes: Sequence[str] = ()
) -> str:
    """The report of one regime over its folds: fold accuracies, Table 4, per-class AP."""
    if not folds:
        raise ValueError("no fold runs to report")
    folds = sorted(folds, key=lambda f: f.fold)
    names = folds[0].class_names
    for run in folds[1:]:
        if run.class_names != names:
            raise ValueError(f"{run.run_dir} and {folds[0].run_dir} have different classes")
    groups = folds[0].class_groups
    title = REGIME_NAMES.get(regime, regime)
    lines = [f"# UCF-101 transfer: {title} (`experiment=transfer_{regime}`)", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [f"Karpathy et al. 2014, Sec. 4.2. {len(names)} classes, folds "]
    lines[-1] += ", ".join(str(f.fold) for f in folds) + "."
    paper = PAPER_TABLE3.get(regime)
    if paper is not None:
        lines[-1] += f" Paper (Table 3, real UCF-101, 3-fold mean accuracy): {paper:.1f}%."
    lines += [*notes, ""]

    keys = [
        ("test/clip_hit@1", "Clip Hit@1"),
        ("test/video_hit@1", "Video accuracy (Hit@1)"),
        ("test/video_hit@5", "Video Hit@5"),
    ]
    lines += ["## Accuracy per fold (%)", ""]
    lines += ["| Fold | test videos | " + " | ".join(label for _, label in keys) + " |"]
    lines += ["| --- | ---: | " + " | ".join("---:" for _ in keys) + " |"]
    for run in folds:
        videos = run.metrics.get("test/videos", float(run.scores.shape[0]))
        cells = [_fmt(run.metrics.get(k, math.nan), percent=True) for k, _ in keys]
        lines.append(f"| {run.fold} | {int(videos)} | " + " | ".join(cells) + " |")
    means = [_fmt(_mean([r.metrics.get(k, math.nan) for r in folds]), True) for k, _ in keys]
    lines += ["| **mean** | | " + " | ".join(f"**{m}**" for m in means) + " |", ""]

    aps = [run.ap for run in folds]
    per_fold = [group_map(ap, names, groups) for ap in aps]
    mean_ap = torch.stack(aps).nanmean(0) if len(aps) > 1 else aps[0]
    overall = group_map(mean_ap, names, groups)
    fold_cols = " | ".join(f"fold {r.fold}" for r in folds)
    lines += ["## Table 4: mean average precision per class group", ""]
    lines += [f"| Group | classes | {fold_cols} | mean |"]
    lines += ["| --- | ---: | " + " | ".join("---:" for _ in folds) + " | ---: |"]
    for group, (value, count) in overall.items():
        cells = [_fmt(p[group][0]) for p in per_fold]
        label = f"**{group}**" if group == ALL_CLASSES else group
        lines.append(f"| {label} | {count} | " + " | ".join(cells) + f" | {_fmt(value)} |")
    lines += [
        "",
        "mAP: the mean over a group's classes of each class's average precision over the test "
        "videos (torchmetrics multilabel AP); the mean column averages each class's AP over the "
        "folds first.",
        "",
        "## Average precision per class",
        "",
        f"| Class | Group | {fold_cols} | mean |",
        "| --- | --- | " + " | ".join("---:" for _ in folds) + " | ---: |",
    ]
    for c, name in enumerate(names):
        cells = [_fmt(float(ap[c])) for ap in aps]
        group = groups.get(name, "—")
        lines.append(
            f"| {name} | {group} | " + " | ".join(cells) + f" | {_fmt(float(mean_ap[c]))} |"
        )
    lines += ["", "Run directories: " + ", ".join(f"`{r.run_dir}`" for r in folds), ""]
    return "\n".join(lines)
