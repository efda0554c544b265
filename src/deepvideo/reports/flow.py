"""The Table 4 analogue of Ng et al. 2015 on a benchmark: image model, flow model, late fusion.

Ng et al. (Sec. 3.4, Table 4) train their models on frames and on optical flow images and fuse
the two by averaging; at 1 fps the image model sees no motion, the flow model does.
:func:`run_flow_report` trains, at ``seeds`` seeds, each model of ``models`` twice with
``src/train.py`` (one process and run directory each): on the frames, and on the flow videos
under ``flow_root`` (``data.modality=flow``, made by ``scripts/compute_flow.py``), plus for the
models of ``from_image`` a flow model initialised from that seed's image checkpoint
(``experiment=flow_from_image``, Sec. 3.4's recipe). Every run writes its test videos' scores;
the two streams of each seed are fused (:func:`deepvideo.reports.two_stream.two_stream`) and the
report gives, per model, frames / flow / fused (and flow from the image model): video Hit@1,
Hit@5, mAP and per class group, as mean ± sd (per-seed values), the findings that hold at every
seed (:mod:`deepvideo.reports.seeds`), the validation curves of the flow model from scratch and
from the image model, the paper's Table 4 and every command and wall time.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deepvideo.data.flow import read_settings
from deepvideo.errors import ConfigError
from deepvideo.reports.experiments import (
    best_checkpoint,
    read_metrics,
    rebuild_command,
    resolve_run_dir,
    short_path,
    train_experiment,
    write_manifest,
)
from deepvideo.reports.experiments import manifest_path as manifest_file
from deepvideo.reports.seeds import (
    finding_line,
    run_precision,
    scores_override,
    seed_cell,
    seed_difference,
)
from deepvideo.reports.throughput import machine_description
from deepvideo.reports.two_stream import StreamSummary, two_stream
from deepvideo.runs import run_config
from deepvideo.scores import load_video_scores

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_OUT",
    "MODELS",
    "PAPER_TABLE4",
    "FlowReportOptions",
    "run_flow_report",
    "val_curve",
]

LOG_NAME = "report_flow.log"

# the report the script writes unless told otherwise (``--out``)
DEFAULT_OUT = "reports/flow_synthetic.md"
# model key -> (label, the overrides that make it); the same overrides for both streams
MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "conv_pooling": (
        "Conv Pooling, 4 frames at 1 fps (Ng et al.)",
        ("model=conv_pooling", "data.ng2015.fps=1", "data.ng2015.frames=4"),
    ),
    "single_frame": ("Single Frame (Karpathy et al.)", ("model=single_frame",)),
}
STREAMS = ("image", "flow", "fused", "from_image")
STREAM_LABELS = {
    "image": "on raw frames",
    "flow": "on optical flow",
    "fused": "raw frames + optical flow (fused)",
    "from_image": "on optical flow, initialised from the frames model",
}
# Ng et al. 2015, Table 4 (Sports-1M, 30-frame GoogLeNet models): video Hit@1, Hit@5
PAPER_TABLE4 = (
    ("LSTM on Optical Flow", 59.7, 81.4),
    ("LSTM on Raw Frames", 72.1, 90.6),
    ("LSTM on Raw Frames + LSTM on Optical Flow", 73.1, 90.5),
    ("30 frame Optical Flow (Conv Pooling)", 44.5, 70.4),
    ("Conv Pooling on Raw Frames", 71.7, 90.4),
    ("Conv Pooling on Raw Frames + Conv Pooling on Optical Flow", 71.8, 90.4),
)


@dataclass
class FlowReportOptions:
    """What :func:`run_flow_report` runs and where it writes (``scripts/report_flow.py``)."""

    out: Path
    log_dir: Path
    flow_root: Path
    seeds: int = 2
    models: Sequence[str] = ("conv_pooling", "single_frame")
    from_image: Sequence[str] = ("conv_pooling",)
    epochs: int | None = None
    overrides: Sequence[str] = ()
    skip_train: bool = False
    resume: bool = False
    command: str = ""
    # the reading of the results, kept in the manifest (a later --note replaces it)
    notes: Sequence[str] = ()


def _schedule(opts: FlowReportOptions, seeds: int) -> list[tuple[int, str, str, str]]:
    """``(seed, run name, model, stream)`` in training order: the image and flow runs of every
    seed first (the comparison the report is about), then the flow runs initialised from each
    seed's image checkpoint."""
    unknown = [m for m in [*opts.models, *opts.from_image] if m not in MODELS]
    if unknown:
        raise ConfigError(f"unknown model(s) {unknown}: choose from {list(MODELS)}")
    runs = [
        (seed, f"{model}_{stream}", model, stream)
        for seed in range(seeds)
        for model in opts.models
        for stream in ("image", "flow")
    ]
    runs += [
        (seed, f"{model}_from_image", model, "from_image")
        for seed in range(seeds)
        for model in opts.models
        if model in opts.from_image
    ]
    return runs


