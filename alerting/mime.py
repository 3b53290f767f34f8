"""A plain text mail with an HTML alternative, written as the bytes the email package's
default policy gives it, without the package's objects (which cost most of an alert's
mail): for mails whose every header is one short line of plain ASCII and whose parts go as
7bit, 8bit or quoted-printable. Any other mail is left to the email package (``None``).

What the package writes, for such a mail: the headers as given, each on its own line; then
``MIME-Version`` and a ``multipart/alternative`` ``Content-Type`` whose boundary parameter
is folded onto a line of its own; a blank line; each part after a boundary line, with its
``Content-Type`` (``charset="utf-8"``), its ``Content-Transfer-Encoding`` chosen as
``email.contentmanager`` chooses it, and (the alternative part, which the package makes as
a message of its own) ``MIME-Version``; and the closing boundary."""

from __future__ import annotations

import binascii
import random
import re
import sys
from collections.abc import Sequence
from email import quoprimime

# As the email package's generator makes a boundary: fifteen "=", a random number of as
# many digits as the largest, "==".
_DIGITS = len(repr(sys.maxsize - 1))
# The longest line the default policy leaves unfolded.
_MAX_LINE = 78
# Header values the package writes back unchanged: printable ASCII words (none of the
# characters that quote, comment or escape, no encoded word) with single spaces between.
_PLAIN = re.compile(r"(?:[!#-\'*-\[\]-~]+)(?: [!#-\'*-\[\]-~]+)*")
_WORD = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
_ADDRESS = re.compile(rf"{_WORD}@{_WORD}")
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
_ID = re.compile(r"<[A-Za-z0-9._-]+@[A-Za-z0-9.-]+>")
_ID_HEADERS = frozenset({"message-id", "in-reply-to", "references"})


def _plain_header(name: str, value: str) -> bool:
    """Whether the package would write ``name: value`` back as it is, on one line."""
    if len(name) + 2 + len(value) > _MAX_LINE or not _PLAIN.fullmatch(value):
        return False
    if "=?" in value:
        return False
    key = name.lower()
    if key in _ADDRESS_HEADERS:
        return all(_ADDRESS.fullmatch(a) for a in value.split(", "))
    if key in _ID_HEADERS:
        return _ID.fullmatch(value) is not None
    # A date is parsed and written again: only the caller's own format_datetime text.
    return (
        key != "date"
        or re.fullmatch(
            r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}", value
        )
        is not None
    )


def _encoded(text: str) -> tuple[str, bytes] | None:
    """A part's transfer encoding and body, as ``email.contentmanager`` chooses them for
    utf-8 text under the default policy (None for base64, left to the package)."""
    lines = text.encode("utf-8").splitlines()
    body = b"\n".join(lines) + b"\n"
    if max((len(x) for x in lines), default=0) <= _MAX_LINE:
        return ("7bit" if body.isascii() else "8bit"), body
    sniff = b"\n".join(lines[:10]) + b"\n"
    sniff_qp = quoprimime.body_encode(sniff.decode("latin-1"), _MAX_LINE)
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        return None
    if len(lines) <= 10:
        return "quoted-printable", sniff_qp.encode("ascii")
    return "quoted-printable", quoprimime.body_encode(body.decode("latin-1"), _MAX_LINE).encode(
        "ascii"
    )


def _boundary(*parts: bytes) -> str:
    """A boundary in the package's form that no part holds."""
    while True:
        token = random.randrange(sys.maxsize)
        boundary = "=" * 15 + f"{token:0{_DIGITS}d}" + "=="
        if not any(boundary.encode("ascii") in p for p in parts):
            return boundary


def alternative(headers: Sequence[tuple[str, str]], text: str, html: str) -> bytes | None:
    """The mail of ``headers`` (in their order), a plain ``text`` part and an ``html``
    alternative, as ``bytes(msg)`` of an ``EmailMessage`` under the default policy gives
    it (``msg[name] = value`` for each header, then ``set_content(text)`` and
    ``add_alternative(html, subtype="html")``); None where that is not known to hold."""
    if not all(_plain_header(name, value) for name, value in headers):
        return None
    plain, rich = _encoded(text), _encoded(html)
    if plain is None or rich is None:
        return None
    boundary = _boundary(plain[1], rich[1])
    head = "".join(f"{name}: {value}\n" for name, value in headers)
    return b"".join(
        (
            head.encode("ascii"),
            b"MIME-Version: 1.0\n",
            b'Content-Type: multipart/alternative;\n boundary="',
            boundary.encode("ascii"),
            b'"\n\n--',
            boundary.encode("ascii"),
            b'\nContent-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: ',
            plain[0].encode("ascii"),
            b"\n\n",
            plain[1],
            b"\n--",
            boundary.encode("ascii"),
            b'\nContent-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: ',
            rich[0].encode("ascii"),
            b"\nMIME-Version: 1.0\n\n",
            rich[1],
            b"\n--",
            boundary.encode("ascii"),
            b"--\n",
        )
    )
