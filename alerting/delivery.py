"""Delivering queued mail from the outbox: after commit, with retries, never twice.

A message is marked sent in the store only after the server (or the pickup folder) has it;
a failure is retried with backoff, and a permanent refusal (5xx) stops and flags the message.
A message is sent as the bytes stored with it, so one sent again after a crash is the same
message with the same Message-ID.

Recording a message sent in a SQLite store waits for the write lock, which the pipeline holds
while it stores a batch (tens, at times hundreds of milliseconds); a crash in that wait sent
the message again. So the moment the server accepts it (before the connection is closed: a
server slow to answer QUIT holds nothing open that matters), a line goes to a small file of
this process's own beside the store (``monitord.db.mail-sent.<pid>``), and the next round (of
this process, or of the next monitord once this one is gone) records in the store whatever is
written there and not yet recorded.

A crash between the server's reply to DATA and that line (microseconds), or a server that
keeps a message and dies before its reply leaves, cannot be told from a message the server
never had: SMTP has no way to ask. Such a message is sent again rather than risk an alert
never reaching anyone; it goes with the same bytes and the same Message-ID, so a mail client
or server that de-duplicates by Message-ID shows it once. Each attempt is written in the sent
log before the message goes ("sending"), and its outcome after, so that a message caught
between the two by a crash is known: it is logged and recorded in the audit trail
(``mail.resent``) when it goes again.

When the server accepts some recipients and refuses others, the refusals are recorded on the
row and in the audit trail; those refused for now get the same message again later, in a row
of their own.

At most ``[alerts] max_mails_per_hour`` messages go in any hour; the rest wait for a later
round, ``outbox flush`` included (it sends batched mail before its time, not more than the
cap). Critical mail is neither held back nor counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib
from sqlalchemy import Connection, Engine, func, select, update

from monitord.core.clock import Clock
from monitord.core.private import append_private, private_dir, write_private
from monitord.settings.config import Config
from monitord.store.database import audit, mine, table_of
from monitord.store.tables import OutboxRow

MAX_BACKOFF = timedelta(hours=1)
CAP_WINDOW = timedelta(hours=1)
log = logging.getLogger("monitord.mail")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message as the outbox keeps it: its bytes, Message-ID and subject."""

    message: bytes
    message_id: str
    subject: str

    @classmethod
    def of(cls, msg: EmailMessage) -> Outgoing:
        return cls(bytes(msg), str(msg["Message-ID"]), str(msg["Subject"]))


def enqueue(
    conn: Connection,
    out: Outgoing,
    *,
    site_id: str,
    recipients: list[str],
    severity: str,
    now: datetime,
    due: datetime | None = None,
    alert_id: int | None = None,
    thread: str | None = None,
) -> int:
    """Queue a message in the outbox in the caller's transaction (so it exists only if what
    it reports was stored), due at ``due`` (now by default); the delivery sends it after
    commit. Every writer of the outbox comes through here. The new row's id."""
    row = {
        "site_id": site_id,
        "alert_id": alert_id,
        "created_at": now,
        "due_at": now if due is None else due,
        "status": "queued",
        "attempts": 0,
        "message_id": out.message_id,
        "recipients": json.dumps(recipients),
        "subject": out.subject,
        "message": out.message,
        "severity": severity,
        "thread": thread,
    }
    result = conn.execute(table_of(OutboxRow).insert(), row)
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


class PermanentFailure(Exception):
    """The server refused the message for good (a 5xx reply)."""


@dataclass(frozen=True, slots=True)
class Sent:
    """Where a message went, and the recipients the server refused while it accepted others
    (address to its reply, such as ``550 5.1.1 No such user``)."""

    where: str
    refused: Mapping[str, str] = field(default_factory=dict)


Accepted = Callable[[Sent], None]


def _ignore(done: Sent) -> None:
    return None


class Notifier(Protocol):
    name: str

    async def send(
        self, message: bytes, sender: str, recipients: list[str], accepted: Accepted = _ignore
    ) -> Sent:
        """Deliver one message; ``accepted`` is called the moment it is delivered (before
        the connection is closed). Raise when no recipient got it."""
        ...


class PickupNotifier:
    """Writes each message as an .eml file into a folder (no mail server configured)."""

    name = "pickup"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(
        self, message: bytes, sender: str, recipients: list[str], accepted: Accepted = _ignore
    ) -> Sent:
        done = Sent(await asyncio.to_thread(self._write, message))
        accepted(done)
        return done

    def _write(self, message: bytes) -> str:
        private_dir(self.folder)
        n = len(list(self.folder.glob("*.eml"))) + 1
        while True:
            final = self.folder / f"{n:06d}.eml"
            try:
                write_private(final, message, replace=False)
            except FileExistsError:
                n += 1
                continue
            return str(final)


