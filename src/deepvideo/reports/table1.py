"""Table 1 of Karpathy et al. 2014 on any dataset: every time-fusion and multiresolution model.

One run trains each Table 1 experiment (``conf/experiment/table1_*.yaml``) with ``src/train.py``,
measures every model's training throughput back to back in one process, evaluates the "CNN
Average (Single+Early+Late+Slow)" ensemble (:mod:`deepvideo.reports.ensemble`) and writes a
markdown table: Model | Clip Hit@1 | Video Hit@1 | Video Hit@5 | train clips/s, with chance, the
command, the machine and wall times. The run directories go into a JSON manifest next to the
table, so a later invocation can rebuild the table without training (``skip_train``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate

from deepvideo.cli import ConfigError
from deepvideo.reports.ensemble import (
    EnsembleResult,
    Member,
    build_ensemble,
    ensemble_clip,
    ensemble_test_data,
    evaluate_ensemble,
    load_members,
    save_video_scores,
)

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(os.environ.get("PROJECT_ROOT") or Path(__file__).resolve().parents[3])


@dataclass(frozen=True)
class Table1Row:
    """One row of Table 1: the experiment config, its label and the paper's Sports-1M numbers."""

    experiment: str
    label: str
    # Karpathy et al. 2014, Table 1 (Sports-1M): clip Hit@1, video Hit@1, video Hit@5, in %
    paper: tuple[float, float, float] | None = None


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
    for row in TABLE1:
        if row.experiment == experiment:
            return row
    return Table1Row(experiment, experiment.removeprefix("table1_"))


# ------------------------------------------------------------------------------------ runs
@dataclass
class RunRecord:
    """A trained Table 1 experiment: its run directory, how long it ran, its test metrics."""

    experiment: str
    run_dir: Path
    wall_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def checkpoint(self) -> Path:
        """The best checkpoint (``epoch_XXX.ckpt``, the one tested), else ``last.ckpt``."""
        return best_checkpoint(self.run_dir)

    def to_json(self) -> dict[str, Any]:
        return {"run_dir": _short(self.run_dir), "wall_s": self.wall_s}


def best_checkpoint(run_dir: Path) -> Path:
    """The checkpoint ModelCheckpoint kept as best in ``run_dir``, else ``last.ckpt``."""
    folder = Path(run_dir) / "checkpoints"
    best = sorted(folder.glob("epoch_*.ckpt"))
    if best:
        return best[-1]
    last = folder / "last.ckpt"
    if last.is_file():
        return last
    raise ConfigError(f"no checkpoint in {folder}: train the run first (without --skip-train)")


def read_metrics(run_dir: Path) -> dict[str, float]:
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: the run in {run_dir} did not finish its test")
    return {k: float(v) for k, v in json.loads(path.read_text()).items()}


