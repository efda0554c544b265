"""The class catalogue of the synthetic benchmark: what each class looks like and how it moves.

A class is an *appearance* (a pool of shapes and a texture) and a *motion*, in one of three groups
(``motion``, ``appearance``, ``both``; see the package docstring for what each group isolates).
Every class list must survive the left-right flips of training and evaluation (Karpathy et al.
2014, Sec. 3.3 / 4.1): :func:`mirror_safe` checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LAYOUTS = ("sports1m", "ucf101")
GROUPS = ("motion", "appearance", "both")
GENERIC_SHAPES = ("disc", "square", "pentagon")
TEXTURES = ("plain", "hstripes", "vstripes", "checker")


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
