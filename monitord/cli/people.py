"""``people``: the roster of pupils and staff (imported from the school's MIS export,
listed with filters)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from monitord.cli.context import Commands, Context, group, json_option
from monitord.cli.output import audit_read, out, print_json
from monitord.cli.tables import Column, print_table
from monitord.identity.roster import ROLES

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


def cmd_people_list(ctx: Context, args: argparse.Namespace) -> int:
    """The roster as the store holds it (a read of personal data: audited)."""
    from monitord.identity.inventory import PeopleFilter, list_people
    from monitord.store.database import site_of

    where = PeopleFilter(args.role, args.year, args.class_name, args.find, args.all)
    people = list_people(ctx.engine, where)
    detail = {"output": ctx.output, "people": len(people)}
    detail |= {k: v for k, v in asdict(where).items() if v}
    audit_read(ctx, ctx.engine, "people.list", f"site:{site_of(ctx.engine)}", detail)
    if args.json:
        print_json([p.as_json() for p in people])
        return 0
    columns = [
        Column("username", whole=True),
        Column("name"),
        Column("role"),
        Column("year", whole=True),
        Column("class"),
        Column("email"),
    ]
    if args.all:
        columns.append(Column("on roster"))
    rows = []
    for listed in people:
        p = listed.entry
        row = [p.username, p.display_name, p.role, p.year_group, p.class_name, p.email]
        rows.append([*row, "yes" if listed.active else "no, left"] if args.all else row)
    print_table(columns, rows)
    out.print(f"{len(people):,} people", markup=False)
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
    s = people.add_parser("list", help="the people on the roster, with filters (audited)")
    s.add_argument("--role", choices=ROLES, help="only people of this role")
    s.add_argument("--year", metavar="Y", help="only this year group, e.g. 6 or R")
    s.add_argument("--class", dest="class_name", metavar="C", help="only this class, e.g. 6B")
    s.add_argument("--find", metavar="TEXT", help="a part of the user name or the name")
    s.add_argument("--all", action="store_true", help="those who have left the roster too")
    json_option(s, "the people")
    s.set_defaults(func=cmd_people_list)