def _overrides(
    model: str, stream: str, opts: FlowReportOptions, done: Mapping[str, Path]
) -> list[str]:
    out = list(MODELS[model][1])
    if stream == "flow":
        out += ["data.modality=flow", f"data.flow_root='{opts.flow_root.resolve()}'"]
    elif stream == "from_image":
        image = best_checkpoint(done[f"{model}_image"])
        out += [
            "experiment=flow_from_image",
            f"data.flow_root='{opts.flow_root.resolve()}'",
            f"pretrained.ckpt_path='{image}'",
        ]
    return out


def run_flow_report(opts: FlowReportOptions) -> Path:
    """Train (or reuse) every run at every seed, fuse the streams, write the markdown report
    and a JSON manifest of the runs next to it (``--skip-train`` rebuilds from it)."""
    manifest_path = manifest_file(opts.out)
    manifest: dict[str, Any] = {}
    if (opts.skip_train or opts.resume) and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
    elif opts.skip_train:
        raise ConfigError(f"{manifest_path} is missing: run without --skip-train first")
    if not opts.skip_train and not any(Path(opts.flow_root).rglob("*.mp4")):
        raise ConfigError(
            f"no flow videos under {opts.flow_root}: make them first with "
            "`python scripts/compute_flow.py VIDEO_FOLDER FLOW_ROOT`"
        )
    manifest.setdefault("seeds", {})
    if opts.notes:
        manifest["notes"] = list(opts.notes)
    if not opts.skip_train:
        manifest["machine"] = machine_description()
        manifest["flow_root"] = short_path(opts.flow_root)
        manifest["flow"] = read_settings(opts.flow_root)
        manifest["epochs"] = opts.epochs
        if opts.command:
            manifest["commands"] = [*manifest.get("commands", []), opts.command]
    runs = _schedule(opts, 0 if opts.skip_train else opts.seeds)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    start = time.perf_counter()
    for seed, name, model, stream in runs:
        entries: dict[str, Any] = manifest["seeds"].setdefault(str(seed), {})
        if name in entries and opts.resume:
            continue
        done = {n: resolve_run_dir(e["run_dir"]) for n, e in entries.items()}
        run_dir = opts.log_dir / stamp / f"seed{seed}" / name
        overrides = [
            *_overrides(model, stream, opts, done),
            f"seed={seed}",
            *opts.overrides,
            scores_override(run_dir),
        ]
        log.info("seed %d: training %s", seed, name)
        record = train_experiment(None, run_dir, opts.epochs, overrides, log_name=LOG_NAME)
        entries[name] = {"run_dir": short_path(run_dir), "wall_s": record.wall_s}
        write_manifest(opts.out, manifest)
    if not opts.skip_train:
        manifest["wall_s"] = manifest.get("wall_s", 0.0) + (time.perf_counter() - start)
    results = collect(manifest, [m for m in MODELS if m in opts.models])
    write_manifest(opts.out, manifest)
    opts.out.write_text(markdown_report(results, manifest, opts.out))
    log.info("report written to %s", opts.out)
    return opts.out


@dataclass
class ModelResults:
    """One model's streams at every seed (seed -> summary), wall times and validation curves."""

    model: str
    streams: dict[str, dict[int, StreamSummary]] = field(default_factory=dict)
    wall_s: dict[str, list[float]] = field(default_factory=dict)
    curves: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    precision: set[str] = field(default_factory=set)
    # what the runs' .hydra/config.yaml say: data.train_clips_per_video and data.root
    clips_per_video: set[str] = field(default_factory=set)
    data_root: set[str] = field(default_factory=set)


