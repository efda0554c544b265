"""Clip sampling rules and the paper's preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deepvideo.data.sampling import ClipSpec, eval_clips, fps_frames, random_clip
from deepvideo.data.transforms import ClipTransform, SquareResize


def test_random_clip_stays_inside_and_keeps_spacing() -> None:
    rng = np.random.default_rng(0)
    spec = ClipSpec(num_frames=2, frame_stride=15)  # Late Fusion
    for _ in range(200):
        a, b = random_clip(40, spec, rng)
        assert b - a == 15 and a >= 0 and b < 40
    starts = {random_clip(40, spec, rng)[0] for _ in range(500)}
    assert starts == set(range(40 - 15))


def test_short_video_repeats_last_frame() -> None:
    clip = random_clip(4, ClipSpec(num_frames=10, pad="last"), np.random.default_rng(0))
    assert clip == [0, 1, 2, 3, 3, 3, 3, 3, 3, 3]


def test_target_fps_resamples_the_stride_in_time() -> None:
    # a 30 fps file read at 10 fps: consecutive clip frames are 3 native frames apart
    clip = random_clip(300, ClipSpec(num_frames=5, target_fps=10), np.random.default_rng(1), 30.0)
    assert np.all(np.diff(clip) == 3)


def test_eval_clips_are_seeded_and_uniform_mode_spans_the_video() -> None:
    spec = ClipSpec(num_frames=10)
    a = eval_clips(100, spec, 20, np.random.default_rng(7))
    b = eval_clips(100, spec, 20, np.random.default_rng(7))
    assert a == b and len(a) == 20 and all(len(c) == 10 for c in a)
    uniform = eval_clips(100, spec, 5, np.random.default_rng(0), mode="uniform")
    assert uniform[0][0] == 0 and uniform[-1][-1] == 99


def test_fps_frames_one_per_second_and_repeat_for_short_videos() -> None:
    long = fps_frames(num_frames=30 * 600, native_fps=30.0)
    assert len(long) == 300 and long[:3] == [0, 30, 60] and long[-1] == 299 * 30
    short = fps_frames(num_frames=30 * 100 + 1, native_fps=30.0)  # 101 s -> 101 frames, repeated
    assert len(short) == 300 and short[101] == 0 and short[100] == 3000
    assert len(fps_frames(30 * 100 + 1, 30.0, repeat=False)) == 101


def test_clip_spec_rejects_impossible_values() -> None:
    with pytest.raises(ValueError, match="num_frames"):
        ClipSpec(num_frames=0)
    with pytest.raises(ValueError, match="crop_size 80 is larger than resize 72"):
        ClipTransform(resize=72, crop=80)


def gradient_clip(t: int = 4, h: int = 60, w: int = 80) -> torch.Tensor:
    """Frames whose pixel value encodes the column, plus a per-frame offset."""
    cols = torch.arange(w).float().mul(2).clamp(max=250)
    frames = cols.view(1, 1, w, 1).expand(t, h, w, 3).clone()
    frames += torch.arange(t).view(t, 1, 1, 1)
    return frames.to(torch.uint8)


def test_train_transform_crops_all_frames_alike_and_subtracts_mean() -> None:
    transform = ClipTransform(resize=60, crop=50, mean=117.0)
    frames = gradient_clip()
    rng = np.random.default_rng(3)
    out = transform.train(frames, rng)
    assert out.shape == (3, 4, 50, 50) and out.dtype == torch.float32
    # every frame got the same crop and flip: frame t = frame 0 + t
    for t in range(4):
        assert torch.allclose(out[:, t], out[:, 0] + t)
    assert out.min() < 0  # mean subtracted


def test_eval_views_center_and_mirror() -> None:
    transform = ClipTransform(resize=60, crop=50)
    views = transform.views(gradient_clip(), 4, np.random.default_rng(0))
    assert views.shape == (4, 3, 4, 50, 50)
    assert torch.equal(views[1], views[0].flip(-1))
    square = SquareResize(60)({"video": gradient_clip()}, np.random.default_rng(0))["video"]
    center = square[:, :, 5:55, 5:55].permute(1, 0, 2, 3).float() - 117
    assert torch.allclose(views[0], center)


def test_loop_pad_repeats_the_video_from_its_start() -> None:
    # the papers' rule (Ng et al. 2015, Sec. 4.1) and the default, for every model
    for spec in (ClipSpec(num_frames=10, pad="loop"), ClipSpec(num_frames=10)):
        assert random_clip(4, spec, np.random.default_rng(0)) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    (clip,) = eval_clips(2, ClipSpec(num_frames=10), 1, np.random.default_rng(0))
    assert clip == [0, 1] * 5  # a 2-frame video is padded, not dropped


def test_ng_sequences_at_one_fps_with_random_starts() -> None:
    # Ng et al. 2015: 1 fps, random start; a 100 s video at 25 fps, sequences of 30 frames
    spec = ClipSpec(num_frames=30, target_fps=1.0)
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(50):
        clip = random_clip(2500, spec, rng, native_fps=25.0)
        assert len(clip) == 30 and np.all(np.diff(clip) == 25)
        starts.add(clip[0])
    assert len(starts) > 10


def test_whole_video_mode_is_the_1fps_sequence() -> None:
    spec = ClipSpec(num_frames=300, target_fps=1.0)
    (sequence,) = eval_clips(30 * 50, spec, 1, np.random.default_rng(0), 30.0, mode="whole")
    assert sequence == fps_frames(30 * 50, 30.0, 1.0, 300)
    assert len(sequence) == 300 and sequence[50] == 0  # 50 s video, looped


def test_several_training_examples_per_video(tmp_path: Path) -> None:
    from deepvideo.data.datasets import ClipDataset, VideoItem

    items = [VideoItem(tmp_path / f"{i}.mp4", (0,), str(i)) for i in range(3)]
    data = ClipDataset(
        items, 2, ClipSpec(), ClipTransform(72, 64), train=True, train_clips_per_video=4
    )
    assert len(data) == 12


def test_eval_clips_of_a_video_are_distinct_while_it_has_room() -> None:
    spec = ClipSpec(num_frames=10)
    for seed in range(20):
        starts = [c[0] for c in eval_clips(40, spec, 20, np.random.default_rng(seed))]
        assert len(set(starts)) == 20  # 31 start positions: no repeat
    # 5 positions for 8 clips: every position once, then repeats
    starts = [c[0] for c in eval_clips(14, spec, 8, np.random.default_rng(0))]
    assert set(starts[:5]) == {0, 1, 2, 3, 4} and len(starts) == 8


def test_max_seconds_keeps_the_first_minutes_only() -> None:
    # Ng et al. 2015, Sec. 4.1: the first 5 minutes of a 20-minute video at 25 fps
    spec = ClipSpec(num_frames=30, target_fps=1.0, max_seconds=300)
    rng = np.random.default_rng(0)
    for _ in range(200):
        clip = random_clip(25 * 1200, spec, rng, native_fps=25.0)
        assert clip[-1] < 25 * 300
    (whole,) = eval_clips(25 * 1200, ClipSpec(300, 1, 1.0, "loop", 300), 1, rng, 25.0, "whole")
    assert len(whole) == 300 and max(whole) < 25 * 300
    # a 100 s video under the cap is looped to fill the sequence, as without it
    short = eval_clips(2500, ClipSpec(300, 1, 1.0, "loop", 300), 1, rng, 25.0, "whole")[0]
    assert short[100] == 0
    with pytest.raises(ValueError, match="max_seconds"):
        ClipSpec(max_seconds=0)


def test_eval_clips_decode_each_video_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """All clips and views of a video come from one open and one sorted read."""
    from deepvideo.data import datasets
    from deepvideo.data.datasets import ClipDataset, VideoItem
    from deepvideo.synthetic import SyntheticConfig, generate

    root = tmp_path / "syn"
    generate(root, SyntheticConfig(train_per_class=1, test_per_class=1, max_seconds=3.0))
    videos = sorted((root / "videos").glob("*.mp4"))[:3]
    items = [VideoItem(p, (0,), p.stem) for p in videos]
    opened: list[str] = []
    reads: list[list[int]] = []

    class Counting(datasets.EncodedVideo):
        def __init__(self, path, *a, **k):
            opened.append(str(path))
            super().__init__(path, *a, **k)

        def get_frames(self, indices):
            reads.append(list(indices))
            return super().get_frames(indices)

    monkeypatch.setattr(datasets, "EncodedVideo", Counting)

    def dataset() -> ClipDataset:
        spec, transform = ClipSpec(num_frames=4), ClipTransform(72, 64)
        return ClipDataset(items, 2, spec, transform, train=False, clips_per_video=5, views=2)

    first = dataset()
    samples = [first[i] for i in range(15)]
    assert len(opened) == 3 and len(reads) == 3
    assert all(r == sorted(set(r)) for r in reads)
    assert [s["video_index"] for s in samples] == [i // 5 for i in range(15)]
    again = dataset()
    assert all(torch.equal(again[i]["video"], samples[i]["video"]) for i in (0, 7, 14))
    # the clips are those of the per-clip path: open the video anew for each clip, decode only
    # that clip's frames, crop its views with the clip's own seed
    clips = again.eval_clips
    for i in (0, 3, 7, 14):
        video_index, clip_index = divmod(i, 5)
        item = items[video_index]
        positions = clips.decode(datasets.EncodedVideo(item.path), item.video_id).positions
        alone = datasets.EncodedVideo(item.path).get_frames(positions[clip_index])
        rng = np.random.default_rng([*datasets.video_entropy(0, item.video_id), clip_index])
        assert torch.equal(clips.pipeline({"video": alone}, rng)["video"], samples[i]["video"])
