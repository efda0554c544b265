"""The feature-pooling video models of Ng et al. 2015, Sec. 3.1 (Fig. 2).

Each model runs one frame tower (:mod:`deepvideo.models.frames`, parameters shared across
frames, Sec. 3) on every frame of a ``(B, 3, T, H, W)`` clip and combines the frames by max
pooling over time, at a different depth of the network:

=======================  ====================================================================
model                    where time is max-pooled (Sec. 3.1)
=======================  ====================================================================
:class:`ConvPooling`     the last conv layer's maps, over all frames (Fig. 2a)
:class:`LatePooling`     the fc7 features of every frame (Fig. 2b)
:class:`SlowPooling`     conv maps over windows of 10 frames, stride 5, then fc6 per window,
                         then a second max over the windows (Fig. 2c)
:class:`LocalPooling`    conv maps over windows; fc6, fc7 per window; one large softmax layer
                         on all windows, no second max (Fig. 2d)
:class:`TimeDomainConv`  a 3-D conv (256 kernels 3x3 over 10 frames, stride 5) on the conv
                         maps, then a max over time (Fig. 2e)
=======================  ====================================================================

"GoogLeNet Conv Pooling" (Sec. 3.1) is :class:`ConvPooling` on
:class:`~deepvideo.models.frames.GoogLeNetFrames`. Max pooling is the paper's choice of
aggregation: average pooling and an FC "pooling layer" failed to learn (Sec. 3.1).

Every model has the top-level children ``frames`` (the shared tower, which a freezing callback
can freeze), ``tdc`` (Time-Domain Convolution only) and ``classifier``, and maps a clip to
``(B, num_classes)`` logits. New layers are initialised as
:func:`~deepvideo.models.tower.init_weights` does (the classifier ``N(0, 0.01)``); the frame
tower keeps its own initialisation or loaded weights.

Windows (Slow Pooling, Local Pooling, Time-Domain Convolution): windows of ``window`` frames
start every ``stride`` frames (:func:`window_starts`). When ``T`` is not ``window + k*stride``
(e.g. 23 frames, windows 10 / stride 5), a last window ending at the last frame is added, so no
frame is dropped (it overlaps its predecessor by more than ``window - stride`` frames).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from deepvideo.models.frames import FrameTower
from deepvideo.models.tower import init_weights, scale_width

__all__ = [
    "ConvPooling",
    "FrameModel",
    "LatePooling",
    "LocalPooling",
    "SlowPooling",
    "TimeDomainConv",
    "init_classifier",
    "window_max",
    "window_starts",
]


def init_classifier(layer: nn.Linear) -> None:
    """``N(0, 0.01)`` weights and zero bias, the classifier rule of ``tower.init_weights``."""
    nn.init.normal_(layer.weight, 0.0, 0.01)
    nn.init.zeros_(layer.bias)


def _check_window(window: int, stride: int) -> None:
    if window < 1 or stride < 1:
        raise ValueError(
            f"window ({window}) and stride ({stride}) must be >= 1: set model.net.window and "
            "model.net.stride (Ng et al. 2015, Sec. 3.1: 10 and 5)"
        )


def window_starts(num_frames: int, window: int, stride: int) -> list[int]:
    """First frame of every temporal window (Sec. 3.1: 10 frames, stride 5).

    Windows start at ``0, stride, 2*stride, ...`` while they fit; if the last of them ends
    before the last frame, one more window ``[T - window, T)`` is added so every frame is
    covered. ``num_frames < window`` raises a ``ValueError``.
    """
    _check_window(window, stride)
    if num_frames < window:
        raise ValueError(
            f"{num_frames} frames are fewer than one temporal window of {window} frames: "
            f"feed clips of at least {window} frames (model.clip.num_frames)"
        )
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return starts


def window_max(maps: Tensor, window: int, stride: int) -> Tensor:
    """``(B, C, T, h, w) -> (B, C, n_windows, h, w)``: the max over each temporal window."""
    t = maps.shape[2]
    starts = window_starts(t, window, stride)
    pooled = maps.unfold(2, window, stride).amax(-1)  # the regular windows
    if pooled.shape[2] < len(starts):  # the last window, ending at the last frame
        pooled = torch.cat([pooled, maps[:, :, t - window :].amax(2, keepdim=True)], dim=2)
    return pooled


def _per_window(maps: Tensor) -> Tensor:
    """``(B, C, n, h, w) -> (B*n, C*h*w)``, window-major (each row in the tower's (C, h, w) order)."""
    b, n = maps.shape[0], maps.shape[2]
    return maps.transpose(1, 2).reshape(b * n, -1)


class FrameModel(nn.Module):
    """Common part of the Ng et al. models (Sec. 3.1, 3.2): the shared frame tower, the checks.

    Args:
        frames: the per-frame tower (:class:`~deepvideo.models.frames.FrameTower`).
        num_classes: outputs of the classifier.
        num_frames: frames per training clip (``model.clip.num_frames``: 120 or 30 in the
            paper); the model accepts other lengths at inference unless stated otherwise.
        min_frames: fewest frames a clip may have (one temporal window for the windowed models).
    """

    #: one score vector per clip (DeepLSTM has one per frame)
    frame_outputs = False

    def __init__(
        self, frames: nn.Module, num_classes: int, num_frames: int, min_frames: int = 1
    ) -> None:
        super().__init__()
        self.min_frames = int(min_frames)
        name = type(self).__name__
        if not isinstance(frames, FrameTower):
            raise TypeError(
                f"{name} needs a frame tower (deepvideo.models.AlexNetFrames or GoogLeNetFrames) "
                f"as frames, got {type(frames).__name__}: set model.net.frames"
            )
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if num_frames < self.min_frames:
            raise ValueError(
                f"{name} needs clips of at least {self.min_frames} frames, got num_frames "
                f"{num_frames}: set model.clip.num_frames >= {self.min_frames}"
            )
        self.frames = frames
        self.num_classes = int(num_classes)
        self.num_frames = int(num_frames)
        self.feature_dim = frames.feature_dim

    def check_clip(self, x: Tensor) -> None:
        """Raise a clear ``ValueError`` unless ``x`` is a clip of at least ``min_frames``."""
        name = type(self).__name__
        self.frames.check_clip(x, name)
        if x.shape[2] < self.min_frames:
            raise ValueError(
                f"{name} needs clips of at least {self.min_frames} frames (one temporal window), "
                f"got {x.shape[2]}: set model.clip.num_frames >= {self.min_frames}"
            )


class ConvPooling(FrameModel):
    """Conv Pooling (Sec. 3.1, Fig. 2a): max over time of the last conv layer's maps.

    ``frames.conv -> max over T -> flatten -> fc6 -> fc7 -> classifier``: the spatial layout of
    the conv maps is kept through the max over time. Any clip length ``T >= 1``. With
    :class:`~deepvideo.models.frames.GoogLeNetFrames` this is "GoogLeNet Conv Pooling" (the max
    after GoogLeNet's average pooling, then the 1000-D layer and two 4096 FC layers).
    """

    def __init__(self, frames: nn.Module, num_classes: int, num_frames: int) -> None:
        super().__init__(frames, num_classes, num_frames)
        self.classifier = nn.Linear(self.feature_dim, self.num_classes)
        init_classifier(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, num_classes)`` logits."""
        self.check_clip(x)
        pooled = self.frames.conv(x).amax(dim=2)  # (B, C, h, w)
        return self.classifier(self.frames.head(pooled.flatten(1)))


class LatePooling(FrameModel):
    """Late Pooling (Sec. 3.1, Fig. 2b): max over time of every frame's fc7 features.

    The conv layers and both FC layers are shared across frames; ``frames.conv -> fc6 -> fc7``
    per frame, then max over ``T``, then the classifier. Any ``T >= 1``.
    """

    def __init__(self, frames: nn.Module, num_classes: int, num_frames: int) -> None:
        super().__init__(frames, num_classes, num_frames)
        self.classifier = nn.Linear(self.feature_dim, self.num_classes)
        init_classifier(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, num_classes)`` logits."""
        self.check_clip(x)
        return self.classifier(self.frames.frame_features(x).amax(dim=1))


class _WindowedNet(FrameModel):
    """A pooling model over temporal windows of ``window`` frames every ``stride`` frames."""

    def __init__(
        self, frames: nn.Module, num_classes: int, num_frames: int, window: int, stride: int
    ) -> None:
        _check_window(window, stride)
        super().__init__(frames, num_classes, num_frames, min_frames=window)
        self.window = int(window)
        self.stride = int(stride)

    def num_windows(self, num_frames: int) -> int:
        """Number of temporal windows of a ``num_frames`` clip (:func:`window_starts`)."""
        return len(window_starts(num_frames, self.window, self.stride))


class SlowPooling(_WindowedNet):
    """Slow Pooling (Sec. 3.1, Fig. 2c): two stages of max pooling over time.

    Stage 1 max-pools the conv maps over windows of ``window`` frames with stride ``stride``
    ("a size-10 filter being convolved over a 1-D input with stride 5"), and each window goes
    through fc6 (shared weights); stage 2 is one max over the windows' fc6 outputs, followed by
    fc7 and the classifier. Any ``T >= window`` (a last window ends at the last frame when ``T``
    is not ``window + k*stride``: :func:`window_starts`); fewer frames raise a ``ValueError``.
    """

    def __init__(
        self,
        frames: nn.Module,
        num_classes: int,
        num_frames: int,
        window: int = 10,
        stride: int = 5,
    ) -> None:
        super().__init__(frames, num_classes, num_frames, window, stride)
        self.classifier = nn.Linear(self.feature_dim, self.num_classes)
        init_classifier(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, num_classes)`` logits."""
        self.check_clip(x)
        windows = window_max(self.frames.conv(x), self.window, self.stride)  # (B, C, n, h, w)
        b, n = windows.shape[0], windows.shape[2]
        fc6 = self.frames.head_fc6(_per_window(windows)).view(b, n, -1)
        return self.classifier(self.frames.fc7(fc6.amax(dim=1)))


class LocalPooling(_WindowedNet):
    """Local Pooling (Sec. 3.1, Fig. 2d): one stage of windowed max pooling, no second max.

    The conv maps are max-pooled over windows as in :class:`SlowPooling`; every window goes
    through fc6 and fc7 (shared), and "a larger softmax layer is connected to all towers": the
    windows' fc7 features are concatenated in time order into one
    ``Linear(n_windows * feature_dim, num_classes)`` classifier, which keeps the order of the
    windows (no loss of temporal information from a second max). That layer ties the model to
    ``num_frames``-frame clips (``n_windows`` windows, 23 for 120 frames, 5 for 30): any other
    length raises a ``ValueError``.
    """

    def __init__(
        self,
        frames: nn.Module,
        num_classes: int,
        num_frames: int,
        window: int = 10,
        stride: int = 5,
    ) -> None:
        super().__init__(frames, num_classes, num_frames, window, stride)
        self.n_windows = self.num_windows(self.num_frames)
        self.classifier = nn.Linear(self.n_windows * self.feature_dim, self.num_classes)
        init_classifier(self.classifier)

    def check_clip(self, x: Tensor) -> None:
        """As the base check, and the clip must have exactly ``num_frames`` frames."""
        super().check_clip(x)
        t = x.shape[2]
        if t != self.num_frames:
            raise ValueError(
                f"LocalPooling was built for clips of {self.num_frames} frames: its softmax "
                f"layer is connected to all {self.n_windows} window towers ({self.window} frames, "
                f"stride {self.stride}), so it takes exactly {self.num_frames} frames, got {t}; "
                f"feed {self.num_frames}-frame clips (model.clip.num_frames={self.num_frames}, "
                "model.clip.test_clips.mode=random) or use a model that pools over any length"
            )

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, num_frames, H, W) -> (B, num_classes)`` logits."""
        self.check_clip(x)
        windows = window_max(self.frames.conv(x), self.window, self.stride)
        b = windows.shape[0]
        feats = self.frames.head(_per_window(windows)).view(b, -1)  # windows in time order
        return self.classifier(feats)


class TimeDomainConv(_WindowedNet):
    """Time-Domain Convolution (Sec. 3.1, Fig. 2e): a 3-D conv layer before the max over time.

    ``tdc`` = ``Conv3d(C, channels*width, kernel (window, 3, 3), stride (stride, 1, 1),
    padding (0, 1, 1))`` + ReLU ("256 kernels of size 3x3 across 10 frames with frame stride 5")
    on the frame tower's conv maps, then the max over time, then the FC head and classifier.
    The head reads the ``tdc`` maps, so the tower's head input layer is replaced by a fresh
    one of ``round(channels*width) * h * w`` inputs
    (:meth:`~deepvideo.models.frames.FrameTower.replace_head_input`; re-initialised even when
    the tower was loaded from weights). Any ``T >= window``; when ``T`` is not
    ``window + k*stride`` the conv is also applied to the last ``window`` frames
    (:func:`window_starts`), so no frame is dropped.
    """

    def __init__(
        self,
        frames: nn.Module,
        num_classes: int,
        num_frames: int,
        window: int = 10,
        stride: int = 5,
        channels: int = 256,
        width: float = 1.0,
    ) -> None:
        super().__init__(frames, num_classes, num_frames, window, stride)
        if channels < 1 or width <= 0:
            raise ValueError(
                f"channels ({channels}) must be >= 1 and width ({width}) positive: set "
                "model.net.channels (Sec. 3.1: 256) and data.recipe.width"
            )
        c, h, w = self.frames.conv_shape
        self.channels = scale_width(int(channels), width)
        self.tdc = nn.Sequential(
            OrderedDict(
                conv=nn.Conv3d(
                    c,
                    self.channels,
                    kernel_size=(self.window, 3, 3),
                    stride=(self.stride, 1, 1),
                    padding=(0, 1, 1),
                ),
                relu=nn.ReLU(inplace=True),
            )
        )
        init_weights(self.tdc)
        self.frames.replace_head_input(self.channels * h * w)
        self.classifier = nn.Linear(self.feature_dim, self.num_classes)
        init_classifier(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, num_classes)`` logits."""
        self.check_clip(x)
        maps = self.frames.conv(x)
        t = maps.shape[2]
        y = self.tdc(maps)  # (B, channels, n_regular, h, w)
        if y.shape[2] < self.num_windows(t):  # the last window, ending at the last frame
            y = torch.cat([y, self.tdc(maps[:, :, t - self.window :])], dim=2)
        pooled = y.amax(dim=2)
        return self.classifier(self.frames.head(pooled.flatten(1)))