class SmtpNotifier:
    """Sends through an SMTP server with STARTTLS, implicit TLS or none."""

    name = "smtp"

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._tls: ssl.SSLContext | None = None

    def tls_context(self) -> ssl.SSLContext:
        """Verifies the server's certificate and name, against ``ca_file`` when one is set."""
        if self._tls is None:
            ca = self.cfg.settings.smtp.ca_file
            cafile = str(self.cfg.resolve(ca)) if ca else None
            self._tls = ssl.create_default_context(cafile=cafile)
        return self._tls

    async def send(
        self, message: bytes, sender: str, recipients: list[str], accepted: Accepted = _ignore
    ) -> Sent:
        s = self.cfg.settings.smtp
        password = self.cfg.smtp_password() if s.username else None
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username or None,
            password=password,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=self.tls_context() if s.security != "none" else None,
            timeout=s.timeout.total_seconds(),
        )
        try:
            await client.connect()
            errors, _ = await client.sendmail(sender, recipients, message)
        except aiosmtplib.SMTPAuthenticationError:
            # Our credentials, not this message, were refused: retried, so that the queue
            # goes out once the password is put right.
            client.close()
            raise
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            if exc.code >= 500:
                raise PermanentFailure(f"{exc.code} {exc.message}") from exc
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            client.close()
            # Every recipient refused: not an SMTPResponseException, but just as final when
            # each refusal is a 5xx.
            if exc.recipients and all(r.code >= 500 for r in exc.recipients):
                every = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
                raise PermanentFailure(every) from exc
            raise
        except BaseException:
            client.close()
            raise
        refused = {addr: f"{r.code} {r.message}" for addr, r in errors.items()}
        done = Sent(f"smtp://{s.host}:{s.port}", refused)
        try:
            # Written down before QUIT: the server has the message whatever QUIT meets.
            accepted(done)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
        finally:
            client.close()
        return done


def EmailNotifier(cfg: Config) -> Notifier:
    """The mail notifier the config asks for: SMTP when a host is set, else the pickup folder."""
    if cfg.settings.smtp.host:
        return SmtpNotifier(cfg)
    return PickupNotifier(cfg.pickup_dir)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    where: tuple[str, ...] = ()
    waiting: int = 0  # held back by the hourly cap, to go in a later round


def backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** min(attempts, 10)), MAX_BACKOFF)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class SentLog:
    """What this process is sending and what servers have accepted that the store may not
    have recorded yet, in a file of this process's own: one JSON line for each message as it
    goes (``sending``), then one for its outcome: accepted (appended the moment the server
    says so, with what to record) or not."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix  # the file of process 1234 is prefix.name + "1234"
        self.path = prefix.with_name(f"{prefix.name}{os.getpid()}")
        self._broken = False

    @classmethod
    def of(cls, engine: Engine) -> SentLog | None:
        """The sent log of a SQLite store in a file; None for any other store, which does
        not make the record wait for the pipeline's batch."""
        db = engine.url.database
        if engine.dialect.name != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
            return None
        return cls(Path(f"{db}.mail-sent."))

    def sending(self, msg_id: int, alert_id: int | None) -> None:
        """The message goes now."""
        self._append({"id": msg_id, "alert_id": alert_id, "sending": True})

    def not_sent(self, msg_id: int) -> None:
        """The message went nowhere (the server refused it, or could not be reached)."""
        self._append({"id": msg_id, "not_sent": True})

    def write(
        self, msg_id: int, alert_id: int | None, values: dict[str, Any], again: list[str]
    ) -> None:
        """The server has the message: ``values`` are to be recorded on its row."""
        entry = {
            "id": msg_id,
            "alert_id": alert_id,
            "values": {
                k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()
            },
            "again": again,
        }
        self._append(entry)

    def _append(self, entry: dict[str, Any]) -> None:
        try:
            with append_private(self.path) as fh:
                fh.write((json.dumps(entry) + "\n").encode())
        except OSError as exc:
            if not self._broken:
                log.warning(
                    "mail: cannot write %s (%s): a crash now may send a message twice",
                    self.path,
                    exc,
                )
            self._broken = True

    def recover(self, engine: Engine, now: datetime) -> int:
        """Record in the store what this process's file, and those of processes that are gone,
        say was sent; record each message a crash caught while it went (it goes again);
        remove the files. Returns how many messages were recorded as sent from them."""
        recorded = 0
        for path in self.prefix.parent.glob(self.prefix.name + "*"):
            pid = path.name.removeprefix(self.prefix.name)
            if not pid.isdigit() or (int(pid) != os.getpid() and _alive(int(pid))):
                continue
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError:
                continue
            caught: dict[int, int | None] = {}  # sending, with no outcome after it
            for line in lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # the line being written when the process died
                if entry.get("sending"):
                    caught[entry["id"]] = entry["alert_id"]
                    continue
                caught.pop(entry["id"], None)
                if entry.get("not_sent"):
                    continue
                values = dict(entry["values"])
                if values.get("sent_at"):
                    values["sent_at"] = datetime.fromisoformat(values["sent_at"])
                if _mark(engine, entry["id"], entry["alert_id"], values, now, entry["again"]):
                    recorded += 1
            for msg_id, alert_id in caught.items():
                _interrupted(engine, msg_id, alert_id, now)
            path.unlink(missing_ok=True)
        if recorded:
            log.warning(
                "mail: %d message(s) the server had accepted before a crash recorded as sent",
                recorded,
            )
        return recorded

    def clear(self) -> None:
        """Everything written was recorded in the store."""
        self.path.unlink(missing_ok=True)


