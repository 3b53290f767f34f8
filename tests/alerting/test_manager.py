"""The alert manager end to end: real parsers, roster, leases, lists and policy through the
pipeline, checked in the store."""

from __future__ import annotations

import email
import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, MetaData, Table, select, text
from sqlalchemy.event import listen, remove

from collectors.parsers.base import load_parser
from monitord.casework.cases import ack, close
from monitord.classify.lists import read_plain, store_list
from monitord.core.clock import FixedClock
from monitord.core.model import Origin, RawRecord
from monitord.identity.roster import import_devices, import_people
from monitord.service.app import open_app
from monitord.service.batch import BatchResult
from monitord.settings.config import Config, load_config
from monitord.store.database import open_store, rows_as_dicts, table_of
from monitord.store.tables import AlertEventRow, AlertRow, AuditRow, EventRow, OutboxRow

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Europe/London")
DSL = ["dsl@school.example"]
HEAD = ["head@school.example"]
CHAIR = ["chair@school.example"]

PEOPLE = """\
username,display_name,role,year_group,class,email
alice.p,Alice Pupil,pupil,5,Oak,
ben.p,Ben Pupil,pupil,6,Ash,
bob.s,Bob Staff,staff,,,bob@school.example
helen.h,Helen Head,headteacher,,,helen@school.example
someone,Sam Someone,staff,,,sam@school.example
"""
# who -> (device, MAC, IP); each laptop is a school_single device assigned to its user.
LAPTOPS = {
    "alice.p": ("LAP-ALICE", "aa:bb:cc:00:00:01", "10.0.0.11"),
    "ben.p": ("LAP-BEN", "aa:bb:cc:00:00:02", "10.0.0.12"),
    "bob.s": ("LAP-BOB", "aa:bb:cc:00:00:03", "10.0.0.13"),
    "helen.h": ("LAP-HELEN", "aa:bb:cc:00:00:04", "10.0.0.14"),
    "someone": ("LAP-SOMEONE", "aa:bb:cc:00:00:05", "10.0.0.15"),
}
UNKNOWN_IP = "10.0.0.99"


class School:
    """A monitord with a roster, an inventory and current DHCP leases, fed DNS lookups."""

    def __init__(self, cfg: Config, clock: FixedClock, folder: Path) -> None:
        self.cfg = cfg
        self.clock = clock
        self.offset = 0
        people = folder / "people.csv"
        devices = folder / "devices.csv"
        people.write_text(PEOPLE, encoding="utf-8")
        devices.write_text(
            "device_id,mac,hostname,ownership,assigned_to\n"
            + "".join(
                f"{dev},{mac},{dev.lower()},school_single,{user}\n"
                for user, (dev, mac, _) in LAPTOPS.items()
            ),
            encoding="utf-8",
        )
        engine = open_store(cfg.database_url)
        import_people(engine, people, "test", clock.now())
        import_devices(engine, devices, "test", clock.now())
        engine.dispose()
        # Identity loads the roster when the app is built, so build it after the import.
        self.app = open_app(cfg, clock)
        expiry = int((clock.now() + timedelta(hours=12)).timestamp())
        leases = [
            f"{expiry} {mac} {ip} {dev.lower()} 01:{mac}" for dev, mac, ip in LAPTOPS.values()
        ]
        result = self.feed("dnsmasq-leases", "leases", leases)
        assert result.events == len(LAPTOPS)

    def reopen(self) -> None:
        """Build the app again from the store (as a restarted daemon would)."""
        self.app.engine.dispose()
        self.app = open_app(self.cfg, self.clock)

    def feed(self, fmt: str, source: str, lines: list[str]) -> BatchResult:
        records = []
        for line in lines:
            self.offset += len(line) + 1
            origin = Origin(source, f"{source}-file", self.offset, f"/var/log/{source}")
            records.append(RawRecord(origin, line.encode(), self.clock.now()))
        return self.app.processor.process(fmt, load_parser(fmt).session(), records)

    def lookups(self, *visits: tuple[str, str, datetime]) -> BatchResult:
        """DNS queries (who, domain, when) as dnsmasq logs them, in one batch."""
        lines = []
        for who, domain, ts in visits:
            ip = LAPTOPS[who][2] if who in LAPTOPS else who
            stamp = ts.astimezone(TZ).strftime("%b %d %H:%M:%S")
            lines.append(f"{stamp} dnsmasq[812]: query[A] {domain} from {ip}")
        result = self.feed("dnsmasq", "dns", lines)
        assert result.rejected == 0
        assert result.events == len(visits)
        return result

    def lookup(self, who: str, domain: str, ts: datetime | None = None) -> BatchResult:
        return self.lookups((who, domain, ts or self.clock.now() - timedelta(minutes=1)))

    def rows(self, model: type[Any], **where: object) -> list[dict[str, Any]]:
        """A table's rows; for events, every stored event (the lookups among them, which
        hold a category that opened no alert as well)."""
        table = table_of(model)
        if model is EventRow:
            columns = (Column(c.name, c.type, primary_key=c.primary_key) for c in table.columns)
            table = Table("all_events", MetaData(), *columns)
        query = select(table)
        for key, value in where.items():
            query = query.where(table.c[key] == value)
        first = next(iter(table.primary_key.columns))
        with self.app.engine.connect() as conn:
            return rows_as_dicts(conn.execute(query.order_by(first)))

    def alerts(self, **where: object) -> list[dict[str, Any]]:
        return self.rows(AlertRow, **where)

    def mark_sent(self) -> None:
        """As the delivery worker would once the server has the queued mail."""
        table = table_of(OutboxRow)
        with self.app.engine.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.status == "queued")
                .values(status="sent", sent_at=self.clock.now())
            )

    def outbox(self, **where: object) -> list[dict[str, Any]]:
        return self.rows(OutboxRow, **where)

    def audit(self, action: str) -> list[dict[str, Any]]:
        return self.rows(AuditRow, action=action)


