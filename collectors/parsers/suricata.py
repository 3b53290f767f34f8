"""Suricata's EVE JSON log (``eve.json``): one JSON object a line, named by ``event_type``.

Every record has ``timestamp`` (ISO 8601 in the sensor's local time with its offset, e.g.
``2017-06-12T13:19:24.004566+0200``; one without an offset is read in the school's zone),
``event_type``, and for traffic ``src_ip``/``dest_ip`` and their ports. Three types record
what a client did:

* ``dns``: ``{"dns": {"type": "query", "id": 16000, "rrname": "twitter.com", "rrtype": "A"}}``
  is a lookup by ``src_ip``. DNS logging version 2 writes the same query and one
  ``"type": "answer"`` record with ``rrname``/``rrtype`` and an ``answers`` list or
  ``grouped`` map; version 1 writes one answer record per resource record; Suricata 8
  (version 3) writes ``"type": "request"``/``"response"`` with the name in
  ``queries[].rrname``. Queries are the events. An answer is skipped when this file has
  already given an event for its transaction (same ``flow_id``, DNS ``id`` and client): it
  is the reply to a query already counted, or a further resource record of a reply already
  counted. An answer for a transaction not yet seen is the only record of that lookup (the
  sensor logs replies only, or the file was resumed after the query), so it is the event:
  the queried name is the answer's ``rrname`` (version 3: ``queries[0].rrname``; version 2
  without one: ``answers[0].rrname``), its ``rcode`` the action. The client of an answer is
  ``dest_ip``, unless the record is written in the flow's direction (``dest_port`` is a DNS
  port: Suricata does this for DNS over TCP and from version 7), when it is ``src_ip``.
* ``http``: ``http.hostname`` (the domain), ``http.url``, ``http_method``, ``status`` and
  ``length`` of a request by ``src_ip``; the URL is ``http://hostname[:http_port]url``.
* ``tls``: the SNI ``tls.sni`` of a handshake by ``src_ip``; one without SNI is skipped.

Every other type (``alert``, ``flow``, ``stats``, ``fileinfo``, ``anomaly``, ``netflow``,
``ssh``, ``ldap``, ...) is skipped: an alert embeds the http or tls object of a transaction
that its own record already gives.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime

from collectors.parsers.base import ParseContext, StatefulParser
from collectors.parsers.fields import json_int, request_url
from collectors.parsers.urls import host_of_url, normalise_host
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

_QUERY_TYPES = ("query", "request")
_ANSWER_TYPES = ("answer", "response")
_DNS_PORTS = (53, 853, 5353, 5355)
_MAX_SEEN = 10_000  # transactions remembered, oldest forgotten first
_MAX_QUERIES = 16

TxKey = tuple[object, object, object]


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _hashable(value: object) -> object:
    return value if isinstance(value, str | int | float | bool | None) else repr(value)[:100]


def parse_timestamp(value: str, ctx: ParseContext) -> datetime | None:
    """An EVE timestamp (``+0200``, ``+02:00`` or ``Z`` offsets; none: the school's zone)."""
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=ctx.tz)
    try:
        return ts.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _dns_client(rec: Mapping[str, object], answer: bool) -> str | None:
    """The client of a DNS record: the source of a query; the destination of an answer
    written in the reply's direction, the source of one written in the flow's."""
    if answer and json_int(rec.get("dest_port")) not in _DNS_PORTS:
        return _str(rec.get("dest_ip"))
    return _str(rec.get("src_ip"))


def _queries(dns: Mapping[str, object]) -> list[tuple[str, str | None]]:
    """The (name, type) pairs a DNS record asks about."""
    name = _str(dns.get("rrname"))
    if name is not None:
        return [(name, _str(dns.get("rrtype")))]
    out: list[tuple[str, str | None]] = []
    for key in ("queries", "answers"):
        items = dns.get(key)
        if isinstance(items, list):
            for q in items[:_MAX_QUERIES]:
                if isinstance(q, dict) and (qname := _str(q.get("rrname"))) is not None:
                    out.append((qname, _str(q.get("rrtype"))))
                    if key == "answers":
                        break  # the first answer names the query; the rest is its chain
        if out:
            break
    return out


class SuricataSession:
    """One eve.json file: remembers which DNS transactions have given an event."""

    def __init__(self) -> None:
        self._seen: OrderedDict[TxKey, None] = OrderedDict()

    def _remember(self, key: TxKey) -> None:
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > _MAX_SEEN:
            self._seen.popitem(last=False)

    def _dns(self, rec: Mapping[str, object], ts: datetime) -> Parsed:
        dns = rec.get("dns")
        if not isinstance(dns, dict):
            return reject("dns record without a 'dns' object")
        kind = dns.get("type")
        if kind not in _QUERY_TYPES and kind not in _ANSWER_TYPES:
            return SKIP
        answer = kind in _ANSWER_TYPES
        client = _dns_client(rec, answer)
        key: TxKey = (_hashable(rec.get("flow_id")), _hashable(dns.get("id")), client)
        if answer and key in self._seen:
            return SKIP
        events = []
        for name, qtype in _queries(dns):
            domain = normalise_host(name)
            if domain is None:
                continue
            events.append(
                Event(
                    kind=EventKind.DNS,
                    ts=ts,
                    client_ip=client,
                    domain=domain,
                    qtype=qtype.upper()[:16] if qtype else None,
                    action=_str(dns.get("rcode")) if answer else None,
                )
            )
        if not events:
            return SKIP
        self._remember(key)
        return Parsed(events=tuple(events))

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        if not line.strip():
            return reject("empty line")
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):
            return reject("not valid JSON (expected one Suricata EVE record a line)")
        if not isinstance(rec, dict):
            return reject("JSON value is not an object (expected one Suricata EVE record)")
        event_type = rec.get("event_type")
        stamp = rec.get("timestamp")
        if not isinstance(event_type, str) or not isinstance(stamp, str):
            return reject("JSON object without Suricata EVE's 'event_type' and 'timestamp'")
        if event_type not in ("dns", "http", "tls"):
            return SKIP
        ts = parse_timestamp(stamp, ctx)
        if ts is None:
            return reject(f"timestamp {stamp[:40]!r} is not ISO 8601")
        if event_type == "dns":
            return self._dns(rec, ts)
        body = rec.get(event_type)
        if not isinstance(body, dict):
            return reject(f"{event_type} record without a '{event_type}' object")
        client = _str(rec.get("src_ip"))
        if event_type == "tls":
            sni = _str(body.get("sni"))
            domain = normalise_host(sni) if sni else None
            if domain is None:
                return SKIP
            return Parsed(
                events=(Event(kind=EventKind.TLS, ts=ts, client_ip=client, domain=domain),)
            )
        host = _str(body.get("hostname"))
        url = _str(body.get("url"))
        method = _str(body.get("http_method")) or ""
        if host is None and url is None:
            return SKIP
        if host is not None:
            domain = normalise_host(host)
        elif url is not None and ("://" in url or method.upper() == "CONNECT"):
            domain = host_of_url(url, method)
        else:
            domain = _str(rec.get("dest_ip"))
        return Parsed(
            events=(
                Event(
                    kind=EventKind.HTTP,
                    ts=ts,
                    client_ip=client,
                    domain=domain,
                    url=request_url(host, url, method, json_int(body.get("http_port"))),
                    method=method[:16] or None,
                    status=json_int(body.get("status")),
                    size=json_int(body.get("length")),
                ),
            )
        )


PARSER = StatefulParser("suricata", SuricataSession)
