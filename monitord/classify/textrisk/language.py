"""Which language a text is in, asked only when it is not plainly English.

A text is plainly English when it is ASCII and no word of another language's lexicon is in it:
nothing is identified then, and nothing is spent. Otherwise, in this order:

1. the script: Bengali, Gurmukhi (Punjabi) and Devanagari letters say the language; Arabic
   script with letters Urdu has and Arabic does not (such as U+0679 tteh, U+06BA noon
   ghunna, U+06D2 yeh barree) is Urdu or Punjabi in Shahmukhi, without them Arabic;
2. CLD2 (``pycld2``, its tables ship inside the wheel: nothing is fetched) when it is sure;
3. the lexicons' marker words (``kaise``, ``hai``, ``się``, ``să``...): Urdu and Punjabi as
   children type them in Latin letters are in no identifier's tables, and a three-word query is
   too short for CLD2 to be sure (or sure of a language with no lexicon: a lexicon word, or two
   marker words, of a language that has one then win). The language with the most marker
   words wins; none: English. A word of the Arabic chat alphabet (``3omrek``, ``t2oli``,
   ``7elwe``: a digit for an Arabic letter, between letters or before two) is a vote for
   Arabic as a marker word is: a short Arabizi line is read with Arabic's joins, not outvoted
   by one Portuguese or English word in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitord.classify.textrisk.normal import BENGALI, DEVANAGARI, GURMUKHI, script_of

try:  # pragma: no cover - the wheel is a dependency; the fallback keeps the engine usable
    import pycld2  # type: ignore[import-untyped]

    HAVE_CLD2 = True
except ImportError:  # pragma: no cover
    HAVE_CLD2 = False

ENGLISH = "en"
_URDU_LETTERS = frozenset("\u0679\u0688\u0691\u06ba\u06d2\u06be\u06af\u067e\u0686\u06c1\u06cc")
# Languages a lexicon's words may be shared with (romanised Urdu and Punjabi, Hindi in Latin
# letters; Spanish and Portuguese).
RELATED: Mapping[str, frozenset[str]] = {
    "ur": frozenset({"ur", "pa", "hi"}),
    "pa": frozenset({"pa", "ur", "hi"}),
    "hi": frozenset({"hi", "ur", "pa"}),
    "es": frozenset({"es", "pt", "gl", "ca"}),
    "pt": frozenset({"pt", "es", "gl"}),
}


@dataclass(frozen=True, slots=True)
class Identified:
    """A text's language (ISO 639-1 code), how it was told, and the languages whose words
    may be read in it (the language itself, its relatives, and any whose marker words it
    has)."""

    code: str
    how: str
    readable: frozenset[str]
    sure: bool = True

    def reads(self, lang: str) -> bool:
        return lang == ENGLISH or lang in self.readable


ARABIC = "ar"
# A word of the Arabic chat alphabet: 2 (hamza), 3 (ain), 5 (kha), 7 (ha), 9 (qaf) between two
# letters ("ba3d", "t2oli") or before two ("3omrek", "7elwe"). Not English text-speak, whose
# digits stand for sounds before a word's end ("2day", "2nite") or for whole words.
_ARABIZI = re.compile(
    r"(?<![\w])\w*(?:[a-z][23579][a-z]|(?<![\w])[23579][a-z]{2})\w*", re.IGNORECASE
)
_TEXT_SPEAK = frozenset(
    {"2day", "2moro", "2morrow", "2morow", "2nite", "2night", "2gether", "2mrw", "2mro", "2nd"}
)

# Ordinals, times, sizes and versions: "3rd", "7pm", "5th", "2xl", "3ds".
_COUNTED = re.compile(r"\d+(?:st|nd|rd|th|am|pm|xl|xs|ds|kg|km|cm|mm|mb|gb|hrs?|mins?|yo|yrs?)")


def arabizi_words(text: str) -> int:
    """How many words of ``text`` are written in the Arabic chat alphabet."""
    if not any(c in "23579" for c in text):
        return 0
    return sum(
        1
        for w in _ARABIZI.findall(text)
        if w.lower() not in _TEXT_SPEAK and _COUNTED.fullmatch(w.lower()) is None
    )


PLAIN_ENGLISH = Identified(ENGLISH, "plainly English", frozenset({ENGLISH}))
# A language whose lexicon words a text has this many of may be read in it, whatever else.
VOTES_TO_READ = 2
# CLD2 this sure (percent of the text) of a language with a lexicon: the others' lexicon
# words do not vote.
SURE_PERCENT = 90


def _cld2(text: str) -> tuple[str, int] | None:
    if not HAVE_CLD2:
        return None
    try:
        reliable, _bytes, details = pycld2.detect(text)
    except (pycld2.error, ValueError):
        return None
    _name, code, percent, _score = details[0]
    if not reliable or code in ("un", "xxx"):
        return None
    return code, percent


def identify(
    text: str,
    words: Iterable[str],
    markers: Mapping[str, frozenset[str]],
    found_words: Mapping[str, int] | None = None,
) -> Identified:
    """The language of ``text``, whose canonical reading has ``words``; ``markers`` are each
    lexicon language's marker words; ``found_words`` how many of each language's lexicon
    phrases the text has (evidence too, for a text too short for CLD2)."""
    script = script_of(text)
    found: str | None = None
    how = ""
    if script == BENGALI:
        found, how = "bn", "Bengali script"
    elif script == GURMUKHI:
        found, how = "pa", "Gurmukhi script (Punjabi)"
    elif script == DEVANAGARI:
        found, how = "hi", "Devanagari script"
    elif script != "Latin":
        if any(c in _URDU_LETTERS for c in text):
            found, how = "ur", "Arabic script with Urdu letters"
        else:
            found, how = "ar", "Arabic script"
    seen = set(words)
    extra = found_words or {}
    votes = {
        code: len(seen & m) + extra.get(code, 0) for code, m in markers.items() if code != ENGLISH
    }
    for code, n in extra.items():
        votes.setdefault(code, n)
    chat = arabizi_words(text) if found is None and ARABIC in markers else 0
    if chat:
        votes[ARABIC] = votes.get(ARABIC, 0) + chat
    voted = {code for code, n in votes.items() if n >= VOTES_TO_READ}
    sure = True
    if found is None:
        cld = _cld2(text)
        # Of languages with as many votes, one with a word of its lexicon in the text.
        best = max(sorted(votes), key=lambda c: (votes[c], extra.get(c, 0))) if votes else None
        # CLD2 sure of a language no lexicon is written for (Chichewa, Xhosa for a line of
        # Roman Bengali) is outvoted by a lexicon word of one that is, or by two of its marker
        # words; one marker word alone is too common ("me", Spanish, in "tango lessons near me").
        elsewhere = cld is not None and cld[0] not in markers and cld[0] not in RELATED
        voted_best = best is not None and (extra.get(best, 0) > 0 or votes[best] >= VOTES_TO_READ)
        if cld is not None and cld[0] != ENGLISH and not (elsewhere and voted_best):
            found, how = cld[0], f"CLD2, {cld[1]}% of the text"
            if found in markers and cld[1] >= SURE_PERCENT:
                # CLD2 sure of a lexicon's language: another is read in it for its marker
                # words, not for its lexicon's own ("pod", "po" of a Polish sentence are
                # Portuguese drugs' "pod", "pó", and would vote for reading them)
                voted = {
                    c
                    for c in voted
                    if len(seen & markers[c]) + (chat if c == ARABIC else 0) >= VOTES_TO_READ
                }
        elif (
            best is not None
            and votes[best]
            and (votes[best] >= VOTES_TO_READ or cld is None or elsewhere)
        ):
            found = best
            shown = sorted(seen & markers.get(best, frozenset()))[:4]
            how = f"its words ({', '.join(shown)})" if shown else "words of its lexicon"
            if best == ARABIC and chat:
                told = f"the Arabic chat alphabet ({chat} word{'s' if chat > 1 else ''})"
                how = f"{told}, {how}" if shown else told
            sure = votes[best] >= VOTES_TO_READ
        elif cld is not None:
            found, how = ENGLISH, f"CLD2, {cld[1]}% of the text"
        else:
            found, how, sure = ENGLISH, "no other language's words", False
    readable = {found, *RELATED.get(found, ()), *voted}
    return Identified(found, how, frozenset(readable), sure)
