"""``agents``: the endpoint agents that push reports, and their tokens."""

from __future__ import annotations

import argparse
import sys

from monitord.cli.context import Commands, Context, group
from monitord.cli.output import out
from monitord.cli.tables import Column, local_time, print_table


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
    from monitord.identity.agents import list_agents

    tz = ctx.cfg.tz
    columns = [Column("agent", whole=True), Column("device", whole=True)]
    columns += [Column("added", whole=True), Column("by"), Column("revoked", whole=True)]
    columns.append(Column("last seen", whole=True))
    print_table(
        columns,
        (
            (
                a.name,
                a.device_id or "none: enrol again with --device",
                local_time(a.created_at, tz),
                a.created_by,
                local_time(a.revoked_at, tz),
                local_time(a.last_seen_at, tz) or "never",
            )
            for a in list_agents(ctx.engine)
        ),
    )
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
