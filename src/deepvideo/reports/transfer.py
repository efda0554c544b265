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

At several seeds (``TransferOptions.seeds``, :func:`deepvideo.transfer.run_seed_folds`) the report
(:func:`markdown_seed_report`) gives every Table 3 / Table 4 cell as ``mean ± sd`` over the seeds
of the 3-fold means, with the per-seed values (:func:`deepvideo.reports.seeds.seed_cell`). Next to
every report a JSON summary (``report.json``, :func:`seed_summary`) records each seed's 3-fold
accuracies and per-group mAP; :func:`compare_regimes` reads two regimes' summaries and states
whether one beats the other at every seed beyond the spread (``--compare``).
"""

from __future__ import annotations

import json
import logging
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from deepvideo.errors import ConfigError
from deepvideo.reports.analysis import per_class_ap
from deepvideo.reports.experiments import read_metrics
from deepvideo.reports.seeds import finding_line, seed_cell, seed_difference, seeds_text
from deepvideo.runs import run_config
from deepvideo.scores import load_video_scores
from deepvideo.transfer import FoldRuns, TransferOptions, run_seed_folds

log = logging.getLogger(__name__)

__all__ = [
    "ALL_CLASSES",
    "PAPER_TABLE3",
    "PAPER_TABLE3_BASELINES",
    "FoldRun",
    "TransferReport",
    "compare_regimes",
    "group_map",
    "load_fold_run",
    "load_summary",
    "markdown_report",
    "markdown_seed_report",
    "run_transfer_report",
    "seed_summary",
    "summary_path",
    "write_report",
    "write_seed_report",
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
# The test metrics of the per-fold tables: (metrics.json key, column label).
METRICS = (
    ("test/clip_hit@1", "Clip Hit@1"),
    ("test/video_hit@1", "Video accuracy (Hit@1)"),
    ("test/video_hit@5", "Video Hit@5"),
)
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
    return _table3(regime, _fmt(ours, percent=True), f"mean video Hit@1 over folds {fold_list}")


def _table3(regime: str, ours: str, source: str) -> list[str]:
    """Table 3 with our cell ``ours`` (described by ``source``) below the paper's rows."""
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
        f"| **{title} (ours, `experiment=transfer_{regime}`)** | **{ours}** "
        f"| this report: {source} |",
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

    keys = METRICS
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


# ------------------------------------------------------------------------------ over seeds
def _fold_mean_ap(folds: Sequence[FoldRun]) -> Tensor:
    """Each class's AP averaged over the folds (NaN where no fold has a positive)."""
    aps = [run.ap for run in folds]
    return torch.stack(aps).nanmean(0) if len(aps) > 1 else aps[0]


def _check_classes(folds: Sequence[FoldRun]) -> None:
    for run in folds[1:]:
        if run.class_names != folds[0].class_names:
            raise ValueError(f"{run.run_dir} and {folds[0].run_dir} have different classes")


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


def seed_summary(regime: str, by_seed: Mapping[int, Sequence[FoldRun]]) -> dict[str, Any]:
    """What a regime's report found at each seed, for ``report.json``: per seed, the 3-fold mean
    of every test metric (``metrics``; ``video_accuracy`` is ``test/video_hit@1``), each fold's
    video accuracy (``folds``), the mAP of every class group of the fold-mean per-class AP
    (``group_map``, :func:`group_map`) and the run directories. Seeds are JSON keys (strings);
    NaN is written as null."""
    out: dict[str, Any] = {
        "regime": regime,
        "seeds": sorted(by_seed),
        "video_accuracy": {},
        "metrics": {},
        "folds": {},
        "group_map": {},
        "run_dirs": {},
    }
    for seed in sorted(by_seed):
        folds = sorted(by_seed[seed], key=lambda f: f.fold)
        if not folds:
            raise ValueError(f"no fold runs at seed {seed}")
        _check_classes(folds)
        key = str(seed)
        means = {k: _mean([r.metrics.get(k, math.nan) for r in folds]) for k, _ in METRICS}
        out["metrics"][key] = {k: _none_if_nan(v) for k, v in means.items()}
        out["video_accuracy"][key] = _none_if_nan(means["test/video_hit@1"])
        out["folds"][key] = {
            str(r.fold): _none_if_nan(r.metrics.get("test/video_hit@1", math.nan)) for r in folds
        }
        groups = group_map(_fold_mean_ap(folds), folds[0].class_names, folds[0].class_groups)
        out["group_map"][key] = {g: _none_if_nan(v) for g, (v, _) in groups.items()}
        out["run_dirs"][key] = [str(r.run_dir) for r in folds]
    return out


