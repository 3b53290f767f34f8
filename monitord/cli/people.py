"""``people``: the roster of pupils and staff, from the school's MIS export."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from monitord.cli.context import Commands, Context, group
from monitord.cli.output import out

if TYPE_CHECKING:
    from monitord.identity.roster import ImportResult


def report_import(kind: str, r: ImportResult) -> None:
    """What an import of the roster or the devices changed."""
    out.print(
        f"{kind}: {r.added} added, {r.updated} updated, {r.unchanged} unchanged, "
        f"{r.retired} no longer listed (kept, marked inactive)"
    )


def cmd_people_import(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.identity.roster import import_people

    # The export's column names come from [roster].
    r = import_people(ctx.engine, Path(args.csv), ctx.actor, ctx.now(), ctx.cfg.settings.roster)
    report_import("people", r)
    return 0


def register(commands: Commands) -> None:
    people = group(commands, "people", "the roster of pupils and staff")
    s = people.add_parser("import", help="import the roster from the MIS's CSV export")
    s.add_argument("csv", help="the CSV file ([roster] names its columns)")
    s.set_defaults(func=cmd_people_import)
