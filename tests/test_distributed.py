"""Exact video-level evaluation under DDP: whole videos per process, no padded duplicates, the
metric gathered once; a 2-process evaluation of a checkpoint equals the 1-process one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, cast

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DistributedSampler

from conftest import compose_config, tiny_overrides
from deepvideo.data.distributed import VideoShardSampler, shard_bounds
from deepvideo.evaluation import evaluate
from deepvideo.metrics import VideoLevelMetrics
from deepvideo.scores import load_video_scores
from deepvideo.training import train
from test_train import run_cli


@settings(max_examples=200, deadline=None)
@given(videos=st.integers(0, 60), clips=st.integers(1, 7), world=st.integers(1, 9), data=st.data())
def test_every_clip_is_sampled_once_with_its_video_on_one_process(
    videos: int, clips: int, world: int, data: st.DataObject
) -> None:
    dataset = range(videos * clips)
    shards = [list(VideoShardSampler(dataset, clips, world, rank)) for rank in range(world)]
    flat = [i for shard in shards for i in shard]
    assert sorted(flat) == list(range(videos * clips))  # once each: no padding, no holes
    owners: dict[int, set[int]] = {}
    for rank, shard in enumerate(shards):
        assert len(VideoShardSampler(dataset, clips, world, rank)) == len(shard)
        for item in shard:
            owners.setdefault(item // clips, set()).add(rank)
    assert all(len(ranks) == 1 for ranks in owners.values())  # a video on one process
    sizes = [len(shard) // clips for shard in shards]
    assert max(sizes) - min(sizes) <= 1
    rank = data.draw(st.integers(0, world - 1))
    start, stop = shard_bounds(videos, world, rank)
    assert shards[rank] == list(range(start * clips, stop * clips))  # in order: one decode


def test_lightning_keeps_the_shard_sampler_and_would_pad_otherwise() -> None:
    """What the sampler replaces: Lightning injects a DistributedSampler unless the loader has
    one; on 11 videos x 3 clips over 2 processes that one scores a padded clip twice."""
    sampler = VideoShardSampler(range(33), 3, 2, 1)
    assert isinstance(sampler, DistributedSampler)
    padded: list[list[int]] = [
        list(DistributedSampler(cast(Any, range(33)), 2, r, shuffle=False)) for r in range(2)
    ]
    assert sum(map(len, padded)) == 34 and len({i for s in padded for i in s}) == 33
    ours = [list(VideoShardSampler(range(33), 3, 2, r)) for r in range(2)]
    assert sum(map(len, ours)) == 33


def _gather_worker(rank: int, init: str, out: str) -> None:
    """One process of a 2-process gloo group: rank 0 scores videos 0-2 and one broken clip,
    rank 1 scores nothing at all."""
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    metric = VideoLevelMetrics(top_k=(1, 2), compact_every=1)
    if rank == 0:
        probs = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.1, 0.1, 0.8], [0.5, 0.5, 0.0]])
        targets = torch.eye(3)[[0, 0, 2, 1]]
        valid = torch.tensor([True, True, True, False])
        metric.update(probs[:2], targets[:2], torch.tensor([0, 0]))
        metric.update(probs[2:], targets[2:], torch.tensor([2, 7]), valid=valid[2:])
    values = {k: float(v) for k, v in metric.compute().items()}
    ids, scores, _ = metric.video_scores()
    torch.save({"values": values, "ids": ids, "scores": scores}, f"{out}.{rank}")
    dist.destroy_process_group()


def test_metric_gathers_across_processes_even_from_one_that_scored_nothing(
    tmp_path: Path,
) -> None:
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.start_processes(
        _gather_worker, args=(init, str(tmp_path / "out")), nprocs=2, start_method="fork"
    )
    results = [torch.load(tmp_path / f"out.{r}", weights_only=False) for r in range(2)]
    for result in results:  # both processes see the gathered result
        values = result["values"]
        assert values["videos"] == 2 and values["clips"] == 3
        assert values["clip_hit@1"] == pytest.approx(2 / 3)
        assert values["video_hit@1"] == 1.0  # video 0: mean [0.55, 0.45, 0]; video 2: class 2
        assert values["skipped_clips"] == 1 and values["skipped_videos"] == 1  # video 7
        assert result["ids"].tolist() == [0, 2]
        assert torch.allclose(result["scores"][0], torch.tensor([0.55, 0.45, 0.0]))


@pytest.fixture(scope="module")
def eleven_videos(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny set with 11 test videos: 11 x 3 clips do not split evenly over 2 processes."""
    root = tmp_path_factory.mktemp("eleven") / "tiny"
    (root / "original").mkdir(parents=True)
    for name in ("manifest.json", "labels.txt", "class_groups.tsv"):
        if (tiny_root / name).is_file():
            shutil.copy(tiny_root / name, root / name)
    shutil.copy(tiny_root / "original" / "train_partition.txt", root / "original")
    test = (tiny_root / "original" / "test_partition.txt").read_text().splitlines()
    (root / "original" / "test_partition.txt").write_text("\n".join(test[:11]) + "\n")
    (root / "videos").symlink_to(tiny_root / "videos")
    return root


