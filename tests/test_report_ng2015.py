"""The Ng et al. 2015 report's arithmetic: per-group hits, mean ± sd cells, the findings rule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from deepvideo.reports.ng2015 import (
    RULES,
    RUNS,
    Ng2015Options,
    RunResults,
    _runs,
    difference,
    group_hits,
    markdown_report,
    run_ng2015,
)
from deepvideo.reports.seeds import mean_sd
from deepvideo.scores import VideoScores


def _scores(scores: list[list[float]], labels: list[int]) -> VideoScores:
    targets = torch.zeros(len(labels), 3)
    targets[torch.arange(len(labels)), torch.tensor(labels)] = 1
    return VideoScores(
        scores=torch.tensor(scores),
        targets=targets,
        video_ids=[f"v{i}" for i in range(len(labels))],
        class_names=["a", "b", "c"],
        model="m",
        class_groups={"a": "window", "b": "window", "c": "order"},
    )


def test_group_hits_counts_videos_of_each_group() -> None:
    scores = _scores(
        [[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.1, 0.15, 0.7], [0.5, 0.4, 0.1]],
        [0, 1, 2, 2],
    )
    hits = group_hits(scores)
    assert hits["window"][0] == pytest.approx(0.5)  # video 0 right, video 1 wrong
    assert hits["order"][0] == pytest.approx(0.5)  # video 2 right, video 3 wrong
    # AP of class a: positives {v0}, ranked first -> 1; class b: positive v1 ranked 2nd of 4 by b
    assert hits["window"][1] == pytest.approx((1.0 + 0.5) / 2)


def _result(name: str, window: list[float], order: list[float]) -> RunResults:
    run = next(r for r in RUNS if r.name == name)
    res = RunResults(run)
    for w, o in zip(window, order, strict=True):
        res.metrics.append({"test/clip_hit@1": w, "test/video_hit@1": w, "test/video_hit@5": 1.0})
        res.groups.append({"window": (w, w), "order": (o, o)})
        res.wall_s.append(10.0)
    return res


def test_findings_hold_only_at_every_seed_beyond_the_spread() -> None:
    results = {
        "single_frame": _result("single_frame", [0.2, 0.3, 0.25], [0.5, 0.5, 0.5]),
        "conv_pooling_30": _result("conv_pooling_30", [0.6, 0.7, 0.65], [0.5, 0.45, 0.55]),
        "lstm_30": _result("lstm_30", [0.6, 0.6, 0.6], [0.9, 0.4, 0.6]),
    }
    diff = difference(results, "single_frame", "conv_pooling_30", "window")
    assert diff.values == pytest.approx((0.4, 0.4, 0.4)) and diff.holds
    diff = difference(results, "conv_pooling_30", "lstm_30", "order")
    assert diff.values == pytest.approx((0.4, -0.05, 0.05)) and not diff.holds
    text = markdown_report(results, {"seeds": {"0": {}, "1": {}, "2": {}}, "machine": "cpu"})
    assert "conv pooling minus the single frame on the `window` classes" in text
    assert "**holds**" in text and "**not significant at 3 seeds**" in text
    assert "65.0 ± 5.0 (60.0, 70.0, 65.0)" in text
    against = text[text.index("## Against the paper") :]
    assert "Conv Pooling vs Single Frame (Karpathy et al.): ours +40.0 points" in against
    assert "**agrees**" in against and "**not resolved at 3 seeds**" in against
    assert "Conv Pooling vs late_pooling_30: not run" in against
    # lstm_30 carries no inference-rule metrics here: the rules table says so, no empty header
    assert "No LSTM run in this report" in text and "| LSTM | last:" not in text
    assert "`python scripts/report_ng2015.py --skip-train` (this file)" in text
    results["lstm_30"] = _result("lstm_30", [0.3, 0.35, 0.3], [0.1, 0.1, 0.1])
    results["lstm_30"].rules = [
        {r: {"test/video_hit@1": 0.1 * (i + 1)} for i, r in enumerate(RULES)} for _ in range(3)
    ]
    text = markdown_report(results, {"seeds": {}})
    rules = text[text.index("## LSTM inference rules") : text.index("## Per class group")]
    assert "| LSTM | last: video Hit@1 |" in rules and "No LSTM run" not in rules
    assert "| 10.0 ± 0.0 (10.0, 10.0, 10.0) |" in rules and "(40.0, 40.0, 40.0) |" in rules
    against = markdown_report(results, {"seeds": {}})
    assert "LSTM + AlexNet vs Conv Pooling: ours -33.3 points" in against
    assert "**disagrees** (at every seed); why we think so:" in against


def test_mean_sd_and_run_dependencies() -> None:
    assert mean_sd([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    assert mean_sd([5.0])[0] == 5.0 and math.isnan(mean_sd([5.0])[1])
    names = [r.name for r in _runs(["conv_pooling_120"])]
    assert names == ["alexnet_1", "conv_pooling_30", "conv_pooling_120"]
    with pytest.raises(Exception, match="unknown run"):
        _runs(["no_such_run"])


def test_resuming_one_row_rewrites_the_whole_report(tmp_path: Path) -> None:
    """``--resume --runs X`` reports every run of the manifest, not only X and its tower."""
    entries = {}
    for name, hit in (("alexnet_1", 0.3), ("conv_pooling_30", 0.5), ("late_pooling_30", 0.55)):
        run_dir = tmp_path / "logs" / name
        run_dir.mkdir(parents=True)
        metrics = {"test/clip_hit@1": hit, "test/video_hit@1": hit, "test/video_hit@5": 0.9}
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
        entries[name] = {"run_dir": str(run_dir), "wall_s": 10.0}
    out = tmp_path / "ng2015.md"
    out.with_suffix(".json").write_text(json.dumps({"seeds": {"0": entries}}))
    # late pooling and its tower are in the manifest already: nothing trains
    opts = Ng2015Options(out, tmp_path / "logs", seeds=1, runs=["late_pooling_30"], resume=True)
    report = run_ng2015(opts).read_text()
    assert "| Late Pooling | 1 |" in report
    assert "| Conv Pooling | 1 |" in report  # held by the manifest, not named by --runs
    # the rebuild command names this report, not the default one
    assert f"--skip-train --out {out}` (this file)" in report


def test_schedule_runs_jobs_at_a_time_and_each_after_its_tower() -> None:
    """``--jobs 2``: at most two runs at once, and a run starts only once the run it is expanded
    from has finished at its seed; a failed run starts nothing more and raises."""
    import threading
    import time

    from deepvideo.reports.ng2015 import schedule

    runs = _runs(["conv_pooling_120", "late_pooling_30", "single_frame"])
    todo = sorted(
        [(seed, run) for seed in range(2) for run in runs],
        key=lambda task: (RUNS.index(task[1]), task[0]),
    )
    events: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    active = [0]
    peak = [0]

    def train_one(seed: int, run: object) -> Path:
        name = run.name  # type: ignore[attr-defined]
        with lock:
            events.append(("start", seed, name))
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
            events.append(("end", seed, name))
        return Path(f"/runs/{seed}/{name}")

    done: dict[tuple[int, str], Path] = {}
    schedule(todo, done, train_one, jobs=2)
    assert peak[0] == 2
    assert len(done) == len(todo) == 10
    for seed, run in todo:
        if run.expand:
            started = events.index(("start", seed, run.name))
            assert events.index(("end", seed, run.expand)) < started, (seed, run.name)
    # one at a time is the order given
    events.clear()
    schedule(todo, {}, train_one, jobs=1)
    assert [(s, n) for kind, s, n in events if kind == "start"] == [(s, r.name) for s, r in todo]

    def fail_conv(seed: int, run: object) -> Path:
        if run.name == "conv_pooling_30":  # type: ignore[attr-defined]
            raise RuntimeError("train.py exited 1")
        return train_one(seed, run)

    events.clear()
    with pytest.raises(RuntimeError, match="exited 1"):
        schedule(todo, {}, fail_conv, jobs=1)
    started = [n for kind, _, n in events if kind == "start"]
    assert started == ["alexnet_1", "alexnet_1"]  # nothing after the failure
    # a run whose tower is neither done nor queued is named, not waited for forever
    conv = next(r for r in RUNS if r.name == "conv_pooling_30")
    with pytest.raises(Exception, match="conv_pooling_30 \\(seed 0\\) needs alexnet_1"):
        schedule([(0, conv)], {}, train_one, jobs=2)
