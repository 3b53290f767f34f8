"""ISC dhcpd's lease database, ``dhcpd.leases`` (IPv4) and ``dhcpd6.leases`` (DHCPv6).

The file is a journal of declarations, each a block over several lines::

    lease 10.0.10.72 {
      starts 1 2015/07/06 07:50:42;
      ends 1 2015/07/06 08:20:42;
      binding state active;
      hardware ethernet 64:5a:04:6a:07:a2;
      client-hostname "Satellite-C700";
    }

Times are ``weekday yyyy/mm/dd hh:mm:ss`` in UTC, or ``epoch <seconds>; # local time`` when
dhcpd runs with ``db-time-format local``; ``ends never`` is a lease without end. Strings are
quoted, with ``\\ooo`` octal escapes for bytes that are not printable. Besides ``lease`` there
are ``host`` (a reservation made through OMAPI), ``failover peer``, ``class``/``subclass``
blocks, ``server-duid`` and ``authoring-byte-order`` statements, ``#`` comments, and the
DHCPv6 identity associations ``ia-na``, ``ia-ta`` (addresses) and ``ia-pd`` (prefixes)::

    ia-na "<4-byte IAID><client DUID>" {
      cltt 0 2017/12/24 10:53:29;
      iaaddr 2001:db8:: {
        binding state active;
        ends 2 2020/09/30 10:53:29;
      }
    }

dhcpd appends a new block each time a lease changes, so a lease's history is the sequence of
its blocks. The session reads a block line by line (every line of it is skipped) and at the
block's closing ``}`` gives:

* for a ``lease`` whose ``binding state`` is ``active`` (or ``bootp``, or no state, as very
  old servers wrote): a LEASE event binding the address to the ``hardware ethernet`` MAC
  and ``client-hostname``, from ``starts`` (the event's time and ``lease_start``) to
  ``ends``. A lease that is ``free``, ``backup``, ``expired``, ``released``, ``abandoned``
  or ``reset`` is held by no one and is skipped.
* for an ``ia-na`` or ``ia-ta``: a LEASE event for each active ``iaaddr``, from the
  association's ``cltt`` (the client's last transaction: when the current binding began) to
  the address's ``ends``. DHCPv6 names no MAC; the client's DUID carries one when it is a
  link-layer DUID (DUID-LLT or DUID-LL of an Ethernet interface), and that MAC is used.
  Otherwise the MAC is None: the lease is recorded but binds the address to no device.
* ``ia-pd`` (a prefix delegated to a router), ``host``, ``failover peer``, ``class``,
  ``subclass`` and any other block: nothing.

A session resumed inside a block has lost the block's start: the lines before the next
declaration are statements of a block it cannot name, and are skipped.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.parsers.base import Needs, ParseContext, StatefulParser
from monitord.core.model import SKIP, Event, EventKind, Parsed, reject

_MAC = re.compile(r"^[0-9a-f]{1,2}(?::[0-9a-f]{1,2}){5}$")
_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{1,2}):(\d{1,2})$")
_HELD = ("active", "bootp")
_MAX_ADDRESSES = 16
_MAX_DEPTH = 64

# Tokens: ("word", text), ("str", decoded bytes as latin-1 text) or ("punct", one of {};).
Token = tuple[str, str]


class _Malformed(ValueError):
    pass


def _unquote(body: str) -> bytes:
    """A dhcpd string's contents: ``\\ooo`` octal escapes and ``\\c`` for c, as bytes."""
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8", "replace")
            i += 1
            continue
        j = i + 1
        while j < len(body) and j < i + 4 and body[j] in "01234567":
            j += 1
        if j > i + 1:
            out.append(int(body[i + 1 : j], 8) & 0xFF)
            i = j
        elif i + 1 < len(body):
            out += body[i + 1].encode("utf-8", "replace")
            i += 2
        else:
            i += 1
    return bytes(out)