@contextmanager
def build_school(cfg: Config, clock: FixedClock, folder: Path) -> Iterator[School]:
    s = School(cfg, clock, folder)
    try:
        yield s
    finally:
        s.app.engine.dispose()


pytestmark = pytest.mark.stores


@pytest.fixture
def school(config: Config, clock: FixedClock, tmp_path: Path) -> Iterator[School]:
    with build_school(config, clock, tmp_path) as s:
        yield s


def nominated_config(config: Config) -> Config:
    """The same site with a policy file where ``someone`` is nominated for gambling."""
    assert config.path is not None
    policy = config.base_dir / "policy-nominated.toml"
    shutil.copyfile(ROOT / "config" / "policy.toml", policy)
    body = policy.read_text(encoding="utf-8")
    assert "[nominated]\n" in body
    policy.write_text(
        body.replace("[nominated]\n", '[nominated]\ngambling = ["someone"]\n'), encoding="utf-8"
    )
    toml = config.path.read_text(encoding="utf-8")
    assert 'file = "policy.toml"' in toml
    config.path.write_text(
        toml.replace('file = "policy.toml"', 'file = "policy-nominated.toml"'), encoding="utf-8"
    )
    cfg = load_config(config.path)
    assert cfg.policy_file == policy
    return cfg


def parse(message: bytes) -> EmailMessage:
    msg = email.message_from_bytes(message, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    return msg


def at(clock: FixedClock, minutes: int) -> datetime:
    """``minutes`` after an hour before the clock's time."""
    return clock.now() - timedelta(hours=1) + timedelta(minutes=minutes)


# --- grouping ---------------------------------------------------------------------------------


def test_repeated_lookups_grow_one_alert(school: School, clock: FixedClock) -> None:
    first = school.lookups(
        ("alice.p", "www.pornhub.com", at(clock, 0)),
        ("alice.p", "pornhub.com", at(clock, 10)),
    )
    assert (first.alerts_opened, first.alerts_updated) == (1, 1)
    second = school.lookup("alice.p", "cdn1.pornhub.com", at(clock, 40))
    assert (second.alerts_opened, second.alerts_updated) == (0, 1)

    [alert] = school.alerts()
    assert alert["count"] == 3
    assert alert["category"] == "pornography"
    assert alert["severity"] == "high"
    assert alert["person"] == "alice.p"
    assert alert["role"] == "pupil"
    assert alert["year_group"] == "5"
    assert alert["device"] == "LAP-ALICE"
    assert alert["ip"] == "10.0.0.11"
    assert alert["indicator"] == "www.pornhub.com"
    assert alert["group_key"] == "default|person:alice.p|pornography"
    assert alert["first_seen"] == at(clock, 0)
    assert alert["last_seen"] == at(clock, 40)
    assert json.loads(alert["sources"]) == ["dnsmasq"]
    assert len(school.rows(AlertEventRow, alert_id=alert["id"])) == 3
    # One alert, one message: growing it does not mail the DSL again.
    assert len(school.outbox()) == 1
    assert len(school.audit("alert.create")) == 1


def test_lookups_out_of_order_in_a_batch_still_group(school: School, clock: FixedClock) -> None:
    school.lookups(
        ("alice.p", "bet365.com", at(clock, 30)),
        ("alice.p", "bet365.com", at(clock, 5)),
        ("alice.p", "bet365.com", at(clock, 50)),
    )
    [alert] = school.alerts()
    assert alert["count"] == 3
    assert alert["first_seen"] == at(clock, 5)
    assert alert["last_seen"] == at(clock, 50)


@pytest.mark.parametrize(
    ("gap", "alerts"),
    [
        (timedelta(minutes=59), 1),
        (timedelta(hours=1), 1),
        (timedelta(hours=1, seconds=1), 2),
        (timedelta(hours=3), 2),
    ],
)
def test_new_alert_after_the_group_window(
    school: School, clock: FixedClock, gap: timedelta, alerts: int
) -> None:
    assert school.cfg.settings.alerts.group_window == timedelta(hours=1)
    school.lookup("alice.p", "pornhub.com", at(clock, 0))
    clock.advance(gap)
    school.lookup("alice.p", "pornhub.com", at(clock, 0))
    rows = school.alerts()
    assert len(rows) == alerts
    assert sum(r["count"] for r in rows) == 2
    assert len(school.outbox()) == alerts
    if alerts == 2:
        assert rows[0]["group_key"] == rows[1]["group_key"]
        assert rows[1]["first_seen"] - rows[0]["last_seen"] == gap


def test_window_runs_from_the_last_lookup(school: School, clock: FixedClock) -> None:
    """While lookups keep coming within the window of each other, the alert keeps growing."""
    for minutes in (0, 50, 100, 150):
        school.lookup("alice.p", "pornhub.com", at(clock, minutes))
    [alert] = school.alerts()
    assert alert["count"] == 4
    assert alert["last_seen"] - alert["first_seen"] == timedelta(minutes=150)


def test_backfilled_earlier_lookup_joins_only_an_alert_within_the_window(
    school: School, clock: FixedClock
) -> None:
    """Older lines read after newer ones (a rotated log backfilled later) group by the same
    window, looking back as well as forward."""
    school.lookup("alice.p", "pornhub.com", at(clock, 50))
    school.lookup("alice.p", "pornhub.com", at(clock, 10))  # 40 minutes earlier: same alert
    [alert] = school.alerts()
    assert alert["count"] == 2
    assert alert["first_seen"] == at(clock, 10)
    assert alert["last_seen"] == at(clock, 50)

    last_week = at(clock, 0) - timedelta(days=7)
    school.lookup("alice.p", "pornhub.com", last_week)
    rows = school.alerts()
    assert [(r["first_seen"], r["last_seen"], r["count"]) for r in rows] == [
        (at(clock, 10), at(clock, 50), 2),
        (last_week, last_week, 1),
    ]
    # ...and a later line from that day joins last week's alert, not today's.
    school.lookup("alice.p", "pornhub.com", last_week + timedelta(minutes=30))
    rows = school.alerts()
    assert [r["count"] for r in rows] == [2, 2]
    assert rows[1]["last_seen"] == last_week + timedelta(minutes=30)
    assert len(school.outbox()) == 2


def test_an_acknowledged_alert_grows_but_a_closed_one_does_not(
    school: School, clock: FixedClock
) -> None:
    school.lookup("alice.p", "pornhub.com", at(clock, 0))
    [first] = school.alerts()
    ack(school.app.engine, first["id"], "dsl", clock.now())
    school.lookup("alice.p", "pornhub.com", at(clock, 5))
    assert [(r["status"], r["count"]) for r in school.alerts()] == [("acknowledged", 2)]
    close(school.app.engine, first["id"], "dsl", "internal_action", clock.now())
    school.lookup("alice.p", "pornhub.com", at(clock, 10))
    rows = school.alerts()
    assert [(r["status"], r["count"]) for r in rows] == [("closed", 2), ("open", 1)]
    assert len(school.outbox()) == 2


def test_different_categories_give_different_alerts(school: School, clock: FixedClock) -> None:
    school.lookups(
        ("alice.p", "pornhub.com", at(clock, 0)),
        ("alice.p", "bet365.com", at(clock, 1)),
        ("alice.p", "xvideos.com", at(clock, 2)),
        ("alice.p", "williamhill.com", at(clock, 3)),
    )
    rows = {r["category"]: r for r in school.alerts()}
    assert set(rows) == {"pornography", "gambling"}
    assert rows["pornography"]["count"] == 2
    assert rows["gambling"]["count"] == 2
    assert rows["pornography"]["group_key"] != rows["gambling"]["group_key"]
    assert len(school.outbox()) == 2


def test_different_people_give_different_alerts(school: School, clock: FixedClock) -> None:
    school.lookups(
        ("alice.p", "pornhub.com", at(clock, 0)),
        ("ben.p", "pornhub.com", at(clock, 1)),
    )
    assert sorted((r["person"], r["device"]) for r in school.alerts()) == [
        ("alice.p", "LAP-ALICE"),
        ("ben.p", "LAP-BEN"),
    ]


def test_reading_the_same_lines_again_does_not_grow_the_alert(
    school: School, clock: FixedClock
) -> None:
    stamp = at(clock, 0).astimezone(TZ).strftime("%b %d %H:%M:%S")
    line = f"{stamp} dnsmasq[812]: query[A] pornhub.com from 10.0.0.11"
    record = RawRecord(Origin("dns", "dns-file", 4242), line.encode(), clock.now())
    parser = load_parser("dnsmasq").session()
    first = school.app.processor.process("dnsmasq", parser, [record])
    again = school.app.processor.process("dnsmasq", parser, [record, record])
    assert (first.stored, first.alerts_opened) == (1, 1)
    assert (again.stored, again.duplicates, again.alerts_opened, again.alerts_updated) == (
        0,
        2,
        0,
        0,
    )
    [alert] = school.alerts()
    assert alert["count"] == 1
    assert len(school.outbox()) == 1


def test_unattributed_address_groups_by_ip_and_goes_to_the_dsl(
    school: School, clock: FixedClock
) -> None:
    school.lookups(
        (UNKNOWN_IP, "pornhub.com", at(clock, 0)),
        (UNKNOWN_IP, "pornhub.com", at(clock, 1)),
    )
    [alert] = school.alerts()
    assert alert["group_key"] == f"default|ip:{UNKNOWN_IP}|pornography"
    assert alert["person"] is None
    assert alert["device"] is None
    assert alert["count"] == 2
    assert json.loads(alert["recipients"]) == DSL
    [row] = school.outbox()
    assert parse(row["message"])["Subject"].endswith("pornography - unknown")


# --- the outbox -------------------------------------------------------------------------------


def test_new_alert_queues_its_message(school: School, clock: FixedClock) -> None:
    result = school.lookup("alice.p", "pornhub.com")
    assert result.alerts_opened == 1
    [alert] = school.alerts()
    [row] = school.outbox()
    assert row["alert_id"] == alert["id"]
    assert row["status"] == "queued"
    assert row["attempts"] == 0
    assert row["last_error"] is None
    assert row["sent_at"] is None
    assert row["created_at"] == alert["created_at"] == clock.now()
    assert json.loads(row["recipients"]) == json.loads(alert["recipients"]) == DSL
    msg = parse(row["message"])
    assert (
        msg["Message-ID"]
        == row["message_id"]
        == f"<alert-{alert['id']}.default.monitord@school.example>"
    )
    assert msg["Subject"] == row["subject"] == f"[monitord #{alert['id']}] HIGH pornography - A.P."
    assert msg["To"] == "dsl@school.example"
    assert "Alice" not in row["subject"]
    [audit] = school.audit("alert.create")
    assert audit["subject"] == f"alert:{alert['id']}"
    assert json.loads(audit["detail"])["category"] == "pornography"


def test_alert_and_outbox_are_one_transaction(school: School, clock: FixedClock) -> None:
    """If the outbox row cannot be written, the alert (and the event) is not written either:
    the record is kept as a rejected line with the error; reading it again then makes both."""
    with school.app.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION outbox_full() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN RAISE EXCEPTION 'outbox is full' USING ERRCODE = 'check_violation'; "
                    "END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER outbox_full BEFORE INSERT ON outbox "
                    "FOR EACH ROW EXECUTE FUNCTION outbox_full()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER outbox_full BEFORE INSERT ON outbox "
                    "BEGIN SELECT RAISE(ABORT, 'outbox is full'); END"
                )
            )
    stamp = at(clock, 0).astimezone(TZ).strftime("%b %d %H:%M:%S")
    line = f"{stamp} dnsmasq[812]: query[A] pornhub.com from 10.0.0.11"
    record = RawRecord(Origin("dns", "dns-file", 77), line.encode(), clock.now())
    parser = load_parser("dnsmasq").session()
    refused = school.app.processor.process("dnsmasq", parser, [record])
    assert (refused.stored, refused.rejected) == (0, 1)
    with school.app.engine.connect() as conn:
        [(reason,)] = conn.execute(text("SELECT reason FROM rejected"))
    assert reason.startswith("the store refused it: IntegrityError: ")
    assert "outbox is full" in reason
    assert school.alerts() == []
    assert school.outbox() == []
    assert school.audit("alert.create") == []
    assert school.rows(EventRow, kind="dns") == []

    with school.app.engine.begin() as conn:
        on = " ON outbox" if conn.dialect.name == "postgresql" else ""
        conn.execute(text(f"DROP TRIGGER outbox_full{on}"))
    result = school.app.processor.process("dnsmasq", parser, [record])
    assert (result.stored, result.alerts_opened) == (1, 1)
    [alert] = school.alerts()
    [row] = school.outbox()
    assert row["alert_id"] == alert["id"]


