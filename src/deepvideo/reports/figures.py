"""The paper's figures from trained checkpoints, as PNG files (matplotlib, Agg backend).

- Fig. 3 (Karpathy et al. 2014): first-layer filters of the multiresolution net, context stream
  and fovea stream side by side (:func:`plot_multires_filters`), and the temporal conv1 filters
  of Slow Fusion, each shown as its ``kt`` (= 4) time slices in a row
  (:func:`plot_temporal_filters`).
- Fig. 4: ranked predictions for sample test videos: a middle-frame thumbnail and the top-5
  labels as horizontal bars, green where the label is correct (:func:`plot_ranked_predictions`).
- The video-level confusion matrix (argmax vs first ground-truth label,
  :func:`plot_confusion`), whose most confused pairs :mod:`deepvideo.reports.analysis` lists.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from torch import Tensor  # noqa: E402

from deepvideo.checkpoint import load_checkpoint, load_network, stored_config  # noqa: E402
from deepvideo.data.datamodule import build_datamodule  # noqa: E402
from deepvideo.data.video import EncodedVideo  # noqa: E402
from deepvideo.errors import ConfigError  # noqa: E402
from deepvideo.reports.analysis import (  # noqa: E402
    confusion_matrix,
    first_labels,
    markdown_confusions,
)
from deepvideo.reports.experiments import (  # noqa: E402
    PROJECT_ROOT,
    checkpoint_of,
    evaluate_checkpoint,
)
from deepvideo.reports.table1 import manifest_run_dir  # noqa: E402
from deepvideo.scores import VideoScores, load_video_scores  # noqa: E402

log = logging.getLogger(__name__)

__all__ = [
    "FiguresOptions",
    "filter_tiles",
    "middle_frame",
    "plot_confusion",
    "plot_multires_filters",
    "plot_ranked_predictions",
    "plot_temporal_filters",
    "run_figures",
    "sample_videos",
    "video_paths",
    "write_confusion",
    "write_figures",
    "network_filters",
]

GREEN = "#2ca02c"
GRAY = "#9e9e9e"


def _normalise(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.full_like(x, 0.5)


def filter_tiles(weights: Tensor) -> list[np.ndarray]:
    """conv1 weights ``(out, 3, kt, k, k)`` (or ``(out, 3, k, k)``) as RGB tiles.

    Each filter is scaled to [0, 1] on its own (over all its time slices, so changes over time
    stay visible); a filter becomes one ``(k, kt * (k + 1) - 1, 3)`` strip of its time slices.
    """
    w = weights.detach().float().cpu()
    if w.ndim == 4:
        w = w.unsqueeze(2)
    tiles = []
    for f in w.numpy():
        f = _normalise(f)  # (3, kt, k, k)
        k = f.shape[-1]
        slices = [np.transpose(f[:, t], (1, 2, 0)) for t in range(f.shape[1])]
        gap = np.ones((k, 1, 3))
        strip = slices[0]
        for s in slices[1:]:
            strip = np.concatenate([strip, gap, s], axis=1)
        tiles.append(strip)
    return tiles


def _mosaic(tiles: Sequence[np.ndarray], columns: int, pad: int = 2) -> np.ndarray:
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    canvas = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, 3))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = tile
    return canvas


def _save(fig: plt.Figure, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_multires_filters(filters: Mapping[str, Tensor], out: str | Path) -> Path:
    """Fig. 3: the conv1 filters of each multiresolution stream (context left, fovea right)."""
    streams = [s for s in ("context", "fovea") if s in filters]
    fig, axes = plt.subplots(1, len(streams), figsize=(4.5 * len(streams), 4.5), squeeze=False)
    for ax, stream in zip(axes[0], streams, strict=True):
        tiles = filter_tiles(filters[stream])
        ax.imshow(_mosaic(tiles, int(np.ceil(np.sqrt(len(tiles))))), interpolation="nearest")
        w = filters[stream]
        ax.set_title(f"{stream} stream conv1 ({w.shape[0]} filters, {w.shape[-1]}x{w.shape[-1]})")
        ax.axis("off")
    fig.suptitle("First-layer filters of the multiresolution network (cf. Fig. 3)")
    return _save(fig, Path(out))


def plot_temporal_filters(weights: Tensor, out: str | Path, columns: int = 4) -> Path:
    """Fig. 3 (temporal): Slow Fusion conv1 filters, each as its ``kt`` time slices in a row."""
    tiles = filter_tiles(weights)
    kt = weights.shape[2] if weights.ndim == 5 else 1
    columns = max(1, min(columns, len(tiles)))
    mosaic = _mosaic(tiles, columns, pad=3)
    fig, ax = plt.subplots(figsize=(2.2 * columns * kt / 4 + 1, 0.5 * len(tiles) / columns + 1.5))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_title(
        f"Slow Fusion conv1: {weights.shape[0]} filters, temporal extent {kt} "
        "(time runs left to right in each strip)"
    )
    ax.axis("off")
    return _save(fig, Path(out))


def middle_frame(path: str | Path) -> np.ndarray:
    """The middle frame of a video, ``(H, W, 3)`` uint8."""
    video = EncodedVideo(path)
    return video.get_frames([video.num_frames // 2])[0].numpy()


def video_paths(run: DictConfig, split: str = "test") -> dict[str, Path]:
    """``video id -> file`` of a split of a run's dataset (from its stored config)."""
    data = DictConfig(OmegaConf.to_container(run.data, resolve=True))
    datamodule = build_datamodule(data, prepare=False, stage="test")
    return {v.video_id: Path(v.path) for v in datamodule.splits[split]}


