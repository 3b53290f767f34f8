"""Zeek (formerly Bro) ``dns.log``, ``http.log`` and ``ssl.log``, as TSV or as JSON lines.

TSV ("ASCII") logs start with a header of ``#`` lines::

    #separator \\x09
    #set_separator	,
    #empty_field	(empty)
    #unset_field	-
    #path	dns
    #open	2024-04-12-19-29-12
    #fields	ts	uid	id.orig_h	id.orig_p	...	query	...	qtype_name	...	rcode_name
    #types	time	string	addr	port	...

and may end with ``#close``. The separator is written with ``\\xHH`` escapes; ``#fields``
names the columns of every record that follows, so columns are found by name, never by
position (Zeek versions and site scripts add, drop and reorder them). A record before any
``#fields`` cannot be read and is rejected. A new ``#separator`` starts a new header (logs
joined with ``cat``). The unset field (``-``) and the empty field (``(empty)``) read as None.
String values escape separators and non-printable bytes as ``\\xHH``; they are decoded.

JSON logs (``LogAscii::use_json``) hold one object a line, with the same names as keys.
``_path`` names the log when present; otherwise the log is inferred from its keys: ``query``
is dns; ``server_name``, or ``version`` with ``cipher``, is ssl; ``host``, ``uri``, ``method``
or the body lengths are http. ``ts`` is epoch seconds (a number or a string) or an ISO 8601
string (Zeek 6 ``json_iso8601``); an ISO time without an offset is UTC, as Zeek writes.

What becomes an event:

* dns: a DNS event from ``id.orig_h`` for ``query``, with ``qtype_name`` and ``rcode_name``
  (the action). A record without a query name is skipped.
* http: an HTTP event for the request: the domain is ``host`` without its port (a request
  without a Host header: the host of an absolute URI, else the server's address
  ``id.resp_h``), the URL ``http://host/uri``, ``method``, ``status_code``,
  ``response_body_len`` and ``username`` when set. A response Zeek saw without its request
  (no method, host or URI) is skipped.
* ssl: a TLS event for the SNI ``server_name``; a handshake without SNI is skipped.

Records of other logs (conn, files, x509, weird, ...) and all header lines are skipped.
Zeek's test baselines replace times with ``XXXXXXXXXX.XXXXXX``: such a record is known
(its columns are read) but, having no time, gives no event and is skipped.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.parsers.base import ParseContext, StatefulParser
from collectors.parsers.fields import json_int, request_url
from collectors.parsers.urls import host_of_url, normalise_host, normalise_user
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

Record = Mapping[str, object]

_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_MASKED_TIME = re.compile(r"^X+(?:\.X+)?$")
_EPOCH = re.compile(r"^[0-9]+(?:\.[0-9]*)?$")
_LOGS = ("dns", "http", "ssl")


def _unescape(value: str) -> str:
    """Zeek's ``\\xHH`` escapes back to the bytes they stand for, read as UTF-8."""
    if "\\x" not in value:
        return value
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(value):
        out += value[pos : m.start()].encode("utf-8", "replace")
        out.append(int(m[1], 16))
        pos = m.end()
    out += value[pos:].encode("utf-8", "replace")
    return out.decode("utf-8", "replace")


@dataclass(slots=True)
class _Header:
    """What the ``#`` lines of a TSV log have said so far."""

    separator: str = "\t"
    set_separator: str = ","
    empty_field: str = "(empty)"
    unset_field: str = "-"
    path: str | None = None
    fields: tuple[str, ...] | None = None
    types: tuple[str, ...] = field(default_factory=tuple)


class _Masked(Exception):
    """A record whose time was replaced with X's (Zeek's btest baselines)."""


