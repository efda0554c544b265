"""The one reader of deepvideo checkpoints.

A checkpoint written by ``src/train.py`` is a Lightning checkpoint whose ``deepvideo`` entry
holds the resolved run config and the class names (written by
:meth:`deepvideo.modules.VideoClassifier.on_save_checkpoint`), so a network, its clip and its
preprocessing can be rebuilt from the file alone. Everything that reads a checkpoint (evaluation,
prediction, transfer learning, reports, scripts) goes through this module:

- :func:`load_checkpoint`: the file as a dict, with a one-line error when it is missing or not ours;
- :func:`stored_config` / :func:`class_names`: what the checkpoint says about its run;
- :func:`network_state` / :func:`load_network`: the ``net.*`` weights, and the network rebuilt;
- :func:`load_pretrained`: the weights put into a new network whose classifier may differ
  (transfer learning, Karpathy et al. 2014, Sec. 4.2);
- :func:`expand_from`: the weights of a network with fewer frames put into one with more (the
  network expansion of Ng et al. 2015, Sec. 3.3: 1 -> 30 -> 120 frames), every tensor that
  matches by name and shape, with a report of what came from the checkpoint and what is new;
- :func:`check_resumable`: a checkpoint to resume training from fits the network exactly (one
  line naming the first tensor that does not, before Lightning's long ``load_state_dict`` error);
- :class:`AtomicCheckpointIO`: how training writes checkpoints, atomically (below).

Writing. Lightning (2.6) saves through an fsspec transaction that writes the file under the
system's temporary directory and then moves it into place (``shutil.move``): a rename when the
two are on one filesystem, but a copy into the target path when they are not (a local ``/tmp`` and a
network file system for the logs, as on most clusters), so a process killed during that copy
leaves a truncated ``last.ckpt`` in place of the previous one; nothing is fsync'ed either.
:class:`AtomicCheckpointIO` writes ``.<name>.<pid>.partial`` next to the target, fsyncs it,
puts it over the target with ``os.replace`` (atomic on POSIX) and fsyncs the directory: a process
killed at any moment leaves the previous checkpoint whole (``tests/test_reliability.py`` kills one with
SIGKILL in the middle of the write).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf
from torch import nn

from deepvideo.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "FINAL_CHECKPOINT",
    "HEAD_KEYS",
    "AtomicCheckpointIO",
    "check_resumable",
    "class_names",
    "describe",
    "expand_from",
    "load_checkpoint",
    "load_network",
    "load_pretrained",
    "load_pretrained_from_config",
    "network_state",
    "stored_config",
    "stored_run_config",
    "without_init_weights",
]

# The classifier's tensors: the only ones whose shape may differ between a pretrained checkpoint
# and the network it initialises (487 Sports-1M classes vs 101 UCF-101 ones).
HEAD_KEYS = ("classifier.weight", "classifier.bias")
# a run's checkpoints/ file of the weights training ended with, which its test evaluated when
# the recipe tests the final weights (data.recipe.test_weights=final)
FINAL_CHECKPOINT = "final.ckpt"
NET_PREFIX = "net."


def load_checkpoint(
    path: str | Path, what: str = "ckpt_path", require_config: bool = True
) -> dict[str, Any]:
    """A deepvideo checkpoint as a dict; one clear error when it is missing, unreadable or not ours.

    ``what`` names the setting the path came from (``ckpt_path``, ``pretrained.ckpt_path``,
    ``--ckpt``), so the message says what to change. ``require_config=False`` accepts a
    checkpoint with ``net.*`` weights but no stored run config (enough for :func:`load_pretrained`).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"{what}={path} does not exist; pass the .ckpt file of a deepvideo training run "
            "(e.g. logs/train/runs/<run>/checkpoints/last.ckpt)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise ConfigError(f"{what}={path} is not a readable checkpoint ({err})") from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"{what}={path} holds no 'state_dict': it is not a Lightning checkpoint")
    if not any(k.startswith(NET_PREFIX) for k in checkpoint["state_dict"]):
        raise ConfigError(
            f"{what}={path} has no 'net.*' weights; it was not written by deepvideo's train.py"
        )
    if require_config and not stored_config(checkpoint):
        raise ConfigError(
            f"{path} was not written by deepvideo's train.py (no stored run config); "
            "train with src/train.py or pass the matching model=/data= settings"
        )
    return checkpoint


