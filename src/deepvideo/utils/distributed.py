"""Which process this is, before any process group exists, and the config resolvers that use it.

Under torchrun every process runs the entry point (and Hydra) itself; under SLURM every task of
the job does. The launcher says which process is which in the environment (``RANK`` for
torchrun, ``SLURM_PROCID`` for srun): :func:`global_rank_from_env` reads it, so that files that
describe the run (Hydra's ``.hydra/`` config, ``metrics.json``, ``expansion.json``) are written by
global rank 0 only, and every other process logs to its own file.
"""

from __future__ import annotations

import os

from omegaconf import OmegaConf

__all__ = ["global_rank_from_env", "register_resolvers"]

RANK_VARIABLES = ("RANK", "SLURM_PROCID")


def global_rank_from_env() -> int:
    """The global rank the launcher gave this process (torchrun, srun), 0 when none did."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.strip().isdigit():
            return int(value)
    return 0


def _rank_zero_only(value: str) -> str | None:
    return value if global_rank_from_env() == 0 else None


def _rank_suffix() -> str:
    rank = global_rank_from_env()
    return "" if rank == 0 else f".rank{rank}"


def register_resolvers() -> None:
    """``${rank_zero_only:X}``: X on global rank 0, null elsewhere; ``${rank_suffix:}``: empty on
    rank 0, ``.rankN`` elsewhere (conf/hydra/default.yaml uses both)."""
    OmegaConf.register_new_resolver("rank_zero_only", _rank_zero_only, replace=True)
    OmegaConf.register_new_resolver("rank_suffix", _rank_suffix, replace=True)
