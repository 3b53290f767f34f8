"""FortiGate (FortiOS) logs: ``key=value`` lines, as the firewall sends them to syslog or
FortiAnalyzer exports them.

A line is ``date=YYYY-MM-DD time=HH:MM:SS ... type=... subtype=... ...``, values quoted or
not (FortiOS 5 wrote most bare), with or without a syslog envelope (``<189>`` alone, or a
whole RFC 3164/5424 header) before it. Events:

- ``type=utm subtype=webfilter``: the web filter's verdict on a request (``action=blocked``,
  ``passthrough``, ``monitored``...), the URL from ``hostname`` and ``url`` (a path), its
  FortiGuard category (``catdesc``);
- ``type=utm subtype=dns``: the DNS filter. ``eventtype=dns-query`` is the lookup and
  ``dns-response`` the filter's verdict (``action``, ``catdesc``) on it; they are written in
  either order, so the first of the two for a client's query (``srcip``, ``xid``, ``qname``)
  is the event and the second adds its verdict to it;
- ``type=utm subtype=app-ctrl`` with a ``hostname``: application control's verdict on a
  connection, the application (``appcat: app``) as the filter's category.

Forward-traffic records (``type=traffic``), whose only web content is a count, and every
other kind (system events, IPS, antivirus) carry no event. The person is ``user=`` (FSSO or
firewall authentication), else ``unauthuser=``; the device is ``srcip`` and ``srcmac``. The
time is ``eventtime`` (UTC, in seconds to nanoseconds), else ``date``/``time`` with ``tz``,
else in the school's zone.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from collectors.parsers.appliance import (
    epoch,
    ip_or_none,
    local_time,
    mac_or_none,
    message_of,
    pairs,
    user_or_none,
)
from collectors.parsers.base import ParseContext, StatefulParser
from collectors.parsers.urls import normalise_host
from monitord.core.model import SKIP, Event, EventKind, EventUpdate, Parsed, reject

# A FortiOS message starts with one of its own keys (the order depends on the version).
_STARTS = re.compile(r"^(?:date|logver|eventtime|itime|devname|devid|logid|timestamp|tz)=")
_TZ = re.compile(r"^[+-]\d{4}$")
_TYPE = re.compile(r'(?:^| )type="?([\w-]+)')
_BLOCKS = frozenset({"blocked", "block", "deny", "dropped", "drop", "reset", "redirect"})
REMEMBER = 4096


def _ts(kv: dict[str, str], envelope: datetime | None, ctx: ParseContext) -> datetime | None:
    """The line's own time, else the envelope's, else the reference; None for a date that
    does not exist."""
    exact = epoch(kv.get("eventtime"))
    if exact is not None:
        return exact
    date, time = kv.get("date"), kv.get("time")
    if date and time:
        zone = kv.get("tz", "")
        if _TZ.match(zone):
            try:
                naive = datetime.strptime(f"{date} {time}", "%Y-%m-%d %H:%M:%S")
            except ValueError:
                return None
            sign = -1 if zone[0] == "-" else 1
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
            return (naive - sign * offset).replace(tzinfo=UTC)
        return local_time(f"{date} {time}", "%Y-%m-%d %H:%M:%S", ctx.tz)
    return envelope or ctx.reference


def _verdict(kv: dict[str, str]) -> tuple[str | None, bool]:
    action = kv.get("action") or None
    return action, (action or "").lower() in _BLOCKS


def _web_url(kv: dict[str, str], host: str) -> str:
    path = kv.get("url", "")
    if "://" in path:
        return path  # some versions log the whole URL
    scheme = "https" if kv.get("service", "").upper() == "HTTPS" else "http"
    return f"{scheme}://{host}{path if path.startswith('/') else '/'}"


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    """One FortiOS line; a DNS filter pair is joined by ``FortiGateSession``."""
    read = _read(line, ctx)
    return read if isinstance(read, Parsed) else _parse(*read, ctx)


def _read(line: str, ctx: ParseContext) -> tuple[dict[str, str], datetime | None] | Parsed:
    """The line's pairs and its envelope's time, or its rejection."""
    try:
        text, envelope = message_of(line, _STARTS, ctx)
    except ValueError as exc:
        return reject(str(exc))
    kind = _TYPE.search(text)
    if kind is not None and kind[1] != "utm" and "logid=" in text:
        return SKIP  # most of a firewall's lines are traffic records: no need to read them
    return pairs(text), envelope


def _parse(kv: dict[str, str], envelope: datetime | None, ctx: ParseContext) -> Parsed:
    kind, subtype = kv.get("type"), kv.get("subtype")
    if kind is None or "logid" not in kv:
        return reject("not a FortiOS log line (expected key=value pairs with logid= and type=)")
    if kind != "utm" or subtype not in ("webfilter", "dns", "app-ctrl"):
        return SKIP  # traffic, system events, other security profiles
    ts = _ts(kv, envelope, ctx)
    if ts is None:
        return reject(f"impossible date {kv.get('date', '')[:12]} {kv.get('time', '')[:12]}")
    action, blocked = _verdict(kv)
    base = Event(
        kind=EventKind.HTTP,
        ts=ts,
        client_ip=ip_or_none(kv.get("srcip")),
        client_mac=mac_or_none(kv.get("srcmac") or kv.get("mastersrcmac")),
        user=user_or_none(kv.get("user")) or user_or_none(kv.get("unauthuser")),
        action=action[:64] if action else None,
        blocked=blocked,
    )
    if subtype == "dns":
        name = normalise_host(kv.get("qname", ""))
        if name is None:
            return SKIP  # a DNS filter record about no name (a rating error)
        verdict = kv.get("eventtype") != "dns-query"
        return _one(
            replace(
                base,
                kind=EventKind.DNS,
                domain=name,
                qtype=(kv.get("qtype") or "")[:16] or None,
                filter_category=(kv.get("catdesc") or None) if verdict else None,
            )
        )
    host = normalise_host(kv.get("hostname", ""))
    if host is None:
        return SKIP  # an application seen without a host name (a non-web protocol)
    if subtype == "app-ctrl":
        app, appcat = kv.get("app"), kv.get("appcat")
        category = f"{appcat}: {app}" if appcat and app else appcat or app
        https = kv.get("service", "").upper() == "HTTPS" or kv.get("dstport") == "443"
        return _one(
            replace(
                base,
                kind=EventKind.TLS if https else EventKind.HTTP,
                domain=host,
                url=None if https else _web_url(kv, host),
                filter_category=category,
            )
        )
    return _one(
        replace(
            base, domain=host, url=_web_url(kv, host), filter_category=kv.get("catdesc") or None
        )
    )


def _one(event: Event) -> Parsed:
    return Parsed(events=(event,))


class FortiGateSession:
    """One log's lines in order: the DNS filter's query and response records of one lookup
    make one event."""

    def __init__(self) -> None:
        self._lookups: OrderedDict[tuple[str | None, str, str], str | None] = OrderedDict()

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        read = _read(line, ctx)
        if isinstance(read, Parsed):
            return read
        kv = read[0]
        parsed = _parse(*read, ctx)
        if len(parsed.events) != 1 or parsed.events[0].kind is not EventKind.DNS:
            return parsed
        ev = parsed.events[0]
        key = (ev.client_ip, kv.get("xid", ""), ev.domain or "")
        if not key[1]:
            return parsed  # without a transaction id two records cannot be paired
        if key not in self._lookups:
            self._lookups[key] = None if ctx.origin is None else ctx.origin.event_id(0)
            if len(self._lookups) > REMEMBER:
                self._lookups.popitem(last=False)
            return parsed
        first = self._lookups.pop(key)
        if kv.get("eventtype") == "dns-query" or first is None:
            return SKIP  # the verdict came first and is the event
        return Parsed(
            updates=(
                EventUpdate(
                    first,
                    blocked=ev.blocked,
                    action=ev.action,
                    filter_category=ev.filter_category,
                ),
            )
        )


PARSER = StatefulParser("fortigate", FortiGateSession)
