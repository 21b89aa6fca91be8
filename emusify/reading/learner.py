"""The learner at the desk: corrections poke it, the model is updated in the background, off the loop.

Each correction pokes the :class:`Learner`; the update starts :data:`DEBOUNCE` seconds after the
last poke (several quick presses make one update), and the runner takes the finished model as soon
as it waits between windows (or at the start of the next one). A failure is one log line; the model
in use stays. The learning itself (:mod:`emusify.reading.relearn`, with scikit-learn and SciPy behind
it) runs in a child process (:func:`update_in_child`), so the player neither loads those libraries nor
keeps what they allocate.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, NamedTuple

from emusify.reading.model import Model

log = logging.getLogger(__name__)

DEBOUNCE = 5.0  # seconds after the last correction before the update starts


class Update(NamedTuple):
    """A finished update."""

    model: Model
    corrections: int  # recordings run.py saved from a correction
    confirmations: int  # recordings run.py saved from a confirmation (y)
    samples: int  # frames learned from, all recordings
    seconds: float  # wall time of the update

    def message(self) -> str:
        """The one status message the player shows when the model is swapped in."""
        if not self.corrections and not self.confirmations:  # the set-up's (or collect.py's) recordings
            return f"personal model in use (learned from {self.samples} samples of yours)"
        also = f" and {self.confirmations} confirmation(s)" if self.confirmations else ""
        return f"model updated from {self.corrections} correction(s){also}"


def update_in_child(data_dir: Path, starter_path: Path, model_path: Path) -> Update:
    """:func:`~emusify.reading.relearn.update_model` in a fresh process that ends with it (run.py's).

    The update reads every recording and trains for a few seconds. Run inside the player, the
    memory that numpy's native libraries keep after such work stayed in the player for good: +3 to
    +5 MB over a day of a dozen corrections, after +7 to +9 MB at the first one
    (docs/results/day.md). In its own process (spawned, so nothing of the player's threads or
    devices is copied) all of that goes back to the system when the update ends, and the player
    only loads the finished model. Starting the process costs about a second (the update budget
    is 5 s). A crash of the player mid-update leaves the child to finish its atomic save.

    Raises:
        Whatever :func:`update_model` raises (passed back from the child), or an OSError / a
        BrokenProcessPool when the child cannot start or dies.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_update_here, data_dir, starter_path, model_path).result()


def _update_here(data_dir: Path, starter_path: Path, model_path: Path) -> Update:
    """The child's side of :func:`update_in_child` (imports the learning only there)."""
    from emusify.reading.relearn import update_model

    return update_model(data_dir, starter_path, model_path)


def start_daemon(work: Callable[[], None]) -> None:
    """Run ``work`` in a daemon thread (the player never waits for it)."""
    threading.Thread(target=work, name="emusify-learner", daemon=True).start()


class Learner:
    """Debounced background updates; the runner polls it and takes finished models."""

    def __init__(self, work: Callable[[], Update], clock: Any, delay: float = DEBOUNCE,
                 start: Callable[[Callable[[], None]], None] = start_daemon) -> None:
        """``work`` does one update (e.g. :func:`update_in_child` bound to the paths); ``start`` runs
        a callable in the background (tests pass one that runs it at once)."""
        self.work, self.clock, self.delay, self.start = work, clock, delay, start
        self._due: float | None = None
        self._running = False
        self._ready: Update | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self.updates = 0  # finished updates
        self.failures = 0

    def poke(self, delay: float | None = None) -> None:
        """A correction was saved: update ``delay`` seconds from now (later pokes push it back);
        ``delay`` defaults to the learner's (the set-up passes 0: nothing more is coming)."""
        self._due = self.clock.now() + (self.delay if delay is None else delay)

    def poll(self) -> None:
        """Start the update when it is due and none is running (cheap; call it often)."""
        if self._due is None or self._running or self.clock.now() < self._due:
            return
        self._due, self._running = None, True
        self._idle.clear()
        self.start(self._run)

    def take(self) -> Update | None:
        """The update finished since the last call, if any (thread-safe)."""
        with self._lock:
            ready, self._ready = self._ready, None
        return ready

    @property
    def busy(self) -> bool:
        """An update is running or waiting for its time."""
        return self._running or self._due is not None

    def finish(self, timeout: float = 30.0) -> bool:
        """At quit: start a pending update now and wait for it (at most ``timeout`` s).

        Returns False when it was still running at the timeout (the daemon thread then dies with
        the program; the model file is written atomically, so the old one stays whole).
        """
        deadline = self.clock.now() + timeout
        if self._due is not None:
            log.info("learning from your last corrections before quitting (Ctrl-C skips it)")
        while self._due is not None or self._running:  # a press during a running update waits
            if self._due is not None:                  # for it, then runs its own update
                self._due = min(self._due, self.clock.now())
                self.poll()
            left = deadline - self.clock.now()
            if left <= 0 or not self._idle.wait(left):
                return False
        return True

    def _done(self) -> None:
        self._running = False
        self._idle.set()

    def _run(self) -> None:
        try:
            update = self.work()
        except Exception as exc:  # any failure: one line, the old model stays
            self.failures += 1
            log.warning("the model could not be updated (%s); the current model stays",
                        str(exc) or type(exc).__name__)
            self._done()
            return
        with self._lock:  # handed over before finish() can see the learner idle
            self._ready = update
        self.updates += 1
        self._done()
        log.info("model learned in %.1f s from %d samples (%d correction(s), %d confirmation(s)); "
                 "it is used from the next window", update.seconds, update.samples, update.corrections,
                 update.confirmations)
