"""The CNN average ensemble of Table 1's last row (Karpathy et al. 2014, Sec. 4.1, Table 1).

"CNN Average (Single+Early+Late+Slow)": the class probabilities of the four time-fusion nets are
averaged. The members want different clips (Single Frame: 1 frame; Early and Slow Fusion: 10
consecutive frames; Late Fusion: 2 frames 15 apart), so the ensemble is fed one clip long enough
for all of them (16 consecutive frames with the paper's settings) and each member sees its own
frames of it, centered (:func:`member_frame_indices`), through
:class:`deepvideo.models.AverageEnsemble`. It is evaluated like every member: the same test
videos, clips per video and crop/flip views, clip probabilities averaged per video, with
:class:`deepvideo.metrics.VideoLevelMetrics`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from deepvideo.checkpoint import class_names, load_checkpoint, load_network
from deepvideo.data.datamodule import VideoDataModule, build_datamodule
from deepvideo.metrics import VideoLevelMetrics
from deepvideo.models import AverageEnsemble
from deepvideo.scores import write_video_scores

log = logging.getLogger(__name__)

__all__ = [
    "EnsembleClip",
    "EnsembleResult",
    "Member",
    "average_probabilities",
    "build_ensemble",
    "ensemble_clip",
    "ensemble_test_data",
    "evaluate_ensemble",
    "load_ensemble",
    "load_members",
    "member_frame_indices",
    "save_video_scores",
]


@dataclass
class Member:
    """A trained net rebuilt from its checkpoint, with the run config stored in it."""

    name: str
    net: nn.Module
    run: DictConfig
    checkpoint: Path
    class_names: list[str] = field(default_factory=list)

    @property
    def span(self) -> int:
        """Frames from the first to the last frame of the member's clip, inclusive."""
        clip = self.run.model.clip
        return (int(clip.num_frames) - 1) * int(clip.frame_stride) + 1


@dataclass(frozen=True)
class EnsembleClip:
    """The clip the ensemble is fed (consecutive frames covering every member) and its data.

    ``data`` is the first member's resolved data config with ``clip`` set to this clip, ready to
    instantiate the dataset's DataModule.
    """

    num_frames: int
    frame_stride: int
    crop_size: int
    data: DictConfig

    def as_model_clip(self) -> dict[str, int]:
        """The ``model.clip`` mapping the data layer reads."""
        return {
            "num_frames": self.num_frames,
            "frame_stride": self.frame_stride,
            "crop_size": self.crop_size,
        }


@dataclass
class EnsembleResult:
    """Video/clip metrics of the ensemble (and of each member on the ensemble's clips)."""

    metrics: dict[str, float]
    member_metrics: dict[str, dict[str, float]]
    video_index: Tensor
    scores: Tensor
    targets: Tensor


def member_frame_indices(num_frames: int, frame_stride: int, total: int) -> list[int]:
    """Indices into a ``total``-frame consecutive clip of a member's centered clip.

    E.g. in 16 frames: Slow Fusion (10 x 1) ``[3..12]``, Late Fusion (2 x 15) ``[0, 15]``,
    Single Frame ``[7]``.
    """
    span = (num_frames - 1) * frame_stride + 1
    if span > total:
        raise ValueError(
            f"a clip of {num_frames} frames {frame_stride} apart needs {span} > {total}"
        )
    offset = (total - span) // 2
    return [offset + i * frame_stride for i in range(num_frames)]


def load_members(ckpt_paths: Sequence[str | Path] | Mapping[str, str | Path]) -> list[Member]:
    """Rebuild each checkpoint's network (eval mode) with its run config.

    Members are named after their ``model.name`` (or the mapping's keys); repeated names get a
    ``_2``, ``_3``, ... suffix.
    """
    items = (
        list(ckpt_paths.items())
        if isinstance(ckpt_paths, Mapping)
        else [(None, p) for p in ckpt_paths]
    )
    members: list[Member] = []
    seen: dict[str, int] = {}
    for key, path in items:
        checkpoint = load_checkpoint(path)
        net, run = load_network(checkpoint)
        name = key or str(run.model.name)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}_{seen[name]}"
        members.append(
            Member(
                name=name,
                net=net,
                run=run,
                checkpoint=Path(path),
                class_names=class_names(checkpoint),
            )
        )
    if not members:
        raise ValueError("an ensemble needs at least one checkpoint")
    return members


def same_dataset(a: object, b: object) -> bool:
    """Whether two data roots hold one dataset: the same path, or two generated copies whose
    manifests record the same generator, version and parameters."""
    if str(a) == str(b):
        return True
    from deepvideo.synthetic.generate import read_manifest

    ma, mb = read_manifest(str(a)), read_manifest(str(b))
    keys = ("generator", "version", "layout", "seed", "params")
    return ma is not None and mb is not None and all(ma.get(k) == mb.get(k) for k in keys)


