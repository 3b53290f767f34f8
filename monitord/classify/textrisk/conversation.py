"""What one person typed in one app over the last few minutes, and what they had open.

Typed text reaches monitord in fragments: a message at a time, sometimes a few words at a
time. :class:`Conversations` keeps, per person and app, the messages of the last
``window`` (five minutes by default, at most ``max_messages`` and ``max_chars``), so that each
new message is judged alone and with the ones before it; and per person the window title they
last had open, so that a search made beside a lesson document is judged in that context. All
of it is in memory and bounded: at most ``max_people`` conversations are kept (the least
recently active go first), and nothing outlives its window. Times are the events' own, so a
backfill is judged as it happened.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

from monitord.classify.textrisk.blend import BlendedJudge
from monitord.classify.textrisk.judge import (
    CATEGORY_LIMITS,
    GROOMING,
    PUPIL_BANDS,
    SIGNAL_WEIGHT,
    TYPED,
    Score,
    TextJudge,
    TextVerdict,
    help_asked,
)
from monitord.classify.textrisk.learned import calms
from monitord.classify.textrisk.lexicon import BENIGN, PART, SUPPORT, Lexicon
from monitord.classify.textrisk.normal import joined_readings, readings
from monitord.classify.textrisk.pattern import EVERYDAY, learned_pattern

WINDOW = timedelta(minutes=5)
LESSON_WINDOW = timedelta(minutes=20)
# Messages are joined with a full stop, which no phrase spans... except frames and acts, which
# may (a pupil types "i want to" and then "kill myself").
JOIN = " . "
# How a join's two parts are named in the phrase it gives (``judge._given``).
JOINED = " … "


# Fragments: the last few messages typed close together, read as one sentence for every
# category; the whole window is read for grooming's signals only.
FRAGMENTS = 3
FRAGMENT_GAP = timedelta(minutes=2)
# Grooming signals spread over the whole window make a pattern from four kinds on, two of them
# not everyday asks (two kinds in one message, or in fragments typed together, are enough).
SPREAD_SIGNALS = 4
# Signals friends trade every day (``EVERYDAY``, in :mod:`.pattern`) make no pattern across
# messages without a third, or a sign of another kind, but for an exchange (a gift, then a
# photo asked for).
EXCHANGE = frozenset({"gift", "photo"})
# Harms a join may tell over messages typed close together, each part in its own message ("it
# explains why they need removing" / "we meet thursday, bring someone you trust"): read
# together only for a join's sake, never a word beside a frame typed in another message.
ACROSS = frozenset({"suicide", "self_harm", "violence", "extremism", "bullying"})
# A compliment friends trade on a picture shown ("send me a pic of ur prom dress" / "omg so
# pretty"): across messages, a photo asked for and flattery are no pattern without a third
# kind of sign. In one message they still are ("ur so pretty, send me a pic"); flattery with
# another app or a meeting across messages still is ("ur so mature" / "lets talk on
# telegram").
COMPLIMENT = frozenset({"photo", "flattery"})
# The pupil telling their own age (9 to 15) as a whole message, as a child answers "how old
# are you" typed on someone else's device: "im 12", "mam 12 lat", "tengo 12", "main 12 saal ki
# hoon", "amar boyosh 12", "عمري 12"; never a time, a score or a price ("im 12 mins away").
_CHILD_AGE = re.compile(
    r"(?:^| )(?:im|i am|im only|im just|i am only|yeah im|yes im|ok im|mam|mam dopiero|mam tylko"
    r"|am|am doar|tengo|tengo solo|solo tengo|tenho|tenho so|so tenho|main|mai|meri umar"
    r"|meri age|amar boyosh|amar boyos|amar boyes|\u0639\u0645\u0631\u064a)"
    r" (9|1[0-5])"
    r"(?: (?:years old|yrs old|yo|lat|de ani|ani|anos|saal"
    r"|saal (?:ki|ka|di|da) (?:hoon|haan|hu|han)|bochor"
    r"|\u0633\u0646\u0629|\u0633\u0646\u064a\u0646))?"
    r"(?: (?:btw|lol|too|tho|though|and you|and u|wbu|hbu|u|y tu|e tu|e voce|a ty|si tu))?$"
)
AGE = "age"
# What the learned model raised in one message alone stands in a conversation only where the
# messages typed close together, read as one, score this as a risk, most like its category.
BORNE_OUT = 0.5
# A message of this many words or fewer may be a piece of a sentence typed in parts; only
# pieces are read together for the other categories.
PIECE_WORDS = 4


@dataclass(frozen=True, slots=True)
class Recent:
    """A conversation's recent messages (oldest first, the newest last, at most ``max_chars``
    of text together): joined as ``text``; how many, over how long; the last few typed close
    together (``fragments``) and, of those, the trailing short pieces (``pieces``). Joined only
    when asked for."""

    items: tuple[tuple[datetime, str], ...]

    @property
    def messages(self) -> int:
        return len(self.items)

    @property
    def text(self) -> str:
        return JOIN.join(t for _ts, t in self.items)

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(t for _ts, t in self.items)

    @property
    def seconds(self) -> int:
        return int((self.items[-1][0] - self.items[0][0]).total_seconds())

    def _close(self) -> list[str]:
        close: list[str] = []
        previous = self.items[-1][0]
        for ts, t in reversed(self.items):
            if len(close) >= FRAGMENTS or previous - ts > FRAGMENT_GAP:
                break
            close.append(t)
            previous = ts
        close.reverse()
        return close

    @property
    def fragment_count(self) -> int:
        return len(self._close())

    @property
    def fragments(self) -> str:
        return JOIN.join(self._close())

    @property
    def fragment_texts(self) -> tuple[str, ...]:
        return tuple(self._close())

    def _pieces(self) -> list[str]:
        pieces: list[str] = []
        for t in reversed(self._close()):
            if t.count(" ") >= PIECE_WORDS:
                break
            pieces.append(t)
        pieces.reverse()
        return pieces

    @property
    def piece_count(self) -> int:
        return len(self._pieces())

    @property
    def piece_texts(self) -> tuple[str, ...]:
        return tuple(self._pieces())

    @property
    def pieces(self) -> str:
        return JOIN.join(self._pieces())


class Conversations:
    """Recent typed messages per (person, app), and the last window title per person."""

    def __init__(
        self,
        window: timedelta = WINDOW,
        max_messages: int = 12,
        max_chars: int = 800,
        max_people: int = 20_000,
    ) -> None:
        self.window = window
        self.max_messages = max_messages
        self.max_chars = max_chars
        self.max_people = max_people
        self._talk: OrderedDict[tuple[str, str], deque[tuple[datetime, str]]] = OrderedDict()
        self._titles: OrderedDict[str, tuple[datetime, str, bool]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._talk)

    def add(self, who: str, app: str, at: datetime, text: str) -> Recent:
        """Record a message and return it joined with the ones before it in the window."""
        recent = self.follow(who, app, at, text)
        return Recent(((at, text[: self.max_chars]),)) if recent is None else recent

    def follow(self, who: str, app: str, at: datetime, text: str) -> Recent | None:
        """Record a message; return it joined with the ones before it in the window, or None
        when it is alone there (most messages: nobody typed in this app in the last minutes),
        which spares most reports making a window of one."""
        key = (who, app)
        talk = self._talk.get(key)
        if talk is None:
            talk = self._talk[key] = deque()
            while len(self._talk) > self.max_people:
                self._talk.popitem(last=False)
        else:
            self._talk.move_to_end(key)
        since = at - self.window
        while talk and (talk[0][0] < since or talk[0][0] > at):
            talk.popleft()
        talk.append((at, text[: self.max_chars]))
        if len(talk) == 1:
            return None
        while len(talk) > self.max_messages:
            talk.popleft()
        size = 0
        count = 0
        for _ts, t in reversed(talk):
            size += len(t) + len(JOIN)
            if size > self.max_chars and count:
                break
            count += 1
        return Recent(tuple(talk)[len(talk) - count :]) if count > 1 else None

    def note_title(self, who: str, at: datetime, title: str, lesson: bool) -> None:
        """Remember the window title ``who`` has open, and whether it is a lesson's."""
        titles = self._titles
        if who in titles:
            titles.move_to_end(who)
            titles[who] = (at, title, lesson)
            return
        titles[who] = (at, title, lesson)
        while len(titles) > self.max_people:
            titles.popitem(last=False)

    def lesson(self, who: str, at: datetime) -> str | None:
        """The title of the lesson document ``who`` had open in the last twenty minutes (the
        last title they opened, if it was a lesson's), or None."""
        seen = self._titles.get(who)
        if seen is None:
            return None
        ts, title, lesson = seen
        if not lesson or at - ts > LESSON_WINDOW or ts > at + timedelta(minutes=1):
            return None
        return title


