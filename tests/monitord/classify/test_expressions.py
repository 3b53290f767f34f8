"""squidGuard's URL expressions in Python: line by line as lists write them, POSIX classes, and
expressions that cannot be compiled."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitord.classify.expressions import compile_expression
from monitord.classify.hostindex import (
    IndexBuilder,
    ListInfo,
)
from tests.conftest import UT1


def test_expressions_line_by_line() -> None:
    b = IndexBuilder()
    lid = b.list_id(ListInfo("ut1/malware", "malware"))
    for line in (UT1 / "malware" / "expressions").read_text().splitlines():
        assert b.add_expression(lid, line)
    # A negated class can run over a line end; such a match stands for no line.
    assert b.add_expression(lid, "casino[^/]*poker")
    ix = b.build()
    text = "\n".join(
        [
            "1.2.3.4/search?q=12",  # 0: the UT1 expression
            "example.com/casino",  # 1: only with the next line
            "poker.example/",  # 2
            "casino-poker.example/",  # 3
            "1.2.3.4/search?q=12x",  # 4: anchored at the end
        ]
    )
    assert ix.expression_lines(text) == [0, 3]
    assert ix.expression_lines("") == []


def test_posix_classes_and_bad_expressions() -> None:
    rx = compile_expression("^[[:digit:]]+\\.[[:alpha:]]+$")
    assert rx.search("12.ab")
    assert not rx.search("12.a1")
    b = IndexBuilder()
    lid = b.list_id(ListInfo("x", "malware"))
    assert not b.add_expression(lid, "(unclosed")
    assert b.rejected
    assert "not a regular expression" in b.rejected[0]


ANCHORED = IndexBuilder()
_lid = ANCHORED.list_id(ListInfo("test/anchored", "malware"))
for _pattern in (
    (UT1 / "malware" / "expressions").read_text().strip(),
    "^[0-9]+\\.[0-9]+/x$",
    "^ab|cd$",
    "((^b.*a)|(a[^/]*c))",
    "^$",
):
    assert ANCHORED.add_expression(_lid, _pattern)
ANCHORED_INDEX = ANCHORED.build()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab.c/x19?q=searh", max_size=12), max_size=12))
def test_expression_lines_are_the_lines_that_match_alone(lines: list[str]) -> None:
    """Anchored alternatives (``^...``) are scanned for from newline to newline; every line
    found, and only those, matches on its own."""
    text = "\n".join(lines)
    alone = [
        i for i, line in enumerate(text.split("\n")) if ANCHORED_INDEX.expression_matches(line)
    ]
    assert ANCHORED_INDEX.expression_lines(text) == alone