def test_high_is_due_now(school: School, clock: FixedClock) -> None:
    clock.advance(timedelta(minutes=25))
    school.lookup("alice.p", "pornhub.com")
    [row] = school.outbox()
    assert row["due_at"] == clock.now() == datetime(2026, 11, 20, 16, 25, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "due"),
    [
        (timedelta(0), datetime(2026, 11, 20, 11, 0, tzinfo=UTC)),
        (timedelta(minutes=25), datetime(2026, 11, 20, 11, 0, tzinfo=UTC)),
        (timedelta(minutes=59, seconds=59), datetime(2026, 11, 20, 11, 0, tzinfo=UTC)),
        (timedelta(hours=5, minutes=1), datetime(2026, 11, 20, 16, 0, tzinfo=UTC)),
    ],
)
def test_medium_in_school_hours_is_due_at_the_next_whole_hour(
    school: School, clock: FixedClock, after: timedelta, due: datetime
) -> None:
    clock.advance(timedelta(hours=-6) + after)  # Friday 10:00 in London, plus after
    school.lookup("alice.p", "bet365.com")
    [alert] = school.alerts()
    assert alert["severity"] == "medium"
    [row] = school.outbox()
    assert row["due_at"] == due
    assert row["created_at"] == clock.now()
    assert row["status"] == "queued"


