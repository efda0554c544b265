"""The ``long`` layout: long videos whose evidence is rare in time or lies in the order of events.

Built so that the findings of Ng et al. 2015 ("Beyond Short Snippets", Sec. 1, 3, 4.1) can be
measured on a 2-core CPU: a short clip misses most of a video's story, 30 frames at 1 fps over the
video see it, and max pooling over time cannot tell classes that differ only in the order of
their events while an LSTM can. The files on disk are Sports-1M's (:mod:`~.layouts`); the classes
are in :mod:`~.catalogue` (``class_list("long")``).

Scene
-----
Every video shows the same scene distribution as the other layouts (background, distractor blobs,
camera jitter, lighting; :mod:`~.render`) and, all along, a **generic object**: a greyish
(saturation <= 0.25) disc, square or pentagon wandering on one side of the frame centre. The
other side (left or right, drawn per video, so a left-right flip maps the distribution onto
itself) shows the **class-specific objects** (:class:`~.catalogue.Look`: a shape in a fixed,
saturated hue) at the times planned by :func:`plan_timeline`; nothing else depends on the class.

Classes (``class_groups.tsv``)
------------------------------
* ``window`` (4): the class's object is on screen **once**, for ``event_min_seconds`` -
  ``event_max_seconds`` = 3-3.5 s, starting at a uniformly random time, inside ``[0, duration)``.
  The rest of the video is the same for every class of the group.
* ``order`` (4, two sets of three objects): objects A, B, C are on screen one at a time, again and
  again in the class's **cyclic order**, A-B-C (class ``triangle-bar-hexagon``) or A-C-B (class
  ``triangle-hexagon-bar``); the same for ``star-ring-diamond`` / ``star-diamond-ring``. Ng et
  al.'s data rule (Sec. 4.1, "Data Extraction") repeats a short video from its start, so an
  example may see a video's events cyclically: with two events, A-B and B-A would be one cyclic
  order, hence three. A video of ``D`` seconds holds ``k = 3 * max(1, floor(D / (3 * (
  event_max_seconds + min_gap_seconds))))`` events, a whole number of cycles, so the loop point
  keeps the cycle too; event ``i`` lies in the ``i``-th of ``k`` equal slots, at a random offset
  that keeps every gap (the one across the loop point included) >= ``min_gap_seconds`` = 3.1 s,
  more than the 2 s of a 10-frame clip at the native 5 fps. The first event is A, B or C with
  probability 1/3 each, so every object appears in every slot equally often in both classes of a
  set: **any single frame, and any set of frames without their order, has the same distribution
  in both classes**; two consecutive events identify the class (A-B, B-C, C-A vs A-C, C-B, B-A).
  A model that pools frame features over time without their order (max or average pooling) can
  at best tell the set (50% within the group); an LSTM can tell the class.
* ``appearance`` (4, the control): the class's object is on screen all along.

Flips: every shape is its own mirror image and its orientation is random
(:func:`~.catalogue.mirror_safe`), a flip keeps the time order, and the side of the class-specific
objects is random, so every class means the same in a left-right flipped example. (A time reversal would turn A-B-C
into C-B-A, which is A-C-B cyclically: the order classes forbid reversing clips in time.)

Timing, measured on the shipped plan (``conf/data/synthetic_long.yaml``: 5 fps native, 20-60 s,
mean 40 s, 27% under 30 s), 200 random draws for each of its 200 window and 200 order videos,
with ``deepvideo.data.sampling`` and the configs' rules (for the README; asserted only loosely):

* a random 10-frame clip at the native rate shows a window class's object in 14% of draws (22%
  in videos under 30 s); one of 20 such clips (Karpathy et al.'s test-time average) in 94% of
  the videos;
* a 30-frame 1 fps example (random start, looped when the video is shorter than 30 s) shows it
  in >= 1 frame in 82% of draws (>= 2 frames: 79%; always in videos under 30 s, 76% in longer
  ones); one of 4 examples (``ng2015.test_examples``) in 97% of the videos;
* a 30-frame 1 fps example of an order class shows two consecutive events, so its class, in 100%
  of draws (3.5 distinct events on average); a 10-frame native clip shows one event in 61% of
  draws and never two (by construction).

Generating the shipped dataset (600 videos, 119k frames) took 49 s with 2 processes on a 2-core
CPU; it takes 46 MiB on disk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deepvideo.synthetic.catalogue import GENERIC_SHAPES, WANDER, SyntheticClass, class_list
from deepvideo.synthetic.layouts import SyntheticConfig, VideoSpec
from deepvideo.synthetic.render import (
    ObjectTrack,
    ScenePlan,
    _motion,
    camera_centre,
    camera_jitter,
    hue_color,
    lighting,
    object_luma,
    scene_background,
    scene_blobs,
)

# The two objects sit this far (short sides) left and right of the camera-biased centre; the
# centre's Gaussian offset is clipped at 1 std (not 2 as with one object) and the objects are a
# little smaller than the other layouts' (0.12-0.15 S), so that both stay mostly inside the 64x64
# crops of the 72x72 centre square the data layer takes.
SPREAD = 0.18
RADIUS = (0.12, 0.15)
GENERIC_SATURATION = (0.0, 0.25)
LOOK_SATURATION = (0.65, 0.8)
HUE_JITTER = 0.02  # +- on the colour wheel, per video
GENERIC_LABEL = -1  # ObjectTrack.label of the generic object


@dataclass(frozen=True)
class Event:
    """One stretch of time a class-specific object is on screen.

    ``look``: index into the class's ``looks``. ``start`` / ``end``: seconds, ``end`` exclusive.
    The object is drawn in frames ``first_frame`` to ``end_frame - 1`` (frame ``f`` is at
    ``f / fps`` seconds).
    """

    look: int
    start: float
    end: float
    first_frame: int
    end_frame: int

    @property
    def frames(self) -> range:
        return range(self.first_frame, self.end_frame)


@dataclass(frozen=True)
class Timeline:
    """When the class-specific objects of one video are on screen (no pixels)."""

    label: int
    group: str
    num_frames: int
    fps: float
    events: tuple[Event, ...]

    @property
    def duration(self) -> float:
        """Seconds: ``num_frames / fps``."""
        return self.num_frames / self.fps

    def mask(self, look: int | None = None) -> np.ndarray:
        """``(T,)`` bool: the frames showing an event (of ``look`` only, if given)."""
        shown = np.zeros(self.num_frames, dtype=bool)
        for event in self.events:
            if look is None or event.look == look:
                shown[event.first_frame : event.end_frame] = True
        return shown

    def event_at(self) -> np.ndarray:
        """``(T,)`` int: the index of the event on screen at every frame, -1 for none."""
        index = np.full(self.num_frames, -1, dtype=np.int64)
        for i, event in enumerate(self.events):
            index[event.first_frame : event.end_frame] = i
        return index


def _generators(spec: VideoSpec) -> tuple[np.random.Generator, ...]:
    """Independent scene, clip and timeline generators of one video (from its ``seed``)."""
    children = np.random.SeedSequence(list(spec.seed)).spawn(3)
    return tuple(np.random.Generator(np.random.PCG64(child)) for child in children)


def _event(look: int, start: float, end: float, config: SyntheticConfig, n: int) -> Event:
    first = min(n - 1, max(0, math.ceil(start * config.fps - 1e-9)))
    stop = min(n, max(first + 1, math.ceil(end * config.fps - 1e-9)))
    return Event(look, float(start), float(end), first, stop)


def plan_timeline(
    spec: VideoSpec, config: SyntheticConfig, classes: Sequence[SyntheticClass] | None = None
) -> Timeline:
    """When the class-specific objects of ``spec`` are on screen (see the module docstring)."""
    classes = list(classes) if classes is not None else class_list(config.layout)
    if len(spec.labels) != 1:
        raise ValueError(f"a long-layout video shows one class, got labels {spec.labels}")
    label = spec.labels[0]
    cls = classes[label]
    rng = _generators(spec)[2]
    n = spec.num_frames
    duration = n / config.fps
    events: list[Event] = []
    if cls.group == "window":
        length = rng.uniform(config.event_min_seconds, config.event_max_seconds)
        start = rng.uniform(0.0, max(0.0, duration - length))
        events.append(_event(0, start, min(start + length, duration), config, n))
    elif cls.group == "order":
        if len(cls.looks) != 3:
            raise ValueError(f"order class {cls.name!r} needs three looks, has {len(cls.looks)}")
        gap = config.min_gap_seconds
        cycle = 3 * (config.event_max_seconds + gap)
        count = 3 * max(1, math.floor(duration / cycle))
        slot = duration / count
        if slot < config.event_max_seconds + gap - 1e-9:
            raise ValueError(
                f"a {duration:.2f} s video cannot hold three events of up to "
                f"{config.event_max_seconds} s with gaps of {gap} s; raise min_seconds"
            )
        phase = int(rng.integers(0, 3))
        for i in range(count):
            length = rng.uniform(config.event_min_seconds, config.event_max_seconds)
            start = i * slot + rng.uniform(gap / 2, slot - length - gap / 2)
            events.append(_event((phase + i) % 3, start, start + length, config, n))
    elif cls.group == "appearance":
        events.append(Event(0, 0.0, duration, 0, n))
    else:
        raise ValueError(f"class {cls.name!r}: group {cls.group!r} is not a long-layout group")
    return Timeline(label, cls.group, n, float(config.fps), tuple(events))


def _track(
    scene: np.random.Generator,
    clip: np.random.Generator,
    config: SyntheticConfig,
    n: int,
    centre: tuple[float, float],
    bg_luma: float,
) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
    """Radius, luma and the wandering pose (x, y, theta) of one object around ``centre``."""
    side = config.short_side
    radius = scene.uniform(*RADIUS) * side
    luma = object_luma(scene, bg_luma)
    theta0 = scene.uniform(0.0, 2.0 * np.pi)
    dx, dy, dtheta = _motion(WANDER, clip, n, config)
    theta = np.mod(theta0 + dtheta, 2.0 * np.pi)
    return float(radius), luma, centre[0] + dx, centre[1] + dy, theta


def plan_long_scene(
    spec: VideoSpec, config: SyntheticConfig, classes: Sequence[SyntheticClass] | None = None
) -> ScenePlan:
    """Every parameter of one ``long``-layout video (cheap; no pixels): the shared scene, the
    generic object all along and one object per look of the class, shown by its events."""
    classes = list(classes) if classes is not None else class_list(config.layout)
    timeline = plan_timeline(spec, config, classes)
    cls = classes[timeline.label]
    scene, clip, _ = _generators(spec)
    n, margin, side = spec.num_frames, config.jitter_px, config.short_side
    background, bg_luma = scene_background(scene, config)
    blobs = scene_blobs(scene, clip, n, config)
    centre = camera_centre(scene, config, limit=1.0)
    sign = 1.0 if scene.uniform() < 0.5 else -1.0
    offset = SPREAD * side * sign

    shape = GENERIC_SHAPES[int(scene.integers(0, len(GENERIC_SHAPES)))]
    radius, luma, x, y, theta = _track(
        scene, clip, config, n, (centre[0] - offset, centre[1]), bg_luma
    )
    color = hue_color(scene.uniform(0.0, 1.0), luma, scene.uniform(*GENERIC_SATURATION))
    objects = [
        ObjectTrack(GENERIC_LABEL, shape, "plain", radius, color.astype(np.float32), x, y, theta)
    ]
    for index, look in enumerate(cls.looks):
        radius, luma, x, y, theta = _track(
            scene, clip, config, n, (centre[0] + offset, centre[1]), bg_luma
        )
        hue = look.hue + scene.uniform(-HUE_JITTER, HUE_JITTER)
        color = hue_color(hue, luma, scene.uniform(*LOOK_SATURATION))
        objects.append(
            ObjectTrack(
                label=timeline.label,
                shape=look.shape,
                texture=look.texture,
                radius=radius,
                color=color.astype(np.float32),
                x=x,
                y=y,
                theta=theta,
                visible=timeline.mask(index),
            )
        )
    jitter = camera_jitter(clip, n, margin)
    gain, light_offset = lighting(scene, clip, n)
    return ScenePlan(margin, background, blobs, objects, jitter, gain, light_offset)
