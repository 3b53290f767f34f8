"""Telling systemd how monitord is (``Type=notify``): READY when it is following its sources,
STATUS lines, WATCHDOG while the event loop is alive, STOPPING when it shuts down. Outside
systemd (no ``$NOTIFY_SOCKET``) every call does nothing."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class SystemdNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_interval = int(usec) / 2_000_000 if usec.isdigit() and int(usec) else None

    @property
    def active(self) -> bool:
        return bool(self.address)

    def send(self, **fields: str) -> bool:
        """Send ``READY="1"``, ``STATUS="..."`` and the like; True when systemd got it."""
        if not self.address:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall(message)
        except OSError:
            return False
        return True
