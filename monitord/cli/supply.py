"""``supply``: supply and student teachers on shared logins, day by day."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from monitord.cli.context import Commands, Context, group
from monitord.cli.output import out


def _visit_day(ctx: Context, value: str | None) -> date:
    from monitord.core.timeparse import parse_when

    tz, now = ctx.cfg.tz, ctx.now()
    if not value:
        return now.astimezone(tz).date()
    return parse_when(value, tz, now).astimezone(tz).date()


def cmd_supply_checkin(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.identity.supply import checkin

    engine = ctx.engine
    day = _visit_day(ctx, args.date)
    v = checkin(engine, args.login, args.name, args.class_name, day, ctx.actor, ctx.now())
    out.print(
        f"{v.login} is {v.name} (covering {v.class_name}) on {v.day:%A %d %B %Y}: "
        "what that login does that day is attributed to them",
        markup=False,
    )
    return 0


def cmd_supply_import(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.identity.supply import import_visits

    n = import_visits(ctx.engine, Path(args.csv), ctx.actor, ctx.now(), ctx.cfg.tz)
    out.print(f"supply: {n} visit(s) recorded")
    return 0


def register(commands: Commands) -> None:
    supply = group(commands, "supply", "supply and student teachers on shared logins")
    s = supply.add_parser("checkin", help="who is using a shared supply login today")
    s.add_argument("login", help="the shared login, e.g. Supply1")
    s.add_argument("--name", required=True, help="the supply or student teacher's name")
    s.add_argument("--class", dest="class_name", required=True, help="the class they cover")
    s.add_argument("--date", help="the day (default today), e.g. 2026-11-19")
    s.set_defaults(func=cmd_supply_checkin)
    s = supply.add_parser("import", help="visits from CSV: login,name,class,date")
    s.add_argument("csv", help="the CSV file")
    s.set_defaults(func=cmd_supply_import)