def with_alerts(config: Config, settings: str) -> Config:
    """The same site with an [alerts] table added to its monitord.toml."""
    assert config.path is not None
    with config.path.open("a", encoding="utf-8") as fh:
        fh.write(f"\n[alerts]\n{settings}\n")
    return load_config(config.path)


MONDAY_MORNING = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # 07:30 GMT: after_school ends


@pytest.mark.parametrize(
    "after",
    [timedelta(0), timedelta(hours=8, minutes=1), timedelta(days=2, hours=15, minutes=29)],
)
def test_medium_out_of_hours_waits_for_the_next_school_morning(
    school: School, clock: FixedClock, after: timedelta
) -> None:
    """Friday 16:00 (after school), Saturday 00:01 and Monday 07:29 all wait for Monday."""
    clock.advance(after)
    school.lookup("alice.p", "bet365.com")
    [row] = school.outbox()
    assert row["due_at"] == MONDAY_MORNING
    school.lookup("alice.p", "pornhub.com")  # high goes at once, out of hours too
    assert [r["due_at"] for r in school.outbox()] == [MONDAY_MORNING, clock.now()]


@pytest.mark.parametrize(
    ("settings", "medium", "high"),
    [
        (
            'out_of_hours_medium = "batched"',
            datetime(2026, 11, 20, 17, 0, tzinfo=UTC),
            datetime(2026, 11, 20, 16, 0, tzinfo=UTC),
        ),
        ('out_of_hours_medium = "immediate"\nout_of_hours_high = "next_school_hours"', None, None),
    ],
)
def test_out_of_hours_timing_follows_the_config(
    config: Config,
    clock: FixedClock,
    tmp_path: Path,
    settings: str,
    medium: datetime | None,
    high: datetime | None,
) -> None:
    cfg = with_alerts(config, settings)
    with build_school(cfg, clock, tmp_path) as school:
        school.lookup("alice.p", "bet365.com")
        school.lookup("ben.p", "pornhub.com")
        rows = school.outbox()
        assert [r["due_at"] for r in rows] == [
            medium or clock.now(),
            high or MONDAY_MORNING,
        ]


