"""Tests of the Karpathy et al. 2014 ConvNets (deepvideo.models) and the fovea/context split."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import yaml
from omegaconf import OmegaConf
from torch import nn

from deepvideo.models import (
    AverageEnsemble,
    EarlyFusion,
    FusionNet,
    LateFusion,
    MultiResolution,
    SingleFrame,
    SlowFusion,
    count_parameters,
)
from deepvideo.models.multires import fovea_context_streams
from deepvideo.models.tower import (
    MEMORY_FORMATS,
    LocalResponseNorm,
    flatten_time_major,
    pool_output_size,
)

CONF_MODEL = Path(__file__).resolve().parents[1] / "conf" / "model"
TOWER_YAML = CONF_MODEL / "tower" / "alexnet.yaml"
SLOW_YAML = CONF_MODEL / "time" / "slow_fusion.yaml"
NUM_CLASSES = 487

# The paper's tower, written out by hand (Sec. 3.1), independent of the YAML and the code:
#   C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-C(384,3,1)-C(256,3,1)-P-FC(4096)-FC(4096)
CHANNELS = [96, 256, 384, 384, 256]
KERNELS = [11, 5, 3, 3, 3]
FC = 4096
SLOW_KT = [4, 2, 2, 1, 1]
SLOW_ST = [2, 2, 2, 1, 1]
# Slow Fusion's time layout (Sec. 3.1), which the classes take as required arguments
SLOW: dict[str, Any] = {"num_frames": 10, "temporal_kernels": SLOW_KT, "temporal_strides": SLOW_ST}


@pytest.fixture(scope="module")
def tower() -> dict:
    spec = yaml.safe_load(TOWER_YAML.read_text())
    spec["dropout"] = 0.5  # the yaml reads it from data.recipe; 0.5 is the paper's
    return spec


def conv_params(c_out: int, c_in: int, kt: int, k: int) -> int:
    return c_out * (c_in * kt * k * k) + c_out


def fc_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def tower_conv_params(kts: list[int]) -> int:
    c_in, total = 3, 0
    for c, k, kt in zip(CHANNELS, KERNELS, kts, strict=True):
        total += conv_params(c, c_in, kt, k)
        c_in = c
    return total


def head_params(fc6_in: int) -> int:
    return fc_params(fc6_in, FC) + fc_params(FC, FC) + fc_params(FC, NUM_CLASSES)


# Spatial sizes by hand, with the YAML's paddings (0, 2, 1, 1, 1) and 2x2 pooling rounding up
# (ceil): both end in 7x7x256, as Sec. 3.2 says.
# 170: conv1 (170-11)//3+1 = 54 -P-> 27 -conv2-> 27 -P-> 14 -conv3..5-> 14 -P-> 7
# 178 -> streams of 89: conv1 (89-11)//3+1 = 27 -P-> 14 -conv2-> 14 -P-> 7 -conv3..5-> 7
SF_FC6_IN = 256 * 7 * 7
MR_STREAM = 256 * 7 * 7

# name -> (class, constructor kwargs, T, S, expected parameter count)
PAPER: dict[str, tuple[type[FusionNet | MultiResolution], dict[str, Any], int, int, int]] = {
    "single_frame": (
        SingleFrame,
        {},
        1,
        170,
        tower_conv_params([1] * 5) + head_params(SF_FC6_IN),
    ),
    "early_fusion": (
        EarlyFusion,
        {},
        10,
        170,
        tower_conv_params([10, 1, 1, 1, 1]) + head_params(SF_FC6_IN),
    ),
    "late_fusion": (
        LateFusion,
        {},
        2,
        170,
        tower_conv_params([1] * 5) + head_params(2 * SF_FC6_IN),
    ),
    "slow_fusion": (
        SlowFusion,
        SLOW,
        10,
        170,
        tower_conv_params(SLOW_KT) + head_params(SF_FC6_IN),
    ),
    "multires": (
        MultiResolution,
        {},
        1,
        178,
        2 * tower_conv_params([1] * 5) + head_params(2 * MR_STREAM),
    ),
    "multires_fovea_only": (
        MultiResolution,
        {"streams": "fovea"},
        1,
        178,
        tower_conv_params([1] * 5) + head_params(MR_STREAM),
    ),
    "multires_context_only": (
        MultiResolution,
        {"streams": "context"},
        1,
        178,
        tower_conv_params([1] * 5) + head_params(MR_STREAM),
    ),
    "multires_slow_fusion": (
        MultiResolution,
        {"base": "slow_fusion", **SLOW},
        10,
        178,
        2 * tower_conv_params(SLOW_KT) + head_params(2 * MR_STREAM),
    ),
}


@pytest.mark.parametrize("name", list(PAPER))
def test_paper_size_shape_and_parameter_count(name: str, tower: dict) -> None:
    cls, kwargs, t, s, expected = PAPER[name]
    torch.manual_seed(0)
    net = cls(NUM_CLASSES, s, tower, 1.0, **kwargs).eval()
    assert count_parameters(net) == expected
    with torch.no_grad():
        out = net(torch.randn(1, 3, t, s, s))
        assert out.shape == (1, NUM_CLASSES)
        assert torch.isfinite(out).all()
        if isinstance(net, FusionNet):
            # the full-frame tower at 170 ends in 7x7x256 (per time step left: 2 for late fusion)
            t_out = 2 if name == "late_fusion" else 1
            assert net.feature_shape == (256, t_out, 7, 7)
            assert net.features(torch.zeros(1, 3, t, s, s)).shape == (1, 256, t_out, 7, 7)
        else:
            fovea, context = fovea_context_streams(torch.zeros(1, 3, t, s, s))
            for stream, x in zip(("fovea", "context"), (fovea, context), strict=True):
                assert x.shape[-2:] == (89, 89)
                if stream in net.features:
                    assert net.features[stream](x).shape == (1, 256, 1, 7, 7)
            assert net.stream_shape == (256, 1, 7, 7)
    assert net.feature_dim == FC


# name -> (class, constructor kwargs, T)
SMALL: dict[str, tuple[type[FusionNet | MultiResolution], dict[str, Any], int]] = {
    "single_frame": (SingleFrame, {}, 1),
    "early_fusion": (EarlyFusion, {}, 10),
    "late_fusion": (LateFusion, {}, 2),
    "slow_fusion": (SlowFusion, SLOW, 10),
    "multires": (MultiResolution, {}, 1),
    "multires_fovea_only": (MultiResolution, {"streams": "fovea"}, 1),
    "multires_context_only": (MultiResolution, {"streams": "context"}, 1),
    "multires_slow_fusion": (MultiResolution, {"base": "slow_fusion", **SLOW}, 10),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_small_forward_backward(name: str, tower: dict) -> None:
    cls, kwargs, t = SMALL[name]
    torch.manual_seed(0)
    net = cls(10, 64, tower, 0.125, **kwargs)
    x = torch.randn(2, 3, t, 64, 64)
    out = net(x)
    assert out.shape == (2, 10)
    out.logsumexp(dim=1).sum().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    assert net.forward_features(x).shape == (2, net.feature_dim)
    # width scales every conv channel count and FC width (rounded): 96/8 = 12, 4096/8 = 512
    assert net.feature_dim == 512
    filters = net.first_layer_filters()
    if isinstance(filters, dict):
        assert set(filters) == set(net.features.keys())
        filters = next(iter(filters.values()))
    assert filters.shape[:2] == (12, 3) and filters.shape[-2:] == (11, 11)
    assert not filters.requires_grad


def test_layer_names_and_lrn(tower: dict) -> None:
    net = SingleFrame(10, 64, tower, 0.125)
    assert [n for n, _ in net.features.named_children()] == [f"conv{i}" for i in range(1, 6)]
    assert isinstance(net.classifier, nn.Linear)
    assert [n for n, _ in net.fc6.named_children()] == ["fc", "relu", "dropout"]
    assert net.fc6.dropout.p == 0.5
    norms = {n: m for n, m in net.named_modules() if isinstance(m, nn.LocalResponseNorm)}
    assert set(norms) == {"features.conv1.norm", "features.conv2.norm"}
    for m in norms.values():
        assert (m.size, m.alpha, m.beta, m.k) == (5, 1e-4, 0.5, 2.0)
    # spatial pooling only: the blocks run it on time folded into the batch
    pools = {n: m for n, m in net.named_modules() if isinstance(m, nn.MaxPool2d)}
    assert set(pools) == {f"features.conv{i}.pool" for i in (1, 2, 5)}
    for pool in pools.values():
        assert pool.kernel_size == 2 and pool.stride == 2 and pool.ceil_mode
    conv1 = net.features.conv1.conv
    assert isinstance(conv1, nn.Conv3d)
    assert conv1.stride == (1, 3, 3) and conv1.padding == (0, 0, 0)
    # freezing by name: everything but the classifier
    for n, p in net.named_parameters():
        p.requires_grad = n.startswith("classifier.")
    assert count_parameters(net, trainable_only=True) == count_parameters(net.classifier)
    assert all(not b.detach().any() for n, b in net.named_parameters() if "bias" in n)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_output_size_is_pytorchs(ceil_mode: bool) -> None:
    for kernel, stride in [(2, 2), (3, 2), (3, 3)]:
        pool = nn.MaxPool2d(kernel, stride, ceil_mode=ceil_mode)
        for size in range(1, 40):
            expect = pool_output_size(size, kernel, stride, ceil_mode)
            if expect < 1:
                with pytest.raises(RuntimeError):
                    pool(torch.zeros(1, 1, size, size))
            else:
                assert pool(torch.zeros(1, 1, size, size)).shape[-1] == expect, (kernel, size)


def test_feature_shape_matches_the_built_tower(tower: dict) -> None:
    for size in [11, 12, 13, 20, 35, 64, 89, 90, 100, 170, 171, 178]:
        net = SingleFrame(10, size, tower, 0.125)
        with torch.no_grad():
            out = net.features(torch.zeros(1, 3, 1, size, size))
        assert tuple(out.shape[1:]) == net.feature_shape, size


def test_slow_fusion_time_layout_yaml() -> None:
    """conf/model/time/slow_fusion.yaml, the one home of the layout, holds the paper's values."""
    layout = yaml.safe_load(SLOW_YAML.read_text())
    assert layout["clip"]["num_frames"] == SLOW["num_frames"]
    assert layout["net"]["temporal_kernels"] == SLOW_KT
    assert layout["net"]["temporal_strides"] == SLOW_ST
    for model in ("slow_fusion", "multires_slow_fusion"):
        defaults = yaml.safe_load((CONF_MODEL / f"{model}.yaml").read_text())["defaults"]
        assert {"time@_here_": "slow_fusion"} in defaults, model


