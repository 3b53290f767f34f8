"""The weekly digest: its numbers against the store for a generated week, what the group's
copy leaves out, its mail arriving at a real SMTP server (aiosmtpd) with the charts inline,
and the scheduled run missed while the server was down sent once at the next start."""

from __future__ import annotations

import asyncio
import email
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, func, select, text

from alerting.delivery import EmailNotifier, deliver_due
from alerting.reports import charts
from alerting.reports.digest import (
    AlreadySent,
    Digest,
    DigestError,
    Week,
    collect,
    queue_digest,
    render,
    write_preview,
)
from alerting.schedule import (
    DIGEST_JOB,
    JOB_TABLE,
    RETENTION_JOB,
    Scheduler,
    digest_trigger,
    send_due_digest,
)
from monitord.classify.policy import Policy, load_policy
from monitord.core.clock import FixedClock
from monitord.service.initdir import CONFIG_TEMPLATE, init_dir
from monitord.settings.config import Config, load_config
from monitord.store.database import open_store, table_of, utc
from monitord.store.tables import AlertRow, DigestRow, EventRow, OutboxRow
from tests.alerting.reports.digestweek import PEOPLE, UNAUTHORISED, generate
from tests.alerting.test_delivery import Sink, free_port

TZ = ZoneInfo("Europe/London")
WEEK = Week(2026, 47, TZ)
GROUP = ["osg-chair@school.example", "computing-lead@school.example"]
DSL = ["dsl@school.example"]


def site_config(folder: Path, port: int, *, group: list[str] = GROUP) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "monitord.toml"
    body = CONFIG_TEMPLATE.format(config=path)
    for old, new in (
        ('host = ""', 'host = "127.0.0.1"'),
        ("port = 587", f"port = {port}"),
        ('security = "starttls"', 'security = "none"\ntimeout = "5s"'),
        ("online_safety_group = []", f"online_safety_group = {json.dumps(group)}"),
        ('file = "policy.toml"', 'file = ""'),  # the default policy
    ):
        assert old in body
        body = body.replace(old, new, 1)
    path.write_text(body, encoding="utf-8")
    return load_config(path)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def cfg(tmp_path: Path, port: int) -> Config:
    return site_config(tmp_path / "site", port)


@pytest.fixture
def engine(cfg: Config) -> Iterator[Engine]:
    e = open_store(cfg.database_url)
    yield e
    e.dispose()


@pytest.fixture
def policy(cfg: Config) -> Policy:
    return load_policy(cfg.policy_file, cfg.tz)


@pytest.fixture
def sink(port: int) -> Iterator[Sink]:
    s = Sink()
    controller = Controller(s, hostname="127.0.0.1", port=port)
    controller.start()
    yield s
    controller.stop()


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    return msg


# --- weeks -------------------------------------------------------------------------------


def test_a_week_runs_monday_to_monday_in_school_time() -> None:
    week = Week.parse("2026-W47", TZ)
    assert week == WEEK
    assert week.label == "2026-W47"
    assert week.days[0] == date(2026, 11, 16)
    assert week.start == datetime(2026, 11, 16, tzinfo=UTC)  # GMT in November
    assert week.end == datetime(2026, 11, 23, tzinfo=UTC)
    summer = Week.parse("2026w27", TZ)
    assert summer.start == datetime(2026, 6, 28, 23, tzinfo=UTC)  # BST: an hour before
    assert week.title == "Monday 16 to Sunday 22 November 2026"
    assert week.shift(-1).label == "2026-W46"
    assert Week(2026, 1, TZ).shift(-1).label == "2025-W52"
    # Monday 07:00 is about the week that ended at midnight.
    monday = datetime(2026, 11, 23, 7, tzinfo=TZ)
    assert Week.last_completed(monday, TZ) == week
    for bad in ("2026-W54", "W47", "2026-11-16", ""):
        with pytest.raises(ValueError, match="ISO week"):
            Week.parse(bad, TZ)


