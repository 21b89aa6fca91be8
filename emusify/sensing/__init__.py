"""Sensing: the camera, MediaPipe landmarks, the face feature vector, the reference (relaxed) face
and its calibration shot, and collect.py's recorder. Images never leave this package: what comes
out is numbers."""