def _interrupted(engine: Engine, msg_id: int, alert_id: int | None, now: datetime) -> None:
    """A message was going when monitord stopped: the server may have it or not, and no one
    can tell. It is sent again (a second copy, same Message-ID, rather than an alert lost);
    the log and the audit trail say so."""
    table = table_of(OutboxRow)
    with engine.begin() as conn:
        row = conn.execute(
            select(table.c.message_id, table.c.status).where(
                mine(conn, table.c.site_id), table.c.id == msg_id
            )
        ).first()
        if row is None or row.status != "queued":
            return
        subject = f"alert:{alert_id}" if alert_id is not None else f"outbox:{msg_id}"
        detail = {"outbox": msg_id, "message_id": row.message_id}
        audit(conn, "monitord", "mail.interrupted", subject, detail, now=now)
    log.warning(
        "mail: monitord stopped while sending outbox message %d %s; the server may have "
        "it: it goes again, the same message with the same Message-ID",
        msg_id,
        row.message_id,
    )


@dataclass(frozen=True, slots=True)
class _Due:
    id: int
    alert_id: int | None
    message: bytes
    recipients: list[str]
    attempts: int
    critical: bool


async def deliver_due(
    engine: Engine,
    cfg: Config,
    clock: Clock,
    notifier: Notifier,
    *,
    include_batched: bool = False,
) -> DeliveryResult:
    """Send every queued message that is due (with ``include_batched``: every queued
    message, as ``outbox flush`` does), within the hourly cap but critical mail."""
    table = table_of(OutboxRow)
    now = clock.now()
    cap = cfg.settings.alerts.max_mails_per_hour

    def due() -> tuple[list[_Due], int]:
        query = select(
            table.c.id,
            table.c.alert_id,
            table.c.message,
            table.c.recipients,
            table.c.attempts,
            table.c.severity,
        ).where(mine(engine, table.c.site_id), table.c.status == "queued")
        if not include_batched:
            query = query.where(table.c.due_at <= now)
        with engine.connect() as conn:
            rows = [
                _Due(
                    int(r.id),
                    r.alert_id,
                    bytes(r.message),
                    json.loads(r.recipients),
                    int(r.attempts),
                    r.severity == "critical",
                )
                for r in conn.execute(query.order_by(table.c.id))
            ]
            recent = 0
            if cap and rows:
                recent = conn.execute(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.sent_at > now - CAP_WINDOW, table.c.severity != "critical")
                    .where(mine(engine, table.c.site_id))
                ).scalar_one()
        # Critical first: with the cap reached, only critical mail goes.
        rows.sort(key=lambda r: (not r.critical, r.id))
        return rows, int(recent)

    sent = retrying = failed = waiting = 0
    where: list[str] = []
    sender = cfg.settings.smtp.sender
    sent_log = SentLog.of(engine)
    if sent_log is not None:
        await asyncio.to_thread(sent_log.recover, engine, now)
    rows, recent = await asyncio.to_thread(due)
    for row in rows:
        if cap and not row.critical and recent >= cap:
            waiting += 1
            continue
        values: dict[str, Any]
        split: list[str] = []
        if not row.recipients:
            values = {
                "status": "failed",
                "last_error": "no recipients configured for this alert's [recipients] lists",
            }
            failed += 1
        else:
            values, split = await _send_one(notifier, row, sender, clock, sent_log)
            if values.get("status") == "sent":
                sent += 1
                recent += not row.critical
                where.append(str(values["delivered_to"]))
            elif values.get("status") == "failed":
                failed += 1
            else:
                retrying += 1
        await asyncio.to_thread(_mark, engine, row.id, row.alert_id, values, clock.now(), split)
    if sent_log is not None:
        sent_log.clear()
    if waiting:
        log.info("mail: %d message(s) wait for the hourly cap of %d", waiting, cap)
    return DeliveryResult(sent, retrying, failed, tuple(where), waiting)