def stored_config(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The resolved run config stored in the checkpoint (empty when there is none)."""
    return dict((checkpoint.get("deepvideo") or {}).get("config") or {})


def stored_run_config(path: str | Path) -> dict[str, Any]:
    """The run config stored in the checkpoint file ``path``, read without loading its tensors
    (memory-mapped); empty when the file is unreadable or has none."""
    try:
        checkpoint = torch.load(Path(path), map_location="cpu", weights_only=False, mmap=True)
    except Exception:  # a partial or foreign file: not a candidate
        return {}
    return stored_config(checkpoint) if isinstance(checkpoint, dict) else {}


def class_names(checkpoint: dict[str, Any]) -> list[str]:
    """The class names the network's outputs stand for (empty when the run stored none)."""
    return list((checkpoint.get("deepvideo") or {}).get("class_names") or [])


def describe(config: dict[str, Any] | None) -> str:
    """``model=<name>, data.recipe.width=<w>, input <s>px (<n> classes)`` of a stored config."""
    if not config:
        return "an unknown configuration (no stored run config)"
    model = config.get("model", {})
    net = model.get("net", {})
    return (
        f"model={model.get('name', '?')}, data.recipe.width={net.get('width', '?')}, "
        f"input {net.get('input_size', '?')}px ({net.get('num_classes', '?')} classes)"
    )


def network_state(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The network's tensors (the LightningModule's ``net.*`` entries, prefix removed)."""
    n = len(NET_PREFIX)
    return {k[n:]: v for k, v in checkpoint["state_dict"].items() if k.startswith(NET_PREFIX)}


def without_init_weights(run: DictConfig) -> DictConfig:
    """``run`` with the frame tower's initial weights file (``model.net.frames.weights``, Ng et
    al.'s ImageNet initialisation) unset: a network rebuilt to load a checkpoint takes every
    weight from the checkpoint and must not need the file it was first initialised from."""
    if OmegaConf.select(run, "model.net.frames.weights", default=None) is not None:
        OmegaConf.update(run, "model.net.frames.weights", None)
    return run


def load_network(checkpoint: dict[str, Any]) -> tuple[nn.Module, DictConfig]:
    """The checkpoint's network rebuilt from its stored config, weights loaded, in eval mode."""
    run = without_init_weights(OmegaConf.create(stored_config(checkpoint)))
    net = instantiate(run.model.net)
    net.load_state_dict(network_state(checkpoint))
    return net.eval(), run


def _problems(
    source: dict[str, torch.Tensor], target: dict[str, Any], tolerated: Sequence[str] = ()
) -> list[str]:
    """What keeps ``source`` tensors from loading into a network whose state is ``target``."""
    missing = [k for k in target if k not in source]
    unexpected = [k for k in source if k not in target]
    mismatched = [
        k
        for k in target
        if k in source and k not in tolerated and tuple(source[k].shape) != tuple(target[k].shape)
    ]
    problems = [f"{k} is missing from the checkpoint" for k in missing]
    problems += [f"{k} is in the checkpoint but not in the network" for k in unexpected]
    problems += [
        f"{k} has shape {tuple(source[k].shape)} in the checkpoint but "
        f"{tuple(target[k].shape)} in the network"
        for k in mismatched
    ]
    return problems


def check_resumable(net: nn.Module, ckpt_path: str | Path, model_name: str | None = None) -> None:
    """Raise :class:`ConfigError` (one line) unless training can resume from ``ckpt_path`` with
    ``net``: the checkpoint's network has exactly ``net``'s tensors (names and shapes)."""
    path = Path(ckpt_path).expanduser()
    checkpoint = load_checkpoint(path, what="ckpt_path", require_config=False)
    problems = _problems(network_state(checkpoint), net.state_dict())
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        given = f"model={model_name}" if model_name else "this network"
        raise ConfigError(
            f"cannot resume from ckpt_path={path}: it holds "
            f"{describe(stored_config(checkpoint))}, which {given} cannot load "
            f"({problems[0]}{more}); resume with that run's own model= and data settings, or "
            "start a new run without ckpt_path (pretrained.ckpt_path= starts a new run from its "
            "weights)"
        )


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made atomic for local paths (see the module docstring):
    write a temporary file beside the target, fsync, ``os.replace``; remote URLs go to Lightning's."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob(f".{target.name}.*.partial"):  # left by a killed run
            stale.unlink(missing_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            with open(partial, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        try:  # the rename itself reaches the disk with the directory
            folder = os.open(target.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(folder)
        except OSError:
            pass
        finally:
            os.close(folder)


def load_pretrained(net: nn.Module, ckpt_path: str | Path, strict_head: bool = False) -> list[str]:
    """Load the ``net.*`` weights of a deepvideo checkpoint into ``net`` (Sec. 4.2).

    Every parameter and buffer must match by name and shape, except the classifier head
    (:data:`HEAD_KEYS`) when its class count differs: then the freshly initialised head of
    ``net`` is kept (unless ``strict_head``). Anything else missing, unexpected or of another
    shape raises :class:`~deepvideo.errors.ConfigError` naming the parameter. Returns the names
    of the tensors that kept their new initialisation.
    """
    path = Path(ckpt_path).expanduser()
    checkpoint = load_checkpoint(path, what="pretrained.ckpt_path", require_config=False)
    source = network_state(checkpoint)
    target = net.state_dict()
    fix = (
        f"build the same network as the checkpoint ({describe(stored_config(checkpoint))}): set "
        "the same model=, data.recipe.width and crop size (data.sizes.crop)"
    )
    mismatched = [
        k for k in target if k in source and tuple(source[k].shape) != tuple(target[k].shape)
    ]
    tolerated = [k for k in mismatched if k in HEAD_KEYS and not strict_head]
    problems = _problems(source, target, tolerated)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"cannot load {path}: {problems[0]}{more}; {fix}")
    state = {k: (target[k] if k in tolerated else source[k]) for k in target}
    net.load_state_dict(state, strict=True)
    if tolerated:
        old = tuple(source["classifier.weight"].shape) if "classifier.weight" in source else "?"
        new = tuple(target["classifier.weight"].shape)
        log.info(
            "pretrained: loaded %d tensors from %s; new classifier head %s (checkpoint's %s) "
            "keeps its random initialisation",
            len(state) - len(tolerated),
            path,
            new,
            old,
        )
    else:
        log.info("pretrained: loaded all %d tensors from %s", len(state), path)
    return tolerated


# A single-frame net of Karpathy et al. (features, fc6, fc7 at the top level) is the frame tower
# of Ng et al.'s models (frames.features, frames.fc6, frames.fc7).
FRAME_TOWER_KEYS = ("features.", "fc6.", "fc7.")


def _source_key(key: str, source: dict[str, torch.Tensor]) -> str | None:
    if key in source:
        return key
    if key.startswith("frames."):
        bare = key[len("frames.") :]
        if bare.startswith(FRAME_TOWER_KEYS) and bare in source:
            return bare
    return None


def expand_from(net: nn.Module, ckpt_path: str | Path) -> dict[str, list[str]]:
    """Network expansion (Ng et al. 2015, Sec. 3.3): initialise ``net`` from a checkpoint of a
    network over fewer frames, every tensor that matches by name and shape.

    The pooling models share their frame tower across time, so a 1-frame model's weights are a
    30-frame model's, and a 30-frame one's a 120-frame one's; layers tied to the number of frames
    (local pooling's softmax over its towers) or absent from the smaller net (the time-domain
    convolution) keep their new initialisation. A Karpathy et al. single-frame checkpoint
    (``features``/``fc6``/``fc7`` at the top level) fills the frame tower. Returns
    ``{"loaded": [...], "new": [...], "mismatched": [...], "unused": [...]}`` (tensor names of
    ``net``, and of the checkpoint for ``unused``), and logs it; raises :class:`ConfigError`
    when nothing matches (another architecture or width).
    """
    path = Path(ckpt_path).expanduser()
    checkpoint = load_checkpoint(path, what="expand.ckpt_path", require_config=False)
    source = network_state(checkpoint)
    target = net.state_dict()
    loaded: list[str] = []
    new: list[str] = []
    mismatched: list[str] = []
    used: set[str] = set()
    state = dict(target)
    for key, value in target.items():
        src = _source_key(key, source)
        if src is None:
            new.append(key)
        elif tuple(source[src].shape) != tuple(value.shape):
            mismatched.append(key)
        else:
            state[key] = source[src]
            loaded.append(key)
            used.add(src)
    tower = [k for k in target if k.startswith("frames.features.")]
    if not loaded or (tower and not any(k.startswith("frames.features.") for k in loaded)):
        raise ConfigError(
            f"cannot expand from {path}: none of its {'frame tower ' if loaded else ''}tensors "
            f"matches the network by name and shape; it holds "
            f"{describe(stored_config(checkpoint))}: use a checkpoint of the same frame tower "
            "(model.net.frames), data.recipe.width and crop size"
        )
    net.load_state_dict(state, strict=True)
    report = {
        "loaded": loaded,
        "new": new,
        "mismatched": mismatched,
        "unused": sorted(k for k in source if k not in used),
    }
    log.info(
        "expand: %d of %d tensors loaded from %s (%s); new: %s; shape differs (kept new): %s",
        len(loaded),
        len(target),
        path,
        _groups(loaded),
        _groups(new) or "none",
        _groups(mismatched) or "none",
    )
    return report


def _groups(keys: list[str]) -> str:
    """Tensor names summarised by their module, e.g. ``frames.features (10), classifier (2)``."""
    counts: dict[str, int] = {}
    for key in keys:
        parts = key.split(".")
        group = ".".join(parts[:2]) if parts[0] == "frames" and len(parts) > 2 else parts[0]
        counts[group] = counts.get(group, 0) + 1
    return ", ".join(f"{g} ({n})" for g, n in counts.items())


def load_pretrained_from_config(net: nn.Module, cfg: DictConfig) -> list[str] | None:
    """Apply ``cfg.pretrained`` (``{ckpt_path, strict_head}``) to ``net``; None when unset."""
    pretrained = cfg.get("pretrained")
    if not pretrained:
        return None
    if OmegaConf.is_missing(pretrained, "ckpt_path"):
        raise ConfigError(
            "pretrained.ckpt_path is not set: pass pretrained.ckpt_path=CKPT (a deepvideo "
            "checkpoint, e.g. a Sports-1M run's checkpoints/last.ckpt), or train from scratch "
            "with experiment=transfer_scratch"
        )
    if not pretrained.get("ckpt_path"):
        return None
    return load_pretrained(
        net, pretrained.ckpt_path, strict_head=bool(pretrained.get("strict_head", False))
    )
