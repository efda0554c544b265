"""How a video looks: scene planning (every random draw, no pixels) and drawing to frames.

:func:`plan_scene` draws the background, distractors, objects and their motions, the camera jitter
and the lighting of one :class:`~deepvideo.synthetic.layouts.VideoSpec`; :func:`draw` renders the
plan to ``(T, H, W, 3)`` uint8 RGB frames. See the package docstring for the designed statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from deepvideo.synthetic.catalogue import LONG, Motion, SyntheticClass, class_list
from deepvideo.synthetic.layouts import SPLIT_CODES, SyntheticConfig, VideoSpec, seeded_rng


def _generators(spec: VideoSpec) -> tuple[np.random.Generator, np.random.Generator]:
    if spec.scene_seed:
        return seeded_rng(spec.scene_seed), seeded_rng(spec.seed)
    scene, clip = np.random.SeedSequence(list(spec.seed)).spawn(2)
    return np.random.Generator(np.random.PCG64(scene)), np.random.Generator(np.random.PCG64(clip))


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
    visible: np.ndarray | None = None  # (T,) bool: the frames it is drawn in; None: every frame


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


def hue_color(hue: float, luma: float, saturation: float) -> np.ndarray:
    """The RGB colour at ``hue`` on the colour wheel (0 red, 1/6 magenta, 1/3 blue, 1/2 cyan,
    2/3 green, 5/6 yellow) with this ``saturation`` in [0, 1], scaled to luma ``luma``."""
    channels = np.array([0.0, 2.0 / 3.0, 1.0 / 3.0])  # R, G, B phase of the colour wheel
    unit = 1.0 - saturation + saturation * (0.5 + 0.5 * np.cos(2 * np.pi * (hue - channels)))
    return unit * (luma / _luma(unit))


def _hue_color(rng: np.random.Generator, luma: float, saturation: float) -> np.ndarray:
    return hue_color(rng.uniform(0.0, 1.0), luma, saturation)


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
        radius = config.drift_radius * side
        # A point uniform in the disc, in (along, across) coordinates of the drift direction.
        along0, across = _uniform_disc(rng, radius)
        half = math.sqrt(max(radius**2 - across**2, 0.0))
        speed = rng.uniform(*motion.speed) * config.drift_speed * side / fps  # px per frame
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
        # the disc a drift wraps in: every motion-only class has the same frame distribution
        x, y = _uniform_disc(rng, config.drift_radius * side)
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


# --------------------------------------------------------------------- scene building blocks
# Shared by every layout (the long layout's planner in :mod:`deepvideo.synthetic.long` included).
# Each draws from the generators it is given, in a fixed order: the sports1m and ucf101 scenes
# call them in the order they always drew, so their frames stay bit-identical.
def scene_background(
    scene: np.random.Generator, config: SyntheticConfig
) -> tuple[np.ndarray, float]:
    """The static background of the canvas (the frame plus a ``jitter_px`` margin on every side)
    as ``(Hc, Wc, 3)`` float32, and its base luma: a base colour plus three low-frequency
    sinusoids with per-channel amplitudes."""
    side, margin = config.short_side, config.jitter_px
    hc, wc = config.height + 2 * margin, config.width + 2 * margin
    ys, xs = np.mgrid[0:hc, 0:wc].astype(np.float32)
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
    return background, float(bg_luma)


def scene_blobs(
    scene: np.random.Generator, clip: np.random.Generator, num_frames: int, config: SyntheticConfig
) -> list[tuple[np.ndarray, np.ndarray, float, np.ndarray]]:
    """Distractor blobs: 1-3 soft Gaussians on straight paths bouncing off the canvas borders."""
    side, margin = config.short_side, config.jitter_px
    hc, wc = config.height + 2 * margin, config.width + 2 * margin
    blobs = []
    t = np.arange(num_frames, dtype=np.float64)
    for _ in range(int(scene.integers(config.min_distractors, config.max_distractors + 1))):
        sigma = scene.uniform(0.05, 0.09) * side
        amp = _hue_color(scene, 1.0, scene.uniform(0.3, 1.0))
        amp = amp / np.abs(amp).max() * scene.uniform(20.0, 45.0) * scene.choice([-1.0, 1.0])
        speed = clip.uniform(0.0, 0.3) * side / config.fps
        heading = clip.uniform(0.0, 2.0 * np.pi)
        bx = _bounce(clip.uniform(0, wc) + speed * math.cos(heading) * t, wc)
        by = _bounce(clip.uniform(0, hc) + speed * math.sin(heading) * t, hc)
        blobs.append((bx, by, float(sigma), amp.astype(np.float32)))
    return blobs


def camera_centre(
    scene: np.random.Generator, config: SyntheticConfig, limit: float = 2.0
) -> np.ndarray:
    """The centre of the objects' motion in canvas pixels (x, y): the frame centre plus a
    Gaussian offset of std ``center_sigma`` short sides, clipped at ``limit`` std (camera bias)."""
    sigma = config.center_sigma * config.short_side
    margin = config.jitter_px
    return np.array([margin + config.width / 2.0, margin + config.height / 2.0]) + np.clip(
        scene.standard_normal(2) * sigma, -limit * sigma, limit * sigma
    )


def object_luma(scene: np.random.Generator, bg_luma: float) -> float:
    """An object luma in [75, 160], at least 35 away from the background's (kept visible)."""
    while True:
        luma = float(scene.uniform(75.0, 160.0))
        if abs(luma - bg_luma) >= 35.0:
            return luma


