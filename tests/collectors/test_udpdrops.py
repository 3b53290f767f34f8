"""The kernel's drop count of a UDP socket, from files shaped like /proc/net/udp and from a
real socket made to overflow."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from collectors.udpdrops import udp_drops, udp_drops_on_port

PROC_UDP = "\n".join(
    [
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode ref pointer drops",
        "  101: 00000000:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000     0  "
        "      0 4242 2 0000000000000000 17",
        "  102: 0100007F:15AA 00000000:0000 07 00000000:00000000 00:00000000 00000000     0  "
        "      0 4243 2 0000000000000000 0",
    ]
)


def test_drops_read_from_proc_files(tmp_path: Path) -> None:
    (tmp_path / "udp").write_text(PROC_UDP)
    assert udp_drops(4242, tmp_path) == 17
    assert udp_drops(4243, tmp_path) == 0
    assert udp_drops(1, tmp_path) is None
    assert udp_drops_on_port(514, tmp_path) == 17
    assert udp_drops_on_port(5546, tmp_path) == 0
    assert udp_drops_on_port(9, tmp_path) is None
    assert udp_drops(4242, tmp_path / "missing") is None


def test_drops_of_a_real_socket_that_overflowed() -> None:
    if not Path("/proc/net/udp").exists():
        pytest.skip("no /proc/net/udp on this system")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        inode = os.fstat(rx.fileno()).st_ino
        assert udp_drops(inode) == 0
        for _ in range(200):
            tx.sendto(b"x" * 500, ("127.0.0.1", port))
        drops = udp_drops(inode)
        assert drops is not None
        assert drops > 0
        assert udp_drops_on_port(port) == drops
    finally:
        rx.close()
        tx.close()