def test_low_severity_makes_no_alert(school: School, clock: FixedClock) -> None:
    result = school.lookups(
        ("alice.p", "roblox.com", at(clock, 0)),
        ("alice.p", "www.roblox.com", at(clock, 1)),
        ("alice.p", "youtube.com", at(clock, 2)),
    )
    assert result.stored == 3
    assert (result.alerts_opened, result.alerts_updated) == (0, 0)
    assert school.alerts() == []
    assert school.outbox() == []
    events = sorted(school.rows(EventRow, kind="dns"), key=lambda e: e["ts"])
    assert [(e["category"], e["severity"]) for e in events] == [
        ("gaming", "low"),
        ("gaming", "low"),
        ("video_streaming", "low"),
    ]
    assert all(e["username"] == "alice.p" for e in events)


def test_staff_social_media_after_school_makes_no_alert(school: School) -> None:
    # 16:00 in London is after school: social media is "none" for staff then.
    result = school.lookup("bob.s", "instagram.com")
    assert result.alerts_opened == 0
    assert school.alerts() == []
    [event] = school.rows(EventRow, kind="dns")
    assert (event["category"], event["severity"]) == ("social_media", "none")


# --- exemptions -------------------------------------------------------------------------------


def test_nominated_person_writes_exemption_audit_and_no_alert(
    config: Config, clock: FixedClock, tmp_path: Path
) -> None:
    cfg = nominated_config(config)
    with build_school(cfg, clock, tmp_path) as school:
        result = school.lookups(
            ("someone", "bet365.com", at(clock, 0)),
            ("someone", "paddypower.com", at(clock, 5)),
        )
        assert result.stored == 2
        assert (result.alerts_opened, result.alerts_updated) == (0, 0)
        assert school.alerts() == []
        assert school.outbox() == []
        used = school.audit("exemption.used")
        assert len(used) == 2
        events = sorted(school.rows(EventRow, kind="dns"), key=lambda e: e["ts"])
        assert [json.loads(u["detail"])["event"] for u in used] == [e["id"] for e in events]
        for u in used:
            assert u["subject"] == "someone"
            assert u["actor"] == "monitord"
            detail = json.loads(u["detail"])
            assert detail["category"] == "gambling"
            assert "someone is nominated for gambling" in detail["rule"]
        assert {(e["category"], e["severity"]) for e in events} == {("gambling", "none")}

        # The exemption is personal: the same lookup by a pupil still alerts.
        school.lookup("alice.p", "bet365.com")
        [alert] = school.alerts()
        assert (alert["person"], alert["category"], alert["severity"]) == (
            "alice.p",
            "gambling",
            "medium",
        )
        assert len(school.audit("exemption.used")) == 2
        # It covers gambling only.
        school.lookup("someone", "pornhub.com")
        assert [a["person"] for a in school.alerts()] == ["alice.p", "someone"]


# --- routing ----------------------------------------------------------------------------------


def recipients_of(school: School, person: str) -> tuple[list[str], list[str], list[str]]:
    """An alert's recipients, its outbox row's, and its message's To: header's, each sorted."""
    [alert] = school.alerts(person=person)
    [row] = school.outbox(alert_id=alert["id"])
    to = [a.addr_spec for a in parse(row["message"])["To"].addresses]
    return (
        sorted(json.loads(alert["recipients"])),
        sorted(json.loads(row["recipients"])),
        sorted(to),
    )


def test_pupil_alert_goes_to_the_dsl(school: School) -> None:
    school.lookup("alice.p", "pornhub.com")
    assert recipients_of(school, "alice.p") == (DSL, DSL, DSL)


def test_staff_alert_goes_to_the_headteacher(school: School) -> None:
    school.lookup("bob.s", "pornhub.com")
    assert recipients_of(school, "bob.s") == (HEAD, HEAD, HEAD)


def test_headteacher_alert_goes_to_the_chair_never_the_headteacher(school: School) -> None:
    school.lookup("helen.h", "pornhub.com")
    school.lookup("helen.h", "bet365.com")
    for alert in school.alerts(person="helen.h"):
        assert json.loads(alert["recipients"]) == CHAIR
    for row in school.outbox():
        assert json.loads(row["recipients"]) == CHAIR
        msg = parse(row["message"])
        assert msg["To"] == "chair@school.example"
        assert "head@school.example" not in row["message"].decode("ascii")


def test_critical_alerts_route_to_dsl_and_headteacher_or_chair(
    school: School, clock: FixedClock, tmp_path: Path
) -> None:
    listing = tmp_path / "child_abuse.txt"
    listing.write_text("csam-test.invalid\n", encoding="utf-8")
    content = read_plain(listing, "domains", "child_abuse", "test/child_abuse")
    store_list(school.app.engine, school.cfg.lists_dir, content, "test", clock.now())
    school.reopen()  # the classifier loads the lists, and identity the stored leases
    school.lookup("bob.s", "csam-test.invalid")
    school.lookup("helen.h", "www.csam-test.invalid")
    school.lookup("alice.p", "csam-test.invalid")

    assert recipients_of(school, "bob.s") == (DSL + HEAD,) * 3
    assert recipients_of(school, "helen.h") == (CHAIR + DSL,) * 3
    assert recipients_of(school, "alice.p") == (DSL + HEAD,) * 3
    for alert in school.alerts():
        assert alert["severity"] == "critical"
    for row in school.outbox():
        assert row["due_at"] == clock.now()
        assert parse(row["message"])["Importance"] == "high"
    [helen] = school.alerts(person="helen.h")
    [helen_mail] = school.outbox(alert_id=helen["id"])
    assert b"head@school.example" not in helen_mail["message"]


# --- settings ---------------------------------------------------------------------------------


