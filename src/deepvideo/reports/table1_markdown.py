"""Table 1 of Karpathy et al. 2014 as markdown: its rows, the paper's numbers, our results.

:data:`TABLE1` lists the paper's Table 1 rows (Sec. 4.1, Sports-1M) in its order with the
experiment config that reproduces each (``conf/experiment/table1_*.yaml``);
:func:`markdown_table1` puts our runs' metrics next to the paper's. The paper's feature-histogram
baseline (:data:`PAPER_BASELINE`) has no run of ours: it appears as a reference row, labelled as
the paper's.

Every row is trained at several seeds (:class:`SeedResults`, one per seed): a metric cell is the
mean ± the sample standard deviation over the seeds followed by each seed's value
(:func:`seed_cell`), and a difference between two rows is stated as a finding only where it
holds at every seed (:func:`difference_holds`: the same sign at every seed and a mean larger
than its standard deviation); otherwise the table says "not significant at N seeds".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from deepvideo.reports.ensemble import EnsembleResult
from deepvideo.reports.experiments import RunRecord
from deepvideo.reports.seeds import (
    finding_line,
    seed_cell,
    seed_difference,
    seeds_text,
)

__all__ = [
    "ENSEMBLE_EXPERIMENTS",
    "ENSEMBLE_KEY",
    "ENSEMBLE_PAPER",
    "FINDINGS",
    "METRIC_KEYS",
    "PAPER_BASELINE",
    "TABLE1",
    "Comparison",
    "PaperReference",
    "SeedResults",
    "Table1Row",
    "experiment_name",
    "markdown_table1",
    "percent",
    "precision_summary",
    "row_of",
]


@dataclass(frozen=True)
class Table1Row:
    """One row of Table 1: the experiment config, its label and the paper's Sports-1M numbers."""

    experiment: str
    label: str
    # Karpathy et al. 2014, Table 1 (Sports-1M): clip Hit@1, video Hit@1, video Hit@5, in %
    paper: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class PaperReference:
    """A row of the paper's table that we do not run: its label and numbers (%, None: not given)."""

    label: str
    paper: tuple[float | None, float | None, float | None]
    note: str


# Table 1's rows in the paper's order.
TABLE1: tuple[Table1Row, ...] = (
    Table1Row("table1_single_frame", "Single-Frame", (41.1, 59.3, 77.7)),
    Table1Row("table1_multires", "Single-Frame + Multires", (42.4, 60.0, 78.5)),
    Table1Row("table1_multires_fovea_only", "Single-Frame Fovea Only", (30.0, 49.9, 72.8)),
    Table1Row("table1_multires_context_only", "Single-Frame Context Only", (38.1, 56.0, 77.2)),
    Table1Row("table1_early_fusion", "Early Fusion", (38.9, 57.7, 76.8)),
    Table1Row("table1_late_fusion", "Late Fusion", (40.7, 59.3, 78.7)),
    Table1Row("table1_slow_fusion", "Slow Fusion", (41.9, 60.9, 80.2)),
)
# Table 1's first row: the bag-of-words baseline of Sec. 4.1 ("Feature histogram baselines"),
# video-level only (the paper gives no clip Hit@1 and no Hit@5 for it).
PAPER_BASELINE = PaperReference(
    "Feature Histograms + Neural Net (paper, Sports-1M)",
    (None, 55.3, None),
    "the paper's number (Karpathy et al. 2014, Table 1, Sports-1M test set; Sec. 4.1 "
    '"Feature histogram baselines"), not a run of ours: a bag-of-words pipeline over the whole '
    "video with a multilayer net classifier; the paper gives no clip Hit@1 or Hit@5 for it",
)
# The last row: the average of the four time-fusion nets.
ENSEMBLE_EXPERIMENTS: tuple[str, ...] = (
    "table1_single_frame",
    "table1_early_fusion",
    "table1_late_fusion",
    "table1_slow_fusion",
)
ENSEMBLE_PAPER = (41.4, 63.9, 82.4)
METRIC_KEYS = ("test/clip_hit@1", "test/video_hit@1", "test/video_hit@5")
# The key of the ensemble row wherever rows are keyed by experiment (per-group hits, findings).
ENSEMBLE_KEY = "cnn_average"


