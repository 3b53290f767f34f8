"""Alert mail: defanged indicators, initials-only subjects, escaped HTML, no header injection."""

from __future__ import annotations

import email
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import alerting.mail as mail_module
from alerting.mail import ADVICE, MailContext, build_alert_message, initials
from alerting.manager import indicator_of
from monitord.core.model import (
    Attribution,
    Decision,
    Device,
    Event,
    EventKind,
    Judged,
    Match,
    Origin,
    Person,
    Severity,
)
from monitord.settings.config import Config, load_config

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
WHEN = datetime(2026, 11, 20, 15, 42, 7, tzinfo=UTC)
ALICE = Person("alice.p", "Alice Pupil", "pupil", "5", "Oak", None)
LAPTOP = Device("LAP-07", "aa:bb:cc:00:00:07", "lap07", "school_single", "alice.p")
HEADERS = {
    "Subject",
    "From",
    "To",
    "Date",
    "Message-ID",
    "X-Monitord-Alert",
    "X-Monitord-Severity",
    "MIME-Version",
    "Content-Type",
}
LIVE_SCHEME = re.compile(r"(?i)\b(?:https?|ftps?)://")


# --- initials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fallback", "expected"),
    [
        ("Alice Pupil", None, "A.P."),
        ("Pupil, Alice", None, "P.A."),
        ("mary-jane o'neil", None, "M.J.O."),
        ("Jean Luc Picard Smith", None, "J.L.P."),
        ("Élodie Ünal", None, "É.Ü."),
        (None, "alice.p", "A.P."),
        ("", "bob_smith", "B.S."),
        (None, None, "unknown"),
        ("", "", "unknown"),
        ("123 456", None, "unknown"),
    ],
)
def test_initials(name: str | None, fallback: str | None, expected: str) -> None:
    assert initials(name, fallback) == expected


@given(st.text(max_size=60), st.one_of(st.none(), st.text(max_size=30)))
def test_initials_are_letters_and_dots_never_the_name(name: str, fallback: str | None) -> None:
    out = initials(name, fallback)
    if out == "unknown":
        return
    letters = out.replace(".", "")
    assert 1 <= len(letters) <= 3
    # Letters only (an upper-cased letter may carry a combining mark, as "ǰ" does)...
    assert all(c.isalpha() or unicodedata.category(c).startswith("M") for c in letters), out
    # ...each followed by a dot, so no two letters of a name ever stand together.
    assert out.endswith(".")
    assert not re.search(r"[^\W\d_]{2}", out), out


# --- build_alert_message ----------------------------------------------------------------------


def judged(
    *,
    url: str | None = "https://www.pornhub.com/view_video.php?viewkey=1",
    domain: str | None = "www.pornhub.com",
    text: str | None = None,
    person: Person | None = ALICE,
    device: Device | None = LAPTOP,
    user: str | None = None,
    category: str = "pornography",
    severity: Severity = Severity.HIGH,
    entry: str = "pornhub.com",
    blocked: bool = True,
) -> Judged:
    origin = Origin("proxy", "3f2a9c", 40960, "/var/log/squid/access.log")
    kind = EventKind.TEXT if text and not url else EventKind.HTTP
    event = Event(
        kind=kind,
        ts=WHEN,
        client_ip="10.0.0.5",
        user=user,
        domain=domain,
        url=url,
        method="GET" if url else None,
        blocked=blocked,
        text=text,
    )
    reason = "lease 1a2b3c4d5e6f: 10.0.0.5 -> aa:bb:cc:00:00:07; LAP-07 is assigned to alice.p"
    return Judged(
        origin.event_id(0),
        origin,
        b"1763653327.000 10.0.0.5 TCP_DENIED/403 GET ...",
        event,
        "squid",
        Attribution(person, device, reason),
        (Match(category, f"starter/{category}", entry, 10),),
        (
            Decision(
                category,
                severity,
                f"severity.{category}.pupil = {severity.value}",
                ("dsl",),
                ("dsl",),
            ),
        ),
    )


