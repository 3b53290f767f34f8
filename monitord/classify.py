"""Matching hosts and URLs against category lists, with the reason for every match.

A domain entry matches the domain and its subdomains on label boundaries (``example.com``
matches ``a.example.com``, never ``badexample.com``). A URL entry matches URLs on that host (or
a subdomain) whose path starts with the entry's path. Lookups without a path (DNS, TLS SNI)
are matched against domain entries only. Allow lists lower nothing illegal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from monitord.categories import ALLOW, ILLEGAL
from monitord.model import Event, Match


def canonical_host(host: str) -> str:
    """Lower case, no trailing dot, IDN as punycode, ``www.`` kept (matched as a subdomain)."""
    h = host.strip().lower().rstrip(".")
    if h.isascii():
        return h
    try:
        return h.encode("idna").decode("ascii")
    except UnicodeError:
        return h


def split_url_entry(entry: str) -> tuple[str, str]:
    """``host/path`` (scheme optional) to (canonical host, path without trailing slash)."""
    e = entry.strip()
    if "://" in e:
        e = e.split("://", 1)[1]
    host, _, path = e.partition("/")
    return canonical_host(host.split(":", 1)[0]), ("/" + path).rstrip("/") if path else ""


@dataclass
class DomainIndex:
    """Domain and URL entries of every loaded list, keyed by host."""

    domains: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    urls: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)

    def add_domains(self, entries: Iterable[str], category: str, list_name: str) -> int:
        n = 0
        tag = (category, list_name)
        for raw in entries:
            host = canonical_host(raw)
            if host:
                self.domains.setdefault(host, []).append(tag)
                n += 1
        return n

    def add_urls(self, entries: Iterable[str], category: str, list_name: str) -> int:
        n = 0
        for raw in entries:
            host, path = split_url_entry(raw)
            if not host:
                continue
            if path:
                self.urls.setdefault(host, []).append((path, category, list_name))
            else:
                self.domains.setdefault(host, []).append((category, list_name))
            n += 1
        return n

    def _suffixes(self, host: str) -> Iterable[str]:
        """The host and each parent domain. An address (IPv4, IPv6, or anything whose last
        label is a number, which no domain has) matches only itself."""
        labels = host.split(".")
        if ":" in host or labels[-1].isdigit():
            yield host
            return
        for i in range(len(labels)):
            yield ".".join(labels[i:])

    def lookup(self, host: str, path: str | None = None) -> list[Match]:
        """Every entry that matches ``host`` (and ``path``, when the record has one)."""
        h = canonical_host(host)
        if not h:
            return []
        found: list[Match] = []
        for suffix in self._suffixes(h):
            for category, list_name in self.domains.get(suffix, ()):
                found.append(Match(category, list_name, suffix, allow=category == ALLOW))
            if path is not None:
                for prefix, category, list_name in self.urls.get(suffix, ()):
                    if (
                        path == prefix
                        or path.startswith(prefix + "/")
                        or (path.startswith(prefix) and prefix.endswith("/"))
                    ):
                        found.append(
                            Match(category, list_name, suffix + prefix, allow=category == ALLOW)
                        )
        return found

    def __len__(self) -> int:
        return sum(len(v) for v in self.domains.values()) + sum(len(v) for v in self.urls.values())


def _path_of(url: str | None) -> str | None:
    if not url or "://" not in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.path or "/"


@dataclass(frozen=True, slots=True)
class Classification:
    """The categories an event falls in, after allow lists, with every match behind them."""

    matches: tuple[Match, ...]
    categories: tuple[str, ...]
    allowed_by: tuple[Match, ...] = ()


class Classifier:
    """Classifies events against a DomainIndex."""

    def __init__(self, index: DomainIndex) -> None:
        self.index = index

    def classify_host(self, host: str, url: str | None = None) -> Classification:
        matches = self.index.lookup(host, _path_of(url))
        allows = tuple(m for m in matches if m.allow)
        # An allow entry outweighs entries as broad as itself or broader; a more specific
        # listed entry (a listed subdomain of an allowed site) still counts.
        allow_depth = max((len(m.entry) for m in allows), default=-1)
        cats: list[str] = []
        for m in matches:
            if m.allow or m.category in cats:
                continue
            if m.category not in ILLEGAL and len(m.entry) <= allow_depth:
                continue
            cats.append(m.category)
        return Classification(tuple(matches), tuple(cats), allows)

    def classify(self, event: Event) -> Classification:
        if event.domain:
            return self.classify_host(event.domain, event.url)
        return Classification((), ())
