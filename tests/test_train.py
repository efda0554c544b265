"""The real entry points on generated data: fast_dev_run per model, a short real training that
beats chance, eval from a checkpoint, a Hydra multirun, DDP on CPU, W&B offline, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from conftest import CONF, FAST, ROOT, compose_config, tiny_overrides
from deepvideo.training import train

MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
DEFAULT_SMALL = ["data.generator.train_per_class=45", "data.generator.test_per_class=10"]


def run_train(overrides: Sequence[str], out: Path) -> dict[str, float]:
    cfg = compose_config("train", overrides, out)
    return train(cfg)


@pytest.mark.parametrize("model", MODELS)
def test_fast_dev_run_trains_every_model(tiny_root: Path, tmp_path: Path, model: str) -> None:
    metrics = run_train(
        [f"model={model}", "debug=fast_dev_run", *tiny_overrides(tiny_root), *FAST], tmp_path
    )
    assert metrics["train/loss"] > 0
    assert 0.0 <= metrics["test/video_hit@1"] <= 1.0
    assert metrics["test/video_hit@5"] >= metrics["test/video_hit@1"]


def run_cli(script: str, args: Sequence[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    return subprocess.run(
        [sys.executable, str(ROOT / "src" / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_missing_dataset_stops_with_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "train.py",
        [
            "model=multires",
            "data=sports1m",
            f"data.root={tmp_path / 'nowhere'}",
            f"paths.log_dir={tmp_path}",
        ],
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert str(tmp_path / "nowhere") in lines[0]
    assert "download_sports1m.py" in lines[0] and "data=synthetic" in lines[0]


def test_malformed_partition_line_is_named(tiny_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "broken"
    (root / "original").mkdir(parents=True)
    (root / "videos").symlink_to(tiny_root / "videos")
    (root / "labels.txt").write_text((tiny_root / "labels.txt").read_text())
    good = (tiny_root / "original" / "train_partition.txt").read_text().splitlines()
    (root / "original" / "train_partition.txt").write_text("\n".join([*good[:3], "oops"]) + "\n")
    (root / "original" / "test_partition.txt").write_text(
        (tiny_root / "original" / "test_partition.txt").read_text()
    )
    result = run_cli(
        "train.py",
        ["data=sports1m", f"data.root={root}", "data.num_classes=12", f"paths.log_dir={tmp_path}"],
    )
    assert result.returncode == 2
    assert "train_partition.txt:4" in result.stderr and "'oops'" in result.stderr


def test_hydra_multirun_over_two_models(tiny_root: Path, tmp_path: Path) -> None:
    """A 2 x 2 grid whose bad value fails two jobs: the sweep goes on, and
    scripts/sweep_summary.py turns it into one table with the failed jobs as failed rows."""
    result = run_cli(
        "train.py",
        [
            "-m",
            "model=single_frame,slow_fusion",
            "module.lr_scaling=none,bogus",
            "debug=fast_dev_run",
            f"paths.log_dir={tmp_path}",
            *tiny_overrides(tiny_root),
            *FAST,
        ],
    )
    assert result.returncode == 1, result.stderr[-3000:]  # Hydra: some job failed
    metrics = sorted(tmp_path.glob("debug/multiruns/*/*/metrics.json"))
    assert len(metrics) == 2, result.stdout[-2000:]
    sweep = metrics[0].parent.parent
    summary = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sweep_summary.py"), str(sweep)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert summary.returncode == 0, summary.stderr[-2000:]
    lines = [line for line in summary.stdout.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:4] == ["job", "model", "module.lr_scaling", "status"]
    assert {"video Hit@1", "train clips/s", "wall time", "best epoch", "reason"} <= set(header)
    rows = [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]
    assert [(r["model"], r["module.lr_scaling"], r["status"]) for r in rows] == [
        ("single_frame", "none", "ok"),
        ("single_frame", "bogus", "failed"),
        ("slow_fusion", "none", "ok"),
        ("slow_fusion", "bogus", "failed"),
    ]
    assert all("lr_scaling must be one of" in r["reason"] for r in rows if r["status"] == "failed")
    assert all(float(r["video Hit@1"]) >= 0 and r["wall time"] for r in rows if r["status"] == "ok")
    csv_rows = (sweep / "summary.csv").read_text().splitlines()
    assert len(csv_rows) == 5 and (sweep / "summary.md").read_text().count("| failed |") == 2
    chosen = {
        line.strip("- \n")
        for p in metrics
        for line in (p.parent / ".hydra" / "overrides.yaml").read_text().splitlines()
        if "model=" in line
    }
    assert chosen == {"model=single_frame", "model=slow_fusion"}


def test_eval_reproduces_the_test_numbers_from_the_checkpoint(
    tiny_root: Path, tmp_path: Path
) -> None:
    # the paper's recipe rule: test the best validation checkpoint (the final weights: below)
    best_weights = ["data.recipe.schedule=plateau", "data.recipe.test_weights=best"]
    trained = run_train(
        ["model=single_frame", "debug=limit", *best_weights, *tiny_overrides(tiny_root), *FAST],
        tmp_path,
    )
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    stored = torch.load(ckpt, map_location="cpu", weights_only=False)["deepvideo"]
    assert stored["config"]["model"]["name"] == "single_frame"
    assert stored["class_names"] == (tiny_root / "labels.txt").read_text().splitlines()
    best = sorted((tmp_path / "checkpoints").glob("epoch_*.ckpt"))[-1]
    result = run_cli(
        "eval.py",
        [f"ckpt_path={best}", f"paths.log_dir={tmp_path / 'logs'}", "data.num_workers=0"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted((tmp_path / "logs").glob("eval/runs/*/metrics.json"))
    assert len(written) == 1
    metrics = json.loads(written[0].read_text())
    for key in ("test/clip_hit@1", "test/video_hit@1", "test/video_hit@5"):
        assert metrics[key] == pytest.approx(trained[key], abs=1e-6)
    scores = torch.load(written[0].parent / "video_scores.pt", weights_only=False)
    assert scores["scores"].shape == (12, 12)


def test_evaluation_runs_with_the_recipes_eval_threads(tiny_root: Path, tmp_path: Path) -> None:
    """data.recipe.eval_threads: validation and testing run with their own torch thread count,
    training keeps the recipe's torch_threads, and the process ends with training's count."""
    probe = tmp_path / "threads.json"
    before = torch.get_num_threads()
    try:
        run_train(
            [
                "model=single_frame",
                "debug=limit",
                *tiny_overrides(tiny_root),
                *FAST,
                "data.recipe.torch_threads=1",
                "data.recipe.eval_threads=2",
                f"++callbacks.threads={{_target_:reliability_helpers.ThreadProbe,path:'{probe}'}}",
            ],
            tmp_path,
        )
        assert json.loads(probe.read_text()) == {"train": [1], "val": [2], "test": [2]}
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_eval_threads_must_be_positive() -> None:
    from deepvideo.errors import ConfigError
    from deepvideo.modules import EvalThreads

    with pytest.raises(ConfigError, match="eval_threads"):
        EvalThreads(0)


def test_final_weights_recipe_tests_and_keeps_the_final_checkpoint(
    tiny_root: Path, tmp_path: Path
) -> None:
    """data.recipe.test_weights=final (the synthetic recipes, with the warm-up + cosine
    schedule): the test evaluates the weights training ended with, kept as final.ckpt, which the
    reports then read (best_checkpoint) and eval.py reproduces."""
    from deepvideo.evaluation import evaluate
    from deepvideo.reports.experiments import best_checkpoint

    overrides = ["model=single_frame", "debug=limit", *tiny_overrides(tiny_root), *FAST]
    recipe = ["data.recipe.schedule=warmup_cosine", "data.recipe.test_weights=final"]
    trained = run_train([*overrides, *recipe], tmp_path)
    final = tmp_path / "checkpoints" / "final.ckpt"
    assert best_checkpoint(tmp_path) == final
    state = torch.load(final, map_location="cpu", weights_only=False)
    assert state["global_step"] == 2 * 3  # debug=limit: 2 epochs of 3 batches
    # the cosine schedule ends at 0: the last step's rate is the smallest of the run
    assert (
        state["lr_schedulers"][0]["_last_lr"][0]
        < 0.1 * state["optimizer_states"][0]["param_groups"][0]["initial_lr"]
    )
    cfg = compose_config("eval", [f"ckpt_path={final}", "data.num_workers=0"], tmp_path / "eval")
    again = evaluate(cfg)
    for key in ("test/clip_hit@1", "test/video_hit@1", "test/video_hit@5"):
        assert again[key] == pytest.approx(trained[key], abs=1e-6)


def test_predict_prints_top_k_and_writes_an_overlay(tiny_root: Path, tmp_path: Path) -> None:
    run_train(
        ["model=slow_fusion", "debug=limit", "test=false", *tiny_overrides(tiny_root), *FAST],
        tmp_path,
    )
    ckpt = tmp_path / "checkpoints" / "last.ckpt"  # as training saved it: config, class names
    names = (tiny_root / "labels.txt").read_text().splitlines()
    video = next((tiny_root / "videos").glob("*.mp4"))
    overlay = tmp_path / "overlay.mp4"
    result = run_cli(
        "predict.py",
        [
            f"ckpt_path={ckpt}",
            f"video={video}",
            "top_k=3",
            "clips=3",
            "views=2",
            f"overlay={overlay}",
            f"paths.log_dir={tmp_path}",
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranked = [line for line in result.stdout.splitlines() if line.strip()[:2] in {"1.", "2.", "3."}]
    assert len(ranked) == 3
    assert all(line.split(maxsplit=1)[1].rsplit(maxsplit=1)[0] in names for line in ranked), ranked
    probabilities = [float(line.split()[-1]) for line in ranked]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001
    import decord

    assert len(decord.VideoReader(str(overlay))) == len(decord.VideoReader(str(video)))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    result = run_cli(
        "predict.py", [f"ckpt_path={ckpt}", f"video={broken}", f"paths.log_dir={tmp_path}"]
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(broken) in errors[0]


def test_eval_rejects_a_missing_checkpoint(tmp_path: Path) -> None:
    result = run_cli(
        "eval.py", [f"ckpt_path={tmp_path / 'none.ckpt'}", f"paths.log_dir={tmp_path}"]
    )
    assert result.returncode == 2
    assert "none.ckpt does not exist" in result.stderr


def test_wandb_logger_runs_offline_without_an_account(
    tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """logger=wandb, offline by default: the run files hold the resolved config, losses, the
    learning rate, Hit@k, per-class AP as a table, the confusion matrix, test-video panels with
    their top-5, skipped-video counts, and the sweep as the run's group."""
    from wandb_records import run_contents

    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline must be the default
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    sweep = tmp_path / "multiruns" / "grid7"
    try:
        run_train(
            [
                "model=single_frame",
                "debug=limit",
                "logger=wandb",
                "trainer.max_epochs=1",
                "hydra.mode=MULTIRUN",  # as a job of a sweep
                f"hydra.sweep.dir={sweep}",
                *tiny_overrides(tiny_root),
                *FAST,
            ],
            tmp_path,
        )
    finally:  # later tests must not run inside this sweep's Hydra config
        from hydra.core.hydra_config import HydraConfig

        HydraConfig.instance().cfg = None
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, "no offline W&B run was written"
    assert (tmp_path / "csv").is_dir()
    logged = run_contents(next(runs[0].glob("run-*.wandb")))
    assert logged["run"]["group"] == "debug-grid7"  # the sweep
    config = logged["config"]
    assert config["model"]["name"] == "single_frame" and config["data"]["num_classes"] == 12
    assert config["module"]["optimizer"]["momentum"] == 0.9  # resolved, not interpolations
    history: dict[str, object] = {}
    for row in logged["history"]:
        history.update(row)
    for key in (
        "train/loss_epoch",
        "lr-SGD",
        "val/video_hit@1",
        "test/clip_hit@1",
        "test/video_hit@1",
        "test/video_hit@5",
        "test/skipped_videos",
        "test/mAP",
    ):
        assert key in history, key
    assert history["test/per_class_ap/_type"] == "table-file"
    assert history["test/per_class_ap/nrows"] == 12  # one row per class
    assert history["test/confusion_matrix_table/_type"] == "table-file"
    assert "_wandb/visualize/test/confusion_matrix" in config  # the chart over that table
    assert history["test/video_panels/count"] == 8 and history["test/predictions/nrows"] == 8
    captions = history["test/video_panels/captions"]
    assert isinstance(captions, list) and all(
        c.count(" 0.") + c.count(" 1.") == 5 for c in captions
    )
    table = json.loads(next(runs[0].glob("files/media/table/test/per_class_ap_*.json")).read_text())
    assert table["columns"] == ["class", "AP", "test videos"] and len(table["data"]) == 12
    summary = logged["summary"]
    assert summary["data/test/missing"] == 0 and summary["test/skipped_videos"] == 0