@dataclass(frozen=True)
class Comparison:
    """A difference between two rows the table states as a finding: ``b - a`` of ``metric``
    (experiments or :data:`ENSEMBLE_KEY`); ``by_group`` adds one line per class group."""

    b: str
    a: str
    metric: str = "test/video_hit@1"
    by_group: bool = False


# The paper's claims about Table 1 (Sec. 4.1): Slow Fusion beats the single frame (on the
# synthetic benchmark, above all on the motion-only classes) and the other fusions, Early and
# Late Fusion do not beat the single frame clearly, the multiresolution net matches it, and the
# average of the four nets beats each of them. The stream ablations say where the multiresolution
# net's accuracy comes from (Table 1, Sec. 4.1: the context stream alone beat the fovea alone,
# 56.0 vs 49.9 video Hit@1, and the two together beat both): what the context stream adds to the
# fovea, context against fovea, and what the fovea's central crop costs against the whole frame.
FINDINGS: tuple[Comparison, ...] = (
    Comparison("table1_slow_fusion", "table1_single_frame", by_group=True),
    Comparison("table1_slow_fusion", "table1_early_fusion"),
    Comparison("table1_slow_fusion", "table1_late_fusion"),
    Comparison("table1_early_fusion", "table1_single_frame"),
    Comparison("table1_late_fusion", "table1_single_frame"),
    Comparison("table1_multires", "table1_single_frame"),
    Comparison("table1_multires", "table1_multires_fovea_only", by_group=True),
    Comparison("table1_multires_context_only", "table1_multires_fovea_only"),
    Comparison("table1_multires_fovea_only", "table1_single_frame"),
    Comparison(ENSEMBLE_KEY, "table1_slow_fusion"),
)


def experiment_name(name: str) -> str:
    """``slow_fusion`` or ``table1_slow_fusion`` -> ``table1_slow_fusion``."""
    return name if name.startswith("table1_") else f"table1_{name}"


def row_of(experiment: str) -> Table1Row:
    """The Table 1 row of an experiment (a bare label for one outside the paper's table)."""
    for row in TABLE1:
        if row.experiment == experiment:
            return row
    return Table1Row(experiment, experiment.removeprefix("table1_"))


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal; ``—`` for none."""
    return "—" if value is None else f"{100 * value:.1f}"


def precision_summary(precisions: Mapping[str, Mapping[int, str | None]]) -> str:
    """What precision the runs trained in (experiment -> seed -> value, None: not recorded):
    one value for all, or each value with its rows (and seeds, where not every seed)."""
    all_seeds = sorted({s for per_seed in precisions.values() for s in per_seed})
    order = {row.experiment: i for i, row in enumerate(TABLE1)}
    by_value: dict[str, dict[str, list[int]]] = {}
    for experiment in sorted(precisions, key=lambda e: order.get(e, len(order))):
        for seed, value in sorted(precisions[experiment].items()):
            by_value.setdefault(value or "", {}).setdefault(experiment, []).append(seed)
    if not by_value:
        return "not recorded"
    if len(by_value) == 1:
        value = next(iter(by_value))
        return f"`{value}` in every training run" if value else "not recorded in the runs' logs"
    parts = []
    # the values first, then the runs whose logs say none
    for value, rows in sorted(by_value.items(), key=lambda item: not item[0]):
        names = ", ".join(
            row_of(e).label + ("" if seeds == all_seeds else f" ({seeds_text(seeds)})")
            for e, seeds in rows.items()
        )
        parts.append(f"{f'`{value}`' if value else 'not recorded'}: {names}")
    return "; ".join(parts)


def _paper_cell(values: Sequence[float | None] | None) -> str:
    if not values:
        return "—"
    return " / ".join("—" if v is None else f"{v:.1f}" for v in values)


@dataclass
class SeedResults:
    """One seed's results: every row's run, the CNN average of that seed's members, and video
    Hit@1 per class group (row -> group -> fraction, the ensemble under :data:`ENSEMBLE_KEY`;
    ``group_videos``: test videos per group)."""

    records: list[RunRecord] = field(default_factory=list)
    ensemble: EnsembleResult | None = None
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    group_videos: dict[str, int] = field(default_factory=dict)


def _label(key: str) -> str:
    return "CNN Average" if key == ENSEMBLE_KEY else row_of(key).label


_METRIC_LABELS = dict(zip(METRIC_KEYS, ("clip Hit@1", "video Hit@1", "video Hit@5"), strict=True))


class _Seeds:
    """Per-seed lookups of the rows' metrics, group hits and wall times."""

    def __init__(self, per_seed: Mapping[int, SeedResults]) -> None:
        self.per_seed = per_seed
        self.seeds = list(per_seed)
        self.records = {s: {r.experiment: r for r in res.records} for s, res in per_seed.items()}

    def metric(self, key: str, metric: str) -> dict[int, float | None]:
        out: dict[int, float | None] = {}
        for seed, res in self.per_seed.items():
            if key == ENSEMBLE_KEY:
                out[seed] = res.ensemble.metrics.get(metric) if res.ensemble else None
            else:
                rec = self.records[seed].get(key)
                out[seed] = rec.metrics.get(metric) if rec else None
        return out

    def group(self, key: str, group: str) -> dict[int, float | None]:
        return {s: res.groups.get(key, {}).get(group) for s, res in self.per_seed.items()}

    def wall(self, key: str) -> list[float | None]:
        return [r.wall_s if (r := self.records[s].get(key)) else None for s in self.seeds]

    def group_names(self) -> list[str]:
        names: dict[str, None] = {}
        for res in self.per_seed.values():
            names.update(dict.fromkeys(res.group_videos))
            for hits in res.groups.values():
                names.update(dict.fromkeys(hits))
        return list(names)