def train_experiment(
    experiment: str,
    run_dir: Path,
    epochs: int | None = None,
    overrides: Sequence[str] = (),
    train_script: Path = PROJECT_ROOT / "src" / "train.py",
) -> RunRecord:
    """Train and test one experiment with ``src/train.py`` into ``run_dir``; time it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(train_script),
        f"experiment={experiment}",
        f"hydra.run.dir={run_dir}",
        *([f"trainer.max_epochs={epochs}"] if epochs else []),
        *overrides,
    ]
    log.info("training %s: %s", experiment, " ".join(command))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PROJECT_ROOT": str(PROJECT_ROOT)}
    start = time.perf_counter()
    with open(run_dir / "report_table1.log", "w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"training {experiment} failed (exit {result.returncode}); see "
            f"{run_dir / 'report_table1.log'}"
        )
    return RunRecord(experiment, run_dir, wall, read_metrics(run_dir))


def evaluate_checkpoint(
    ckpt: Path,
    out_dir: Path,
    overrides: Sequence[str] = (),
    eval_script: Path = PROJECT_ROOT / "src" / "eval.py",
) -> Path:
    """``video_scores.pt`` of ``ckpt``, evaluated by ``src/eval.py`` into ``out_dir`` (cached).

    The scores are reused when ``out_dir`` already holds them for the same checkpoint file
    (path, size and modification time) and overrides.
    """
    ckpt, out_dir = Path(ckpt).resolve(), Path(out_dir)
    stat = ckpt.stat()
    key = {
        "ckpt": str(ckpt),
        "size": stat.st_size,
        "mtime": stat.st_mtime,
        "overrides": list(overrides),
    }
    stamp, scores = out_dir / "evaluated.json", out_dir / "video_scores.pt"
    if scores.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == key:
        return scores
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(eval_script), f"ckpt_path={ckpt}", f"hydra.run.dir={out_dir}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PROJECT_ROOT": str(PROJECT_ROOT)}
    log.info("evaluating %s", ckpt)
    with open(out_dir / "eval_stdout.log", "w") as out:
        result = subprocess.run(
            [*command, *overrides], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    if result.returncode != 0 or not scores.is_file():
        raise RuntimeError(f"evaluating {ckpt} failed; see {out_dir / 'eval_stdout.log'}")
    stamp.write_text(json.dumps(key))
    return scores


# ------------------------------------------------------------------------------ throughput
def measure_throughput(
    members: Sequence[Member],
    steps: int = 20,
    warmup: int = 3,
    rounds: int = 2,
) -> dict[str, float]:
    """Training clips/s of each member's architecture on the same preloaded batches.

    One clip covering every member (as for the ensemble) is drawn ``warmup + steps`` times by
    the dataset's training loader and kept in memory, so decoding is excluded; each model (a
    freshly built net with its run's optimizer and loss) then runs ``steps`` SGD steps
    (forward, backward, update) on its frames of those batches, back to back, ``rounds`` times
    interleaved; the best round counts. Ratios between models are therefore comparable.
    """
    clip = ensemble_clip(members)
    datamodule = instantiate(clip.data, _recursive_=False)
    datamodule.prepare_data()
    datamodule.check_available()
    datamodule.setup("fit")
    batches: list[dict[str, torch.Tensor]] = []
    while len(batches) < warmup + steps:
        for batch in datamodule.train_dataloader():
            batches.append({"video": batch["video"], "label": batch["label"]})
            if len(batches) == warmup + steps:
                break
    slicer = build_ensemble(members, clip)
    inputs = {m.name: [slicer.member_input(m.name, b["video"]) for b in batches] for m in members}
    best: dict[str, float] = {}
    for _ in range(max(1, rounds)):
        for m in members:
            net = instantiate(m.run.model.net).train()
            module = instantiate(m.run.module, net=net)
            optimizer = module.optimizer_factory(params=list(net.parameters()))
            clips, start = 0, 0.0
            for i, (x, b) in enumerate(zip(inputs[m.name], batches, strict=True)):
                if i == warmup:
                    start = time.perf_counter()
                loss = module.loss(net(x).float(), b["label"])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if i >= warmup:
                    clips += x.shape[0]
            rate = clips / (time.perf_counter() - start)
            best[m.name] = max(best.get(m.name, 0.0), rate)
    return best


# --------------------------------------------------------------------------------- machine
def machine_description() -> str:
    """CPU model and core count (``/proc/cpuinfo``, ``nproc``), GPU if any, torch threads."""
    cpu = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    parts = [f"{cpu}, {len(os.sched_getaffinity(0))} cores (nproc)"]
    if simd:
        parts.append("/".join(simd).upper())
    if torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    else:
        parts.append("no GPU")
    parts.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32")
    return "; ".join(parts)


# ------------------------------------------------------------------------------- the table
def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def markdown_table1(
    records: Sequence[RunRecord],
    throughput: Mapping[str, float],
    ensemble: EnsembleResult | None,
    ensemble_members: Sequence[str],
    chance: float | None,
    notes: Mapping[str, str],
    title: str = "Table 1 (Karpathy et al. 2014) on the synthetic benchmark",
) -> str:
    """The Table 1 markdown: one row per run in paper order, then the ensemble."""
    lines = [
        f"# {title}",
        "",
        "| Model | Clip Hit@1 | Video Hit@1 | Video Hit@5 | train clips/s | run wall (s) "
        "| paper, Sports-1M (clip / video@1 / video@5) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    order = {row.experiment: i for i, row in enumerate(TABLE1)}
    for rec in sorted(records, key=lambda r: order.get(r.experiment, len(order))):
        row = row_of(rec.experiment)
        clip, video1, video5 = (rec.metrics.get(k) for k in METRIC_KEYS)
        rate = throughput.get(rec.experiment)
        paper = " / ".join(f"{v:.1f}" for v in row.paper) if row.paper else "—"
        lines.append(
            f"| {row.label} | {percent(clip)} | {percent(video1)} | {percent(video5)} | "
            f"{'—' if rate is None else f'{rate:.1f}'} | "
            f"{'—' if rec.wall_s is None else f'{rec.wall_s:.0f}'} | {paper} |"
        )
    if ensemble is not None:
        short = "+".join(row_of(e).label.split("-")[0].split(" ")[0] for e in ensemble_members)
        paper = " / ".join(f"{v:.1f}" for v in ENSEMBLE_PAPER)
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
    for key, value in notes.items():
        lines.append(f"- **{key}**: {value}")
    lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ orchestration
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
            "video_scores": _short(scores),
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
            f"{datamodule.dataset_name} at `{_short(datamodule.root)}`, {datamodule.num_classes} "
            f"classes, {len(datamodule.splits['test'])} test videos x "
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
        "Runs": f"`{_short(manifest_path(out))}` (run directories, metrics, timings)",
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


def resolve_run_dir(path: str | Path) -> Path:
    """A manifest's run directory: relative paths are relative to the project root."""
    path = Path(path)
    return path if path.is_absolute() else PROJECT_ROOT / path


def _short(path: Path | str) -> str:
    """``path`` relative to the project root when inside it."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        return str(path)
