"""Reports (Table 1, Table 2, figures) on tiny generated data and hand-made scores."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import ROOT, compose_config
from deepvideo.checkpoint import load_checkpoint, stored_config
from deepvideo.errors import ConfigError
from deepvideo.reports.analysis import (
    compare_runs,
    confusion_matrix,
    markdown_table2,
    most_confused_pairs,
    per_class_ap,
)
from deepvideo.reports.ensemble import (
    evaluate_ensemble,
    load_ensemble,
    load_members,
    member_frame_indices,
    save_video_scores,
)
from deepvideo.reports.experiments import RunRecord, command_history
from deepvideo.reports.figures import plot_multires_filters, write_figures
from deepvideo.reports.seeds import (
    difference_holds,
    finding_line,
    group_video_hits,
    seed_cell,
    seed_difference,
)
from deepvideo.reports.table1 import (
    Table1Options,
    manifest_run_dir,
    run_precision,
    run_table1,
    runs_by_seed,
)
from deepvideo.reports.table1_markdown import (
    PAPER_BASELINE,
    SeedResults,
    markdown_table1,
    precision_summary,
)
from deepvideo.reports.table2 import Table2Options, run_table2
from deepvideo.scores import VideoScores, load_video_scores
from deepvideo.training import train

PNG = b"\x89PNG\r\n\x1a\n"
TINY = [
    "data.generator.train_per_class=4",
    "data.generator.test_per_class=1",
    "data.generator.min_seconds=1.5",
    "data.generator.max_seconds=2.0",
    "data.workers=1",
]
FAST = ["data.test_clips.clips_per_video=2", "data.test_clips.views=2", "data.num_workers=0"]
MODELS = ("single_frame", "slow_fusion")


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny ``debug=limit`` runs (single frame, slow fusion) on a tiny generated set."""
    base = tmp_path_factory.mktemp("reports")
    root = base / "tiny"
    overrides = [f"data.root={root}", *TINY]
    instantiate(compose_config("train", overrides).data, _recursive_=False).prepare_data()
    runs = {}
    for model in MODELS:
        run_dir = base / f"table1_{model}"
        cfg = compose_config("train", [f"model={model}", "debug=limit", *overrides, *FAST], run_dir)
        train(cfg)
        runs[model] = run_dir
    return runs


def best(run_dir: Path) -> Path:
    return sorted((run_dir / "checkpoints").glob("epoch_*.ckpt"))[-1]


def test_member_frames_are_centered_in_the_ensemble_clip() -> None:
    assert member_frame_indices(10, 1, 16) == list(range(3, 13))
    assert member_frame_indices(2, 15, 16) == [0, 15]
    assert member_frame_indices(1, 1, 16) == [7]
    with pytest.raises(ValueError):
        member_frame_indices(2, 15, 10)


def test_ensemble_averages_its_members_and_evaluates(
    tiny_runs: dict[str, Path], tmp_path: Path
) -> None:
    ckpts = [best(tiny_runs[m]) for m in MODELS]
    ensemble, clip = load_ensemble(ckpts)
    assert clip.num_frames == 10 and clip.crop_size == 64
    assert list(ensemble.members) == list(MODELS)
    members = load_members(ckpts)
    x = torch.randn(3, 3, 10, 64, 64)
    with torch.no_grad():
        got = ensemble(x).exp()
        single = members[0].net(x[:, :, [4]]).softmax(-1)
        slow = members[1].net(x).softmax(-1)
    torch.testing.assert_close(got, (single + slow) / 2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.sum(-1), torch.ones(3))

    result = evaluate_ensemble(ensemble, clip)
    assert result.scores.shape == (12, 12) and result.targets.shape == (12, 12)
    assert result.metrics["test/videos"] == 12
    assert 0 <= result.metrics["test/video_hit@1"] <= result.metrics["test/video_hit@5"] <= 1
    assert set(result.member_metrics) == set(MODELS)
    # the single-frame member on the ensemble's clips matches its own test (same clips, views)
    own = json.loads((tiny_runs["single_frame"] / "metrics.json").read_text())
    mine = result.member_metrics["single_frame"]
    assert mine["test/videos"] == own["test/videos"] == 12

    saved = load_video_scores(save_video_scores(result, clip, tmp_path / "scores.pt"))
    assert saved.scores.shape == (12, 12) and len(saved.video_ids) == 12
    assert saved.class_names[0] == "drift up"


