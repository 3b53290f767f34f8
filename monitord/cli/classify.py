"""``classify``: how a domain, URL or text is classified and what policy does with it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from monitord.cli.context import Commands, Context, UserError, json_option
from monitord.cli.output import out, print_json


def cmd_classify(ctx: Context, args: argparse.Namespace) -> int:
    """Explain one domain, URL or text; ``-``: one JSON line per stdin line."""
    from monitord.classify.engine import Classifier
    from monitord.classify.explain import Explainer
    from monitord.classify.lists import STARTER_LISTS, load_index
    from monitord.classify.policy import policy_of
    from monitord.classify.sentences import render
    from monitord.classify.storefacts import person_on_roster, school_filter
    from monitord.core.timeparse import parse_when

    cfg, engine = ctx.cfg, ctx.engine
    policy = policy_of(cfg)
    now = ctx.now()
    at = parse_when(args.at, cfg.tz, now) if args.at else now
    person = None
    if args.user:
        person = person_on_roster(engine, args.user)
        if person is None:
            raise UserError(
                f"--user {args.user}: no one with that user name on the roster "
                "(monitord people import CSV)"
            )
    classifier = Classifier(load_index(engine, STARTER_LISTS, cfg.lists_dir))
    rcpt = cfg.settings.recipients

    def addresses(lists: tuple[str, ...]) -> list[str]:
        return [a for name in lists for a in getattr(rcpt, name, [])]

    explained: list[Callable[[str], dict[str, Any]]] = []

    def text(item: str) -> dict[str, Any]:
        # The phrase lists and the text judge (lexicons, learned model: about a second of
        # CPU to load) are read when the first text arrives: a stream of domains and URLs,
        # as a proxy's day or bench/classify_vs_squidguard.sh gives, never needs them.
        if not explained:
            from monitord.classify.content import text_explainer
            from monitord.classify.e2guardian import load_phrase_lists
            from monitord.classify.phrases import DEFAULT_PHRASES, load_engine

            phrases = load_engine(DEFAULT_PHRASES, load_phrase_lists(engine))
            explained.append(text_explainer(phrases, policy, person, at, addresses))
        return explained[0](item)

    explainer = Explainer(classifier, policy, person, at, rcpt, text=text)
    if args.thing == "-":
        explainer.stream(sys.stdin.buffer, sys.stdout)
        sys.stdout.flush()
        return 0
    result = explainer.explain(args.thing)
    result["filter"] = school_filter(engine, result.get("host"))
    if args.json:
        print_json(result)
    else:
        for line in render(result):
            out.print(line, markup=False)
    return 0


def register(commands: Commands) -> None:
    s = commands.add_parser(
        "classify", help="how a domain, URL or text is classified and what policy does with it"
    )
    s.add_argument("thing", metavar="THING", help="a domain, URL or text; - reads stdin")
    s.add_argument("--user", help="judge it for this person on the roster")
    s.add_argument("--at", help="judge it at this time (default: now)")
    json_option(s, "the explanation")
    s.set_defaults(func=cmd_classify)
