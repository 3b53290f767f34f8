"""What every command is given: the config (read on first use), the store (opened on first
use), the clock, who is acting and how the output is wanted; and the one error a command
raises for bad input."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from monitord.core.clock import Clock, SystemClock
from monitord.settings.config import Config, find_config, load_config
from monitord.store.database import ALL_SITES, open_store

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from monitord.casework.totpkey import TotpKey

# A group's list of actions, to which each command module adds its own.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

SITE_HELP = "another school's site id in a store schools share, or all for every school"


class UserError(Exception):
    """Bad input or config: monitord prints each line, no traceback, and exits 1."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


@dataclass
class Context:
    """One run of one command. Nothing is read or opened until a command asks for it, so
    that ``init`` and ``config check`` work where there is no config or store yet."""

    config_path: str | None = None
    clock: Clock = field(default_factory=SystemClock)
    output: str = "table"  # table, json or csv
    _cfg: Config | None = field(default=None, init=False, repr=False)
    _engines: dict[str, Engine] = field(default_factory=dict, init=False, repr=False)
    _actor: str | None = field(default=None, init=False, repr=False)
    _totp_key: TotpKey | None = field(default=None, init=False, repr=False)

    @property
    def cfg(self) -> Config:
        if self._cfg is None:
            self._cfg = load_config(find_config(self.config_path))
        return self._cfg

    @property
    def engine(self) -> Engine:
        """This school's store."""
        return self.store(self.cfg.site_id)

    def store(self, site: str) -> Engine:
        """The store as seen by ``site`` (``ALL_SITES``: every school's rows)."""
        if site not in self._engines:
            self._engines[site] = open_store(self.cfg.database_url, site=site)
        return self._engines[site]

    @property
    def totp_key(self) -> TotpKey:
        """The key the accounts' TOTP secrets are encrypted with (``[web] totp_key_file``)."""
        if self._totp_key is None:
            from monitord.casework.totpkey import TotpKey, key_file

            self._totp_key = TotpKey(key_file(self.cfg))
        return self._totp_key

    def site(self, value: str | None) -> str:
        """The school a view is of: ``--site ID``, every school with ``--site all``, or
        this one."""
        return ALL_SITES if value == "all" else (value or self.cfg.site_id)

    @property
    def actor(self) -> str:
        """Who the command's actions are recorded as: the login name of the real user id
        (root under sudo), never an environment variable."""
        if self._actor is None:
            from monitord.service.statefiles import login_name

            self._actor = login_name(os.getuid())
        return self._actor

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def json(self) -> bool:
        return self.output == "json"

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


Command = Callable[[Context, argparse.Namespace], int]


def group(commands: Commands, name: str, text: str) -> Commands:
    """A command group (``monitord NAME ACTION``) whose actions the caller adds."""
    parser = commands.add_parser(name, help=text, description=text)
    return parser.add_subparsers(
        title="actions", dest=f"{name}_command", required=True, metavar="ACTION"
    )


def json_option(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")
