"""The compiled host index: every domain entry and every URL entry's host of every loaded
list, as a sorted array of 64-bit hashes, written once when lists are imported and
memory-mapped when monitord starts.

Why this shape: the full UT1 release has about 4.6 million adult domains, and a dict of
strings holding them takes several hundred MB. Here a host costs 14 bytes of arrays (its hash,
the number of its kind and where its name starts; 16 with more than 65,536 kinds) plus its
name in a blob that is only read to confirm a hit, and a lookup is a bucket read and one or
two key reads, which numpy does for a whole batch at once.

Hash: ``h(s) = sum(s[k] * B**k) mod 2**64`` over the bytes of the canonical host, ``B`` odd.
Since ``B`` is odd it is invertible modulo 2**64, so the hash of every label suffix of every
host of a batch comes out of one prefix sum ``S``: ``h(s[i:e]) = (S[e] - S[i]) * B**-i``. A
hash hit is checked against the stored name before it counts, so a collision can only cost
time, never a wrong match, and the explanation names the stored entry.

File layout (little-endian, sections 8-byte aligned):

    b"MONIDX02"                 magic and format version (``MAGIC``)
    u64                         length of the JSON header, its padding included
    JSON header                 n, bucket_bits (b), kind_type, lists, kinds, URL entries,
                                expressions, entries; padded with spaces
    keys     u64[n]             the hash of each distinct host, sorted
    buckets  u32[2**b + 1]      index of the first key whose top b bits are >= the bucket
    kinds    u16[n] or u32[n]   each row's kind (kind_type): which lists the name is in and
                                whether it has URL entries; kind i < len(lists) is list i
                                alone, the others are the header's ``kinds`` in order
    offsets  u32[n]             where each row's name starts in the blob
    blob     bytes              the host names, newline-terminated
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import numpy.typing as npt

from monitord.classify.expressions import alternatives, compile_expression
from monitord.classify.hosthash import (
    CHUNK,
    I64,
    MAX_HOST,
    U64,
    hash_blob,
    hash_suffixes,
    host_hash,
    is_address,
    suffix_hashes,
)

MAGIC = b"MONIDX02"


class IndexFileError(Exception):
    """An index file that is not one, or of another format version."""


@dataclass(frozen=True, slots=True)
class ListInfo:
    """Where a list's entries came from, for explanations: the stored version and its hash."""

    name: str
    category: str
    version: int | None = None
    sha256: str = ""
    imported_at: str | None = None
    fmt: str = ""


@dataclass(frozen=True, slots=True)
class UrlEntry:
    """A URL entry of one host: its path prefix as matched (decoded, lower case) and as listed."""

    path: str
    listed: str
    list_id: int


