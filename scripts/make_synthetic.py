#!/usr/bin/env python
"""Generate the synthetic video-classification benchmark (see ``deepvideo.synthetic``).

Examples::

    python scripts/make_synthetic.py --root data/synthetic
    python scripts/make_synthetic.py --root data/synthetic_ucf101 --layout ucf101 --workers 2
    python scripts/make_synthetic.py --root data/tiny --train-per-class 4 --test-per-class 2
    python scripts/make_synthetic.py --root data/synthetic/long --layout long --workers 2

Unset sizes take the layout's defaults: those of ``SyntheticConfig`` for ``sports1m`` and
``ucf101``, those of ``conf/data/synthetic_long.yaml`` for ``long`` (5 fps, 20-60 s videos,
40 train / 10 test per class, no multi-label videos or label noise).

An existing root generated with the same parameters is reused; one generated with other
parameters is refused unless ``--force`` (which deletes and regenerates it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    from deepvideo import synthetic
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from deepvideo import synthetic


# The long layout's defaults (conf/data/synthetic_long.yaml): Ng et al. 2015's long videos.
LONG_DEFAULTS = {
    "fps": 5.0,
    "min_seconds": 20.0,
    "max_seconds": 60.0,
    "train_per_class": 40,
    "test_per_class": 10,
    "multi_label_fraction": 0.0,
    "label_noise": 0.0,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = synthetic.SyntheticConfig()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", required=True, help="output directory (created atomically)")
    parser.add_argument("--layout", choices=synthetic.ALL_LAYOUTS, default=defaults.layout)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--train-per-class", type=int, default=None)
    parser.add_argument("--test-per-class", type=int, default=None)
    parser.add_argument("--height", type=int, default=defaults.height)
    parser.add_argument("--width", type=int, default=defaults.width)
    parser.add_argument("--fps", type=float, default=None)
    parser.add_argument("--min-seconds", type=float, default=None)
    parser.add_argument("--max-seconds", type=float, default=None)
    parser.add_argument("--multi-label-fraction", type=float, default=None)
    parser.add_argument("--label-noise", type=float, default=None)
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument(
        "--force", action="store_true", help="delete an existing generated dataset at --root first"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    layout_defaults = LONG_DEFAULTS if args.layout == "long" else {}
    for attr in LONG_DEFAULTS:
        if getattr(args, attr) is None:
            setattr(args, attr, layout_defaults.get(attr, getattr(defaults, attr)))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = synthetic.SyntheticConfig(
            layout=args.layout,
            seed=args.seed,
            train_per_class=args.train_per_class,
            test_per_class=args.test_per_class,
            height=args.height,
            width=args.width,
            fps=args.fps,
            min_seconds=args.min_seconds,
            max_seconds=args.max_seconds,
            multi_label_fraction=args.multi_label_fraction,
            label_noise=args.label_noise,
        )
        root = Path(args.root).expanduser()
        if args.force:
            synthetic.remove_dataset(root)
        reused = synthetic.is_generated(root, config)
        start = time.perf_counter()
        synthetic.ensure_generated(root, config, workers=args.workers, progress=not args.quiet)
        elapsed = time.perf_counter() - start
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    counts = (synthetic.read_manifest(root) or {}).get("counts", {})
    print(
        f"{'reused' if reused else 'wrote'} {counts.get('videos', '?')} videos "
        f"({counts.get('bytes', 0) / 2**20:.1f} MiB, layout {config.layout}) "
        f"in {elapsed:.1f} s at {root}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
