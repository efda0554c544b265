"""Per-class analyses of video-level scores: Table 2 and the confusion matrix.

Table 2 of Karpathy et al. 2014 lists the classes whose per-class average precision a
motion-aware net (Slow Fusion) improves most over the Single-Frame net, and those it loses on.
:func:`compare_runs` computes that from two ``video_scores.pt`` files (written by
``src/eval.py``), adds each class's group (``class_groups.tsv`` of the synthetic benchmark:
motion / appearance / both, read by :func:`deepvideo.data.ucf101.parse_class_groups`) and
per-group mean AP; :func:`markdown_table2` formats it (:mod:`deepvideo.reports.table2` runs it),
and :func:`markdown_table2_seeds` formats the rows of several seeds' pairs of runs as
``mean ± sd`` cells with a findings section (:mod:`deepvideo.reports.seeds`).
:func:`confusion_matrix` and :func:`most_confused_pairs` back the confusion figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torchmetrics.functional.classification import multilabel_average_precision

from deepvideo.reports.seeds import (
    difference_holds,
    finding_line,
    seed_cell,
    seed_difference,
    seeds_text,
)
from deepvideo.scores import VideoScores

__all__ = [
    "ClassComparison",
    "compare_runs",
    "confusion_matrix",
    "group_mean_ap",
    "markdown_confusions",
    "markdown_table2",
    "markdown_table2_seeds",
    "most_confused_pairs",
    "per_class_ap",
    "seed_group_means",
]


def per_class_ap(scores: Tensor, targets: Tensor) -> Tensor:
    """Average precision of every class over videos, ``(C,)``; NaN for a class without positives.

    ``scores``: ``(V, C)`` probabilities; ``targets``: ``(V, C)`` multi-hot.
    """
    num_classes = scores.shape[1]
    ap = multilabel_average_precision(
        scores.float(), targets.long(), num_labels=num_classes, average=None
    )
    ap = torch.as_tensor(ap, dtype=torch.float).reshape(num_classes)
    ap[targets.sum(0) == 0] = float("nan")
    return ap


@dataclass(frozen=True)
class ClassComparison:
    """Per-class AP of model ``a`` and ``b`` and its difference ``b - a``."""

    name: str
    group: str
    ap_a: float
    ap_b: float
    positives: int

    @property
    def difference(self) -> float:
        return self.ap_b - self.ap_a


def compare_runs(
    a: VideoScores, b: VideoScores, groups: Mapping[str, str] | None = None
) -> list[ClassComparison]:
    """Per-class AP of two runs on the same test videos, sorted by ``AP_b - AP_a`` descending."""
    b = b.aligned_to(a)
    if a.class_names != b.class_names:
        raise ValueError(f"{a.path} and {b.path} have different classes")
    if not torch.equal(a.targets, b.targets):
        raise ValueError(f"{a.path} and {b.path} disagree on the videos' labels")
    ap_a, ap_b = per_class_ap(a.scores, a.targets), per_class_ap(b.scores, b.targets)
    positives = a.targets.sum(0).long()
    rows = [
        ClassComparison(name, (groups or {}).get(name, "—"), float(x), float(y), int(positives[c]))
        for c, (name, x, y) in enumerate(zip(a.class_names, ap_a, ap_b, strict=True))
    ]
    return sorted(
        rows, key=lambda r: -math.inf if math.isnan(r.difference) else r.difference, reverse=True
    )


def group_mean_ap(rows: Sequence[ClassComparison]) -> dict[str, tuple[float, float, int]]:
    """Per group: mean AP of ``a``, of ``b`` (over classes with positives), class count."""
    out: dict[str, tuple[float, float, int]] = {}
    for group in sorted({r.group for r in rows}):
        members = [r for r in rows if r.group == group and not math.isnan(r.ap_a)]
        if members:
            out[group] = (
                sum(r.ap_a for r in members) / len(members),
                sum(r.ap_b for r in members) / len(members),
                len(members),
            )
    return out


def markdown_table2(
    rows: Sequence[ClassComparison],
    name_a: str,
    name_b: str,
    top: int = 6,
    notes: Mapping[str, str] | None = None,
    title: str = "Table 2 (Karpathy et al. 2014) on the synthetic benchmark",
) -> str:
    """Table 2 analogue: the classes ``b`` gains most / loses most on, per-group mean AP."""
    valid = [r for r in rows if not math.isnan(r.difference)]
    top = min(top, len(valid))
    best = valid[:top]
    worst = [r for r in reversed(valid[-top:]) if r not in best]

    def table(selection: Sequence[ClassComparison]) -> list[str]:
        lines = [
            f"| Class | Group | AP {name_a} | AP {name_b} | Δ AP ({name_b} − {name_a}) |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {r.name} | {r.group} | {r.ap_a:.3f} | {r.ap_b:.3f} | {r.difference:+.3f} |"
            for r in selection
        ]
        return lines

    out = [f"# {title}", ""]
    out += [f"Classes on which **{name_b}** gains most over **{name_a}** (per-class video AP):", ""]
    out += table(best) + [""]
    if worst:
        out += [f"Classes on which **{name_b}** gains least (or loses) against **{name_a}**:", ""]
        out += table(worst) + [""]
    out += [
        "Per-group mean AP:",
        "",
        f"| Group | classes | mAP {name_a} | mAP {name_b} | Δ |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for group, (ma, mb, n) in group_mean_ap(rows).items():
        out.append(f"| {group} | {n} | {ma:.3f} | {mb:.3f} | {mb - ma:+.3f} |")
    both = [r for r in rows if not math.isnan(r.ap_a)]
    if both:
        ma = sum(r.ap_a for r in both) / len(both)
        mb = sum(r.ap_b for r in both) / len(both)
        out.append(f"| all | {len(both)} | {ma:.3f} | {mb:.3f} | {mb - ma:+.3f} |")
    out.append("")
    out += ["All classes:", ""] + table(rows) + [""]
    for key, value in (notes or {}).items():
        out.append(f"- **{key}**: {value}")
    out.append("")
    return "\n".join(out)


def first_labels(targets: Tensor) -> Tensor:
    """Index of the first ground-truth label of every video (``(V,)``)."""
    return (targets > 0).float().argmax(dim=1)


def confusion_matrix(scores: Tensor, targets: Tensor) -> Tensor:
    """``(C, C)`` counts: row = first ground-truth label, column = video-level argmax."""
    c = scores.shape[1]
    truth, predicted = first_labels(targets), scores.argmax(dim=1)
    counts = torch.zeros(c * c, dtype=torch.long)
    counts.index_add_(0, truth * c + predicted, torch.ones_like(truth))
    return counts.view(c, c)


def most_confused_pairs(
    matrix: Tensor, class_names: Sequence[str], k: int = 10
) -> list[tuple[str, str, int, float]]:
    """The ``k`` largest off-diagonal entries: ``(true, predicted, count, fraction of true)``."""
    off = matrix.clone()
    off.fill_diagonal_(0)
    totals = matrix.sum(1).clamp_min(1)
    values, flat = off.flatten().sort(descending=True)
    c = matrix.shape[0]
    out: list[tuple[str, str, int, float]] = []
    for value, index in zip(values.tolist(), flat.tolist(), strict=True):
        if value <= 0 or len(out) == k:
            break
        t, p = divmod(index, c)
        out.append((class_names[t], class_names[p], int(value), value / float(totals[t])))
    return out


def markdown_confusions(
    matrix: Tensor, class_names: Sequence[str], model: str, k: int = 10, figure: str = ""
) -> str:
    """The most confused class pairs as markdown, with per-class video accuracy."""
    lines = [f"# Confusions of {model} (video-level argmax vs first ground-truth label)", ""]
    if figure:
        lines += [f"![confusion matrix]({figure})", ""]
    lines += [
        "| true class | predicted as | videos | share of the class |",
        "| --- | --- | ---: | ---: |",
    ]
    lines += [
        f"| {t} | {p} | {n} | {f:.0%} |"
        for t, p, n, f in most_confused_pairs(matrix, class_names, k)
    ]
    totals = matrix.sum(1)
    lines += ["", "| class | videos | video accuracy |", "| --- | ---: | ---: |"]
    for c, name in enumerate(class_names):
        if int(totals[c]):
            lines.append(f"| {name} | {int(totals[c])} | {float(matrix[c, c] / totals[c]):.0%} |")
    lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ over seeds
def _mean_ap_rows(rows: Sequence[ClassComparison]) -> dict[str, tuple[float, float, int]]:
    """:func:`group_mean_ap` of ``rows`` plus ``"all"`` (every class with positives)."""
    out = group_mean_ap(rows)
    both = [r for r in rows if not math.isnan(r.ap_a)]
    if both:
        out["all"] = (
            sum(r.ap_a for r in both) / len(both),
            sum(r.ap_b for r in both) / len(both),
            len(both),
        )
    return out


def seed_group_means(
    per_seed: Mapping[int, Sequence[ClassComparison]],
) -> dict[str, tuple[dict[int, float], dict[int, float], int]]:
    """Per group (and ``"all"``): seed -> mean AP of ``a``, seed -> mean AP of ``b``, and the
    number of classes (of the first seed that has the group)."""
    out: dict[str, tuple[dict[int, float], dict[int, float], int]] = {}
    for seed in sorted(per_seed):
        for group, (ma, mb, n) in _mean_ap_rows(per_seed[seed]).items():
            a, b, _ = out.setdefault(group, ({}, {}, n))
            a[seed], b[seed] = ma, mb
    return out


def markdown_table2_seeds(
    per_seed: Mapping[int, Sequence[ClassComparison]],
    name_a: str,
    name_b: str,
    top: int = 6,
    notes: Mapping[str, str] | None = None,
    title: str = "Table 2 (Karpathy et al. 2014) on the synthetic benchmark",
) -> str:
    """Table 2 over several seeds: every AP cell is ``mean ± sd (per-seed values)`` (AP in %,
    :func:`deepvideo.reports.seeds.seed_cell`), classes ordered by their mean difference, with a
    findings section stating, per class group, whether ``b`` beats ``a`` at every seed beyond the
    spread (:func:`deepvideo.reports.seeds.finding_line`).

    ``per_seed``: seed -> the :func:`compare_runs` rows of that seed's pair of runs.
    """
    seeds = sorted(per_seed)
    if not seeds:
        raise ValueError("no seeds to report")
    by_class: dict[str, dict[int, ClassComparison]] = {}
    for seed in seeds:
        for row in per_seed[seed]:
            by_class.setdefault(row.name, {})[seed] = row

    def diffs(name: str) -> list[float]:
        return [r.difference for r in by_class[name].values() if not math.isnan(r.difference)]

    def key(name: str) -> float:
        values = diffs(name)
        return sum(values) / len(values) if values else -math.inf

    order = sorted(by_class, key=key, reverse=True)
    valid = [name for name in order if diffs(name)]
    top = min(top, len(valid))
    best = valid[:top]
    worst = [name for name in reversed(valid[-top:]) if name not in best]

    def values(name: str, field: str) -> list[float | None]:
        rows = by_class[name]
        return [getattr(rows[s], field) if s in rows else None for s in seeds]

    def table(selection: Sequence[str]) -> list[str]:
        lines = [
            f"| Class | Group | AP {name_a} | AP {name_b} | Δ AP ({name_b} − {name_a}) | holds |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        for name in selection:
            group = next(iter(by_class[name].values())).group
            holds = "yes" if difference_holds(diffs(name)) else "no"
            cells = [seed_cell(values(name, f)) for f in ("ap_a", "ap_b", "difference")]
            lines.append(f"| {name} | {group} | " + " | ".join(cells) + f" | {holds} |")
        return lines

    out = [f"# {title}", ""]
    out += [
        f"Per-class video AP (%) of **{name_a}** and **{name_b}** at {seeds_text(seeds)}: each "
        "cell is mean ± sample sd over the seeds, then the value at every seed; classes ordered "
        "by the mean difference. *holds*: the difference has the same sign at every seed and its "
        "mean exceeds its sd.",
        "",
    ]
    out += [f"Classes on which **{name_b}** gains most over **{name_a}**:", ""]
    out += table(best) + [""]
    if worst:
        out += [f"Classes on which **{name_b}** gains least (or loses) against **{name_a}**:", ""]
        out += table(worst) + [""]
    groups = seed_group_means(per_seed)
    out += [
        "Per-group mean AP (%):",
        "",
        f"| Group | classes | mAP {name_a} | mAP {name_b} | Δ |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for group, (a, b, n) in groups.items():
        delta = {s: b[s] - a[s] for s in a if s in b}
        cells = [seed_cell([m.get(s) for s in seeds]) for m in (a, b, delta)]
        out.append(f"| {group} | {n} | " + " | ".join(cells) + " |")
    out += ["", "## Findings", ""]
    for group, (a, b, _) in groups.items():
        what = "all classes" if group == "all" else f"the {group} classes"
        text = f"{name_b} − {name_a}, mean AP of {what}"
        out.append(finding_line(text, seed_difference(a, b)))
    out += ["", "All classes:", ""] + table(order) + [""]
    for key_, value in (notes or {}).items():
        out.append(f"- **{key_}**: {value}")
    out.append("")
    return "\n".join(out)
