"""The alternative mail written directly: byte for byte what the email package writes, or
nothing at all."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.mail import message_of
from alerting.mime import alternative

BOUNDARY = re.compile(rb"={15}[0-9]+==")


def package(headers: list[tuple[str, str]], text: str, html: str) -> bytes:
    """The mail as the email package makes it, as the alert mail was made before."""
    return bytes(message_of(headers, text, html))


def same(headers: list[tuple[str, str]], text: str, html: str) -> bool:
    """Whether ``alternative`` wrote the package's bytes (the random boundary aside); False
    when it left the mail to the package."""
    made = alternative(headers, text, html)
    if made is None:
        return False
    assert BOUNDARY.sub(b"B", made) == BOUNDARY.sub(b"B", package(headers, text, html))
    return True


def alert_headers(subject: str, to: str, when: datetime, number: int) -> list[tuple[str, str]]:
    return [
        ("Subject", subject),
        ("From", "monitord@school.example"),
        ("To", to),
        ("Date", format_datetime(when)),
        ("Message-ID", f"<alert-{number}.default.monitord@school.example>"),
        ("X-Monitord-Alert", str(number)),
        ("X-Monitord-Severity", "high"),
    ]


def test_an_alert_mail_is_written_as_the_package_writes_it() -> None:
    text = "Example Primary: monitord alert #1\nWhat:   nordvpn[.]com\n" + "x = y " * 40 + "\n"
    html = '<p style="margin: 0">Pupil 23 &middot; alert</p>\n' * 12
    headers = alert_headers(
        "[monitord #1] HIGH filter_bypass - P.",
        "dsl@school.example, head.teacher@school.example",
        datetime(2026, 11, 19, 20, 30, tzinfo=UTC),
        1,
    )
    headers.insert(5, ("In-Reply-To", "<alert-1.default.monitord@school.example>"))
    assert same(headers, text, html)
    assert same([*headers, ("Importance", "high"), ("X-Priority", "1")], "short\n", "<p>é</p>")


def test_what_it_cannot_promise_is_left_to_the_package() -> None:
    when = datetime(2026, 11, 19, 20, 30, tzinfo=UTC)
    for subject, to in [
        ("[monitord #1] HIGH pornography - Z.Š.", "dsl@school.example"),  # RFC 2047
        ("x" * 80, "dsl@school.example"),  # folded
        ("=?utf-8?q?a?=", "dsl@school.example"),  # an encoded word
        ("ok", "undisclosed-recipients:;"),  # a group
        ("ok", "Designated Lead <dsl@school.example>"),  # a display name
    ]:
        assert alternative(alert_headers(subject, to, when, 2), "a\n", "<p>a</p>") is None
    # A part the package would send as base64 (most of its first lines long and 8-bit).
    assert alternative(alert_headers("ok", "dsl@school.example", when, 2), "é" * 200, "a") is None


ADDRESS = st.from_regex(
    r"[a-z0-9_+-]{1,10}(\.[a-z0-9]{1,8})?@[a-z0-9-]{1,12}\.[a-z]{2,5}", fullmatch=True
)
PRINTABLE = st.text(string.printable + "éŠ€\u2028", max_size=90)
LINES = st.lists(
    st.one_of(
        st.text(string.ascii_letters + " =.<>\"'&;:/", max_size=120),
        st.text(max_size=100),
        st.just(""),
    ),
    max_size=30,
).map("\n".join)


@settings(max_examples=400, deadline=None)
@given(
    subject=PRINTABLE,
    to=st.lists(ADDRESS, min_size=1, max_size=5).map(", ".join),
    when=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    offset=st.integers(-12 * 60, 14 * 60),
    number=st.integers(1, 10**12),
    text=LINES,
    html=LINES,
)
def test_written_or_left_never_different(
    subject: str, to: str, when: datetime, offset: int, number: int, text: str, html: str
) -> None:
    local = when.astimezone(timezone(timedelta(minutes=offset)))
    headers = alert_headers(subject, to, local, number)
    if not same(headers, text, html):
        assert alternative(headers, text, html) is None


@settings(max_examples=100, deadline=None)
@given(
    subject=st.from_regex(
        r"\[monitord #[0-9]{1,6}\] [A-Z]{3,8} [a-z_]{3,20} - [A-Z.]{2,6}", fullmatch=True
    ),
    text=LINES,
    html=LINES,
)
def test_ordinary_alert_mails_are_all_written(subject: str, text: str, html: str) -> None:
    when = datetime(2026, 11, 19, 20, 30, tzinfo=UTC)
    headers = alert_headers(subject, "dsl@school.example", when, 5)
    made = alternative(headers, text, html)
    if made is None:  # only a part the package sends as base64
        assert alternative(headers, "a\n", "a\n") is not None
    else:
        assert same(headers, text, html)
