"""The UCF-101 transfer report of Karpathy et al. 2014, Sec. 4.2: folds (Table 3) and Table 4.

A transfer regime is trained on each of UCF-101's three official folds by the transfer task
(:func:`deepvideo.transfer.run_folds`, one ``src/train.py`` multirun); every fold's run directory
holds ``metrics.json`` and ``video_scores.pt`` (per-video mean clip probabilities, targets, class
names and class groups, :mod:`deepvideo.scores`, written by
:class:`deepvideo.modules.SaveVideoScores`). This module reads them back (:func:`load_fold_run`)
and writes a markdown report (:func:`markdown_report`): each fold's video accuracy and their mean
next to the paper's Table 3 (its 3-fold mean accuracy, with the paper's two baselines as
reference rows), and Table 4: the mean average precision of every class group (UCF-101's five
class types) and of all classes, with the per-class AP below it. :func:`run_transfer_report` does
it all (``scripts/transfer_folds.py``).
"""

from __future__ import annotations

import logging
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from deepvideo.reports.analysis import per_class_ap
from deepvideo.reports.experiments import read_metrics
from deepvideo.scores import load_video_scores
from deepvideo.transfer import FoldRuns, TransferOptions, run_folds

log = logging.getLogger(__name__)

__all__ = [
    "ALL_CLASSES",
    "PAPER_TABLE3",
    "PAPER_TABLE3_BASELINES",
    "FoldRun",
    "TransferReport",
    "group_map",
    "load_fold_run",
    "markdown_report",
    "run_transfer_report",
    "write_report",
]

ALL_CLASSES = "All classes"
# Karpathy et al. 2014, Table 3: UCF-101 3-fold accuracy (%) of each regime.
PAPER_TABLE3 = {"scratch": 41.3, "top": 64.1, "top3": 65.4, "all": 62.2}
# Karpathy et al. 2014, Table 3: the two baselines the paper compares with (3-fold accuracy, %),
# not runs of ours: UCF-101's own baseline (Soomro et al. 2012, the paper's ref. [22]) and the
# paper's feature-histogram pipeline of Sec. 4.1 applied to UCF-101.
PAPER_TABLE3_BASELINES = {
    "Soomro et al. [22]": 43.9,
    "Feature Histograms + Neural Net": 59.0,
}
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
    for path in (run_dir / "metrics.json", run_dir / "video_scores.pt"):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist: train with experiment=transfer_<regime> (its callbacks "
                "write video_scores.pt), or run src/eval.py on the fold's checkpoint"
            )
    scores = load_video_scores(run_dir / "video_scores.pt")
    chosen = fold if fold is not None else scores.fold
    return FoldRun(
        fold=int(chosen) if chosen is not None else 0,
        run_dir=run_dir,
        metrics=read_metrics(run_dir),
        scores=scores.scores,
        targets=scores.targets,
        class_names=scores.class_names,
        class_groups=scores.class_groups,
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


def table3_lines(regime: str, folds: Sequence[FoldRun]) -> list[str]:
    """Table 3: our mean video accuracy next to the paper's rows (marked as the paper's)."""
    ours = _mean([r.metrics.get("test/video_hit@1", math.nan) for r in folds])
    fold_list = ", ".join(str(r.fold) for r in folds)
    lines = [
        "## Table 3: 3-fold accuracy, ours and the paper's (%)",
        "",
        "| Model | 3-fold accuracy | source |",
        "| --- | ---: | --- |",
    ]
    paper_source = "the paper's (Karpathy et al. 2014, Table 3, real UCF-101), not a run of ours"
    for label, value in PAPER_TABLE3_BASELINES.items():
        lines.append(f"| *{label} (paper)* | *{value:.1f}* | {paper_source} |")
    title = REGIME_NAMES.get(regime, regime)
    paper = PAPER_TABLE3.get(regime)
    if paper is not None:
        lines.append(
            f"| *{title} (paper, Slow Fusion from Sports-1M)* | *{paper:.1f}* | {paper_source} |"
        )
    lines += [
        f"| **{title} (ours, `experiment=transfer_{regime}`)** | **{_fmt(ours, percent=True)}** "
        f"| this report: mean video Hit@1 over folds {fold_list} |",
        "",
    ]
    return lines


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
    lines += table3_lines(regime, folds)

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


@dataclass
class TransferReport:
    """The written report and what it summarises."""

    path: Path
    regime: str
    folds: list[FoldRun]
    missing: list[int]

    def summary(self) -> str:
        """``<regime>: video accuracy per fold 1: 0.xyz, ...; mean 0.xyz; report PATH``."""
        accuracy = [f.metrics.get("test/video_hit@1", math.nan) for f in self.folds]
        per_fold = ", ".join(
            f"{f.fold}: {a:.3f}" for f, a in zip(self.folds, accuracy, strict=True)
        )
        return (
            f"{self.regime}: video accuracy per fold {per_fold}; "
            f"mean {_mean(accuracy):.3f}; report {self.path}"
        )


def write_report(runs: FoldRuns, report: Path | None = None) -> TransferReport:
    """Read the fold runs of a finished multirun and write the markdown report (default
    ``<sweep dir>/report.md``)."""
    folds = [load_fold_run(job, fold) for fold, job in runs.runs]
    notes = [f"Missing folds: {runs.missing}."] if runs.missing else []
    text = markdown_report(runs.regime, folds, command=shlex.join(runs.command[1:]), notes=notes)
    path = Path(report) if report is not None else runs.sweep_dir / "report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    log.info("transfer report written to %s", path)
    return TransferReport(path, runs.regime, sorted(folds, key=lambda f: f.fold), runs.missing)


def run_transfer_report(opts: TransferOptions, report: Path | None = None) -> TransferReport:
    """Train the regime on every fold (:func:`deepvideo.transfer.run_folds`, unless
    ``opts.skip_train``) and write the report."""
    return write_report(run_folds(opts), report)
