"""Getting going: ``init`` (a working config), ``run`` (the daemon), ``demo``."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitord.cli.context import Commands, Context
from monitord.cli.output import out


def cmd_init(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.service.initdir import init_dir
    from monitord.settings.config import load_config
    from monitord.store.database import open_store

    written = init_dir(Path(args.dir))
    for p in written:
        out.print(f"wrote {p}")
    cfg = load_config(written[0])
    open_store(cfg.database_url, site=cfg.site_id).dispose()
    out.print(f"created the store at {cfg.database_url}")
    return 0


def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.service.daemon import run_daemon

    return run_daemon(ctx.cfg, args.log_format)


def cmd_demo(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.service.demo import run_demo

    return run_demo(Path(args.dir))


def register(commands: Commands) -> None:
    s = commands.add_parser("init", help="write a working config and its folders into DIR")
    s.add_argument("dir", help="the folder to write into (made if missing)")
    s.set_defaults(func=cmd_init, stateless=True)

    s = commands.add_parser("run", help="the daemon: follow the configured sources")
    s.set_defaults(func=cmd_run)

    s = commands.add_parser("demo", help="a realistic school day through the whole pipeline")
    s.add_argument(
        "--dir", default="var/demo", help="where the demo school is built (default var/demo)"
    )
    s.set_defaults(func=cmd_demo, stateless=True)
