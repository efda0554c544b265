"""Two-stream late fusion (Ng et al. 2015, Sec. 3.4 and Tables 4, 7): an image model and an
optical-flow model, evaluated each on its own input, their video-level scores averaged.

:func:`two_stream` takes the two runs' per-video scores (``video_scores.pt``,
:mod:`deepvideo.scores`), fuses them (:func:`deepvideo.scores.fuse_video_scores`, weights
configurable) over the videos both scored, and summarises each stream and the fusion the same
way: video Hit@1 and Hit@5 (:func:`deepvideo.metrics.hits_at_k`), mean and per-class video AP
(:func:`deepvideo.reports.analysis.per_class_ap`) and, where the dataset has class groups, Hit@1
and mAP per group. It works for any model whose evaluation writes ``video_scores.pt``: Karpathy
et al.'s fusion family, Ng et al.'s pooling models and LSTM alike. :func:`run_two_stream` (behind
``scripts/two_stream.py``) also evaluates a checkpoint or run directory first (``src/eval.py``)
and writes the markdown report, a JSON summary and the fused ``video_scores.pt``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deepvideo.errors import ConfigError
from deepvideo.metrics import hits_at_k
from deepvideo.reports.analysis import per_class_ap
from deepvideo.reports.experiments import PROJECT_ROOT, best_checkpoint, evaluate_checkpoint
from deepvideo.reports.seeds import group_video_hits
from deepvideo.reports.table2 import scores_file
from deepvideo.scores import VideoScores, fuse_video_scores, load_video_scores, save_video_scores

__all__ = [
    "StreamSummary",
    "TwoStreamOptions",
    "TwoStreamResult",
    "markdown_two_stream",
    "run_two_stream",
    "summarize",
    "two_stream",
]

STREAMS = ("image", "flow", "fused")


@dataclass(frozen=True)
class StreamSummary:
    """One stream's (or the fusion's) video-level results on the shared test videos."""

    name: str
    videos: int
    hit1: float
    hit5: float
    mean_ap: float
    class_ap: dict[str, float]
    group_hit1: dict[str, float] = field(default_factory=dict)
    group_map: dict[str, float] = field(default_factory=dict)


def summarize(scores: VideoScores, name: str) -> StreamSummary:
    """Video Hit@1/5, mean and per-class AP, and per-group Hit@1 and mAP of ``scores``."""
    ap = per_class_ap(scores.scores, scores.targets)
    class_ap = {n: float(ap[c]) for c, n in enumerate(scores.class_names)}
    present = [v for v in class_ap.values() if not math.isnan(v)]
    group_hit1: dict[str, float] = {}
    group_map: dict[str, float] = {}
    if scores.class_groups:
        group_hit1, _ = group_video_hits(
            scores.scores, scores.targets, scores.class_names, scores.class_groups
        )
        for group in dict.fromkeys(scores.class_groups.values()):
            aps = [
                v
                for n, v in class_ap.items()
                if scores.class_groups.get(n) == group and not math.isnan(v)
            ]
            if aps:
                group_map[group] = statistics.fmean(aps)
    return StreamSummary(
        name,
        len(scores.video_ids),
        float(hits_at_k(scores.scores, scores.targets, 1).float().mean()),
        float(hits_at_k(scores.scores, scores.targets, 5).float().mean()),
        statistics.fmean(present) if present else math.nan,
        class_ap,
        group_hit1,
        group_map,
    )


@dataclass
class TwoStreamResult:
    """The image and flow streams and their fusion, each summarised on the shared videos."""

    image: StreamSummary
    flow: StreamSummary
    fused: StreamSummary
    weights: tuple[float, float]
    fused_scores: VideoScores
    # videos each stream scored before fusion (the summaries are on the shared ones)
    scored: dict[str, int] = field(default_factory=dict)

    def streams(self) -> list[StreamSummary]:
        return [self.image, self.flow, self.fused]

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": list(self.weights),
            "scored": self.scored,
            **{s.name: asdict(s) for s in self.streams()},
        }


def two_stream(
    image: VideoScores, flow: VideoScores, weights: Sequence[float] = (1.0, 1.0)
) -> TwoStreamResult:
    """Fuse an image run's and a flow run's video scores (``weights``: image, flow) and
    summarise both streams and the fusion on the videos both scored."""
    if len(weights) != 2:
        raise ConfigError(f"two-stream weights are (image, flow), got {list(weights)}")
    try:
        fused = fuse_video_scores([image, flow], weights, model=f"{image.model}+{flow.model}")
    except ValueError as err:  # another test set, other classes, bad weights: one line
        raise ConfigError(str(err)) from err
    common = fused.video_ids
    return TwoStreamResult(
        summarize(image.subset(common), "image"),
        summarize(flow.subset(common), "flow"),
        summarize(fused, "fused"),
        (float(weights[0]), float(weights[1])),
        fused,
        {"image": len(image.video_ids), "flow": len(flow.video_ids), "fused": len(common)},
    )


def _pct(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.1f}"


def markdown_two_stream(
    result: TwoStreamResult,
    labels: Mapping[str, str] | None = None,
    title: str = "Two-stream late fusion (Ng et al. 2015, Sec. 3.4)",
    notes: Sequence[str] = (),
) -> str:
    """The report: each stream's and the fused video Hit@1 / Hit@5 / mAP, per group, per class."""
    names = {"image": "image", "flow": "optical flow", "fused": "fused", **(labels or {})}
    groups = list(dict.fromkeys(g for s in result.streams() for g in s.group_map))
    scored = result.scored
    w_image, w_flow = result.weights
    lines = [
        f"# {title}",
        "",
        f"Late fusion: each test video's class probabilities are "
        f"{w_image:g}:{w_flow:g} (image:flow) weighted means of the two streams' video-level "
        f"probabilities. All figures are on the {scored.get('fused', 0)} test videos both "
        f"streams scored (image run: {scored.get('image', 0)}, flow run: "
        f"{scored.get('flow', 0)}); video Hit@k and AP in %.",
        "",
        "| stream | video Hit@1 | video Hit@5 | mAP | "
        + " | ".join(f"{g}: Hit@1 / mAP" for g in groups)
        + " |",
        "| --- | ---: | ---: | ---: |" + " --- |" * len(groups),
    ]
    for s in result.streams():
        cells = [f"{_pct(s.group_hit1.get(g, math.nan))} / {_pct(s.group_map[g])}" for g in groups]
        lines.append(
            f"| {names[s.name]} | {_pct(s.hit1)} | {_pct(s.hit5)} | {_pct(s.mean_ap)} | "
            + " | ".join(cells)
            + " |"
        )
    group_of = result.fused_scores.class_groups
    lines += [
        "",
        "Per-class video AP (%):",
        "",
        f"| class | group | {names['image']} | {names['flow']} | {names['fused']} |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name in result.fused_scores.class_names:
        cells = [_pct(s.class_ap.get(name, math.nan)) for s in result.streams()]
        lines.append(f"| {name} | {group_of.get(name, '—')} | " + " | ".join(cells) + " |")
    lines += ["", *notes, ""] if notes else [""]
    return "\n".join(lines)


@dataclass
class TwoStreamOptions:
    """What :func:`run_two_stream` fuses and where it writes (``scripts/two_stream.py``).

    ``image`` and ``flow``: a ``video_scores.pt``, a ``.ckpt`` or a run directory (evaluated with
    ``src/eval.py`` under ``eval_dir`` when it holds no scores; ``eval_overrides`` go to it)."""

    image: Path
    flow: Path
    weights: tuple[float, float] = (1.0, 1.0)
    out: Path = PROJECT_ROOT / "reports" / "two_stream.md"
    eval_dir: Path = PROJECT_ROOT / "logs" / "two_stream"
    eval_overrides: Sequence[str] = ()
    command: str = ""


def _scores(path: Path, eval_dir: Path, overrides: Sequence[str]) -> VideoScores:
    path = Path(path)
    if path.is_file() and path.suffix != ".ckpt":
        return load_video_scores(path)
    if overrides and (path.suffix == ".ckpt" or path.is_dir()):
        ckpt = best_checkpoint(path) if path.is_dir() else path
        out = eval_dir / ckpt.resolve().parent.parent.name
        return load_video_scores(evaluate_checkpoint(ckpt, out, overrides))
    return load_video_scores(scores_file(path, eval_dir))


def run_two_stream(opts: TwoStreamOptions) -> TwoStreamResult:
    """Evaluate (where needed) and fuse the two streams; write ``opts.out`` (markdown), its
    ``.json`` summary and the fused scores (``<out stem>_video_scores.pt``) next to it."""
    image = _scores(opts.image, opts.eval_dir / "image", opts.eval_overrides)
    flow = _scores(opts.flow, opts.eval_dir / "flow", opts.eval_overrides)
    result = two_stream(image, flow, opts.weights)
    notes = [f"- image: `{opts.image}`", f"- flow: `{opts.flow}`"]
    if opts.command:
        notes.insert(0, f"Command: `{opts.command}`  ")
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown_two_stream(result, notes=notes))
    out.with_suffix(".json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    save_video_scores(out.with_name(f"{out.stem}_video_scores.pt"), result.fused_scores)
    return result
