"""Retention on a real store: a June day and a November day go through the pipeline, then
what has been kept long enough is removed, and nothing an alert still needs."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text

from monitord.casework import cases
from monitord.core.clock import FixedClock
from monitord.identity.roster import import_devices, import_people
from monitord.service.app import App, ingest_files, open_app
from monitord.service.initdir import init_dir
from monitord.settings.config import Config, ConfigError, load_config, parse_config
from monitord.settings.sections import period_cutoff
from monitord.store import retention
from monitord.store.database import (
    RETENTION_ACTION,
    insert_ignore,
    make_engine,
    table_of,
    verify_audit,
)
from monitord.store.partitions import Partition
from monitord.store.retention import last_run, run_retention
from monitord.store.tables import AlertEventRow, EventRow, MatchRow
from tests.monitord.store.oldevents import proxy_event
from tests.stores import use_store

JUNE = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
pytestmark = pytest.mark.stores

_READ = {"events": "all_events"}
TABLES = ("events", "matches", "alerts", "alert_events", "outbox", "rejected", "leases", "audit")


def _log(path: Path, when: datetime, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def _school(tmp_path: Path, store_url: str, retention: str = "") -> tuple[Config, FixedClock, App]:
    """A June day (two alerts, a harmless lookup, an unreadable line, a lease), the gambling
    alert closed in June, then a November day (one more alert)."""
    config = init_dir(tmp_path / "site")[0]
    use_store(config, store_url)
    if retention:
        with config.open("a", encoding="utf-8") as fh:
            fh.write("\n[retention]\n" + retention + "\n")
    cfg = load_config(config)
    clock = FixedClock(JUNE)
    app = open_app(cfg, clock)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role,year_group,class,email\njayden.s,Jayden Smith,pupil,6,6B,\n"
    )
    devices = tmp_path / "devices.csv"
    devices.write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s\n"
    )
    import_people(app.engine, roster, "office", JUNE)
    import_devices(app.engine, devices, "office", JUNE)
    leases = tmp_path / "june.leases"
    leases.write_text(f"{int(JUNE.timestamp())} aa:00:00:00:00:07 10.20.6.7 y6-lt-07 *\n")
    ingest_files(open_app(cfg, clock), [leases], "dnsmasq-leases", "leases")
    app = open_app(cfg, clock)
    june = _log(
        tmp_path / "june.log",
        JUNE,
        [
            "Jun  1 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
            "Jun  1 10:01:09 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.7",
            "Jun  1 10:02:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
            "Jun  1 10:03:00 dnsmasq[811]: query[A] news.bbc.co.uk from 10.20.6.7",
            "Jun  1 10:04:00 dnsmasq[811]: this line is not one dnsmasq writes",
        ],
    )
    result = ingest_files(app, [june], "dnsmasq", "resolver")
    assert (result.events, result.rejected, result.alerts_opened) == (4, 1, 2)
    gambling = _alert_id(app.engine, "gambling")
    cases.close(app.engine, gambling, "dsl", "no_concern", JUNE)
    clock.advance(NOVEMBER - JUNE)
    app = open_app(cfg, clock)
    november = _log(
        tmp_path / "november.log",
        NOVEMBER,
        [
            "Nov 20 10:01:09 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.7",
            "Nov 20 10:02:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
            "Nov 20 10:04:00 dnsmasq[811]: not a dnsmasq line either",
        ],
    )
    ingest_files(app, [november], "dnsmasq", "resolver")
    return cfg, clock, app


def _alert_id(engine: Engine, category: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM alerts WHERE category = :c ORDER BY id LIMIT 1"),
                {"c": category},
            ).scalar_one()
        )


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            # Every event: those in events and the lookups that matched nothing.
            t: int(conn.execute(text(f"SELECT count(*) FROM {_READ.get(t, t)}")).scalar_one())
            for t in TABLES
        }


def _domains(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT domain FROM all_events")).scalars()
        return sorted(str(d) for d in found)


def test_defaults_remove_old_events_but_keep_every_alerts_evidence(
    tmp_path: Path, store_url: str
) -> None:
    cfg, clock, app = _school(tmp_path, store_url)
    before = _counts(app.engine)
    # June: a lease, four lookups; November: two lookups.
    assert (before["events"], before["rejected"], before["leases"]) == (7, 2, 1)

    dry = run_retention(app.engine, cfg, clock.now(), "root", dry_run=True)
    assert _counts(app.engine) == before  # a dry run changes nothing and is not audited
    result = run_retention(app.engine, cfg, clock.now(), "scheduler", pause=0)

    assert dry.removed == result.removed
    # The June lease and the two June lookups that no alert holds go; both June alerts (one
    # closed, one open) keep their events and matches; November is untouched.
    assert result.removed["events"] == 3
    assert result.removed["rejected"] == 1
    assert result.removed["leases"] == 1
    assert result.removed["alerts"] == result.removed["audit"] == 0
    assert _domains(app.engine) == [
        "www.bbc.co.uk",
        "www.bet365.com",
        "www.pornhub.com",
        "www.pornhub.com",
    ]
    after = _counts(app.engine)
    assert after["alerts"] == before["alerts"] == 3
    assert after["matches"] == before["matches"] - result.removed["matches"]
    assert after["audit"] == before["audit"] + 1  # one record for the run
    with app.engine.connect() as conn:
        orphans = conn.execute(
            text("SELECT count(*) FROM matches WHERE event_id NOT IN (SELECT id FROM events)")
        ).scalar_one()
        assert orphans == 0
        assert verify_audit(conn) == (after["audit"], None)
    shown = last_run(app.engine)
    assert shown is not None
    assert shown["at"] == "2026-11-20T16:00:00Z"
    assert shown["by"] == "scheduler"
    assert shown["removed"]["events"] == 3

    again = run_retention(app.engine, cfg, clock.now(), "scheduler", pause=0)
    assert sum(again.removed.values()) == 0


def test_a_closed_alert_past_its_period_goes_with_its_events_and_mail(
    tmp_path: Path, store_url: str
) -> None:
    cfg, clock, app = _school(tmp_path, store_url, 'alerts = "30d"')
    gambling = _alert_id(app.engine, "gambling")
    porn = _alert_id(app.engine, "pornography")
    dry = run_retention(app.engine, cfg, clock.now(), "root", dry_run=True)
    result = run_retention(app.engine, cfg, clock.now(), "root", pause=0)
    assert dry.removed == result.removed
    assert (result.removed["alerts"], result.removed["alert_events"]) == (1, 1)
    assert result.removed["outbox"] == 1  # the closed alert's mail
    with app.engine.connect() as conn:
        kept = list(conn.execute(text("SELECT id, status FROM alerts ORDER BY id")))
        assert gambling not in [r.id for r in kept]
        # The June pornography alert is still open: never removed, nor its June event.
        assert (porn, "open") in [(r.id, r.status) for r in kept]
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE alert_id = :a"), {"a": porn})
    assert "www.bet365.com" not in _domains(app.engine)
    assert _domains(app.engine).count("www.pornhub.com") == 2


def test_an_alert_noted_again_is_kept_from_its_last_change(tmp_path: Path, store_url: str) -> None:
    cfg, clock, app = _school(tmp_path, store_url, 'alerts = "30d"')
    gambling = _alert_id(app.engine, "gambling")
    cases.note(app.engine, gambling, "dsl", "parents spoken to", clock.now())
    dry = run_retention(app.engine, cfg, clock.now(), "root", dry_run=True)
    result = run_retention(app.engine, cfg, clock.now(), "root", pause=0)
    assert dry.removed == result.removed
    assert result.removed["alerts"] == 0
    assert "www.bet365.com" in _domains(app.engine)


def test_the_audit_trail_is_kept_unless_set_and_still_verifies_when_cut(
    tmp_path: Path, store_url: str
) -> None:
    cfg, clock, app = _school(tmp_path, store_url, 'audit = "30d"')
    before = _counts(app.engine)["audit"]
    with app.engine.connect() as conn:
        june = conn.execute(text("SELECT count(*) FROM audit WHERE ts < '2026-10-01'")).scalar_one()
    assert june > 0
    dry = run_retention(app.engine, cfg, clock.now(), "root", dry_run=True)
    result = run_retention(app.engine, cfg, clock.now(), "root", pause=0)
    assert dry.removed["audit"] == result.removed["audit"] == june
    after = _counts(app.engine)["audit"]
    assert after == before - june + 1
    with app.engine.connect() as conn:
        assert verify_audit(conn) == (after, None)
        first = conn.execute(text("SELECT min(id) FROM audit")).scalar_one()
    shown = last_run(app.engine)
    assert shown is not None
    assert shown["removed"]["audit"] == june
    # Removing one more record from the start is still caught: the cut is declared.
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE id = :id"), {"id": first})
    with make_engine(cfg.database_url).connect() as conn:
        assert verify_audit(conn)[1] == first + 1


def test_without_an_audit_period_no_audit_record_goes(tmp_path: Path, store_url: str) -> None:
    cfg, clock, app = _school(tmp_path, store_url)
    assert cfg.settings.retention.audit is None
    clock.advance(NOVEMBER.replace(year=2040) - NOVEMBER)
    result = run_retention(app.engine, cfg, clock.now(), "root", pause=0)
    assert result.removed["audit"] == 0
    assert result.removed["alerts"] == 1  # the closed one, fourteen years on
    assert _counts(app.engine)["alerts"] == 2  # open ones stay, however old


def test_deletion_runs_in_small_timed_transactions_and_stops_when_asked(
    tmp_path: Path, store_url: str, store_kind: str
) -> None:
    cfg, clock, app = _school(tmp_path, store_url, "batch_size = 10")
    lines = [
        f"Jun  1 11:{i // 60:02d}:{i % 60:02d} dnsmasq[811]: query[A] n{i}.example from 10.0.0.9"
        for i in range(95)
    ]
    ingest_files(app, [_log(tmp_path / "bulk.log", JUNE, lines)], "dnsmasq", "bulk")
    if store_kind == "postgresql":
        # A whole day goes at once: its partition is dropped, the alert's events put back.
        with app.engine.connect() as conn:
            spans = [
                conn.execute(text(f"SELECT max(id) - min(id) + 1 FROM {t}")).scalar_one()
                for t in ("lookup_parties", "lookup_names", "lookup_urls")
            ]
        whole = run_retention(app.engine, cfg, clock.now(), "root", pause=0)
        assert whole.removed["events"] == 95 + 3
        # The day's events; its lookups that matched nothing, their partition dropped
        # whole; their blocks; the parties, names and URLs ten ids a transaction; then
        # leases and rejected lines.
        keys = sum(-(-n // 10) for n in spans if n)
        assert whole.transactions == 1 + 1 + 1 + keys + 2
        assert _domains(app.engine) == [
            "www.bbc.co.uk",  # November's
            "www.bet365.com",  # June's, held by the closed alert still kept
            "www.pornhub.com",
            "www.pornhub.com",
        ]
        return

    def stop() -> bool:  # the daemon stopping once 40 events have gone
        return _counts(app.engine)["events"] <= 7 + 95 - 40

    partial = run_retention(app.engine, cfg, clock.now(), "root", pause=0, stop=stop)
    assert partial.stopped
    # The June lease's event, then four transactions of ten lookups that matched nothing.
    assert partial.removed["events"] == 1 + 40
    with app.engine.connect() as conn:
        detail = conn.execute(
            text("SELECT detail FROM audit WHERE action = :a"), {"a": RETENTION_ACTION}
        ).scalar_one()
    assert '"stopped": true' in detail
    rest = run_retention(app.engine, cfg, clock.now(), "root", pause=0)
    assert rest.removed["events"] == 95 + 3 - 41
    assert rest.transactions >= 6
    assert 0 < rest.longest_transaction < 0.1


# The June day's matches whose event no alert holds.
_UNHELD = (
    "SELECT count(*) FROM matches AS m JOIN events AS e ON e.id = m.event_id "
    "WHERE e.ts < :end AND NOT EXISTS (SELECT 1 FROM alert_events AS a WHERE a.event_id = e.id)"
)
_JUNE_END = {"end": datetime(2026, 6, 2, tzinfo=UTC)}


def _matched_day(engine: Engine, held_by: int) -> list[str]:
    """Forty June events with a match each, ten of them held by alert ``held_by``, several
    at the same instant (the walk's cursor must not stop on them); return the held ids."""
    ids = [f"{i:032x}" for i in range(40)]
    events = [
        proxy_event(i, JUNE - timedelta(hours=4, minutes=i // 3), category="gambling")
        for i in range(40)
    ]
    matches = [
        {"event_id": e, "category": "gambling", "list_name": "l", "entry": "bet365.com"}
        for e in ids
    ]
    held = ids[::4]
    with engine.begin() as conn:
        assert insert_ignore(conn, table_of(EventRow), events) == 40
        conn.execute(table_of(MatchRow).insert(), matches)
        conn.execute(
            table_of(AlertEventRow).insert(), [{"alert_id": held_by, "event_id": e} for e in held]
        )
    return held


def _held_intact(engine: Engine, held: list[str]) -> None:
    with engine.connect() as conn:
        for e in held:
            for table in ("events", "matches"):
                key = "id" if table == "events" else "event_id"
                n = conn.execute(text(f"SELECT count(*) FROM {table} WHERE {key} = :e"), {"e": e})
                assert n.scalar_one() == 1
        orphans = conn.execute(
            text(
                "SELECT count(*) FROM matches AS m WHERE NOT EXISTS "
                "(SELECT 1 FROM events AS e WHERE e.id = m.event_id)"
            )
        ).scalar_one()
        assert orphans == 0


def test_a_days_matches_go_in_short_transactions_before_its_events(
    tmp_path: Path, store_url: str, store_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, clock, app = _school(tmp_path, store_url, "batch_size = 10")
    held = _matched_day(app.engine, _alert_id(app.engine, "pornography"))
    left_at_detach: list[int] = []
    drop_day = retention._drop_day

    def watched(run: Any, conn: Connection, part: Partition) -> None:
        left_at_detach.append(int(conn.execute(text(_UNHELD), _JUNE_END).scalar_one()))
        drop_day(run, conn, part)

    monkeypatch.setattr(retention, "_drop_day", watched)

    def unheld() -> int:
        with app.engine.connect() as conn:
            return int(conn.execute(text(_UNHELD), _JUNE_END).scalar_one())

    assert unheld() == 30
    partial = run_retention(
        app.engine, cfg, clock.now(), "root", pause=0, stop=lambda: unheld() <= 15
    )
    assert partial.stopped
    assert partial.removed["matches"] == 30 - unheld()
    assert left_at_detach == []  # stopped before the day was dropped
    _held_intact(app.engine, held)
    rest = run_retention(app.engine, cfg, clock.now(), "root", pause=0)
    assert not rest.stopped
    assert partial.removed["matches"] + rest.removed["matches"] == 30
    assert unheld() == 0
    _held_intact(app.engine, held)
    with app.engine.connect() as conn:
        ours = conn.execute(text("SELECT id FROM events WHERE file_id = 'f'")).scalars().all()
    assert sorted(ours) == sorted(held)
    if store_kind == "postgresql":
        # The detach's own delete found nothing left: the day's 30 had gone before it.
        assert left_at_detach == [0]
        assert partial.removed["events"] + rest.removed["events"] == 30 + 3
        assert 0 < rest.longest_transaction < 0.5


def test_retention_settings_are_checked_by_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {"retention": {"events": "90", "alerts": "0y", "time": "25:00", "keep": 1}},
            Path("."),
            "monitord.toml",
        )
    problems = "\n".join(caught.value.problems)
    assert "monitord.toml: retention.events: expected a period such as '90d'" in problems
    assert "retention.alerts: expected a period" in problems
    assert "retention.time: expected a time of day as HH:MM" in problems
    assert "retention.keep: unknown key" in problems
    ok = parse_config({"retention": {"audit": "10y", "alerts": "6y"}}, Path("."), "m.toml")
    assert (ok.settings.retention.audit, ok.settings.retention.events) == ("10y", "90d")


def test_years_are_calendar_years() -> None:
    assert period_cutoff("7y", NOVEMBER) == datetime(2019, 11, 20, 16, 0, tzinfo=UTC)
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    assert period_cutoff("1y", leap) == datetime(2027, 2, 28, tzinfo=UTC)
    assert period_cutoff("2w", NOVEMBER) == datetime(2026, 11, 6, 16, 0, tzinfo=UTC)


def test_keys_no_lookup_names_go_each_probed_in_the_days_indexes(
    tmp_path: Path, store_url: str, store_kind: str
) -> None:
    """The parties, names and URLs of a day's lookups that no lookup names any more go; on
    PostgreSQL each is looked for in each day's index (no hash of every lookup kept)."""
    cfg, clock, app = _school(tmp_path, store_url, "batch_size = 10")
    lines = [
        f"Jun  1 11:{i // 60:02d}:{i % 60:02d} dnsmasq[811]: query[A] n{i}.example from 10.0.0.9"
        for i in range(25)
    ]
    ingest_files(app, [_log(tmp_path / "bulk.log", JUNE, lines)], "dnsmasq", "bulk")
    joins: list[tuple[str, str]] = []

    def seen(conn: Connection, cursor: Any, statement: str, *rest: Any) -> None:
        if store_kind == "postgresql" and "NOT EXISTS (SELECT 1 FROM lookups" in statement:
            raw = conn.connection.driver_connection  # the statement's own transaction
            shown = [raw.execute(f"SHOW enable_{j}join").fetchone() for j in ("hash", "merge")]
            joins.append((str(shown[0][0]), str(shown[1][0])))

    event.listen(app.engine, "after_cursor_execute", seen)
    run_retention(app.engine, cfg, clock.now(), "root", pause=0)
    event.remove(app.engine, "after_cursor_execute", seen)
    if store_kind == "postgresql":
        assert joins
        assert set(joins) == {("off", "off")}
        with app.engine.connect() as conn:  # the session's own settings afterwards
            assert conn.exec_driver_sql("SHOW enable_hashjoin").scalar() == "on"
    with app.engine.connect() as conn:
        for table, column in (("lookup_parties", "party"), ("lookup_names", "name")):
            unnamed = conn.execute(
                text(
                    f"SELECT count(*) FROM {table} AS k WHERE NOT EXISTS "
                    f"(SELECT 1 FROM lookups AS l WHERE l.{column} = k.id)"
                )
            ).scalar_one()
            assert unnamed == 0
        names = conn.execute(text("SELECT domain FROM lookup_names")).scalars().all()
    assert not [n for n in names if n.endswith(".example")]
    assert "www.bbc.co.uk" in names  # November's lookup, kept