def test_the_digest_goes_on_monday_at_seven_in_school_time(cfg: Config) -> None:
    trigger = digest_trigger(cfg)
    friday = datetime(2026, 11, 20, 12, tzinfo=TZ)
    assert trigger.get_next_fire_time(None, friday) == datetime(2026, 11, 23, 7, tzinfo=TZ)
    june = datetime(2026, 6, 26, 12, tzinfo=TZ)
    fire = trigger.get_next_fire_time(None, june)
    assert fire is not None
    assert fire.astimezone(UTC) == datetime(2026, 6, 29, 6, tzinfo=UTC)  # 07:00 BST


# --- the numbers -------------------------------------------------------------------------


def _sql(engine: Engine, query: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(query), params))


def _local_day(ts: Any) -> date:
    value = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return utc(value).astimezone(TZ).date()


@pytest.fixture
def generated(engine: Engine) -> Any:
    return generate(engine, WEEK)


@pytest.fixture
def digest(engine: Engine, cfg: Config, policy: Policy, generated: Any) -> Digest:
    return collect(engine, cfg, policy, WEEK, generated.now)


def test_alert_counts_match_the_store(engine: Engine, digest: Digest) -> None:
    prev = WEEK.shift(-1)
    at = table_of(AlertRow)

    def counts(column: str, week: Week) -> Counter[str]:
        with engine.connect() as conn:
            rows = conn.execute(
                select(at.c[column], func.count())
                .where(at.c.first_seen >= week.start, at.c.first_seen < week.end)
                .group_by(at.c[column])
            ).all()
        return Counter({str(k): int(n) for k, n in rows})

    for compare, column in (
        (digest.by_category, "category"),
        (digest.by_severity, "severity"),
    ):
        this, last = counts(column, WEEK), counts(column, prev)
        assert {r.key: r.this for r in compare.rows if r.this} == dict(this)
        assert {r.key: r.last for r in compare.rows if r.last} == dict(last)
    roles = counts("role", WEEK)
    # The group's copy counts every adult together: one role can be one person.
    grouped: Counter[str] = Counter()
    for k, n in roles.items():
        grouped["unknown" if k == "None" else "pupil" if k == "pupil" else "adult"] += n
    assert {r.key: r.this for r in digest.by_role.rows if r.this} == dict(grouped)
    years = counts("year_group", WEEK)
    assert {r.key: r.this for r in digest.by_year.rows if r.this} == {
        ("no year group" if k == "None" else f"Year {k}"): n for k, n in years.items()
    }
    assert digest.alerts_this == 15
    assert digest.alerts_last == 9
    assert digest.by_severity.get("critical").this == 1
    assert digest.by_category.get("social_media").this == 3
    assert digest.by_category.get("gaming").last == 1
    # Alerts per day add up to the week's alerts, each on its local day.
    rows = _sql(
        engine,
        "SELECT first_seen FROM alerts WHERE first_seen >= :a AND first_seen < :b",
        a=WEEK.start.replace(tzinfo=None),
        b=WEEK.end.replace(tzinfo=None),
    )
    by_day = Counter(_local_day(r.first_seen) for r in rows)
    assert digest.per_day_totals == [by_day[d] for d in WEEK.days]
    # The trend ends with this week, and holds last week's total the week before.
    assert digest.trend_totals[-1] == 15
    assert digest.trend_totals[-2] == 9
    assert len(digest.trend_labels) == 12


def test_a_backfilled_alert_counts_in_the_week_it_happened(
    engine: Engine, cfg: Config, policy: Policy, generated: Any
) -> None:
    """An alert recorded this week from last month's logs (``ingest --backfill``) counts in
    the week of its events, not the week it was read."""
    happened = WEEK.start - timedelta(weeks=3) + timedelta(days=2, hours=10)
    with engine.begin() as conn:
        conn.execute(
            table_of(AlertRow)
            .insert()
            .values(
                site_id="default",
                group_key="default|ip:10.0.1.99|gambling",
                created_at=WEEK.start + timedelta(days=1),
                updated_at=WEEK.start + timedelta(days=1),
                severity="medium",
                category="gambling",
                status="open",
                indicator="bet365.com",
                first_seen=happened,
                last_seen=happened,
                count=1,
                blocked=False,
                sources='["dnsmasq"]',
                recipients="[]",
                rule="severity.gambling.pupil",
            )
        )
    this = collect(engine, cfg, policy, WEEK, generated.now)
    then = collect(engine, cfg, policy, WEEK.shift(-3), generated.now)
    assert (this.alerts_this, this.alerts_last) == (15, 9)  # as before the backfill
    assert then.by_category.get("gambling").this == 1
    assert then.per_day_totals[2] >= 1  # on its Wednesday
    assert this.trend_totals[-4] == then.alerts_this


