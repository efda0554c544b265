"""Broken files of the kinds real video collections hold, made from a generated dataset.

Real downloads are dirty: truncated files, zero-byte files, HTML error pages saved as ``.mp4``,
audio-only files, videos shorter than a clip, and files whose first frames decode and whose stream
then breaks. :func:`write_fault` makes each kind from a good video; :func:`faulty_copy` makes a
copy of a Sports-1M-layout dataset (the lists, labels and manifest copied, the good videos linked,
not copied) in which some listed videos are replaced by faults, for the tests, the soak run and
for trying what the data layer does with them (``docs/reliability.md`` lists what each produced).

Kinds (:data:`FAULTS`):

- ``truncated``: the first third of an MP4 whose index (``moov``) sits at the end, as an
  interrupted download leaves it: no decoder can open it;
- ``empty``: zero bytes;
- ``not_a_video``: a text file (an HTML error page) named ``.mp4``;
- ``audio_only``: a valid MP4 holding one AAC stream and no video stream;
- ``too_short``: a valid 2-frame video, shorter than any clip: not broken, it is padded
  (``data.pad``), never dropped;
- ``breaks_mid_stream``: an MP4 with its index first (``faststart``) whose stream is overwritten
  with random bytes from its second keyframe on (the first second is intact): it opens, its first
  frames decode, later ones fail.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = ["BROKEN", "FAULTS", "faulty_copy", "write_fault"]

FAULTS: tuple[str, ...] = (
    "truncated",
    "empty",
    "not_a_video",
    "audio_only",
    "too_short",
    "breaks_mid_stream",
)
# the kinds no decoder reads whole (``too_short`` is a valid video)
BROKEN: tuple[str, ...] = tuple(k for k in FAULTS if k != "too_short")

NOT_A_VIDEO = (
    "<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
    "<body>This video is no longer available.</body></html>\n"
)


def _frames(source: Path, limit: int | None = None) -> tuple[list[np.ndarray], Fraction]:
    import av

    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        rate = Fraction(stream.average_rate or 15)
        frames = []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit is not None and len(frames) >= limit:
                break
    return frames, rate


def _encode(frames: Sequence[np.ndarray], rate: Fraction, path: Path, faststart: bool) -> None:
    import av

    options = {"movflags": "+faststart"} if faststart else {}
    gop = str(max(1, round(float(rate))))
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.options = {"crf": "18", "g": gop, "keyint_min": gop}
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _audio_only(path: Path, seconds: float = 1.0, rate: int = 16000) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        samples = 1024
        for i in range(int(seconds * rate / samples) + 1):
            t = (np.arange(samples) + i * samples) / rate
            wave = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = i * samples
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _first_gop_end(path: Path) -> int:
    """Byte offset where the second keyframe's packet starts in an MP4 (the end of the first
    group of pictures), or past the last packet when there is one keyframe only."""
    import av

    end = 0
    with av.open(str(path)) as container:
        for index, packet in enumerate(container.demux(video=0)):
            if not packet.size or packet.pos is None:
                continue
            if index > 0 and packet.is_keyframe:
                return int(packet.pos)
            end = max(end, int(packet.pos) + int(packet.size))
    if not end:
        raise ValueError(f"{path} holds no video packet")
    return end


def write_fault(kind: str, path: str | Path, source: str | Path, seed: int = 0) -> Path:
    """Write a fault of ``kind`` (one of :data:`FAULTS`) at ``path``, made from the good video
    ``source`` where it needs frames; returns ``path``."""
    path, source = Path(path), Path(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "not_a_video":
        path.write_text(NOT_A_VIDEO * 4, encoding="utf-8")
    elif kind == "audio_only":
        _audio_only(path)
    elif kind == "too_short":
        frames, rate = _frames(source, limit=2)
        _encode(frames, rate, path, faststart=False)
    elif kind == "truncated":
        frames, rate = _frames(source)
        _encode(frames, rate, path, faststart=False)  # the index (moov) last
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "breaks_mid_stream":
        frames, rate = _frames(source)
        _encode(frames, rate, path, faststart=True)  # the index first: it opens
        content = bytearray(path.read_bytes())
        start = _first_gop_end(path)  # the first second of frames stays intact
        rng = np.random.default_rng(seed)
        content[start:] = rng.integers(0, 256, len(content) - start, dtype=np.uint8).tobytes()
        path.write_bytes(bytes(content))
    else:
        raise ValueError(f"unknown fault kind {kind!r}: choose from {FAULTS}")
    return path


def _listed_ids(partition: Path) -> list[str]:
    ids = []
    for line in partition.read_text(encoding="utf-8").splitlines():
        if line.strip():
            url = line.split()[0]
            ids.append(url.rsplit("v=", 1)[-1])
    return ids


def faulty_copy(
    root: str | Path,
    out: str | Path,
    faults: Mapping[str, Iterable[str]] | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Path]]:
    """A copy of the Sports-1M-layout dataset ``root`` at ``out`` with faults in place of videos.

    ``faults`` maps a split (``train``, ``test``) to the fault kinds to plant there, one listed
    video each (default: every kind in both); the victims are the first listed ids of the split's
    partition, in list order. The lists, labels, class groups and ``manifest.json`` are copied (so
    the synthetic DataModules reuse the copy as generated), the other videos are symbolic links to
    ``root``'s. Returns ``{split: {kind: path}}``; ``out/faults.json`` records the same.
    """
    root, out = Path(root), Path(out)
    faults = {"train": FAULTS, "test": FAULTS} if faults is None else faults
    if out.exists():
        raise FileExistsError(f"{out} exists; faulty_copy writes a new directory")
    (out / "videos").mkdir(parents=True)
    for entry in root.iterdir():
        if entry.name != "videos":
            copy = shutil.copytree if entry.is_dir() else shutil.copy2
            copy(entry, out / entry.name)
    videos = {p.stem: p for p in (root / "videos").iterdir()}
    planted: dict[str, dict[str, Path]] = {}
    victims: set[str] = set()
    for split, kinds in faults.items():
        ids = [i for i in _listed_ids(root / "original" / f"{split}_partition.txt") if i in videos]
        kinds = list(kinds)
        if len(kinds) > len(ids):
            raise ValueError(f"{root}: {len(ids)} {split} videos, {len(kinds)} faults asked")
        planted[split] = {}
        for offset, (kind, video_id) in enumerate(zip(kinds, ids, strict=False)):
            target = out / "videos" / f"{video_id}.mp4"
            write_fault(kind, target, videos[video_id], seed=seed + offset)
            planted[split][kind] = target
            victims.add(video_id)
    for video_id, path in videos.items():
        if video_id not in victims:
            os.symlink(path.resolve(), out / "videos" / path.name)
    record = {s: {k: str(p) for k, p in kinds.items()} for s, kinds in planted.items()}
    (out / "faults.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return planted
