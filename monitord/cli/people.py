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
    roster = ctx.cfg.settings.roster
    r = import_people(
        ctx.engine,
        Path(args.csv),
        ctx.actor,
        ctx.now(),
        roster,
        scope=args.scope,
        merge=args.merge,
    )
    report_import("people", r)
    return 0


def register(commands: Commands) -> None:
    people = group(commands, "people", "the roster of pupils and staff")
    s = people.add_parser("import", help="import the roster from the MIS's CSV export")
    s.add_argument("csv", help="the CSV file ([roster] names its columns)")
    how = s.add_mutually_exclusive_group()
    how.add_argument(
        "--scope",
        choices=("pupils", "staff"),
        help="the file lists only the pupils (or only the staff: staff, headteacher, "
        "governors, volunteers, supply): only people of that kind missing from it have "
        "left; a row of another role is refused",
    )
    how.add_argument(
        "--merge",
        action="store_true",
        help="add and update the people in the file; no one is marked as having left",
    )
    s.set_defaults(func=cmd_people_import)
