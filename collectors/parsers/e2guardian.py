"""e2guardian's (and DansGuardian's) access log, in its native form (``logfileformat = 1``).

A line is, separated by single spaces (an empty field leaves two spaces in a row)::

    2007.12.29 20:46:18 USER CLIENT URL [*FLAG*...] [REASON] METHOD SIZE WEIGHT CATEGORY
        GROUP STATUS MIMETYPE [CLIENTHOST GROUPNAME ...]

The date is ``YYYY.M.D`` (not zero-padded) in the proxy's zone (taken as the school's); the
user is ``-`` without authentication. The flags say what the filter did: ``*DENIED*``
(blocked, the reason after it: ``Banned site: example.com``, ``Weighted phrase limit ...``),
``*SCANNED*``, ``*EXCEPTION*``, ``*INFECTED*``... The category is the one named by the list
that matched (its ``#listcategory``), blank when none did.

Sent to syslog, e2guardian writes the same line without the date and time; a syslog source
hands over that message (placed at the envelope's time), and a line with a syslog envelope
before it is read the same way.
"""

from __future__ import annotations

import re

from collectors.parsers.appliance import ip_or_none, local_time, message_of, user_or_none
from collectors.parsers.base import LineParser, ParseContext
from collectors.parsers.urls import host_of_url
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

_DATE = re.compile(r"^(?P<date>\d{4}\.\d{1,2}\.\d{1,2}) (?P<time>\d{1,2}:\d\d:\d\d) (?P<rest>.*)$")
# USER CLIENT URL WHAT METHOD SIZE WEIGHT CATEGORY GROUP STATUS MIMETYPE [MORE]
_BODY = re.compile(
    r"^(?P<user>\S+) (?P<client>\S+) (?P<url>\S+) (?P<what>.*?) ?"
    r"(?P<method>[A-Z]{3,12}) (?P<size>-?\d{1,18}) (?P<weight>-?\d{1,9}) (?P<category>.*?) ?"
    r"(?P<group>\d{1,4}) (?P<status>\d{3}) (?P<mime>\S*)(?: .*)?$"
)
# A message as e2guardian sends it to syslog: the body alone.
_STARTS = re.compile(r"^\S+ [0-9A-Fa-f:.]+ \S+://")
_BLOCKS = frozenset({"*DENIED*", "*GDENIED*", "*INFECTED*"})
# The flags before the reason, in whatever order and number e2guardian wrote them.
_FLAGS = re.compile(r"^(?:\*[A-Z]{2,20}\* ?)*")


def _flags(what: str) -> list[str]:
    m = _FLAGS.match(what)
    return m[0].split() if m else []


def _body(text: str) -> re.Match[str] | None:
    return _BODY.match(text)


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    text = line.rstrip("\r\n")
    dated = _DATE.match(text)
    if dated is not None:
        ts = local_time(f"{dated['date']} {dated['time']}", "%Y.%m.%d %H:%M:%S", ctx.tz)
        if ts is None:
            return reject(f"impossible date {dated['date']} {dated['time']}")
        body = _body(dated["rest"])
    else:
        try:
            message, envelope = message_of(text, _STARTS, ctx)
        except ValueError as exc:
            return reject(str(exc))
        ts = envelope or ctx.reference
        body = _body(message)
    if body is None:
        return reject(
            "not an e2guardian access log line (expected 'YYYY.M.D HH:MM:SS user client URL "
            "[*FLAGS* reason] METHOD size weight category group status mimetype')"
        )
    url, method = body["url"], body["method"]
    host = host_of_url(url, "" if "://" in url else method)
    if host is None:
        return SKIP  # a request with no host (a malformed request the proxy refused)
    what = " ".join(body["what"].split())
    return Parsed(
        events=(
            Event(
                kind=EventKind.HTTP,
                ts=ts,
                client_ip=ip_or_none(body["client"]),
                user=user_or_none(body["user"]),
                domain=host,
                url=url,
                method=method,
                action=what[:64] or None,
                blocked=not _BLOCKS.isdisjoint(_flags(what)),
                status=int(body["status"]),
                size=max(int(body["size"]), 0),
                filter_category=body["category"].strip()[:128] or None,
            ),
        )
    )


PARSER = LineParser("e2guardian", parse_line)
