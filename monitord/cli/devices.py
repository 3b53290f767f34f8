"""``devices``: the school's device inventory."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitord.cli.context import Commands, Context, group
from monitord.cli.people import report_import


def cmd_devices_import(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.identity.roster import import_devices

    r = import_devices(ctx.engine, Path(args.csv), ctx.actor, ctx.now())
    report_import("devices", r)
    return 0


def register(commands: Commands) -> None:
    devices = group(commands, "devices", "the school's device inventory")
    s = devices.add_parser("import", help="import the inventory from CSV")
    s.add_argument("csv", help="device_id,mac,hostname,ownership,assigned_to")
    s.set_defaults(func=cmd_devices_import)
