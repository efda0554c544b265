"""Karpathy et al. 2014 preprocessing (Sec. 4.1), applied identically to every frame of a clip.

Frames arrive as ``(T, H, W, C)`` uint8. Each clip is center-cropped to a square, resized to
``resize`` (200 in the paper), cropped to ``crop`` (170; 178 for the multiresolution net) at a random
position and randomly flipped left-right, then ``mean`` (117) is subtracted. Crop position and
flip are drawn once per clip, so motion between frames is untouched. Geometry runs on uint8
(torchvision's fast path); only the final crop is converted to float.

Evaluation views (Sec. 4.1: every clip is seen 4 times, with different crops and flips): view 0 is
the center crop, view 1 its mirror, further views are seeded random crops, odd ones mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF


@dataclass(frozen=True)
class ClipTransform:
    """Center crop -> resize -> crop -> flip -> subtract mean, for one clip at a time."""

    resize: int = 200
    crop: int = 170
    mean: float = 117.0
    std: float = 1.0

    def __post_init__(self) -> None:
        if self.crop > self.resize:
            raise ValueError(
                f"crop_size {self.crop} is larger than resize {self.resize}: the crop is taken "
                "from the resized frame, so set data.sizes.resize >= the model's crop size"
            )
        if self.std <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    def square(self, frames: torch.Tensor) -> torch.Tensor:
        """``(T, H, W, C)`` uint8 -> center square resized to ``resize``, as ``(T, C, S, S)``."""
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected frames as (T, H, W, 3), got shape {tuple(frames.shape)}")
        clip = frames.permute(0, 3, 1, 2)
        side = min(clip.shape[-2:])
        clip = TF.center_crop(clip, [side, side])
        if side != self.resize:
            clip = TF.resize(clip, [self.resize, self.resize], antialias=True)
        return clip

    def _finish(self, clip: torch.Tensor, top: int, left: int, flip: bool) -> torch.Tensor:
        out = clip[..., top : top + self.crop, left : left + self.crop]
        if flip:
            out = out.flip(-1)
        out = out.permute(1, 0, 2, 3).float()  # (C, T, H, W)
        out.sub_(self.mean)
        if self.std != 1.0:
            out.div_(self.std)
        return out.contiguous()

    def train(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """One randomly cropped and flipped ``(C, T, crop, crop)`` float clip."""
        clip = self.square(frames)
        top, left = (int(v) for v in rng.integers(0, self.resize - self.crop + 1, size=2))
        return self._finish(clip, top, left, bool(rng.integers(0, 2)))

    def views(self, frames: torch.Tensor, num_views: int, rng: np.random.Generator) -> torch.Tensor:
        """``num_views`` crops/flips of one clip, stacked as ``(V, C, T, crop, crop)``."""
        clip = self.square(frames)
        center = (self.resize - self.crop) // 2
        out = []
        for view in range(num_views):
            if view < 2:
                top = left = center
            else:
                top, left = (int(v) for v in rng.integers(0, self.resize - self.crop + 1, size=2))
            out.append(self._finish(clip, top, left, flip=view % 2 == 1))
        return torch.stack(out)