def test_two_process_evaluation_equals_one_process(
    tiny_root: Path, eleven_videos: Path, tmp_path: Path
) -> None:
    """``src/eval.py ... trainer=ddp_cpu`` of a checkpoint: the same videos, clips, clip Hit@1,
    video Hit@k and per-video scores as one process, each video once with all of its clips."""
    overrides = [
        "model=single_frame",
        "debug=limit",
        "test=false",
        "data.num_workers=0",
        *tiny_overrides(tiny_root),
    ]
    train(compose_config("train", overrides, tmp_path / "run"))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    args = [
        f"ckpt_path={ckpt}",
        f"data.root={eleven_videos}",
        "data.test_clips.clips_per_video=3",
        "data.test_clips.views=2",
        "data.eval_batch_size=4",
        "data.num_workers=0",
        "trainer.precision=32-true",
    ]
    one = evaluate(compose_config("eval", args, tmp_path / "one"))
    result = run_cli("eval.py", [*args, "trainer=ddp_cpu", f"hydra.run.dir={tmp_path / 'two'}"])
    assert result.returncode == 0, result.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert one["test/videos"] == two["test/videos"] == 11
    assert one["test/clips"] == two["test/clips"] == 33  # Lightning's sampler: 34
    for key in ("test/clip_hit@1", "test/video_hit@1", "test/video_hit@5"):
        assert two[key] == pytest.approx(one[key], abs=1e-6), key
    a = load_video_scores(tmp_path / "one" / "video_scores.pt")
    b = load_video_scores(tmp_path / "two" / "video_scores.pt")
    assert a.video_ids == b.video_ids and len(b.video_ids) == 11
    assert torch.allclose(a.scores, b.scores, atol=1e-5)


def test_linear_lr_scaling_follows_the_global_batch() -> None:
    """Sec. 3.3's 32 per replica: 8 processes x 32 at the recipe's 32 -> 8 x the rate."""
    from types import SimpleNamespace

    from deepvideo.modules import VideoClassifier
    from deepvideo.modules.video_classifier import lr_scaling_factor

    assert lr_scaling_factor("linear", 8, 32, 32) == 8.0
    assert lr_scaling_factor("linear", 2, 16, 32, accumulate=4) == 4.0
    assert lr_scaling_factor("none", 8, 32, 32) == 1.0
    with pytest.raises(ValueError, match="linear"):
        lr_scaling_factor("sqrt", 8, 32, 32)
    from functools import partial

    net = torch.nn.Linear(4, 3)
    for rule, expected in (("linear", 4 * 0.01), ("none", 0.01)):
        module = VideoClassifier(
            net,
            partial(torch.optim.SGD, lr=0.01),
            lr_scaling=rule,
            batch_size=16,
            reference_batch=32,
        )
        module._trainer = SimpleNamespace(world_size=8, accumulate_grad_batches=1)  # type: ignore[assignment]
        optimizer = module.configure_optimizers()
        assert optimizer.param_groups[0]["lr"] == pytest.approx(expected)
