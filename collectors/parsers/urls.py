"""Host and URL helpers shared by the parsers."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote, urlsplit

# Host names, sites and user names repeat all day in a proxy's log and the agents' reports:
# each distinct one is worked out once (the functions are pure). Only values up to _KEPT
# characters are remembered, so that hostile lines cannot make the memory large.
_REMEMBERED = 8192
_KEPT = 300


def normalise_host(host: str) -> str | None:
    """Lower case, no trailing dot, no port, no brackets; None when nothing is left."""
    return _remembered_host(host) if len(host) <= _KEPT else _normal_host(host)


def _normal_host(host: str) -> str | None:
    h = host.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        return (h[1:end] or None) if end > 0 else None
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".") or None


_remembered_host = lru_cache(maxsize=_REMEMBERED)(_normal_host)


def host_of_url(url: str, method: str = "") -> str | None:
    """The host a proxy request went to: ``host:port`` for CONNECT, else the URL's host."""
    at = url.find("://")
    if at < 0 or method.upper() == "CONNECT":
        return normalise_host(url.split("/", 1)[0])
    # The URL up to the end of its host (the first ``/``, ``?`` or ``#`` after the scheme):
    # its path, query and fragment leave the host as it is, so a site's URLs share one answer.
    cut = len(url)
    for ch in "/?#":
        k = url.find(ch, at + 3, cut)
        if k >= 0:
            cut = k
    site = url[:cut]
    return _remembered_site(site) if len(site) <= _KEPT else _host_of_site(site)


def _host_of_site(url: str) -> str | None:
    """``host_of_url`` of a URL with a scheme, cut at the end of its host."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    return normalise_host(netloc.rsplit("@", 1)[-1])


_remembered_site = lru_cache(maxsize=_REMEMBERED)(_host_of_site)


def normalise_user(user: str) -> str | None:
    """``DOMAIN\\user``, ``user@realm`` and their URL-encoded forms to ``user``."""
    return _remembered_user(user) if len(user) <= _KEPT else _normal_user(user)


def _normal_user(user: str) -> str | None:
    u = unquote(user.strip())
    if not u or u == "-":
        return None
    u = u.rsplit("\\", 1)[-1]
    u = u.split("@", 1)[0]
    return u.lower() or None


_remembered_user = lru_cache(maxsize=_REMEMBERED)(_normal_user)
