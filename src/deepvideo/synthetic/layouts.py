"""What to render: the generator's parameters and the plan of every video of a layout.

Layouts
-------
``sports1m``::

    <root>/videos/<id>.mp4                    11-character YouTube-like ids, seeded and unique
    <root>/original/train_partition.txt       https://www.youtube.com/watch?v=<id> 3,7  (LF)
    <root>/original/test_partition.txt
    <root>/labels.txt                         class names, line 1 = label 0
    <root>/class_groups.tsv                   ClassName<TAB>Group
    <root>/ground_truth.tsv                   id, split, clean labels, partition labels (header)
    <root>/manifest.json                      version, parameters, seed, counts, time taken

``ucf101`` (its own class list; ``train_per_class``, ``test_per_class``, ``multi_label_fraction``
and ``label_noise`` do not apply)::

    <root>/<ClassName>/v_<ClassName>_gXX_cYY.avi
    <root>/ucfTrainTestlist/classInd.txt      "1 ClassName" (1-based, CRLF)
    <root>/ucfTrainTestlist/trainlist0{1,2,3}.txt   "ClassName/v_ClassName_g07_c01.avi 5" (CRLF)
    <root>/ucfTrainTestlist/testlist0{1,2,3}.txt    "ClassName/v_ClassName_g01_c01.avi" (CRLF)
    <root>/class_groups.tsv, <root>/manifest.json

with ``ucf_groups`` = 8 groups of ``ucf_min_clips``-``ucf_max_clips`` = 1-2 clips per class.
Clips of a group share their scene (background, colours, object, framing, lighting), as the
clips of one UCF-101 group share actor and place; fold k tests on groups {2k-1, 2k}, the other
groups (7 and 8 always) train. The real quirk is kept: class ``HandstandPushups`` lives in folder
``HandstandPushups/`` but its files are ``v_HandStandPushups_gXX_cYY.avi``.

``long`` (Ng et al. 2015's long videos): the files of ``sports1m`` exactly, with its own class
list (:mod:`deepvideo.synthetic.long`) and one class per video (``multi_label_fraction`` does not
apply; ``label_noise`` does), plus ``<root>/events.tsv``: when each video's class-specific objects
are on screen (one row per event: id, split, label, event, look, frames and seconds).

Determinism
-----------
Every video draws from its own generators, derived from ``(seed, split, index)`` (``ucf101``:
``(seed, class, group[, clip])``), and the labels, ids and durations are planned in the parent
process, so the result does not depend on ``workers``: the same seed and parameters give the
same partition files and bit-identical rendered frames. The encoded files are not always
bit-identical: libx264 through PyAV (single-threaded) was measured to encode the same frames
differently now and then, by a grey level or two after decoding (the MPEG-4 ``.avi`` files of the
UCF-101 layout were identical every time); ``tests/test_synthetic.py`` bounds the difference.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from deepvideo.synthetic.catalogue import ALL_LAYOUTS, LONG, SyntheticClass, class_list

YOUTUBE_URL = "https://www.youtube.com/watch?v="
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ID_LAST = "AEIMQUYcgkosw048"  # an 11-char id holds 64 bits: its last character carries 4 of them
SPLIT_CODES = {"train": 0, "test": 1}
# Frames of a short clip at the native rate (Karpathy et al. 2014's Slow Fusion input): the long
# layout keeps its events further apart than that.
SHORT_CLIP_FRAMES = 10
LONG_FIELDS = ("event_min_seconds", "event_max_seconds", "min_gap_seconds")
# fields added later, in params() only when set away from the value every earlier dataset used,
# so that datasets generated before them still match their configs
LATER_FIELDS = {"drift_radius": 0.2, "drift_speed": 1.0}


@dataclass
class SyntheticConfig:
    """Every parameter of the generator; the defaults are the project's default dataset."""

    layout: str = "sports1m"
    seed: int = 0
    train_per_class: int = 45
    test_per_class: int = 10
    height: int = 72
    width: int = 96
    fps: float = 15.0
    min_seconds: float = 2.5
    max_seconds: float = 6.0
    multi_label_fraction: float = 0.04
    label_noise: float = 0.02
    # encoding
    crf: int = 18
    preset: str = "veryfast"
    gop_seconds: float = 1.0
    mpeg4_qscale: int = 2
    # scene
    center_sigma: float = 0.10
    # a drifting object wraps around inside a disc of this radius (a fraction of the short side)
    # about its motion centre: the larger, the rarer a wrap inside a clip
    drift_radius: float = 0.2
    # a multiplier of every drift speed of the catalogue (DRIFT, SLOW, FAST short sides a second)
    drift_speed: float = 1.0
    jitter_px: int = 3
    texture_amplitude: float = 36.0
    min_distractors: int = 1
    max_distractors: int = 3
    # ucf101 layout
    ucf_groups: int = 8
    ucf_min_clips: int = 1
    ucf_max_clips: int = 2
    # long layout (LONG_FIELDS: in params() only when layout == "long", so that adding them left
    # the parameters, and so the cached datasets, of the other layouts as they were)
    event_min_seconds: float = 3.0
    event_max_seconds: float = 3.5
    min_gap_seconds: float = 3.1

    def __post_init__(self) -> None:
        for spec in fields(self):  # coerce YAML / CLI values (15 -> 15.0, "3" -> 3)
            value = getattr(self, spec.name)
            kind = {"int": int, "float": float, "str": str}[str(spec.type)]
            setattr(self, spec.name, kind(value))
        problems = []
        if self.layout not in ALL_LAYOUTS:
            problems.append(f"layout must be one of {ALL_LAYOUTS}, got {self.layout!r}")
        if self.height < 16 or self.width < 16 or self.height % 2 or self.width % 2:
            problems.append(
                f"height and width must be even and >= 16 (yuv420p), got {self.height}x{self.width}"
            )
        if self.train_per_class < 1 or self.test_per_class < 1:
            problems.append("train_per_class and test_per_class must be >= 1")
        if not 0 < self.fps <= 120:
            problems.append(f"fps must be in (0, 120], got {self.fps}")
        if not 0 < self.min_seconds <= self.max_seconds:
            problems.append("need 0 < min_seconds <= max_seconds")
        if not 0 <= self.multi_label_fraction <= 1 or not 0 <= self.label_noise <= 1:
            problems.append("multi_label_fraction and label_noise must be in [0, 1]")
        if not 0 <= self.min_distractors <= self.max_distractors:
            problems.append("need 0 <= min_distractors <= max_distractors")
        if self.ucf_groups < 6 or not 1 <= self.ucf_min_clips <= self.ucf_max_clips <= 99:
            problems.append("need ucf_groups >= 6 and 1 <= ucf_min_clips <= ucf_max_clips <= 99")
        if not 0 < self.drift_radius <= 0.45:
            problems.append(f"drift_radius must be in (0, 0.45], got {self.drift_radius}")
        if not 0 < self.drift_speed <= 4:
            problems.append(f"drift_speed must be in (0, 4], got {self.drift_speed}")
        if self.jitter_px < 0 or self.gop_seconds <= 0:
            problems.append("need jitter_px >= 0 and gop_seconds > 0")
        if self.layout == LONG and self.fps > 0:
            problems.extend(self._long_problems())
        if problems:
            raise ValueError("invalid SyntheticConfig: " + "; ".join(problems))

    def _long_problems(self) -> list[str]:
        problems = []
        if not 0 < self.event_min_seconds <= self.event_max_seconds:
            problems.append("need 0 < event_min_seconds <= event_max_seconds")
        if self.min_gap_seconds * self.fps < SHORT_CLIP_FRAMES:
            problems.append(
                f"min_gap_seconds * fps must be >= {SHORT_CLIP_FRAMES} so that a "
                f"{SHORT_CLIP_FRAMES}-frame clip at the native rate never shows two events, got "
                f"{self.min_gap_seconds} * {self.fps}"
            )
        # the shortest video (num_frames = round(seconds * fps)) must hold one cycle of an order
        # class: three events and three gaps (the gap across the loop point included)
        needed = 3 * (self.event_max_seconds + self.min_gap_seconds) + 0.5 / self.fps
        if self.min_seconds < needed:
            problems.append(
                f"the long layout needs min_seconds >= 3 * (event_max_seconds + min_gap_seconds)"
                f" + 0.5 / fps = {needed:.3f} (an order class's three events and their gaps in "
                f"the shortest video), got {self.min_seconds} (data=synthetic_long: 20-60 s)"
            )
        return problems

    def params(self) -> dict[str, Any]:
        """The parameters as plain JSON values (what the manifest stores and compares).

        The ``long`` layout's own fields (:data:`LONG_FIELDS`) appear only for that layout, and
        :data:`LATER_FIELDS` only when set to another value than the one they were added with.
        """
        values = asdict(self)
        if self.layout != LONG:
            for name in LONG_FIELDS:
                del values[name]
        for name, original in LATER_FIELDS.items():
            if values[name] == original:
                del values[name]
        return json.loads(json.dumps(values))

    @property
    def short_side(self) -> int:
        return min(self.height, self.width)


