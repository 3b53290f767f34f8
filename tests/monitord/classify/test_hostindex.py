from __future__ import annotations

import ctypes
import json
import random
import string
from pathlib import Path

import numpy as np
import pytest

from monitord.classify import hostindex
from monitord.classify.hostindex import (
    MAGIC,
    HostIndex,
    IndexBuilder,
    IndexFileError,
    ListInfo,
    normal_path,
)
from tests.conftest import UT1


def ut1_domains(folder: str) -> list[str]:
    return (UT1 / folder / "domains").read_text(encoding="utf-8").split()


@pytest.fixture(scope="module")
def real() -> HostIndex:
    """Three real UT1 lists, two of them sharing most names (redirector, strict_redirector)."""
    b = IndexBuilder()
    for folder, category in (
        ("gambling", "gambling"),
        ("redirector", "filter_bypass"),
        ("strict_redirector", "filter_bypass"),
    ):
        lid = b.list_id(ListInfo(f"ut1/{folder}", category, 7, "ab" * 32, None, "ut1"))
        b.add_hosts(lid, ut1_domains(folder))
    return b.build()


def test_real_lists_found_on_label_boundaries(real: HostIndex) -> None:
    name = ut1_domains("gambling")[10]
    hits = real.host_hits(f"a.b.{name}")
    assert [(entry, real.kind(row)) for entry, row in hits] == [(name, ((0,), False))]
    assert real.name(hits[0][1]) == name
    assert real.host_hits(f"x{name}") == []
    assert real.host_hits(f"{name}.evil.example") == []


def test_a_name_in_two_lists_carries_both(real: HostIndex) -> None:
    both = set(ut1_domains("redirector")) & set(ut1_domains("strict_redirector"))
    name = sorted(both)[0]
    [(entry, row)] = real.host_hits(name)
    assert entry == name
    assert real.kind(row) == ((1, 2), False)
    assert len(real) < real.entries  # one row for each name, however many lists have it


def test_batch_agrees_with_one_at_a_time(real: HostIndex) -> None:
    rng = random.Random(5)
    listed = ut1_domains("gambling") + ut1_domains("redirector")
    hosts = []
    for _ in range(20000):
        r = rng.random()
        if r < 0.2:
            hosts.append(rng.choice(["www.", "m.", "a.b.", ""]) + rng.choice(listed))
        elif r < 0.25:
            hosts.append("x" + rng.choice(listed))
        elif r < 0.3:
            hosts.append(f"{rng.randrange(256)}.{rng.randrange(256)}.1.2")
        else:
            word = "".join(rng.choices(string.ascii_lowercase, k=rng.randrange(3, 15)))
            hosts.append(f"{word}.{rng.choice(['com', 'net', 'co.uk', 'org'])}")
    hosts += ["", "com", "::1", "2001:db8::1"]
    items, starts, rows = real.batch_hits(hosts)
    batch = [
        (int(i), hosts[i][s:], real.confirm(hosts[i][s:], int(r)))
        for i, s, r in zip(items, starts, rows, strict=True)
    ]
    single = [(i, e, r) for i, h in enumerate(hosts) for e, r in real.host_hits(h)]
    assert batch == single
    assert len(single) > 3000


def test_addresses_match_only_whole() -> None:
    b = IndexBuilder()
    lid = b.list_id(ListInfo("ip", "malware"))
    b.add_hosts(lid, ["10.1.2.3", "2001:db8::1", "1.2"])
    ix = b.build()
    hosts = ["10.1.2.3", "5.10.1.2.3", "2001:db8::1", "9.1.2", "1.2"]
    assert [bool(ix.host_hits(h)) for h in hosts] == [True, False, True, False, True]
    items, _, _ = ix.batch_hits(hosts)
    assert items.tolist() == [0, 2, 4]


