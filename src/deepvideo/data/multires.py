"""Fovea / context split of the multiresolution architecture, Karpathy et al. 2014, Sec. 3.2."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["fovea_context_streams"]


def fovea_context_streams(clip: Tensor, dims: tuple[int, int] = (-2, -1)) -> tuple[Tensor, Tensor]:
    """Split frames of side ``S`` into the fovea and context streams, each ``S/2 x S/2``.

    * fovea: the center ``S/2 x S/2`` crop at full resolution (offset ``(S - S/2) // 2``);
    * context: the whole frame downsampled 2x by 2x2 average pooling. Averaging is an
      anti-aliased 2x downsample, so texture with a period of 2 px is lost in the context stream;
      that is intended (the fovea keeps it).

    Args:
        clip: tensor with any leading dimensions; ``dims`` name its (H, W) dimensions.
        dims: the height and width dimensions (default: the last two).

    Returns:
        ``(fovea, context)``, shaped like ``clip`` with ``H = W = S/2``. The fovea is a view.

    Raises:
        ValueError: if the frames are not square or ``S`` is odd.
    """
    hd, wd = (d % clip.dim() for d in dims)
    if hd == wd:
        raise ValueError(f"dims must name two different dimensions, got {dims}")
    h, w = clip.shape[hd], clip.shape[wd]
    if h != w:
        raise ValueError(f"multiresolution frames must be square, got {h}x{w}")
    if h % 2:
        raise ValueError(
            f"multiresolution frames must have an even side to be split into a fovea and a 2x "
            f"downsampled context, got {h}x{w}"
        )
    half = h // 2
    off = (h - half) // 2
    fovea = clip.narrow(hd, off, half).narrow(wd, off, half)
    x = torch.movedim(clip, (hd, wd), (-2, -1))
    x = x.unflatten(-1, (half, 2)).unflatten(-3, (half, 2)).mean(dim=(-3, -1))
    context = torch.movedim(x, (-2, -1), (hd, wd))
    return fovea, context
