"""The lexicons: what words and phrases mean for safeguarding, in TOML files by language.

A lexicon file (``config/lexicon/pl.toml``) names its language and lists phrases by what they
are, not by a score of their own. A language may have more than one file (``pl.toml`` with its
frames and joins, ``pl-vocabulary.toml`` with the words its speakers use for each category):
their entries and marker words are read together, the name is the first file's::

    language = "pl"
    name = "Polish"
    markers = ["jak", "się", "nie"]          # words that say a short text is in this language
    [frames]                                 # how a query or a sentence is framed
    method = ["jak", "sposób na"]            # asking for a method
    intent = ["chcę", "zamierzam"]           # first-person intent
    [context]
    education = ["lekcja", "praca domowa"]   # lesson and homework context
    news = ["wiadomości"]                    # a news report
    [suicide]
    explicit = ["popełnić samobójstwo"]      # enough alone, for everyone
    strong = ["samobójstwo"]                 # enough alone for a pupil
    act = ["umrzeć"]                         # a harmful act or object: needs a frame
    weak = ["tabletki"]                      # counts only beside others
    benign = ["umrzeć ze śmiechu"]           # an idiom or a harmless sense
    support = ["telefon zaufania"]           # a pupil looking for help
    [grooming.signals]                       # grooming: kinds of signal, two make a pattern
    secrecy = ["to nasz sekret"]
    [[grooming.joins]]                       # two parts within a few words of each other
    gives = "photo"                          # a class, or for grooming a kind of signal
    a = ["wyślij", "pokaż"]                  # the common part (a verb, a frame)
    b = ["zdjęcie", "fotkę"]                 # the distinctive part (what the text is about)

Every phrase is read as texts are (:mod:`monitord.classify.textrisk.normal`) and matched on word
boundaries. A phrase of two or more words in the explicit or strong class also matches written
as one word (``killmyself``). A single word of eight letters or more in those classes (and
acts and signals) also matches with one slip of the keyboard a child makes: a letter left out,
two letters swapped, a letter doubled, one vowel for another; never where the slip spells a
word of any lexicon or of ``config/lexicon/words.txt`` (real words that are one slip from a
listed one).

A phrase ending in ``*`` is a stem: its last word matches any word it begins (``tnę*``,
``apuñal*``), for the languages whose words change their endings; the stem's last word needs
four letters or more (three in a script of its own). A join (``[[CATEGORY.joins]]``) speaks
when a phrase of its ``a`` list and one of its ``b`` list are at most ``near`` words apart
(four unless given), in either order: what is said in many words (``send`` ... ``pics of
you``, ``better off`` ... ``without me``) without listing every sentence. A join that gives
``benign`` is an everyday context beside a phrase of risk (``whittling`` ... ``cut myself``,
``ill kill you`` ... ``if you eat my``): its ``b`` part is the phrase it takes as harmless,
and only beside its ``a`` part.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick

from monitord.classify.e2guardian import PhraseList
from monitord.classify.lists import ListError
from monitord.classify.textrisk.normal import canonical, has_native
from monitord.core.categories import ALLOW, is_category
from monitord.core.paths import DEFAULTS

DEFAULT_LEXICONS = DEFAULTS / "lexicon"
REAL_WORDS = "words.txt"

EXPLICIT, STRONG, ACT, WEAK, BENIGN, SUPPORT = (
    "explicit",
    "strong",
    "act",
    "weak",
    "benign",
    "support",
)
FRAME, CONTEXT, SIGNAL, PART = "frame", "context", "signal", "part"
CLASSES = (EXPLICIT, STRONG, ACT, WEAK, BENIGN, SUPPORT)
WEIGHTS = {EXPLICIT: 200, STRONG: 120, ACT: 60, WEAK: 30, BENIGN: -100, SUPPORT: 0}
FRAME_KINDS = ("method", "acquire", "intent", "conceal", "self", "target", "media", "endorse")
CONTEXT_KINDS = ("education", "news")
SIGNAL_KINDS = (
    "secrecy",
    "isolation",
    "older",
    "photo",
    "gift",
    "private_app",
    "meet",
    "sexual",
    "flattery",
    "alone",
    "threat",
    "age",
)
_JOINABLE = frozenset({EXPLICIT, STRONG})
JOIN_GIVES = frozenset({EXPLICIT, STRONG, ACT, WEAK, BENIGN, SUPPORT})
JOIN_NEAR = 4
STEM = "*"
STEM_MIN, STEM_MIN_NATIVE = 4, 3
_TYPO_CLASSES = frozenset({EXPLICIT, STRONG, ACT, SIGNAL})
TYPO_MIN = 8
_VOWELS = "aeiouy"


class LexiconError(ListError):
    """A lexicon file that cannot be used, with the file and key."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One phrase of a lexicon: what it is (class, and the frame, context or signal kind),
    which category it speaks for ("" for frames and context), and its language. A part of a
    join has class ``part``, ``kind`` what the join gives, ``join`` its name, ``side`` a or
    b, and ``near`` how many words apart its parts may be; what a join gives as a harmless
    sense keeps the join's name."""

    phrase: str
    lang: str
    cls: str
    category: str = ""
    kind: str = ""
    native: bool = False
    join: str = ""
    side: str = ""
    near: int = 0

    @property
    def weight(self) -> int:
        return WEIGHTS.get(self.cls, 0)


