"""The ConvNets of Karpathy et al. 2014 (Sec. 3) and Ng et al. 2015 (Sec. 3) as ``nn.Module``s.

Every Karpathy net maps a ``(B, 3, T, H, W)`` clip of mean-subtracted pixels to
``(B, num_classes)`` logits and exposes ``features`` / ``fc6`` / ``fc7`` / ``classifier``,
``feature_dim``, ``forward_features`` and ``first_layer_filters``.

The Ng et al. models run a per-frame tower (``frames``: :class:`AlexNetFrames`,
:class:`GoogLeNetFrames`) on every frame and combine the frames by max pooling (Sec. 3.1:
:class:`ConvPooling`, :class:`LatePooling`, :class:`SlowPooling`, :class:`LocalPooling`,
:class:`TimeDomainConv`; ``(B, num_classes)`` logits) or by a deep LSTM (Sec. 3.2:
:class:`DeepLSTM`, ``(B, T, num_classes)`` per-frame logits, ``frame_outputs = True``).
"""

from __future__ import annotations

from torch import nn

from deepvideo.models.ensemble import AverageEnsemble
from deepvideo.models.frames import AlexNetFrames, FrameTower, GoogLeNetFrames
from deepvideo.models.fusion import EarlyFusion, FusionNet, LateFusion, SingleFrame, SlowFusion
from deepvideo.models.lstm import (
    INFERENCE_RULES,
    DeepLSTM,
    combine_frames,
    frame_gains,
    gain_weighted_loss,
)
from deepvideo.models.multires import MultiResolution
from deepvideo.models.pooling import (
    ConvPooling,
    FrameModel,
    LatePooling,
    LocalPooling,
    SlowPooling,
    TimeDomainConv,
)

__all__ = [
    "INFERENCE_RULES",
    "AlexNetFrames",
    "AverageEnsemble",
    "ConvPooling",
    "DeepLSTM",
    "EarlyFusion",
    "FrameModel",
    "FrameTower",
    "FusionNet",
    "GoogLeNetFrames",
    "LateFusion",
    "LatePooling",
    "LocalPooling",
    "MultiResolution",
    "SingleFrame",
    "SlowFusion",
    "SlowPooling",
    "TimeDomainConv",
    "combine_frames",
    "count_parameters",
    "frame_gains",
    "gain_weighted_loss",
]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