def with_recent(
    judge: TextJudge, verdict: TextVerdict, recent: Recent, band: str, lesson: str | None
) -> TextVerdict:
    """A message's verdict with the ones before it: short pieces typed one after another for
    every category ("i want to" / "kill" / "myself"); for grooming, whose signals come a
    message at a time, the last few messages typed close together, or the whole window when
    four kinds of signal are in it, two of them more than everyday asks. Returns the verdict
    that raises more; but for grooming, nothing where the learned model reads the messages
    typed close together as everyday talk (:func:`_calmed`)."""
    verdict = _answered(judge, _in_context(judge, verdict, recent, band), recent, band, lesson)
    found = _with_recent(judge, verdict, recent, band, lesson)
    return _calmed(judge, found, recent, band, lesson)


def _answered(
    judge: TextJudge, verdict: TextVerdict, recent: Recent, band: str, lesson: str | None
) -> TextVerdict:
    """``verdict`` without what this message raised alone where the messages typed close
    together, read as one by the lexicons, give it a harmless sense told in a message before
    it and raise it no more: "my brother took my charger again" / "kill him", "in the
    badminton final tomorrow" / "im going to smash him". A harm said outright beyond the
    harmless phrase stays raised, as in one message."""
    listed = [
        s.category
        for s in verdict.scores
        if s.over and s.total >= s.limit and not s.support and s.category != GROOMING
    ]
    if not listed or recent.fragment_count < 2 or GROOMING in verdict.categories:
        return verdict
    near = judge.judge(recent.fragments, TYPED, band, lesson, recent.fragment_count)
    # the harmless sense must reach into this message's words (a join whose phrase of risk
    # is here, its everyday context before), not lower it from afar ("take care of my dog"
    # / "and tell mum it wasnt her fault" stays a farewell)
    words = len(readings(recent.fragments)[0].split())
    here = words - len(readings(recent.fragment_texts[-1])[0].split())
    senses = [
        h
        for h in near.hits
        if h.entry.cls == BENIGN and h.entry.category and h.reading == 0 and h.last >= here
    ]
    gone = [c for c in listed if c not in near.categories]
    gone = [c for c in gone if any(h.entry.category == c for h in senses)]
    if not gone:
        return verdict
    said = ", ".join(f'"{h.entry.phrase}"' for h in senses if h.entry.category in gone)
    why = (
        f"read with the {recent.fragment_count} messages typed close together, a harmless "
        f"sense told before it ({said}): not raised"
    )
    scores = tuple(
        replace(s, over=False, reasons=(*s.reasons, why)) if s.category in gone else s
        for s in verdict.scores
    )
    categories = tuple(c for c in verdict.categories if c not in gone)
    return replace(verdict, scores=scores, categories=categories)


