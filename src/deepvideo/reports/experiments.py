"""The runs behind the reports: train with ``src/train.py``, evaluate with ``src/eval.py``.

A report reproduces a table of Karpathy et al. 2014 by running the task entry points as separate
processes (one run directory each, as a user would) and reading back what they wrote: a run
directory's ``metrics.json``, its checkpoints and, once evaluated, its ``video_scores.pt``
(:mod:`deepvideo.scores`). Table 1 (:mod:`deepvideo.reports.table1`), Table 2
(:mod:`deepvideo.reports.table2`) and the figures (:mod:`deepvideo.reports.figures`) share these
helpers.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepvideo.checkpoint import FINAL_CHECKPOINT
from deepvideo.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "PROJECT_ROOT",
    "RunRecord",
    "best_checkpoint",
    "checkpoint_of",
    "evaluate_checkpoint",
    "read_metrics",
    "resolve_run_dir",
    "short_path",
    "train_experiment",
]

PROJECT_ROOT = Path(os.environ.get("PROJECT_ROOT") or Path(__file__).resolve().parents[3])


@dataclass
class RunRecord:
    """A trained experiment: its run directory, how long it ran, its test metrics."""

    experiment: str
    run_dir: Path
    wall_s: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def checkpoint(self) -> Path:
        """The checkpoint the run tested (:func:`best_checkpoint`)."""
        return best_checkpoint(self.run_dir)

    def to_json(self) -> dict[str, Any]:
        return {"run_dir": short_path(self.run_dir), "wall_s": self.wall_s}


def best_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint a training run tested: ``final.ckpt`` (the weights training ended with,
    under ``test_weights=final``), else the one ModelCheckpoint kept as best, else
    ``last.ckpt``."""
    folder = Path(run_dir) / "checkpoints"
    final = folder / FINAL_CHECKPOINT
    if final.is_file():
        return final
    best = sorted(folder.glob("epoch_*.ckpt"))
    if best:
        return best[-1]
    last = folder / "last.ckpt"
    if last.is_file():
        return last
    raise ConfigError(f"no checkpoint in {folder}: train the run first (without --skip-train)")


def checkpoint_of(path: Path | None) -> Path | None:
    """``path`` itself for a ``.ckpt`` file, the best checkpoint of a run directory."""
    if path is None:
        return None
    return best_checkpoint(path) if path.is_dir() else path


def read_metrics(run_dir: str | Path) -> dict[str, float]:
    """The test metrics a finished run wrote (``metrics.json``)."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: the run in {run_dir} did not finish its test")
    return {k: float(v) for k, v in json.loads(path.read_text()).items()}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PROJECT_ROOT": str(PROJECT_ROOT)}


def train_experiment(
    experiment: str | None,
    run_dir: Path,
    epochs: int | None = None,
    overrides: Sequence[str] = (),
    train_script: Path = PROJECT_ROOT / "src" / "train.py",
    log_name: str = "report_table1.log",
) -> RunRecord:
    """Train and test one experiment (or, with ``experiment=None``, the run the overrides
    describe) with ``src/train.py`` into ``run_dir``; time it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(train_script),
        *([f"experiment={experiment}"] if experiment else []),
        f"hydra.run.dir={run_dir}",
        *([f"trainer.max_epochs={epochs}"] if epochs else []),
        *overrides,
    ]
    log.info("training %s: %s", experiment or run_dir.name, " ".join(command))
    start = time.perf_counter()
    with open(run_dir / log_name, "w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=_env())
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"training {experiment or run_dir.name} failed (exit {result.returncode}); see {run_dir / log_name}"
        )
    return RunRecord(experiment or run_dir.name, run_dir, wall, read_metrics(run_dir))


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
    if not ckpt.is_file():
        raise ConfigError(f"{ckpt} does not exist: pass a .ckpt file or a run directory")
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
    log.info("evaluating %s", ckpt)
    with open(out_dir / "eval_stdout.log", "w") as out:
        result = subprocess.run(
            [*command, *overrides], stdout=out, stderr=subprocess.STDOUT, env=_env()
        )
    if result.returncode != 0 or not scores.is_file():
        raise RuntimeError(f"evaluating {ckpt} failed; see {out_dir / 'eval_stdout.log'}")
    stamp.write_text(json.dumps(key))
    return scores


def resolve_run_dir(path: str | Path) -> Path:
    """A manifest's run directory: relative paths are relative to the project root."""
    path = Path(path)
    return path if path.is_absolute() else PROJECT_ROOT / path


def short_path(path: Path | str) -> str:
    """``path`` relative to the project root when inside it."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        return str(path)


def rebuild_command(script: str, out: Path | None, default_out: str, *args: str) -> str:
    """The command that rebuilds the report at ``out`` from its manifest: ``python script
    args --skip-train``, with ``--out`` unless ``out`` is the script's ``default_out``."""
    command = ["python", script, *args, "--skip-train"]
    if out is not None and short_path(out) != default_out:
        command += ["--out", short_path(out)]
    return shlex.join(command)


def command_history(manifest: Mapping[str, Any], command: str) -> list[str]:
    """The commands of an earlier ``manifest`` (its ``commands``, or the one ``command`` that
    manifests written before the history kept), then ``command`` unless it repeats the last."""
    history = [str(c) for c in manifest.get("commands") or []]
    if not history and manifest.get("command"):
        history = [str(manifest["command"])]
    if command and (not history or history[-1] != command):
        history.append(command)
    return history


# The JSON manifest every report keeps next to its markdown (the runs, their seeds, timings)
def manifest_path(out: Path) -> Path:
    """The JSON manifest next to the table (``table1_synthetic.md`` -> ``.json``)."""
    return Path(out).with_suffix(".json")


def load_manifest(out: Path) -> dict[str, Any]:
    """The manifest next to the table ``out`` (empty when there is none)."""
    path = manifest_path(out)
    return json.loads(path.read_text()) if path.is_file() else {}


def write_manifest(out: Path, manifest: Mapping[str, Any]) -> Path:
    """Write the manifest next to the table ``out``; its path."""
    path = manifest_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return path
