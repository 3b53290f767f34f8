"""Judging one short text (a search, a typed message, a window title) against the lexicons.

What a short text says is in how its words are joined, not in how many there are:

- An **explicit** phrase (``kill myself``, ``send nudes``) is enough alone, for anyone (200).
- A **strong** word names the harm (``suicide``, ``sewerslide``): enough for a pupil (120).
- An **act** or object (``paracetamol``, ``ket``, ``knife``) is 60; joined to a **frame** of
  its category within six words, that is, asked about as a method (``how many``, ``best way
  to``), sought (``where can i get``, ``buy``), meant (``im going to``), hidden (``from my
  mum``), aimed at someone (``to hurt someone``), or put in pictures (``videos``), it gains 80.
- A **join** (``better off`` ... ``without me``, ``send`` ... ``pics of you``) is a phrase
  said in many words: its two parts within a few words of each other count as the class (or,
  for grooming, the kind of signal) the lexicon gives it; one part alone counts nothing.
- A **weak** word counts 30, only beside others or when it is hidden or aimed at oneself
  (``cut so no one sees``); a **benign** phrase (``died laughing``,
  ``weed killer``) takes 100 off its category, and so does a phrase of risk said in an
  everyday context a join gives as benign (``whittling at scouts`` ... ``cut myself``): the
  phrase it holds is said in that sense, not as the harm.
- Lesson or homework context in the text (or a news report: "stabbing in town centre news"),
  or a lesson document open in the window beside it, takes 80 off every category but grooming.
- **Grooming** is a pattern: each kind of signal (secrecy, isolation from parents or teachers,
  an older contact, photo or camera requests, gifts, moving to a private app, meeting, sexual
  questions, flattery, checking the child is alone, asking the child's age, threats) counts
  60 once; two kinds together are over the limit for everyone, one alone never is.
- A **support** phrase (Childline, Samaritans) marks a pupil looking for help.

A category is over when its total is over the limit of the person's age band (infant 80,
junior 100, adult 160; grooming 100 for all; a window title, which a page writes and the pupil
does not, 60 more). Words of another language count when the text is in that language
(:mod:`monitord.classify.textrisk.language`), words in their own script always.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from monitord.classify.textrisk.language import (
    PLAIN_ENGLISH,
    VOTES_TO_READ,
    Identified,
    arabizi_words,
    identify,
)
from monitord.classify.textrisk.lexicon import (
    ACT,
    BENIGN,
    CONTEXT,
    EXPLICIT,
    FRAME,
    PART,
    SIGNAL,
    SIGNAL_KINDS,
    STRONG,
    SUPPORT,
    WEAK,
    Entry,
    Lexicon,
)
from monitord.classify.textrisk.normal import readings

INFANT, JUNIOR, ADULT = "infant", "junior", "adult"
PUPIL_BANDS = frozenset({INFANT, JUNIOR})
LIMITS: Mapping[str, int] = {INFANT: 80, JUNIOR: 100, ADULT: 160}
CATEGORY_LIMITS: Mapping[str, int] = {"grooming": 100}
SEARCH, TYPED, TITLE = "search", "typed_text", "title"
KINDS = (SEARCH, TYPED, TITLE)
TITLE_MARGIN = 60
FRAME_BONUS = 80
EDUCATION_OFF = 80
SIGNAL_WEIGHT = 60
# Categories of a pupil's own life: a harm said outright there is not lowered by everyday
# context said before it and apart from it (``_apart``).
_OWN_LIFE = frozenset({"suicide", "self_harm"})
# How many words may stand between a context word and the harm it lowers there.
_CLOSE = 0

# How many kinds of grooming signal no harmless sense explains away, and the kinds a surprise
# or a wedding can explain (a secret kept, from parents too, a practice met for, a present):
# never a picture, sex, being alone, an age, a threat, another app or flattery.
PATTERN_PLAIN = 3
EXPLAINED = frozenset({"secrecy", "isolation", "meet", "gift"})
NEAR = 6
GROOMING = "grooming"
# The words a join of a harm was found across: its category, reading, first and last word.
Span = tuple[str, int, int, int]
# The harms a pupil tells when asking for help, and how many words may stand between the
# telling and the ask ("my uncle keeps hitting me when mum is at work ... who do i tell").
TOLD = frozenset({"suicide", "self_harm", "violence", "grooming", "bullying"})
ASK_NEAR = 16
# Frames that make a harm the pupil's own (a plan, a threat, a method asked), not one told;
# and the words that begin a join's part that is no ask ("if i tell anyone hell send").
OWN = frozenset({"target", "method", "acquire"})
UNASKED = ("if ",)
ASKS_KEPT = 4096
_TELLS = frozenset({EXPLICIT, STRONG, ACT, SIGNAL})

# Which frames lift an act of each category.
FRAMES_FOR: Mapping[str, frozenset[str]] = {
    "suicide": frozenset({"method", "intent", "self"}),
    "self_harm": frozenset({"method", "intent", "conceal", "self"}),
    "drugs": frozenset({"acquire", "method", "intent"}),
    "violence": frozenset({"method", "acquire", "intent", "target", "conceal"}),
    "pornography": frozenset({"media", "acquire"}),
    "bullying": frozenset({"target"}),
    "hate_speech": frozenset({"endorse", "target"}),
    "extremism": frozenset({"endorse", "acquire"}),
    "filter_bypass": frozenset({"method", "acquire"}),
}
FRAME_NAMES = {
    "method": "asking for a method",
    "acquire": "seeking to get it",
    "intent": "first-person intent",
    "conceal": "hiding it",
    "self": "aimed at oneself",
    "target": "aimed at someone",
    "media": "asking for pictures or videos",
    "endorse": "endorsing or joining",
}
# Frames a lesson never uses of its subject: the pupil's own intent or purchase.
UNTAUGHT = frozenset({"intent", "acquire"})
# Frames that lift even a weak word: hiding it, or aiming it at oneself.
LIFT_WEAK = frozenset({"conceal", "self"})
_RANK = {EXPLICIT: 4, STRONG: 3, ACT: 2, WEAK: 1, BENIGN: 0, SUPPORT: 0, SIGNAL: 2}
# What a frame lifts: an act, or a word that names the harm ("overdose" asked about as
# a method is lifted as "paracetamol" would be; an explicit phrase needs no lifting).
_HARMFUL = frozenset({STRONG, ACT})

_DIGIT = re.compile(r"\d")
_AGE = re.compile(
    r"(?:^| )(?:im|i am|hes|he is|shes|she is|theyre|they are|hes like|shes like|turned|aged"
    r"|(?:boyfriend|girlfriend|friend|he|she|they|guy|man|someone) (?:is|says hes|says shes))"
    r"( \d\d)(?: |$)(?!minutes|mins|seconds|percent|pounds"
    r"|quid|points|times|km|miles|metres|meters|degrees|kg|days)"
    r"|(?:^| )(\d\d) ?(?:year old|years old|yr old|yrs old|yo)(?: (?:man|guy|boy|girl|woman|lad))?"
    # Polish, Romanian, Spanish and Portuguese, romanised Urdu and Punjabi: "mam 25 lat",
    # "am 25 de ani", "tengo 25 anos", "main 25 saal ka hoon"; and another's: "on ma 20 lat",
    # "are 25 de ani", "tiene 25 anos", "tem 22 anos"
    r"|(?:^| )(?:mam|am|tengo|tenho|main|mai|meri age|meri umar|umar|ma|tiene|tem) (\d\d)"
    r" (?:lat|lata|de ani|ani|anos|saal|sal|years)(?: |$)"
    r"|(?:^| )are (\d\d) (?:de ani|ani)(?: |$)"
    # a bare reply to "how old are you" in those languages, Bengali and Arabic: "ja 19",
    # "eu 22", "yo 23", "main 21 da", "amar 22", "انا 24" (not a sum of money or a time)
    r"|(?:^| )(?:ja|eu|yo|amar|ana|\u0627\u0646\u0627|(?:main|mai)(?= \d\d (?:da|di|ka|ki)\b))"
    r" (\d\d)(?: |$)(?!zl|zł|lei|lat |taka|tk|euro|reais|rupe|rs |ore|horas|min|ghant|saat"
    r"|\u0633\u0627\u0639|\u062f\u0642)"
)


# A count of tablets a child could not mean as a dose ("took 12 of my nans tablets", "a load
# of pills", "all of my antidepressants"): the count alone is an act, which a taking or a
# method joins.
DOSE_MANY = 8
_PACKS = ("pack of", "packs of", "box of", "boxes of", "packet of", "packets of")
_DOSE = re.compile(
    r"(?:^| )(\d{1,3}|a load of|loads of|a handful of|handfuls of|a bunch of|a ton of|tons of"
    r"|heaps of|a whole load of|all of my|all my|all of the|all the)(?: [a-z]+){0,3}?"
    r" (?:pills|tablets|paracetamol|ibuprofen|painkillers|co codamol|codeine|antidepressants"
    r"|aspirin|meds|sleeping pills"
    r"|sleeping tablets|sertraline|fluoxetine|citalopram|amitriptyline|propranolol)(?: |$)"
)


def _dose(normalised: str) -> Hit | None:
    m = _DOSE.search(normalised)
    if m is None or (m.group(1).isdigit() and int(m.group(1)) < DOSE_MANY):
        return None
    if normalised[: m.start(1)].rstrip().endswith(_PACKS):  # a packet's size, not a dose
        return None
    at = normalised.count(" ", 0, m.start(1))
    return Hit(Entry(m.group().strip(), "en", ACT, "suicide"), at, at)


# A relative named just before another's age ("wujek ma 30 lat", "vărul meu are 20 de ani",
# "mi tío tiene 25 años"): the family's age, no older contact. Normalised (no diacritics).
_FAMILY = frozenset(
    {
        "uncle",
        "auntie",
        "aunt",
        "cousin",
        "brother",
        "sister",
        "stepbrother",
        "stepsister",
        "grandad",
        "grandpa",
        "grandma",
        "nan",
        "wujek",
        "wujka",
        "ciocia",
        "kuzyn",
        "kuzynka",
        "brat",
        "siostra",
        "dziadek",
        "babcia",
        "unchiul",
        "unchiu",
        "matusa",
        "varul",
        "verisoara",
        "verisorul",
        "fratele",
        "sora",
        "bunicul",
        "bunica",
        "tio",
        "tia",
        "primo",
        "prima",
        "hermano",
        "hermana",
        "abuelo",
        "abuela",
        "irmao",
        "irma",
        "avo",
        "mamu",
        "mamo",
        "chacha",
        "chachu",
        "khala",
        "phuppo",
        "phupho",
        "taya",
        "bhai",
        "bhaiya",
        "behen",
        "veer",
        "bhaji",
    }
)


def _of_family(text: str, at: int) -> bool:
    """Whether one of the two words before ``at`` in ``text`` names a relative."""
    return any(w in _FAMILY for w in text[:at].split()[-2:])


def _stated_age(texts: tuple[str, ...]) -> re.Match[str] | None:
    """An adult's age the text states, in any reading ("im actually 22" read without its
    filler), after any other ("im 13 too ... im actually 22"); never a relative's."""
    for t in texts:
        # overlapping matches: "12 yo 23" is a child's "12 yo" and a Spanish adult's "yo 23"
        m = _AGE.search(t)
        while m is not None:
            if 18 <= int(next(g for g in m.groups() if g).strip()) <= 79 and not _of_family(
                t, m.start() + 1
            ):
                return m
            m = _AGE.search(t, m.start() + 1)
    return None


