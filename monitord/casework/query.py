"""What a search asks: a person, an address, a device, a domain pattern (``*.example.com``), a
category, a text, a time span and a limit, checked before anything is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from monitord.casework.found import utc_text
from monitord.core.categories import CATEGORIES

DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000_000
MAX_CONTEXT = 100


class SearchError(ValueError):
    """A search that cannot be run as asked; the message says why, in one line."""


# --- what was asked ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DomainPattern:
    """A domain as asked: ``name`` exactly, or with ``suffix`` the name and every name under
    it on label boundaries (``*.tiktok.com``: tiktok.com and www.tiktok.com, never
    nottiktok.com)."""

    name: str
    suffix: bool

    def __str__(self) -> str:
        return f"*.{self.name}" if self.suffix else self.name

    def matches(self, domain: str) -> bool:
        return domain == self.name or (self.suffix and domain.endswith("." + self.name))


_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def parse_domain(value: str) -> DomainPattern:
    """``www.tiktok.com``, ``*.tiktok.com`` or ``.tiktok.com`` (a suffix), or a pasted URL
    (its host). Names are compared in lower case; international names as stored (xn--)."""
    s = value.strip().lower()
    if "://" in s:
        s = urlsplit(s).hostname or ""
    suffix = False
    if s.startswith("*."):
        s, suffix = s[2:], True
    elif s.startswith("."):
        s, suffix = s[1:], True
    s = s.rstrip(".")
    if s and not s.isascii():
        try:
            s = s.encode("idna").decode("ascii")
        except UnicodeError:
            raise SearchError(f"--domain {value!r}: not a domain name") from None
    if "*" in s:
        raise SearchError(
            f"--domain {value!r}: a wildcard goes only at the start, as in *.example.com "
            "(the name and every name under it)"
        )
    labels = s.split(".")
    if not s or len(s) > 253 or not all(_LABEL.match(label) for label in labels):
        raise SearchError(
            f"--domain {value!r}: not a domain name (expected e.g. www.tiktok.com or *.tiktok.com)"
        )
    return DomainPattern(s, suffix)


@dataclass(frozen=True, slots=True)
class Query:
    user: str | None = None
    ip: str | None = None
    device: str | None = None
    domain: DomainPattern | None = None
    category: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_LIMIT
    context: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise SearchError(f"--limit must be between 1 and {MAX_LIMIT:,}")
        if not 0 <= self.context <= MAX_CONTEXT:
            raise SearchError(f"--context must be between 0 and {MAX_CONTEXT}")
        if self.category is not None and self.category not in CATEGORIES:
            raise SearchError(
                f"--category {self.category!r} is not a category "
                f"(expected one of {', '.join(CATEGORIES)})"
            )
        if self.text is not None and not self.text.strip():
            raise SearchError("--text needs some text to look for")
        if self.since and self.until and self.until <= self.since:
            raise SearchError("--until must be later than --since")

    def filters(self) -> dict[str, Any]:
        """The filters as asked, for the audit trail."""
        out: dict[str, Any] = {}
        for key in ("user", "ip", "device", "category", "text"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.domain is not None:
            out["domain"] = str(self.domain)
        if self.since is not None:
            out["since"] = utc_text(self.since)
        if self.until is not None:
            out["until"] = utc_text(self.until)
        out["limit"] = self.limit
        if self.context:
            out["context"] = self.context
        return out

    @property
    def subject(self) -> str:
        """Whom or what the search is about, for the audit record's subject."""
        for key in ("user", "device", "ip"):
            value = getattr(self, key)
            if value:
                return f"{key}:{value}"[:256]
        if self.domain is not None:
            return f"domain:{self.domain}"[:256]
        return ""
