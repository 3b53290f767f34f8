"""Squid's native access.log, and OPNsense's JSON access log.

``time elapsed client code/status bytes method URL user hierarchy/peer type``; the user is
``-`` when the proxy does not authenticate.

OPNsense's web proxy writes (and sends to syslog, as ``(squid-1)``) one JSON object a request
in Elastic's ECS names: ``@timestamp``, ``source.ip``, ``user.name``, ``http.request.method``,
``http.response.body.status_code``, ``http.response.bytes``, ``url.original`` and Squid's
result code as ``labels.request_status``. A line with a syslog envelope before either form is
read the same way; the envelope's time stands in when the JSON has none.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from collectors.parsers.appliance import ip_or_none, message_of, user_or_none
from collectors.parsers.base import LineParser, ParseContext
from collectors.parsers.syslogtime import MONTHS
from collectors.parsers.urls import host_of_url, normalise_user
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

_HTTP = EventKind.HTTP  # read once (an enum hook in Python 3.11)
# A native line starts with its Unix time; the JSON form with its brace.
_STARTS = re.compile(r"^(?:\{|\d{9,11}(?:\.\d+)? )")
# How a syslog envelope begins: a PRI, a month name, or an RFC 3339 time's year.
_ENVELOPE_STARTS = ("<", *(m.capitalize() for m in MONTHS), *"0123456789")


# The texts a proxy's lines repeat (its clients' addresses, two or three methods, a few result
# codes, the URLs of the sites in use), one string each: a batch of events handed to the
# storing process (``monitord.service.storing``) pickles a string it has seen as a reference
# to it, where 10,000 equal strings would each be written out and read back in full. At most
# 8,192 texts of at most 300 characters are kept (under 3 MB, whatever the lines say).
_SAME: dict[str, str] = {}
_SAME_LIMIT = 8192
_SAME_LONGEST = 300


def _same(text: str) -> str:
    """``text``, or the equal string kept before it."""
    found = _SAME.get(text)
    if found is None:
        if len(text) > _SAME_LONGEST:
            return text
        if len(_SAME) >= _SAME_LIMIT:
            _SAME.clear()
        found = _SAME[text] = text
    return found


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    envelope = None
    if not _STARTS.match(line) and line.startswith(_ENVELOPE_STARTS):
        # A syslog envelope before the record (a line not Squid's is left as it was).
        try:
            message, envelope = message_of(line, _STARTS, ctx)
        except ValueError:
            message = line
        if _STARTS.match(message):
            line = message
    if line.startswith("{"):
        return _json(line, envelope or ctx.reference)
    return _native(line)


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _json(text: str, fallback: datetime) -> Parsed:
    """One OPNsense (ECS) JSON access record."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return reject("not a JSON object (OPNsense's Squid access log is one a line)")
    if not isinstance(record, dict):
        return reject("not a JSON object (OPNsense's Squid access log is one a line)")
    url, method = _get(record, "url", "original"), _get(record, "http", "request", "method")
    if not isinstance(url, str) or not url:
        return reject("a Squid JSON record without url.original")
    method = method[:16] if isinstance(method, str) else ""
    stamp = record.get("@timestamp")
    ts = fallback
    if stamp is not None:
        try:
            ts = datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
        except ValueError:
            return reject(f"@timestamp {str(stamp)[:40]!r} is not YYYY-MM-DDTHH:MM:SS+HHMM")
    code = _get(record, "labels", "request_status")
    code = code if isinstance(code, str) else ""
    status = _get(record, "http", "response", "body", "status_code")
    status = status if isinstance(status, int) and 0 <= status <= 999 else None
    size = _get(record, "http", "response", "bytes")
    user = _get(record, "user", "name")
    client = _get(record, "source", "ip")
    return Parsed(
        events=(
            Event(
                kind=EventKind.HTTP,
                ts=ts,
                client_ip=ip_or_none(client if isinstance(client, str) else None),
                user=user_or_none(user if isinstance(user, str) else None),
                domain=host_of_url(url, method),
                url=url,
                method=method or None,
                action=code[:64] or None,
                blocked="DENIED" in code and status != 407,
                status=status,
                size=size if isinstance(size, int) and 0 <= size < 2**63 else None,
            ),
        )
    )


def _native(line: str) -> Parsed:
    fields = line.split()
    if not fields:
        return reject("empty line")
    if len(fields) < 7:
        return reject(
            f"expected at least 7 fields of a Squid native access.log line, got {len(fields)}"
        )
    try:
        ts = datetime.fromtimestamp(float(fields[0]), UTC)
    except (ValueError, OverflowError, OSError):
        return reject(f"first field {fields[0][:40]!r} is not a Unix time")
    code, _, status_text = fields[3].partition("/")
    if not code or not (status_text.isascii() and status_text.isdigit()):
        return reject(f"fourth field {fields[3][:40]!r} is not CODE/STATUS")
    size = int(fields[4]) if fields[4].isascii() and fields[4].isdigit() else None
    same = _SAME.get
    method = fields[5][:16]
    method = same(method) or _same(method)
    url = fields[6]
    url = same(url) or _same(url)
    code = same(code) or _same(code)
    client = fields[2]
    user = normalise_user(fields[7]) if len(fields) > 7 else None
    if url.startswith("error:"):
        # Squid's record of a connection that sent no request (a probe, a port scan).
        return SKIP
    status = int(status_text)
    host = host_of_url(url, method)
    blocked = "DENIED" in code and status != 407
    return Parsed(
        events=(
            Event(
                kind=_HTTP,
                ts=ts,
                client_ip=same(client) or _same(client),
                user=user,
                domain=host,
                url=url,
                method=method,
                action=code,
                blocked=blocked,
                status=status,
                size=size,
            ),
        )
    )


PARSER = LineParser("squid", parse_line)
