"""Telling systemd how monitord is: datagrams on $NOTIFY_SOCKET, nothing outside systemd."""

from __future__ import annotations

import socket
from pathlib import Path

from monitord.service.notify import SystemdNotifier


def test_notifier_does_nothing_outside_systemd() -> None:
    quiet = SystemdNotifier({})
    assert not quiet.active
    assert quiet.send(READY="1") is False
    assert quiet.watchdog_interval is None
    assert SystemdNotifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval == 15.0
    assert SystemdNotifier({"WATCHDOG_USEC": "0"}).watchdog_interval is None
    assert SystemdNotifier({"WATCHDOG_USEC": "soon"}).watchdog_interval is None


def test_fields_reach_the_socket_as_one_datagram(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(5)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": address})
        assert notifier.active
        assert notifier.send(READY="1", STATUS="following 3 sources") is True
        assert sock.recv(4096) == b"READY=1\nSTATUS=following 3 sources"


def test_an_abstract_socket_name_and_a_socket_gone_away(tmp_path: Path) -> None:
    assert SystemdNotifier({"NOTIFY_SOCKET": "@/org/systemd/notify"}).address == (
        "\0/org/systemd/notify"
    )
    gone = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock")})
    assert gone.send(WATCHDOG="1") is False
