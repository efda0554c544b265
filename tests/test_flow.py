"""Optical flow (Ng et al. 2015, Sec. 3.4): the flow's signs, the clip/rescale images, the flow
videos through the project's decoder, the flip rule, a resumable parallel computation, flow
through the DataModules and entry points, the image-to-flow recipe and two-stream fusion."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path
from types import ModuleType

import av
import cv2
import numpy as np
import pytest
import torch
from hydra.errors import InstantiationException

from conftest import FAST, ROOT, compose_config, tiny_overrides
from deepvideo.data import flow, prepare
from deepvideo.data.transforms import ClipTransform
from deepvideo.data.video import EncodedVideo
from deepvideo.reports.two_stream import two_stream
from deepvideo.scores import VideoScores, fuse_video_scores, load_video_scores, save_video_scores
from deepvideo.synthetic.encode import encode_video
from deepvideo.synthetic.layouts import SyntheticConfig
from deepvideo.training import train

SIZE = 64


def texture(seed: int = 0, side: int = SIZE + 64) -> np.ndarray:
    """A smooth random grey texture (something every flow method can track), uint8."""
    noise = np.random.default_rng(seed).random((side, side)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def moving(frames: int, dx: int = 0, dy: int = 0, seed: int = 0) -> np.ndarray:
    """``(T, SIZE, SIZE)`` frames of the texture moving ``dx`` px right and ``dy`` down a frame."""
    image = texture(seed)
    out = []
    for t in range(frames):
        top, left = 32 - t * dy, 32 - t * dx  # content moves (dx, dy): the window moves back
        out.append(image[top : top + SIZE, left : left + SIZE])
    return np.stack(out)


def interior(field: np.ndarray, margin: int = 12) -> np.ndarray:
    return field[margin:-margin, margin:-margin]


def load_script(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write_video(path: Path, grey: np.ndarray, fps: float) -> Path:
    """Grey frames as an H.264 video, encoded as the synthetic benchmark's are."""
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    encode_video(rgb, path, SyntheticConfig(fps=fps, crf=4))
    return path


# --------------------------------------------------------------------------- the flow itself
@pytest.mark.parametrize("method", flow.FLOW_METHODS)
def test_motion_right_is_positive_horizontal_and_down_is_positive_vertical(method: str) -> None:
    estimate = flow.flow_estimator(method)
    right = moving(2, dx=2)
    u, v = np.moveaxis(interior(estimate(right[0], right[1])), -1, 0)
    assert np.median(u) > 1.5 and abs(np.median(v)) < 0.5
    down = moving(2, dy=2)
    u, v = np.moveaxis(interior(estimate(down[0], down[1])), -1, 0)
    assert np.median(v) > 1.5 and abs(np.median(u)) < 0.5
    # ... and the images store them above 127.5 (no motion)
    image = flow.flow_to_image(estimate(down[0], down[1]))
    assert np.median(interior(image)[..., 1]) > 127.5 + 1.5 * 255 / 80


def test_clip_and_rescale_round_trip() -> None:
    values = np.linspace(-60, 60, 1201, dtype=np.float32)
    field = np.stack(np.broadcast_arrays(values[:, None], -values[:, None]), -1)  # (N, 1, 2)
    image = flow.flow_to_image(field)
    assert image.dtype == np.uint8 and image.shape == (1201, 1, 3)
    assert not image[..., 2].any()  # third channel 0 (Sec. 3.4)
    back = flow.image_to_flow(image)
    inside = np.abs(values) <= 40
    step = 80 / 255
    assert np.abs(back[inside, 0, 0] - values[inside]).max() <= step / 2 + 1e-5
    assert np.abs(back[inside, 0, 1] + values[inside]).max() <= step / 2 + 1e-5
    assert (image[values <= -40, 0, 0] == 0).all() and (image[values >= 40, 0, 0] == 255).all()
    assert np.allclose(back[~inside, 0, 0], np.sign(values[~inside]) * 40, atol=1e-4)  # clipped
    zero = flow.flow_to_image(np.zeros((1, 1, 2), np.float32))[0, 0, 0]
    assert abs(int(zero) - 127.5) == 0.5  # 127.5 is no motion (stored rounded)


