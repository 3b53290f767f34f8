"""Field helpers shared by the parsers of structured logs (Zeek, Suricata)."""

from __future__ import annotations

import math

MAX_INT = 2**63 - 1


def json_int(value: object) -> int | None:
    """A non-negative integer from a JSON or TSV field (number or digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_INT:
        return value
    return None


def request_url(
    host: str | None, path: str | None, method: str | None, port: int | None = None
) -> str | None:
    """The URL an HTTP request asked for, from the Host header, the request path and port.
    An absolute URL (a proxy request) or a CONNECT target is kept as it is."""
    if path is not None and ("://" in path or (method or "").upper() == "CONNECT"):
        return path
    if host is None:
        return None  # a path with no host is no URL
    if host.count(":") > 1 and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 server address
    netloc = f"{host}:{port}" if port is not None and port != 80 else host
    if path is None or not path.startswith("/"):
        return f"http://{netloc}/"
    return f"http://{netloc}{path}"
