"""Ng et al. 2015 through the real entry points: sampling as the paper samples, the per-frame
LSTM loss and inference rules in the LightningModule, network expansion, eval rules and the
running prediction of ``predict.py``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from conftest import FAST, compose_config, tiny_overrides
from deepvideo.checkpoint import expand_from
from deepvideo.data.datasets import ClipDataset
from deepvideo.data.sampling import ClipSpec, random_clip
from deepvideo.data.video import EncodedVideo
from deepvideo.errors import ConfigError
from deepvideo.models.lstm import combine_frames, frame_gains
from deepvideo.modules import VideoClassifier
from test_train import run_cli, run_train


@pytest.mark.parametrize("data", ["sports1m", "ucf101"])
def test_paper_sampling_reaches_the_datamodule(data: str) -> None:
    cfg = compose_config("train", [f"data={data}", "model=conv_pooling"])
    dm = instantiate(cfg.data, _recursive_=False)
    # Sec. 4.1: 1 fps (6 fps on UCF-101, Table 6), first 5 minutes, looped, 256 -> 220
    assert dm.clip == ClipSpec(30, 1, 1.0 if data == "sports1m" else 6.0, "loop", 300.0)
    assert (dm.transform.resize, dm.transform.crop) == (256, 220)
    assert dm.test_clips == {"clips_per_video": 240, "views": 1, "mode": "random"}
    # the Karpathy models keep the dataset's own sampling (short videos looped, as in Ng et al.)
    karpathy = instantiate(
        compose_config("train", [f"data={data}", "model=slow_fusion"]).data, _recursive_=False
    )
    assert karpathy.clip == ClipSpec(10, 1, None, "loop", None)
    assert (karpathy.transform.resize, karpathy.transform.crop) == (200, 170)


def test_whole_video_pass_takes_its_own_frame_count() -> None:
    cfg = compose_config(
        "train",
        [
            "data=sports1m",
            "model=lstm",
            "model.clip.test_clips.mode=whole",
            "model.clip.test_clips.clips_per_video=1",
            "+model.clip.test_clips.num_frames=300",
        ],
    )
    dm = instantiate(cfg.data, _recursive_=False)
    spec = dm.eval_spec(dm.test_clips)
    assert spec.num_frames == 300 and dm.clip.num_frames == 30
    sampler = dm.eval_clips("test").sampler
    # a 100 s video at 25 fps: 100 one-second frames, then repeated from the start up to 300
    (clip,) = sampler(2500, 25.0, np.random.default_rng(0))
    assert len(clip) == 300 and clip[:3] == [0, 25, 50] and clip[100] == 0
    # a 10-minute video: only its first 5 minutes
    (clip,) = sampler(15000, 25.0, np.random.default_rng(0))
    assert max(clip) == 299 * 25


def test_an_example_of_120_one_fps_frames_decodes_once_sorted(
    tiny_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[list[int]] = []
    original = EncodedVideo.get_frames

    def spy(self: EncodedVideo, indices: list[int]) -> torch.Tensor:
        reads.append(list(indices))
        return original(self, indices)

    monkeypatch.setattr(EncodedVideo, "get_frames", spy)
    cfg = compose_config(
        "train",
        [*tiny_overrides(tiny_root), "model=conv_pooling", "data.ng2015.frames=120"]
        + ["data.ng2015.fps=1"],
    )
    dm = instantiate(cfg.data, _recursive_=False)
    dm.setup("fit")
    data = dm.dataset("train")
    sample = data[0]
    assert sample["video"].shape == (3, 120, 64, 64)
    assert len(reads) == 1  # one open, one read of the whole example
    video = EncodedVideo(data.videos[0].path)
    # a 1.5-2 s video at 1 fps has 2 frames: the 120 frames loop over them (Sec. 4.1)
    assert len(set(reads[0])) <= 2 and len(reads[0]) == 120
    rng = np.random.default_rng(0)
    clip = random_clip(video.num_frames, dm.clip, rng, video.fps)
    assert len(clip) == 120 and set(clip) <= {0, int(round(video.fps))}


def test_one_crop_and_flip_for_every_frame_of_an_example(tiny_root: Path) -> None:
    cfg = compose_config("train", [*tiny_overrides(tiny_root), "model=conv_pooling"])
    dm = instantiate(cfg.data, _recursive_=False)
    dm.setup("fit")
    data: ClipDataset = dm.dataset("train")
    # the synthetic root's class groups reach the DataModule (and video_scores.pt, reports)
    assert set(dm.class_groups.values()) == {"motion", "appearance", "both"}
    frames = torch.arange(72 * 96, dtype=torch.uint8).reshape(1, 72, 96, 1).repeat(10, 1, 1, 3)
    out = data.transform.train(frames, np.random.default_rng(3))
    assert torch.equal(out[:, 0], out[:, -1])  # the same crop/flip on the first and last frame


def _module(model: str, frames: int = 6) -> VideoClassifier:
    cfg = compose_config(
        "train", [f"model={model}", f"data.ng2015.frames={frames}", "data.recipe.width=0.125"]
    )
    net = instantiate(cfg.model.net)
    module: VideoClassifier = instantiate(cfg.module, net=net)
    return module


def test_lstm_module_backpropagates_the_label_at_every_frame_with_the_gain() -> None:
    module = _module("lstm")
    logits = torch.randn(2, 5, 12, requires_grad=True)
    target = torch.zeros(2, 12)
    target[0, 3] = target[1, 7] = 1.0
    loss = module.loss(logits, target)
    ce = torch.nn.functional.cross_entropy(
        logits.reshape(10, 12), target.repeat_interleave(5, 0), reduction="none"
    ).view(2, 5)
    g = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    assert torch.allclose(loss, ((ce * g).sum(1) / g.sum()).mean())
    loss.backward()
    assert logits.grad is not None
    assert torch.all(logits.grad[:, 0] == 0) and torch.all(logits.grad[:, -1] != 0)


@pytest.mark.parametrize("rule", ["last", "max", "sum", "weighted"])
def test_module_scores_follow_the_frame_rule(rule: str) -> None:
    module = _module("lstm")
    module.frame_rule = rule
    logits = torch.randn(3, 4, 12)
    expected = combine_frames(logits.softmax(-1), rule)
    assert torch.allclose(module.scores(logits), expected)
    views = torch.zeros(2, 2, 3, 6, 64, 64)
    with torch.no_grad():
        probs = module.clip_probabilities(views)
    assert probs.shape == (2, 12)
    if rule != "max":  # the max over time of probabilities is not one distribution
        assert torch.allclose(probs.sum(-1), torch.ones(2), atol=1e-5)
    assert torch.equal(frame_gains(3), torch.tensor([0.0, 0.5, 1.0]))


def _save(net: torch.nn.Module, path: Path) -> Path:
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, path)
    return path


def _net(model: str, frames: int) -> torch.nn.Module:
    cfg = compose_config(
        "train", [f"model={model}", f"data.ng2015.frames={frames}", "data.recipe.width=0.125"]
    )
    return instantiate(cfg.model.net)


def test_expansion_loads_every_shared_tensor_and_reports_the_new_ones(tmp_path: Path) -> None:
    one = _save(_net("conv_pooling", 1), tmp_path / "one.ckpt")
    thirty = _net("conv_pooling", 30)
    report = expand_from(thirty, one)
    assert report["new"] == [] and report["mismatched"] == [] and report["unused"] == []
    source = torch.load(one)["state_dict"]
    for key, value in thirty.state_dict().items():
        assert torch.equal(value, source[f"net.{key}"]), key
    # the time-domain convolution is new; everything of the frame tower comes from the checkpoint
    tdc = _net("time_domain_conv", 30)
    report = expand_from(tdc, one)
    assert any(k.startswith("tdc.") for k in report["new"])
    assert all(k.startswith("frames.") for k in report["loaded"] if not k.startswith("classifier"))
    assert any(k.startswith("frames.features.") for k in report["loaded"])
    # Karpathy et al.'s single frame fills the frame tower (features, fc6, fc7 -> frames.*)
    karpathy = _save(_net("single_frame", 1), tmp_path / "karpathy.ckpt")
    report = expand_from(_net("conv_pooling", 30), karpathy)
    assert {k.split(".")[1] for k in report["loaded"] if k.startswith("frames.")} >= {
        "features",
        "fc6",
        "fc7",
    }
    with pytest.raises(ConfigError, match="none of its frame tower tensors"):
        expand_from(_net("googlenet_conv_pooling", 30), karpathy)


def test_network_expansion_run_writes_what_it_loaded(tiny_root: Path, tmp_path: Path) -> None:
    base = [*tiny_overrides(tiny_root), *FAST, "debug=limit", "test=false"]
    run_train(["experiment=ng2015_expand_1", *base], tmp_path / "one")
    ckpt = tmp_path / "one" / "checkpoints" / "last.ckpt"
    run_train(
        ["experiment=ng2015_expand_30", f"expand_from={ckpt}", "data.ng2015.frames=12", *base],
        tmp_path / "thirty",
    )
    report = json.loads((tmp_path / "thirty" / "expansion.json").read_text())
    assert report["ckpt_path"] == str(ckpt) and report["new"] == []
    assert any(k.startswith("frames.features.conv1") for k in report["loaded"])
    # Table 2's "(fc)" LSTM: the single-frame CNN frozen, only the LSTM and softmax trained
    run_train(
        ["model=lstm_fc", f"expand_from={ckpt}", "data.ng2015.frames=6", *base], tmp_path / "fc"
    )
    before = torch.load(ckpt, weights_only=False)["state_dict"]
    after = torch.load(tmp_path / "fc" / "checkpoints" / "last.ckpt", weights_only=False)
    after = after["state_dict"]
    frozen = [k for k in after if k.startswith("net.frames.") and "num_batches" not in k]
    assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)
    trained = [k for k in after if k.startswith("net.lstm.")]
    assert trained
    report = json.loads((tmp_path / "fc" / "expansion.json").read_text())
    assert any(k.startswith("lstm.") for k in report["new"])


def test_lstm_eval_rules_and_running_prediction(tiny_root: Path, tmp_path: Path) -> None:
    run_train(
        ["model=lstm", "data.ng2015.frames=6", "debug=limit", "test=false"]
        + [*tiny_overrides(tiny_root), *FAST],
        tmp_path,
    )
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    hits = {}
    for rule in ("last", "weighted"):
        out = tmp_path / f"eval_{rule}"
        result = run_cli(
            "eval.py", [f"ckpt_path={ckpt}", f"frame_rule={rule}", f"hydra.run.dir={out}"]
        )
        assert result.returncode == 0, result.stderr[-3000:]
        hits[rule] = json.loads((out / "metrics.json").read_text())["test/video_hit@1"]
    assert all(0 <= h <= 1 for h in hits.values())
    result = run_cli(
        "eval.py", [f"ckpt_path={ckpt}", "frame_rule=median", f"paths.log_dir={tmp_path}"]
    )
    assert result.returncode == 2 and "frame_rule" in result.stderr
    video = next((tiny_root / "videos").glob("*.mp4"))
    overlay = tmp_path / "overlay.mp4"
    result = run_cli(
        "predict.py",
        [f"ckpt_path={ckpt}", f"video={video}", f"overlay={overlay}", f"paths.log_dir={tmp_path}"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("running prediction")))
    running = [line for line in lines[start + 1 :] if line.strip().endswith(tuple("0123456789"))]
    seconds = [float(line.split()[0]) for line in running if line.split()[1] == "s"]
    assert seconds and seconds == sorted(seconds) and seconds[0] == 0.0
    assert overlay.is_file()


def test_the_lstm_layers_learn_at_n_times_the_rate_of_the_tower() -> None:
    module = _module("lstm", frames=6)  # Sec. 3.3: N x 1e-5 for N frames, the pooling models 1e-5
    optimizer = module.configure_optimizers()["optimizer"]
    tower, above = optimizer.param_groups
    assert above["lr"] == pytest.approx(6 * tower["lr"])
    names = {id(p): n for n, p in module.named_parameters()}
    assert all(names[id(p)].startswith("net.frames.") for p in tower["params"])
    assert any(names[id(p)].startswith("net.lstm.") for p in above["params"])
    pooling = _module("conv_pooling").configure_optimizers()["optimizer"]
    assert len(pooling.param_groups) == 1 and pooling.param_groups[0]["lr"] == tower["lr"]