def _text(value: object) -> str | None:
    """A scalar field as text; unset, empty and non-scalar values are None."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value) if math.isfinite(value) else None
    if not isinstance(value, str) or value in ("", "-", "(empty)"):
        return None
    return value


def parse_ts(value: object) -> datetime | None:
    """Zeek's ``ts``: epoch seconds (number or string) or ISO 8601; None if unreadable.

    Raises ``_Masked`` for a btest baseline's ``XXXXXXXXXX.XXXXXX``.
    """
    seconds: float
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _MASKED_TIME.match(text):
            raise _Masked
        if _EPOCH.match(text):
            seconds = float(text)
        else:
            try:
                ts = datetime.fromisoformat(text)
            except ValueError:
                return None
            return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)
    else:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def log_of(keys: Mapping[str, object]) -> str | None:
    """Which of dns, http and ssl a record with these names is, when no path says so."""
    if "query" in keys:
        return "dns"
    if "server_name" in keys or ("version" in keys and "cipher" in keys):
        return "ssl"
    if "call_id" in keys:  # sip.log also has method and uri
        return None
    http = ("host", "uri", "method", "request_body_len", "response_body_len", "status_code")
    if any(k in keys for k in http):
        return "http"
    return None


def event_of(log: str, rec: Record, ts: datetime) -> Event | None:
    """The event a dns, http or ssl record gives, or None when it records no client activity.

    ``rec`` maps Zeek's field names to values (unset fields absent or None).
    """
    client = _text(rec.get("id.orig_h"))
    nested = rec.get("id")
    if client is None and isinstance(nested, Mapping):  # ``id`` written as a nested record
        client = _text(nested.get("orig_h"))
    if log == "dns":
        query = _text(rec.get("query"))
        domain = normalise_host(query) if query else None
        if domain is None:
            return None
        return Event(
            kind=EventKind.DNS,
            ts=ts,
            client_ip=client,
            domain=domain,
            qtype=_text(rec.get("qtype_name")),
            action=_text(rec.get("rcode_name")),
        )
    if log == "http":
        method = _text(rec.get("method"))
        host = _text(rec.get("host"))
        uri = _text(rec.get("uri"))
        if method is None and host is None and uri is None:
            return None  # a response whose request Zeek did not see
        if host is not None:
            domain = normalise_host(host)
        elif uri is not None and ("://" in uri or (method or "").upper() == "CONNECT"):
            domain = host_of_url(uri, method or "")
        else:
            domain = _text(rec.get("id.resp_h"))
        user = _text(rec.get("username"))
        return Event(
            kind=EventKind.HTTP,
            ts=ts,
            client_ip=client,
            user=normalise_user(user) if user else None,
            domain=domain,
            url=request_url(host or domain, uri, method),
            method=method[:16] if method else None,
            status=json_int(rec.get("status_code")),
            size=json_int(rec.get("response_body_len")),
        )
    if log == "ssl":
        sni = _text(rec.get("server_name"))
        domain = normalise_host(sni) if sni else None
        if domain is None:
            return None
        return Event(kind=EventKind.TLS, ts=ts, client_ip=client, domain=domain)
    return None


def _record_event(log: str | None, rec: Record) -> Parsed:
    if log is None or log not in _LOGS:
        return SKIP
    raw_ts = rec.get("ts")
    try:
        ts = parse_ts(raw_ts)
    except _Masked:
        return SKIP  # a test baseline's masked time: the layout is known, the moment is not
    if ts is None:
        return reject(f"ts {str(raw_ts)[:40]!r} is neither epoch seconds nor ISO 8601")
    ev = event_of(log, rec, ts)
    return SKIP if ev is None else Parsed(events=(ev,))


def parse_json(line: str) -> Parsed:
    """One record of a Zeek JSON log."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return reject("not valid JSON (expected one Zeek JSON record a line)")
    if not isinstance(obj, dict):
        return reject("JSON value is not an object (expected one Zeek JSON record a line)")
    if "ts" not in obj:
        return reject("JSON object without Zeek's 'ts' field")
    path = obj.get("_path")
    log = path if isinstance(path, str) else log_of(obj)
    return _record_event(log, obj)


class ZeekSession:
    """One Zeek log file: the TSV header read so far, and the records after it."""

    def __init__(self) -> None:
        self.header = _Header()

    def _directive(self, line: str) -> None:
        if line.startswith("#separator"):
            value = line[len("#separator") :].strip(" ")
            sep = _unescape(value) if value else "\t"
            # A new header: a log joined to the one before it starts afresh.
            self.header = _Header(separator=sep or "\t")
            return
        h = self.header
        name, found, rest = line.partition(h.separator)
        if not found:
            name, _, rest = line.partition(" ")
        values = rest.split(h.separator) if found else [rest]
        if name == "#fields":
            h.fields = tuple(values)
        elif name == "#types":
            h.types = tuple(values)
        elif name == "#path":
            h.path = values[0]
        elif name == "#set_separator":
            h.set_separator = _unescape(values[0])
        elif name == "#empty_field":
            h.empty_field = _unescape(values[0])
        elif name == "#unset_field":
            h.unset_field = _unescape(values[0])
        # #open, #close and any other comment (a btest banner) carry nothing we need.

    def columns(self, line: str) -> dict[str, str | None] | None:
        """A TSV record's values by the names ``#fields`` gave them (unset and empty fields
        None, escapes decoded); None before ``#fields`` or when the count does not match."""
        h = self.header
        if h.fields is None:
            return None
        values = line.split(h.separator)
        if len(values) != len(h.fields):
            return None
        return {
            name: None if v in (h.unset_field, h.empty_field) else _unescape(v)
            for name, v in zip(h.fields, values, strict=True)
        }

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        line = line.rstrip("\r\n")
        if line.startswith("#"):
            self._directive(line)
            return SKIP
        if not line.strip():
            return reject("empty line")
        if line.lstrip().startswith("{"):
            return parse_json(line)
        h = self.header
        if h.fields is None:
            return reject(
                "Zeek TSV record before any '#fields' header "
                "(expected the '#separator' ... '#fields' lines first, or one JSON object)"
            )
        rec = self.columns(line)
        if rec is None:
            got = len(line.split(h.separator))
            return reject(f"expected {len(h.fields)} fields as '#fields' names, got {got}")
        log = h.path if h.path is not None else log_of(rec)
        return _record_event(log, rec)


PARSER = StatefulParser("zeek", ZeekSession, header_prefix="#")
