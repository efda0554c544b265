"""The data tools (dataset stats, re-encoding, downloading): the library functions behind them,
the thin CLIs in scripts/, and Sports-1M metadata."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import av
import pytest

from deepvideo.data import download, prepare
from deepvideo.data.metadata import (
    MetadataFormatError,
    VideoMetadata,
    filter_by_duration,
    load_metadata,
)
from deepvideo.data.sports1m import VideoRecord
from deepvideo.synthetic import SyntheticConfig, generate

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
TINY_SPORTS1M = SyntheticConfig(
    layout="sports1m",
    height=32,
    width=40,
    fps=8.0,
    min_seconds=1.5,
    max_seconds=2.0,
    train_per_class=2,
    test_per_class=1,
    multi_label_fraction=0.1,
)


def load_script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` as a module (registered, so its dataclasses resolve)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def start_script(name: str, *args: str | Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / f"{name}.py"), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


@pytest.fixture(scope="module")
def tiny_sports1m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sports1m") / "tiny"
    generate(root, TINY_SPORTS1M, progress=False)
    return root


# ----------------------------------------------------------------------- dataset_stats.py
def test_dataset_stats_on_official_ucf101_lists_and_synthetic_sports1m(
    tmp_path: Path, tiny_sports1m: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    gone = next((tiny_sports1m / "videos").iterdir())
    gone.unlink()  # one listed video without a file
    # both runs at once: most of the time is Python start-up and imports
    ucf = start_script("dataset_stats", "data=ucf101", f"data.root={empty}")
    s1m = start_script(
        "dataset_stats", "data=synthetic", f"data.root={tiny_sports1m}", "data.num_classes=12"
    )
    code, out, err = finish(ucf)
    assert code == 0, err
    report = json.loads(out)
    assert report["dataset"] == "UCF-101" and report["fold"] == 1 and report["num_classes"] == 101
    assert report["root"] == str(empty)
    splits = report["splits"]
    assert splits["train"]["listed"] + splits["val"]["listed"] == 9537
    assert splits["test"]["listed"] == 3783 and report["total"]["listed"] == 13320
    assert report["total"]["found"] == 0 and report["total"]["missing"] == 13320
    assert all(splits[s]["classes_listed"] == 101 for s in ("train", "val", "test"))
    assert not list(empty.iterdir())  # nothing written

    code, out, err = finish(s1m)
    assert code == 0, err
    report = json.loads(out)
    lines = {
        split: (tiny_sports1m / "original" / f"{split}_partition.txt").read_text().splitlines()
        for split in ("train", "test")
    }
    splits = report["splits"]
    assert report["num_classes"] == 12
    assert splits["train"]["listed"] + splits["val"]["listed"] == len(lines["train"])
    assert splits["test"]["listed"] == len(lines["test"]) == 12
    assert report["total"]["missing"] == 1
    assert report["total"]["found"] == len(lines["train"]) + len(lines["test"]) - 1
    multi = sum("," in line for split in lines.values() for line in split)
    assert multi > 0 and report["total"]["multi_label"] == multi


# ---------------------------------------------------------------------- prepare_videos.py
def keyframe_indices(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        packets = [(p.pts, p.is_keyframe) for p in container.demux(video=0) if p.pts is not None]
    return [i for i, (_, keyframe) in enumerate(sorted(packets)) if keyframe]


def test_prepare_videos_reencodes_resumes_and_skips_corrupt(
    tmp_path: Path, tiny_sports1m: Path
) -> None:
    src, dst = tmp_path / "raw", tmp_path / "prepared"
    (src / "ClassA").mkdir(parents=True)
    sources = sorted((tiny_sports1m / "videos").glob("*.mp4"))[:3]
    for video in sources[:2]:
        (src / video.name).write_bytes(video.read_bytes())
    (src / "ClassA" / "v_ClassA_g01_c01.mp4").write_bytes(sources[2].read_bytes())
    (src / "corrupt01234.mp4").write_bytes(b"not a video at all" * 50)
    args = (src, dst, "--short-side", "24", "--keyframe-seconds", "0.5", "--workers", "2")

    code, out, err = finish(start_script("prepare_videos", *args))
    assert code == 1  # something failed, the rest was done
    assert "done 3, skipped 0, failed 1" in out
    assert f"failed: {src / 'corrupt01234.mp4'}:" in err
    outputs = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert outputs == sorted(
        [sources[0].name, sources[1].name, "ClassA/v_ClassA_g01_c01.mp4"]
    )  # same layout, .mp4, no partial file left behind
    with av.open(str(dst / sources[0].name)) as container:
        stream = container.streams.video[0]
        assert (stream.height, stream.width) == (24, 30) and stream.codec_context.name == "h264"
        assert stream.average_rate == 8
    assert keyframe_indices(dst / sources[0].name)[:3] == [0, 4, 8]  # 0.5 s at 8 fps

    # a second run skips what is done (verifying it decodes) and redoes a removed output
    (dst / sources[1].name).unlink()
    cli = load_script("prepare_videos")
    assert cli.main([*map(str, args[:2]), "--short-side", "24", "--verify", "--quiet"]) == 1
    assert (dst / sources[1].name).is_file()


def test_prepare_videos_caps_the_frame_rate(tmp_path: Path, tiny_sports1m: Path) -> None:
    source = sorted((tiny_sports1m / "videos").glob("*.mp4"))[0]
    with av.open(str(source)) as container:
        frames_in = container.streams.video[0].frames
    target = tmp_path / "capped.mp4"
    frames = prepare.encode(source, target, prepare.EncodeOptions(short_side=24, max_fps=4))
    assert frames == (frames_in + 1) // 2
    assert prepare.decodes_a_frame(target) is None
    assert prepare.output_size(640, 360, 128) == (228, 128)
    assert prepare.output_size(64, 48, 128) == (64, 48)  # never upscaled


def test_prepare_library_on_a_generated_folder(tmp_path: Path, tiny_sports1m: Path) -> None:
    """``deepvideo.data.prepare`` works without the script: results, report and summary line."""
    src, dst = tmp_path / "raw", tmp_path / "prepared"
    src.mkdir()
    for video in sorted((tiny_sports1m / "videos").glob("*.mp4"))[:2]:
        (src / video.name).write_bytes(video.read_bytes())
    (src / ".hidden.mp4").write_bytes(b"ignored")
    (src / "notes.txt").write_text("not a video")
    assert [p.name for p in prepare.find_videos(src)] == sorted(
        p.name for p in src.glob("[!.]*.mp4")
    )
    seen: list[prepare.Result] = []
    options = prepare.EncodeOptions(short_side=16, keyframe_seconds=0.5)
    summary = prepare.prepare_videos(src, dst, options, report=seen.append)
    assert [r.status for r in summary.results] == ["done", "done"] and seen == summary.results
    assert summary.failed == 0 and summary.line().startswith(
        "prepare_videos: done 2, skipped 0, failed 0 (2 videos under"
    )
    for result in summary.results:
        assert Path(result.target).parent == dst and result.message.endswith(" frames")
        assert prepare.decodes_a_frame(Path(result.target)) is None
    again = prepare.prepare_videos(src, dst, options)
    assert [r.status for r in again.results] == ["skipped", "skipped"]
    with pytest.raises(NotADirectoryError, match="no folder .*; pass the folder holding"):
        prepare.prepare_videos(tmp_path / "absent", dst, options)
    with pytest.raises(ValueError, match="dst must differ from src"):
        prepare.prepare_videos(src, src, options)


# -------------------------------------------------------------------- download_sports1m.py
IDS = ["UDqivjS-lpI", "Drdm1WsRQwA", "AAAAAAAAAAA", "BBBBBBBBBBB", "CCCCCCCCCCC"]


class FakeDownloader:
    """Writes ``<id>.mp4`` unless the id is in ``broken``; remembers what it was asked."""

    def __init__(self, broken: set[str]) -> None:
        self.broken = broken
        self.calls: list[str] = []

    def __call__(self, video_id: str, video_dir: Path) -> Path:
        self.calls.append(video_id)
        if video_id in self.broken:
            raise RuntimeError(f"[youtube] {video_id}: Video unavailable\nmore detail")
        path = video_dir / f"{video_id}.mp4"
        path.write_bytes(b"video")
        return path


def test_download_bookkeeping_done_failed_skip_and_retry(tmp_path: Path) -> None:
    cli = load_script("download_sports1m")
    root = tmp_path / "sports1m"
    (root / "original").mkdir(parents=True)
    partition = root / "original" / "train_partition.txt"
    partition.write_text(
        "".join(f"https://www.youtube.com/watch?v={i} {n}\n" for n, i in enumerate(IDS))
        + f"https://www.youtube.com/watch?v={IDS[0]} 3\n"  # listed twice: fetched once
    )
    (root / "videos").mkdir()
    (root / "videos" / f"{IDS[2]}.webm").write_bytes(b"already here")

    fake = FakeDownloader(broken={IDS[1]})
    summary = download.download_all(root, download.partition_ids(partition), fake, workers=2)
    assert sorted(fake.calls) == sorted([IDS[0], IDS[1], IDS[3], IDS[4]])
    assert sorted(summary.done) == sorted([IDS[0], IDS[3], IDS[4]])
    assert summary.failed == [IDS[1]] and summary.skipped_present == [IDS[2]]
    state = [json.loads(line) for line in (root / download.STATE_FILE).read_text().splitlines()]
    failed = [e for e in state if e["status"] == "failed"]
    assert failed[0]["id"] == IDS[1] and failed[0]["reason"].endswith("Video unavailable")
    done = next(e for e in state if e["id"] == IDS[0])
    assert done["file"] == f"videos/{IDS[0]}.mp4"

    # restart: done and present ids are skipped, the failed one is not retried
    (root / download.STATE_FILE).open("a").write('{"id": "trunc')  # a line cut by a crash
    fake = FakeDownloader(broken=set())
    summary = download.download_all(root, download.partition_ids(partition), fake)
    assert fake.calls == [] and summary.skipped_failed == [IDS[1]]
    assert len(summary.skipped_done) == 3 and summary.skipped_present == [IDS[2]]

    # --retry-failed through the command line, with the same fake and --limit
    code = cli.main(
        [
            "--root",
            str(root),
            "--partition",
            "original/train_partition.txt",
            "--retry-failed",
            "--limit",
            "2",
        ],
        downloader=fake,
    )
    assert code == 0 and fake.calls == [IDS[1]]
    assert download.DownloadState.load(root / download.STATE_FILE).status(IDS[1]) == "done"

    # a file recorded done that has since gone is fetched again
    (root / "videos" / f"{IDS[3]}.mp4").unlink()
    fake = FakeDownloader(broken=set())
    download.download_all(root, download.partition_ids(partition), fake)
    assert fake.calls == [IDS[3]]


def test_download_without_yt_dlp_gives_a_one_line_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "yt_dlp", None)  # makes `import yt_dlp` fail
    with pytest.raises(ImportError, match=r"^yt-dlp is not installed; run `pip install"):
        download.yt_dlp_downloader()
    # the command line turns it into one line and exit status 1, after checking the partition
    cli = load_script("download_sports1m")
    partition = tmp_path / "original" / "train_partition.txt"
    partition.parent.mkdir()
    partition.write_text(f"https://www.youtube.com/watch?v={IDS[0]} 3\n")
    assert cli.main(["--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: yt-dlp is not installed") and err.count("\n") == 1


def test_download_partition_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FileNotFoundError, match=r"no partition file .*train_partition.txt; get"):
        download.resolve_partition(tmp_path, "original/train_partition.txt")
    absolute = tmp_path / "p.txt"
    absolute.write_text(f"https://www.youtube.com/watch?v={IDS[0]} 3\n")
    assert download.resolve_partition(tmp_path / "elsewhere", absolute) == absolute
    cli = load_script("download_sports1m")
    assert cli.main(["--root", str(tmp_path)]) == 2
    assert "error: no partition file" in capsys.readouterr().err
    absolute.write_text("https://www.youtube.com/watch?v=x notalabel\n")
    assert cli.main(["--root", str(tmp_path), "--partition", str(absolute)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


# ----------------------------------------------------------------------------- metadata
ENTRIES: list[dict[str, Any]] = [
    {"id": "Drdm1WsRQwA", "label487": [205], "source487": "train", "duration": 86},
    {"id": "UDqivjS-lpI", "label487": [168, 169], "duration": 1200, "width": 640, "height": 360},
    {"id": "AAAAAAAAAAA", "label487": [3], "duration": 4},
    {"id": "BBBBBBBBBBB", "label487": [4]},
]


@pytest.mark.parametrize("layout", ["list", "keyed", "lines"])
def test_metadata_layouts_and_duration_filter(tmp_path: Path, layout: str) -> None:
    path = tmp_path / f"metadata.{layout}"
    if layout == "list":
        path.write_text(json.dumps(ENTRIES))
    elif layout == "keyed":
        path.write_text(
            json.dumps({e["id"]: {k: v for k, v in e.items() if k != "id"} for e in ENTRIES})
        )
    else:
        path.write_text("\n".join(json.dumps(e) for e in ENTRIES) + "\n\n")
    metadata = load_metadata(path)
    assert metadata["Drdm1WsRQwA"] == VideoMetadata("Drdm1WsRQwA", 86.0, (205,), "train")
    assert metadata["UDqivjS-lpI"].width == 640 and metadata["BBBBBBBBBBB"].duration is None

    records = [VideoRecord(i, (0,)) for i in [*metadata, "CCCCCCCCCCC"]]
    kept, dropped = filter_by_duration(records, metadata, min_seconds=10, max_seconds=600)
    assert [r.video_id for r in kept] == ["Drdm1WsRQwA", "BBBBBBBBBBB", "CCCCCCCCCCC"]
    assert dropped == 2
    kept, dropped = filter_by_duration(records, metadata, 10, None, keep_unknown=False)
    assert [r.video_id for r in kept] == ["Drdm1WsRQwA", "UDqivjS-lpI"] and dropped == 3
    assert filter_by_duration(records, metadata)[1] == 0


def test_metadata_errors_name_the_place(tmp_path: Path) -> None:
    path = tmp_path / "metadata.jsonl"
    path.write_text(json.dumps(ENTRIES[0]) + "\n" + '{"id": "UDqivjS-lpI", "duration": \n')
    with pytest.raises(MetadataFormatError, match=rf"{path}:2: not valid JSON"):
        load_metadata(path)
    path.write_text(json.dumps([ENTRIES[0], {"id": "x", "duration": "long"}]))
    with pytest.raises(MetadataFormatError, match=r"entry 1: duration of x must be a non-negative"):
        load_metadata(path)
    with pytest.raises(ValueError, match="min_duration=9 exceeds max_duration=3"):
        filter_by_duration([], {}, 9, 3)
