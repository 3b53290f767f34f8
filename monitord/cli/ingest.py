"""``ingest``: a one-shot backfill of plain or .gz log files through the pipeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitord.cli.context import Commands, Context, UserError, json_option
from monitord.cli.output import err, out, print_json
from monitord.settings.formats import OPTION_KEYS, format_names


def cmd_ingest(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.service.app import ingest_files, open_app
    from monitord.service.formats import parser_for

    cfg = ctx.cfg
    paths = [Path(p) for p in args.paths]
    missing = [f"{p}: file not found" for p in paths if not p.is_file()]
    if missing:
        raise UserError(*missing)
    options = {key: v for key in OPTION_KEYS if (v := getattr(args, key, None)) is not None}
    try:
        parser = parser_for(args.format, options)
    except ValueError as exc:
        raise UserError(f"--format {args.format}: {exc}") from None
    app = open_app(cfg, ctx.clock, backfill=args.backfill)
    result = ingest_files(app, paths, args.format, args.source or args.format, parser)
    summary = {
        "lines": result.lines,
        "events": result.events,
        "rejected": result.rejected,
        "skipped": result.skipped,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "alerts_opened": result.alerts_opened,
        "alerts_updated": result.alerts_updated,
    }
    if args.json:
        print_json(summary)
    else:
        out.print(
            f"{result.lines} lines: {result.events} events ({result.stored} new, "
            f"{result.duplicates} already stored), {result.skipped} without an event, "
            f"{result.rejected} rejected; alerts: {result.alerts_opened} opened, "
            f"{result.alerts_updated} updated (mail queued: monitord outbox flush)"
        )
        if args.backfill:
            quiet = cfg.settings.alerts.backfill_quiet_after.total_seconds() / 3600
            out.print(
                f"backfill: alerts about events more than {quiet:g} h old are recorded, not "
                "mailed ([alerts] backfill_quiet_after); critical ones are mailed"
            )
    if result.lines and result.rejected == result.lines:
        # Nothing could be read: most often the wrong --format for these files.
        err.print(
            f"no line was read: all {result.lines} were rejected as {args.format} "
            "(is --format right? the reasons are stored with the rejected lines)",
            markup=False,
        )
        return 1
    return 0


def register(commands: Commands) -> None:
    from monitord.service.formats import format_options

    formats = format_names()
    s = commands.add_parser("ingest", help="one-shot backfill of plain or .gz log files")
    s.add_argument("paths", nargs="+", metavar="PATH", help="log files, plain or .gz")
    s.add_argument(
        "--format",
        required=True,
        choices=formats,
        metavar="FMT",
        help="the log's format: " + ", ".join(formats),
    )
    s.add_argument("--source", help="source name (default: the format)")
    s.add_argument(
        "--backfill",
        action="store_true",
        help="old logs: store them and record their alerts, but mail no one about events "
        "older than [alerts] backfill_quiet_after (critical alerts are mailed)",
    )
    # A flag for each option a registered format takes, as its parser describes it.
    for key, (takers, option) in format_options().items():
        s.add_argument(
            "--" + key.replace("_", "-"),
            dest=key,
            choices=option.choices,
            help=f"{', '.join(takers)}: {option.about} (default: {option.default})",
        )
    json_option(s, "the counts")
    s.set_defaults(func=cmd_ingest)
