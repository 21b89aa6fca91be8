"""One long-lived background thread for the learner's updates, instead of a new thread each time.

A dozen model updates a day, each on a fresh thread, grew the player by about 2 MB per update
(benchmarks/day.py, docs/results/day.md): the native libraries under numpy keep per-thread memory
that a thread which ends does not give back, although no Python object outlives the update. One
thread that stays for the whole run uses the same memory again. (The training itself now runs in a
child process, reading.learner.update_in_child; this thread only waits for it.)
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Worker:
    """Runs the jobs handed to :meth:`start` one after another on one daemon thread."""

    def __init__(self, name: str = "emusify-learner") -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, job: Callable[[], None]) -> None:
        """Run ``job`` in the background (after any job before it); never blocks."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
        self._jobs.put(job)

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # a job's own failure must not end the thread the next ones need
                log.exception("a background job failed")
