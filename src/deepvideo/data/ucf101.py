"""UCF-101's own files and its DataModule: the transfer-learning target of Karpathy et al. 2014.

Sec. 4.2 of the paper transfers the Sports-1M features to UCF-101 (Soomro, Zamir, Shah 2012) and
reports the mean over the three official train/test folds, with per-group mAP (Table 4) over the
five UCF-101 class types. The official split files (``ucfTrainTestlist/``, CRLF as distributed)::

    classInd.txt        "1 ApplyEyeMakeup"                                   (1-based labels)
    trainlist0K.txt     "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"      (path and label)
    testlist0K.txt      "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"        (path only)

A clip's class is the *folder* it lives in, never its file name: the real data set keeps class
``HandstandPushups`` in folder ``HandstandPushups/`` with files ``v_HandStandPushups_gXX_cYY.avi``.
Its group (``_gXX_``, 25 per class, the clips of one group share actor and scene) decides the fold:
fold k tests on groups g01-g07, g08-g14, g15-g21 for k = 1, 2, 3, so train and test never share a
group (:func:`validate_folds`), and the validation split is held out of the training list by whole
groups too (:func:`holdout_groups`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from deepvideo.data.datamodule import DataNotFoundError, VideoDataModule
from deepvideo.data.datasets import VideoItem
from deepvideo.data.video import VIDEO_EXTENSIONS
from deepvideo.errors import PartitionFormatError

log = logging.getLogger(__name__)

FOLDS = (1, 2, 3)
SPLIT_DIR_NAME = "ucfTrainTestlist"
CLASS_INDEX = "classInd.txt"
CLASS_GROUPS = "class_groups.tsv"
# The folder the official UCF101.rar unpacks to; a root holding it is looked into.
ARCHIVE_FOLDER = "UCF-101"
CLIP_STEM = re.compile(r"^v_(?P<token>.+)_g(?P<group>\d+)_c(?P<clip>\d+)$")
EXAMPLE_TRAIN_LINE = "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
HOW_TO_GET = (
    "download UCF101.rar from https://www.crcv.ucf.edu/data/UCF101.php, unpack it so that "
    "DIR/<ClassName>/v_<ClassName>_gXX_cYY.avi (or DIR/UCF-101/<ClassName>/...) exist, and pass "
    "data=ucf101 data.root=DIR; or try data=synthetic"
)


class SplitListError(PartitionFormatError):
    """A UCF-101 split or class file line is malformed (the message names file:line and value)."""


class FoldOverlapError(SplitListError):
    """The train and test lists of a fold share a group (clips of one actor/scene on both sides)."""


@dataclass(frozen=True)
class UCF101Clip:
    """One listed clip: its path relative to the video folder, class, 0-based label and group."""

    path: str
    class_name: str
    label: int
    group: int
    clip: int
    source: str = ""
    line: int = 0

    @property
    def stem(self) -> str:
        """``v_<Token>_gXX_cYY``: the clip's id (unique within the data set)."""
        return Path(self.path).stem

    @property
    def group_key(self) -> tuple[str, int]:
        """(class, group): the unit that must never straddle train/val/test."""
        return self.class_name, self.group


# ------------------------------------------------------------------------------- the files
def official_split_dir() -> Path:
    """The official ``ucfTrainTestlist/`` shipped with deepvideo (CRLF, copied unchanged)."""
    return Path(str(resources.files("deepvideo.resources.ucf101").joinpath(SPLIT_DIR_NAME)))


def official_class_groups_file() -> Path:
    """The shipped ``class_groups.tsv``: ClassName -> one of the five UCF-101 class types."""
    return Path(str(resources.files("deepvideo.resources.ucf101").joinpath(CLASS_GROUPS)))


def split_files(split_dir: str | Path, fold: int) -> dict[str, Path]:
    """``classInd.txt``, ``trainlist0K.txt`` and ``testlist0K.txt`` of fold ``K``."""
    if fold not in FOLDS:
        raise ValueError(
            f"UCF-101 has folds 1, 2 and 3; got data.fold={fold!r}: set data.fold=1..3"
        )
    split_dir = Path(split_dir)
    return {
        "classes": split_dir / CLASS_INDEX,
        "train": split_dir / f"trainlist{fold:02d}.txt",
        "test": split_dir / f"testlist{fold:02d}.txt",
    }