def test_file_round_trip_and_mapping(tmp_path: Path) -> None:
    b = IndexBuilder()
    lid = b.list_id(ListInfo("ut1/gambling", "gambling", 3, "cd" * 32, "2026-11-20T10:00", "ut1"))
    names = ut1_domains("gambling")
    b.add_host_lines(lid, ("\n".join(names) + "\n").encode())
    b.add_url(lid, "casino.example", "/Poker%20Room", "casino.example/Poker%20Room")
    b.add_expression(lid, "^bet[0-9]+\\.")
    path = b.write(tmp_path / "index.mdi")
    ix = HostIndex.load(path)
    assert ix.path == path
    assert ix.lists[0] == ListInfo(
        "ut1/gambling", "gambling", 3, "cd" * 32, "2026-11-20T10:00", "ut1"
    )
    assert ix.entries == len(names) + 2
    [(entry, row)] = ix.host_hits("www." + names[-1])
    assert entry == names[-1]
    assert ix.kind(row) == ((0,), False)
    [(_, url_row)] = ix.host_hits("casino.example")
    assert ix.kind(url_row) == ((), True)
    assert ix.urls["casino.example"][0].path == "/poker room"
    assert ix.expression_matches("bet365.com/") == [("^bet[0-9]+\\.", 0)]
    assert not (tmp_path / "index.mdi.tmp").exists()


def mapped_kib(path: Path) -> int:
    """The resident kB of this process's mappings of ``path`` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text(encoding="utf-8").splitlines():
        if line[:1] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
            inside = line.endswith(" " + str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def test_unmapping_gives_the_pages_back_and_lookups_still_find(tmp_path: Path) -> None:
    b = IndexBuilder()
    lid = b.list_id(ListInfo("ut1/gambling", "gambling"))
    names = ut1_domains("gambling")
    b.add_hosts(lid, names)
    path = b.write(tmp_path / "index.mdi").resolve()
    ix = HostIndex.load(path)
    asked = [f"www.{n}" for n in names] + [f"{n}.not-listed.example" for n in names[:500]]
    before = [ix.host_hits(h) for h in asked]
    batch = ix.batch_hits(asked)
    assert mapped_kib(path) > 0
    ix.unmap_pages()
    assert mapped_kib(path) == 0
    assert [ix.host_hits(h) for h in asked] == before
    assert all(np.array_equal(x, y) for x, y in zip(ix.batch_hits(asked), batch, strict=True))
    assert ix.name(before[0][0][1]) == names[0]
    built = b.build()
    built.unmap_pages()  # an index in memory: nothing to give back, nothing lost
    assert built.host_hits(asked[0]) == before[0]


def test_pages_locked_in_memory_stay_mapped_and_nothing_fails(tmp_path: Path) -> None:
    b = IndexBuilder()
    b.add_hosts(b.list_id(ListInfo("ut1/gambling", "gambling")), ut1_domains("gambling"))
    path = b.write(tmp_path / "index.mdi").resolve()
    ix = HostIndex.load(path)
    whole = np.frombuffer(ix._raw, dtype=np.uint8)
    libc = ctypes.CDLL(None, use_errno=True)
    size = ctypes.c_size_t(len(whole))
    if libc.mlock(ctypes.c_void_p(whole.ctypes.data), size) != 0:
        pytest.skip("mlock refused (RLIMIT_MEMLOCK)")
    try:
        ix.unmap_pages()  # madvise refuses locked pages: they stay, lookups go on
        assert mapped_kib(path) > 0
        assert ix.host_hits("www." + ut1_domains("gambling")[0])
    finally:
        libc.munlock(ctypes.c_void_p(whole.ctypes.data), size)


def test_the_file_is_laid_out_as_the_module_says(tmp_path: Path) -> None:
    """The layout in ``monitord.classify.hostindex``'s docstring, read back from a file."""
    assert hostindex.__doc__ is not None
    assert f'b"{MAGIC.decode()}"' in hostindex.__doc__
    b = IndexBuilder()
    lid = b.list_id(ListInfo("ut1/gambling", "gambling"))
    names = ["bet365.com", "casino.example", "www.skybet.com"]
    b.add_hosts(lid, names)
    raw = b.write(tmp_path / "index.mdi").read_bytes()
    assert raw[:8] == MAGIC
    size = int.from_bytes(raw[8:16], "little")
    assert (16 + size) % 8 == 0  # the header padded: every section 8-byte aligned
    header = json.loads(raw[16 : 16 + size])
    n, bits = header["n"], header["bucket_bits"]
    at = 16 + size
    keys = np.frombuffer(raw, "<u8", n, at)
    assert list(keys) == sorted(keys)  # keys u64[n], sorted
    at += 8 * n
    buckets = np.frombuffer(raw, "<u4", (1 << bits) + 1, at)  # buckets u32[2**b + 1]
    assert buckets[-1] == n
    at += buckets.nbytes + (-buckets.nbytes % 8)
    kinds = np.frombuffer(raw, header["kind_type"], n, at)  # kinds u16[n] or u32[n]
    assert header["kind_type"] in ("<u2", "<u4")
    assert set(kinds.tolist()) == {lid}  # one list alone: kind i is list i
    at += kinds.nbytes + (-kinds.nbytes % 8)
    offsets = np.frombuffer(raw, "<u4", n, at)  # offsets u32[n] into the blob
    at += offsets.nbytes + (-offsets.nbytes % 8)
    blob = raw[at:]
    assert sorted(blob.decode().splitlines()) == sorted(names)  # newline-terminated names
    assert sorted(blob[o:].split(b"\n", 1)[0].decode() for o in offsets) == sorted(names)


