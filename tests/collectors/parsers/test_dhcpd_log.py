"""ISC dhcpd's syslog messages: a DHCPACK is a lease from the message's time, the rest is
known and gives nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.base import ParseContext
from collectors.parsers.dhcpd_log import PARSER, parse_message
from monitord.core.model import SKIP, EventKind
from tests.collectors.parsers.fixturelines import LONDON, check_parsed

WHEN = datetime(2026, 11, 20, 9, 6, 16, tzinfo=UTC)
CTX = ParseContext(LONDON, WHEN)


def test_an_ack_binds_the_address_to_the_device_from_then() -> None:
    (ev,) = parse_message(
        "DHCPACK on 10.0.60.5 to 4c:55:41:a0:fa:9 (Y6-LT-07) via igb1", CTX
    ).events
    assert ev.kind is EventKind.LEASE
    assert (ev.client_ip, ev.client_mac, ev.hostname) == (
        "10.0.60.5",
        "4c:55:41:a0:fa:09",  # dhcpd drops leading zeros; the MAC is written whole
        "Y6-LT-07",
    )
    assert ev.ts == ev.lease_start == WHEN


def test_an_ack_without_a_host_name_and_over_ipv6() -> None:
    (ev,) = parse_message("DHCPACK on fd00::5 to AA:0:0:0:0:7 via em0", CTX).events
    assert (ev.client_ip, ev.client_mac, ev.hostname) == ("fd00::5", "aa:00:00:00:00:07", None)


@pytest.mark.parametrize(
    "message",
    [
        "DHCPDISCOVER from 4c:55:41:a0:fa:99 via igb1",
        "DHCPOFFER on 10.0.60.5 to 4c:55:41:a0:fa:99 via igb1",
        "DHCPREQUEST for 10.0.60.5 from 4c:55:41:a0:fa:99 via igb1",
        "DHCPRELEASE of 10.0.60.5 from 4c:55:41:a0:fa:99 via igb1 (found)",
        "Internet Systems Consortium DHCP Server 4.4.3",
        "",
    ],
)
def test_the_other_messages_give_nothing(message: str) -> None:
    assert parse_message(message, CTX) == SKIP


def test_an_ack_for_no_address_is_rejected_naming_it() -> None:
    parsed = parse_message("DHCPACK on 1.2.3.999 to 4c:55:41:a0:fa:99 via em0", CTX)
    assert parsed.rejected == "DHCPACK for '1.2.3.999', which is not an IP address"


def test_it_is_reached_only_through_syslog() -> None:
    assert PARSER.fmt == "dhcpd-log"
    assert PARSER.parse("DHCPINFORM from 10.0.60.5 via igb1", CTX) == SKIP


@given(st.text(max_size=120))
def test_any_message_keeps_the_contract(message: str) -> None:
    check_parsed(parse_message(message, CTX), message, most=1)
    check_parsed(parse_message("DHCPACK on " + message, CTX), message, most=1)