async def _send_one(
    notifier: Notifier, row: _Due, sender: str, clock: Clock, sent_log: SentLog | None
) -> tuple[dict[str, Any], list[str]]:
    """Send one queued message: what to record on its row, and the recipients refused for
    now (who get it again in a row of their own). In the sent log first ``sending``, then the
    outcome: what the server accepted the moment it did, or that it went nowhere."""
    outcome: list[tuple[dict[str, Any], list[str]]] = []

    def accepted(done: Sent) -> None:
        if outcome:
            return
        values: dict[str, Any] = {
            "status": "sent",
            "attempts": row.attempts + 1,
            "sent_at": clock.now(),
            "delivered_to": done.where,
            "last_error": None,
        }
        split: list[str] = []
        if done.refused:
            values["refused"] = json.dumps(dict(done.refused), sort_keys=True)
            split = [a for a, reply in done.refused.items() if not reply.startswith("5")]
        if sent_log is not None:
            sent_log.write(row.id, row.alert_id, values, split)
        outcome.append((values, split))

    if sent_log is not None:
        sent_log.sending(row.id, row.alert_id)
    failure: dict[str, Any]
    try:
        accepted(await notifier.send(row.message, sender, row.recipients, accepted))
        return outcome[0]
    except PermanentFailure as exc:
        failure = {"status": "failed", "attempts": row.attempts + 1, "last_error": str(exc)}
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        failure = {
            "attempts": row.attempts + 1,
            "last_error": f"{type(exc).__name__}: {exc}",
            "due_at": clock.now() + backoff(row.attempts),
        }
    if outcome:  # accepted, then something failed on the way out: it was delivered
        return outcome[0]
    if sent_log is not None:
        sent_log.not_sent(row.id)
    return failure, []


def _mark(
    engine: Engine,
    msg_id: int,
    alert_id: int | None,
    values: dict[str, Any],
    now: datetime,
    again: list[str],
) -> bool:
    """Record one attempt; ``again``: recipients refused for now, who get the same message
    in a new row of their own. A message no longer queued was recorded already (from the
    sent log, by another process): nothing is recorded twice, and False is returned."""
    table = table_of(OutboxRow)
    with engine.begin() as conn:
        done = conn.execute(
            update(table)
            .where(mine(conn, table.c.site_id), table.c.id == msg_id, table.c.status == "queued")
            .values(**values)
        )
        if done.rowcount == 0:
            return False
        if values.get("status") not in ("sent", "failed"):
            return True
        subject = f"alert:{alert_id}" if alert_id is not None else f"outbox:{msg_id}"
        detail: dict[str, Any] = {
            k: str(v) for k, v in values.items() if k in ("delivered_to", "last_error")
        }
        if alert_id is not None:
            detail["outbox"] = msg_id
        audit(conn, "monitord", f"mail.{values['status']}", subject, detail, now=now)
        if "refused" in values:
            refused = json.loads(values["refused"])
            retry = _requeue(conn, msg_id, again, now) if again else None
            audit(
                conn,
                "monitord",
                "mail.refused",
                subject,
                {"outbox": msg_id, "refused": refused, "retry": retry},
                now=now,
            )
    return True


def _requeue(conn: Connection, msg_id: int, recipients: list[str], now: datetime) -> int:
    """The same message (same bytes, same Message-ID) for the recipients refused for now."""
    table = table_of(OutboxRow)
    row = conn.execute(select(table).where(mine(conn, table.c.site_id), table.c.id == msg_id)).one()
    return enqueue(
        conn,
        Outgoing(row.message, row.message_id, row.subject),
        site_id=row.site_id,
        recipients=recipients,
        severity=row.severity,
        now=now,
        due=now + backoff(0),
        alert_id=row.alert_id,
        thread=row.thread,
    )
