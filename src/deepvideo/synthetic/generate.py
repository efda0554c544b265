"""Writing a whole dataset: videos (in parallel), partition and metadata files, and the manifest.

:func:`ensure_generated` is the entry point the DataModules use: it generates once, atomically,
and reuses an existing dataset whose ``manifest.json`` records the same generator version and
parameters.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from deepvideo.synthetic.catalogue import LONG, SyntheticClass, class_list
from deepvideo.synthetic.encode import encode_video
from deepvideo.synthetic.layouts import (
    YOUTUBE_URL,
    SyntheticConfig,
    VideoSpec,
    plan,
    seeded_rng,
)
from deepvideo.synthetic.long import plan_timeline
from deepvideo.synthetic.render import render_video

# The identity a manifest records. It names the module the generator first lived in and stays
# so: a dataset generated before the move to ``deepvideo.synthetic`` is still recognised.
GENERATOR = "deepvideo.data.synthetic"
GENERATOR_VERSION = "1.1"
# The long layout's own version, appended to GENERATOR_VERSION in its manifests: a change to what
# that layout renders bumps it alone, leaving the cached datasets of the other layouts valid.
LONG_VERSION = "1"


def generator_version(layout: str) -> str:
    """The version a manifest of ``layout`` records (and must record to be reused)."""
    return f"{GENERATOR_VERSION}+long.{LONG_VERSION}" if layout == LONG else GENERATOR_VERSION


def _make_one(job: tuple[VideoSpec, SyntheticConfig, str]) -> tuple[str, int, int]:
    spec, config, root = job
    target = Path(root) / spec.path
    target.parent.mkdir(parents=True, exist_ok=True)
    frames = render_video(spec, config)
    size = encode_video(frames, target, config)
    return spec.path, int(frames.shape[0]), size


# -------------------------------------------------------------------------------- generation
def _write_lines(path: Path, lines: Sequence[str], newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("".join(line + newline for line in lines))


def _csv(labels: Sequence[int]) -> str:
    return ",".join(str(label) for label in labels)


def _write_metadata(root: Path, config: SyntheticConfig, specs: Sequence[VideoSpec]) -> dict:
    classes = class_list(config.layout)
    _write_lines(root / "class_groups.tsv", [f"{c.name}\t{c.group}" for c in classes])
    counts: dict[str, Any] = {"classes": len(classes), "videos": len(specs)}
    if config.layout in ("sports1m", LONG):
        _write_lines(root / "labels.txt", [c.name for c in classes])
        order = seeded_rng([config.seed, 13])
        for split in ("train", "test"):
            rows = [s for s in specs if s.split == split]
            lines = [f"{YOUTUBE_URL}{s.key} {_csv(s.partition_labels)}" for s in rows]
            shuffled = [lines[int(i)] for i in order.permutation(len(lines))]
            _write_lines(root / "original" / f"{split}_partition.txt", shuffled)
            counts[split] = len(rows)
            counts[f"{split}_multi_label"] = sum(len(s.labels) > 1 for s in rows)
            counts[f"{split}_noisy_labels"] = sum(
                tuple(sorted(s.labels)) != s.partition_labels for s in rows
            )
        _write_lines(
            root / "ground_truth.tsv",
            ["id\tsplit\tclean_labels\tpartition_labels"]
            + [
                f"{s.key}\t{s.split}\t{_csv(sorted(s.labels))}\t{_csv(s.partition_labels)}"
                for s in specs
            ],
        )
        if config.layout == LONG:
            counts["events"] = _write_events(root / "events.tsv", config, specs, classes)
    else:
        lists = root / "ucfTrainTestlist"
        _write_lines(
            lists / "classInd.txt", [f"{i + 1} {c.name}" for i, c in enumerate(classes)], "\r\n"
        )
        for fold in (1, 2, 3):
            test = [s for s in specs if s.split == f"test{fold}"]
            train = [s for s in specs if s.split != f"test{fold}"]
            _write_lines(
                lists / f"trainlist0{fold}.txt",
                [f"{s.path} {s.labels[0] + 1}" for s in train],
                "\r\n",
            )
            _write_lines(lists / f"testlist0{fold}.txt", [s.path for s in test], "\r\n")
            counts[f"fold{fold}"] = {"train": len(train), "test": len(test)}
    return counts


def _write_events(
    path: Path, config: SyntheticConfig, specs: Sequence[VideoSpec], classes: list[SyntheticClass]
) -> int:
    """``events.tsv`` of the long layout: when each video's class-specific objects are on screen
    (frames ``first_frame`` to ``end_frame - 1``; seconds ``start`` to ``end``, end exclusive)."""
    rows = ["id\tsplit\tlabel\tevent\tlook\tfirst_frame\tend_frame\tstart\tend"]
    for spec in specs:
        timeline = plan_timeline(spec, config, classes)
        looks = classes[timeline.label].looks
        for number, event in enumerate(timeline.events):
            rows.append(
                f"{spec.key}\t{spec.split}\t{timeline.label}\t{number}\t"
                f"{looks[event.look].name}\t{event.first_frame}\t{event.end_frame}\t"
                f"{event.start:.3f}\t{event.end:.3f}"
            )
    _write_lines(path, rows)
    return len(rows) - 1


def _class_record(label: int, cls: SyntheticClass) -> dict[str, Any]:
    record = {
        "label": label,
        "name": cls.name,
        "group": cls.group,
        "appearance": asdict(cls.appearance),
        "motion": asdict(cls.motion),
    }
    if cls.looks:
        record["looks"] = [{"name": look.name, **asdict(look)} for look in cls.looks]
    return record


def _progress_lines(
    results: Iterator[tuple[str, int, int]], total: int, start: float, show: bool
) -> Iterator[tuple[str, int, int]]:
    step = max(1, total // 10)
    for done, result in enumerate(results, start=1):
        if show and (done % step == 0 or done == total):
            print(
                f"synthetic: {done}/{total} videos ({time.perf_counter() - start:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
        yield result


def generate(
    root: str | Path, config: SyntheticConfig, workers: int = 1, progress: bool = True
) -> dict[str, Any]:
    """Write the whole dataset under ``root`` (created; must be empty) and return the manifest.

    ``manifest.json`` is written last. Prefer :func:`ensure_generated`, which makes the result
    appear atomically and reuses an existing identical dataset.
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; generate() writes into an empty directory")
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    specs = plan(config)
    jobs = [(spec, config, str(root)) for spec in specs]
    workers = max(1, min(int(workers), len(jobs)))
    if workers == 1:
        results = list(_progress_lines(map(_make_one, jobs), len(jobs), start, progress))
    else:
        # fork is cheap and re-imports nothing; the children use only numpy and PyAV.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            mapped = pool.map(_make_one, jobs, chunksize=4)
            results = list(_progress_lines(mapped, len(jobs), start, progress))
    counts = _write_metadata(root, config, specs)
    counts["frames"] = sum(frames for _, frames, _ in results)
    counts["bytes"] = sum(size for _, _, size in results)
    manifest = {
        "generator": GENERATOR,
        "version": generator_version(config.layout),
        "layout": config.layout,
        "seed": config.seed,
        "params": config.params(),
        "counts": counts,
        "classes": [_class_record(i, c) for i, c in enumerate(class_list(config.layout))],
        "workers": workers,
        "seconds": round(time.perf_counter() - start, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_manifest(root: str | Path) -> dict[str, Any] | None:
    path = Path(root) / "manifest.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_generated(root: str | Path, config: SyntheticConfig) -> bool:
    """Whether ``root`` holds a complete dataset made by this generator version with ``config``."""
    return _matches(read_manifest(Path(root).expanduser()), config)


def _matches(manifest: dict[str, Any] | None, config: SyntheticConfig) -> bool:
    return (
        manifest is not None
        and manifest.get("generator") == GENERATOR
        and manifest.get("version") == generator_version(config.layout)
        and manifest.get("params") == config.params()
    )


def _mismatch_error(root: Path, manifest: dict[str, Any] | None, config: SyntheticConfig) -> str:
    if manifest is None:
        what = "is not empty and holds no synthetic-dataset manifest.json"
    else:
        wanted = config.params()
        have = manifest.get("params") or {}
        diff = [
            f"{key}={have.get(key)!r} (wanted {wanted[key]!r})"
            for key in wanted
            if have.get(key) != wanted[key]
        ]
        version = generator_version(config.layout)
        if manifest.get("version") != version:
            diff.insert(0, f"version={manifest.get('version')!r} (now {version!r})")
        what = "holds a synthetic dataset generated with different parameters: " + ", ".join(diff)
    return (
        f"data root {root} {what}; delete it (rm -r {root}) to regenerate, "
        "or choose another root (data.root=...)"
    )


def ensure_generated(
    root: str | Path, config: SyntheticConfig, workers: int = 1, progress: bool = True
) -> Path:
    """Generate the dataset under ``root`` once; return ``root``.

    Returns at once when ``root/manifest.json`` records the same generator version and parameters.
    Otherwise generates into a temporary sibling directory and renames it into place, so an
    interrupted run never leaves a half dataset that looks complete. A ``root`` holding anything
    else (another dataset, other parameters) raises ``FileExistsError`` naming it and the fix.
    """
    root = Path(root).expanduser()
    manifest = read_manifest(root)
    if _matches(manifest, config):
        return root
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(_mismatch_error(root, manifest, config))
    root.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    try:
        generate(scratch, config, workers=workers, progress=progress)
        if root.exists():
            root.rmdir()  # an empty directory (checked above)
        try:
            os.rename(scratch, root)
        except OSError:
            if _matches(read_manifest(root), config):  # another process finished first
                return root
            raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return root


def remove_dataset(root: str | Path) -> None:
    """Delete a generated dataset (refuses a directory that is not one, unless it is empty)."""
    root = Path(root)
    if not root.exists():
        return
    manifest = read_manifest(root)
    if manifest is None or manifest.get("generator") != GENERATOR:
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()
            return
        raise FileExistsError(
            f"{root} does not look like a generated synthetic dataset (no manifest.json from "
            f"{GENERATOR}); not deleting it, remove it yourself or choose another root"
        )
    shutil.rmtree(root)
