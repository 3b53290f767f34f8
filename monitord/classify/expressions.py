"""squidGuard's URL expressions as Python regular expressions: POSIX bracket classes in
Python's spelling, and the literal alternatives an expression's hosts can be indexed by."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator


def _posix_classes(pattern: str) -> str:
    """The POSIX bracket classes squidGuard's regcomp knows, in Python's spelling."""
    table = {
        "[:alpha:]": "a-zA-Z",
        "[:digit:]": "0-9",
        "[:alnum:]": "a-zA-Z0-9",
        "[:upper:]": "A-Z",
        "[:lower:]": "a-z",
        "[:space:]": " \\t\\r\\n\\f\\v",
        "[:xdigit:]": "0-9a-fA-F",
        "[:punct:]": "!-/:-@\\[-`{-~",
    }
    for k, v in table.items():
        pattern = pattern.replace(k, v)
    return pattern


def compile_expression(pattern: str) -> re.Pattern[str]:
    """A UT1/squidGuard expression (POSIX extended, case-insensitive) as a Python regex that
    is applied line by line (``^`` and ``$`` at line ends) to text already in lower case.
    ValueError says why it cannot be."""
    translated = _posix_classes(pattern)
    # Subjects are lower-cased first, so a pattern with no capital letter (hence no \S, \W,
    # \D, \B, \A or \Z either) needs no IGNORECASE, which would cost sre its fast scan for a
    # literal prefix.
    flags = re.MULTILINE if translated == translated.lower() else re.IGNORECASE | re.MULTILINE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return re.compile(translated, flags)
    except (re.error, FutureWarning, DeprecationWarning) as exc:
        raise ValueError(f"expression {pattern!r} is not a regular expression: {exc}") from None


def alternatives(pattern: str) -> list[str]:
    """A pattern's top-level alternatives (outer groups opened), so that each can be scanned
    for on its own with its literal prefix: ``((a.*b)|(c))`` gives ``a.*b`` and ``c``. A
    pattern with a back reference stays whole."""
    if re.search(r"\\[1-9]", pattern):
        return [pattern]
    parts: list[str] = []
    start = 0
    for i, c, depth in _structure(pattern):
        if c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    if len(parts) == 1:
        inner = _outer_group(pattern)
        return alternatives(inner) if inner is not None else [pattern]
    return [q for p in parts for q in alternatives(p)]


def _outer_group(pattern: str) -> str | None:
    """The inside of a plain group that spans the whole pattern, or None."""
    if not (pattern.startswith("(") and pattern.endswith(")")) or pattern.startswith("(?"):
        return None
    for i, c, depth in _structure(pattern):
        if c == ")" and depth == 0 and i != len(pattern) - 1:
            return None
    return pattern[1:-1]


def _structure(pattern: str) -> Iterator[tuple[int, str, int]]:
    """The grouping characters of a pattern (``(``, ``)`` and ``|``) outside escapes and
    bracket classes, each with its index and the group depth once it is read."""
    depth = 0
    i = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif c in "()|":
            depth += 1 if c == "(" else -1 if c == ")" else 0
            yield i, c, depth
        i += 1
