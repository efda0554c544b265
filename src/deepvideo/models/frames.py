"""Per-frame CNN towers of Ng et al. 2015, Sec. 3, shared across the frames of a video.

Every video model of Ng et al. (the feature-pooling nets of Sec. 3.1 and the deep LSTM of
Sec. 3.2) runs one image CNN on every frame, "in all methods CNN share parameters across
frames" (Sec. 3). A *frame tower* is that CNN, split where the models need to cut it:

- :meth:`FrameTower.conv` maps a clip ``(B, 3, T, H, W)`` to the last conv layer's maps
  ``(B, C, T, h, w)``, each frame on its own (time is folded into the batch);
- :meth:`FrameTower.head` maps flattened conv maps ``(N, C*h*w)`` to the ``feature_dim``-wide
  top FC activations (fc7), on any number ``N`` of frames or pooled frames;
- :meth:`FrameTower.head_fc6` / ``fc7`` are the two halves of the head, which Slow Pooling
  (Sec. 3.1) separates by its second max-pooling stage.

Two towers (Sec. 3): :class:`AlexNetFrames` (the Karpathy et al. 2014 AlexNet-style tower at
220x220) and :class:`GoogLeNetFrames` (GoogLeNet, Szegedy et al. 2015, from torchvision's
building blocks). Both can start from stored weights (``weights=PATH``; nothing is downloaded),
as Ng et al. initialise their CNNs from ImageNet models (Sec. 3.3).
"""

from __future__ import annotations

import abc
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.googlenet import BasicConv2d, Inception

from deepvideo.errors import ConfigError
from deepvideo.models.tower import (
    DEFAULT_MEMORY_FORMAT,
    MEMORY_FORMATS,
    TowerSpec,
    build_features,
    build_head,
    feature_shape,
    fold_time,
    init_weights,
    scale_width,
)

log = logging.getLogger(__name__)

__all__ = ["AlexNetFrames", "FrameTower", "GoogLeNetFrames", "GOOGLENET_MIN_SIZE"]

# The override that points a frame tower at a weights file (named in the error messages).
WEIGHTS_OVERRIDE = "model.net.frames.weights"
# The smallest frames GoogLeNetFrames accepts: its five stride-2 stages take 32 to 1x1.
GOOGLENET_MIN_SIZE = 32


def _fc(in_features: int, out_features: int, dropout: float) -> nn.Sequential:
    """``Sequential(fc, relu, dropout)``, the layout of ``tower.build_head``'s fc6 / fc7."""
    return nn.Sequential(
        OrderedDict(
            fc=nn.Linear(in_features, out_features),
            relu=nn.ReLU(inplace=True),
            dropout=nn.Dropout(dropout),
        )
    )


def _check_dropout(dropout: float) -> float:
    if not 0.0 <= dropout < 1.0:
        raise ValueError(
            f"dropout must be in [0, 1), got {dropout}: set data.recipe.frame_dropout "
            "(Ng et al. 2015, Sec. 3: 0.6 on each fully connected layer)"
        )
    return float(dropout)


