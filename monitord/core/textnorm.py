"""Text normalisation before phrase matching: what a child types, as the phrase lists spell it.

Pupils write round filters, on purpose or not: ``SU1C1DE``, ``k i l l``, ``k.i.l.l``,
``diiiie``, ``$elf h@rm``, accents and look-alike letters. Every text and every list phrase goes
through the same steps, so a phrase written plainly in a list matches its disguised forms:

1. Unicode compatibility forms and accents folded (full-width letters, ``kïll`` -> ``kill``),
   case folded, and Cyrillic or Greek look-alike letters read as their Latin twins.
2. Apostrophes dropped (``don't`` -> ``dont``), so both spellings meet.
3. Symbols used as letters inside a word read as letters (``h@rm``, ``$elf``, ``k!ll``); every
   other character that is not a letter or a digit separates words.
4. Runs of three or more one-character words joined (``k i l l``, ``k.i.l.l``, ``k-i-l-l`` ->
   ``kill``).
5. Digits inside a word that has a letter read as letters: 0 o, 3 e, 4 a, 5 s, 7 t, and 1 as
   either i or l (``su1c1de``, ``ki11``). Numbers on their own (``year 3``) and ordinals
   (``4th``) stay as they are.
6. A letter written three or more times (``diiiie``, ``killlll``) read as once or twice.

Steps 5 (for 1) and 6 are ambiguous, so :func:`variants` gives every reading of a text (up to a
limit); :func:`normalise` gives the first, which is the one a list phrase is stored as. The
result is lower-case words separated by single spaces, without leading or trailing space.
Nothing here raises on any string.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator

# Cyrillic, Greek and other letters that look like Latin ones, as pupils paste them to dodge
# filters (Cyrillic a, e, o, p, c ..., Greek alpha, iota, omicron ..., dotless i, l with stroke).
_CONFUSABLES = str.maketrans(
    "\u0430\u0432\u0435\u0451\u043a\u043c"
    "\u043d\u043e\u0440\u0441\u0442\u0443"
    "\u0445\u0456\u0457\u0458\u0455\u0501"
    "\u04cf\u03b1\u03b2\u03b5\u03b9\u03ba"
    "\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7"
    "\u0131\u0142\u00f8\u0111\u0127\u0167",
    "abeekmhopctyxiijsdlabeikvoptuxilodht",
)

# ' and its typographic and modifier-letter look-alikes.
_APOSTROPHES = str.maketrans(dict.fromkeys("'`\u2019\u2018\u00b4\u02bc\u02b9\u2032", None))

# A symbol used as a letter: between two word characters (@ ! |), or $ next to a letter.
_INNER_SYMBOL = re.compile(r"(?<=[^\W_])[@!|]+(?=[^\W_])")
_DOLLAR = re.compile(r"(?<=[^\W\d_])\$+|\$+(?=[^\W\d_])")
_SYMBOL_AS = {"@": "a", "!": "1", "|": "1"}

_TOKEN = re.compile(r"[^\W_]+")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_RUN3 = re.compile(r"([^\W\d_])\1{2,}")

_LEET = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s", "7": "t"})
_LEET_DIGITS = frozenset("013457")

# How many readings of one text :func:`variants` gives at most.
DEFAULT_LIMIT = 16
# A word with more stretched letters than this is read two ways only (all twice, all once),
# so that "aaabbbccc..." cannot ask for 2**n readings.
_MAX_RUNS = 4


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold().translate(_CONFUSABLES)


def _symbols(text: str) -> str:
    if "$" in text:
        text = _DOLLAR.sub(lambda m: "s" * len(m.group()), text)
    if "@" in text or "!" in text or "|" in text:
        text = _INNER_SYMBOL.sub(lambda m: "".join(_SYMBOL_AS[c] for c in m.group()), text)
    return text


def _join_spaced(tokens: list[str]) -> list[str]:
    """Runs of three or more one-character words with a letter among them become one word."""
    if sum(len(t) == 1 for t in tokens) < 3:
        return tokens
    out: list[str] = []
    run: list[str] = []
    for tok in [*tokens, ""]:
        if len(tok) == 1:
            run.append(tok)
            continue
        if len(run) >= 3 and any(c.isalpha() for c in run):
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if tok:
            out.append(tok)
    return out


def _tokens(text: str) -> list[str]:
    folded = _symbols(_fold(text).translate(_APOSTROPHES))
    return _join_spaced(_TOKEN.findall(folded))


def _run_readings(token: str) -> list[str]:
    """Each way of reading the letters a token repeats three or more times: twice, then once."""
    parts = _RUN3.split(token)
    # split with one group: [text, letter, text, letter, ..., text]
    if len(parts) // 2 > _MAX_RUNS:
        # Too many runs to read each both ways: all twice, then all once.
        twice = "".join(p * 2 if i % 2 else p for i, p in enumerate(parts))
        return [twice, "".join(parts)]
    choices: list[list[str]] = []
    for i, part in enumerate(parts):
        choices.append([part * 2, part] if i % 2 else [part])
    return ["".join(c) for c in itertools.product(*choices)]


def _token_readings(token: str) -> list[str]:
    """Every reading of one word, the canonical one first."""
    if token.isalpha():
        if _RUN3.search(token) is None:
            return [token]
        return _run_readings(token)
    if (
        _LEET_DIGITS.isdisjoint(token)
        or not any(c.isalpha() for c in token)
        or _ORDINAL.fullmatch(token)
    ):
        bases = [token]
    else:
        t = token.translate(_LEET)
        bases = [t.replace("1", "i"), t.replace("1", "l")] if "1" in t else [t]
    readings: list[str] = []
    for base in bases:
        for r in _run_readings(base) if _RUN3.search(base) else [base]:
            if r not in readings:
                readings.append(r)
    return readings


def variants(text: str, limit: int = DEFAULT_LIMIT) -> tuple[str, ...]:
    """Every reading of ``text`` (at most ``limit``; at least one), the canonical one first.

    When the ambiguous words of a text have more readings together than ``limit``, each word's
    readings are taken in step (the first of each, the second of each, ...) instead.
    """
    options = [_token_readings(t) for t in _tokens(text)]
    count = 1
    for o in options:
        count *= len(o)
        if count > limit:
            break
    if count <= limit:
        combos: Iterator[tuple[str, ...]] = itertools.product(*options)
    else:
        widest = max(len(o) for o in options)
        combos = (tuple(o[min(i, len(o) - 1)] for o in options) for i in range(widest))
    out: list[str] = []
    for combo in combos:
        v = " ".join(combo)
        if v not in out:
            out.append(v)
        if len(out) >= max(1, limit):
            break
    return tuple(out) or ("",)


def normalise(text: str) -> str:
    """The canonical reading of ``text``: the form list phrases are stored in."""
    return " ".join(r[0] for r in (_token_readings(t) for t in _tokens(text)))


def compact(text: str) -> str:
    """``text`` normalised with its spaces removed: how ``selfharm`` or ``k i l l m e`` read."""
    return normalise(text).replace(" ", "")