def test_flow_video_timing_and_values_through_the_project_decoder(tmp_path: Path) -> None:
    """A 30 fps video of a texture moving 1 px right a frame: its flow video runs at 15 fps,
    one frame fewer than the sampled frames, each the motion of 2 native frames (2 px right),
    and decodes (decord and PyAV) within 2 of the values written (lossless: exactly)."""
    source = write_video(tmp_path / "right.mp4", moving(24, dx=1), fps=30.0)
    target = tmp_path / "right_flow.mp4"
    options = flow.FlowOptions(method="farneback")
    message = flow.write_flow_video(source, target, options)
    assert message == "11 flow frames at 15 fps (farneback)"
    # what was written: the flow of the same sampled frames, computed here
    with av.open(str(source)) as reader:
        rate, frames = prepare.frames_at_rate(reader, 15.0)
        grey = [flow.grey_frame(f) for _, _, f in frames]
    assert rate == 15 and len(grey) == 12
    estimate = flow.flow_estimator("farneback")
    written = np.stack(
        [flow.flow_to_image(estimate(a, b)) for a, b in zip(grey[:-1], grey[1:], strict=True)]
    )
    for backend in ("decord", "pyav"):
        video = EncodedVideo(target, backend=backend)
        assert (video.num_frames, video.fps) == (11, 15.0)
        decoded = video.get_frames(range(video.num_frames)).numpy()
        assert np.abs(decoded.astype(int) - written.astype(int)).max() <= 2
        u = flow.image_to_flow(decoded)[..., 0]
        assert np.median(u[:, 12:-12, 12:-12]) > 1.5  # 2 px right per sampled pair
    with av.open(str(target)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


# ------------------------------------------------------------------------------ the flip rule
def test_a_flipped_flow_image_is_mirrored_and_moves_the_other_way() -> None:
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (3, 40, 40, 3), dtype=np.uint8))
    images[..., 2] = 0
    transform = ClipTransform(resize=40, crop=32, mean=127.5, std=2.5, flow=True)
    # evaluation views: 0 the centre crop, 1 its mirror (CropViews)
    raw = transform.eval_pipeline(2).transforms[:2]
    sample = {"video": images}
    for step in raw:
        sample = step(sample, rng)
    plain, mirrored = sample["video"][0], sample["video"][1]  # (T, C, S, S) uint8, no rule yet
    views = transform.views(images, 2, np.random.default_rng(0))  # (V, C, T, S, S) float
    centre, flipped = views[0], views[1]
    assert torch.allclose(centre[0], (plain[:, 0].float() - 127.5) / 2.5)
    # horizontal: mirrored AND negated (255 - v on the stored scale); vertical: mirrored only
    assert torch.allclose(flipped[0], -centre[0].flip(-1))
    assert torch.allclose(flipped[0], (255 - mirrored[:, 0].float() - 127.5) / 2.5)
    assert torch.allclose(flipped[1], centre[1].flip(-1))
    assert not views[:, 2].any()  # the third channel is fed as 0 (Sec. 3.4)
    # training crops follow the same rule whenever RandomCropFlip flips
    seen = set()
    for seed in range(12):
        draw = transform.train_pipeline()({"video": images.clone()}, np.random.default_rng(seed))
        top, left, flip = draw["geometry"][0]
        crop = images[:, top : top + 32, left : left + 32, 0].float()
        want = (255 - crop.flip(-1) - 127.5) / 2.5 if flip else (crop - 127.5) / 2.5
        assert torch.allclose(draw["video"][0], want)
        seen.add(flip)
    assert seen == {True, False}