def _strip(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    n = len(prefix)
    return {k[n:]: v for k, v in state.items() if k.startswith(prefix)}


class FrameTower(nn.Module, abc.ABC):
    """Base class of the per-frame CNNs (Ng et al. 2015, Sec. 3).

    Subclasses build ``features`` (the conv trunk, ``(B, 3, T, H, W) -> (B, C, T, h, w)``),
    ``fc6`` and ``fc7`` (each ``Sequential(fc, relu, dropout)``) and set ``conv_shape``
    ``(C, h, w)``, ``feature_dim`` (fc7 width) and ``input_size``; they may put more layers
    in front of fc6 by overriding :meth:`head_fc6` and :attr:`head_input`.

    Attributes: ``loaded_from``, the weights file the tower was initialised from (or None).
    """

    features: nn.Module
    fc6: nn.Sequential
    fc7: nn.Sequential
    conv_shape: tuple[int, int, int]
    feature_dim: int
    input_size: int
    loaded_from: str | None

    # ----------------------------------------------------------------------------------------
    # the forward pieces
    def check_clip(self, x: Tensor, who: str) -> None:
        """Raise a ``ValueError`` (naming the model ``who``) unless ``x`` is a clip this tower takes."""
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"{who} expects clips shaped (B, 3, T, H, W), got {tuple(x.shape)}")
        if x.shape[2] < 1:
            raise ValueError(f"{who} got a clip of 0 frames")
        if tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(
                f"{who}'s frame tower was built for {self.input_size}x{self.input_size} frames "
                f"(model.net.frames.input_size), got {x.shape[-2]}x{x.shape[-1]}: set "
                f"model.clip.crop_size to {self.input_size}"
            )

    def conv(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, C, T, h, w)``: the last conv layer's maps of every frame."""
        return self.features(x)

    def head_fc6(self, v: Tensor) -> Tensor:
        """``(N, head_in_features) -> (N, fc6 width)``: the head up to fc6 (after its dropout)."""
        return self.fc6(v)

    def head(self, v: Tensor) -> Tensor:
        """``(N, head_in_features) -> (N, feature_dim)``: the FC head, ``fc7(fc6(v))``."""
        return self.fc7(self.head_fc6(v))

    def frame_features(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, T, feature_dim)``: the head on every frame's conv maps."""
        maps = self.conv(x)
        b, t = maps.shape[0], maps.shape[2]
        per_frame = maps.transpose(1, 2).reshape(b * t, -1)  # (C, h, w) order, as SingleFrame
        return self.head(per_frame).view(b, t, -1)

    # ----------------------------------------------------------------------------------------
    # the head's input layer (Time-Domain Convolution feeds it other features)
    @property
    def head_input(self) -> nn.Linear:
        """The first linear layer of the head (the one that reads the flattened conv maps)."""
        layer = self.fc6.fc
        assert isinstance(layer, nn.Linear)
        return layer

    @property
    def head_in_features(self) -> int:
        """Width of the head's input: ``C*h*w`` of :attr:`conv_shape` unless replaced."""
        return self.head_input.in_features

    def _set_head_input(self, layer: nn.Linear) -> None:
        self.fc6.fc = layer

    def replace_head_input(self, in_features: int) -> None:
        """Give the head a new, freshly initialised input layer reading ``in_features`` values.

        Used by :class:`~deepvideo.models.pooling.TimeDomainConv`, whose head reads the
        time-domain convolution's maps instead of the conv trunk's: the layer is always
        re-initialised (also when the width is unchanged, and when the tower was loaded from
        ``weights``), since its input is a different feature space.
        """
        old = self.head_input
        if in_features < 1:
            raise ValueError(f"the head's input width must be >= 1, got {in_features}")
        layer = nn.Linear(
            in_features, old.out_features, device=old.weight.device, dtype=old.weight.dtype
        )
        init_weights(layer)
        self._set_head_input(layer)
        if self.loaded_from is not None:
            log.info(
                "%s: the head's input layer (loaded from %s) is replaced by a new %d -> %d one",
                type(self).__name__,
                self.loaded_from,
                in_features,
                old.out_features,
            )

    # ----------------------------------------------------------------------------------------
    # stored weights
    @abc.abstractmethod
    def _source_state(self, raw: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], set[str]]:
        """Map a file's tensors to this tower's state-dict keys; also return the required keys
        (each tower reads its own file formats)."""

    def _load_weights(self, weights: str | Path) -> None:
        path = Path(weights).expanduser()
        name = type(self).__name__
        if not path.is_file():
            raise FileNotFoundError(
                f"{name}: weights file {path} does not exist; set {WEIGHTS_OVERRIDE}=PATH to an "
                f"existing file (or {WEIGHTS_OVERRIDE}=null to start from a random initialisation)"
            )
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:
            raise ConfigError(f"{name}: cannot read weights file {path} ({err})") from err
        if isinstance(obj, Mapping) and "state_dict" in obj:
            obj = obj["state_dict"]
        if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
            raise ConfigError(
                f"{name}: {path} holds neither a state dict nor a Lightning checkpoint; set "
                f"{WEIGHTS_OVERRIDE} to one"
            )
        source, required = self._source_state(obj)
        target = self.state_dict()
        missing = sorted(k for k in required if k not in source)
        mismatched = sorted(
            k for k in target if k in source and tuple(source[k].shape) != tuple(target[k].shape)
        )
        if missing or mismatched:
            problems = [f"missing: {', '.join(missing[:8])}"] if missing else []
            if len(missing) > 8:
                problems[-1] += f" (and {len(missing) - 8} more)"
            problems += [
                f"{k} is {tuple(source[k].shape)} in the file but {tuple(target[k].shape)} here"
                for k in mismatched[:8]
            ]
            if len(mismatched) > 8:
                problems.append(f"and {len(mismatched) - 8} more mis-shaped tensors")
            raise ConfigError(
                f"{name}: cannot load {path}: {'; '.join(problems)}. Build the tower the weights "
                "were trained with (same data.recipe.width and model.clip.crop_size) or set "
                f"{WEIGHTS_OVERRIDE}=null"
            )
        loaded = {k: v for k, v in source.items() if k in target}
        self.load_state_dict(loaded, strict=False)
        self.loaded_from = str(path)
        log.info(
            "%s: loaded %d of %d tensors from %s (the rest keep their initialisation)",
            name,
            len(loaded),
            len(target),
            path,
        )


