"""Building blocks of the AlexNet-style tower of Karpathy et al. 2014, Sec. 3.1.

The tower is described by a plain mapping (``conf/model/tower/alexnet.yaml``)::

    convs:   list of {channels, kernel, stride, padding, norm, pool}
    lrn:     {size, alpha, beta, k}           local response normalisation (Krizhevsky et al.)
    pool:    {kernel, stride, ceil_mode}      spatial max pooling (2x2, non-overlapping, ceil)
    fc:      [fc6_width, fc7_width]
    dropout: p                                after the ReLU of fc6 and of fc7

Every layer is three-dimensional so that the same code serves all the time-fusion variants:
conv ``i`` is an ``nn.Conv3d`` with kernel ``(kt_i, k, k)``, stride ``(st_i, s, s)`` and padding
``(0, p, p)`` (valid in time). A temporal kernel of 1 applies the 2-D filter frame by frame.
The 3-D layers are the parameters and the semantics; :class:`ConvBlock` executes a layer whose
temporal kernel is 1 as 2-D operations on time folded into the batch, which computes the same
function faster on CPUs.
The paper's tower pools with ``ceil_mode: true`` (output sizes rounded up, as Caffe did) and an
unpadded conv1, so both the full-frame tower at 170 and the multiresolution streams at 89 end in
7x7x256 (Sec. 3.2; ``conf/model/tower/alexnet.yaml`` gives the sizes layer by layer).

Module layout shared by every net (the transfer-learning code freezes by these names)::

    features.conv1 .. features.convN   Sequential(conv, relu[, norm][, pool])
    fc6, fc7                           Sequential(fc, relu, dropout)
    classifier                         Linear(fc7_width, num_classes)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "DEFAULT_MEMORY_FORMAT",
    "MEMORY_FORMATS",
    "ConvBlock",
    "ConvSpec",
    "LocalResponseNorm",
    "LRNSpec",
    "PoolSpec",
    "TowerSpec",
    "build_features",
    "build_head",
    "feature_shape",
    "flatten_time_major",
    "fold_time",
    "init_weights",
    "pool_output_size",
    "scale_width",
    "to_plain",
]


def to_plain(cfg: Any) -> Any:
    """Turn an OmegaConf container (or any mapping / sequence) into plain dicts and lists."""
    try:  # OmegaConf is a dependency, but keep the models importable without it.
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(cfg, (DictConfig, ListConfig)):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(cfg, Mapping):
        return {k: to_plain(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_plain(v) for v in cfg]
    return cfg


def scale_width(n: int, width: float) -> int:
    """Channel / unit count ``n`` scaled by ``width``, rounded, at least 1."""
    return max(1, int(round(n * width)))


@dataclass(frozen=True)
class ConvSpec:
    """One convolutional layer C(channels, kernel, stride) with padding, optional LRN and pool."""

    channels: int
    kernel: int
    stride: int
    padding: int = 0
    norm: bool = False
    pool: bool = False


@dataclass(frozen=True)
class LRNSpec:
    """Parameters of ``nn.LocalResponseNorm`` (across channels)."""

    size: int
    alpha: float
    beta: float
    k: float


@dataclass(frozen=True)
class PoolSpec:
    """Spatial max pooling; time is never pooled.

    ``ceil_mode`` rounds the output size up (Caffe's pooling), so a last, partial window at the
    edge is kept; :func:`pool_output_size` gives the sizes.
    """

    kernel: int
    stride: int
    ceil_mode: bool = False


@dataclass(frozen=True)
class TowerSpec:
    """The whole tower: conv stack, LRN/pool parameters, FC widths and dropout."""

    convs: tuple[ConvSpec, ...]
    lrn: LRNSpec
    pool: PoolSpec
    fc: tuple[int, int]
    dropout: float

    @classmethod
    def from_config(cls, tower: Mapping[str, Any] | TowerSpec) -> TowerSpec:
        """Parse the tower mapping (plain dict or OmegaConf ``DictConfig``)."""
        if isinstance(tower, TowerSpec):
            return tower
        cfg = to_plain(tower)
        missing = {"convs", "lrn", "pool", "fc", "dropout"} - set(cfg)
        if missing:
            raise ValueError(f"tower config is missing keys {sorted(missing)}")
        convs = tuple(ConvSpec(**c) for c in cfg["convs"])
        if not convs:
            raise ValueError("tower config has an empty 'convs' list")
        fc = tuple(int(v) for v in cfg["fc"])
        if len(fc) != 2:
            raise ValueError(f"tower 'fc' must list exactly two widths (fc6, fc7), got {list(fc)}")
        return cls(
            convs=convs,
            lrn=LRNSpec(**cfg["lrn"]),
            pool=PoolSpec(**cfg["pool"]),
            fc=(fc[0], fc[1]),
            dropout=float(cfg["dropout"]),
        )

    def scaled(self, width: float) -> TowerSpec:
        """The same tower with every conv channel count and FC width multiplied by ``width``."""
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        return replace(
            self,
            convs=tuple(replace(c, channels=scale_width(c.channels, width)) for c in self.convs),
            fc=(scale_width(self.fc[0], width), scale_width(self.fc[1], width)),
        )


def _check_temporal(
    spec: TowerSpec, temporal_kernels: Sequence[int], temporal_strides: Sequence[int]
) -> None:
    n = len(spec.convs)
    if len(temporal_kernels) != n or len(temporal_strides) != n:
        raise ValueError(
            f"temporal_kernels ({list(temporal_kernels)}) and temporal_strides "
            f"({list(temporal_strides)}) must have one entry per conv layer ({n})"
        )
    if any(k < 1 for k in temporal_kernels) or any(s < 1 for s in temporal_strides):
        raise ValueError("temporal kernels and strides must be >= 1")


def pool_output_size(size: int, kernel: int, stride: int, ceil_mode: bool) -> int:
    """Output side of an unpadded max pooling of a ``size`` map, exactly as PyTorch computes it.

    With ``ceil_mode`` the size is rounded up, but (PyTorch's rule) the last window must start
    inside the input. Returns a value ``< 1`` when PyTorch would reject the input as too small.
    """
    out = (size - kernel + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size:
        out -= 1
    return out


def feature_shape(
    spec: TowerSpec,
    input_size: int,
    num_frames: int,
    temporal_kernels: Sequence[int],
    temporal_strides: Sequence[int],
    *,
    drop_last_pool: bool = False,
    name: str = "tower",
) -> tuple[int, int, int, int]:
    """Analytic output shape ``(C, T, H, W)`` of :func:`build_features` (square input).

    Raises a ``ValueError`` naming the layer if the input is too small for the stack.
    """
    _check_temporal(spec, temporal_kernels, temporal_strides)
    t, s, c = num_frames, input_size, 3
    last = len(spec.convs) - 1
    for i, (conv, kt, st) in enumerate(
        zip(spec.convs, temporal_kernels, temporal_strides, strict=True)
    ):
        layer = f"conv{i + 1}"
        if t < kt:
            raise ValueError(
                f"{name}: {num_frames} input frames are too few for {layer}, whose temporal "
                f"kernel is {kt} ({t} time steps reach it)"
            )
        if s + 2 * conv.padding < conv.kernel:
            raise ValueError(
                f"{name}: input size {input_size} is too small: {layer} (kernel {conv.kernel}, "
                f"padding {conv.padding}) receives a {s}x{s} map"
            )
        t = (t - kt) // st + 1
        s = (s + 2 * conv.padding - conv.kernel) // conv.stride + 1
        c = conv.channels
        if conv.pool and not (drop_last_pool and i == last):
            p = spec.pool
            pooled = pool_output_size(s, p.kernel, p.stride, p.ceil_mode)
            if pooled < 1:
                raise ValueError(
                    f"{name}: input size {input_size} is too small: the pooling after {layer} "
                    f"(kernel {p.kernel}) receives a {s}x{s} map"
                )
            s = pooled
    return c, t, s, s


def _window_sum(t: Tensor, front: int, back: int) -> Tensor:
    """Sum over dim 1 of the window ``[c - front, c + back]`` (zero outside), for every ``c``."""
    channels = t.shape[1]
    padded = F.pad(t, [0, 0] * (t.ndim - 2) + [front, back])
    total = padded.narrow(1, 0, channels).clone()
    for offset in range(1, front + back + 1):
        total.add_(padded.narrow(1, offset, channels))
    return total


def _inverse_power(d: Tensor, beta: float) -> Tensor:
    """``d ** -beta``; ``rsqrt`` for the paper's beta 0.5 (much cheaper than ``pow``)."""
    if beta == 0.5:
        return torch.rsqrt(d)
    if beta == 0.75:
        r = torch.rsqrt(d)
        return r.mul_(r.sqrt())
    return d.pow(-beta)


class _LocalResponseNormFunction(torch.autograd.Function):
    """``y = x * (k + alpha / n * S)^-beta`` with ``S`` the window sum of ``x^2`` across
    channels, and its analytic gradient
    ``dx = g d^-beta - (2 alpha beta / n) x * S^T(g x d^(-beta-1))`` (``S^T``: the transposed
    window). The same function as ``torch.nn.functional.local_response_norm``, which builds it from
    ``avg_pool3d``, ``pow`` and ``div`` and backpropagates through each of them."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
        front, back = size // 2, (size - 1) // 2
        d = _window_sum(x * x, front, back).mul_(alpha / size).add_(k)
        scale = _inverse_power(d, beta)
        ctx.save_for_backward(x, d, scale)
        ctx.lrn = (size, alpha, beta, front, back)
        return x * scale

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, d, scale = ctx.saved_tensors
        size, alpha, beta, front, back = ctx.lrn
        grad_scaled = grad * scale
        spread = _window_sum((grad_scaled * x).div_(d), back, front)
        grad_x = grad_scaled.sub_(spread.mul_(x).mul_(2.0 * alpha * beta / size))
        return grad_x, None, None, None, None


class LocalResponseNorm(nn.LocalResponseNorm):
    """Local response normalisation across channels (the "N" layers of Karpathy et al. 2014,
    Sec. 3.1, after Krizhevsky et al. 2012): ``nn.LocalResponseNorm``'s function and parameters,
    computed by :class:`_LocalResponseNormFunction` (a window sum of squares and an explicit
    backward) on maps of any rank ``(N, C, ...)`` and memory format.

    Measured on a 2-core AMD EPYC (AVX2), one thread, forward + backward, against
    ``nn.LocalResponseNorm``: 7.7x faster on the synthetic recipe's conv1 maps
    (160x24x18x18, channels_last), 3.4x on the paper's conv1 (32x96x54x54) and 5.2x on its conv2
    (32x256x27x27); outputs agree to 2e-6 and gradients to 1e-6 (a test compares them, and
    ``gradcheck`` in float64).
    """

    def forward(self, input: Tensor) -> Tensor:
        out: Tensor = _LocalResponseNormFunction.apply(
            input, self.size, self.alpha, self.beta, self.k
        )
        return out


MEMORY_FORMATS = ("contiguous", "channels_last")
# channels_last: measured on a 2-core AMD EPYC (AVX512-BF16), paper size, batch 8, against the
# 3-D layers: Single Frame train 1.13x fp32 / 0.96x bf16, inference 1.07x / 1.04x; Slow Fusion
# train 1.03x / 1.13x; Multiresolution 0.95-1.05x. "contiguous" gives the 3-D layers' results bit
# for bit but was slower in bf16 training (0.78-0.82x).
DEFAULT_MEMORY_FORMAT = "channels_last"


def fold_time(x: Tensor, memory_format: torch.memory_format) -> Tensor:
    """``(B, C, T, H, W) -> (B*T, C, H, W)``, frame-major within each clip.

    A free view when ``x`` is the output of a 2-D :class:`ConvBlock` (or ``T = 1``), a copy
    otherwise; ``memory_format`` is the layout of the result.
    """
    b, c, t, h, w = x.shape
    return x.transpose(1, 2).reshape(b * t, c, h, w).contiguous(memory_format=memory_format)


class ConvBlock(nn.Sequential):
    """One layer, ``Sequential(conv, relu[, norm][, pool])``; 2-D ops where time allows.

    ``conv`` is an ``nn.Conv3d`` (kernel ``(kt, k, k)``, stride ``(st, s, s)``, valid in time)
    and holds the parameters, so state dicts are those of the plain 3-D layer, and the block maps
    ``(B, C, T, H, W)`` to ``(B, O, T', H', W')`` as the 3-D layer does. With ``kt = st = 1`` the
    filters are 2-D, so the block folds time into the batch (:func:`fold_time`) and runs
    ``conv2d`` (weights viewed as ``(O, C, k, k)``), ReLU, LRN (across channels, as on 5-D maps)
    and ``nn.MaxPool2d`` on ``(B*T, O, H', W')`` maps, in ``memory_format``; its output is a
    ``(B, O, T, H', W')`` view of them, which the next 2-D block folds back for free. With
    ``kt > 1`` it runs ``Conv3d``, ReLU, LRN and a ``(1, k, k)`` 3-D max pooling.

    Measured on a 2-core AMD EPYC (AVX512-BF16) CPU, paper size, batch 8 (PyTorch 2.14, oneDNN):
    ``Conv3d`` with a temporal extent of 1 already runs the same oneDNN kernels (``contiguous``
    gives identical results at the same speed); the gain is ``channels_last`` on the folded maps,
    see ``DEFAULT_MEMORY_FORMAT``. Running ``kt > 1`` layers as a ``conv2d`` over frames stacked
    into the channels was slower in the nets (Slow Fusion train 0.85x, Multiresolution Slow Fusion
    0.65x in fp32; interleaved runs on a loaded machine), hence ``Conv3d`` there.
    """

    def __init__(
        self,
        conv: nn.Conv3d,
        norm: LocalResponseNorm | None,
        pool: nn.MaxPool2d | None,
        memory_format: str = DEFAULT_MEMORY_FORMAT,
    ) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict(conv=conv, relu=nn.ReLU(inplace=True))
        if norm is not None:
            layers["norm"] = norm
        if pool is not None:
            layers["pool"] = pool
        super().__init__(layers)
        if memory_format not in MEMORY_FORMATS:
            raise ValueError(
                f"memory_format must be one of {list(MEMORY_FORMATS)}, got {memory_format!r}"
            )
        self.memory_format = memory_format
        self._layout = (
            torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
        )
        self._2d = conv.kernel_size[0] == 1 and conv.stride[0] == 1

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, T, H, W) -> (B, O, T', H', W')``."""
        conv, *rest = list(self)
        assert isinstance(conv, nn.Conv3d)
        if not self._2d:
            y = conv(x)
            for layer in rest:
                if isinstance(layer, nn.MaxPool2d):
                    k, s = layer.kernel_size, layer.stride
                    y = F.max_pool3d(y, (1, k, k), (1, s, s), ceil_mode=layer.ceil_mode)  # type: ignore[arg-type]
                else:
                    y = layer(y)
            return y
        b = x.shape[0]
        y = F.conv2d(
            fold_time(x, self._layout),
            conv.weight.squeeze(2),
            conv.bias,
            conv.stride[1:],
            conv.padding[1:],
        )
        for layer in rest:
            y = layer(y)
        return y.view(b, y.shape[0] // b, *y.shape[1:]).transpose(1, 2)


def conv_block(
    in_channels: int,
    conv: ConvSpec,
    kt: int,
    st: int,
    spec: TowerSpec,
    *,
    pool: bool,
    memory_format: str = DEFAULT_MEMORY_FORMAT,
) -> ConvBlock:
    """:class:`ConvBlock` ``(conv, relu[, norm][, pool])`` for one layer."""
    lrn, p = spec.lrn, spec.pool
    return ConvBlock(
        nn.Conv3d(
            in_channels,
            conv.channels,
            kernel_size=(kt, conv.kernel, conv.kernel),
            stride=(st, conv.stride, conv.stride),
            padding=(0, conv.padding, conv.padding),
        ),
        LocalResponseNorm(lrn.size, alpha=lrn.alpha, beta=lrn.beta, k=lrn.k) if conv.norm else None,
        nn.MaxPool2d(p.kernel, p.stride, ceil_mode=p.ceil_mode) if pool else None,
        memory_format,
    )


def build_features(
    spec: TowerSpec,
    temporal_kernels: Sequence[int],
    temporal_strides: Sequence[int],
    *,
    in_channels: int = 3,
    drop_last_pool: bool = False,
    memory_format: str = DEFAULT_MEMORY_FORMAT,
) -> nn.Sequential:
    """The conv stack as ``Sequential(conv1=..., ..., convN=...)`` of :class:`ConvBlock`.

    ``drop_last_pool`` removes the pooling after the last conv layer (the multiresolution
    streams, Sec. 3.2). ``memory_format`` (``"contiguous"`` or ``"channels_last"``) is the layout
    of the 2-D maps inside the blocks; it changes speed, not results.
    """
    _check_temporal(spec, temporal_kernels, temporal_strides)
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    c = in_channels
    last = len(spec.convs) - 1
    for i, (conv, kt, st) in enumerate(
        zip(spec.convs, temporal_kernels, temporal_strides, strict=True)
    ):
        pool = conv.pool and not (drop_last_pool and i == last)
        blocks[f"conv{i + 1}"] = conv_block(
            c, conv, kt, st, spec, pool=pool, memory_format=memory_format
        )
        c = conv.channels
    return nn.Sequential(OrderedDict(blocks))


def build_head(
    in_features: int, spec: TowerSpec, num_classes: int
) -> tuple[nn.Sequential, nn.Sequential, nn.Linear]:
    """``fc6``, ``fc7`` (each ``Sequential(fc, relu, dropout)``, as in AlexNet) and ``classifier``."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    d6, d7 = spec.fc

    def fc(i: int, o: int) -> nn.Sequential:
        return nn.Sequential(
            OrderedDict(
                fc=nn.Linear(i, o), relu=nn.ReLU(inplace=True), dropout=nn.Dropout(spec.dropout)
            )
        )

    return fc(in_features, d6), fc(d6, d7), nn.Linear(d7, num_classes)


def init_weights(module: nn.Module) -> None:
    """Initialise in place (Karpathy et al. 2014 give no initialisation scheme).

    Convolutions and the hidden FC layers: Kaiming-normal for ReLU, so activations keep their
    scale through the stack (with the data layer's ``std`` scaling, inputs have about unit
    variance); the classifier ``N(0, 0.01)`` so training starts from near-uniform predictions;
    all biases zero. With ``N(0, 0.01)`` in every FC layer (AlexNet's choice) the signal shrinks
    ~100x through fc6-fc8 and SGD at lr 1e-3 did not move off chance in 6 epochs on our benchmark.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv3d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    classifier = getattr(module, "classifier", None)
    if isinstance(classifier, nn.Linear):
        nn.init.normal_(classifier.weight, 0.0, 0.01)


def flatten_time_major(x: Tensor) -> Tensor:
    """``(B, C, T, H, W) -> (B, T*C*H*W)``: the per-time-step maps concatenated in time order."""
    if x.shape[2] == 1:
        return x.flatten(1)
    return x.transpose(1, 2).flatten(1)
