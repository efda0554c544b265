"""Table 1 of Karpathy et al. 2014 on any dataset: every time-fusion and multiresolution model.

:func:`run_table1` trains each Table 1 experiment (``conf/experiment/table1_*.yaml``) with
``src/train.py`` (:mod:`deepvideo.reports.experiments`) at seeds ``0..N-1`` (``seed=S``),
measures every model's training throughput back to back in one process
(:mod:`deepvideo.reports.throughput`), evaluates the "CNN Average (Single+Early+Late+Slow)"
ensemble of each seed's members (:mod:`deepvideo.reports.ensemble`) and writes the markdown
table (:mod:`deepvideo.reports.table1_markdown`): Model | Clip Hit@1 | Video Hit@1 | Video Hit@5
| train clips/s, each metric as mean ± sd over the seeds with the per-seed values, with the
paper's numbers, chance, the command, the machine, the precision of the runs, per-group video
Hit@1 and the findings that hold at every seed. The run directories go into a JSON manifest next
to the table, so a later invocation can rebuild the table without training (``skip_train``), and
Table 2 and the figures can find them (:func:`manifest_run_dir`).

The manifest (``table1_*.json``) records, besides the command, machine and timings::

    "seeds": [0, 1, 2],
    "runs": {"table1_slow_fusion": {"0": {"run_dir": ..., "wall_s": ..., "precision": ...},
                                    "1": {...}, ...}, ...},
    "metrics": {"table1_slow_fusion": {"0": {...test metrics...}, ...}, ...},
    "ensemble": {"members": [...], "clip": {...}, "seeds": {"0": {"metrics": ..., ...}, ...}},
    "groups": {"0": {"table1_slow_fusion": {"motion": 0.7, ...}, "cnn_average": {...}}, ...}

A manifest of the single-seed format (``"runs": {"table1_slow_fusion": {"run_dir": ...}}``) is
read as seed 0 (:func:`runs_by_seed`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from deepvideo.data.ucf101 import parse_class_groups
from deepvideo.errors import ConfigError
from deepvideo.reports.ensemble import (
    Member,
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
    command_history,
    load_manifest,
    manifest_path,
    read_metrics,
    resolve_run_dir,
    short_path,
    train_experiment,
    write_manifest,
)
from deepvideo.reports.seeds import group_video_hits, scores_override
from deepvideo.reports.seeds import run_precision as log_precision
from deepvideo.reports.table1_markdown import (
    ENSEMBLE_EXPERIMENTS,
    ENSEMBLE_KEY,
    TABLE1,
    SeedResults,
    experiment_name,
    markdown_table1,
    precision_summary,
)
from deepvideo.reports.throughput import machine_description, measure_throughput
from deepvideo.scores import load_video_scores

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SEEDS",
    "LOG_NAME",
    "TABLE1",
    "Table1Options",
    "load_manifest",
    "manifest_path",
    "manifest_run_dir",
    "run_precision",
    "run_table1",
    "runs_by_seed",
    "write_manifest",
]

# Seeds per row when none are asked for (the committed reports).
DEFAULT_SEEDS = 3
# The log of each training run the report starts (stdout and stderr of ``src/train.py``).
LOG_NAME = "report_table1.log"
# ``deepvideo.utils.instantiate`` logs the precision the trainer runs in (``auto`` resolved).


# --------------------------------------------------------------------------------- manifest
def runs_by_seed(manifest: Mapping[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """The manifest's runs as experiment -> seed -> entry (``run_dir``, ``wall_s``, ...).

    The per-seed format keys each experiment's runs by seed (``{"0": {"run_dir": ...}}``); the
    single-seed format of earlier reports (``{"run_dir": ...}``) is read as seed 0.
    """
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for experiment, entry in (manifest.get("runs") or {}).items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"manifest entry of {experiment} is not a mapping: {entry!r}")
        if "run_dir" in entry:
            out[experiment] = {0: dict(entry)}
        else:
            out[experiment] = {int(seed): dict(e) for seed, e in entry.items()}
    return out


def manifest_run_dir(path: str | Path, model: str, seed: int | None = None) -> Path | None:
    """The run directory a Table 1 manifest (``table1_*.json``) records for ``model``
    (``slow_fusion`` or ``table1_slow_fusion``) at ``seed`` (default: the lowest seed it
    records); None when it records none."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: pass the .json manifest report_table1 wrote")
    runs = runs_by_seed(json.loads(path.read_text())).get(experiment_name(model), {})
    if not runs:
        return None
    entry = runs.get(min(runs) if seed is None else seed)
    return resolve_run_dir(entry["run_dir"]) if entry else None