class IndexBuilder:
    """Collects entries list by list, then builds a HostIndex (in memory or as a file)."""

    def __init__(self) -> None:
        self.lists: list[ListInfo] = []
        self._ids: dict[tuple[str, str], int] = {}
        self._hosts: list[tuple[int, bytes]] = []
        self._urls: dict[str, list[UrlEntry]] = {}
        self._expressions: list[tuple[str, int]] = []
        self.rejected: list[str] = []
        self.entries = 0

    def list_id(self, info: ListInfo) -> int:
        key = (info.name, info.category)
        lid = self._ids.get(key)
        if lid is None:
            lid = self._ids[key] = len(self.lists)
            self.lists.append(info)
        return lid

    def add_hosts(self, list_id: int, hosts: Iterable[str]) -> int:
        """Canonical host names (see ``classify.canonical_host``), one entry each."""
        good = [h for h in hosts if h and len(h) <= MAX_HOST and "\n" not in h]
        if good:
            self._hosts.append((list_id, ("\n".join(good) + "\n").encode("utf-8")))
        self.entries += len(good)
        return len(good)

    def add_host_lines(self, list_id: int, data: bytes) -> int:
        """Canonical host names as newline-terminated lines, as a stored list file has them."""
        if not data:
            return 0
        if not data.endswith(b"\n"):
            data += b"\n"
        n = data.count(b"\n")
        self._hosts.append((list_id, data))
        self.entries += n
        return n

    def add_url(self, list_id: int, host: str, path: str, listed: str) -> None:
        """A URL entry: canonical host, path prefix (``/a/b`` or ``/a?b=c``)."""
        if not host or len(host) > MAX_HOST:
            return
        self._urls.setdefault(host, []).append(UrlEntry(normal_path(path), listed, list_id))
        self.entries += 1

    def add_expression(self, list_id: int, pattern: str) -> bool:
        try:
            compile_expression(pattern)
        except ValueError as exc:
            self.rejected.append(f"{self.lists[list_id].name}: {exc}")
            return False
        self._expressions.append((pattern, list_id))
        self.entries += 1
        return True

    def build(self) -> HostIndex:
        """The index in memory (small lists, tests)."""
        arrays, blob, header = self._compile()
        return HostIndex(arrays, blob, 0, header)

    def write(self, path: Path) -> Path:
        """Write the index file (through a temporary name, so a reader never sees half)."""
        arrays, blob, header = self._compile()
        raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
        raw += b" " * (-(len(MAGIC) + 8 + len(raw)) % 8)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            fh.write(MAGIC)
            fh.write(len(raw).to_bytes(8, "little"))
            fh.write(raw)
            for arr in arrays:
                data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
                fh.write(data + b"\0" * (-len(data) % 8))
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        return path

    def _compile(self) -> tuple[list[npt.NDArray[Any]], bytes, dict[str, Any]]:
        url_hosts = sorted(self._urls)
        parts = [data for _, data in self._hosts]
        owners = [lid for lid, _ in self._hosts]
        if url_hosts:
            parts.append(("\n".join(url_hosts) + "\n").encode("utf-8"))
            owners.append(-1)  # these names carry URL entries, no domain entry
        blob = b"".join(parts)
        if len(blob) >= 1 << 32:
            raise ValueError("lists too large for one index (4 GiB of host names)")
        hashes, starts, ends = hash_blob(blob)
        owner = np.repeat(np.array(owners, dtype=np.int64), [p.count(b"\n") for p in parts])
        lengths = ends - starts
        keep = (lengths > 0) & (lengths <= MAX_HOST)
        if not keep.all():
            hashes, starts, lengths, owner = hashes[keep], starts[keep], lengths[keep], owner[keep]
        order = np.lexsort((owner, hashes))
        hashes, starts, lengths, owner = hashes[order], starts[order], lengths[order], owner[order]
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = hashes[1:] != hashes[:-1]
        heads = np.flatnonzero(first)
        sizes = np.diff(np.append(heads, len(hashes)))
        # A kind is (lists with a domain entry for the name, whether it has URL entries).
        # Kind i < number of lists is "list i alone", which nearly every name is.
        n_lists = len(self.lists)
        kinds: list[tuple[tuple[int, ...], bool]] = [((i,), False) for i in range(n_lists)]
        kind_ids: dict[tuple[tuple[int, ...], bool], int] = {k: i for i, k in enumerate(kinds)}

        def kind_of(lids: tuple[int, ...], has_urls: bool) -> int:
            key = (lids, has_urls)
            kid = kind_ids.get(key)
            if kid is None:
                kid = kind_ids[key] = len(kinds)
                kinds.append(key)
            return kid

        single = heads[sizes == 1]
        row_kind = owner[single].copy()
        if (row_kind < 0).any():
            row_kind[row_kind < 0] = kind_of((), True)
        extra_row: list[int] = []
        extra_kind: list[int] = []
        multi = sizes > 1
        # Names listed more than once, or sharing a hash: grouped by the name itself, so two
        # names with one hash stay two rows.
        for head, size in zip(heads[multi].tolist(), sizes[multi].tolist(), strict=True):
            groups: dict[bytes, list[int]] = {}
            for j in range(head, head + size):
                s = int(starts[j])
                groups.setdefault(blob[s : s + int(lengths[j])], []).append(j)
            for members in groups.values():
                lids = tuple(sorted({int(owner[j]) for j in members} - {-1}))
                has_urls = any(int(owner[j]) < 0 for j in members)
                extra_row.append(members[0])
                extra_kind.append(kind_of(lids, has_urls))
        rows = np.concatenate([single, np.array(extra_row, dtype=np.int64)])
        row_kind = np.concatenate([row_kind, np.array(extra_kind, dtype=np.int64)])
        order = np.argsort(hashes[rows], kind="stable")
        rows, row_kind = rows[order], row_kind[order]
        keys = hashes[rows]
        kind_type = np.uint16 if len(kinds) < 1 << 16 else np.uint32
        bits = min(max(len(keys).bit_length() - 1, 4), 28)
        top = (keys >> np.uint64(64 - bits)).astype(np.int64)
        buckets = np.zeros((1 << bits) + 1, dtype=np.uint32)
        np.cumsum(np.bincount(top, minlength=1 << bits), out=buckets[1:])
        header = {
            "n": len(keys),
            "bucket_bits": bits,
            "kind_type": np.dtype(kind_type).str,
            "lists": [asdict(info) for info in self.lists],
            "kinds": [[list(lids), has] for lids, has in kinds[n_lists:]],
            "urls": {h: [[u.path, u.listed, u.list_id] for u in v] for h, v in self._urls.items()},
            "expressions": self._expressions,
            "entries": self.entries,
        }
        arrays = [keys, buckets, row_kind.astype(kind_type), starts[rows].astype(np.uint32)]
        return arrays, blob, header


