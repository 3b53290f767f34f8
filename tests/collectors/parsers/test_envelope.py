"""The syslog envelope: RFC 5424, RFC 3164 and the variants real senders write."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers.envelope import BadEnvelope, Envelope, SDElement, app_name, parse_envelope
from tests.collectors.parsers.fixturelines import LONDON, REFERENCE, fixture_files, numbered_lines
from tests.conftest import FIXTURES

SYSLOG = fixture_files(FIXTURES / "syslog")


def _env(line: str) -> Envelope:
    return parse_envelope(line, LONDON, REFERENCE)


@pytest.mark.parametrize("path", SYSLOG, ids=[p.name for p in SYSLOG])
def test_every_fixture_line_has_a_program_and_a_time(path: Path) -> None:
    for n, line in numbered_lines(path):
        env = _env(line)
        assert env.program, f"{path.name}:{n}: no program in {line[:80]!r}"
        assert env.timestamp is not None, f"{path.name}:{n}"
        assert env.pri is not None, f"{path.name}:{n}"
        assert env.message, f"{path.name}:{n}"


def test_rfc3164_with_pri_host_and_single_digit_day() -> None:
    env = _env(
        "<134>Jan 1 02:21:38 firewall.opnsense.net filterlog[97530]: 146,,,1535324496,igb1.12"
    )
    assert env == Envelope(
        pri=134,
        timestamp=datetime(2026, 1, 1, 2, 21, 38, tzinfo=UTC),
        host="firewall.opnsense.net",
        program="filterlog",
        pid="97530",
        message="146,,,1535324496,igb1.12",
    )
    assert env.facility == "local0"
    assert env.severity == "info"


def test_rfc3164_space_padded_day_without_pri() -> None:
    env = _env("Dec  3 08:51:27 pihole dnsmasq[539]: query[A] example.com from 10.0.0.5")
    assert env.pri is None
    assert env.timestamp == datetime(2025, 12, 3, 8, 51, 27, tzinfo=UTC)
    assert (env.host, env.program, env.pid) == ("pihole", "dnsmasq", "539")
    assert env.message == "query[A] example.com from 10.0.0.5"


def test_rfc3164_without_host() -> None:
    env = _env("<30>Aug 15 16:19:02 unbound[26931]: [26931:0] info: 192.168.1.1 a.example. A IN")
    assert env.host is None
    assert (env.program, env.pid) == ("unbound", "26931")
    assert env.timestamp == datetime(2026, 8, 15, 15, 19, 2, tzinfo=UTC)  # BST
    assert env.message == "[26931:0] info: 192.168.1.1 a.example. A IN"


def test_opnsense_parenthesised_program() -> None:
    env = _env('<166>Aug 21 22:08:13 myfirewall.my-domain.tld (squid-1)[6802]: {"a":1}')
    assert (env.host, env.program, env.pid) == ("myfirewall.my-domain.tld", "(squid-1)", "6802")
    assert env.app == "squid"
    assert env.message == '{"a":1}'


def test_program_without_pid() -> None:
    env = _env("Nov 20 10:00:00 ns1 named: client @0x1 10.0.0.1#5353 (a.example): query: x")
    assert (env.host, env.program, env.pid) == ("ns1", "named", None)
    assert env.message.startswith("client @0x1")


def test_rfc3339_time_as_rsyslog_writes_it() -> None:
    env = _env("2026-11-20T10:00:00.123456+00:00 gw unbound: [1:0] info: x")
    assert env.timestamp == datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)
    assert (env.host, env.program) == ("gw", "unbound")


def test_rfc3339_time_with_pri_as_rsyslog_forwards_it() -> None:
    env = _env("<30>2026-07-01T10:00:00.5+01:00 gw dnsmasq[2]: cached a.example is 1.2.3.4")
    assert env.timestamp == datetime(2026, 7, 1, 9, 0, 0, 500000, tzinfo=UTC)
    assert env.version is None
    assert env.message == "cached a.example is 1.2.3.4"


def test_cisco_style_year_in_the_time() -> None:
    env = _env("<189>Nov 19 2025 10:00:00 core1 prog: hello")
    assert env.timestamp == datetime(2025, 11, 19, 10, 0, tzinfo=UTC)
    assert env.host == "core1"


def test_no_timestamp_keeps_the_program() -> None:
    env = _env("<30>unbound[1]: [1:0] info: 10.0.0.1 a.example. A IN")
    assert (env.timestamp, env.host, env.program, env.pid) == (None, None, "unbound", "1")


def test_no_timestamp_and_no_tag_is_all_message() -> None:
    line = '<189>date=2026-01-05 time=10:11:12 devname="FGT" logid="0316013056" type="utm"'
    env = _env(line)
    assert (env.pri, env.timestamp, env.host, env.program) == (189, None, None, None)
    assert env.message == line[5:]


def test_host_without_a_tag_leaves_the_rest_as_message() -> None:
    env = _env("Nov 20 10:00:00 gw last message repeated 3 times")
    assert (env.host, env.program) == ("gw", None)
    assert env.message == "last message repeated 3 times"


def test_rfc5424_with_structured_data() -> None:
    env = _env(
        '<38>1 2022-01-19T14:23:55+00:00 OPNsense.localdomain sshd 44255 - [meta sequenceId="1"]'
        " Invalid user tutu from 1.2.3.4 port 33166"
    )
    assert env == Envelope(
        pri=38,
        timestamp=datetime(2022, 1, 19, 14, 23, 55, tzinfo=UTC),
        host="OPNsense.localdomain",
        program="sshd",
        pid="44255",
        message="Invalid user tutu from 1.2.3.4 port 33166",
        version=1,
        msgid=None,
        structured_data=(SDElement("meta", (("sequenceId", "1"),)),),
    )
    assert env.structured_data[0].get("sequenceId") == "1"


def test_rfc5424_offset_time_is_converted_to_utc() -> None:
    env = _env("<134>1 2022-06-09T14:44:11-06:00 OPNsense.example.com filterlog 76404 - - x")
    assert env.timestamp == datetime(2022, 6, 9, 20, 44, 11, tzinfo=UTC)
    assert env.structured_data == ()
    assert env.message == "x"


def test_rfc5424_nil_fields_escapes_several_elements_and_bom() -> None:
    env = _env('<14>1 - - - - ID47 [a x="q\\"uo\\]te\\\\"][b@32473 y="" z="1 2"] \ufeffhello')
    assert (env.timestamp, env.host, env.program, env.pid, env.msgid) == (
        None,
        None,
        None,
        None,
        "ID47",
    )
    assert env.structured_data == (
        SDElement("a", (("x", 'q"uo]te\\'),)),
        SDElement("b@32473", (("y", ""), ("z", "1 2"))),
    )
    assert env.message == "hello"


def test_rfc5424_without_message() -> None:
    env = _env("<14>1 2026-11-20T10:00:00Z h app - - -")
    assert env.message == ""
    assert env.timestamp == datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("<192>Nov 20 10:00:00 h p: x", "above 191"),
        ("<14>2 2026-11-20T10:00:00Z h app - - - x", "version 2"),
        ("<14>1 yesterday h app - - - x", "not RFC 3339"),
        ("<14>1 2026-02-30T10:00:00Z h app - - - x", "impossible date"),
        ("<14>1 2026-11-20T10:00:00Z h app - - [a x=1] m", 'name="value"'),
        ('<14>1 2026-11-20T10:00:00Z h app - - [a x="1"', "not closed"),
        ("<14>1 2026-11-20T10:00:00Z h app - - x", "neither - nor ["),
        ("Feb 30 10:00:00 h p: x", "impossible date"),
        ("Feb 30 2026 10:00:00 h p: x", "impossible date"),
        ("2026-11-20T10:00:00+25:00 h p: x", "zone offset"),
    ],
)
def test_broken_envelopes_say_why(line: str, reason: str) -> None:
    with pytest.raises(BadEnvelope, match=re.escape(reason)):
        _env(line)


def test_spaces_before_the_message_are_not_kept() -> None:
    """rsyslog forwards a message taken from an RFC 3164 line with its leading space."""
    env = _env("<30>1 2026-12-06T22:00:27+00:00 pi dnsmasq 7 - -  query[A] a.example from x")
    assert env.message == "query[A] a.example from x"
    assert _env("Nov 20 10:00:00 h p:   x").message == "x"


def test_line_endings_are_ignored() -> None:
    assert _env("Nov 20 10:00:00 h p: x\r\n").message == "x"


@pytest.mark.parametrize(
    ("program", "app"),
    [
        ("(squid-1)", "squid"),
        ("pihole-FTL", "pihole-ftl"),
        ("dnsmasq-dhcp", "dnsmasq-dhcp"),
        ("/usr/sbin/named", "named"),
        ("postfix/smtpd", "smtpd"),
        (None, None),
        ("", None),
    ],
)
def test_app_name(program: str | None, app: str | None) -> None:
    assert app_name(program) == app


@given(st.text(max_size=300))
def test_any_text_is_an_envelope_or_a_reason(line: str) -> None:
    try:
        env = _env(line)
    except BadEnvelope as exc:
        reason = str(exc)
        assert reason, "a broken envelope names what is wrong"
        return
    assert env.message in line
    assert env.timestamp is None or env.timestamp.tzinfo is UTC


_WORD = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='[]:="'),
    min_size=1,
    max_size=20,
)
_HOSTNAME = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)
_MSG = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff"),
    max_size=80,
)
_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@given(
    st.integers(0, 191),
    _TIMES,
    _HOSTNAME,
    _WORD.filter(lambda w: w != "-"),
    st.integers(1, 99999),
    _MSG,
)
def test_rfc5424_round_trip(
    pri: int, ts: datetime, host: str, app: str, pid: int, msg: str
) -> None:
    line = f"<{pri}>1 {ts.isoformat()} {host} {app} {pid} - - {msg}"
    env = _env(line)
    assert (env.pri, env.timestamp, env.host, env.program, env.pid) == (
        pri,
        ts,
        host,
        app,
        str(pid),
    )
    assert env.message == msg.lstrip(" ")


@given(
    st.integers(0, 191),
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 20), timezones=st.just(UTC)
    ),
    st.one_of(st.none(), _HOSTNAME),
    _WORD,
    _MSG,
)
def test_rfc3164_round_trip(
    pri: int, ts: datetime, host: str | None, program: str, msg: str
) -> None:
    local = ts.astimezone(LONDON)
    stamp = f"{local:%b} {local.day:2d} {local:%H:%M:%S}"
    head = f"{host} " if host else ""
    env = _env(f"<{pri}>{stamp} {head}{program}[7]: {msg}")
    assert env.host == host
    assert (env.program, env.pid, env.message) == (program, "7", msg.lstrip(" "))
    assert env.timestamp is not None
    # A time the clocks went back over is read as its first occurrence.
    assert timedelta(0) <= ts - env.timestamp <= timedelta(hours=1)
    assert env.timestamp.replace(microsecond=0) == env.timestamp
