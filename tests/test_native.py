"""The malloc arena cap run.py sets (emusify.desk.native): it takes on glibc and is a no-op elsewhere."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from emusify.desk import native

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

ARENAS_USED = textwrap.dedent("""
    import ctypes, sys, threading
    from emusify.desk.native import cap_malloc_arenas
    if sys.argv[1] != "default":
        assert cap_malloc_arenas(int(sys.argv[1]))
    held = []
    def work():
        held.append(bytearray(65536))  # malloc'ed (below the mmap threshold) on this thread's arena
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
""")


def arenas_used(cap: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", ARENAS_USED, cap], capture_output=True, text=True,
                          check=True, env=env)
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(not GLIBC, reason="the arena cap exists only in glibc")
def test_the_cap_limits_the_arenas_threads_get():
    assert arenas_used("default") > 1  # four threads: more arenas than the main one
    assert arenas_used("1") == 1
    assert native.cap_malloc_arenas() is True  # and it takes in this process too (run.py's default)


def test_elsewhere_it_changes_nothing(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")  # the user's own setting wins
    assert native.cap_malloc_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setattr(native.sys, "platform", "darwin")
    assert native.cap_malloc_arenas() is False
    monkeypatch.setattr(native.sys, "platform", "linux")
    monkeypatch.setattr(native.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert native.cap_malloc_arenas() is False
