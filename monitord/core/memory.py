"""What the C library's allocator keeps of the daemon's freed memory.

The daemon stores, reads and mails in worker threads. glibc's malloc gives threads that
allocate at the same moment arenas of their own (up to eight per core), and memory freed in
one arena serves only that arena again: SQLite's page caches and the batches' larger objects,
made in whichever thread ran them, left each of five arenas about as large as its busiest
moment, over 100 MB in all on a school day. Two arenas are plenty for a daemon whose threads
mostly wait; and freed pages inside the arenas are given back to the system from time to
time (``malloc_trim``), which glibc does not do by itself.

Elsewhere (another C library, or none found) both calls do nothing and say so.
"""

from __future__ import annotations

import ctypes
from functools import cache

# mallopt's parameter for the most arenas malloc may make (glibc's malloc.h).
M_ARENA_MAX = -8
DAEMON_ARENAS = 2


@cache
def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc (the one that has these calls)."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
        return None
    return libc


def limit_arenas(count: int = DAEMON_ARENAS) -> bool:
    """Let malloc make at most ``count`` arenas from now on (best called before threads
    start); whether the C library took it."""
    libc = _glibc()
    return libc is not None and libc.mallopt(M_ARENA_MAX, count) == 1


def release_free_memory() -> bool:
    """Give the pages malloc holds free, in every arena, back to the system; whether any
    were."""
    libc = _glibc()
    return libc is not None and libc.malloc_trim(0) == 1
