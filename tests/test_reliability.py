"""Reliability (issue 14): bad video files, malformed metadata, bad configs, determinism,
atomic checkpoints, kill -9 and resume, and a soak over many epochs.

The fault files are made by the project's own tools (:mod:`deepvideo.synthetic.faults`) from the
tiny synthetic set; ``docs/reliability.md`` lists what each case produced.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import io
import json
import logging
import os
import re
import runpy
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import BinaryIO

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FAST, ROOT, compose_config, tiny_overrides
from deepvideo.checkpoint import AtomicCheckpointIO
from deepvideo.cli import run_or_exit
from deepvideo.data import build_datamodule
from deepvideo.data.datasets import drawn_epoch
from deepvideo.data.faults import check_videos, read_bad_list
from deepvideo.data.sports1m import PartitionFormatError, parse_partition
from deepvideo.data.ucf101 import SplitListError, parse_class_index, parse_split_list
from deepvideo.data.video import EncodedVideo, VideoDecodeError
from deepvideo.errors import ConfigError
from deepvideo.modules import SeedEachStep
from deepvideo.synthetic.faults import BROKEN, FAULTS, faulty_copy, write_fault
from deepvideo.training import resume_checkpoint, train

TESTS = Path(__file__).resolve().parent
# the faults that fail whatever frames are read (breaks_mid_stream fails only past its first
# frames: planted in the test split, read there with evenly spaced clips that reach its end)
ALWAYS_BROKEN = tuple(k for k in BROKEN if k != "breaks_mid_stream")
TRAIN_FAULTS = (*ALWAYS_BROKEN, "too_short")
QUIET = ["callbacks.progress_bar=null", "callbacks.model_summary=null"]


@pytest.fixture(scope="module")
def faulty(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The tiny set with every fault kind planted in its test split and the ones that always
    fail (plus a too-short video) in its training partition."""
    out = tmp_path_factory.mktemp("faulty") / "tiny"
    planted = faulty_copy(tiny_root, out, {"train": TRAIN_FAULTS, "test": FAULTS})
    return {"root": out, **planted}


def broken_paths(faulty: dict, split: str) -> set[str]:
    return {str(p) for kind, p in faulty[split].items() if kind in BROKEN}


# ------------------------------------------------------------------------ the fault files
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_every_fault_kind_on_both_decoders(tiny_root: Path, tmp_path: Path, backend: str) -> None:
    """What each kind does (docs/reliability.md): an error naming the file and saying why, at
    open or, for a stream that breaks, once it is read past its intact start; a too-short video
    decodes."""
    source = sorted((tiny_root / "videos").iterdir())[0]
    reasons = {
        "truncated": "not a readable video file",
        "empty": "the file is empty",
        "not_a_video": "not a readable video file",
        "audio_only": "no video stream",
    }
    for kind in FAULTS:
        path = write_fault(kind, tmp_path / f"{kind}.mp4", source)
        if kind in reasons:
            with pytest.raises(VideoDecodeError, match=reasons[kind]) as err:
                EncodedVideo(path, backend=backend)
            assert err.value.path == str(path) and str(path) in str(err.value)
            continue
        with EncodedVideo(path, backend=backend) as video:
            if kind == "too_short":
                assert video.num_frames == 2
                assert video.get_frames(range(10)).shape[0] == 10  # clamped, padded by sampling
                continue
            if backend == "pyav":  # the first second decodes (decord reads ahead into the
                # noise and may fail from frame 0 on: 0 to 13 of 13 on 8 files, docs)
                assert video.get_frames(range(13)).shape[0] == 13
            with pytest.raises(VideoDecodeError, match="failed after the file opened"):
                video.get_frames(range(video.num_frames))
    with EncodedVideo(source, backend=backend) as video:
        video.get_frames([0])
    with pytest.raises(ValueError, match="closed"):
        video.get_frames([0])  # the decoder was released


