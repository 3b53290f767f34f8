"""The policy's category ids: TAXONOMY.md's, each with a name for people, the technical
ones apart, and the public lists mapped onto them."""

from __future__ import annotations

import re

from monitord.core.categories import (
    ALLOW,
    CATEGORIES,
    ILLEGAL,
    NAMES,
    TECHNICAL,
    UT1_MAP,
    is_category,
)
from tests.conftest import SHARED

TAXONOMY = SHARED / "TAXONOMY.md"


def _table(header: str) -> list[list[str]]:
    text = TAXONOMY.read_text(encoding="utf-8")
    rows = text[text.index(header) :].splitlines()[2:]
    out = []
    for row in rows:
        if not row.startswith("|"):
            break
        out.append([cell.strip() for cell in row.strip("|").split("|")])
    return out


def test_the_ids_are_the_taxonomys_in_its_order() -> None:
    ids = [re.sub(r"`", "", row[0]) for row in _table("| id | what it covers |")]
    assert list(CATEGORIES) == ids
    assert len(set(CATEGORIES)) == len(CATEGORIES)


def test_the_illegal_ones_are_those_the_taxonomy_calls_illegal() -> None:
    illegal = {re.sub(r"`", "", r[0]) for r in _table("| id | what it covers |") if r[2] == "yes"}
    assert illegal == ILLEGAL


def test_ut1_lists_map_as_the_taxonomy_says() -> None:
    for source, lists, category in _table("| source | list | category |"):
        if source != "UT1":
            continue
        for name in (n.strip() for n in lists.split(",")):
            assert UT1_MAP[name] == category, name
    assert all(is_category(c) or c == ALLOW for c in UT1_MAP.values())


def test_is_category() -> None:
    assert is_category("gambling")
    assert not is_category(ALLOW)
    assert not is_category("Gambling")


def test_every_category_has_a_name_and_no_name_is_left_over() -> None:
    assert set(NAMES) == set(CATEGORIES)
    assert all(name.strip() and name[0].isupper() for name in NAMES.values())


def test_technical_and_illegal_categories_are_categories_and_apart() -> None:
    assert all(is_category(c) for c in TECHNICAL | ILLEGAL)
    assert not TECHNICAL & ILLEGAL
    assert not is_category("technical")
