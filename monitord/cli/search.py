"""``search`` (events that meet every filter) and ``timeline`` (one person's or device's
day); both audited with the operator and the reason."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime

from monitord.cli.context import SITE_HELP, Commands, Context, UserError
from monitord.cli.output import cell, err, out, safe_document
from monitord.core.terminal import printable_text


def when(
    ctx: Context, value: str | None, option: str, *, end_of_day: bool = False
) -> datetime | None:
    """A time option; with ``end_of_day`` a bare date (or today, yesterday) means the end of
    that day, so that ``--since 2026-11-19 --until 2026-11-19`` is the whole day."""
    from monitord.core.timeparse import parse_when

    if value is None:
        return None
    tz = ctx.cfg.tz
    try:
        moment = parse_when(value, tz, ctx.now())
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None
    bare = re.fullmatch(r"today|yesterday|\d{4}-\d{2}-\d{2}", value.strip().lower())
    if end_of_day and bare:
        from monitord.casework.timeline import day_span

        return day_span(moment.astimezone(tz).date(), tz)[1]
    return moment


def cmd_search(ctx: Context, args: argparse.Namespace) -> int:
    """Events that meet every filter given; audited with the operator and the reason."""
    from rich.table import Table

    from monitord.casework.output import csv_text, json_text, local_time
    from monitord.casework.query import Query, parse_domain
    from monitord.casework.search import search

    cfg = ctx.cfg
    query = Query(
        user=args.user,
        ip=args.ip,
        device=args.device,
        domain=parse_domain(args.domain) if args.domain is not None else None,
        category=args.category,
        text=args.text,
        since=when(ctx, args.since, "--since"),
        until=when(ctx, args.until, "--until", end_of_day=True),
        limit=args.limit,
        context=args.context,
    )
    engine = ctx.store(ctx.site(args.site))
    result = search(
        engine,
        query,
        ctx.actor,
        args.reason,
        ctx.now(),
        require_reason=cfg.settings.search.require_reason,
        output=ctx.output,
    )
    note = (
        f"more events matched: these are the newest {query.limit:,} "
        "(narrow the search or raise --limit)"
        if result.more
        else ""
    )
    if args.json or args.csv:
        text = json_text if args.json else csv_text
        sys.stdout.write(safe_document(text(result.events, cfg.tz), args.json))
        if note:
            err.print(note, markup=False)
        return 0
    table = Table()
    for name in ("time", "person", "year", "device", "source", "category"):
        table.add_column(name, no_wrap=name == "time")
    table.add_column("indicator", overflow="fold", min_width=24)
    if query.context:
        table.add_column("")
    group = None
    for ev in result.events:
        if query.context and group is not None and ev.group != group:
            table.add_section()
        group = ev.group
        row = [
            cell(local_time(ev.ts, cfg.tz)),
            cell(ev.person),
            cell(ev.year_group),
            cell(ev.device or ev.ip),
            cell(ev.source),
            cell(ev.category),
            cell(ev.indicator, 80),
        ]
        if query.context:
            row.append(cell("<- match" if ev.match else ""))
        table.add_row(*row)
    out.print(table)
    out.print(f"{result.hits:,} matching event(s)" + (f"; {note}" if note else ""), markup=False)
    return 0


def cmd_timeline(ctx: Context, args: argparse.Namespace) -> int:
    """One person's or device's day, every source in time order; audited like a search."""
    from monitord.casework.output import csv_text, json_text
    from monitord.casework.timeline import render, timeline

    cfg = ctx.cfg
    if args.user is None and args.device is None:
        raise UserError("timeline needs --user U or --device D")
    moment = when(ctx, args.date, "--date")
    assert moment is not None  # --date has a default
    day = moment.astimezone(cfg.tz).date()
    engine = ctx.store(ctx.site(args.site))
    events = timeline(
        engine,
        day,
        cfg.tz,
        ctx.actor,
        args.reason,
        ctx.now(),
        user=args.user,
        device=args.device,
        require_reason=cfg.settings.search.require_reason,
        output=ctx.output,
    )
    if args.json or args.csv:
        text = json_text if args.json else csv_text
        sys.stdout.write(safe_document(text(events, cfg.tz), args.json))
        return 0
    who = " on ".join(x for x in (args.user, args.device) if x)
    flagged = sum(1 for ev in events if ev.flagged)
    out.print(
        f"{who}, {day:%A %d %B %Y}: {len(events):,} event(s), {flagged:,} flagged (!)",
        markup=False,
    )
    lines = render(events, cfg.tz, by_user=args.user is not None)
    sys.stdout.write(printable_text("\n".join(lines) + "\n"))
    return 0


REASON_HELP = (
    "why you are looking (kept in the audit trail; required unless [search] require_reason = false)"
)


def _output_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--reason", help=REASON_HELP)
    s.add_argument("--site", metavar="ID", help=SITE_HELP)
    fmt = s.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the events as JSON")
    fmt.add_argument("--csv", action="store_true", help="print the events as CSV")


def register(commands: Commands) -> None:
    s = commands.add_parser("search", help="ad-hoc search of the stored events (audited)")
    s.add_argument("--user", metavar="U", help="the person's user name")
    s.add_argument("--ip", metavar="IP", help="the client address")
    s.add_argument("--device", metavar="D", help="the device id (or its host name)")
    s.add_argument(
        "--domain", metavar="D", help="a name, or *.example.com for it and every name under it"
    )
    s.add_argument("--category", metavar="C", help="the category an event was flagged with")
    s.add_argument(
        "--text", metavar="T", help="a substring of the URL, search term or typed text (any case)"
    )
    s.add_argument("--since", metavar="T", help="e.g. 2026-11-19, today 10:00, yesterday, 2h")
    s.add_argument("--until", metavar="T", help="a date alone means the end of that day")
    s.add_argument(
        "--limit", type=int, default=100, metavar="N", help="the newest N matches (default 100)"
    )
    s.add_argument(
        "--context",
        type=int,
        default=0,
        metavar="N",
        help="also the N events before and after each match from the same device",
    )
    _output_options(s)
    s.set_defaults(func=cmd_search)

    s = commands.add_parser("timeline", help="one person's or device's whole day (audited)")
    s.add_argument("--user", metavar="U", help="the person's user name")
    s.add_argument("--device", metavar="D", help="the device id (or its host name)")
    s.add_argument("--date", default="today", metavar="D", help="the day (default today)")
    _output_options(s)
    s.set_defaults(func=cmd_timeline)
