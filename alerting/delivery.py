"""Delivering queued mail from the outbox: after commit, with retries, never twice.

A message is marked sent in the store only after the server (or the pickup folder) has it;
a failure is retried with backoff, and a permanent refusal (5xx) stops and flags the message.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiosmtplib
from sqlalchemy import Engine, select, update

from monitord.clock import Clock
from monitord.config import Config
from monitord.store import audit, table_of
from monitord.tables import OutboxRow

MAX_BACKOFF = timedelta(hours=1)


class PermanentFailure(Exception):
    """The server refused the message for good (a 5xx reply)."""


class Notifier(Protocol):
    name: str

    async def send(self, message: bytes, sender: str, recipients: list[str]) -> str:
        """Deliver one message; return where it went. Raise on failure."""
        ...


class PickupNotifier:
    """Writes each message as an .eml file into a folder (no mail server configured)."""

    name = "pickup"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: bytes, sender: str, recipients: list[str]) -> str:
        return await asyncio.to_thread(self._write, message)

    def _write(self, message: bytes) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        n = len(list(self.folder.glob("*.eml"))) + 1
        while True:
            final = self.folder / f"{n:06d}.eml"
            if not final.exists():
                break
            n += 1
        tmp = self.folder / f".{final.name}.tmp"
        with tmp.open("wb") as fh:
            fh.write(message)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(final)
        return str(final)


class SmtpNotifier:
    """Sends through an SMTP server with STARTTLS, implicit TLS or none."""

    name = "smtp"

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    async def send(self, message: bytes, sender: str, recipients: list[str]) -> str:
        s = self.cfg.settings.smtp
        password = self.cfg.smtp_password() if s.username else None
        try:
            await aiosmtplib.send(
                message,
                sender=sender,
                recipients=recipients,
                hostname=s.host,
                port=s.port,
                username=s.username or None,
                password=password,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                timeout=s.timeout.total_seconds(),
            )
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise PermanentFailure(f"{exc.code} {exc.message}") from exc
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused: not an SMTPResponseException, but just as final when
            # each refusal is a 5xx.
            if exc.recipients and all(r.code >= 500 for r in exc.recipients):
                refused = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
                raise PermanentFailure(refused) from exc
            raise
        return f"smtp://{s.host}:{s.port}"


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


def backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** min(attempts, 10)), MAX_BACKOFF)


async def deliver_due(
    engine: Engine,
    cfg: Config,
    clock: Clock,
    notifier: Notifier,
    *,
    include_batched: bool = False,
) -> DeliveryResult:
    """Send every queued message that is due (all queued ones with ``include_batched``)."""
    table = table_of(OutboxRow)
    now = clock.now()

    def due() -> list[tuple[int, bytes, str, int]]:
        query = select(table.c.id, table.c.message, table.c.recipients, table.c.attempts).where(
            table.c.status == "queued"
        )
        if not include_batched:
            query = query.where(table.c.due_at <= now)
        with engine.connect() as conn:
            return [
                (int(r.id), bytes(r.message), str(r.recipients), int(r.attempts))
                for r in conn.execute(query.order_by(table.c.id))
            ]

    sent = retrying = failed = 0
    where: list[str] = []
    sender = cfg.settings.smtp.sender
    for msg_id, message, rcpt_json, attempts in await asyncio.to_thread(due):
        recipients = json.loads(rcpt_json)
        values: dict[str, object]
        if not recipients:
            values = {
                "status": "failed",
                "last_error": "no recipients configured for this alert's [recipients] lists",
            }
            failed += 1
        else:
            try:
                dest = await notifier.send(message, sender, recipients)
            except PermanentFailure as exc:
                values = {"status": "failed", "attempts": attempts + 1, "last_error": str(exc)}
                failed += 1
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                values = {
                    "attempts": attempts + 1,
                    "last_error": f"{type(exc).__name__}: {exc}",
                    "due_at": clock.now() + backoff(attempts),
                }
                retrying += 1
            else:
                values = {
                    "status": "sent",
                    "attempts": attempts + 1,
                    "sent_at": clock.now(),
                    "delivered_to": dest,
                    "last_error": None,
                }
                sent += 1
                where.append(dest)
        await asyncio.to_thread(_mark, engine, msg_id, values, clock.now())
    return DeliveryResult(sent, retrying, failed, tuple(where))


def _mark(engine: Engine, msg_id: int, values: dict[str, object], now: datetime) -> None:
    table = table_of(OutboxRow)
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == msg_id).values(**values))
        if values.get("status") in ("sent", "failed"):
            audit(
                conn,
                "monitord",
                f"mail.{values['status']}",
                f"outbox:{msg_id}",
                {k: str(v) for k, v in values.items() if k in ("delivered_to", "last_error")},
                now=now,
            )
