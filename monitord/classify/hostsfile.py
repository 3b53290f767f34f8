"""Hosts-file block lists (``0.0.0.0 example.com``) as domain lists for one category.

Many public block lists ship as hosts files: an address (``0.0.0.0``, ``127.0.0.1``, ``::``)
then one or more names, ``#`` comments, and the machine's own entries (``localhost``,
``broadcasthost``, ``ip6-localhost``) that are not part of the list. Lines holding only a
domain are taken too, as the "domains" flavour of the same lists is. Anything else is left out
with its line number and why; reading never stops on a line.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from pathlib import Path

from monitord.classify.engine import canonical_host
from monitord.classify.lists import DOMAIN_RE, ListContent, ListError
from monitord.core.categories import ALLOW, is_category

# The machine's own names in a hosts file: not entries of the block list.
LOCAL_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
        "0.0.0.0",
    }
)


def _is_address(token: str) -> bool:
    try:
        ipaddress.ip_address(token.split("%", 1)[0])
    except ValueError:
        return False
    return True


def hosts_domain(name: str) -> str | None:
    """``name`` as a list domain (lower case, IDN as punycode, no trailing dot), or None when
    it is not a domain name."""
    host = canonical_host(name)
    if not DOMAIN_RE.fullmatch(host) or host.rsplit(".", 1)[-1].isdigit():
        return None
    return host


def parse_hosts(lines: Iterable[str]) -> tuple[list[str], list[str]]:
    """The domains of a hosts file's lines, in order without repeats, and for each line left
    out, ``line N: why``. Never raises."""
    domains: dict[str, None] = {}
    rejected: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip().lstrip("\ufeff")
        if not line:
            continue
        tokens = line.split()
        if _is_address(tokens[0]):
            names = tokens[1:]
            if not names:
                rejected.append(f"line {number}: an address with no name after it")
                continue
        elif len(tokens) == 1:
            names = tokens
        else:
            rejected.append(f"line {number}: expected 'ADDRESS NAME...' or one domain")
            continue
        for name in names:
            if name.lower().rstrip(".") in LOCAL_NAMES:
                continue
            domain = hosts_domain(name)
            if domain is None:
                rejected.append(f"line {number}: {name[:80]!r} is not a domain name")
            else:
                domains.setdefault(domain, None)
    return list(domains), rejected


def read_hosts(path: Path, category: str, name: str) -> tuple[ListContent, list[str]]:
    """``monitord lists import PATH --format hosts --category C``: a hosts file as a domain
    list for ``category``, ready for :func:`monitord.classify.lists.store_list`, and the lines left
    out (``line N: why``)."""
    if not is_category(category) and category != ALLOW:
        raise ListError(f"--category {category!r} is not a category id (see TAXONOMY.md)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ListError(f"{path}: cannot read: {exc.strerror or exc}") from None
    domains, rejected = parse_hosts(data.decode("utf-8", "replace").splitlines())
    if not domains:
        raise ListError(
            f"{path}: no domains found (expected hosts-file lines such as '0.0.0.0 example.com')"
        )
    digest = hashlib.sha256(data).hexdigest()
    content = ListContent(name, category, "hosts", str(path), tuple(domains), (), digest)
    return content, rejected
