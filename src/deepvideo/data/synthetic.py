"""A seeded synthetic video-classification benchmark of real encoded videos.

The built-in default dataset of the project: small enough to generate in well under a minute on
one core, laid out exactly like the real datasets (``layout="sports1m"`` or ``"ucf101"``), and
built so that the ablations of Karpathy et al. (CVPR 2014) and Ng et al. (2015) mean something.

Content
-------
* **Frames.** ``height x width`` = 72 x 96 by default (non-square on purpose: the data layer
  center-crops), 15 fps, RGB, durations uniform in [``min_seconds``, ``max_seconds``] = [2.5, 6] s.
  All geometry is expressed in units of the short side ``S`` and all speeds per second, so other
  sizes and frame rates give the same content; only the fine texture is fixed at 2 px.
* **Objects and classes.** Every video shows one object (two for multi-label videos) of its class
  on a cluttered background. A class is an *appearance* (a pool of shapes and a texture; the
  colour, size and static orientation are drawn from one distribution shared by every class) and
  a *motion*. Each class belongs to a group (``class_groups.tsv``):

  - ``motion``: the appearance is the same generic pool for all of them (disc / square / pentagon,
    plain, random colour and orientation) and the classes differ ONLY in motion: drift direction
    and/or speed, or no motion at all (``hover``). The motion is a wrap-around drift designed so
    that **the distribution of any single frame is identical across the motion-only classes**:
    the object's offset from its centre is drawn uniformly in a disc of radius ``0.2 S``, then it
    moves along the class direction at constant speed and wraps around inside the chord of that
    disc it lies on. The offset is uniform on the chord given the perpendicular coordinate, a
    wrap-around shift keeps it uniform, so at every frame the offset is uniform on the disc,
    whatever the direction or speed (a hovering object keeps its uniform offset); the orientation
    is static and uniform. There is no motion blur and no other per-frame cue, so a single-frame
    model cannot beat chance among these classes, while any model that compares frames can (the
    wrap jumps are rare next to the steady displacement).
  - ``appearance``: the classes differ only in how the object looks, and share one motion
    distribution ("wander": an Ornstein-Uhlenbeck walk around the centre, std ``0.05 S``, time
    constant 1 s, plus a slow random walk of the orientation). Three of them (``horizontal
    stripes``, ``vertical stripes``, ``checkerboard``) differ ONLY in a **fine texture** of period
    2 px in luminance (+-``texture_amplitude`` in R, G and B alike, so it survives yuv420p's
    chroma subsampling), locked to the rounded object position so it stays crisp. Each 2x2 block
    holds two bright and two dark pixels in all three, so a 2x-downsampled (2x2 average pooled)
    context stream sees the same plain object, while the full-resolution fovea tells them apart.
    The others differ in coarse shape (triangle, cross; ring and bar in the UCF-101 layout).
  - ``both``: appearance and motion combinations (a checkerboard object drifting down, a
    spinning triangle, a spinning cross): each is told apart from an appearance class only by its
    motion (``checkerboard``, ``triangle``, ``cross`` wander) and from a motion class only by its
    appearance.
* **Left-right flips.** Training and evaluation flip clips left-right (the papers' augmentation),
  so no class may be the mirror image of another: ``drift left`` / ``drift right`` or clockwise /
  counterclockwise spins would each be trained on the other's clips half of the time and could
  not be learned by any model. Horizontal motions are therefore one class, ``drift sideways``
  (left or right, drawn per video), spins turn either way, and the other directions are vertical
  (a flip keeps them). :func:`mirror_safe` checks a class list for this.
* **Camera bias.** Objects sit near the frame centre: the centre of an object's motion is the
  frame centre plus a Gaussian offset of std ``center_sigma`` = 10% of the short side (clipped at
  2 std), as in YouTube framing; the fovea stream of the multiresolution net can exploit it.
* **Nuisances** (class-independent, identical in distribution for every class): a camera jitter
  (an integer random walk of the whole frame within +-``jitter_px`` = 3 px, integer so that fine
  texture is not blurred), clutter (a low-frequency sinusoidal background texture and 1-3 soft
  distractor blobs moving in straight lines and bouncing off the borders), and brightness /
  colour variation (per-video gain, colour cast and offset, plus a slow per-frame flicker).
* **Multi-label.** A fraction ``multi_label_fraction`` (4%) of the videos of each split show the
  objects of two classes side by side and carry both labels (``sports1m`` layout only).
* **Label noise.** A fraction ``label_noise`` (2%) of the train videos carry a wrong label in the
  partition file (one of their labels replaced by another class); the clean labels are in
  ``ground_truth.tsv``; test labels are always clean (``sports1m`` layout only).
* **Encoding.** ``sports1m``: H.264 (``libx264``, yuv420p, ``crf`` 18, keyframe every
  ``gop_seconds`` = 1 s so random clip reads seek cheaply) in MP4. ``ucf101``: MPEG-4 part 2 in
  AVI with the ``XVID`` tag as in the real UCF-101 (fixed quantiser ``mpeg4_qscale`` = 2, same
  keyframe interval). The 2-px texture survives both (adjacent-row luminance differences on a
  striped object stay ~80 after decoding with decord).

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

Determinism
-----------
Every video draws from its own generators, derived from ``(seed, split, index)`` (``ucf101``:
``(seed, class, group[, clip])``), and the labels, ids and durations are planned in the parent
process, so the result does not depend on ``workers``: the same seed and parameters give the
same partition files and the same decoded frames (the encoders run single-threaded).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

GENERATOR = "deepvideo.data.synthetic"
GENERATOR_VERSION = "1.1"
LAYOUTS = ("sports1m", "ucf101")
GROUPS = ("motion", "appearance", "both")
YOUTUBE_URL = "https://www.youtube.com/watch?v="
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ID_LAST = "AEIMQUYcgkosw048"  # an 11-char id holds 64 bits: its last character carries 4 of them
GENERIC_SHAPES = ("disc", "square", "pentagon")
TEXTURES = ("plain", "hstripes", "vstripes", "checker")
SPLIT_CODES = {"train": 0, "test": 1}


# ------------------------------------------------------------------------------------ config
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
    jitter_px: int = 3
    texture_amplitude: float = 36.0
    min_distractors: int = 1
    max_distractors: int = 3
    # ucf101 layout
    ucf_groups: int = 8
    ucf_min_clips: int = 1
    ucf_max_clips: int = 2

    def __post_init__(self) -> None:
        for spec in fields(self):  # coerce YAML / CLI values (15 -> 15.0, "3" -> 3)
            value = getattr(self, spec.name)
            kind = {"int": int, "float": float, "str": str}[str(spec.type)]
            setattr(self, spec.name, kind(value))
        problems = []
        if self.layout not in LAYOUTS:
            problems.append(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
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
        if self.jitter_px < 0 or self.gop_seconds <= 0:
            problems.append("need jitter_px >= 0 and gop_seconds > 0")
        if problems:
            raise ValueError("invalid SyntheticConfig: " + "; ".join(problems))

    def params(self) -> dict[str, Any]:
        """The parameters as plain JSON values (what the manifest stores and compares)."""
        return json.loads(json.dumps(asdict(self)))

    @property
    def short_side(self) -> int:
        return min(self.height, self.width)


# ----------------------------------------------------------------------------------- classes
@dataclass(frozen=True)
class Appearance:
    """How an object looks: a shape drawn uniformly from ``shapes`` and a luminance texture."""

    shapes: tuple[str, ...] = GENERIC_SHAPES
    texture: str = "plain"


@dataclass(frozen=True)
class Motion:
    """How an object moves.

    ``kind``: ``wander`` (the shared motion of appearance classes), ``hover`` (no motion at all:
    the object stays where it is, its offset from the centre uniform in a disc of radius
    ``0.2 S``, like a drift's), ``drift`` (wrap-around translation along ``direction`` degrees,
    0 = right, 90 = up on screen, ``speed`` in short sides per second), ``spin`` (rotation in
    place, ``direction`` +1 = counterclockwise on screen, -1 = clockwise, ``speed`` in degrees per
    second) or ``oscillate`` (sinusoidal back and forth along ``direction`` degrees, ``speed`` =
    frequency range in Hz, amplitude ``0.15 S``).

    ``mirror``: each video takes the left-right mirror image of the motion with probability 1/2
    (a drift at ``d`` degrees goes at ``180 - d``; a spin turns the other way). Training and
    evaluation flip clips left-right (Karpathy et al. Sec. 3.3 / 4.1), so a class must mean the
    same thing in a flipped clip: :func:`mirror_safe` checks that every class list is closed
    under the flip.
    """

    kind: str = "wander"
    direction: float = 0.0
    speed: tuple[float, float] = (0.0, 0.0)
    mirror: bool = False

    def flipped(self) -> Motion:
        """This motion as seen in a left-right flipped video (the set of motions it draws from)."""
        if self.mirror or self.kind in ("wander", "hover"):
            return self
        if self.kind == "spin":
            return Motion(self.kind, -self.direction, self.speed)
        return Motion(self.kind, (180.0 - self.direction) % 360.0, self.speed)


@dataclass(frozen=True)
class SyntheticClass:
    name: str
    group: str
    appearance: Appearance
    motion: Motion
    file_token: str = ""  # ucf101 file-name spelling when it differs from the folder name

    @property
    def file_name_token(self) -> str:
        return self.file_token or self.name


WANDER = Motion("wander")
DRIFT = (0.20, 0.30)  # short sides per second: 1.0-1.4 px/frame at 72 px, 15 fps
SLOW = (0.10, 0.15)
FAST = (0.40, 0.55)
SPIN = (60.0, 120.0)  # degrees per second


def _generic(texture: str = "plain") -> Appearance:
    return Appearance(GENERIC_SHAPES, texture)


def _shape(shape: str, texture: str = "plain") -> Appearance:
    return Appearance((shape,), texture)


_SPORTS1M = (
    SyntheticClass("drift up", "motion", _generic(), Motion("drift", 90.0, DRIFT)),
    SyntheticClass("drift down", "motion", _generic(), Motion("drift", 270.0, DRIFT)),
    SyntheticClass("drift sideways", "motion", _generic(), Motion("drift", 0.0, DRIFT, True)),
    SyntheticClass("hover", "motion", _generic(), Motion("hover")),
    SyntheticClass("horizontal stripes", "appearance", _generic("hstripes"), WANDER),
    SyntheticClass("vertical stripes", "appearance", _generic("vstripes"), WANDER),
    SyntheticClass("checkerboard", "appearance", _generic("checker"), WANDER),
    SyntheticClass("triangle", "appearance", _shape("triangle"), WANDER),
    SyntheticClass("cross", "appearance", _shape("cross"), WANDER),
    SyntheticClass(
        "checkerboard drifting down", "both", _generic("checker"), Motion("drift", 270.0, DRIFT)
    ),
    SyntheticClass(
        "spinning triangle", "both", _shape("triangle"), Motion("spin", 1.0, SPIN, True)
    ),
    SyntheticClass("spinning cross", "both", _shape("cross"), Motion("spin", 1.0, SPIN, True)),
)

_UCF101 = (
    SyntheticClass("BarsPlain", "appearance", _shape("bar"), WANDER),
    SyntheticClass("BarsStriped", "appearance", _shape("bar", "hstripes"), WANDER),
    SyntheticClass(
        "CheckerDriftSideways", "both", _generic("checker"), Motion("drift", 0.0, DRIFT, True)
    ),
    SyntheticClass("DriftDownFast", "motion", _generic(), Motion("drift", 270.0, FAST)),
    SyntheticClass("DriftDownSlow", "motion", _generic(), Motion("drift", 270.0, SLOW)),
    SyntheticClass("DriftSideways", "motion", _generic(), Motion("drift", 0.0, DRIFT, True)),
    SyntheticClass("DriftUp", "motion", _generic(), Motion("drift", 90.0, DRIFT)),
    SyntheticClass(
        "HandstandPushups",
        "both",
        _shape("cross"),
        Motion("oscillate", 90.0, (0.8, 1.2)),
        file_token="HandStandPushups",
    ),
    SyntheticClass("Rings", "appearance", _shape("ring"), WANDER),
    SyntheticClass("SpinningCrosses", "both", _shape("cross"), Motion("spin", 1.0, SPIN, True)),
)


def mirror_safe(classes: Sequence[SyntheticClass]) -> list[str]:
    """Problems that would make a class list ambiguous under left-right flips ([] = none).

    A class whose flipped motion is another class's motion with the same appearance (``drift
    left`` / ``drift right``, clockwise / counterclockwise spin) cannot be learned with flip
    augmentation: half of its training clips look exactly like the other class. A class whose
    flipped motion is no class at all would be trained on clips its name does not describe.
    """
    problems = []
    for cls in classes:
        flipped = cls.motion.flipped()
        if flipped != cls.motion:
            twins = [
                o.name for o in classes if o.motion == flipped and o.appearance == cls.appearance
            ]
            problems.append(
                f"{cls.name!r}: its left-right mirror image is "
                + (f"class {twins[0]!r}" if twins else "not the same motion")
                + " (set Motion(mirror=True) or use a flip-invariant direction)"
            )
    return problems


def class_list(layout: str) -> list[SyntheticClass]:
    """The classes of a layout, in label order (``ucf101``: alphabetical, as ``classInd.txt``)."""
    if layout == "sports1m":
        return list(_SPORTS1M)
    if layout == "ucf101":
        return sorted(_UCF101, key=lambda c: c.name.lower())
    raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")


# -------------------------------------------------------------------------------- video plan
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


def _rng(entropy: Sequence[int]) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(entropy))))


def _generators(spec: VideoSpec) -> tuple[np.random.Generator, np.random.Generator]:
    if spec.scene_seed:
        return _rng(spec.scene_seed), _rng(spec.seed)
    scene, clip = np.random.SeedSequence(list(spec.seed)).spawn(2)
    return np.random.Generator(np.random.PCG64(scene)), np.random.Generator(np.random.PCG64(clip))


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
    """Every video of the ``sports1m`` layout, labels and durations included, in render order."""
    num_classes = len(class_list("sports1m"))
    per_split = {"train": config.train_per_class, "test": config.test_per_class}
    ids = _youtube_ids(_rng([config.seed, 11]), num_classes * sum(per_split.values()))
    label_rng = _rng([config.seed, 7])
    specs: list[VideoSpec] = []
    for split, per_class in per_split.items():
        total = num_classes * per_class
        clean = [[index % num_classes] for index in range(total)]
        for index in label_rng.choice(total, _count(config.multi_label_fraction, total), False):
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
        duration_rng = _rng([config.seed, 5, SPLIT_CODES[split]])
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
    plan_rng = _rng([config.seed, 21])
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
    return plan_sports1m(config) if config.layout == "sports1m" else plan_ucf101(config)


# ----------------------------------------------------------------------------------- scenes
@dataclass
class ObjectTrack:
    """An object's appearance and its per-frame pose in canvas coordinates."""

    label: int
    shape: str
    texture: str
    radius: float
    color: np.ndarray  # (3,) RGB
    x: np.ndarray  # (T,) centre, canvas pixels
    y: np.ndarray
    theta: np.ndarray  # (T,) radians, counterclockwise on screen


