"""Squid's native access.log.

``time elapsed client code/status bytes method URL user hierarchy/peer type``; the user is
``-`` when the proxy does not authenticate.
"""

from __future__ import annotations

from datetime import UTC, datetime

from collectors.base import LineParser, ParseContext
from collectors.urls import host_of_url, normalise_user
from monitord.model import SKIP, Event, EventKind, Parsed, reject


def parse_line(line: str, ctx: ParseContext) -> Parsed:
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
    method = fields[5][:16]
    url = fields[6]
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
                kind=EventKind.HTTP,
                ts=ts,
                client_ip=fields[2],
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
