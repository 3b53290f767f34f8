"""Texts and lexicon phrases read the same way: words as a child types them, in any script.

Latin-script text goes through :mod:`monitord.core.textnorm` (accents folded, leetspeak, spacing
and stretched letters undone), with a fast path for plain lower-case ASCII. Words in Arabic
script (Urdu, Punjabi Shahmukhi, Arabic), Bengali, Gurmukhi and Devanagari keep their letters
and vowel signs (textnorm would strip the signs and split the words); only the spellings that
vary from keyboard to keyboard are made one: Arabic and Urdu forms of yeh, kaf, heh and alef,
harakat and tatweel, zero-width joiners, native digits. Emoji that carry a meaning are read as
words of their own (``🔪`` -> ``emojiknife``), so a lexicon can list them; the rest are spaces.
Nothing here raises on any string.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from monitord.core.textnorm import normalise, variants

# Emoji with a meaning in the lexicons; skin tones and the emoji variation selector go first.
EMOJI: dict[str, str] = {
    "\U0001f52a": "knife",  # kitchen knife
    "\U0001f5e1": "dagger",
    "\u2694": "swords",
    "\U0001f52b": "gun",
    "\U0001f4a3": "bomb",
    "\U0001f9e8": "dynamite",
    "\U0001f48a": "pill",
    "\U0001f489": "syringe",
    "\U0001f343": "leaf",  # weed
    "\U0001f33f": "herb",
    "\U0001f96c": "greens",
    "\u2744": "snowflake",  # cocaine
    "\U0001f50c": "plug",  # a dealer
    "\U0001f344": "mushroom",
    "\U0001f4a8": "dash",
    "\U0001f346": "aubergine",
    "\U0001f351": "peach",
    "\U0001f4a6": "droplets",
    "\U0001f445": "tongue",
    "\U0001fa62": "knot",  # rope
    "\U0001fa78": "blood",
    "\U0001fa93": "axe",
    "\u26b0": "coffin",
    "\U0001f51e": "under18",
    "\U0001f92b": "shush",
    "\U0001f4f8": "camera",
    "\U0001f4f7": "camera",
    "\U0001f381": "gift",
    "\U0001f4b8": "money",
    "\U0001f4b0": "money",
    "\U0001f60f": "smirk",  # a knowing look, beside a request for a picture
}
EMOJI_PREFIX = "emoji"
_EMOJI_TABLE = str.maketrans({k: f" {EMOJI_PREFIX}{v} " for k, v in EMOJI.items()})
_EMOJI_WORDS = {f"{EMOJI_PREFIX}{v}": k for k, v in EMOJI.items()}
_DROP = dict.fromkeys(map(ord, "\ufe0f\ufe0e\u200c\u200d\u200b\u2060\u0640"), None)
_DROP.update(dict.fromkeys(range(0x1F3FB, 0x1F400)))  # skin tones
_DROP.update(dict.fromkeys(range(0x064B, 0x0660)))  # Arabic harakat
_DROP[0x0670] = None

# Arabic-script letters written differently by different keyboards, made one.
_ARABIC = str.maketrans(
    {
        "\u0623": "\u0627",  # alef with hamza above
        "\u0625": "\u0627",  # alef with hamza below
        "\u0622": "\u0627",  # alef with madda
        "\u0671": "\u0627",  # alef wasla
        "\u0649": "\u064a",  # alef maksura -> yeh
        "\u06cc": "\u064a",  # Farsi/Urdu yeh -> Arabic yeh
        "\u06d2": "\u064a",  # yeh barree (Urdu final) -> yeh
        "\u06d3": "\u064a",
        "\u0643": "\u06a9",  # Arabic kaf -> keheh
        "\u06c1": "\u0647",  # heh goal -> heh
        "\u06c3": "\u0647",
        "\u0629": "\u0647",  # teh marbuta -> heh
        "\u06c0": "\u0647",
        "\u0624": "\u0648",  # waw with hamza -> waw
        "\u0626": "\u064a",  # yeh with hamza -> yeh
    }
)
# Arabic-Indic, Eastern Arabic-Indic, Bengali, Gurmukhi and Devanagari digits -> ASCII.
_DIGITS = {}
for _base in (0x0660, 0x06F0, 0x09E6, 0x0A66, 0x0966):
    for _i in range(10):
        _DIGITS[_base + _i] = str(_i)

# Scripts that keep their own letters: Arabic (with its supplements and presentation forms),
# Devanagari, Bengali, Gurmukhi.
_NATIVE = re.compile(
    "[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff\u0900-\u0a7f]"
)
_PLAIN = re.compile(r"[a-z ]*")
_DIGIT = re.compile(r"\d")
_RUN3 = re.compile(r"(.)\1\1")

# Scripts, as language identification and explanations name them.
LATIN, ARABIC, BENGALI = "Latin", "Arabic", "Bengali"
GURMUKHI, DEVANAGARI = "Gurmukhi", "Devanagari"


def script_of(text: str) -> str:
    """The first non-Latin script the text has a letter in, else ``Latin``."""
    m = _NATIVE.search(text)
    if m is None:
        return LATIN
    c = ord(m.group())
    if 0x0980 <= c <= 0x09FF:
        return BENGALI
    if 0x0A00 <= c <= 0x0A7F:
        return GURMUKHI
    if 0x0900 <= c <= 0x097F:
        return DEVANAGARI
    return ARABIC


# Arabic attaches short words to the next one: "and" and "so" (waw, fa), "with", "to" and
# "like" (ba, lam, kaf), the article (alef lam, which "to" shortens to lam lam), and in speech
# "on the" (ain alef lam). A second reading has each word of Arabic script without them, as
# long as three letters are left, so that "وارسلي" meets "ارسلي", "لداعش" "داعش" and
# "بالسكين" "سكين". Urdu and Punjabi in Arabic script attach none of these: a text with
# letters only they use is left as it is.
_WAW = "\u0648"
_CONJUNCTIONS = ("\u0648", "\u0641")
_PREPOSITIONS = ("\u0628", "\u0644", "\u06a9")
_ARTICLES = ("\u0639\u0627\u0644", "\u0627\u0644", "\u0644\u0644")
_URDU_ONLY = frozenset("\u0679\u0688\u0691\u06ba\u06be\u06af\u067e\u0686")
_BARE_MIN = 3


def _bare_word(word: str) -> str:
    for prefixes in (_CONJUNCTIONS, _PREPOSITIONS, _ARTICLES):
        for p in prefixes:
            if word.startswith(p) and len(word) - len(p) >= _BARE_MIN:
                word = word[len(p) :]
                break
    return word


def _without_clitics(reading: str) -> tuple[str, ...]:
    """The readings of Arabic-script words without what is attached to them: without "and"
    alone ("ولا تقولي لأحد" meets "لا تقولي لأحد"), and without every clitic."""
    out = []
    bare = _without_waw(reading)
    if bare is not None:
        out.append(bare)
    if _URDU_ONLY.isdisjoint(reading):
        words = reading.split()
        stripped = " ".join(_bare_word(w) if _NATIVE.match(w) else w for w in words)
        if stripped != reading and stripped != bare:
            out.append(stripped)
    return tuple(out)


def _without_waw(reading: str) -> str | None:
    words = reading.split()
    out = [w[1:] if w.startswith(_WAW) and len(w) >= 3 else w for w in words]
    return " ".join(out) if out != words else None


def _native_word(word: str) -> str:
    w = unicodedata.normalize("NFKC", word).translate(_DROP).translate(_ARABIC)
    w = w.translate(_DIGITS)
    out = []
    for ch in w:
        cat = unicodedata.category(ch)
        out.append(" " if cat[0] in "PSZC" else ch.lower())
    return " ".join("".join(out).split())


def _mixed(text: str) -> str:
    """A text with native-script words: each such word kept (folded), the rest normalised."""
    words = []
    for chunk in text.split():
        w = _native_word(chunk) if _NATIVE.search(chunk) else normalise(chunk)
        if w:
            words.append(w)
    return " ".join(words)


# Text-speak read as the words it stands for, as an extra reading (``dont tell ur mum``).
TEXTSPEAK: dict[str, str] = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "ya": "you",
    "yr": "your",
    "urself": "yourself",
    "pls": "please",
    "plz": "please",
    "cuz": "because",
    "coz": "because",
    "bc": "because",
    "n": "and",
    "wat": "what",
    "wot": "what",
    "hw": "how",
    "b4": "before",
    "2nite": "tonight",
    "2night": "tonight",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "2moro": "tomorrow",
    "ppl": "people",
    "sum1": "someone",
    "some1": "someone",
    "any1": "anyone",
    "no1": "no one",
    "every1": "everyone",
    "da": "the",
    "dat": "that",
    "wen": "when",
    "wana": "want to",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "got to",
    "ima": "im going to",
    "imma": "im going to",
    "dnt": "dont",
    "pic": "picture",
    "pics": "pictures",
    "yrs": "years",
    "yo": "years old",
    "bout": "about",
    "abt": "about",
    "sumthing": "something",
    "smth": "something",
    "nuffin": "nothing",
    "bf": "boyfriend",
    "gf": "girlfriend",
    "wyd": "what are you doing",
}
# Words a child puts inside a phrase without changing what it says ("whats even the point",
# "i literally want to disappear", "kms fr"): the extra reading leaves them out.
FILLERS = frozenset(
    {
        "even",
        "just",
        "really",
        "literally",
        "actually",
        "honestly",
        "seriously",
        "genuinely",
        "basically",
        "totally",
        "lowkey",
        "highkey",
        "deadass",
        "kinda",
        "fr",
        "frfr",
        "tbh",
        "ngl",
        "rn",
        "lol",
        "lmao",
        "like",
    }
)
_SPEAK = frozenset(TEXTSPEAK) | FILLERS
# Text-speak with a digit in it, which leetspeak would otherwise read as letters ("no1" is not
# "noi"): spelt out before the text is read, as one more reading.
_DIGIT_SPEAK = re.compile(
    r"(?<![a-z0-9])("
    + "|".join(sorted((w for w in TEXTSPEAK if any(c.isdigit() for c in w)), key=len, reverse=True))
    + r")(?![a-z0-9])"
)


def _spoken(reading: str) -> str | None:
    words = reading.split()
    if _SPEAK.isdisjoint(words):
        return None
    out = " ".join(t for w in words if (t := TEXTSPEAK.get(w, "" if w in FILLERS else w)))
    return out if out and out != reading else None


# Short texts come again and again (window titles, "ok", a class's searches): their readings
# are remembered, a bounded number.
_KEPT_CHARS = 200


def readings(text: str) -> tuple[str, ...]:
    """Every reading of ``text`` a lexicon is matched against, the canonical one first: lower
    case words separated by single spaces; text-speak spelt out, with the fillers left out, is one
    more reading."""
    return _kept_readings(text) if len(text) <= _KEPT_CHARS else _all_readings(text)


# A pupil telling what someone asked of them ("he wants me to show him my body") is read once
# more as the asker said it ("show me your body"): persons swapped after the report, so that
# what a lexicon lists in the asker's words is found in the pupil's.
_REPORT = re.compile(
    r"(?:^| )(?:wants me to|wanted me to|asked me to|asks me to|asking me to|told me to"
    r"|tells me to|telling me to|made me|keeps asking me to|keeps asking me for|asked me for"
    r"|asks me for|asked me|asks me|asked|said|says|saying|keeps saying|kept saying|wants|wanted"
    r"|threatening to|threatened to|threatens to)"
    r"(?= )"
)
# Who is reported: someone else, never the pupil ("i said i want to die" stays as it is).
_REPORTERS = frozenset(
    {"he", "she", "they", "someone", "somebody", "man", "guy", "lad", "boy", "girl", "person"}
    | {"stranger", "boyfriend", "girlfriend", "bf", "gf", "hes", "shes"}
)
_CUES = re.compile("want|ask|said|say|told|tell|made|threat")
_SWAP = {
    "me": "you",
    "my": "your",
    "myself": "yourself",
    "i": "you",
    "im": "youre",
    "mine": "yours",
    "him": "me",
    "her": "me",
    "his": "my",
    "them": "me",
}


def _reported(reading: str) -> str | None:
    if _CUES.search(reading) is None:
        return None
    m = _REPORT.search(reading)
    if m is None or _REPORTERS.isdisjoint(reading[: m.start()].split()):
        return None
    rest = reading[m.end() :].split()
    swapped = " ".join(_SWAP.get(w, w) for w in rest)
    return f"{reading[: m.end()]} {swapped}" if rest and swapped != " ".join(rest) else None


# Text-speak of one letter ("r u", "how old r u? u seem") is words, not a word spaced out
# ("k i l l"): where spacing was undone across them, the words are read as typed as well.
_LETTER_SPEAK = re.compile(r"(?<![a-z0-9'])[urn](?![a-z0-9'])")
_WORD = re.compile(r"[a-z0-9]+")


def _letters_spoken(text: str) -> str | None:
    low = text.lower()
    if len(_LETTER_SPEAK.findall(low)) < 2:
        return None
    return _spoken(" ".join(_WORD.findall(low.replace("'", ""))))


def _all_readings(text: str) -> tuple[str, ...]:
    first = _readings(text)
    spoken = _spoken(first[0])
    out = first if spoken is None or spoken in first else (*first, spoken)
    if text.isascii() and first[0] != text.lower():
        letters = _letters_spoken(text)
        if letters is not None and letters not in out:
            out = (*out, letters)
    told = _reported(out[-1])
    if told is not None:
        out = (*out, told)
    # a text read as typed (most are) has no digit that leetspeak turned into a letter
    if first[0] != text and text.isascii() and _DIGIT.search(text) is not None:
        low = text.lower()
        spelt = _DIGIT_SPEAK.sub(lambda m: TEXTSPEAK[m.group()], low)
        if spelt != low:
            more = _readings(spelt)[0]
            said = _spoken(more) or more
            out = (*out, *(r for r in dict.fromkeys((more, said)) if r not in out))
    return out


_kept_readings = lru_cache(maxsize=8192)(_all_readings)


def _joined(pieces: tuple[str, ...]) -> tuple[str, ...]:
    first = " ".join(readings(p)[0] for p in pieces)
    spoken = " ".join(readings(p)[-1] for p in pieces)
    return (first,) if spoken == first else (first, spoken)


# A class's typing repeats its short pieces ("ok", "lol", "see you at lunch") in the same
# few orders.
_kept_joins = lru_cache(maxsize=4096)(_joined)


def joined_readings(pieces: tuple[str, ...]) -> tuple[str, ...]:
    """The readings of short pieces typed one after another, read as one sentence: the
    canonical readings joined, and text-speak spelt out (when that differs)."""
    if sum(map(len, pieces)) > _KEPT_CHARS:
        return _joined(pieces)
    return _kept_joins(pieces)


def forget_readings() -> None:
    """Forget the remembered readings (a benchmark measures reading itself)."""
    _kept_readings.cache_clear()
    _kept_joins.cache_clear()


# "18+" (and "+18", as Spanish and Portuguese write it) is a sign of its own, not the number
# 18: "18+ videos" is not "there are 18 videos". A sum ("18+3") is left alone.
_ADULTS_ONLY = re.compile(r"(?<![\d.])18 ?\+(?! ?\d)|(?<!\d)(?<!\d )\+ ?18(?![\d.])")
ADULTS_ONLY = "eighteenplus"


def _readings(text: str) -> tuple[str, ...]:
    if "+" in text and "18" in text:
        text = _ADULTS_ONLY.sub(f" {ADULTS_ONLY} ", text)
    if text.isascii():
        low = text.lower()
        if _PLAIN.fullmatch(low) and _RUN3.search(low) is None:
            words = low.split()
            if sum(len(w) == 1 for w in words) < 3:
                return (" ".join(words),)
        return variants(text)
    text = text.translate(_DROP).translate(_EMOJI_TABLE)
    if _NATIVE.search(text):
        mixed = _mixed(text)
        return (mixed, *_without_clitics(mixed))
    return variants(text)


def canonical(phrase: str) -> str:
    """A lexicon phrase as :func:`readings` gives its canonical reading."""
    return readings(phrase)[0]


def shown(word: str) -> str:
    """A word of a reading as a person would recognise it (an emoji word as its emoji)."""
    return _EMOJI_WORDS.get(word, word)


def has_native(text: str) -> bool:
    return _NATIVE.search(text) is not None
