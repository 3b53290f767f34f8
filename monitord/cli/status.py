"""``status`` (how this monitord stands, on one page) and ``sources`` (each source's
position, lag, events and rejects)."""

from __future__ import annotations

import argparse

from monitord.cli.context import Commands, Context, json_option
from monitord.cli.output import out, print_json
from monitord.cli.tables import Column, print_table


def cmd_status(ctx: Context, args: argparse.Namespace) -> int:
    """Sources, mail waiting, open alerts, the last digest and retention run, the store."""
    from monitord.service.status import collect_status, render

    status = collect_status(ctx.cfg, ctx.engine, ctx.now())
    if args.json:
        print_json(status)
        return 0
    for line in render(status):
        out.print(line, markup=False)
    return 0


def cmd_sources(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.service.sources import passed_over_text, source_states

    states = source_states(ctx.cfg, ctx.engine)
    if args.json:
        print_json([s.as_json() for s in states])
        return 0
    columns = [Column("source"), Column("format"), Column("position", whole=True, right=True)]
    columns += [Column(n, whole=True, right=True) for n in ("lag", "lines", "events", "rejected")]
    columns += [Column("last event", whole=True), Column("file written", whole=True)]
    columns.append(Column("passed over"))
    listening = ("udp:", "tcp:", "tls:")
    print_table(
        columns,
        (
            (
                s.name,
                s.format,
                "-" if s.position is None else f"{s.position:,}",
                "-" if s.lag_bytes is None else f"{s.lag_bytes:,} B",
                f"{s.lines:,}",
                f"{s.events:,}",
                f"{s.rejected:,}",
                s.last_event_at or "-",
                s.last_written_at or ("-" if s.path.startswith(listening) else "missing"),
                passed_over_text(s),
            )
            for s in states
        ),
    )
    return 0


def register(commands: Commands) -> None:
    s = commands.add_parser(
        "status", help="sources, mail waiting, open alerts, last digest and retention, the store"
    )
    json_option(s, "the status")
    s.set_defaults(func=cmd_status)

    s = commands.add_parser("sources", help="each source's position, lag, events and rejects")
    json_option(s, "each source")
    s.set_defaults(func=cmd_sources)
