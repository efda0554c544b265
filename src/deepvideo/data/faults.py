"""Broken video files: reported once, counted, or refused, and checked up front.

Two pieces, for the two moments a broken file shows up:

- during a run, :class:`FaultLog`: DataLoader workers are separate processes, so the datasets do
  not log or count anything themselves; every sample carries the ``failures`` met while it was
  made (:mod:`deepvideo.data.datasets`), the batch brings them to the main process, and the
  LightningModule hands them to the DataModule's ``FaultLog``. It logs each file once, with its
  path and the reason, keeps the set of bad files per split (the counts that reach the logged
  metrics and ``metrics.json``), and with ``data.strict=true`` raises
  :class:`~deepvideo.data.video.VideoDecodeError` naming the first one instead, which the entry
  points turn into one line and exit status 2;
- before a run, :func:`check_videos`: decode every frame of every file, in parallel processes
  (``python scripts/dataset_stats.py --decode``), and write the bad ones as ``path<TAB>reason``
  (:func:`write_bad_list`, :func:`read_bad_list`: the one home of that file format). A decoder
  that crashes its process (decord can abort on some inputs instead of raising) costs only that
  file: it is reported with the signal that killed its checker, and the others are checked on.
"""

from __future__ import annotations

import concurrent.futures as futures
import logging
import multiprocessing
import os
import signal
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from deepvideo.data.video import DEFAULT_DECODER, EncodedVideo, VideoDecodeError, check_decoder

log = logging.getLogger(__name__)

__all__ = [
    "STRICT_HINT",
    "BadVideo",
    "FaultLog",
    "check_video",
    "check_videos",
    "read_bad_list",
    "write_bad_list",
]

STRICT_HINT = (
    "data.strict=true stops at the first broken file; with data.strict=false the run skips it, "
    "reports it once and counts it"
)
# frames decoded per read while checking a whole file (sequential, bounded memory)
CHUNK = 64


@dataclass(frozen=True)
class BadVideo:
    """A file that did not decode, and why."""

    path: str
    reason: str


class FaultLog:
    """The broken files a run met, per split (``train``, ``val``, ``test``): each is logged once
    (path and reason) and counted; ``strict`` raises on the first instead."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = bool(strict)
        self.bad: dict[str, dict[str, str]] = {}

    def record(self, split: str, failures: Iterable[Sequence[object]]) -> list[BadVideo]:
        """Note ``failures`` (``(video_index, path, reason)`` each) met in ``split``; returns the
        files not seen before. With ``strict``, the first failure raises ``VideoDecodeError``."""
        seen = self.bad.setdefault(split, {})
        new: list[BadVideo] = []
        for failure in failures:
            path, reason = str(failure[1]), str(failure[2])
            if self.strict:
                raise VideoDecodeError(path, f"{reason} ({STRICT_HINT})")
            if path in seen:
                continue
            seen[path] = reason
            new.append(BadVideo(path, reason))
            log.warning(
                "%s: skipping a broken video (%d in this split so far): %s: %s",
                split,
                len(seen),
                path,
                reason,
            )
        return new

    def count(self, split: str | None = None) -> int:
        """Distinct broken files met in ``split`` (all splits: ``None``)."""
        if split is not None:
            return len(self.bad.get(split, {}))
        return len({p for paths in self.bad.values() for p in paths})


def check_video(path: str | Path, decoder: str = DEFAULT_DECODER) -> BadVideo | None:
    """Decode every frame of ``path`` (in order, :data:`CHUNK` at a time); ``None`` when all
    decode, else what failed."""
    try:
        with EncodedVideo(path, backend=decoder) as video:
            for start in range(0, video.num_frames, CHUNK):
                video.get_frames(list(range(start, min(start + CHUNK, video.num_frames))))
    except VideoDecodeError as err:
        return BadVideo(str(path), err.reason)
    return None


def _check(job: tuple[str, str, str]) -> BadVideo | None:
    """A pool worker's check; ``marks/<pid>`` names the file while it is being decoded."""
    path, decoder, marks = job
    mark = Path(marks) / str(os.getpid())
    mark.write_text(path, encoding="utf-8")
    verdict = check_video(path, decoder)
    mark.unlink()
    return verdict


def _check_to(conn: Connection, path: str, decoder: str) -> None:
    conn.send(check_video(path, decoder))
    conn.close()


def _check_alone(path: str, decoder: str, context: Any) -> BadVideo | None:
    """``path`` checked in a process of its own, so that a crash is this file's."""
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_check_to, args=(send, path, decoder))
    process.start()
    send.close()
    try:
        verdict = receive.recv()
    except EOFError:  # the process died before it could answer
        verdict = None
    process.join()
    receive.close()
    code = process.exitcode or 0
    if code == 0:
        return verdict if isinstance(verdict, BadVideo) else None
    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    return BadVideo(path, f"the decoder crashed its process ({how})")


def check_videos(
    paths: Sequence[str | Path], decoder: str = DEFAULT_DECODER, workers: int = 2
) -> list[BadVideo]:
    """Decode every frame of every file in ``workers`` processes; the bad ones, in ``paths``
    order. When a decoder kills its worker, the files being decoded at that moment are checked
    again each in a process of its own (a crash there is reported with its signal) and a new pool
    checks the rest."""
    check_decoder(decoder)
    pending = [str(p) for p in paths]
    verdicts: dict[str, BadVideo | None] = {}
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with tempfile.TemporaryDirectory(prefix="deepvideo-check-") as marks:
        while pending:
            broken = False
            with futures.ProcessPoolExecutor(max(1, workers), mp_context=context) as pool:
                jobs = {pool.submit(_check, (p, decoder, marks)): p for p in pending}
                for job in futures.as_completed(jobs):
                    try:
                        verdicts[jobs[job]] = job.result()
                    except BrokenProcessPool:
                        broken = True
            if broken:
                in_flight = [m.read_text(encoding="utf-8") for m in Path(marks).iterdir()]
                for mark in Path(marks).iterdir():
                    mark.unlink()
                # no mark left (a worker died before reading a file): one file alone, then on
                for path in in_flight or [p for p in pending if p not in verdicts][:1]:
                    verdicts[path] = _check_alone(path, decoder, context)
            pending = [p for p in pending if p not in verdicts]
    return [bad for p in map(str, paths) if (bad := verdicts.get(p)) is not None]


def write_bad_list(path: str | Path, bad: Iterable[BadVideo]) -> Path:
    """Write ``path<TAB>reason`` lines (reasons on one line); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{b.path}\t{' '.join(b.reason.split())}\n" for b in bad]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def read_bad_list(path: str | Path) -> list[BadVideo]:
    """The entries of a list written by :func:`write_bad_list`."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            file, _, reason = line.partition("\t")
            out.append(BadVideo(file, reason))
    return out