def val_curve(run_dir: Path) -> list[float]:
    """``val/video_hit@1`` after each epoch, from the run's CSV log (empty when it has none)."""
    values: dict[int, float] = {}
    for path in sorted(Path(run_dir).glob("csv/version_*/metrics.csv")):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                value = row.get("val/video_hit@1")
                if value:
                    values[int(float(row["epoch"]))] = float(value)
    return [values[e] for e in sorted(values)]


def collect(manifest: Mapping[str, Any], models: Sequence[str]) -> dict[str, ModelResults]:
    """Every model's summaries per stream and seed, from the runs' ``video_scores.pt``."""
    results = {m: ModelResults(m) for m in models}
    for seed_text, entries in sorted(manifest["seeds"].items(), key=lambda kv: int(kv[0])):
        seed = int(seed_text)
        for model, res in results.items():
            dirs = {
                stream: resolve_run_dir(entries[f"{model}_{stream}"]["run_dir"])
                for stream in ("image", "flow", "from_image")
                if f"{model}_{stream}" in entries
            }
            for stream, run_dir in dirs.items():
                read_metrics(run_dir)  # a run that did not finish its test stops here, named
                wall = entries[f"{model}_{stream}"].get("wall_s")
                res.wall_s.setdefault(stream, []).append(float(wall or math.nan))
                res.curves.setdefault(stream, {})[seed] = val_curve(run_dir)
                res.precision.add(run_precision(run_dir, (LOG_NAME, "train.log")) or "?")
                data = run_config(run_dir).get("data") or {}
                res.clips_per_video.add(str(data.get("train_clips_per_video", "?")))
                res.data_root.add(str(data.get("root", "?")))
            if "image" not in dirs or "flow" not in dirs:
                continue
            image = load_video_scores(dirs["image"] / "video_scores.pt")
            flow = load_video_scores(dirs["flow"] / "video_scores.pt")
            fused = two_stream(image, flow)
            for summary in fused.streams():
                res.streams.setdefault(summary.name, {})[seed] = summary
            if "from_image" in dirs:
                scratch = load_video_scores(dirs["from_image"] / "video_scores.pt")
                summary = replace(two_stream(image, scratch).flow, name="from_image")
                res.streams.setdefault("from_image", {})[seed] = summary
    return results


def _values(
    per_seed: Mapping[int, StreamSummary], seeds: Sequence[int], key: str
) -> list[float | None]:
    out: list[float | None] = []
    for seed in seeds:
        summary = per_seed.get(seed)
        if summary is None:
            out.append(None)
        elif key.startswith("hit1:"):
            out.append(summary.group_hit1.get(key[5:]))
        elif key.startswith("map:"):
            out.append(summary.group_map.get(key[4:]))
        else:
            out.append(getattr(summary, key))
    return out


def _per_seed(per_seed: Mapping[int, StreamSummary], key: str) -> dict[int, float | None]:
    seeds = sorted(per_seed)
    return dict(zip(seeds, _values(per_seed, seeds, key), strict=True))


