"""The formats' names come from the parser registry, the entry points pyproject declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

from monitord.settings.config import Source
from monitord.settings.formats import OPTION_KEYS, PARSER_GROUP, format_names

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_the_names_are_the_declared_entry_points_sorted() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"][PARSER_GROUP]
    assert format_names() == tuple(sorted(declared))


def test_a_sources_options_are_the_option_keys_it_sets() -> None:
    assert set(OPTION_KEYS) <= set(Source.model_fields)
    plain = Source(name="a", format="dnsmasq", path="a.log")
    assert plain.options() == {}
    dated = Source(name="b", format="windows-dns", path="b.log", date_order="dmy")
    assert dated.options() == {"date_order": "dmy"}
