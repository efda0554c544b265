"""Table 2 of Karpathy et al. 2014 on our benchmark: per-class AP, motion-aware vs single frame.

:func:`run_table2` compares two runs' per-video scores (``video_scores.pt``,
:mod:`deepvideo.scores`; a checkpoint or run directory is evaluated with ``src/eval.py`` first,
:func:`deepvideo.reports.experiments.evaluate_checkpoint`): per-class video average precision, the
classes with the largest differences, each with its group (``class_groups.tsv``, read by
:func:`deepvideo.data.ucf101.parse_class_groups`), and per-group mean AP
(:mod:`deepvideo.reports.analysis`).

With a Table 1 manifest (``from_manifest``) of several seeds it compares the two models at every
seed the manifest records for both (or at seeds ``0..seeds-1``): each AP cell becomes
``mean ± sd (per-seed values)`` and a findings section says, for every class group, whether ``b``
beats ``a`` at every seed beyond the spread (:mod:`deepvideo.reports.seeds`). One explicit pair
of runs (``a``/``b``) is one seed, and the report says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deepvideo.checkpoint import load_checkpoint, stored_config
from deepvideo.data.ucf101 import parse_class_groups
from deepvideo.errors import ConfigError
from deepvideo.reports.analysis import (
    ClassComparison,
    compare_runs,
    markdown_table2,
    markdown_table2_seeds,
)
from deepvideo.reports.experiments import (
    PROJECT_ROOT,
    best_checkpoint,
    evaluate_checkpoint,
    resolve_run_dir,
)
from deepvideo.reports.table1 import manifest_run_dir, runs_by_seed
from deepvideo.reports.table1_markdown import experiment_name
from deepvideo.scores import VideoScores, load_video_scores

log = logging.getLogger(__name__)

__all__ = ["Table2Options", "default_groups", "manifest_seeds", "run_table2", "scores_file"]


@dataclass
class Table2Options:
    """What :func:`run_table2` compares and where it writes (the script's options).

    ``seeds``: with ``from_manifest``, compare at seeds ``0..seeds-1`` (each must be in the
    manifest for both models); None: every seed the manifest records for both. Explicit ``a`` and
    ``b`` are one pair of runs: one seed.
    """

    a: Path | None = None
    b: Path | None = None
    from_manifest: Path | None = None
    a_model: str = "single_frame"
    b_model: str = "slow_fusion"
    groups: Path | None = None
    top: int = 6
    out: Path = PROJECT_ROOT / "reports" / "table2_synthetic.md"
    eval_dir: Path = PROJECT_ROOT / "logs" / "table2"
    command: str = ""
    seeds: int | None = None


def scores_file(path: Path, eval_dir: Path) -> Path:
    """``path`` if it is a scores file; for a run directory the ``video_scores.pt`` its training
    wrote (Table 1 runs write one), else the scores of evaluating the checkpoint ``path`` (a
    ``.ckpt`` or a run directory), written under ``eval_dir``."""
    if path.is_dir() and (path / "video_scores.pt").is_file():
        return path / "video_scores.pt"
    if path.suffix == ".ckpt" or path.is_dir():
        ckpt = best_checkpoint(path) if path.is_dir() else path
        return evaluate_checkpoint(ckpt, eval_dir / ckpt.resolve().parent.parent.name)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: pass a video_scores.pt, a .ckpt or a run dir")
    return path


def default_groups(a: Path) -> Path | None:
    """``<data.root>/class_groups.tsv`` of the run behind ``a`` (a checkpoint or run dir)."""
    try:
        if not (a.is_dir() or a.suffix == ".ckpt"):
            return None
        ckpt = best_checkpoint(a) if a.is_dir() else a
        root = stored_config(load_checkpoint(ckpt, what="--a"))["data"]["root"]
        return Path(root) / "class_groups.tsv"
    except (ConfigError, KeyError, TypeError):
        return None


def manifest_seeds(
    manifest: Path, models: tuple[str, str], seeds: int | None = None
) -> dict[int, tuple[Path, Path]]:
    """Seed -> (run of ``models[0]``, run of ``models[1]``) from a Table 1 manifest: every seed
    it records for both models, or seeds ``0..seeds-1`` (each must be there). Empty when the
    manifest records no run of one of the models."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ConfigError(f"{manifest} does not exist: pass the .json manifest report_table1 wrote")
    runs = runs_by_seed(json.loads(manifest.read_text()))
    a, b = (runs.get(experiment_name(m), {}) for m in models)
    if not a or not b:
        return {}
    if seeds is None:
        wanted = sorted(set(a) & set(b))
        if not wanted:
            raise ConfigError(f"{manifest} records no seed at which both {models} ran")
    else:
        wanted = list(range(seeds))
        lacking = [
            f"{m} at seed {s}"
            for s in wanted
            for m, r in zip(models, (a, b), strict=True)
            if s not in r
        ]
        if lacking:
            raise ConfigError(
                f"--seeds {seeds}: {manifest} records no run of {', '.join(lacking)}; "
                "train them first (report_table1.py --resume --seeds N), or ask for fewer seeds"
            )
    return {s: (resolve_run_dir(a[s]["run_dir"]), resolve_run_dir(b[s]["run_dir"])) for s in wanted}


def _write(out: Path, text: str) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    log.info("Table 2 written to %s", out)
    return out


def _groups(opts: Table2Options, a: Path) -> tuple[Path | None, dict[str, str]]:
    groups_file = opts.groups or default_groups(a)
    groups = parse_class_groups(groups_file) if groups_file and groups_file.is_file() else {}
    return groups_file, groups


def _common_notes(sa: VideoScores, opts: Table2Options, groups_file: Path | None) -> dict[str, str]:
    notes = {
        "Test set": f"{len(sa.video_ids)} videos, {len(sa.class_names)} classes",
        "AP": "per-class average precision of the video-level scores (mean clip probabilities "
        "over the test clips and views), torchmetrics multilabel_average_precision(average=None)",
        "Command": f"`{opts.command}`" if opts.command else "(function call)",
    }
    if groups_file:
        notes["Groups"] = f"`{groups_file}`"
    return notes


def _run_table2_seeds(opts: Table2Options, pairs: Mapping[int, tuple[Path, Path]]) -> Path:
    """Table 2 over the seeds of ``pairs`` (seed -> run a, run b)."""
    first = min(pairs)
    groups_file, groups = _groups(opts, pairs[first][0])
    per_seed: dict[int, list[ClassComparison]] = {}
    runs: list[str] = []
    loaded: list[tuple[VideoScores, VideoScores]] = []
    for seed, (a, b) in sorted(pairs.items()):
        sa = load_video_scores(scores_file(a, opts.eval_dir))
        sb = load_video_scores(scores_file(b, opts.eval_dir))
        if loaded and sa.class_names != loaded[0][0].class_names:
            raise ConfigError(f"{sa.path} has other classes than the run of seed {first}")
        loaded.append((sa, sb))
        per_seed[seed] = compare_runs(sa, sb, groups or sa.class_groups)
        runs.append(f"seed {seed}: a = `{sa.path}`, b = `{sb.path}`")
    sa, sb = loaded[0]
    chosen = (
        "every seed the manifest records for both models"
        if opts.seeds is None
        else (f"--seeds {opts.seeds}")
    )
    notes = {
        "Runs": f"a = {sa.model}, b = {sb.model} from `{opts.from_manifest}`; " + "; ".join(runs),
        "Seeds": f"{', '.join(map(str, sorted(pairs)))} ({chosen})",
        "Findings rule": "a difference holds when it has the same sign at every seed and its "
        "mean exceeds its sample standard deviation across the seeds",
        **_common_notes(sa, opts, groups_file),
    }
    text = markdown_table2_seeds(per_seed, sa.model, sb.model, top=opts.top, notes=notes)
    return _write(opts.out, text)


def run_table2(opts: Table2Options) -> Path:
    """Compare run ``b`` with run ``a`` per class and write the Table 2 markdown to ``opts.out``:
    at every seed of ``opts.from_manifest`` when it names neither run, else one pair."""
    if opts.seeds is not None and opts.seeds < 1:
        raise ConfigError(f"--seeds {opts.seeds}: compare at least one seed")
    a, b = opts.a, opts.b
    if opts.seeds is not None and opts.seeds > 1 and (a or b or not opts.from_manifest):
        raise ConfigError(
            f"--seeds {opts.seeds} needs --from-manifest without --a/--b: one pair of runs is "
            "one seed"
        )
    if opts.from_manifest and a is None and b is None:
        pairs = manifest_seeds(opts.from_manifest, (opts.a_model, opts.b_model), opts.seeds)
        if len(pairs) > 1:
            return _run_table2_seeds(opts, pairs)
        if pairs:
            a, b = next(iter(pairs.values()))
    if opts.from_manifest:
        a = a or manifest_run_dir(opts.from_manifest, opts.a_model)
        b = b or manifest_run_dir(opts.from_manifest, opts.b_model)
    if a is None or b is None:
        raise ConfigError("pass --a and --b (or --from-manifest with both runs in it)")
    sa = load_video_scores(scores_file(a, opts.eval_dir))
    sb = load_video_scores(scores_file(b, opts.eval_dir))
    groups_file, groups = _groups(opts, a)
    rows = compare_runs(sa, sb, groups or sa.class_groups)
    notes = {
        "Runs": f"a = `{sa.path}` ({sa.model}), b = `{sb.path}` ({sb.model})",
        "Seeds": "one pair of runs (a single seed): the differences are not checked against the "
        "spread over seeds; pass --from-manifest with a multi-seed Table 1 manifest for that",
        **_common_notes(sa, opts, groups_file),
    }
    text = markdown_table2(rows, sa.model, sb.model, top=opts.top, notes=notes)
    return _write(opts.out, text)