def sample_videos(scores: VideoScores, count: int = 8) -> list[int]:
    """Up to ``count`` test videos of evenly spaced classes (by first label), one per class."""
    labels = first_labels(scores.targets).tolist()
    classes = sorted(set(labels))
    wanted = np.unique(np.round(np.linspace(0, len(classes) - 1, min(count, len(classes)))))
    return [labels.index(classes[int(i)]) for i in wanted]


def plot_ranked_predictions(
    scores: VideoScores,
    indices: Sequence[int],
    frames: Sequence[np.ndarray],
    out: str | Path,
    top_k: int = 5,
    columns: int = 2,
) -> Path:
    """Fig. 4: per sample video a thumbnail and its top-k labels, correct ones green."""
    n = len(indices)
    rows = -(-n // columns)
    fig, axes = plt.subplots(
        rows,
        2 * columns,
        figsize=(6.2 * columns, 1.9 * rows),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 1.8] * columns},
    )
    for ax in axes.flat:
        ax.axis("off")
    for slot, (i, frame) in enumerate(zip(indices, frames, strict=True)):
        r, c = divmod(slot, columns)
        thumb, bars = axes[r, 2 * c], axes[r, 2 * c + 1]
        thumb.imshow(frame)
        truth = [scores.class_names[j] for j in torch.nonzero(scores.targets[i]).flatten()]
        thumb.set_title(" + ".join(truth), fontsize=8)
        k = min(top_k, scores.scores.shape[1])
        p, labels = scores.scores[i].topk(k)
        correct = [bool(scores.targets[i, j] > 0) for j in labels.tolist()]
        names = [scores.class_names[j] for j in labels.tolist()]
        bars.axis("on")
        y = np.arange(k)[::-1]
        bars.barh(y, p.numpy(), color=[GREEN if ok else GRAY for ok in correct])
        bars.set_xlim(0, 1)
        bars.set_yticks([])
        for yy, name in zip(y, names, strict=True):
            bars.text(0.01, yy, name, va="center", fontsize=7)
        bars.tick_params(axis="x", labelsize=6)
        for side in ("top", "right"):
            bars.spines[side].set_visible(False)
    fig.suptitle(
        f"{scores.model}: top-{top_k} predictions of sample test videos (green: correct; cf. Fig. 4)"
    )
    fig.tight_layout()
    return _save(fig, Path(out))


def plot_confusion(matrix: Tensor, class_names: Sequence[str], out: str | Path, title: str) -> Path:
    """The confusion matrix (rows: first true label, columns: predicted), row-normalised."""
    counts = matrix.float()
    rates = counts / counts.sum(1, keepdim=True).clamp_min(1)
    c = len(class_names)
    fig, ax = plt.subplots(figsize=(0.45 * c + 3, 0.45 * c + 2.5))
    image = ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(c), class_names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(c), class_names, fontsize=7)
    for i in range(c):
        for j in range(c):
            if int(counts[i, j]):
                ax.text(
                    j,
                    i,
                    str(int(counts[i, j])),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if rates[i, j] > 0.5 else "black",
                )
    ax.set_xlabel("predicted (video-level argmax)")
    ax.set_ylabel("true (first label)")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return _save(fig, Path(out))