def test_accepts_dictconfig(tower: dict) -> None:
    a = SlowFusion(
        10,
        64,
        OmegaConf.create(tower),
        0.125,
        num_frames=10,
        temporal_kernels=OmegaConf.create(SLOW_KT),
        temporal_strides=OmegaConf.create(SLOW_ST),
    )
    b = SlowFusion(10, 64, tower, 0.125, **SLOW)
    assert count_parameters(a) == count_parameters(b)


def _time_dims(net: FusionNet | MultiResolution, x: torch.Tensor, features: nn.Module) -> list[int]:
    dims: list[int] = []
    hooks = [
        block.register_forward_hook(lambda _m, _i, o: dims.append(o.shape[2]))
        for block in features.children()
    ]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return dims


def test_temporal_extents(tower: dict) -> None:
    slow = SlowFusion(10, 64, tower, 0.125, **SLOW)
    assert _time_dims(slow, torch.randn(1, 3, 10, 64, 64), slow.features) == [4, 2, 1, 1, 1]
    assert [b.conv.kernel_size[0] for b in slow.features.children()] == SLOW_KT
    assert [b.conv.stride[0] for b in slow.features.children()] == SLOW_ST
    early = EarlyFusion(10, 64, tower, 0.125)
    assert early.features.conv1.conv.weight.shape == (12, 3, 10, 11, 11)
    assert _time_dims(early, torch.randn(1, 3, 10, 64, 64), early.features) == [1] * 5
    late = LateFusion(10, 64, tower, 0.125)
    assert _time_dims(late, torch.randn(1, 3, 2, 64, 64), late.features) == [2] * 5
    mr = MultiResolution(10, 64, tower, 0.125, base="slow_fusion", **SLOW)
    assert _time_dims(mr, torch.randn(1, 3, 10, 64, 64), mr.features["fovea"]) == [4, 2, 1, 1, 1]