@dataclass(frozen=True, slots=True)
class Hit:
    """One lexicon phrase found: the entry, where (word indexes, in which reading), the
    word as typed when it was read through one slip of the keyboard, and the first words of
    the places later in that reading where the phrase is said again."""

    entry: Entry
    first: int
    last: int
    typed: str = ""
    reading: int = 0
    again: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Score:
    """One category's total, the limit it was held to, and why, in sentences."""

    category: str
    total: int
    limit: int
    over: bool
    reasons: tuple[str, ...] = ()
    support: bool = False
    learned: float = 0.0  # the learned model's risk score, when it raised the category


@dataclass(frozen=True, slots=True)
class TextVerdict:
    """How one text was judged: its language, every phrase found, each category's score, the
    categories over their limit (largest first), those where a pupil is looking for help,
    and the context that was taken into account."""

    text: str
    kind: str
    band: str
    normalised: str
    language: Identified = PLAIN_ENGLISH
    hits: tuple[Hit, ...] = ()
    scores: tuple[Score, ...] = ()
    categories: tuple[str, ...] = ()
    support: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    messages: int = 1
    signals: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def support_seeking(self) -> bool:
        return bool(self.support)


def _q(phrase: str) -> str:
    return f'"{phrase}"'


def _said(hit: Hit) -> str:
    if hit.typed:
        return f'"{hit.typed}" (read as {_q(hit.entry.phrase)}, one slip of the keyboard)'
    return _q(hit.entry.phrase)


