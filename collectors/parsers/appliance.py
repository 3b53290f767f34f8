"""What the parsers of firewalls' and filters' logs share (FortiGate, Sophos, Palo Alto,
Umbrella, e2guardian): ``key=value`` pairs, the syslog envelope some lines carry, their
times, and the checks every address, MAC and user name from such a line goes through."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, tzinfo

from collectors.parsers.base import ParseContext
from collectors.parsers.envelope import BadEnvelope, parse_envelope
from collectors.parsers.urls import normalise_user

# key=value, the value double-quoted (with \" inside) or bare. A bare value runs on over
# spaces while the next word is not itself a key= (an SFOS 18 line writes
# ``domain=www. google.ca``), and may be empty (``exceptions= activityname=""``).
_PAIR = re.compile(
    r'(?P<key>[A-Za-z_][\w.-]{0,63})=(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|'
    r'(?P<bare>[^\s"]*(?:\s+(?![A-Za-z_][\w.-]{0,63}=)[^\s"=]+)*))'
)
_UNESCAPE = re.compile(r"\\([\"\\])")
_MAC = re.compile(r"^[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5}$")
MAX_FIELD = 4096  # a value longer than this is cut (a URL is kept whole up to here)


def pairs(text: str) -> dict[str, str]:
    """The ``key=value`` pairs of a line; a key given twice keeps its first value."""
    out: dict[str, str] = {}
    for key, quoted, bare in _PAIR.findall(text):
        if key in out:
            continue
        if "\\" in quoted:
            quoted = _UNESCAPE.sub(r"\1", quoted)
        value = quoted or bare  # an empty quoted value and an empty bare one are both ""
        out[key] = value if len(value) <= MAX_FIELD else value[:MAX_FIELD]
    return out


def message_of(
    line: str, starts: re.Pattern[str], ctx: ParseContext
) -> tuple[str, datetime | None]:
    """The appliance's own message and the envelope's time, for a line that may carry a
    syslog envelope (``<PRI>``, a time, a host, a program) before it: a line that ``starts``
    already matches is the message itself (a file the appliance wrote, or the message a
    syslog source took out of its envelope). Raises ValueError when the envelope is broken."""
    text = line.rstrip("\r\n")
    if starts.match(text):
        return text, None
    try:
        env = parse_envelope(text, ctx.tz, ctx.reference)
    except BadEnvelope as exc:
        raise ValueError(f"syslog envelope: {exc}") from None
    return env.message, env.timestamp


def ip_or_none(value: str | None) -> str | None:
    """An IP address as Python writes it, or None for anything else."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def mac_or_none(value: str | None) -> str | None:
    """A MAC address as ``aa:bb:cc:dd:ee:ff``, or None for anything else."""
    if not value:
        return None
    v = value.strip().lower()
    return v.replace("-", ":") if _MAC.match(v) else None


def user_or_none(value: str | None) -> str | None:
    """A user name as identity matches it (``DOMAIN\\user`` and ``user@realm`` to ``user``);
    None for none (``""``, ``-``, ``N/A``) or for one too long to be a name."""
    if not value or len(value) > 256 or value.strip().lower() in ("n/a", "none", "unknown"):
        return None
    return normalise_user(value)


def epoch(value: str | None) -> datetime | None:
    """A Unix time in seconds, milliseconds, microseconds or nanoseconds (by its digits), as
    FortiOS writes ``eventtime``; None for anything else."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    digits = len(value)
    scale = 1 if digits <= 10 else 1_000 if digits <= 13 else 1_000_000 if digits <= 16 else 10**9
    try:
        return datetime.fromtimestamp(int(value) / scale, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def local_time(text: str, fmt: str, tz: tzinfo) -> datetime | None:
    """A local time without a zone (the appliance's, taken as the school's) as UTC."""
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=tz).astimezone(UTC)
    except ValueError:
        return None
