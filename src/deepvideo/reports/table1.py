"""Table 1 of Karpathy et al. 2014 on any dataset: every time-fusion and multiresolution model.

:func:`run_table1` trains each Table 1 experiment (``conf/experiment/table1_*.yaml``) with
``src/train.py`` (:mod:`deepvideo.reports.experiments`), measures every model's training
throughput back to back in one process (:mod:`deepvideo.reports.throughput`), evaluates the "CNN
Average (Single+Early+Late+Slow)" ensemble (:mod:`deepvideo.reports.ensemble`) and writes the
markdown table (:mod:`deepvideo.reports.table1_markdown`): Model | Clip Hit@1 | Video Hit@1 |
Video Hit@5 | train clips/s, with the paper's numbers, chance, the command, the machine and wall
times. The run directories go into a JSON manifest next to the table, so a later invocation can
rebuild the table without training (``skip_train``), and Table 2 and the figures can find them
(:func:`manifest_run_dir`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepvideo.errors import ConfigError
from deepvideo.reports.ensemble import (
    EnsembleResult,
    build_ensemble,
    ensemble_clip,
    ensemble_test_data,
    evaluate_ensemble,
    load_members,
    save_video_scores,
)
from deepvideo.reports.experiments import (
    PROJECT_ROOT,
    RunRecord,
    read_metrics,
    resolve_run_dir,
    short_path,
    train_experiment,
)
from deepvideo.reports.table1_markdown import (
    ENSEMBLE_EXPERIMENTS,
    TABLE1,
    experiment_name,
    markdown_table1,
)
from deepvideo.reports.throughput import machine_description, measure_throughput

log = logging.getLogger(__name__)

__all__ = [
    "TABLE1",
    "Table1Options",
    "load_manifest",
    "manifest_path",
    "manifest_run_dir",
    "run_table1",
    "write_manifest",
]


# --------------------------------------------------------------------------------- manifest
def manifest_path(out: Path) -> Path:
    """The JSON manifest next to the table (``table1_synthetic.md`` -> ``.json``)."""
    return Path(out).with_suffix(".json")


def load_manifest(out: Path) -> dict[str, Any]:
    path = manifest_path(out)
    return json.loads(path.read_text()) if path.is_file() else {}


def write_manifest(out: Path, manifest: Mapping[str, Any]) -> Path:
    path = manifest_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return path


def manifest_run_dir(path: str | Path, model: str) -> Path | None:
    """The run directory a Table 1 manifest (``table1_*.json``) records for ``model``
    (``slow_fusion`` or ``table1_slow_fusion``); None when it records none."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: pass the .json manifest report_table1 wrote")
    entry = json.loads(path.read_text()).get("runs", {}).get(experiment_name(model))
    return resolve_run_dir(entry["run_dir"]) if entry else None


@dataclass
class Table1Options:
    """What :func:`run_table1` does (the script's options)."""

    experiments: Sequence[str] = tuple(row.experiment for row in TABLE1)
    out: Path = PROJECT_ROOT / "reports" / "table1_synthetic.md"
    log_dir: Path = PROJECT_ROOT / "logs" / "table1"
    epochs: int | None = None
    skip_train: bool = False
    resume: bool = False
    overrides: Sequence[str] = ()
    throughput_steps: int = 20
    throughput_warmup: int = 3
    ensemble: bool = True
    command: str = ""
    title: str = "Table 1 (Karpathy et al. 2014) on the synthetic benchmark"