# ------------------------------------------------------------------------------ run results
def run_precision(run_dir: Path) -> str | None:
    """The precision a Table 1 run trained in (its ``report_table1.log``, else ``train.log``)."""
    return log_precision(run_dir, (LOG_NAME, "train.log"))


def _class_groups(member: Member) -> dict[str, str]:
    """The dataset's class groups (``<data.root>/class_groups.tsv``); empty without one."""
    root = member.run.data.get("root")
    path = Path(str(root)) / "class_groups.tsv" if root else None
    return parse_class_groups(path) if path is not None and path.is_file() else {}


def _add_groups(
    res: SeedResults,
    key: str,
    scores: Tensor,
    targets: Tensor,
    class_names: Sequence[str],
    groups: Mapping[str, str],
) -> None:
    """Add row ``key``'s video Hit@1 per class group to ``res`` (:func:`group_video_hits`)."""
    hits, counts = group_video_hits(scores, targets, class_names, groups)
    res.groups[key] = hits
    for group, n in counts.items():
        res.group_videos.setdefault(group, n)


def _entry(rec: RunRecord) -> dict[str, Any]:
    return {**rec.to_json(), "precision": run_precision(rec.run_dir)}


@dataclass
class Table1Options:
    """What :func:`run_table1` does (the script's options).

    ``seeds``: train every row at seeds ``0..seeds-1``; None: :data:`DEFAULT_SEEDS`, or with
    ``skip_train`` the seeds the manifest records for every row.
    """

    experiments: Sequence[str] = tuple(row.experiment for row in TABLE1)
    out: Path = PROJECT_ROOT / "reports" / "table1_synthetic.md"
    log_dir: Path = PROJECT_ROOT / "logs" / "table1"
    epochs: int | None = None
    skip_train: bool = False
    resume: bool = False
    jobs: int = 1
    overrides: Sequence[str] = ()
    throughput_steps: int = 20
    throughput_warmup: int = 3
    ensemble: bool = True
    command: str = ""
    title: str = "Table 1 (Karpathy et al. 2014) on the synthetic benchmark"
    seeds: int | None = None


def _seeds(
    opts: Table1Options, experiments: Sequence[str], previous: Mapping[str, Mapping[int, Any]]
) -> list[int]:
    """The seeds to report (see :class:`Table1Options`); checks ``skip_train`` has them all."""
    if opts.seeds is not None and opts.seeds < 1:
        raise ConfigError(f"seeds={opts.seeds}: train at least one seed")
    if any(o.lstrip("+").split("=", 1)[0] == "seed" for o in opts.overrides):
        raise ConfigError("the report sets seed=S itself: pass the number of seeds (--seeds)")
    if not opts.skip_train:
        return list(range(DEFAULT_SEEDS if opts.seeds is None else opts.seeds))
    missing = [e for e in experiments if not previous.get(e)]
    if missing:
        raise ConfigError(
            f"--skip-train: {manifest_path(opts.out)} records no run of {', '.join(missing)}; "
            "train them first (drop --skip-train, or use --resume)"
        )
    if opts.seeds is None:
        common = set.intersection(*(set(previous[e]) for e in experiments)) if experiments else {0}
        if not common:
            raise ConfigError(
                f"--skip-train: {manifest_path(opts.out)} records no seed at which every row ran"
            )
        return sorted(common)
    seeds = list(range(opts.seeds))
    for seed in seeds:
        lacking = [e for e in experiments if seed not in previous[e]]
        if lacking:
            raise ConfigError(
                f"--skip-train: {manifest_path(opts.out)} records no run of {', '.join(lacking)} "
                f"at seed {seed}; train them first (use --resume), or ask for fewer --seeds"
            )
    return seeds


