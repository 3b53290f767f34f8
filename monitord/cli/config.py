"""``config check``: every problem of the config and its policy in one run."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from monitord.cli.context import Commands, Context, group
from monitord.cli.output import err, out


def _sources_table(path: Path) -> object:
    """The config document's ``sources`` as written (None where it cannot be read: the
    config's own check names why)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get("sources")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def cmd_config_check(ctx: Context, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from monitord.classify.policy import load_policy, policy_named_in
    from monitord.service.formats import sources_problems
    from monitord.settings.config import (
        Config,
        ConfigError,
        config_warnings,
        find_config,
        load_config,
    )

    path = find_config(ctx.config_path)
    # Every part is checked whatever the others say, so that one run names every problem:
    # the config, each source against its format's parser, the policy.
    problems: list[str] = []
    cfg: Config | None = None
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        problems += exc.problems
    problems += [f"{path.name}: {p}" for p in sources_problems(_sources_table(path))]
    try:
        if cfg is None:
            load_policy(policy_named_in(path), ZoneInfo("UTC"))
        else:
            load_policy(cfg.policy_file, cfg.tz)
    except ConfigError as more:
        problems += more.problems
    if problems or cfg is None:
        raise ConfigError(problems)
    empty = [k for k in ("dsl", "headteacher") if not getattr(cfg.settings.recipients, k)]
    for k in empty:
        err.print(f"warning: recipients.{k} is empty: alerts for it will not be mailed")
    if not cfg.settings.recipients.technician:
        err.print(
            "warning: recipients.technician is empty: monitoring gaps"
            + ("" if cfg.settings.alerts.unauthorised_devices_to == "dsl" else " and devices")
            + " will not be mailed to anyone technical",
            markup=False,
        )
    for line in config_warnings(cfg):
        err.print(line, markup=False)
    if cfg.settings.service.user:
        from monitord.core.private import OwnerError, lookup_owner

        try:
            lookup_owner(cfg.settings.service.user)
        except OwnerError as exc:
            err.print(f"warning: {exc}: commands run as root refuse until it exists", markup=False)
    out.print(f"{cfg.path}: ok ({len(cfg.settings.sources)} sources)")
    return 0


def register(commands: Commands) -> None:
    actions = group(commands, "config", "the configuration file")
    actions.add_parser(
        "check", help="check the config and its policy; every problem with its key"
    ).set_defaults(func=cmd_config_check, stateless=True)
