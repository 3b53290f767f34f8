"""What an event says and runs: the text of searches, typed text and window titles scored by
the phrase engine for the person's age band, and program names checked against the
filter-bypass list. Domains and URLs are the domain index's part (``monitord.classify``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitord.categories import ALLOW, is_category
from monitord.lists import ListError
from monitord.model import Event, EventKind, Match, Person, Severity
from monitord.phrases import PhraseEngine, age_band_of
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
