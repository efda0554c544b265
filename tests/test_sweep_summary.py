"""The sweep summary on hand-made job directories: varying overrides, failed rows and reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepvideo.errors import ConfigError
from deepvideo.reports.scaling import ProcessRate, rates_markdown, trainer_overrides
from deepvideo.reports.sweep import read_sweep, summarize_sweep, varying_keys


def job(sweep: Path, n: int, overrides: list[str], metrics: dict | None, log: str = "") -> None:
    folder = sweep / str(n)
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "train.log").write_text(log)


def test_failed_jobs_are_rows_with_the_reason_from_their_log(tmp_path: Path) -> None:
    good = {"test/video_hit@1": 0.6, "train/clips_per_s": 123.4, "time/run_s": 75.2}
    job(tmp_path, 10, ["model=slow_fusion", "seed=0"], {**good, "val/best_epoch": 7.0})
    job(tmp_path, 2, ["model=single_frame", "seed=0"], good)
    job(
        tmp_path,
        1,
        ["model=early_fusion", "seed=0"],
        None,
        "[2026][deepvideo.cli][ERROR] - run failed: ValueError: lr must be positive\nTraceback\n",
    )
    job(tmp_path, 3, ["model=late_fusion", "seed=0", "+x=1"], None, "Killed\n")
    rows = read_sweep(tmp_path)
    assert [r.job for r in rows] == ["1", "2", "3", "10"]  # numeric order, not 1, 10, 2
    assert varying_keys(rows) == ["model", "x"]  # seed does not vary; x is missing in some
    assert rows[0].reason == "ValueError: lr must be positive" and not rows[0].ok
    assert "no error in the job's log" in rows[2].reason
    table, md, csv = summarize_sweep(tmp_path)
    assert "| 10 | slow_fusion |  | ok | 60.0 |" in table and "| 1m 15s | 7 |" in table
    assert table.count("| failed |") == 2 and md.read_text().count("| failed |") == 2
    header = csv.read_text().splitlines()[0].split(",")
    assert header[:4] == ["job", "model", "x", "status"] and "train/clips_per_s" in header


def test_a_directory_without_jobs_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="holds no Hydra job"):
        read_sweep(tmp_path)


def test_process_rates_table() -> None:
    assert trainer_overrides(1) == ["trainer=cpu"]
    assert trainer_overrides(4) == ["trainer=ddp_cpu", "trainer.devices=4"]
    text = rates_markdown([ProcessRate(1, [10.0, 12.0]), ProcessRate(2, [16.5, 16.5])])
    assert (
        "| 1 | 10.0, 12.0 | 11.0 | 1.00x |" in text and "| 2 | 16.5, 16.5 | 16.5 | 1.50x |" in text
    )
