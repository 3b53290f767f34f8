"""What an event says and runs: the text of searches, typed text and window titles scored by
the phrase engine for the person's age band, and program names checked against the
filter-bypass list. Domains and URLs are the domain index's part (``monitord.classify.engine``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from monitord.classify.lists import ListError
from monitord.classify.phrases import JUNIOR, PhraseEngine, PhraseHit, TextResult, age_band_of
from monitord.classify.policy import Policy
from monitord.classify.searchterms import cleaned, event_text
from monitord.classify.textrisk.blend import default_judge
from monitord.classify.textrisk.conversation import (
    Conversations,
    Recent,
    signalled,
    window_read,
    with_recent,
)
from monitord.classify.textrisk.encodings import list_language
from monitord.classify.textrisk.judge import SEARCH, TITLE, TYPED, TextJudge, TextVerdict
from monitord.classify.textrisk.language import PLAIN_ENGLISH
from monitord.classify.textrisk.normal import forget_readings, readings
from monitord.classify.textrisk.words import as_json, summary
from monitord.core.categories import ALLOW, is_category
from monitord.core.model import Decision, Event, EventKind, Match, Person, Severity
from monitord.core.paths import DEFAULTS

DEFAULT_PROCESSES = DEFAULTS / "processes"
# Texts judged on their own that are remembered, and the longest remembered.
ALONE_KEPT = 8192
ALONE_CHARS = 200
# Windows of typed messages judged together that are remembered (each at most
# ``Conversations.max_chars`` of text).
WINDOWS_KEPT = 4096
# A window's key: the message, the band, the lesson open, and what is read of the window
# (``window_read``).
_WindowKey = tuple[str, str, str | None, tuple[str, ...], int]


def program_key(name: str) -> str:
    """``C:\\Tools\\Tor.EXE`` and ``tor`` alike: base name, no extension, lower case."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().lower()
    for ext in (".exe", ".app", ".appimage", ".bin"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base


class ProcessIndex:
    """Program names by category, from files of one name a line headed ``# category: ID``."""

    def __init__(self, entries: dict[str, tuple[str, str]] | None = None) -> None:
        self.entries: dict[str, tuple[str, str]] = dict(entries or {})

    @classmethod
    def load(cls, folder: Path) -> ProcessIndex:
        entries: dict[str, tuple[str, str]] = {}
        for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
            category = ""
            for line in path.read_text(encoding="utf-8").splitlines():
                s = line.strip()
                if s.startswith("# category:"):
                    category = s.split(":", 1)[1].strip()
                elif s and not s.startswith("#"):
                    if not is_category(category) or category == ALLOW:
                        raise ListError(f"{path}: first line must be '# category: ID'")
                    entries[program_key(s)] = (category, f"programs/{path.stem}")
        return cls(entries)

    def lookup(self, name: str) -> Match | None:
        found = self.entries.get(program_key(name))
        if found is None:
            return None
        category, list_name = found
        return Match(category, list_name, program_key(name))


@dataclass(frozen=True, slots=True)
class ContentVerdict:
    """The categories an event's content falls in, every match behind them, and the most a
    policy may make of it (``high`` for a pupil looking for help)."""

    matches: tuple[Match, ...] = ()
    categories: tuple[str, ...] = ()
    cap: Severity | None = None
    support: tuple[str, ...] = ()


NOTHING = ContentVerdict()


def capped(decision: Decision, cap: Severity | None) -> Decision:
    """A pupil looking for help is reported, never above ``cap`` (high), whatever the row."""
    if cap is None or decision.severity.rank <= cap.rank:
        return decision
    return replace(
        decision, severity=cap, rule=f"{decision.rule}; support-seeking: at most {cap.value}"
    )


def text_band(person: Person | None) -> str:
    """The age band a text is judged for: the person's, and for someone nobody knows the
    junior band, as policy puts them in the pupil column."""
    if person is None:
        return JUNIOR
    key = (person.year_group, person.role)
    band = _BANDS.get(key)
    if band is None:
        if len(_BANDS) > 256:
            _BANDS.clear()
        band = _BANDS[key] = age_band_of(person)
    return band


_BANDS: dict[tuple[str | None, str | None], str] = {}


# Enum members read once: in Python 3.11 each ``EventKind.X`` goes through the enum class's
# ``__getattr__`` hook, ten times the cost of a global, and these are read for every report.
_TEXT, _PROCESS, _SEARCH = EventKind.TEXT, EventKind.PROCESS, EventKind.SEARCH


def text_kind(event: Event) -> str:
    """How a text is judged: an agent's typed text or window title, else a search (an agent's
    search report, or the query of a search engine's URL seen by the proxy or the capture)."""
    if event.kind is _TEXT:
        return TITLE if event.report == "window_title" else TYPED
    return SEARCH


def imported_only(phrases: PhraseEngine) -> PhraseEngine | None:
    """The phrase lists a school imported (e2guardian's), without the project's own, which
    the lexicons read as English entries
    (:func:`monitord.classify.textrisk.lexicon.phrase_list_entries`); None when there are none."""
    imported = [p for p in phrases.lists if not p.name.startswith("phrases/")]
    return PhraseEngine(imported, phrases.thresholds) if imported else None


def in_its_language(
    engine: PhraseEngine, result: TextResult, verdict: TextVerdict, judge: TextJudge
) -> TextResult:
    """An imported list in another language (e2guardian's ``weighted_polish``) counts for a
    text in that language, or one whose language cannot be told; not for an English text
    that happens to share a word with it."""
    langs = {h.list_name: list_language(h.list_name) for h in result.hits}
    if not any(langs.values()):
        return result
    told = verdict.language
    if told is PLAIN_ENGLISH:
        told = judge.identify(verdict.text, verdict.normalised)

    def readable(hit: PhraseHit) -> bool:
        lang = langs[hit.list_name]
        return lang is None or told.reads(lang) or not told.sure

    return engine.rejudge(result, readable)


def merge(result: TextResult | None, verdict: TextVerdict, judge: TextJudge) -> ContentVerdict:
    """The phrase lists' result and the lexicon judgement together: a category is raised when
    either raises it; each lexicon category carries its explanation as one match."""
    if not verdict.categories and (result is None or not result.categories):
        return NOTHING
    name = judge.language_name(verdict.language.code)
    matches = list(result.matches()) if result and result.categories else []
    categories = list(result.categories) if result else []
    for category in verdict.categories:
        total = next(s.total for s in verdict.scores if s.category == category)
        matches.append(
            Match(category, f"textrisk/{verdict.kind}", summary(verdict, category, name), total)
        )
        if category not in categories:
            categories.append(category)
    helped = result.support_categories if result else ()
    support = tuple(dict.fromkeys((*helped, *verdict.support)))
    cap = Severity.HIGH if support else None
    if not categories:
        return ContentVerdict()
    return ContentVerdict(tuple(matches), tuple(categories), cap, support)


def text_explainer(
    phrases: PhraseEngine,
    policy: Policy,
    person: Person | None,
    at: datetime,
    addresses: Callable[[tuple[str, ...]], list[str]],
    judge: TextJudge | None = None,
    kind: str = SEARCH,
) -> Callable[[str], dict[str, Any]]:
    """For ``monitord classify "some text"``: the lexicon judgement in sentences (language,
    frames, signals, phrases, limits), every phrase-list hit with its list and weight, and what
    policy makes of each category raised."""
    band = text_band(person)
    judge = judge or default_judge()
    imported = imported_only(phrases)

    def explain(text: str) -> dict[str, Any]:
        result = imported.score(text, band) if imported else None
        verdict = judge.judge(text, kind, band)
        merged = merge(result, verdict, judge)
        decisions = []
        for category in merged.categories:
            d = capped(policy.decide(category, person, None, at), merged.cap)
            decisions.append(
                {
                    "category": category,
                    "severity": d.severity.value,
                    "rule": d.rule,
                    "recipients": list(d.recipients),
                    "addresses": addresses(d.recipients),
                }
            )
        return {
            "normalised": verdict.normalised,
            "age_band": band,
            "judgement": as_json(verdict, judge.language_name(verdict.language.code)),
            "hits": [
                {
                    "list": h.list_name,
                    "category": h.category,
                    "phrase": h.phrase,
                    "weight": h.weight,
                    "kind": h.kind,
                }
                for h in (result.hits if result else ())
            ],
            "totals": dict(result.totals) if result else {},
            "limits": dict(result.limits) if result else {},
            "categories": list(merged.categories),
            "support_seeking": bool(merged.support),
            "decisions": decisions,
        }

    return explain


class _Alone:
    """A text as judged on its own: its readings, its verdict, and, asked for once, that
    verdict merged with the phrase lists' (what ``classify`` returns when nothing typed
    before it changes the verdict); for a window title, whether it is a lesson's."""

    __slots__ = ("lesson", "said", "signs", "text", "texts", "verdict")

    def __init__(
        self, text: str, texts: tuple[str, ...], verdict: TextVerdict, lesson: bool
    ) -> None:
        self.text = text  # as judged (tidied)
        self.texts = texts
        self.verdict = verdict
        self.lesson = lesson
        self.said: ContentVerdict | None = None
        # For a typed message, asked for once: whether it brings a sign of grooming.
        self.signs: bool | None = None


def _lesson_title(verdict: TextVerdict) -> bool:
    """Whether a window title is a lesson's: lesson context in it and nothing raised."""
    context = any(h.entry.cls == "context" for h in verdict.hits)
    return context and not verdict.categories


class ContentClassifier:
    """What an event says: its text judged by the lexicons (alone, and with the same person's
    recent messages in the same app) and by the phrase lists; its program name checked."""

    def __init__(
        self,
        phrases: PhraseEngine,
        programs: ProcessIndex,
        judge: TextJudge | None = None,
        conversations: Conversations | None = None,
    ) -> None:
        self.phrases = phrases
        self.imported = imported_only(phrases)
        self.programs = programs
        self.judge = judge or default_judge()
        self.conversations = conversations or Conversations()
        self._alone: dict[tuple[str, str, str, str | None], _Alone] = {}
        self._windows: dict[_WindowKey, ContentVerdict] = {}

    def classify(self, event: Event, person: Person | None) -> ContentVerdict:
        """What ``event`` says. An event with neither a text nor a URL says nothing
        (``NOTHING``): the pipeline asks only about those with one."""
        of = event.kind
        given = event.text or ""
        if of is _PROCESS and given:
            hit = self.programs.lookup(given)
            return ContentVerdict((hit,), (hit.category,)) if hit else NOTHING
        written = bool(given) and (of is _SEARCH or of is _TEXT)  # as ``event_text`` reads it
        if not written:
            given = event_text(event) or ""  # the query of a search engine's URL, tidied
            if not given:
                return NOTHING
        band = JUNIOR if person is None else _BANDS.get((person.year_group, person.role))
        if band is None:
            band = text_band(person)
        kind = SEARCH if of is not _TEXT else TITLE if event.report == "window_title" else TYPED
        who = (person.username if person else None) or event.user or event.hostname
        who = who or event.client_ip or ""
        lesson = self.conversations.lesson(who, event.ts) if who else None
        # Most texts were said before: found as given, before they are tidied.
        alone = self._alone.get((given, kind, band, lesson))
        if alone is None:
            alone = self._judged_alone(given, written, kind, band, lesson)
            if alone is None:
                return NOTHING
        text = alone.text
        if kind == TITLE and who:
            self.conversations.note_title(who, event.ts, text, alone.lesson)
        elif kind == TYPED and who:
            recent = self.conversations.follow(who, event.app or "", event.ts, text)
            if recent is not None:
                return self._in_window(text, band, lesson, alone, recent)
        return self._said(text, band, alone)

    def _said(self, text: str, band: str, alone: _Alone) -> ContentVerdict:
        """What ``text`` (judged on its own as ``alone``) says with the phrase lists' result,
        merged once."""
        said = alone.said
        if said is None:
            said = alone.said = self._merged(text, band, alone.texts, alone.verdict)
        return said

    def _in_window(
        self, text: str, band: str, lesson: str | None, alone: _Alone, recent: Recent
    ) -> ContentVerdict:
        """What a typed message says with the messages before it in its window (``recent``,
        its own last). The verdict depends on nothing but the message, the band, the lesson
        open, the window's texts in order and how many of the last were typed close together
        (:class:`Recent` reads its times for nothing else), so a window said again (``ok`` after
        ``lol``, the same two messages a class types all day) is judged once: a bounded
        number are remembered, the oldest forgotten first, as texts alone are."""
        signs = alone.signs
        if signs is None:
            signs = alone.signs = signalled(alone.verdict)
        read = window_read(recent, signs)
        if read is None:  # nothing typed close before a message with no sign: itself alone
            return self._said(text, band, alone)
        key = (text, band, lesson, *read)
        said = self._windows.get(key)
        if said is not None:
            return said
        verdict = with_recent(self.judge, alone.verdict, recent, band, lesson)
        if verdict is not alone.verdict:  # the messages before it changed the verdict
            said = self._merged(text, band, alone.texts, verdict)
        else:
            said = self._said(text, band, alone)
        if len(self._windows) >= WINDOWS_KEPT:
            del self._windows[next(iter(self._windows))]
        self._windows[key] = said
        return said

    def forget(self) -> None:
        """Forget the texts judged on their own, the windows judged and the readings (a
        benchmark measures the judging itself)."""
        self._alone.clear()
        self._windows.clear()
        forget_readings()

    def _merged(
        self, text: str, band: str, texts: tuple[str, ...], verdict: TextVerdict
    ) -> ContentVerdict:
        """The lexicon verdict on ``text`` (whose readings are ``texts``) with the phrase
        lists' result on it."""
        result = None
        if self.imported is not None:
            result = self.imported.score(text, band, texts if text.isascii() else None)
            result = in_its_language(self.imported, result, verdict, self.judge)
        return merge(result, verdict, self.judge)

    def _judged(self, text: str, kind: str, band: str, lesson: str | None) -> _Alone:
        """A text's readings and its judgement on its own, made now."""
        texts = readings(text)
        verdict = self.judge.judge_readings(text, texts, kind, band, lesson)
        return _Alone(text, texts, verdict, kind == TITLE and _lesson_title(verdict))

    def _judged_alone(
        self, given: str, untidy: bool, kind: str, band: str, lesson: str | None
    ) -> _Alone | None:
        """A text's readings and its judgement on its own (beside the lesson document open,
        if any), tidied first when ``untidy`` (as an agent gives it); None when nothing is
        left of it. A school day says the same short things many times over (window titles,
        "ok", the same searches, with the same lesson open), so those are remembered as
        given (a bounded number, the oldest forgotten first), with what they come to once
        merged with the phrase lists; a verdict is never changed once made, so one can be
        shared."""
        text = cleaned(given) if untidy else given
        if not text:
            return None
        if len(given) > ALONE_CHARS:
            return self._judged(text, kind, band, lesson)
        key = (given, kind, band, lesson)
        got = self._alone.get(key)
        if got is None:
            got = self._judged(text, kind, band, lesson)
            if len(self._alone) >= ALONE_KEPT:
                del self._alone[next(iter(self._alone))]
            self._alone[key] = got
        return got
