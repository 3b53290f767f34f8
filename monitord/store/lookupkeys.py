"""What a batch's lookups need of the key tables (docs/store.md), gathered in one pass over
their rows: each row's verdict, party, request and URL by digest, its time in microseconds
and its block (a source's file and UTC day), and each distinct key's row once, in the order
the batch first names it (the order the key tables number them in).

A batch of 10,000 proxy requests names a few hundred names, parties and verdicts and a few
thousand URLs: each distinct one is hashed once, and each row is read once (one pass in
place of five, bench/RESULTS.md, eighth round)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
DAY_MICROS = 86_400_000_000
# The columns of an event row a party holds.
PARTY = (
    "site_id",
    "source",
    "fmt",
    "kind",
    "client_ip",
    "client_mac",
    "user",
    "hostname",
    "username",
    "device_id",
    "role",
    "year_group",
    "attributed_by",
    "attribution",
)
# A request's method, the proxy's action and its status, as ``lookup_requests`` keeps them.
REQUEST = ("method", "action", "status")
# A match's fields as a verdict keeps them, in order.
MATCH = ("category", "list_name", "entry", "score", "allow")
_PARTY_OF = itemgetter(*PARTY)
_REQUEST_OF = itemgetter(*REQUEST)
_MATCH_OF = itemgetter(*MATCH)
# A lookup's block: its site, source, file and UTC day (days counted from 1970).
BlockKey = tuple[str, str, str, int]


def micros(ts: datetime) -> int:
    """A time as stored in ``lookups``: microseconds since 1970, UTC (naive means UTC)."""
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return (aware - EPOCH) // _MICRO


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def party_digest(values: tuple[Any, ...]) -> str:
    return digest(json.dumps(values, ensure_ascii=False))


def verdict(row: Mapping[str, Any], matches: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A lookup's verdict row (its category, severity and matches), by its digest."""
    kept = json.dumps([[m[f] for f in MATCH] for m in matches], ensure_ascii=False)
    values = {"category": row["category"], "severity": row["severity"], "matches": kept}
    return {"digest": digest(json.dumps(values, sort_keys=True)), **values}


def _typed(match: Mapping[str, Any]) -> tuple[tuple[Any, ...], tuple[type, ...]]:
    """A match's fields as part of a key that tells 1, 1.0 and True apart (as JSON does):
    their values and their types."""
    values = _MATCH_OF(match)
    return values, tuple(map(type, values))


@dataclass(frozen=True, slots=True)
class Gathered:
    """A batch's lookups' keys: by row (in the rows' order) the time in microseconds and the
    digest of each key (None where the row has none), the rows of each block (by index), and
    each key table's distinct new rows by key, in the order the batch first names them."""

    stamps: list[int]
    verdicts: list[str | None]
    parties: list[str]
    requests: list[str | None]
    urls: list[str | None]
    blocks: dict[BlockKey, list[int]]
    wanted_verdicts: dict[str, dict[str, Any]]
    wanted_names: dict[str, dict[str, Any]]
    wanted_parties: dict[str, dict[str, Any]]
    wanted_requests: dict[str, dict[str, Any]]
    wanted_urls: dict[str, dict[str, Any]]


def gather(
    rows: Sequence[Mapping[str, Any]], matches: Mapping[str, Sequence[Mapping[str, Any]]]
) -> Gathered:
    """The keys ``rows`` (lookups' event rows, ``is_clean``) need, with the allow lists'
    ``matches`` of some by id: one pass over the rows."""
    stamps: list[int] = []
    verdicts: list[str | None] = []
    parties: list[str] = []
    requests: list[str | None] = []
    urls: list[str | None] = []
    blocks: dict[BlockKey, list[int]] = {}
    wanted_verdicts: dict[str, dict[str, Any]] = {}
    names: dict[str, dict[str, Any]] = {}
    wanted_parties: dict[str, dict[str, Any]] = {}
    wanted_requests: dict[str, dict[str, Any]] = {}
    wanted_urls: dict[str, dict[str, Any]] = {}
    # Each distinct value's digest or time, made once: a batch's lookups share a few
    # verdicts (an allow list's entries, keyed by each match field's type and value, as
    # JSON writes 1 and true apart), their devices' parties, a few requests' shapes, many
    # URLs and a few hundred distinct times.
    made: dict[tuple[Any, ...], str] = {}
    seen: dict[tuple[Any, ...], str] = {}
    shapes: dict[tuple[Any, ...], str] = {}
    hashed: dict[str, str] = {}
    converted: dict[datetime, int] = {}
    no_matches: Sequence[Mapping[str, Any]] = ()
    for i, r in enumerate(rows):
        found = matches.get(r["id"], no_matches) if matches else no_matches
        category, severity = r["category"], r["severity"]
        if found or category is not None or severity != "none":
            shape = (category, severity, *map(_typed, found))
            made_digest = made.get(shape)
            if made_digest is None:
                v = verdict(r, found)
                made_digest = made[shape] = v["digest"]
                wanted_verdicts[made_digest] = v
            verdicts.append(made_digest)
        else:
            verdicts.append(None)
        domain = r["domain"]
        if domain not in names:
            names[domain] = {"domain": domain}
        values = _PARTY_OF(r)
        party = seen.get(values)
        if party is None:
            party = seen[values] = party_digest(values)
            wanted_parties[party] = {"digest": party, **dict(zip(PARTY, values, strict=True))}
        parties.append(party)
        if r["kind"] == "http":
            asked = _REQUEST_OF(r)
            request = shapes.get(asked)
            if request is None:
                request = shapes[asked] = party_digest(asked)
                wanted_requests[request] = {
                    "digest": request,
                    **dict(zip(REQUEST, asked, strict=True)),
                }
            requests.append(request)
            url = r["url"]
            url_digest = None
            if url is not None:
                url_digest = hashed.get(url)
                if url_digest is None:
                    url_digest = hashed[url] = digest(url)
                    wanted_urls[url_digest] = {"digest": url_digest, "url": url}
            urls.append(url_digest)
        else:
            requests.append(None)
            urls.append(None)
        ts = r["ts"]
        stamp = converted.get(ts)
        if stamp is None:
            stamp = converted[ts] = micros(ts)
        stamps.append(stamp)
        key = (r["site_id"], r["source"], r["file_id"], stamp // DAY_MICROS)
        members = blocks.get(key)
        if members is None:
            blocks[key] = [i]
        else:
            members.append(i)
    return Gathered(
        stamps,
        verdicts,
        parties,
        requests,
        urls,
        blocks,
        wanted_verdicts,
        names,
        wanted_parties,
        wanted_requests,
        wanted_urls,
    )
