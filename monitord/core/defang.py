"""Text safe to show a person: printable characters only (no control characters, no
bidirectional overrides), and indicators defanged so that no mail client, terminal or page
turns a logged URL or host into a live link."""

from __future__ import annotations

import re

# Control characters, and the bidirectional overrides and invisible characters that make a
# name or a link read otherwise than it is (U+202E shows "moc.evil" as "live.com").
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u206f\ufeff]"
)
# A link anywhere in the text (inside a redirect's query, after a space), not only at the start.
_LIVE = re.compile(r"(?i)\b(https?|ftps?)://([^/\s]*)")
# A dot between two characters of a name, in any of the forms a mail client reads as one
# (the ideographic and full-width dots too): every host in the text, wherever it stands
# (www.x.com, //x.org, a bare host in a query), stops being a link.
_HOST_DOT = re.compile(r"(?<=[^\s./\[\]])[.\u3002\uff0e\uff61](?=[^\s./\[\]])")


def clean(text: object, limit: int = 2000) -> str:
    """Printable text only: no CR, LF or other control characters, at most ``limit`` chars."""
    s = _CONTROL.sub(" ", str(text))
    return s if len(s) <= limit else s[: limit - 1] + "\u2026"


def defang(indicator: str, limit: int = 2000) -> str:
    """``https://www.example.com/x`` to ``hxxps://www[.]example[.]com/x``: never a live link,
    whatever form it takes (``www.x.com``, ``//x.org``, a bare host anywhere in the text)."""
    s = clean(indicator, limit)
    scheme = ""
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", s)
    if m:
        scheme = m.group(1).lower().replace("http", "hxxp").replace("ftp", "fxp") + "://"
        s = s[m.end() :]
    out = scheme + _HOST_DOT.sub("[.]", s)
    # One at a time: a link's "host" may swallow the next link ("http://http://evil.com").
    while (live := _LIVE.search(out)) is not None:
        fanged = live.group(1).lower().replace("http", "hxxp").replace("ftp", "fxp")
        fanged += "://" + _HOST_DOT.sub("[.]", live.group(2))
        out = out[: live.start()] + fanged + out[live.end() :]
    # Within ``limit`` once defanged too (a cut "[.]" leaves no dot behind it).
    return out if len(out) <= limit else out[: limit - 1] + "\u2026"
