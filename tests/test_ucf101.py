"""UCF-101: the official split lists shipped with deepvideo, and the DataModule on generated data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from deepvideo.data.datamodule import DataNotFoundError
from deepvideo.data.ucf101 import (
    FoldOverlapError,
    SplitListError,
    UCF101Clip,
    UCF101DataModule,
    holdout_groups,
    official_class_groups_file,
    official_split_dir,
    parse_class_groups,
    parse_class_index,
    parse_split_list,
    split_files,
    validate_folds,
)
from deepvideo.synthetic import SyntheticConfig, generate

OFFICIAL_COUNTS = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}
TINY = SyntheticConfig(
    layout="ucf101", height=32, width=40, fps=8.0, min_seconds=1.5, max_seconds=2.0
)
TINY_CLASSES = 10
TINY_SIZES = {"resize": 32, "crop": 28}


def official_fold(fold: int) -> tuple[list[str], list[UCF101Clip], list[UCF101Clip]]:
    files = split_files(official_split_dir(), fold)
    classes = parse_class_index(files["classes"])
    return (
        classes,
        parse_split_list(files["train"], classes),
        parse_split_list(files["test"], classes),
    )


# ------------------------------------------------------------------ the official split lists
@pytest.mark.parametrize("fold", [1, 2, 3])
def test_official_fold_counts_groups_and_no_overlap(fold: int) -> None:
    classes, train, test = official_fold(fold)
    assert len(classes) == 101 and classes[0] == "ApplyEyeMakeup" and classes[-1] == "YoYo"
    assert (len(train), len(test)) == OFFICIAL_COUNTS[fold]
    assert {c.group for c in test} == set(range(7 * fold - 6, 7 * fold + 1))
    assert not {c.group for c in train} & {c.group for c in test}
    assert {c.class_name for c in train} == {c.class_name for c in test} == set(classes)
    validate_folds(train, test)  # raises on a shared (class, group)


def test_official_lists_are_crlf_and_parse_clean() -> None:
    files = split_files(official_split_dir(), 1)
    assert b"\r\n" in files["classes"].read_bytes() and b"\r\n" in files["test"].read_bytes()
    classes, train, test = official_fold(1)
    assert not any("\r" in name for name in classes)
    assert train[0] == UCF101Clip(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
        "ApplyEyeMakeup",
        0,
        8,
        1,
        str(files["train"]),
        1,
    )
    assert test[-1].path == "YoYo/v_YoYo_g07_c04.avi" and test[-1].label == 100


def test_handstand_pushups_quirk_maps_by_folder() -> None:
    classes, train, test = official_fold(1)
    quirky = [c for c in train + test if "HandStandPushups" in c.path]
    assert quirky and all(c.class_name == "HandstandPushups" for c in quirky)
    assert {c.label for c in quirky} == {classes.index("HandstandPushups")} == {36}
    assert quirky[0].stem.startswith("v_HandStandPushups_g")


def test_shipped_class_groups_cover_all_classes_in_five_groups() -> None:
    groups = parse_class_groups(official_class_groups_file())
    classes, _, _ = official_fold(1)
    assert set(groups) == set(classes)
    assert sorted(set(groups.values())) == [
        "Body-Motion Only",
        "Human-Human Interaction",
        "Human-Object Interaction",
        "Playing Musical Instruments",
        "Sports",
    ]


def test_validation_holds_out_whole_groups_of_every_class() -> None:
    _, train, _ = official_fold(1)
    kept, val = holdout_groups(train, fraction=0.125, seed=0)
    assert len(kept) + len(val) == len(train)
    assert not {c.group_key for c in kept} & {c.group_key for c in val}
    held: dict[str, set[int]] = {}
    for clip in val:
        held.setdefault(clip.class_name, set()).add(clip.group)
    assert len(held) == 101 and all(len(g) == 2 for g in held.values())  # round(18 / 8) = 2
    again, val_again = holdout_groups(list(reversed(train)), 0.125, 0)
    assert {c.path for c in val_again} == {c.path for c in val}  # independent of list order
    assert {c.path for c in holdout_groups(train, 0.125, 1)[1]} != {c.path for c in val}
    assert holdout_groups(train, 0.0, 0)[1] == []


def test_fold_overlap_names_the_group(tmp_path: Path) -> None:
    classes = ["ApplyEyeMakeup", "YoYo"]
    train = tmp_path / "trainlist01.txt"
    test = tmp_path / "testlist01.txt"
    train.write_text("YoYo/v_YoYo_g08_c01.avi 2\r\nYoYo/v_YoYo_g03_c02.avi 2\r\n")
    test.write_text("YoYo/v_YoYo_g03_c01.avi\r\n")
    with pytest.raises(FoldOverlapError, match=r"group g03 of class YoYo .*trainlist01.txt:2"):
        validate_folds(parse_split_list(train, classes), parse_split_list(test, classes))


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1 extra", "expected '<ClassName>/"),
        ("v_ApplyEyeMakeup_g08_c01.avi 1", "expected a path"),
        ("ApplyEyeMakeup/ApplyEyeMakeup_08_01.avi 1", "expected a path"),
        ("Juggling/v_Juggling_g08_c01.avi 1", "is not a class of classInd.txt"),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi one", "1-based integer"),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 2", "disagrees with the folder"),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 3", "outside 1..2"),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c01.avi 1", "listed again (first on line 2)"),
    ],
)
def test_malformed_split_line_names_file_line_and_value(
    tmp_path: Path, line: str, fragment: str
) -> None:
    path = tmp_path / "trainlist01.txt"
    path.write_text(
        f"YoYo/v_YoYo_g01_c01.avi 2\r\nApplyEyeMakeup/v_ApplyEyeMakeup_g09_c01.avi 1\r\n{line}\r\n"
    )
    with pytest.raises(SplitListError) as err:
        parse_split_list(path, ["ApplyEyeMakeup", "YoYo"])
    message = str(err.value)
    assert f"{path}:3" in message and fragment in message and line.split()[0] in message


def test_malformed_class_index_line(tmp_path: Path) -> None:
    path = tmp_path / "classInd.txt"
    path.write_text("1 ApplyEyeMakeup\r\n3 YoYo\r\n")
    with pytest.raises(SplitListError, match=rf"{path}:2: class index 3 .* gap: 2 missing"):
        parse_class_index(path)
    path.write_text("1 ApplyEyeMakeup\r\n2 YoYo\r\n2 Zumba\r\n")
    with pytest.raises(SplitListError, match=rf"{path}:3: class index 2 out of order"):
        parse_class_index(path)


def test_bad_fold_says_the_fix() -> None:
    with pytest.raises(ValueError, match=r"data.fold=4: set data.fold=1..3"):
        UCF101DataModule("unused", fold=4)


# ------------------------------------------------------------------------ the DataModule
@pytest.fixture(scope="module")
def tiny_ucf101(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ucf101") / "tiny"
    generate(root, TINY, progress=False)
    return root


def make_datamodule(root: Path, **kwargs: object) -> UCF101DataModule:
    options: dict = {
        "num_classes": TINY_CLASSES,
        "clip": {"num_frames": 10, "frame_stride": 1},
        "sizes": TINY_SIZES,
        "batch_size": 4,
        "num_workers": 0,
        "test_clips": {"clips_per_video": 2, "views": 2, "mode": "random"},
        **kwargs,
    }
    return UCF101DataModule(str(root), **options)


@pytest.mark.parametrize("fold", [1, 3])
def test_datamodule_reads_generated_layout(tiny_ucf101: Path, fold: int) -> None:
    dm = make_datamodule(tiny_ucf101, fold=fold)
    assert dm.split_files["train"].parent == tiny_ucf101 / "ucfTrainTestlist"  # local lists win
    dm.setup("fit")
    assert len(dm.class_names) == TINY_CLASSES and "HandstandPushups" in dm.class_names
    test_groups = {int(i.video_id.split("_g")[1][:2]) for i in dm.splits["test"]}
    assert test_groups == {2 * fold - 1, 2 * fold}
    for split in ("train", "val", "test"):
        assert dm.stats[split]["missing"] == 0 and dm.stats[split]["found"] > 0
    # labels from the folder, also for the HandStandPushups file names
    for item in dm.splits["train"] + dm.splits["test"]:
        assert dm.class_names[item.labels[0]] == item.path.parent.name
    assert any(i.video_id.startswith("v_HandStandPushups_") for i in dm.splits["train"])

    # validation: whole (class, group)s, one of each class's six training groups
    def keys(split: str) -> set[tuple[str, str]]:
        return {(i.path.parent.name, i.video_id.split("_g")[1][:2]) for i in dm.splits[split]}

    assert not keys("train") & keys("val") and not keys("val") & keys("test")
    assert len(keys("val")) == TINY_CLASSES
    assert dm.class_groups["HandstandPushups"] == "both" and len(dm.class_groups) == TINY_CLASSES


def test_datamodule_delivers_train_and_test_batches(tiny_ucf101: Path) -> None:
    dm = make_datamodule(tiny_ucf101)
    dm.setup("fit")
    train = next(iter(dm.train_dataloader()))
    assert train["video"].shape == (4, 3, 10, 28, 28) and train["video"].dtype == torch.float32
    assert train["label"].shape == (4, TINY_CLASSES)
    assert torch.all(train["label"].sum(1) == 1)
    test = next(iter(dm.test_dataloader()))
    assert test["video"].shape == (4, 2, 3, 10, 28, 28)  # (batch, views, C, T, H, W)
    assert test["clip_index"].tolist() == [0, 1, 0, 1] and bool(test["valid"].all())


def test_missing_video_is_counted_and_left_out(
    tiny_ucf101: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "ucf101"
    shutil.copytree(tiny_ucf101, root)
    gone = next((root / "HandstandPushups").glob("*_g01_c01.avi"))  # a fold-1 test clip
    gone.unlink()
    dm = make_datamodule(root)
    with caplog.at_level("WARNING"):
        dm.setup("test")
    assert dm.stats["test"]["missing"] == 1
    assert dm.stats["test"]["found"] == dm.stats["test"]["listed"] - 1
    assert gone.stem not in {i.video_id for i in dm.splits["test"]}
    assert sum("no local file" in r.message for r in caplog.records) == 1


def test_shipped_lists_used_when_root_has_none(tmp_path: Path) -> None:
    dm = UCF101DataModule(str(tmp_path), fold=2)
    assert dm.split_files["train"] == official_split_dir() / "trainlist02.txt"
    assert dm.class_groups_path == official_class_groups_file() and len(dm.class_groups) == 101
    with pytest.raises(DataNotFoundError) as err:
        dm.setup("fit")
    message = str(err.value)
    assert "\n" not in message and f"data.root={tmp_path}" in message
    assert "UCF101.rar" in message and "data=synthetic" in message


def test_flow_modality_reads_the_flow_of_every_clip_under_flow_root(
    tiny_ucf101: Path, tmp_path: Path
) -> None:
    """UCF-101's <ClassName>/<clip> layout under data.flow_root (what compute_flow.py writes
    from the video folder); a clip without its flow video is counted missing, not fatal."""
    from deepvideo.data.flow import FlowOptions, compute_flow

    flow_root = tmp_path / "flow"
    summary = compute_flow(tiny_ucf101, flow_root, FlowOptions(method="dis"))
    assert summary.failed == 0
    rgb = make_datamodule(tiny_ucf101)
    rgb.setup("fit")
    dm = make_datamodule(tiny_ucf101, modality="flow", flow_root=str(flow_root))
    dm.setup("fit")
    for split in ("train", "val", "test"):
        assert [i.video_id for i in dm.splits[split]] == [i.video_id for i in rgb.splits[split]]
        for item in dm.splits[split]:
            assert item.path == flow_root / item.path.parent.name / f"{item.video_id}.mp4"
    gone = dm.splits["test"][0].path
    gone.unlink()
    again = make_datamodule(tiny_ucf101, modality="flow", flow_root=str(flow_root))
    again.setup("fit")
    assert again.stats["test"]["missing"] == 1 and gone not in [
        i.path for i in again.splits["test"]
    ]