def test_open_and_closed_alerts_match_the_store(
    engine: Engine, digest: Digest, generated: Any
) -> None:
    open_ids = {
        int(r.id)
        for r in _sql(
            engine,
            "SELECT id FROM alerts WHERE status != 'closed' AND created_at < :end",
            end=WEEK.end.replace(tzinfo=None),
        )
    }
    assert {a.id for a in digest.open_alerts} == open_ids
    assert len(open_ids) == 9
    # Ages are counted to when the digest was made.
    oldest = max(digest.open_alerts, key=lambda a: a.age)
    created = _sql(engine, "SELECT created_at FROM alerts WHERE id = :i", i=oldest.id)[0]
    assert oldest.age == generated.now - utc(datetime.fromisoformat(str(created.created_at)))
    assert sum(n for _, n in digest.open_ages) == len(open_ids)

    closes = _sql(
        engine,
        "SELECT subject, detail FROM audit WHERE action = 'alert.close' AND ts >= :a AND ts < :b",
        a=WEEK.start.replace(tzinfo=None),
        b=WEEK.end.replace(tzinfo=None),
    )
    assert [c.id for c in digest.closed] == [int(c.subject.split(":")[1]) for c in closes]
    outcomes = Counter(json.loads(c.detail)["outcome"] for c in closes)
    assert dict(digest.outcomes) == {
        "No concern": outcomes["no_concern"],
        "Internal action": outcomes["internal_action"],
        "Referred to the police": outcomes["referred_police"],
    }
    assert digest.reviews == 1


