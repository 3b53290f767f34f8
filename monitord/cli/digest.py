"""``digest`` (the Online Safety Group's week) and ``report`` (the governors' period)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from monitord.cli.context import SITE_HELP, Commands, Context, UserError
from monitord.cli.output import audit_read, out
from monitord.core.terminal import printable_text

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from alerting.reports.digest.week import Week
    from monitord.classify.policy import Policy


def cmd_digest(ctx: Context, args: argparse.Namespace) -> int:
    """The weekly digest: printed as text, written as files (--out) or mailed (--send)."""
    from alerting.reports.digest.collect import collect
    from alerting.reports.digest.queue import recipients_for
    from alerting.reports.digest.render import render, write_preview
    from alerting.reports.digest.week import Week
    from monitord.classify.policy import policy_of

    cfg = ctx.cfg
    site = ctx.site(args.site)
    if args.send and site != cfg.site_id:
        raise UserError("--send mails this school's digest: see another site's with --out")
    engine = ctx.store(site)
    policy = policy_of(cfg)
    now = ctx.now()
    week = Week.parse(args.week, cfg.tz) if args.week else Week.last_completed(now, cfg.tz)
    if args.send:
        return _send_digest(ctx, engine, args.named, policy, week)
    rendered = render(collect(engine, cfg, policy, week, now, named=args.named))
    if args.named:  # the DSL's copy names people: who read it is recorded
        detail = {"edition": "named", "output": "files" if args.out else "text", "site": site}
        audit_read(ctx, engine, "digest.read", f"digest:{week.label}", detail)
    if args.out:
        for path in write_preview(rendered, Path(args.out)):
            out.print(f"wrote {path}", markup=False)
        who = ", ".join(recipients_for(cfg, args.named)) or "nobody configured"
        out.print(f"(--send mails it to {who})", markup=False)
        return 0
    sys.stdout.write(printable_text(rendered.text))
    return 0


def _send_digest(ctx: Context, engine: Engine, named: bool, policy: Policy, week: Week) -> int:
    import asyncio

    from alerting.delivery import EmailNotifier, deliver_due
    from alerting.reports.digest.model import DigestError
    from alerting.reports.digest.queue import queue_digest

    cfg = ctx.cfg
    try:
        queued = queue_digest(engine, cfg, policy, week, ctx.now(), ctx.actor, named=named)
    except DigestError as exc:
        raise UserError(str(exc)) from None
    asyncio.run(deliver_due(engine, cfg, ctx.clock, EmailNotifier(cfg)))
    status, error = _outbox_status(engine, queued.outbox_id)
    to = ", ".join(queued.recipients)
    if status == "sent":
        out.print(f"digest {week.label} sent to {to}", markup=False)
    else:
        out.print(
            f"digest {week.label} queued for {to} as outbox message {queued.outbox_id} "
            f"({status}: {error or 'waiting its turn'}); the daemon retries it",
            markup=False,
        )
    return 0


def _outbox_status(engine: Engine, outbox_id: int) -> tuple[str, str | None]:
    from sqlalchemy import select

    from monitord.store.database import mine, table_of
    from monitord.store.tables import OutboxRow

    t = table_of(OutboxRow)
    with engine.connect() as conn:
        query = select(t.c.status, t.c.last_error).where(
            mine(conn, t.c.site_id), t.c.id == outbox_id
        )
        row = conn.execute(query).one()
    return str(row.status), row.last_error


def cmd_report(ctx: Context, args: argparse.Namespace) -> int:
    """The governors' report for a span of dates: HTML with its charts, and a PDF."""
    from alerting.reports.report import ReportError, collect_report, parse_day, write_report

    cfg = ctx.cfg
    engine = ctx.store(ctx.site(args.site))
    try:
        first, last = parse_day(args.start, "--from"), parse_day(args.end, "--to")
        report = collect_report(engine, cfg, first, last, ctx.now())
    except ReportError as exc:
        raise UserError(str(exc)) from None
    for path in write_report(report, Path(args.out)):
        out.print(f"wrote {path}", markup=False)
    return 0


def register(commands: Commands) -> None:
    s = commands.add_parser("digest", help="the weekly digest for the Online Safety Group")
    s.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last full week)")
    how = s.add_mutually_exclusive_group()
    how.add_argument(
        "--send",
        action="store_true",
        help="mail it to recipients.online_safety_group (recipients.dsl with --named)",
    )
    how.add_argument("--out", metavar="DIR", help="write its HTML, text and charts into DIR")
    s.add_argument("--named", action="store_true", help="the DSL's own copy, with names")
    s.add_argument("--site", metavar="ID", help=SITE_HELP)
    s.set_defaults(func=cmd_digest)

    s = commands.add_parser("report", help="the governors' report for a period (HTML and PDF)")
    s.add_argument("--from", dest="start", required=True, metavar="DATE", help="the first day")
    s.add_argument("--to", dest="end", required=True, metavar="DATE", help="the last day")
    s.add_argument("--out", required=True, metavar="DIR", help="write the report into DIR")
    s.add_argument("--site", metavar="ID", help=SITE_HELP)
    s.set_defaults(func=cmd_report)