def _group_table(data: _Seeds, keys: Sequence[str]) -> list[str]:
    groups = data.group_names()
    rows = [
        k for k in keys if any(data.group(k, g)[s] is not None for g in groups for s in data.seeds)
    ]
    if not groups or not rows:
        return []
    videos: dict[str, int] = {}
    for res in data.per_seed.values():
        videos.update({g: n for g, n in res.group_videos.items() if g not in videos})
    head = " | ".join(f"{g} ({videos[g]} videos)" if g in videos else g for g in groups)
    lines = [
        "Video Hit@1 (%) by class group of the dataset (`class_groups.tsv`; a test video counts "
        "in the group of its first label), from each run's own test (`video_scores.pt`; rows "
        "without one are left out) and the CNN average's:",
        "",
        f"| Model | {head} |",
        "| --- |" + " ---: |" * len(groups),
    ]
    for key in rows:
        cells = [seed_cell(list(data.group(key, g).values())) for g in groups]
        lines.append(f"| {_label(key)} | {' | '.join(cells)} |")
    return [*lines, ""]


def _findings(data: _Seeds, keys: Sequence[str], findings: Sequence[Comparison]) -> list[str]:
    lines: list[str] = []
    for comp in findings:
        if comp.a not in keys or comp.b not in keys:
            continue
        what = (
            f"{_label(comp.b)} − {_label(comp.a)}, {_METRIC_LABELS.get(comp.metric, comp.metric)}"
        )
        diff = seed_difference(data.metric(comp.a, comp.metric), data.metric(comp.b, comp.metric))
        if diff.values:
            lines.append(finding_line(what, diff))
        if comp.by_group:
            for group in data.group_names():
                diff = seed_difference(data.group(comp.a, group), data.group(comp.b, group))
                if diff.values:
                    lines.append(finding_line(f"{what} on the `{group}` classes", diff))
    if not lines:
        return []
    n = len(data.seeds)
    return [
        f"Findings at {n} seed{'s' if n != 1 else ''} (`b − a`, in points of %; a difference "
        "holds only if it has the same sign at every seed and its mean exceeds its standard "
        "deviation across seeds):",
        "",
        *lines,
        "",
    ]


