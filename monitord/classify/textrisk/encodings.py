"""Reading phrase lists written in other languages: their encodings, and which language each is.

e2guardian's lists in other languages are named after it (``weighted_polish``,
``banned_portuguese``, ``weighted_russian_utf8``) and were written in whatever the author's
system used: UTF-8 (some with a byte-order mark), Latin-1, Windows-1251 or KOI8-R for
Russian, and for Japanese a mix of UTF-8, EUC-JP and Shift_JIS line by line. Each line is
read as UTF-8 when it is; otherwise in the encodings its list's language was written in,
the first that reads it whole; otherwise Latin-1 (which reads anything). For Russian the
one of Windows-1251 and KOI8-R is taken whose Cyrillic letters are mostly lower case, as
list phrases are.
"""

from __future__ import annotations

import re

# e2guardian list-name language -> ISO 639-1 code (as CLD2 names languages).
LANGUAGES: dict[str, str] = {
    "polish": "pl",
    "portuguese": "pt",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "dutch": "nl",
    "italian": "it",
    "danish": "da",
    "norwegian": "no",
    "swedish": "sv",
    "russian": "ru",
    "chinese": "zh",
    "japanese": "ja",
    "malay": "ms",
    "romanian": "ro",
    "arabic": "ar",
    "urdu": "ur",
    "bengali": "bn",
    "punjabi": "pa",
}
# Encodings to try, in order, for a line of a list in a language that is not UTF-8.
_TRY: dict[str, tuple[str, ...]] = {
    "ja": ("euc_jp", "shift_jis", "cp932"),
    "zh": ("gb18030", "big5"),
    "ru": ("cp1251", "koi8_r"),
    "pl": ("cp1250", "iso8859_2"),
    "ro": ("cp1250", "iso8859_16"),
}
_NAME = re.compile(r"(?:weighted|banned|exception)_(?:general_)?([a-z]+?)(?:_utf8)?$")


def list_language(name: str) -> str | None:
    """The language a list file is in, from its name (``weighted_polish`` -> ``pl``)."""
    m = _NAME.search(name.lower().rsplit("/", 1)[-1])
    return LANGUAGES.get(m.group(1)) if m else None


def _russian(data: bytes) -> str:
    best, best_lower = "cp1251", -1
    for codec in ("cp1251", "koi8_r"):
        text = data.decode(codec, "replace")
        lower = sum(1 for c in text if "\u0430" <= c <= "\u044f")
        if lower > best_lower:
            best, best_lower = codec, lower
    return best


def decode_list(data: bytes, name: str = "") -> str:
    """A list file's text, each line in the encoding it was written in (see above)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lang = list_language(name)
    codecs: tuple[str, ...] = _TRY.get(lang or "", ())
    if lang == "ru":
        codecs = (_russian(data),)
    out = []
    for raw in data.split(b"\n"):
        out.append(_line(raw, codecs))
    return "\n".join(out)


def _line(raw: bytes, codecs: tuple[str, ...]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for codec in codecs:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")
