"""Sophos web filtering logs: Sophos Firewall (SFOS, formerly XG) content filtering and
Sophos UTM's web proxy (``httpproxy``).

**Sophos Firewall** writes ``key=value`` lines: SFOS 18 and before
``device="SFW" date=2016-12-02 time=18:27:03 timezone="GMT" ... log_type="Content Filtering"
log_component="HTTP" log_subtype="Allowed" user_name="rich" category="..." url="..."
src_ip=... domain=...``; SFOS 19 names some fields anew (``timestamp="2022-10-17T14:53:02+0200"``,
``user``, ``user_group``, ``http_category``, ``http_status``, ``src_mac``). A content filtering
line is an event: the URL, the filter's verdict (``log_subtype``: Allowed, Denied, Warned) and
its category. Every other log type (firewall, IPS, system events) carries no event.

**Sophos UTM** writes ``2023:03:08-15:00:00 HOST httpproxy[PID]: id="0001" ... name="http
access" action="pass" method="GET" srcip="..." user="..." url="..." categoryname="..."``: a
line with a URL and a client is an event (``action`` pass, block or warn; ``id`` 0002, 0060,
0064 are blocks), the proxy's internal errors (``id="0003"``) and the other UTM programs'
lines carry none.

Either may come with a syslog envelope before it, or be the bare message a syslog source took
out of one (then placed at the envelope's time, given as the reference). The person is
``user_name`` (or ``user``); the device is the source address (and MAC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

from collectors.parsers.appliance import (
    ip_or_none,
    local_time,
    mac_or_none,
    message_of,
    pairs,
    user_or_none,
)
from collectors.parsers.base import LineParser, ParseContext
from collectors.parsers.urls import host_of_url, normalise_host
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

# Sophos UTM's own line: its time, host and program, then the message.
_UTM = re.compile(
    r"^(?:<\d{1,3}>)?(?P<stamp>\d{4}:\d\d:\d\d-\d\d:\d\d:\d\d) (?P<host>\S+) "
    r"(?P<program>[\w.-]+)(?:\[\d+\])?: (?P<msg>.*)$"
)
# A Sophos message starts with one of its own keys.
_STARTS = re.compile(r"^(?:device|device_name|device_model|date|timestamp|log_id|id|severity|sys)=")
_UTC_NAMES = frozenset({"GMT", "UTC", "Z"})
_ISO = "%Y-%m-%dT%H:%M:%S%z"


def _size(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 19 else None


def _status(value: str | None) -> int | None:
    code = _size(value)
    return code if code is not None and 100 <= code <= 999 else None


def _category(value: str | None) -> str | None:
    """The filter's category; SFOS writes ``None`` for a site it has not rated."""
    v = (value or "").strip()
    return v if v and v != "None" else None


def _sfos_time(kv: dict[str, str], fallback: datetime, tz: tzinfo) -> datetime | None:
    stamp = kv.get("timestamp")
    if stamp:
        try:
            return datetime.strptime(stamp, _ISO).astimezone(UTC)
        except ValueError:
            return None
    date, time = kv.get("date"), kv.get("time")
    if not (date and time):
        return fallback
    utc = kv.get("timezone", "").upper() in _UTC_NAMES
    return local_time(f"{date} {time}", "%Y-%m-%d %H:%M:%S", UTC if utc else tz)


def _sfos(kv: dict[str, str], fallback: datetime, tz: tzinfo) -> Parsed:
    if kv.get("log_type") != "Content Filtering":
        return SKIP
    url = kv.get("url") or ""
    domain = normalise_host("".join(kv.get("domain", "").split())) or host_of_url(url)
    if domain is None:
        return SKIP  # a content filtering record about no site (a policy error)
    ts = _sfos_time(kv, fallback, tz)
    if ts is None:
        return reject(f"impossible time {kv.get('timestamp') or kv.get('date', '')!r:.40}")
    verdict = kv.get("log_subtype") or None
    return Parsed(
        events=(
            Event(
                kind=EventKind.HTTP,
                ts=ts,
                client_ip=ip_or_none(kv.get("src_ip")),
                client_mac=mac_or_none(kv.get("src_mac")),
                user=user_or_none(kv.get("user_name")) or user_or_none(kv.get("user")),
                domain=domain,
                url=url or None,
                action=verdict[:64] if verdict else None,
                blocked=(verdict or "").lower() in ("denied", "blocked"),
                status=_status(kv.get("httpresponsecode") or kv.get("http_status")),
                size=_size(kv.get("recv_bytes")),
                filter_category=_category(kv.get("category") or kv.get("http_category")),
            ),
        )
    )


def _utm(kv: dict[str, str], ts: datetime) -> Parsed:
    url, client = kv.get("url"), ip_or_none(kv.get("srcip"))
    if not url or client is None:
        return SKIP  # the proxy's own errors and notices
    method = kv.get("method") or ""
    host = host_of_url(url, "" if "://" in url else method)
    if host is None:
        return SKIP
    action = kv.get("action") or ("warn" if "warned" in kv.get("name", "") else None)
    return Parsed(
        events=(
            Event(
                kind=EventKind.HTTP,
                ts=ts,
                client_ip=client,
                user=user_or_none(kv.get("user")),
                domain=host,
                url=url,
                method=method[:16] or None,
                action=action[:64] if action else None,
                blocked=action == "block",
                status=_status(kv.get("statuscode")),
                size=_size(kv.get("size")),
                filter_category=kv.get("categoryname") or None,
            ),
        )
    )


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    utm = _UTM.match(line.rstrip("\r\n"))
    if utm is not None:
        if utm["program"] != "httpproxy":
            return SKIP  # another UTM service (the packet filter, the mail proxy...)
        ts = local_time(utm["stamp"], "%Y:%m:%d-%H:%M:%S", ctx.tz)
        if ts is None:
            return reject(f"impossible time {utm['stamp']!r}")
        return _utm(pairs(utm["msg"]), ts)
    try:
        text, envelope = message_of(line, _STARTS, ctx)
    except ValueError as exc:
        return reject(str(exc))
    kv = pairs(text)
    if "log_type" in kv:
        return _sfos(kv, envelope or ctx.reference, ctx.tz)
    if "id" in kv and ("sys" in kv or "sub" in kv):
        return _utm(kv, envelope or ctx.reference)
    return reject(
        "not a Sophos log line (expected SFOS key=value pairs with log_type= or a UTM "
        "'YYYY:MM:DD-HH:MM:SS host httpproxy[PID]: id=...' line)"
    )


PARSER = LineParser("sophos", parse_line)
