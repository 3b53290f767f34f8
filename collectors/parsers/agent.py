"""Endpoint agent reports, schema ``monitord.agent/1``: JSON Lines, one report a line.

Every report is an object with exactly these keys (``user``, ``ip`` and ``mac`` are null when
the agent does not know them)::

    {"schema": "monitord.agent/1", "agent_id": "y6-lt-07", "hostname": "Y6-LT-07",
     "ts": "2026-11-19T10:01:02Z", "user": "SCHOOL\\\\jayden.s", "ip": "10.20.6.7",
     "mac": "aa:00:00:00:00:07", "kind": "url", "data": {"url": "https://example.com/"}}

``kind`` and its ``data``:

=============  ============================================  ===============================
kind           data                                          event
=============  ============================================  ===============================
logon          ``{}`` (``user`` required)                    LOGON
logoff         ``{}``                                        LOGOFF
url            ``url`` (http, https or ftp), ``title``?      HTTP with url and domain
search         ``engine``, ``query``                         SEARCH, text = the query
typed_text     ``text``, ``app``?                            TEXT, text = what was typed
window_title   ``title``, ``app``?                           TEXT, text = the title
process        ``name``, ``path``?, ``sha256``?              PROCESS, text = the name
screenshot     ``file`` (relative to the report), ``sha256``  SCREENSHOT, text = the sha256
=============  ============================================  ===============================

Every event carries the agent's id, the report's time (UTC), user (``DOMAIN\\user`` and
``user@realm`` become ``user``), address, MAC and host name. Validation is strict because the
agent is ours: a report with a key missing, a key this schema does not know, or a value of the
wrong type is rejected with a reason that names the field, so an agent bug shows up in
``monitord sources`` rather than as events with holes in them.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from collectors.parsers.base import LineParser, Needs, ParseContext
from collectors.parsers.urls import host_of_url, normalise_user
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

SCHEMA = "monitord.agent/1"
KINDS = (
    "logon",
    "logoff",
    "url",
    "search",
    "typed_text",
    "window_title",
    "process",
    "screenshot",
)
ENVELOPE = ("schema", "agent_id", "hostname", "ts", "user", "ip", "mac", "kind", "data")
_ENVELOPE_KEYS = frozenset(ENVELOPE)
# Per kind: (required fields, optional fields); every field is a string.
DATA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "logon": ((), ()),
    "logoff": ((), ()),
    "url": (("url",), ("title",)),
    "search": (("engine", "query"), ()),
    "typed_text": (("text",), ("app",)),
    "window_title": (("title",), ("app",)),
    "process": (("name",), ("path", "sha256")),
    "screenshot": (("file", "sha256"), ()),
}
# Per kind: every field its data may have (data within them has no unknown field).
_DATA_KEYS = {kind: frozenset((*req, *opt)) for kind, (req, opt) in DATA.items()}
# Per kind: its data's fields in the order they are read, and whether each is required.
_FIELDS = {
    kind: (*((k, True) for k in req), *((k, False) for k in opt))
    for kind, (req, opt) in DATA.items()
}
# Fields that may not be empty (a query, a text, a name: the point of the report).
NON_EMPTY = frozenset({"url", "query", "text", "name", "file", "sha256"})
MAX_NAME = 256
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)
_MAC = re.compile(r"^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_URL_SCHEMES = ("http://", "https://", "ftp://")


class _Bad(ValueError):
    """A report that breaks the schema; the message names the field."""


def _name(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def _text(obj: dict[str, Any], key: str, where: str, *, limit: int | None = None) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise _Bad(f"{where}{key}: expected a string, got {_name(value)}")
    if key in NON_EMPTY and not value.strip():
        raise _Bad(f"{where}{key}: must not be empty")
    if limit is not None and len(value) > limit:
        raise _Bad(f"{where}{key}: longer than {limit} characters")
    return value


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _Bad(f"ts: expected an RFC 3339 time string, got {_name(value)}")
    m = _RFC3339.match(value)
    if m is None:
        raise _Bad(
            f"ts: {value[:40]!r} is not an RFC 3339 time with a zone "
            "(e.g. 2026-11-19T10:01:02Z or 2026-11-19T10:01:02+00:00)"
        )
    day, clock, fraction, zone = m.groups()
    if zone == "Z" and fraction is not None and len(fraction) == 6:
        try:  # as agents write it: read as it is (what follows gives the same time)
            return datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    micro = f".{(fraction or '0')[:6]:0<6}"
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        return datetime.fromisoformat(f"{day}T{clock}{micro}{zone}").astimezone(UTC)
    except (ValueError, OverflowError):
        raise _Bad(f"ts: {value[:40]!r} is not a valid date and time") from None


def _optional(report: dict[str, Any], key: str, convert: Callable[[str], str | None]) -> Any:
    value = report[key]
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(f"{key}: expected a string or null, got {_name(value)}")
    return convert(value)


def _address(value: str) -> str | None:
    """``value`` as an IP address written the standard way; None when it is none."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


