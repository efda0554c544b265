"""The prediction task behind ``src/predict.py``: top-k labels for one video file.

The checkpoint's stored config gives the network, the clip it needs and the preprocessing; the
clips come from the same path as evaluation (:meth:`VideoDataModule.eval_clips` of the stored
``data`` config: the test clips, views, padding and seeding), so ``predict.py`` on a test video
gives the probabilities ``eval.py`` computed for it. ``clips=``, ``views=``, ``mode=`` override
the test settings (e.g. ``mode=uniform`` for evenly spaced clips). Clip probabilities are the
mean over views, the video's the mean over clips (Karpathy et al. 2014, Sec. 4.1). With
``overlay=OUT.mp4`` every frame is written back with the top labels of the clip nearest to it
drawn on it (the paper's supplementary video).

A network with a prediction at every frame (the deep LSTM of Ng et al. 2015, Sec. 3.2) also gets
a running prediction (:func:`running_prediction`): one pass over the whole video (its first
``max_seconds``, at the model's frame rate, 1 fps), the prediction after each second as the LSTM's
state accumulates, printed second by second and drawn on the overlay frame by frame.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from deepvideo.checkpoint import class_names, load_checkpoint, load_network
from deepvideo.data.datamodule import build_datamodule
from deepvideo.data.datasets import EvalClips
from deepvideo.data.sampling import fps_frames
from deepvideo.data.video import EncodedVideo
from deepvideo.errors import ConfigError
from deepvideo.models.lstm import combine_frames

log = logging.getLogger(__name__)


def example_probabilities(logits: torch.Tensor, frame_rule: str = "weighted") -> torch.Tensor:
    """Class probabilities of each example: the softmax, or for per-frame logits ``(N, T, C)``
    the per-frame softmax combined by ``frame_rule`` (Ng et al. 2015, Sec. 3.3), as in
    :meth:`deepvideo.modules.VideoClassifier.scores`."""
    probs = logits.float().softmax(-1)
    return combine_frames(probs, frame_rule) if probs.ndim == 3 else probs


@torch.no_grad()
def predict_video(
    net: nn.Module,
    video: EncodedVideo,
    clips: EvalClips,
    video_id: str,
    batch_size: int = 8,
    frame_rule: str = "weighted",
) -> tuple[torch.Tensor, list[list[int]]]:
    """Per-clip class probabilities ``(clips, C)`` and the frame indices of each clip."""
    decoded = clips.decode(video, video_id)
    probs = []
    for batch in clips.batches(decoded, video_id, batch_size):  # (B, V, C, T, H, W)
        scores = example_probabilities(net(batch.flatten(0, 1)), frame_rule)
        probs.append(scores.view(batch.shape[0], batch.shape[1], -1).mean(1))
    return torch.cat(probs), decoded.positions


@torch.no_grad()
def running_prediction(
    net: nn.Module, video: EncodedVideo, clips: EvalClips, video_id: str, frame_rule: str
) -> tuple[torch.Tensor, list[int]]:
    """A per-frame network's prediction after each sampled frame of one pass over the video.

    The frames are those of Ng et al.'s whole-video pass (the clip's rate, 1 fps, over the
    first ``max_seconds``; not looped: a short video ends where it ends), seen in the centre
    view. Row ``t`` combines the frame predictions ``0..t`` by ``frame_rule`` (for ``last``:
    the prediction at frame ``t``), i.e. what the model says having seen ``t + 1`` seconds.
    Returns ``(T, C)`` probabilities and the native frame index of each row.
    """
    spec = clips.sampler.spec
    fps = spec.target_fps or 1.0
    usable = spec.usable_frames(video.num_frames, video.fps)
    indices = fps_frames(usable, video.fps, fps, max_frames=usable, repeat=False)
    sample = {"video": video.get_frames(indices)}
    rng = np.random.default_rng(0)  # one view: the centre crop, no flip; nothing is random
    frames = clips.transform.eval_pipeline(1)(sample, rng)["video"]  # (1, C, T, S, S)
    probs = net(frames).float().softmax(-1)[0]  # (T, C): the state after each frame
    running = torch.stack(
        [combine_frames(probs[None, : t + 1], frame_rule)[0] for t in range(probs.shape[0])]
    )
    return running, indices


def write_overlay(
    video: EncodedVideo,
    clip_probs: torch.Tensor,
    positions: list[list[int]],
    names: list[str],
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
                    text = f"{names[c] if c < len(names) else c}: {p:.2f}"
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
    names = class_names(checkpoint)
    # the checkpoint's data config builds the clips; nothing is read from its data root
    datamodule = build_datamodule(run.data, prepare=False, check=False)
    clips = datamodule.eval_clips(
        "test", clips_per_video=cfg.get("clips"), views=cfg.get("views"), mode=cfg.get("mode")
    )
    frame_rule = str(cfg.get("frame_rule") or run.module.get("frame_rule", "weighted"))
    path = Path(cfg.video)
    video = clips.open(path)  # with the checkpoint's data.decoder, as evaluation reads
    # the video's id seeds its clips, as in evaluation (a dataset's ids are the file stems)
    clip_probs, positions = predict_video(net, video, clips, path.stem, frame_rule=frame_rule)
    probs = clip_probs.mean(0)
    values, labels = probs.topk(min(int(cfg.top_k), probs.numel()))
    ranked = [
        (names[c] if c < len(names) else str(c), float(p))
        for p, c in zip(values.tolist(), labels.tolist(), strict=True)
    ]
    print(f"{cfg.video} ({video.duration:.1f} s, {len(positions)} clips x {clips.views} views):")
    for rank, (name, p) in enumerate(ranked, start=1):
        print(f"{rank:>3}. {name:<40} {p:.3f}")
    overlay_probs, overlay_positions = clip_probs, positions
    if getattr(net, "frame_outputs", False) and cfg.get("running", True):
        running, indices = running_prediction(net, video, clips, path.stem, frame_rule)
        print(f"running prediction ({frame_rule} rule over the frames seen so far):")
        for row, index in zip(running, indices, strict=True):
            p, c = row.max(0)
            name = names[int(c)] if int(c) < len(names) else str(int(c))
            print(f"  {index / video.fps:7.1f} s  {name:<40} {float(p):.3f}")
        overlay_probs, overlay_positions = running, [[i] for i in indices]
    if cfg.get("overlay"):
        out = write_overlay(video, overlay_probs, overlay_positions, names, Path(cfg.overlay))
        print(f"overlay written to {out}")
    return ranked