def build(config: Config, j: Judged, alert_id: int = 42) -> tuple[EmailMessage, bytes]:
    """Build the message as the manager does, and parse its bytes back as a mail client would."""
    decision = j.decisions[0]
    recipients = config.settings.recipients.dsl
    alert = {"indicator": indicator_of(j), "severity": decision.severity.value}
    msg = build_alert_message(MailContext(config, alert_id, alert, j, decision, recipients, NOW))
    raw = bytes(msg)
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed, raw


def parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def test_subject_has_id_severity_category_and_initials_only(config: Config) -> None:
    msg, raw = build(config, judged(), alert_id=42)
    assert msg["Subject"] == "[monitord #42] HIGH pornography - A.P."
    header_block = raw.split(b"\n\n", 1)[0].decode("ascii")
    for secret in ("Alice", "Pupil", "alice.p", "LAP-07"):
        assert secret not in header_block
    text, html = parts(msg)
    assert "Alice Pupil (alice.p), pupil, Year 5, class Oak" in text
    assert "Alice Pupil" in html


def test_headers_and_addresses(config: Config) -> None:
    msg, _ = build(config, judged(), alert_id=7)
    assert set(msg.keys()) == HEADERS
    assert msg["From"] == "monitord@school.example"
    assert msg["To"] == "dsl@school.example"
    assert msg["Message-ID"] == "<alert-7.default.monitord@school.example>"
    assert msg["X-Monitord-Alert"] == "7"
    assert msg["X-Monitord-Severity"] == "high"
    assert parsedate_to_datetime(str(msg["Date"])) == NOW
    assert msg.get_content_type() == "multipart/alternative"


def test_subject_without_roster_person_uses_the_user_name_initials(config: Config) -> None:
    msg, raw = build(config, judged(person=None, device=None, user="j.bloggs"))
    assert msg["Subject"] == "[monitord #42] HIGH pornography - J.B."
    assert b"bloggs" not in raw.split(b"\n\n", 1)[0]
    text, _ = parts(msg)
    assert "j.bloggs (not on the roster)" in text
    assert "not in the inventory" in text


def test_subject_with_no_one_known(config: Config) -> None:
    msg, _ = build(config, judged(person=None, device=None, user=None))
    assert msg["Subject"] == "[monitord #42] HIGH pornography - unknown"
    text, _ = parts(msg)
    assert "Who:    not known" in text


def test_body_defangs_indicator_and_matches(config: Config) -> None:
    msg, _ = build(config, judged())
    text, html = parts(msg)
    defanged = "hxxps://www[.]pornhub[.]com/view_video[.]php?viewkey=1"
    assert f"What:   {defanged} (the filter BLOCKED this attempt)" in text
    assert defanged in html
    assert "pornography: pornhub[.]com on list starter/pornography" in text
    for body in (text, html):
        assert "pornhub.com" not in body
        assert not LIVE_SCHEME.search(body)
    assert "Friday 20 November 2026, 15:42:07 GMT" in text
    assert "evidence reference: alert 42, event" in text.lower()


@pytest.mark.parametrize(
    "header",
    [
        "Bcc: attacker@evil.example",
        "bcc:attacker@evil.example",
        "X-Injected: yes",
    ],
)
def test_crlf_in_indicator_cannot_add_a_header(config: Config, header: str) -> None:
    url = f"http://evil.example/a\r\n{header}\r\n\r\nfake body"
    hostile = Person("x.y", f"Xavier\r\n{header}\r\nYork", "pupil", "5", "Oak\r\nBcc: z@z.z")
    msg, raw = build(config, judged(url=url, person=hostile, user=f"u\r\n{header}"))
    assert set(msg.keys()) == HEADERS
    assert msg["Bcc"] is None
    assert msg["X-Injected"] is None
    assert re.fullmatch(r"\[monitord #42\] HIGH pornography - (?:[A-Z]\.){3}", msg["Subject"])
    for name, value in msg.items():
        assert "evil.example" not in str(value), name
        assert "\n" not in str(value)
    for line in raw.splitlines():
        assert not line.lower().startswith((b"bcc:", b"x-injected:"))
    text, html = parts(msg)
    assert "hxxp://evil[.]example/a  " in text
    assert "evil[.]example" in html


