"""Karpathy et al. 2014 preprocessing (Sec. 3.3), applied identically to every frame of a clip.

Frames arrive as ``(T, H, W, C)`` uint8. Each clip is center-cropped to a square, resized to
``resize`` (200 in the paper), cropped to ``crop`` (170; 178 for the multiresolution net) at a
random position and randomly flipped left-right, then ``mean`` (117) is subtracted. Crop position
and flip are drawn once per clip, so motion between frames is untouched. Geometry runs on uint8
(torchvision's fast path); only the final crop is converted to float.

Evaluation views (Sec. 4.1: every clip is seen 4 times, with different crops and flips): view 0 is
the center crop, view 1 its mirror, further views are seeded random crops, odd ones mirrored.

The steps are small callables on a sample dict (PyTorchVideo's habit): each reads and writes the
entries named by ``keys`` (``video`` by default) and takes the sample's random generator, so a
second input stream (optical flow) is one more key, and a stream-specific step (negating the
horizontal flow of a flipped clip) one more transform that reads the recorded ``geometry``.
:class:`ClipTransform` holds the sizes from the config and builds the two pipelines.

Optical flow images (Ng et al. 2015, Sec. 3.4; :mod:`deepvideo.data.flow`: horizontal and
vertical motion in channels 0 and 1, 127.5 = none, channel 2 zero) go through the same steps,
treated "in the same fashion as image frames", plus two: :class:`NegateFlippedFlow` (a mirrored
flow image also moves the other way: channel 0 becomes ``255 - v`` in every flipped crop) and
:class:`FlowNormalize` (the third channel fed to the network as 0, as the paper does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

Sample = dict[str, Any]
# (top, left, flipped) of a crop, as recorded in ``sample["geometry"]`` (one per view)
Geometry = tuple[int, int, bool]

__all__ = [
    "ClipTransform",
    "Compose",
    "CropViews",
    "FlowNormalize",
    "NegateFlippedFlow",
    "Normalize",
    "RandomCropFlip",
    "SampleTransform",
    "SquareResize",
]


class SampleTransform(Protocol):
    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample: ...


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order."""

    transforms: tuple[SampleTransform, ...]

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        for transform in self.transforms:
            sample = transform(sample, rng)
        return sample


@dataclass(frozen=True)
class SquareResize:
    """``(T, H, W, C)`` uint8 -> the center square resized to ``size``, as ``(T, C, S, S)``."""

    size: int
    keys: tuple[str, ...] = ("video",)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        for key in self.keys:
            frames = sample[key]
            if frames.ndim != 4 or frames.shape[-1] not in (2, 3):
                raise ValueError(
                    f"expected {key} frames as (T, H, W, C), got shape {tuple(frames.shape)}"
                )
            clip = frames.permute(0, 3, 1, 2)
            side = min(clip.shape[-2:])
            clip = TF.center_crop(clip, [side, side])
            if side != self.size:
                clip = TF.resize(clip, [self.size, self.size], antialias=True)
            sample[key] = clip
        return sample


def _crop(clip: torch.Tensor, size: int, geometry: Geometry) -> torch.Tensor:
    top, left, flip = geometry
    out = clip[..., top : top + size, left : left + size]
    return out.flip(-1) if flip else out


@dataclass(frozen=True)
class RandomCropFlip:
    """Training: one random ``size`` crop and a flip with probability 1/2, the same for every
    frame and every key; the draw is recorded as ``sample["geometry"] = [(top, left, flip)]``."""

    size: int
    keys: tuple[str, ...] = ("video",)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        side = sample[self.keys[0]].shape[-1]
        top, left = (int(v) for v in rng.integers(0, side - self.size + 1, size=2))
        geometry = (top, left, bool(rng.integers(0, 2)))
        for key in self.keys:
            sample[key] = _crop(sample[key], self.size, geometry)
        sample["geometry"] = [geometry]
        return sample


@dataclass(frozen=True)
class CropViews:
    """Evaluation: ``num_views`` crops/flips of the clip stacked as ``(V, T, C, size, size)``:
    the center crop, its mirror, then seeded random crops (odd ones mirrored)."""

    size: int
    num_views: int
    keys: tuple[str, ...] = ("video",)

    def geometries(self, side: int, rng: np.random.Generator) -> list[Geometry]:
        center = (side - self.size) // 2
        out: list[Geometry] = []
        for view in range(self.num_views):
            if view < 2:
                top = left = center
            else:
                top, left = (int(v) for v in rng.integers(0, side - self.size + 1, size=2))
            out.append((top, left, view % 2 == 1))
        return out

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        geometries = self.geometries(sample[self.keys[0]].shape[-1], rng)
        for key in self.keys:
            sample[key] = torch.stack([_crop(sample[key], self.size, g) for g in geometries])
        sample["geometry"] = geometries
        return sample


