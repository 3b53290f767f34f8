"""Labelled corpora of short texts, and how the text engine does on them.

A corpus is a TSV file, one item a line (``#`` lines are comments)::

    expected <TAB> kind <TAB> lang <TAB> text <TAB> why

``expected`` is the category a junior pupil's text must raise, ``none`` (nothing may be
raised) or ``help`` (a pupil looking for help). ``kind`` is ``search``, ``typed_text``,
``title`` or ``conversation``: the messages of a conversation are separated by `` || `` and
typed 40 seconds apart by one pupil in one app; each is judged with the ones before it, as the
pipeline judges them, and the conversation raises what any of its messages raised (the
pipeline alerts on the message that completes a pattern, whatever follows it). A line of the
wrong shape is reported with its file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitord.classify.lists import ListError
from monitord.classify.textrisk.conversation import Conversations, with_recent
from monitord.classify.textrisk.judge import JUNIOR, SEARCH, TITLE, TYPED, TextJudge, TextVerdict
from monitord.core.categories import is_category

CONVERSATION = "conversation"
CORPUS_KINDS = (SEARCH, TYPED, TITLE, CONVERSATION)
NONE, HELP = "none", "help"
SEPARATOR = " || "
# The high-risk categories, held to the higher recall floor.
HIGH_RISK = frozenset({"suicide", "self_harm", "grooming", "pornography"})


@dataclass(frozen=True, slots=True)
class Item:
    expected: str
    kind: str
    lang: str
    text: str
    why: str = ""
    where: str = ""


def read_corpus(path: Path) -> list[Item]:
    """Every item of a corpus file; raises ListError naming the line of a malformed one."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        where = f"{path.name}:{number}"
        if len(parts) < 4:
            raise ListError(f"{where}: expected 4 or 5 tab-separated fields (expected ... why)")
        expected, kind, lang, text = (p.strip() for p in parts[:4])
        if expected not in (NONE, HELP) and not is_category(expected):
            raise ListError(f"{where}: {expected!r} is not a category id, none or help")
        if kind not in CORPUS_KINDS:
            raise ListError(f"{where}: kind {kind!r} is not one of {', '.join(CORPUS_KINDS)}")
        why = parts[4].strip() if len(parts) > 4 else ""
        items.append(Item(expected, kind, lang, text, why, where))
    return items


def judge_item(judge: TextJudge, item: Item, band: str = JUNIOR) -> TextVerdict:
    """Judge one item as the pipeline would: a conversation message by message, its verdict
    the last message's with every category and help any message raised."""
    if item.kind != CONVERSATION:
        return judge.judge(item.text, item.kind, band)
    talk = Conversations()
    start = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    verdict = judge.judge("", TYPED, band)
    raised: dict[str, None] = {}
    helped: dict[str, None] = {}
    for i, message in enumerate(item.text.split(SEPARATOR)):
        recent = talk.add("pupil", "chat", start + timedelta(seconds=40 * i), message)
        verdict = judge.judge(message, TYPED, band)
        if recent.messages > 1:
            verdict = with_recent(judge, verdict, recent, band, None)
        raised.update(dict.fromkeys(verdict.categories))
        helped.update(dict.fromkeys(verdict.support))
    return replace(verdict, categories=tuple(raised), support=tuple(helped))


def passes(item: Item, verdict: TextVerdict) -> bool:
    """Whether a verdict is what the item expects: its category raised (or help marked), or
    nothing raised for a harmless item."""
    if item.expected == NONE:
        return not verdict.categories
    if item.expected == HELP:
        return bool(verdict.support)
    return item.expected in verdict.categories


@dataclass
class Tally:
    """Recall per category and per language, and false alarms, over a corpus."""

    caught: dict[str, int] = field(default_factory=dict)
    positives: dict[str, int] = field(default_factory=dict)
    lang_caught: dict[str, int] = field(default_factory=dict)
    lang_positives: dict[str, int] = field(default_factory=dict)
    harmless: int = 0
    false_alarms: int = 0
    failures: list[tuple[Item, tuple[str, ...]]] = field(default_factory=list)

    def recall(self, category: str) -> float:
        n = self.positives.get(category, 0)
        return self.caught.get(category, 0) / n if n else 1.0

    def language_recall(self, lang: str) -> float:
        n = self.lang_positives.get(lang, 0)
        return self.lang_caught.get(lang, 0) / n if n else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.harmless if self.harmless else 0.0


def tally(judge: TextJudge, items: Iterable[Item], band: str = JUNIOR) -> Tally:
    t = Tally()
    for item in items:
        verdict = judge_item(judge, item, band)
        ok = passes(item, verdict)
        if item.expected == NONE:
            t.harmless += 1
            t.false_alarms += not ok
        else:
            key = item.expected
            t.positives[key] = t.positives.get(key, 0) + 1
            t.caught[key] = t.caught.get(key, 0) + ok
            t.lang_positives[item.lang] = t.lang_positives.get(item.lang, 0) + 1
            t.lang_caught[item.lang] = t.lang_caught.get(item.lang, 0) + ok
        if not ok:
            t.failures.append((item, verdict.categories))
    return t