def tokens(line: str) -> list[Token]:
    """A line as words, quoted strings and the punctuation ``{ } ;``, without its comment.

    Raises ``_Malformed`` for a string left open.
    """
    out: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch.isspace():
            i += 1
        elif ch == "#":
            break
        elif ch in "{};":
            out.append(("punct", ch))
            i += 1
        elif ch == '"':
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            if j >= n:
                raise _Malformed("a quoted string is not closed on its line")
            out.append(("str", _unquote(line[i + 1 : j]).decode("latin-1")))
            i = j + 1
        else:
            j = i
            while j < n and not line[j].isspace() and line[j] not in '{};"#':
                j += 1
            out.append(("word", line[i:j]))
            i = j
    return out


def statements(toks: list[Token]) -> list[tuple[list[Token], str]]:
    """Tokens cut into statements, each with what ended it: ``;``, ``{`` or ``}``.

    Raises ``_Malformed`` for words left without an end, or a statement that does not start
    with a keyword.
    """
    out: list[tuple[list[Token], str]] = []
    current: list[Token] = []
    for tok in toks:
        if tok[0] != "punct":
            current.append(tok)
            continue
        if tok[1] == "}":
            if current:
                raise _Malformed("expected ';' before '}'")
            out.append(([], "}"))
            continue
        if not current or current[0][0] != "word":
            raise _Malformed(f"expected a keyword before {tok[1]!r}")
        out.append((current, tok[1]))
        current = []
    if current:
        raise _Malformed("expected a statement ending in ';', '{' or '}'")
    return out


