"""``categories``: the category ids of the acceptable use policy, with their names."""

from __future__ import annotations

import argparse

from monitord.cli.context import Commands, Context, json_option
from monitord.cli.output import print_json
from monitord.cli.tables import Column, print_table
from monitord.core.categories import CATEGORIES, ILLEGAL, NAMES, TECHNICAL


def _kind(category: str) -> str:
    if category in ILLEGAL:
        return "illegal: always critical"
    if category in TECHNICAL:
        return "technical: ack or close several at once"
    return "-"


def cmd_categories(ctx: Context, args: argparse.Namespace) -> int:
    if args.json:
        print_json(
            [
                {
                    "id": c,
                    "name": NAMES[c],
                    "illegal": c in ILLEGAL,
                    "technical": c in TECHNICAL,
                }
                for c in CATEGORIES
            ]
        )
        return 0
    print_table(
        [Column("id", whole=True), Column("name"), Column("note")],
        ((c, NAMES[c], _kind(c)) for c in CATEGORIES),
    )
    return 0


def register(commands: Commands) -> None:
    s = commands.add_parser(
        "categories", help="the category ids (for --category, the policy and lists) and names"
    )
    json_option(s, "the categories")
    s.set_defaults(func=cmd_categories, stateless=True)