def _in_context(judge: TextJudge, verdict: TextVerdict, recent: Recent, band: str) -> TextVerdict:
    """``verdict`` without what the learned model raised in this message alone (no lexicon
    phrase reaching the limit) where the messages typed close together, read as one, do not
    bear it out: they score under ``BORNE_OUT`` as a risk, or are most like another
    category. A reply read alone loses what it answers ("yeah just email it to him" after
    "coach wants photos of everyone in kit", most like grooming read together; "i dont want
    to do it alone" after "my group keeps arguing about the project", 0.03). The bar is low:
    the reason a threat is given ("he shared my sister's photo") or a friend's "u ok?" before
    a farewell lowers the score of what follows. Never grooming, whose messages the pattern
    reads together already."""
    if (
        not verdict.categories
        or not isinstance(judge, BlendedJudge)
        or band not in PUPIL_BANDS
        or recent.fragment_count < 2
    ):
        return verdict
    learned = [
        s
        for s in verdict.scores
        if s.over and s.learned and not s.support and s.total < s.limit and s.category != GROOMING
    ]
    if not learned:
        return verdict
    model = judge.model
    guess = model.guess(" ".join(readings(t)[0] for t in recent.fragment_texts))
    dropped: dict[str, str] = {}
    for s in learned:
        if guess.risk < BORNE_OUT or guess.category != s.category:
            dropped[s.category] = (
                f"read with the {recent.fragment_count} messages typed close together, the "
                f"learned model scores them {guess.risk:.2f} as a risk, most like "
                f"{guess.category}: not borne out, not raised"
            )
    if not dropped:
        return verdict
    scores = tuple(
        replace(s, over=False, reasons=(*s.reasons, dropped[s.category]))
        if s.category in dropped
        else s
        for s in verdict.scores
    )
    categories = tuple(c for c in verdict.categories if c not in dropped)
    return replace(verdict, scores=scores, categories=categories)


