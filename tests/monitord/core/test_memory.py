from __future__ import annotations

from pathlib import Path

import pytest

from monitord.core.memory import _glibc, limit_arenas, release_free_memory

needs_glibc = pytest.mark.skipif(_glibc() is None, reason="the C library here is not glibc")


def anonymous_kib() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


@needs_glibc
def test_the_arenas_are_limited() -> None:
    assert limit_arenas() is True


@needs_glibc
def test_freed_pages_held_below_a_live_block_are_given_back() -> None:
    # 64 MB of blocks malloc serves from its heap (over Python's 512 bytes, under the size it
    # maps on its own), then one block above them that keeps the heap from shrinking by itself.
    blocks = [bytes(4000 + (i & 7)) for i in range(16_000)]
    pin = bytes(4000)
    before = anonymous_kib()
    del blocks
    assert release_free_memory() is True
    given_back = before - anonymous_kib()
    assert given_back > 32 * 1024, f"only {given_back} KiB given back"
    assert len(pin) == 4000
