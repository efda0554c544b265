"""What every multi-seed report shares: mean ± sd cells, the rule that says when a difference
between two rows holds, the precision a run trained in, and video Hit@1 per class group.

A finding is stated only when it has the same sign at every seed and its mean exceeds its
sample standard deviation across seeds (:func:`difference_holds`); otherwise the reports say
"not significant at N seeds". Used by the Karpathy et al. Table 1 report
(:mod:`deepvideo.reports.table1`) and the Ng et al. report (:mod:`deepvideo.reports.ng2015`).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "SeedDifference",
    "difference_holds",
    "finding_line",
    "group_video_hits",
    "mean_sd",
    "run_precision",
    "scores_override",
    "seeds_text",
    "seed_cell",
    "seed_difference",
]

_PRECISION = re.compile(r"\bprecision: (\S+)\s*$", re.MULTILINE)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of ``values`` (sd NaN for fewer than two)."""
    if not values:
        return math.nan, math.nan
    sd = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.fmean(values), sd


def _present(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def seed_cell(values: Sequence[float | None], scale: float = 100.0, digits: int = 1) -> str:
    """One cell of several seeds: ``mean ± sd (v0, v1, ...)`` of ``scale * value``.

    The sd is the sample standard deviation; the values follow in seed order (``—`` for a seed
    without one). A single seed prints just its value, and a cell without values ``—``.
    """
    present = [scale * v for v in values if v is not None and _present(v)]
    if not present:
        return "—"
    if len(values) == 1:
        return f"{present[0]:.{digits}f}"
    per_seed = ", ".join(
        f"{scale * v:.{digits}f}" if v is not None and _present(v) else "—" for v in values
    )
    if len(present) == 1:
        return f"{present[0]:.{digits}f} ({per_seed})"
    mean, sd = mean_sd(present)
    return f"{mean:.{digits}f} ± {sd:.{digits}f} ({per_seed})"


def difference_holds(differences: Sequence[float]) -> bool:
    """Whether a difference between two rows, one value per seed, holds: it has the same
    (non-zero) sign at every seed and its mean exceeds its sample standard deviation across
    seeds. One seed has no spread, so nothing holds at one seed."""
    if len(differences) < 2:
        return False
    if not (all(d > 0 for d in differences) or all(d < 0 for d in differences)):
        return False
    mean, sd = mean_sd(differences)
    return abs(mean) > sd


@dataclass(frozen=True)
class SeedDifference:
    """``b - a`` at each seed where both rows have a value."""

    seeds: tuple[int, ...]
    values: tuple[float, ...]

    @property
    def holds(self) -> bool:
        """:func:`difference_holds` of the per-seed differences."""
        return difference_holds(self.values)


def seed_difference(a: Mapping[int, float | None], b: Mapping[int, float | None]) -> SeedDifference:
    """The per-seed difference ``b - a`` of two rows' values (seed -> value), over the seeds
    where both have one."""
    pairs = {s: (a[s], b[s]) for s in sorted(a) if s in b}
    values = {s: (y - x) for s, (x, y) in pairs.items() if x is not None and y is not None}
    kept = {s: d for s, d in values.items() if not math.isnan(d)}
    return SeedDifference(tuple(kept), tuple(kept.values()))


def seeds_text(seeds: Sequence[int]) -> str:
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def finding_line(text: str, difference: SeedDifference, scale: float = 100.0) -> str:
    """A markdown bullet stating a difference (``text``: what is compared) with its mean ± sd
    and per-seed values, and whether it holds or is "not significant at N seeds"."""
    n = len(difference.values)
    values = [scale * d for d in difference.values]
    if n == 1:
        amount = f"{values[0]:+.1f} points ({seeds_text(difference.seeds)})"
    else:
        mean, sd = mean_sd(values)
        amount = f"{mean:+.1f} ± {sd:.1f} points ({', '.join(f'{v:+.1f}' for v in values)})"
    verdict = (
        f"**holds** (same sign at all {n} seeds, mean larger than its standard deviation)"
        if difference.holds
        else f"**not significant at {n} seed{'s' if n != 1 else ''}**"
    )
    return f"- {text}: {amount}: {verdict}."


def run_precision(run_dir: Path, log_names: Sequence[str] = ("train.log",)) -> str | None:
    """The precision a run trained in (``precision: <value>`` in its log: the report's
    ``report_table1.log``, else Hydra's ``train.log``); None when no log says."""
    for name in log_names:
        path = Path(run_dir) / name
        if path.is_file():
            found = _PRECISION.findall(path.read_text(errors="replace"))
            if found:
                return str(found[-1])
    return None


def group_video_hits(
    scores: Tensor, targets: Tensor, class_names: Sequence[str], groups: Mapping[str, str]
) -> tuple[dict[str, float], dict[str, int]]:
    """Video Hit@1 per class group, and the number of test videos in each group.

    ``scores``/``targets``: ``(V, C)`` per-video probabilities and multi-hot labels; a video
    counts in the group of its first label (in class order), one without a label in none;
    ``groups``: class name -> group (``class_groups.tsv``), listed in its order.
    """
    labelled = targets.sum(1) > 0
    first = targets.float().argmax(1)
    hit = targets.gather(1, scores.argmax(1, keepdim=True)).squeeze(1) > 0
    class_group = [groups.get(name) for name in class_names]
    hits: dict[str, float] = {}
    counts: dict[str, int] = {}
    for group in dict.fromkeys(groups.values()):
        in_group = torch.tensor(
            [class_group[int(c)] == group for c in first.tolist()], dtype=torch.bool
        )
        videos = in_group & labelled
        if videos.any():
            hits[group] = float(hit[videos].float().mean())
            counts[group] = int(videos.sum())
    return hits, counts


def scores_override(run_dir: Path) -> str:
    """The override that makes a training run write its test's ``video_scores.pt``."""
    path = run_dir / "video_scores.pt"
    return f"++callbacks.video_scores={{_target_:deepvideo.modules.SaveVideoScores,path:'{path}'}}"