def markdown_report(
    results: Mapping[str, ModelResults], manifest: Mapping[str, Any], out: Path | None = None
) -> str:
    seeds = sorted(int(s) for s in manifest.get("seeds", {}))
    groups = list(
        dict.fromkeys(
            g
            for res in results.values()
            for per_seed in res.streams.values()
            for s in per_seed.values()
            for g in s.group_map
        )
    )
    flow = manifest.get("flow") or {}
    # the script requires --flow-root, even to rebuild
    flow_root = str(manifest.get("flow_root", "FLOW_ROOT"))
    rebuild = rebuild_command("scripts/report_flow.py", out, DEFAULT_OUT, "--flow-root", flow_root)
    precisions = sorted({p for r in results.values() for p in r.precision})
    clips = sorted({c for r in results.values() for c in r.clips_per_video})
    roots = sorted({d for r in results.values() for d in r.data_root})
    lines = [
        "# Optical flow and two-stream late fusion (Ng et al. 2015, Sec. 3.4, Table 4) on the "
        "synthetic benchmark",
        "",
        "Commands: "
        + ", then ".join(f"`{c}`" for c in manifest.get("commands") or [])
        + f", then `{rebuild}` (this file)  ",
        f"Machine: {manifest.get('machine', '?')}; precision: {', '.join(precisions) or '?'}  ",
        f"Flow: `{manifest.get('flow_root', '?')}`, method {flow.get('method', '?')}, "
        f"{flow.get('fps', '?')} fps, clipped at ±{flow.get('bound', '?')} px, "
        f"{flow.get('codec', '?')}  ",
        f"Training: {manifest.get('epochs') or 'the recipe (data.recipe.max_epochs)'} epochs of "
        f"the recipe of `{' / '.join(roots) or '?'}`, {' / '.join(clips) or '?'} random clips "
        "or examples of every training video an epoch (`data.train_clips_per_video`), every run "
        "from scratch except the ones initialised from the frames model  ",
        f"Seeds: {', '.join(map(str, seeds))}; cells: mean ± sample sd over seeds (per-seed "
        "values), video Hit@k and AP in %; every stream of a seed is scored on the same test "
        f"videos. Total wall time {manifest.get('wall_s', 0.0) / 60:.0f} min.",
        "",
        "## Table 4 analogue",
        "",
        "| model | input | video Hit@1 | video Hit@5 | mAP | "
        + " | ".join(f"{g}: Hit@1 | {g}: mAP" for g in groups)
        + " | wall s / run |",
        "| --- | --- | --- | --- | --- |" + " --- | --- |" * len(groups) + " ---: |",
    ]
    for model, res in results.items():
        for stream in STREAMS:
            per_seed = res.streams.get(stream)
            if not per_seed:
                continue
            keys = ["hit1", "hit5", "mean_ap"] + [
                k for g in groups for k in (f"hit1:{g}", f"map:{g}")
            ]
            cells = [seed_cell(_values(per_seed, seeds, k)) for k in keys]
            walls = [w for w in res.wall_s.get(stream, []) if not math.isnan(w)]
            wall = f"{sum(walls) / len(walls):.0f}" if walls else "—"
            lines.append(
                f"| {MODELS[model][0]} | {STREAM_LABELS[stream]} | "
                + " | ".join(cells)
                + f" | {wall} |"
            )
    lines += [
        "",
        "The paper's Table 4 (Sports-1M, 30-frame GoogLeNet models; video Hit@1 / Hit@5):",
        "",
        "| method | Hit@1 | Hit@5 |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {h1:.1f} | {h5:.1f} |" for name, h1, h5 in PAPER_TABLE4),
        "",
        "## Findings at these seeds",
        "",
    ]
    for model, res in results.items():
        label = MODELS[model][0]
        image, flow_, fused = (res.streams.get(s, {}) for s in ("image", "flow", "fused"))
        if not image or not flow_:
            continue
        claims = [
            (image, flow_, "hit1:motion", "flow minus frames, video Hit@1 on the motion classes"),
            (image, flow_, "map:motion", "flow minus frames, mAP of the motion classes"),
            (image, flow_, "map:appearance", "flow minus frames, mAP of the appearance classes"),
            (image, fused, "hit1", "fused minus frames, video Hit@1 (all classes)"),
            (flow_, fused, "hit1", "fused minus flow, video Hit@1 (all classes)"),
        ]
        from_image = res.streams.get("from_image", {})
        if from_image:
            claims.append(
                (
                    flow_,
                    from_image,
                    "hit1",
                    "flow from the frames model minus flow from scratch, video Hit@1",
                )
            )
        for a, b, key, text in claims:
            if key.split(":")[-1] not in groups and ":" in key:
                continue
            diff = seed_difference(_per_seed(a, key), _per_seed(b, key))
            if diff.values:
                lines.append(finding_line(f"{label}: {text}", diff))
    curves = [
        (res, stream)
        for res in results.values()
        for stream in ("flow", "from_image")
        if stream in res.curves and "from_image" in res.curves
    ]
    if curves:
        lines += [
            "",
            "## Convergence: the flow model from scratch and from the frames model (Sec. 3.4)",
            "",
            "Validation video Hit@1 (%) after each epoch (2 clips of each validation video):",
            "",
            "| model | start | seed | per epoch |",
            "| --- | --- | ---: | --- |",
        ]
        for res, stream in curves:
            for seed, curve in sorted(res.curves[stream].items()):
                values = ", ".join(f"{100 * v:.0f}" for v in curve)
                start = "from scratch" if stream == "flow" else "from the frames model"
                lines.append(f"| {MODELS[res.model][0]} | {start} | {seed} | {values} |")
    if manifest.get("notes"):
        lines += ["", "## Reading", "", *(f"- {note}" for note in manifest["notes"])]
    lines.append("")
    return "\n".join(lines)