def camera_jitter(clip: np.random.Generator, num_frames: int, margin: int) -> np.ndarray:
    """``(T, 2)`` integer (dy, dx) of the crop window: a random walk reflected at +-margin."""
    jitter = np.zeros((num_frames, 2), dtype=np.int64)
    if margin:
        steps = clip.choice([-1, 0, 1], size=(num_frames, 2), p=[0.2, 0.6, 0.2])
        pos = clip.integers(-1, 2, size=2)
        for i in range(num_frames):
            pos = pos + steps[i] if i else pos
            for axis in range(2):
                if abs(pos[axis]) > margin:
                    pos[axis] = int(np.sign(pos[axis])) * (2 * margin - abs(pos[axis]))
            jitter[i] = pos
    return jitter


def lighting(
    scene: np.random.Generator, clip: np.random.Generator, num_frames: int
) -> tuple[np.ndarray, float]:
    """Per-frame, per-channel gain ``(T, 3)`` (a per-video gain and colour cast times a slow
    flicker) and a per-video offset."""
    flicker = 1.0 + np.clip(np.cumsum(clip.standard_normal(num_frames)) * 0.004, -0.04, 0.04)
    cast = scene.uniform(0.85, 1.15) * scene.uniform(0.93, 1.07, size=3)
    gain = (flicker[:, None] * cast[None, :]).astype(np.float32)
    return gain, float(scene.uniform(-10.0, 10.0))


def plan_scene(
    spec: VideoSpec, config: SyntheticConfig, classes: Sequence[SyntheticClass] | None = None
) -> ScenePlan:
    """Draw every parameter of one video (cheap; no pixels).

    The ``long`` layout's videos are planned by :func:`deepvideo.synthetic.long.plan_long_scene`
    (their objects come and go along a planned timeline of events).
    """
    classes = list(classes) if classes is not None else class_list(config.layout)
    if config.layout == LONG:
        from deepvideo.synthetic.long import plan_long_scene  # it builds on this module

        return plan_long_scene(spec, config, classes)
    scene, clip = _generators(spec)
    side, n, margin = config.short_side, spec.num_frames, config.jitter_px
    background, bg_luma = scene_background(scene, config)
    blobs = scene_blobs(scene, clip, n, config)

    # Objects: the first at the (camera-biased) centre, a second one beside it if multi-label.
    centre = camera_centre(scene, config)
    spread = 0.22 * side * (1 if scene.uniform() < 0.5 else -1)
    objects = []
    for slot, label in enumerate(spec.labels):
        cls = classes[label]
        shape = cls.appearance.shapes[int(scene.integers(0, len(cls.appearance.shapes)))]
        radius = scene.uniform(0.13, 0.17) * side
        obj_luma = object_luma(scene, bg_luma)
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
    jitter = camera_jitter(clip, n, margin)
    gain, offset = lighting(scene, clip, n)
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
    if shape == "diamond":  # a rhombus, half-diagonals 1.15 r and 0.7 r (distance to its edges)
        a, b = 1.15 * r, 0.7 * r
        return (np.abs(u) / a + np.abs(v) / b - 1.0) * (a * b / math.hypot(a, b))
    if shape == "star":
        return _star_sdf(u, v, 1.15 * r, 0.45)
    sides = {"triangle": 3, "pentagon": 5, "hexagon": 6}.get(shape)
    if sides is None:
        raise ValueError(f"unknown shape {shape!r}")
    scale = 1.15 if sides == 3 else 1.0
    apothem = scale * r * math.cos(math.pi / sides)
    dist = np.full(u.shape, -np.inf)
    for k in range(sides):
        a = 2 * math.pi * k / sides + math.pi / 2
        dist = np.maximum(dist, u * math.cos(a) + v * math.sin(a))
    return dist - apothem


def _star_sdf(u: np.ndarray, v: np.ndarray, outer: float, inner: float) -> np.ndarray:
    """Signed distance to a five-pointed star (a point up) of radius ``outer``; ``inner`` is the
    radius of its concave corners as a fraction of ``outer``. Folds the plane into one half-point
    (the star is symmetric under the 10 reflections of its dihedral group) and measures the
    distance to that edge."""
    k1 = np.array([0.809016994375, -0.587785252292])  # (cos 36, -sin 36)
    k2 = np.array([-k1[0], k1[1]])
    x, y = np.abs(u), v + 0.0 * u
    for k in (k1, k2):
        dot = np.maximum(k[0] * x + k[1] * y, 0.0)
        x, y = x - 2.0 * dot * k[0], y - 2.0 * dot * k[1]
    x = np.abs(x)
    y = y - outer
    ba = np.array([-k1[1] * inner, k1[0] * inner - 1.0])
    h = np.clip((x * ba[0] + y * ba[1]) / float(ba @ ba), 0.0, outer)
    dist = np.hypot(x - ba[0] * h, y - ba[1] * h)
    return dist * np.sign(y * ba[0] - x * ba[1])


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
        shown: Iterable[int] = (
            range(n) if obj.visible is None else np.flatnonzero(obj.visible).tolist()
        )
        for i in shown:
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
