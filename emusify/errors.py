"""One exception hierarchy and the exit codes the command-line scripts return.

Only ``emusify.cli`` catches :class:`EmusifyError`: it prints ``error: <message>`` and exits
with the error's ``exit_status``. Messages are one line and say what to do next.
"""

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit codes of collect.py, train.py and run.py."""

    OK = 0
    ERROR = 1
    USAGE = 2
    INTERRUPTED = 130


class EmusifyError(Exception):
    """Base of every error the user can act on."""

    exit_status = ExitStatus.ERROR


class UsageError(EmusifyError):
    """A wrong flag, setting or argument."""

    exit_status = ExitStatus.USAGE


class CameraError(EmusifyError):
    """The frame source (webcam, video file, image folder) cannot be opened or read."""


class LandmarkError(EmusifyError):
    """MediaPipe could not be started."""


class DatasetError(EmusifyError):
    """Recordings cannot be written or read."""


class CalibrationError(EmusifyError):
    """A reference face (a calibration shot, ``--reference`` photos) does not look like a relaxed face."""


class ModelError(EmusifyError):
    """A model file is missing, corrupt or made for another feature layout."""


class LibraryError(EmusifyError):
    """The songs folder is missing or empty, or a song cannot be played."""


class AudioError(EmusifyError):
    """No audio output could be opened."""


class JournalError(EmusifyError):
    """The mood journal cannot be opened or written."""


class FrontEndError(EmusifyError):
    """A front-end (MPRIS, notifications) cannot start; the player goes on without it."""


class InstanceError(EmusifyError):
    """Another run.py already plays from the same data folder, or its lock cannot be taken."""
