"""Which agent reports are taken: the rules on their own, then a real spool folder read
through the guard into a real store (reports refused become rejected lines with the
reason; those taken are stored with the agent that made them)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from collectors.agentguard import SpoolGuard, device_refusal, time_refusal
from monitord.core.clock import FixedClock
from monitord.core.model import Event, EventKind
from monitord.identity.agents import Enrolment, add_agent, enrolments, revoke_agent
from monitord.service.app import App
from monitord.store.database import table_of
from monitord.store.tables import EventRow, RejectedRow
from tests.collectors.test_spool import drop, report, run_until_idle, spool
from tests.monitord.identity.test_agents import enrol

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
BOUND = Enrolment("y6-lt-07", "y6-lt-07", "Y6-LT-07.school.local", "aa:00:00:00:00:07", True)


def ev(hostname: str | None = "Y6-LT-07", mac: str | None = None) -> Event:
    return Event(EventKind.LOGON, NOW, hostname=hostname, client_mac=mac, user="x")


def test_a_bound_agent_reports_for_its_own_device_only() -> None:
    assert device_refusal(ev(), BOUND) is None
    assert device_refusal(ev("y6-lt-07.school.local", "aa:00:00:00:00:07"), BOUND) is None
    assert "hostname 'HEAD-LT'" in str(device_refusal(ev("HEAD-LT"), BOUND))
    assert "mac aa:00:00:00:00:99" in str(device_refusal(ev(mac="aa:00:00:00:00:99"), BOUND))
    unbound = Enrolment("old", None)
    assert "enrol it again" in str(device_refusal(ev(), unbound))
    gone = Enrolment("y6-lt-07", "y6-lt-07")
    assert "not in the devices file" in str(device_refusal(ev(), gone))
    revoked = Enrolment("y6-lt-07", "y6-lt-07", "Y6-LT-07", None, True, True)
    assert "revoked" in str(device_refusal(ev(), revoked))
    no_mac = Enrolment("y6-lt-07", "y6-lt-07", "Y6-LT-07", None, True)
    assert "none in the devices file" in str(device_refusal(ev(mac="aa:00:00:00:00:07"), no_mac))


def test_the_time_window() -> None:
    week = timedelta(days=7)
    assert time_refusal(NOW - week, NOW, week) is None
    assert time_refusal(NOW + timedelta(minutes=5), NOW, week) is None
    assert "max_backfill (7 days)" in str(
        time_refusal(NOW - week - timedelta(seconds=1), NOW, week)
    )
    ahead = time_refusal(NOW + timedelta(minutes=5, seconds=1), NOW, week)
    assert "ahead of the server's clock" in str(ahead)


def line(n: int, **fields: object) -> str:
    data = json.loads(report(n))
    data.update(fields)
    return json.dumps(data)


def guard(app: App, clock: FixedClock, enrolled_only: bool = False) -> SpoolGuard:
    return SpoolGuard(lambda: enrolments(app.engine), clock.now, timedelta(days=7), enrolled_only)


def stored(app: App) -> tuple[list[tuple[str | None, str | None]], list[str]]:
    with app.engine.connect() as conn:
        events = [
            (r.agent, r.hostname)
            for r in conn.execute(select(table_of(EventRow)).order_by(table_of(EventRow).c.offset))
        ]
        reasons = [
            r.reason
            for r in conn.execute(
                select(table_of(RejectedRow)).order_by(table_of(RejectedRow).c.offset)
            )
        ]
    return events, reasons


@pytest.mark.stores
async def test_the_spool_takes_reports_only_as_the_enrolments_allow(
    tmp_path: Path, app: App, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    enrol(app, tmp_path)  # y6-lt-07 on its device
    add_agent(app.engine, "head-agent", "it", clock.now(), "head-lt")
    add_agent(app.engine, "pc1", "it", clock.now(), "pc1")
    revoke_agent(app.engine, "pc1", "it", clock.now())
    lines = [
        line(1),  # its own device: taken
        line(2, hostname="HEAD-LT", mac=None),  # the head's laptop, by an enrolled agent
        line(3, agent_id="rogue", hostname="head-lt", mac=None),  # by an unknown one
        line(4, agent_id="lab-3", hostname="LAB-3", mac="aa:00:00:00:00:33"),  # no agent's
        line(5, agent_id="pc1", hostname="PC1", mac=None),  # revoked
        line(6, ts="2026-11-01T10:00:00Z"),  # too old
        line(7, agent_id="rogue", hostname="LAB-4", mac="aa:00:00:00:00:99"),  # head's MAC
    ]
    drop(tmp_path / "spool", "a.jsonl", lines)
    caplog.set_level(logging.WARNING, logger="monitord.identity.agents")
    await run_until_idle(spool(tmp_path, app, clock), app, parser=guard(app, clock))
    events, reasons = stored(app)
    assert events == [("y6-lt-07", "Y6-LT-07"), ("lab-3", "LAB-3")]
    assert len(reasons) == 5
    assert "hostname 'HEAD-LT' is not agent 'y6-lt-07''s device" in reasons[0]
    assert "device 'head-lt' has its own agent 'head-agent'" in reasons[1]
    assert "agent 'pc1' was revoked" in reasons[2]
    assert "older than [agents] max_backfill" in reasons[3]
    assert "device 'head-lt' has its own agent 'head-agent'" in reasons[4]
    assert all(r.startswith("agent report refused: ") for r in reasons)
    assert "spool: report refused" in caplog.text


@pytest.mark.stores
async def test_the_spool_can_take_enrolled_agents_only(
    tmp_path: Path, app: App, clock: FixedClock
) -> None:
    enrol(app, tmp_path)
    drop(tmp_path / "spool", "a.jsonl", [line(1), line(2, agent_id="lab-3", hostname="LAB-3")])
    await run_until_idle(
        spool(tmp_path, app, clock), app, parser=guard(app, clock, enrolled_only=True)
    )
    events, reasons = stored(app)
    assert events == [("y6-lt-07", "Y6-LT-07")]
    assert reasons == [
        "agent report refused: agent 'lab-3' is not enrolled ([agents] spool_enrolled_only)"
    ]
