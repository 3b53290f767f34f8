from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError

from collectors.files import iter_records
from collectors.follow import load_checkpoint
from collectors.parsers.base import available_formats, load_parser
from monitord.core.clock import FixedClock
from monitord.core.model import Checkpoint, Judged, RawRecord
from monitord.identity.roster import import_devices, import_people
from monitord.service.app import BACKFILL_BATCH, App, backfill_batch, ingest_files, open_app
from monitord.service.batch import AlertSink
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from monitord.store.database import store_trouble
from tests.conftest import FIXTURES
from tests.stores import dump, row, rows

pytestmark = pytest.mark.stores

DAY = datetime(2026, 11, 19, 18, 0, tzinfo=UTC)


def school(app: App, tmp_path: Path) -> App:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,display_name,role,year_group,class,email\n"
        "jayden.s,Jayden Smith,pupil,6,6B,\n"
        "helen.p,Helen Price,staff,,,\n",
        encoding="utf-8",
    )
    devices = tmp_path / "devices.csv"
    devices.write_text(
        "device_id,mac,hostname,ownership,assigned_to\n"
        "Y6-LT-07,aa:00:00:00:00:07,y6-lt-07,school_single,jayden.s\n",
        encoding="utf-8",
    )
    import_people(app.engine, roster, "office", app.clock.now())
    import_devices(app.engine, devices, "office", app.clock.now())
    leases = tmp_path / "dnsmasq.leases"
    leases.write_text(f"{int(DAY.timestamp())} aa:00:00:00:00:07 10.20.6.7 y6-lt-07 *\n")
    fresh = open_app(app.cfg, app.clock)
    ingest_files(fresh, [leases], "dnsmasq-leases", "leases")
    return fresh


