"""What a pupil searched for: the query in a search engine's URL, or the text an agent reported.

A proxy log or an agent's ``url`` report holds URLs such as
``https://www.google.co.uk/search?q=how+to+...``; :func:`search_terms` gives the engine and the
decoded query. Agent ``search``, ``typed_text`` and ``window_title`` reports arrive as events
of kind SEARCH or TEXT that already carry ``text``; :func:`event_text` gives the text of any
event, from whichever of the two it has. Nothing here raises on any string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from monitord.core.model import Event, EventKind


@dataclass(frozen=True, slots=True)
class Engine:
    """A search engine: which hosts, which paths (prefixes; empty means any) and which query
    parameters, in order of preference."""

    name: str
    host: re.Pattern[str]
    params: tuple[str, ...]
    paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()


def _host(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern + r"\Z")


# Country domains: google.co.uk, google.com.au, google.de, bing.com, yandex.com.tr ...
_CC = r"\.(?:(?:com?|org|net)\.)?[a-z]{2,3}"

ENGINES: tuple[Engine, ...] = (
    Engine(
        "youtube",
        _host(r"(?:www\.|m\.|music\.)?youtube\.com"),
        ("search_query", "q"),
        ("/results", "/search"),
    ),
    Engine(
        "google",
        _host(r"(?:www\.|images\.|news\.|scholar\.|m\.)?google" + _CC),
        ("q", "as_q"),
        ("/search", "/webhp", "/images", "/scholar", "/m/search"),
    ),
    Engine("google", _host(r"(?:www\.)?google" + _CC), ("q",), ("/",), ("/url", "/maps")),
    Engine("bing", _host(r"(?:www\.|cn\.)?bing\.com"), ("q",), ("/search", "/images", "/videos")),
    Engine("duckduckgo", _host(r"(?:html\.|lite\.|start\.)?duckduckgo\.com"), ("q",)),
    Engine("yahoo", _host(r"(?:[a-z]{2}\.)?search\.yahoo\.com"), ("p", "q")),
    Engine("ecosia", _host(r"(?:www\.)?ecosia\.org"), ("q",)),
    Engine("kiddle", _host(r"(?:www\.)?kiddle\.co"), ("q",)),
    Engine("swiggle", _host(r"(?:www\.)?swiggle\.org\.uk"), ("q",)),
    Engine("kidrex", _host(r"(?:www\.)?kidrex\.org"), ("q",)),
    Engine("kidzsearch", _host(r"(?:www\.|search\.)?kidzsearch\.com"), ("q",)),
    Engine("startpage", _host(r"(?:www\.|eu\.|us\.)?startpage\.com"), ("query", "q")),
    Engine("brave", _host(r"search\.brave\.com"), ("q",)),
    Engine("yandex", _host(r"(?:www\.)?(?:yandex" + _CC + r"|ya\.ru)"), ("text",)),
    Engine("baidu", _host(r"(?:www\.|m\.)?baidu\.com"), ("wd", "word", "kw")),
    Engine("qwant", _host(r"(?:www\.|lite\.)?qwant(?:junior)?\.com"), ("q",)),
    Engine("ask", _host(r"(?:www\.)?ask\.com"), ("q",), ("/web", "/search")),
    Engine("aol", _host(r"search\.aol\.(?:com|co\.uk)"), ("q", "query")),
    Engine("mojeek", _host(r"(?:www\.)?mojeek\.(?:com|co\.uk)"), ("q",)),
    Engine("dogpile", _host(r"(?:www\.)?dogpile\.com"), ("q",)),
    Engine("wikipedia", _host(r"(?:[a-z-]+\.)?(?:m\.)?wikipedia\.org"), ("search",)),
    Engine("tiktok", _host(r"(?:www\.|m\.)?tiktok\.com"), ("q",), ("/search",)),
    Engine("pinterest", _host(r"(?:[a-z]{2}\.|www\.)?pinterest" + _CC), ("q",), ("/search",)),
)

_SPACE = re.compile(r"\s+")

# A query longer than this is cut: a URL can carry megabytes, a search box does not.
MAX_QUERY = 1000


_UNTIDY = re.compile(r"\s\s|[^\S ]|\x00|^ | $")


def tidy(value: str) -> bool:
    """Whether ``value`` has nothing to clean: no NUL, no whitespace but single spaces
    between words. Every whitespace character but the space, and NUL, is unprintable, so a
    printable text needs only its spaces looked at; a regular expression's search of every
    character cost a quarter of a typical agent report's text path."""
    if value.isprintable():
        return "  " not in value and value[:1] != " " and value[-1:] != " "
    return _UNTIDY.search(value) is None


def cleaned(value: str) -> str:
    """``value`` as a query is judged: its runs of space (and NUL) one space, trimmed, at most
    ``MAX_QUERY`` characters; empty when nothing is left."""
    if tidy(value):  # most text is tidy already
        return value[:MAX_QUERY]
    return _SPACE.sub(" ", value.replace("\x00", " ")).strip()[:MAX_QUERY]


def _under(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` or below it; the prefix ``/`` stands for the home page only."""
    if prefix == "/":
        return path in ("", "/")
    return path == prefix or path.startswith(prefix + "/")


def _engines_of(host: str) -> tuple[Engine, ...]:
    """The engines whose host pattern ``host`` matches."""
    return tuple(engine for engine in ENGINES if engine.host.match(host) is not None)


# A school's traffic repeats its names; a name longer than DNS allows is not remembered.
_remembered_engines = lru_cache(maxsize=4096)(_engines_of)


def _engine_for(host: str, path: str) -> Engine | None:
    engines = _remembered_engines(host) if len(host) <= 253 else _engines_of(host)
    for engine in engines:
        if engine.paths and not any(_under(path, p) for p in engine.paths):
            continue
        if any(path.startswith(p) for p in engine.exclude_paths):
            continue
        return engine
    return None


def search_terms(url: str) -> tuple[str, str] | None:
    """``(engine, query)`` for a search-engine URL, or None when ``url`` is not one.

    The URL may lack its scheme (``www.google.com/search?q=x``). Parameters are read from the
    query string, then from the fragment (``#q=...``, as some engines put them).
    """
    if not url or len(url) > 64 * 1024:
        return None
    raw = url.strip()
    if "?" not in raw and "#" not in raw:  # no query and no fragment: nothing to read
        return None
    if "://" not in raw[:16]:
        raw = "http://" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    engine = _engine_for(host, parts.path)
    if engine is None:
        return None
    for query in (parts.query, parts.fragment):
        if not query:
            continue
        try:
            pairs = dict(parse_qsl(query, keep_blank_values=False, errors="replace"))
        except ValueError:
            continue
        for param in engine.params:
            value = pairs.get(param)
            if value:
                text = cleaned(value)
                if text:
                    return engine.name, text
    return None


# An enum's members are read once: in Python 3.11 each ``EventKind.X`` goes through the enum
# class's ``__getattr__`` hook, ten times the cost of a global.
_WRITTEN = (EventKind.SEARCH, EventKind.TEXT)


def event_text(event: Event) -> str | None:
    """The text a person wrote or searched for in ``event``, or None.

    SEARCH and TEXT events (agent ``search``, ``typed_text`` and ``window_title`` reports)
    carry it as ``text``; any event with a search-engine URL carries it in the URL.
    """
    if event.kind in _WRITTEN and event.text:
        text = cleaned(event.text)
        return text or None
    if event.url:
        found = search_terms(event.url)
        if found is not None:
            return found[1]
    return None
