"""Transfer learning to UCF-101 on its three official folds (Karpathy et al. 2014, Sec. 4.2).

The task: train one transfer regime (:data:`deepvideo.modules.REGIMES`: ``top``, ``top3``,
``all``, ``scratch``) on each fold, as one Hydra multirun of the training entry point::

    python src/train.py -m experiment=transfer_<regime> data.fold=1,2,3 \\
        pretrained.ckpt_path=CKPT model=<the checkpoint's> data.recipe.width=<the checkpoint's>

and find the fold runs it left (:func:`run_folds`). With ``seeds`` N > 1 it does so at seeds
``0..N-1`` (``seed=S``), one multirun per seed in ``<out>/seed<S>`` (:func:`run_seed_folds`),
each fine-tuning the one checkpoint, or with ``seed_ckpts`` seed S its own pretrained checkpoint
(so the spread over seeds includes the pretraining's). With ``resume``, a sweep whose folds all
finished with the same command line is kept rather than trained again.
Each fold's run directory holds ``metrics.json`` and ``video_scores.pt``;
:mod:`deepvideo.reports.transfer` reads them back and writes Table 3 (the 3-fold mean accuracy)
and Table 4 (mAP per class group).

The folds run as a separate process (``src/train.py``), not by calling
:func:`deepvideo.training.train`: tasks do not import each other, and a multirun gives every fold
its own Hydra run directory, config and log, exactly as a user's command line would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deepvideo.checkpoint import load_checkpoint, stored_config
from deepvideo.errors import ConfigError
from deepvideo.modules import REGIMES
from deepvideo.runs import run_config, run_overrides

log = logging.getLogger(__name__)

__all__ = [
    "FoldRuns",
    "MultirunFailed",
    "TransferOptions",
    "checkpoint_overrides",
    "fold_dirs",
    "multirun_command",
    "run_folds",
    "run_seed_folds",
    "seed_sweep_dir",
]

PROJECT_ROOT = Path(os.environ.get("PROJECT_ROOT") or Path(__file__).resolve().parents[2])


class MultirunFailed(RuntimeError):
    """The fold multirun exited with a non-zero status (its folds' logs say why)."""

    def __init__(self, returncode: int, sweep_dir: Path) -> None:
        super().__init__(
            f"the multirun failed (exit {returncode}); see the fold logs under {sweep_dir}"
        )
        self.returncode = returncode


@dataclass
class TransferOptions:
    """One regime on some folds: what :func:`run_folds` trains (the script's options).

    ``overrides`` are Hydra overrides passed to every fold; ``out`` is the sweep directory
    (default ``logs/transfer/<regime>_<time>``); ``skip_train`` only collects finished folds.
    ``seeds``: run the folds at seeds ``0..seeds-1`` (:func:`run_seed_folds`; with more than one,
    each seed's sweep is ``<out>/seed<S>``); ``seed``: the one seed this multirun passes
    (``seed=S``; None: the config's). ``seed_ckpts``: one pretrained checkpoint per seed, in seed
    order, instead of ``ckpt`` for all. ``resume``: keep a sweep whose requested folds all
    finished with this command line (the same overrides, checkpoint and seed), train the others.
    """

    regime: str
    ckpt: Path | None = None
    folds: str = "1,2,3"
    out: Path | None = None
    overrides: Sequence[str] = ()
    skip_train: bool = False
    train_script: Path = PROJECT_ROOT / "src" / "train.py"
    seeds: int = 1
    seed: int | None = None
    seed_ckpts: Sequence[Path] = ()
    resume: bool = False

    def check(self) -> None:
        """One-line errors for options that cannot work."""
        if self.seeds < 1:
            raise ConfigError(f"--seeds {self.seeds}: run at least one seed")
        if self.seeds > 1 and any(
            o.lstrip("+~").split("=", 1)[0] == "seed" for o in self.overrides
        ):
            raise ConfigError("--seeds sets seed=S itself: drop the seed= override")
        if self.regime not in REGIMES:
            raise ConfigError(f"unknown regime {self.regime!r}; choose from {sorted(REGIMES)}")
        if self.regime == "scratch" and (self.ckpt is not None or self.seed_ckpts):
            raise ConfigError("regime scratch trains from a random initialisation: drop --ckpt")
        if self.seed_ckpts and self.ckpt is not None:
            raise ConfigError("give one checkpoint for every seed or one per seed, not both")
        if self.seed_ckpts and len(self.seed_ckpts) != self.seeds:
            raise ConfigError(
                f"{len(self.seed_ckpts)} checkpoints for --seeds {self.seeds}: give one --ckpt "
                f"for every seed, or one per seed ({self.seeds}), in seed order"
            )
        pretrained = self.ckpt is not None or bool(self.seed_ckpts)
        if self.regime != "scratch" and not pretrained and not self.skip_train:
            raise ConfigError(
                f"regime {self.regime} needs --ckpt (a pretrained deepvideo checkpoint)"
            )
        unknown = [o for o in self.overrides if o.startswith("--")]
        if unknown:
            raise ConfigError(f"unknown options {unknown}; Hydra overrides look like key=value")
        try:
            [int(f) for f in self.folds.split(",")]
        except ValueError:
            raise ConfigError(f"--folds {self.folds!r}: give fold numbers like 1,2,3") from None

    def seed_ckpt(self, index: int) -> Path | None:
        """The checkpoint the ``index``-th seed fine-tunes: its own, or the one for all."""
        return self.seed_ckpts[index] if self.seed_ckpts else self.ckpt

    @property
    def wanted_folds(self) -> list[int]:
        return [int(f) for f in self.folds.split(",")]


@dataclass
class FoldRuns:
    """What :func:`run_folds` left: the sweep directory and each finished fold's run directory."""

    regime: str
    sweep_dir: Path
    command: list[str]
    runs: list[tuple[int, Path]] = field(default_factory=list)
    wanted: list[int] = field(default_factory=list)
    seed: int | None = None

    @property
    def missing(self) -> list[int]:
        """Requested folds without a finished run."""
        return sorted(set(self.wanted) - {fold for fold, _ in self.runs})


def checkpoint_overrides(ckpt: Path, extra: Sequence[str] = ()) -> list[str]:
    """``model=<name>`` and ``data.recipe.width=<w>`` of the checkpoint, unless in ``extra``,
    so the fine-tuned net has the pretrained one's architecture."""
    config = stored_config(load_checkpoint(ckpt, what="--ckpt", require_config=False))
    given = {o.split("=", 1)[0].lstrip("+~") for o in extra}
    out = []
    name = (config.get("model") or {}).get("name")
    if name and "model" not in given:
        out.append(f"model={name}")
    width = ((config.get("data") or {}).get("recipe") or {}).get("width")
    if width is not None and "data.recipe.width" not in given:
        out.append(f"data.recipe.width={width}")
    return out


def multirun_command(opts: TransferOptions, sweep_dir: Path) -> list[str]:
    """The ``src/train.py -m`` command line that trains ``opts.regime`` on every fold."""
    command = [
        sys.executable,
        str(opts.train_script),
        "-m",
        f"experiment=transfer_{opts.regime}",
        f"data.fold={opts.folds}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    if opts.ckpt is not None:
        ckpt = Path(opts.ckpt).resolve()
        command += [f"pretrained.ckpt_path={ckpt}", *checkpoint_overrides(ckpt, opts.overrides)]
    if opts.seed is not None:
        command.append(f"seed={opts.seed}")
    return command + list(opts.overrides)


def fold_dirs(sweep_dir: Path) -> list[tuple[int, Path]]:
    """(fold, job directory) of every finished job of the multirun in ``sweep_dir``."""
    found = []
    for config in sorted(Path(sweep_dir).glob("*/.hydra/config.yaml")):
        job = config.parent.parent
        if (job / "metrics.json").is_file():
            fold = (run_config(job).get("data") or {}).get("fold")
            if not isinstance(fold, int):
                raise ConfigError(
                    f"{config} has no integer data.fold (unreadable or not a fold run): rerun "
                    f"that fold, or move {job} out of {sweep_dir}"
                )
            found.append((fold, job))
    return sorted(found)


def run_folds(opts: TransferOptions) -> FoldRuns:
    """Train ``opts.regime`` on every requested fold (unless ``skip_train``) and collect the
    finished fold runs; at least one must exist."""
    opts.check()
    sweep_dir = _sweep_dir(opts)
    command = multirun_command(opts, sweep_dir)
    if opts.resume and not opts.skip_train and _finished_as(command, sweep_dir, opts.wanted_folds):
        log.info("keeping %s: every fold finished with this command", sweep_dir)
    elif not opts.skip_train:
        log.info("running %s", shlex.join(command))
        env = {**os.environ, "PROJECT_ROOT": str(PROJECT_ROOT)}
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=env)
        if result.returncode != 0:
            raise MultirunFailed(result.returncode, sweep_dir)
    runs = fold_dirs(sweep_dir)
    if not runs:
        raise ConfigError(f"no finished fold run (metrics.json) under {sweep_dir}")
    return FoldRuns(opts.regime, sweep_dir, command, runs, opts.wanted_folds, opts.seed)


def _task_overrides(command: Sequence[str]) -> set[str]:
    """The task overrides of a fold job of ``command`` (as :func:`multirun_command` builds it:
    interpreter, script, ``-m``, then overrides), as Hydra's ``overrides.yaml`` lists them (no
    ``hydra.*``), the fold left out."""
    return {
        o for o in command[3:] if not o.lstrip("+~").startswith(("hydra.", "hydra/", "data.fold="))
    }


def _finished_as(command: Sequence[str], sweep_dir: Path, folds: Sequence[int]) -> bool:
    """Whether every fold of ``folds`` finished in ``sweep_dir`` with ``command``'s overrides;
    a finished fold trained with other overrides stops with the two lines, rather than
    overwriting or mixing it."""
    finished = dict(fold_dirs(sweep_dir))
    if not set(folds) <= set(finished):
        return False
    wanted = _task_overrides(command)
    for fold in folds:
        job = finished[fold]
        had = {o for o in run_overrides(job) if not o.startswith("data.fold=")}
        if had != wanted:
            raise ConfigError(
                f"{job} (fold {fold}) finished with other overrides than this command "
                f"(it had {sorted(had - wanted)}, this has {sorted(wanted - had)}): give "
                "another --out, or drop --resume to train that sweep again"
            )
    return True


def _sweep_dir(opts: TransferOptions) -> Path:
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return Path(opts.out or PROJECT_ROOT / "logs" / "transfer" / f"{opts.regime}_{stamp}")


def seed_sweep_dir(out: Path, seed: int) -> Path:
    """The sweep directory of ``seed`` under the ``--out`` of a multi-seed run."""
    return Path(out) / f"seed{seed}"


def run_seed_folds(opts: TransferOptions) -> list[FoldRuns]:
    """:func:`run_folds` at seeds ``0..opts.seeds-1``, one :class:`FoldRuns` per seed in seed
    order. One seed runs as before: one multirun in ``opts.out``, the config's seed."""
    opts.check()
    if opts.seeds == 1:
        return [run_folds(dataclasses.replace(opts, ckpt=opts.seed_ckpt(0), seed_ckpts=()))]
    out = _sweep_dir(opts)
    return [
        run_folds(
            dataclasses.replace(
                opts,
                out=seed_sweep_dir(out, seed),
                seed=seed,
                ckpt=opts.seed_ckpt(seed),
                seed_ckpts=(),
            )
        )
        for seed in range(opts.seeds)
    ]
