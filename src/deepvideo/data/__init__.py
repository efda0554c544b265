"""The video data layer: decoding, clip sampling, transforms, datasets and DataModules.

The DataModules (which import Lightning) load on first use, so the plain pieces stay light.
"""

from typing import Any

__all__ = ["DataNotFoundError", "Sports1MDataModule", "SyntheticDataModule"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from deepvideo.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module 'deepvideo.data' has no attribute {name!r}")