def test_training_and_evaluation_complete_with_bad_files(
    faulty: dict,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two DataLoader workers, one epoch over every training video, test at video level: the
    run completes; each broken file is reported once in the main process with its reason, counted
    per split (logged, in metrics.json) and left out of the video-level metrics; the too-short
    video is padded and scored."""
    caplog.set_level(logging.WARNING, logger="deepvideo.data.faults")
    overrides = [
        "model=single_frame",
        *tiny_overrides(faulty["root"]),
        *FAST,
        *QUIET,
        "data.num_workers=2",
        "data.batch_size=1",  # no batch dropped: every training video is read
        "data.train_clips_per_video=1",
        "trainer.max_epochs=1",
        "data.test_clips.mode=uniform",  # evenly spaced clips reach the broken end of a stream
    ]
    metrics = train(compose_config("train", overrides, tmp_path))
    test_broken = broken_paths(faulty, "test")
    train_broken = broken_paths(faulty, "train")  # in the training or the validation split
    assert metrics["test/skipped_videos"] == len(test_broken) == 5
    assert metrics["train/skipped_videos"] + metrics["val/skipped_videos"] == len(train_broken)
    assert metrics["data/skipped_videos"] == len(test_broken) + len(train_broken)
    assert metrics["test/videos"] == 12 - 5  # the too-short video is scored, the broken are not
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test/skipped_videos"] == 5 and written["data/skipped_videos"] == 9
    assert written["data/missing_videos"] == 0
    reports = [r.getMessage() for r in caplog.records if "skipping a broken video" in r.message]
    for path in test_broken | train_broken:
        assert sum(path in line for line in reports) == 1, (path, reports)
    assert len(reports) == 9
    too_short = str(faulty["test"]["too_short"])
    assert not any(too_short in line for line in reports)
    assert any("no video stream" in line for line in reports)
    assert "over 7 test videos (5 broken files left out" in capsys.readouterr().out


def test_strict_turns_a_bad_file_into_an_error_naming_it(
    faulty: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = [
        "model=single_frame",
        *tiny_overrides(faulty["root"]),
        *FAST,
        *QUIET,
        "data.strict=true",
        "debug=limit",
    ]
    with pytest.raises(SystemExit) as exit_:
        run_or_exit(train, compose_config("train", overrides, tmp_path))
    assert exit_.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "data.strict=true" in errors[0]
    named = re.search(r"cannot decode video (\S+):", errors[0])
    assert named and named.group(1) in broken_paths(faulty, "train") | broken_paths(faulty, "test")


def load_entry(path: Path) -> ModuleType:
    """Import a script or entry point (``scripts/x.py``, ``src/train.py``) as a module."""
    spec = importlib.util.spec_from_file_location(f"entry_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_decode_check_up_front_in_parallel_writes_the_bad_list(
    faulty: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``scripts/dataset_stats.py --decode`` (its main, in this process; the checks in 2 worker
    processes): every file decoded, the bad ones written as path<TAB>reason."""
    stats = load_entry(ROOT / "scripts" / "dataset_stats.py")
    bad_list = tmp_path / "bad.tsv"
    args = ["--decode", "--workers", "2", f"--bad-list={bad_list}", "data=synthetic"]
    code = stats.main([*args, f"data.root={faulty['root']}", "data.num_classes=12"])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    report = json.loads(out)["decode"]
    expected = broken_paths(faulty, "train") | broken_paths(faulty, "test")
    assert report["bad"] == len(expected) == 9 and report["checked"] == 60
    assert report["bad_by_split"]["test"] == 5
    listed = read_bad_list(bad_list)
    assert {b.path for b in listed} == expected
    assert all(b.reason for b in listed)
    reasons = {b.path: b.reason for b in listed}
    assert "after the file opened" in reasons[str(faulty["test"]["breaks_mid_stream"])]


def test_decode_check_survives_a_decoder_that_kills_its_process(
    faulty: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """decord can abort (SIGABRT) instead of raising: the checker names that file, with the
    signal, and checks the others (its pool processes are forked, so they see the patch)."""
    from deepvideo.data import faults

    videos = sorted(str(p) for p in (faulty["root"] / "videos").iterdir())[:8]
    victim = next(v for v in videos if v not in broken_paths(faulty, "train"))
    real = faults.check_video

    def aborting(path: str, decoder: str = "decord") -> faults.BadVideo | None:
        if path == victim:
            faulthandler.disable()  # pytest's handler would print this process's stack
            os.abort()
        return real(path, decoder)

    monkeypatch.setattr(faults, "check_video", aborting)
    bad = {b.path: b.reason for b in check_videos(videos, workers=2)}
    assert "signal SIGABRT" in bad.pop(victim)
    expected = {
        v for v in videos if v in broken_paths(faulty, "train") | broken_paths(faulty, "test")
    }
    assert set(bad) == expected


# ------------------------------------------------------------------- malformed metadata
URL = "https://www.youtube.com/watch?v="
IDS = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=11, max_size=11
)
LABELS = st.lists(st.integers(0, 486), min_size=1, max_size=3)
# printable junk without whitespace: a malformed token
JUNK = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1)


