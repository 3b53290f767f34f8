"""``check-filtering``: look names of each category up through the school's filter, and
record the check."""

from __future__ import annotations

import argparse
import re

from monitord.cli.context import Commands, Context, UserError, json_option
from monitord.cli.output import out, print_json


def cmd_check_filtering(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.casework import filtercheck
    from monitord.casework.dnsquery import parse_server
    from monitord.classify.lists import STARTER_LISTS, sample_names

    engine = ctx.engine
    resolver = args.resolver
    if resolver is None and args.proxy is None:
        resolver = filtercheck.system_resolver()
        if resolver is None:
            raise UserError("no --resolver given and none in /etc/resolv.conf")
    try:
        server = parse_server(resolver) if resolver else None
    except ValueError as exc:
        raise UserError(f"--resolver: {exc}") from None
    if args.proxy and not re.match(r"^https?://[^/\s]+/?$", args.proxy):
        raise UserError(f"--proxy: expected http://HOST:PORT, got {args.proxy!r}")
    probes = filtercheck.probes(sample_names(engine, STARTER_LISTS, max(1, args.per_category)))
    report = filtercheck.run_check(
        probes, resolver=server, proxy=args.proxy, by=ctx.actor, now=ctx.now()
    )
    filtercheck.record(engine, report)
    if args.json:
        print_json(report.as_json())
    else:
        for line in filtercheck.render(report):
            out.print(line, markup=False)
    return 0 if report.usable else 1


def register(commands: Commands) -> None:
    s = commands.add_parser(
        "check-filtering", help="test the school's filter per category and record the check"
    )
    s.add_argument(
        "--resolver", metavar="ADDR", help="the school's resolver (default: this host's)"
    )
    s.add_argument(
        "--proxy", metavar="URL", help="the school's web proxy, e.g. http://10.0.0.2:3128"
    )
    s.add_argument("--per-category", type=int, default=3, metavar="N", help="names per category")
    json_option(s, "the check")
    s.set_defaults(func=cmd_check_filtering)