def _calmed(
    judge: TextJudge, found: TextVerdict, recent: Recent, band: str, lesson: str | None
) -> TextVerdict:
    """``found`` with nothing raised where a pupil's messages typed close together (two or
    more, this one among them), read as one text, score under the model's ``harmless``: a
    word of risk in a chat about a test or a game ("same i wanna die lol its so long" after
    "this science test is literally killing me"), as a typed message alone is calmed. Never
    grooming, whose messages read as everyday talk one by one."""
    if (
        not found.categories
        or GROOMING in found.categories
        or found.support
        or not isinstance(judge, BlendedJudge)
        or judge.model.harmless is None
        or band not in PUPIL_BANDS
        or lesson is not None
        or recent.fragment_count < 2
    ):
        return found
    model = judge.model
    risk = model.risk_joined([readings(t)[0] for t in recent.fragment_texts])
    if not calms(model, risk):
        return found
    why = (
        f"the learned model scores the last {recent.fragment_count} messages read together "
        f"{risk:.2f} as a risk, under {model.harmless:.2f}: everyday talk, not raised"
    )
    scores = tuple(
        replace(s, over=False, reasons=(*s.reasons, why)) if s.over else s for s in found.scores
    )
    return replace(found, scores=scores, categories=())


def signalled(verdict: TextVerdict) -> bool:
    """Whether a message (its verdict alone) brings a sign of grooming: a signal the lexicons
    found in it, or the pupil's own age told. Only then are the messages before it read
    beyond those typed close together."""
    if verdict.hits and any(h.entry.category == GROOMING for h in verdict.hits):
        return True
    return _told_age(verdict.text) is not None


def window_read(recent: Recent, signs: bool) -> tuple[tuple[str, ...], int] | None:
    """What :func:`with_recent` reads of ``recent`` besides the message's own verdict
    (``signs``: whether the message is :func:`signalled`): for a message with no sign, the
    messages typed close together (the last among them) and nothing else, and nothing at all
    when none was typed close before it, the verdict then being the message's alone (None);
    for a message with a sign, every message of the window and how many were typed close
    together. Two windows that give the same are judged the same."""
    close = recent.fragment_texts
    if signs:
        return recent.texts, len(close)
    return None if len(close) < 2 else (close, 0)


