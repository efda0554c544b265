"""LightningModules: the training/evaluation logic around the plain networks of deepvideo.models."""

from deepvideo.modules.video_classifier import VideoClassifier

__all__ = ["VideoClassifier"]