@dataclass(frozen=True, slots=True)
class Language:
    """A lexicon's language: its code, its name and its marker words (canonical)."""

    code: str
    name: str
    markers: frozenset[str]


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LexiconError(f"{where}: expected a list of strings")
    return [v for v in value if v.strip()]


def _phrases(value: Any, where: str) -> list[str]:
    """A list of phrases a text can hold: one that reads as no word at all (a symbol its
    readings leave out) could never be found, and is refused rather than left out unsaid."""
    phrases = _strings(value, where)
    for p in phrases:
        if not canonical(p.rstrip(STEM)):
            raise LexiconError(f"{where}: {p!r} reads as no word, so no text can hold it")
    return phrases


def _entries(data: dict[str, Any], lang: str, where: str, source: str) -> Iterator[Entry]:
    for key, table in data.items():
        if key in ("language", "name", "markers"):
            continue
        if not isinstance(table, dict):
            raise LexiconError(f"{where}: {key}: expected a table")
        if key in ("frames", "context"):
            kinds = FRAME_KINDS if key == "frames" else CONTEXT_KINDS
            cls = FRAME if key == "frames" else CONTEXT
            for kind, phrases in table.items():
                if kind not in kinds:
                    raise LexiconError(f"{where}: {key}.{kind}: not one of {', '.join(kinds)}")
                for p in _phrases(phrases, f"{where}: {key}.{kind}"):
                    yield Entry(p, lang, cls, "", kind, has_native(p))
            continue
        if not is_category(key):
            raise LexiconError(f"{where}: [{key}] is not a category id (see TAXONOMY.md)")
        for cls, phrases in table.items():
            if cls == "joins":
                yield from _joins(phrases, lang, key, f"{where}: {key}.joins", source)
                continue
            if cls == "signals":
                if not isinstance(phrases, dict):
                    raise LexiconError(f"{where}: {key}.signals: expected a table")
                for kind, ps in phrases.items():
                    if kind not in SIGNAL_KINDS:
                        raise LexiconError(
                            f"{where}: {key}.signals.{kind}: not one of {', '.join(SIGNAL_KINDS)}"
                        )
                    for p in _phrases(ps, f"{where}: {key}.signals.{kind}"):
                        yield Entry(p, lang, SIGNAL, key, kind, has_native(p))
                continue
            if cls not in CLASSES:
                raise LexiconError(f"{where}: {key}.{cls}: not one of {', '.join(CLASSES)}")
            for p in _phrases(phrases, f"{where}: {key}.{cls}"):
                yield Entry(p, lang, cls, key, "", has_native(p))


def _joins(value: Any, lang: str, category: str, where: str, source: str) -> Iterator[Entry]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise LexiconError(f"{where}: expected [[{category}.joins]] tables")
    allowed = JOIN_GIVES | (set(SIGNAL_KINDS) if category == "grooming" else set())
    for n, table in enumerate(value, 1):
        here = f"{where}[{n}]"
        gives = table.get("gives")
        if gives not in allowed:
            raise LexiconError(f"{here}.gives: not one of {', '.join(sorted(allowed))}")
        near = table.get("near", JOIN_NEAR)
        if isinstance(near, bool) or not isinstance(near, int) or not 1 <= near <= 12:
            raise LexiconError(f"{here}.near: expected a number of words from 1 to 12")
        unknown = set(table) - {"gives", "near", "a", "b"}
        if unknown:
            raise LexiconError(f"{here}: unknown key {sorted(unknown)[0]!r} (gives, near, a, b)")
        name = f"{source}:{category}:{n}"  # one name per join of a file
        for side in ("a", "b"):
            phrases = _phrases(table.get(side), f"{here}.{side}")
            if not phrases:
                raise LexiconError(f"{here}.{side}: expected at least one phrase")
            for p in phrases:
                yield Entry(p, lang, PART, category, gives, has_native(p), name, side, near)


