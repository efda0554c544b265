"""Re-encoding downloaded videos for fast training (H.264, small, many keyframes).

Every ``<src>/<path>.<ext>`` becomes ``<dst>/<path>.mp4`` (the id-based Sports-1M layout
``<id>.mp4`` and UCF-101's ``<ClassName>/<clip>.mp4`` alike): video only (audio is dropped),
scaled so that its short side is ``short_side`` (never upscaled), a keyframe every
``keyframe_seconds`` so that a random clip read seeks to a keyframe close by, optionally at most
``max_fps`` frames per second. Karpathy et al. 2014 (Sec. 3.3) resize frames to 200 px before the
170 px crop: ``short_side=200`` trains at paper resolution; 128 gives a much faster data loader.

Resumable: each output is written under a temporary name and renamed when complete, so a file at
the final name is complete and is skipped on the next run (``verify`` also decodes one frame of it,
and of every new output, and redoes a file that does not decode). A broken input is reported with
its path and skipped; it never stops the batch. ``scripts/prepare_videos.py`` is the command line.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from deepvideo.data.video import VIDEO_EXTENSIONS

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class EncodeOptions:
    """How every video is re-encoded (see the module docstring)."""

    short_side: int = 128
    keyframe_seconds: float = 1.0
    max_fps: float | None = None
    crf: int = 23
    preset: str = "veryfast"
    verify: bool = False
    threads: int = 1


@dataclass(frozen=True)
class Result:
    """What happened to one input: ``done``, ``skipped`` or ``failed`` (with the reason)."""

    status: str
    source: str
    target: str
    message: str = ""


def find_videos(src: Path, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """Every video file under ``src`` (recursively; hidden and partial files left out), sorted."""
    allowed = {e.lower() for e in extensions}
    found = []
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in allowed:
                found.append(Path(folder) / name)
    return sorted(found)


def target_for(source: Path, src: Path, dst: Path) -> Path:
    """``<dst>/<path relative to src>.mp4``."""
    return (dst / source.relative_to(src)).with_suffix(".mp4")


def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) scaled so the short side is ``short_side`` (never up), both even."""
    scale = min(1.0, short_side / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def decodes_a_frame(path: Path) -> str | None:
    """``None`` if ``path`` decodes at least one video frame, else the reason."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "no video stream"
            for _ in container.decode(video=0):
                return None
        return "no video frame decodes"
    except Exception as err:  # PyAV raises av.error.* and plain OSError/ValueError
        return _first_line(err)


def frames_at_rate(
    reader: Any, max_fps: float | None = None, threads: int = 1
) -> tuple[Fraction, Iterator[tuple[int, float, Any]]]:
    """The output rate of the first video stream of an open PyAV ``reader`` (its own rate, or
    ``max_fps`` when lower) and its decoded frames at that rate, as ``(output index, seconds,
    frame)``. The output index comes from the frame's own time, which keeps the timing of
    variable-rate inputs; when capping the rate, the first frame of each output period is kept
    and the others dropped. Shared by re-encoding and optical flow (:mod:`deepvideo.data.flow`).
    """
    if not reader.streams.video:
        raise ValueError("no video stream")
    in_stream = reader.streams.video[0]
    in_stream.thread_type = "AUTO"
    in_stream.codec_context.thread_count = threads
    in_rate = Fraction(in_stream.average_rate or in_stream.guessed_rate or 25)
    out_rate = in_rate
    if max_fps is not None and in_rate > max_fps:
        out_rate = Fraction(max_fps).limit_denominator(1001)

    def frames() -> Iterator[tuple[int, float, Any]]:
        last_pts = None
        for index, frame in enumerate(reader.decode(in_stream)):
            seconds = frame.time if frame.time is not None else float(index / in_rate)
            ticks = seconds * out_rate
            pts = math.floor(ticks + 1e-3) if out_rate < in_rate else round(ticks)
            if last_pts is not None and pts <= last_pts:
                continue
            last_pts = pts
            yield pts, seconds, frame

    return out_rate, frames()


def encode(source: Path, partial: Path, options: EncodeOptions) -> int:
    """Re-encode ``source`` into ``partial`` (MP4, H.264); returns the number of frames written."""
    import av

    with av.open(str(source)) as reader:
        out_rate, frames = frames_at_rate(reader, options.max_fps, options.threads)
        gop = max(1, round(options.keyframe_seconds * out_rate))
        written = 0
        with av.open(str(partial), "w", format="mp4") as writer:
            out_stream = None
            for pts, _, frame in frames:
                if out_stream is None:
                    width, height = output_size(frame.width, frame.height, options.short_side)
                    out_stream = writer.add_stream("libx264", rate=out_rate)
                    out_stream.width, out_stream.height = width, height
                    out_stream.pix_fmt = "yuv420p"
                    out_stream.codec_context.time_base = 1 / out_rate
                    out_stream.codec_context.thread_count = options.threads
                    out_stream.options = {
                        "crf": str(options.crf),
                        "preset": options.preset,
                        "g": str(gop),
                        "keyint_min": str(gop),
                    }
                    first_pts = pts
                image = frame.reformat(width, height, format="yuv420p", interpolation="AREA")
                image.pts = pts - first_pts
                image.time_base = 1 / out_rate
                for packet in out_stream.encode(image):
                    writer.mux(packet)
                written += 1
            if out_stream is None:
                raise ValueError("no video frame decodes")
            for packet in out_stream.encode():
                writer.mux(packet)
    return written


def prepare_one(job: tuple[Path, Path, EncodeOptions]) -> Result:
    """Re-encode one video unless its output exists (and, with ``verify``, decodes)."""
    source, target, options = job
    return resumable(
        source, target, lambda partial: f"{encode(source, partial, options)} frames", options.verify
    )


def resumable(
    source: Path, target: Path, write: Callable[[Path], str], verify: bool = False
) -> Result:
    """Make ``target`` from ``source`` the resumable way, unless it exists (and, with ``verify``,
    decodes): ``write(partial)`` writes a temporary file next to it and returns what it did;
    the file is renamed to ``target`` only when complete (and, with ``verify``, decoding), so a
    file at the final name is always complete. Any exception becomes a ``failed`` result with
    its reason and the partial file is removed. Shared by re-encoding and optical flow
    (:mod:`deepvideo.data.flow`)."""
    if target.is_file():
        problem = decodes_a_frame(target) if verify else None
        if problem is None:
            return Result("skipped", str(source), str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(target)
    partial = target.with_name(f".{target.name}{PARTIAL_SUFFIX}-{os.getpid()}")
    try:
        message = write(partial)
        if verify:
            problem = decodes_a_frame(partial)
            if problem is not None:
                raise ValueError(f"the written file does not decode: {problem}")
        os.replace(partial, target)
    except Exception as err:
        partial.unlink(missing_ok=True)
        return Result("failed", str(source), str(target), _first_line(err))
    return Result("done", str(source), str(target), message)


def remove_stale_partials(target: Path) -> list[Path]:
    """Delete the partial files of ``target`` left by a process that no longer runs (a killed
    run: its partial file is named after its process id); returns what was deleted."""
    removed = []
    for partial in target.parent.glob(f".{target.name}{PARTIAL_SUFFIX}-*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            partial.unlink(missing_ok=True)
            removed.append(partial)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def folder_jobs(src: Path, dst: Path, options: Any) -> list[tuple[Path, Path, Any]]:
    """``(source, target, options)`` for every video under ``src`` (:func:`find_videos`)."""
    return [(source, target_for(source, src, dst), options) for source in find_videos(src)]


def run_jobs(
    function: Callable[[tuple[Path, Path, Any]], Result],
    jobs: Sequence[tuple[Path, Path, Any]],
    workers: int = 1,
    progress: str | None = None,
) -> Iterator[Result]:
    """``function(job)`` for every ``(source, target, options)`` job, ``workers`` processes at a
    time (results in completion order); ``progress``: a progress bar with this label on stderr.
    A worker process that dies (a crash in a native library) fails its jobs with the reason
    instead of ending the run: every job comes back as a result."""
    bar = None
    if progress is not None:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=progress, unit="video", file=sys.stderr)
    try:
        if workers <= 1:
            for job in jobs:
                result = function(job)
                if bar is not None:
                    bar.update()
                yield result
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(function, job): job for job in jobs}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as err:  # BrokenProcessPool: the worker died
                    source, target = futures[future][:2]
                    result = Result("failed", str(source), str(target), _first_line(err))
                if bar is not None:
                    bar.update()
                yield result
    finally:
        if bar is not None:
            bar.close()


def prepare_folder(
    src: Path, dst: Path, options: EncodeOptions, workers: int = 1
) -> Iterator[Result]:
    """Re-encode every video under ``src`` into ``dst``, ``workers`` processes at a time."""
    yield from run_jobs(prepare_one, folder_jobs(src, dst, options), workers)


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


@dataclass
class PrepareSummary:
    """What :func:`prepare_videos` (or another folder job, ``task``) did: the result of every
    input and the time it took."""

    src: Path
    dst: Path
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0
    task: str = "prepare_videos"

    def count(self, status: str) -> int:
        return sum(result.status == status for result in self.results)

    @property
    def failed(self) -> int:
        return self.count("failed")

    def line(self) -> str:
        return (
            f"{self.task}: done {self.count('done')}, skipped {self.count('skipped')}, failed "
            f"{self.failed} ({len(self.results)} videos under {self.src} -> {self.dst}, "
            f"{self.seconds:.1f} s)"
        )

    def failures(self) -> list[str]:
        """One line per failed input: its path and the reason, in input order."""
        failed = sorted((r for r in self.results if r.status == "failed"), key=lambda r: r.source)
        return [f"{r.source}: {r.message}" for r in failed]


def check_folders(src: Path, dst: Path) -> None:
    """Raise, saying what to do, unless ``src`` is a folder and ``dst`` is another one."""
    if not src.is_dir():
        raise NotADirectoryError(f"no folder {src}; pass the folder holding the videos")
    if dst.resolve() == src.resolve():
        raise ValueError("dst must differ from src (outputs would replace inputs)")


def prepare_videos(
    src: Path,
    dst: Path,
    options: EncodeOptions,
    workers: int = 1,
    report: Callable[[Result], None] | None = None,
) -> PrepareSummary:
    """Re-encode every video under ``src`` into ``dst``; ``report`` sees each result as it comes.

    Raises ``NotADirectoryError`` or ``ValueError`` (see :func:`check_folders`) before any work.
    """
    return run_folder(src, dst, prepare_one, options, workers, report)


def run_folder(
    src: Path,
    dst: Path,
    function: Callable[[tuple[Path, Path, Any]], Result],
    options: Any,
    workers: int = 1,
    report: Callable[[Result], None] | None = None,
    task: str = "prepare_videos",
    progress: bool = False,
) -> PrepareSummary:
    """``function((source, target, options))`` for every video under ``src`` (target: the same
    relative path under ``dst``, ``.mp4``), ``workers`` processes at a time; ``report`` sees each
    result as it comes, ``progress`` shows a bar. Checks the folders first (:func:`check_folders`).
    """
    src, dst = Path(src), Path(dst)
    check_folders(src, dst)
    summary = PrepareSummary(src, dst, task=task)
    start = time.perf_counter()
    jobs = folder_jobs(src, dst, options)
    for result in run_jobs(function, jobs, workers, task if progress else None):
        summary.results.append(result)
        if report is not None:
            report(result)
    summary.seconds = time.perf_counter() - start
    return summary
