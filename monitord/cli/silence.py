"""``silence``: hold back the mail of alerts about a person or device for a while."""

from __future__ import annotations

import argparse

from monitord.cli.context import Commands, Context, UserError, group, json_option
from monitord.cli.output import out, print_json
from monitord.cli.tables import Column, print_table


def cmd_silence_add(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.casework.silences import SilenceError, add_silence
    from monitord.core.timeparse import parse_duration

    try:
        s = add_silence(
            ctx.engine,
            person=args.person,
            device=args.device,
            category=args.category,
            duration=parse_duration(args.duration),
            reason=args.reason,
            actor=ctx.actor,
            now=ctx.now(),
        )
    except SilenceError as exc:
        raise UserError(str(exc)) from None
    who = f"person {s.person}" if s.person else f"device {s.device}"
    what = s.category or "every category"
    until = s.expires_at.astimezone(ctx.cfg.tz).strftime("%a %d %b %H:%M")
    out.print(
        f"silence {s.id}: alerts about {who} in {what} are recorded but not mailed until "
        f"{until} (critical alerts are always mailed)",
        markup=False,
    )
    return 0


def cmd_silence_list(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.casework.silences import list_silences

    now = ctx.now()
    found = list_silences(ctx.engine, now, every=args.all)
    if args.json:
        print_json([s.as_json(now) for s in found])
        return 0
    columns = [Column("id", whole=True, right=True), Column("person"), Column("device", whole=True)]
    columns += [Column("category"), Column("until", whole=True), Column("by"), Column("reason")]
    columns.append(Column("state", whole=True))
    rows = []
    for s in found:
        ends = s.expired_at or s.expires_at
        state = "in force" if s.active(now) else "expired"
        if s.expired_by and not s.active(now):
            state = f"ended by {s.expired_by}"
        rows.append(
            (
                s.id,
                s.person,
                s.device,
                s.category or "all",
                ends.astimezone(ctx.cfg.tz).strftime("%Y-%m-%d %H:%M"),
                s.created_by,
                s.reason,
                state,
            )
        )
    print_table(columns, rows)
    return 0


def cmd_silence_expire(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.casework.silences import SilenceError, expire_silence

    try:
        expire_silence(ctx.engine, args.id, ctx.actor, ctx.now())
    except SilenceError as exc:
        raise UserError(str(exc)) from None
    out.print(f"silence {args.id} ended: alerts it covered are mailed again")
    return 0


def register(commands: Commands) -> None:
    silence = group(
        commands, "silence", "hold back the mail of alerts about a person or device for a while"
    )
    s = silence.add_parser("add", help="hold back the mail for a while")
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--person", metavar="USER", help="alerts about this person")
    who.add_argument("--device", metavar="DEVICE", help="alerts about this device")
    s.add_argument("--category", help="only alerts of this category (default: every one)")
    s.add_argument(
        "--for", dest="duration", required=True, metavar="DURATION", help="how long, e.g. 2h, 3d"
    )
    s.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    s.set_defaults(func=cmd_silence_add)
    s = silence.add_parser("list", help="the silences in force")
    s.add_argument("--all", action="store_true", help="expired and ended silences too")
    json_option(s, "the silences")
    s.set_defaults(func=cmd_silence_list)
    s = silence.add_parser("expire", help="end a silence now")
    s.add_argument("id", type=int, help="the silence's number")
    s.set_defaults(func=cmd_silence_expire)