def _line(video_id: str, labels: Sequence[int]) -> str:
    return f"{URL}{video_id} {','.join(map(str, labels))}"


BAD_PARTITION_LINES = st.one_of(
    st.builds(
        lambda v, j: f"{URL}{v} {j}",
        IDS,
        JUNK.filter(lambda j: not re.fullmatch(r"[0-9]+(,[0-9]+)*", j)),
    ),
    st.builds(lambda v, n: f"{URL}{v} {n}", IDS, st.integers(487, 10**6)),
    st.builds(lambda v: f"{URL}{v} 3,,5", IDS),
    st.builds(
        lambda j: f"https://example.com/{j} 3",
        JUNK.filter(lambda j: not any(s in j for s in ("v=", "embed", "shorts"))),
    ),
    st.builds(lambda v: f"{URL}{v}", IDS),
    st.just(""),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    good=st.lists(st.tuples(IDS, LABELS), min_size=1, max_size=8),
    bad=BAD_PARTITION_LINES,
    where=st.integers(0, 8),
)
def test_partition_parser_fuzz(tmp_path: Path, good: list, bad: str, where: int) -> None:
    """Good lines parse to their ids and labels; one bad line anywhere (an empty one between
    entries included) raises PartitionFormatError naming the file and that line, never another
    exception; trailing blank lines are fine."""
    lines = [_line(v, labels) for v, labels in good]
    path = tmp_path / "train_partition.txt"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    records = parse_partition(path, num_classes=487)
    assert [(r.video_id, r.labels) for r in records] == [
        (v, tuple(sorted(set(labels)))) for v, labels in good
    ]
    position = min(where, len(lines) - 1)  # before the last entry: an empty line is malformed
    lines.insert(position, bad)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PartitionFormatError) as err:
        parse_partition(path, num_classes=487)
    message = str(err.value)
    assert f"{path}:{position + 1}:" in message
    # the value is named (as repr() writes it), or the rule it breaks
    named = any(repr(part)[1:-1] in message for part in bad.split())
    assert named or "outside" in message or "empty line" in message


