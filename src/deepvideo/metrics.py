"""Clip- and video-level Hit@k (Karpathy et al. 2014, Sec. 4.1), multi-label aware.

A prediction *hits* at k when any ground-truth label of the sample is among its k highest scores,
so a video tagged with two sports counts right when either is predicted. Clip Hit@1 scores each
clip on its own; video Hit@k first averages the clip class probabilities of a video.

:class:`VideoLevelMetrics` is a torchmetrics ``Metric``: it keeps per-video running sums (compacted
as it goes, so memory grows with videos, not clips) and gathers them across DDP processes, merging
them by video, so a distributed evaluation scores each video once with all of its clips.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


def hits_at_k(scores: torch.Tensor, targets: torch.Tensor, k: int) -> torch.Tensor:
    """Bool ``(N,)``: whether any positive of ``targets`` (multi-hot) is in the top ``k`` of ``scores``."""
    k = min(k, scores.shape[-1])
    top = scores.topk(k, dim=-1).indices
    return targets.gather(-1, top).amax(dim=-1) > 0


def video_hit_at_k(
    clip_scores: torch.Tensor, targets: torch.Tensor, video_index: torch.Tensor, k: int
) -> float:
    """Video Hit@k from per-clip scores: average the clips of each video, then :func:`hits_at_k`."""
    ids, inverse = video_index.unique(return_inverse=True)
    sums = torch.zeros(len(ids), clip_scores.shape[-1]).index_add_(0, inverse, clip_scores.float())
    video_targets = torch.zeros(len(ids), targets.shape[-1]).index_add_(0, inverse, targets.float())
    return hits_at_k(sums, video_targets.clamp(max=1.0), k).float().mean().item()


class VideoLevelMetrics(Metric):
    """Clip Hit@1 and video Hit@k over (possibly distributed) evaluation of clip probabilities.

    Under DDP each process holds per-video sums of the clips it scored; :meth:`compute` and
    :meth:`video_scores` gather them from every process and merge them by video, so a video is
    counted once with all of its clips wherever they were scored. Exactness then needs the clips
    themselves to be scored once: Lightning's ``DistributedSampler`` pads the ranks with
    duplicate items, :class:`deepvideo.data.distributed.VideoShardSampler` (what the DataModules
    use) gives every process whole videos and pads nothing.

    The list states are flat float tensors, so a process that scored nothing (more processes
    than videos) gathers the same shape and dtype as the others; video indices are stored as
    float32, exact below 2**24 (16.7 M videos; Sports-1M has 1.1 M).
    """

    full_state_update = False
    clip_hits: torch.Tensor
    clips: torch.Tensor
    skipped_clips: torch.Tensor
    video_ids: list[torch.Tensor]
    score_sums: list[torch.Tensor]
    clip_counts: list[torch.Tensor]
    targets: list[torch.Tensor]
    skipped_ids: list[torch.Tensor]

    MAX_VIDEO_INDEX = 2**24

    def __init__(self, top_k: Sequence[int] = (1, 5), compact_every: int = 64) -> None:
        super().__init__()
        self.top_k = tuple(top_k)
        self.compact_every = compact_every
        self.add_state("clip_hits", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("clips", default=torch.tensor(0.0), dist_reduce_fx="sum")
        # clips whose video failed to decode (``valid`` False), and the videos they belong to
        self.add_state("skipped_clips", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("video_ids", default=[], dist_reduce_fx="cat")
        self.add_state("score_sums", default=[], dist_reduce_fx="cat")
        self.add_state("clip_counts", default=[], dist_reduce_fx="cat")
        self.add_state("targets", default=[], dist_reduce_fx="cat")
        self.add_state("skipped_ids", default=[], dist_reduce_fx="cat")

    def update(
        self,
        probs: torch.Tensor,
        targets: torch.Tensor,
        video_index: torch.Tensor,
        valid: torch.Tensor | None = None,
    ) -> None:
        """``probs``: ``(N, C)`` class probabilities of N clips; ``targets``: multi-hot ``(N, C)``."""
        if video_index.numel() and int(video_index.max()) >= self.MAX_VIDEO_INDEX:
            raise ValueError(
                f"video_index {int(video_index.max())} is beyond {self.MAX_VIDEO_INDEX}, the "
                "largest index VideoLevelMetrics stores exactly (float32)"
            )
        if valid is not None:
            keep = valid.bool()
            if not bool(keep.all()):
                self.skipped_clips += (~keep).sum()
                self.skipped_ids.append(video_index[~keep].detach().float())
            probs, targets, video_index = probs[keep], targets[keep], video_index[keep]
        if probs.numel() == 0:
            return
        probs = probs.detach().float()
        self.clip_hits += hits_at_k(probs, targets, 1).sum()
        self.clips += probs.shape[0]
        self.video_ids.append(video_index.detach().float())
        self.score_sums.append(probs.flatten())
        self.clip_counts.append(torch.ones_like(video_index, dtype=torch.float))
        self.targets.append(targets.detach().float().flatten())
        if len(self.video_ids) >= self.compact_every:
            self._compact()

    @staticmethod
    def _cat(x: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        # list states become one tensor once gathered across processes
        if isinstance(x, list):
            return torch.cat(x) if x else torch.zeros(0)
        return x

    def _compact(self) -> None:
        ids, sums, counts, targets = self._grouped()
        self.video_ids, self.score_sums = [ids.float()], [sums.flatten()]
        self.clip_counts, self.targets = [counts], [targets.flatten()]

    def _grouped(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-video ``(ids, score sums (V, C), clip counts, multi-hot targets (V, C))``."""
        ids = self._cat(self.video_ids)
        flat_sums, flat_targets = self._cat(self.score_sums), self._cat(self.targets)
        counts = self._cat(self.clip_counts)
        if ids.numel() == 0:
            empty = torch.zeros(0, device=ids.device)
            return empty.long(), empty.reshape(0, 0), empty, empty.reshape(0, 0)
        c = flat_sums.numel() // ids.numel()
        sums, targets = flat_sums.view(-1, c), flat_targets.view(-1, c)
        unique, inverse = ids.long().unique(return_inverse=True)
        n = len(unique)
        grouped_sums = torch.zeros(n, c, device=sums.device).index_add_(0, inverse, sums)
        grouped_counts = torch.zeros(n, device=sums.device).index_add_(0, inverse, counts)
        # multi-hot targets: a sum clamped at 1 is their union
        grouped_targets = torch.zeros(n, c, device=sums.device).index_add_(0, inverse, targets)
        grouped_targets.clamp_(max=1.0)
        return unique, grouped_sums, grouped_counts, grouped_targets

    def _local_video_scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids, sums, counts, targets = self._grouped()
        return ids, sums / counts.clamp_min(1)[:, None], targets

    def video_scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(video_ids, mean clip probabilities (V, C), multi-hot targets (V, C))`` of every
        video scored, gathered from every process under DDP (every process must call it)."""
        with self.sync_context(should_sync=self._to_sync):
            return self._local_video_scores()

    def compute(self) -> dict[str, torch.Tensor]:
        """Clip Hit@1, video Hit@k, and the counts: ``videos`` and ``clips`` scored,
        ``skipped_clips`` (undecodable) and ``skipped_videos`` (no clip of them decoded)."""
        ids, scores, targets = self._local_video_scores()
        out = {"clip_hit@1": self.clip_hits / self.clips.clamp_min(1)}
        for k in self.top_k:
            hit = hits_at_k(scores, targets, k).float().mean() if len(ids) else torch.tensor(0.0)
            out[f"video_hit@{k}"] = hit
        out["videos"] = torch.tensor(float(len(ids)))
        out["clips"] = self.clips.clone()
        out["skipped_clips"] = self.skipped_clips.clone()
        skipped = self._cat(self.skipped_ids).long().unique()
        out["skipped_videos"] = torch.tensor(float(len(set(skipped.tolist()) - set(ids.tolist()))))
        return out


class SkippedVideos(Metric):
    """How many distinct videos (by their index in the split) failed to decode, gathered across
    DDP processes; it keeps counting until :meth:`reset` (a run's training count covers every
    epoch, since each epoch meets the same broken files again)."""

    full_state_update = False
    indices: list[torch.Tensor]

    def __init__(self) -> None:
        super().__init__()
        self.add_state("indices", default=[], dist_reduce_fx="cat")

    def update(self, video_index: torch.Tensor) -> None:
        """``video_index``: ``(N,)`` indices of videos that failed (repeats allowed; an empty
        tensor at the start of every epoch keeps every DDP process's state non-empty, so that
        all of them take part in the gather)."""
        self.indices.append(video_index.detach().long().unique())
        if len(self.indices) > 64:
            self.indices = [torch.cat(self.indices).unique()]

    def compute(self) -> torch.Tensor:
        if isinstance(self.indices, list) and not self.indices:
            return torch.tensor(0.0)
        return torch.tensor(float(dim_zero_cat(self.indices).unique().numel()))
