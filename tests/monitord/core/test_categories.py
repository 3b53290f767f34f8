"""The category ids: each has a name for people, and the technical ones are ids."""

from __future__ import annotations

from monitord.core.categories import CATEGORIES, ILLEGAL, NAMES, TECHNICAL, is_category


def test_every_category_has_a_name_and_no_name_is_left_over() -> None:
    assert set(NAMES) == set(CATEGORIES)
    assert all(name.strip() and name[0].isupper() for name in NAMES.values())


def test_technical_and_illegal_categories_are_categories_and_apart() -> None:
    assert all(is_category(c) for c in TECHNICAL | ILLEGAL)
    assert not TECHNICAL & ILLEGAL
    assert not is_category("technical")
