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