@dataclass(frozen=True)
class VideoSpec:
    """One video to render: where it goes, what it shows and the entropy of its generators."""

    path: str  # relative to the root
    labels: tuple[int, ...]  # clean labels: the classes whose objects appear (primary first)
    num_frames: int
    seed: tuple[int, ...]  # entropy of the clip generator (motion phases, jitter, flicker)
    scene_seed: tuple[int, ...] = ()  # entropy of the scene generator; () = derived from seed
    key: str = ""  # id (sports1m) or file stem (ucf101)
    split: str = ""
    partition_labels: tuple[int, ...] = ()


def seeded_rng(entropy: Sequence[int]) -> np.random.Generator:
    """A PCG64 generator seeded from ``entropy`` (every draw of the generator goes through one)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(entropy))))


def _frames_for(rng: np.random.Generator, config: SyntheticConfig) -> int:
    seconds = rng.uniform(config.min_seconds, config.max_seconds)
    return max(2, round(seconds * config.fps))


def _count(fraction: float, total: int) -> int:
    if fraction <= 0 or total == 0:
        return 0
    return min(total, max(1, round(fraction * total)))


def _youtube_ids(rng: np.random.Generator, count: int) -> list[str]:
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < count:
        body = "".join(ID_ALPHABET[i] for i in rng.integers(0, 64, size=10))
        candidate = body + ID_LAST[int(rng.integers(0, 16))]
        if candidate not in seen:
            seen.add(candidate)
            ids.append(candidate)
    return ids


def plan_sports1m(config: SyntheticConfig) -> list[VideoSpec]:
    """Every video of the ``sports1m`` layout, labels and durations included, in render order.

    Also the plan of the ``long`` layout (its own classes, the same files), with one class per
    video: ``multi_label_fraction`` does not apply there.
    """
    num_classes = len(class_list(config.layout))
    multi_label_fraction = 0.0 if config.layout == LONG else config.multi_label_fraction
    per_split = {"train": config.train_per_class, "test": config.test_per_class}
    ids = _youtube_ids(seeded_rng([config.seed, 11]), num_classes * sum(per_split.values()))
    label_rng = seeded_rng([config.seed, 7])
    specs: list[VideoSpec] = []
    for split, per_class in per_split.items():
        total = num_classes * per_class
        clean = [[index % num_classes] for index in range(total)]
        for index in label_rng.choice(total, _count(multi_label_fraction, total), False):
            first = clean[int(index)][0]
            second = int(label_rng.integers(0, num_classes - 1))
            clean[int(index)].append(second + (second >= first))
        listed = [list(labels) for labels in clean]
        if split == "train":
            for index in label_rng.choice(total, _count(config.label_noise, total), False):
                labels = listed[int(index)]
                slot = int(label_rng.integers(0, len(labels)))
                others = [k for k in range(num_classes) if k not in labels]
                labels[slot] = others[int(label_rng.integers(0, len(others)))]
        duration_rng = seeded_rng([config.seed, 5, SPLIT_CODES[split]])
        for index in range(total):
            video_id = ids.pop(0)
            specs.append(
                VideoSpec(
                    path=f"videos/{video_id}.mp4",
                    labels=tuple(clean[index]),
                    num_frames=_frames_for(duration_rng, config),
                    seed=(config.seed, 1, SPLIT_CODES[split], index),
                    key=video_id,
                    split=split,
                    partition_labels=tuple(sorted(listed[index])),
                )
            )
    return specs


def ucf_file(cls: SyntheticClass, group: int, clip: int) -> str:
    """``ClassName/v_ClassName_gXX_cYY.avi`` (with the file-name spelling of the class)."""
    return f"{cls.name}/v_{cls.file_name_token}_g{group:02d}_c{clip:02d}.avi"


def plan_ucf101(config: SyntheticConfig) -> list[VideoSpec]:
    """Every clip of the ``ucf101`` layout (class, group, clip order)."""
    classes = class_list("ucf101")
    plan_rng = seeded_rng([config.seed, 21])
    specs: list[VideoSpec] = []
    for label, cls in enumerate(classes):
        for group in range(1, config.ucf_groups + 1):
            clips = int(plan_rng.integers(config.ucf_min_clips, config.ucf_max_clips + 1))
            for clip in range(1, clips + 1):
                path = ucf_file(cls, group, clip)
                specs.append(
                    VideoSpec(
                        path=path,
                        labels=(label,),
                        num_frames=_frames_for(plan_rng, config),
                        seed=(config.seed, 3, label, group, clip),
                        scene_seed=(config.seed, 2, label, group),
                        key=Path(path).stem,
                        split="train" if group > 6 else f"test{(group + 1) // 2}",
                        partition_labels=(label,),
                    )
                )
    return specs


def plan(config: SyntheticConfig) -> list[VideoSpec]:
    """Every video of ``config.layout``, in render order (``long``: as ``sports1m``)."""
    return plan_ucf101(config) if config.layout == "ucf101" else plan_sports1m(config)
