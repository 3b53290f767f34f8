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

from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=5)
LESSON_WINDOW = timedelta(minutes=20)
# Messages are joined with a full stop, which no phrase spans... except frames and acts, which
# may (a pupil types "i want to" and then "kill myself").
JOIN = " . "


@dataclass(frozen=True, slots=True)
class Recent:
    """The text of a conversation's recent messages joined, how many there are, and over how
    long (seconds)."""

    text: str
    messages: int
    seconds: int


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
        key = (who, app)
        talk = self._talk.pop(key, None)
        if talk is None:
            talk = deque()
        self._talk[key] = talk
        while len(self._talk) > self.max_people:
            self._talk.popitem(last=False)
        while talk and (at - talk[0][0] > self.window or talk[0][0] > at):
            talk.popleft()
        talk.append((at, text[: self.max_chars]))
        while len(talk) > self.max_messages:
            talk.popleft()
        size = 0
        kept: list[str] = []
        for _ts, t in reversed(talk):
            size += len(t) + len(JOIN)
            if size > self.max_chars and kept:
                break
            kept.append(t)
        kept.reverse()
        first = talk[len(talk) - len(kept)][0]
        return Recent(JOIN.join(kept), len(kept), int((at - first).total_seconds()))

    def note_title(self, who: str, at: datetime, title: str, lesson: bool) -> None:
        """Remember the window title ``who`` has open, and whether it is a lesson's."""
        self._titles.pop(who, None)
        self._titles[who] = (at, title, lesson)
        while len(self._titles) > self.max_people:
            self._titles.popitem(last=False)

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
