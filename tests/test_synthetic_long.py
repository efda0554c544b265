"""The ``long`` synthetic layout (Ng et al. 2015): files, event timelines, flips, determinism."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

try:
    from deepvideo import synthetic as S
except ImportError:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from deepvideo import synthetic as S
from deepvideo.synthetic.long import GENERIC_LABEL, Timeline, plan_long_scene, plan_timeline

CONFIG_FILE = Path(__file__).resolve().parents[1] / "conf" / "data" / "synthetic_long.yaml"
ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
URL = "https://www.youtube.com/watch?v="
CLIP = 10  # frames of a short clip at the native rate (Slow Fusion)

# A tiny dataset: one video per class and split, 10-12 s, 1-1.2 s events 2 s apart (10 frames).
TINY = dict(
    layout="long",
    train_per_class=1,
    test_per_class=1,
    fps=5,
    min_seconds=10.0,
    max_seconds=12.0,
    multi_label_fraction=0.0,
    label_noise=0.0,
    event_min_seconds=1.0,
    event_max_seconds=1.2,
    min_gap_seconds=2.0,
)


def shipped() -> S.SyntheticConfig:
    """The generator of ``data=synthetic_long`` (its plan is cheap: no pixels)."""
    generator = OmegaConf.to_container(OmegaConf.load(CONFIG_FILE).generator)
    assert isinstance(generator, dict)
    return S.SyntheticConfig(**{str(k): v for k, v in generator.items()})


def timelines(config: S.SyntheticConfig, group: str) -> list[tuple[S.VideoSpec, Timeline]]:
    classes = S.class_list("long")
    return [
        (spec, plan_timeline(spec, config, classes))
        for spec in S.plan(config)
        if classes[spec.labels[0]].group == group
    ]


def shown_events(timeline: Timeline, frames: range | list[int]) -> set[int]:
    at = timeline.event_at()
    return {int(at[f % timeline.num_frames]) for f in frames} - {-1}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, S.SyntheticConfig]:
    root = tmp_path_factory.mktemp("synth") / "long"
    config = S.SyntheticConfig(**TINY)
    S.ensure_generated(root, config, workers=2, progress=False)
    return root, config


# ------------------------------------------------------------------------------------- files
def test_long_layout_files(tiny: tuple[Path, S.SyntheticConfig]) -> None:
    root, config = tiny
    classes = S.class_list("long")
    names = [c.name for c in classes]
    assert (root / "labels.txt").read_text().splitlines() == names
    groups = dict(line.split("\t") for line in (root / "class_groups.tsv").read_text().splitlines())
    assert list(groups) == names
    assert Counter(groups.values()) == {"window": 4, "order": 4, "appearance": 4}
    assert set(groups.values()) == set(S.LONG_GROUPS)
    specs = {spec.key: spec for spec in S.plan(config)}
    for split in ("train", "test"):
        raw = (root / "original" / f"{split}_partition.txt").read_bytes()
        assert b"\r" not in raw
        rows = [line.split(" ") for line in raw.decode().splitlines()]
        assert len(rows) == len(classes)  # one video per class and split
        for url, labels in rows:
            key = url.removeprefix(URL)
            assert url.startswith(URL) and ID.match(key)
            assert specs[key].split == split and labels == str(specs[key].labels[0])
            assert (root / "videos" / f"{key}.mp4").stat().st_size > 1000
    truth = (root / "ground_truth.tsv").read_text().splitlines()
    assert truth[0] == "id\tsplit\tclean_labels\tpartition_labels" and len(truth) == len(specs) + 1

    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["layout"] == "long" and manifest["version"] == S.generator_version("long")
    assert manifest["version"] != S.GENERATOR_VERSION == S.generator_version("sports1m")
    assert manifest["params"] == config.params()
    assert manifest["counts"]["train_multi_label"] == manifest["counts"]["train_noisy_labels"] == 0
    assert [c["looks"][0]["name"] for c in manifest["classes"]][:2] == ["yellow star", "cyan ring"]

    # events.tsv lists every planned event
    rows = [line.split("\t") for line in (root / "events.tsv").read_text().splitlines()]
    assert rows[0][:6] == ["id", "split", "label", "event", "look", "first_frame"]
    planned = [
        (key, str(number), str(event.first_frame), str(event.end_frame))
        for key, spec in specs.items()
        for number, event in enumerate(plan_timeline(spec, config, classes).events)
    ]
    assert sorted((r[0], r[3], r[5], r[6]) for r in rows[1:]) == sorted(planned)
    assert manifest["counts"]["events"] == len(planned)


def test_long_videos_decode_at_the_native_rate(tiny: tuple[Path, S.SyntheticConfig]) -> None:
    decord = pytest.importorskip("decord")
    root, config = tiny
    spec = S.plan(config)[0]
    reader = decord.VideoReader(str(root / spec.path))
    assert len(reader) == spec.num_frames and reader.get_avg_fps() == pytest.approx(config.fps)
    assert reader[0].asnumpy().shape == (config.height, config.width, 3)


# --------------------------------------------------------------------------------- timelines
def test_window_events_are_short_and_inside_the_video() -> None:
    config = shipped()
    for spec, timeline in timelines(config, "window"):
        (event,) = timeline.events
        assert 0.0 <= event.start < event.end <= timeline.duration
        assert event.end - event.start < 5.0
        assert 0 <= event.first_frame < event.end_frame <= spec.num_frames
        # Ng et al.'s 1 fps frames (every fps-th native frame) see it at least twice
        assert sum(f % round(config.fps) == 0 for f in event.frames) >= 2


def test_window_evidence_is_rare_for_short_clips_and_common_at_1_fps() -> None:
    """Over the shipped plan, per video: the share of 10-frame native clips, and of 30-frame 1 fps
    examples (looped when the video is under 30 s), that show the window class's object."""
    config = shipped()
    step = round(config.fps)
    short, long = [], []
    for _, timeline in timelines(config, "window")[:80]:
        n = timeline.num_frames
        starts = range(n - CLIP + 1)
        short.append(np.mean([bool(shown_events(timeline, range(s, s + CLIP))) for s in starts]))
        seconds = (n - 1) // step + 1
        examples = [
            [step * ((s + j) % seconds) for j in range(30)] for s in range(max(1, seconds - 29))
        ]
        long.append(np.mean([bool(shown_events(timeline, frames)) for frames in examples]))
    assert np.mean(short) < 0.25 and np.mean(long) > 0.7


