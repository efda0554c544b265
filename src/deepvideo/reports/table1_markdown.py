"""Table 1 of Karpathy et al. 2014 as markdown: its rows, the paper's numbers, our results.

:data:`TABLE1` lists the paper's Table 1 rows (Sec. 4.1, Sports-1M) in its order with the
experiment config that reproduces each (``conf/experiment/table1_*.yaml``);
:func:`markdown_table1` puts our runs' metrics next to the paper's. The paper's feature-histogram
baseline (:data:`PAPER_BASELINE`) has no run of ours: it appears as a reference row, labelled as
the paper's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from deepvideo.reports.ensemble import EnsembleResult
from deepvideo.reports.experiments import RunRecord

__all__ = [
    "ENSEMBLE_EXPERIMENTS",
    "ENSEMBLE_PAPER",
    "METRIC_KEYS",
    "PAPER_BASELINE",
    "TABLE1",
    "PaperReference",
    "Table1Row",
    "experiment_name",
    "markdown_table1",
    "percent",
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


def _paper_cell(values: Sequence[float | None] | None) -> str:
    if not values:
        return "—"
    return " / ".join("—" if v is None else f"{v:.1f}" for v in values)


def markdown_table1(
    records: Sequence[RunRecord],
    throughput: Mapping[str, float],
    ensemble: EnsembleResult | None,
    ensemble_members: Sequence[str],
    chance: float | None,
    notes: Mapping[str, str],
    title: str = "Table 1 (Karpathy et al. 2014) on the synthetic benchmark",
    paper_baseline: PaperReference | None = PAPER_BASELINE,
) -> str:
    """The Table 1 markdown: the paper's baseline (reference), our runs in paper order, then the
    ensemble. The reference row's metric cells hold the paper's numbers, in italics."""
    lines = [
        f"# {title}",
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
    for rec in sorted(records, key=lambda r: order.get(r.experiment, len(order))):
        row = row_of(rec.experiment)
        clip, video1, video5 = (rec.metrics.get(k) for k in METRIC_KEYS)
        rate = throughput.get(rec.experiment)
        lines.append(
            f"| {row.label} | {percent(clip)} | {percent(video1)} | {percent(video5)} | "
            f"{'—' if rate is None else f'{rate:.1f}'} | "
            f"{'—' if rec.wall_s is None else f'{rec.wall_s:.0f}'} | {_paper_cell(row.paper)} |"
        )
    if ensemble is not None:
        short = "+".join(row_of(e).label.split("-")[0].split(" ")[0] for e in ensemble_members)
        paper = _paper_cell(ENSEMBLE_PAPER)
        if tuple(ensemble_members) != ENSEMBLE_EXPERIMENTS:
            paper = "— (paper: Single+Early+Late+Slow)"
        m = ensemble.metrics
        lines.append(
            f"| CNN Average ({short}) | {percent(m.get(METRIC_KEYS[0]))} | "
            f"{percent(m.get(METRIC_KEYS[1]))} | {percent(m.get(METRIC_KEYS[2]))} | — | — | "
            f"{paper} |"
        )
    lines.append("")
    if ensemble is not None and ensemble.member_metrics:
        on_clips = ", ".join(
            f"{row_of(name).label} {percent(m.get(METRIC_KEYS[1]))}"
            for name, m in ensemble.member_metrics.items()
        )
        lines.append(
            f"The ensemble's members on the ensemble's own clips (video Hit@1, %): {on_clips}."
        )
        lines.append("")
    if chance is not None:
        lines.append(f"Chance (video Hit@1 of a uniform guess): {100 * chance:.1f}%.")
        lines.append("")
    if paper_baseline is not None:
        notes = {paper_baseline.label.split(" (")[0]: paper_baseline.note, **notes}
    for key, value in notes.items():
        lines.append(f"- **{key}**: {value}")
    lines.append("")
    return "\n".join(lines)
