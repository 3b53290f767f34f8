"""AdGuard Home's query log, ``querylog.json``: one JSON object a line, one query each.

The keys used: ``T`` (RFC 3339 time), ``QH`` (the name asked for), ``QT`` (its type), ``IP``
(the client), ``Result`` and ``Answer``. ``Result`` is ``{}`` for a query nothing matched, or
``{"IsFiltered": true, "Reason": N, "Rules": [{"Text": ..., "FilterListID": ...}]}`` (older
versions: ``"Rule"`` and ``"FilterID"``), with ``"ServiceName"`` for a blocked service.
``Answer`` is the reply AdGuard sent, base64 DNS wire format. Other keys (``QC``, ``CP``,
``CID``, ``Elapsed``, ``Upstream``, ``Cached``, ``OrigAnswer``, ``ECS``) are not used.

The event's action is AdGuard's name for the reason when a rule matched (with the rule or
service), else the response code of the answer. It is blocked when AdGuard blocked the query:
by a block list, Safe Browsing, parental control, a blocked service or as invalid. Safe Search
(the name rewritten to the engine's safe address) and DNS rewrites are not blocks; their
action says what was done.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from collectors.parsers.base import LineParser, ParseContext
from collectors.parsers.urls import normalise_host
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

# AdGuard Home's filtering.Reason, in order, as its API names them.
REASONS = (
    "NotFilteredNotFound",
    "NotFilteredWhiteList",
    "NotFilteredError",
    "FilteredBlackList",
    "FilteredSafeBrowsing",
    "FilteredParental",
    "FilteredInvalid",
    "FilteredSafeSearch",
    "FilteredBlockedService",
    "Rewrite",
    "RewriteEtcHosts",
    "RewriteRule",
)
_BLOCKING = frozenset({3, 4, 5, 6, 8})
ACTION_MAX = 64  # the store's action column
_RCODES = (
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "YXDOMAIN",
    "YXRRSET",
    "NXRRSET",
    "NOTAUTH",
    "NOTZONE",
)


def _rcode(answer: Any) -> str | None:
    """The response code in the header of a base64 DNS message."""
    if not isinstance(answer, str) or not answer:
        return None
    try:
        wire = base64.b64decode(answer, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(wire) < 12:
        return None
    code = wire[3] & 0x0F
    return _RCODES[code] if code < len(_RCODES) else f"RCODE{code}"


def _rule(result: dict[str, Any]) -> str | None:
    """The rule (or blocked service) that decided the query."""
    service = result.get("ServiceName")
    if isinstance(service, str) and service:
        return service
    rules = result.get("Rules")
    if isinstance(rules, list):
        for rule in rules:
            if isinstance(rule, dict) and isinstance(rule.get("Text"), str) and rule["Text"]:
                return str(rule["Text"])
    old = result.get("Rule")
    return old if isinstance(old, str) and old else None


def _verdict(result: Any) -> tuple[str | None, bool]:
    """(action, blocked) from the ``Result`` object; no action when nothing matched."""
    if not isinstance(result, dict) or not result:
        return None, False
    reason = result.get("Reason")
    filtered = result.get("IsFiltered") is True
    if not isinstance(reason, int) or isinstance(reason, bool) or reason == 0:
        return ("Filtered", True) if filtered else (None, False)
    known = 0 <= reason < len(REASONS)
    name = REASONS[reason] if known else f"Reason{reason}"
    rule = _rule(result)
    action = f"{name}: {rule}" if rule else name
    # A reason newer than this parser: trust IsFiltered.
    return action[:ACTION_MAX], reason in _BLOCKING if known else filtered


def parse_line(line: str, ctx: ParseContext) -> Parsed:
    text = line.strip()
    if not text:
        return reject("empty line")
    try:
        entry = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return reject(f"not JSON (an AdGuard Home querylog.json line is a JSON object): {exc}")
    if not isinstance(entry, dict):
        return reject(f"expected a JSON object, got {type(entry).__name__}")
    stamp, host = entry.get("T"), entry.get("QH")
    if not isinstance(stamp, str) or not isinstance(host, str):
        return reject("not an AdGuard Home query log entry (expected keys T and QH)")
    try:
        ts = datetime.fromisoformat(stamp)
        ts = (ts.replace(tzinfo=ctx.tz) if ts.tzinfo is None else ts).astimezone(UTC)
    except (ValueError, OverflowError):
        return reject(f"T {stamp[:40]!r} is not an RFC 3339 time")
    domain = normalise_host(host)
    if domain is None:
        return SKIP  # a query for the root names no site
    client = entry.get("IP")
    qtype = entry.get("QT")
    action, blocked = _verdict(entry.get("Result"))
    return Parsed(
        events=(
            Event(
                kind=EventKind.DNS,
                ts=ts,
                client_ip=client if isinstance(client, str) and client else None,
                domain=domain,
                qtype=qtype.upper()[:16] if isinstance(qtype, str) and qtype else None,
                action=action or _rcode(entry.get("Answer")),
                blocked=blocked,
            ),
        )
    )


PARSER = LineParser("adguard", parse_line)
