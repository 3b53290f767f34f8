"""What a search asks, checked before anything is read: domains as people type them and
filters that cannot be used, each one line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitord.casework.query import Query, SearchError, parse_domain

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
D18 = datetime(2026, 11, 18, tzinfo=UTC)
D19 = datetime(2026, 11, 19, tzinfo=UTC)
FILLER = 1500  # staff intranet pages: more than the text index's queue holds


@pytest.mark.parametrize(
    ("typed", "name", "suffix"),
    [
        ("*.TikTok.com.", "tiktok.com", True),
        (".tiktok.com", "tiktok.com", True),
        ("https://www.tiktok.com/@someone", "www.tiktok.com", False),
        ("bücher.example", "xn--bcher-kva.example", False),
    ],
)
def test_domains_as_people_type_them(typed: str, name: str, suffix: bool) -> None:
    pattern = parse_domain(typed)
    assert (pattern.name, pattern.suffix) == (name, suffix)


@pytest.mark.parametrize("typed", ["tik*.com", "*", "a..b", "exa mple.com", ""])
def test_not_a_domain_says_what_is_expected(typed: str) -> None:
    with pytest.raises(SearchError, match="--domain"):
        parse_domain(typed)


def test_bad_filters_are_one_line_each() -> None:
    with pytest.raises(SearchError, match="--category 'gossip' is not a category"):
        Query(category="gossip")
    with pytest.raises(SearchError, match="--limit"):
        Query(limit=0)
    with pytest.raises(SearchError, match="--until must be later"):
        Query(since=D19, until=D18)