@dataclass
class ScenePlan:
    """Everything :func:`render_video` draws; ``objects`` positions are in canvas pixels."""

    margin: int
    background: np.ndarray  # (Hc, Wc, 3) float32
    blobs: list[tuple[np.ndarray, np.ndarray, float, np.ndarray]]  # x(T), y(T), sigma, rgb amp
    objects: list[ObjectTrack]
    jitter: np.ndarray  # (T, 2) integer (dy, dx) of the crop window
    gain: np.ndarray  # (T, 3) per-frame, per-channel gain
    offset: float

    def frame_positions(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each object's centre per frame in output-frame pixels (x, y), camera jitter included."""
        out = []
        for obj in self.objects:
            out.append(
                (
                    obj.x - self.margin - self.jitter[:, 1],
                    obj.y - self.margin - self.jitter[:, 0],
                )
            )
        return out


def _luma(rgb: np.ndarray) -> float:
    return float(rgb @ np.array([0.299, 0.587, 0.114]))


def _hue_color(rng: np.random.Generator, luma: float, saturation: float) -> np.ndarray:
    hue = rng.uniform(0.0, 1.0)
    channels = np.array([0.0, 2.0 / 3.0, 1.0 / 3.0])  # R, G, B phase of the colour wheel
    unit = 1.0 - saturation + saturation * (0.5 + 0.5 * np.cos(2 * np.pi * (hue - channels)))
    return unit * (luma / _luma(unit))


def _wrap(values: np.ndarray, half: np.ndarray | float) -> np.ndarray:
    """Wrap into [-half, half)."""
    span = 2.0 * np.asarray(half)
    return np.mod(values + half, np.maximum(span, 1e-9)) - half


def _uniform_disc(rng: np.random.Generator, radius: float) -> tuple[float, float]:
    """A point uniform in the disc of ``radius`` around the origin."""
    r = radius * math.sqrt(rng.uniform())
    phi = rng.uniform(0.0, 2.0 * np.pi)
    return r * math.cos(phi), r * math.sin(phi)


def _mirrored(motion: Motion, rng: np.random.Generator) -> bool:
    """Whether this video shows the left-right mirror image of a ``mirror`` motion (p = 1/2)."""
    return motion.mirror and rng.uniform() < 0.5


def _motion(
    motion: Motion,
    rng: np.random.Generator,
    num_frames: int,
    config: SyntheticConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (dx, dy) in pixels from the motion centre (screen axes, y down) and angle offsets."""
    side = config.short_side
    fps = config.fps
    t = np.arange(num_frames, dtype=np.float64)
    zeros = np.zeros(num_frames)
    if motion.kind == "drift":
        radius = 0.2 * side
        # A point uniform in the disc, in (along, across) coordinates of the drift direction.
        along0, across = _uniform_disc(rng, radius)
        half = math.sqrt(max(radius**2 - across**2, 0.0))
        speed = rng.uniform(*motion.speed) * side / fps  # pixels per frame
        along = _wrap(along0 + speed * t, half) if half > 0 else zeros
        angle = math.radians(
            180.0 - motion.direction if _mirrored(motion, rng) else motion.direction
        )
        ux, uy = math.cos(angle), -math.sin(angle)  # screen axes, y down
        return along * ux - across * uy, along * uy + across * ux, zeros
    if motion.kind == "spin":
        x, y = _uniform_disc(rng, 0.2 * side)
        sign = math.copysign(1, motion.direction) * (-1 if _mirrored(motion, rng) else 1)
        omega = math.radians(rng.uniform(*motion.speed)) / fps * sign
        return zeros + x, zeros + y, omega * t
    if motion.kind == "hover":
        x, y = _uniform_disc(rng, 0.2 * side)
        return zeros + x, zeros + y, zeros
    if motion.kind == "oscillate":
        amplitude = 0.15 * side
        r = 0.05 * side * math.sqrt(rng.uniform())
        phi = rng.uniform(0.0, 2.0 * np.pi)
        freq = rng.uniform(*motion.speed) / fps
        phase = rng.uniform(0.0, 2.0 * np.pi)
        s = amplitude * np.sin(2 * np.pi * freq * t + phase)
        angle = math.radians(motion.direction)
        ux, uy = math.cos(angle), -math.sin(angle)
        return r * math.cos(phi) + s * ux, r * math.sin(phi) + s * uy, zeros
    if motion.kind == "wander":
        sigma = 0.05 * side
        a = math.exp(-1.0 / fps)  # 1 s time constant
        noise = rng.standard_normal((num_frames, 2)) * sigma * math.sqrt(1 - a * a)
        noise[0] = rng.standard_normal(2) * sigma  # start in the stationary distribution
        path = np.empty((num_frames, 2))
        path[0] = noise[0]
        for i in range(1, num_frames):
            path[i] = a * path[i - 1] + noise[i]
        turn = np.cumsum(rng.standard_normal(num_frames)) * math.radians(10.0) / math.sqrt(fps)
        return path[:, 0], path[:, 1], turn
    raise ValueError(f"unknown motion kind {motion.kind!r}")


def plan_scene(
    spec: VideoSpec, config: SyntheticConfig, classes: Sequence[SyntheticClass] | None = None
) -> ScenePlan:
    """Draw every parameter of one video (cheap; no pixels)."""
    classes = list(classes) if classes is not None else class_list(config.layout)
    scene, clip = _generators(spec)
    h, w, side, n = config.height, config.width, config.short_side, spec.num_frames
    margin = config.jitter_px
    hc, wc = h + 2 * margin, w + 2 * margin
    ys, xs = np.mgrid[0:hc, 0:wc].astype(np.float32)

    # Background: base colour + three low-frequency sinusoids with per-channel amplitudes.
    bg_luma = scene.uniform(40.0, 200.0)
    background = np.broadcast_to(
        _hue_color(scene, bg_luma, scene.uniform(0.0, 0.5)).astype(np.float32), (hc, wc, 3)
    ).copy()
    for _ in range(3):
        angle = scene.uniform(0.0, 2.0 * np.pi)
        period = scene.uniform(0.5, 1.5) * side
        wave = np.sin(
            (np.cos(angle) * xs + np.sin(angle) * ys) * (2 * np.pi / period)
            + scene.uniform(0.0, 2.0 * np.pi)
        )
        background += wave[..., None] * scene.uniform(-20.0, 20.0, size=3).astype(np.float32)

    # Distractor blobs: soft Gaussians on straight, bouncing paths.
    blobs = []
    t = np.arange(n, dtype=np.float64)
    for _ in range(int(scene.integers(config.min_distractors, config.max_distractors + 1))):
        sigma = scene.uniform(0.05, 0.09) * side
        amp = _hue_color(scene, 1.0, scene.uniform(0.3, 1.0))
        amp = amp / np.abs(amp).max() * scene.uniform(20.0, 45.0) * scene.choice([-1.0, 1.0])
        speed = clip.uniform(0.0, 0.3) * side / config.fps
        heading = clip.uniform(0.0, 2.0 * np.pi)
        bx = _bounce(clip.uniform(0, wc) + speed * math.cos(heading) * t, wc)
        by = _bounce(clip.uniform(0, hc) + speed * math.sin(heading) * t, hc)
        blobs.append((bx, by, float(sigma), amp.astype(np.float32)))

    # Objects: the first at the (camera-biased) centre, a second one beside it if multi-label.
    sigma = config.center_sigma * side
    centre = np.array([margin + w / 2.0, margin + h / 2.0]) + np.clip(
        scene.standard_normal(2) * sigma, -2 * sigma, 2 * sigma
    )
    spread = 0.22 * side * (1 if scene.uniform() < 0.5 else -1)
    objects = []
    for slot, label in enumerate(spec.labels):
        cls = classes[label]
        shape = cls.appearance.shapes[int(scene.integers(0, len(cls.appearance.shapes)))]
        radius = scene.uniform(0.13, 0.17) * side
        while True:  # keep the object visible against the background
            obj_luma = scene.uniform(75.0, 160.0)
            if abs(obj_luma - bg_luma) >= 35.0:
                break
        color = _hue_color(scene, obj_luma, scene.uniform(0.25, 0.7))
        theta0 = scene.uniform(0.0, 2.0 * np.pi)
        dx, dy, dtheta = _motion(cls.motion, clip, n, config)
        cx = centre[0] + (0.0 if len(spec.labels) == 1 else spread * (1 if slot else -1))
        objects.append(
            ObjectTrack(
                label=label,
                shape=shape,
                texture=cls.appearance.texture,
                radius=float(radius),
                color=color.astype(np.float32),
                x=cx + dx,
                y=centre[1] + dy,
                theta=np.mod(theta0 + dtheta, 2.0 * np.pi),
            )
        )

    # Camera jitter: an integer random walk of the crop window, reflected at +-margin.
    jitter = np.zeros((n, 2), dtype=np.int64)
    if margin:
        steps = clip.choice([-1, 0, 1], size=(n, 2), p=[0.2, 0.6, 0.2])
        pos = clip.integers(-1, 2, size=2)
        for i in range(n):
            pos = pos + steps[i] if i else pos
            for axis in range(2):
                if abs(pos[axis]) > margin:
                    pos[axis] = int(np.sign(pos[axis])) * (2 * margin - abs(pos[axis]))
            jitter[i] = pos

    # Lighting: per-video gain, colour cast and offset; slow per-frame flicker.
    flicker = 1.0 + np.clip(np.cumsum(clip.standard_normal(n)) * 0.004, -0.04, 0.04)
    cast = scene.uniform(0.85, 1.15) * scene.uniform(0.93, 1.07, size=3)
    gain = (flicker[:, None] * cast[None, :]).astype(np.float32)
    offset = float(scene.uniform(-10.0, 10.0))
    return ScenePlan(margin, background, blobs, objects, jitter, gain, offset)


def _bounce(values: np.ndarray, size: float) -> np.ndarray:
    period = np.mod(values, 2 * size)
    return np.where(period < size, period, 2 * size - period)


def _sdf(shape: str, u: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (pixels, < 0 inside) of a shape of radius ``r`` in its own frame."""
    if shape == "disc":
        return np.hypot(u, v) - 0.92 * r
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) - 0.8 * r
    if shape == "bar":
        return np.maximum(np.abs(u) - 1.15 * r, np.abs(v) - 0.42 * r)
    if shape == "cross":
        arm = 0.34 * r
        return np.minimum(
            np.maximum(np.abs(u) - r, np.abs(v) - arm), np.maximum(np.abs(u) - arm, np.abs(v) - r)
        )
    if shape == "ring":
        return np.abs(np.hypot(u, v) - 0.7 * r) - 0.3 * r
    sides = {"triangle": 3, "pentagon": 5}.get(shape)
    if sides is None:
        raise ValueError(f"unknown shape {shape!r}")
    scale = 1.15 if sides == 3 else 1.0
    apothem = scale * r * math.cos(math.pi / sides)
    dist = np.full(u.shape, -np.inf)
    for k in range(sides):
        a = 2 * math.pi * k / sides + math.pi / 2
        dist = np.maximum(dist, u * math.cos(a) + v * math.sin(a))
    return dist - apothem


def _texture(kind: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    """+-1 pattern of period 2 px on integer (object-locked) pixel coordinates, or None."""
    if kind == "plain":
        return None
    if kind == "hstripes":
        pattern = np.add.outer(rows % 2, 0 * cols)
    elif kind == "vstripes":
        pattern = np.add.outer(0 * rows, cols % 2)
    elif kind == "checker":
        pattern = np.add.outer(rows, cols) % 2
    else:
        raise ValueError(f"unknown texture {kind!r}")
    return (2.0 * pattern - 1.0).astype(np.float32)


def draw(scene: ScenePlan, config: SyntheticConfig) -> np.ndarray:
    """Render a planned scene to ``(T, H, W, 3)`` uint8 frames."""
    n = scene.jitter.shape[0]
    hc, wc = scene.background.shape[:2]
    canvas = np.empty((n, hc, wc, 3), dtype=np.float32)
    canvas[:] = scene.background
    for bx, by, sigma, amp in scene.blobs:
        reach = 3.0 * sigma
        for i in range(n):
            x0, x1 = max(0, math.floor(bx[i] - reach)), min(wc, math.ceil(bx[i] + reach) + 1)
            y0, y1 = max(0, math.floor(by[i] - reach)), min(hc, math.ceil(by[i] + reach) + 1)
            gx = np.exp(-0.5 * ((np.arange(x0, x1) - bx[i]) / sigma) ** 2).astype(np.float32)
            gy = np.exp(-0.5 * ((np.arange(y0, y1) - by[i]) / sigma) ** 2).astype(np.float32)
            canvas[i, y0:y1, x0:x1] += np.multiply.outer(np.outer(gy, gx), amp)
    amplitude = config.texture_amplitude
    for obj in scene.objects:
        reach = obj.radius * 1.2 + 2.0
        cos, sin = np.cos(obj.theta), np.sin(obj.theta)
        for i in range(n):
            cx, cy = float(obj.x[i]), float(obj.y[i])
            x0, x1 = max(0, math.floor(cx - reach)), min(wc, math.ceil(cx + reach) + 1)
            y0, y1 = max(0, math.floor(cy - reach)), min(hc, math.ceil(cy + reach) + 1)
            if x0 >= x1 or y0 >= y1:
                continue
            px = np.arange(x0, x1)
            py = np.arange(y0, y1)
            dx = (px - cx)[None, :]
            dy = (cy - py)[:, None]  # math axes: up is positive
            u = cos[i] * dx + sin[i] * dy
            v = -sin[i] * dx + cos[i] * dy
            coverage = np.clip(0.5 - _sdf(obj.shape, u, v, obj.radius), 0.0, 1.0)
            alpha = coverage.astype(np.float32)[..., None]
            pattern = _texture(obj.texture, py - round(cy), px - round(cx))
            color = np.broadcast_to(obj.color, (y1 - y0, x1 - x0, 3))
            if pattern is not None:
                color = color + amplitude * pattern[..., None]
            patch = canvas[i, y0:y1, x0:x1]
            patch += alpha * (color - patch)
    canvas *= scene.gain[:, None, None, :]
    canvas += scene.offset
    h, w = hc - 2 * scene.margin, wc - 2 * scene.margin
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        top, left = scene.margin + scene.jitter[i]
        out[i] = np.clip(np.rint(canvas[i, top : top + h, left : left + w]), 0.0, 255.0)
    return out


def render_video(
    spec: VideoSpec, config: SyntheticConfig, classes: Sequence[SyntheticClass] | None = None
) -> np.ndarray:
    """The frames of one video as ``(T, H, W, 3)`` uint8 RGB, without encoding."""
    return draw(plan_scene(spec, config, classes), config)


def make_spec(
    config: SyntheticConfig,
    labels: Sequence[int],
    index: int,
    num_frames: int | None = None,
    split: str = "train",
) -> VideoSpec:
    """A free-standing spec (for analysis and tests), seeded like video ``index`` of ``split``."""
    frames = num_frames if num_frames is not None else round(config.max_seconds * config.fps)
    return VideoSpec(
        path="",
        labels=tuple(labels),
        num_frames=frames,
        seed=(config.seed, 1, SPLIT_CODES.get(split, 9), index),
        split=split,
    )


# ---------------------------------------------------------------------------------- encoding
def encode_video(frames: np.ndarray, path: str | Path, config: SyntheticConfig) -> int:
    """Write ``(T, H, W, 3)`` uint8 frames; the codec follows the suffix (.mp4 H.264, .avi XVID)."""
    import av

    path = Path(path)
    gop = max(1, round(config.gop_seconds * config.fps))
    rate = Fraction(config.fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        if path.suffix == ".avi":
            stream = container.add_stream("mpeg4", rate=rate)
            stream.options = {
                "g": str(gop),
                "flags": "+qscale",
                "global_quality": str(config.mpeg4_qscale * 118),  # FF_QP2LAMBDA
            }
            stream.codec_context.codec_tag = "XVID"
        else:
            stream = container.add_stream("libx264", rate=rate)
            stream.options = {
                "crf": str(config.crf),
                "preset": config.preset,
                "g": str(gop),
                "keyint_min": str(gop),
            }
        stream.width = frames.shape[2]
        stream.height = frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1  # deterministic bytes, and workers parallelise
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.stat().st_size


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
    if config.layout == "sports1m":
        _write_lines(root / "labels.txt", [c.name for c in classes])
        order = _rng([config.seed, 13])
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
        "version": GENERATOR_VERSION,
        "layout": config.layout,
        "seed": config.seed,
        "params": config.params(),
        "counts": counts,
        "classes": [
            {
                "label": i,
                "name": c.name,
                "group": c.group,
                "appearance": asdict(c.appearance),
                "motion": asdict(c.motion),
            }
            for i, c in enumerate(class_list(config.layout))
        ],
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
        and manifest.get("version") == GENERATOR_VERSION
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
        if manifest.get("version") != GENERATOR_VERSION:
            diff.insert(0, f"version={manifest.get('version')!r} (now {GENERATOR_VERSION!r})")
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