def test_the_flow_of_a_mirrored_video_is_the_flip_rule_of_its_flow() -> None:
    """What the rule stands for: a video mirrored left-right moves the other way."""
    estimate = flow.flow_estimator("farneback")
    right = moving(2, dx=2)
    mirrored = right[:, :, ::-1].copy()
    u_mirror = interior(estimate(mirrored[0], mirrored[1]))[..., 0]
    u = interior(estimate(right[0], right[1]))[..., 0]
    assert np.median(u) > 1.5 and np.median(u_mirror) < -1.5
    image = torch.from_numpy(flow.flow_to_image(estimate(right[0], right[1])))
    rule = (255 - image[:, :, 0].flip(-1)).numpy()  # the flip rule on the stored scale
    direct = flow.flow_to_image(estimate(mirrored[0], mirrored[1]))[..., 0]
    assert np.median(np.abs(interior(rule).astype(int) - interior(direct).astype(int))) <= 1


# ------------------------------------------------------------------ the folder computation
@pytest.fixture
def video_folder(tmp_path: Path) -> Path:
    src = tmp_path / "videos"
    (src / "ClassA").mkdir(parents=True)
    write_video(src / "a.mp4", moving(8, dx=1), fps=15.0)
    write_video(src / "ClassA" / "b.mp4", moving(8, dy=1, seed=1), fps=15.0)
    write_video(src / "one_frame.mp4", moving(1), fps=15.0)
    (src / "corrupt.mp4").write_bytes(b"not a video" * 40)
    return src


