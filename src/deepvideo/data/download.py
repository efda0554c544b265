"""Downloading the videos of a Sports-1M partition, resumably (yt-dlp is an optional extra).

Reads a partition file (``URL<space><CSV of labels>``, Karpathy et al. 2014, Sec. 4.1) and writes
``<root>/videos/<id>.<ext>``, the layout ``data=sports1m data.root=<root>`` reads. About 7% of the
URLs no longer resolve; such failures are recorded, not fatal. Every outcome is appended to
``<root>/download_state.jsonl`` (``{"id", "status": "done"|"failed", "reason", "file", "time"}``,
the last line of an id wins), so a restart skips the ids already done and the ids whose file is
already in ``videos/``, and retries the failed ones only when asked (``retry_failed``). The
fetching itself is a :data:`Downloader`, so tests pass a fake; :func:`yt_dlp_downloader` is the
real one. ``scripts/download_sports1m.py`` is the command line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepvideo.data.sports1m import index_videos, parse_partition

STATE_FILE = "download_state.jsonl"
VIDEO_DIR = "videos"
# One progressive (audio+video) file, so no ffmpeg is needed to merge streams; 360p is enough for
# the paper's 200-pixel frames.
DEFAULT_FORMAT = "best[height<=360][ext=mp4]/best[height<=360]/best"
YOUTUBE_URL = "https://www.youtube.com/watch?v="
# Labels above this would be rejected by parse_partition; Sports-1M has 487 classes.
NUM_CLASSES = 487

Downloader = Callable[[str, Path], Path]
"""``downloader(video_id, video_dir) -> file written``; raises :class:`DownloadFailed` (or any
exception) with the reason when the video cannot be fetched."""


class DownloadFailed(RuntimeError):
    """One video could not be downloaded; the message is the reason recorded in the state."""


@dataclass
class DownloadState:
    """The append-only ``download_state.jsonl``: the last recorded outcome of every id."""

    path: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the file ends in a line cut short (an interrupted run): start the next record on a new line
    cut_short: bool = False

    @classmethod
    def load(cls, path: Path) -> DownloadState:
        state = cls(path)
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            state.cut_short = bool(text) and not text.endswith("\n")
            for raw in text.splitlines():
                try:
                    entry = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interrupted run: that id is simply redone
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    state.entries[entry["id"]] = entry
        return state

    def status(self, video_id: str) -> str | None:
        entry = self.entries.get(video_id)
        return None if entry is None else str(entry.get("status"))

    def record(self, video_id: str, status: str, reason: str = "", file: str = "") -> None:
        entry = {
            "id": video_id,
            "status": status,
            "reason": reason,
            "file": file,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.entries[video_id] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(("\n" if self.cut_short else "") + json.dumps(entry) + "\n")
        self.cut_short = False


@dataclass
class Summary:
    """What one run did, per id: downloaded, failed, or skipped (and why)."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped_done: list[str] = field(default_factory=list)
    skipped_present: list[str] = field(default_factory=list)
    skipped_failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"download_sports1m: done {len(self.done)}, failed {len(self.failed)}, skipped "
            f"{len(self.skipped_done)} already done, {len(self.skipped_present)} already present, "
            f"{len(self.skipped_failed)} failed before (--retry-failed retries them)"
        )


def partition_ids(path: Path, limit: int | None = None) -> list[str]:
    """The distinct video ids of a partition file, in file order (the first ``limit`` of them)."""
    ids = list(dict.fromkeys(r.video_id for r in parse_partition(path, NUM_CLASSES)))
    return ids if limit is None else ids[:limit]


def plan(
    ids: Iterable[str], state: DownloadState, present: Iterable[str], retry_failed: bool
) -> tuple[list[str], Summary]:
    """The ids to fetch now, and a summary holding those skipped (done, present, failed before)."""
    summary = Summary()
    have = set(present)
    todo: list[str] = []
    for video_id in ids:
        status = state.status(video_id)
        if status == "done" and video_id in have:
            summary.skipped_done.append(video_id)
        elif video_id in have:
            summary.skipped_present.append(video_id)
        elif status == "failed" and not retry_failed:
            summary.skipped_failed.append(video_id)
        else:  # new, failed (retrying), or recorded done but its file has gone: fetch again
            todo.append(video_id)
    return todo, summary


def download_all(
    root: Path,
    ids: Sequence[str],
    downloader: Downloader,
    workers: int = 1,
    retry_failed: bool = False,
    report: Callable[[str], None] | None = None,
) -> Summary:
    """Fetch ``ids`` into ``<root>/videos`` with ``downloader``, recording each outcome at once."""
    video_dir = root / VIDEO_DIR
    video_dir.mkdir(parents=True, exist_ok=True)
    state = DownloadState.load(root / STATE_FILE)
    todo, summary = plan(ids, state, index_videos(video_dir), retry_failed)

    def fetch(video_id: str) -> tuple[str, Path | None, str]:
        try:
            return video_id, downloader(video_id, video_dir), ""
        except Exception as err:  # one bad video never stops the batch
            lines = str(err).strip().splitlines()
            return video_id, None, lines[0] if lines else type(err).__name__

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for future in as_completed([pool.submit(fetch, video_id) for video_id in todo]):
            video_id, path, reason = future.result()  # the state is written by this thread only
            if path is not None:
                state.record(video_id, "done", file=str(path.relative_to(root)))
                summary.done.append(video_id)
            else:
                state.record(video_id, "failed", reason=reason)
                summary.failed.append(video_id)
                if report is not None:
                    report(f"failed: {video_id}: {reason}")
    return summary


def yt_dlp_downloader(video_format: str = DEFAULT_FORMAT) -> Downloader:
    """A :data:`Downloader` backed by yt-dlp (imported here: it is an optional extra).

    Raises ``ImportError`` saying how to install it when yt-dlp is missing.
    """
    try:
        import yt_dlp
    except ImportError:
        raise ImportError(
            "yt-dlp is not installed; run `pip install -e '.[download]'` (or "
            "`pip install yt-dlp`) and retry"
        ) from None

    def download(video_id: str, video_dir: Path) -> Path:
        options = {
            "format": video_format,
            "outtmpl": str(video_dir / f"{video_id}.%(ext)s"),
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "noplaylist": True,
            "retries": 3,
        }
        try:
            with yt_dlp.YoutubeDL(options) as ydl:
                ydl.download([YOUTUBE_URL + video_id])
        except Exception as err:  # yt_dlp.utils.DownloadError and network errors
            raise DownloadFailed(str(err).replace("ERROR: ", "", 1)) from None
        files = [p for p in video_dir.glob(f"{video_id}.*") if p.suffix not in (".part", ".ytdl")]
        if not files:
            raise DownloadFailed("yt-dlp reported success but wrote no file")
        return files[0]

    return download


def resolve_partition(root: Path, partition: str | Path) -> Path:
    """``partition`` relative to ``root`` (unless absolute); ``FileNotFoundError`` if missing."""
    path = Path(partition)
    if not path.is_absolute():
        path = Path(root) / path
    if not path.is_file():
        raise FileNotFoundError(
            f"no partition file {path}; get original/ and cross-validation/ from "
            "https://github.com/gtoderici/sports-1m-dataset into --root"
        )
    return path
