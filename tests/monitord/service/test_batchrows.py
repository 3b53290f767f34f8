"""The rows a batch writes beside its events: a source's counts add up across batches (on a
real store), a rejected line keeps its reason and bytes, an error is one line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from monitord.core.model import Attribution, Event, EventKind, Judged, Origin, RawRecord
from monitord.core.storable import WIDTHS, storable_event
from monitord.service.batchrows import (
    MAX_LINE,
    ROW_WIDTHS,
    add_source_counts,
    clip,
    error_text,
    event_row,
    rejected_row,
)
from monitord.store.database import open_store, table_of
from monitord.store.tables import SourceCountRow

NOW = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def test_counts_add_up_across_batches(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        for _ in range(3):
            with engine.begin() as conn:
                add_source_counts(conn, "default", "syslog", {("program", "cron"): 2}, NOW)
        with engine.begin() as conn:
            add_source_counts(conn, "default", "syslog", {("program", "x" * 300): 1}, NOW)
        t = table_of(SourceCountRow)
        with engine.connect() as conn:
            rows = {(r.name, r.count) for r in conn.execute(select(t.c.name, t.c.count))}
        assert rows == {("cron", 6), ("x" * 128, 1)}  # a long name is cut to its column
    finally:
        engine.dispose()


@pytest.mark.stores
def test_a_passed_over_name_from_the_line_is_made_storable(store_url: str) -> None:
    """A syslog program's name holding NUL or a lone surrogate once failed every batch of
    its source on PostgreSQL; two names that become one when cleaned or cut add up."""
    engine = open_store(store_url)
    try:
        counts = {
            ("program", "cr\x00on"): 1,
            ("program", "cr\ufffdon"): 2,
            ("program", "lone \ud800 x"): 1,
            ("program", "y" * 128 + "a"): 1,
            ("program", "y" * 128 + "b"): 1,
        }
        with engine.begin() as conn:
            add_source_counts(conn, "default", "syslog", counts, NOW)
        t = table_of(SourceCountRow)
        with engine.connect() as conn:
            rows = {(r.name, r.count) for r in conn.execute(select(t.c.name, t.c.count))}
        assert rows == {("cr\ufffdon", 3), ("lone \ufffd x", 1), ("y" * 128, 2)}
    finally:
        engine.dispose()


@given(st.one_of(st.none(), st.text(max_size=200)), st.integers(min_value=1, max_value=100))
def test_clip_cuts_only_what_is_too_long(value: str | None, width: int) -> None:
    out = clip(value, width)
    assert out is None if value is None else out == value[:width]


def test_a_rejected_line_keeps_its_origin_reason_and_bytes() -> None:
    rec = RawRecord(Origin("proxy", "f9", 1234, path="/var/log/squid/access.log"), b"\x00bad", NOW)
    row = rejected_row(rec, "squid", "expected 10 fields\x00")
    assert (row["source"], row["file_id"], row["offset"], row["fmt"]) == (
        "proxy",
        "f9",
        1234,
        "squid",
    )
    assert row["raw"] == b"\x00bad"
    assert "\x00" not in row["reason"]
    long = RawRecord(Origin("proxy", "f9", 0), b"a" * (MAX_LINE + 50), NOW)
    assert len(rejected_row(long, "squid", "too long")["raw"]) == MAX_LINE + 1


def test_an_error_is_its_type_and_first_line() -> None:
    assert error_text(ValueError("no good\nsecond line")) == "ValueError: no good"


def test_a_row_of_a_checked_event_is_the_row_its_texts_cut_would_give() -> None:
    """An event through ``storable`` has its texts cut to their columns already, so its row
    is built without cutting them again; one that was not (an event identity made) has them
    cut as it is built, a user name standing for the person when there is none."""
    long = {name: "x" * (width + 5) for name, width in ROW_WIDTHS}
    ev = Event(kind=EventKind.DNS, ts=NOW, **long)
    checked = storable_event(ev, NOW)
    assert isinstance(checked, Event)
    nobody = Attribution(None, None, "unattributed", "none")
    origin = Origin("src", "f", 0)
    cut = event_row(Judged("e", origin, b"raw", ev, "dnsmasq", nobody), "default")
    made = event_row(Judged("e", origin, b"raw", checked, "dnsmasq", nobody), "default", True)
    assert made == cut
    assert made["username"] == made["user"] == "x" * WIDTHS["user"]
    assert made["domain"] == "x" * WIDTHS["domain"]
