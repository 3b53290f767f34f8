"""The client's address behind a reverse proxy: X-Forwarded-For believed from the trusted
proxies only (its rightmost untrusted entry), ignored from anyone else; lock-out by the
forwarded address; the audit trail's sign-in records naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from monitord.settings.config import ConfigError, parse_config
from monitord.web.forwarded import Proxies, parse_address
from tests.monitord.web.school import PASSWORD, Console
from tests.stores import rows

LOOPBACK = Proxies.of(["127.0.0.1", "::1"])
SCHOOL = Proxies.of(["127.0.0.1", "10.20.0.0/24"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        # What the client wrote itself is to the left of what the proxy appended.
        ("127.0.0.1", ["1.2.3.4, 203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", ["1.2.3.4", "203.0.113.9"], "203.0.113.9"),  # two headers, in order
        # Two proxies of the school's in a row: the first address neither of them is.
        ("10.20.0.5", ["6.6.6.6, 203.0.113.9, 10.20.0.7"], "203.0.113.9"),
        ("10.20.0.5", ["10.20.0.8, 10.20.0.7"], "10.20.0.8"),  # every hop a proxy: leftmost
        ("127.0.0.1", ["[2001:db8::5]:5100"], "2001:db8::5"),
        ("127.0.0.1", ["203.0.113.9:5100"], "203.0.113.9"),
        ("127.0.0.1", ["::ffff:203.0.113.9"], "203.0.113.9"),
        # Not an address: the proxy that passed it on is what is known.
        ("10.20.0.5", ["203.0.113.9, unknown, 10.20.0.7"], "10.20.0.7"),
        ("127.0.0.1", ["evil"], "127.0.0.1"),
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", [" , ,"], "127.0.0.1"),
        # From an address that is not a trusted proxy, the header is ignored.
        ("198.51.100.7", ["203.0.113.9"], "198.51.100.7"),
        ("10.20.1.5", ["203.0.113.9"], "10.20.1.5"),
        ("testclient", ["203.0.113.9"], "testclient"),
    ],
)
def test_the_rightmost_untrusted_hop_is_the_client(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert SCHOOL.client(peer, forwarded) == client


def test_no_trusted_proxy_believes_no_header() -> None:
    assert Proxies.of([]).client("127.0.0.1", ["203.0.113.9"]) == "127.0.0.1"


ADDRESSES = st.ip_addresses().map(str)


@given(peer=ADDRESSES, forwarded=st.lists(st.text(max_size=80), max_size=4))
def test_a_header_from_an_untrusted_address_changes_nothing(
    peer: str, forwarded: list[str]
) -> None:
    if not LOOPBACK.trusted(parse_address(peer)):
        assert LOOPBACK.client(peer, forwarded) == peer


@given(forged=st.lists(st.text(max_size=40), max_size=4), client=ADDRESSES)
def test_nothing_a_client_writes_itself_passes_the_proxy(forged: list[str], client: str) -> None:
    """Whatever the client put in the header, the proxy appended the address it saw: that
    is the answer."""
    seen = parse_address(client)
    assume(not LOOPBACK.trusted(seen))
    assert LOOPBACK.client("127.0.0.1", [*forged, client]) == str(seen)


def test_the_config_key_takes_addresses_and_blocks_only() -> None:
    cfg = parse_config({"web": {"trusted_proxies": ["10.0.0.0/8"]}}, Path("."), "t.toml")
    assert cfg.settings.web.trusted_proxies == ["10.0.0.0/8"]
    assert parse_config({}, Path("."), "t.toml").settings.web.trusted_proxies == [
        "127.0.0.1",
        "::1",
    ]
    with pytest.raises(
        ConfigError, match=r"web\.trusted_proxies\[0\]: 'proxy\.school' is not an address"
    ):
        parse_config({"web": {"trusted_proxies": ["proxy.school"]}}, Path("."), "t.toml")


def attempt(c: TestClient, name: str, forwarded: str) -> int:
    body = {"username": name, "password": PASSWORD, "totp": "000000"}
    return c.post("/api/session", json=body, headers={"X-Forwarded-For": forwarded}).status_code


def test_lock_out_counts_the_forwarded_address_from_a_trusted_proxy(console: Console) -> None:
    proxy = TestClient(console.app, base_url="http://127.0.0.1", client=("127.0.0.1", 41000))
    for i in range(5):  # five names, so that only the address can lock
        assert attempt(proxy, f"nobody{i}", "6.6.6.6, 203.0.113.9") == 401
    assert attempt(proxy, "dep", "203.0.113.9") == 429
    # Another client behind the same proxy is not locked, whatever it claims on the left.
    assert attempt(proxy, "dep", "203.0.113.9, 203.0.113.10") == 401
    addresses = rows(
        console.school.app.engine,
        "SELECT DISTINCT address FROM signin_attempts ORDER BY address",
    )
    assert addresses == [("203.0.113.10",), ("203.0.113.9",)]
    details = rows(
        console.school.app.engine,
        "SELECT detail FROM audit WHERE action = 'account.sign_in_failed' ORDER BY id",
    )
    assert {json.loads(d)["address"] for (d,) in details} == {"203.0.113.9", "203.0.113.10"}
    code = console.code("dep")
    body = {"username": "dep", "password": PASSWORD, "totp": code}
    signed = proxy.post("/api/session", json=body, headers={"X-Forwarded-For": "198.51.100.4"})
    assert signed.status_code == 200
    [(detail,)] = rows(
        console.school.app.engine, "SELECT detail FROM audit WHERE action = 'account.sign_in'"
    )
    assert json.loads(detail)["address"] == "198.51.100.4"


def test_a_forged_header_from_an_untrusted_address_is_ignored(console: Console) -> None:
    outside = TestClient(console.app, base_url="http://127.0.0.1", client=("198.51.100.7", 41000))
    for i in range(5):  # a new forged address each time, to dodge the lock
        assert attempt(outside, f"nobody{i}", f"203.0.113.{i}") == 401
    assert attempt(outside, "dep", "203.0.113.99") == 429
    assert rows(console.school.app.engine, "SELECT DISTINCT address FROM signin_attempts") == [
        ("198.51.100.7",)
    ]