def test_activity_devices_changes_and_sources_match_the_store(
    engine: Engine, digest: Digest
) -> None:
    week = {"a": WEEK.start.replace(tzinfo=None), "b": WEEK.end.replace(tzinfo=None)}
    low = _sql(
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

    flagged = _sql(
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
            [row] = _sql(
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


def test_what_to_look_at_first_puts_the_urgent_first(digest: Digest) -> None:
    levels = [a.level for a in digest.attention]
    assert levels == sorted(levels, key=("urgent", "check", "note").index)
    first = digest.attention[0].text
    assert first.startswith("1 critical alert this week")
    texts = " ".join(a.text for a in digest.attention)
    assert "past the time to act" in texts
    assert "Source proxy went quiet once" in texts
    assert "Source pihole: 17 lines could not be read" in texts
    assert "3 unauthorised devices" in texts


def test_the_plain_text_carries_the_same_numbers(digest: Digest) -> None:
    out = render(digest).text
    assert "Alerts:                 15 (last week 9)" in out
    assert "Open now:               9" in out
    assert "Low-severity events:    38 (last week 27)" in out
    assert "W47   15 alerts (1/7/7), 38 low  <- this week" in out
    for r in digest.by_category.rows:
        assert f"{r.label:<28} {r.this:>6} {r.last:>6}" in out
    for s in digest.sources:
        assert f"{s.name} ({s.fmt}): {' '.join(map(str, s.per_day))}; unread {s.rejected}" in out


# --- names -------------------------------------------------------------------------------


def test_the_groups_copy_names_no_one(
    engine: Engine, cfg: Config, policy: Policy, generated: Any
) -> None:
    group = render(collect(engine, cfg, policy, WEEK, generated.now))
    named = render(collect(engine, cfg, policy, WEEK, generated.now, named=True))
    group_html = group.html({"per_day": "a.png", "heat": "b.png", "trend": "c.png"})
    named_html = named.html({"per_day": "a.png", "heat": "b.png", "trend": "c.png"})
    secrets = [name for _, name, role, _ in PEOPLE if role == "pupil"]
    secrets += [u for u, _, role, _ in PEOPLE if role == "pupil"]
    secrets += ["Jaydens-iPhone", "i want to die", "nobody likes you", "safety plan"]
    for part in (group.text, group_html):
        for secret in secrets:
            assert secret not in part, secret
    assert re.search(r"person \d+, Year 5", group.text)  # a pseudonym and the year group
    assert "I.J." not in group.text
    for part in (named.text, named_html):
        for secret in ("Isla Jones (isla.j)", "Jaydens-iPhone", "i want to die"):
            assert secret in part
    assert "Named copy for the DSL" in named_html


def test_the_groups_copy_shows_no_query_initials_or_role_of_one(
    engine: Engine, cfg: Config, policy: Policy, generated: Any
) -> None:
    # The headteacher searched for a pupil by name: the group must learn neither who searched
    # ("H.G., headteacher" is one person) nor whom, which sits in the URL's query.
    at = table_of(AlertRow)
    with engine.begin() as conn:
        conn.execute(
            at.update()
            .where(at.c.id == generated.alert_ids[4])
            .values(
                person="mrs.green",
                role="headteacher",
                year_group=None,
                indicator="https://www.google.com/search?q=oscar+davies+home+adr#top",
            )
        )
    group = render(collect(engine, cfg, policy, WEEK, generated.now))
    group_html = group.html({"per_day": "a.png", "heat": "b.png", "trend": "c.png"})
    for part in (group.text, group_html):
        for secret in ("oscar", "davies", "+adr", "h.g.", "headteacher", "helen"):
            assert secret not in part.lower(), secret
    assert "www[.]google[.]com" in group.text
    assert "no year group" in group.text
    named = render(collect(engine, cfg, policy, WEEK, generated.now, named=True))
    assert "headteacher" in named.text
    assert "oscar+davies" in named.text


def test_html_is_escaped(engine: Engine, cfg: Config, policy: Policy, generated: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            table_of(AlertRow)
            .update()
            .where(table_of(AlertRow).c.id == generated.alert_ids[2])
            .values(indicator='evil.example/"><script>alert(1)</script>')
        )
    d = collect(engine, cfg, policy, WEEK, generated.now, named=True)
    html = render(d).html({"per_day": "a", "heat": "b", "trend": "c"})
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "evil[.]example" in html


# --- files, charts -----------------------------------------------------------------------


def test_preview_writes_the_html_text_and_images(digest: Digest, tmp_path: Path) -> None:
    paths = write_preview(render(digest), tmp_path / "preview")
    names = sorted(p.name for p in paths)
    assert names == [
        "alerts-per-day.png",
        "digest.html",
        "digest.txt",
        "flagged-by-hour.png",
        "twelve-week-trend.png",
    ]
    html = (tmp_path / "preview" / "digest.html").read_text()
    for png in ("alerts-per-day.png", "flagged-by-hour.png", "twelve-week-trend.png"):
        assert f'src="{png}"' in html
        assert (tmp_path / "preview" / png).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_charts_are_the_same_for_the_same_numbers() -> None:
    series = {"gaming": [1, 0, 2, 0, 0, 0, 0], "self_harm": [0, 1, 0, 0, 3, 0, 0]}
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    first = charts.stacked_bars("Alerts", days, series)
    assert first == charts.stacked_bars("Alerts", days, series)
    assert first.startswith(b"\x89PNG")
    empty = charts.heat_map("Nothing", [[0] * 24 for _ in range(7)], days)
    assert empty.startswith(b"\x89PNG")
    many = {f"c{i}": [i, 1, 0, 0, 0, 0, 0] for i in range(15)}
    stacks = charts.top_series(many)
    assert [s[0] for s in stacks][-1] == "other"
    assert len(stacks) == len(charts.PALETTE) + 1
    assert stacks[-1][1] == [0 + 1 + 2, 3, 0, 0, 0, 0, 0]


# --- mail --------------------------------------------------------------------------------


async def test_the_digest_arrives_with_its_charts_inline(
    engine: Engine, cfg: Config, policy: Policy, generated: Any, sink: Sink
) -> None:
    clock = FixedClock(generated.now)
    queued = queue_digest(engine, cfg, policy, WEEK, clock.now(), "dsl")
    assert queued.recipients == tuple(GROUP)

    result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg))

    assert result.sent == 1
    [envelope] = sink.received
    assert envelope.rcpt_tos == GROUP
    msg = parse(envelope.original_content)
    assert msg["Subject"] == "[monitord] Weekly digest 2026-W47 - Example Primary"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    assert plain is not None
    assert "Alerts:                 15 (last week 9)" in plain.get_content()
    related = msg.get_body(("related",))
    assert related is not None
    parts = list(related.iter_parts())
    assert parts[0].get_content_type() == "text/html"
    html = parts[0].get_content()
    images = parts[1:]
    assert [p.get_content_type() for p in images] == ["image/png"] * 3
    for image in images:
        cid = str(image["Content-ID"]).strip("<>")
        assert f'src="cid:{cid}"' in html
        assert image.get_content_disposition() == "inline"
        assert image.get_content().startswith(b"\x89PNG")
    with engine.connect() as conn:
        row = conn.execute(select(table_of(OutboxRow))).one()
        record = conn.execute(select(table_of(DigestRow))).one()
    assert (row.status, row.alert_id, row.severity) == ("sent", None, "digest")
    assert (record.week, record.edition, record.outbox_id) == ("2026-W47", "group", row.id)


def test_a_week_is_queued_once_per_edition(
    engine: Engine, cfg: Config, policy: Policy, generated: Any
) -> None:
    now = generated.now
    queue_digest(engine, cfg, policy, WEEK, now, "dsl")
    with pytest.raises(AlreadySent, match="2026-W47 was already queued on Mon 23 Nov 2026 07:00"):
        queue_digest(engine, cfg, policy, WEEK, now + timedelta(hours=1), "dsl")
    named = queue_digest(engine, cfg, policy, WEEK, now, "dsl", named=True)
    assert named.recipients == ("dsl@school.example",)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_of(OutboxRow))).scalar() == 2
        actions = [
            r.action
            for r in conn.execute(text("SELECT action FROM audit WHERE action LIKE 'digest.%'"))
        ]
    assert actions == ["digest.queued", "digest.queued"]