@dataclass(frozen=True)
class Normalize:
    """uint8 ``(..., T, C, H, W)`` -> float ``(..., C, T, H, W)``, minus ``mean``, over ``std``."""

    mean: float = 117.0
    std: float = 1.0
    keys: tuple[str, ...] = ("video",)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        for key in self.keys:
            clip = sample[key].transpose(-4, -3)
            # one fused copy (uint8 -> float, time and channel swapped) into a contiguous tensor:
            # ~9x faster than .float() then .contiguous() on a (4, 10, 3, 170, 170) view stack
            out = torch.empty(clip.shape, dtype=torch.float32)
            out.copy_(clip)
            out.sub_(self.mean)
            if self.std != 1.0:
                out.div_(self.std)
            sample[key] = out
        return sample


@dataclass(frozen=True)
class NegateFlippedFlow:
    """Flow images (Ng et al. 2015, Sec. 3.4): in every crop that :class:`RandomCropFlip` or
    :class:`CropViews` flipped left-right (``sample["geometry"]``), the horizontal component is
    negated too, since a mirrored video moves the other way: on the stored uint8 scale (127.5 =
    no motion) channel 0 becomes ``255 - v``. Runs on the uint8 crops, before normalisation."""

    keys: tuple[str, ...] = ("video",)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        flipped = [bool(g[2]) for g in sample["geometry"]]
        if not any(flipped):
            return sample
        for key in self.keys:
            clip = sample[key]  # (T, C, S, S) for one training crop, (V, T, C, S, S) for views
            views = (clip if clip.ndim == 5 else clip.unsqueeze(0)).clone()
            for view, flip in enumerate(flipped):
                if flip:
                    views[view, :, 0] = 255 - views[view, :, 0]
            sample[key] = views if clip.ndim == 5 else views[0]
        return sample


@dataclass(frozen=True)
class FlowNormalize(Normalize):
    """:class:`Normalize` for flow images, with the third channel (zero in the stored images)
    fed to the network as 0 (Ng et al. 2015, Sec. 3.4: "so that it gives no effect on learning
    and inference"), not as ``-mean / std``."""

    mean: float = 127.5

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        sample = super().__call__(sample, rng)
        for key in self.keys:
            sample[key].select(-4, 2).zero_()  # (..., C, T, H, W): channel 2
        return sample


@dataclass(frozen=True)
class ClipTransform:
    """The sizes of Sec. 3.3's preprocessing and the train / evaluation pipelines built on them."""

    resize: int = 200
    crop: int = 170
    mean: float = 117.0
    std: float = 1.0
    # optical flow images (Ng et al. 2015, Sec. 3.4): flips negate the horizontal component, the
    # third channel is fed as 0
    flow: bool = False

    def __post_init__(self) -> None:
        if self.crop > self.resize:
            raise ValueError(
                f"crop_size {self.crop} is larger than resize {self.resize}: the crop is taken "
                "from the resized frame, so set data.sizes.resize >= the model's crop size"
            )
        if self.std <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    def train_pipeline(self, keys: Sequence[str] = ("video",)) -> Compose:
        """Square -> resize -> random crop + flip -> normalise, on ``keys`` of a sample dict."""
        k = tuple(keys)
        return Compose(
            (SquareResize(self.resize, k), RandomCropFlip(self.crop, k), *self._finish(k))
        )

    def eval_pipeline(self, num_views: int, keys: Sequence[str] = ("video",)) -> Compose:
        """Square -> resize -> ``num_views`` crops/flips -> normalise, on ``keys``."""
        k = tuple(keys)
        return Compose(
            (SquareResize(self.resize, k), CropViews(self.crop, num_views, k), *self._finish(k))
        )

    def _finish(self, keys: tuple[str, ...]) -> tuple[SampleTransform, ...]:
        """After the crops: normalisation, and for flow images the flip rule first."""
        if self.flow:
            return NegateFlippedFlow(keys), FlowNormalize(self.mean, self.std, keys)
        return (Normalize(self.mean, self.std, keys),)

    def train(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """One randomly cropped and flipped ``(C, T, crop, crop)`` float clip."""
        video: torch.Tensor = self.train_pipeline()({"video": frames}, rng)["video"]
        return video

    def views(self, frames: torch.Tensor, num_views: int, rng: np.random.Generator) -> torch.Tensor:
        """``num_views`` crops/flips of one clip, stacked as ``(V, C, T, crop, crop)``."""
        video: torch.Tensor = self.eval_pipeline(num_views)({"video": frames}, rng)["video"]
        return video