CLASSES = ["ApplyEyeMakeup", "YoYo", "Zumba"]
CLIP = st.tuples(st.sampled_from(CLASSES), st.integers(1, 25), st.integers(1, 7))
BAD_SPLIT_LINES = st.one_of(
    st.builds(lambda g: f"Juggling/v_Juggling_g{g:02d}_c01.avi 1", st.integers(1, 25)),
    st.builds(
        lambda j: f"YoYo/v_YoYo_g01_c01.avi {j}",
        JUNK.filter(lambda j: not (j.isascii() and j.isdigit() and int(j) == 2)),
    ),
    st.builds(lambda n: f"YoYo/v_YoYo_g01_c01.avi {n}", st.integers(4, 10**6)),
    st.builds(lambda j: f"{j} 1", JUNK.filter(lambda j: "/" not in j)),
    st.just(""),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    good=st.lists(CLIP, min_size=1, max_size=8, unique=True),
    bad=BAD_SPLIT_LINES,
    where=st.integers(0, 8),
    crlf=st.booleans(),
)
def test_split_list_parser_fuzz(
    tmp_path: Path, good: list, bad: str, where: int, crlf: bool
) -> None:
    """UCF-101 split lists (CRLF as shipped, or LF): good lines parse; one bad line (an unknown
    class, a non-integer or out-of-range label, a bad path, an empty line, a repeat) raises
    SplitListError naming the file and the line."""
    newline = "\r\n" if crlf else "\n"
    lines = [f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi {CLASSES.index(c) + 1}" for c, g, k in good]
    path = tmp_path / "trainlist01.txt"
    path.write_bytes((newline.join(lines) + newline).encode())
    clips = parse_split_list(path, CLASSES)
    assert [(c.class_name, c.group, c.clip) for c in clips] == good
    position = min(where, len(lines) - 1)
    for line in (bad, lines[-1]):  # the bad line, then a repeat of the last one
        broken = [*lines]
        broken.insert(position if line == bad else len(lines), line)
        path.write_bytes((newline.join(broken) + newline).encode())
        with pytest.raises(SplitListError) as err:
            parse_split_list(path, CLASSES)
        line_number = position + 1 if line == bad else len(lines) + 1
        assert f"{path}:{line_number}:" in str(err.value)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(count=st.integers(2, 12), drop=st.integers(0, 11), junk=JUNK)
def test_class_index_fuzz(tmp_path: Path, count: int, drop: int, junk: str) -> None:
    """classInd.txt lists 1..N: a gap, junk in place of an index, or a repeated name raises
    naming the line; the file as written parses."""
    names = [f"Class{i}" for i in range(1, count + 1)]
    lines = [f"{i} {n}" for i, n in enumerate(names, start=1)]
    path = tmp_path / "classInd.txt"
    path.write_text("\r\n".join(lines) + "\r\n")
    assert parse_class_index(path) == names
    drop = min(drop, count - 2)  # a gap: one index missing, not the last
    path.write_text("\r\n".join(lines[:drop] + lines[drop + 1 :]) + "\r\n")
    with pytest.raises(SplitListError, match=rf"{re.escape(str(path))}:{drop + 1}:.*gap"):
        parse_class_index(path)
    path.write_text("\r\n".join([*lines, f"{junk} Extra"]) + "\r\n")
    if not (junk.isascii() and junk.isdigit()):
        with pytest.raises(SplitListError, match=rf"{re.escape(str(path))}:{count + 1}:"):
            parse_class_index(path)


# -------------------------------------------------------------------------- bad configs
@pytest.fixture(scope="module")
def other_model_checkpoint(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deepvideo checkpoint of a single-frame net (weights and stored config, no training)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    out = tmp_path_factory.mktemp("ckpt")
    cfg = compose_config("train", ["model=single_frame", *tiny_overrides(tiny_root)], out)
    net = instantiate(cfg.model.net)
    OmegaConf.update(cfg, "paths.output_dir", str(out))
    path = out / "single_frame.ckpt"
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "deepvideo": {"config": OmegaConf.to_container(cfg, resolve=True)},
        },
        path,
    )
    return path


