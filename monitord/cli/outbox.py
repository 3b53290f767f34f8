"""``outbox``: the mail waiting to go."""

from __future__ import annotations

import argparse

from monitord.cli.context import Commands, Context, group
from monitord.cli.output import out


def cmd_outbox_flush(ctx: Context, args: argparse.Namespace) -> int:
    import asyncio

    from alerting.delivery import EmailNotifier, deliver_due

    cfg, engine = ctx.cfg, ctx.engine
    notifier = EmailNotifier(cfg)
    result = asyncio.run(deliver_due(engine, cfg, ctx.clock, notifier, include_batched=True))
    out.print(f"sent {result.sent}, retrying {result.retrying}, failed {result.failed}")
    for w in result.where:
        out.print(f"  {w}", markup=False)
    if result.waiting:
        cap = cfg.settings.alerts.max_mails_per_hour
        out.print(
            f"{result.waiting} wait for the hourly cap ([alerts] max_mails_per_hour = {cap}): "
            "the daemon sends them as the hour allows, or flush again later"
        )
    return 0 if not result.failed else 1


def register(commands: Commands) -> None:
    outbox = group(commands, "outbox", "the mail waiting to go")
    outbox.add_parser(
        "flush",
        help="send every queued mail now, batched mail included, within the hourly cap "
        "(critical mail goes past it)",
    ).set_defaults(func=cmd_outbox_flush)
