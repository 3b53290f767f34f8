"""Matching hosts and URLs against category lists, with the reason for every match.

A domain entry matches the domain and its subdomains on label boundaries (``example.com``
matches ``a.example.com``, never ``badexample.com``). A URL entry matches URLs on that host (or
a subdomain) whose path is the entry's path or lies below it; path and query are compared
percent-decoded and in lower case, as squidGuard compares them. An expression (UT1
``expressions``) is a regex matched against the URL without its scheme. Lookups without a path
(DNS, TLS SNI) are matched against domain entries only. Host names are compared in lower case,
without a trailing dot, IDN as punycode; ``www.example.com`` is a subdomain of ``example.com``;
an IP literal matches only itself. Allow lists lower nothing illegal.

The entries live in a compiled :class:`~monitord.classify.hostindex.HostIndex` (sorted
64-bit hashes, memory-mapped from a file written at import time); ``DomainIndex`` builds
or opens one and turns its hits into explained :class:`~monitord.core.model.Match` es.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitord.classify.hostindex import HostIndex, IndexBuilder, ListInfo, UrlEntry, normal_path
from monitord.core.categories import ALLOW, ILLEGAL
from monitord.core.model import Event, Match


def canonical_host(host: str) -> str:
    """Lower case, no trailing dot, IDN as punycode, ``www.`` kept (matched as a subdomain),
    an IPv6 literal without its brackets. Always ASCII."""
    h = host.strip().lower().rstrip(".")
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if h.isascii():
        return h
    try:
        return h.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDN: still ASCII, still one spelling per name
        return h.encode("ascii", "backslashreplace").decode("ascii")


def split_url_entry(entry: str) -> tuple[str, str]:
    """``host/path`` (scheme optional) to (canonical host, path without trailing slash)."""
    e = entry.strip()
    if "://" in e:
        e = e.split("://", 1)[1]
    host, _, path = e.partition("/")
    host = host.rsplit("@", 1)[-1]
    host = host[1:].split("]", 1)[0] if host.startswith("[") else host.split(":", 1)[0]
    return canonical_host(host), ("/" + path).rstrip("/") if path else ""


class DomainIndex:
    """Domain, URL and expression entries of every loaded list, and lookups over them.

    Built entry by entry (``add_domains``, ``add_urls``, ``add_expressions``) or opened from a
    compiled index file (``DomainIndex.open``); lookups always run on a compiled
    :class:`~monitord.classify.hostindex.HostIndex`, built on first use after an addition.
    """

    CACHE = 65536  # hosts whose hits are remembered (DNS and proxy logs repeat themselves)

    def __init__(self, compiled: HostIndex | None = None) -> None:
        self._builder: IndexBuilder | None = None if compiled is not None else IndexBuilder()
        self._compiled = compiled
        self._cache: dict[str, tuple[tuple[str, int], ...]] = {}
        # Counts the changes of the entries: what was remembered of an older count is stale.
        self.generation = 0

    @classmethod
    def open(cls, path: Path) -> DomainIndex:
        """A compiled index file, memory-mapped (see ``monitord.classify.lists.compile_index``)."""
        return cls(HostIndex.load(path))

    @property
    def builder(self) -> IndexBuilder:
        if self._builder is None:
            raise TypeError("this index was opened from a compiled file and is read-only")
        self._compiled = None
        self._cache.clear()
        self.generation += 1
        return self._builder

    @property
    def compiled(self) -> HostIndex:
        if self._compiled is None:
            assert self._builder is not None
            self._compiled = self._builder.build()
        return self._compiled

    @property
    def lists(self) -> list[ListInfo]:
        return self._builder.lists if self._builder is not None else self.compiled.lists

    def add_list(self, info: ListInfo) -> int:
        """Register a list (its version and hash, for explanations); returns its id."""
        return self.builder.list_id(info)

    def add_domains(self, entries: Iterable[str], category: str, list_name: str) -> int:
        b = self.builder
        return b.add_hosts(b.list_id(ListInfo(list_name, category)), map(canonical_host, entries))

    def add_urls(self, entries: Iterable[str], category: str, list_name: str) -> int:
        b = self.builder
        lid = b.list_id(ListInfo(list_name, category))
        n = 0
        for raw in entries:
            host, path = split_url_entry(raw)
            if not host:
                continue
            if path:
                b.add_url(lid, host, path, host + path)
            else:
                b.add_hosts(lid, (host,))
            n += 1
        return n

    def add_expressions(self, patterns: Iterable[str], category: str, list_name: str) -> int:
        """UT1 ``expressions``: regexes matched against URLs (without scheme)."""
        b = self.builder
        lid = b.list_id(ListInfo(list_name, category))
        return sum(b.add_expression(lid, p) for p in patterns)

    def unmap_pages(self) -> None:
        """Give the compiled index file's mapped pages back (``HostIndex.unmap_pages``)."""
        if self._compiled is not None:
            self._compiled.unmap_pages()

    def save(self, path: Path) -> Path:
        """Write the compiled index to ``path``."""
        return self.builder.write(path)

    def host_hits(self, host: str) -> tuple[tuple[str, int], ...]:
        """(entry, row) of every listed suffix of a canonical host, remembered."""
        hits = self._cache.get(host)
        if hits is None:
            if len(self._cache) >= self.CACHE:
                self._cache.clear()
            hits = self._cache[host] = tuple(self.compiled.host_hits(host))
        return hits

    def has_urls(self, host: str) -> bool:
        """Whether a listed suffix of a canonical host has URL entries under it."""
        ix = self.compiled
        return any(ix.kind(row)[1] for _, row in self.host_hits(host))

    def matches(
        self,
        hits: Sequence[tuple[str, int]],
        path: str | None = None,
        subject: str | None = None,
    ) -> list[Match]:
        """The matches behind hits (entry, row): domain entries, then URL entries when the
        record has a path, then expressions when it has a URL."""
        ix = self.compiled
        urls: tuple[tuple[UrlEntry, ...], ...] = ()
        if path is not None and any(ix.kind(row)[1] for _, row in hits):
            urls = self.url_hits(hits, path)
        exprs = ix.expression_matches(subject) if subject is not None and ix.expressions else []
        if not hits and not exprs:
            return []
        return self.assemble(hits, urls, exprs)

    def url_hits(
        self, hits: Sequence[tuple[str, int]], path: str
    ) -> tuple[tuple[UrlEntry, ...], ...]:
        """For each hit, the URL entries of its name that ``path`` falls under."""
        ix = self.compiled
        normal = normal_path(path)
        return tuple(
            tuple(ix.url_matches(entry, normal)) if ix.kind(row)[1] else () for entry, row in hits
        )

    def assemble(
        self,
        hits: Sequence[tuple[str, int]],
        urls: Sequence[Sequence[UrlEntry]] = (),
        exprs: Sequence[tuple[str, int]] = (),
    ) -> list[Match]:
        """Matches from hits, the URL entries matched under each hit (as ``url_hits`` gives
        them) and the expressions matched, in that order."""
        ix = self.compiled
        lists = ix.lists
        found: list[Match] = []
        for k, (entry, row) in enumerate(hits):
            for lid in ix.kind(row)[0]:
                info = lists[lid]
                found.append(Match(info.category, info.name, entry, allow=info.category == ALLOW))
            for u in urls[k] if k < len(urls) else ():
                info = lists[u.list_id]
                found.append(
                    Match(info.category, info.name, u.listed, allow=info.category == ALLOW)
                )
        for pattern, lid in exprs:
            info = lists[lid]
            found.append(Match(info.category, info.name, pattern, allow=info.category == ALLOW))
        return found

    def lookup(self, host: str, path: str | None = None, subject: str | None = None) -> list[Match]:
        """Every entry that matches ``host`` (and ``path``, with its query, when the record has
        one; and expressions against ``subject``, the URL without its scheme)."""
        h = canonical_host(host)
        if not h:
            return []
        return self.matches(self.host_hits(h), path, subject)

    def __len__(self) -> int:
        return self._builder.entries if self._builder is not None else self.compiled.entries


