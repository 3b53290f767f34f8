"""``config check``: every problem of the config and its policy in one run."""

from __future__ import annotations

import argparse

from monitord.cli.context import Commands, Context, group
from monitord.cli.output import err, out


def cmd_config_check(ctx: Context, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from monitord.classify.policy import load_policy, policy_named_in
    from monitord.settings.config import ConfigError, config_warnings, find_config, load_config

    path = find_config(ctx.config_path)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        # The policy file is checked all the same, so that one run names every problem.
        problems = list(exc.problems)
        try:
            load_policy(policy_named_in(path), ZoneInfo("UTC"))
        except ConfigError as more:
            problems += more.problems
        raise ConfigError(problems) from None
    load_policy(cfg.policy_file, cfg.tz)
    empty = [k for k in ("dsl", "headteacher") if not getattr(cfg.settings.recipients, k)]
    for k in empty:
        err.print(f"warning: recipients.{k} is empty: alerts for it will not be mailed")
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
