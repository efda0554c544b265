"""The synthetic recipe carries the paper's central finding at every seed (slow test).

Karpathy et al. 2014 (Sec. 4.1, Table 2): Slow Fusion's gain over the single frame is largest on
the classes where motion is the evidence. On our benchmark the four motion-only classes (drift
up / down / sideways, hover) have the same frame distribution, so a single frame cannot tell them
apart. At two seeds, on the default recipe's data (generated once under data/, as `make train`
does) and its full 10-epoch schedule with a reduced test (10 clips x 2 views instead of 20 x 4),
Slow Fusion's video Hit@1 on those classes must exceed the single frame's at both seeds.

The budget is the recipe's 10 epochs because Slow Fusion learns the motion-only classes late:
with 6 epochs (the cosine schedule spanning them) this test passed on 2026-12-01 (2-core AMD
EPYC, fp32) with motion-only gaps of only +2.4 points (22.9 vs 20.5%) at seed 0 and +19.2 at
seed 1, where the 10 epochs give +65.1 and +53.0 (reports/table1_synthetic.md): 2 videos of 83
from failing at seed 0. The 10-epoch form passed twice on 2026-12-01 (same machine; 50 min
sharing the cores, 27 min alone) with the same figures both times: motion-only video Hit@1
single frame 24.1 / 25.3%, Slow Fusion 89.2 / 78.3% (gaps +65.1 / +53.0) at seeds 0 / 1;
overall single frame 53.3 / 56.2%, Slow Fusion 76.7 / 69.2%.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import compose_config
from deepvideo.reports.seeds import group_video_hits
from deepvideo.scores import load_video_scores
from deepvideo.training import train

# the default dataset and schedule (10 epochs), every test video, a lighter test protocol
REDUCED = [
    "data.test_clips.clips_per_video=10",
    "data.test_clips.views=2",
]


def motion_hit(run_dir: Path) -> float:
    """Video Hit@1 of a run's test videos whose class is motion-only (class_groups.tsv)."""
    scores = load_video_scores(run_dir / "video_scores.pt")
    hits, counts = group_video_hits(
        scores.scores, scores.targets, scores.class_names, scores.class_groups
    )
    assert counts["motion"] >= 60  # 20 test videos in each of the 4 motion-only classes
    return hits["motion"]


@pytest.mark.slow
def test_slow_fusion_beats_single_frame_on_motion_at_two_seeds(tmp_path: Path) -> None:
    gaps = []
    for seed in (0, 1):
        hits = {}
        for model in ("single_frame", "slow_fusion"):
            out = tmp_path / f"{model}_{seed}"
            cfg = compose_config(
                "train",
                [
                    f"model={model}",
                    f"seed={seed}",
                    *REDUCED,
                    "++callbacks.video_scores={_target_:deepvideo.modules.SaveVideoScores,"
                    f"path:'{out / 'video_scores.pt'}'}}",
                    "callbacks.progress_bar=null",
                ],
                out,
            )
            train(cfg)
            hits[model] = motion_hit(out)
        gaps.append(hits["slow_fusion"] - hits["single_frame"])
        # the figures a closing note quotes (pytest -s shows them; tmp_path is rotated away)
        print(
            f"seed {seed}: motion-only video Hit@1 single frame {100 * hits['single_frame']:.1f}, "
            f"Slow Fusion {100 * hits['slow_fusion']:.1f}, gap {100 * gaps[-1]:+.1f} points"
        )
    assert all(gap > 0 for gap in gaps), gaps
