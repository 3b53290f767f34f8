"""The syslog envelope around a message: RFC 5424, RFC 3164 and what senders really write.

``parse_envelope`` splits one syslog line (as a file holds it, or one message as received)
into its priority, the sender's timestamp, host, program, process id and, for RFC 5424, the
message id and structured data; what is left is the message, which a format's parser reads.

Forms read (the ``<PRI>`` is optional in each):

- RFC 5424: ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD...] MSG``, any header field ``-``;
- RFC 3164 and its variants: ``Mmm dd hh:mm:ss`` (the day padded with a space, or not;
  fractions of a second; a year before the time as Cisco writes it), an RFC 3339 time as
  rsyslog's file and forwarding formats write it, or Sophos UTM's ``2023:03:08-15:00:00``;
  then an optional host, then the tag
  ``program[pid]:`` or ``program:`` (OPNsense's ``(squid-1)[6802]:`` included);
- no timestamp at all: ``<30>unbound[1]: ...`` keeps its program; anything else
  (``<189>date=2026-01-05 time=...`` from a FortiGate) is all message.

Times without a zone are in the school's zone; a time without a year is placed by the
reference time (when the line was received, or its file written) as ``syslog_time`` does.
Spaces before the message are not part of it. A line that claims RFC 5424 but breaks it, or
names a date that does not exist, raises ``BadEnvelope`` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from collectors.parsers.syslogtime import MONTHS, syslog_time

_FACILITY_NAMES = (
    *("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron"),
    *("authpriv", "ftp", "ntp", "audit", "alert", "clock"),
    *(f"local{n}" for n in range(8)),
)
_SEVERITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_PRI = re.compile(r"<(\d{1,3})>")
# RFC 5424's header after the PRI: VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
_HEADER_5424 = re.compile(
    r"([1-9]\d{0,2}) (\S{1,64}) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32})(?: |$)"
)
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?"
)
# Sophos UTM: 2023:03:08-15:00:00, local time
_UTM_TIME = re.compile(r"(\d{4}):(\d\d):(\d\d)-(\d\d):(\d\d):(\d\d)()()")
# Mmm dd [yyyy] hh:mm:ss[.fff] followed by a space (or the end of the line)
_BSD_TIME = re.compile(
    r"([A-Za-z]{3}) {1,2}(\d{1,2}) (?:(\d{4}) )?(\d\d:\d\d:\d\d)(?:\.\d{1,6})?(?: |$)"
)
# program[pid]: / program: / program[pid] (the colon some senders leave out after a pid)
_TAG = re.compile(r"([^\s\[\]:=\"]{1,64})(?:\[([^\s\[\]]{0,32})\]:?|:)(?: |$)")
_HOST = re.compile(r"[A-Za-z0-9_.:%-]{1,255}(?: |$)")
_SD_NAME = r"[^\s=\]\"]{1,32}"
_SD_PARAM = re.compile(rf"({_SD_NAME})=\"((?:[^\"\\]|\\.)*)\"")
_SD_ID = re.compile(rf"\[({_SD_NAME})")
_SD_UNESCAPE = re.compile(r"\\([\"\\\]])")


class BadEnvelope(ValueError):
    """A line whose syslog envelope cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class SDElement:
    """One RFC 5424 structured-data element: ``[id name="value" ...]``."""

    id: str
    params: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Envelope:
    """One syslog line split into its envelope and its message.

    ``timestamp`` is the sender's own time in UTC, or None when the line has none.
    ``program`` is as written (``(squid-1)``, ``pihole-FTL``); ``app`` is its name for
    choosing a parser. ``version`` is 1 for RFC 5424 and None for the older forms.
    """

    pri: int | None
    timestamp: datetime | None
    host: str | None
    program: str | None
    pid: str | None
    message: str
    version: int | None = None
    msgid: str | None = None
    structured_data: tuple[SDElement, ...] = ()

    @property
    def facility(self) -> str | None:
        return None if self.pri is None else _FACILITY_NAMES[self.pri >> 3]

    @property
    def severity(self) -> str | None:
        return None if self.pri is None else _SEVERITY_NAMES[self.pri & 7]

    @property
    def app(self) -> str | None:
        return app_name(self.program)


_INSTANCE = re.compile(r"-\d+$")


def app_name(program: str | None) -> str | None:
    """A program's name as a parser is chosen by: lower case, without OPNsense's
    parentheses, an instance number (``squid-1``) or a path (``/usr/sbin/named``)."""
    if not program:
        return None
    name = program.strip("()").rsplit("/", 1)[-1] if "/" in program else program.strip("()")
    return _INSTANCE.sub("", name).lower() or None


def parse_envelope(line: str, tz: ZoneInfo, reference: datetime) -> Envelope:
    """Split one syslog line (its line ending, if any, is ignored) into envelope and message."""
    line = line.rstrip("\r\n")
    pri: int | None = None
    pos = 0
    m = _PRI.match(line)
    if m is not None:
        pri = int(m[1])
        if pri > 191:
            raise BadEnvelope(f"priority <{pri}> is above 191")
        pos = m.end()
        h = _HEADER_5424.match(line, pos)
        if h is not None:
            return _rfc5424(line, pri, h, tz)
    return _rfc3164(line, pri, pos, tz, reference)