def url_parts(url: str | None) -> tuple[str | None, str | None]:
    """(path with query, URL without scheme in lower case) of a URL with a scheme; (None, None)
    for anything else (a DNS name, a CONNECT target ``host:443``). The path starts at the
    first ``/``, ``?`` or ``#`` after the scheme; the fragment is dropped."""
    if not url:
        return None, None
    at = url.find("://")
    if at < 0:
        return None, None
    rest = url[at + 3 :]
    cut = len(rest)
    for ch in "/?#":
        k = rest.find(ch, 0, cut)
        if k >= 0:
            cut = k
    path = rest[cut:]
    if "#" in path:
        path = path.split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    return path, rest.lower()


@dataclass(frozen=True, slots=True)
class Classification:
    """The categories an event falls in, after allow lists, with every match behind them."""

    matches: tuple[Match, ...]
    categories: tuple[str, ...]
    allowed_by: tuple[Match, ...] = ()


class Classifier:
    """Classifies events against a DomainIndex."""

    NAMES = 65536  # names (without a URL) whose classification is remembered

    def __init__(self, index: DomainIndex) -> None:
        self.index = index
        # A name without a URL (a DNS lookup, a TLS name, a CONNECT) is classified once while
        # the lists stay as they are: a school's day asks for the same few thousand names.
        self._names: dict[str, Classification] = {}
        self._names_of: tuple[DomainIndex, int] = (index, index.generation)

    def classify_host(self, host: str, url: str | None = None) -> Classification:
        if not url or "://" not in url:  # no path (``url_parts`` gives nothing)
            return self.classify_name(host)
        index = self.index
        if not index.compiled.expressions:
            # A URL of a host with no URL entries, when no list has expressions, falls in
            # the host's categories alone: the host's remembered classification.
            h = canonical_host(host)
            if not h or not index.has_urls(h):
                return self.classify_name(host)
        path, subject = url_parts(url)
        return self.judge(index.lookup(host, path, subject))

    def classify_name(self, host: str) -> Classification:
        """``classify_host`` of a name without a URL (or with one that has no path, such as
        a CONNECT target), remembered."""
        index = self.index
        if self._names_of[0] is not index or self._names_of[1] != index.generation:
            self._names.clear()
            self._names_of = (index, index.generation)
        found = self._names.get(host)
        if found is None:
            if len(self._names) >= self.NAMES:
                self._names.clear()
            found = self._names[host] = self.judge(index.lookup(host))
        return found

    @staticmethod
    def judge(matches: Sequence[Match]) -> Classification:
        """Categories from matches, after allow lists."""
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