class AlexNetFrames(FrameTower):
    """The AlexNet-style single-frame CNN of Ng et al. 2015, Sec. 3, shared across frames.

    Ng et al. describe their AlexNet as a Krizhevsky-style CNN on 220x220 frames with "square
    convolutional layers of size 11, 9, and 5", two FC layers of 4096 ReLUs, and dropout 0.6 on
    each FC layer. We use the Karpathy et al. 2014 tower (``conf/model/tower/alexnet.yaml``,
    conv kernels 11, 5, 3, 3, 3) at 220x220, so the two papers' single-frame nets are the same
    tower and a Karpathy single-frame checkpoint initialises this one; at width 1 its conv maps
    are 256x9x9 (220 -conv1-> 70 -P-> 35 -conv2-> 35 -P-> 18 -conv3..5-> 18 -P-> 9).

    Args:
        input_size: side of the square frames (220 in the paper).
        tower: the tower mapping (``conf/model/tower/alexnet.yaml``) or a :class:`TowerSpec`;
            its ``dropout`` is replaced by ``dropout``.
        width: multiplier of every conv channel count and FC width (1.0 = paper).
        dropout: after the ReLU of fc6 and of fc7 (Sec. 3: 0.6).
        weights: a deepvideo checkpoint or state dict to start from (see :meth:`_source_state`),
            or None for a random initialisation (:func:`~deepvideo.models.tower.init_weights`).
        memory_format: layout of the folded conv maps (speed only).

    Modules ``features`` (``conv1..conv5``, temporal kernels 1), ``fc6``, ``fc7``: the same
    names and shapes as :class:`~deepvideo.models.SingleFrame`'s ``features``, ``fc6``, ``fc7``.
    """

    def __init__(
        self,
        input_size: int,
        tower: Mapping[str, Any] | TowerSpec,
        width: float = 1.0,
        dropout: float = 0.6,
        weights: str | None = None,
        memory_format: str = DEFAULT_MEMORY_FORMAT,
    ) -> None:
        super().__init__()
        spec = replace(TowerSpec.from_config(tower).scaled(width), dropout=_check_dropout(dropout))
        ones = [1] * len(spec.convs)
        self.input_size = int(input_size)
        self.width = float(width)
        c, _, h, w = feature_shape(spec, self.input_size, 1, ones, ones, name=type(self).__name__)
        self.conv_shape = (c, h, w)
        self.features = build_features(spec, ones, ones, memory_format=memory_format)
        self.fc6, self.fc7, _ = build_head(c * h * w, spec, 1)
        self.feature_dim = spec.fc[1]
        self.loaded_from = None
        init_weights(self)
        if weights is not None:
            self._load_weights(weights)

    def _source_state(self, raw: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], set[str]]:
        """The tower's tensors in ``raw``; all of ``features.*``, ``fc6.*``, ``fc7.*`` required.

        Accepted layouts: a Lightning checkpoint's ``state_dict`` of an Ng model (``net.frames.*``)
        or of a Karpathy single-frame net (``net.features.*``, ``net.fc6.*``, ``net.fc7.*``), an
        Ng model's state dict (``frames.*``) or the tower's own state dict.
        """
        keys = list(raw)
        for prefix in ("net.frames.", "net.", "frames."):
            if any(k.startswith(prefix) for k in keys):
                raw = _strip(raw, prefix)
                break
        return dict(raw), set(self.state_dict())