def test_no_group_addresses_is_a_clear_error(tmp_path: Path, port: int) -> None:
    cfg = site_config(tmp_path / "nobody", port, group=[])
    engine = open_store(cfg.database_url)
    try:
        policy = load_policy(cfg.policy_file, cfg.tz)
        with pytest.raises(DigestError, match=r"recipients.online_safety_group is empty"):
            queue_digest(engine, cfg, policy, WEEK, datetime.now(UTC), "dsl")
    finally:
        engine.dispose()


# --- the schedule ------------------------------------------------------------------------


async def _wait_for(event: asyncio.Event, seconds: float = 20.0) -> None:
    await asyncio.wait_for(event.wait(), seconds)


async def test_a_digest_missed_while_down_is_sent_once_at_the_next_start(
    engine: Engine, cfg: Config, policy: Policy, generated: Any, sink: Sink
) -> None:
    # The server is started on Wednesday: Monday 07:00's run fell while it was down.
    clock = FixedClock(generated.now + timedelta(days=2))
    queued = asyncio.Event()

    # It ran before, and stored the job with its next run time.
    first = Scheduler(engine, cfg, policy, clock, queued.set)
    first.start()
    stored = first.next_digest()
    assert stored is not None
    assert stored.astimezone(TZ).strftime("%a %H:%M") == "Mon 07:00"
    first.shutdown()
    await asyncio.sleep(0.05)

    # It was down over that run time, and the two before it: in the persistent store the
    # job's next run time is now in the past. (The daily retention job is the other one.)
    missed = datetime.now(TZ) - timedelta(days=15)
    down = Scheduler(engine, cfg, policy, clock)
    down.aps.start(paused=True)
    down.aps.modify_job(DIGEST_JOB, next_run_time=missed)
    down.shutdown()
    await asyncio.sleep(0.05)
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {JOB_TABLE}")).scalar() == 2

    # The next start runs it once (three missed runs coalesced), then waits for next Monday.
    again = Scheduler(engine, cfg, policy, clock, queued.set)
    again.start()
    await _wait_for(queued)
    after = again.next_digest()
    assert after is not None
    assert after > datetime.now(TZ)
    assert after.astimezone(TZ).strftime("%a %H:%M") == "Mon 07:00"
    again.shutdown()
    await asyncio.sleep(0.05)

    result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg))
    assert result.sent == 1
    [envelope] = sink.received
    msg = parse(envelope.original_content)
    assert msg["Subject"] == "[monitord] Weekly digest 2026-W47 - Example Primary"
    related = msg.get_body(("related",))
    assert related is not None
    assert [p.get_content_type() for p in related.iter_parts()].count("image/png") == 3

    # Restarting again sends nothing more, nor does the job run by hand for the same week.
    queued.clear()
    third = Scheduler(engine, cfg, policy, clock, queued.set)
    third.start()
    await asyncio.sleep(0.5)
    assert not queued.is_set()
    third.shutdown()
    await asyncio.sleep(0.05)
    assert send_due_digest(third.context, clock.now()) is None
    result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg), include_batched=True)
    assert result.sent == 0
    assert len(sink.received) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_of(OutboxRow))).scalar() == 1
        [record] = conn.execute(select(table_of(DigestRow))).all()
    assert (record.week, record.queued_by) == ("2026-W47", "scheduler")


