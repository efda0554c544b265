"""Table 2 of Karpathy et al. 2014 on our benchmark: per-class AP, motion-aware vs single frame.

:func:`run_table2` compares two runs' per-video scores (``video_scores.pt``,
:mod:`deepvideo.scores`; a checkpoint or run directory is evaluated with ``src/eval.py`` first,
:func:`deepvideo.reports.experiments.evaluate_checkpoint`): per-class video average precision, the
classes with the largest differences, each with its group (``class_groups.tsv``, read by
:func:`deepvideo.data.ucf101.parse_class_groups`), and per-group mean AP
(:mod:`deepvideo.reports.analysis`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from deepvideo.checkpoint import load_checkpoint, stored_config
from deepvideo.data.ucf101 import parse_class_groups
from deepvideo.errors import ConfigError
from deepvideo.reports.analysis import compare_runs, markdown_table2
from deepvideo.reports.experiments import PROJECT_ROOT, best_checkpoint, evaluate_checkpoint
from deepvideo.reports.table1 import manifest_run_dir
from deepvideo.scores import load_video_scores

log = logging.getLogger(__name__)

__all__ = ["Table2Options", "default_groups", "run_table2", "scores_file"]


@dataclass
class Table2Options:
    """What :func:`run_table2` compares and where it writes (the script's options)."""

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


def scores_file(path: Path, eval_dir: Path) -> Path:
    """``path`` if it is a scores file, else the scores of evaluating the checkpoint ``path``
    (a ``.ckpt`` or a run directory), written under ``eval_dir``."""
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


def run_table2(opts: Table2Options) -> Path:
    """Compare run ``b`` with run ``a`` per class and write the Table 2 markdown to ``opts.out``."""
    a, b = opts.a, opts.b
    if opts.from_manifest:
        a = a or manifest_run_dir(opts.from_manifest, opts.a_model)
        b = b or manifest_run_dir(opts.from_manifest, opts.b_model)
    if a is None or b is None:
        raise ConfigError("pass --a and --b (or --from-manifest with both runs in it)")
    sa = load_video_scores(scores_file(a, opts.eval_dir))
    sb = load_video_scores(scores_file(b, opts.eval_dir))
    groups_file = opts.groups or default_groups(a)
    groups = parse_class_groups(groups_file) if groups_file and groups_file.is_file() else {}
    rows = compare_runs(sa, sb, groups)
    notes = {
        "Runs": f"a = `{sa.path}` ({sa.model}), b = `{sb.path}` ({sb.model})",
        "Test set": f"{len(sa.video_ids)} videos, {len(sa.class_names)} classes",
        "AP": "per-class average precision of the video-level scores (mean clip probabilities "
        "over the test clips and views), torchmetrics multilabel_average_precision(average=None)",
        "Command": f"`{opts.command}`" if opts.command else "(function call)",
    }
    if groups_file:
        notes["Groups"] = f"`{groups_file}`"
    text = markdown_table2(rows, sa.model, sb.model, top=opts.top, notes=notes)
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    log.info("Table 2 written to %s", out)
    return out