@pytest.fixture(scope="session")
def default_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default synthetic benchmark's generator (as `python src/train.py` runs it) at a
    quarter of its training videos (45 a class) and half its test videos, to keep CI short."""
    root = tmp_path_factory.mktemp("synthetic") / "default"
    cfg = compose_config("train", [f"data.root={root}", *DEFAULT_SMALL])
    from hydra.utils import instantiate

    instantiate(cfg.data, _recursive_=False).prepare_data()
    return root


def test_short_real_training_beats_chance(default_root: Path, tmp_path: Path) -> None:
    """A few minutes of single-frame training on the default benchmark clearly beats chance."""
    metrics = run_train(
        [
            "model=single_frame",
            f"data.root={default_root}",
            *DEFAULT_SMALL,
            "trainer.max_epochs=10",
            "data.train_clips_per_video=1",
            "data.test_clips.clips_per_video=4",
            "data.test_clips.views=2",
        ],
        tmp_path,
    )
    chance = 1 / 12
    assert metrics["test/video_hit@1"] > 2.5 * chance, metrics


def test_ddp_on_cpu_runs_two_processes(tiny_root: Path, tmp_path: Path) -> None:
    """Two processes: validation during training and the test score every video once with all
    of its clips, and module.lr_scaling=linear doubles the recipe's rate (global batch 2 x 16)."""
    overrides = ["model=single_frame", *tiny_overrides(tiny_root), *FAST]
    result = run_cli(
        "train.py",
        [
            "trainer=ddp_cpu",
            "debug=limit",
            "module.lr_scaling=linear",
            f"paths.log_dir={tmp_path}",
            *overrides,
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = next(tmp_path.glob("debug/runs/*/metrics.json")).parent
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/videos"] == 12 and metrics["test/clips"] == 12 * 2
    cfg = compose_config("train", overrides, tmp_path)
    from deepvideo.data import build_datamodule

    val = len(build_datamodule(cfg.data, prepare=False, stage="fit").splits["val"])
    assert metrics["val/videos"] == val and metrics["val/clips"] == val * 2  # val_clips: 2 each
    import csv

    rows = list(csv.DictReader((run / "csv" / "version_0" / "metrics.csv").open()))
    rates = {float(r["lr-SGD"]) for r in rows if r.get("lr-SGD")}
    # the schedule's peak (warm-up + cosine on the synthetic recipe) is twice the recipe's rate
    assert rates and max(rates) == pytest.approx(2 * cfg.data.recipe.lr), rates


@pytest.mark.parametrize("pad", ["last", "loop"])
def test_predict_gives_the_probabilities_eval_gave(
    tiny_root: Path, tmp_path: Path, pad: str
) -> None:
    """One clip path: predict.py on a test video = eval.py's score of that video, whatever the
    padding (Late Fusion frames 40 apart outrun these 1.5-2 s videos, so padding is exercised)."""
    from deepvideo.checkpoint import load_checkpoint, load_network
    from deepvideo.data import build_datamodule
    from deepvideo.data.video import EncodedVideo
    from deepvideo.evaluation import evaluate
    from deepvideo.prediction import predict_video
    from deepvideo.scores import load_video_scores

    clip = ["model=late_fusion", "model.clip.frame_stride=40", f"data.pad={pad}"]
    run_train(
        [*clip, "debug=limit", "test=false", *tiny_overrides(tiny_root), *FAST], tmp_path / "run"
    )
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    # predict runs in fp32; so does this evaluation (bf16 autocast would differ by ~1e-3)
    eval_args = [f"ckpt_path={ckpt}", "data.num_workers=0", "trainer.precision=32-true"]
    evaluate(compose_config("eval", eval_args, tmp_path))
    scores = load_video_scores(tmp_path / "video_scores.pt")
    net, run = load_network(load_checkpoint(ckpt))
    assert run.data.pad == pad
    clips = build_datamodule(run.data, prepare=False, check=False).eval_clips("test")
    for row, video_id in enumerate(scores.video_ids[:4]):
        video = EncodedVideo(tiny_root / "videos" / f"{video_id}.mp4")
        probs, positions = predict_video(net, video, clips, video_id)
        assert len(positions) == clips.clips_per_video == 2
        assert torch.allclose(probs.mean(0), scores.scores[row], atol=1e-5)
