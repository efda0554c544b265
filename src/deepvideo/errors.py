"""Errors that bad input or a bad configuration raise; the entry points turn them into one line.

They live at the bottom of the package so that every layer can raise them without importing
upward; :mod:`deepvideo.cli` catches them (``run_or_exit``) and exits with status 2.
"""

from __future__ import annotations

__all__ = ["ConfigError", "PartitionFormatError"]


class ConfigError(ValueError):
    """A configuration that cannot work; the message says which setting to change."""


class PartitionFormatError(ValueError):
    """A line of a dataset's list file (partition, split list, metadata) is malformed; the
    message names the file, the line and the value, and how to fix it."""