def test_alert_settings_defaults_and_errors(tmp_path: Path) -> None:
    from monitord.settings.config import ConfigError, Settings

    alerts = Settings().alerts
    assert (alerts.realert_interval, alerts.inhibit_window) == (
        timedelta(hours=1),
        timedelta(hours=4),
    )
    assert alerts.max_mails_per_hour == 30
    assert (alerts.out_of_hours_high, alerts.out_of_hours_medium) == (
        "immediate",
        "next_school_hours",
    )
    cfg = tmp_path / "monitord.toml"
    cfg.write_text(
        '[alerts]\nrealert_interval = "0s"\nmax_mails_per_hour = -1\n'
        'out_of_hours_medium = "never"\nsnooze = "1h"\n[smtp]\nca_file = "ca.pem"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(cfg)
    problems = "\n".join(caught.value.problems)
    for key in (
        "alerts.realert_interval: must be longer than zero",
        "alerts.max_mails_per_hour:",
        "alerts.out_of_hours_medium:",
        "alerts.snooze: unknown key",
        "smtp.ca_file: file not found",
    ):
        assert key in problems


# --- re-alerts, threads and inhibition --------------------------------------------------------


def add_child_abuse_list(school: School, clock: FixedClock, folder: Path) -> None:
    listing = folder / "child_abuse.txt"
    listing.write_text("csam-test.invalid\n", encoding="utf-8")
    content = read_plain(listing, "domains", "child_abuse", "test/child_abuse")
    store_list(school.app.engine, school.cfg.lists_dir, content, "test", clock.now())
    school.reopen()


def test_growing_alert_is_mailed_again_in_its_thread_after_the_interval(
    school: School, clock: FixedClock
) -> None:
    school.lookup("alice.p", "pornhub.com", clock.now() - timedelta(minutes=1))
    school.mark_sent()
    clock.advance(timedelta(minutes=30))
    school.lookup("alice.p", "pornhub.com", clock.now() - timedelta(minutes=1))
    assert len(school.outbox()) == 1  # the last mail is younger than the interval
    clock.advance(timedelta(minutes=31))
    school.lookup("alice.p", "www.pornhub.com", clock.now() - timedelta(minutes=1))
    school.mark_sent()
    [alert] = school.alerts()
    assert alert["count"] == 3
    first, second = school.outbox()
    assert second["alert_id"] == alert["id"]
    assert second["due_at"] == second["created_at"] == clock.now()
    one, two = parse(first["message"]), parse(second["message"])
    assert (
        two["Message-ID"]
        == second["message_id"]
        == (f"<alert-{alert['id']}.1.default.monitord@school.example>")
    )
    assert two["In-Reply-To"] == two["References"] == one["Message-ID"]
    assert two["Subject"] == f"Re: [monitord #{alert['id']}] HIGH pornography - A.P."
    body = two.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "UPDATE 1: this alert now holds 3 events" in text
    assert "www[.]pornhub[.]com" in text
    # Once an hour again while it keeps growing; a quiet alert sends nothing.
    clock.advance(timedelta(minutes=59))
    school.lookup("alice.p", "pornhub.com", clock.now() - timedelta(minutes=1))
    assert len(school.outbox()) == 2
    clock.advance(timedelta(minutes=2))
    school.lookup("alice.p", "pornhub.com", clock.now() - timedelta(minutes=1))
    third = school.outbox()[2]
    assert third["thread"] == first["message_id"]
    assert third["message_id"] == f"<alert-{alert['id']}.2.default.monitord@school.example>"
    assert parse(third["message"])["References"] == one["Message-ID"]
    updates = school.audit("alert.update")
    assert [json.loads(u["detail"])["count"] for u in updates] == [2, 3, 4, 5]


def test_no_update_while_the_first_mail_still_waits(school: School, clock: FixedClock) -> None:
    """A medium alert's mail has not gone yet (out of hours, it waits for the morning):
    growing adds no second mail until it has."""
    school.lookup("alice.p", "bet365.com", clock.now() - timedelta(minutes=1))
    clock.advance(timedelta(hours=2))
    school.lookup("alice.p", "bet365.com", clock.now() - timedelta(minutes=61))
    [alert] = school.alerts()
    assert alert["count"] == 2
    assert len(school.outbox()) == 1
    school.mark_sent()
    school.lookup("alice.p", "bet365.com", clock.now() - timedelta(minutes=60))
    first, second = school.outbox()
    assert second["thread"] == first["message_id"]
    assert second["due_at"] == MONDAY_MORNING


def policy_config(config: Config, old: str, new: str) -> Config:
    """The same site with one line of its policy.toml changed."""
    assert config.policy_file is not None
    body = config.policy_file.read_text(encoding="utf-8")
    assert old in body
    config.policy_file.write_text(body.replace(old, new), encoding="utf-8")
    assert config.path is not None
    return load_config(config.path)


def test_raised_alert_is_mailed_again_at_once(
    config: Config, clock: FixedClock, tmp_path: Path
) -> None:
    """A school whose policy makes staff gambling high in breaks: a medium alert from a
    lesson that goes on into break is raised to high, and mailed again at once."""
    cfg = policy_config(
        config,
        'gambling = { pupil = "medium", staff = "medium" }',
        'gambling = { pupil = "medium", staff = "medium", staff_free_time = "high" }',
    )
    clock.advance(timedelta(hours=-5, minutes=-20))  # Friday 10:40 in London
    with build_school(cfg, clock, tmp_path) as school:
        school.lookup("bob.s", "bet365.com", clock.now() - timedelta(minutes=20))
        [first] = school.outbox()
        assert first["due_at"] == datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
        assert first["severity"] == "medium"
        school.lookup("bob.s", "bet365.com", clock.now() - timedelta(minutes=5))  # break
        [alert] = school.alerts()
        assert (alert["severity"], alert["count"]) == ("high", 2)
        first, raised = school.outbox()
        assert (raised["severity"], raised["due_at"]) == ("high", clock.now())
        assert raised["thread"] == first["message_id"]
        msg = parse(raised["message"])
        assert msg["Subject"] == f"Re: [monitord #{alert['id']}] HIGH gambling - B.S."
        body = msg.get_body(("plain",))
        assert body is not None
        assert "Raised from MEDIUM to HIGH." in body.get_content()
        [upd] = school.audit("alert.update")
        assert json.loads(upd["detail"])["raised_from"] == "medium"


def test_critical_alert_holds_back_lower_mail_about_the_same_person(
    school: School, clock: FixedClock, tmp_path: Path
) -> None:
    add_child_abuse_list(school, clock, tmp_path)
    school.lookups(
        ("alice.p", "pornhub.com", at(clock, 50)),
        ("alice.p", "csam-test.invalid", at(clock, 51)),
        ("ben.p", "pornhub.com", at(clock, 52)),
    )
    alerts = {(a["person"], a["category"]): a for a in school.alerts()}
    assert set(alerts) == {
        ("alice.p", "child_abuse"),
        ("alice.p", "pornography"),
        ("ben.p", "pornography"),
    }
    mailed = {r["alert_id"] for r in school.outbox()}
    assert mailed == {alerts["alice.p", "child_abuse"]["id"], alerts["ben.p", "pornography"]["id"]}
    [held] = school.audit("alert.held")
    assert held["subject"] == f"alert:{alerts['alice.p', 'pornography']['id']}"
    detail = json.loads(held["detail"])
    assert detail["by"] == f"alert:{alerts['alice.p', 'child_abuse']['id']}"
    # Growing while held records the hold once, not once a batch.
    school.lookup("alice.p", "pornhub.com", at(clock, 54))
    school.lookup("alice.p", "www.pornhub.com", at(clock, 54))
    assert len(school.audit("alert.held")) == 1
    # Within the window a new lower alert is held too; after it, mail flows again.
    school.lookup("alice.p", "bet365.com", at(clock, 55))
    assert len(school.outbox()) == 2
    assert len(school.audit("alert.held")) == 2
    clock.advance(timedelta(hours=5))
    school.lookup("alice.p", "bet365.com", at(clock, 0))
    assert len(school.outbox()) == 3


def test_a_backfill_records_old_alerts_without_mailing_them(
    school: School, clock: FixedClock, tmp_path: Path
) -> None:
    """``ingest --backfill``: alerts about events older than backfill_quiet_after (2 days)
    are recorded and held, with the reason in the audit trail; recent ones and critical ones
    are mailed as ever."""
    add_child_abuse_list(school, clock, tmp_path)
    school.app = open_app(school.cfg, clock, backfill=True)
    now = clock.now()
    school.lookups(
        ("10.0.0.31", "pornhub.com", now - timedelta(days=3)),
        ("10.0.0.32", "csam-test.invalid", now - timedelta(days=5)),
        ("10.0.0.33", "pornhub.com", now - timedelta(days=1)),
    )
    alerts = {a["ip"]: a for a in school.alerts()}
    assert {ip: a["severity"] for ip, a in alerts.items()} == {
        "10.0.0.31": "high",
        "10.0.0.32": "critical",
        "10.0.0.33": "high",
    }
    mailed = {r["alert_id"] for r in school.outbox()}
    assert mailed == {alerts["10.0.0.32"]["id"], alerts["10.0.0.33"]["id"]}
    [held] = school.audit("alert.held")
    assert held["subject"] == f"alert:{alerts['10.0.0.31']['id']}"
    detail = json.loads(held["detail"])
    assert detail["by"] == "backfill"
    assert (
        "older than alerts.backfill_quiet_after (48 h); recorded, not mailed" in (detail["reason"])
    )
    # Growing in the same backfill mails nothing either.
    school.lookup("10.0.0.31", "www.pornhub.com", now - timedelta(days=3) + timedelta(minutes=5))
    assert len(school.outbox()) == 2
    # The daemon (no backfill) mails an old event's alert as before.
    school.reopen()
    school.lookup("10.0.0.34", "pornhub.com", now - timedelta(days=3))
    assert len(school.outbox()) == 3


def test_an_alert_is_never_mailed_to_the_person_it_is_about(
    config: Config, clock: FixedClock, tmp_path: Path
) -> None:
    """A small school where the headteacher is also the DSL: her own alerts go to the
    chair only, and a member of staff on the DSL list never gets their own."""
    assert config.path is not None
    text = config.path.read_text(encoding="utf-8")
    old = 'dsl = ["dsl@school.example"]'
    assert old in text
    config.path.write_text(
        text.replace(old, 'dsl = ["dsl@school.example", "helen@school.example"]'),
        encoding="utf-8",
    )
    cfg = load_config(config.path)
    with build_school(cfg, clock, tmp_path) as school:
        add_child_abuse_list(school, clock, tmp_path)
        school.lookup("helen.h", "csam-test.invalid")
        school.lookup("alice.p", "pornhub.com")
        [helen] = school.alerts(person="helen.h")
        assert json.loads(helen["recipients"]) == ["chair@school.example", "dsl@school.example"]
        [row] = school.outbox(alert_id=helen["id"])
        assert b"helen@school.example" not in row["message"]
        assert b"head@school.example" not in row["message"]
        [alice] = school.alerts(person="alice.p")
        assert json.loads(alice["recipients"]) == ["dsl@school.example", "helen@school.example"]


def test_mail_shows_the_events_just_before_and_after(school: School, clock: FixedClock) -> None:
    school.lookups(
        ("alice.p", "www.bbc.co.uk", at(clock, 10)),
        ("alice.p", "free-bets.example", at(clock, 11)),
        ("ben.p", "www.roblox.com", at(clock, 12)),
        ("alice.p", "www.pornhub.com", at(clock, 13)),
        ("alice.p", "classroom.google.com", at(clock, 14)),
    )
    [row] = school.outbox()
    body = parse(row["message"]).get_body(("plain",))
    assert body is not None
    text = body.get_content()
    section = text.split("Just before and after, from the same person or device:\n", 1)[1]
    lines = [line for line in section.split("\n\n", 1)[0].splitlines() if line.strip()]
    assert [line.split()[-1] for line in lines[:2]] == [
        "www[.]bbc[.]co[.]uk",
        "free-bets[.]example",
    ]
    assert lines[2].lstrip().startswith(">>")
    assert "www[.]pornhub[.]com" in lines[2]
    assert "classroom[.]google[.]com" in lines[3]
    assert "roblox" not in section
    html = parse(row["message"]).get_body(("html",))
    assert html is not None
    assert "classroom[.]google[.]com" in html.get_content()


def test_alert_record_names_the_list_versions_and_explanation(
    school: School, clock: FixedClock, tmp_path: Path
) -> None:
    add_child_abuse_list(school, clock, tmp_path)
    school.lookup("alice.p", "csam-test.invalid")
    school.lookup("ben.p", "pornhub.com")
    created = {
        json.loads(a["detail"])["category"]: json.loads(a["detail"])
        for a in school.audit("alert.create")
    }
    abuse = created["child_abuse"]
    digest = hashlib.sha256(b"csam-test.invalid\n").hexdigest()
    assert abuse["lists"] == {"test/child_abuse": digest}
    assert abuse["matches"][0]["entry"] == "csam-test.invalid"
    assert "assigned to alice.p" in abuse["attribution"]
    porn = created["pornography"]
    [(name, sha)] = porn["lists"].items()
    assert name.startswith("starter/")
    assert len(sha) == 64


# --- silences ---------------------------------------------------------------------------------


def test_silence_holds_mail_until_it_expires_but_never_for_critical(
    school: School, clock: FixedClock, tmp_path: Path
) -> None:
    from monitord.casework.silences import add_silence, expire_silence

    add_child_abuse_list(school, clock, tmp_path)
    engine = school.app.engine
    by_person = add_silence(
        engine,
        person="alice.p",
        device=None,
        category="pornography",
        duration=timedelta(hours=2),
        reason="filter test by the technician",
        actor="it.tech",
        now=clock.now(),
    )
    by_device = add_silence(
        engine,
        person=None,
        device="LAP-BEN",
        category=None,
        duration=timedelta(minutes=30),
        reason="laptop being reimaged",
        actor="it.tech",
        now=clock.now(),
    )
    school.lookups(
        ("alice.p", "pornhub.com", at(clock, 50)),
        ("alice.p", "bet365.com", at(clock, 51)),  # another category: not silenced
        ("ben.p", "bet365.com", at(clock, 52)),
        ("ben.p", "csam-test.invalid", at(clock, 53)),  # critical: never silenced
    )
    alerts = {(a["person"], a["category"]): a["id"] for a in school.alerts()}
    assert len(alerts) == 4  # every alert is made and listed
    mailed = {r["alert_id"] for r in school.outbox()}
    assert mailed == {alerts["alice.p", "gambling"], alerts["ben.p", "child_abuse"]}
    held = {h["subject"]: json.loads(h["detail"])["by"] for h in school.audit("alert.held")}
    assert held[f"alert:{alerts['alice.p', 'pornography']}"] == f"silence:{by_person.id}"
    # ben.p's gambling is held by the silence or by his critical alert: held either way.
    assert f"alert:{alerts['ben.p', 'gambling']}" in held
    assert [a["subject"] for a in school.audit("silence.add")] == [
        f"silence:{by_person.id}",
        f"silence:{by_device.id}",
    ]

    expire_silence(engine, by_person.id, "dsl", clock.now())
    [ended] = school.audit("silence.expire")
    assert ended["actor"] == "dsl"
    clock.advance(timedelta(hours=1, minutes=1))  # past the re-alert interval
    school.lookup("alice.p", "pornhub.com", at(clock, 0))
    # The silenced alert grows and, with no mail ever sent for it, now gets its first.
    [first] = school.outbox(alert_id=alerts["alice.p", "pornography"])
    msg = parse(first["message"])
    assert msg["In-Reply-To"] is None
    assert msg["Message-ID"] == (
        f"<alert-{alerts['alice.p', 'pornography']}.default.monitord@school.example>"
    )
    body = msg.get_body(("plain",))
    assert body is not None
    assert "this alert now holds 2 events" in body.get_content()


def test_opening_an_alert_reads_no_whole_table_of_alerts(
    school: School, clock: FixedClock, store_kind: str
) -> None:
    """Opening an alert looks for a critical alert about the same person through the index
    on group_key, not by reading every alert the store keeps (once, each alert opened did,
    so that opening alerts grew slower with every alert ever opened)."""
    if store_kind != "sqlite":
        pytest.skip("the query plan checked is SQLite's")
    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if "FROM alerts" in sql and not many:
            statements.append((sql, params))

    listen(school.app.engine, "before_cursor_execute", keep)
    try:
        school.lookup("alice.p", "pornhub.com")
    finally:
        remove(school.app.engine, "before_cursor_execute", keep)
    assert len(school.alerts()) == 1
    inhibit = [(q, p) for q, p in statements if "LIKE" in q and "severity" in q]
    assert inhibit, statements
    with school.app.engine.connect() as conn:
        for sql, params in inhibit:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            details = [str(step[-1]) for step in plan]
            assert not any(d.startswith("SCAN alerts") for d in details), details
            assert any("ix_alerts_group" in d for d in details), details
