"""Search results for a person or a spreadsheet: nothing a pupil typed can drive a terminal
or run as a formula, every column in the CSV's order, times in the school's zone."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from monitord.casework.found import Found
from monitord.casework.output import COLUMNS, csv_text, json_text, local_time, printable

TZ = ZoneInfo("Europe/London")


def found(text: str | None = None, url: str | None = None) -> Found:
    return Found(
        id="ev1",
        stamp=datetime(2026, 7, 1, 9, 30, tzinfo=UTC),
        url=url,
        text=text,
        domain=None,
        source="agents",
        fmt="agent",
        kind="search" if text else "http",
        ip="10.0.0.5",
        person="alice.p",
        role="pupil",
        year_group="9",
        device="LAP-07",
        category=None,
        severity="none",
        blocked=0,
    )


@given(st.text(max_size=200), st.integers(min_value=2, max_value=80))
def test_printable_is_one_safe_line_within_its_width(value: str, width: int) -> None:
    out = printable(value, width)
    assert len(out) <= width
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in out)


def test_printable_marks_nothing_as_a_dash_and_cuts_long_values() -> None:
    assert printable(None) == "-"
    assert printable("x" * 100, 10) == "x" * 9 + "…"


def test_escape_sequences_typed_by_a_pupil_do_not_reach_the_terminal() -> None:
    assert "\x1b" not in printable("\x1b[31mred\x1b[0m \u202eevil")


@given(st.sampled_from(["=", "+", "-", "@", "\t", "\r"]), st.text(max_size=30))
def test_no_csv_cell_starts_a_formula(lead: str, rest: str) -> None:
    rows = list(csv.DictReader(io.StringIO(csv_text([found(text=lead + rest)], TZ), newline="")))
    assert rows[0]["text"].startswith("'")


def test_csv_has_every_column_in_order_and_local_time() -> None:
    rows = list(csv.DictReader(io.StringIO(csv_text([found(url="http://x.example/")], TZ))))
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["local_time"] == "2026-07-01T10:30:00+01:00"
    assert rows[0]["url"] == "http://x.example/"


def test_json_keeps_text_as_it_was_typed() -> None:
    (row,) = json.loads(json_text([found(text="zażółć =1+1")], TZ))
    assert row["text"] == "zażółć =1+1"
    assert row["ts"] == "2026-07-01T09:30:00Z"


def test_local_time_is_the_schools() -> None:
    ts = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert local_time(ts, TZ) == "2026-01-15 09:00:00"
    assert local_time(datetime(2026, 7, 15, 9, 0, tzinfo=UTC), TZ, with_date=False) == "10:00:00"
