#!/usr/bin/env python
"""UCF-101 transfer (Karpathy et al. 2014, Sec. 4.2) on the three official folds, and its report.

Runs one Hydra multirun, ``python src/train.py -m experiment=transfer_<regime> data.fold=1,2,3``
(with ``pretrained.ckpt_path=CKPT`` and the checkpoint's ``model=`` and ``data.recipe.width``
unless given), then reads each fold's ``metrics.json`` and ``video_scores.pt`` and writes a
markdown report: per-fold video accuracy and the mean (Table 3), per-group mAP (Table 4) and
per-class AP. Extra arguments are Hydra overrides passed to every fold. Examples::

    python scripts/transfer_folds.py --regime top3 --ckpt SPORTS1M_RUN/checkpoints/last.ckpt \\
        data.root=/data/ucf101
    python scripts/transfer_folds.py --regime scratch model=slow_fusion data.root=/data/ucf101
    python scripts/transfer_folds.py --regime top3 --out logs/transfer/top3 --skip-train
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from deepvideo.cli import ConfigError, run_or_exit  # noqa: E402
from deepvideo.reports.transfer import load_fold_run, markdown_report  # noqa: E402
from deepvideo.transfer import REGIMES  # noqa: E402

log = logging.getLogger("transfer_folds")


def checkpoint_overrides(ckpt: Path, extra: Sequence[str]) -> list[str]:
    """``model=<name>`` and ``data.recipe.width=<w>`` of the checkpoint, unless in ``extra``."""
    if not ckpt.is_file():
        raise ConfigError(f"--ckpt {ckpt} does not exist; pass a deepvideo training checkpoint")
    stored = torch.load(ckpt, map_location="cpu", weights_only=False).get("deepvideo") or {}
    config = stored.get("config") or {}
    given = {o.split("=", 1)[0].lstrip("+~") for o in extra}
    out = []
    name = (config.get("model") or {}).get("name")
    if name and "model" not in given:
        out.append(f"model={name}")
    width = ((config.get("data") or {}).get("recipe") or {}).get("width")
    if width is not None and "data.recipe.width" not in given:
        out.append(f"data.recipe.width={width}")
    return out


def fold_dirs(sweep_dir: Path) -> list[tuple[int, Path]]:
    """(fold, job directory) of every finished job of the multirun in ``sweep_dir``."""
    found = []
    for config in sorted(sweep_dir.glob("*/.hydra/config.yaml")):
        job = config.parent.parent
        if (job / "metrics.json").is_file():
            fold = int(yaml.safe_load(config.read_text())["data"]["fold"])
            found.append((fold, job))
    return sorted(found)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--regime", required=True, choices=sorted(REGIMES))
    parser.add_argument("--ckpt", type=Path, help="pretrained checkpoint (not for scratch)")
    parser.add_argument("--folds", default="1,2,3", help="UCF-101 folds (default 1,2,3)")
    parser.add_argument("--out", type=Path, help="sweep directory (default logs/transfer/...)")
    parser.add_argument("--report", type=Path, help="markdown report (default OUT/report.md)")
    parser.add_argument("--skip-train", action="store_true", help="only rebuild the report")
    args, overrides = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    unknown = [o for o in overrides if o.startswith("--")]
    if unknown:
        parser.error(f"unknown options {unknown}; Hydra overrides look like key=value")
    if args.regime == "scratch" and args.ckpt is not None:
        parser.error("--regime scratch trains from a random initialisation: drop --ckpt")
    if args.regime != "scratch" and args.ckpt is None and not args.skip_train:
        parser.error(f"--regime {args.regime} needs --ckpt (a pretrained deepvideo checkpoint)")
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = args.out or ROOT / "logs" / "transfer" / f"{args.regime}_{stamp}"
    command = [
        sys.executable,
        str(ROOT / "src" / "train.py"),
        "-m",
        f"experiment=transfer_{args.regime}",
        f"data.fold={args.folds}",
        f"hydra.sweep.dir={out}",
    ]
    if args.ckpt is not None:
        ckpt = args.ckpt.resolve()
        command += [f"pretrained.ckpt_path={ckpt}", *checkpoint_overrides(ckpt, overrides)]
    command += list(overrides)
    if not args.skip_train:
        log.info("running %s", shlex.join(command))
        result = subprocess.run(command, cwd=ROOT)
        if result.returncode != 0:
            print(f"error: the multirun failed (exit {result.returncode})", file=sys.stderr)
            return result.returncode
    runs = fold_dirs(out)
    if not runs:
        raise ConfigError(f"no finished fold run (metrics.json) under {out}")
    folds = [load_fold_run(job, fold) for fold, job in runs]
    wanted = {int(f) for f in args.folds.split(",")}
    missing = sorted(wanted - {f.fold for f in folds})
    notes = [f"Missing folds: {missing}."] if missing else []
    report = markdown_report(args.regime, folds, command=shlex.join(command[1:]), notes=notes)
    path = args.report or out / "report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report)
    accuracy = [f.metrics.get("test/video_hit@1", float("nan")) for f in folds]
    print(
        f"{args.regime}: video accuracy per fold "
        + ", ".join(f"{f.fold}: {a:.3f}" for f, a in zip(folds, accuracy, strict=True))
        + f"; mean {sum(accuracy) / len(accuracy):.3f}; report {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_or_exit(main))
