"""Palo Alto Networks firewalls (PAN-OS): the URL filtering log, as the firewall sends it to
syslog in its CSV form.

A THREAT record of subtype ``url`` is an event: the URL the client asked for (the
``Miscellaneous`` field, written without a scheme: ``"consent.cmp.oath.com/"``), the URL
filtering ``Action`` (``alert``, ``allow``, ``block-url``, ``continue``, ``override``...), the
URL ``Category``, and the ``Source User`` when User-ID maps addresses to people. The time is
the ``Generated Time``, in the firewall's zone (taken as the school's). Every other record
(TRAFFIC, the other THREAT subtypes, SYSTEM, CONFIG, USERID...) carries no event.

The line may have a syslog envelope before the CSV (``Nov 30 16:44:36 PA-220 1,2018/...``) or
be the bare CSV a syslog source took out of one. Fields, counted from 0 (the PAN-OS 8 to 11
layouts agree on these): 1 receive time, 3 type, 4 subtype, 6 generated time, 7 source
address, 12 source user, 14 application, 25 destination port, 30 action, 31 URL, 33 category.
"""

from __future__ import annotations

import csv
import re

from collectors.parsers.appliance import ip_or_none, local_time, message_of, user_or_none
from collectors.parsers.base import LineParser, ParseContext
from collectors.parsers.urls import host_of_url
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

_STARTS = re.compile(r"^\d{1,4},\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,")
_TIME = "%Y/%m/%d %H:%M:%S"
_BLOCKS = ("block", "drop", "reset", "deny", "sinkhole")
_TYPE, _SUBTYPE, _GENERATED, _SRC, _SRCUSER, _APP = 3, 4, 6, 7, 12, 14
_DPORT, _ACTION, _URL, _CATEGORY = 25, 30, 31, 33


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    try:
        text, _ = message_of(line, _STARTS, ctx)
    except ValueError as exc:
        return reject(str(exc))
    if not _STARTS.match(text):
        return reject(
            "not a PAN-OS log record (expected CSV starting 'N,YYYY/MM/DD HH:MM:SS,serial,TYPE')"
        )
    try:
        (fields,) = csv.reader([text])
    except (csv.Error, ValueError):
        return reject("a PAN-OS record whose CSV quoting is broken")
    kind = fields[_TYPE : _SUBTYPE + 1]
    if kind != ["THREAT", "url"]:
        return SKIP  # traffic, other threats, system and configuration records
    if len(fields) <= _CATEGORY:
        return reject(f"a PAN-OS URL record with {len(fields)} fields, expected 34 or more")
    ts = local_time(fields[_GENERATED], _TIME, ctx.tz)
    if ts is None:
        return reject(f"generated time {fields[_GENERATED][:30]!r} is not YYYY/MM/DD HH:MM:SS")
    target = fields[_URL]
    if "://" not in target:
        https = "ssl" in fields[_APP] or fields[_DPORT] == "443"
        target = f"{'https' if https else 'http'}://{target}"
    host = host_of_url(target)
    if host is None:
        return SKIP  # a URL record without a host (a malformed request)
    action = fields[_ACTION] or None
    return Parsed(
        events=(
            Event(
                kind=EventKind.HTTP,
                ts=ts,
                client_ip=ip_or_none(fields[_SRC]),
                user=user_or_none(fields[_SRCUSER]),
                domain=host,
                url=target,
                action=action[:64] if action else None,
                blocked=(action or "").startswith(_BLOCKS),
                filter_category=fields[_CATEGORY][:128] or None,
            ),
        )
    )


PARSER = LineParser("panos", parse_line)