def _cycle_pairs(looks: list[str]) -> set[tuple[str, str]]:
    return {(looks[i], looks[(i + 1) % 3]) for i in range(3)}


def test_order_events_follow_the_class_cycle_with_gaps_longer_than_a_clip() -> None:
    config = shipped()
    classes = S.class_list("long")
    for spec, timeline in timelines(config, "order"):
        cls = classes[timeline.label]
        looks = [look.name for look in cls.looks]
        events = timeline.events
        assert len(events) >= 3 and len(events) % 3 == 0  # whole cycles: the loop keeps the order
        shown = [looks[event.look] for event in events]
        wrapped = [*events, events[0]]
        for (a, b), (ea, eb) in zip(pairwise([*shown, shown[0]]), pairwise(wrapped), strict=True):
            assert (a, b) in _cycle_pairs(looks)  # A-B-C cyclically, across the loop point too
            gap = (eb.first_frame - (ea.end_frame - 1)) % spec.num_frames
            assert gap > CLIP  # a 10-frame clip never holds frames of two events
            assert eb.start - ea.end >= config.min_gap_seconds - 1e-9 or eb is events[0]
        assert events[0].start >= 0.0 and events[-1].end <= timeline.duration
        # every 10-frame clip, looped ones included, shows at most one event
        n = spec.num_frames
        assert all(len(shown_events(timeline, range(s, s + CLIP))) <= 1 for s in range(n))


def test_order_classes_differ_only_in_order() -> None:
    """The two classes of a set show the same three objects, equally often at every time, in
    cyclic orders that share no consecutive pair."""
    classes = S.class_list("long")
    order = [c for c in classes if c.group == "order"]
    sets: dict[frozenset[str], list[S.SyntheticClass]] = {}
    for cls in order:
        sets.setdefault(frozenset(look.name for look in cls.looks), []).append(cls)
    assert len(sets) == 2 and all(len(pair) == 2 for pair in sets.values())
    config = shipped()
    for first, second in sets.values():
        pairs = [_cycle_pairs([look.name for look in c.looks]) for c in (first, second)]
        assert not pairs[0] & pairs[1]
        names = [look.name for look in first.looks]  # one column per object of the set
        for cls in (first, second):
            counts = np.zeros((3, 3))  # (slot of the first three events, object)
            for index in range(300):
                spec = S.make_spec(config, [classes.index(cls)], index, num_frames=40 * 5)
                for slot, event in enumerate(plan_timeline(spec, config, classes).events[:3]):
                    counts[slot, names.index(cls.looks[event.look].name)] += 1
            # each object in each slot ~1/3 of the time, in both classes
            assert np.abs(counts / counts.sum(axis=1, keepdims=True) - 1 / 3).max() < 0.1


