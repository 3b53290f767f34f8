"""The change-control mail of a change to the lists: what the headteacher reads."""

from __future__ import annotations

from datetime import UTC, datetime

from alerting.listmail import build_change_message, subject
from monitord.classify.listadmin import Change, Counts, ListChange
from monitord.settings.config import Config

AT = datetime(2026, 11, 20, 16, 5, tzinfo=UTC)


def test_an_update_names_each_list_and_the_totals_before_and_after(config: Config) -> None:
    change = Change(
        "update",
        "scheduler",
        AT,
        (
            ListChange("ut1/adult", "pornography", Counts(1, 100, 5, 0), Counts(1, 120, 5, 0)),
            ListChange("ut1/new\r\nBcc: x@evil.example", "gambling", None, Counts(1, 7, 0, 0)),
        ),
        Counts(2, 100, 5, 0),
        Counts(3, 127, 5, 0),
        ("ut1/dating: disabled by the school, kept disabled",),
    )
    msg = build_change_message(config, change, ["head@school.example"])
    assert (
        msg["Subject"]
        == subject(change)
        == ("[monitord] Filtering change: 2 lists updated by scheduler")
    )
    assert msg["Bcc"] is None
    body = msg.get_content()
    assert "scheduler updated the lists from their configured sources on Friday 20" in body
    assert "ut1/adult (pornography): 100 domains, 5 URLs -> 120 domains, 5 URLs" in body
    # A name cannot break the line it is on, let alone the headers.
    assert "ut1/new  Bcc: x@evil.example (gambling): not in use -> 7 domains" in body
    assert "kept disabled" in body
    assert "lists                   2 -> 3" in body
    assert "domains               100 -> 127" in body