# GoogLeNet (Szegedy et al. 2015, Table 1) as torchvision lays it out: the stem, then per
# Inception module (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj); the max poolings as
# (kernel, stride), all rounding up (ceil_mode). Stem rows: (name, in, out, kernel, stride, padding).
_GOOGLENET_STEM = (
    ("conv1", 3, 64, 7, 2, 3),
    ("conv2", 64, 64, 1, 1, 0),
    ("conv3", 64, 192, 3, 1, 1),
)
_GOOGLENET_BODY: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("maxpool2", (3, 2)),
    ("inception3a", (64, 96, 128, 16, 32, 32)),
    ("inception3b", (128, 128, 192, 32, 96, 64)),
    ("maxpool3", (3, 2)),
    ("inception4a", (192, 96, 208, 16, 48, 64)),
    ("inception4b", (160, 112, 224, 24, 64, 64)),
    ("inception4c", (128, 128, 256, 24, 64, 64)),
    ("inception4d", (112, 144, 288, 32, 64, 64)),
    ("inception4e", (256, 160, 320, 32, 128, 128)),
    ("maxpool4", (2, 2)),
    ("inception5a", (256, 160, 320, 32, 128, 128)),
    ("inception5b", (384, 192, 384, 48, 128, 128)),
)
_IMAGENET_CLASSES = 1000


