"""``monitord run``: follow every configured source, judge and store what they record, and
deliver alert mail, until SIGTERM; the batch in hand is committed before exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from alerting.delivery import EmailNotifier, deliver_due
from alerting.schedule import Scheduler, start_scheduler
from collectors.agent_http import AgentEndpoint, IngestSettings, endpoint_limits, tls_context
from collectors.agentguard import SpoolGuard
from collectors.capture import CaptureError, Sniffer
from collectors.files import read_header, records_before
from collectors.follow import FileCollector
from collectors.listener import FILE_ID as LISTENER_FILE_ID
from collectors.listener import SyslogListener
from collectors.parsers.base import (
    Batch,
    Collector,
    ParseContext,
    Parser,
    Session,
    StatefulParser,
)
from collectors.parsers.syslog import parser_for_source
from collectors.spool import SpoolCollector
from monitord.casework.trail import Anchoring, anchor_file
from monitord.classify.lists import STARTER_LISTS, lists_in_use
from monitord.classify.policy import load_policy
from monitord.core.clock import Clock, SystemClock
from monitord.core.memory import limit_arenas, release_free_memory
from monitord.core.model import Origin
from monitord.identity.agents import enrolments, warn_unbound
from monitord.service.app import App, load_judges, open_app
from monitord.service.formats import source_parsers
from monitord.service.health import PARSER as HEALTH_PARSER
from monitord.service.health import Silence, find_silences, gap_record, watched_files
from monitord.service.notify import SystemdNotifier
from monitord.service.supervise import Supervisor, health_path, one_line, write_health
from monitord.settings.config import Config, ConfigError, Source, load_config
from monitord.settings.listen import parse_allow, parse_listen
from monitord.store.database import check_writable

log = logging.getLogger("monitord")
DELIVERY_INTERVAL = 30.0
# How much of a file before the position it resumes at a stateful parser session is shown
# again after a restart: a reply follows its query by far less.
RESUME_CONTEXT = 1 << 20
# How often the daemon writes its health file and, when healthy, tells systemd it is alive.
HEARTBEAT = 5.0
# At most how often the writer gives the allocator's free pages back (monitord.core.memory).
TRIM_EVERY = 1.0


@dataclass(frozen=True, slots=True)
class _Work:
    fmt: str
    parser: Parser
    batch: Batch


class Daemon:
    def __init__(self, app: App, clock: Clock) -> None:
        self.app = app
        self.clock = clock
        self._trimmed = 0.0
        cfg = app.cfg
        self.queue: asyncio.Queue[_Work | None] = asyncio.Queue(
            maxsize=max(1, cfg.settings.pipeline.queue_size // cfg.settings.pipeline.batch_size)
        )
        self.collectors: list[tuple[Collector, str, Parser]] = []
        for src, parser in zip(cfg.settings.sources, source_parsers(cfg), strict=True):
            collector: Collector
            if src.listen:
                collector = syslog_listener(cfg, src, app, clock)
                parser = parser_for_source(src.format, parser)
            elif src.interface:
                collector = Sniffer(src.name, src.interface, src.bpf, clock)
            else:
                collector = FileCollector(
                    src.name,
                    cfg.resolve(src.path),
                    app.engine,
                    clock,
                    batch_size=cfg.settings.pipeline.batch_size,
                    poll_interval=cfg.settings.pipeline.poll_interval.total_seconds(),
                )
            self.collectors.append((collector, src.format, parser))
        agents = cfg.settings.agents
        self.spool = cfg.resolve(agents.spool)
        self.spool.mkdir(parents=True, exist_ok=True)
        self.collectors.append(
            (
                SpoolCollector(
                    "agents",
                    self.spool,
                    cfg.resolve(agents.evidence),
                    app.engine,
                    clock,
                    batch_size=cfg.settings.pipeline.batch_size,
                    poll_interval=cfg.settings.pipeline.poll_interval.total_seconds(),
                    quota=agents.screenshot_quota,
                ),
                "agent",
                SpoolGuard(
                    partial(enrolments, app.engine),
                    clock.now,
                    agents.max_backfill,
                    agents.spool_enrolled_only,
                ),
            )
        )
        warn_unbound(app.engine)
        self.notifier = EmailNotifier(cfg)
        self._sessions: dict[str, tuple[str, Session]] = {}
        self.started = clock.now()
        self._last_round = False
        self.reloaded: Config | None = None
        self._mail_now = asyncio.Event()
        self._stopping = asyncio.Event()
        # The audit trail's anchors outside the store: every ANCHOR_EVERY records, and at stop.
        self.anchoring = Anchoring(app.engine, anchor_file(cfg))
        self.tasks = Supervisor(clock)
        self._retry: _Work | None = None  # the batch the writer failed on, tried again first
        self._followed: set[str] = set()

    async def reload(self) -> None:
        """SIGHUP: read the config again. A config that validates in full (with its policy)
        is swapped in: the batch in hand is committed and monitord starts again on it. One
        that does not is refused, each error logged, and the running config kept."""
        path = self.app.cfg.path
        if path is None:
            log.warning("reload: this monitord was not started from a config file")
            return
        try:
            cfg = await asyncio.to_thread(load_config, path)
            source_parsers(cfg)
            await asyncio.to_thread(load_policy, cfg.policy_file, cfg.tz)
        except ConfigError as exc:
            for line in exc.problems:
                log.error("reload refused: %s", line)
            log.error("reload refused: still running on the config loaded before")
            return
        log.info("reload: %s is valid; restarting on it", path)
        self.reloaded = cfg
        self.stop()

    def stop(self) -> None:
        if not self._stopping.is_set():
            log.info("stopping: finishing the batch in hand")
            self._stopping.set()
            for collector, _, _ in self.collectors:
                collector.stop()

    async def _follow(self, collector: Collector, fmt: str, parser: Parser) -> None:
        if collector.name in self._followed:
            # Started again after a failure: it resumes from the stored checkpoint, so the
            # batches it read before must be stored first (or they would be read twice).
            await self._drained()
        self._followed.add(collector.name)
        try:
            async for batch in collector.batches():
                await self.queue.put(_Work(fmt, parser, batch))
                self.tasks.ok(f"source {collector.name}")
        except CaptureError as exc:
            log.error("%s", exc)  # one line saying what to grant; the other sources go on

    async def _source(self, collector: Collector, fmt: str, parser: Parser) -> None:
        if isinstance(collector, SyslogListener):
            await self._listen(collector, fmt, parser)
        else:
            await self._follow(collector, fmt, parser)

    async def _listen(self, listener: SyslogListener, fmt: str, parser: Parser) -> None:
        """A listener; its supervisor starts it again after any failure (an address in use,
        an error of its own)."""
        async for batch in listener.batches():
            await self.queue.put(_Work(fmt, parser, batch))
            self.tasks.ok(f"source {listener.name}")

    async def _drained(self) -> None:
        """Wait until the writer has stored every batch queued (or the daemon stops)."""
        joined = asyncio.ensure_future(self.queue.join())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({joined, stopping}, return_when=asyncio.FIRST_COMPLETED)
        joined.cancel()
        stopping.cancel()

    def _give_back(self) -> None:
        """Memory the daemon holds and no longer needs: malloc's free pages, and the pages
        of the list index that lookups mapped (still in the page cache, so no slower)."""
        release_free_memory()
        self.app.processor.classifier.index.unmap_pages()

    def _session(self, work: _Work) -> Session:
        """The source's parser session; a new one for a new file. One resumed in the middle
        of its file (after a restart) is first shown the file's header lines, and a stateful
        one the lines before its position too (``RESUME_CONTEXT``), so that it knows the
        queries the first lines answer: alone, a Suricata DNS answer would count as a second
        lookup, and a Pi-hole block line would find no query to mark. What they give is
        discarded."""
        cp = work.batch.checkpoint
        known = self._sessions.get(cp.source)
        if known is not None and known[0] == cp.file_id:
            return known[1]
        session = work.parser.session()
        prefix = work.parser.header_prefix
        first = work.batch.records[0].origin if work.batch.records else None
        if first is not None and first.offset > 0 and cp.file_id != LISTENER_FILE_ID:
            path = Path(first.path or cp.path)
            ctx = ParseContext(self.app.cfg.tz, self.clock.now())
            for line in read_header(path, prefix, first.offset) if prefix else ():
                session.parse(line, ctx)
            if isinstance(work.parser, StatefulParser):
                self._replay(session, path, first)
        self._sessions[cp.source] = (cp.file_id, session)
        return session

    def _replay(self, session: Session, path: Path, first: Origin) -> None:
        """Show ``session`` the lines of its file before ``first``, as they were parsed."""
        try:
            for rec in records_before(path, first.source, first.offset, RESUME_CONTEXT):
                if rec.origin.file_id != first.file_id:
                    return  # another file is at that path now
                rec = self.app.processor.scopes.record(rec)  # the ids the pipeline gave them
                ctx = ParseContext(self.app.cfg.tz, rec.file_mtime or rec.read_at, rec.origin)
                with contextlib.suppress(Exception):  # as the pipeline, a bad line is passed
                    session.parse(rec.data.decode("utf-8", "replace"), ctx)
        except (OSError, EOFError) as exc:
            log.warning("%s: cannot read %s again before resuming: %s", first.source, path, exc)

    async def _write(self) -> None:
        while True:
            if self._retry is None:
                self._retry = await self.queue.get()
            work = self._retry
            if work is None:
                self.queue.task_done()
                return
            try:
                session = await asyncio.to_thread(self._session, work)
                result = await asyncio.to_thread(
                    self.app.processor.process,
                    work.fmt,
                    session,
                    work.batch.records,
                    work.batch.checkpoint,
                    snapshot=work.parser.snapshot,
                    counts=work.batch.counts,
                )
            except Exception:
                # Tried again with a new session, shown the lines before as after a restart.
                self._sessions.pop(work.batch.checkpoint.source, None)
                raise
            self._retry = None
            self.queue.task_done()
            if time.monotonic() - self._trimmed >= TRIM_EVERY:
                await asyncio.to_thread(self._give_back)
                self._trimmed = time.monotonic()
            self.tasks.ok("writer")
            if result.rejected:
                log.warning(
                    "%s: %d line(s) rejected (stored with their reasons)",
                    work.batch.checkpoint.source,
                    result.rejected,
                )
            if result.alerts_opened:
                log.info("%d alert(s) opened", result.alerts_opened)
            if result.alerts_opened or result.alerts_updated:
                # A grown alert may have queued an update mail (re-alert, raised severity).
                self._mail_now.set()

    async def check_health(self, now: datetime) -> int:
        """Raise a monitoring_gap for each source silent past its limit in school hours;
        return how many gaps were new."""
        if not self.app.policy.in_school_hours(now):
            return 0
        cfg = self.app.cfg
        opened = 0
        silences = find_silences(watched_files(cfg), now, self.started)
        for listener, fmt, _ in self.collectors:
            if isinstance(listener, SyslogListener):  # silent since its last message
                src = next(s for s in cfg.settings.sources if s.name == listener.name)
                since = listener.last_message or self.started
                if now - since > src.max_silence:
                    where = Path(str(listener.address).replace("://", " "))
                    silences.append(Silence(listener.name, fmt, where, since, src.max_silence))
        for silence in silences:
            record = gap_record(silence, now)
            result = await asyncio.to_thread(
                self.app.processor.process, "health", HEALTH_PARSER, [record]
            )
            if result.stored:
                log.warning("monitoring gap: %s", record.data.decode())
                opened += result.alerts_opened
        if opened:
            self._mail_now.set()
        return opened

    async def _health(self) -> None:
        interval = self.app.cfg.settings.pipeline.health_interval.total_seconds()
        while not self._stopping.is_set():
            await self.check_health(self.clock.now())
            self.tasks.ok("health check")
            try:
                await asyncio.to_thread(self.anchoring.check, self.clock.now())
            except Exception:
                log.exception("could not anchor the audit trail; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)

    async def _heartbeat(self, systemd: SystemdNotifier) -> None:
        """Every few seconds: the health file written, systemd's STATUS= kept to what the
        supervisor says and, while every task is healthy, the watchdog fed (at half its
        WatchdogSec at least); a daemon whose task keeps failing is left to systemd."""
        path = health_path(self.app.cfg)
        interval = min(HEARTBEAT, systemd.watchdog_interval or HEARTBEAT)
        status = ""
        broken = False
        while True:
            summary = self.tasks.summary()
            if summary != status:
                status = summary
                systemd.send(STATUS=summary)
            if not self.tasks.unhealthy():
                systemd.send(WATCHDOG="1")
            try:
                await asyncio.to_thread(write_health, path, self.tasks.report())
                broken = False
            except OSError as exc:
                if not broken:
                    log.warning("cannot write %s: %s", path, exc)
                broken = True
            await asyncio.sleep(interval)

    async def _serve_agents(self) -> None:
        """The agents' HTTPS ingest endpoint, when ``[agents] listen`` is set, until the
        daemon stops."""
        cfg = self.app.cfg
        agents = cfg.settings.agents
        if not agents.listen:
            return
        host, _, port = agents.listen.rpartition(":")
        settings = IngestSettings(
            self.spool,
            cfg.resolve(agents.evidence),
            agents.max_body,
            agents.rate_per_minute,
            endpoint_limits(agents),
            agents.max_backfill,
            agents.screenshot_quota,
        )
        endpoint = AgentEndpoint(
            self.app.engine, self.clock, settings, cfg.tz, health=self.tasks.report
        )
        tls = (
            tls_context(cfg.resolve(agents.tls_cert), cfg.resolve(agents.tls_key))
            if agents.tls_cert
            else None
        )
        server = await endpoint.serve(host.strip("[]"), int(port), tls)
        try:
            log.info(
                "agents' endpoint listening on %s (%s)", agents.listen, "https" if tls else "http"
            )
            self.tasks.ok("agents' endpoint")
            await self._stopping.wait()
        finally:
            await server.close()  # no new reports; those in the spool are read next start

    async def _schedule(self) -> None:
        """The scheduler (weekly digest, retention) until the daemon stops. A job that
        fails is logged by the scheduler and counted against it here."""
        scheduler = start_scheduler(
            self.app.engine, self.app.cfg, self.app.policy, self.app.clock, self._mail_now.set
        )
        if not isinstance(scheduler, Scheduler):
            raise RuntimeError("the scheduler did not start (its error is logged above)")
        scheduler.aps.add_listener(self._job_done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        try:
            await self._stopping.wait()
        finally:
            scheduler.shutdown()

    def _job_done(self, event: JobExecutionEvent) -> None:
        if event.exception is not None:
            self.tasks.failed("scheduler", event.exception, logged=True)
        else:
            self.tasks.ok("scheduler")

    async def _deliver(self) -> None:
        """Send what is due whenever an alert opens, and every DELIVERY_INTERVAL for batched
        mail and retries. The wake-up flag is cleared before each round, so an alert opened
        (or a stop asked for) during a round is seen at once, not one interval later. The
        last round runs after the final batch is committed."""
        while True:
            self._mail_now.clear()
            result = await deliver_due(self.app.engine, self.app.cfg, self.clock, self.notifier)
            self.tasks.ok("mail delivery")
            if result.sent or result.failed or result.retrying:
                log.info(
                    "mail: %d sent, %d retrying, %d failed",
                    result.sent,
                    result.retrying,
                    result.failed,
                )
            if self._last_round:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._mail_now.wait(), DELIVERY_INTERVAL)

    async def _watch_lists(self) -> None:
        """Every ``[lists] watch_interval``, see whether the lists in use changed (another
        process imported, removed, disabled, enabled or updated one) and, if so, load them
        on a worker thread and swap them in between two batches: no restart, nothing lost.
        A set that fails to load is logged and the lists loaded before stay in use."""
        interval = self.app.cfg.settings.lists.watch_interval.total_seconds()
        engine, processor = self.app.engine, self.app.processor
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)
            if self._stopping.is_set():
                return
            try:
                key = await asyncio.to_thread(lists_in_use, engine, STARTER_LISTS)
                if key == self.app.lists_key:
                    continue
                classifier, content = await asyncio.to_thread(load_judges, engine)
            except Exception:  # a bad list must not stop monitoring
                log.exception("the changed lists could not be loaded; the lists before stay")
                continue
            processor.classifier = classifier
            processor.content = content
            self.app.lists_key = key
            log.info(
                "lists changed: now judging by %d names and %d phrase rules",
                len(classifier.index),
                content.phrases.rule_count,
            )

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        stopping = self._stopping
        spawn = self.tasks.spawn
        writer = spawn("writer", self._write, stopping)
        delivery = spawn("mail delivery", self._deliver, stopping)
        health = spawn("health check", self._health, stopping)
        lists = spawn("lists watcher", self._watch_lists, stopping)
        followers = [
            spawn(f"source {c[0].name}", partial(self._source, *c), stopping)
            for c in self.collectors
        ]
        endpoint = spawn("agents' endpoint", self._serve_agents, stopping)
        scheduler = spawn("scheduler", self._schedule, stopping)  # the weekly digest
        systemd = SystemdNotifier()
        systemd.send(READY="1", STATUS=f"following {len(self.collectors)} source(s)")
        heartbeat = asyncio.create_task(self._heartbeat(systemd))
        log.info(
            "monitord running: %d source(s), store %s",
            len(self.collectors),
            self.app.engine.url.render_as_string(hide_password=True),
        )
        await self._stopping.wait()
        systemd.send(STOPPING="1", STATUS="finishing the batch in hand")
        heartbeat.cancel()
        await asyncio.gather(scheduler, endpoint, *followers, return_exceptions=True)
        while not writer.done():  # the writer stores what is queued, then stops
            try:
                self.queue.put_nowait(None)
                break
            except asyncio.QueueFull:
                await asyncio.wait({writer}, timeout=0.1)
        await writer
        self._last_round = True
        self._mail_now.set()
        await delivery
        await health
        await lists
        try:
            await asyncio.to_thread(self.anchoring.write, self.clock.now(), "daemon stopped")
        except Exception:
            log.exception("could not anchor the audit trail at stop")
        with contextlib.suppress(OSError):
            await asyncio.to_thread(write_health, health_path(self.app.cfg), self.tasks.report())
        log.info("monitord stopped")


def syslog_listener(cfg: Config, src: Source, app: App, clock: Clock) -> SyslogListener:
    """The listener a ``[[sources]]`` table with ``listen`` asks for."""
    address = parse_listen(src.listen)
    tls = None
    if address.scheme == "tls":
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(cfg.resolve(src.tls_cert), cfg.resolve(src.tls_key))
    allow = parse_allow(src.allow) if src.allow else parse_allow(["127.0.0.0/8", "::1/128"])
    return SyslogListener(
        src.name,
        address,
        allow,
        app.engine,
        clock,
        tls=tls,
        batch_size=cfg.settings.pipeline.batch_size,
    )


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line, for log collectors that want fields rather than text."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str = "text") -> None:
    """Logs go to stderr, where journald records them with their level."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def run_daemon(cfg: Config, log_format: str = "text") -> int:
    setup_logging(log_format)
    limit_arenas()
    clock = SystemClock()
    while True:
        try:
            app = open_app(cfg, clock)
            check_writable(app.engine)
        except (SQLAlchemyError, OSError) as exc:
            # Never "running" while storing nothing: one line, and systemd sees the failure.
            log.error(
                "cannot start: the store %s cannot be written by user %s: %s",
                make_url(cfg.database_url).render_as_string(hide_password=True),
                _user(),
                one_line(exc),
            )
            return 1
        daemon = Daemon(app, clock)
        asyncio.run(daemon.run())
        if daemon.reloaded is None:
            return 0
        cfg = daemon.reloaded


def _user() -> str:
    import pwd

    uid = os.getuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name!r} (uid {uid})"
    except KeyError:
        return f"uid {uid}"