def parse_time(args: list[Token]) -> datetime | None:
    """``W yyyy/mm/dd hh:mm:ss`` (UTC) or ``epoch N``; None for ``never``.

    Raises ``_Malformed`` for anything else.
    """
    words = [t[1] for t in args]
    if words == ["never"]:
        return None
    try:
        if len(words) == 2 and words[0] == "epoch" and words[1].isascii() and words[1].isdigit():
            return datetime.fromtimestamp(int(words[1]), UTC)
        if len(words) == 3 and (d := _DATE.match(words[1])) and (t := _TIME.match(words[2])):
            y, mo, dd = (int(x) for x in d.groups())
            h, mi, s = (int(x) for x in t.groups())
            return datetime(y, mo, dd, h, mi, s, tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise _Malformed(f"{' '.join(words)[:40]!r} is not a dhcpd time")


def mac_of_duid(iaid_duid: bytes) -> str | None:
    """The MAC in an ``ia-na`` key (a 4-byte IAID, then the DUID) when the DUID is
    link-layer based on Ethernet: DUID-LLT (type 1) or DUID-LL (type 3), hardware type 1."""
    duid = iaid_duid[4:]
    if len(duid) == 14 and duid[:4] == b"\x00\x01\x00\x01":
        mac = duid[8:]
    elif len(duid) == 10 and duid[:4] == b"\x00\x03\x00\x01":
        mac = duid[4:]
    else:
        return None
    return ":".join(f"{b:02x}" for b in mac)


@dataclass(slots=True)
class _Address:
    ip: str
    state: str | None = None
    ends: datetime | None = None


@dataclass(slots=True)
class _Block:
    """A top-level declaration being read."""

    kind: str  # lease, ia (ia-na / ia-ta) or other
    ip: str | None = None
    state: str | None = None
    starts: datetime | None = None
    ends: datetime | None = None
    cltt: datetime | None = None
    mac: str | None = None
    hostname: str | None = None
    abandoned: bool = False
    addresses: list[_Address] = field(default_factory=list)


def _opening(words: list[Token]) -> _Block:
    """The block a top-level ``... {`` opens."""
    keyword = words[0][1]
    if keyword == "lease" and len(words) == 2:
        try:
            return _Block("lease", ip=str(ipaddress.ip_address(words[1][1])))
        except ValueError:
            raise _Malformed(f"lease address {words[1][1][:60]!r} is not an IP") from None
    if keyword in ("ia-na", "ia-ta") and len(words) == 2 and words[1][0] == "str":
        return _Block("ia", mac=mac_of_duid(words[1][1].encode("latin-1")))
    return _Block("other")


class DhcpdLeasesSession:
    """One leases file: the block being read and how deep in it the reader is."""

    def __init__(self) -> None:
        self.depth = 0
        self.block: _Block | None = None
        self.address: _Address | None = None

    def _statement(self, words: list[Token]) -> None:
        b = self.block
        if b is None or b.kind == "other":
            return
        key = words[0][1]
        args = words[1:]
        values = [t[1] for t in args]
        target = self.address if self.depth == 2 else None
        if self.depth == 2 and target is not None:
            if key == "binding" and values[:1] == ["state"] and len(values) == 2:
                target.state = values[1].lower()
            elif key == "ends":
                target.ends = parse_time(args)
            return
        if self.depth != 1:
            return
        if key == "binding" and values[:1] == ["state"] and len(values) == 2:
            b.state = values[1].lower()
        elif key in ("starts", "ends", "cltt"):
            setattr(b, key, parse_time(args))
        elif key == "hardware" and len(values) == 2 and values[0] == "ethernet":
            mac = values[1].lower()
            if not _MAC.match(mac):
                raise _Malformed(f"{values[1][:40]!r} is not a MAC address")
            b.mac = ":".join(part.zfill(2) for part in mac.split(":"))
        elif key == "client-hostname" and len(args) == 1 and args[0][0] == "str":
            name = args[0][1].encode("latin-1").decode("utf-8", "replace").strip()
            b.hostname = name[:256] or None
        elif key == "abandoned":
            b.abandoned = True

    def _open(self, words: list[Token]) -> None:
        if self.depth == 0:
            self.block = _opening(words)
        elif (
            self.depth == 1
            and self.block is not None
            and self.block.kind == "ia"
            and words[0][1] == "iaaddr"
            and len(words) == 2
        ):
            try:
                ip = str(ipaddress.ip_address(words[1][1]))
            except ValueError:
                raise _Malformed(f"iaaddr {words[1][1][:60]!r} is not an IP") from None
            self.address = _Address(ip)
            if len(self.block.addresses) < _MAX_ADDRESSES:
                self.block.addresses.append(self.address)
        self.depth += 1

    def _close(self, ctx: ParseContext) -> list[Event]:
        if self.depth == 0:
            return []  # the end of a block begun before this session was resumed
        self.depth -= 1
        if self.depth == 1:
            self.address = None
        if self.depth > 0:
            return []
        block, self.block = self.block, None
        return [] if block is None else _events(block, ctx)

    def parse(self, line: str, ctx: ParseContext) -> Parsed:
        try:
            stmts = statements(tokens(line))
        except _Malformed as exc:
            return reject(f"not a dhcpd.leases line: {exc}")
        if self.depth + sum(end == "{" for _, end in stmts) > _MAX_DEPTH:
            return reject(f"blocks nested more than {_MAX_DEPTH} deep")
        events: list[Event] = []
        try:
            for words, end in stmts:
                if end == "{":
                    self._open(words)
                elif end == "}":
                    events += self._close(ctx)
                else:
                    self._statement(words)
        except _Malformed as exc:
            return reject(f"not a dhcpd.leases line: {exc}")
        return Parsed(events=tuple(events)) if events else SKIP


def _events(block: _Block, ctx: ParseContext) -> list[Event]:
    if block.kind == "lease" and block.ip is not None:
        if block.abandoned or (block.state is not None and block.state not in _HELD):
            return []
        start = block.starts or block.cltt
        return [
            Event(
                kind=EventKind.LEASE,
                ts=start or ctx.reference,
                client_ip=block.ip,
                client_mac=block.mac,
                hostname=block.hostname,
                lease_end=block.ends,
                lease_start=start,
            )
        ]
    if block.kind == "ia":
        return [
            Event(
                kind=EventKind.LEASE,
                ts=block.cltt or ctx.reference,
                client_ip=a.ip,
                client_mac=block.mac,
                lease_end=a.ends,
                lease_start=block.cltt,
            )
            for a in block.addresses
            if a.state is None or a.state in _HELD
        ]
    return []


# A state file rewritten whole: read from its file, never sent to a listener.
PARSER = StatefulParser(
    "dhcpd-leases", DhcpdLeasesSession, snapshot=True, needs=Needs(listened=False)
)
