"""Tests of the Ng et al. 2015 models (Sec. 3, 3.1-3.3): frame towers, pooling nets, deep LSTM.

Paper-size shapes are checked on the ``meta`` device (no memory, no CPU time); real forward /
backward passes run at a small width on 64x64 frames.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torchvision
import yaml
from omegaconf import DictConfig, OmegaConf
from torch import nn

from deepvideo.models import (
    INFERENCE_RULES,
    AlexNetFrames,
    ConvPooling,
    DeepLSTM,
    GoogLeNetFrames,
    LatePooling,
    LocalPooling,
    SingleFrame,
    SlowPooling,
    TimeDomainConv,
    combine_frames,
    frame_gains,
    gain_weighted_loss,
)
from deepvideo.models.pooling import window_max, window_starts

TOWER_YAML = Path(__file__).resolve().parents[1] / "conf" / "model" / "tower" / "alexnet.yaml"
NUM_CLASSES = 487
PAPER_SIZE = 220
POOLING = [ConvPooling, LatePooling, SlowPooling, LocalPooling, TimeDomainConv]
MODELS = [*POOLING, DeepLSTM]
SMALL = 64  # side of the frames of the real (CPU) passes


@pytest.fixture(scope="module")
def tower() -> dict:
    spec = yaml.safe_load(TOWER_YAML.read_text())
    spec["dropout"] = 0.0  # the yaml reads it from data.recipe; the frame towers replace it
    return spec


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def alexnet(tower: dict, size: int = SMALL, width: float = 0.125, **kw: Any) -> AlexNetFrames:
    return AlexNetFrames(size, tower, width=width, dropout=0.0, **kw)


def googlenet(size: int = SMALL, width: float = 0.125, **kw: Any) -> GoogLeNetFrames:
    return GoogLeNetFrames(size, width=width, dropout=0.0, **kw)


def clip(t: int, b: int = 2, size: int = SMALL, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, t, size, size, generator=g)


# ----------------------------------------------------------------------------------------------
# paper sizes on the meta device


def test_paper_size_towers_on_meta(tower: dict) -> None:
    with torch.device("meta"):
        a = AlexNetFrames(PAPER_SIZE, tower)
        g = GoogLeNetFrames(PAPER_SIZE)
        x = torch.empty(2, 3, 120, PAPER_SIZE, PAPER_SIZE)
        # 220 -conv1 p0-> 70 -P-> 35 -conv2-> 35 -P-> 18 -conv3..5-> 18 -P-> 9 (Sec. 3 / tower)
        assert a.conv_shape == (256, 9, 9) and tuple(a.conv(x).shape) == (2, 256, 120, 9, 9)
        assert tuple(g.conv(x).shape) == (2, 1024, 120, 1, 1) and g.conv_shape == (1024, 1, 1)
    assert a.feature_dim == g.feature_dim == 4096
    assert a.fc6.fc.in_features == 256 * 9 * 9 and a.fc7.fc.out_features == 4096
    assert {n for n, _ in a.fc6.named_children()} == {"fc", "relu", "dropout"}
    assert a.fc6.dropout.p == a.fc7.dropout.p == 0.6  # Sec. 3: dropout 0.6 on each FC layer
    # GoogLeNet Conv Pooling (Sec. 3.1): 1024 -> 1000 (ImageNet output) -> 4096 -> 4096
    assert (g.fc.in_features, g.fc.out_features) == (1024, 1000)
    assert (g.fc6.fc.in_features, g.fc7.fc.out_features) == (1000, 4096)


@pytest.mark.parametrize("frames", ["alexnet", "googlenet"])
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_paper_size_shapes_on_meta(model: type[nn.Module], frames: str, tower: dict) -> None:
    def make() -> nn.Module:
        return AlexNetFrames(PAPER_SIZE, tower) if frames == "alexnet" else GoogLeNetFrames(220)

    with torch.device("meta"):
        for t in (120, 30):  # Table 1 (120 frames) and Tables 2-4 (30)
            net = model(make(), NUM_CLASSES, t)
            y = net(torch.empty(2, 3, t, PAPER_SIZE, PAPER_SIZE))
            expected = (2, t, NUM_CLASSES) if model is DeepLSTM else (2, NUM_CLASSES)
            assert tuple(y.shape) == expected
    names = [n for n, _ in net.named_children()]
    if model is TimeDomainConv:
        assert names == ["frames", "tdc", "classifier"]
    elif model is DeepLSTM:
        assert names == ["frames", "lstm", "classifier"]
    else:
        assert names == ["frames", "classifier"]
    assert getattr(net, "frame_outputs", False) is (model is DeepLSTM)


def test_paper_size_layer_shapes(tower: dict) -> None:
    with torch.device("meta"):
        local = LocalPooling(AlexNetFrames(PAPER_SIZE, tower), NUM_CLASSES, 120)
        local30 = LocalPooling(AlexNetFrames(PAPER_SIZE, tower), NUM_CLASSES, 30)
        tdc = TimeDomainConv(AlexNetFrames(PAPER_SIZE, tower), NUM_CLASSES, 120)
        lstm = DeepLSTM(GoogLeNetFrames(PAPER_SIZE), NUM_CLASSES, 30)
    # windows of 10 frames every 5: (120 - 10) / 5 + 1 = 23 towers, 5 for 30 frames
    assert local.n_windows == 23 and local.classifier.in_features == 23 * 4096
    assert local30.n_windows == 5 and local30.classifier.in_features == 5 * 4096
    # "256 kernels of size 3x3 across 10 frames with frame stride 5"
    conv = tdc.tdc.conv
    assert tuple(conv.weight.shape) == (256, 256, 10, 3, 3) and conv.stride == (5, 1, 1)
    assert tdc.frames.head_in_features == 256 * 9 * 9
    # "five stacked LSTM layers, each with 512 memory cells"
    assert (lstm.lstm.num_layers, lstm.lstm.hidden_size, lstm.lstm.input_size) == (5, 512, 4096)
    assert lstm.classifier.in_features == 512


# ----------------------------------------------------------------------------------------------
# real passes at a small width


@pytest.mark.parametrize(
    ("model", "frames", "width", "t"),
    [
        (ConvPooling, "alexnet", 0.125, 12),
        (LatePooling, "alexnet", 0.125, 12),
        (SlowPooling, "alexnet", 0.125, 17),
        (LocalPooling, "alexnet", 0.125, 15),
        (TimeDomainConv, "alexnet", 0.25, 15),
        (DeepLSTM, "alexnet", 0.125, 10),
        (ConvPooling, "googlenet", 0.125, 10),
        (TimeDomainConv, "googlenet", 0.125, 10),
        (DeepLSTM, "googlenet", 0.125, 10),
    ],
)
def test_forward_backward_small(
    model: type[nn.Module], frames: str, width: float, t: int, tower: dict
) -> None:
    torch.manual_seed(0)
    tw = alexnet(tower, width=width) if frames == "alexnet" else googlenet(width=width)
    small_lstm = {"hidden": 32, "layers": 2} if model is DeepLSTM else {}  # 512 x 5: on meta
    net = model(tw, 5, t, **small_lstm)
    y = net(clip(t))
    assert tuple(y.shape) == ((2, t, 5) if model is DeepLSTM else (2, 5))
    assert torch.isfinite(y).all()
    y.float().pow(2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_googlenet_down_to_32(tower: dict) -> None:
    g = googlenet(size=32, width=0.125)
    assert tuple(g.conv(clip(2, size=32)).shape) == (2, 128, 2, 1, 1)
    with pytest.raises(ValueError, match="at least 32x32"):
        googlenet(size=24)


def test_alexnet_frames_is_the_single_frame_tower(tower: dict) -> None:
    frames = alexnet(tower)
    single = SingleFrame(5, SMALL, tower, width=0.125)
    keys = {k for k in single.state_dict() if not k.startswith("classifier.")}
    assert keys == set(frames.state_dict())
    assert all(single.state_dict()[k].shape == v.shape for k, v in frames.state_dict().items())


# ----------------------------------------------------------------------------------------------
# variable length, windows, max over time


@pytest.mark.parametrize("model", [ConvPooling, LatePooling, DeepLSTM], ids=lambda m: m.__name__)
def test_any_length_at_inference(model: type[nn.Module], tower: dict) -> None:
    net = model(alexnet(tower), 5, 30).eval()
    with torch.no_grad():
        for t in (1, 7, 33):
            y = net(clip(t, b=1))
            assert y.shape[-1] == 5 and (y.shape[1] == t if model is DeepLSTM else y.dim() == 2)


@pytest.mark.parametrize("model", [SlowPooling, TimeDomainConv], ids=lambda m: m.__name__)
def test_windowed_models_take_ten_frames_or_more(model: type[nn.Module], tower: dict) -> None:
    net = model(alexnet(tower), 5, 30).eval()
    with torch.no_grad():
        for t in (10, 23):
            assert tuple(net(clip(t, b=1)).shape) == (1, 5)
        with pytest.raises(ValueError, match="at least 10 frames"):
            net(clip(9, b=1))
    with pytest.raises(ValueError, match="num_frames >= 10"):
        model(alexnet(tower), 5, 5)


def test_local_pooling_is_tied_to_its_frame_count(tower: dict) -> None:
    net = LocalPooling(alexnet(tower), 5, 20).eval()
    assert net.n_windows == 3
    with torch.no_grad():
        assert tuple(net(clip(20, b=1)).shape) == (1, 5)
        for t in (10, 23, 30):
            with pytest.raises(ValueError, match=r"built for clips of 20 frames.*3 window"):
                net(clip(t, b=1))


def test_window_starts_cover_every_frame() -> None:
    assert window_starts(10, 10, 5) == [0]
    assert window_starts(20, 10, 5) == [0, 5, 10]
    assert window_starts(120, 10, 5) == list(range(0, 111, 5))
    assert window_starts(23, 10, 5) == [0, 5, 10, 13]  # a last window ending at frame 22
    with pytest.raises(ValueError, match="at least 10 frames"):
        window_starts(9, 10, 5)


def test_window_max_by_hand() -> None:
    maps = torch.randn(2, 3, 23, 2, 2)
    expected = torch.stack([maps[:, :, s : s + 10].amax(2) for s in (0, 5, 10, 13)], dim=2)
    assert torch.equal(window_max(maps, 10, 5), expected)


def test_conv_pooling_is_a_max_over_time(tower: dict) -> None:
    conv, late = (m(alexnet(tower), 5, 12).eval() for m in (ConvPooling, LatePooling))
    lstm = DeepLSTM(alexnet(tower), 5, 12, hidden=16, layers=2).eval()
    nn.init.normal_(lstm.classifier.weight)  # visible logits (the classifier starts at N(0, 0.01))
    x = clip(12)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    dup = torch.cat([x, x[:, :, 3:4]], dim=2)  # a repeated frame leaves a max unchanged
    with torch.no_grad():
        for net in (conv, late):
            y = net(x)
            assert torch.allclose(net(x[:, :, perm]), y, atol=1e-5)
            assert torch.allclose(net(dup), y, atol=1e-5)
            assert not torch.allclose(net(x[:, :, :6]), y, atol=1e-5)
        assert not torch.allclose(lstm(x[:, :, perm])[:, -1], lstm(x)[:, -1], atol=1e-4)


def test_one_window_slow_and_local_pooling_equal_conv_pooling(tower: dict) -> None:
    frames = alexnet(tower)
    conv = ConvPooling(frames, 5, 10).eval()
    slow = SlowPooling(frames, 5, 10).eval()
    local = LocalPooling(frames, 5, 10).eval()
    slow.classifier = local.classifier = conv.classifier
    x = clip(10)
    with torch.no_grad():
        assert torch.allclose(slow(x), conv(x), atol=1e-6)
        assert torch.allclose(local(x), conv(x), atol=1e-6)


def test_slow_pooling_by_hand(tower: dict) -> None:
    net = SlowPooling(alexnet(tower), 5, 13).eval()
    x = clip(13)
    with torch.no_grad():
        maps = net.frames.conv(x)
        fc6 = [net.frames.fc6(maps[:, :, s : s + 10].amax(2).flatten(1)) for s in (0, 3)]
        expected = net.classifier(net.frames.fc7(torch.maximum(*fc6)))
        assert torch.allclose(net(x), expected, atol=1e-6)


def test_time_domain_conv_by_hand(tower: dict) -> None:
    net = TimeDomainConv(alexnet(tower), 5, 13, width=0.125).eval()
    assert net.tdc.conv.out_channels == 32
    c, h, w = net.frames.conv_shape
    assert net.frames.head_in_features == 32 * h * w
    x = clip(13)
    with torch.no_grad():
        maps = net.frames.conv(x)
        outs = [net.tdc(maps[:, :, s : s + 10]) for s in (0, 3)]  # each (B, 32, 1, h, w)
        pooled = torch.maximum(*outs).flatten(1)
        assert torch.allclose(net(x), net.classifier(net.frames.head(pooled)), atol=1e-5)


# ----------------------------------------------------------------------------------------------
# LSTM: gain, loss, inference rules, running state


def test_frame_gains() -> None:
    assert torch.equal(frame_gains(5), torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert torch.equal(frame_gains(2), torch.tensor([0.0, 1.0]))
    assert torch.equal(frame_gains(1), torch.tensor([1.0]))
    g = frame_gains(30)
    assert g[0] == 0 and g[-1] == 1 and torch.allclose(g.diff(), torch.full((29,), 1 / 29))
    with pytest.raises(ValueError):
        frame_gains(0)


# Per-frame probabilities (1 video, 3 frames, 4 classes) on which the four rules pick four
# different classes: max -> 0 (the spike of frame 0), sum -> 1, weighted -> 2, last -> 3.
PROBS = torch.tensor(
    [
        [
            [0.70, 0.30, 0.00, 0.00],
            [0.00, 0.35, 0.65, 0.00],
            [0.00, 0.35, 0.25, 0.40],
        ]
    ]
)
EXPECTED = {
    "last": [0.00, 0.35, 0.25, 0.40],
    "max": [0.70, 0.35, 0.65, 0.40],
    "sum": [0.70 / 3, 1.00 / 3, 0.90 / 3, 0.40 / 3],
    # gains 0, 0.5, 1: (0.5 * frame 1 + frame 2) / 1.5
    "weighted": [0.0, 0.525 / 1.5, 0.575 / 1.5, 0.40 / 1.5],
}
WINNER = {"max": 0, "sum": 1, "weighted": 2, "last": 3}


@pytest.mark.parametrize("rule", INFERENCE_RULES)
def test_inference_rules_by_hand(rule: str) -> None:
    scores = combine_frames(PROBS, rule)
    assert scores.shape == (1, 4)
    assert torch.allclose(scores[0], torch.tensor(EXPECTED[rule]), atol=1e-6)
    assert int(scores.argmax()) == WINNER[rule]
    assert math.isclose(float(scores.sum()), 1.0, abs_tol=1e-6) or rule == "max"


def test_unknown_inference_rule() -> None:
    with pytest.raises(ValueError, match="'last', 'max', 'sum', 'weighted'"):
        combine_frames(PROBS, "mean")


def test_gain_weighted_loss_by_hand() -> None:
    logits = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    target = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.5, 0.0, 0.0, 0.5]])
    loss = gain_weighted_loss(logits, target)
    total = 0.0
    for b in range(2):
        num = 0.0
        for t, g in enumerate((0.0, 0.5, 1.0)):
            z = logits[b, t].tolist()
            log_z = math.log(sum(math.exp(v) for v in z))
            ce = -sum(target[b, c].item() * (z[c] - log_z) for c in range(4))
            num += g * ce
        total += num / 1.5
    assert math.isclose(loss.item(), total / 2, rel_tol=1e-5)
    loss.backward()
    assert logits.grad is not None
    assert torch.equal(logits.grad[:, 0], torch.zeros(2, 4))  # gain 0 at the first frame
    assert logits.grad[:, 2].abs().sum() > logits.grad[:, 1].abs().sum()
    with pytest.raises(ValueError, match="soft_target"):
        gain_weighted_loss(logits, target[:, :3])


def test_forward_steps_in_chunks_equals_one_pass(tower: dict) -> None:
    net = DeepLSTM(alexnet(tower), 5, 12, hidden=16, layers=2).eval()
    x = clip(12)
    with torch.no_grad():
        whole = net(x)
        first, state = net.forward_steps(x[:, :, :5])
        second, state = net.forward_steps(x[:, :, 5:], state)
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-5)
    assert tuple(state[0].shape) == tuple(state[1].shape) == (2, 2, 16)


# ----------------------------------------------------------------------------------------------
# weights


def test_googlenet_loads_torchvision_weights(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torch.manual_seed(0)
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False).eval()
    for m in tv.modules():  # non-trivial batch-norm statistics, so a missed buffer shows
        if isinstance(m, nn.BatchNorm2d):
            assert m.running_mean is not None and m.running_var is not None
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = tv.state_dict()
    state["aux1.conv.conv.weight"] = torch.zeros(1)  # auxiliary classifiers are ignored
    path = tmp_path / "googlenet.pth"
    torch.save(state, path)

    with caplog.at_level(logging.INFO, logger="deepvideo.models.frames"):
        frames = GoogLeNetFrames(SMALL, width=1.0, weights=str(path)).eval()
    assert frames.loaded_from == str(path)
    assert str(path) in caplog.text and "loaded" in caplog.text
    pooled: list[torch.Tensor] = []
    tv.avgpool.register_forward_hook(lambda _m, _i, out: pooled.append(out))
    x = clip(2, b=1, seed=3)  # frames of one clip = a batch of two images for torchvision
    with torch.no_grad():
        logits = tv(x[0].transpose(0, 1))
        conv = frames.conv(x)  # (1, 1024, 2, 1, 1)
        ours = conv[0, :, :, 0, 0].T
        assert torch.allclose(ours, pooled[0].flatten(1), atol=1e-5)
        assert torch.allclose(frames.fc(ours), logits, atol=1e-4)

    with pytest.raises(ValueError, match=r"googlenet\.pth.*features\.conv1\.conv\.weight"):
        GoogLeNetFrames(SMALL, width=0.5, weights=str(path))


def test_alexnet_loads_a_single_frame_checkpoint(tmp_path: Path, tower: dict) -> None:
    torch.manual_seed(0)
    single = SingleFrame(5, SMALL, tower, width=0.125).eval()
    path = tmp_path / "single_frame.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in single.state_dict().items()}}, path)
    frames = alexnet(tower, weights=str(path)).eval()
    assert frames.loaded_from == str(path)
    x = clip(3)
    with torch.no_grad():
        for t in range(3):  # the single-frame net on each frame
            maps = single.features(x[:, :, t : t + 1])
            assert torch.equal(frames.conv(x)[:, :, t : t + 1], maps)
            v = maps.flatten(1)
            assert torch.allclose(frames.head(v), single.fc7(single.fc6(v)))

    # an Ng model's checkpoint (net.frames.*) initialises a tower too: network expansion
    conv = ConvPooling(frames, 5, 10)
    path2 = tmp_path / "conv_pooling.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in conv.state_dict().items()}}, path2)
    again = alexnet(tower, weights=str(path2))
    assert all(torch.equal(v, frames.state_dict()[k]) for k, v in again.state_dict().items())

    # frames of another size: fc6 does not fit
    with pytest.raises(ValueError, match=r"single_frame\.ckpt.*fc6\.fc\.weight"):
        alexnet(tower, size=96, weights=str(path))


def test_missing_weights_file(tmp_path: Path, tower: dict) -> None:
    missing = tmp_path / "nope.ckpt"
    for make in (
        lambda: alexnet(tower, weights=str(missing)),
        lambda: googlenet(weights=str(missing)),
    ):
        with pytest.raises(FileNotFoundError, match=r"nope\.ckpt.*model\.net\.frames\.weights"):
            make()


# ----------------------------------------------------------------------------------------------
# configs


def test_paper_configs_on_sports1m(compose_cfg: Callable[..., DictConfig]) -> None:
    def model(name: str, *extra: str) -> DictConfig:
        cfg = compose_cfg("train", ["data=sports1m", f"model={name}", *extra])
        OmegaConf.resolve(cfg)
        return cfg.model

    conv = model("conv_pooling")
    assert conv.net.frames._target_ == "deepvideo.models.AlexNetFrames"
    assert conv.net.frames.input_size == PAPER_SIZE and conv.net.frames.width == 1.0
    assert conv.net.frames.dropout == 0.6 and conv.net.frames.tower.convs[0].kernel == 11
    assert "trainable" not in conv
    for name in ("slow_pooling", "local_pooling", "time_domain_conv"):
        net = model(name).net
        assert (net.window, net.stride) == (10, 5)
    assert model("time_domain_conv").net.channels == 256
    assert model("googlenet_conv_pooling").net.frames.fc_dim == 4096
    lstm = model("lstm")
    assert (lstm.net.hidden, lstm.net.layers) == (512, 5)
    fc = model("lstm_fc")
    assert fc.name == "lstm_fc" and list(fc.trainable) == ["lstm", "classifier"]
    assert fc.net._target_ == "deepvideo.models.DeepLSTM"
    swapped = model("lstm", "model/frames@model.net.frames=googlenet")
    assert swapped.net.frames._target_ == "deepvideo.models.GoogLeNetFrames"