def test_not_an_index(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mdi"
    empty.write_bytes(b"")
    with pytest.raises(IndexFileError, match="empty"):
        HostIndex.load(empty)
    other = tmp_path / "other.mdi"
    other.write_bytes(b"MONIDX00" + b"\0" * 64)
    with pytest.raises(IndexFileError, match="not a monitord index"):
        HostIndex.load(other)


def test_bad_names_never_become_entries() -> None:
    b = IndexBuilder()
    lid = b.list_id(ListInfo("l", "drugs"))
    assert b.add_hosts(lid, ["", "a" * 300, "ok.example", "two\nlines"]) == 1
    ix = b.build()
    assert [e for e, _ in ix.host_hits("ok.example")] == ["ok.example"]
    assert ix.host_hits("a" * 300) == []


def test_normal_path() -> None:
    assert normal_path("/A%20B//c?Q=1//2") == "/a b/c?q=1//2"
    assert normal_path("/plain") == "/plain"


def test_url_entries_match_on_path_segments() -> None:
    b = IndexBuilder()
    lid = b.list_id(ListInfo("u", "gaming"))
    for path in ("/flash", "/flash/games", "/a?b=1", "/x/y"):
        b.add_url(lid, "site.example", path, "site.example" + path)
    ix = b.build()

    def paths(p: str) -> list[str]:
        return [u.path for u in ix.url_matches("site.example", p)]

    assert paths("/flash") == ["/flash"]
    assert paths("/flash/") == ["/flash"]
    assert paths("/flash/games/1?q") == ["/flash", "/flash/games"]
    assert paths("/flashy") == []
    assert paths("/a?b=12") == ["/a?b=1"]
    assert paths("/a?c=1") == []
    assert paths("/x") == []
    assert paths("/") == []
    assert ix.url_matches("other.example", "/flash") == []


@pytest.mark.parametrize("count", [1, 2, 3, 1000, 1001])
def test_names_read_from_the_file_match_the_build(tmp_path: Path, count: int) -> None:
    b = IndexBuilder()
    lid = b.list_id(ListInfo("l", "drugs"))
    b.add_hosts(lid, [f"n{i}.example" for i in range(count)])
    built = b.build()
    loaded = HostIndex.load(b.write(tmp_path / "i.mdi"))
    assert [loaded.name(r) for r in range(len(loaded))] == [
        built.name(r) for r in range(len(built))
    ]
