"""``agents``: the endpoint agents that push reports, and their tokens."""

from __future__ import annotations

import argparse
import sys

from monitord.cli.context import Commands, Context, group
from monitord.cli.output import out


def cmd_agents_add(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.identity.agents import add_agent

    token = add_agent(ctx.engine, args.name, ctx.actor, ctx.now(), args.device)
    out.print(
        f"agent {args.name} added for device {args.device}. Its token, shown this once "
        "(put it in the agent's configuration):",
        markup=False,
    )
    sys.stdout.write(token + "\n")
    return 0


def cmd_agents_revoke(ctx: Context, args: argparse.Namespace) -> int:
    from monitord.identity.agents import revoke_agent

    revoke_agent(ctx.engine, args.name, ctx.actor, ctx.now())
    out.print(f"agent {args.name}: token revoked", markup=False)
    return 0


def cmd_agents_list(ctx: Context, args: argparse.Namespace) -> int:
    from rich.table import Table

    from monitord.identity.agents import list_agents

    table = Table("agent", "device", "added", "by", "revoked", "last seen")
    for a in list_agents(ctx.engine):
        table.add_row(
            a.name,
            a.device_id or "none: enrol again with --device",
            str(a.created_at)[:19],
            a.created_by,
            str(a.revoked_at)[:19] if a.revoked_at else "-",
            str(a.last_seen_at)[:19] if a.last_seen_at else "never",
        )
    out.print(table)
    return 0


def register(commands: Commands) -> None:
    agents = group(commands, "agents", "endpoint agents that push reports")
    s = agents.add_parser("add", help="enrol an agent and print its token, once")
    s.add_argument("name", help="a name for the agent")
    s.add_argument(
        "--device",
        required=True,
        help="the device (from the devices file) the agent runs on and reports for",
    )
    s.set_defaults(func=cmd_agents_add)
    s = agents.add_parser("revoke", help="revoke an agent's token")
    s.add_argument("name", help="the agent's name")
    s.set_defaults(func=cmd_agents_revoke)
    agents.add_parser("list", help="every agent, its device and when last seen").set_defaults(
        func=cmd_agents_list
    )
