"""Host and URL helpers shared by the parsers."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def normalise_host(host: str) -> str | None:
    """Lower case, no trailing dot, no port, no brackets; None when nothing is left."""
    h = host.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        return (h[1:end] or None) if end > 0 else None
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".") or None


def host_of_url(url: str, method: str = "") -> str | None:
    """The host a proxy request went to: ``host:port`` for CONNECT, else the URL's host."""
    if method.upper() == "CONNECT" or "://" not in url:
        return normalise_host(url.split("/", 1)[0])
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    return normalise_host(netloc.rsplit("@", 1)[-1])


def normalise_user(user: str) -> str | None:
    """``DOMAIN\\user``, ``user@realm`` and their URL-encoded forms to ``user``."""
    u = unquote(user.strip())
    if not u or u == "-":
        return None
    u = u.rsplit("\\", 1)[-1]
    u = u.split("@", 1)[0]
    return u.lower() or None
