"""The parser registry and what a parser says it needs: the one list of formats, which the
README's table must follow."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError

import pytest

from collectors.parsers.base import (
    TEXT,
    LineParser,
    Needs,
    Option,
    StatefulParser,
    UnknownFormat,
    available_formats,
    load_parser,
    option_problems,
)
from monitord.core.model import SKIP, Parsed
from monitord.settings.formats import OPTION_KEYS
from tests.collectors.parsers.fixturelines import CTX
from tests.conftest import ROOT

ORDER = Option("order", ("ab", "ba"), "ab", "which comes first")
FEEDS = {"path", "listen", "interface", *OPTION_KEYS}


def _skip(line: str, ctx: object) -> Parsed:
    return SKIP


def test_every_registered_format_loads_and_answers_to_its_name() -> None:
    for fmt in available_formats():
        parser = load_parser(fmt)
        assert parser.fmt == fmt
        assert isinstance(parser.needs, Needs)
        assert parser.configured({}) == parser


def test_an_unknown_format_names_those_there_are() -> None:
    with pytest.raises(
        UnknownFormat, match=r"no parser for format 'nope' \(this installation has: adguard, "
    ):
        load_parser("nope")


def test_needs_say_which_options_a_format_takes() -> None:
    needs = Needs(options=(ORDER,))
    assert needs.option("order") is ORDER
    assert needs.option("date_order") is None
    assert Needs(binary=False, listened=True, options=()) == TEXT
    with pytest.raises(FrozenInstanceError):
        needs.binary = True  # type: ignore[misc]


def test_option_problems_name_the_key_and_what_is_accepted() -> None:
    needs = Needs(options=(ORDER,))
    assert option_problems(needs, {"order": "ba"}) == []
    assert option_problems(needs, {"order": "b", "colour": "red"}) == [
        ("order", "expected one of ab, ba (which comes first), not 'b'"),
        ("colour", "this format takes no such option"),
    ]
    assert option_problems(TEXT, {}) == []


def test_the_plain_parsers_take_no_options_and_are_set_up_as_they_are() -> None:
    line = LineParser("x", _skip)
    stateful = StatefulParser("y", lambda: line)
    assert line.needs is TEXT
    assert stateful.needs is TEXT
    assert line.configured({}) is line
    assert stateful.configured({}) is stateful
    assert stateful.session().parse("anything", CTX) == SKIP


def _readme_formats() -> dict[str, set[str]]:
    """The README's format table: each format named in a row, and the source keys its
    'fed by' column names."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text.index("| format | fed by | reads |")
    rows: dict[str, set[str]] = {}
    for row in text[head:].splitlines()[2:]:
        if not row.startswith("|"):
            break
        names, fed_by = row.split(" | ")[:2]
        keys = set(re.findall(r"`([a-z_]+)`", fed_by)) & FEEDS
        for name in re.findall(r"`([a-z0-9-]+)`", names):
            rows[name] = keys
    return rows


def test_the_readme_table_lists_exactly_the_registered_formats_and_what_feeds_them() -> None:
    rows = _readme_formats()
    assert sorted(rows) == available_formats()
    for fmt, keys in rows.items():
        needs = load_parser(fmt).needs
        expected = {"path"} | {o.key for o in needs.options}
        expected |= {"listen"} if needs.listened else set()
        expected |= {"interface"} if needs.binary else set()
        assert keys == expected, fmt
