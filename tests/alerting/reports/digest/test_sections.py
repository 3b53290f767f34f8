"""The digest's sections against the store: activity, devices, changes and sources."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Engine

from alerting.reports.digest.model import Digest
from monitord.store.database import table_of, utc
from monitord.store.tables import EventRow
from tests.alerting.reports.digest.site import (
    TZ,
    WEEK,
    sql,
)
from tests.alerting.reports.digestweek import UNAUTHORISED


def test_activity_devices_changes_and_sources_match_the_store(
    engine: Engine, digest: Digest
) -> None:
    week = {"a": WEEK.start.replace(tzinfo=None), "b": WEEK.end.replace(tzinfo=None)}
    low = sql(
        engine,
        "SELECT category, year_group, count(*) AS n FROM events "
        "WHERE ts >= :a AND ts < :b AND severity = 'low' GROUP BY category, year_group",
        **week,
    )
    assert digest.low.total == sum(r.n for r in low) == 38
    per_category = Counter[str]()
    for r in low:
        per_category[r.category] += r.n
    assert {cat: sum(values) for cat, values in digest.low.rows} == dict(per_category)
    year5 = sum(r.n for r in low if r.year_group == "5")
    assert sum(values[digest.low.columns.index("Year 5")] for _, values in digest.low.rows) == (
        year5
    )

    flagged = sql(
        engine,
        "SELECT ts FROM events WHERE ts >= :a AND ts < :b AND severity != 'none'",
        **week,
    )
    assert sum(map(sum, digest.heat)) == len(flagged)
    stamps = [utc(datetime.fromisoformat(r.ts)).astimezone(TZ) for r in flagged]
    hours = Counter((ts.date(), ts.hour) for ts in stamps)
    for (day, hour), n in hours.items():
        assert digest.heat[(day - WEEK.monday).days][hour] == n

    assert {d.mac for d in digest.devices} == {mac for mac, *_ in UNAUTHORISED}
    library = next(d for d in digest.devices if d.device_id == "IPAD-LIB-03")
    assert (library.days, library.maker) == (5, "Apple, Inc.")

    assert [c.action for c in digest.changes] == [
        "list.import",
        "silence.add",
        "list.import",
        "agent.add",
    ]
    assert "4,563,102 domains (was 4,551,870)" in digest.changes[0].what
    assert dict(digest.roster) == {"person added": 1, "people changed": 2}
    assert digest.exemptions == [("filter_bypass", 1)]

    sources = {s.name: s for s in digest.sources}
    for name, health in sources.items():
        per_day = []
        for day in WEEK.days:
            start = WEEK.day_start(day).replace(tzinfo=None)
            end = WEEK.day_start(day + timedelta(days=1)).replace(tzinfo=None)
            [row] = sql(
                engine,
                "SELECT count(*) AS n FROM events WHERE source = :s AND ts >= :a AND ts < :b "
                "AND kind != 'health'",
                s=name,
                a=start,
                b=end,
            )
            per_day.append(row.n)
        assert list(health.per_day) == per_day, name
    assert sources["pihole"].rejected == 17
    assert sources["pihole"].top_reason == "not a dnsmasq log-queries line"
    assert len(sources["proxy"].gaps) == 1
    assert sources["proxy"].quiet_days == ("Thu 19",)
    assert sources["agents"].ok


def test_events_table_is_what_the_digest_reads(engine: Engine) -> None:
    # The digest reads these columns by name; a rename would have to change it too.
    columns = set(table_of(EventRow).c.keys())
    assert {"ts", "source", "fmt", "kind", "severity", "category", "year_group"} <= columns


def test_a_list_change_reads_as_a_sentence_in_the_digest() -> None:
    from types import SimpleNamespace

    from alerting.reports.digest.sections import _describe_change

    detail = {
        "lists": [{"name": "ut1/games"}, {"name": "ut1/chat"}],
        "before": {"domains": 4_551_870},
        "after": {"domains": 4_300_002},
    }
    row = SimpleNamespace(action="list.disable", subject="ut1", detail=json.dumps(detail))
    assert _describe_change(row, False, TZ) == (
        "lists disabled: ut1/games, ut1/chat; domains in use 4,551,870 -> 4,300,002"
    )
