"""The prediction task behind ``src/predict.py``: top-k labels for one video file.

The checkpoint's stored config gives the network, the clip it needs and the preprocessing. The
video (any length, resolution and container decord reads) is covered by ``clips`` evenly spaced
clips, each seen in ``views`` crops/flips; their class probabilities are averaged (Karpathy et
al. 2014, Sec. 4.1). With ``overlay=OUT.mp4`` every frame is written back with the top labels of
the clip nearest to it drawn on it (the paper's supplementary video).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from deepvideo.cli import ConfigError
from deepvideo.data.sampling import ClipSpec, eval_clips
from deepvideo.data.transforms import ClipTransform
from deepvideo.data.video import EncodedVideo
from deepvideo.evaluation import load_checkpoint

log = logging.getLogger(__name__)


def load_network(checkpoint: dict[str, Any]) -> tuple[torch.nn.Module, DictConfig]:
    """The checkpoint's network, in eval mode, and its stored run config."""
    run = OmegaConf.create(checkpoint["deepvideo"]["config"])
    net = instantiate(run.model.net)
    prefix = "net."
    state = {
        k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
    }
    net.load_state_dict(state)
    return net.eval(), run


def clip_pipeline(run: DictConfig) -> tuple[ClipSpec, ClipTransform]:
    data, clip = run.data, run.model.clip
    spec = ClipSpec(
        num_frames=int(clip.num_frames),
        frame_stride=int(clip.frame_stride),
        target_fps=data.get("target_fps"),
    )
    transform = ClipTransform(
        resize=int(data.sizes.resize),
        crop=int(clip.crop_size),
        mean=float(data.mean),
        std=float(data.get("std", 1.0)),
    )
    return spec, transform


@torch.no_grad()
def predict_video(
    net: torch.nn.Module,
    video: EncodedVideo,
    spec: ClipSpec,
    transform: ClipTransform,
    clips: int,
    views: int,
    batch_size: int = 8,
) -> tuple[torch.Tensor, list[list[int]]]:
    """Per-clip class probabilities ``(clips, C)`` and the frame indices of each clip."""
    positions = eval_clips(
        video.num_frames, spec, clips, np.random.default_rng(0), video.fps, "uniform"
    )
    rng = np.random.default_rng(0)
    probs = []
    for start in range(0, len(positions), batch_size):
        batch = [
            transform.views(video.get_frames(p), views, rng)
            for p in positions[start : start + batch_size]
        ]
        x = torch.stack(batch)  # (B, V, C, T, H, W)
        logits = net(x.flatten(0, 1))
        probs.append(logits.float().softmax(-1).view(x.shape[0], views, -1).mean(1))
    return torch.cat(probs), positions


def write_overlay(
    video: EncodedVideo,
    clip_probs: torch.Tensor,
    positions: list[list[int]],
    class_names: list[str],
    out: Path,
    top_k: int = 3,
) -> Path:
    """Re-encode ``video`` with the top labels of the nearest clip drawn on every frame."""
    import av
    from PIL import Image, ImageDraw

    centers = np.array([np.mean(p) for p in positions])
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=round(video.fps) or 25)
        first = video.get_frames([0])[0].numpy()
        height, width = first.shape[:2]
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        for start in range(0, video.num_frames, 64):
            indices = list(range(start, min(start + 64, video.num_frames)))
            for index, frame in zip(indices, video.get_frames(indices).numpy(), strict=True):
                probs = clip_probs[int(np.abs(centers - index).argmin())]
                values, labels = probs.topk(min(top_k, probs.numel()))
                image = Image.fromarray(frame[: stream.height, : stream.width])
                draw = ImageDraw.Draw(image)
                for row, (p, c) in enumerate(zip(values.tolist(), labels.tolist(), strict=True)):
                    text = f"{class_names[c] if c < len(class_names) else c}: {p:.2f}"
                    y = 2 + 11 * row
                    draw.rectangle([0, y, 6 * len(text) + 4, y + 10], fill=(0, 0, 0))
                    draw.text((2, y), text, fill=(255, 255, 255) if row else (255, 220, 0))
                packet = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
                container.mux(stream.encode(packet))
        container.mux(stream.encode(None))
    return out


def predict(cfg: DictConfig) -> list[tuple[str, float]]:
    """Print the top-k labels of ``cfg.video``; optionally write the overlay video."""
    if not cfg.get("video"):
        raise ConfigError("pass the video to classify: video=PATH")
    checkpoint = load_checkpoint(cfg.ckpt_path)
    net, run = load_network(checkpoint)
    class_names = list(checkpoint["deepvideo"].get("class_names") or [])
    spec, transform = clip_pipeline(run)
    video = EncodedVideo(cfg.video)
    clip_probs, positions = predict_video(
        net, video, spec, transform, int(cfg.clips), int(cfg.views)
    )
    probs = clip_probs.mean(0)
    values, labels = probs.topk(min(int(cfg.top_k), probs.numel()))
    ranked = [
        (class_names[c] if c < len(class_names) else str(c), float(p))
        for p, c in zip(values.tolist(), labels.tolist(), strict=True)
    ]
    print(f"{cfg.video} ({video.duration:.1f} s, {len(positions)} clips x {cfg.views} views):")
    for rank, (name, p) in enumerate(ranked, start=1):
        print(f"{rank:>3}. {name:<40} {p:.3f}")
    if cfg.get("overlay"):
        out = write_overlay(video, clip_probs, positions, class_names, Path(cfg.overlay))
        print(f"overlay written to {out}")
    return ranked
