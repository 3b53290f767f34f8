"""The ``monitord`` command line. Exit codes: 0 ok, 1 bad input or config, 2 usage."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from monitord.cli import (
    agents,
    alerts,
    categories,
    classify,
    config,
    db,
    devices,
    digest,
    evidence,
    filtering,
    ingest,
    lists,
    outbox,
    people,
    review,
    search,
    silence,
    start,
    status,
    supply,
    users,
    web,
)
from monitord.cli.context import Context, UserError
from monitord.cli.output import err
from monitord.settings.config import Config, ConfigError

# Each module registers its own commands, in the order ``monitord --help`` lists them.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    start,
    status,
    ingest,
    alerts,
    search,
    classify,
    categories,
    lists,
    people,
    devices,
    supply,
    silence,
    agents,
    evidence,
    digest,
    outbox,
    config,
    db,
    filtering,
    review,
    users,
    web,
)


ABOUT = """\
monitord follows the school's DNS, proxy, firewall and endpoint logs, ties each event to a
device and a person, classifies it against the acceptable use policy and mails what needs a
person to the DSL (incidents about staff to the headteacher). Everything it sees is kept as
an evidence trail.

A technician sets it up with init, config check, people import and devices import, lists
import and run (or the systemd service); the DSL works the alerts with alerts list, show,
ack, note and close; search and timeline look at the logs (audited); status says how it
stands. Each command below has its own help: monitord COMMAND --help."""

AFTERWORD = """\
The config is --config PATH, else $MONITORD_CONFIG, ./config/monitord.toml or
/etc/monitord/monitord.toml. Exit status: 0 done, 1 bad input or config (one line for each
problem), 2 a command or option misused."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="monitord",
        description=ABOUT,
        epilog=AFTERWORD,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="PATH", help="the config file (see below)")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="the daemon's log lines on stderr: text (journald) or one JSON object each",
    )
    commands = p.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    output = "json" if getattr(args, "json", False) else "table"
    output = "csv" if getattr(args, "csv", False) else output
    ctx = Context(config_path=args.config, output=output)
    # What monitord writes holds personal data: nothing it creates is for other users,
    # whatever umask the shell (or sudo) passed on. systemd's unit says the same.
    umask = os.umask(0o077)
    try:
        return _run(ctx, args)
    finally:
        os.umask(umask)
        ctx.close()


def _prepare(ctx: Context, args: argparse.Namespace) -> tuple[Config, Any, list[Path]] | None:
    """Before a command: refuse to run as root where that would leave the service files it
    cannot open (OwnerError, with the fix); note the state folders not made yet."""
    from monitord.service.statefiles import missing_folders, owner_for

    if getattr(args, "stateless", False):
        return None  # works on no store of the config's: nothing to anchor or hand over
    try:
        cfg = ctx.cfg
    except ConfigError:
        return None  # the command itself says what is wrong
    return cfg, owner_for(cfg), missing_folders(cfg)


def _finish(
    ctx: Context, args: argparse.Namespace, prepared: tuple[Config, Any, list[Path]]
) -> None:
    """After a command that succeeded: the audit trail's anchor, and root's files handed to
    the service user."""
    from monitord.service.statefiles import finish

    cfg, owner, made = prepared
    words = [str(args.command)]
    words += [str(v) for k, v in vars(args).items() if k.endswith("_command") and v]
    why = "monitord " + " ".join(words)
    for line in finish(cfg, owner, why, ctx.now(), made):
        err.print(line, markup=False)


def _run(ctx: Context, args: argparse.Namespace) -> int:
    try:
        prepared = _prepare(ctx, args)
        code: int = args.func(ctx, args)
        if code == 0 and prepared is not None:
            _finish(ctx, args, prepared)
        return code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        lines = problems_of(exc)
        if lines is None:
            raise
    for line in lines:
        err.print(line, markup=False)
    return 1


def problems_of(exc: Exception) -> list[str] | None:
    """The lines to print for an error of bad input or config, or None for a fault of
    monitord's own (which keeps its traceback). The modules of the errors are imported only
    when a command fails, so that those only some commands use (the lists, with numpy) are
    imported by those."""
    from collectors.parsers.base import UnknownFormat
    from monitord.casework.accounts import AccountError
    from monitord.casework.cases import CaseError
    from monitord.casework.rights import RightsError
    from monitord.casework.totpkey import TotpKeyError
    from monitord.classify.lists import ListError
    from monitord.core.private import OwnerError
    from monitord.identity.agents import AgentError
    from monitord.identity.roster import ImportError_
    from monitord.service.initdir import InitError
    from monitord.store.database import SchemaError

    if isinstance(exc, UserError):
        return exc.lines
    if isinstance(exc, ConfigError | ImportError_):
        return list(exc.problems)
    one_line = (SchemaError, OwnerError, ListError, InitError, UnknownFormat, CaseError)
    accounts = (AccountError, TotpKeyError)
    if isinstance(exc, (*one_line, AgentError, RightsError, *accounts, ValueError)):
        return [str(exc)]
    return None


__all__ = ["main"]
