"""The ConvNets of Karpathy et al. 2014 (Sec. 3) as plain ``nn.Module``s.

Every net maps a ``(B, 3, T, H, W)`` clip of mean-subtracted pixels to ``(B, num_classes)``
logits and exposes ``features`` / ``fc6`` / ``fc7`` / ``classifier``, ``feature_dim``,
``forward_features`` and ``first_layer_filters``.
"""

from __future__ import annotations

from torch import nn

from deepvideo.models.ensemble import AverageEnsemble
from deepvideo.models.fusion import EarlyFusion, FusionNet, LateFusion, SingleFrame, SlowFusion
from deepvideo.models.multires import MultiResolution

__all__ = [
    "AverageEnsemble",
    "EarlyFusion",
    "FusionNet",
    "LateFusion",
    "MultiResolution",
    "SingleFrame",
    "SlowFusion",
    "count_parameters",
]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