def _lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, stripped text) of the entries; CRLF or LF alike. Blank lines at the
    end of the file are fine, a blank line between entries is an error naming it."""
    try:
        with path.open(encoding="utf-8", newline=None) as handle:
            raw_lines = list(enumerate(handle, start=1))
    except UnicodeDecodeError as err:
        raise SplitListError(
            f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); restore the official file"
        ) from None
    entries: list[tuple[int, str]] = []
    blank: int | None = None
    for number, raw in raw_lines:
        line = raw.strip()
        if not line:
            blank = number if blank is None else blank
            continue
        if blank is not None:
            raise SplitListError(
                f"{path}:{blank}: empty line between entries (the next entry is on line "
                f"{number}); delete it"
            )
        entries.append((number, line))
    return entries


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_class_index(path: str | Path) -> list[str]:
    """Class names in label order from ``classInd.txt`` (``"1 ApplyEyeMakeup"``, 1-based)."""
    path = Path(path)
    names: list[str] = []
    for number, line in _lines(path):
        parts = line.split()
        where = f"{path}:{number}"
        if len(parts) != 2 or not _is_number(parts[0]):
            raise SplitListError(
                f"{where}: expected '<1-based index> <ClassName>' (e.g. '1 ApplyEyeMakeup'), "
                f"got {line!r}; fix or delete the line"
            )
        index, name = int(parts[0]), parts[1]
        expected = len(names) + 1
        if index > expected:
            gap = f"{expected}" if index == expected + 1 else f"{expected}..{index - 1}"
            raise SplitListError(
                f"{where}: class index {index} in {line!r} leaves a gap: {gap} missing; "
                "classInd.txt must list 1..N in order, without gaps"
            )
        if index != expected:
            raise SplitListError(
                f"{where}: class index {index} out of order (expected {expected}) in "
                f"{line!r}; classInd.txt must list 1..N in order"
            )
        if name in names:
            raise SplitListError(f"{where}: class {name!r} listed twice; delete one of the lines")
        names.append(name)
    if not names:
        raise SplitListError(f"{path}: no classes listed; restore the official classInd.txt")
    return names


def parse_split_list(path: str | Path, class_names: Sequence[str]) -> list[UCF101Clip]:
    """Read a ``trainlist0K.txt`` (path and 1-based label) or ``testlist0K.txt`` (path only).

    The class is the folder of the path; a listed label must agree with it. A malformed line raises
    :class:`SplitListError` naming the file, the line number and the value.
    """
    path = Path(path)
    label_of = {name: label for label, name in enumerate(class_names)}
    clips: list[UCF101Clip] = []
    listed: dict[str, int] = {}  # path -> its line
    for number, line in _lines(path):
        where = f"{path}:{number}"
        parts = line.split()
        if len(parts) not in (1, 2):
            raise SplitListError(
                f"{where}: expected '<ClassName>/v_<ClassName>_gXX_cYY.avi[ <label>]' "
                f"(e.g. '{EXAMPLE_TRAIN_LINE}'), got {line!r}; fix or delete the line"
            )
        rel = parts[0].replace("\\", "/")
        folder, _, name = rel.rpartition("/")
        match = CLIP_STEM.match(Path(name).stem)
        if not folder or "/" in folder or match is None:
            raise SplitListError(
                f"{where}: expected a path '<ClassName>/v_<ClassName>_gXX_cYY.avi', got "
                f"{parts[0]!r}; fix or delete the line"
            )
        if folder not in label_of:
            raise SplitListError(
                f"{where}: folder {folder!r} of {parts[0]!r} is not a class of "
                f"{CLASS_INDEX}; fix the line or use the classInd.txt of the same release"
            )
        label = label_of[folder]
        if rel in listed:
            raise SplitListError(
                f"{where}: {rel!r} is listed again (first on line {listed[rel]}); delete the repeat"
            )
        listed[rel] = number
        if len(parts) == 2:
            if not _is_number(parts[1]):
                raise SplitListError(
                    f"{where}: the label must be a 1-based integer, got {parts[1]!r} in "
                    f"{line!r}; fix or delete the line"
                )
            if not 1 <= int(parts[1]) <= len(class_names):
                raise SplitListError(
                    f"{where}: label {parts[1]} of {line!r} is outside 1..{len(class_names)} "
                    f"(the classes of {CLASS_INDEX}); fix the label"
                )
            if int(parts[1]) != label + 1:
                raise SplitListError(
                    f"{where}: label {parts[1]} of {line!r} disagrees with the folder "
                    f"{folder!r} (class {label + 1} in {CLASS_INDEX}); fix the label or the path"
                )
        clips.append(
            UCF101Clip(
                path=rel,
                class_name=folder,
                label=label,
                group=int(match["group"]),
                clip=int(match["clip"]),
                source=str(path),
                line=number,
            )
        )
    return clips


def validate_folds(train: Iterable[UCF101Clip], test: Iterable[UCF101Clip]) -> None:
    """Raise :class:`FoldOverlapError` if a (class, group) has clips in both train and test.

    The clips of one group share actor and scene (Soomro et al. 2012), so a group on both sides
    would leak test scenes into training; the official folds keep whole groups apart.
    """
    train_where: dict[tuple[str, int], UCF101Clip] = {}
    for clip in train:
        train_where.setdefault(clip.group_key, clip)
    for clip in test:
        other = train_where.get(clip.group_key)
        if other is not None:
            raise FoldOverlapError(
                f"group g{clip.group:02d} of class {clip.class_name} is in both "
                f"{other.source}:{other.line} ({other.path}) and {clip.source}:{clip.line} "
                f"({clip.path}); train and test of a fold must not share a group: restore the "
                "official split lists"
            )


def holdout_groups(
    clips: Iterable[UCF101Clip], fraction: float, seed: int
) -> tuple[list[UCF101Clip], list[UCF101Clip]]:
    """Split a fold's training clips into (train, val) by whole groups, class by class.

    Rule: for each class, its training groups are ordered by ``sha1(f"{seed}:{class}:{group}")``
    and the first ``max(1, round(fraction * n))`` of its ``n`` groups go to validation (none when
    ``fraction`` is 0, and never all of them). With the default ``fraction = 1/8`` a real UCF-101
    fold keeps 16 of each class's 18 training groups (every class is validated, no group is ever
    split between train and val), and the result does not depend on the order of the list.
    """
    clips = list(clips)
    if not 0 <= fraction < 1:
        raise ValueError(f"data.val_fraction must be in [0, 1), got {fraction}")
    groups: dict[str, set[int]] = {}
    for clip in clips:
        groups.setdefault(clip.class_name, set()).add(clip.group)
    held: set[tuple[str, int]] = set()
    if fraction > 0:
        for class_name, ids in groups.items():
            if len(ids) < 2:
                continue
            count = min(len(ids) - 1, max(1, round(fraction * len(ids))))
            ordered = sorted(ids, key=lambda g: _group_hash(seed, class_name, g))  # noqa: B023
            held.update((class_name, g) for g in ordered[:count])
    train = [c for c in clips if c.group_key not in held]
    val = [c for c in clips if c.group_key in held]
    return train, val


def _group_hash(seed: int, class_name: str, group: int) -> bytes:
    return hashlib.sha1(f"{seed}:{class_name}:{group}".encode()).digest()


def parse_class_groups(path: str | Path) -> dict[str, str]:
    """``ClassName<TAB>Group`` rows (the five class types of Table 4) as a dict."""
    path = Path(path)
    groups: dict[str, str] = {}
    for number, line in _lines(path):
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != 2 or not all(parts):
            raise SplitListError(
                f"{path}:{number}: expected 'ClassName<TAB>Group', got {line!r}; fix the line"
            )
        groups[parts[0]] = parts[1]
    return groups


def index_clip_files(
    video_dir: str | Path, class_names: Iterable[str], extensions: Sequence[str] = VIDEO_EXTENSIONS
) -> dict[str, Path]:
    """Map ``"<ClassName>/<stem>"`` -> file for every video in the class folders (one scan each).

    Matching by stem lets a folder re-encoded by ``scripts/prepare_videos.py`` (``.mp4``) stand
    in for the listed ``.avi`` files.
    """
    allowed = {ext.lower() if ext.startswith(".") else f".{ext.lower()}" for ext in extensions}
    found: dict[str, Path] = {}
    for name in class_names:
        folder = Path(video_dir) / name
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                stem, ext = os.path.splitext(entry.name)
                if ext.lower() in allowed and entry.is_file():
                    found.setdefault(f"{name}/{stem}", Path(entry.path))
    return found


# ------------------------------------------------------------------------------ DataModule
class UCF101DataModule(VideoDataModule):
    """UCF-101 (Karpathy et al. 2014, Sec. 4.2): 101 classes, one official fold of three.

    Videos are read from ``<root>/<ClassName>/`` (or ``<root>/UCF-101/<ClassName>/``, as the
    official archive unpacks; ``video_dir`` overrides). The split lists come from ``split_dir``,
    by default ``<root>/ucfTrainTestlist`` when present, else the official copy shipped with
    deepvideo. ``class_groups`` maps every class to its type for per-group mAP (Table 4).
    """

    dataset_name = "UCF-101"
    how_to_get = HOW_TO_GET

    def __init__(
        self,
        root: str,
        num_classes: int = 101,
        fold: int = 1,
        split_dir: str | None = None,
        video_dir: str | None = None,
        class_groups_file: str | None = None,
        extensions: Sequence[str] = VIDEO_EXTENSIONS,
        val_fraction: float = 0.125,
        split_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(root=root, num_classes=num_classes, **kwargs)
        self.fold = int(fold)
        split_files(".", self.fold)  # an impossible fold stops here, with the fix
        self.split_dir = split_dir
        self.video_dir = video_dir
        self.extensions = tuple(extensions)
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.class_groups_file = class_groups_file

    # resolved on first use, so a dataset generated by prepare_data() is the one read
    @property
    def split_files(self) -> dict[str, Path]:
        return split_files(self.resolve_split_dir(self.split_dir), self.fold)

    @functools.cached_property
    def class_groups_path(self) -> Path:
        return self.resolve_class_groups(self.class_groups_file)

    @functools.cached_property
    def class_groups(self) -> dict[str, str]:
        """ClassName -> group (the five UCF-101 class types; Karpathy et al. 2014, Table 4)."""
        return parse_class_groups(self.class_groups_path)

    def resolve_split_dir(self, split_dir: str | None) -> Path:
        if split_dir is not None:
            return Path(split_dir).expanduser()
        local = self.root / SPLIT_DIR_NAME
        return local if (local / CLASS_INDEX).is_file() else official_split_dir()

    def resolve_class_groups(self, class_groups_file: str | None) -> Path:
        if class_groups_file is not None:
            path = Path(class_groups_file).expanduser()
            if not path.is_file():
                raise DataNotFoundError(
                    f"data.class_groups_file={path} does not exist; point it at a "
                    "'ClassName<TAB>Group' file or set it to null for the shipped one"
                )
            return path
        local = self.root / CLASS_GROUPS
        return local if local.is_file() else official_class_groups_file()

    def video_folder(self) -> Path:
        if self.video_dir is not None:
            return self.root / self.video_dir
        unpacked = self.root / ARCHIVE_FOLDER
        return unpacked if unpacked.is_dir() else self.root

    def check_available(self) -> None:
        absent = [str(p) for p in self.split_files.values() if not p.is_file()]
        if absent:
            raise DataNotFoundError(
                f"{self.dataset_name}: no split file {absent[0]} (data.split_dir); set "
                "data.split_dir=null to use the official lists shipped with deepvideo"
            )
        class_names = parse_class_index(self.split_files["classes"])
        folder = self.files_folder()
        if not any(index_clip_files(folder, [name], self.extensions) for name in class_names):
            raise DataNotFoundError(
                f"{self.dataset_name}: no videos under data.root={self.root} (looked in "
                f"{folder}/<ClassName>/); {self.hint()}"
            )

    def load_fold(self) -> tuple[list[str], list[UCF101Clip], list[UCF101Clip]]:
        """Class names and the fold's train and test clips, checked for group overlap."""
        class_names = parse_class_index(self.split_files["classes"])
        train = parse_split_list(self.split_files["train"], class_names)
        test = parse_split_list(self.split_files["test"], class_names)
        validate_folds(train, test)
        return class_names, train, test

    def load_splits(self) -> tuple[list[str], dict[str, list[VideoItem]]]:
        class_names, train_clips, test_clips = self.load_fold()
        ungrouped = sorted(set(class_names) - set(self.class_groups))
        if ungrouped:
            log.warning(
                "%s: %d classes have no group in %s (%s); per-group mAP leaves them out",
                self.dataset_name,
                len(ungrouped),
                self.class_groups_path,
                ", ".join(ungrouped[:5]) + (", ..." if len(ungrouped) > 5 else ""),
            )
        train_clips, val_clips = holdout_groups(train_clips, self.val_fraction, self.split_seed)
        files = index_clip_files(self.files_folder(), class_names, self.extensions)
        splits: dict[str, list[VideoItem]] = {}
        for split, clips in (("train", train_clips), ("val", val_clips), ("test", test_clips)):
            items = self.clips_to_items(clips, files)
            self.count(split, [(clip.label,) for clip in clips], items)
            splits[split] = items
        return class_names, splits

    @staticmethod
    def clips_to_items(clips: Iterable[UCF101Clip], files: Mapping[str, Path]) -> list[VideoItem]:
        items = []
        for clip in clips:
            path = files.get(f"{clip.class_name}/{clip.stem}")
            if path is not None:
                items.append(VideoItem(path, (clip.label,), clip.stem))
        return items


class SyntheticUCF101DataModule(UCF101DataModule):
    """The synthetic benchmark in UCF-101's layout (10 classes, 3 folds), generated once under
    ``root``: the transfer target for a model pretrained on the synthetic Sports-1M layout."""

    dataset_name = "synthetic UCF-101"
    how_to_get = "it is generated on first use; check data.root is writable"

    def __init__(
        self, root: str, generator: Mapping[str, Any] | None = None, workers: int = 1, **kwargs: Any
    ) -> None:
        self.generator = {**dict(generator or {}), "layout": "ucf101"}
        self.generator_workers = workers
        # the split lists and class groups it reads are the ones it writes under root
        super().__init__(root=root, **kwargs)

    def prepare_data(self) -> None:
        from deepvideo.synthetic import SyntheticConfig, ensure_generated

        ensure_generated(
            self.root, SyntheticConfig(**self.generator), workers=self.generator_workers
        )
