"""The change-control mail for a change to the filtering lists, to the headteacher.

Queued in the outbox in the transaction that makes the change (see
:func:`monitord.classify.listadmin.change_lists` and
:mod:`monitord.classify.listupdate`), delivered as any other mail. It names the account
that made the change, each list changed with its counts
before and after, and the totals of every active list before and after.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import Connection

from alerting.delivery import Outgoing, enqueue
from alerting.mail import _ENV
from monitord.classify.listadmin import Change, Counts
from monitord.core.defang import clean
from monitord.settings.config import Config

VERBS = {
    "remove": "removed",
    "disable": "disabled",
    "enable": "enabled again",
    "update": "updated the lists from their configured sources",
}
SEVERITY = "lists"  # the outbox row's severity column: not an alert's


def _counts(c: Counts | None) -> str:
    if c is None:
        return "not in use"
    parts = [f"{n:,} {what}" for what, n in (("domains", c.domains), ("URLs", c.urls)) if n]
    if c.expressions:
        parts.append(f"{c.expressions:,} expressions")
    return ", ".join(parts) or "empty"


def _fmt(c: Counts) -> dict[str, str]:
    return {k: f"{v:,}" for k, v in c.as_dict().items()}


def subject(change: Change) -> str:
    n = len(change.lists)
    what = f"{n} list{'s' if n != 1 else ''} " + (
        "updated" if change.action == "update" else VERBS.get(change.action, change.action)
    )
    return clean(f"[monitord] Filtering change: {what} by {change.actor}", 200)


def build_change_message(cfg: Config, change: Change, recipients: list[str]) -> EmailMessage:
    verb = VERBS.get(change.action, change.action)
    n = len(change.lists)
    data = {
        "school": clean(cfg.settings.school.name, 200),
        "actor": clean(change.actor, 120),
        "verb": verb if change.action == "update" else f"{verb} {n} list{'s' if n != 1 else ''}",
        "when": change.at.astimezone(cfg.tz).strftime("%A %d %B %Y, %H:%M %Z"),
        "lists": [
            {
                "name": clean(c.name, 200),
                "category": c.category,
                "before": _counts(c.before),
                "after": _counts(c.after),
            }
            for c in change.lists
        ],
        "notes": [clean(x, 300) for x in change.notes],
        "before": _fmt(change.before),
        "after": _fmt(change.after),
    }
    msg = EmailMessage()
    msg["Subject"] = subject(change)
    msg["From"] = cfg.settings.smtp.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(change.at)
    domain = cfg.settings.smtp.sender.rpartition("@")[2] or "monitord.local"
    site = re.sub(r"[^A-Za-z0-9-]", "-", cfg.settings.school.site_id)
    msg["Message-ID"] = f"<lists-{uuid.uuid4().hex}.{site}.monitord@{clean(domain, 200)}>"
    msg["X-Monitord-Change"] = f"lists.{change.action}"
    msg.set_content(_ENV.get_template("list_change.txt.j2").render(**data))
    return msg


def change_mailer(cfg: Config) -> Callable[[Connection, Change], list[str]]:
    """The ``mail`` callback of a list change: queue its mail to ``recipients.headteacher``
    (nobody, and an empty list back, when none is configured)."""

    def mail(conn: Connection, change: Change) -> list[str]:
        recipients = list(cfg.settings.recipients.headteacher)
        if not recipients:
            return []
        msg = build_change_message(cfg, change, recipients)
        enqueue(
            conn,
            Outgoing.of(msg),
            site_id=cfg.site_id,
            recipients=recipients,
            severity=SEVERITY,
            now=change.at,
        )
        return recipients

    return mail
