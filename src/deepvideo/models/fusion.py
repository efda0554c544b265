"""Time-fusion ConvNets of Karpathy et al. 2014, Sec. 3.1 (Fig. 1).

All four variants are one AlexNet-style tower (:mod:`deepvideo.models.tower`) whose conv layers
are 3-D with a per-layer temporal extent ``kt`` and temporal stride ``st`` (valid in time):

==============  ==========  ===================  ===================  =====================
variant         num_frames  temporal kernels     temporal strides     time left at fc6
==============  ==========  ===================  ===================  =====================
Single Frame    1           1, 1, 1, 1, 1        1, 1, 1, 1, 1        1
Early Fusion    10          10, 1, 1, 1, 1       1, 1, 1, 1, 1        1 (fused in conv1)
Late Fusion     2           1, 1, 1, 1, 1        1, 1, 1, 1, 1        2 (fused in fc6)
Slow Fusion     10          4, 2, 2, 1, 1        2, 2, 2, 1, 1        1 (10 -> 4 -> 2 -> 1)
==============  ==========  ===================  ===================  =====================

(The Slow Fusion row is the paper's; the values come from ``conf/model/time/slow_fusion.yaml``.)

Late fusion's two "towers with shared parameters" are the same conv stack applied with a
temporal kernel of 1 to a 2-frame clip (the data layer puts frames 15 apart into one clip): one
set of conv weights, two per-frame conv5 maps, which are concatenated (frame 0 first) and fed to
fc6. Input to every net: ``(B, 3, T, H, W)`` mean-subtracted pixels; output: ``(B, num_classes)``
logits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from deepvideo.models.tower import (
    DEFAULT_MEMORY_FORMAT,
    TowerSpec,
    build_features,
    build_head,
    feature_shape,
    flatten_time_major,
    init_weights,
)

__all__ = ["EarlyFusion", "FusionNet", "LateFusion", "SingleFrame", "SlowFusion", "check_clip"]


def check_clip(net: nn.Module, x: Tensor, num_frames: int, input_size: int) -> None:
    """Raise a clear ``ValueError`` if ``x`` is not a ``(B, 3, num_frames, S, S)`` clip."""
    name = type(net).__name__
    if x.dim() != 5 or x.shape[1] != 3:
        raise ValueError(f"{name} expects clips shaped (B, 3, T, H, W), got {tuple(x.shape)}")
    t = x.shape[2]
    if t != num_frames:
        raise ValueError(
            f"{name} expects clips of {num_frames} frames, got {t}: set model.clip.num_frames "
            f"(the frames the data layer delivers per clip) to {num_frames}"
        )
    if tuple(x.shape[-2:]) != (input_size, input_size):
        raise ValueError(
            f"{name} was built for {input_size}x{input_size} frames (model.net.input_size), got "
            f"{x.shape[-2]}x{x.shape[-1]}: set model.clip.crop_size to {input_size}"
        )


class FusionNet(nn.Module):
    """One AlexNet-style tower whose temporal kernels decide when time is fused (Sec. 3.1).

    Args:
        num_classes: outputs of the classifier.
        input_size: side of the square input frames (170 in the paper).
        tower: the tower mapping (``conf/model/tower/alexnet.yaml``), dict or ``DictConfig``.
        width: multiplier of every conv channel count and FC width (1.0 = paper).
        num_frames: frames per input clip.
        temporal_kernels, temporal_strides: per conv layer; ``None`` means all 1.
        memory_format: layout of the conv maps, ``"contiguous"`` or ``"channels_last"``
            (:class:`~deepvideo.models.tower.ConvBlock`); speed only, same results.

    Attributes: ``features`` (``conv1..convN``), ``fc6``, ``fc7``, ``classifier``;
    ``feature_dim`` (fc7 width), ``feature_shape`` (``(C, T, H, W)`` after the conv stack).
    """

    def __init__(
        self,
        num_classes: int,
        input_size: int,
        tower: Mapping[str, Any] | TowerSpec,
        width: float = 1.0,
        *,
        num_frames: int = 1,
        temporal_kernels: Sequence[int] | None = None,
        temporal_strides: Sequence[int] | None = None,
        memory_format: str = DEFAULT_MEMORY_FORMAT,
    ) -> None:
        super().__init__()
        spec = TowerSpec.from_config(tower).scaled(width)
        n = len(spec.convs)
        kernels = [1] * n if temporal_kernels is None else [int(k) for k in temporal_kernels]
        strides = [1] * n if temporal_strides is None else [int(s) for s in temporal_strides]
        self.num_classes = int(num_classes)
        self.input_size = int(input_size)
        self.num_frames = int(num_frames)
        self.temporal_kernels = tuple(kernels)
        self.temporal_strides = tuple(strides)
        self.feature_shape = feature_shape(
            spec, self.input_size, self.num_frames, kernels, strides, name=type(self).__name__
        )
        self.features = build_features(spec, kernels, strides, memory_format=memory_format)
        c, t, h, w = self.feature_shape
        self.fc6, self.fc7, self.classifier = build_head(c * t * h * w, spec, self.num_classes)
        self.feature_dim = spec.fc[1]
        init_weights(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, feature_dim)``: the fc7 activations (after ReLU/dropout)."""
        check_clip(self, x, self.num_frames, self.input_size)
        return self.fc7(self.fc6(flatten_time_major(self.features(x))))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, num_classes)`` logits."""
        return self.classifier(self.forward_features(x))

    def first_layer_filters(self) -> Tensor:
        """conv1 weights ``(out, 3, kt, k, k)`` (detached), for the Fig. 3 visualisation."""
        conv = self.features.get_submodule("conv1.conv")
        assert isinstance(conv, nn.Conv3d)
        return conv.weight.detach()


class SingleFrame(FusionNet):
    """Single-frame baseline (Sec. 3.1): the tower on one frame, all temporal kernels 1."""

    def __init__(
        self,
        num_classes: int,
        input_size: int,
        tower: Mapping[str, Any] | TowerSpec,
        width: float = 1.0,
        memory_format: str = DEFAULT_MEMORY_FORMAT,
    ) -> None:
        super().__init__(
            num_classes, input_size, tower, width, num_frames=1, memory_format=memory_format
        )


class EarlyFusion(FusionNet):
    """Early Fusion (Sec. 3.1): conv1 filters span the whole clip (11x11x3xT, T=10).

    Time is collapsed at the first layer; conv2..conv5 are 2-D.
    """

    def __init__(
        self,
        num_classes: int,
        input_size: int,
        tower: Mapping[str, Any] | TowerSpec,
        width: float = 1.0,
        num_frames: int = 10,
        memory_format: str = DEFAULT_MEMORY_FORMAT,
    ) -> None:
        n = len(TowerSpec.from_config(tower).convs)
        super().__init__(
            num_classes,
            input_size,
            tower,
            width,
            num_frames=num_frames,
            temporal_kernels=[num_frames] + [1] * (n - 1),
            memory_format=memory_format,
        )


class LateFusion(FusionNet):
    """Late Fusion (Sec. 3.1): two single-frame towers with shared weights, merged at fc6.

    The data layer delivers the two frames (15 apart in the paper) as a 2-frame clip; the
    conv stack (temporal kernel 1, hence one shared set of weights) maps each frame to its
    conv5 output, and the two outputs are concatenated (frame 0 first) into fc6, which can thus
    compare them and detect global motion.
    """

    def __init__(
        self,
        num_classes: int,
        input_size: int,
        tower: Mapping[str, Any] | TowerSpec,
        width: float = 1.0,
        num_frames: int = 2,
        memory_format: str = DEFAULT_MEMORY_FORMAT,
    ) -> None:
        if num_frames < 2:
            raise ValueError(f"LateFusion needs at least 2 frames per clip, got {num_frames}")
        super().__init__(
            num_classes,
            input_size,
            tower,
            width,
            num_frames=num_frames,
            memory_format=memory_format,
        )


class SlowFusion(FusionNet):
    """Slow Fusion (Sec. 3.1): time is merged progressively by 3-D convolutions.

    The time layout has no default here: its one home is ``conf/model/time/slow_fusion.yaml``
    (the paper's 10-frame clips, conv1 T=4 stride 2 -> 4 time steps, conv2 and conv3 T=2
    stride 2 -> 2 -> 1, so conv3 and above see the whole clip).

    Args:
        num_frames: frames per input clip (10 in the paper).
        temporal_kernels, temporal_strides: per conv layer (4, 2, 2, 1, 1 and 2, 2, 2, 1, 1).
        Others as :class:`FusionNet`.
    """

    def __init__(
        self,
        num_classes: int,
        input_size: int,
        tower: Mapping[str, Any] | TowerSpec,
        width: float = 1.0,
        *,
        num_frames: int,
        temporal_kernels: Sequence[int],
        temporal_strides: Sequence[int],
        memory_format: str = DEFAULT_MEMORY_FORMAT,
    ) -> None:
        super().__init__(
            num_classes,
            input_size,
            tower,
            width,
            num_frames=num_frames,
            temporal_kernels=temporal_kernels,
            temporal_strides=temporal_strides,
            memory_format=memory_format,
        )
