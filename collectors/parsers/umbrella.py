"""Cisco Umbrella's DNS and proxy log exports (CSV, as Umbrella writes them to its S3 bucket
or a report download gives them).

Every field is quoted; an identity holds commas inside its quotes (``"Smith, Jo
(jo.smith@school.example)"``). The columns depend on the export's version; without a header
row they are, counted from 0:

- **DNS**: 0 Timestamp, 1 Most Granular Identity, 2 Identities, 3 InternalIp, 4 ExternalIp,
  5 Action (``Allowed``/``Blocked``), 6 QueryType (``1 (A)``), 7 ResponseCode, 8 Domain (with
  its trailing dot), 9 Categories, then in later versions 10 Most Granular Identity Type,
  11 Identity Types, 12 Blocked Categories (and more after them);
- **proxy**: 0 Timestamp, 1 Identity, 2 Internal IP, 3 External IP, 4 Destination IP,
  5 Content Type, 6 Action (``ALLOWED``/``BLOCKED``), 7 URL, 8 Referer, 9 User Agent,
  10 Status Code, 11 Request Size, 12 Response Size, 13 Response Body Size, 14 SHA-256,
  15 Categories, ... 21 Identity Type, 22 Blocked Categories, 23 Identities, 24 Identity
  Types, 25 Request Method.

A record is told DNS or proxy by its shape (a query type ``N (TYPE)`` or a URL). A header row
(``Timestamp,...``) names the columns instead, and the session reads the rows after it by
name. Times are UTC. The filter's verdict is the Action; its category the Blocked Categories
of a blocked record, else the Categories. The person is an identity whose type is a user
(``AD Users``): its e-mail address when it has one (``Name (user@school.example)``), else
its name, as the user name identity matches.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC

from collectors.parsers.appliance import ip_or_none, local_time, user_or_none
from collectors.parsers.base import ParseContext, StatefulParser
from collectors.parsers.urls import host_of_url, normalise_host
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

_QTYPE = re.compile(r"^\d{1,5} \((?P<name>[A-Za-z0-9]{1,16})\)$")
_EMAIL = re.compile(r"\((?P<email>[^()\s]+@[^()\s]+)\)\s*$")
# Commas between identities: a comma inside a person's name is followed by a space.
_IDENTITY_SPLIT = re.compile(r",(?! )")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ")

DNS = {"time": 0, "identity": 1, "identities": 2, "ip": 3, "action": 5, "qtype": 6}
DNS |= {"domain": 8, "categories": 9, "identity_type": 10, "identity_types": 11, "blocked": 12}
PROXY = {"time": 0, "identity": 1, "ip": 2, "action": 6, "url": 7, "status": 10, "size": 12}
PROXY |= {"categories": 15, "identity_type": 21, "blocked": 22, "identities": 23}
PROXY |= {"identity_types": 24, "method": 25}
# Header names (lower case, without spaces or underscores) and the field each one is.
HEADER_NAMES = {
    "timestamp": "time",
    "datetime": "time",
    "mostgranularidentity": "identity",
    "policyidentity": "identity",
    "identity": "identity",
    "identities": "identities",
    "internalip": "ip",
    "internalclientip": "ip",
    "action": "action",
    "verdict": "action",
    "querytype": "qtype",
    "domain": "domain",
    "destination": "domain",
    "categories": "categories",
    "mostgranularidentitytype": "identity_type",
    "policyidentitytype": "identity_type",
    "identitytype": "identity_type",
    "identitytypes": "identity_types",
    "blockedcategories": "blocked",
    "url": "url",
    "statuscode": "status",
    "responsesize": "size",
    "requestmethod": "method",
}


def _row(line: str) -> list[str] | None:
    try:
        rows = list(csv.reader([line], skipinitialspace=True))
    except (csv.Error, ValueError):
        return None
    return rows[0] if len(rows) == 1 else None


def _header(fields: list[str]) -> dict[str, int] | None:
    """The columns a header row names, or None when the row is not a header."""
    if not fields or fields[0].strip().lower() not in ("timestamp", "datetime"):
        return None
    columns: dict[str, int] = {}
    for i, name in enumerate(fields):
        key = HEADER_NAMES.get(re.sub(r"[\s_-]", "", name).lower())
        if key is not None and key not in columns:
            columns[key] = i
    return columns


def _user(get: dict[str, str]) -> str | None:
    """The person among the record's identities: one whose type is a user."""
    candidates = []
    if "user" in get.get("identity_type", "").lower():
        candidates.append(get.get("identity", ""))
    identities = _IDENTITY_SPLIT.split(get.get("identities", ""))
    types = [t.strip().lower() for t in get.get("identity_types", "").split(",")]
    if len(identities) == len(types):
        candidates += [i for i, t in zip(identities, types, strict=True) if "user" in t]
    for name in candidates:
        email = _EMAIL.search(name)
        user = user_or_none(email["email"] if email else name.strip())
        if user:
            return user
    return None


