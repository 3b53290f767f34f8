"""A batch on its way to the store: what processing it came to (``BatchResult``), the rows it
will insert with what they bring (``Judgement``, which can forget a record that failed half
way or give the part a set of records brought), and the sink alerts are opened through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import Connection

from monitord.core.model import (
    EventUpdate,
    Judged,
    Origin,
    RawRecord,
)
from monitord.service.batchrows import clip


@dataclass(frozen=True, slots=True)
class BatchResult:
    lines: int = 0
    events: int = 0
    rejected: int = 0
    skipped: int = 0
    stored: int = 0
    duplicates: int = 0
    alerts_opened: int = 0
    alerts_updated: int = 0

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )


class AlertSink(Protocol):
    """Receives the newly stored, judged events inside the batch's transaction and returns
    (alerts opened, alerts updated)."""

    def apply(self, conn: Connection, judged: Sequence[Judged]) -> tuple[int, int]: ...


@dataclass
class Judgement:
    """A batch judged and not yet stored: rows ready to insert, and what they bring."""

    events: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    matches: dict[str, list[dict[str, Any]]]
    leases: dict[str, dict[str, Any]]
    judged: list[Judged]
    updates: list[EventUpdate]
    # (kind, name) -> how many: what the batch passed over (see ``SourceCountRow``).
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    source: str | None = None
    # The record each update came from, and the records themselves: what a batch the store
    # refuses is split by (see ``Processor.store``).
    updates_from: list[Origin] = field(default_factory=list)
    records: Sequence[RawRecord] = ()
    fmt: str = ""

    def mark(self) -> tuple[int, int, int]:
        return len(self.judged), len(self.rejected), len(self.updates)

    def undo(self, mark: tuple[int, int, int]) -> None:
        """Forget what was added since ``mark`` (a record that failed half way)."""
        judged, rejected, updates = mark
        for j in self.judged[judged:]:
            self.matches.pop(j.event_id, None)
            self.leases.pop(j.event_id, None)
        del self.judged[judged:], self.events[judged:], self.rejected[rejected:]
        del self.updates[updates:], self.updates_from[updates:]

    def part(self, keys: set[tuple[str, str, int]]) -> Judgement:
        """The rows that the records ``keys`` brought."""
        at = [i for i, j in enumerate(self.judged) if origin_key(j.origin) in keys]
        ids = {self.judged[i].event_id for i in at}
        pairs = zip(self.updates, self.updates_from, strict=True)
        updates = [(u, o) for u, o in pairs if origin_key(o) in keys]
        return Judgement(  # the batch's counts go with its checkpoint, not with a part
            [self.events[i] for i in at],
            [r for r in self.rejected if (r["source"], r["file_id"], r["offset"]) in keys],
            {k: v for k, v in self.matches.items() if k in ids},
            {k: v for k, v in self.leases.items() if k in ids},
            [self.judged[i] for i in at],
            [u for u, _ in updates],
            source=self.source,
            updates_from=[o for _, o in updates],
            records=self.records,
            fmt=self.fmt,
        )


def update_in_batch(pending: Judgement, at: int, upd: EventUpdate) -> None:
    """Apply a later line's update to an event of the same batch, before it is stored."""
    j = pending.judged[at]
    ev = j.event
    event = replace(
        ev,
        blocked=ev.blocked if upd.blocked is None else upd.blocked,
        action=upd.action or ev.action,
        filter_category=upd.filter_category or ev.filter_category,
    )
    pending.judged[at] = replace(j, event=event)
    pending.events[at]["blocked"] = event.blocked
    pending.events[at]["action"] = clip(event.action, 64)
    pending.events[at]["filter_category"] = clip(event.filter_category, 128)


def origin_key(o: Origin) -> tuple[str, str, int]:
    return o.source, o.file_id, o.offset


def origin_keys(pending: Judgement) -> set[tuple[str, str, int]]:
    """Every record that brought something to a batch."""
    found = {origin_key(j.origin) for j in pending.judged}
    found.update((r["source"], r["file_id"], r["offset"]) for r in pending.rejected)
    found.update(origin_key(o) for o in pending.updates_from)
    return found