def test_appearance_objects_are_on_screen_all_along(tiny: tuple[Path, S.SyntheticConfig]) -> None:
    config = shipped()
    for _, timeline in timelines(config, "appearance"):
        assert timeline.mask().all() and len(timeline.events) == 1
    _, tiny_config = tiny
    classes = S.class_list("long")
    for spec in S.plan(tiny_config):
        scene = plan_long_scene(spec, tiny_config, classes)
        timeline = plan_timeline(spec, tiny_config, classes)
        generic, *own = scene.objects
        assert generic.label == GENERIC_LABEL and generic.visible is None
        assert generic.shape in S.GENERIC_SHAPES
        assert len(own) == len(classes[timeline.label].looks)
        for index, obj in enumerate(own):
            assert obj.visible is not None and obj.label == timeline.label
            assert np.array_equal(obj.visible, timeline.mask(index))
        if timeline.group == "appearance":
            assert own[0].visible is not None and own[0].visible.all()


# ------------------------------------------------------------------------------------- flips
def test_long_classes_are_flip_safe() -> None:
    classes = S.class_list("long")
    assert S.mirror_safe(classes) == []
    for cls in classes:
        assert cls.motion.flipped() == cls.motion
        assert all(look.shape in S.MIRROR_SYMMETRIC_SHAPES for look in cls.looks)
    # every look belongs to one class, except the three objects an order set shares
    owners: dict[str, set[str]] = {}
    for cls in classes:
        for look in cls.looks:
            owners.setdefault(look.name, set()).add(cls.group)
    assert all(groups in ({"window"}, {"order"}, {"appearance"}) for groups in owners.values())
    assert len(owners) == 4 + 6 + 4
    # a shape that is not its own mirror image is reported
    chiral = S.SyntheticClass(
        "L appears", "window", S.Appearance(("L",)), S.Motion(), looks=(S.Look("L", 0.0),)
    )
    assert "not known to be their own mirror image" in S.mirror_safe([chiral])[0]
    # the class objects sit left or right of the generic one, each half of the time
    config = shipped()
    sides = []
    for index in range(40):
        scene = plan_long_scene(S.make_spec(config, [0], index, num_frames=20), config, classes)
        sides.append(np.sign(scene.objects[1].x.mean() - scene.objects[0].x.mean()))
    assert 10 <= sides.count(1.0) <= 30


# ------------------------------------------------------------------------- determinism, config
def test_same_seed_same_plan() -> None:
    config = shipped()
    assert S.plan(config) == S.plan(shipped())
    other = S.SyntheticConfig(**{**config.params(), "seed": 1})
    assert S.plan(other) != S.plan(config)
    classes = S.class_list("long")
    for label in (0, 4, 8):
        spec = S.make_spec(config, [label], 3, num_frames=120)
        assert plan_timeline(spec, config, classes) == plan_timeline(spec, config, classes)
        a, b = plan_long_scene(spec, config), plan_long_scene(spec, config)
        for first, second in zip(a.objects, b.objects, strict=True):
            assert np.array_equal(first.x, second.x) and np.array_equal(first.color, second.color)
        assert np.array_equal(a.jitter, b.jitter) and np.array_equal(a.background, b.background)
    small = S.make_spec(S.SyntheticConfig(**TINY), [4], 0, num_frames=50)
    frames = S.render_video(small, S.SyntheticConfig(**TINY))
    assert np.array_equal(frames, S.render_video(small, S.SyntheticConfig(**TINY)))


def test_long_fields_leave_other_layouts_params_alone() -> None:
    assert not set(S.LONG_FIELDS) & set(S.SyntheticConfig().params())
    assert not set(S.LONG_FIELDS) & set(S.SyntheticConfig(layout="ucf101").params())
    assert set(S.LONG_FIELDS) <= set(shipped().params())
    assert S.SyntheticConfig(**shipped().params()) == shipped()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_seconds": 15.0}, "min_seconds >= 3 * (event_max_seconds + min_gap_seconds)"),
        ({"min_gap_seconds": 1.5}, "never shows two events"),
        ({"event_min_seconds": 4.0}, "event_min_seconds <= event_max_seconds"),
        ({"layout": "longer"}, "layout must be one of"),
    ],
)
def test_long_config_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        S.SyntheticConfig(**{**shipped().params(), **overrides})