def test_late_fusion_shares_tower_weights(tower: dict) -> None:
    torch.manual_seed(0)
    late = LateFusion(10, 64, tower, 0.125).eval()
    single = SingleFrame(10, 64, tower, 0.125)
    # one set of conv weights, the same as a single-frame tower
    assert count_parameters(late.features) == count_parameters(single.features)
    assert sum(isinstance(m, nn.Conv3d) for m in late.modules()) == 5
    a, b = torch.randn(1, 3, 1, 64, 64), torch.randn(1, 3, 1, 64, 64)
    with torch.no_grad():
        fa, fb = late.features(a), late.features(b)
        both = late.features(torch.cat([a, b], dim=2))
        torch.testing.assert_close(both, torch.cat([fa, fb], dim=2))
        # fc6 sees [conv5(frame 0), conv5(frame 1)] concatenated
        manual = late.classifier(late.fc7(late.fc6(torch.cat([fa.flatten(1), fb.flatten(1)], 1))))
        torch.testing.assert_close(late(torch.cat([a, b], dim=2)), manual)


def test_multires_streams_and_ablations(tower: dict) -> None:
    assert set(MultiResolution(10, 64, tower, 0.125).features) == {"fovea", "context"}
    fov = MultiResolution(10, 64, tower, 0.125, streams="fovea")
    ctx = MultiResolution(10, 64, tower, 0.125, streams="context")
    assert set(fov.features) == {"fovea"} and set(ctx.features) == {"context"}
    assert set(ctx.first_layer_filters()) == {"context"}
    # no pooling after conv5 in the streams
    assert not hasattr(fov.features["fovea"].conv5, "pool")
    # the fovea-only net ignores everything outside the center crop
    x = torch.randn(1, 3, 1, 64, 64)
    y = x.clone()
    y[..., :16, :] = 0.0
    fov.eval()
    with torch.no_grad():
        torch.testing.assert_close(fov(x), fov(y))
    with pytest.raises(ValueError, match="streams"):
        MultiResolution(10, 64, tower, streams="peripheral")
    with pytest.raises(ValueError, match="single_frame"):
        MultiResolution(10, 64, tower, num_frames=10)


