"""``alerts``: case work on the alerts (list, show, ack, note, close, reopen, assign,
review, escalate)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from monitord.casework import cases
from monitord.cli import users
from monitord.cli.context import (
    SITE_HELP,
    Command,
    Commands,
    Context,
    UserError,
    group,
    json_option,
)
from monitord.cli.output import audit_read, out, print_json
from monitord.cli.tables import Column, print_table
from monitord.core.categories import CATEGORIES, TECHNICAL

SEVERITIES = ("critical", "high", "medium", "low")


def cmd_alerts_list(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.core.timeparse import parse_when
    from monitord.store.database import site_of

    cfg = ctx.cfg
    engine = ctx.store(ctx.site(args.site))
    since = parse_when(args.since, cfg.tz, ctx.now()) if args.since else None
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit: at least 1")
    where = cases.AlertFilter(
        status=args.status,
        since=since,
        severity=args.severity,
        category=args.category,
        person=args.person,
        limit=None if args.limit is None else args.limit + 1,  # one more: is there an older?
        before=args.before,
    )
    alerts = cases.list_alerts(engine, where=where)
    older = args.limit is not None and len(alerts) > args.limit
    if older:
        alerts = alerts[1:]
    detail = {"output": "json" if args.json else "table", "status": args.status}
    detail |= {"since": since.isoformat() if since else None, "alerts": len(alerts)}
    filters = {"severity": args.severity, "category": args.category, "person": args.person}
    filters |= {"limit": args.limit, "before": args.before}
    detail |= {k: v for k, v in filters.items() if v is not None}
    audit_read(ctx, engine, "alerts.list", f"site:{site_of(engine)}", detail)
    if args.json:
        print_json(alerts)
        return 0
    _print_alerts(alerts, cfg.tz)
    if older:
        out.print(
            f"older alerts too: add --before {alerts[0]['id']} for the page before",
            markup=False,
        )
    return 0


def _print_alerts(alerts: list[dict[str, Any]], tz: Any) -> None:
    from monitord.cli.alertview import local

    columns = [
        Column("id", whole=True, right=True),
        Column("last seen", whole=True),
        Column("severity", whole=True),
        Column("category"),
        Column("person"),
        Column("year", whole=True),
        Column("device", whole=True),
        Column("indicator"),
        Column("count", right=True),
        Column("status"),
    ]
    print_table(
        columns,
        (
            (
                a["id"],
                local(a["last_seen"], tz, "%Y-%m-%d %H:%M"),
                a["severity"],
                a["category"],
                a["person"],
                a["year_group"],
                a["device"] or a["ip"],
                a["indicator"],
                a["count"],
                a["status"],
            )
            for a in alerts
        ),
    )


def cmd_alerts_show(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.cli.alertview import alert_lines
    from monitord.identity.inventory import display_names

    detail = cases.show_alert(ctx.engine, args.id, ctx.actor, ctx.now())
    if args.json:
        print_json({"alert": detail.alert, "events": detail.events, "history": detail.history})
        return 0
    names = display_names(ctx.engine, [detail.alert["person"]])
    for line in alert_lines(detail, ctx.cfg.tz, names):
        out.print(line, markup=False)
    return 0


def _case(action: Callable[..., None], *extra: str) -> Command:
    """A change to one alert by its id, with the values of the options named in ``extra``."""

    def run(ctx: Context, args: argparse.Namespace) -> int:
        who = users.case_actor(ctx, args)
        values = [getattr(args, name) for name in extra]
        action(ctx.engine, args.id, who, *values, ctx.now())
        out.print(f"alert {args.id}: {action.__name__} recorded")
        return 0

    return run


def _several(action: Callable[..., None], *extra: str) -> Command:
    """``ack`` and ``close``: one alert of any kind, or several technical ones (ids, or
    ``--category``), checked all before any is changed."""

    def run(ctx: Context, args: argparse.Namespace) -> int:
        from monitord.casework.bulk import technical_alerts

        if bool(args.ids) == bool(args.category):
            raise UserError(f"alerts {action.__name__}: give alert ids, or --category C")
        values = [getattr(args, name) for name in extra]
        if len(args.ids) == 1:
            ids = args.ids
        else:
            ids = technical_alerts(ctx.engine, args.ids, args.category)
        who = _acting_on(ctx, args, ids) if ids else ctx.actor
        done, failed = [], []
        for alert_id in ids:
            try:
                action(ctx.engine, alert_id, who, *values, ctx.now())
            except cases.CaseError as exc:
                failed.append(str(exc))
            else:
                done.append(alert_id)
        if len(ids) == 1 and done:
            out.print(f"alert {done[0]}: {action.__name__} recorded")
        elif done:
            out.print(f"{action.__name__} recorded for {len(done)} alerts: {_ids(done)}")
        elif not failed:
            out.print(f"no {args.category} alert is open: nothing to {action.__name__}")
        if failed:
            raise UserError(*failed)
        return 0

    return run


def _acting_on(ctx: Context, args: argparse.Namespace, ids: list[int]) -> str:
    """Who acts on these alerts: with ``--as``, the account (signed in once) must be
    allowed to act on every one of them."""
    args.id = ids[0]
    who = users.case_actor(ctx, args)
    if args.as_user and len(ids) > 1:
        from monitord.casework.accounts import get_account, may_act_on

        account = get_account(ctx.engine, who)
        refused = [i for i in ids if account is None or not may_act_on(ctx.engine, account, i)]
        if refused:
            raise UserError(f"--as {who}: may not act on alert(s) {_ids(refused)}")
    return who


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)


def cmd_alerts_reopen(ctx: Context, args: argparse.Namespace) -> int:
    who = users.case_actor(ctx, args)
    cases.reopen(ctx.engine, args.id, who, args.reason, ctx.now())
    out.print(
        f"alert {args.id}: open again, its outcome and second review cleared (recorded in "
        "the audit trail)"
    )
    return 0


def cmd_alerts_escalate(ctx: Context, args: argparse.Namespace) -> int:
    from alerting.manager import AlertManager

    who = users.case_actor(ctx, args)
    manager = AlertManager(ctx.cfg, ctx.clock, actor=who)

    def mail(conn: Any, alert_id: int, before: str) -> None:
        manager.mail_escalation(conn, alert_id, before, who, args.reason)

    before, after = cases.escalate(
        ctx.engine, args.id, who, args.severity, args.reason, ctx.now(), mail
    )
    out.print(
        f"alert {args.id}: escalated from {before} to {after}; its mail is queued for the "
        "daemon (or monitord outbox flush)"
    )
    return 0


def _targets(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "ids",
        type=int,
        nargs="*",
        metavar="ID",
        help="the alert's number; several only for technical alerts (unauthorised_device, "
        "monitoring_gap)",
    )
    s.add_argument(
        "--category",
        choices=sorted(TECHNICAL),
        help="every alert of this technical category not closed yet, instead of ids",
    )


def register(commands: Commands) -> None:
    alerts = group(commands, "alerts", "case work: list, read and act on alerts")
    s = alerts.add_parser("list", help="the alerts, oldest first, with filters and pages")
    s.add_argument("--site", metavar="ID", help=SITE_HELP)
    s.add_argument("--status", choices=cases.STATUSES, help="only alerts in this state")
    s.add_argument("--severity", choices=SEVERITIES, help="only alerts of this severity")
    s.add_argument(
        "--category", choices=CATEGORIES, metavar="C", help="only this category (see categories)"
    )
    s.add_argument("--person", metavar="USER", help="only alerts about this person")
    s.add_argument("--limit", type=int, metavar="N", help="only the newest N of them")
    s.add_argument(
        "--before", type=int, metavar="ID", help="only alerts older than alert ID (the next page)"
    )
    s.add_argument(
        "--since", metavar="T", help="only alerts seen since, e.g. 2026-11-19, yesterday, 2h"
    )
    json_option(s, "the alerts")
    s.set_defaults(func=cmd_alerts_list)
    s = alerts.add_parser("show", help="one alert: its events, raw lines and history (audited)")
    s.add_argument("id", type=int, help="the alert's number")
    json_option(s, "the alert")
    s.set_defaults(func=cmd_alerts_show)
    s = alerts.add_parser(
        "ack", help="acknowledge: someone is dealing with it (several: technical alerts only)"
    )
    _targets(s)
    s.set_defaults(func=_several(cases.ack))
    s = alerts.add_parser("note", help="add a note to the alert's record")
    s.add_argument("id", type=int, help="the alert's number")
    s.add_argument("text", help="the note (quote it)")
    s.set_defaults(func=_case(cases.note, "text"))
    s = alerts.add_parser("close", help="close with its outcome (several: technical alerts only)")
    _targets(s)
    s.add_argument("--outcome", required=True, choices=cases.OUTCOMES, help="what came of it")
    s.set_defaults(func=_several(cases.close, "outcome"))
    s = alerts.add_parser("reopen", help="open a closed alert again (new information)")
    s.add_argument("id", type=int, help="the alert's number")
    s.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    s.set_defaults(func=cmd_alerts_reopen)
    s = alerts.add_parser("assign", help="give the alert to the person who handles it")
    s.add_argument("id", type=int, help="the alert's number")
    s.add_argument("user", help="who handles it")
    s.set_defaults(func=_case(cases.assign, "user"))
    s = alerts.add_parser("review", help="a second senior person's sign-off")
    s.add_argument("id", type=int, help="the alert's number")
    s.add_argument(
        "--reviewer", metavar="NAME", help="the senior person who reviewed it (without --as)"
    )
    s.set_defaults(func=_case(cases.review, "reviewer"))
    s = alerts.add_parser("escalate", help="raise the alert's severity and mail it again")
    s.add_argument("id", type=int, help="the alert's number")
    s.add_argument("--severity", required=True, choices=cases.ESCALATIONS, help="the new severity")
    s.add_argument("--reason", required=True, help="why (kept in the audit trail and mailed)")
    s.set_defaults(func=cmd_alerts_escalate)
    for action in ("ack", "note", "close", "reopen", "assign", "review", "escalate"):
        users.add_as(alerts.choices[action])
