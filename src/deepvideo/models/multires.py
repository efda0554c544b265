"""Multiresolution CNN, Karpathy et al. 2014, Sec. 3.2 (Fig. 2).

A clip of side ``S`` (178 in the paper) is split by
:func:`deepvideo.data.multires.fovea_context_streams` into a *fovea* stream (center ``S/2`` crop
at full resolution) and a *context* stream (whole frame downsampled 2x). Each stream is
processed by its own tower (weights NOT shared) without the last pooling layer, so at the paper
size each ends in a 7x7x256 map (89 -conv1-> 28 -P-> 14 -conv2-> 14 -P-> 7 -conv3..5-> 7). The
two maps are flattened, concatenated (fovea first) and fed to fc6. The Table 1 ablations keep
only one of the two streams (``streams="fovea"`` / ``"context"``).

The towers can be single-frame (``base="single_frame"``) or slow-fusion
(``base="slow_fusion"``, with its temporal kernels/strides over a 10-frame clip).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from deepvideo.data.multires import fovea_context_streams
from deepvideo.models.fusion import check_clip
from deepvideo.models.tower import (
    TowerSpec,
    build_features,
    build_head,
    feature_shape,
    flatten_time_major,
    init_weights,
)

__all__ = ["MultiResolution"]

STREAMS: dict[str, tuple[str, ...]] = {
    "both": ("fovea", "context"),
    "fovea": ("fovea",),
    "context": ("context",),
}
# Per-base defaults; they equal conf/model/slow_fusion.yaml and multires_slow_fusion.yaml.
BASES: dict[str, tuple[int, tuple[int, ...] | None, tuple[int, ...] | None]] = {
    "single_frame": (1, None, None),
    "slow_fusion": (10, (4, 2, 2, 1, 1), (2, 2, 2, 1, 1)),
}


class MultiResolution(nn.Module):
    """Fovea + context streams merged at fc6 (Sec. 3.2).

    Args:
        num_classes: outputs of the classifier.
        input_size: side ``S`` of the square input clip (178 in the paper); must be even.
        tower: the tower mapping (``conf/model/tower/alexnet.yaml``), dict or ``DictConfig``.
        width: multiplier of every conv channel count and FC width.
        streams: ``"both"`` (the paper's model), ``"fovea"`` or ``"context"`` (ablations).
        base: ``"single_frame"`` or ``"slow_fusion"`` towers.
        num_frames, temporal_kernels, temporal_strides: the towers' time layout; ``None`` takes
            the base's default (1 frame / all-1 kernels, or Slow Fusion's 10 / 4,2,2,1,1 /
            2,2,2,1,1).

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
        d_frames, d_kernels, d_strides = BASES[base]
        frames = d_frames if num_frames is None else int(num_frames)
        kernels = list(temporal_kernels or d_kernels or [1] * n)
        strides = list(temporal_strides or d_strides or [1] * n)
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
            {s: build_features(spec, kernels, strides, drop_last_pool=True) for s in self.streams}
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
