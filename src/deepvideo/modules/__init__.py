"""LightningModules and callbacks around the plain networks of :mod:`deepvideo.models`."""

from deepvideo.modules.callbacks import (
    REGIMES,
    FreezeLayers,
    InputDropout,
    SaveVideoScores,
    SeedEachStep,
)
from deepvideo.modules.video_classifier import VideoClassifier

__all__ = [
    "REGIMES",
    "FreezeLayers",
    "InputDropout",
    "SaveVideoScores",
    "SeedEachStep",
    "VideoClassifier",
]
