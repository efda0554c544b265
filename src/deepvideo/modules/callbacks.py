"""Lightning callbacks of deepvideo: the transfer-learning regimes and the per-video scores.

Transfer learning to UCF-101, Karpathy et al. 2014, Sec. 4.2: a network pretrained on Sports-1M
(loaded by :func:`deepvideo.checkpoint.load_pretrained`) is trained in one of the paper's regimes
by :class:`FreezeLayers`, Lightning's fine-tuning callback mechanism:

=========  ==============================  ============================================
regime     trained layers                  paper
=========  ==============================  ============================================
top        classifier                      "fine-tune top layer": dropout keeping 10%
top3       fc6, fc7, classifier            "fine-tune top 3 layers": dropout before each
all        every layer                     "fine-tune all layers"
scratch    every layer (no pretraining)    "train from scratch"
=========  ==============================  ============================================

The networks' layout (``features``, ``fc6``, ``fc7``, ``classifier``, see
:mod:`deepvideo.models.tower`) puts a dropout at the end of ``fc6`` and of ``fc7``, so the dropout
feeding the classifier is ``fc7.dropout`` and the one feeding ``fc7`` is ``fc6.dropout``; the
dropout feeding ``fc6`` (top 3 regime) is a forward pre-hook on ``fc6``. None of them changes the
state-dict keys, so transferred checkpoints load like any other.

:class:`SaveVideoScores` writes ``video_scores.pt`` (:mod:`deepvideo.scores`) after testing.

:class:`SeedEachStep` makes the random numbers of every training step (dropout) a function of the
run's seed and the step alone, so that a run resumed from a checkpoint draws what the
uninterrupted run drew (``src/train.py`` always adds it).

:class:`EvalThreads` gives validation, testing and prediction their own number of torch compute
threads (the recipe's ``eval_threads``), training keeping its own (``torch_threads``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import BaseFinetuning, Callback
from torch import Tensor, nn
from torch.optim import Optimizer

from deepvideo.data.datasets import drawn_epoch
from deepvideo.errors import ConfigError
from deepvideo.scores import write_video_scores

log = logging.getLogger(__name__)

__all__ = [
    "REGIMES",
    "EvalThreads",
    "FreezeLayers",
    "InputDropout",
    "SaveVideoScores",
    "SeedEachStep",
]

# The layers each regime trains (None: every layer).
REGIMES: dict[str, tuple[str, ...] | None] = {
    "top": ("classifier",),
    "top3": ("fc6", "fc7", "classifier"),
    "all": None,
    "scratch": None,
}
# The existing dropout module that feeds each head layer (after the ReLU of the layer below).
FEEDING_DROPOUT = {"classifier": "fc7.dropout", "fc7": "fc6.dropout"}


# ------------------------------------------------------------------------------- freezing
class InputDropout:
    """Forward pre-hook: dropout on a layer's input while that layer is in training mode."""

    def __init__(self, p: float) -> None:
        self.p = float(p)

    def __call__(self, module: nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        if not module.training or self.p <= 0:
            return args
        return (F.dropout(args[0], self.p, training=True), *args[1:])


def _count(modules: Iterable[nn.Module]) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


class FreezeLayers(BaseFinetuning):
    """Train only the named top-level layers of ``pl_module.net`` (Sec. 4.2's regimes).

    Args:
        trainable: top-level layer names (``features``, ``fc6``, ``fc7``, ``classifier``), or
            ``"all"`` / ``None`` for every layer.
        head_dropout: drop probability set on the dropout feeding each trained head layer
            (``fc7.dropout`` before the classifier, ``fc6.dropout`` before fc7, an input dropout
            before fc6); ``None`` leaves the network's own dropout alone. The paper keeps 10% of
            the units (``0.9``) when fine-tuning the top layer(s).

    Frozen layers have ``requires_grad=False`` (the module's ``configure_optimizers`` passes only
    trainable parameters, so they are not in the optimizer) and stay in eval mode at every
    training epoch; a dropout feeding a trained layer stays in train mode even inside a frozen
    layer.
    """

    def __init__(
        self, trainable: Sequence[str] | str | None = None, head_dropout: float | None = None
    ) -> None:
        super().__init__()
        if isinstance(trainable, str):
            trainable = None if trainable == "all" else [trainable]
        self.trainable = None if trainable is None else [str(n) for n in trainable]
        if head_dropout is not None and not 0 <= head_dropout < 1:
            raise ConfigError(f"transfer.head_dropout must be in [0, 1), got {head_dropout}")
        self.head_dropout = head_dropout
        self.frozen: list[str] = []
        self.trained: list[str] = []
        self._input_dropout: InputDropout | None = None
        self._hooked: nn.Module | None = None

    @staticmethod
    def network(pl_module: nn.Module) -> nn.Module:
        net = getattr(pl_module, "net", pl_module)
        assert isinstance(net, nn.Module)
        return net

    def freeze_before_training(self, pl_module: pl.LightningModule) -> None:
        net = self.network(pl_module)
        layers = [name for name, child in net.named_children() if _count([child]) > 0]
        if self.trainable is None:
            self.trained = layers
        else:
            unknown = [n for n in self.trainable if n not in layers]
            if unknown:
                raise ConfigError(
                    f"transfer.trainable names {unknown}, which {type(net).__name__} does not "
                    f"have; choose from {layers} (or 'all')"
                )
            self.trained = [n for n in layers if n in self.trainable]
        self.frozen = [n for n in layers if n not in self.trained]
        self.make_trainable([net.get_submodule(n) for n in self.trained])
        self.freeze([net.get_submodule(n) for n in self.frozen], train_bn=False)
        if self.head_dropout is not None:
            self._set_head_dropout(net, self.head_dropout)
        self.set_modes(net)
        log.info(self.summary(net))

    def summary(self, net: nn.Module) -> str:
        """``trainable: classifier (10,250 params); frozen: features, fc6, fc7 (...)``."""
        trained = _count(net.get_submodule(n) for n in self.trained)
        frozen = _count(net.get_submodule(n) for n in self.frozen)
        line = f"trainable: {', '.join(self.trained) or 'none'} ({trained:,} params); "
        line += f"frozen: {', '.join(self.frozen) or 'none'} ({frozen:,} params)"
        if self.head_dropout is not None:
            line += f"; dropout {self.head_dropout:g} before each trained head layer"
        return line

    def _feeding_dropouts(self, net: nn.Module) -> list[nn.Dropout]:
        found: list[nn.Dropout] = []
        for layer in self.trained:
            name = FEEDING_DROPOUT.get(layer)
            if name is None:
                continue
            try:
                module = net.get_submodule(name)
            except AttributeError:
                continue
            if isinstance(module, nn.Dropout):
                found.append(module)
        return found

    def _set_head_dropout(self, net: nn.Module, p: float) -> None:
        for module in self._feeding_dropouts(net):
            module.p = p
        if "fc6" in self.trained and "features" in self.frozen:
            fc6 = net.get_submodule("fc6")
            if self._hooked is not fc6:
                self._input_dropout = InputDropout(p)
                fc6.register_forward_pre_hook(self._input_dropout)
                self._hooked = fc6
            elif self._input_dropout is not None:
                self._input_dropout.p = p

    def set_modes(self, net: nn.Module) -> None:
        """Frozen layers to eval mode; dropouts feeding trained layers follow ``net.training``."""
        for name in self.frozen:
            net.get_submodule(name).eval()
        for module in self._feeding_dropouts(net):
            module.train(net.training)

    def finetune_function(
        self, pl_module: pl.LightningModule, epoch: int, optimizer: Optimizer
    ) -> None:
        """No unfreezing schedule: the regime holds for the whole run."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        self.set_modes(self.network(pl_module))


# --------------------------------------------------------------------------- test scores
class SaveVideoScores(Callback):
    """After testing, write the per-video scores next to ``metrics.json`` (eval.py's format).

    Adds the fold and the class groups (``class_groups``, UCF-101's five class types) so the
    transfer report (:mod:`deepvideo.reports.transfer`) needs nothing but the run directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        scores = getattr(pl_module, "last_test_scores", None)
        if not trainer.is_global_zero or scores is None:
            return
        ids, probs, targets = scores
        run_config = getattr(pl_module, "run_config", {}) or {}
        model = run_config.get("model", {}).get("name")
        write_video_scores(
            self.path, getattr(trainer, "datamodule", None), ids, probs, targets, model
        )
        log.info("video scores written to %s", self.path)


# ------------------------------------------------------------------------- resumability
class SeedEachStep(Callback):
    """Before every training batch, seed torch (CPU and CUDA), NumPy and ``random`` from
    (``seed``, epoch, batch index, process rank).

    The global generators are otherwise a function of everything the process did since
    ``seed_everything`` (how many batches, which loaders were created, whether it started from
    a checkpoint), so a resumed run would draw other dropout masks than the uninterrupted one
    from its first step on. Seeded per step, step ``s`` of epoch ``e`` draws the same numbers
    whichever way the run got there. The data side (order, clips, crops) is seeded by epoch in
    the loaders (:class:`deepvideo.data.datasets.EpochSampler`).
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def step_seed(self, epoch: int, batch_idx: int, rank: int) -> int:
        state = np.random.SeedSequence([self.seed, int(epoch), int(batch_idx), int(rank)])
        return int(state.generate_state(1, np.uint64)[0]) >> 1

    def check_epoch(self, trainer: pl.Trainer) -> None:
        """At an epoch's first batch (its loader's iterator exists by then): warn where that
        iterator was drawn for another epoch than the one running."""
        drawn = drawn_epoch(trainer.train_dataloader)
        if drawn is not None and drawn != trainer.current_epoch:
            log.warning(
                "training epoch %d reads the batches drawn for epoch %d (its loader's iterator "
                "was created before the epoch was known): this epoch differs from an "
                "uninterrupted run's",
                trainer.current_epoch,
                drawn,
            )

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if batch_idx == 0:
            self.check_epoch(trainer)
        seed = self.step_seed(trainer.current_epoch, batch_idx, trainer.global_rank)
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy global generator, if used)
        random.seed(seed)


# ------------------------------------------------------------------------------- threads


class EvalThreads(Callback):
    """``threads`` torch compute threads while validating, testing and predicting; the count
    training ran with is restored after each.

    The synthetic recipes train with one compute thread, since two loader workers decode next to
    it on a 2-core CPU (``data.recipe.torch_threads``). In evaluation a worker decodes each video
    once for all its clips and views, so the network is what limits, and a second thread pays:
    the Quickstart job's 240 test videos x 20 clips x 4 views took 82.3 s with 1 thread and
    75.1 s with 2 on a 2-core AMD EPYC (docs/performance.md), with the same metrics.
    """

    def __init__(self, threads: int) -> None:
        if int(threads) < 1:
            raise ConfigError(f"data.recipe.eval_threads must be at least 1, got {threads}")
        self.threads = int(threads)
        self._saved: int | None = None

    def _enter(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._saved is None:
            self._saved = torch.get_num_threads()
        torch.set_num_threads(self.threads)

    def _leave(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._saved is not None:
            torch.set_num_threads(self._saved)
            self._saved = None

    on_validation_start = on_test_start = on_predict_start = _enter
    on_validation_end = on_test_end = on_predict_end = _leave