def googlenet_trunk(width: float = 1.0) -> tuple[nn.Sequential, int]:
    """GoogLeNet's conv trunk up to its global average pooling, every channel count x ``width``.

    Built from torchvision's ``BasicConv2d`` (conv without bias, batch norm, ReLU) and
    ``Inception`` modules, with torchvision's module names, so at ``width`` 1 the keys and
    shapes are those of ``torchvision.models.googlenet`` (prefix ``features.`` aside). Like
    torchvision, the "5x5" branch uses 3x3 kernels (torchvision keeps that known deviation
    for its released weights). Returns the trunk and its output channels (1024 at width 1).
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    c = 3
    for name, _, out, k, s, p in _GOOGLENET_STEM:
        out = scale_width(out, width)
        layers[name] = BasicConv2d(c, out, kernel_size=k, stride=s, padding=p)
        c = out
        if name == "conv1":
            layers["maxpool1"] = nn.MaxPool2d(3, stride=2, ceil_mode=True)
    for name, cfg in _GOOGLENET_BODY:
        if name.startswith("maxpool"):
            layers[name] = nn.MaxPool2d(cfg[0], stride=cfg[1], ceil_mode=True)
            continue
        ch = [scale_width(n, width) for n in cfg]
        layers[name] = Inception(c, *ch)
        c = ch[0] + ch[2] + ch[4] + ch[5]
    layers["avgpool"] = nn.AdaptiveAvgPool2d((1, 1))
    return nn.Sequential(layers), c


class GoogLeNetFrames(FrameTower):
    """GoogLeNet (Szegedy et al. 2015) as the per-frame CNN, Ng et al. 2015, Sec. 3 and 3.1.

    "GoogLeNet Conv Pooling" (Sec. 3.1): the trunk ends in the average-pooling layer (1024-D
    per frame at width 1; :meth:`conv` gives ``(B, 1024, T, 1, 1)``), where the pooling models
    max-pool over time; on top of "the 1000D output" the paper adds "two fully connected layers
    of size 4096 with ReLU activations ... before softmax". So the head is ``fc``
    (``Linear(1024, 1000)``, GoogLeNet's ImageNet classifier, loadable from torchvision weights),
    ``fc6`` and ``fc7`` (``Sequential(fc, relu, dropout)``, ``fc_dim`` wide). No auxiliary
    classifiers.

    No ReLU after ``fc`` (``fc_relu=False``, our reading): the 1000-D output the paper builds on
    is GoogLeNet's linear classifier output, and the ReLUs the paper names are those of the two
    new layers; ``fc`` then acts as a linear 1000-D bottleneck. ``fc_relu=True`` adds one.
    Nor do we keep GoogLeNet's dropout before ``fc``: dropout (0.6, Sec. 3) is on fc6 and fc7.

    Input: mean-subtracted frames as every deepvideo net takes them (no torchvision
    ``transform_input``). Any frame size from 32x32 works (adaptive average pooling); the
    frames are checked against ``input_size`` to catch a clip/config mismatch.

    Args:
        input_size: side of the square frames (220 in the paper; >= 32).
        width: multiplier of every channel count of the trunk, of the 1000-D layer and of
            ``fc_dim`` (1.0 = torchvision's layout, so a torchvision state dict loads).
        dropout: after the ReLU of fc6 and fc7 (Sec. 3: 0.6).
        weights: a torchvision ``googlenet`` state dict file (``aux1.*``/``aux2.*`` ignored,
            ``fc.*`` loads into ``fc``; fc6/fc7 keep their initialisation) or a deepvideo
            checkpoint of a model built on this tower (``net.frames.*``); None: random init.
        fc_dim: width of fc6 and fc7 before ``width`` scaling (Sec. 3.1: 4096).
        fc_relu: a ReLU after ``fc`` (default False, see above).
        memory_format: layout of the folded maps (speed only).
    """

    def __init__(
        self,
        input_size: int,
        width: float = 1.0,
        dropout: float = 0.6,
        weights: str | None = None,
        fc_dim: int = 4096,
        *,
        fc_relu: bool = False,
        memory_format: str = DEFAULT_MEMORY_FORMAT,
    ) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}: set data.recipe.width")
        if input_size < GOOGLENET_MIN_SIZE:
            raise ValueError(
                f"GoogLeNetFrames needs frames of at least {GOOGLENET_MIN_SIZE}x"
                f"{GOOGLENET_MIN_SIZE}, got input_size {input_size}: set model.clip.crop_size"
            )
        if memory_format not in MEMORY_FORMATS:
            raise ValueError(
                f"memory_format must be one of {list(MEMORY_FORMATS)}, got {memory_format!r}"
            )
        dropout = _check_dropout(dropout)
        self.input_size = int(input_size)
        self.width = float(width)
        self._layout = (
            torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
        )
        self.features, c = googlenet_trunk(width)
        self.conv_shape = (c, 1, 1)
        n_out = scale_width(_IMAGENET_CLASSES, width)
        d = scale_width(int(fc_dim), width)
        self.fc = nn.Linear(c, n_out)
        self.fc_relu = nn.ReLU(inplace=True) if fc_relu else nn.Identity()
        self.fc6 = _fc(n_out, d, dropout)
        self.fc7 = _fc(d, d, dropout)
        self.feature_dim = d
        self.loaded_from = None
        init_weights(self)
        if weights is not None:
            self._load_weights(weights)

    def conv(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, C, T, 1, 1)``: the average-pooled trunk output of each frame."""
        b, _, t = x.shape[:3]
        y = self.features(fold_time(x, self._layout))  # (B*T, C, 1, 1)
        return y.reshape(b, t, -1, 1, 1).transpose(1, 2)

    @property
    def head_input(self) -> nn.Linear:
        """``fc``, the 1000-D layer that reads the pooled trunk output."""
        return self.fc

    def _set_head_input(self, layer: nn.Linear) -> None:
        self.fc = layer

    def head_fc6(self, v: Tensor) -> Tensor:
        """``(N, C) -> (N, fc_dim)``: ``fc6(fc(v))`` (with ``fc_relu`` between them if set)."""
        return self.fc6(self.fc_relu(self.fc(v)))

    def _source_state(self, raw: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], set[str]]:
        """torchvision layout -> ``features.*`` and ``fc.*`` (required); else deepvideo's."""
        own = set(self.state_dict())
        if "conv1.conv.weight" in raw:  # torchvision's googlenet state dict
            source = {}
            for k, v in raw.items():
                if k.startswith(("aux1.", "aux2.")):
                    continue
                source[k if k.startswith("fc.") else f"features.{k}"] = v
            return source, {k for k in own if not k.startswith(("fc6.", "fc7."))}
        for prefix in ("net.frames.", "frames."):
            if any(k.startswith(prefix) for k in raw):
                raw = _strip(raw, prefix)
                break
        return dict(raw), own
