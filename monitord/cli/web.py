"""``web``: the safeguarding console, served until stopped (its own systemd unit)."""

from __future__ import annotations

import argparse
import logging

from monitord.cli.context import Commands, Context, UserError


def cmd_web(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.web.serve import ServeError, run_console

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run_console(ctx.cfg, ctx.clock)
    except ServeError as exc:
        raise UserError(str(exc)) from None


def register(commands: Commands) -> None:
    s = commands.add_parser(
        "web",
        help="serve the safeguarding console on [web] listen (HTTPS, or HTTP on loopback)",
        description="The safeguarding console: staff sign in with their account (monitord "
        "users add) to triage, review and record. HTTPS with [web] tls_cert and tls_key, or "
        "plain HTTP on loopback behind a reverse proxy that gives HTTPS.",
    )
    s.set_defaults(func=cmd_web)
