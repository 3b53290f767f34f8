"""Whole syslog lines: each message handed to the parser for the program that wrote it.

The ``syslog`` format reads lines as rsyslog writes them to a file, or as a listener receives
them (RFC 3164 or RFC 5424, see ``collectors.parsers.envelope``). The envelope's program chooses the
parser (``ROUTES``); a sender that writes no program (a FortiGate, a Sophos, a Palo Alto) is
known by its message (``SIGNATURES``). A program monitord has no parser for is passed over and
counted under its name (``monitord sources``).

Parsers of resolvers' logs (dnsmasq, BIND, Unbound) read whole syslog lines: they are shown
the line again in the form they know (``Mon dd hh:mm:ss host program[pid]: message``, the time
in the school's zone). The others (Squid, e2guardian, the firewalls) read the message alone.
Each event keeps the envelope's host as its ``sender`` and, from a listener, the time it was
received. The time is the sender's own when it gives one, else the time of receipt.

A source that names one format (``format = "fortigate"`` with ``listen``) uses the same
envelope reading with every message going to that format's parser.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from collectors.parsers.base import (
    ParseContext,
    Parser,
    Session,
    StatefulParser,
    UnknownFormat,
    load_parser,
)
from collectors.parsers.dhcpd_log import PARSER as DHCPD_LOG
from collectors.parsers.envelope import BadEnvelope, Envelope, parse_envelope
from monitord.core.model import Parsed, reject

# program (as ``envelope.app_name`` gives it) -> format
ROUTES = {
    "dnsmasq": "dnsmasq",
    "dnsmasq-dhcp": "dnsmasq",
    "pihole-ftl": "dnsmasq",
    "pihole": "dnsmasq",
    "named": "bind",
    "unbound": "unbound",
    "squid": "squid",
    "e2guardian": "e2guardian",
    "dhcpd": "dhcpd-log",
    "httpproxy": "sophos",  # Sophos UTM's web filter
}
# Senders that write no program, known by how their message begins.
SIGNATURES = (
    (re.compile(r"(?:date=\d{4}-\d\d-\d\d time=\d|logver=\d|eventtime=\d).*\blogid="), "fortigate"),
    (re.compile(r'device(?:_name)?="[^"]{0,64}" .*\blog_id='), "sophos"),
    (re.compile(r"\d,\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]*,(?:THREAT|TRAFFIC),"), "panos"),
)
# Formats whose parser reads a whole syslog line, and the program name it expects there.
LINE_FORMATS = {"dnsmasq": "dnsmasq", "bind": "named", "unbound": "unbound"}
# Parsers only syslog reaches (no --format of their own).
_INTERNAL: dict[str, Parser] = {"dhcpd-log": DHCPD_LOG}
SESSIONS = 256  # per-sender parser sessions kept (stateful formats pair lines per sender)


def format_for(env: Envelope) -> str | None:
    """The format that reads this envelope's message, or None for a program unknown here."""
    app = env.app
    if app is not None:
        return ROUTES.get(app)
    for pattern, fmt in SIGNATURES:
        if pattern.match(env.message):
            return fmt
    return None


def _load(fmt: str) -> Parser | None:
    try:
        return _INTERNAL.get(fmt) or load_parser(fmt)
    except UnknownFormat:
        return None  # a format this installation does not have


def render_line(env: Envelope, program: str, ctx: ParseContext) -> tuple[str, ParseContext]:
    """The envelope as a resolver's parser knows a syslog line, and the context that places
    its year-less time where the envelope's time is."""
    when = env.timestamp or ctx.received_at or ctx.reference
    pid = env.pid if env.pid is not None and env.pid.isdigit() else "0"
    app = env.app or ""
    name = app if app.startswith(program) else program  # keeps dnsmasq-dhcp
    line = f"{_stamp(when, ctx.tz)} {env.host or 'localhost'} {name}[{pid}]: {env.message}"
    return line, _placed(ctx, when)


@lru_cache(maxsize=1024)
def _stamp(when: datetime, tz: ZoneInfo) -> str:
    """``Dec  6 22:00:00`` in the school's zone (lines of one second share it)."""
    local = when.astimezone(tz)
    return f"{local:%b} {local.day:2d} {local:%H:%M:%S}"


def _placed(ctx: ParseContext, when: datetime) -> ParseContext:
    return ParseContext(ctx.tz, when, ctx.origin, ctx.received_at)


_INNER = re.compile(r"(?:[A-Z][a-z]{2} [ \d]\d |\d{4}-\d\d-\d\dT)\S")


def unwrap(env: Envelope, ctx: ParseContext) -> Envelope:
    """A log file's whole line sent as a message (rsyslog's ``imfile`` forwarding Pi-hole's
    ``pihole.log``: ``<133>... pi pihole: Dec  6 10:00:00 dnsmasq[539]: query[A] ...``): the
    line's own envelope, with the sender's host when the line names none."""
    if not _INNER.match(env.message):
        return env
    try:
        inner = parse_envelope(
            env.message, ctx.tz, env.timestamp or ctx.received_at or ctx.reference
        )
    except BadEnvelope:
        return env
    if inner.timestamp is None or inner.program is None:
        return env
    return replace(inner, pri=env.pri, host=inner.host or env.host)


class SyslogSession:
    """Syslog lines in order; a parser session per sender and format, so that a stateful
    format pairs a sender's lines only with that sender's."""

    def __init__(self, fixed: str | None = None, parser: Parser | None = None) -> None:
        self.fixed = fixed
        self._parsers: dict[str, Parser | None] = {}
        if fixed is not None and parser is not None:
            self._parsers[fixed] = parser  # set up with the source's options
        self._sessions: OrderedDict[tuple[str | None, str], Session] = OrderedDict()

    def _session(self, host: str | None, fmt: str) -> Session | None:
        key = (host, fmt)
        session = self._sessions.get(key)
        if session is not None:
            self._sessions.move_to_end(key)
            return session
        if fmt not in self._parsers:
            self._parsers[fmt] = _load(fmt)
        parser = self._parsers[fmt]
        if parser is None:
            return None
        session = parser.session()
        self._sessions[key] = session
        if len(self._sessions) > SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        try:
            env = unwrap(parse_envelope(line, ctx.tz, ctx.received_at or ctx.reference), ctx)
        except BadEnvelope as exc:
            return reject(f"syslog envelope: {exc}")
        fmt = self.fixed or format_for(env)
        session = self._session(env.host, fmt) if fmt is not None else None
        if session is None:
            return Parsed(passed_over=env.app or env.program or "-")
        program = LINE_FORMATS.get(fmt or "")
        if program is not None:
            text, sub_ctx = render_line(env, program, ctx)
        else:
            text = env.message
            sub_ctx = _placed(ctx, env.timestamp or ctx.received_at or ctx.reference)
        parsed = session.parse(text, sub_ctx)
        if parsed.rejected is not None:
            return reject(f"{env.program or fmt}: {parsed.rejected}")
        if not parsed.events:
            return parsed
        events = tuple(
            replace(ev, sender=env.host, received_at=ctx.received_at) for ev in parsed.events
        )
        return Parsed(events, None, parsed.updates, parsed.passed_over)


def parser_for_source(fmt: str, parser: Parser | None = None) -> StatefulParser:
    """What reads a listening source's messages: dispatch by program for ``syslog``, one
    format's parser (``parser``, set up with the source's options, else its default) for
    the others."""
    fixed = None if fmt == "syslog" else fmt
    return StatefulParser(fmt, lambda: SyslogSession(fixed, parser))


PARSER = parser_for_source("syslog")
