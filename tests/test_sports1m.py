"""Sports-1M files: partition lines, ids, class names, local index, validation hold-out."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepvideo.data.sports1m import (
    PartitionFormatError,
    VideoRecord,
    holdout_split,
    index_videos,
    load_class_names,
    parse_partition,
    youtube_id,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_parse_partition_reads_official_format_and_multi_labels(tmp_path: Path) -> None:
    path = write(
        tmp_path / "train_partition.txt",
        "https://www.youtube.com/watch?v=UDqivjS-lpI 168,169\n"
        "https://www.youtube.com/watch?v=Drdm1WsRQwA 205\n\n",
    )
    records = parse_partition(path, num_classes=487)
    assert [r.video_id for r in records] == ["UDqivjS-lpI", "Drdm1WsRQwA"]
    assert records[0].labels == (168, 169)
    assert records[1].labels == (205,) and records[1].line == 2


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("https://www.youtube.com/watch?v=UDqivjS-lpI", "expected 'URL<space><CSV"),
        ("https://www.youtube.com/watch?v=short 3", "11-character YouTube id"),
        ("https://www.youtube.com/watch?v=UDqivjS-lpI 3,x", "comma-separated integers"),
        ("https://www.youtube.com/watch?v=UDqivjS-lpI 487", "outside 0..486"),
    ],
)
def test_bad_partition_line_names_file_line_and_value(
    tmp_path: Path, line: str, fragment: str
) -> None:
    path = write(tmp_path / "test_partition.txt", f"https://youtu.be/Drdm1WsRQwA 1\n{line}\n")
    with pytest.raises(PartitionFormatError) as err:
        parse_partition(path, num_classes=487)
    message = str(err.value)
    assert f"{path}:2" in message and fragment in message


def test_youtube_id_forms() -> None:
    assert youtube_id("https://www.youtube.com/watch?v=UDqivjS-lpI&t=3") == "UDqivjS-lpI"
    assert youtube_id("https://youtu.be/UDqivjS-lpI") == "UDqivjS-lpI"
    assert youtube_id("UDqivjS-lpI") == "UDqivjS-lpI"
    assert youtube_id("https://example.com/video") is None


def test_shipped_labels_are_the_487_sports1m_classes() -> None:
    names = load_class_names()
    assert len(names) == 487
    assert names[0] == "boomerang" and names[-1] == "model aircraft"


def test_index_videos_keys_by_id_and_accepts_common_containers(tmp_path: Path) -> None:
    for name in ["UDqivjS-lpI.mp4", "Drdm1WsRQwA.webm", "notes.txt", "aaaaaaaaaaa.MKV"]:
        (tmp_path / name).write_bytes(b"x")
    found = index_videos(tmp_path)
    assert set(found) == {"UDqivjS-lpI", "Drdm1WsRQwA", "aaaaaaaaaaa"}
    assert index_videos(tmp_path / "absent") == {}


def test_holdout_is_seeded_stable_and_near_the_fraction() -> None:
    records = [VideoRecord(f"{i:011d}", (0,)) for i in range(4000)]
    train, val = holdout_split(records, 0.125, seed=0)
    assert len(train) + len(val) == 4000
    assert 0.10 < len(val) / 4000 < 0.15
    # same rule, same answer, whatever the order and whatever else is listed
    _, val_again = holdout_split(list(reversed(records[:2000])), 0.125, seed=0)
    assert {r.video_id for r in val_again} == {r.video_id for r in val if int(r.video_id) < 2000}
    _, val_other_seed = holdout_split(records, 0.125, seed=1)
    assert {r.video_id for r in val_other_seed} != {r.video_id for r in val}


def sports_root(tmp_path: Path, train: str, test: str) -> Path:
    root = tmp_path / "sports1m"
    (root / "original").mkdir(parents=True)
    (root / "videos").mkdir()
    for vid in ("UDqivjS-lpI", "Drdm1WsRQwA", "aaaaaaaaaaa", "bbbbbbbbbbb"):
        (root / "videos" / f"{vid}.mp4").write_bytes(b"x")
    write(root / "original" / "train_partition.txt", train)
    write(root / "original" / "test_partition.txt", test)
    return root


def test_repeated_ids_are_refused_or_kept_once_with_their_labels_merged(tmp_path: Path) -> None:
    from deepvideo.data import Sports1MDataModule

    root = sports_root(
        tmp_path,
        "UDqivjS-lpI 1\nDrdm1WsRQwA 2\nUDqivjS-lpI 3\n",
        "aaaaaaaaaaa 4\n",
    )
    with pytest.raises(PartitionFormatError) as err:
        Sports1MDataModule(str(root), val_fraction=0.0).load_splits()
    message = str(err.value)
    assert "train_partition.txt:3" in message and "'UDqivjS-lpI'" in message
    assert "line 1" in message and "data.allow_duplicate_ids=true" in message
    dm = Sports1MDataModule(str(root), val_fraction=0.0, allow_duplicate_ids=True)
    _, splits = dm.load_splits()
    assert dm.duplicates["train"] == {"UDqivjS-lpI": [1, 3]}
    assert [(v.video_id, v.labels) for v in splits["train"]] == [
        ("UDqivjS-lpI", (1, 3)),
        ("Drdm1WsRQwA", (2,)),
    ]


def test_test_videos_in_the_training_partition_are_refused_unless_allowed(
    tmp_path: Path,
) -> None:
    from deepvideo.data import Sports1MDataModule
    from deepvideo.errors import ConfigError

    root = sports_root(tmp_path, "UDqivjS-lpI 1\nbbbbbbbbbbb 2\n", "bbbbbbbbbbb 2\naaaaaaaaaaa 4\n")
    with pytest.raises(ConfigError) as err:
        Sports1MDataModule(str(root), val_fraction=0.0).load_splits()
    assert "1 test videos" in str(err.value) and "bbbbbbbbbbb" in str(err.value)
    assert "data.allow_test_in_train=true" in str(err.value)
    dm = Sports1MDataModule(str(root), val_fraction=0.0, allow_test_in_train=True)
    _, splits = dm.load_splits()
    assert [v.video_id for v in splits["train"]] == ["UDqivjS-lpI"]
    assert [v.video_id for v in splits["test"]] == ["bbbbbbbbbbb", "aaaaaaaaaaa"]
    assert dm.test_in_train == ["bbbbbbbbbbb"]