def _with_recent(
    judge: TextJudge, verdict: TextVerdict, recent: Recent, band: str, lesson: str | None
) -> TextVerdict:
    best = verdict
    pieces = recent.piece_texts
    # Each piece's readings are already known; only pieces that say something together are
    # judged together.
    if len(pieces) > 1 and judge.lexicon.matters(joined_readings(pieces)):
        near = judge.judge(recent.pieces, TYPED, band, lesson, recent.piece_count)
        # Their languages are asked (CLD2, a fraction of a millisecond) only when it matters.
        if set(near.categories) - set(best.categories) and _one_language(judge, pieces):
            best = near
    best = _across(judge, best, recent, band, lesson)
    best = _asked(judge, best, recent, band, lesson)
    if GROOMING in best.categories:
        return best
    if not signalled(verdict):  # the lexicons look for a pattern when this message brings a sign
        return _learned(judge, best, recent, band, lesson)
    if recent.fragment_count > 1:
        close = judge.judge(recent.fragments, TYPED, band, lesson, recent.fragment_count)
        close = _with_age(close, recent.fragment_texts)
        if GROOMING in close.categories and _pattern(close):
            return _with_grooming(best, close)
    whole = judge.judge(recent.text, TYPED, band, lesson, recent.messages)
    whole = _with_age(whole, tuple(t for _ts, t in recent.items))
    kinds = set(whole.signals)
    if GROOMING not in whole.categories or len(kinds) < SPREAD_SIGNALS:
        return _learned(judge, best, recent, band, lesson)
    if len(kinds - EVERYDAY) < 2:  # unrelated everyday asks and one more sign, minutes apart
        return _learned(judge, best, recent, band, lesson)
    return _with_grooming(best, whole)


def _across(
    judge: TextJudge, best: TextVerdict, recent: Recent, band: str, lesson: str | None
) -> TextVerdict:
    """``best``, with the harms of :data:`ACROSS` that a join tells in the messages typed close
    together, read as one, where none of them alone raised it ("take care of my dog ok" / "tell
    mum it wasnt her fault" / "love you"). Short pieces were read together already; help asked
    or read there is left to :func:`_asked`."""
    texts = recent.fragment_texts
    if len(texts) < 2 or recent.piece_count == len(texts) or best.support:
        return best
    if not _split_join(judge.lexicon, tuple(readings(t)[0] for t in texts)):
        return best
    close = judge.judge(recent.fragments, TYPED, band, lesson, recent.fragment_count)
    told = [
        c
        for c in close.categories
        if c in ACROSS
        and c not in best.categories
        and any(h.entry.category == c and JOINED in h.entry.phrase for h in close.hits)
    ]
    if not told or close.support or not _one_language(judge, texts):
        return best
    return replace(
        best,
        scores=(
            *(s for s in best.scores if s.category not in told),
            *(s for s in close.scores if s.category in told),
        ),
        categories=(*best.categories, *told),
        messages=close.messages,
    )


def _split_join(lexicon: Lexicon, said: tuple[str, ...]) -> bool:
    """Whether one part of a join of :data:`ACROSS` is in one of the messages ``said`` (their
    canonical readings) and its other part in another: most windows stop here, each message's
    parts remembered."""
    sides = [_join_sides(lexicon, r) for r in said]
    for i, mine in enumerate(sides):
        for j, theirs in enumerate(sides):
            if i != j and any((join, "b") in theirs for join, side in mine if side == "a"):
                return True
    return False


@lru_cache(maxsize=4096)
def _join_sides(lexicon: Lexicon, reading: str) -> frozenset[tuple[str, str]]:
    """The (join, side) of every part of a join of :data:`ACROSS` in ``reading``."""
    entries = lexicon.entries
    found = set()
    for _first, _last, key in lexicon.scan(reading):
        e = entries[key.entry]
        if e.cls == PART and e.category in ACROSS and e.kind not in (BENIGN, SUPPORT):
            found.add((e.join, e.side))
    return frozenset(found)


def _learned(
    judge: TextJudge, best: TextVerdict, recent: Recent, band: str, lesson: str | None
) -> TextVerdict:
    """``best``, with grooming where the learned model reads the messages typed close
    together as a pattern beside a sign the lexicons found (:mod:`.pattern`)."""
    if not isinstance(judge, BlendedJudge) or recent.fragment_count < 2:
        return best
    found = learned_pattern(judge, recent.fragment_texts, band, lesson)
    return best if found is None else _with_grooming(best, found)


def _asked(
    judge: TextJudge, best: TextVerdict, recent: Recent, band: str, lesson: str | None
) -> TextVerdict:
    """``best``, with help marked where it raised a harm and the learned model reads help asked
    in the messages typed close together, read as one ("miss can i talk to u" / "i keep
    thinking about hurting myself" / "please dont tell everyone"): help is asked in fragments
    as a harm is told, and the model reads a message alone. Nothing is raised that ``best``
    did not raise."""
    if best.support or band not in PUPIL_BANDS or lesson is not None or recent.fragment_count < 2:
        return best
    told = _told(judge, best, recent, band)
    if told is not None:
        return told
    if not best.categories or not isinstance(judge, BlendedJudge):
        return best
    joined = " ".join(readings(t)[0] for t in recent.fragment_texts)
    return judge.helped(best, (joined,)) or best


