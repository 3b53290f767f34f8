"""Hashing hosts for the compiled host index: ``h(s) = sum(s[k] * B**k) mod 2**64`` over the
bytes of a canonical host with ``B`` odd, so that every label suffix of every host of a batch
comes out of one prefix sum (numpy), and a host's own suffixes one by one."""

from __future__ import annotations

from itertools import accumulate
from operator import mul

import numpy as np
import numpy.typing as npt

BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
MASK = (1 << 64) - 1
_INVERSE = pow(BASE, -1, 1 << 64)

MAX_HOST = 255  # longer names (no DNS name is) are never entries and never match
CHUNK = 8192  # hosts hashed per numpy pass: big enough to amortise, small enough for cache
_UP = [pow(BASE, k, 1 << 64) for k in range(MAX_HOST + 1)]
_DOWN = [pow(_INVERSE, k, 1 << 64) for k in range(MAX_HOST + 1)]

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def host_hash(name: bytes) -> int:
    """The index hash of one name (pure Python; the same value the numpy paths compute)."""
    return sum(map(mul, name, _UP)) & MASK if len(name) <= MAX_HOST else -1


def is_address(host: str) -> bool:
    """An IP literal (or anything whose last label is a number, which no domain has) matches
    only itself, never as a parent of something longer."""
    return ":" in host or host.rsplit(".", 1)[-1].isdigit()


def suffix_hashes(host: str) -> list[tuple[int, int]]:
    """(start, hash) of the host and each parent domain, longest first; an address only
    itself. ``host`` must be canonical (lower case ASCII, no trailing dot)."""
    b = host.encode("ascii", "replace")
    if not b or len(b) > MAX_HOST:
        return []
    if is_address(host):
        return [(0, host_hash(b))]
    # Prefix sums of c[k] * B**k; each suffix is a difference scaled back by B**-start.
    sums = list(accumulate(map(mul, b, _UP), initial=0))
    total = sums[-1]
    out = [(0, total & MASK)]
    i = host.find(".")
    end = len(b)
    while 0 <= i < end - 1:
        i += 1
        out.append((i, ((total - sums[i]) * _DOWN[i]) & MASK))
        i = host.find(".", i)
    return out


class _Powers:
    """B**k and B**-k modulo 2**64 for k up to the longest chunk seen so far."""

    def __init__(self) -> None:
        self.up: U64 = np.ones(1, dtype=np.uint64)
        self.down: U64 = np.ones(1, dtype=np.uint64)

    def ensure(self, n: int) -> None:
        if len(self.up) > n:
            return
        size = max(n + 1, 2 * len(self.up), 1 << 16)
        up = np.full(size, BASE, dtype=np.uint64)
        up[0] = 1
        down = np.full(size, _INVERSE, dtype=np.uint64)
        down[0] = 1
        self.up = np.cumprod(up, dtype=np.uint64)
        self.down = np.cumprod(down, dtype=np.uint64)


_POWERS = _Powers()


def _prefix(buf: npt.NDArray[np.uint8]) -> U64:
    n = len(buf)
    _POWERS.ensure(n)
    s = np.zeros(n + 1, dtype=np.uint64)
    np.multiply(buf, _POWERS.up[:n], out=s[1:], dtype=np.uint64)
    np.cumsum(s[1:], out=s[1:])
    return s


def hash_lines(buf: npt.NDArray[np.uint8]) -> tuple[U64, I64, I64]:
    """Hash, start and end of every newline-terminated line of ``buf``."""
    s = _prefix(buf)
    ends = np.flatnonzero(buf == 10)
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    return (s[ends] - s[starts]) * _POWERS.down[starts], starts, ends


def hash_suffixes(buf: npt.NDArray[np.uint8]) -> tuple[U64, I64, I64]:
    """For newline-terminated lines: the hash, line number and start of each label suffix
    (every line start and every position after a dot), empty suffixes left out."""
    s = _prefix(buf)
    is_nl = buf == 10
    ends_of = np.flatnonzero(is_nl)
    boundary = np.empty(len(buf), dtype=bool)
    boundary[0] = True
    np.logical_or(buf[:-1] == 46, is_nl[:-1], out=boundary[1:])
    starts = np.flatnonzero(boundary)
    line = np.searchsorted(ends_of, starts)
    ends = ends_of[line]
    keep = ends > starts
    if not keep.all():
        starts, line, ends = starts[keep], line[keep], ends[keep]
    return (s[ends] - s[starts]) * _POWERS.down[starts], line, starts


def hash_blob(blob: bytes) -> tuple[U64, I64, I64]:
    """Hash every line of a large blob in slices of whole lines."""
    out_h: list[U64] = []
    out_s: list[I64] = []
    out_e: list[I64] = []
    step = 1 << 20
    pos = 0
    arr = np.frombuffer(blob, dtype=np.uint8)
    while pos < len(blob):
        end = blob.rfind(b"\n", pos, pos + step) + 1
        if end <= pos:  # a line longer than a slice
            end = blob.find(b"\n", pos + step) + 1 or len(blob)
        h, s, e = hash_lines(arr[pos:end])
        out_h.append(h)
        out_s.append(s + pos)
        out_e.append(e + pos)
        pos = end
    if not out_h:
        return (
            np.zeros(0, dtype=np.uint64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
        )
    return np.concatenate(out_h), np.concatenate(out_s), np.concatenate(out_e)
