"""``devices``: the school's device inventory (imported from CSV, listed with filters)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from monitord.cli.context import Commands, Context, group, json_option
from monitord.cli.output import audit_read, out, print_json
from monitord.cli.people import report_import
from monitord.cli.tables import Column, print_table
from monitord.identity.roster import OWNERSHIP


def cmd_devices_import(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.identity.roster import import_devices

    r = import_devices(ctx.engine, Path(args.csv), ctx.actor, ctx.now())
    report_import("devices", r)
    return 0


def cmd_devices_list(ctx: Context, args: argparse.Namespace) -> int:
    """The inventory as the store holds it; who a device is assigned to is personal data,
    so the read is audited."""
    from monitord.identity.inventory import DeviceFilter, list_devices
    from monitord.store.database import site_of

    where = DeviceFilter(args.ownership, args.assigned_to, args.unassigned, args.find, args.all)
    devices = list_devices(ctx.engine, where)
    detail = {"output": ctx.output, "devices": len(devices)}
    detail |= {k: v for k, v in asdict(where).items() if v}
    audit_read(ctx, ctx.engine, "devices.list", f"site:{site_of(ctx.engine)}", detail)
    if args.json:
        print_json([d.as_json() for d in devices])
        return 0
    columns = [
        Column("device", whole=True),
        Column("mac", whole=True),
        Column("host name"),
        Column("ownership"),
        Column("assigned to"),
        Column("address", whole=True),
        Column("location"),
    ]
    if args.all:
        columns.append(Column("in inventory"))
    rows = []
    for listed in devices:
        d = listed.entry
        row = [d.device_id, d.mac, d.hostname, d.ownership, d.assigned_to, d.ip, d.location]
        rows.append([*row, "yes" if listed.active else "no, gone"] if args.all else row)
    print_table(columns, rows)
    out.print(f"{len(devices):,} devices", markup=False)
    return 0


def register(commands: Commands) -> None:
    devices = group(commands, "devices", "the school's device inventory")
    s = devices.add_parser("import", help="import the inventory from CSV")
    s.add_argument("csv", help="device_id,mac,hostname,ownership,assigned_to")
    s.set_defaults(func=cmd_devices_import)
    s = devices.add_parser("list", help="the devices in the inventory, with filters (audited)")
    s.add_argument("--ownership", choices=OWNERSHIP, help="only devices owned so")
    who = s.add_mutually_exclusive_group()
    who.add_argument("--assigned-to", metavar="USER", help="only devices assigned to USER")
    who.add_argument("--unassigned", action="store_true", help="only devices assigned to no one")
    s.add_argument("--find", metavar="TEXT", help="a part of the id, host name, MAC or address")
    s.add_argument("--all", action="store_true", help="devices no longer in the inventory too")
    json_option(s, "the devices")
    s.set_defaults(func=cmd_devices_list)
