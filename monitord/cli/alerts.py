"""``alerts``: case work on the alerts (list, show, ack, note, close, assign, review,
escalate)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from monitord.casework import cases
from monitord.cli import users
from monitord.cli.context import SITE_HELP, Command, Commands, Context, group, json_option
from monitord.cli.output import audit_read, out, print_json


def cmd_alerts_list(ctx: Context, args: argparse.Namespace) -> int:
    from rich.table import Table

    from monitord.core.timeparse import parse_when
    from monitord.store.database import site_of

    cfg = ctx.cfg
    engine = ctx.store(ctx.site(args.site))
    since = parse_when(args.since, cfg.tz, ctx.now()) if args.since else None
    alerts = cases.list_alerts(engine, args.status, since)
    detail = {"output": "json" if args.json else "table", "status": args.status}
    detail |= {"since": since.isoformat() if since else None, "alerts": len(alerts)}
    audit_read(ctx, engine, "alerts.list", f"site:{site_of(engine)}", detail)
    if args.json:
        print_json(alerts)
        return 0
    table = Table("id", "severity", "category", "person", "year", "device", "indicator", "count")
    table.add_column("status")
    for a in alerts:
        table.add_row(
            str(a["id"]),
            a["severity"],
            a["category"],
            a["person"] or "-",
            a["year_group"] or "-",
            a["device"] or a["ip"] or "-",
            a["indicator"][:60],
            str(a["count"]),
            a["status"],
        )
    out.print(table)
    return 0


def cmd_alerts_show(ctx: Context, args: argparse.Namespace) -> int:
    detail = cases.show_alert(ctx.engine, args.id, ctx.actor, ctx.now())
    if args.json:
        print_json({"alert": detail.alert, "events": detail.events, "history": detail.history})
        return 0
    a = detail.alert
    out.print(f"Alert {a['id']}: {a['severity']} {a['category']} ({a['status']})")
    for key in ("person", "role", "year_group", "device", "ip", "indicator", "first_seen"):
        out.print(f"  {key}: {a[key]}", markup=False)
    for key in ("last_seen", "count", "blocked", "sources", "recipients", "rule", "outcome"):
        out.print(f"  {key}: {a[key]}", markup=False)
    for key in ("assignee", "reviewer", "reviewed_at"):
        out.print(f"  {key}: {a[key]}", markup=False)
    out.print("Events")
    for ev in detail.events:
        out.print(f"  {ev['ts']} {ev['source']} offset {ev['offset']}", markup=False)
        out.print(f"    raw: {ev['raw']}", markup=False)
        out.print(f"    attribution: {ev['attribution']}", markup=False)
        if ev["filter_category"]:
            verdict = ev["filter_action"] or ("blocked" if ev["blocked"] else "allowed")
            out.print(f"    the filter: {verdict}, {ev['filter_category']}", markup=False)
        for m in ev["matches"]:
            out.print(f"    match: {m['category']} {m['entry']} ({m['list']})", markup=False)
    out.print("History")
    for h in detail.history:
        out.print(f"  {h['ts']} {h['actor']} {h['action']} {h['detail']}", markup=False)
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


def register(commands: Commands) -> None:
    alerts = group(commands, "alerts", "case work: list, read and act on alerts")
    s = alerts.add_parser("list", help="the alerts, oldest first")
    s.add_argument("--site", metavar="ID", help=SITE_HELP)
    s.add_argument("--status", choices=cases.STATUSES, help="only alerts in this state")
    s.add_argument(
        "--since", metavar="T", help="only alerts seen since, e.g. 2026-11-19, yesterday, 2h"
    )
    json_option(s, "the alerts")
    s.set_defaults(func=cmd_alerts_list)
    s = alerts.add_parser("show", help="one alert: its events, raw lines and history (audited)")
    s.add_argument("id", type=int, help="the alert's number")
    json_option(s, "the alert")
    s.set_defaults(func=cmd_alerts_show)
    s = alerts.add_parser("ack", help="acknowledge: someone is dealing with it")
    s.add_argument("id", type=int, help="the alert's number")
    s.set_defaults(func=_case(cases.ack))
    s = alerts.add_parser("note", help="add a note to the alert's record")
    s.add_argument("id", type=int, help="the alert's number")
    s.add_argument("text", help="the note (quote it)")
    s.set_defaults(func=_case(cases.note, "text"))
    s = alerts.add_parser("close", help="close the alert with its outcome")
    s.add_argument("id", type=int, help="the alert's number")
    s.add_argument("--outcome", required=True, choices=cases.OUTCOMES, help="what came of it")
    s.set_defaults(func=_case(cases.close, "outcome"))
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
    for action in ("ack", "note", "close", "assign", "review", "escalate"):
        users.add_as(alerts.choices[action])
