"""Queueing a digest for mail, recorded in the ``digests`` table in the same transaction so
that each site's week and edition goes once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from alerting.delivery import Outgoing, enqueue
from alerting.reports.digest.collect import collect
from alerting.reports.digest.model import GROUP, NAMED, AlreadySent, DigestError, local_text
from alerting.reports.digest.render import build_message, render
from alerting.reports.digest.week import Week
from monitord.classify.policy import Policy
from monitord.settings.config import Config
from monitord.store.database import audit, mine, table_of
from monitord.store.tables import (
    DigestRow,
)


@dataclass(frozen=True, slots=True)
class Queued:
    week: Week
    edition: str
    outbox_id: int
    recipients: tuple[str, ...]


def recipients_for(cfg: Config, named: bool) -> list[str]:
    r = cfg.settings.recipients
    return list(r.dsl if named else r.online_safety_group)


def sent_before(engine: Engine, site_id: str, week: Week, edition: str) -> Any | None:
    dt = table_of(DigestRow)
    with engine.connect() as conn:
        return conn.execute(
            select(dt).where(
                mine(conn, dt.c.site_id, site_id), dt.c.week == week.label, dt.c.edition == edition
            )
        ).first()


def queue_digest(
    engine: Engine,
    cfg: Config,
    policy: Policy,
    week: Week,
    now: datetime,
    actor: str,
    *,
    named: bool = False,
) -> Queued:
    """Make the week's digest and queue it for mail, recorded so that it goes once: raises
    AlreadySent if this week's digest of this edition was queued before."""
    edition = NAMED if named else GROUP
    site = cfg.settings.school.site_id
    recipients = recipients_for(cfg, named)
    if not recipients:
        key = "dsl" if named else "online_safety_group"
        raise DigestError(f"recipients.{key} is empty in the config: nobody to send the digest to")
    done = sent_before(engine, site, week, edition)
    if done is not None:
        raise AlreadySent(_already(week, edition, done, cfg.tz))
    rendered = render(collect(engine, cfg, policy, week, now, named=named))
    msg = build_message(cfg, rendered, recipients, now)
    dt = table_of(DigestRow)
    try:
        with engine.begin() as conn:
            # The record first: a second run racing this one fails here, before its mail.
            conn.execute(
                dt.insert().values(
                    site_id=site,
                    week=week.label,
                    edition=edition,
                    queued_at=now,
                    queued_by=actor,
                    recipients=json.dumps(recipients),
                )
            )
            outbox_id = enqueue(
                conn,
                Outgoing.of(msg),
                site_id=site,
                recipients=recipients,
                severity="digest",
                now=now,
            )
            conn.execute(
                dt.update()
                .where(
                    mine(conn, dt.c.site_id, site), dt.c.week == week.label, dt.c.edition == edition
                )
                .values(outbox_id=outbox_id)
            )
            audit(
                conn,
                actor,
                "digest.queued",
                f"digest:{week.label}",
                {"edition": edition, "outbox": outbox_id, "recipients": recipients},
                now=now,
            )
    except IntegrityError:
        done = sent_before(engine, site, week, edition)
        raise AlreadySent(_already(week, edition, done, cfg.tz)) from None
    return Queued(week, edition, outbox_id, tuple(recipients))


def _already(week: Week, edition: str, row: Any | None, tz: ZoneInfo) -> str:
    what = "the DSL's named digest" if edition == NAMED else "the digest"
    if row is None:
        return f"{what} for {week.label} has already been queued"
    when = local_text(row.queued_at, tz, "%a %d %b %Y %H:%M")
    return (
        f"{what} for {week.label} was already queued on {when} by {row.queued_by} "
        f"(outbox message {row.outbox_id}): it is sent once"
    )
