"""The daemon's clock-driven jobs (the weekly digest, the daily retention run), kept in the
store.

APScheduler 3 runs them on the daemon's event loop from a persistent job store: a
``SQLAlchemyJobStore`` on the store's own database, in its own table (``scheduler_jobs``,
created by APScheduler, outside the schema migrations). The store keeps each job's next run
time, so a run that fell while the server was down is still due at the next start: with no
misfire grace limit it runs then, and with ``coalesce`` several missed runs run once.

That alone would not make "never twice" hold across a lost job table or a digest sent by hand
first, so the digest job also asks the ``digests`` table, written in the same transaction as
the mail it queues (:func:`alerting.reports.digest.queue_digest`).

A job in a persistent store is pickled by reference, so its function is a module-level name
and its only argument the site id; what it works with (engine, config, clock, the delivery's
wake-up) is registered here when the scheduler starts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from alerting.listmail import change_mailer
from alerting.reports.digest.model import AlreadySent, DigestError
from alerting.reports.digest.queue import queue_digest
from alerting.reports.digest.week import Week
from monitord.classify.lists import STARTER_LISTS, ListError
from monitord.classify.listupdate import run_update
from monitord.classify.policy import Policy
from monitord.core.clock import Clock
from monitord.settings.config import Config
from monitord.store.retention import run_retention

JOB_TABLE = "scheduler_jobs"
DIGEST_JOB = "weekly-digest"
DIGEST_FUNC = "alerting.schedule:weekly_digest"
RETENTION_JOB = "daily-retention"
RETENTION_FUNC = "alerting.schedule:daily_retention"
LIST_UPDATE_JOB = "daily-list-update"
LIST_UPDATE_FUNC = "alerting.schedule:daily_list_update"
ACTOR = "scheduler"
log = logging.getLogger("monitord.schedule")


@dataclass(frozen=True, slots=True)
class _Context:
    engine: Engine
    cfg: Config
    policy: Policy
    clock: Clock
    wake: Callable[[], None] | None
    # Set when the daemon stops: a retention run ends after the transaction in hand.
    stopping: threading.Event = field(default_factory=threading.Event)


_CONTEXTS: dict[str, _Context] = {}


def digest_trigger(cfg: Config) -> CronTrigger:
    """``[digest] day`` at ``[digest] time`` (Monday 07:00 by default), in the school's zone."""
    d = cfg.settings.digest
    hour, minute = (int(x) for x in d.time.split(":"))
    return CronTrigger(day_of_week=d.day, hour=hour, minute=minute, timezone=cfg.tz)


def send_due_digest(ctx: _Context, now: datetime) -> int | None:
    """Queue the digest of the last completed week unless it went before; the outbox id."""
    week = Week.last_completed(now, ctx.cfg.tz)
    try:
        queued = queue_digest(ctx.engine, ctx.cfg, ctx.policy, week, now, ACTOR)
    except AlreadySent as exc:
        log.info("digest: %s", exc)
        return None
    log.info(
        "digest for %s queued for %d recipient(s) (outbox message %d)",
        week.label,
        len(queued.recipients),
        queued.outbox_id,
    )
    return queued.outbox_id


async def weekly_digest(site_id: str) -> None:
    """The scheduled job: make and queue the week's digest, then wake the delivery."""
    ctx = _CONTEXTS.get(site_id)
    if ctx is None:
        log.warning("digest: no scheduler context for site %s; not sent", site_id)
        return
    try:
        queued = await asyncio.to_thread(send_due_digest, ctx, ctx.clock.now())
    except DigestError as exc:
        log.warning("digest not sent: %s", exc)
        return
    if queued is not None and ctx.wake is not None:
        ctx.wake()


def retention_trigger(cfg: Config) -> CronTrigger:
    """Every day at ``[retention] time`` (02:30 by default), in the school's zone."""
    hour, minute = (int(x) for x in cfg.settings.retention.time.split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=cfg.tz)


async def daily_retention(site_id: str) -> None:
    """The scheduled job: remove what has been kept long enough, in small transactions on a
    worker thread (the event loop, and ingest, carry on); the run audits itself."""
    ctx = _CONTEXTS.get(site_id)
    if ctx is None:
        log.warning("retention: no scheduler context for site %s; not run", site_id)
        return
    try:
        result = await asyncio.to_thread(
            run_retention,
            ctx.engine,
            ctx.cfg,
            ctx.clock.now(),
            ACTOR,
            stop=ctx.stopping.is_set,
        )
    except SQLAlchemyError as exc:
        log.warning("retention run failed (tried again tomorrow): %s", exc)
        return
    removed = ", ".join(f"{n} {kind}" for kind, n in result.removed.items() if n) or "nothing"
    log.info(
        "retention: removed %s in %d transaction(s), longest %.0f ms%s",
        removed,
        result.transactions,
        result.longest_transaction * 1000,
        " (stopped early: the rest goes next time)" if result.stopped else "",
    )


