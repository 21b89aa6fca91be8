"""An asyncio loop on a daemon thread, for the front-ends that talk to D-Bus (MPRIS, notifications).

The core calls its listeners on its own thread; a front-end hands each event over with
:meth:`LoopThread.call` (``call_soon_threadsafe``) and never blocks the core. Pure standard library.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Awaitable, Callable, Optional


class LoopThread:
    """Runs one asyncio event loop on a daemon thread until :meth:`close`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Start the loop's thread (once)."""
        if self._loop is not None:
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Awaitable[Any], timeout: float) -> Any:
        """Run ``coroutine`` on the loop and wait for its result.

        Raises:
            TimeoutError: it took longer than ``timeout`` seconds (it is cancelled).
            Whatever the coroutine raised.
        """
        assert self._loop is not None, "start() first"
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    def submit(self, coroutine: Awaitable[Any]) -> None:
        """Run ``coroutine`` on the loop without waiting for it; returns at once, from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        else:
            coroutine.close()  # type: ignore[attr-defined]

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Call ``function(*args)`` on the loop's thread soon; returns at once, from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(function, *args)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the loop and wait (up to ``timeout`` seconds) for its thread; idempotent."""
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
