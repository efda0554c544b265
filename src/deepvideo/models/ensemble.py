"""Probability-averaging ensembles of trained nets (e.g. the paper's model combinations).

Members may want different clip layouts: Slow Fusion wants 10 consecutive frames, Late Fusion 2
frames 15 apart, Single Frame one frame. The ensemble therefore takes one clip ``(B, 3, T, H,
W)`` covering all of them and gives each member an optional ``frame_indices``: the indices into
the ensemble's ``T`` of the frames that member sees, in order (``None``: the whole clip). E.g.
with a 16-frame input, slow fusion ``range(3, 13)``, late fusion ``[0, 15]``, single frame
``[8]``. Likewise an optional per-member ``crop_size`` center-crops the frames (a multires net
at 178 and 170-pixel nets can share a 178 center crop; a center crop of a center crop is the
center crop). Checkpoint loading is not done here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["AverageEnsemble"]

Member = tuple[nn.Module, Sequence[int] | None]


class AverageEnsemble(nn.Module):
    """Averages the members' softmax probabilities; returns the **log** of the average.

    The output can thus be used like logits (``argmax`` and ``softmax`` give the ensemble's
    prediction and averaged probabilities).

    Args:
        nets: the members, a sequence (named ``member0``, ``member1``, ...) or a name mapping.
        frame_indices: per member (same order / names as ``nets``) the indices into the input's
            time dimension it sees, or ``None`` for the whole clip.
        crop_sizes: per member an optional center-crop side.
    """

    def __init__(
        self,
        nets: Sequence[nn.Module] | Mapping[str, nn.Module],
        frame_indices: Sequence[Sequence[int] | None]
        | Mapping[str, Sequence[int] | None]
        | None = None,
        crop_sizes: Sequence[int | None] | Mapping[str, int | None] | None = None,
    ) -> None:
        super().__init__()
        named = (
            dict(nets)
            if isinstance(nets, Mapping)
            else {f"member{i}": n for i, n in enumerate(nets)}
        )
        if not named:
            raise ValueError("AverageEnsemble needs at least one member")
        self.members = nn.ModuleDict(named)
        names = list(named)
        idx = _per_member(frame_indices, names, "frame_indices")
        self.crop_sizes: dict[str, int | None] = _per_member(crop_sizes, names, "crop_sizes")
        self.frame_indices: dict[str, tuple[int, ...] | None] = {}
        for name in names:
            fi = idx[name]
            self.frame_indices[name] = None if fi is None else tuple(int(i) for i in fi)
            if fi is not None:
                # A buffer so that the index tensor follows the module across devices.
                self.register_buffer(
                    f"_frames_{name}", torch.tensor(list(fi), dtype=torch.long), persistent=False
                )

    @classmethod
    def from_members(
        cls,
        members: Mapping[str, nn.Module | Member] | Iterable[nn.Module | Member],
    ) -> AverageEnsemble:
        """Build from ``net`` or ``(net, frame_indices)`` entries (a name mapping or a list)."""

        def split(m: nn.Module | Member) -> Member:
            return (m, None) if isinstance(m, nn.Module) else (m[0], m[1])

        if isinstance(members, Mapping):
            pairs = {k: split(v) for k, v in members.items()}
            return cls({k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()})
        plist = [split(m) for m in members]
        return cls([p[0] for p in plist], [p[1] for p in plist])

    def member_input(self, name: str, x: Tensor) -> Tensor:
        """The part of the ensemble input ``x`` (``(B, 3, T, H, W)``) member ``name`` sees."""
        if self.frame_indices[name] is not None:
            idx = self.get_buffer(f"_frames_{name}")
            t = x.shape[2]
            if int(idx.max()) >= t or int(idx.min()) < -t:
                raise ValueError(
                    f"ensemble member {name!r} wants frames {list(self.frame_indices[name] or ())}"
                    f" but the input clip has only {t} frames"
                )
            x = x.index_select(2, idx % t)
        size = self.crop_sizes[name]
        if size is not None:
            h, w = x.shape[-2:]
            if size > min(h, w):
                raise ValueError(f"ensemble member {name!r} wants a {size} crop of {h}x{w} frames")
            top, left = (h - size) // 2, (w - size) // 2
            x = x[..., top : top + size, left : left + size]
        return x

    def member_logits(self, x: Tensor) -> dict[str, Tensor]:
        """Each member's logits on its part of ``x``."""
        return {name: net(self.member_input(name, x)) for name, net in self.members.items()}

    def forward(self, x: Tensor) -> Tensor:
        """``log(mean_m softmax(logits_m))``, shape ``(B, num_classes)``."""
        logp = torch.stack([torch.log_softmax(z, dim=-1) for z in self.member_logits(x).values()])
        return torch.logsumexp(logp, dim=0) - math.log(logp.shape[0])


def _per_member(value: Any, names: list[str], what: str) -> dict[str, Any]:
    if value is None:
        return dict.fromkeys(names)
    if isinstance(value, Mapping):
        unknown = set(value) - set(names)
        if unknown:
            raise ValueError(f"{what} names unknown members {sorted(unknown)}; members: {names}")
        return {n: value.get(n) for n in names}
    value = list(value)
    if len(value) != len(names):
        raise ValueError(f"{what} has {len(value)} entries for {len(names)} members")
    return dict(zip(names, value, strict=True))
