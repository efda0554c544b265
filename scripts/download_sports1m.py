#!/usr/bin/env python
"""Download the videos of a Sports-1M partition with yt-dlp, resumably.

Reads a partition file (``URL<space><CSV of labels>``, Karpathy et al. 2014, Sec. 4.1) and writes
``<root>/videos/<id>.<ext>``, the layout ``data=sports1m data.root=<root>`` reads. About 7% of the
URLs no longer resolve; such failures are recorded, not fatal. Every outcome is appended to
``<root>/download_state.jsonl`` (``{"id", "status": "done"|"failed", "reason", "file", "time"}``,
the last line of an id wins), so a restart skips the ids already done and the ids whose file is
already in ``videos/``, and retries the failed ones only with ``--retry-failed``. The logic is
in :mod:`deepvideo.data.download`. Needs the optional extra: ``pip install -e '.[download]'``
(yt-dlp). Example::

    python scripts/download_sports1m.py --root data/sports1m \\
        --partition original/train_partition.txt --limit 1000 --workers 4
    python scripts/prepare_videos.py data/sports1m/videos data/sports1m_128/videos

Then copy (or link) ``original/`` next to the re-encoded ``videos/`` and pass that root.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from deepvideo.data.download import (
    DEFAULT_FORMAT,
    Downloader,
    download_all,
    partition_ids,
    resolve_partition,
    yt_dlp_downloader,
)
from deepvideo.data.sports1m import PartitionFormatError


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, required=True, help="Sports-1M data root")
    parser.add_argument(
        "--partition",
        default="original/train_partition.txt",
        help="partition file, relative to --root or absolute (default original/train_partition.txt)",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N videos listed")
    parser.add_argument("--workers", type=int, default=4, help="parallel downloads (default 4)")
    parser.add_argument("--retry-failed", action="store_true", help="retry ids that failed before")
    parser.add_argument("--format", default=DEFAULT_FORMAT, help="yt-dlp format selector")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, downloader: Downloader | None = None) -> int:
    args = parse_args(argv)
    try:
        ids = partition_ids(resolve_partition(args.root, args.partition), args.limit)
    except (FileNotFoundError, PartitionFormatError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        fetch = downloader or yt_dlp_downloader(args.format)
    except ImportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    summary = download_all(
        args.root,
        ids,
        fetch,
        workers=args.workers,
        retry_failed=args.retry_failed,
        report=lambda line: print(line, file=sys.stderr),
    )
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
