"""The deep video LSTM of Ng et al. 2015, Sec. 3.2, with its training gain and inference rules.

:class:`DeepLSTM` (Fig. 4) runs a frame tower on every frame, feeds the per-frame features
through five stacked LSTM layers of 512 cells and predicts the class at every frame with one
softmax layer shared across time. Training (Sec. 3.3) backpropagates the video's label at every
frame, with a gain ``g`` rising linearly from 0 at the first frame to 1 at the last
(:func:`frame_gains`, :func:`gain_weighted_loss`). At inference the per-frame predictions are
combined into one video prediction by one of four rules (:func:`combine_frames`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepvideo.models.pooling import FrameModel, init_classifier

__all__ = [
    "INFERENCE_RULES",
    "DeepLSTM",
    "LSTMState",
    "combine_frames",
    "frame_gains",
    "gain_weighted_loss",
]

#: ``(h, c)``, each ``(layers, B, hidden)``: what :meth:`DeepLSTM.forward_steps` carries over
LSTMState = tuple[Tensor, Tensor]

#: Sec. 3.3 "LSTM Inference": 1) the last time step, 2) max over time, 3) sum over time,
#: 4) weighted by the gain g, then sum
INFERENCE_RULES = ("last", "max", "sum", "weighted")


class DeepLSTM(FrameModel):
    """Deep video LSTM (Ng et al. 2015, Sec. 3.2, Fig. 4): a prediction at every frame.

    Per frame, the tower's features (``frames.head`` of the flattened conv maps, i.e. fc7) go
    into ``lstm`` (``nn.LSTM(feature_dim, hidden, num_layers=layers)``: "five stacked LSTM
    layers, each with 512 memory cells"), and ``classifier`` (``Linear(hidden, num_classes)``,
    the softmax layer shared across time steps) turns every time step's top hidden state into
    logits. ``forward`` returns ``(B, T, num_classes)``: the LightningModule sees
    ``frame_outputs = True`` and trains with :func:`gain_weighted_loss`, evaluates with
    :func:`combine_frames`. Any ``T >= 1``.

    PyTorch's LSTM cell has no peephole weights (``W_ci``, ``W_cf``, ``W_co`` of Eqs. 3, 4 and 6
    in the paper); otherwise it is the cell of Eqs. 3-7. Its weights keep PyTorch's uniform
    initialisation; the classifier is ``N(0, 0.01)``.

    Args:
        frames: the per-frame tower (:mod:`deepvideo.models.frames`).
        num_classes: outputs of the classifier.
        num_frames: frames per training clip (``model.clip.num_frames``, 30 in Table 2).
        hidden: memory cells per layer (512).
        layers: stacked LSTM layers (5).
        dropout: between LSTM layers (PyTorch's ``nn.LSTM`` dropout; the paper gives none).
    """

    frame_outputs = True

    def __init__(
        self,
        frames: nn.Module,
        num_classes: int,
        num_frames: int,
        hidden: int = 512,
        layers: int = 5,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(frames, num_classes, num_frames)
        if hidden < 1 or layers < 1:
            raise ValueError(
                f"hidden ({hidden}) and layers ({layers}) must be >= 1: set model.net.hidden "
                "and model.net.layers (Sec. 3.2: 512 cells, 5 layers)"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}: set model.net.dropout")
        self.hidden = int(hidden)
        self.layers = int(layers)
        self.lstm = nn.LSTM(
            self.feature_dim,
            self.hidden,
            num_layers=self.layers,
            batch_first=True,
            dropout=float(dropout) if self.layers > 1 else 0.0,
        )
        self.classifier = nn.Linear(self.hidden, self.num_classes)
        init_classifier(self.classifier)

    def forward_steps(self, x: Tensor, state: LSTMState | None = None) -> tuple[Tensor, LSTMState]:
        """Run a chunk of frames, continuing from ``state`` (None: the start of the video).

        ``(B, 3, T, H, W) -> ((B, T, num_classes) logits, (h, c))``; feeding a video in chunks,
        each with the state the previous one returned, gives the same logits as one pass (in
        eval mode), e.g. to print a running prediction second by second.
        """
        self.check_clip(x)
        out, (h, c) = self.lstm(self.frames.frame_features(x), state)
        return self.classifier(out), (h, c)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, T, num_classes)`` per-frame logits."""
        return self.forward_steps(x)[0]


def frame_gains(num_frames: int, device: torch.device | str | None = None) -> Tensor:
    """The gain ``g`` of every frame, ``(T,)`` (Sec. 3.3, "LSTM Training").

    "g was linearly interpolated from 0...1 over frames t = 0...T": ``g_t = t / (T - 1)``,
    0 at the first frame and 1 at the last; a single frame gets ``[1.0]``.
    """
    if num_frames < 1:
        raise ValueError(f"frame_gains needs at least 1 frame, got {num_frames}")
    if num_frames == 1:
        return torch.ones(1, device=device)
    return torch.linspace(0.0, 1.0, num_frames, device=device)


def _check_frame_scores(scores: Tensor, what: str) -> None:
    if scores.dim() != 3 or scores.shape[1] < 1:
        raise ValueError(
            f"{what} must be per-frame scores shaped (B, T, C) with T >= 1, got "
            f"{tuple(scores.shape)}"
        )


def gain_weighted_loss(logits: Tensor, soft_target: Tensor) -> Tensor:
    """Cross-entropy at every frame weighted by :func:`frame_gains` (Sec. 3.3), a scalar.

    ``logits`` ``(B, T, C)``, ``soft_target`` ``(B, C)`` (the video's label distribution, rows
    summing to 1, the same at every frame: "the video's label was backpropagated at each
    frame"). Per video ``sum_t g_t CE_t / sum_t g_t``, averaged over the batch; the gain thus
    scales each frame's gradient by ``g_t`` (normalised so the loss is on the scale of one
    frame's cross-entropy whatever ``T``).
    """
    _check_frame_scores(logits, "logits")
    b, t, c = logits.shape
    if soft_target.shape != (b, c):
        raise ValueError(
            f"soft_target must be (B, C) = {(b, c)} to match logits {tuple(logits.shape)}, got "
            f"{tuple(soft_target.shape)}"
        )
    log_p = F.log_softmax(logits.float(), dim=-1)
    ce = -(log_p * soft_target.float().unsqueeze(1)).sum(-1)  # (B, T)
    g = frame_gains(t, logits.device)
    return ((ce * g).sum(1) / g.sum()).mean()


def combine_frames(probs: Tensor, rule: str) -> Tensor:
    """Video scores ``(B, C)`` from per-frame class probabilities ``(B, T, C)`` (Sec. 3.3).

    ``last``: the last frame's prediction; ``max``: the max over time of each class;
    ``sum``: the mean over time (the paper sums the predictions and takes the max: the mean has
    the same arg-max and stays a probability); ``weighted``: ``sum_t g_t p_t / sum_t g_t`` with
    the training gain :func:`frame_gains`. Any other rule raises a ``ValueError``.
    """
    if rule not in INFERENCE_RULES:
        raise ValueError(
            f"unknown LSTM inference rule {rule!r}: choose one of {list(INFERENCE_RULES)} "
            "(Ng et al. 2015, Sec. 3.3)"
        )
    _check_frame_scores(probs, "probs")
    if rule == "last":
        return probs[:, -1]
    if rule == "max":
        return probs.amax(dim=1)
    if rule == "sum":
        return probs.mean(dim=1)
    g = frame_gains(probs.shape[1], probs.device).to(probs.dtype)
    return (probs * g[None, :, None]).sum(1) / g.sum()