def normal_path(path: str) -> str:
    """A path (and query) as URL entries are matched: percent-decoded, in lower case and with
    runs of slashes before the query made one, as squidGuard compares them."""
    if "%" in path:
        path = unquote(path)
    path = path.lower()
    if "//" in path:
        head, sep, query = path.partition("?")
        while "//" in head:
            head = head.replace("//", "/")
        path = head + sep + query
    return path


def _scanner(alternative: str) -> tuple[re.Pattern[str], bool]:
    """A scanner for one alternative of an expression, and whether it is anchored. One that
    starts at a line's start (``^``) is scanned for as a newline followed by the rest, in the
    text with a newline put before it: sre then skips ahead from newline to newline instead of
    trying ``^`` at every character."""
    if alternative.startswith("^") and alternative[1:2] not in ("", "*", "+", "?", "{"):
        return compile_expression("\n" + alternative[1:]), True
    return compile_expression(alternative), False


class HostIndex:
    """A compiled index, in memory or mapped from its file; read-only.

    Arrays: ``keys`` (sorted hashes), ``buckets`` (where each run of equal top bits starts),
    ``kinds`` (which lists a name is in) and ``offsets`` (where the name is in the blob). A
    lookup that misses reads only buckets and keys; a batch hit adds one ``kinds`` read; only
    an explanation reads the name itself.
    """

    def __init__(
        self,
        arrays: Sequence[npt.NDArray[Any]],
        raw: bytes | mmap.mmap,
        blob_at: int,
        header: dict[str, Any],
        path: Path | None = None,
    ) -> None:
        self.keys: U64 = arrays[0]
        self.buckets: npt.NDArray[np.uint32] = arrays[1]
        self.kinds: npt.NDArray[np.unsignedinteger[Any]] = arrays[2]
        self.offsets: npt.NDArray[np.uint32] = arrays[3]
        self.path = path
        self._raw = raw
        self._blob_at = blob_at
        self._fd: int | None = None
        self._offsets_at = 0
        if path is not None:
            self._fd = os.open(path, os.O_RDONLY)
            weakref.finalize(self, os.close, self._fd)
            self._offsets_at = blob_at - self.offsets.nbytes - (-self.offsets.nbytes % 8)
        self.bits: int = header["bucket_bits"]
        self._shift = 64 - self.bits
        self._np_shift = np.uint64(self._shift)
        # Python ints come out of memoryviews far faster than out of numpy scalars.
        self._k = self.keys.data.cast("B").cast("Q")
        self._b = self.buckets.data.cast("B").cast("I")
        self.lists = [ListInfo(**info) for info in header["lists"]]
        self.kind_table: list[tuple[tuple[int, ...], bool]] = [
            ((i,), False) for i in range(len(self.lists))
        ]
        self.kind_table += [(tuple(lids), bool(has)) for lids, has in header["kinds"]]
        self.urls: dict[str, tuple[UrlEntry, ...]] = {
            h: tuple(UrlEntry(p, listed, lid) for p, listed, lid in v)
            for h, v in header["urls"].items()
        }
        self.expressions: list[tuple[re.Pattern[str], str, int]] = [
            (compile_expression(p), p, lid) for p, lid in header["expressions"]
        ]
        self.entries: int = header["entries"]
        self._scanners: list[tuple[re.Pattern[str], bool]] | None = None
        self._url_tables: dict[str, tuple[dict[str, list[UrlEntry]], list[UrlEntry]]] = {}

    @classmethod
    def load(cls, path: Path) -> HostIndex:
        """Map an index file; only the pages that lookups touch are ever read from disk."""
        with path.open("rb") as fh:
            try:
                mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file
                raise IndexFileError(f"{path}: empty, not a monitord index") from None
        if mm[:8] != MAGIC:
            mm.close()
            raise IndexFileError(f"{path}: not a monitord index of this version")
        size = int.from_bytes(mm[8:16], "little")
        header = json.loads(mm[16 : 16 + size])
        at = 16 + size
        n = header["n"]
        arrays: list[npt.NDArray[Any]] = []
        for dtype, count in (
            ("<u8", n),
            ("<u4", (1 << header["bucket_bits"]) + 1),
            (header["kind_type"], n),
            ("<u4", n),
        ):
            arr = np.frombuffer(mm, dtype=dtype, count=count, offset=at)
            arrays.append(arr)
            at += arr.nbytes + (-arr.nbytes % 8)
        return cls(arrays, mm, at, header, path)

    def __len__(self) -> int:
        return len(self.keys)

    def unmap_pages(self) -> None:
        """Take the mapped file's pages out of the process's resident memory. They stay in
        the system's page cache; a later lookup maps what it reads again (a minor fault).
        The kernel maps 64 KB, or a whole large folio, around every page a lookup touches:
        a day's few thousand new names left 40 to 60 MB of a 5-million-name index mapped
        in the daemon, though each read a few bytes of it. Nothing to do for an index in
        memory; where the system refuses (pages locked in memory), they stay mapped."""
        if isinstance(self._raw, mmap.mmap) and not self._raw.closed:
            with contextlib.suppress(OSError):
                self._raw.madvise(mmap.MADV_DONTNEED)

    # --- one host -------------------------------------------------------------------------

    def name(self, row: int) -> str:
        """The stored name of a row. From a file it is read with pread, not through the
        mapping: names are only read to confirm a hit, and pages read that way stay in the
        page cache without counting in the daemon's resident memory."""
        if self._fd is None:
            start = self._blob_at + int(self.offsets[row])
            end = self._raw.find(b"\n", start)
            return self._raw[start:end].decode("utf-8", "replace")
        offset = int.from_bytes(os.pread(self._fd, 4, self._offsets_at + 4 * row), "little")
        data = os.pread(self._fd, MAX_HOST + 1, self._blob_at + offset)
        return data.split(b"\n", 1)[0].decode("utf-8", "replace")

    def kind(self, row: int) -> tuple[tuple[int, ...], bool]:
        """(ids of the lists with a domain entry for the row's name, has URL entries)."""
        return self.kind_table[int(self.kinds[row])]

    def find(self, name: str, h: int) -> int:
        """The row holding exactly ``name`` (whose hash is ``h``), or -1."""
        bucket = h >> self._shift
        keys = self._k
        for row in range(self._b[bucket], self._b[bucket + 1]):
            k = keys[row]
            if k == h:
                if self.name(row) == name:
                    return row
            elif k > h:
                break
        return -1

    def host_hits(self, host: str) -> list[tuple[str, int]]:
        """(entry, row) for the canonical host and each listed parent domain, longest first,
        each checked against the stored name."""
        found: list[tuple[str, int]] = []
        for start, h in suffix_hashes(host):
            suffix = host[start:]
            row = self.find(suffix, h)
            if row >= 0:
                found.append((suffix, row))
        return found

    # --- many hosts -----------------------------------------------------------------------

    def _rows_of(self, hashes: U64) -> I64:
        """The first row whose key equals each hash, or -1 (a vectorised bucket scan)."""
        out = np.full(len(hashes), -1, dtype=np.int64)
        if not len(self.keys) or not len(hashes):
            return out
        bucket = (hashes >> self._np_shift).astype(np.intp)
        lo = self.buckets[bucket].astype(np.intp)
        hi = self.buckets[bucket + 1].astype(np.intp)
        idx = np.flatnonzero(lo < hi)
        lo, hi, want = lo[idx], hi[idx], hashes[idx]
        while len(idx):
            k = self.keys[lo]
            eq = k == want
            out[idx[eq]] = lo[eq]
            lo += 1
            more = (k < want) & (lo < hi)
            idx, lo, hi, want = idx[more], lo[more], hi[more], want[more]
        return out

    def batch_hits(self, hosts: Sequence[str]) -> tuple[I64, I64, I64]:
        """For many canonical hosts: (item, start of the entry in the host, row) of every
        listed label suffix, in item order, longest entry first. A hit here is hash equality;
        at 64 bits the chance that a million lookups meet one false hit is about 1e-7, and
        ``confirm`` checks a hit against the stored name where an explanation needs it."""
        items: list[I64] = []
        starts_out: list[I64] = []
        rows_out: list[I64] = []
        for base in range(0, len(hosts), CHUNK):
            chunk = hosts[base : base + CHUNK]
            text = "\n".join(chunk) + "\n"
            buf = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)
            hashes, line, starts = hash_suffixes(buf)
            ends = np.flatnonzero(buf == 10)
            # Addresses match only as a whole: candidates end in a digit or hold a colon.
            last = buf[ends - 1]
            cands = np.flatnonzero((last >= 48) & (last <= 57)).tolist()
            if ":" in text:
                cands = sorted(set(cands) | {i for i, h in enumerate(chunk) if ":" in h})
            addr = [i for i in cands if chunk[i] and is_address(chunk[i])]
            if addr:
                whole = np.ones(len(line), dtype=bool)
                whole[1:] = line[1:] != line[:-1]
                keep = ~np.isin(line, addr) | whole
                hashes, line, starts = hashes[keep], line[keep], starts[keep]
            rows = self._rows_of(hashes)
            hit = np.flatnonzero(rows >= 0)
            if len(hit):
                line = line[hit]
                first = np.empty(len(ends), dtype=np.int64)
                first[0] = 0
                first[1:] = ends[:-1] + 1
                items.append(line + base)
                starts_out.append(starts[hit] - first[line])
                rows_out.append(rows[hit])
        if not items:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        return np.concatenate(items), np.concatenate(starts_out), np.concatenate(rows_out)

    def confirm(self, entry: str, row: int) -> int:
        """The row that holds exactly ``entry``, given a batch hit on ``row`` (the same row
        unless two names share a hash), or -1."""
        if self.name(row) == entry:
            return row
        return self.find(entry, host_hash(entry.encode("ascii", "replace")))

    # --- expressions ----------------------------------------------------------------------

    def expression_lines(self, text: str) -> list[int]:
        """Numbers of the lines of ``text`` (lower case, one URL without scheme a line) that
        some expression matches. Each top-level alternative of each expression is scanned
        for over the whole text (sre skips ahead to a literal prefix); each line a scan stops
        on is then checked on its own, so a match that runs over a line end (a ``[^x]`` class
        can) never stands for a line."""
        if not self.expressions:
            return []
        scanners = self._scanners
        if scanners is None:
            pieces = {a for _, p, _ in self.expressions for a in alternatives(p)}
            scanners = self._scanners = [_scanner(a) for a in sorted(pieces)]
        starts: set[int] = set()
        lined = ""
        for rx, anchored in scanners:
            if anchored and not lined:
                lined = "\n" + text
            subject = lined if anchored else text
            pos = 0
            while pos <= len(subject):
                m = rx.search(subject, pos)
                if m is None:
                    break
                # An anchored scan's match starts on the newline before its line, which
                # starts at the same offset of ``text``.
                start = m.start() if anchored else text.rfind("\n", 0, m.start()) + 1
                end = text.find("\n", start if anchored else m.start())
                end = len(text) if end < 0 else end
                starts.add(start)
                pos = end + 1
        lines: list[int] = []
        line_no = counted = 0
        for start in sorted(starts):
            line_no += text.count("\n", counted, start)
            counted = start
            end = text.find("\n", start)
            if self.expression_matches(text[start : len(text) if end < 0 else end]):
                lines.append(line_no)
        return lines

    def url_entries(self, host: str) -> tuple[dict[str, list[UrlEntry]], list[UrlEntry]]:
        """A host's URL entries for matching: by path (those without a query) and the list of
        those with a query (matched as plain prefixes). Prepared once per host."""
        prepared = self._url_tables.get(host)
        if prepared is None:
            by_path: dict[str, list[UrlEntry]] = {}
            with_query: list[UrlEntry] = []
            for u in self.urls.get(host, ()):
                if "?" in u.path:
                    with_query.append(u)
                else:
                    by_path.setdefault(u.path.rstrip("/") or "/", []).append(u)
            prepared = self._url_tables[host] = (by_path, with_query)
        return prepared

    def url_matches(self, host: str, path: str) -> list[UrlEntry]:
        """The URL entries of ``host`` that ``path`` (normalised, with its query) falls under:
        the entry's path itself or anything below it, never a sibling that merely starts with
        the same letters (``/flash`` is not ``/flashy``); an entry with a query as a plain
        prefix of path and query."""
        by_path, with_query = self.url_entries(host)
        found: list[UrlEntry] = []
        if by_path:
            bare = path.split("?", 1)[0]
            keys = [bare.rstrip("/") or "/"]
            i = bare.find("/", 1)
            while 0 < i < len(keys[0]):
                keys.append(bare[:i])
                i = bare.find("/", i + 1)
            for key in [*keys[1:], keys[0]]:  # shortest first
                found += by_path.get(key, ())
        found += [u for u in with_query if path.startswith(u.path)]
        return found

    def expression_matches(self, subject: str) -> list[tuple[str, int]]:
        """(pattern, list id) of every expression that matches one URL (without scheme)."""
        return [(p, lid) for rx, p, lid in self.expressions if rx.search(subject)]