def _cell(per_seed: Mapping[str, float | None], seeds: Sequence[int], percent: bool) -> str:
    return seed_cell(
        [per_seed.get(str(s)) for s in seeds],
        scale=100.0 if percent else 1.0,
        digits=1 if percent else 3,
    )


def markdown_seed_report(
    regime: str,
    by_seed: Mapping[int, Sequence[FoldRun]],
    commands: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> str:
    """The report of one regime at several seeds: every cell is ``mean ± sd (per-seed values)``
    over the seeds of the seed's 3-fold mean (accuracies in %, mAP as a fraction), then each
    seed's folds."""
    if not by_seed or not all(by_seed.values()):
        raise ValueError("no fold runs to report")
    summary = seed_summary(regime, by_seed)
    seeds: list[int] = summary["seeds"]
    first = sorted(by_seed[seeds[0]], key=lambda f: f.fold)
    names, groups = first[0].class_names, first[0].class_groups
    for seed in seeds[1:]:
        if sorted(by_seed[seed], key=lambda f: f.fold)[0].class_names != names:
            raise ValueError(f"seed {seed} has other classes than seed {seeds[0]}")
    title = REGIME_NAMES.get(regime, regime)
    lines = [f"# UCF-101 transfer: {title} (`experiment=transfer_{regime}`)", ""]
    lines += [f"Command ({seeds_text([s])}): `{c}`" for s, c in zip(seeds, commands, strict=False)]
    lines += [""] if commands else []
    lines += [
        f"Karpathy et al. 2014, Sec. 4.2. {len(names)} classes, {seeds_text(seeds)}. Every cell "
        "is the mean ± sample sd over the seeds of the seed's mean over its folds, then the value "
        "at each seed."
    ]
    paper = PAPER_TABLE3.get(regime)
    if paper is not None:
        lines[-1] += f" Paper (Table 3, real UCF-101, 3-fold mean accuracy): {paper:.1f}%."
    lines += [*notes, ""]

    metrics = summary["metrics"]
    lines += ["## Accuracy, mean over the folds (%)", ""]
    lines += ["| Seed | folds | " + " | ".join(label for _, label in METRICS) + " |"]
    lines += ["| --- | --- | " + " | ".join("---:" for _ in METRICS) + " |"]
    for seed in seeds:
        folds = ", ".join(sorted(summary["folds"][str(seed)], key=int))
        cells = [_cell({str(seed): metrics[str(seed)][k]}, [seed], True) for k, _ in METRICS]
        lines.append(f"| {seed} | {folds} | " + " | ".join(cells) + " |")
    cells = [_cell({s: m[k] for s, m in metrics.items()}, seeds, True) for k, _ in METRICS]
    lines += ["| **mean ± sd** | | " + " | ".join(f"**{c}**" for c in cells) + " |", ""]
    ours = _cell(summary["video_accuracy"], seeds, True)
    lines += _table3(
        regime, ours, f"mean ± sd over {seeds_text(seeds)} of the mean video Hit@1 over the folds"
    )

    maps = summary["group_map"]
    overall = group_map(_fold_mean_ap(first), names, groups)
    lines += ["## Table 4: mean average precision per class group", ""]
    lines += ["| Group | classes | mAP |", "| --- | ---: | ---: |"]
    for group, (_, count) in overall.items():
        label = f"**{group}**" if group == ALL_CLASSES else group
        cell = _cell({s: m.get(group) for s, m in maps.items()}, seeds, False)
        lines.append(f"| {label} | {count} | {cell} |")
    lines += [
        "",
        "mAP: the mean over a group's classes of each class's average precision over the test "
        "videos (torchmetrics multilabel AP), each class's AP averaged over the folds first.",
        "",
        "## Average precision per class",
        "",
        "| Class | Group | AP |",
        "| --- | --- | ---: |",
    ]
    per_seed_ap = {str(s): _fold_mean_ap(by_seed[s]).tolist() for s in seeds}
    for c, name in enumerate(names):
        values = {s: _none_if_nan(ap[c]) for s, ap in per_seed_ap.items()}
        lines.append(f"| {name} | {groups.get(name, '—')} | {_cell(values, seeds, False)} |")
    lines += ["", "## Accuracy per fold and seed (%)", ""]
    lines += ["| Seed | Fold | test videos | " + " | ".join(label for _, label in METRICS) + " |"]
    lines += ["| --- | --- | ---: | " + " | ".join("---:" for _ in METRICS) + " |"]
    for seed in seeds:
        for run in sorted(by_seed[seed], key=lambda f: f.fold):
            videos = run.metrics.get("test/videos", float(run.scores.shape[0]))
            cells = [_fmt(run.metrics.get(k, math.nan), percent=True) for k, _ in METRICS]
            lines.append(f"| {seed} | {run.fold} | {int(videos)} | " + " | ".join(cells) + " |")
    lines += ["", "Run directories:", ""]
    lines += [
        f"- seed {s}: " + ", ".join(f"`{d}`" for d in summary["run_dirs"][str(s)]) for s in seeds
    ]
    lines.append("")
    return "\n".join(lines)


def summary_path(report: Path) -> Path:
    """The JSON summary next to a report (``report.md`` -> ``report.json``)."""
    return Path(report).with_suffix(".json")


def load_summary(path: str | Path) -> dict[str, Any]:
    """A regime's ``report.json``: ``path`` itself, the summary of a ``.md`` report, or
    ``report.json`` in a sweep directory."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    elif path.suffix != ".json":
        path = summary_path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path} does not exist: pass a sweep directory (or its report.json) that "
            "scripts/transfer_folds.py wrote"
        )
    data: dict[str, Any] = json.loads(path.read_text())
    if "video_accuracy" not in data:
        raise ConfigError(f"{path} is not a transfer report summary (no video_accuracy)")
    return data


def _by_seed(values: Mapping[str, float | None]) -> dict[int, float | None]:
    return {int(s): v for s, v in values.items()}


def compare_regimes(report_a_json: str | Path, report_b_json: str | Path) -> str:
    """Whether regime b beats regime a (their ``report.json`` summaries, :func:`load_summary`)
    at every seed beyond the spread: a markdown bullet
    (:func:`deepvideo.reports.seeds.finding_line`) for ``b − a`` of the 3-fold video accuracy,
    then one for the mAP of every class group both report. Differences are over the seeds both
    ran, in points (%)."""
    a, b = load_summary(report_a_json), load_summary(report_b_json)
    name_a, name_b = str(a.get("regime", "a")), str(b.get("regime", "b"))
    what = f"{name_b} − {name_a}"
    lines = [
        finding_line(
            f"{what}, 3-fold video accuracy",
            seed_difference(_by_seed(a["video_accuracy"]), _by_seed(b["video_accuracy"])),
        )
    ]
    maps_a, maps_b = a.get("group_map") or {}, b.get("group_map") or {}
    groups = list(dict.fromkeys(g for m in maps_a.values() for g in m))
    for group in groups:
        ga = {int(s): m.get(group) for s, m in maps_a.items()}
        gb = {int(s): m.get(group) for s, m in maps_b.items()}
        difference = seed_difference(ga, gb)
        if difference.values:
            lines.append(finding_line(f"{what}, mAP of {group}", difference))
    return "\n".join(lines)


@dataclass
class TransferReport:
    """The written report and what it summarises (``by_seed``: each seed's folds, when the
    report covers more than one seed)."""

    path: Path
    regime: str
    folds: list[FoldRun]
    missing: list[int]
    by_seed: dict[int, list[FoldRun]] = field(default_factory=dict)

    def summary(self) -> str:
        """``<regime>: video accuracy per fold 1: 0.xyz, ...; mean 0.xyz; report PATH``; at
        several seeds each seed's 3-fold mean and their mean ± sd."""
        if len(self.by_seed) > 1:
            accuracies = seed_summary(self.regime, self.by_seed)["video_accuracy"]
            per_seed = ", ".join(
                f"{s}: {_fmt(v if v is not None else math.nan)}" for s, v in accuracies.items()
            )
            cell = seed_cell(list(accuracies.values()), scale=1.0, digits=3)
            return (
                f"{self.regime}: 3-fold video accuracy per seed {per_seed}; "
                f"mean ± sd {cell}; report {self.path}"
            )
        accuracy = [f.metrics.get("test/video_hit@1", math.nan) for f in self.folds]
        per_fold = ", ".join(
            f"{f.fold}: {a:.3f}" for f, a in zip(self.folds, accuracy, strict=True)
        )
        return (
            f"{self.regime}: video accuracy per fold {per_fold}; "
            f"mean {_mean(accuracy):.3f}; report {self.path}"
        )


def _config_seed(run_dir: Path) -> int | None:
    """The ``seed`` a Hydra run trained with (its ``.hydra/config.yaml``), if it says."""
    seed = run_config(run_dir).get("seed")
    return int(seed) if isinstance(seed, int) else None


def _write(path: Path, text: str, summary: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    summary_path(path).write_text(json.dumps(summary, indent=2) + "\n")
    log.info("transfer report written to %s (summary %s)", path, summary_path(path))


def write_report(runs: FoldRuns, report: Path | None = None) -> TransferReport:
    """Read the fold runs of a finished multirun and write the markdown report (default
    ``<sweep dir>/report.md``) and its JSON summary (:func:`seed_summary`, one seed: the run's)."""
    folds = sorted((load_fold_run(job, fold) for fold, job in runs.runs), key=lambda f: f.fold)
    notes = [f"Missing folds: {runs.missing}."] if runs.missing else []
    text = markdown_report(runs.regime, folds, command=shlex.join(runs.command[1:]), notes=notes)
    path = Path(report) if report is not None else runs.sweep_dir / "report.md"
    seed = runs.seed if runs.seed is not None else _config_seed(folds[0].run_dir)
    _write(path, text, seed_summary(runs.regime, {seed or 0: folds}))
    return TransferReport(path, runs.regime, folds, runs.missing)


def write_seed_report(runs: Sequence[FoldRuns], report: Path | None = None) -> TransferReport:
    """The report of a regime at several seeds (one :class:`FoldRuns` per seed, each with its
    ``seed``), written to ``report`` (default ``report.md`` in the seeds' parent directory) with
    its JSON summary; one seed: :func:`write_report`."""
    if len(runs) == 1:
        return write_report(runs[0], report)
    by_seed: dict[int, list[FoldRun]] = {}
    notes = []
    for index, seed_runs in enumerate(runs):
        seed = seed_runs.seed if seed_runs.seed is not None else index
        folds = [load_fold_run(job, fold) for fold, job in seed_runs.runs]
        by_seed[seed] = sorted(folds, key=lambda f: f.fold)
        if seed_runs.missing:
            notes.append(f"Missing folds at seed {seed}: {seed_runs.missing}.")
    regime = runs[0].regime
    commands = [shlex.join(r.command[1:]) for r in runs]
    text = markdown_seed_report(regime, by_seed, commands=commands, notes=notes)
    path = Path(report) if report is not None else runs[0].sweep_dir.parent / "report.md"
    _write(path, text, seed_summary(regime, by_seed))
    missing = sorted({f for r in runs for f in r.missing})
    return TransferReport(path, regime, by_seed[min(by_seed)], missing, by_seed)


def run_transfer_report(opts: TransferOptions, report: Path | None = None) -> TransferReport:
    """Train the regime on every fold at every seed (:func:`deepvideo.transfer.run_seed_folds`,
    unless ``opts.skip_train``) and write the report."""
    return write_seed_report(run_seed_folds(opts), report)
