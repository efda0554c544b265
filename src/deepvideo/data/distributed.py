"""Exact distributed evaluation: every process scores whole videos, and nothing is scored twice.

Video-level prediction (Karpathy et al. 2014, Sec. 4.1: 20 clips x 4 views averaged per video)
needs every clip of a video exactly once. An evaluation :class:`~deepvideo.data.datasets.ClipDataset`
lists clip ``i % clips_per_video`` of video ``i // clips_per_video`` as item ``i``; Lightning's
default ``DistributedSampler`` would interleave those items across processes and pad the last
ones with duplicates so that every process gets as many, which counts a padded clip twice (and,
when a whole video's clips are padded, that video twice in clip Hit@1).

:class:`VideoShardSampler` is a ``DistributedSampler`` (so Lightning keeps it instead of injecting
its own, whatever ``trainer.use_distributed_sampler`` says) that gives process ``r`` of ``R`` the
contiguous videos ``[r V / R, (r + 1) V / R)`` with all their clips, in order, and pads nothing:
processes may run a batch more or less than each other, which evaluation allows (no gradient
sync; :class:`deepvideo.metrics.VideoLevelMetrics` gathers once, at the end of the epoch).
Consecutive clips of a video stay together, so a loader worker decodes each video once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch.distributed as dist
from torch.utils.data import DistributedSampler

__all__ = ["VideoShardSampler", "eval_sampler", "process_group_size", "shard_bounds"]


def shard_bounds(num_videos: int, world_size: int, rank: int) -> tuple[int, int]:
    """``[start, stop)`` of the videos of ``rank``: contiguous, sizes differing by at most one."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in a world of {world_size} processes")
    return rank * num_videos // world_size, (rank + 1) * num_videos // world_size


class VideoShardSampler(DistributedSampler):
    """The evaluation items of whole videos of one process, without padding or shuffling."""

    def __init__(self, dataset: Sized, clips_per_video: int, num_replicas: int, rank: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)  # type: ignore[arg-type]
        total = len(dataset)
        if clips_per_video < 1 or total % clips_per_video:
            raise ValueError(
                f"an evaluation dataset of {total} items is not whole videos of "
                f"{clips_per_video} clips"
            )
        self.clips_per_video = clips_per_video
        self.num_videos = total // clips_per_video
        self.first_video, self.stop_video = shard_bounds(self.num_videos, num_replicas, rank)
        self.num_samples = (self.stop_video - self.first_video) * clips_per_video
        self.total_size = total

    def __iter__(self) -> Iterator[int]:
        cpv = self.clips_per_video
        return iter(range(self.first_video * cpv, self.stop_video * cpv))

    def __len__(self) -> int:
        return self.num_samples


def process_group_size() -> tuple[int, int]:
    """``(world_size, rank)`` of the initialised process group, ``(1, 0)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def eval_sampler(dataset: Sized, clips_per_video: int) -> VideoShardSampler | None:
    """This process's :class:`VideoShardSampler` under DDP, ``None`` (in order) on one process."""
    world_size, rank = process_group_size()
    if world_size == 1:
        return None
    return VideoShardSampler(dataset, clips_per_video, world_size, rank)