def markdown_table1(
    results: Sequence[RunRecord] | Mapping[int, SeedResults],
    throughput: Mapping[str, float],
    ensemble: EnsembleResult | None,
    ensemble_members: Sequence[str],
    chance: float | None,
    notes: Mapping[str, str],
    title: str = "Table 1 (Karpathy et al. 2014) on the synthetic benchmark",
    paper_baseline: PaperReference | None = PAPER_BASELINE,
    header: Mapping[str, str] | None = None,
    findings: Sequence[Comparison] = FINDINGS,
) -> str:
    """The Table 1 markdown: the seeds and ``header`` (machine, precision), the paper's baseline
    (reference), our runs in paper order, then the ensemble; per-group video Hit@1 and the
    findings (:data:`FINDINGS`, by :func:`difference_holds`) where the results have them; the
    chance level and ``notes``. The reference row's metric cells hold the paper's numbers, in
    italics.

    ``results``: per seed (:class:`SeedResults`, ``ensemble`` None), or one run per row (seed 0)
    with its ``ensemble``. Metric cells: :func:`seed_cell`; train clips/s: one measurement.
    """
    if isinstance(results, Mapping):
        if ensemble is not None:
            raise ValueError("with per-seed results, pass each seed's ensemble in its SeedResults")
        per_seed = dict(sorted(results.items()))
    else:
        per_seed = {0: SeedResults(list(results), ensemble)}
    data = _Seeds(per_seed)
    seeds = data.seeds
    if len(seeds) == 1:
        seeds_line = f"{seeds[0]} (one run per row: single values, no spread)"
    else:
        seeds_line = (
            f"{', '.join(map(str, seeds))}: every row trained once per seed (`seed=S`); a metric "
            "cell is the mean ± the sample standard deviation over the seeds, then each seed's "
            "value in seed order; the CNN average of a seed averages that seed's members"
        )
    lines = [f"# {title}", "", f"- **Seeds**: {seeds_line}"]
    lines += [f"- **{key}**: {value}" for key, value in (header or {}).items()]
    lines += [
        "",
        "| Model | Clip Hit@1 | Video Hit@1 | Video Hit@5 | train clips/s | run wall (s) "
        "| paper, Sports-1M (clip / video@1 / video@5) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    if paper_baseline is not None:
        cells = ["—" if v is None else f"*{v:.1f}*" for v in paper_baseline.paper]
        lines.append(
            f"| *{paper_baseline.label}* | {' | '.join(cells)} | — | — | "
            f"{_paper_cell(paper_baseline.paper)} |"
        )
    order = {row.experiment: i for i, row in enumerate(TABLE1)}
    experiments = sorted(
        {e for records in data.records.values() for e in records},
        key=lambda e: (order.get(e, len(order)), e),
    )
    for experiment in experiments:
        row = row_of(experiment)
        cells = [seed_cell(list(data.metric(experiment, k).values())) for k in METRIC_KEYS]
        rate = throughput.get(experiment)
        lines.append(
            f"| {row.label} | {' | '.join(cells)} | {'—' if rate is None else f'{rate:.1f}'} | "
            f"{seed_cell(data.wall(experiment), scale=1.0, digits=0)} | {_paper_cell(row.paper)} |"
        )
    ensembles = {s: res.ensemble for s, res in per_seed.items() if res.ensemble is not None}
    keys = list(experiments)
    if ensembles:
        keys.append(ENSEMBLE_KEY)
        short = "+".join(row_of(e).label.split("-")[0].split(" ")[0] for e in ensemble_members)
        paper = _paper_cell(ENSEMBLE_PAPER)
        if tuple(ensemble_members) != ENSEMBLE_EXPERIMENTS:
            paper = "— (paper: Single+Early+Late+Slow)"
        cells = [seed_cell(list(data.metric(ENSEMBLE_KEY, k).values())) for k in METRIC_KEYS]
        lines.append(f"| CNN Average ({short}) | {' | '.join(cells)} | — | — | {paper} |")
    lines.append("")
    members: dict[str, None] = {}
    for result in ensembles.values():
        members.update(dict.fromkeys(result.member_metrics))
    if members:
        on_clips = ", ".join(
            f"{row_of(name).label} "
            + seed_cell(
                [
                    res.ensemble.member_metrics.get(name, {}).get(METRIC_KEYS[1])
                    if res.ensemble
                    else None
                    for res in per_seed.values()
                ]
            )
            for name in members
        )
        lines.append(
            f"The ensemble's members on the ensemble's own clips (video Hit@1, %): {on_clips}."
        )
        lines.append("")
    lines += _group_table(data, keys)
    lines += _findings(data, keys, findings)
    if chance is not None:
        lines.append(f"Chance (video Hit@1 of a uniform guess): {100 * chance:.1f}%.")
        lines.append("")
    if paper_baseline is not None:
        notes = {paper_baseline.label.split(" (")[0]: paper_baseline.note, **notes}
    for key, value in notes.items():
        lines.append(f"- **{key}**: {value}")
    lines.append("")
    return "\n".join(lines)
