"""The daily jobs beside the digest's: retention, kept in the store, at ``[retention] time``
in school time, caught up once after a start that missed it, and audited like a run by hand;
the list update, run on its schedule, its change mailed."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import trustme
from sqlalchemy import Engine, text

from alerting.schedule import LIST_UPDATE_JOB, RETENTION_JOB, Scheduler
from monitord.core.clock import FixedClock
from monitord.service.app import open_app
from monitord.settings.config import load_config
from tests.monitord.classify.test_listupdate import ca, publish, served, site  # noqa: F401
from tests.monitord.store.test_retention import _school

TZ = ZoneInfo("Europe/London")


def _runs(engine: Engine) -> list[tuple[str, dict[str, object]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, detail FROM audit WHERE action = 'retention.run' ORDER BY id")
        ).all()
    return [(str(r.actor), json.loads(r.detail)) for r in rows]


async def test_a_retention_run_missed_while_down_runs_once_at_the_next_start(
    tmp_path: Path, store_url: str
) -> None:
    cfg, clock, app = _school(tmp_path, store_url)
    first = Scheduler(app.engine, cfg, app.policy, clock)
    first.start()
    when = first.next_retention()
    assert when is not None
    assert when.astimezone(TZ).strftime("%H:%M") == "02:30"
    assert timedelta(0) < when - datetime.now(TZ) <= timedelta(days=1)
    assert first.next_digest() is not None  # the digest's job is there too
    first.shutdown()
    await asyncio.sleep(0.05)
    assert _runs(app.engine) == []

    # Down over three nights' runs: the next start runs it once.
    down = Scheduler(app.engine, cfg, app.policy, clock)
    down.aps.start(paused=True)
    down.aps.modify_job(RETENTION_JOB, next_run_time=datetime.now(TZ) - timedelta(days=3))
    down.shutdown()
    await asyncio.sleep(0.05)
    again = Scheduler(app.engine, cfg, app.policy, clock)
    again.start()
    for _ in range(200):
        if _runs(app.engine):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    after = again.next_retention()
    again.shutdown()
    await asyncio.sleep(0.05)
    [(actor, detail)] = _runs(app.engine)
    assert actor == "scheduler"
    removed = detail["removed"]
    assert isinstance(removed, dict)
    assert (removed["events"], removed["rejected"], removed["leases"]) == (3, 1, 1)
    assert after is not None
    assert after > datetime.now(TZ)


async def test_the_time_is_followed_and_a_disabled_job_removed(
    tmp_path: Path, store_url: str
) -> None:
    cfg, clock, app = _school(tmp_path, store_url)
    assert cfg.path is not None
    cfg.path.write_text(cfg.path.read_text() + '\n[retention]\ntime = "23:15"\n', encoding="utf-8")
    later = load_config(cfg.path)
    s = Scheduler(app.engine, later, app.policy, clock)
    s.start()
    when = s.next_retention()
    s.shutdown()
    await asyncio.sleep(0.05)
    assert when is not None
    assert when.astimezone(TZ).strftime("%H:%M") == "23:15"
    cfg.path.write_text(
        cfg.path.read_text().replace('time = "23:15"', "enabled = false"), encoding="utf-8"
    )
    off = Scheduler(app.engine, load_config(cfg.path), app.policy, clock)
    off.start()
    assert off.next_retention() is None
    assert off.next_digest() is not None
    off.shutdown()
    assert off.context.stopping.is_set()  # a run in hand ends after its transaction
    await asyncio.sleep(0.05)


async def test_the_daily_list_update_runs_and_queues_its_mail(
    tmp_path: Path,
    served: tuple[Path, str],  # noqa: F811 (the HTTPS server of test_listupdate)
    ca: trustme.CA,  # noqa: F811
) -> None:
    www, base = served
    config = site(tmp_path, base, ca, 25)
    publish(www, {"gambling": {"domains": ["bet.example", "casino.example"]}})
    (www / "mine.txt.gz").write_bytes(gzip.compress(b"poker.example\n"))
    cfg = load_config(config)
    app = open_app(cfg, FixedClock(datetime(2026, 11, 20, 16, tzinfo=ZoneInfo("UTC"))))
    woken = asyncio.Event()
    s = Scheduler(app.engine, cfg, app.policy, app.clock, woken.set)
    s.start()
    at = s.next_list_update()
    s.aps.modify_job(LIST_UPDATE_JOB, next_run_time=datetime.now(TZ) - timedelta(hours=1))
    await asyncio.wait_for(woken.wait(), 60)
    s.shutdown()
    await asyncio.sleep(0.05)
    assert at is not None
    assert at.astimezone(TZ).strftime("%H:%M") == "03:30"
    with app.engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM list_versions WHERE active")).scalars().all()
        subject = conn.execute(text("SELECT subject FROM outbox")).scalar_one()
    assert sorted(names) == ["mine", "ut1/gambling"]
    assert subject == "[monitord] Filtering change: 2 lists updated by scheduler"
