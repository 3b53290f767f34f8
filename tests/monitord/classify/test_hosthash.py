"""Host hashes: the numpy batch and the one-name Python paths agree, and a host's suffix hashes
are its label suffixes."""

from __future__ import annotations

import string

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.classify.hosthash import hash_suffixes, host_hash, suffix_hashes

LABEL = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=20)
HOST = st.lists(LABEL, min_size=1, max_size=6).map(".".join)


@given(st.lists(HOST, min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_numpy_and_python_hashes_agree(hosts: list[str]) -> None:
    buf = np.frombuffer(("\n".join(hosts) + "\n").encode(), dtype=np.uint8)
    hashes, line, starts = hash_suffixes(buf)
    first = np.concatenate([[0], np.flatnonzero(buf == 10)[:-1] + 1])
    numpy_side = [
        (int(i), int(s - first[i]), int(h)) for h, i, s in zip(hashes, line, starts, strict=True)
    ]
    python_side = []
    for i, host in enumerate(hosts):
        labels = host.split(".")
        for k in range(len(labels)):
            suffix = ".".join(labels[k:])
            python_side.append((i, len(host) - len(suffix), host_hash(suffix.encode())))
    assert numpy_side == python_side


@given(HOST)
@settings(max_examples=100, deadline=None)
def test_suffix_hashes_are_label_suffixes(host: str) -> None:
    got = suffix_hashes(host)
    if host.rsplit(".", 1)[-1].isdigit():
        assert got == [(0, host_hash(host.encode()))]
        return
    labels = host.split(".")
    want = [".".join(labels[k:]) for k in range(len(labels))]
    assert [host[s:] for s, _ in got] == want
    assert [h for _, h in got] == [host_hash(w.encode()) for w in want]