def first_table(text: str) -> list[str]:
    """The lines of the first markdown table in ``text``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("| ")), len(lines))
    return lines[start:end]


def test_table1_from_existing_runs(tiny_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "table1.md"
    manifest = {"runs": {f"table1_{m}": {"run_dir": str(d)} for m, d in tiny_runs.items()}}
    out.with_suffix(".json").write_text(json.dumps(manifest))
    run_table1(
        Table1Options(
            experiments=[f"table1_{m}" for m in MODELS],
            out=out,
            skip_train=True,
            throughput_steps=2,
            throughput_warmup=1,
            command="python scripts/report_table1.py --skip-train",
        )
    )
    text = out.read_text()
    rows = first_table(text)
    assert rows[0].startswith("| Model | Clip Hit@1 | Video Hit@1 | Video Hit@5 | train clips/s")
    labels = [row.split("|")[1].strip() for row in rows[2:]]
    assert labels == [
        "*Feature Histograms + Neural Net (paper, Sports-1M)*",
        "Single-Frame",
        "Slow Fusion",
        "CNN Average (Single+Slow)",
    ]
    for row in rows[3:5]:
        assert float(row.split("|")[5]) > 0  # clips/s
    assert "Chance" in text and "--skip-train" in text and "Machine" in text
    # a manifest without a history: the report names the current command only
    assert "- **Command**: `python scripts/report_table1.py --skip-train`" in text
    # the single-seed manifest is read as seed 0: single values, no spread
    assert "- **Seeds**: 0 (one run per row" in text and "±" not in text
    assert "- **Precision**: not recorded" in text  # in-process fixture runs have no log
    written = json.loads(out.with_suffix(".json").read_text())
    assert written["seeds"] == [0]
    assert written["runs"]["table1_single_frame"]["0"]["run_dir"] == str(tiny_runs["single_frame"])
    assert set(written["throughput_clips_per_s"]) == {f"table1_{m}" for m in MODELS}
    assert written["ensemble"]["seeds"]["0"]["metrics"]["test/videos"] == 12
    # per-group hits of the ensemble (the fixture runs wrote no video_scores.pt of their own)
    assert set(written["groups"]["0"]) == {"cnn_average"}
    assert set(written["groups"]["0"]["cnn_average"]) == {"motion", "appearance", "both"}
    assert "| CNN Average | " in text
    with pytest.raises(ConfigError, match="records no run"):
        run_table1(Table1Options(experiments=["table1_late_fusion"], out=out, skip_train=True))
    with pytest.raises(ConfigError, match="at seed 1"):
        run_table1(
            Table1Options(experiments=["table1_single_frame"], out=out, skip_train=True, seeds=2)
        )


def test_table1_keeps_the_commands_that_wrote_it() -> None:
    first, more = "report_table1.py --models a", "report_table1.py --resume --models a b"
    assert command_history({}, first) == [first]
    # a manifest from before the history: its one command, then the new one
    assert command_history({"command": first}, more) == [first, more]
    assert command_history({"commands": [first, more]}, more) == [first, more]  # no repeats
    assert command_history({"commands": [first]}, "") == [first]


def test_table1_markdown_marks_the_papers_feature_histogram_baseline() -> None:
    """Table 1's first row is the paper's (Sports-1M): video Hit@1 55.3, no clip Hit@1 or Hit@5."""
    record = RunRecord("table1_single_frame", Path("run"), 12.0, {"test/video_hit@1": 0.25})
    text = markdown_table1([record], {}, None, [], 0.1, {"Command": "`x`"})
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    cells = [c.strip() for c in rows[2].split("|")[1:-1]]
    assert cells == [
        "*Feature Histograms + Neural Net (paper, Sports-1M)*",
        "—",
        "*55.3*",
        "—",
        "—",
        "—",
        "— / 55.3 / —",
    ]
    assert rows[3].startswith("| Single-Frame | — | 25.0 | — |")
    assert "- **Feature Histograms + Neural Net**: the paper's number" in text
    assert "not a run of ours" in text
    assert PAPER_BASELINE.paper == (None, 55.3, None)
    without = markdown_table1([record], {}, None, [], None, {}, paper_baseline=None)
    assert "Feature Histograms" not in without


def hand_made(model: str, scores: list[list[float]]) -> VideoScores:
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    return VideoScores(
        torch.tensor(scores), targets, ["v0", "v1", "v2", "v3"], ["run", "jump", "swim"], model
    )


def test_per_class_ap_on_a_hand_made_example() -> None:
    # class "run": positives v0, v2; ranked v0 (+), v1 (-), v2 (+), v3 -> AP = (1 + 2/3) / 2
    # class "jump": positive v1 ranked first -> 1; class "swim": positive v3 ranked 3rd -> 1/3
    a = hand_made("single", [[0.9, 0.2, 0.5], [0.8, 0.7, 0.4], [0.6, 0.1, 0.3], [0.1, 0.05, 0.35]])
    ap = per_class_ap(a.scores, a.targets)
    torch.testing.assert_close(ap, torch.tensor([5 / 6, 1.0, 1 / 3]))
    b = hand_made("slow", [[0.9, 0.1, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    b.video_ids, b.scores, b.targets = b.video_ids[::-1], b.scores.flip(0), b.targets.flip(0)
    rows = compare_runs(a, b, {"run": "motion", "jump": "both", "swim": "motion"})
    assert [r.name for r in rows] == ["swim", "run", "jump"]  # aligned by video id
    assert rows[0].difference == pytest.approx(2 / 3) and rows[0].group == "motion"
    assert math.isclose(rows[-1].difference, 0.0, abs_tol=1e-6)
    text = markdown_table2(rows, "single", "slow", top=2)
    assert "| swim | motion | 0.333 | 1.000 | +0.667 |" in text
    assert "| motion | 2 | 0.583 | 1.000 | +0.417 |" in text


def test_confusion_matrix_and_pairs() -> None:
    a = hand_made("m", [[0.9, 0.2, 0.5], [0.8, 0.7, 0.4], [0.6, 0.1, 0.3], [0.1, 0.05, 0.35]])
    matrix = confusion_matrix(a.scores, a.targets)
    assert matrix.tolist() == [[2, 0, 0], [1, 0, 0], [0, 0, 1]]
    assert most_confused_pairs(matrix, a.class_names) == [("jump", "run", 1, 1.0)]


def test_table2_script_writes_markdown(tmp_path: Path) -> None:
    for model, values in {
        "single": [[0.9, 0.2, 0.5], [0.8, 0.7, 0.4], [0.6, 0.1, 0.3], [0.1, 0.05, 0.35]],
        "slow": [[0.9, 0.1, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]],
    }.items():
        s = hand_made(model, values)
        torch.save(
            {
                "video_index": torch.arange(4),
                "scores": s.scores,
                "targets": s.targets,
                "video_ids": s.video_ids,
                "class_names": s.class_names,
                "model": model,
            },
            tmp_path / f"{model}.pt",
        )
    groups = tmp_path / "class_groups.tsv"
    groups.write_text("run\tmotion\njump\tboth\nswim\tmotion\n")
    out = tmp_path / "table2.md"
    script = load_script("table2")
    args = ["--a", tmp_path / "single.pt", "--b", tmp_path / "slow.pt", "--groups", groups]
    assert script.main([*map(str, args), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| swim | motion |" in text and "Per-group mean AP" in text


def test_table2_takes_its_runs_from_a_table1_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "table1.json"
    manifest.write_text(json.dumps({"runs": {"table1_single_frame": {"run_dir": "logs/sf"}}}))
    assert manifest_run_dir(manifest, "single_frame") == ROOT / "logs" / "sf"
    assert manifest_run_dir(manifest, "table1_slow_fusion") is None
    with pytest.raises(ConfigError, match="pass --a and --b"):
        run_table2(Table2Options(from_manifest=manifest, out=tmp_path / "t2.md"))
    with pytest.raises(ConfigError, match="does not exist"):
        run_table2(Table2Options(from_manifest=tmp_path / "none.json"))


def save_hand_made(path: Path, model: str, values: list[list[float]]) -> Path:
    """A fabricated ``video_scores.pt`` of :func:`hand_made`'s four videos and three classes."""
    s = hand_made(model, values)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "video_index": torch.arange(4),
            "scores": s.scores,
            "targets": s.targets,
            "video_ids": s.video_ids,
            "class_names": s.class_names,
            "model": model,
        },
        path,
    )
    return path


