"""Decoder backends behind one EncodedVideo, and training clips of a video read together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deepvideo.data import datasets
from deepvideo.data.datasets import (
    ClipDataset,
    ReadBatches,
    VideoClipsBatchSampler,
    VideoItem,
    deal_read_batch,
)
from deepvideo.data.sampling import ClipSpec
from deepvideo.data.transforms import ClipTransform
from deepvideo.data.video import EncodedVideo, VideoDecodeError


def _torchcodec_works(path: Path) -> bool:
    try:
        EncodedVideo(path, backend="torchcodec").get_frames([0])
    except VideoDecodeError:
        return False
    return True


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """H.264 (sports1m layout, a keyframe a second, B-frames) and XVID AVI (ucf101 layout)."""
    from deepvideo.synthetic import SyntheticConfig, generate

    root = tmp_path_factory.mktemp("backends")
    generate(root / "mp4", SyntheticConfig(train_per_class=1, test_per_class=1), progress=False)
    ucf = SyntheticConfig(layout="ucf101", ucf_groups=6, max_seconds=3.0)
    generate(root / "avi", ucf, progress=False)
    mp4 = sorted((root / "mp4" / "videos").glob("*.mp4"))[:4]
    return mp4 + sorted((root / "avi").rglob("*.avi"))[:2]


def backends(path: Path) -> list[str]:
    return ["pyav", "torchcodec"] if _torchcodec_works(path) else ["pyav"]


def test_backends_count_the_same_frames_and_return_identical_pixels(videos: list[Path]) -> None:
    """Measured: decord, PyAV (and torchcodec where the system has FFmpeg) give bit-identical
    RGB frames on our H.264/MP4 and XVID/AVI files, so the check is exact."""
    rng = np.random.default_rng(0)
    for path in videos:
        reference = EncodedVideo(path)
        for backend in backends(path):
            video = EncodedVideo(path, backend=backend)
            assert video.num_frames == reference.num_frames
            assert video.fps == pytest.approx(reference.fps, rel=1e-9)
            for _ in range(6):  # unsorted, repeated, past the end (clamped)
                size = int(rng.integers(1, 16))
                indices = rng.integers(0, reference.num_frames + 3, size=size).tolist()
                got, want = video.get_frames(indices), reference.get_frames(indices)
                assert (
                    got.shape == want.shape == (size, *want.shape[1:]) and got.dtype == torch.uint8
                )
                assert torch.equal(got, want), (path.name, backend, indices)
            every = list(range(reference.num_frames))[::-1]
            assert torch.equal(video.get_frames(every), reference.get_frames(every))


def test_pyav_reads_one_gop_with_one_seek_and_skips_far_gops(
    videos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import av

    path = videos[0]  # 15 fps, a keyframe every 15 frames
    video = EncodedVideo(path, backend="pyav")
    seeks: list[int] = []
    seek = av.container.InputContainer.seek

    def counting(self, offset, *args, **kwargs):
        seeks.append(offset)
        return seek(self, offset, *args, **kwargs)

    monkeypatch.setattr(av.container.InputContainer, "seek", counting)
    video.get_frames([9, 2, 5])
    assert len(seeks) == 1  # one forward pass from the first keyframe
    seeks.clear()
    video.get_frames([2, 33])  # frames in GOPs 0 and 2: seek again rather than decode GOP 1
    assert len(seeks) == 2
    seeks.clear()
    video.get_frames([14, 16])  # the next keyframe follows the last frame read: decode on
    assert len(seeks) == 1


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_broken_files_raise_decode_errors_naming_the_file(tmp_path: Path, backend: str) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    for path, reason in [
        (tmp_path / "missing.mp4", "no such file"),
        (empty, "empty"),
        (garbage, "cannot decode"),
    ]:
        with pytest.raises(VideoDecodeError, match=reason) as info:
            EncodedVideo(path, backend=backend)
        assert info.value.path == str(path) and str(path) in str(info.value)
    with pytest.raises(ValueError, match="data.decoder"):
        EncodedVideo(tmp_path / "missing.mp4", backend="opencv")


def test_short_side_scales_while_decoding(videos: list[Path]) -> None:
    for backend in ["decord", *backends(videos[0])]:
        frames = EncodedVideo(videos[0], short_side=48, backend=backend).get_frames([0, 3])
        assert frames.shape == (2, 48, 64, 3)


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_clips_of_a_video_read_together_equal_the_clips_read_alone(
    videos: list[Path], monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """A batch with several clips of a video opens it once and decodes once; each sample is the
    one the item gives alone (same start, crop and flip)."""
    items = [VideoItem(p, (i % 2,), p.stem) for i, p in enumerate(videos[:3])]
    data = ClipDataset(
        items,
        2,
        ClipSpec(num_frames=4),
        ClipTransform(72, 64),
        train=True,
        train_clips_per_video=4,
        decoder=backend,
    )
    batch = [0, 3, 6, 9, 1, 4, 11]  # four clips of video 0, two of video 1, one of video 2
    alone = [data[i] for i in batch]
    opened: list[str] = []
    reads: list[list[int]] = []

    class Counting(datasets.EncodedVideo):
        def __init__(self, path, *a, **k):
            opened.append(Path(path).name)
            super().__init__(path, *a, **k)

        def get_frames(self, indices):
            reads.append(list(indices))
            return super().get_frames(indices)

    monkeypatch.setattr(datasets, "EncodedVideo", Counting)
    together = data.__getitems__(batch)
    assert len(opened) == len(reads) == 3
    assert all(r == sorted(set(r)) for r in reads[:2])
    for a, b in zip(alone, together, strict=True):
        keys = {"video", "label", "video_index", "clip_index", "valid", "failures"}
        assert a.keys() == b.keys() == keys
        assert torch.equal(a["video"], b["video"]) and torch.equal(a["label"], b["label"])
        assert a["video_index"] == b["video_index"] and b["valid"] is True


def test_a_broken_video_in_a_batch_is_replaced_clip_by_clip(
    videos: list[Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0" * 1000)
    items = [VideoItem(broken, (0,), "broken"), VideoItem(videos[0], (1,), "good")]
    data = ClipDataset(
        items, 2, ClipSpec(), ClipTransform(72, 64), train=True, train_clips_per_video=3
    )
    samples = data.__getitems__([0, 2, 4])
    assert [s["video_index"] for s in samples] == [1, 1, 1]
    assert all(s["valid"] for s in samples)


def test_read_batches_hold_whole_videos_and_deal_one_clip_per_video() -> None:
    sampler = VideoClipsBatchSampler(num_videos=5, clips_per_video=4, videos_per_batch=2)
    reads = list(sampler)
    assert len(reads) == len(sampler) == 3 and [len(r) for r in reads] == [8, 8, 4]
    keyed = VideoClipsBatchSampler(5, 4, 2, seed=3, epoch=2)
    assert {e for r in keyed for e, _ in r} == {2}  # (epoch, index) keys with a seed
    assert sorted(i for r in reads for i in r) == list(range(20))  # every clip of the epoch once
    for read in reads:  # video-major: the 4 clips of each video in a row
        for v in range(0, len(read), 4):
            assert {i % 5 for i in read[v : v + 4]} == {read[v] % 5}
    first = list(VideoClipsBatchSampler(5, 4, 2, generator=torch.Generator().manual_seed(1)))
    again = list(VideoClipsBatchSampler(5, 4, 2, generator=torch.Generator().manual_seed(1)))
    assert first == again

    # dealing a read batch: batch j holds clip j of every video of the read
    read = {"video_index": torch.tensor([7, 7, 7, 3, 3, 3]), "clip": torch.arange(6)}
    dealt = deal_read_batch(read, 3)
    assert [b["video_index"].tolist() for b in dealt] == [[7, 3]] * 3
    assert [b["clip"].tolist() for b in dealt] == [[0, 3], [1, 4], [2, 5]]
    with pytest.raises(ValueError, match="not a multiple"):
        deal_read_batch(read, 4)

    class Loader:  # a DataLoader's interface, as ReadBatches uses it
        batch_sampler = sampler

        def __iter__(self):
            for r in reads:
                yield {"label": torch.zeros(len(r), 2), "video_index": torch.tensor(r) % 5}

    batches = list(ReadBatches(Loader(), 4))
    assert len(batches) == len(ReadBatches(Loader(), 4)) == 12
    assert [len(b["label"]) for b in batches] == [2] * 8 + [1] * 4
    assert all(len(set(b["video_index"].tolist())) == len(b["label"]) for b in batches)
    kept = list(ReadBatches(Loader(), 4, drop_last=True))
    assert len(kept) == len(ReadBatches(Loader(), 4, drop_last=True)) == 8


@pytest.mark.parametrize("together", [False, True])
def test_every_epoch_draws_new_clips_whatever_the_workers(
    videos: list[Path], together: bool
) -> None:
    """Each epoch's clips (start, crop, flip) come from (seed, epoch, item): new clips every
    epoch, the same run with 0 or 2 DataLoader workers."""
    import hashlib

    from deepvideo.data.datamodule import collate_samples, training_loader

    items = [VideoItem(p, (i % 2,), p.stem) for i, p in enumerate(videos[:4])]
    data = ClipDataset(
        items,
        2,
        ClipSpec(num_frames=2),
        ClipTransform(72, 64),
        train=True,
        train_clips_per_video=2,
    )

    def epochs(workers: int) -> list[list[tuple[int, str]]]:
        loader = training_loader(
            data,
            4,
            together,
            False,
            seed=0,
            num_workers=workers,
            collate_fn=collate_samples,
            persistent_workers=workers > 0,
        )
        order = loader.batch_sampler if together else loader.sampler
        out = []
        for epoch in range(3):
            order.set_epoch(epoch)  # as Lightning does at the start of every epoch
            out.append(
                sorted(
                    (int(v), hashlib.sha1(x.numpy().tobytes()).hexdigest())
                    for b in loader
                    for v, x in zip(b["video_index"], b["video"], strict=True)
                )
            )
        return out

    alone = epochs(0)
    assert epochs(2) == alone  # independent of the number of workers, and reproducible
    clips = {h for epoch in alone for _, h in epoch}
    assert len(clips) == 3 * 8  # 3 epochs x 8 draws: every one a new clip


def test_data_decoder_and_clips_together_reach_the_loaders(tmp_path: Path) -> None:
    from deepvideo.data import build_datamodule

    data = {
        "_target_": "deepvideo.data.SyntheticDataModule",
        "root": str(tmp_path / "syn"),
        "num_classes": 12,
        "generator": {"train_per_class": 2, "test_per_class": 1, "max_seconds": 3.0},
        "clip": {"num_frames": 2, "frame_stride": 1},
        "sizes": {"resize": 72, "crop": 64},
        "train_clips_per_video": 4,
        "train_clips_together": True,
        "decoder": "pyav",
        "batch_size": 8,
        "num_workers": 0,
    }
    datamodule = build_datamodule(data, stage="fit")
    loader = datamodule.train_dataloader()
    assert isinstance(loader, ReadBatches)
    assert isinstance(loader.loader.batch_sampler, VideoClipsBatchSampler)
    assert loader.loader.dataset.decoder == "pyav"
    batches = list(loader)
    # read batches of 8 videos x 4 clips, each dealt into 4 batches of 8 (the short last one
    # dropped: drop_last)
    videos = len(loader.loader.dataset.videos)
    assert len(batches) == len(loader) == 4 * (videos // 8) > 0
    assert all(b["video"].shape == (8, 3, 2, 64, 64) for b in batches)
    assert all(len(set(b["video_index"].tolist())) == 8 for b in batches)
    seen = torch.cat([b["video_index"] for b in batches]).bincount(minlength=videos)
    assert sorted(seen.tolist()) == [0] * (videos % 8) + [4] * (videos - videos % 8)
    assert datamodule.eval_clips("test").decoder == "pyav"
    assert datamodule.val_dataloader().dataset.eval_clips.decoder == "pyav"
    with pytest.raises(Exception, match="set data.decoder to one of"):  # through Hydra
        build_datamodule({**data, "decoder": "ffmpeg-cli"}, prepare=False, check=False)