def test_script_indicator_is_escaped_in_html_and_defanged_in_text(config: Config) -> None:
    url = "https://xss.example.com/<script>alert(1)</script>?q=<img src=x onerror=alert(2)>"
    person = Person("bobby.t", "Bobby <b>Tables</b> & co", "pupil", "4", "<i>Ash</i>")
    msg, _ = build(config, judged(url=url, person=person, entry="<script>x</script>.com"))
    text, html = parts(msg)
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "Bobby &lt;b&gt;Tables&lt;/b&gt; &amp; co" in html
    assert "hxxps://xss[.]example[.]com/<script>alert(1)</script>" in text
    assert "xss.example.com" not in text
    # The template's own markup is still markup.
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "<table" in html


def test_text_indicator_with_script_is_escaped(config: Config) -> None:
    msg, _ = build(config, judged(url=None, domain=None, text="<script>alert(1)</script>"))
    text, html = parts(msg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "What:   <script>alert(1)</script>" in text


def test_very_long_indicator_makes_a_valid_message(config: Config) -> None:
    url = "https://long.example.com/" + "a/b.c" * 4000
    msg, raw = build(config, judged(url=url))
    assert all(len(line) <= 998 for line in raw.splitlines())
    assert set(msg.keys()) == HEADERS
    text, html = parts(msg)
    shown = text.split("What:   ", 1)[1].split("\n", 1)[0]
    assert shown.startswith("hxxps://long[.]example[.]com/a/b[.]ca/b[.]c")
    assert len(shown) < 2100
    assert "\u2026" in shown
    assert "hxxps://long[.]example[.]com/a/b[.]c" in html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bücher.example.de/straße.html", "hxxps://bücher[.]example[.]de/straße[.]html"),
        ("https://xn--bcher-kva.example/", "hxxps://xn--bcher-kva[.]example/"),
        ("https://👍.example/🎉/ünïcødé?q=日本語", "hxxps://👍[.]example/🎉/ünïcødé?q=日本語"),
        ("https://пример.рф/путь", "hxxps://пример[.]рф/путь"),
    ],
)
def test_non_ascii_indicators_make_a_valid_message(config: Config, url: str, expected: str) -> None:
    person = Person("zoe.s", "Zoë Šťastná", "pupil", "6", "Ōak")
    msg, raw = build(config, judged(url=url, person=person))
    assert raw.isascii()  # 8-bit content is transfer-encoded, headers RFC 2047 encoded
    assert all(len(line) <= 998 for line in raw.splitlines())
    assert msg["Subject"] == "[monitord #42] HIGH pornography - Z.Š."
    text, html = parts(msg)
    assert expected in text
    assert expected in html
    assert "Zoë Šťastná" in text


def test_critical_alert_carries_police_advice_and_high_importance(config: Config) -> None:
    j = judged(url="http://abuse.example.net/x", category="child_abuse", severity=Severity.CRITICAL)
    msg, _ = build(config, j, alert_id=9)
    assert msg["Subject"] == "[monitord #9] CRITICAL child_abuse - A.P."
    assert msg["Importance"] == "high"
    assert msg["X-Priority"] == "1"
    assert msg["X-Monitord-Severity"] == "critical"
    text, html = parts(msg)
    for body in (text, html):
        assert "Do not open, view, copy, print or forward the content." in body
        assert "police" in body
        assert "call 999" in body
        assert "LADO" in body
        assert "Preserve the device" in body
        assert "monitord alerts note 9 TEXT" in body
    assert "Severity: CRITICAL    Category: child_abuse" in text
    assert "#8b0000" in html


