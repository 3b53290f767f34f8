"""Queueing: the digest arrives at a real SMTP server (aiosmtpd) with its charts inline,
goes once per edition, and a scheduled run missed while the server was down is sent once
at the next start."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from alerting.delivery import EmailNotifier, deliver_due
from alerting.reports.digest.model import AlreadySent, DigestError
from alerting.reports.digest.queue import queue_digest
from alerting.schedule import (
    DIGEST_JOB,
    JOB_TABLE,
    RETENTION_JOB,
    Scheduler,
    send_due_digest,
)
from monitord.classify.policy import Policy, load_policy
from monitord.core.clock import FixedClock
from monitord.service.initdir import init_dir
from monitord.settings.config import Config, load_config
from monitord.store.database import open_store, table_of
from monitord.store.tables import DigestRow, OutboxRow
from tests.alerting.reports.digest.site import (
    GROUP,
    TZ,
    WEEK,
    parse,
    site_config,
)
from tests.alerting.test_delivery import Sink


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
        deadline = time.monotonic() + 120
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