def run_table1(opts: Table1Options) -> Path:
    """Train (or reuse) every Table 1 run, time them, evaluate the ensemble, write the table."""
    start = time.perf_counter()
    out = Path(opts.out)
    experiments = [experiment_name(e) for e in opts.experiments]
    previous = load_manifest(out).get("runs", {}) if (opts.skip_train or opts.resume) else {}
    if opts.skip_train:
        missing = [e for e in experiments if e not in previous]
        if missing:
            raise ConfigError(
                f"--skip-train: {manifest_path(out)} records no run of {', '.join(missing)}; "
                "train them first (drop --skip-train, or use --resume)"
            )
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    manifest: dict[str, Any] = {
        "command": opts.command,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "epochs": opts.epochs,
        "overrides": list(opts.overrides),
        "machine": machine_description(),
        "runs": {},
    }
    records: list[RunRecord] = []
    trained = 0
    for experiment in experiments:
        if experiment in previous:
            entry = previous[experiment]
            run_dir = resolve_run_dir(entry["run_dir"])
            if (run_dir / "metrics.json").is_file():
                rec = RunRecord(experiment, run_dir, entry.get("wall_s"), read_metrics(run_dir))
                records.append(rec)
                manifest["runs"][experiment] = rec.to_json()
                continue
            if opts.skip_train:
                raise ConfigError(f"--skip-train: {run_dir} holds no finished run of {experiment}")
        rec = train_experiment(
            experiment, Path(opts.log_dir) / stamp / experiment, opts.epochs, opts.overrides
        )
        log.info("%s: %s in %.0f s", experiment, rec.metrics, rec.wall_s or 0.0)
        records.append(rec)
        trained += 1
        manifest["runs"][experiment] = rec.to_json()
        write_manifest(out, manifest)
    train_wall = time.perf_counter() - start

    members = load_members({r.experiment: r.checkpoint() for r in records})
    t0 = time.perf_counter()
    throughput = measure_throughput(
        members, steps=opts.throughput_steps, warmup=opts.throughput_warmup
    )
    throughput_wall = time.perf_counter() - t0
    manifest["throughput_clips_per_s"] = throughput

    ensemble_result: EnsembleResult | None = None
    in_ensemble = [e for e in ENSEMBLE_EXPERIMENTS if e in experiments]
    ensemble_wall = 0.0
    if opts.ensemble and len(in_ensemble) >= 2:
        t0 = time.perf_counter()
        chosen = [m for m in members if m.name in in_ensemble]
        clip = ensemble_clip(chosen)
        ensemble = build_ensemble(chosen, clip)
        ensemble_result = evaluate_ensemble(ensemble, clip)
        ensemble_wall = time.perf_counter() - t0
        scores = save_video_scores(
            ensemble_result,
            ensemble_test_data(clip),
            Path(opts.log_dir) / stamp / "cnn_average" / "video_scores.pt",
        )
        manifest["ensemble"] = {
            "members": in_ensemble,
            "clip": clip.as_model_clip(),
            "metrics": ensemble_result.metrics,
            "members_on_ensemble_clips": ensemble_result.member_metrics,
            "video_scores": short_path(scores),
            "wall_s": ensemble_wall,
        }
    datamodule = ensemble_test_data(ensemble_clip(members[:1]))
    chance = datamodule.chance_hit_at_1()
    test = members[0].run.data.test_clips
    total = time.perf_counter() - start
    manifest.update(
        chance_hit_at_1=chance,
        wall_s={
            "total": total,
            "training": train_wall,
            "throughput": throughput_wall,
            "ensemble": ensemble_wall,
        },
        finished=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    notes = {
        "Data": (
            f"{datamodule.dataset_name} at `{short_path(datamodule.root)}`, "
            f"{datamodule.num_classes} classes, {len(datamodule.splits['test'])} test videos x "
            f"{test.clips_per_video} clips x {test.views} views"
        ),
        "Command": f"`{opts.command}`" if opts.command else "(function call)",
        "Machine": manifest["machine"],
        "Epochs": ", ".join(sorted({str(m.run.trainer.max_epochs) for m in members}))
        + (" (runs reused from the manifest)" if trained < len(records) else ""),
        "Wall time": (
            f"{total / 60:.1f} min in all: training {train_wall / 60:.1f} min"
            + (
                f" ({len(records) - trained} runs reused; their recorded training took "
                f"{sum(r.wall_s or 0.0 for r in records) / 60:.1f} min)"
                if trained < len(records)
                else ""
            )
            + f", throughput {throughput_wall:.0f} s, ensemble evaluation {ensemble_wall:.0f} s"
        ),
        "train clips/s": (
            f"measured after training, in one process, back to back: {opts.throughput_steps} "
            f"SGD steps (after {opts.throughput_warmup} warm-up) of a freshly built net of each "
            f"model on the same preloaded batches of {members[0].run.data.batch_size} clips "
            "(decoding excluded), best of 2 interleaved rounds"
        ),
        "run wall (s)": (
            "the whole `src/train.py` run of the row: fit, then the test of the best checkpoint"
        ),
        "CNN Average": (
            "mean of the members' softmax probabilities (best checkpoints), each member fed its "
            "own centered frames of one "
            f"{ensemble_clip(members).num_frames}-frame clip; same test videos, clips per video "
            "and views as the members"
        ),
        "Runs": f"`{short_path(manifest_path(out))}` (run directories, metrics, timings)",
    }
    text = markdown_table1(
        records, throughput, ensemble_result, in_ensemble, chance, notes, title=opts.title
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    manifest["table"] = str(out)
    manifest["metrics"] = {r.experiment: r.metrics for r in records}
    write_manifest(out, manifest)
    log.info("Table 1 written to %s", out)
    return out
