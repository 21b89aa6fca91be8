"""The optional front-ends run.py starts beside the terminal (MPRIS, notifications, ...).

Each is an :class:`emusify.desk.events.FrontEnd`; :func:`emusify.desk.events.start_frontends`
starts them after the core's devices open (one that cannot start is one log line) and
:func:`emusify.desk.events.close_frontends` closes them at the end.
"""

from __future__ import annotations

from typing import Any

from emusify.config import Settings


def make_frontends(settings: Settings) -> list[Any]:
    """The front-ends this run's settings ask for (none yet: MPRIS and notifications come here)."""
    return []