def _told(judge: TextJudge, best: TextVerdict, recent: Recent, band: str) -> TextVerdict | None:
    """``best`` with help marked where the messages typed just before it asked to talk or whom
    to tell ("sir are you free at break" / "my uncle hits me when im at his house"): the harm
    it raised, or, where it raised none and it holds a help join's told part, what a help join
    reads in the messages together. None when none of them asked."""
    # A message that raised nothing and tells nothing a help join reads: no ask matters.
    if not best.categories and not judge.tells(readings(recent.fragment_texts[-1])[0]):
        return None
    earlier = tuple(readings(t)[0] for t in recent.fragment_texts[:-1])
    asks = judge.asks(earlier, best.language)
    if not asks:
        return None
    if best.categories:
        return help_asked(best, asks)
    near = judge.judge(recent.fragments, TYPED, band, None, recent.fragment_count)
    return near if near.support else None


def _one_language(judge: TextJudge, pieces: tuple[str, ...]) -> bool:
    """Whether pieces may be one sentence typed in parts: no two of them plainly in different
    languages (a Portuguese search and an English one are two texts, not one)."""
    codes = set()
    for piece in pieces:
        language = judge.identify(piece, readings(piece)[0])
        if language.sure:
            codes.add(language.code)
    return len(codes) <= 1


def _pattern(found: TextVerdict) -> bool:
    """Whether grooming found across messages is a pattern: said outright, or signals of
    three kinds, or of two where one is not an everyday ask (but a photo and a compliment on
    it), or a gift and a photo (an exchange: "i got you robux" ... "send me a selfie
    back")."""
    kinds = set(found.signals)
    if not kinds or len(kinds) >= 3 or kinds == EXCHANGE:
        return True
    return not kinds <= EVERYDAY and kinds != COMPLIMENT


def _with_grooming(best: TextVerdict, found: TextVerdict) -> TextVerdict:
    """``best`` with the grooming pattern ``found`` over several messages added."""
    pattern = next(s for s in found.scores if s.category == GROOMING)
    return replace(
        best,
        scores=(*(s for s in best.scores if s.category != GROOMING), pattern),
        categories=(*best.categories, GROOMING),
        signals=found.signals,
        messages=found.messages,
    )


def _told_age(text: str) -> str | None:
    """The pupil's own age told in ``text`` as a whole message ("im 12"), or None."""
    m = _CHILD_AGE.search(readings(text)[0]) if _DIGITS.search(text) else None
    return None if m is None else m.group().strip()


_DIGITS = re.compile(r"\d")


def _with_age(found: TextVerdict, texts: tuple[str, ...]) -> TextVerdict:
    """``found`` (messages read together) with the pupil's own age told in one of them
    counted as a grooming signal of the kind "age", when no sign of that kind is there yet:
    the child's side of being asked how old they are."""
    if AGE in found.signals:
        return found
    told = next((a for a in map(_told_age, texts) if a is not None), None)
    if told is None:
        return found
    old = next((s for s in found.scores if s.category == GROOMING), None)
    total = (old.total if old else 0) + SIGNAL_WEIGHT
    limit = old.limit if old else CATEGORY_LIMITS[GROOMING]
    why = f'the pupil tells their own age ("{told}"), a sign of the kind age: +{SIGNAL_WEIGHT}'
    score = Score(GROOMING, total, limit, total > limit, (*(old.reasons if old else ()), why))
    others = tuple(s for s in found.scores if s.category != GROOMING)
    categories = tuple(c for c in found.categories if c != GROOMING)
    if score.over:
        categories = (*categories, GROOMING)
    return replace(
        found,
        scores=(*others, score),
        categories=categories,
        signals={**found.signals, AGE: (f'"{told}"',)},
    )