def _nil(field: str) -> str | None:
    return None if field == "-" else field


def _rfc5424(line: str, pri: int, h: re.Match[str], tz: ZoneInfo) -> Envelope:
    version, stamp, host, app, procid, msgid = h.groups()
    if version != "1":
        raise BadEnvelope(f"RFC 5424 version {version} is not 1")
    ts: datetime | None = None
    if stamp != "-":
        t = _ISO.fullmatch(stamp)
        if t is None:
            raise BadEnvelope(f"RFC 5424 timestamp {stamp[:40]!r} is not RFC 3339")
        ts = _iso_time(t, tz)
    sd, pos = _structured_data(line, h.end())
    # rsyslog keeps the space after a forwarded RFC 3164 tag: ``- -  message``.
    msg = line[pos:].lstrip(" ")
    if msg.startswith("\ufeff"):
        msg = msg[1:]
    return Envelope(
        pri=pri,
        timestamp=ts,
        host=_nil(host),
        program=_nil(app),
        pid=_nil(procid),
        message=msg,
        version=1,
        msgid=_nil(msgid),
        structured_data=sd,
    )


def _structured_data(line: str, pos: int) -> tuple[tuple[SDElement, ...], int]:
    """The SD elements from ``pos`` (``-`` for none) and where the message begins."""
    if line.startswith("-", pos):
        return (), pos + 1
    if pos >= len(line):
        return (), pos
    if not line.startswith("[", pos):
        raise BadEnvelope(f"RFC 5424 structured data at column {pos + 1} is neither - nor [")
    elements = []
    while line.startswith("[", pos):
        m = _SD_ID.match(line, pos)
        if m is None:
            raise BadEnvelope(f"RFC 5424 structured data at column {pos + 1} has no SD-ID")
        sd_id, pos = m[1], m.end()
        params = []
        while line.startswith(" ", pos):
            p = _SD_PARAM.match(line, pos + 1)
            if p is None:
                raise BadEnvelope(
                    f"RFC 5424 structured data [{sd_id[:32]} at column {pos + 2}: "
                    'expected name="value"'
                )
            params.append((p[1], _SD_UNESCAPE.sub(r"\1", p[2])))
            pos = p.end()
        if not line.startswith("]", pos):
            raise BadEnvelope(f"RFC 5424 structured data [{sd_id[:32]} is not closed by ]")
        pos += 1
        elements.append(SDElement(sd_id, tuple(params)))
    return tuple(elements), pos


def _iso_time(t: re.Match[str], tz: ZoneInfo) -> datetime:
    year, mon, day, hh, mm, ss, frac, zone = t.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(int(year), int(mon), int(day), int(hh), int(mm), int(ss), micro)
    except ValueError:
        raise BadEnvelope(f"impossible date {t[0][:40]!r}") from None
    if not zone:
        return local.replace(tzinfo=tz).astimezone(UTC)
    if zone == "Z":
        return local.replace(tzinfo=UTC)
    sign = -1 if zone[0] == "-" else 1
    hours, minutes = int(zone[1:3]), int(zone[-2:])
    if hours > 23 or minutes > 59:
        raise BadEnvelope(f"impossible zone offset {zone!r}")
    offset = sign * (hours * 3600 + minutes * 60)
    return datetime.fromtimestamp(local.replace(tzinfo=UTC).timestamp() - offset, UTC)


def _rfc3164(line: str, pri: int | None, pos: int, tz: ZoneInfo, reference: datetime) -> Envelope:
    ts, after = _bsd_timestamp(line, pos, tz, reference)
    host: str | None = None
    if after is not None:
        pos = after
        if _TAG.match(line, pos) is None:
            h = _HOST.match(line, pos)
            if h is not None:
                host = line[pos : h.end()].rstrip(" ")
                pos = h.end()
    tag = _TAG.match(line, pos)
    program = pid = None
    if tag is not None:
        program, pid = tag[1], tag[2] or None
        pos = tag.end()
    return Envelope(
        pri=pri, timestamp=ts, host=host, program=program, pid=pid, message=line[pos:].lstrip(" ")
    )


def _bsd_timestamp(
    line: str, pos: int, tz: ZoneInfo, reference: datetime
) -> tuple[datetime | None, int | None]:
    """The time at ``pos`` in either form and the position after it, or (None, None)."""
    b = _BSD_TIME.match(line, pos)
    if b is not None and b[1].lower() in MONTHS:
        mon, day, year, hms = b[1], int(b[2]), b[3], b[4]
        if year is not None:
            try:
                local = datetime.strptime(f"{year} {mon} {day} {hms}", "%Y %b %d %H:%M:%S")
            except ValueError:
                raise BadEnvelope(f"impossible date {b[0].strip()!r}") from None
            return local.replace(tzinfo=tz).astimezone(UTC), b.end()
        ts = syslog_time(mon, day, hms, tz, reference)
        if ts is None:
            raise BadEnvelope(f"impossible date {b[0].strip()!r}")
        return ts, b.end()
    t = _ISO.match(line, pos) or _UTM_TIME.match(line, pos)
    if t is not None and (t.end() == len(line) or line[t.end()] == " "):
        return _iso_time(t, tz), min(t.end() + 1, len(line))
    return None, None
