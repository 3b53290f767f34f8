"""A batch on its way to the store: results add up field by field, a record that failed half
way is forgotten whole, and the part of a batch some records brought holds their rows only."""

from __future__ import annotations

from datetime import UTC, datetime

from monitord.core.model import Attribution, Event, EventKind, EventUpdate, Judged, Origin
from monitord.service.batch import BatchResult, Judgement, origin_key, origin_keys

NOW = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def judged(offset: int) -> Judged:
    origin = Origin("dns", "f1", offset)
    event = Event(kind=EventKind.DNS, ts=NOW, client_ip="10.0.0.5", domain=f"n{offset}.example")
    return Judged(origin.event_id(0), origin, b"line", event, "dnsmasq", Attribution())


def judgement(offsets: list[int]) -> Judgement:
    pending = Judgement([], [], {}, {}, [], [])
    for o in offsets:
        j = judged(o)
        pending.judged.append(j)
        pending.events.append({"id": j.event_id, "offset": o})
        pending.matches[j.event_id] = [{"event_id": j.event_id}]
    return pending


def test_results_add_field_by_field() -> None:
    a = BatchResult(lines=3, events=2, rejected=1, stored=2, alerts_opened=1)
    b = BatchResult(lines=5, events=5, duplicates=2, alerts_updated=4)
    assert a + b == BatchResult(
        lines=8, events=7, rejected=1, stored=2, duplicates=2, alerts_opened=1, alerts_updated=4
    )
    assert BatchResult() + a == a


def test_undo_forgets_everything_since_the_mark() -> None:
    pending = judgement([0, 10])
    mark = pending.mark()
    late = judged(20)
    pending.judged.append(late)
    pending.events.append({"id": late.event_id})
    pending.matches[late.event_id] = []
    pending.updates.append(EventUpdate("x", blocked=True))
    pending.updates_from.append(late.origin)
    pending.undo(mark)
    assert [j.origin.offset for j in pending.judged] == [0, 10]
    assert len(pending.events) == 2
    assert pending.updates == []
    assert pending.updates_from == []
    assert late.event_id not in pending.matches


def test_a_part_holds_the_rows_of_its_records_only() -> None:
    pending = judgement([0, 10, 20])
    pending.updates.append(EventUpdate(pending.judged[0].event_id, blocked=True))
    pending.updates_from.append(Origin("dns", "f1", 20))
    pending.counts[("skipped", "x")] = 3
    keys = {origin_key(Origin("dns", "f1", 20))}
    part = pending.part(keys)
    assert [j.origin.offset for j in part.judged] == [20]
    assert list(part.matches) == [pending.judged[2].event_id]
    assert len(part.updates) == 1
    assert part.counts == {}
    assert origin_keys(pending) == {("dns", "f1", 0), ("dns", "f1", 10), ("dns", "f1", 20)}
