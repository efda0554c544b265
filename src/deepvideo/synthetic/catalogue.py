"""The class catalogue of the synthetic benchmark: what each class looks like and how it moves.

A class is an *appearance* (a pool of shapes and a texture) and a *motion*, in one of three groups
(``motion``, ``appearance``, ``both``; see the package docstring for what each group isolates).
The ``long`` layout's classes (groups ``window``, ``order``, ``appearance``) are told apart by
*when* class-specific objects (:class:`Look`: a shape and a fixed hue) are on screen: see
:mod:`deepvideo.synthetic.long`. Every class list must survive the left-right flips of training
and evaluation (Karpathy et al. 2014, Sec. 3.3 / 4.1; Ng et al. 2015, Sec. 4.1): :func:`mirror_safe`
checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The short-clip layouts (Karpathy et al. 2014), each with the groups of GROUPS.
LAYOUTS = ("sports1m", "ucf101")
GROUPS = ("motion", "appearance", "both")
# The long-video layout for Ng et al. 2015 (Sports-1M's files on disk, its own classes and groups).
LONG = "long"
LONG_GROUPS = ("window", "order", "appearance")
ALL_LAYOUTS = (*LAYOUTS, LONG)
GENERIC_SHAPES = ("disc", "square", "pentagon")
TEXTURES = ("plain", "hstripes", "vstripes", "checker")
# Every shape the renderer draws. Each is its own mirror image (up to a rotation: each has an
# axis of symmetry), so a left-right flip never turns one class's object into another's; a chiral
# shape (an "L", an "S") added here would need a mirrored twin in the same class.
MIRROR_SYMMETRIC_SHAPES = (
    *GENERIC_SHAPES,
    "triangle",
    "cross",
    "ring",
    "bar",
    "star",
    "diamond",
    "hexagon",
)
# Positions on the renderer's colour wheel (render.hue_color).
HUES = {
    "red": 0.0,
    "magenta": 1.0 / 6.0,
    "blue": 1.0 / 3.0,
    "cyan": 0.5,
    "green": 2.0 / 3.0,
    "yellow": 5.0 / 6.0,
    "orange": 11.0 / 12.0,
}


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
class Look:
    """A class-specific object of the ``long`` layout: one shape in a fixed, saturated colour.

    ``hue`` is a position on the colour wheel (:data:`HUES`); the luma still follows the
    background (kept visible against it) and the size, orientation and motion are drawn from
    distributions shared by every object, so a look is told from another by shape and hue only.
    """

    shape: str
    hue: float
    texture: str = "plain"

    @property
    def name(self) -> str:
        """``"<colour> <shape>"`` (the nearest named hue), with the texture unless plain."""
        colour = min(HUES, key=lambda k: abs((HUES[k] - self.hue + 0.5) % 1.0 - 0.5))
        texture = "" if self.texture == "plain" else f" {self.texture}"
        return f"{colour}{texture} {self.shape}"


@dataclass(frozen=True)
class SyntheticClass:
    """A class: its name, group, the look and motion of its object and (``long`` layout) the
    class-specific objects it shows over time (``looks``: one for ``window`` and ``appearance``
    classes, three in their cyclic order of appearance for ``order`` classes)."""

    name: str
    group: str
    appearance: Appearance
    motion: Motion
    file_token: str = ""  # ucf101 file-name spelling when it differs from the folder name
    looks: tuple[Look, ...] = ()

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


def _look(shape: str, hue: str) -> Look:
    return Look(shape, HUES[hue])


def _long_class(name: str, group: str, *looks: Look) -> SyntheticClass:
    """A ``long``-layout class; its ``appearance`` names the shapes of its looks (for the
    manifest), its ``motion`` is the wander every object of the layout shares."""
    return SyntheticClass(
        name, group, Appearance(tuple(look.shape for look in looks)), WANDER, "", looks
    )


# The long layout (deepvideo.synthetic.long). Every video also shows a generic, greyish wandering
# object (GENERIC_SHAPES) all along; what follows is what tells the classes apart. Looks that share
# a shape are at least a third of the colour wheel apart; within a group the shapes all differ.
_TRIANGLE, _BAR, _HEXAGON = (
    _look("triangle", "orange"),
    _look("bar", "green"),
    _look("hexagon", "blue"),
)
_STAR, _RING, _DIAMOND = _look("star", "blue"), _look("ring", "orange"), _look("diamond", "green")
_LONG = (
    # window: the class's object is on screen once, for 3-3.5 s, at a random time
    _long_class("star appears", "window", _look("star", "yellow")),
    _long_class("ring appears", "window", _look("ring", "cyan")),
    _long_class("cross appears", "window", _look("cross", "red")),
    _long_class("diamond appears", "window", _look("diamond", "magenta")),
    # order: three objects, one at a time, again and again in the class's cyclic order; the two
    # classes of a set show the same three objects equally often
    _long_class("triangle-bar-hexagon", "order", _TRIANGLE, _BAR, _HEXAGON),
    _long_class("triangle-hexagon-bar", "order", _TRIANGLE, _HEXAGON, _BAR),
    _long_class("star-ring-diamond", "order", _STAR, _RING, _DIAMOND),
    _long_class("star-diamond-ring", "order", _STAR, _DIAMOND, _RING),
    # appearance (the control): the class's object is on screen all along
    _long_class("cyan triangle", "appearance", _look("triangle", "cyan")),
    _long_class("magenta bar", "appearance", _look("bar", "magenta")),
    _long_class("red hexagon", "appearance", _look("hexagon", "red")),
    _long_class("green cross", "appearance", _look("cross", "green")),
)


def mirror_safe(classes: Sequence[SyntheticClass]) -> list[str]:
    """Problems that would make a class list ambiguous under left-right flips ([] = none).

    A class whose flipped motion is another class's motion with the same appearance (``drift
    left`` / ``drift right``, clockwise / counterclockwise spin) cannot be learned with flip
    augmentation: half of its training clips look exactly like the other class. A class whose
    flipped motion is no class at all would be trained on clips its name does not describe.
    Every shape must be its own mirror image (:data:`MIRROR_SYMMETRIC_SHAPES`): its orientation
    is random, so its flipped image is then the same shape turned. (A left-right flip changes no
    time order, so the ``long`` layout's order classes survive it; a time reversal would not:
    it turns A-B-C into C-B-A, which is A-C-B cyclically.)
    """
    problems = []
    for cls in classes:
        shapes = {*cls.appearance.shapes, *(look.shape for look in cls.looks)}
        chiral = sorted(shapes - set(MIRROR_SYMMETRIC_SHAPES))
        if chiral:
            problems.append(
                f"{cls.name!r}: shape(s) {chiral} are not known to be their own mirror image "
                f"(mirror-symmetric shapes: {MIRROR_SYMMETRIC_SHAPES})"
            )
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
    if layout == LONG:
        return list(_LONG)
    raise ValueError(f"unknown layout {layout!r}; choose one of {ALL_LAYOUTS}")