def write_confusion(scores: VideoScores, out_png: str | Path, k: int = 10) -> tuple[Path, Path]:
    """The confusion matrix PNG and, next to it, a markdown list of its most confused pairs."""
    matrix = confusion_matrix(scores.scores, scores.targets)
    png = plot_confusion(
        matrix, scores.class_names, out_png, f"{scores.model}: video-level confusions"
    )
    md = png.with_suffix(".md")
    md.write_text(markdown_confusions(matrix, scores.class_names, scores.model, k, png.name))
    return png, md


def network_filters(ckpt: str | Path) -> tuple[str, Tensor | dict[str, Tensor]]:
    """Model name and ``first_layer_filters()`` of the network in a checkpoint."""
    net, run = load_network(load_checkpoint(ckpt))
    first_layer_filters = getattr(net, "first_layer_filters", None)
    if first_layer_filters is None:
        raise ValueError(f"{ckpt}: {type(net).__name__} has no first_layer_filters()")
    return str(run.model.name), first_layer_filters()


def write_figures(
    out_dir: str | Path,
    multires_ckpt: str | Path | None = None,
    temporal_ckpt: str | Path | None = None,
    scores: VideoScores | None = None,
    scores_run: DictConfig | None = None,
    samples: int = 8,
) -> list[Path]:
    """Fig. 3 (filters), Fig. 4 (ranked predictions) and the confusion matrix into ``out_dir``.

    ``scores_run`` (the run config of the scored model) locates the test videos for Fig. 4's
    thumbnails; without it Fig. 4 is skipped.
    """
    out_dir = Path(out_dir)
    written: list[Path] = []
    if multires_ckpt is not None:
        name, filters = network_filters(multires_ckpt)
        if not isinstance(filters, dict):
            raise ValueError(f"{multires_ckpt} holds {name}, not a multiresolution net")
        written.append(plot_multires_filters(filters, out_dir / "fig3_multires_filters.png"))
    if temporal_ckpt is not None:
        name, weights = network_filters(temporal_ckpt)
        if isinstance(weights, dict):
            weights = next(iter(weights.values()))
        written.append(plot_temporal_filters(weights, out_dir / f"fig3_{name}_conv1_filters.png"))
    if scores is not None:
        if scores_run is not None:
            paths = video_paths(scores_run)
            chosen = sample_videos(scores, samples)
            frames = [middle_frame(paths[scores.video_ids[i]]) for i in chosen]
            written.append(
                plot_ranked_predictions(
                    scores, chosen, frames, out_dir / f"fig4_{scores.model}_predictions.png"
                )
            )
        written.extend(write_confusion(scores, out_dir / f"confusion_{scores.model}.png"))
    for path in written:
        log.info("wrote %s", path)
    return written


@dataclass
class FiguresOptions:
    """Which runs :func:`run_figures` draws (``.ckpt`` files or run directories) and where."""

    multires: Path | None = None
    temporal: Path | None = None
    scores: Path | None = None
    from_manifest: Path | None = None
    out_dir: Path = PROJECT_ROOT / "reports" / "figures"
    samples: int = 8
    eval_dir: Path = PROJECT_ROOT / "logs" / "table2"


def run_figures(opts: FiguresOptions) -> list[Path]:
    """Fig. 3, Fig. 4 and the confusion matrix of the given runs (or a Table 1 manifest's).

    ``scores`` may be a ``video_scores.pt``; a checkpoint or run directory is evaluated with
    ``src/eval.py`` into ``eval_dir`` first, and its stored config locates Fig. 4's thumbnails.
    """
    multires, temporal, scores = opts.multires, opts.temporal, opts.scores
    if opts.from_manifest:
        multires = multires or manifest_run_dir(opts.from_manifest, "multires")
        temporal = temporal or manifest_run_dir(opts.from_manifest, "slow_fusion")
        scores = scores or temporal
    if not (multires or temporal or scores):
        raise ConfigError(
            "nothing to draw: pass --multires, --temporal, --scores or --from-manifest"
        )
    video_scores = scores_run = None
    if scores is not None:
        ckpt = checkpoint_of(scores) if scores.suffix != ".pt" else None
        path = (
            scores
            if ckpt is None
            else evaluate_checkpoint(ckpt, opts.eval_dir / ckpt.resolve().parent.parent.name)
        )
        video_scores = load_video_scores(path)
        if ckpt is not None:
            scores_run = OmegaConf.create(stored_config(load_checkpoint(ckpt, what="--scores")))
    return write_figures(
        opts.out_dir,
        checkpoint_of(multires),
        checkpoint_of(temporal),
        video_scores,
        scores_run,
        opts.samples,
    )