def test_bad_configs_fail_at_start_up_with_one_line(
    tiny_root: Path,
    tmp_path: Path,
    other_model_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each case: exit status 2, one `error:` line saying what to change, no traceback; all of
    them stop before a DataLoader worker starts (num_workers=2). The tasks run in this process
    as the entry points run them (through run_or_exit); the unknown model, which Hydra refuses
    before any task, goes through the entry point run as a script (main_or_exit)."""
    from deepvideo.evaluation import evaluate

    data = [*tiny_overrides(tiny_root), "data.num_workers=2", f"paths.log_dir={tmp_path}"]
    cases = {
        "crop larger than the frame": (
            train,
            "train",
            ["model=single_frame", "data.sizes.crop=100", *data],
            ["crop_size 100 is larger than resize 72", "data.sizes.resize"],
        ),
        "0 frames": (train, "train", ["model.clip.num_frames=0", *data], ["num_frames=0"]),
        "fusion with fewer frames than its temporal extent": (
            train,
            "train",
            ["model=slow_fusion", "model.clip.num_frames=6", *data],
            ["SlowFusion: 6 input frames are too few"],
        ),
        "missing data root": (
            train,
            "train",
            ["data=ucf101", f"data.root={tmp_path / 'nowhere'}"],
            [str(tmp_path / "nowhere"), "data=synthetic"],
        ),
        "eval of another model's checkpoint": (
            evaluate,
            "eval",
            [f"ckpt_path={other_model_checkpoint}", "model=slow_fusion", *data],
            ["holds model=single_frame", "not model=slow_fusion"],
        ),
        "resume from another model's checkpoint": (
            train,
            "train",
            ["model=slow_fusion", f"ckpt_path={other_model_checkpoint}", *data],
            ["cannot resume", "model=single_frame", "features.conv1"],
        ),
    }
    for name, (task, config, overrides, fragments) in cases.items():
        cfg = compose_config(config, overrides, tmp_path / name.replace(" ", "_"))
        with pytest.raises(SystemExit) as exit_:
            run_or_exit(task, cfg)
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert exit_.value.code == 2, name
        assert len(errors) == 1 and "Traceback" not in err, (name, err[-3000:])
        for fragment in fragments:
            assert fragment in errors[0], (name, errors[0])
    # the entry point itself, as `python src/train.py model=slowfusion ...` runs it
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["train.py", "model=slowfusion", *data])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")  # as main_or_exit sets it; undone after the test
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(ROOT / "src" / "train.py"), run_name="__main__")
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert exit_.value.code == 2 and len(errors) == 1, err[-3000:]
    assert "Could not find 'model/slowfusion'" in errors[0] and "slow_fusion" in errors[0]
    assert "Config search path" not in errors[0]


# ---------------------------------------------------------------------------- determinism
def test_same_seed_same_metrics_with_loader_workers(
    tiny_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Same seed, same files, same machine: two CPU runs with two DataLoader workers end with
    identical metrics (loss, accuracies), and so does a run with none: an epoch's order, clips,
    crops and dropout come from (seed, epoch, item / step), not from which worker read what."""
    base = [
        "model=single_frame",
        *tiny_overrides(tiny_root),
        *FAST,
        *QUIET,
        "trainer.max_epochs=2",
        "data.train_clips_per_video=2",
        "data.recipe.dropout=0.5",
    ]
    with caplog.at_level(logging.WARNING, logger="deepvideo.modules.callbacks"):
        runs = [
            train(compose_config("train", [*base, f"data.num_workers={w}"], tmp_path / f"run{i}"))
            for i, w in enumerate((2, 2, 0))
        ]
    assert "reads the batches drawn" not in caplog.text  # every epoch read its own draws
    # wall-clock figures (clips/s, seconds) are measurements, not results
    runs = [{k: v for k, v in r.items() if not is_timing(k)} for r in runs]
    assert runs[0]["train/loss_epoch"] > 0 and runs[0]["test/videos"] == 12
    assert runs[1] == runs[0]
    assert runs[2] == runs[0]


def is_timing(metric: str) -> bool:
    return metric.startswith("time/") or metric.endswith("_per_s")


# ---------------------------------------------------------------- checkpoints and resume
def test_a_kill_during_a_checkpoint_save_leaves_the_previous_one(tmp_path: Path) -> None:
    """SIGKILL with half of the new checkpoint written: the old file is intact and loads."""
    target = tmp_path / "last.ckpt"
    writer = AtomicCheckpointIO()
    writer.save_checkpoint({"epoch": 0, "w": torch.zeros(1000)}, target)
    pid = os.fork()
    if pid == 0:  # the child dies in the middle of writing epoch 1
        real = torch.save

        def dying(obj: object, f: BinaryIO, *args: object, **kwargs: object) -> None:
            buffer = io.BytesIO()
            real(obj, buffer)
            f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        torch.save = dying  # type: ignore[assignment]
        writer.save_checkpoint({"epoch": 1, "w": torch.ones(1000)}, target)
        os._exit(0)  # not reached
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    kept = torch.load(target, weights_only=False)
    assert kept["epoch"] == 0 and torch.equal(kept["w"], torch.zeros(1000))
    partial = list(tmp_path.glob(".last.ckpt.*.partial"))
    assert len(partial) == 1 and partial[0].stat().st_size > 0  # half-written, not the real name
    writer.save_checkpoint({"epoch": 2}, target)
    assert torch.load(target, weights_only=False)["epoch"] == 2
    assert not list(tmp_path.glob(".last.ckpt.*.partial"))  # the next save cleans it up


def test_ckpt_path_last_resolves_to_the_run_to_resume(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from omegaconf import OmegaConf

    logs = tmp_path / "logs"
    cfg = compose_config(
        "train", ["ckpt_path=last", f"paths.log_dir={logs}", "seed=3"], tmp_path / "new_run"
    )
    identity = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(identity, dict)

    def run(name: str, seed: int, age: float) -> Path:
        path = logs / "train" / "runs" / name / "checkpoints" / "last.ckpt"
        path.parent.mkdir(parents=True)
        torch.save({"deepvideo": {"config": {**identity, "seed": seed}}}, path)
        os.utime(path, (time.time() - age, time.time() - age))
        return path

    with caplog.at_level(logging.WARNING, logger="deepvideo.training"):
        assert resume_checkpoint(cfg) is None  # nothing to resume: a fresh start, said so
    assert "training from the start" in caplog.text
    older = run("older", seed=3, age=100)
    run("newer_other_seed", seed=4, age=10)
    assert resume_checkpoint(cfg) == older  # the newest run of this model, data and seed
    own = tmp_path / "new_run" / "checkpoints" / "last.ckpt"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"")
    assert resume_checkpoint(cfg) == own  # this run directory's own checkpoint first
    missing = compose_config("train", [f"ckpt_path={tmp_path / 'no.ckpt'}"], tmp_path)
    with pytest.raises(ConfigError, match="no.ckpt does not exist"):
        resume_checkpoint(missing)


@pytest.mark.parametrize("together", [False, True])
def test_a_resumed_run_draws_the_checkpoint_epoch_before_its_loops_are_restored(
    tiny_root: Path, tmp_path: Path, together: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Resuming with a per-step schedule, Lightning builds the training loader and its first
    iterator before it restores its loops (configure_optimizers' estimated_stepping_batches;
    Lightning #20550): the loader must start at the checkpoint's epoch from the DataModule's own
    state, or the resumed epoch repeats epoch 0's batches. A loader that still got it wrong is
    said so at the start of the epoch."""
    overrides = [
        *tiny_overrides(tiny_root),
        "data.train_clips_per_video=2",
        f"data.train_clips_together={str(together).lower()}",
    ]
    cfg = compose_config("train", overrides, tmp_path)

    def order(loader: object) -> list:
        keys = loader.batch_sampler if together else loader.sampler  # type: ignore[attr-defined]
        return list(keys)

    fresh = build_datamodule(cfg.data, stage="fit")
    assert fresh.state_dict() == {}  # no trainer: nothing to resume
    uninterrupted = fresh.train_dataloader()
    uninterrupted.batch_sampler.set_epoch(2) if together else uninterrupted.sampler.set_epoch(2)
    resumed_dm = build_datamodule(cfg.data, stage="fit")
    resumed_dm.load_state_dict({"train_epoch": 2})  # what Lightning restores first
    resumed = resumed_dm.train_dataloader()
    assert order(resumed) == order(uninterrupted) != order(fresh.train_dataloader())
    assert drawn_epoch(resumed) == 2
    check = SeedEachStep(0)
    with caplog.at_level(logging.WARNING, logger="deepvideo.modules.callbacks"):
        check.check_epoch(SimpleNamespace(train_dataloader=resumed, current_epoch=2))
        assert "reads the batches drawn" not in caplog.text
        check.check_epoch(SimpleNamespace(train_dataloader=resumed, current_epoch=3))
    assert "training epoch 3 reads the batches drawn for epoch 2" in caplog.text


def cli(args: Sequence[str], timeout: int = 600) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(TESTS)]),
        "PYTHONWARNINGS": "ignore",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "src" / "train.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.slow
def test_kill_9_and_resume_ends_with_the_uninterrupted_metrics(
    tiny_root: Path, tmp_path: Path
) -> None:
    """Three runs of the same recipe (3 epochs, dropout 0.5, 2 loader workers, CPU, seed 0):
    uninterrupted; SIGKILLed in the middle of epoch 1 and resumed with ckpt_path=last; SIGKILLed
    in the middle of writing epoch 1's last.ckpt and resumed. All three end with equal metrics,
    and bit-identical weights, momentum buffers and LR-scheduler state."""
    base = [
        "model=single_frame",
        *tiny_overrides(tiny_root),
        *FAST,
        *QUIET,
        "data.num_workers=2",
        "trainer.max_epochs=3",
        "data.train_clips_per_video=2",
        "data.recipe.dropout=0.5",
    ]

    def run_dir(name: str) -> list[str]:
        return [f"hydra.run.dir={tmp_path / name}"]

    start = time.perf_counter()
    plain = cli([*base, *run_dir("plain")])
    assert plain.returncode == 0, plain.stderr[-3000:]
    expected = json.loads((tmp_path / "plain" / "metrics.json").read_text())

    kills = {
        "killed": "+callbacks.kill._target_=reliability_helpers.KillAt",
        "killed_saving": "+callbacks.kill._target_=reliability_helpers.KillDuringSave",
    }
    for name, killer in kills.items():
        extra = ["+callbacks.kill.epoch=1"]
        if name == "killed":
            extra.append("+callbacks.kill.batch=2")
        died = cli([*base, *run_dir(name), killer, *extra])
        assert died.returncode == -signal.SIGKILL, died.stderr[-3000:]
        last = tmp_path / name / "checkpoints" / "last.ckpt"
        saved = torch.load(last, map_location="cpu", weights_only=False)
        assert saved["epoch"] == 0 and saved["global_step"] > 0  # epoch 0's, whole
        assert not (tmp_path / name / "metrics.json").exists()
        resumed = cli([*base, *run_dir(name), "ckpt_path=last"])
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "resuming" in resumed.stdout + resumed.stderr
        assert "reads the batches drawn" not in resumed.stdout + resumed.stderr
        got = json.loads((tmp_path / name / "metrics.json").read_text())
        got = {k: v for k, v in got.items() if not is_timing(k)}
        want = {k: v for k, v in expected.items() if not is_timing(k)}
        assert got == want, {k: (want.get(k), got.get(k)) for k in want}
        # and the final states themselves: weights, optimizer (momentum), LR scheduler, loops
        a, b = (
            torch.load(d / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
            for d in (tmp_path / "plain", tmp_path / name)
        )
        assert (
            (a["epoch"], a["global_step"])
            == (b["epoch"], b["global_step"])
            == (2, b["global_step"])
        )
        assert all(torch.equal(a["state_dict"][k], v) for k, v in b["state_dict"].items())
        momentum = [
            (s_["momentum_buffer"], t["momentum_buffer"])
            for s_, t in zip(
                a["optimizer_states"][0]["state"].values(),
                b["optimizer_states"][0]["state"].values(),
                strict=True,
            )
        ]
        assert momentum and all(torch.equal(x, y) for x, y in momentum)
        assert a["lr_schedulers"] == b["lr_schedulers"]
    print(f"kill/resume: 5 runs in {time.perf_counter() - start:.0f} s; metrics {expected}")


# ------------------------------------------------------------------------------- the soak
@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_soak_memory_stays_flat_over_epochs_with_bad_files(
    faulty: dict, tmp_path: Path, decoder: str
) -> None:
    """24 epochs over the tiny set with its 9 broken files (every epoch reads each again), two
    persistent loader workers per loader: the resident memory of the training process and of the
    workers stops growing (decoders are closed). decord's workers sometimes gain up to ~40 MiB
    over the first ~12 epochs, then stay flat (docs/reliability.md); with main's unclosed PyAV
    containers the workers grew 118 MiB over the same 24 epochs, which the second check refuses."""
    memory = tmp_path / "memory.json"
    epochs = 24
    overrides = [
        "model=single_frame",
        *tiny_overrides(faulty["root"]),
        *FAST,
        *QUIET,
        f"data.decoder={decoder}",
        "data.num_workers=2",
        f"trainer.max_epochs={epochs}",
        "data.train_clips_per_video=2",
        "test=false",
        "+callbacks.memory._target_=reliability_helpers.MemoryLog",
        f"+callbacks.memory.path={memory}",
    ]
    start = time.perf_counter()
    metrics = train(compose_config("train", overrides, tmp_path))
    rows = json.loads(memory.read_text())
    assert len(rows) == epochs and all(r["workers"] >= 2 for r in rows)
    assert metrics["train/skipped_videos"] + metrics["val/skipped_videos"] == 4
    main = [r["main_kib"] / 1024 for r in rows]
    workers = [r["workers_kib"] / 1024 for r in rows]
    print(
        f"soak ({decoder}, {epochs} epochs, {time.perf_counter() - start:.0f} s): main RSS MiB "
        f"{[round(m) for m in main]}; workers RSS MiB {[round(w) for w in workers]}"
    )
    # after a warm-up (allocator arenas, decoder buffers): flat over the last third of the run,
    # and bounded overall
    for series in (main, workers):
        assert series[-1] - series[-8] < 4, series
        assert max(series) - series[0] < 64, series
