"""The video data layer: decoding, clip sampling, transforms, datasets and DataModules.

The DataModules (which import Lightning) load on first use, so the plain pieces stay light.
"""

from importlib import import_module
from typing import Any

# public name -> the module that defines it
_HOMES = {
    "DataNotFoundError": "deepvideo.data.datamodule",
    "VideoDataModule": "deepvideo.data.datamodule",
    "build_datamodule": "deepvideo.data.datamodule",
    "Sports1MDataModule": "deepvideo.data.sports1m",
    "SyntheticDataModule": "deepvideo.data.sports1m",
    "UCF101DataModule": "deepvideo.data.ucf101",
    "SyntheticUCF101DataModule": "deepvideo.data.ucf101",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'deepvideo.data' has no attribute {name!r}")