def test_fovea_context_streams() -> None:
    clip = torch.randn(2, 3, 4, 178, 178)
    fovea, context = fovea_context_streams(clip)
    assert fovea.shape == context.shape == (2, 3, 4, 89, 89)
    torch.testing.assert_close(fovea, clip[..., 44:133, 44:133])
    flat = clip.flatten(0, 2)
    torch.testing.assert_close(context, F.avg_pool2d(flat, 2).view(2, 3, 4, 89, 89))
    # other layouts: (T, H, W, C) with dims=(1, 2)
    hwc = clip[0].permute(1, 2, 3, 0)
    f2, c2 = fovea_context_streams(hwc, dims=(1, 2))
    torch.testing.assert_close(f2, fovea[0].permute(1, 2, 3, 0))
    torch.testing.assert_close(c2, context[0].permute(1, 2, 3, 0))
    # period-2 texture is averaged away in the context stream, kept in the fovea
    checker = ((torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2).float()
    f3, c3 = fovea_context_streams(checker)
    torch.testing.assert_close(c3, torch.full((4, 4), 0.5))
    assert f3.std() > 0.4
    with pytest.raises(ValueError, match="even"):
        fovea_context_streams(torch.zeros(3, 177, 177))
    with pytest.raises(ValueError, match="square"):
        fovea_context_streams(torch.zeros(3, 178, 170))


def test_clear_errors(tower: dict) -> None:
    with pytest.raises(ValueError, match=r"input size 10 is too small.*conv1"):
        SingleFrame(10, 10, tower)
    with pytest.raises(ValueError, match="even"):
        MultiResolution(10, 177, tower)
    with pytest.raises(ValueError, match="too few"):
        SlowFusion(10, 64, tower, 0.125, **{**SLOW, "num_frames": 4})
    with pytest.raises(ValueError, match="one entry per conv layer"):
        SlowFusion(10, 64, tower, 0.125, **{**SLOW, "temporal_kernels": [4, 2, 2]})
    with pytest.raises(ValueError, match=r"base='slow_fusion'.*time/slow_fusion.yaml"):
        MultiResolution(10, 64, tower, 0.125, base="slow_fusion")
    slow = SlowFusion(10, 64, tower, 0.125, **SLOW)
    with pytest.raises(
        ValueError, match=r"SlowFusion expects clips of 10 frames, got 4.*num_frames"
    ):
        slow(torch.randn(1, 3, 4, 64, 64))
    with pytest.raises(ValueError, match=r"64x64.*crop_size"):
        slow(torch.randn(1, 3, 10, 60, 60))
    with pytest.raises(ValueError, match="1 frames, got 2"):
        SingleFrame(10, 64, tower, 0.125)(torch.randn(1, 3, 2, 64, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        SingleFrame(10, 64, tower, 0.125)(torch.randn(1, 3, 64, 64))


def test_ensemble_averages_probabilities(tower: dict) -> None:
    torch.manual_seed(0)
    nets = [SingleFrame(10, 64, tower, 0.125).eval() for _ in range(3)]
    ens = AverageEnsemble(nets).eval()
    x = torch.randn(4, 3, 1, 64, 64)
    with torch.no_grad():
        manual = torch.stack([n(x).softmax(-1) for n in nets]).mean(0)
        out = ens(x)
    torch.testing.assert_close(out.exp(), manual)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(4))
    assert torch.equal(out.argmax(-1), manual.argmax(-1))


def test_ensemble_frame_indices(tower: dict) -> None:
    torch.manual_seed(0)
    sf = SingleFrame(10, 64, tower, 0.125).eval()
    late = LateFusion(10, 64, tower, 0.125).eval()
    slow = SlowFusion(10, 64, tower, 0.125, **SLOW).eval()
    mr = MultiResolution(10, 70, tower, 0.125).eval()
    ens = AverageEnsemble.from_members(
        {
            "single": (sf, [8]),
            "late": (late, [0, 15]),
            "slow": (slow, range(3, 13)),
        }
    ).eval()
    x = torch.randn(2, 3, 16, 64, 64)
    with torch.no_grad():
        probs = [
            sf(x[:, :, 8:9]).softmax(-1),
            late(x[:, :, [0, 15]]).softmax(-1),
            slow(x[:, :, 3:13]).softmax(-1),
        ]
        torch.testing.assert_close(ens(x).exp(), torch.stack(probs).mean(0))
        with pytest.raises(ValueError, match="only 8 frames"):
            ens(x[:, :, :8])
        # per-member center crops: a 70x70 multires net with a 64x64 single-frame net
        ens2 = AverageEnsemble([sf, mr], frame_indices=[[0], [0]], crop_sizes=[64, None]).eval()
        z = torch.randn(2, 3, 1, 70, 70)
        expect = (sf(z[..., 3:67, 3:67]).softmax(-1) + mr(z).softmax(-1)) / 2
        torch.testing.assert_close(ens2(z).exp(), expect)
    seq = AverageEnsemble.from_members([sf, (late, [0, 1])])
    assert list(seq.members) == ["member0", "member1"]
    assert seq.frame_indices == {"member0": None, "member1": (0, 1)}
    assert math.isclose(count_parameters(seq), count_parameters(sf) + count_parameters(late))


# State-dict layout recorded from the pure-3-D implementation (before ConvBlock's 2-D execution),
# width 0.125, 10 classes, 64x64: checkpoints written by either load into the other.
# model -> (temporal kernel of conv1..conv5, conv-stack prefixes, fc6 input width)
STATE_DICT_LAYOUT = {
    "single_frame": ((1, 1, 1, 1, 1), ("features",), 288),
    "early_fusion": ((10, 1, 1, 1, 1), ("features",), 288),
    "late_fusion": ((1, 1, 1, 1, 1), ("features",), 576),
    "slow_fusion": ((4, 2, 2, 1, 1), ("features",), 288),
    "multires": ((1, 1, 1, 1, 1), ("features.fovea", "features.context"), 256),
    "multires_fovea_only": ((1, 1, 1, 1, 1), ("features.fovea",), 128),
    "multires_context_only": ((1, 1, 1, 1, 1), ("features.context",), 128),
    "multires_slow_fusion": ((4, 2, 2, 1, 1), ("features.fovea", "features.context"), 256),
}
# (out, in, kernel) of conv1..conv5 at width 0.125
SMALL_CONVS = [(12, 3, 11), (32, 12, 5), (48, 32, 3), (48, 48, 3), (32, 48, 3)]
# the full single-frame state dict, as the pure-3-D implementation wrote it
SINGLE_FRAME_STATE = {
    "features.conv1.conv.weight": (12, 3, 1, 11, 11),
    "features.conv1.conv.bias": (12,),
    "features.conv2.conv.weight": (32, 12, 1, 5, 5),
    "features.conv2.conv.bias": (32,),
    "features.conv3.conv.weight": (48, 32, 1, 3, 3),
    "features.conv3.conv.bias": (48,),
    "features.conv4.conv.weight": (48, 48, 1, 3, 3),
    "features.conv4.conv.bias": (48,),
    "features.conv5.conv.weight": (32, 48, 1, 3, 3),
    "features.conv5.conv.bias": (32,),
    "fc6.fc.weight": (512, 288),
    "fc6.fc.bias": (512,),
    "fc7.fc.weight": (512, 512),
    "fc7.fc.bias": (512,),
    "classifier.weight": (10, 512),
    "classifier.bias": (10,),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_state_dict_layout_is_the_3d_one(name: str, tower: dict) -> None:
    cls, kwargs, _ = SMALL[name]
    kts, prefixes, fc6_in = STATE_DICT_LAYOUT[name]
    expected: dict[str, tuple[int, ...]] = {}
    for prefix in prefixes:
        for i, ((o, c, k), kt) in enumerate(zip(SMALL_CONVS, kts, strict=True), start=1):
            expected[f"{prefix}.conv{i}.conv.weight"] = (o, c, kt, k, k)
            expected[f"{prefix}.conv{i}.conv.bias"] = (o,)
    expected |= {
        "fc6.fc.weight": (512, fc6_in),
        "fc6.fc.bias": (512,),
        "fc7.fc.weight": (512, 512),
        "fc7.fc.bias": (512,),
        "classifier.weight": (10, 512),
        "classifier.bias": (10,),
    }
    if name == "single_frame":
        assert expected == SINGLE_FRAME_STATE
    for memory_format in MEMORY_FORMATS:
        net = cls(10, 64, tower, 0.125, memory_format=memory_format, **kwargs)
        assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == expected
    # a checkpoint of one memory format loads into the other
    a = cls(10, 64, tower, 0.125, memory_format="contiguous", **kwargs)
    cls(10, 64, tower, 0.125, memory_format="channels_last", **kwargs).load_state_dict(
        a.state_dict()
    )


def _reference_features(blocks: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The conv stack computed with 3-D ops only (Conv3d, LRN on 5-D maps, MaxPool3d (1,k,k))."""
    block: Any  # ConvBlock: its conv, norm and pool are read as plain attributes
    for block in blocks.children():
        conv = block.conv
        x = F.relu(F.conv3d(x, conv.weight, conv.bias, conv.stride, conv.padding))
        if hasattr(block, "norm"):
            n = block.norm  # PyTorch's own LRN on (B, C, T, H, W): across channels
            x = F.local_response_norm(x, n.size, n.alpha, n.beta, n.k)
        if hasattr(block, "pool"):
            p = block.pool
            k, s = int(p.kernel_size), int(p.stride)
            x = F.max_pool3d(x, (1, k, k), (1, s, s), ceil_mode=p.ceil_mode)
    return x


def _reference_forward(net: FusionNet | MultiResolution, x: torch.Tensor) -> torch.Tensor:
    if isinstance(net, MultiResolution):
        fovea, context = fovea_context_streams(x)
        inputs = {"fovea": fovea, "context": context}
        maps = [
            flatten_time_major(_reference_features(net.features[s], inputs[s])) for s in net.streams
        ]
        h = torch.cat(maps, dim=1)
    else:
        h = flatten_time_major(_reference_features(net.features, x))
    return net.classifier(net.fc7(net.fc6(h)))


@pytest.mark.parametrize("memory_format", MEMORY_FORMATS)
@pytest.mark.parametrize("name", list(SMALL))
def test_2d_execution_equals_3d_reference(name: str, memory_format: str, tower: dict) -> None:
    """ConvBlock's execution (2-D ops on time folded into the batch where the temporal kernel is
    1, in either memory format) computes the pure 3-D network: outputs in fp32, gradients in
    float64.

    Gradients are compared in float64 because max pooling routes the gradient to the argmax of
    each window, and fp32 rounding (which differs between kernels, e.g. channels_last) can flip
    a near-tie: the flipped position then gets a different weight gradient, by design.
    """
    cls, kwargs, t = SMALL[name]
    torch.manual_seed(0)
    net = cls(10, 64, tower, 0.25, memory_format=memory_format, **kwargs).eval()
    x = torch.randn(3, 3, t, 64, 64)
    with torch.no_grad():
        out, ref = net(x), _reference_forward(net, x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
    # features keep their (B, C, T, H, W) interface
    feats = net.features if isinstance(net, FusionNet) else net.features[net.streams[0]]
    if isinstance(net, FusionNet):
        with torch.no_grad():
            torch.testing.assert_close(
                feats(x), _reference_features(feats, x), rtol=1e-4, atol=1e-4
            )

    net64 = net.double()
    x64 = x.double()
    grads = []
    for forward in (net64, lambda v: _reference_forward(net64, v)):
        net64.zero_grad(set_to_none=True)
        forward(x64).square().mean().backward()
        grads.append({n: p.grad.clone() for n, p in net64.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-9, atol=1e-12, msg=n)


@pytest.mark.parametrize("shape", [(4, 24, 9, 9), (2, 16, 3, 9, 9)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fast_lrn_equals_pytorchs(shape: tuple[int, ...], channels_last: bool) -> None:
    """deepvideo's LocalResponseNorm (window sums, explicit backward) computes PyTorch's
    nn.LocalResponseNorm: outputs and gradients in fp32, any rank and memory format; gradcheck in
    float64 for the paper's parameters and for an even window, beta 0.75 and a generic beta."""
    torch.manual_seed(0)
    x = torch.randn(*shape) * 30
    if channels_last and len(shape) == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    grad = torch.randn(shape)
    outs, grads = [], []
    for layer in (LocalResponseNorm(5, 1e-4, 0.5, 2.0), nn.LocalResponseNorm(5, 1e-4, 0.5, 2.0)):
        xi = x.clone().requires_grad_()
        out = layer(xi)
        out.backward(grad)
        outs.append(out)
        grads.append(xi.grad)
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-5)
    x64 = (torch.randn(2, 7, 3, 3, dtype=torch.float64) * 30).requires_grad_()
    for size, alpha, beta, k in [(5, 1e-4, 0.5, 2.0), (4, 1e-2, 0.75, 1.0), (3, 1e-2, 0.6, 1.5)]:
        layer = LocalResponseNorm(size, alpha, beta, k)
        assert torch.autograd.gradcheck(layer, (x64,))
        torch.testing.assert_close(
            layer(x64), F.local_response_norm(x64, size, alpha, beta, k), rtol=1e-12, atol=1e-12
        )


def test_lrn_on_5d_maps_equals_lrn_on_folded_maps(tower: dict) -> None:
    """nn.LocalResponseNorm normalises across dim 1 for (B, C, T, H, W) and (B*T, C, H, W)."""
    lrn = SingleFrame(10, 64, tower, 0.125).features.conv1.norm
    x = torch.randn(2, 16, 3, 9, 9).abs()
    folded = x.transpose(1, 2).reshape(6, 16, 9, 9)
    torch.testing.assert_close(lrn(folded).view(2, 3, 16, 9, 9).transpose(1, 2), lrn(x))