def log(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "dnsmasq.log"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.utime(path, (DAY.timestamp(), DAY.timestamp()))
    return path


def test_ingesting_the_same_file_twice_changes_nothing(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)
    path = log(
        tmp_path,
        [
            "Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
            "Nov 19 10:01:02 dnsmasq[811]: forwarded www.bet365.com to 1.1.1.3",
            "Nov 19 10:01:09 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.7",
            "Nov 19 10:02:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
            "Nov 19 10:02:01 dnsmasq[811]: this line is not one dnsmasq writes",
        ],
    )
    first = ingest_files(app, [path], "dnsmasq", "resolver")
    assert (first.lines, first.events, first.skipped, first.rejected) == (5, 3, 1, 1)
    assert (first.stored, first.alerts_opened) == (3, 2)
    before = dump(app.engine)
    again = open_app(app.cfg, app.clock)
    second = ingest_files(again, [path], "dnsmasq", "resolver")
    assert (second.stored, second.duplicates, second.alerts_opened, second.alerts_updated) == (
        0,
        3,
        0,
        0,
    )
    assert dump(app.engine) == before


def test_a_backfill_stores_in_batches_of_ten_thousand_lines_or_more(
    app: App, tmp_path: Path, clock: FixedClock
) -> None:
    assert app.cfg.settings.pipeline.batch_size < BACKFILL_BATCH == backfill_batch(app)
    config = init_dir(tmp_path / "large")[0]
    with config.open("a", encoding="utf-8") as fh:
        fh.write("\n[pipeline]\nbatch_size = 50000\n")
    assert backfill_batch(open_app(load_config(config), clock)) == 50_000


def test_gz_backfill_of_a_file_already_read_adds_nothing(app: App, tmp_path: Path) -> None:
    import gzip

    app = school(app, tmp_path)
    path = log(tmp_path, ["Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7"])
    assert ingest_files(app, [path], "dnsmasq", "resolver").stored == 1
    gz = tmp_path / "dnsmasq.log.1.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert ingest_files(app, [gz], "dnsmasq", "resolver").stored == 0


def test_events_carry_person_device_and_why(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)
    path = log(tmp_path, ["Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7"])
    ingest_files(app, [path], "dnsmasq", "resolver")
    username, device, why, category, severity, raw = row(
        app.engine,
        "SELECT username, device_id, attribution, category, severity, raw FROM all_events "
        "WHERE domain = 'www.bet365.com'",
    )
    assert (username, device, category, severity) == ("jayden.s", "Y6-LT-07", "gambling", "medium")
    assert "10.20.6.7 -> aa:00:00:00:00:07" in why
    assert raw == b"Nov 19 10:01:02 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7"


# Every fixture folder named after a format this installation reads (all but pcap, whose
# captures the pcap tests read, and the ones whose parser another change brings).
FIXTURE_FORMATS = sorted(
    d.name
    for d in FIXTURES.iterdir()
    if d.is_dir() and d.name in available_formats() and d.name != "pcap"
)


def test_every_real_fixture_line_is_read(app: App, clock: FixedClock) -> None:
    assert {"dnsmasq", "fortigate", "sophos", "panos", "umbrella", "e2guardian"} <= set(
        FIXTURE_FORMATS
    )
    # Lines without a year are placed by their file's time, which is the checkout's: the
    # clock must not be before it, or they would be in the future (and refused).
    written = max(p.stat().st_mtime for f in FIXTURE_FORMATS for p in (FIXTURES / f).iterdir())
    clock.advance(max(timedelta(0), datetime.fromtimestamp(written, UTC) - clock.now()))
    for fmt in FIXTURE_FORMATS:
        files = sorted(p for p in (FIXTURES / fmt).iterdir() if p.is_file() and p.suffix != ".md")
        result = ingest_files(app, files, fmt, fmt)
        assert result.rejected == 0, fmt
        assert result.lines > 0, fmt
        # osquery's samples hold only pack statistics, which are no events.
        assert result.events > 0 or fmt == "osquery", fmt


def test_an_appliances_verdict_category_and_user_are_kept(app: App, tmp_path: Path) -> None:
    """A FortiGate blocked a pupil's request: the event is judged like any other, keeps the
    filter's verdict and category beside monitord's, and its user name tells who was behind
    the same address's next lookup, as a proxy's does."""
    app = school(app, tmp_path)
    fortigate = tmp_path / "fortigate.log"
    fortigate.write_text(
        'date=2026-11-19 time=10:01:02 logid="0316013056" type="utm" subtype="webfilter" '
        'srcip=10.20.6.9 user="SCHOOL\\helen.p" service="HTTPS" hostname="www.bet365.com" '
        'action="blocked" url="/" catdesc="Gambling"\n',
        encoding="utf-8",
    )
    result = ingest_files(app, [fortigate], "fortigate", "firewall")
    assert (result.events, result.rejected, result.alerts_opened) == (1, 0, 1)
    assert row(
        app.engine,
        "SELECT username, blocked, action, filter_category, category FROM all_events "
        "WHERE fmt = 'fortigate'",
    ) == ("helen.p", True, "blocked", "Gambling", "gambling")
    later = log(tmp_path, ["Nov 19 10:03:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.9"])
    ingest_files(app, [later], "dnsmasq", "resolver")
    username, how = row(
        app.engine, "SELECT username, attributed_by FROM all_events WHERE domain = 'www.bbc.co.uk'"
    )
    assert (username, how) == ("helen.p", "proxy_user")


def test_dhcpd_lease_binds_from_its_real_start(app: App, tmp_path: Path) -> None:
    """dhcpd states when a lease began: before that the address was not the device's, even
    within the configured lease time before the lease's end."""
    app = school(app, tmp_path)
    leases = tmp_path / "dhcpd.leases"
    leases.write_text(
        "# This lease file was written by isc-dhcp-4.4.3\n"
        "lease 10.20.6.8 {\n"
        "  starts 4 2026/11/19 10:00:00;\n"
        "  ends 4 2026/11/19 12:00:00;\n"
        "  binding state active;\n"
        "  hardware ethernet aa:00:00:00:00:07;\n"
        '  client-hostname "y6-lt-07";\n'
        "}\n",
        encoding="utf-8",
    )
    assert ingest_files(app, [leases], "dhcpd-leases", "dhcp").events == 1
    path = log(
        tmp_path,
        [
            "Nov 19 09:30:00 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.8",
            "Nov 19 10:30:00 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.8",
        ],
    )
    assert ingest_files(app, [path], "dnsmasq", "resolver").events == 2
    starts, ends = row(app.engine, "SELECT starts, ends FROM leases WHERE ip = '10.20.6.8'")
    devices = dict(
        rows(
            app.engine,
            "SELECT domain, device_id FROM all_events "
            "WHERE client_ip = '10.20.6.8' AND kind = 'dns'",
        )
    )
    assert (starts, ends) == ("2026-11-19 10:00:00", "2026-11-19 12:00:00")
    assert devices == {"www.bet365.com": None, "www.pornhub.com": "Y6-LT-07"}


def test_a_block_line_marks_the_stored_event_and_its_alert_blocked(
    app: App, tmp_path: Path
) -> None:
    app = school(app, tmp_path)
    query = "Nov 19 10:01:09 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.7"
    block = "Nov 19 10:01:09 dnsmasq[811]: gravity blocked www.pornhub.com is 0.0.0.0"
    path = log(tmp_path, [query, block])
    # Read in two batches so the block line updates an event already stored.
    parser = load_parser("dnsmasq")
    session = parser.session()
    records = [rec for rec, _ in iter_records(path, "pihole")]
    first = app.processor.process("dnsmasq", session, records[:1])
    second = app.processor.process("dnsmasq", session, records[1:])
    assert (first.stored, first.alerts_opened, second.stored, second.skipped) == (1, 1, 0, 1)
    assert row(app.engine, "SELECT blocked, action FROM all_events WHERE kind = 'dns'") == (
        1,
        "gravity blocked",
    )
    assert row(app.engine, "SELECT blocked FROM alerts") == (1,)


def test_a_rewritten_leases_file_adds_the_changed_leases(app: App, tmp_path: Path) -> None:
    leases = tmp_path / "dnsmasq.leases"
    end = int(DAY.timestamp())
    first = f"{end} aa:00:00:00:00:01 10.20.6.1 a *\n"
    leases.write_text(first + f"{end} aa:00:00:00:00:02 10.20.6.2 b *\n")
    r1 = ingest_files(app, [leases], "dnsmasq-leases", "leases")
    # dnsmasq rewrites the file: same first line, the second lease renewed in the same place.
    leases.write_text(first + f"{end + 3600} aa:00:00:00:00:02 10.20.6.2 b *\n")
    r2 = ingest_files(app, [leases], "dnsmasq-leases", "leases")
    # Neither MAC is in the inventory: each also raises unauthorised_device, stored once per
    # device per day, so the rewrite adds only the renewed lease.
    assert (r1.stored, r2.stored, r2.duplicates) == (4, 1, 3)
    assert row(app.engine, "SELECT count(*) FROM leases") == (3,)


def _agent_report(n: int, kind: str, **data: str) -> str:
    import json

    return json.dumps(
        {
            "schema": "monitord.agent/1",
            "agent_id": "y6-lt-07",
            "hostname": "Y6-LT-07",
            "ts": f"2026-11-19T10:0{n}:00Z",
            "user": "jayden.s",
            "ip": "10.20.6.7",
            "mac": "aa:00:00:00:00:07",
            "kind": kind,
            "data": data,
        }
    )


def test_agent_searches_and_typed_text_reach_alerts_and_mail(app: App, tmp_path: Path) -> None:
    import asyncio
    import email
    from email.policy import default as default_policy

    from alerting.delivery import EmailNotifier, deliver_due
    from monitord.casework.cases import list_alerts

    app = school(app, tmp_path)
    reports = tmp_path / "reports.jsonl"
    reports.write_text(
        "\n".join(
            [
                _agent_report(1, "search", engine="google", query="how to kill myself"),
                _agent_report(
                    2, "typed_text", text="ways to self harm without anyone knowing", app="Notepad"
                ),
                _agent_report(3, "search", engine="bing", query="holocaust year 6 lesson"),
                _agent_report(4, "process", name="Tor.exe"),
            ]
        )
        + "\n"
    )
    result = ingest_files(app, [reports], "agent", "agents")
    assert (result.events, result.rejected) == (4, 0)
    alerts = {a["category"]: a for a in list_alerts(app.engine)}
    assert set(alerts) == {"suicide", "self_harm", "filter_bypass"}
    assert alerts["suicide"]["person"] == "jayden.s"
    assert alerts["suicide"]["severity"] == "high"
    assert alerts["filter_bypass"]["indicator"] == "Tor.exe"
    sent = asyncio.run(
        deliver_due(app.engine, app.cfg, app.clock, EmailNotifier(app.cfg), include_batched=True)
    )
    assert sent.sent == 3
    subjects = sorted(
        str(email.message_from_bytes(p.read_bytes(), policy=default_policy)["Subject"])
        for p in app.cfg.pickup_dir.glob("*.eml")
    )
    assert any("HIGH suicide - J.S." in s for s in subjects)
    assert all("Jayden" not in s for s in subjects)


def test_a_pupil_seeking_help_is_never_above_high(app: App, tmp_path: Path) -> None:
    from monitord.casework.cases import list_alerts
    from monitord.service.app import open_app

    policy = app.cfg.policy_file
    assert policy is not None
    text = policy.read_text().replace(
        'self_harm = { pupil = "high"', 'self_harm = { pupil = "critical"'
    )
    assert 'self_harm = { pupil = "critical"' in text
    policy.write_text(text)
    app = school(open_app(app.cfg, app.clock), tmp_path)
    reports = tmp_path / "help.jsonl"
    reports.write_text(
        _agent_report(1, "search", engine="google", query="how to stop self harming")
        + "\n"
        + _agent_report(
            2, "search", engine="google", query="ways to self harm without anyone knowing"
        )
        + "\n"
    )
    ingest_files(app, [reports], "agent", "agents")
    [alert] = list_alerts(app.engine)
    assert alert["category"] == "self_harm"
    assert alert["severity"] == "critical"  # the second search is not looking for help
    assert rows(
        app.engine, "SELECT text, severity FROM all_events WHERE kind = 'search' ORDER BY ts"
    ) == [
        ("how to stop self harming", "high"),
        ("ways to self harm without anyone knowing", "critical"),
    ]


POISON = [
    "Nov 19 10:01:00 dnsmasq[811]: query[A] www.bbc.co.uk from 10.20.6.7",
    "Nov 19 10:01:01 dnsmasq[811]: query[A] www.bet365.com from 10.20.6.7",
    "Nov 19 10:01:02 dnsmasq[811]: query[A] www.paddypower.com from 10.20.6.7",
    "Nov 19 10:01:03 dnsmasq[811]: query[A] www.wikipedia.org from 10.20.6.7",
    "Nov 19 10:01:04 dnsmasq[811]: query[A] www.paddypower.com from 10.20.6.7",
    "Nov 19 10:01:05 dnsmasq[811]: query[A] www.pornhub.com from 10.20.6.7",
]


def _judged(app: App, tmp_path: Path) -> tuple[Any, Any, Checkpoint, list[RawRecord]]:
    """The POISON lines judged as one batch, and the checkpoint at the file's end."""
    path = log(tmp_path, POISON)
    records = [rec for rec, _ in iter_records(path, "resolver", now=app.clock.now())]
    pending, counts = app.processor.judge("dnsmasq", load_parser("dnsmasq").session(), records)
    cp = Checkpoint("resolver", str(path), records[0].origin.file_id, 1, path.stat().st_size)
    return pending, counts, cp, records


def _poisoned(app: App) -> None:
    assert rows(app.engine, "SELECT domain FROM all_events WHERE kind = 'dns' ORDER BY ts") == [
        ("www.bbc.co.uk",),
        ("www.bet365.com",),
        ("www.wikipedia.org",),
        ("www.pornhub.com",),
    ]
    assert sorted(c for (c,) in rows(app.engine, "SELECT category FROM alerts")) == [
        "gambling",
        "pornography",
    ]
    assert load_checkpoint(app.engine, "resolver").offset == sum(  # type: ignore[union-attr]
        len(line) + 1 for line in POISON
    )
    assert row(app.engine, "SELECT lines, events, rejected FROM checkpoints") == (6, 6, 2)


def _unstorable(pending: Any) -> Any:
    """A judged batch whose events of one domain hold a value no store can take."""
    for ev in pending.events:
        if ev["domain"] == "www.paddypower.com":
            ev["url"] = "http://www.paddypower.com/\ud800"
    return pending


def test_a_batch_the_store_refuses_is_split_to_the_records_at_fault(
    app: App, tmp_path: Path
) -> None:
    """A value no column can take (a lone surrogate the normaliser did not catch) failed
    the whole batch; now only its records are kept aside, as rejected lines."""
    app = school(app, tmp_path)
    pending, counts, cp, records = _judged(app, tmp_path)
    result = app.processor.store(_unstorable(pending), counts, cp)
    assert (result.stored, result.rejected, result.alerts_opened) == (4, 2, 2)
    _poisoned(app)
    refused = rows(app.engine, 'SELECT "offset", reason, raw FROM rejected ORDER BY "offset"')
    assert [o for o, _, _ in refused] == [records[2].origin.offset, records[4].origin.offset]
    assert all(r.startswith("the store refused it: ") and "surrogate" in r for _, r, _ in refused)
    assert [raw for _, _, raw in refused] == [POISON[2].encode(), POISON[4].encode()]
    # Read again (a restart before the checkpoint was saved): nothing is stored twice.
    again, counts, cp, _ = _judged(app, tmp_path)
    assert app.processor.store(_unstorable(again), counts, cp).stored == 0
    assert row(app.engine, "SELECT count(*) FROM alerts") == (2,)
    assert row(app.engine, "SELECT count(*) FROM rejected") == (2,)


class _FailingAlerts:
    """The alert manager, failing as its time arithmetic did on a date in the year 9999,
    for the events of one listed domain."""

    def __init__(self, inner: AlertSink) -> None:
        self.inner = inner

    def apply(self, conn: Connection, judged: Sequence[Judged]) -> tuple[int, int]:
        if any(j.event.domain == "www.paddypower.com" for j in judged):
            raise OverflowError("date value out of range")
        return self.inner.apply(conn, judged)


def test_an_error_in_the_alerts_of_one_record_spares_the_rest(app: App, tmp_path: Path) -> None:
    app = school(app, tmp_path)
    assert app.processor.alerts is not None
    app.processor.alerts = _FailingAlerts(app.processor.alerts)
    pending, counts, cp, _ = _judged(app, tmp_path)
    result = app.processor.store(pending, counts, cp)
    assert (result.stored, result.rejected, result.alerts_opened) == (4, 2, 2)
    _poisoned(app)
    assert {r for (r,) in rows(app.engine, "SELECT reason FROM rejected")} == {
        "the store refused it: OverflowError: date value out of range"
    }


def test_a_store_that_cannot_be_written_is_not_taken_for_poison(
    app: App, tmp_path: Path, store_kind: str
) -> None:
    """A read-only store (a PostgreSQL standby, a SQLite file it may not write) fails every
    batch: that is raised for the task's supervisor, never turned into rejected lines."""
    app = school(app, tmp_path)
    pending, counts, cp, _ = _judged(app, tmp_path)
    statement = (
        "PRAGMA query_only = 1"
        if store_kind == "sqlite"
        else ("SET default_transaction_read_only = on")
    )

    def read_only(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(statement)
        cur.close()
        dbapi_conn.commit()

    event.listen(app.engine, "connect", read_only)
    app.engine.dispose()
    with pytest.raises(DBAPIError) as raised:
        app.processor.store(pending, counts, cp)
    assert store_trouble(raised.value)
    event.remove(app.engine, "connect", read_only)
    app.engine.dispose()
    assert rows(app.engine, "SELECT count(*) FROM rejected") == [(0,)]
    assert load_checkpoint(app.engine, "resolver") is None


def test_a_text_that_fails_to_be_judged_rejects_its_record_alone(
    app: App, tmp_path: Path, clock: FixedClock
) -> None:
    # What a batch's events say is judged after its records: a report whose text the engine
    # cannot take is a rejected line; the reports around it are judged and kept, their text
    # judged in order.
    app = school(app, tmp_path)
    proc = app.processor
    content = proc.content
    assert content is not None
    seen: list[str | None] = []

    class Failing:
        def classify(self, event: Any, person: Any) -> Any:
            seen.append(event.text)
            if event.text == "boom":
                raise ValueError("no reading of it")
            return content.classify(event, person)

    proc.content = Failing()  # type: ignore[assignment]
    queries = ["how to make friends", "boom", "how to kill myself"]
    path = tmp_path / "agent.jsonl"
    path.write_text(
        "".join(
            '{"schema": "monitord.agent/1", "agent_id": "a1", "hostname": "y6-lt-07", '
            f'"ts": "2026-11-19T17:0{i}:00Z", "user": "jayden.s", "ip": "10.20.6.7", '
            '"mac": null, "kind": "search", "data": {"engine": "google", '
            f'"query": "{q}"}}}}\n'
            for i, q in enumerate(queries)
        ),
        encoding="utf-8",
    )
    records = [r for r, _ in iter_records(path, "agent", now=clock.now())]
    pending, result = proc.judge("agent", load_parser("agent").session(), records)
    assert seen == queries
    assert (result.events, result.rejected) == (2, 1)
    assert [j.event.text for j in pending.judged] == [queries[0], queries[2]]
    assert [e["text"] for e in pending.events] == [queries[0], queries[2]]
    assert "judging failed: ValueError: no reading of it" in pending.rejected[0]["reason"]
    risky = pending.judged[1]
    assert risky.decisions
    assert pending.events[1]["category"] == risky.decisions[0].category
    assert set(pending.matches) == {risky.event_id}


def test_quiet_lines_are_skipped_as_parsing_would_skip_them(app: App, tmp_path: Path) -> None:
    """Records not sifted as they were read (a followed log's) have the session's quiet
    lines counted as skipped unparsed: the batch judged is the one parsing every line gives."""
    path = FIXTURES / "dnsmasq" / "wazuh-pihole-dnsmasq.log"
    records = [rec for rec, _ in iter_records(path, "pihole", now=app.clock.now())]
    parser = load_parser("dnsmasq")
    quietly, result = app.processor.judge("dnsmasq", parser.session(), records)
    fully, every = app.processor.judge("dnsmasq", parser.session(), records, sifted=True)
    assert result == every
    assert result.skipped > result.events > 0
    assert quietly.events == fully.events
    assert quietly.judged == fully.judged
