"""The store itself: ``db upgrade`` (its schema), ``backup``, ``retention run``."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitord.cli.context import Commands, Context, group, json_option
from monitord.cli.output import out, print_json


def cmd_db_upgrade(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.cli.users import encrypt_totp_secrets
    from monitord.store.database import for_site, make_engine, upgrade

    # Not ctx.engine: that refuses a store whose schema is behind, which is what this mends.
    # For this school: a migration may give rows written before it this school's site.
    engine = for_site(make_engine(ctx.cfg.database_url), ctx.cfg.site_id)
    before, after = upgrade(engine)
    engine.dispose()
    out.print(f"database schema: {before or 'empty'} -> {after}")
    encrypt_totp_secrets(ctx)
    return 0


def cmd_backup(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.casework.rights import backup
    from monitord.store.database import audit

    engine = ctx.engine
    size = backup(engine, Path(args.output))
    with engine.begin() as conn:
        detail = {"bytes": size}
        audit(conn, ctx.actor, "store.backup", str(Path(args.output).resolve()), detail)
    out.print(f"backed up the store to {args.output} ({size:,} bytes)", markup=False)
    return 0


# Which retention period each kind of record is kept for.
_KEPT_BY = {"alerts": "alerts", "alert_events": "alerts", "outbox": "alerts"}
_KEPT_BY |= {"rejected": "rejected", "audit": "audit"}


def cmd_retention_run(ctx: Context, args: argparse.Namespace) -> int:
    """Remove what has been kept long enough now (the daemon does it daily); audited."""
    from rich.table import Table

    from monitord.store.retention import run_retention

    result = run_retention(ctx.engine, ctx.cfg, ctx.now(), ctx.actor, dry_run=args.dry_run)
    if args.json:
        print_json(result.as_json())
        return 0
    verb = "would remove" if args.dry_run else "removed"
    table = Table("kind", verb, "older than")
    for kind, n in result.removed.items():
        table.add_row(kind, f"{n:,}", result.cutoffs[_KEPT_BY.get(kind, "events")])
    out.print(table)
    if not args.dry_run:
        out.print(
            f"{result.transactions} transaction(s), the longest "
            f"{result.longest_transaction * 1000:.0f} ms (recorded in the audit trail)"
        )
    return 0


def register(commands: Commands) -> None:
    actions = group(commands, "db", "the store's schema (tables and indexes)")
    actions.add_parser(
        "upgrade", help="bring the store's schema up to this version of monitord"
    ).set_defaults(func=cmd_db_upgrade)

    s = commands.add_parser("backup", help="a consistent copy of the store, while it runs")
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="the copy to write")
    s.set_defaults(func=cmd_backup)

    actions = group(commands, "retention", "remove what has been kept long enough ([retention])")
    s = actions.add_parser("run", help="run retention now (the daemon runs it daily)")
    s.add_argument("--dry-run", action="store_true", help="count what would go; remove nothing")
    json_option(s, "what was removed")
    s.set_defaults(func=cmd_retention_run)
