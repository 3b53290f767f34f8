"""The syslog format: whole syslog lines dispatched to the parser for their program."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from collectors.parsers.base import ParseContext, available_formats, load_parser
from collectors.parsers.envelope import parse_envelope
from collectors.parsers.syslog import PARSER, ROUTES, SIGNATURES, format_for, parser_for_source
from monitord.core.model import EventKind, Origin, Parsed
from monitord.service.app import App, ingest_files
from monitord.store.database import table_of
from monitord.store.tables import EventRow, SourceCountRow
from tests.collectors.parsers.fixturelines import (
    CTX,
    LONDON,
    REFERENCE,
    fixture_files,
    numbered_lines,
)
from tests.conftest import FIXTURES

SYSLOG = fixture_files(FIXTURES / "syslog")
RECEIVED = datetime(2026, 11, 20, 15, 59, 58, tzinfo=UTC)


def _one(line: str, *, received: datetime | None = None) -> Parsed:
    ctx = ParseContext(LONDON, received or REFERENCE, Origin("fw", "f", 0), received)
    return PARSER.session().parse(line, ctx)


def _installed(fmt: str) -> bool:
    return fmt in available_formats()


@pytest.mark.parametrize("path", SYSLOG, ids=[p.name for p in SYSLOG])
def test_no_fixture_line_is_rejected(path: Path) -> None:
    session = PARSER.session()
    for n, line in numbered_lines(path):
        env = parse_envelope(line, LONDON, REFERENCE)
        fmt = format_for(env)
        assert fmt is None or fmt == "dhcpd-log" or _installed(fmt), fmt
        parsed = session.parse(line, ParseContext(LONDON, REFERENCE, Origin("s", "f", n)))
        assert parsed.rejected is None, f"{path.name}:{n} rejected: {parsed.rejected}"
        if fmt is None:
            assert parsed.passed_over == env.app, f"{path.name}:{n}"


def test_unbound_through_syslog_keeps_the_sender_and_its_time() -> None:
    (ev,) = _one(
        "<30>Dec 31 22:06:33 firewall.opnsense.net unbound[75499]: [26931:0] info: "
        "192.168.1.1 api.opensubtitles.org. A IN",
        received=RECEIVED,
    ).events
    assert (ev.kind, ev.client_ip, ev.domain, ev.qtype) == (
        EventKind.DNS,
        "192.168.1.1",
        "api.opensubtitles.org",
        "A",
    )
    assert ev.sender == "firewall.opnsense.net"
    assert ev.received_at == RECEIVED
    assert ev.ts == datetime(2025, 12, 31, 22, 6, 33, tzinfo=UTC)  # the sender's, last year


def test_rfc5424_time_with_offset_wins_over_receipt() -> None:
    (ev,) = _one(
        "<30>1 2026-07-01T10:00:00.250+02:00 pihole dnsmasq 539 - - "
        "query[A] www.example.com from 10.0.0.9",
        received=RECEIVED,
    ).events
    assert ev.ts == datetime(2026, 7, 1, 8, 0, 0, tzinfo=UTC)  # whole seconds in the line shown
    assert (ev.domain, ev.client_ip, ev.sender) == ("www.example.com", "10.0.0.9", "pihole")


def test_no_sender_time_is_the_time_received() -> None:
    (ev,) = _one("<30>dnsmasq[5]: query[A] a.example from 10.0.0.9", received=RECEIVED).events
    assert ev.ts == RECEIVED
    assert ev.sender is None


def test_pihole_ftl_and_a_block_line_from_the_same_sender() -> None:
    session = PARSER.session()
    ctx = ParseContext(LONDON, REFERENCE, Origin("fw", "f", 0))
    q = session.parse("Nov 20 10:00:00 pi pihole-FTL[9]: query[A] ads.example from 10.0.0.2", ctx)
    (ev,) = q.events
    blocked = session.parse(
        "Nov 20 10:00:00 pi pihole-FTL[9]: gravity blocked ads.example is 0.0.0.0",
        replace(ctx, origin=Origin("fw", "f", 90)),
    )
    (upd,) = blocked.updates
    assert upd.event_id == Origin("fw", "f", 0).event_id(0)
    assert upd.blocked is True
    # The same block line from another sender has no query of its own to mark.
    other = session.parse(
        "Nov 20 10:00:00 pi2 dnsmasq[9]: gravity blocked ads.example is 0.0.0.0",
        replace(ctx, origin=Origin("fw", "f", 180)),
    )
    assert other.updates == ()
    assert ev.domain == "ads.example"


def test_a_log_line_forwarded_whole_is_read_by_its_own_envelope() -> None:
    """rsyslog's imfile sends each line of Pi-hole's log as the message of a line of its own."""
    (ev,) = _one(
        "<133>Nov 20 10:00:05 pi pihole: Nov 20 10:00:01 dnsmasq[539]: 625 "
        "192.168.1.185/60568 query[A] example.com from 192.168.1.185",
        received=RECEIVED,
    ).events
    assert (ev.domain, ev.client_ip, ev.sender) == ("example.com", "192.168.1.185", "pi")
    assert ev.ts == datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC)
    # A message that only starts like a time is left alone.
    assert _one("<13>Nov 20 10:00:05 pi sshd[1]: Nov 20 was a Friday").passed_over == "sshd"


def test_dhcpd_ack_is_a_lease_and_discover_is_known() -> None:
    (ev,) = _one(
        "<190>Nov 20 09:06:16 fw dhcpd[40152]: DHCPACK on 10.0.60.5 to 4c:55:41:a0:fa:9 "
        "(Y6-LT-07) via eth0.60"
    ).events
    assert (ev.kind, ev.client_ip, ev.client_mac, ev.hostname) == (
        EventKind.LEASE,
        "10.0.60.5",
        "4c:55:41:a0:fa:09",
        "Y6-LT-07",
    )
    assert ev.lease_start == ev.ts == datetime(2026, 11, 20, 9, 6, 16, tzinfo=UTC)
    assert _one("<190>Nov 20 09:06:16 fw dhcpd[1]: DHCPDISCOVER from 4c:55:41:a0:fa:99") == (
        Parsed()
    )
    assert "not an IP address" in (
        _one(
            "Nov 20 09:06:16 fw dhcpd[1]: DHCPACK on 1.2.3.999 to 4c:55:41:a0:fa:99 via e"
        ).rejected
        or ""
    )


def test_unknown_program_is_passed_over_by_name() -> None:
    assert _one("<38>Nov 20 10:00:00 fw sshd[1]: Invalid user x").passed_over == "sshd"
    assert _one("<38>Nov 20 10:00:00 fw (filterlog-3)[1]: 1,2,3").passed_over == "filterlog"
    assert _one("hello world").passed_over == "-"


def test_a_broken_envelope_is_rejected_with_its_reason() -> None:
    parsed = _one("<14>1 2026-02-30T10:00:00Z h app - - - x")
    assert parsed.rejected is not None
    assert parsed.rejected.startswith("syslog envelope: impossible date")


def test_the_program_s_parser_rejection_names_the_program() -> None:
    parsed = _one("Nov 20 10:00:00 ns1 unbound[2]: [2:0] info: not a query at all here x y z")
    assert parsed.rejected is None  # a line unbound knows but that makes no event
    bad = _one("Nov 20 10:00:00 gw dnsmasq[2]: something dnsmasq never writes")
    assert bad.rejected is not None
    assert bad.rejected.startswith("dnsmasq: unrecognised dnsmasq message")


def test_a_source_with_one_format_sends_every_message_there() -> None:
    session = parser_for_source("dnsmasq").session()
    (ev,) = session.parse(
        "<30>Nov 20 10:00:00 gw whatever[2]: query[A] a.example from 10.0.0.1", CTX
    ).events
    assert ev.domain == "a.example"


def test_routes_name_installed_formats() -> None:
    installed = set(available_formats()) | {"dhcpd-log"}
    assert set(ROUTES.values()) <= installed
    assert {fmt for _, fmt in SIGNATURES} <= installed


def _as_sent(fmt: str, line: str) -> str:
    """A fixture line as its appliance sends it to a syslog listener."""
    if fmt == "e2guardian":  # e2guardian's syslog message: the log line without its date
        return f"<14>Nov 20 10:00:00 proxy e2guardian[12]: {line.split(' ', 2)[2]}"
    if fmt == "sophos" and line.startswith("20"):  # Sophos UTM, its own time before the host
        return f"<30>{line}"
    if fmt == "panos":
        return f"<14>{line}"  # the firewall's own 3164 header is in the fixture
    return f"<189>{line}"  # FortiGate, Sophos Firewall: a PRI and the message


@pytest.mark.parametrize("fmt", ["fortigate", "sophos", "panos", "e2guardian"])
def test_appliances_sent_to_syslog_reach_their_parsers(fmt: str) -> None:
    """Each real line, sent as the appliance sends it, makes through the syslog format the
    events its own parser makes of it, and is never rejected."""
    own = load_parser(fmt)
    files = [p for p in fixture_files(FIXTURES / fmt) if "syslog-message" not in p.name]
    assert files, fmt
    direct = own.session()
    dispatched = PARSER.session()
    made = 0
    for path in files:
        for n, line in numbered_lines(path):
            ctx = ParseContext(LONDON, REFERENCE, Origin("s", "f", n))
            want = direct.parse(line, ctx)
            got = dispatched.parse(_as_sent(fmt, line), ctx)
            assert got.rejected is None, f"{path.name}:{n}: {got.rejected}"
            if want.rejected is not None:
                continue
            assert len(got.events) == len(want.events), f"{path.name}:{n}"
            for g, w in zip(got.events, want.events, strict=True):
                assert (g.url, g.domain, g.client_ip, g.user, g.blocked) == (
                    w.url,
                    w.domain,
                    w.client_ip,
                    w.user,
                    w.blocked,
                ), f"{path.name}:{n}"
                made += 1
    assert made > 0


@given(st.text(max_size=200))
def test_any_text_is_an_event_a_skip_or_a_reason(line: str) -> None:
    parsed = _one(line)
    assert parsed.rejected is None or parsed.rejected


def test_ingest_counts_programs_it_passed_over(app: App) -> None:
    result = ingest_files(app, SYSLOG, "syslog", "firewall")
    assert (result.lines, result.rejected, result.events) == (22, 0, 8)
    t = table_of(SourceCountRow)
    with app.engine.connect() as conn:
        counts = {r.name: r.count for r in conn.execute(select(t).where(t.c.source == "firewall"))}
        senders = set(conn.execute(select(table_of(EventRow).c.sender)).scalars())
    assert counts["sshd"] == 10
    assert counts["filterlog"] == 3
    assert "firewall.opnsense.net" in senders
    ingest_files(app, SYSLOG, "syslog", "firewall")
    with app.engine.connect() as conn:
        again = {r.name: r.count for r in conn.execute(select(t).where(t.c.source == "firewall"))}
    assert again["sshd"] == 20  # counted as read, each time