def read_lexicon(path: Path) -> tuple[Language, list[Entry]]:
    """One lexicon file: its language and its entries. Raises LexiconError naming the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LexiconError(f"{path}: not valid TOML: {exc}") from None
    code = data.get("language")
    if not isinstance(code, str) or not code.strip():
        raise LexiconError(f"{path}: language: expected a language code such as 'pl'")
    name = data.get("name", code)
    markers = _strings(data.get("markers", []), f"{path}: markers")
    lang = Language(code, str(name), frozenset(canonical(m) for m in markers))
    return lang, list(_entries(data, code, str(path), path.stem))


def slips(word: str) -> set[str]:
    """The words one keyboard slip away from ``word``: a letter left out, two neighbours
    swapped, a letter doubled, one vowel written as another."""
    out: set[str] = set()
    n = len(word)
    for i in range(n):
        out.add(word[:i] + word[i + 1 :])
        out.add(word[:i] + word[i] + word[i:])
        if i + 1 < n and word[i] != word[i + 1]:
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
        if word[i] in _VOWELS:
            for v in _VOWELS:
                out.add(word[:i] + v + word[i + 1 :])
    out.discard(word)
    return out


@dataclass(frozen=True, slots=True)
class Key:
    """What one automaton key stands for: an entry, and the typo it forgives (or "")."""

    entry: int
    words: int
    typo: str = ""
    stem: bool = False


class Lexicon:
    """Every entry of every language, compiled into one automaton over padded readings."""

    def __init__(
        self, languages: Iterable[Language], entries: Iterable[Entry], real: Iterable[str] = ()
    ) -> None:
        self.languages = {lang.code: lang for lang in languages}
        self.entries: tuple[Entry, ...] = tuple(_without_english_twins(entries))
        keys: dict[str, list[Key]] = {}
        vocabulary: set[str] = {canonical(w) for w in real}
        canon = [canonical(e.phrase.rstrip(STEM)) for e in self.entries]
        for c in canon:
            vocabulary.update(c.split())
        for lang in self.languages.values():
            vocabulary.update(lang.markers)
        for i, (e, c) in enumerate(zip(self.entries, canon, strict=True)):
            if not c:
                continue
            words = c.count(" ") + 1
            if e.phrase.endswith(STEM):
                shortest = STEM_MIN_NATIVE if e.native else STEM_MIN
                if len(c.rsplit(" ", 1)[-1]) < shortest:
                    raise LexiconError(
                        f"{e.lang} lexicon: {e.phrase!r}: a stem needs {shortest} letters or more"
                    )
                keys.setdefault(f" {c}", []).append(Key(i, words, stem=True))
                continue
            keys.setdefault(f" {c} ", []).append(Key(i, words))
            if words > 1 and e.cls in _JOINABLE:
                keys.setdefault(f" {c.replace(' ', '')} ", []).append(Key(i, 1))
            if e.cls in _TYPO_CLASSES and words == 1 and len(c) >= TYPO_MIN and c.isalpha():
                for slip in slips(c):
                    if slip not in vocabulary:
                        keys.setdefault(f" {slip} ", []).append(Key(i, 1, slip))
        self.key_count = len(keys)
        self._automaton: Any = None
        # A key's value says whether it can raise a category (not frames, context or
        # harmless senses): a text with none of them is judged at once, with no scoring. One
        # automaton serves both (a second of the weighty keys alone held 8 MB more).
        self._weighty = False
        if keys:
            automaton = ahocorasick.Automaton()
            for k, v in keys.items():
                # An exact key is worth more than a typo of another entry that spells it.
                exact = [x for x in v if not x.typo]
                weighty = any(_weighty(self.entries[x.entry]) for x in v)
                self._weighty = self._weighty or weighty
                automaton.add_word(k, (len(k), tuple(exact or v), weighty))
            automaton.make_automaton()
            self._automaton = automaton

    def matters(self, readings: tuple[str, ...]) -> bool:
        """Whether any reading has a key that can raise a category."""
        if not self._weighty:
            return False
        automaton = self._automaton
        for r in readings:
            for _end, (_length, _found, weighty) in automaton.iter(f" {r} "):
                if weighty:
                    return True
        return False

    def scan(self, reading: str) -> Iterator[tuple[int, int, Key]]:
        """(first word index, last word index, key) of every key found in ``reading``."""
        if self._automaton is None:
            return
        padded = f" {reading} "
        for end, (length, found, _weighty) in self._automaton.iter(padded):
            first = padded.count(" ", 0, end - length + 2) - 1
            for key in found:
                yield first, first + key.words - 1, key


def _weighty(e: Entry) -> bool:
    """Whether an entry can raise a category: not a frame, context or harmless sense, nor the
    common part (a) of a join, which speaks only beside its distinctive part (b)."""
    if e.cls == PART:
        return e.side == "b"
    return bool(e.category) and e.cls != BENIGN


def phrase_list_entries(lists: Iterable[PhraseList]) -> list[Entry]:
    """The project's own weighted phrase lists (config/phrases) read as English lexicon
    entries, so that one automaton holds both: a rule of 200 or more is explicit, 120 strong,
    60 to 100 an act, below that weak; a support rule is support, an education rule lesson
    context; another negative weight a harmless sense. Co-occurrence rules (a few, which the
    frames and signals now cover) are left out."""
    out: list[Entry] = []
    for plist in lists:
        for rule in plist.rules:
            if len(rule.phrases) != 1 or rule.percent:
                continue
            phrase = rule.phrases[0].strip()
            if rule.kind == SUPPORT and plist.category != ALLOW:
                out.append(Entry(phrase, "en", SUPPORT, plist.category))
            elif rule.kind == "education" or plist.category == ALLOW:
                out.append(Entry(phrase, "en", CONTEXT, "", "education"))
            elif rule.weight < 0:
                out.append(Entry(phrase, "en", BENIGN, plist.category))
            elif plist.category == "grooming" and rule.weight < 200:
                continue  # grooming's warning signs are the lexicons' signals
            elif plist.category != ALLOW:
                w = rule.weight
                cls = EXPLICIT if w >= 200 else STRONG if w >= 120 else ACT if w >= 60 else WEAK
                out.append(Entry(phrase, "en", cls, plist.category))
    return out


def _without_english_twins(entries: Iterable[Entry]) -> list[Entry]:
    """Entries less another language's that English has too, the same word for the same
    thing (``video``, ``online``, ``paracetamol``): English words always count, and an English
    text need not be looked at for its language because of them."""
    given = list(dict.fromkeys(entries))  # a phrase listed twice counts once
    english = {_twin(e) for e in given if e.lang == "en"}
    return [e for e in given if e.lang == "en" or e.cls == PART or _twin(e) not in english]


def _twin(e: Entry) -> tuple[str, bool, str, str, str]:
    """What makes two languages' entries the same: the phrase (a stem is not its word:
    Romanian ``jihad*`` reads ``jihadului``, English ``jihad`` does not), class and kind."""
    return (canonical(e.phrase), e.phrase.endswith(STEM), e.cls, e.kind, e.category)


def load_lexicons(
    folder: Path = DEFAULT_LEXICONS, phrases: Iterable[PhraseList] | None = None
) -> Lexicon:
    """Every ``*.toml`` lexicon in ``folder``, with its list of real words, compiled; and
    the project's own phrase lists (``phrases``) read as English entries."""
    if not folder.is_dir():
        raise LexiconError(f"{folder}: not a folder of lexicons")
    languages: dict[str, Language] = {}
    entries: list[Entry] = []
    # A language's own file (pl.toml) before its others (pl-vocabulary.toml).
    for path in sorted(folder.glob("*.toml"), key=lambda p: (p.stem.split("-")[0], p.stem)):
        lang, found = read_lexicon(path)
        first = languages.get(lang.code)
        if first is not None:
            lang = Language(lang.code, first.name, first.markers | lang.markers)
        languages[lang.code] = lang
        entries.extend(found)
    if phrases is not None:
        have = {(canonical(e.phrase), e.category) for e in entries if e.cls != PART}
        for e in phrase_list_entries(phrases):
            if (canonical(e.phrase), e.category) not in have:
                have.add((canonical(e.phrase), e.category))
                entries.append(e)
    real: list[str] = []
    words = folder / REAL_WORDS
    if words.is_file():
        real = [w.strip() for w in words.read_text(encoding="utf-8").splitlines()]
        real = [w for w in real if w and not w.startswith("#")]
    return Lexicon(languages.values(), entries, real)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The project's lexicons as shipped (compiled once)."""
    from monitord.classify.phrases import DEFAULT_PHRASES, load_phrase_dir

    return load_lexicons(DEFAULT_LEXICONS, load_phrase_dir(DEFAULT_PHRASES))
