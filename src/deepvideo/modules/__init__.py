"""LightningModules and callbacks around the plain networks of :mod:`deepvideo.models`."""

from deepvideo.modules.callbacks import (
    REGIMES,
    EvalThreads,
    FreezeLayers,
    InputDropout,
    SaveVideoScores,
    SeedEachStep,
)
from deepvideo.modules.run_stats import RunStats
from deepvideo.modules.video_classifier import VideoClassifier

__all__ = [
    "REGIMES",
    "EvalThreads",
    "FreezeLayers",
    "InputDropout",
    "RunStats",
    "SaveVideoScores",
    "SeedEachStep",
    "VideoClassifier",
]