def test_compute_flow_is_parallel_resumable_and_reports_every_failure(
    video_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dst = tmp_path / "flow"
    cli = load_script("compute_flow")
    args = [str(video_folder), str(dst), "--method", "dis", "--workers", "2", "--no-progress"]
    assert cli.main(args) == 1  # something failed, the rest was done
    out, err = capsys.readouterr()
    assert "compute_flow: done 2, skipped 0, failed 2 (4 videos under" in out
    assert f"failed: {video_folder / 'corrupt.mp4'}: InvalidDataError" in err
    assert (
        f"failed: {video_folder / 'one_frame.mp4'}: ValueError: a flow video needs at least 2"
        in err
    )
    made = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*.mp4"))
    assert made == ["ClassA/b.mp4", "a.mp4"]  # the same layout, no partial file left
    assert json.loads((dst / "flow.json").read_text())["method"] == "dis"
    stamps = {p: p.stat().st_mtime_ns for p in dst.rglob("*.mp4")}

    # a run killed half-way left a partial file; the rerun removes it and redoes nothing else
    dead = dst / f".a.mp4{prepare.PARTIAL_SUFFIX}-999999999"
    dead.write_bytes(b"half a video")
    (dst / "a.mp4").rename(dst / "a.kept")
    seen: list[prepare.Result] = []
    summary = flow.compute_flow(
        video_folder, dst, flow.FlowOptions(method="dis"), report=seen.append
    )
    assert sorted((r.status, Path(r.source).name) for r in seen) == [
        ("done", "a.mp4"),
        ("failed", "corrupt.mp4"),
        ("failed", "one_frame.mp4"),
        ("skipped", "b.mp4"),
    ]
    assert not dead.exists() and summary.failures()[0].startswith(str(video_folder / "corrupt.mp4"))
    again = flow.compute_flow(video_folder, dst, flow.FlowOptions(method="dis"))
    assert again.count("done") == 0 and again.count("skipped") == 2
    assert {p: p.stat().st_mtime_ns for p in dst.rglob("*.mp4") if p.name == "b.mp4"} == {
        p: t for p, t in stamps.items() if p.name == "b.mp4"
    }
    # another method into the same folder is refused before any work
    assert cli.main([str(video_folder), str(dst), "--method", "farneback"]) == 2
    assert "holds flow made with other settings (method 'dis' there" in capsys.readouterr().err


# ------------------------------------------------------------ flow through the data layer
@pytest.fixture(scope="module")
def tiny_flow(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIS flow videos of the tiny synthetic set (TV-L1 would take minutes here)."""
    dst = tmp_path_factory.mktemp("flow") / "tiny_flow"
    summary = flow.compute_flow(tiny_root / "videos", dst, flow.FlowOptions(method="dis"), 2)
    assert summary.failed == 0
    return dst


def flow_overrides(root: Path, flow_root: Path) -> list[str]:
    return [*tiny_overrides(root), "data.modality=flow", f"data.flow_root={flow_root}", *FAST]


def test_the_datamodule_reads_each_videos_flow_under_flow_root(
    tiny_root: Path, tiny_flow: Path, tmp_path: Path
) -> None:
    from deepvideo.data import build_datamodule

    cfg = compose_config("train", ["model=slow_fusion", *flow_overrides(tiny_root, tiny_flow)])
    data = build_datamodule(cfg.data, stage="fit")
    rgb = build_datamodule(
        compose_config("train", ["model=slow_fusion", *tiny_overrides(tiny_root)]).data,
        stage="fit",
    )
    for split in ("train", "val", "test"):
        assert [v.video_id for v in data.splits[split]] == [v.video_id for v in rgb.splits[split]]
        assert all(v.path == tiny_flow / f"{v.video_id}.mp4" for v in data.splits[split])
    sample = data.dataset("train")[0]
    assert sample["video"].shape == (3, 10, 64, 64) and not sample["video"][2].any()
    assert data.transform.flow and data.transform.mean == 127.5 and data.transform.std == 2.5
    views = data.dataset("test")[0]["video"]  # (V, C, T, S, S): the same views as for frames
    assert views.shape == (2, 3, 10, 64, 64) and not views[:, 2].any()

    # (Hydra wraps what the DataModule raises; run_or_exit prints it as one line)
    with pytest.raises(InstantiationException, match=r"modality=flow needs data.flow_root=DIR"):
        build_datamodule(
            compose_config("train", [*tiny_overrides(tiny_root), "data.modality=flow"]).data
        )
    empty = tmp_path / "no_flow"
    empty.mkdir()
    from deepvideo.data import DataNotFoundError

    with pytest.raises(DataNotFoundError, match=r"scripts/compute_flow.py .*videos .*no_flow"):
        build_datamodule(
            compose_config("train", flow_overrides(tiny_root, empty)).data, stage="fit"
        )


# Karpathy et al.'s fusion family, Ng et al.'s pooling and LSTM models, on flow images
@pytest.mark.parametrize("model", ["slow_fusion", "conv_pooling", "lstm"])
def test_every_model_family_trains_and_tests_on_flow(
    tiny_root: Path, tiny_flow: Path, tmp_path: Path, model: str
) -> None:
    overrides = [f"model={model}", "debug=fast_dev_run", *flow_overrides(tiny_root, tiny_flow)]
    metrics = train(compose_config("train", overrides, tmp_path))
    assert metrics["train/loss"] > 0 and 0.0 <= metrics["test/video_hit@1"] <= 1.0


def test_a_flow_model_starts_from_an_image_checkpoint(
    tiny_root: Path, tiny_flow: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    image_dir = tmp_path / "image"
    rgb = [
        "model=single_frame",
        "debug=limit",
        "trainer.max_epochs=1",
        *tiny_overrides(tiny_root),
        *FAST,
    ]
    train(compose_config("train", rgb, image_dir))
    ckpt = image_dir / "checkpoints" / "last.ckpt"
    recipe = [
        "experiment=flow_from_image",
        "model=single_frame",
        f"pretrained.ckpt_path={ckpt}",
        "debug=fast_dev_run",
        *flow_overrides(tiny_root, tiny_flow),
    ]
    cfg = compose_config("train", recipe, tmp_path / "flow")
    assert cfg.data.modality == "flow"
    with caplog.at_level(logging.INFO, logger="deepvideo.checkpoint"):
        train(cfg)
    assert any("pretrained: loaded all" in r.getMessage() for r in caplog.records)
    from deepvideo.data import build_datamodule

    without_root = compose_config(
        "train", ["experiment=flow_from_image", *tiny_overrides(tiny_root)]
    )
    with pytest.raises(InstantiationException, match="needs data.flow_root=DIR"):
        build_datamodule(without_root.data)


# --------------------------------------------------------------------- two-stream fusion
def scores(probs: list[list[float]], ids: list[str], labels: list[int], model: str) -> VideoScores:
    targets = torch.zeros(len(ids), 3)
    targets[torch.arange(len(ids)), torch.tensor(labels)] = 1
    groups = {"still": "appearance", "up": "motion", "down": "motion"}
    return VideoScores(
        torch.tensor(probs), targets, ids, ["still", "up", "down"], model, class_groups=groups
    )


IMAGE = scores(  # sees the object: right on "still", cannot tell up from down
    [[0.8, 0.1, 0.1], [0.1, 0.5, 0.4], [0.1, 0.5, 0.4], [0.7, 0.2, 0.1]],
    ["v0", "v1", "v2", "v3"],
    [0, 1, 2, 0],
    "image",
)
FLOW = scores(  # sees the motion, in another video order and with one video more
    [[0.1, 0.1, 0.8], [0.2, 0.7, 0.1], [0.4, 0.3, 0.3], [0.3, 0.3, 0.4], [0.9, 0.05, 0.05]],
    ["v2", "v1", "v0", "v3", "extra"],
    [2, 1, 0, 0, 0],
    "flow",
)


def test_fusion_averages_the_streams_video_by_video_with_weights() -> None:
    fused = fuse_video_scores([IMAGE, FLOW])
    assert fused.video_ids == ["v0", "v1", "v2", "v3"]  # the shared videos, by id
    assert torch.allclose(fused.scores[2], torch.tensor([0.1, 0.3, 0.6]))  # (image + flow) / 2
    weighted = fuse_video_scores([IMAGE, FLOW], [1.0, 3.0])
    assert torch.allclose(weighted.scores[0], 0.25 * IMAGE.scores[0] + 0.75 * FLOW.scores[2])
    result = two_stream(IMAGE, FLOW)
    assert (result.image.hit1, result.flow.hit1, result.fused.hit1) == (0.75, 0.75, 1.0)
    assert result.scored == {"image": 4, "flow": 5, "fused": 4}
    assert result.image.group_hit1 == {"appearance": 1.0, "motion": 0.5}
    assert result.flow.group_hit1 == {"appearance": 0.5, "motion": 1.0}
    assert result.fused.class_ap["down"] == 1.0 and result.image.class_ap["down"] == 0.5
    with pytest.raises(ValueError, match="disagree on the labels"):
        fuse_video_scores(
            [IMAGE, scores(IMAGE.scores.tolist(), IMAGE.video_ids, [1, 1, 2, 0], "x")]
        )
    with pytest.raises(ValueError, match="share no test video"):
        fuse_video_scores([IMAGE, scores([[1, 0, 0]], ["other"], [0], "x")])
    with pytest.raises(ValueError, match="one non-negative number per stream"):
        fuse_video_scores([IMAGE, FLOW], [1.0, -1.0])


def test_two_stream_script_reports_each_stream_and_the_fusion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image, flow_ = (
        save_video_scores(tmp_path / "i.pt", IMAGE),
        save_video_scores(tmp_path / "f.pt", FLOW),
    )
    out = tmp_path / "report" / "two_stream.md"
    cli = load_script("two_stream")
    assert (
        cli.main(
            ["--image", str(image), "--flow", str(flow_), "--weights", "1", "1", "--out", str(out)]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "fused: video Hit@1 1.000" in printed and "image: video Hit@1 0.750" in printed
    text = out.read_text()
    assert (
        "| fused | 100.0 | 100.0 |" in text and "| down | motion | 50.0 | 100.0 | 100.0 |" in text
    )
    assert "on the 4 test videos both streams scored (image run: 4, flow run: 5)" in text
    fused = load_video_scores(tmp_path / "report" / "two_stream_video_scores.pt")
    assert fused.video_ids == ["v0", "v1", "v2", "v3"] and fused.class_groups["up"] == "motion"
    assert json.loads(out.with_suffix(".json").read_text())["fused"]["hit1"] == 1.0
    with pytest.raises(SystemExit) as stop:
        cli.main(["--image", str(tmp_path / "absent.pt"), "--flow", str(flow_), "--out", str(out)])
    assert stop.value.code == 2 and "absent.pt" in capsys.readouterr().err


def test_flow_report_states_findings_only_where_they_hold_at_every_seed(tmp_path: Path) -> None:
    """The Table 4 analogue from a manifest of finished runs (``--skip-train``): at both seeds
    the flow stream wins on the motion classes and the fusion beats the frames."""
    from deepvideo.reports.flow import FlowReportOptions, run_flow_report

    manifest: dict[str, dict[str, dict[str, dict[str, str]]]] = {"seeds": {}}
    for seed in (0, 1):
        entries = manifest["seeds"].setdefault(str(seed), {})
        for stream, source in (("image", IMAGE), ("flow", FLOW)):
            run_dir = tmp_path / f"seed{seed}" / f"conv_pooling_{stream}"
            (run_dir / "csv" / "version_0").mkdir(parents=True)
            (run_dir / "metrics.json").write_text(json.dumps({"test/video_hit@1": 0.5}))
            (run_dir / ".hydra").mkdir()
            (run_dir / ".hydra" / "config.yaml").write_text(
                "seed: 0\ndata:\n  root: ${paths.data_dir}/synthetic/x\n  train_clips_per_video: 2\n"
            )
            jitter = scores(
                (source.scores + 0.01 * seed * torch.rand_like(source.scores)).tolist(),
                source.video_ids,
                source.targets.argmax(1).tolist(),
                stream,
            )
            save_video_scores(run_dir / "video_scores.pt", jitter)
            (run_dir / "csv" / "version_0" / "metrics.csv").write_text(
                "epoch,val/video_hit@1\n0,0.25\n1,0.5\n"
            )
            entries[f"conv_pooling_{stream}"] = {"run_dir": str(run_dir), "wall_s": "60"}
    out = tmp_path / "flow.md"
    out.with_suffix(".json").write_text(json.dumps({**manifest, "flow_root": "data/x_flow"}))
    opts = FlowReportOptions(
        out=out, log_dir=tmp_path, flow_root=tmp_path, models=["conv_pooling"], skip_train=True
    )
    text = run_flow_report(opts).read_text()
    rows = [line for line in text.splitlines() if line.startswith("| Conv Pooling, 4 frames")]
    assert [r.split(" | ")[1] for r in rows] == [
        "on raw frames",
        "on optical flow",
        "raw frames + optical flow (fused)",
    ]
    assert "| on optical flow | 75.0 ± 0.0 (75.0, 75.0) |" in rows[1]
    motion = next(line for line in text.splitlines() if "Hit@1 on the motion classes" in line)
    assert "+50.0 ± 0.0 points" in motion and "**holds**" in motion
    fused = next(line for line in text.splitlines() if "fused minus frames" in line)
    assert "+25.0" in fused and "**holds**" in fused
    assert "LSTM on Raw Frames + LSTM on Optical Flow | 73.1 | 90.5" in text  # the paper's
    # the header names the command that rebuilds this very file
    assert (
        f"`python scripts/report_flow.py --flow-root data/x_flow --skip-train --out {out}`" in text
    )
    # the recipe as the runs' configs say it, not as the report's code assumes
    assert "of the recipe of `${paths.data_dir}/synthetic/x`, 2 random clips" in text
