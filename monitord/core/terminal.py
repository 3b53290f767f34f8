"""Text from logs and reports made safe to show on an operator's terminal.

What a pupil controls (a URL, a search, typed text, a DHCP host name, a window title) can hold
escape sequences that move the cursor, rewrite what is on the screen, set the window's title
or make a hidden link; right-to-left overrides (U+202E) that show a name backwards; and, for
a table drawn by rich, markup such as ``[link=...]`` or a stray ``[/]`` that would make a link
or stop the command. Every character of that kind is shown as ``?`` (an escape sequence as one
``?``), and the console never reads markup or emoji codes in what it prints.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

from rich.console import Console

# Bidirectional controls, and the invisible characters that can hide or join text.
_FORMAT = "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
# An ANSI escape sequence: CSI (ESC [ or the C1 byte), OSC (a title, a hyperlink), or ESC and
# one character.
_SEQUENCE = (
    r"\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?"
)
# A sequence, or any control character.
_UNSAFE = re.compile(rf"{_SEQUENCE}|[\x00-\x1f\x7f-\x9f\u2028\u2029{_FORMAT}]", re.S)
# The same, but keeping line ends and tabs: for whole documents written to a terminal.
_UNSAFE_IN_TEXT = re.compile(
    rf"{_SEQUENCE}|[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_FORMAT}]", re.S
)
# Characters JSON text may hold raw that a terminal acts on: written as \u escapes instead.
_JSON_UNSAFE = re.compile(rf"[\x7f-\x9f\u2028\u2029{_FORMAT}]")


def printable(value: object) -> str:
    """One value as a single line a terminal shows as it is."""
    return _UNSAFE.sub("?", str(value))


def printable_text(value: str) -> str:
    """A whole document (CSV, a rendered digest) with its lines and tabs kept."""
    return _UNSAFE_IN_TEXT.sub("?", value)


def json_printable(text: str) -> str:
    """JSON text with C1 controls and bidirectional or invisible characters escaped
    (``\\u202e``): the same JSON value, nothing a terminal would act on."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _Screen:
    """A stream that cleans what is written to it, resolved at each write (tests swap
    ``sys.stdout``)."""

    def __init__(self, stderr: bool) -> None:
        self.stderr = stderr

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self.stderr else sys.stdout

    def write(self, text: str) -> int:
        return self.stream.write(printable_text(text))

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


def console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A rich console for the command line: no markup, emoji codes or highlighting read in
    what it prints, no styling of its own, and every control character cleaned on the way
    out. ``width``: so many columns, whatever the terminal's (None: the terminal's)."""
    return Console(
        file=_Screen(stderr),  # type: ignore[arg-type]
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=True,
        color_system=None,
    )
