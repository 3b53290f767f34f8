"""What the kernel says of a listening UDP socket: the datagrams it dropped because the
receive buffer was full, from ``/proc/self/net/udp`` and ``udp6`` (the network namespace's
sockets; under systemd's ``ProcSubset=pid`` only ``/proc/self`` is there)."""

from __future__ import annotations

from pathlib import Path


def udp_drops(inode: int, proc: Path = Path("/proc/self/net")) -> int | None:
    """The datagrams the kernel dropped for the UDP socket with this inode (its receive
    buffer was full), from ``/proc/net/udp`` and ``udp6``; None if it is not listed."""
    for name in ("udp", "udp6"):
        for fields in _rows(proc / name):
            if len(fields) >= 13 and fields[9] == str(inode):
                return int(fields[-1]) if fields[-1].isdigit() else None
    return None


def udp_drops_on_port(port: int, proc: Path = Path("/proc/self/net")) -> int | None:
    """The drops of every UDP socket bound to ``port`` on this machine (whichever process
    holds it), or None if none is."""
    total: int | None = None
    for name in ("udp", "udp6"):
        for fields in _rows(proc / name):
            if len(fields) < 13 or ":" not in fields[1]:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[-1].isdigit():
                total = (total or 0) + int(fields[-1])
    return total


def _rows(path: Path) -> list[list[str]]:
    try:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return []
    return [line.split() for line in lines[1:]]
