"""What an event says and runs: the text of searches, typed text and window titles scored by
the phrase engine for the person's age band, and program names checked against the
filter-bypass list. Domains and URLs are the domain index's part (``monitord.classify``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from monitord.categories import ALLOW, is_category
from monitord.lists import ListError
from monitord.model import Decision, Event, EventKind, Match, Person, Severity
from monitord.phrases import PhraseEngine, age_band_of
from monitord.policy import Policy
from monitord.searchterms import event_text

DEFAULT_PROCESSES = Path(__file__).parent / "defaults" / "processes"


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


def capped(decision: Decision, cap: Severity | None) -> Decision:
    """A pupil looking for help is reported, never above ``cap`` (high), whatever the row."""
    if cap is None or decision.severity.rank <= cap.rank:
        return decision
    return replace(
        decision, severity=cap, rule=f"{decision.rule}; support-seeking: at most {cap.value}"
    )


def text_explainer(
    phrases: PhraseEngine,
    policy: Policy,
    person: Person | None,
    at: datetime,
    addresses: Callable[[tuple[str, ...]], list[str]],
) -> Callable[[str], dict[str, Any]]:
    """For ``monitord classify "some text"``: every phrase hit with its list and weight, the
    totals against the age band's limits, and what policy makes of each category over."""
    band = age_band_of(person)

    def explain(text: str) -> dict[str, Any]:
        result = phrases.score(text, band)
        decisions = []
        for category in result.categories:
            d = capped(policy.decide(category, person, None, at), result.max_severity)
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
            "normalised": result.normalised,
            "age_band": band,
            "hits": [
                {
                    "list": h.list_name,
                    "category": h.category,
                    "phrase": h.phrase,
                    "weight": h.weight,
                    "kind": h.kind,
                }
                for h in result.hits
            ],
            "totals": dict(result.totals),
            "limits": dict(result.limits),
            "categories": list(result.categories),
            "support_seeking": result.support_seeking,
            "decisions": decisions,
        }

    return explain


class ContentClassifier:
    def __init__(self, phrases: PhraseEngine, programs: ProcessIndex) -> None:
        self.phrases = phrases
        self.programs = programs

    def classify(self, event: Event, person: Person | None) -> ContentVerdict:
        if event.kind is EventKind.PROCESS and event.text:
            hit = self.programs.lookup(event.text)
            return ContentVerdict((hit,), (hit.category,)) if hit else ContentVerdict()
        text = event_text(event)
        if not text:
            return ContentVerdict()
        result = self.phrases.score(text, age_band_of(person))
        if not result.hits:
            return ContentVerdict()
        return ContentVerdict(
            result.matches(), result.categories, result.max_severity, result.support_categories
        )