async def test_a_changed_digest_time_is_followed(
    engine: Engine, cfg: Config, policy: Policy, tmp_path: Path
) -> None:
    clock = FixedClock(datetime.now(UTC))
    first = Scheduler(engine, cfg, policy, clock)
    first.start()
    first.shutdown()
    await asyncio.sleep(0.05)
    assert cfg.path is not None
    cfg.path.write_text(
        cfg.path.read_text() + '\n[digest]\nday = "fri"\ntime = "16:30"\n', encoding="utf-8"
    )
    changed = load_config(cfg.path)
    second = Scheduler(engine, changed, policy, clock)
    second.start()
    when = second.next_digest()
    second.shutdown()
    await asyncio.sleep(0.05)
    assert when is not None
    assert when.astimezone(TZ).strftime("%a %H:%M") == "Fri 16:30"


def test_events_table_is_what_the_digest_reads(engine: Engine) -> None:
    # The digest reads these columns by name; a rename would have to change it too.
    columns = set(table_of(EventRow).c.keys())
    assert {"ts", "source", "fmt", "kind", "severity", "category", "year_group"} <= columns


def test_the_daemon_keeps_the_digest_job_in_the_store(tmp_path: Path) -> None:
    """``monitord run`` starts the scheduler: its jobs are in the store, the digest due next
    Monday."""
    config = init_dir(tmp_path / "site")[0]
    db = tmp_path / "site" / "var" / "monitord.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitord", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        jobs: list[Any] = []
        while time.monotonic() < deadline and len(jobs) < 2:
            time.sleep(0.2)
            if db.exists():
                with sqlite3.connect(db) as conn:
                    try:
                        jobs = conn.execute(f"SELECT id, next_run_time FROM {JOB_TABLE}").fetchall()
                    except sqlite3.OperationalError:
                        jobs = []
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert sorted(j[0] for j in jobs) == sorted([DIGEST_JOB, RETENTION_JOB])
    when = datetime.fromtimestamp(dict(jobs)[DIGEST_JOB], TZ)
    assert when.strftime("%a %H:%M") == "Mon 07:00"
    assert timedelta(0) < when - datetime.now(TZ) <= timedelta(days=7)
    assert "next weekly digest: Mon" in output


def test_a_list_change_reads_as_a_sentence_in_the_digest() -> None:
    from types import SimpleNamespace

    from alerting.reports.digest import _describe_change

    detail = {
        "lists": [{"name": "ut1/games"}, {"name": "ut1/chat"}],
        "before": {"domains": 4_551_870},
        "after": {"domains": 4_300_002},
    }
    row = SimpleNamespace(action="list.disable", subject="ut1", detail=json.dumps(detail))
    assert _describe_change(row, False, TZ) == (
        "lists disabled: ut1/games, ut1/chat; domains in use 4,551,870 -> 4,300,002"
    )
