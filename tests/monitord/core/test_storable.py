"""Every value made storable before it is judged: the normaliser on its own, and the records
that once failed the whole batch they came in (and so stopped monitoring), through the
pipeline into each store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.files import iter_records
from collectors.parsers.base import load_parser
from monitord.core.model import Event, EventKind, EventUpdate, Parsed
from monitord.core.storable import clean_text, storable, storable_event
from monitord.service.app import App
from tests.stores import row, rows

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def dns(**given: object) -> Event:
    fields: dict[str, object] = {
        "kind": EventKind.DNS,
        "ts": NOW - timedelta(hours=1),
        "client_ip": "10.0.0.1",
        "domain": "www.example.com",
    }
    fields.update(given)
    return Event(**fields)  # type: ignore[arg-type]


def test_nul_and_lone_surrogates_become_the_replacement_character() -> None:
    assert clean_text("a\x00b\ud800c\udfffd") == "a\ufffdb\ufffdc\ufffdd"
    assert clean_text("plain ascii") == "plain ascii"
    assert clean_text("caf\u00e9 \U0001f600") == "caf\u00e9 \U0001f600"  # valid text is kept
    assert clean_text("x" * 100, 10) == "x" * 10
    clean_text("\ud83d\ude00").encode("utf-8")  # a pair written as two surrogates is storable


def test_times_outside_the_window_are_refused_with_the_reason() -> None:
    assert storable_event(dns(ts=NOW + timedelta(hours=23)), NOW) == dns(
        ts=NOW + timedelta(hours=23)
    )
    late = storable_event(dns(ts=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)), NOW)
    assert late == (
        "ts: 9999-12-31T23:59:59Z is more than a day ahead of now (2026-11-20T16:00:00Z)"
    )
    early = storable_event(dns(ts=datetime(1999, 12, 31, 23, 59, tzinfo=UTC)), NOW)
    assert early == "ts: 1999-12-31T23:59:00Z is before 2000"
    naive = storable_event(dns(ts=datetime(2026, 11, 20, 10, 0)), NOW)
    assert naive == "ts: not a time with a zone (datetime)"


def test_a_lease_may_end_years_ahead_but_not_in_9999() -> None:
    end = NOW + timedelta(days=365)
    lease = dns(kind=EventKind.LEASE, ts=end, lease_end=end, client_mac="aa:00:00:00:00:01")
    assert storable_event(lease, NOW) is lease
    far = datetime(9999, 1, 1, tzinfo=UTC)
    assert "lease_end" in str(storable_event(dns(lease_end=far), NOW))
    refused = storable_event(dns(kind=EventKind.LEASE, ts=far, lease_end=far), NOW)
    assert refused == "ts: 9999-01-01T00:00:00Z is more than 3660 days ahead of now " + (
        "(2026-11-20T16:00:00Z)"
    )


def test_text_is_cut_to_its_column_and_numbers_out_of_range_dropped() -> None:
    ev = storable_event(
        dns(domain="a" * 600, method="G" * 40, text="t" * 70_000, status=2**40, size=-(2**70)),
        NOW,
    )
    assert isinstance(ev, Event)
    assert (len(ev.domain or ""), len(ev.method or ""), len(ev.text or "")) == (512, 16, 16384)
    assert (ev.status, ev.size) == (None, None)
    assert storable_event(dns(status=True), NOW) == dns()  # a flag is not a status


def test_every_field_is_checked_by_its_type_those_added_later_included() -> None:
    far = datetime(9999, 1, 1, tzinfo=UTC)
    assert storable_event(dns(received_at=far), NOW) == (
        "received_at: 9999-01-01T00:00:00Z is more than a day ahead of now (2026-11-20T16:00:00Z)"
    )
    ev = storable_event(dns(sender="fw\x00" + "x" * 300, app="\ud800", agent="a" * 200), NOW)
    assert isinstance(ev, Event)
    assert (ev.sender, ev.app, ev.agent) == ("fw\ufffd" + "x" * 252, "\ufffd", "a" * 128)


def test_a_record_is_refused_whole_when_one_event_is_and_updates_are_cleaned() -> None:
    good = dns()
    bad = dns(ts=datetime(1990, 1, 1, tzinfo=UTC))
    assert (
        storable(Parsed(events=(good, bad)), NOW).rejected
        == "ts: 1990-01-01T00:00:00Z is before 2000"
    )
    parsed = Parsed(events=(good,), updates=(EventUpdate("e1", True, "blocked\x00"),))
    assert storable(parsed, NOW).updates == (EventUpdate("e1", True, "blocked\ufffd"),)
    clean = Parsed(events=(good,))
    assert storable(clean, NOW) is clean  # nothing to change: nothing copied


def report(kind: str, ts: str = "2026-11-19T10:00:00Z", **data: str) -> str:
    return json.dumps(
        {
            "schema": "monitord.agent/1",
            "agent_id": "y6-lt-07",
            "hostname": "Y6-LT-07",
            "ts": ts,
            "user": "jayden.s",
            "ip": "10.20.6.7",
            "mac": "aa:00:00:00:00:07",
            "kind": kind,
            "data": data,
        }
    )


def feed(app: App, tmp_path: Path, fmt: str, lines: list[str]) -> None:
    """The lines as one file and one batch, as the daemon reads them."""
    path = tmp_path / f"{fmt}.log"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    records = [rec for rec, _ in iter_records(path, fmt, now=app.clock.now())]
    app.processor.process(fmt, load_parser(fmt).session(), records)


@pytest.mark.stores
def test_agent_reports_that_stopped_monitoring_are_stored_or_rejected(
    app: App, tmp_path: Path
) -> None:
    """A url report dated 9999 (OverflowError in the alerts' time arithmetic), typed text
    with a lone surrogate (UTF-8 cannot encode it) or with NUL (PostgreSQL text cannot hold
    it) each failed the whole batch; the report after them must still alert."""
    feed(
        app,
        tmp_path,
        "agent",
        [
            report("url", "9999-12-31T23:59:59Z", url="https://www.pornhub.com/"),
            report("typed_text", text="lone \ud800 x"),
            report("typed_text", text="nul \u0000 x"),
            report("url", url="https://www.bet365.com/"),
        ],
    )
    [(reason, raw)] = rows(app.engine, "SELECT reason, raw FROM rejected")
    assert reason.startswith("ts: 9999-12-31T23:59:59Z is more than a day ahead")
    assert b"www.pornhub.com" in raw
    texts = rows(app.engine, "SELECT text, raw FROM all_events WHERE kind = 'text' ORDER BY text")
    assert [t for t, _ in texts] == ["lone \ufffd x", "nul \ufffd x"]
    # The raw line keeps what the agent really sent.
    assert [b"\\ud800" in r or b"\\u0000" in r for _, r in texts] == [True, True]
    assert row(app.engine, "SELECT category FROM alerts") == ("gambling",)


@pytest.mark.stores
def test_a_suricata_name_holding_nul_is_stored(app: App, tmp_path: Path) -> None:
    """Suricata writes a NUL byte in a DNS label as \\u0000; on PostgreSQL the name failed
    the batch it came in."""

    def eve(name: str, second: int) -> str:
        return json.dumps(
            {
                "timestamp": f"2026-11-19T10:00:{second:02d}.000000+0000",
                "event_type": "dns",
                "src_ip": "10.20.6.7",
                "dest_ip": "10.20.0.1",
                "dns": {"type": "query", "id": second, "rrname": name, "rrtype": "A"},
            }
        )

    feed(app, tmp_path, "suricata", [eve("www.\u0000evil.example", 1), eve("www.bet365.com", 2)])
    domains = [d for (d,) in rows(app.engine, "SELECT domain FROM all_events ORDER BY ts")]
    assert domains == ["www.\ufffdevil.example", "www.bet365.com"]
    assert row(app.engine, "SELECT count(*) FROM alerts") == (1,)
