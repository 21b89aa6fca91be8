"""Emusify: an offline music player that reads your mood from webcam landmarks."""

__version__ = "0.1.0"
