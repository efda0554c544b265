"""Multiresolution CNN, Karpathy et al. 2014, Sec. 3.2 (Fig. 2).

A clip of side ``S`` (178 in the paper) is split by :func:`fovea_context_streams` into a *fovea*
stream (center ``S/2`` crop at full resolution) and a *context* stream (whole frame downsampled
2x). Each stream is processed by its own tower (weights NOT shared) without the last pooling
layer, so at the paper size each ends in a 7x7x256 map, as Sec. 3.2 requires (89 -conv1-> 27
-P-> 14 -conv2-> 14 -P-> 7 -conv3..5-> 7; pooling rounds up, see
``conf/model/tower/alexnet.yaml``). The two maps are flattened, concatenated (fovea first) and
fed to fc6. The Table 1 ablations keep only one of the two streams (``streams="fovea"`` /
``"context"``).

The towers are single-frame (``base="single_frame"``, the paper's model) or Slow Fusion
(``base="slow_fusion"``). Multiresolution Slow Fusion is OUR combination of Secs. 3.1 and 3.2,
not a model of the paper (its Table 1 has multiresolution on single frames only); its time
layout is passed in (``conf/model/time/slow_fusion.yaml``), never defaulted here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from deepvideo.models.fusion import check_clip
from deepvideo.models.tower import (
    DEFAULT_MEMORY_FORMAT,
    TowerSpec,
    build_features,
    build_head,
    feature_shape,
    flatten_time_major,
    init_weights,
)

__all__ = ["MultiResolution", "fovea_context_streams"]

STREAMS: dict[str, tuple[str, ...]] = {
    "both": ("fovea", "context"),
    "fovea": ("fovea",),
    "context": ("context",),
}
BASES = ("single_frame", "slow_fusion")


def fovea_context_streams(clip: Tensor, dims: tuple[int, int] = (-2, -1)) -> tuple[Tensor, Tensor]:
    """Split frames of side ``S`` into the fovea and context streams, each ``S/2 x S/2`` (Sec. 3.2).

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


class MultiResolution(nn.Module):
    """Fovea + context streams merged at fc6 (Sec. 3.2).

    Args:
        num_classes: outputs of the classifier.
        input_size: side ``S`` of the square input clip (178 in the paper); must be even.
        tower: the tower mapping (``conf/model/tower/alexnet.yaml``), dict or ``DictConfig``.
        width: multiplier of every conv channel count and FC width.
        streams: ``"both"`` (the paper's model), ``"fovea"`` or ``"context"`` (ablations).
        base: ``"single_frame"`` (the paper's) or ``"slow_fusion"`` towers (our combination).
        num_frames, temporal_kernels, temporal_strides: the towers' time layout. Single-frame
            towers take 1 frame and all-1 kernels (the ``None`` defaults); Slow Fusion towers
            need all three (``conf/model/time/slow_fusion.yaml``).
        memory_format: layout of the conv maps, ``"contiguous"`` or ``"channels_last"``
            (:class:`~deepvideo.models.tower.ConvBlock`); speed only, same results.

    Attributes: ``features`` (a ``ModuleDict`` with ``fovea`` and/or ``context``, each
    ``conv1..convN``), ``fc6``, ``fc7``, ``classifier``, ``feature_dim``, ``stream_shape``
    (``(C, T, H, W)`` at the end of each stream).
    """

    def __init__(
        self,
        num_classes: int,
        input_size: int,
        tower: Mapping[str, Any] | TowerSpec,
        width: float = 1.0,
        streams: Literal["both", "fovea", "context"] = "both",
        base: Literal["single_frame", "slow_fusion"] = "single_frame",
        num_frames: int | None = None,
        temporal_kernels: Sequence[int] | None = None,
        temporal_strides: Sequence[int] | None = None,
        memory_format: str = DEFAULT_MEMORY_FORMAT,
    ) -> None:
        super().__init__()
        if streams not in STREAMS:
            raise ValueError(f"streams must be one of {sorted(STREAMS)}, got {streams!r}")
        if base not in BASES:
            raise ValueError(f"base must be one of {sorted(BASES)}, got {base!r}")
        if input_size % 2:
            raise ValueError(
                f"MultiResolution input_size must be even (fovea = center S/2 crop, context = "
                f"2x downsample), got {input_size}"
            )
        spec = TowerSpec.from_config(tower).scaled(width)
        n = len(spec.convs)
        layout = (num_frames, temporal_kernels, temporal_strides)
        if base == "slow_fusion" and any(v is None for v in layout):
            raise ValueError(
                "MultiResolution(base='slow_fusion') needs num_frames, temporal_kernels and "
                "temporal_strides (the Slow Fusion time layout, conf/model/time/slow_fusion.yaml)"
            )
        frames = 1 if num_frames is None else int(num_frames)
        kernels = [1] * n if temporal_kernels is None else [int(k) for k in temporal_kernels]
        strides = [1] * n if temporal_strides is None else [int(s) for s in temporal_strides]
        if base == "single_frame" and (frames != 1 or set(kernels) != {1} or set(strides) != {1}):
            raise ValueError(
                "MultiResolution(base='single_frame') needs num_frames=1 and temporal kernels/"
                f"strides of 1, got num_frames={frames}, kernels={kernels}, strides={strides}"
            )
        self.num_classes = int(num_classes)
        self.input_size = int(input_size)
        self.num_frames = frames
        self.streams = STREAMS[streams]
        self.base = base
        self.temporal_kernels = tuple(kernels)
        self.temporal_strides = tuple(strides)
        self.stream_shape = feature_shape(
            spec,
            self.input_size // 2,
            frames,
            kernels,
            strides,
            drop_last_pool=True,
            name=f"MultiResolution stream (input {input_size} -> {input_size // 2})",
        )
        self.features = nn.ModuleDict(
            {
                s: build_features(
                    spec, kernels, strides, drop_last_pool=True, memory_format=memory_format
                )
                for s in self.streams
            }
        )
        c, t, h, w = self.stream_shape
        self.fc6, self.fc7, self.classifier = build_head(
            len(self.streams) * c * t * h * w, spec, self.num_classes
        )
        self.feature_dim = spec.fc[1]
        init_weights(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """``(B, 3, T, S, S) -> (B, feature_dim)``: the fc7 activations."""
        check_clip(self, x, self.num_frames, self.input_size)
        fovea, context = fovea_context_streams(x)
        inputs = {"fovea": fovea, "context": context}
        maps = [flatten_time_major(self.features[s](inputs[s])) for s in self.streams]
        return self.fc7(self.fc6(torch.cat(maps, dim=1)))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, T, S, S) -> (B, num_classes)`` logits."""
        return self.classifier(self.forward_features(x))

    def first_layer_filters(self) -> dict[str, Tensor]:
        """conv1 weights of each present stream, ``{'fovea': ..., 'context': ...}``."""
        out: dict[str, Tensor] = {}
        for s in self.streams:
            conv = self.features.get_submodule(f"{s}.conv1.conv")
            assert isinstance(conv, nn.Conv3d)
            out[s] = conv.weight.detach()
        return out