def run_table1(opts: Table1Options) -> Path:
    """Train (or reuse) every Table 1 run at every seed, time them, evaluate each seed's
    ensemble, write the table and the manifest."""
    start = time.perf_counter()
    out = Path(opts.out)
    experiments = [experiment_name(e) for e in opts.experiments]
    earlier = load_manifest(out) if (opts.skip_train or opts.resume) else {}
    previous = runs_by_seed(earlier)
    seeds = _seeds(opts, experiments, previous)
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    manifest: dict[str, Any] = {
        # every command that wrote this report, oldest first (--resume adds rows or seeds);
        # manifests written before kept only the last, as "command" (read by command_history)
        "commands": command_history(earlier, opts.command),
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "epochs": opts.epochs,
        "overrides": list(opts.overrides),
        "machine": machine_description(),
        "seeds": seeds,
        # the reusable runs up front, so that an interrupted report still lists them
        "runs": {
            e: {str(s): dict(previous[e][s]) for s in seeds if s in previous[e]}
            for e in experiments
            if any(s in previous.get(e, {}) for s in seeds)
        },
    }
    records: dict[int, list[RunRecord]] = {seed: [] for seed in seeds}
    todo: list[tuple[int, str]] = []
    # seed by seed, so that an interrupted report has whole seeds to --resume from
    for seed in seeds:
        for experiment in experiments:
            entry = previous.get(experiment, {}).get(seed)
            if entry:
                run_dir = resolve_run_dir(entry["run_dir"])
                if (run_dir / "metrics.json").is_file():
                    rec = RunRecord(experiment, run_dir, entry.get("wall_s"), read_metrics(run_dir))
                    records[seed].append(rec)
                    manifest["runs"].setdefault(experiment, {})[str(seed)] = _entry(rec)
                    continue
                if opts.skip_train:
                    raise ConfigError(
                        f"--skip-train: {run_dir} holds no finished run of {experiment}"
                    )
            todo.append((seed, experiment))
    lock = threading.Lock()

    def train_one(task: tuple[int, str]) -> None:
        seed, experiment = task
        run_dir = Path(opts.log_dir) / stamp / f"seed{seed}" / experiment
        overrides = [*opts.overrides, f"seed={seed}", scores_override(run_dir)]
        rec = train_experiment(experiment, run_dir, opts.epochs, overrides, log_name=LOG_NAME)
        log.info("%s, seed %d: %s in %.0f s", experiment, seed, rec.metrics, rec.wall_s or 0.0)
        with lock:
            records[seed].append(rec)
            manifest["runs"].setdefault(experiment, {})[str(seed)] = _entry(rec)
            write_manifest(out, manifest)

    # --jobs N: N training processes at a time (their wall times then share the machine)
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for done in [pool.submit(train_one, task) for task in todo]:
            done.result()
    for seed in seeds:
        records[seed].sort(key=lambda r: experiments.index(r.experiment))
    trained = len(todo)
    manifest["jobs"] = max(1, opts.jobs)
    train_wall = time.perf_counter() - start
    all_records = [r for seed in seeds for r in records[seed]]

    # throughput: once, on the first seed's runs (a freshly built net: the seed does not enter)
    members = load_members({r.experiment: r.checkpoint() for r in records[seeds[0]]})
    t0 = time.perf_counter()
    throughput = measure_throughput(
        members, steps=opts.throughput_steps, warmup=opts.throughput_warmup
    )
    throughput_wall = time.perf_counter() - t0
    manifest["throughput_clips_per_s"] = throughput

    groups = _class_groups(members[0])
    in_ensemble = [e for e in ENSEMBLE_EXPERIMENTS if e in experiments]
    with_ensemble = opts.ensemble and len(in_ensemble) >= 2
    results: dict[int, SeedResults] = {}
    ensembles: dict[str, Any] = {}
    ensemble_wall = 0.0
    clip_frames = 0
    for seed in seeds:
        res = SeedResults(list(records[seed]))
        for rec in records[seed]:
            scores_path = rec.run_dir / "video_scores.pt"
            if groups and scores_path.is_file():
                scores = load_video_scores(scores_path)
                _add_groups(
                    res, rec.experiment, scores.scores, scores.targets, scores.class_names, groups
                )
        if with_ensemble:
            t0 = time.perf_counter()
            chosen = (
                [m for m in members if m.name in in_ensemble]
                if seed == seeds[0]
                else load_members(
                    {
                        r.experiment: r.checkpoint()
                        for r in records[seed]
                        if r.experiment in in_ensemble
                    }
                )
            )
            clip = ensemble_clip(chosen)
            clip_frames = clip.num_frames
            res.ensemble = evaluate_ensemble(build_ensemble(chosen, clip), clip)
            wall = time.perf_counter() - t0
            ensemble_wall += wall
            scores_file = save_video_scores(
                res.ensemble,
                ensemble_test_data(clip),
                Path(opts.log_dir) / stamp / f"seed{seed}" / "cnn_average" / "video_scores.pt",
            )
            if groups:
                _add_groups(
                    res,
                    ENSEMBLE_KEY,
                    res.ensemble.scores,
                    res.ensemble.targets,
                    chosen[0].class_names,
                    groups,
                )
            ensembles[str(seed)] = {
                "metrics": res.ensemble.metrics,
                "members_on_ensemble_clips": res.ensemble.member_metrics,
                "video_scores": short_path(scores_file),
                "wall_s": wall,
            }
            manifest["ensemble"] = {
                "members": in_ensemble,
                "clip": clip.as_model_clip(),
                "seeds": ensembles,
            }
        results[seed] = res
    manifest["groups"] = {str(s): res.groups for s, res in results.items() if res.groups}

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
    reused = len(all_records) - trained
    precisions = {
        e: {int(s): entry.get("precision") for s, entry in per_seed.items()}
        for e, per_seed in manifest["runs"].items()
    }
    header = {
        "Machine": manifest["machine"],
        "Precision": (
            f"{precision_summary(precisions)} (each run's `{LOG_NAME}` or `train.log`: "
            "`precision: <value>`, i.e. `trainer.precision` with `auto` resolved); train clips/s in fp32"
        ),
    }
    notes = {
        "Data": (
            f"{datamodule.dataset_name} at `{short_path(datamodule.root)}`, "
            f"{datamodule.num_classes} classes, {len(datamodule.splits['test'])} test videos x "
            f"{test.clips_per_video} clips x {test.views} views"
        ),
        "Command": (
            ", then ".join(f"`{c}`" for c in manifest["commands"])
            if manifest["commands"]
            else "(function call)"
        ),
        "Epochs": ", ".join(sorted({str(m.run.trainer.max_epochs) for m in members}))
        + (" (runs reused from the manifest)" if reused else ""),
        "Wall time": (
            f"{total / 60:.1f} min in all: training {train_wall / 60:.1f} min"
            + (
                f" ({reused} of {len(all_records)} runs reused; their recorded training took "
                f"{sum(r.wall_s or 0.0 for r in all_records) / 60:.1f} min)"
                if reused
                else f" ({len(all_records)} runs)"
            )
            + f", throughput {throughput_wall:.0f} s, ensemble evaluation {ensemble_wall:.0f} s"
        ),
        "train clips/s": (
            f"measured once, not per seed, after training, in one process, back to back: "
            f"{opts.throughput_steps} SGD steps (after {opts.throughput_warmup} warm-up) of a "
            f"freshly built net of each model (seed {seeds[0]}'s run config) on the same "
            f"preloaded batches of {members[0].run.data.batch_size} clips (decoding excluded), "
            "best of 2 interleaved rounds"
        ),
        "run wall (s)": (
            "the whole `src/train.py` run of the row (mean over the seeds): fit, then the test "
            "of the weights the recipe names (`test_weights`)"
            + (
                f"; {manifest['jobs']} runs trained at a time (`--jobs`), sharing the cores"
                if int(manifest.get("jobs", 1)) > 1
                else ""
            )
        ),
        "CNN Average": (
            "per seed, the mean of that seed's members' softmax probabilities (the "
            "weights each run was tested with), each member fed its own centered frames of one "
            f"{clip_frames}-frame clip; same test videos, clips per video and views as the "
            "members"
        ),
        "Runs": f"`{short_path(manifest_path(out))}` (run directories per seed, metrics, timings)",
    }
    if not with_ensemble:
        del notes["CNN Average"]
    text = markdown_table1(
        results, throughput, None, in_ensemble, chance, notes, title=opts.title, header=header
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    manifest["table"] = str(out)
    manifest["metrics"] = {
        e: {str(s): r.metrics for s in seeds for r in records[s] if r.experiment == e}
        for e in experiments
    }
    write_manifest(out, manifest)
    log.info("Table 1 written to %s", out)
    return out