# An agent reports from the same address all day: each (of a sane length) is read once.
_remembered_address = lru_cache(maxsize=4096)(_address)


def _ip(value: str) -> str:
    address = _remembered_address(value) if len(value) <= 64 else _address(value)
    if address is None:
        raise _Bad(f"ip: {value[:60]!r} is not an IP address")
    return address


def _mac(value: str) -> str:
    v = value.strip().lower()
    if not _MAC.match(v):
        raise _Bad(f"mac: {value[:40]!r} is not a MAC address (expected aa:bb:cc:dd:ee:ff)")
    return v.replace("-", ":")


def _user(value: str) -> str | None:
    if len(value) > MAX_NAME:
        raise _Bad(f"user: longer than {MAX_NAME} characters")
    user = normalise_user(value)
    if user is None:
        raise _Bad(f"user: {value[:40]!r} names no user (use null when no one is logged on)")
    return user


def _data(kind: str, data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        raise _Bad(f"data: expected an object, got {_name(data)}")
    required, optional = DATA[kind]
    unknown = (
        []
        if data.keys() <= _DATA_KEYS[kind]
        else sorted(k for k in data if k not in required and k not in optional)
    )
    if unknown:
        allowed = ", ".join((*required, *optional)) or "no fields"
        raise _Bad(f"data.{unknown[0]}: not a field of a {kind} report (it has {allowed})")
    missing = [k for k in required if k not in data]
    if missing:
        raise _Bad(f"data.{missing[0]}: missing (a {kind} report needs it)")
    out = {}
    for key, needed in _FIELDS[kind]:
        if needed:
            value = data[key]
        else:
            value = data.get(key)
            if value is None:
                continue  # an optional field left out or given as null: absent
        # a string of a sane length as most are; anything else is told apart by ``_text``
        if isinstance(value, str) and (key not in NON_EMPTY or (not value.isspace() and value)):
            out[key] = value
        else:
            out[key] = _text(data, key, "data.")
    if "sha256" in out and not _SHA256.match(out["sha256"]):
        raise _Bad("data.sha256: expected 64 lower-case hex digits")
    if kind == "window_title" and not out["title"].strip():
        raise _Bad("data.title: must not be empty")
    if kind == "url" and not out["url"].lower().startswith(_URL_SCHEMES):
        raise _Bad(f"data.url: {out['url'][:60]!r} is not an http, https or ftp URL")
    if kind == "screenshot":
        f = out["file"].replace("\\", "/")
        if f.startswith("/") or re.match(r"^[A-Za-z]:", f) or ".." in f.split("/"):
            raise _Bad("data.file: must be a path relative to the report, inside its folder")
    return out


def _name_field(report: dict[str, Any], key: str) -> str:
    """``agent_id`` or ``hostname``: a string of at most ``MAX_NAME`` characters, stripped,
    not empty."""
    value = report[key]
    if not isinstance(value, str) or len(value) > MAX_NAME:
        value = _text(report, key, "", limit=MAX_NAME)
    value = value.strip()
    if not value:
        raise _Bad(f"{key}: must not be empty")
    return value


# Read once: in Python 3.11 each ``EventKind.X`` goes through the enum class's hook.
_LOGON, _LOGOFF, _HTTP, _SEARCH = (
    EventKind.LOGON,
    EventKind.LOGOFF,
    EventKind.HTTP,
    EventKind.SEARCH,
)
_TEXT, _PROCESS, _SCREENSHOT = EventKind.TEXT, EventKind.PROCESS, EventKind.SCREENSHOT


def _event(report: dict[str, Any]) -> Event | None:
    if report.keys() != _ENVELOPE_KEYS:  # every key and no other: most reports
        unknown = sorted(k for k in report if k not in ENVELOPE)
        if unknown:
            raise _Bad(f"{unknown[0]}: not a field of schema {SCHEMA}")
        missing = [k for k in ENVELOPE if k not in report]
        raise _Bad(f"{missing[0]}: missing (every {SCHEMA} report has it; null when unknown)")
    if report["schema"] != SCHEMA:
        raise _Bad(f"schema: expected {SCHEMA!r}, got {str(report['schema'])[:40]!r}")
    agent = _name_field(report, "agent_id")
    hostname = _name_field(report, "hostname")
    ts = _time(report["ts"])
    user = report["user"]
    if user is not None:
        user = _user(user) if isinstance(user, str) else _optional(report, "user", _user)
    ip = report["ip"]
    if ip is not None:
        ip = _ip(ip) if isinstance(ip, str) else _optional(report, "ip", _ip)
    mac = report["mac"]
    if mac is not None:
        mac = _mac(mac) if isinstance(mac, str) else _optional(report, "mac", _mac)
    kind = report["kind"]
    if not isinstance(kind, str) or kind not in DATA:
        raise _Bad(f"kind: {str(kind)[:40]!r} is not one of {', '.join(KINDS)}")
    data = _data(kind, report["data"])
    if kind == "search":
        return Event(
            _SEARCH,
            ts,
            ip,
            mac,
            user,
            hostname=hostname,
            text=data["query"],
            agent=agent,
            report=kind,
        )
    if kind == "typed_text" or kind == "window_title":
        text = data["text" if kind == "typed_text" else "title"]
        return Event(
            _TEXT,
            ts,
            ip,
            mac,
            user,
            hostname=hostname,
            text=text,
            agent=agent,
            report=kind,
            app=data.get("app"),
        )
    if kind == "logon":
        if user is None:
            raise _Bad("user: a logon report must name the user")
        return Event(_LOGON, ts, ip, mac, user, hostname=hostname, agent=agent)
    if kind == "logoff":
        return Event(_LOGOFF, ts, ip, mac, user, hostname=hostname, agent=agent)
    if kind == "url":
        url = data["url"]
        domain = host_of_url(url)
        if domain is None:
            raise _Bad(f"data.url: {url[:60]!r} names no host")
        return Event(_HTTP, ts, ip, mac, user, domain, url, hostname=hostname, agent=agent)
    if kind == "process":
        return Event(_PROCESS, ts, ip, mac, user, hostname=hostname, text=data["name"], agent=agent)
    return Event(
        _SCREENSHOT,
        ts,
        ip,
        mac,
        user,
        hostname=hostname,
        text=data["sha256"],
        agent=agent,
        report=kind,
    )


# The decoder ``json.loads`` ends in, called directly: a report is one stripped line, so the
# whitespace ``loads`` looks for around the value is never there.
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _decoded(text: str) -> Any:
    """``json.loads(text)`` for a ``text`` with no space at either end: the value scanned
    from its start, when it ends at the text's end; otherwise ``json.loads`` itself, for
    its error (a line that is not one JSON value, a byte order mark)."""
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    text = line.strip()
    if not text:
        return reject("empty line")
    try:
        report = _decoded(text)
    except (ValueError, RecursionError) as exc:
        return reject(f"not JSON (an agent report is one JSON object a line): {exc}")
    if not isinstance(report, dict):
        return reject(f"expected a JSON object, got {type(report).__name__}")
    try:
        event = _event(report)
    except _Bad as exc:
        return reject(f"agent report: {exc}")
    return SKIP if event is None else Parsed(events=(event,))


# Reports come from the agents' spool or ingest, never from a syslog listener.
PARSER = LineParser("agent", parse_line, needs=Needs(listened=False))