def list_update_trigger(cfg: Config) -> CronTrigger:
    """Every day at ``[list_updates] time`` (03:30 by default), in the school's zone."""
    hour, minute = (int(x) for x in cfg.settings.list_updates.time.split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=cfg.tz)


async def daily_list_update(site_id: str) -> None:
    """The scheduled job: ``lists update`` on a worker thread. The daemon's list watcher
    swaps the new lists in; the change-control mail is queued and the delivery woken."""

    ctx = _CONTEXTS.get(site_id)
    if ctx is None:
        log.warning("lists update: no scheduler context for site %s; not run", site_id)
        return
    try:
        result = await asyncio.to_thread(
            run_update,
            ctx.engine,
            ctx.cfg,
            ACTOR,
            ctx.clock.now(),
            mail=change_mailer(ctx.cfg),
            starter_dir=STARTER_LISTS,
        )
    except (ListError, SQLAlchemyError) as exc:
        log.warning("lists update failed (tried again tomorrow): %s", exc)
        return
    for s in result.sources:
        if s.ok:
            log.info("lists update: %s: %s", s.name, s.message)
        else:
            log.warning("lists update: %s refused: %s", s.name, s.message)
    if result.change is not None and ctx.wake is not None:
        ctx.wake()


class Scheduler:
    """APScheduler on the running event loop, with its jobs in the store."""

    def __init__(
        self,
        engine: Engine,
        cfg: Config,
        policy: Policy,
        clock: Clock,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.site = cfg.settings.school.site_id
        self.context = _Context(engine, cfg, policy, clock, wake)
        self.aps = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=cfg.tz,
        )

    def start(self) -> None:
        """Load the stored jobs, put the digest job right, then run whatever is due."""
        _CONTEXTS[self.site] = self.context
        self.aps.start(paused=True)
        settings = self.cfg.settings
        self._job(DIGEST_JOB, DIGEST_FUNC, "weekly digest", settings.digest.enabled)
        self._job(RETENTION_JOB, RETENTION_FUNC, "daily retention", settings.retention.enabled)
        updates = settings.list_updates
        self._job(
            LIST_UPDATE_JOB,
            LIST_UPDATE_FUNC,
            "daily list update",
            updates.enabled and bool(updates.sources),
        )
        self.aps.resume()

    def _job(self, job_id: str, func: str, name: str, enabled: bool) -> None:
        job: Any = self.aps.get_job(job_id)
        if not enabled:
            if job is not None:
                self.aps.remove_job(job_id)
            return
        triggers = {
            DIGEST_JOB: digest_trigger,
            RETENTION_JOB: retention_trigger,
            LIST_UPDATE_JOB: list_update_trigger,
        }
        trigger = triggers[job_id](self.cfg)
        if job is None:
            self.aps.add_job(func, trigger, id=job_id, name=name, args=[self.site])
            return
        if str(job.trigger) == str(trigger) and tuple(job.args) == (self.site,):
            return  # as stored: a run missed while the server was down stays due
        now = datetime.now(self.cfg.tz)
        if job.next_run_time is not None and job.next_run_time <= now:
            # A missed run is still due: keep it, and follow the new time after it.
            self.aps.modify_job(job_id, trigger=trigger, args=[self.site])
        else:
            self.aps.modify_job(job_id, args=[self.site])
            self.aps.reschedule_job(job_id, trigger=trigger)

    def next_run(self, job_id: str) -> datetime | None:
        job: Any = self.aps.get_job(job_id)
        return None if job is None else job.next_run_time

    def next_digest(self) -> datetime | None:
        return self.next_run(DIGEST_JOB)

    def next_retention(self) -> datetime | None:
        return self.next_run(RETENTION_JOB)

    def next_list_update(self) -> datetime | None:
        return self.next_run(LIST_UPDATE_JOB)

    def shutdown(self) -> None:
        self.context.stopping.set()
        if self.aps.running:
            self.aps.shutdown(wait=False)
        if _CONTEXTS.get(self.site) is self.context:
            del _CONTEXTS[self.site]


class _Stopped:
    def shutdown(self) -> None:
        pass


def start_scheduler(
    engine: Engine,
    cfg: Config,
    policy: Policy,
    clock: Clock,
    wake: Callable[[], None] | None = None,
) -> Scheduler | _Stopped:
    """The daemon's scheduler, started; a failure to start is logged and monitoring goes on
    without it."""
    try:
        scheduler = Scheduler(engine, cfg, policy, clock, wake)
        scheduler.start()
    except Exception:
        log.exception("the scheduler did not start: no weekly digest until the next start")
        return _Stopped()
    when = scheduler.next_digest()
    if when is not None:
        log.info("next weekly digest: %s", when.astimezone(cfg.tz).strftime("%a %d %b %H:%M"))
    return scheduler