def parse_fields(fields: list[str], columns: dict[str, int] | None) -> Parsed:
    """One record; ``columns`` from a header row, or None to tell the layout by its shape."""
    if columns is None:
        if len(fields) > 8 and _QTYPE.match(fields[6]):
            columns = DNS
        elif len(fields) > 7 and "://" in fields[7]:
            columns = PROXY
        else:
            return reject(
                f"not an Umbrella DNS or proxy record ({len(fields)} fields, with neither a "
                "query type 'N (TYPE)' in the 7th nor a URL in the 8th)"
            )
    get = {k: fields[i].strip() for k, i in columns.items() if i < len(fields)}
    stamp = get.get("time", "")
    ts = next((t for f in _TIME_FORMATS if (t := local_time(stamp, f, UTC))), None)
    if ts is None:
        return reject(f"timestamp {stamp[:30]!r} is not YYYY-MM-DD HH:MM:SS")
    action = get.get("action") or None
    blocked = (action or "").lower() == "blocked"
    category = (get.get("blocked") if blocked else None) or get.get("categories") or None
    url = get.get("url") or None
    if url is not None:
        kind, domain = EventKind.HTTP, host_of_url(url)
    else:
        kind, domain = EventKind.DNS, normalise_host(get.get("domain", ""))
    if domain is None:
        return SKIP  # a record about no name (a reverse lookup of nothing)
    qtype = _QTYPE.match(get.get("qtype", ""))
    status = get.get("status", "")
    size = get.get("size", "")
    return Parsed(
        events=(
            Event(
                kind=kind,
                ts=ts,
                client_ip=ip_or_none(get.get("ip")),
                user=_user(get),
                domain=domain,
                url=url,
                method=(get.get("method") or "")[:16] or None,
                qtype=qtype["name"].upper() if qtype else None,
                action=action[:64] if action else None,
                blocked=blocked,
                status=int(status) if status.isascii() and status.isdigit() else None,
                size=int(size) if size.isascii() and size.isdigit() and len(size) < 19 else None,
                filter_category=category[:128] if category else None,
            ),
        )
    )


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    """One record read by its shape (a header row is a known line here)."""
    fields = _row(line.rstrip("\r\n"))
    if fields is None:
        return reject("a CSV record whose quoting is broken")
    if _header(fields) is not None:
        return SKIP
    return parse_fields(fields, None)


class UmbrellaSession:
    """One export in order: a header row names the columns of the rows after it."""

    def __init__(self) -> None:
        self._columns: dict[str, int] | None = None

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        fields = _row(line.rstrip("\r\n"))
        if fields is None:
            return reject("a CSV record whose quoting is broken")
        header = _header(fields)
        if header is not None:
            self._columns = header
            return SKIP
        return parse_fields(fields, self._columns)


PARSER = StatefulParser("umbrella", UmbrellaSession, header_prefix='"Timestamp"')
