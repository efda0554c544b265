#!/usr/bin/env python
"""Count a dataset's videos per split: listed, found on disk, missing; ``--decode``: and broken.

Composes ``conf/train.yaml`` with the given Hydra overrides, builds ``cfg.data`` and reads its
split lists (Sports-1M partitions, UCF-101 ``ucfTrainTestlist``), then prints one JSON object on
stdout. Works on lists alone (no video on disk: everything is counted missing)::

    python scripts/dataset_stats.py data=ucf101 data.root=/data/ucf101 data.fold=2
    python scripts/dataset_stats.py data=sports1m data.root=/data/sports1m
    python scripts/dataset_stats.py data=synthetic
    python scripts/dataset_stats.py --decode --workers 8 --bad-list bad.tsv data=sports1m ...

``--decode`` also decodes every frame of every video found (all splits; ``data.decoder``), in
``--workers`` processes (default 2), and writes the files that fail as ``path<TAB>reason`` lines
to ``--bad-list`` (default ``bad_videos.tsv`` in the current directory; an empty file when all
decode). A decoder that crashes its process costs only that file (it is listed with the signal).
The JSON gets a ``decode`` entry: files checked, bad per split, seconds, the list's path.

For the Sports-1M layout it also reports ``duplicate_ids`` (ids listed more than once in a
partition) and ``test_in_train`` (test ids also in the training partition: Karpathy et al. 2014,
Sec. 4.1 keep the splits apart; a training run refuses them unless
``data.allow_test_in_train=true``).

Nothing is generated, downloaded or written but the bad-file list (the synthetic set must already
exist); logs go to stderr. Bad input ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.errors import HydraException  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from omegaconf.errors import OmegaConfBaseException  # noqa: E402

from deepvideo.cli import USER_ERRORS, one_line  # noqa: E402
from deepvideo.data import build_datamodule  # noqa: E402
from deepvideo.data.faults import check_videos, write_bad_list  # noqa: E402

SPLITS = ("train", "val", "test")


def compose_config(overrides: Sequence[str]) -> DictConfig:
    """``conf/train.yaml`` with ``overrides``, composed without a Hydra run (no output dirs)."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3", job_name="dataset_stats"):
        return compose("train", overrides=list(overrides))


def dataset_stats(
    cfg: DictConfig, decode: bool = False, workers: int = 2, bad_list: str | Path = "bad_videos.tsv"
) -> dict[str, Any]:
    """Per-split counts of ``cfg.data`` from its lists and one scan of its video folder; with
    ``decode``, every video found decoded in ``workers`` processes and the bad ones written to
    ``bad_list``."""
    # load_splits reads the lists and indexes the local files; unlike setup() it does not stop
    # when no video is present (check_available), and nothing is decoded.
    datamodule = build_datamodule(cfg.data, prepare=False, check=False)
    if hasattr(datamodule, "allow_test_in_train"):
        # report test videos listed for training and repeated ids rather than refusing them
        datamodule.allow_test_in_train = True
        datamodule.allow_duplicate_ids = True
    class_names, splits = datamodule.load_splits()
    listed_labels = getattr(datamodule, "listed_labels", {})
    report: dict[str, Any] = {
        "dataset": datamodule.dataset_name,
        "root": str(datamodule.root),
        "video_folder": str(datamodule.video_folder()),
        "fold": cfg.data.get("fold"),
        "num_classes": len(class_names),
        "splits": {},
    }
    for split in SPLITS:
        counts = dict(datamodule.stats.get(split) or {})
        found = splits.get(split, [])
        counts["classes_found"] = len({label for item in found for label in item.labels})
        if split in listed_labels:
            counts["classes_listed"] = len(
                {lab for labels in listed_labels[split] for lab in labels}
            )
        report["splits"][split] = counts
    duplicates = getattr(datamodule, "duplicates", None)
    if duplicates is not None:
        # Sports-1M layout: ids listed twice in a partition, and test ids in the training list
        report["duplicate_ids"] = {
            split: {"count": len(ids), "examples": dict(list(ids.items())[:5])}
            for split, ids in duplicates.items()
        }
        overlap = list(getattr(datamodule, "test_in_train", []))
        report["test_in_train"] = {"count": len(overlap), "examples": overlap[:5]}
    report["total"] = {
        key: sum(report["splits"][s].get(key, 0) for s in SPLITS)
        for key in ("listed", "found", "missing", "multi_label")
    }
    if decode:
        paths = list(dict.fromkeys(str(v.path) for s in SPLITS for v in splits.get(s, [])))
        start = time.perf_counter()
        bad = check_videos(paths, decoder=datamodule.decoder, workers=workers)
        seconds = time.perf_counter() - start
        written = write_bad_list(bad_list, bad)
        broken = {b.path for b in bad}
        report["decode"] = {
            "decoder": datamodule.decoder,
            "workers": workers,
            "checked": len(paths),
            "bad": len(bad),
            "bad_by_split": {
                s: sum(str(v.path) in broken for v in splits.get(s, [])) for s in SPLITS
            },
            "seconds": round(seconds, 2),
            "bad_list": str(written),
            "examples": [{"path": b.path, "reason": b.reason} for b in bad[:5]],
        }
    return report


def parse_options(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """``--decode``, ``--workers N``, ``--bad-list PATH``; the rest are Hydra overrides."""
    options: dict[str, Any] = {"decode": False, "workers": 2, "bad_list": "bad_videos.tsv"}
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        name, _, value = arg.partition("=")
        if name == "--decode":
            options["decode"] = True
        elif name in ("--workers", "--bad-list"):
            value = value or next(items, "")
            if not value:
                raise ValueError(f"{name} needs a value")
            key = name.lstrip("-").replace("-", "_")
            options[key] = int(value) if key == "workers" else value
        else:
            rest.append(arg)
    return options, rest


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if {"-h", "--help"} & set(args):
        print(__doc__)
        return 0
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s"
    )
    try:
        options, overrides = parse_options(args)
        report = dataset_stats(compose_config(overrides), **options)
    except (*USER_ERRORS, OSError, ValueError, HydraException, OmegaConfBaseException) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
