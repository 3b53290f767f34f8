"""``lists``: the category lists (import, show, remove, disable, enable, update). Changes are
audited and mailed to the headteacher."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from monitord.cli.context import Commands, Context, UserError, group
from monitord.cli.output import err, out
from monitord.cli.tables import Column, local_time, print_table

if TYPE_CHECKING:
    from monitord.classify.listadmin import Change


def cmd_lists_import(ctx: Context, args: argparse.Namespace) -> int:
    from rich.table import Table

    from monitord.classify.lists import read_plain, read_ut1, store_list, unusable_summary

    path = Path(args.path)
    now = ctx.now()
    if args.format == "e2guardian":
        return _import_phrase_lists(ctx, args, path, now)
    if args.format == "ut1":
        contents, skipped = read_ut1(path, args.name or "ut1")
    elif args.format == "hosts":
        from monitord.classify.hostsfile import read_hosts

        if not args.category:
            raise UserError("lists import --format hosts needs --category")
        content, skipped = read_hosts(path, args.category, args.name or path.stem)
        contents = [content]
    else:
        if not args.category:
            raise UserError(f"lists import --format {args.format} needs --category")
        contents = [read_plain(path, args.format, args.category, args.name or path.stem)]
        skipped = []
    table = Table("list", "category", "domains", "urls", "sha256")
    for c in contents:
        store_list(ctx.engine, ctx.cfg.lists_dir, c, ctx.actor, now)
        table.add_row(c.name, c.category, str(len(c.domains)), str(len(c.urls)), c.sha256[:12])
    out.print(table)
    for s in [*skipped, *(line for c in contents for line in unusable_summary(c))]:
        out.print(f"left out {s}", markup=False)
    _compile_lists(ctx)
    return 0


def _import_phrase_lists(ctx: Context, args: argparse.Namespace, path: Path, now: datetime) -> int:
    """e2guardian weighted and banned phrase lists, for the text of searches and typing; the
    daemon reads them when it starts."""
    from rich.table import Table

    from monitord.classify.e2guardian import import_e2guardian

    stored, skipped = import_e2guardian(
        ctx.engine,
        ctx.cfg.lists_dir,
        path,
        ctx.actor,
        now,
        name=args.name or "e2guardian",
        category=args.category,
    )
    table = Table("list", "category", "rules", "sha256")
    for plist, _version in stored:
        table.add_row(plist.name, plist.category, str(len(plist.rules)), plist.sha256[:12])
    out.print(table)
    for s in skipped:
        out.print(f"left out {s}", markup=False)
    return 0


def _compile_lists(ctx: Context) -> None:
    """Compile every active list into the index file the daemon maps at start-up."""
    from monitord.classify.lists import STARTER_LISTS, compile_index, has_no_imported

    cfg, engine = ctx.cfg, ctx.engine
    index_file, index = compile_index(engine, cfg.lists_dir, STARTER_LISTS)
    names = len(index.compiled)
    if index_file is None:
        why = "the starter lists only" if has_no_imported(engine) else "not writable"
        out.print(f"compiled {names:,} names in memory ({cfg.lists_dir}: {why})", markup=False)
    else:
        size = index_file.stat().st_size / 1e6
        out.print(f"compiled {names:,} names into {index_file} ({size:.1f} MB)", markup=False)


def cmd_lists_show(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.classify.listadmin import REMOVED, list_states

    columns = [Column("list"), Column("category"), Column("state", whole=True)]
    columns += [Column(n, whole=True, right=True) for n in ("domains", "urls", "expressions")]
    columns += [Column("imported", whole=True), Column("by")]
    with ctx.engine.connect() as conn:
        states = [s for s in list_states(conn) if s.state != REMOVED or args.all]
    print_table(
        columns,
        (
            (
                s.name,
                s.category,
                s.state,
                f"{s.counts.domains:,}",
                f"{s.counts.urls:,}",
                f"{s.counts.expressions:,}",
                local_time(s.changed_at, ctx.cfg.tz),
                s.changed_by,
            )
            for s in states
        ),
    )
    return 0


def _print_change(change: Change) -> None:
    b, a = change.before, change.after
    out.print(
        f"active lists {b.lists:,} -> {a.lists:,}, domains {b.domains:,} -> {a.domains:,}, "
        f"URLs {b.urls:,} -> {a.urls:,}, expressions {b.expressions:,} -> {a.expressions:,}"
    )


def cmd_lists_change(ctx: Context, args: argparse.Namespace) -> int:
    """``lists remove|disable|enable NAME``: audited, mailed to the headteacher."""
    from alerting.listmail import change_mailer
    from monitord.classify.listadmin import change_lists

    action = args.lists_command
    change, mailed = change_lists(
        ctx.engine, args.name, action, ctx.actor, ctx.now(), change_mailer(ctx.cfg)
    )
    for c in change.lists:
        out.print(f"{c.name} ({c.category}): {action}d", markup=False)
    for note in change.notes:
        out.print(note, markup=False)
    _print_change(change)
    _report_mail(mailed)
    _compile_lists(ctx)
    out.print("a running monitord picks the change up within a minute, without a restart")
    return 0


def cmd_lists_update(ctx: Context, args: argparse.Namespace) -> int:
    """``lists update [--source NAME]``: fetch, check and swap in the configured sources."""
    from alerting.listmail import change_mailer
    from monitord.classify.lists import STARTER_LISTS
    from monitord.classify.listupdate import run_update

    result = run_update(
        ctx.engine,
        ctx.cfg,
        ctx.actor,
        ctx.now(),
        mail=change_mailer(ctx.cfg),
        only=args.source,
        starter_dir=STARTER_LISTS,
    )
    for s in result.sources:
        (out if s.ok else err).print(
            f"{s.name}: {s.message}" if s.ok else f"{s.name}: refused: {s.message}", markup=False
        )
    if result.change is not None:
        _print_change(result.change)
        _report_mail(list(result.mailed))
        if result.index is not None:
            out.print(f"compiled index {result.index}", markup=False)
    return 1 if result.failed else 0


def _report_mail(mailed: list[str]) -> None:
    if mailed:
        out.print(
            f"change-control mail to {', '.join(mailed)} queued (sent by the daemon, or "
            "monitord outbox flush)",
            markup=False,
        )
    else:
        err.print(
            "recipients.headteacher is empty in the config: the change is audited but nobody "
            "was mailed, and the school's policy wants a second person to see it"
        )


def register(commands: Commands) -> None:
    lists = group(
        commands, "lists", "the category lists: import, inspect and change them (audited)"
    )
    s = lists.add_parser("import", help="import a list, or a UT1 folder of them")
    s.add_argument("path", help="the file, or the folder of a UT1 or e2guardian download")
    s.add_argument(
        "--format",
        required=True,
        choices=("ut1", "domains", "urls", "hosts", "e2guardian"),
        help="the list's format",
    )
    s.add_argument("--category", help="the category of a plain list (domains, urls, hosts)")
    s.add_argument("--name", help="the list's name (default: the file's)")
    s.set_defaults(func=cmd_lists_import)
    s = lists.add_parser("show", help="every list, its state and what it holds")
    s.add_argument("--all", action="store_true", help="removed lists too")
    s.set_defaults(func=cmd_lists_show)
    for action, text in (
        ("remove", "stop using a list and delete its stored copy (import it again to undo)"),
        ("disable", "stop using a list, keeping it to enable again"),
        ("enable", "use a disabled list again"),
    ):
        s = lists.add_parser(action, help=text)
        s.add_argument("name", help="a list's name, or a group of lists such as ut1")
        s.set_defaults(func=cmd_lists_change)
    s = lists.add_parser("update", help="fetch the [[list_updates.sources]] and swap them in")
    s.add_argument("--source", help="only the source of this name")
    s.set_defaults(func=cmd_lists_update)