def test_table2_over_the_seeds_of_a_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seed 0: AP single = (5/6, 1, 1/3), seed 1: (1, 1, 1/3); slow fusion 1 everywhere. The
    motion classes (run, swim) gain 41.7 and 33.3 points: holds; jump gains 0: does not."""
    single = {
        0: [[0.9, 0.2, 0.5], [0.8, 0.7, 0.4], [0.6, 0.1, 0.3], [0.1, 0.05, 0.35]],
        1: [[0.9, 0.2, 0.5], [0.3, 0.7, 0.4], [0.6, 0.1, 0.3], [0.1, 0.05, 0.35]],
    }
    slow = [[0.9, 0.1, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]
    runs: dict[str, dict[str, dict[str, str]]] = {}
    for seed in (0, 1):
        for model, values in (("single_frame", single[seed]), ("slow_fusion", slow)):
            run_dir = tmp_path / f"{model}_s{seed}"
            save_hand_made(run_dir / "video_scores.pt", model, values)
            runs.setdefault(f"table1_{model}", {})[str(seed)] = {"run_dir": str(run_dir)}
    manifest = tmp_path / "table1.json"
    manifest.write_text(json.dumps({"seeds": [0, 1], "runs": runs}))
    groups = tmp_path / "class_groups.tsv"
    groups.write_text("run\tmotion\njump\tboth\nswim\tmotion\n")
    out = tmp_path / "table2.md"
    script = load_script("table2")
    args = ["--from-manifest", str(manifest), "--groups", str(groups), "--out", str(out)]
    assert script.main(args) == 0
    text = out.read_text()
    cells = "| 33.3 ± 0.0 (33.3, 33.3) | 100.0 ± 0.0 (100.0, 100.0) | 66.7 ± 0.0 (66.7, 66.7) |"
    assert f"| swim | motion {cells} yes |" in text
    assert "| run | motion | 91.7 ± 11.8 (83.3, 100.0) |" in text and "(16.7, 0.0) | no |" in text
    motion = "| 62.5 ± 5.9 (58.3, 66.7) | 100.0 ± 0.0 (100.0, 100.0) | 37.5 ± 5.9 (41.7, 33.3) |"
    assert f"| motion | 2 {motion}" in text
    assert "## Findings" in text
    assert (
        "- slow_fusion − single_frame, mean AP of the motion classes: +37.5 ± 5.9 points "
        "(+41.7, +33.3): **holds** (same sign at all 2 seeds" in text
    )
    assert (
        "- slow_fusion − single_frame, mean AP of the both classes: +0.0 ± 0.0 points "
        "(+0.0, +0.0): **not significant at 2 seeds**." in text
    )
    assert "mean AP of all classes: +25.0 ± 3.9 points" in text
    assert "- **Seeds**: 0, 1 (every seed the manifest records for both models)" in text
    # --seeds 1: the old single-seed table of seed 0, which says it is one seed
    assert script.main([*args, "--seeds", "1"]) == 0
    one = out.read_text()
    assert "| swim | motion | 0.333 | 1.000 | +0.667 |" in one and "a single seed" in one
    capsys.readouterr()
    for bad, message in (
        (["--seeds", "0"], "--seeds 0: compare at least one seed"),
        (["--seeds", "3"], "records no run of single_frame at seed 2, slow_fusion at seed 2"),
    ):
        with pytest.raises(SystemExit) as exit_:
            script.main([*args, *bad])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err and err.count("\n") == 1, err
    pair = ["--a", str(tmp_path / "single_frame_s0"), "--b", str(tmp_path / "slow_fusion_s0")]
    with pytest.raises(SystemExit) as exit_:
        script.main([*pair, "--seeds", "2", "--out", str(out)])
    assert exit_.value.code == 2 and "one pair of runs is one seed" in capsys.readouterr().err


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_figures_are_written_as_png(tiny_runs: dict[str, Path], tmp_path: Path) -> None:
    slow = best(tiny_runs["slow_fusion"])
    ensemble, clip = load_ensemble([slow])
    scores_path = save_video_scores(evaluate_ensemble(ensemble, clip), clip, tmp_path / "s.pt")
    scores = load_video_scores(scores_path)
    run = OmegaConf.create(stored_config(load_checkpoint(slow)))
    written = write_figures(tmp_path / "figs", temporal_ckpt=slow, scores=scores, scores_run=run)
    cfg = compose_config("train", ["model=multires"])
    net = instantiate(cfg.model.net)
    written.append(plot_multires_filters(net.first_layer_filters(), tmp_path / "figs" / "mr.png"))
    names = {p.name for p in written}
    assert {"fig3_slow_fusion_conv1_filters.png", "mr.png", "confusion_cnn_average.png"} <= names
    assert "fig4_cnn_average_predictions.png" in names and "confusion_cnn_average.md" in names
    for path in written:
        assert path.stat().st_size > 0
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG
    assert (
        "| true class | predicted as |"
        in (tmp_path / "figs" / "confusion_cnn_average.md").read_text()
    )


def test_report_script_trains_the_missing_rows(tiny_runs: dict[str, Path], tmp_path: Path) -> None:
    """``--resume --seeds 2`` reuses the manifest's runs and trains the other row at each seed
    with ``src/train.py`` (``seed=S``), two at a time (``--jobs 2``); the cells aggregate the
    seeds, the ensemble is per seed."""
    out = tmp_path / "table1.md"
    single = str(tiny_runs["single_frame"])
    # (the fixture's one run stands for both seeds of the single frame, to train only one row)
    manifest = {
        "runs": {"table1_single_frame": {"0": {"run_dir": single}, "1": {"run_dir": single}}}
    }
    out.with_suffix(".json").write_text(json.dumps(manifest))
    root = tiny_runs["single_frame"].parent / "tiny"
    script = load_script("report_table1")
    args = [
        "--models",
        "single_frame",
        "late_fusion",
        "--resume",
        "--seeds",
        "2",
        "--out",
        str(out),
        "--log-dir",
        str(tmp_path / "logs"),
        "--throughput-steps",
        "1",
        "--jobs",
        "2",
        "debug=limit",
        f"data.root={root}",
        *TINY,
        *FAST,
    ]
    assert script.main(args) == 0
    written = json.loads(out.with_suffix(".json").read_text())
    runs = written["runs"]
    assert written["seeds"] == [0, 1] and written["jobs"] == 2
    assert [runs["table1_single_frame"][s]["run_dir"] for s in ("0", "1")] == [single, single]
    for seed in (0, 1):
        late = Path(runs["table1_late_fusion"][str(seed)]["run_dir"])
        assert late.name == "table1_late_fusion" and late.parent.name == f"seed{seed}"
        assert late.parent.parent.parent == tmp_path / "logs" and (late / "metrics.json").is_file()
        overrides = (late / ".hydra" / "overrides.yaml").read_text().splitlines()
        assert f"- seed={seed}" in overrides
        assert (late / "video_scores.pt").is_file()
        assert runs["table1_late_fusion"][str(seed)]["precision"] == run_precision(late)
        assert run_precision(late)
        assert written["ensemble"]["seeds"][str(seed)]["metrics"]["test/videos"] == 12
        assert "cnn_average" in written["groups"][str(seed)]
    precision = runs["table1_late_fusion"]["0"]["precision"]
    text = out.read_text()
    rows = {line.split("|")[1].strip(): line for line in first_table(text)}
    assert " ± " in rows["Late Fusion"] and " ± " in rows["CNN Average (Single+Late)"]
    assert "- **Seeds**: 0, 1: " in text
    assert "2 runs trained at a time (`--jobs`)" in text
    assert f"- **Precision**: `{precision}`: Late Fusion; not recorded: Single-Frame" in text
    assert "Video Hit@1 (%) by class group" in text
    assert "Findings at 2 seeds" in text
    finding = next(line for line in text.splitlines() if line.startswith("- Late Fusion − Single"))
    assert finding.endswith(
        ("**not significant at 2 seeds**.", "mean larger than its standard deviation).")
    )


# ------------------------------------------------------------------------ seeds and spread
def test_seed_cells_are_mean_sd_and_the_values() -> None:
    assert seed_cell([0.25, 0.30, 0.35]) == "30.0 ± 5.0 (25.0, 30.0, 35.0)"
    assert seed_cell([0.4]) == "40.0"
    assert seed_cell([]) == seed_cell([None]) == "—"
    assert seed_cell([0.2, None]) == "20.0 (20.0, —)"
    assert seed_cell([232.4, 240.0], scale=1.0, digits=0) == "236 ± 5 (232, 240)"


def test_table1_markdown_aggregates_the_seeds() -> None:
    def seed(s: int) -> SeedResults:
        single, slow = (0.25, 0.30, 0.35)[s], (0.50, 0.60, 0.55)[s]
        return SeedResults(
            records=[
                RunRecord(
                    "table1_single_frame", Path("sf"), 100.0 + s, {"test/video_hit@1": single}
                ),
                RunRecord("table1_slow_fusion", Path("sl"), 200.0, {"test/video_hit@1": slow}),
            ],
            groups={
                "table1_single_frame": {"motion": 0.1, "appearance": (0.5, 0.6, 0.4)[s]},
                "table1_slow_fusion": {"motion": (0.6, 0.7, 0.65)[s], "appearance": 0.5},
            },
            group_videos={"motion": 40, "appearance": 50},
        )

    header = {"Machine": "a CPU", "Precision": "`32-true` in every training run"}
    text = markdown_table1({s: seed(s) for s in range(3)}, {}, None, [], None, {}, header=header)
    lines = text.splitlines()
    assert lines[2].startswith("- **Seeds**: 0, 1, 2: every row trained once per seed")
    assert lines[3:5] == [
        "- **Machine**: a CPU",
        "- **Precision**: `32-true` in every training run",
    ]
    assert (
        "| Single-Frame | — | 30.0 ± 5.0 (25.0, 30.0, 35.0) | — | — | 101 ± 1 (100, 101, 102) |"
        in text
    )
    assert (
        "| Slow Fusion | — | 55.0 ± 5.0 (50.0, 60.0, 55.0) | — | — | 200 ± 0 (200, 200, 200) |"
        in text
    )
    assert "| Model | motion (40 videos) | appearance (50 videos) |" in text
    assert "| Slow Fusion | 65.0 ± 5.0 (60.0, 70.0, 65.0) | 50.0 ± 0.0 (50.0, 50.0, 50.0) |" in text
    assert (
        "- Slow Fusion − Single-Frame, video Hit@1: +25.0 ± 5.0 points (+25.0, +30.0, +20.0): "
        "**holds** (same sign at all 3 seeds, mean larger than its standard deviation)."
    ) in lines
    assert (
        "- Slow Fusion − Single-Frame, video Hit@1 on the `appearance` classes: +0.0 ± 10.0 "
        "points (+0.0, -10.0, +10.0): **not significant at 3 seeds**."
    ) in lines
    with pytest.raises(ValueError, match="SeedResults"):
        markdown_table1({0: seed(0)}, {}, object(), [], None, {})


def test_table1_states_what_each_multires_stream_contributes() -> None:
    """With the stream ablations in the table, the findings say what the context adds to the
    fovea (per group too), context against fovea, and fovea against the whole frame."""
    hits = {
        "table1_single_frame": (0.50, 0.55, 0.52),
        "table1_multires": (0.46, 0.48, 0.47),
        "table1_multires_fovea_only": (0.45, 0.46, 0.48),
        "table1_multires_context_only": (0.10, 0.15, 0.12),
    }

    def seed(s: int) -> SeedResults:
        return SeedResults(
            records=[
                RunRecord(name, Path(name), 100.0, {"test/video_hit@1": hit[s]})
                for name, hit in hits.items()
            ],
            groups={name: {"motion": hit[s] / 2} for name, hit in hits.items()},
            group_videos={"motion": 40},
        )

    lines = markdown_table1({s: seed(s) for s in range(3)}, {}, None, [], None, {}).splitlines()
    assert (
        "- Single-Frame + Multires − Single-Frame Fovea Only, video Hit@1: +0.7 ± 1.5 points "
        "(+1.0, +2.0, -1.0): **not significant at 3 seeds**."
    ) in lines
    assert (
        "- Single-Frame + Multires − Single-Frame Fovea Only, video Hit@1 on the `motion` "
        "classes: +0.3 ± 0.8 points (+0.5, +1.0, -0.5): **not significant at 3 seeds**."
    ) in lines
    assert (
        "- Single-Frame Context Only − Single-Frame Fovea Only, video Hit@1: -34.0 ± 2.6 points "
        "(-35.0, -31.0, -36.0): **holds** (same sign at all 3 seeds, mean larger than its "
        "standard deviation)."
    ) in lines
    assert (
        "- Single-Frame Fovea Only − Single-Frame, video Hit@1: -6.0 ± 2.6 points "
        "(-5.0, -9.0, -4.0): **holds** (same sign at all 3 seeds, mean larger than its "
        "standard deviation)."
    ) in lines


def test_a_difference_holds_only_with_one_sign_and_mean_above_sd() -> None:
    assert difference_holds([0.20, 0.25, 0.22])
    assert difference_holds([-0.20, -0.25, -0.22])  # a consistent loss holds too
    assert not difference_holds([0.20, -0.01, 0.30])  # the sign flips at one seed
    assert not difference_holds([0.01, 0.50, 0.02])  # one sign, but the mean is below the sd
    assert not difference_holds([0.20])  # no spread at one seed
    assert not difference_holds([0.0, 0.0])
    diff = seed_difference({0: 0.30, 1: 0.35, 2: 0.25, 3: None}, {0: 0.55, 1: 0.60, 2: 0.45})
    assert diff.seeds == (0, 1, 2) and diff.holds
    assert finding_line("b − a", diff) == (
        "- b − a: +23.3 ± 2.9 points (+25.0, +25.0, +20.0): **holds** (same sign at all 3 "
        "seeds, mean larger than its standard deviation)."
    )
    noisy = seed_difference({0: 0.3, 1: 0.3}, {0: 0.4, 1: 0.25})
    assert finding_line("b − a", noisy).endswith("**not significant at 2 seeds**.")
    one = seed_difference({0: 0.3}, {0: 0.5})
    assert (
        finding_line("b − a", one)
        == "- b − a: +20.0 points (seed 0): **not significant at 1 seed**."
    )


def test_the_manifest_records_runs_per_seed_and_reads_the_old_format_as_seed_0(
    tmp_path: Path,
) -> None:
    old = {"runs": {"table1_single_frame": {"run_dir": "logs/sf", "wall_s": 3.0}}}
    assert runs_by_seed(old) == {"table1_single_frame": {0: {"run_dir": "logs/sf", "wall_s": 3.0}}}
    new = {"runs": {"table1_slow_fusion": {"0": {"run_dir": "logs/s0"}, "1": {"run_dir": "/s1"}}}}
    assert runs_by_seed(new) == {
        "table1_slow_fusion": {0: {"run_dir": "logs/s0"}, 1: {"run_dir": "/s1"}}
    }
    path = tmp_path / "table1.json"
    path.write_text(json.dumps(new))
    assert manifest_run_dir(path, "slow_fusion") == ROOT / "logs" / "s0"
    assert manifest_run_dir(path, "slow_fusion", seed=1) == Path("/s1")
    assert manifest_run_dir(path, "slow_fusion", seed=2) is None
    assert manifest_run_dir(path, "single_frame") is None
    with pytest.raises(ConfigError, match="sets seed=S itself"):
        run_table1(Table1Options(out=tmp_path / "t.md", overrides=["seed=3"]))


def test_precision_and_group_hits_of_a_run(tmp_path: Path) -> None:
    (tmp_path / "report_table1.log").write_text(
        "[t][deepvideo.utils.hardware][INFO] - precision auto -> bf16-mixed: a step takes ...\n"
        "[t][deepvideo.utils.instantiate][INFO] - precision: bf16-mixed\n"
    )
    assert run_precision(tmp_path) == "bf16-mixed" and run_precision(tmp_path / "none") is None
    assert precision_summary({"table1_single_frame": {0: "32-true", 1: "32-true"}}) == (
        "`32-true` in every training run"
    )
    mixed = {
        "table1_single_frame": {0: "32-true", 1: "32-true"},
        "table1_slow_fusion": {0: "32-true", 1: None},
    }
    assert (
        precision_summary(mixed)
        == "`32-true`: Single-Frame, Slow Fusion (seed 0); not recorded: Slow Fusion (seed 1)"
    )
    # videos: a (motion) hit, a (motion) missed, c (appearance) hit, b+c counted as b
    # (appearance, its first label) missed, one without a label in no group
    scores = torch.tensor(
        [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4]]
    )
    targets = torch.tensor([[1.0, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1], [0, 0, 0]])
    groups = {"a": "motion", "b": "appearance", "c": "appearance", "d": "both"}
    hits, counts = group_video_hits(scores, targets, ["a", "b", "c"], groups)
    assert hits == {"motion": 0.5, "appearance": 0.5} and counts == {"motion": 2, "appearance": 2}


def test_two_generated_copies_of_one_dataset_are_one_dataset(tmp_path: Path) -> None:
    """Ensemble members trained on copies of one generated set (same generator, version and
    parameters, other paths) share a dataset; other parameters or no manifest do not."""
    from deepvideo.reports.ensemble import same_dataset

    record = {"generator": "deepvideo", "version": "3", "layout": "sports1m", "seed": 0}
    for name, params in (("a", {"drift_speed": 1.5}), ("b", {"drift_speed": 1.5}), ("c", {})):
        (tmp_path / name).mkdir()
        manifest = {**record, "params": params, "created": name}
        (tmp_path / name / "manifest.json").write_text(json.dumps(manifest))
    assert same_dataset(tmp_path / "a", tmp_path / "b")
    assert not same_dataset(tmp_path / "a", tmp_path / "c")
    assert not same_dataset(tmp_path / "a", tmp_path / "missing")
    assert same_dataset(tmp_path / "missing", tmp_path / "missing")
