"""Keep the C allocator from hoarding memory over a day: at most two malloc arenas.

glibc's malloc gives a thread that allocates while another holds the main arena an arena of its
own, up to eight per core, and an arena keeps the pages it once touched when what was in them is
freed in an order that leaves holes. The player is a dozen threads (MediaPipe's, the mixer's, the
front-ends', the learner's), and each model update adds short-lived ones. Over a day of 288
windows with a correction every two hours the player grew +5.3 MB on Python 3.11 and +9.5 MB on
3.13 from the first tenth to the last, although no Python object outlived an update (tracemalloc
stayed under 1.5 MB); with two arenas it grew +3.9 and +3.1 MB, about half of it at the first
update, and sat about 6-10 MB lower all day, at the same CPU per window (docs/results/day.md).
Two is the cap commonly recommended for long-running servers (MALLOC_ARENA_MAX=2, e.g. Heroku's);
run.py sets it through mallopt() before its devices start, since the variable would have to be
in the environment before Python starts.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's <malloc.h>
ARENAS = 2


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Limit glibc's malloc to ``arenas`` arenas; True when it took, False where it does not apply.

    Only glibc on Linux has the knob (macOS, Windows and musl allocate otherwise); anywhere else,
    and if the call fails, nothing changes and the player runs as before. A MALLOC_ARENA_MAX in
    the environment is the user's own choice and wins.
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    taken = mallopt(M_ARENA_MAX, arenas) == 1
    if not taken:
        log.debug("mallopt(M_ARENA_MAX, %d) was refused; the allocator keeps its defaults", arenas)
    return taken