@pytest.mark.parametrize(("severity", "advice"), [(Severity.HIGH, "ack"), (Severity.MEDIUM, "")])
def test_non_critical_alert_has_no_importance_or_police_advice(
    config: Config, severity: Severity, advice: str
) -> None:
    msg, _ = build(config, judged(category="gambling", severity=severity, entry="bet365.com"))
    assert msg["Importance"] is None
    assert msg["X-Priority"] is None
    text, _ = parts(msg)
    assert "police" not in text
    assert "Do not open" not in text
    for line in ADVICE[severity]:
        assert line.replace("ID", "42") in text
    if advice:
        assert "monitord alerts ack 42" in text


def test_the_filters_own_category_and_verdict_stand_beside_monitords(config: Config) -> None:
    """A FortiGate's block, with its FortiGuard category: both the school's filter's words
    and monitord's category are in the mail, escaped in the HTML."""
    j = judged(category="gambling", entry="bet365.com")
    event = replace(j.event, filter_category="Gambling <Sports>", action="blocked")
    text, html = parts(build(config, replace(j, event=event, fmt="fortigate"))[0])
    assert (
        "The filter's own category: Gambling <Sports> (monitord's: gambling); its verdict: "
        "blocked." in text
    )
    assert "its category: Gambling &lt;Sports&gt; (monitord's: gambling)" in html
    plain, _ = parts(build(config, judged())[0])
    assert "The filter's own category" not in plain  # Squid gives no category of its own


def test_the_console_link_is_the_one_real_link(config: Config) -> None:
    """With ``[web] base_url`` the mail links to the alert's page on the console (its own
    address, never defanged); the log's addresses stay defanged; without it, no link."""
    text, html = parts(build(config, judged())[0])
    assert "console" not in text
    assert "href" not in html
    assert config.path is not None
    config.path.write_text(
        config.path.read_text() + '\n[web]\nbase_url = "https://monitord.school.example/"\n'
    )
    text, html = parts(build(load_config(config.path), judged())[0])
    link = "https://monitord.school.example/alerts/42"
    assert f"Open it on the safeguarding console (sign-in needed): {link}" in text
    assert f'<a href="{link}">Open alert 42 on the safeguarding console</a>' in html
    assert "hxxps://www[.]pornhub[.]com" in text
    assert html.count("href") == 1


# --- the shared headers -----------------------------------------------------------------------

BOUNDARY = re.compile(rb"===============\d+==")
SHARED = mail_module.POLICY


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    url=st.text(min_size=1, max_size=300).map(lambda s: "https://example.org/" + s),
    name=st.text(max_size=60),
    recipients=st.lists(
        st.from_regex(r"[a-z]{1,12}(\.[a-z]{1,12})?@[a-z]{1,20}\.(org|sch\.uk)", fullmatch=True),
        max_size=6,
    ),
)
def test_shared_headers_give_the_default_policys_bytes(
    config: Config, url: str, name: str, recipients: list[str]
) -> None:
    """The policy whose header classes and parsed headers are shared between mails gives
    the same bytes as the email package's own default policy, mail after mail (the MIME
    boundary, random either way, aside)."""
    person = Person("zoe.s", name, "pupil", "6", "Oak")
    j = judged(url=url.replace("\r", " ").replace("\n", " "), person=person)
    decision = j.decisions[0]
    alert = {"indicator": indicator_of(j), "severity": decision.severity.value}
    context = MailContext(config, 7, alert, j, decision, recipients, NOW)
    made = [bytes(build_alert_message(context)) for _ in range(2)]
    try:
        mail_module.POLICY = default_policy
        plain = bytes(build_alert_message(context))
    finally:
        mail_module.POLICY = SHARED
    assert {BOUNDARY.sub(b"B", m) for m in made} == {BOUNDARY.sub(b"B", plain)}