def ensemble_clip(members: Sequence[Member]) -> EnsembleClip:
    """The consecutive-frame clip covering every member's clip, at the largest crop size."""
    first = members[0].run.data
    for m in members[1:]:
        d = m.run.data
        if (d.get("_target_"), int(d.num_classes)) != (
            first.get("_target_"),
            int(first.num_classes),
        ) or not same_dataset(d.get("root"), first.get("root")):
            raise ValueError(
                f"ensemble members must share one dataset: {members[0].name} was trained on "
                f"{first.get('root')}, {m.name} on {d.get('root')}"
            )
        if d.get("target_fps") != first.get("target_fps"):
            raise ValueError("ensemble members must sample frames at one rate (data.target_fps)")
    num_frames = max(m.span for m in members)
    crop = max(int(m.run.model.clip.crop_size) for m in members)
    data = DictConfig(OmegaConf.to_container(first, resolve=True))
    data.clip = {"num_frames": num_frames, "frame_stride": 1, "crop_size": crop}
    return EnsembleClip(num_frames=num_frames, frame_stride=1, crop_size=crop, data=data)


def build_ensemble(members: Sequence[Member], clip: EnsembleClip) -> AverageEnsemble:
    """An :class:`AverageEnsemble` giving each member its centered frames and its crop."""
    nets = {m.name: m.net for m in members}
    frames = {
        m.name: member_frame_indices(
            int(m.run.model.clip.num_frames), int(m.run.model.clip.frame_stride), clip.num_frames
        )
        for m in members
    }
    crops = {
        m.name: (
            None
            if int(m.run.model.clip.crop_size) == clip.crop_size
            else int(m.run.model.clip.crop_size)
        )
        for m in members
    }
    return AverageEnsemble(nets, frames, crops).eval()


def load_ensemble(
    ckpt_paths: Sequence[str | Path] | Mapping[str, str | Path],
) -> tuple[AverageEnsemble, EnsembleClip]:
    """Table 1, last row: the average ensemble of the checkpoints' nets and the clip it takes."""
    members = load_members(ckpt_paths)
    clip = ensemble_clip(members)
    return build_ensemble(members, clip), clip


def ensemble_test_data(
    clip: EnsembleClip,
    data_overrides: Mapping[str, Any] | None = None,
) -> VideoDataModule:
    """The members' test data, delivering the ensemble's clip (same clips/views/seed as theirs)."""
    data = DictConfig(OmegaConf.to_container(clip.data, resolve=True))
    for key, value in (data_overrides or {}).items():
        OmegaConf.update(data, key, value, force_add=True)
    return build_datamodule(data, stage="test")


def average_probabilities(member_logits: Mapping[str, Tensor]) -> Tensor:
    """Mean of the members' softmax probabilities (``exp`` of :class:`AverageEnsemble`'s output)."""
    return torch.stack([z.float().softmax(-1) for z in member_logits.values()]).mean(0)


@torch.no_grad()
def evaluate_ensemble(
    ensemble: AverageEnsemble,
    clip: EnsembleClip,
    data_overrides: Mapping[str, Any] | None = None,
    top_k: Sequence[int] = (1, 5),
    max_batches: int | None = None,
) -> EnsembleResult:
    """Clip Hit@1 and video Hit@k of the ensemble on the test split (Sec. 4.1 protocol).

    Every clip is seen in the data config's ``test_clips.views`` crops/flips; view probabilities
    are averaged into a clip prediction and clips into a video prediction, exactly as
    :class:`deepvideo.modules.VideoClassifier` does for a single net. Each member is also scored
    on the same clips (``member_metrics``), which checks that the members load correctly.
    """
    ensemble.eval()
    datamodule = ensemble_test_data(clip, data_overrides)
    metrics = VideoLevelMetrics(top_k)
    members = {name: VideoLevelMetrics(top_k) for name in ensemble.members}
    for i, batch in enumerate(datamodule.test_dataloader()):
        if max_batches is not None and i >= max_batches:
            break
        video = batch["video"]
        if video.ndim == 5:
            video = video.unsqueeze(1)
        b, v = video.shape[:2]
        logits = ensemble.member_logits(video.flatten(0, 1))
        per_view = {n: z.float().softmax(-1).view(b, v, -1).mean(1) for n, z in logits.items()}
        probs = torch.stack(list(per_view.values())).mean(0)
        valid = batch.get("valid")
        metrics.update(probs, batch["label"], batch["video_index"], valid)
        for name, p in per_view.items():
            members[name].update(p, batch["label"], batch["video_index"], valid)

    def as_floats(m: VideoLevelMetrics) -> dict[str, float]:
        return {f"test/{k}": float(v) for k, v in m.compute().items()}

    ids, scores, targets = metrics.video_scores()
    return EnsembleResult(
        metrics=as_floats(metrics),
        member_metrics={name: as_floats(m) for name, m in members.items()},
        video_index=ids,
        scores=scores,
        targets=targets,
    )


def save_video_scores(
    result: EnsembleResult,
    datamodule_or_clip: VideoDataModule | EnsembleClip,
    path: str | Path,
    model: str = "cnn_average",
) -> Path:
    """Write the ensemble's ``video_scores.pt`` (:func:`deepvideo.scores.write_video_scores`)."""
    datamodule = (
        ensemble_test_data(datamodule_or_clip)
        if isinstance(datamodule_or_clip, EnsembleClip)
        else datamodule_or_clip
    )
    return write_video_scores(
        path, datamodule, result.video_index, result.scores, result.targets, model
    )
