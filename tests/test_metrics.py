"""Hit@k with multiple labels, and video-level aggregation."""

from __future__ import annotations

import torch

from deepvideo.metrics import VideoLevelMetrics, hits_at_k, video_hit_at_k


def test_hit_counts_any_ground_truth_label() -> None:
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    targets = torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    assert hits_at_k(scores, targets, 1).tolist() == [True, False]
    assert hits_at_k(scores, targets, 2).tolist() == [True, False]
    assert hits_at_k(scores, targets, 3).tolist() == [True, True]


def test_video_level_averages_clips_before_ranking() -> None:
    # video 0: two weak right clips outvote one confident wrong clip only after averaging
    scores = torch.tensor([[0.6, 0.4], [0.0, 1.0], [0.55, 0.45], [0.2, 0.8]])
    targets = torch.tensor([[1.0, 0.0]] * 3 + [[0.0, 1.0]])
    video = torch.tensor([0, 0, 0, 1])
    assert video_hit_at_k(scores, targets, video, 1) == 0.5  # video 0 mean = [0.383, 0.617]
    metric = VideoLevelMetrics(top_k=(1,), compact_every=1)
    metric.update(scores[:2], targets[:2], video[:2])
    metric.update(scores[2:], targets[2:], video[2:], valid=torch.tensor([True, True]))
    out = metric.compute()
    assert out["clip_hit@1"].item() == 0.75
    assert out["video_hit@1"].item() == 0.5
    assert out["videos"].item() == 2


def test_invalid_clips_are_ignored_and_compaction_is_exact() -> None:
    torch.manual_seed(0)
    scores = torch.rand(200, 5).softmax(-1)
    targets = torch.nn.functional.one_hot(torch.randint(0, 5, (200,)), 5).float()
    video = torch.randint(0, 30, (200,))
    targets = targets[video]  # labels belong to videos
    exact = VideoLevelMetrics(compact_every=10_000)
    compacted = VideoLevelMetrics(compact_every=2)
    for chunk in range(0, 200, 8):
        sl = slice(chunk, chunk + 8)
        exact.update(scores[sl], targets[sl], video[sl])
        compacted.update(scores[sl], targets[sl], video[sl])
    a, b = exact.compute(), compacted.compute()
    assert all(torch.allclose(a[k], b[k]) for k in a)
    ids, mean_scores, _ = compacted.video_scores()
    for v in ids.tolist()[:5]:
        assert torch.allclose(mean_scores[ids == v][0], scores[video == v].mean(0), atol=1e-6)
    skipping = VideoLevelMetrics()
    skipping.update(scores[:4], targets[:4], video[:4], valid=torch.tensor([False] * 4))
    assert skipping.compute()["videos"].item() == 0