class TextJudge:
    """Judges texts against a compiled :class:`~monitord.classify.textrisk.lexicon.Lexicon`."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._markers = {code: lang.markers for code, lang in lexicon.languages.items()}
        self._names = {code: lang.name for code, lang in lexicon.languages.items()}
        # each message's help parts (asks and told harms), found once: a conversation's
        # earlier messages are read again with every message typed after them
        self._help_parts: dict[str, tuple[Hit, ...]] = {}

    def language_name(self, code: str) -> str:
        return self._names.get(code, code)

    def identify(self, text: str, normalised: str) -> Identified:
        """The language of a text (see :func:`monitord.classify.textrisk.language.identify`)."""
        return identify(text, normalised.split(), self._markers)

    def find(self, texts: tuple[str, ...]) -> list[Hit]:
        """Every entry found in any reading, once, where it was first found; a part of a join
        once in each reading it is in, so that its parts are paired in one reading (a filler
        left out moves the words after it). An everyday context and its phrase of risk (a
        benign join's parts) are kept at each place they are said, and where a phrase that
        raises a category is said again later in its reading, its hit holds those places
        (``again``): said again away from the context that took it, it is said in earnest."""
        entries = self.lexicon.entries
        found: dict[int, Hit] = {}
        parts: dict[tuple[int, int, int], Hit] = {}
        again: dict[int, list[int]] = {}
        for n, reading in enumerate(texts):
            for first, last, key in self.lexicon.scan(reading):
                entry = entries[key.entry]
                if entry.cls == PART:
                    at = first if entry.kind == BENIGN else -1
                    parts.setdefault((key.entry, n, at), Hit(entry, first, last, key.typo, n))
                elif key.entry not in found or (found[key.entry].typed and not key.typo):
                    found[key.entry] = Hit(entry, first, last, key.typo, n)
                elif entry.category and entry.cls != BENIGN:
                    h = found[key.entry]
                    if h.reading == n and h.last < first and not key.typo:
                        again.setdefault(key.entry, []).append(first)
        for i, places in again.items():
            found[i] = replace(found[i], again=tuple(places))
        return [*found.values(), *parts.values()]

    def _help_parts_in(self, text: str) -> tuple[Hit, ...]:
        """The help joins' parts (asks and told harms) in ``text``, a message's reading, in
        any language. A part of a join is found in each reading on its own, so each reading's
        are kept for the next time it is read (up to ``ASKS_KEPT`` readings)."""
        got = self._help_parts.get(text)
        if got is None:
            if len(self._help_parts) >= ASKS_KEPT:
                self._help_parts.clear()
            got = self._help_parts[text] = tuple(
                h for h in self.find((text,)) if h.entry.cls == PART and h.entry.kind == SUPPORT
            )
        return got

    def asks(self, texts: tuple[str, ...], language: Identified) -> list[Hit]:
        """The help joins' asks ("can i talk to you", "kis ko bataun") in ``texts`` (the
        readings of messages) that a text in ``language`` reads."""
        found = [h for text in texts for h in asks_in(self._help_parts_in(text))]
        return self._readable(found, language)

    def tells(self, text: str) -> bool:
        """Whether ``text`` (a message's reading) holds a help join's told part in any
        language ("hits me", "wants to die"): without one, what it adds to the messages
        before it completes no help join."""
        return any(h.entry.side == "b" for h in self._help_parts_in(text))

    def judge(
        self,
        text: str,
        kind: str = SEARCH,
        band: str = JUNIOR,
        lesson: str | None = None,
        messages: int = 1,
    ) -> TextVerdict:
        """Judge ``text`` of ``kind`` (search, typed_text or title) for a person of ``band``;
        ``lesson``: the title of a lesson document open beside it, if any."""
        if band not in LIMITS:
            raise ValueError(f"unknown age band {band!r} (one of {', '.join(LIMITS)})")
        texts = readings(text)
        return self.judge_readings(text, texts, kind, band, lesson, messages)

    def judge_readings(
        self,
        text: str,
        texts: tuple[str, ...],
        kind: str = SEARCH,
        band: str = JUNIOR,
        lesson: str | None = None,
        messages: int = 1,
    ) -> TextVerdict:
        """:meth:`judge` for a text whose :func:`~monitord.classify.textrisk.normal.readings` are
        ``texts``."""
        # Frames, context and harmless senses alone say nothing (nor does a text with no age).
        aged = None if _DIGIT.search(texts[0]) is None else _stated_age(texts)
        quiet = aged is None
        if lesson is None and quiet and not self.lexicon.matters(texts):
            return TextVerdict(text, kind, band, texts[0], messages=messages)
        hits = self.find(texts)
        language = PLAIN_ENGLISH
        foreign: dict[str, int] = {}
        other = False
        # The joins of each language with both their parts in the text.
        sides: dict[tuple[str, str], set[str]] = {}
        for h in hits:
            e = h.entry
            if e.lang != "en" and not e.native:
                if e.cls == PART:
                    sides.setdefault((e.lang, e.join), set()).add(e.side)
                if e.side == "a":
                    continue
                other = True
                # a marker word found as a phrase ("me", a Spanish frame) is one vote, not two
                if e.phrase not in self._markers.get(e.lang, ()):
                    foreign[e.lang] = foreign.get(e.lang, 0) + 1
        # A join said whole is two words of its language, whichever it shares with others
        # ("nude pathao": "nude" is in seven languages' joins, "pathao" Bengali's).
        for (lang, _join), said in sides.items():
            if len(said) == 2:
                other = True
                foreign[lang] = foreign.get(lang, 0) + VOTES_TO_READ
        if other or not text.isascii() or arabizi_words(text):
            language = identify(text, texts[0].split(), self._markers, foreign)
            hits = self._readable(hits, language)
        return self._score(text, kind, band, texts[0], language, hits, lesson, messages, aged)

    def _readable(self, hits: list[Hit], language: Identified) -> list[Hit]:
        """The hits a text in ``language`` can mean: its own words and English; not an
        English word that is one of the language's own (Romanian ``cum``)."""
        own = self._markers.get(language.code, frozenset())
        kept = []
        for h in hits:
            e = h.entry
            if e.lang == "en":
                ok = language.code == "en" or e.phrase.lower() not in own
            else:
                # Unsure of the language, a distinctive word of another counts as itself.
                distinctive = not language.sure and e.cls in (EXPLICIT, STRONG)
                ok = e.native or language.reads(e.lang) or distinctive
            if ok:
                kept.append(h)
        return kept

    def _score(
        self,
        text: str,
        kind: str,
        band: str,
        normalised: str,
        language: Identified,
        hits: list[Hit],
        lesson: str | None,
        messages: int,
        older: re.Match[str] | None = None,
    ) -> TextVerdict:
        # a help join's ask ("who can i tell") keeps its place for what else the text tells
        asks = asks_in(hits)
        # the phrases of a harm's joins, whose lesson words are theirs ("îi dăm o lecție", give
        # him a lesson; "بنعلمه درس"; "depois da aula", after class), not a lesson's
        joined_words = [
            h for h in hits if h.entry.cls == PART and h.entry.category and h.entry.kind != SUPPORT
        ]
        spans: list[Span] = []
        hits = with_joins(hits, spans)
        if spans:  # a harmless word said inside a harm told in many words does not lower it
            hits = [h for h in hits if h.entry.cls != BENIGN or not _inside(h, spans)]
        dose = _dose(normalised) if any(h.entry.category == "suicide" for h in hits) else None
        if dose is not None:
            hits.append(dose)
        frames = [h for h in hits if h.entry.cls == FRAME]
        context: list[str] = []
        harmful = [h for h in hits if h.entry.category and h.entry.cls in (EXPLICIT, *_HARMFUL)]
        harmful += joined_words
        # "english" in "english defence league" is no lesson
        education = [
            h
            for h in hits
            if h.entry.cls == CONTEXT
            and not any(o.first <= h.first and h.last <= o.last for o in harmful)
        ]
        if education:
            context.append(
                "lesson, homework or news context in the text: "
                + ", ".join(_q(h.entry.phrase) for h in education[:3])
            )
        if lesson is not None:
            context.append(f'a lesson document was open: "{lesson[:80]}"')
        by_cat: dict[str, list[Hit]] = {}
        idioms = [h for h in hits if h.entry.cls == BENIGN]
        # said inside an idiom or a harmless phrase ("my mum will kill me"): not the harm
        claimed = (
            {
                id(h): [id(o) for o in idioms if _claims(o, h)]
                for h in hits
                if h.entry.cls not in (BENIGN, FRAME, CONTEXT)
            }
            if idioms
            else {}
        )
        # A harmless sense that took a phrase as its own does not lower a harm said outright
        # beside it ("one tablet a day" ... "i want to kill myself"); an everyday context a
        # join gives lowers nothing but the phrase it took ("bakre" ... "chhuri").
        claiming = {o for owners in claimed.values() for o in owners}
        contexts = {id(o) for o in idioms if o.entry.join}
        for h in hits:
            if h.entry.join and h.entry.cls == BENIGN:
                continue  # an everyday context lowers only by taking its phrase
            owners = claimed.get(id(h))
            if owners:
                if not h.again or not contexts.issuperset(owners):
                    continue
                # taken by an everyday context where first said, and said again elsewhere
                later = _said_again(h, idioms)
                if later is None:
                    continue
                h = later
            if h.entry.category:
                by_cat.setdefault(h.entry.category, []).append(h)
        for cat, cat_hits in by_cat.items():
            if claiming and any(h.entry.cls == EXPLICIT for h in cat_hits):
                by_cat[cat] = [h for h in cat_hits if id(h) not in claiming]
        if older is not None:
            age = int(next(g for g in older.groups() if g).strip())
            if 18 <= age <= 79:
                by_cat.setdefault(GROOMING, [])
            else:
                older = None
        scores: list[Score] = []
        signals: dict[str, tuple[str, ...]] = {}
        for cat, cat_hits in by_cat.items():
            kept = _outermost(cat_hits)
            if all(h.entry.cls == BENIGN for h in kept) and not (cat == GROOMING and older):
                continue  # only harmless senses, with nothing to lower
            if cat == GROOMING:
                score, signals = self._grooming(kept, older, band, kind)
            else:
                score = self._category(
                    cat, kept, frames, band, kind, bool(context), lesson is not None
                )
            scores.append(score)
        if asks and band in PUPIL_BANDS and lesson is None:
            own = [f for f in frames if f.entry.kind in OWN]
            scores = [_asked_about(s, asks, by_cat.get(s.category, []), own) for s in scores]
        scores.sort(key=lambda s: (-s.total, s.category))
        over = tuple(s.category for s in scores if s.over)
        support = tuple(s.category for s in scores if s.support and s.over)
        return TextVerdict(
            text,
            kind,
            band,
            normalised,
            language,
            tuple(hits),
            tuple(scores),
            over,
            support,
            tuple(context),
            messages,
            signals,
        )

    def _limit(self, category: str, band: str, kind: str) -> int:
        limit = CATEGORY_LIMITS.get(category, LIMITS[band])
        return limit + TITLE_MARGIN if kind == TITLE else limit

    def _category(
        self,
        cat: str,
        hits: list[Hit],
        frames: list[Hit],
        band: str,
        kind: str,
        lesson_context: bool,
        lesson_open: bool = False,
    ) -> Score:
        total = 0
        reasons: list[str] = []
        acts = [h for h in hits if h.entry.cls in _HARMFUL]
        support = [h for h in hits if h.entry.cls == SUPPORT]
        # A pupil's own life said outright stands after a word of everyday context said apart
        # from it ("my dog died and i want to kill myself", "fortnite later? i want to kill
        # myself"); context lowers it said close by ("me corté el pelo") or after it.
        said = [h for h in hits if h.entry.cls == EXPLICIT] if cat in _OWN_LIFE else []
        for h in hits:
            cls = h.entry.cls
            if cls == SUPPORT:
                continue
            if said and cls == BENIGN and all(_apart(h, o) for o in said):
                reasons.append(
                    f"{_said(h)} is everyday context said before the harm and apart from it: 0"
                )
                continue
            total += h.entry.weight
            reasons.append(_REASON[cls].format(_said(h), h.entry.weight))
        lift = FRAMES_FOR.get(cat, frozenset())
        joined = _joined(acts, [f for f in frames if f.entry.kind in lift])
        if joined is None and "method" in lift:
            # A harm said outright needs no lifting, but asked as a method it stays asked
            # whatever harmless sense stands beside it ("how to stab someone with a kitchen
            # knife"); a mere time or place beside it may be game talk ("kill you in fifa today").
            outright = [h for h in hits if h.entry.cls == EXPLICIT]
            joined = _joined(outright, [f for f in frames if f.entry.kind == "method"])
        if joined is None:  # a weak word hidden or aimed at oneself ("cut so no one sees")
            weak = [h for h in hits if h.entry.cls == WEAK]
            joined = _joined(weak, [f for f in frames if f.entry.kind in lift & LIFT_WEAK])
        if joined is not None:
            frame, act = joined
            total += FRAME_BONUS
            reasons.append(
                f"{_q(frame.entry.phrase)} frames it ({FRAME_NAMES[frame.entry.kind]}) "
                f"joined to {_q(act.entry.phrase)}: +{FRAME_BONUS}"
            )
        # A pupil's own plan or purchase is no lesson ("ill stab him tomorrow at school").
        planned = joined is not None and joined[0].entry.kind in UNTAUGHT
        if lesson_context and total > 0 and not planned:
            total -= EDUCATION_OFF
            reasons.append(f"lesson, homework or news context: -{EDUCATION_OFF}")
        limit = self._limit(cat, band, kind)
        over = total > limit
        helped = False
        # Help sought is help, whatever words of a lesson are in it ("helpline for kids"); with a
        # lesson document open it is the lesson's.
        if support and band in PUPIL_BANDS and not lesson_open:
            helped = True
            over = True
            reasons.append(
                "looking for help: " + ", ".join(_q(h.entry.phrase) for h in support[:3])
            )
        return Score(cat, total, limit, over, tuple(reasons), helped)

    def _grooming(
        self, hits: list[Hit], older: re.Match[str] | None, band: str, kind: str
    ) -> tuple[Score, dict[str, tuple[str, ...]]]:
        kinds: dict[str, list[str]] = {}
        total = 0
        reasons: list[str] = []
        support = [h for h in hits if h.entry.cls == SUPPORT]
        for h in hits:
            if h.entry.cls == SIGNAL:
                kinds.setdefault(h.entry.kind, []).append(_said(h))
        if older is not None:
            kinds.setdefault("older", []).append(_q(older.group().strip()))
        # A surprise or a wedding explains a secret between friends, not an adult's secret
        # nor three kinds of signal together.
        plain = older is None and len(kinds) < PATTERN_PLAIN and kinds.keys() <= EXPLAINED
        for h in hits:
            cls = h.entry.cls
            if cls in (SIGNAL, SUPPORT):
                continue
            if cls == BENIGN and not plain:
                reasons.append(f"{_said(h)} is a harmless sense, but not of this pattern: 0")
                continue
            total += h.entry.weight
            reasons.append(_REASON[cls].format(_said(h), h.entry.weight))
        if kinds:
            total += SIGNAL_WEIGHT * len(kinds)
            listed = "; ".join(
                f"{k.replace('_', ' ')} ({', '.join(v[:2])})" for k, v in kinds.items()
            )
            n = len(kinds)
            reasons.append(
                f"{n} kind{'s' if n > 1 else ''} of grooming signal, {SIGNAL_WEIGHT} each"
                f"{' (one alone is not a pattern)' if n == 1 else ''}: {listed}"
            )
        limit = self._limit(GROOMING, band, kind)
        over = total > limit
        helped = bool(support) and band in PUPIL_BANDS
        if helped:
            over = True
            reasons.append("looking for help: " + ", ".join(_q(h.entry.phrase) for h in support))
        signals = {k: tuple(v) for k, v in kinds.items()}
        return Score(GROOMING, total, limit, over, tuple(reasons), helped), signals


_REASON = {
    EXPLICIT: "{} says it outright: +{}",
    STRONG: "{} names the harm: +{}",
    ACT: "{} is a harmful act or object: +{}",
    WEAK: "{} counts only beside others: +{}",
    BENIGN: "{} is a harmless sense or idiom: {}",
}


def _outermost(hits: list[Hit]) -> list[Hit]:
    """Hits not inside a stronger (or equal) hit's words: ``commit suicide`` keeps
    ``how to commit suicide`` only; of two of one class on the same words, the first."""
    kept: list[Hit] = []
    for h in hits:
        inside = any(
            o is not h
            and o.first <= h.first
            and h.last <= o.last
            and (o.last - o.first > h.last - h.first or _RANK[o.entry.cls] > _RANK[h.entry.cls])
            and _RANK[o.entry.cls] >= _RANK[h.entry.cls]
            and (h.entry.cls != SIGNAL or o.entry.cls != SIGNAL or o.entry.kind == h.entry.kind)
            for o in hits
        )
        # one phrase listed twice (with and without its accents) is said once
        twice = any(
            k.first == h.first
            and k.last == h.last
            and k.entry.cls == h.entry.cls
            and k.entry.kind == h.entry.kind
            for k in kept
        )
        if not inside and not twice:
            kept.append(h)
    return kept


def _claims(idiom: Hit, hit: Hit) -> bool:
    """Whether a harmless phrase claims a hit's words: it holds them all, or, two words or
    more long, it shares a word with the hit and goes on beyond it ("kill it" takes "im
    going to kill" in "im going to kill it at the talent show"). A single word's harmless
    sense is a sense in its own category only: "sweets" eaten is no self-harm, but "hed get
    me sweets" is still a gift."""
    if idiom.last == idiom.first and idiom.entry.category != hit.entry.category:
        return False
    if idiom.first <= hit.first and hit.last <= idiom.last:
        return True
    if idiom.last == idiom.first or idiom.last < hit.first or hit.last < idiom.first:
        return False
    return not (hit.first <= idiom.first and idiom.last <= hit.last)


def _said_again(hit: Hit, idioms: list[Hit]) -> Hit | None:
    """``hit`` at the first place it is said again that no harmless sense claims, if any."""
    for first in hit.again:
        moved = replace(hit, first=first, last=first + hit.last - hit.first, again=())
        if not any(_claims(o, moved) for o in idioms):
            return moved
    return None


def _asked_about(score: Score, asks: list[Hit], hits: list[Hit], own: list[Hit]) -> Score:
    """A harm the lexicons raised, told beside a help join's ask ("who do i tell", "ce să
    fac", "kis ko bataun"), is help asked about it: a pupil telling what happens to them or
    a friend and asking whom to tell, whatever words the telling takes. Only a category
    already over its limit turns to help (an ask beside a weak word says nothing), only the
    safeguarding harms a pupil tells, and never the pupil's own plan, threat or method
    asked (a harm joined to an ``own`` frame: "if you tell miss ill smash your face in")."""
    if not score.over or score.support or score.category not in TOLD:
        return score
    told = _telling(hits, score.category)
    if _joined(told, own) is not None:
        return score
    pair = _joined(told, _asking(asks), ASK_NEAR)
    if pair is None:
        return score
    ask, harm = pair
    reason = (
        f"looking for help: {_q(ask.entry.phrase)} asks whom to tell or what to do about "
        f"what it tells ({_said(harm)})"
    )
    return replace(score, over=True, support=True, reasons=(*score.reasons, reason))


def help_asked(verdict: TextVerdict, asks: list[Hit]) -> TextVerdict | None:
    """``verdict`` with help marked on each harm it raised that a pupil tells (not their own
    plan, threat or method asked) where ``asks``, a help join's asks found in the messages
    typed close together with it, ask whom to tell or to talk ("sir are you free at break" /
    "my uncle hits me when im at his house"); None where nothing changes."""
    asked = _asking(asks)
    if not asked or verdict.support or verdict.band not in PUPIL_BANDS:
        return None
    own = [h for h in verdict.hits if h.entry.cls == FRAME and h.entry.kind in OWN]
    scores = []
    for s in verdict.scores:
        told = _telling(verdict.hits, s.category)
        if s.over and s.category in TOLD and (told or s.learned) and _joined(told, own) is None:
            what = _said(told[0]) if told else "as the learned model read it"
            why = (
                f"looking for help: {_q(asked[0].entry.phrase)}, asked in the messages typed "
                f"with it, asks whom to tell or to talk to about what it tells ({what})"
            )
            s = replace(s, support=True, reasons=(*s.reasons, why))
        scores.append(s)
    support = tuple(s.category for s in scores if s.support and s.over)
    return replace(verdict, scores=tuple(scores), support=support) if support else None


def _asking(asks: list[Hit]) -> list[Hit]:
    """The asks that ask for help: not the start of a threat ("if i tell anyone ...")."""
    return [a for a in asks if not a.entry.phrase.startswith(UNASKED)]


def _telling(hits: Iterable[Hit], category: str) -> list[Hit]:
    """The hits that tell a harm of ``category`` (not a weak word, a frame or a context)."""
    return [h for h in hits if h.entry.category == category and h.entry.cls in _TELLS]


def asks_in(hits: Iterable[Hit]) -> list[Hit]:
    """The asks of help joins among ``hits`` (whom to tell, can i talk to you)."""
    return [
        h for h in hits if h.entry.cls == PART and h.entry.kind == SUPPORT and h.entry.side == "a"
    ]


def _apart(context: Hit, harm: Hit) -> bool:
    """Whether ``context`` is said before ``harm`` with more than ``_CLOSE`` words between: a
    topic or a reason ("my dog died and ..."), not a sense of the harm's words. Context said
    after the harm explains it wherever it stands ("..., vou viajar")."""
    if context.reading != harm.reading or context.last >= harm.first:
        return False
    return harm.first - context.last - 1 > _CLOSE


def _inside(benign: Hit, spans: list[Span]) -> bool:
    """Whether a harmless word lies among the parts of a join of its category ("mera phone
    aur cycle chhote bhai ko de dena, mujhe ab zaroorat nahi": the phone is the farewell's,
    not a flat battery); a harmless phrase ("a lift home") still reads the text anew."""
    e = benign.entry
    if benign.first != benign.last:
        return False
    return any(
        cat == e.category
        and reading == benign.reading
        and first <= benign.first
        and benign.last <= last
        for cat, reading, first, last in spans
    )


def with_joins(hits: list[Hit], spans: list[Span] | None = None) -> list[Hit]:
    """The hits with each join's parts replaced by what the join gives, where its two parts
    were found near each other; a part alone says nothing. ``spans``, when given, receives
    the words (category, reading, first, last) each harm's join was found across, its
    parts near the pair with it."""
    if not any(h.entry.cls == PART for h in hits):
        return hits
    out: list[Hit] = []
    sides: dict[tuple[str, int], tuple[list[Hit], list[Hit]]] = {}
    for h in hits:
        if h.entry.cls != PART:
            out.append(h)
            continue
        a, b = sides.setdefault((h.entry.join, h.reading), ([], []))
        (a if h.entry.side == "a" else b).append(h)
    given: set[str] = set()
    for (join, _reading), (a, b) in sides.items():
        if not a or not b or join in given:
            continue
        a.sort(key=lambda h: h.first - h.last)  # the longest phrases where two are as near
        b.sort(key=lambda h: h.first - h.last)
        near = b[0].entry.near
        if b[0].entry.kind == BENIGN:
            # an everyday context takes every phrase of risk it is near as harmless
            pairs = [p for p in (_joined([bh], a, near) for bh in b) if p is not None]
        else:
            pair = _joined(b, a, near)
            pairs = [] if pair is None else [pair]
        if pairs:
            given.add(join)
        out.extend(_given(pair) for pair in pairs)
        if spans is not None and pairs and b[0].entry.kind not in (BENIGN, SUPPORT):
            spans.append(_span(pairs[0], a, b))
    return out


def _span(pair: tuple[Hit, Hit], a: list[Hit], b: list[Hit]) -> Span:
    """The words a harm's join was found across: its pair, and its parts near them."""
    bh = pair[1]
    first, last = min(h.first for h in pair), max(h.last for h in pair)
    near = bh.entry.near
    for h in (*a, *b):
        if h.reading == bh.reading and first - near <= h.last and h.first <= last + near:
            first, last = min(first, h.first), max(last, h.last)
    return (bh.entry.category, bh.reading, first, last)


def _given(pair: tuple[Hit, Hit]) -> Hit:
    """What a join gives where its parts (a, b) were found near each other, at its b part."""
    bh = pair[1]
    e = bh.entry
    said = " … ".join(x.entry.phrase for x in sorted(pair, key=lambda x: x.first))
    signal = e.kind in SIGNAL_KINDS
    entry = Entry(
        said,
        e.lang,
        SIGNAL if signal else e.kind,
        e.category,
        e.kind if signal else "",
        e.native,
        e.join if e.kind == BENIGN else "",  # an everyday context: it claims, and only that
    )
    # A join that marks help spans both its parts, so that the harm it names inside it
    # ("talk to someone about" ... "feeling suicidal") does not hide it.
    if e.kind == SUPPORT:
        first, last = min(h.first for h in pair), max(h.last for h in pair)
        return Hit(entry, first, last, reading=bh.reading)
    return Hit(entry, bh.first, bh.last, reading=bh.reading)


def _joined(acts: list[Hit], frames: list[Hit], near: int = NEAR) -> tuple[Hit, Hit] | None:
    """The nearest frame and act within ``near`` words of each other that do not overlap."""
    best: tuple[int, Hit, Hit] | None = None
    for a in acts:
        for f in frames:
            if f.last < a.first:
                gap = a.first - f.last
            elif a.last < f.first:
                gap = f.first - a.last
            else:
                continue
            if gap <= near and (best is None or gap < best[0]):
                best = (gap, f, a)
    return None if best is None else (best[1], best[2])
