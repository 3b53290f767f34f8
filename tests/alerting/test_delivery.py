"""Delivering the outbox to a real SMTP server on the loopback address (aiosmtpd), and to the
pickup folder when no server is configured."""

from __future__ import annotations

import email
import json
import os
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine, select

from alerting.delivery import (
    DeliveryResult,
    EmailNotifier,
    Outgoing,
    PickupNotifier,
    SentLog,
    SmtpNotifier,
    backoff,
    deliver_due,
    enqueue,
)
from collectors.parsers.base import load_parser
from monitord.core.clock import FixedClock
from monitord.core.model import Origin, RawRecord
from monitord.service.app import open_app
from monitord.service.initdir import CONFIG_TEMPLATE
from monitord.settings.config import Config, load_config
from monitord.store.database import open_store, rows_as_dicts, table_of
from monitord.store.tables import AuditRow, OutboxRow

TZ = ZoneInfo("Europe/London")
SENDER = "monitord@school.example"
DSL = ["dsl@school.example"]
EVERYONE = ["dsl@school.example", "head@school.example", "chair@school.example"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Sink:
    """An SMTP handler that keeps what it accepts, or answers with the reply it is given."""

    def __init__(self) -> None:
        self.data_reply = "250 2.0.0 OK: queued"
        self.rcpt_reply = "250 2.1.5 OK"
        self.rcpt_replies: dict[str, str] = {}
        self.received: list[Any] = []
        self.attempts = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address, self.rcpt_reply)
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.data_reply.startswith("250"):
            self.received.append(envelope)
        return self.data_reply


StartServer = Callable[[int], Sink]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start an aiosmtpd server on 127.0.0.1:port; every one started is stopped afterwards."""
    controllers: list[Controller] = []

    def start(port: int) -> Sink:
        sink = Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return sink

    yield start
    for controller in controllers:
        controller.stop()


def smtp_config(folder: Path, port: int) -> Config:
    """A monitord.toml (from the init template) that sends to 127.0.0.1:port without TLS."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "monitord.toml"
    text = CONFIG_TEMPLATE.format(config=path)
    for old, new in (
        ('host = ""', 'host = "127.0.0.1"'),
        ("port = 587", f"port = {port}"),
        ('security = "starttls"', 'security = "none"\ntimeout = "5s"'),
        ('file = "policy.toml"', 'file = ""'),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def cfg(tmp_path: Path, port: int) -> Config:
    return smtp_config(tmp_path / "site", port)


@pytest.fixture
def engine(cfg: Config) -> Iterator[Engine]:
    e = open_store(cfg.database_url)
    yield e
    e.dispose()


def mail(subject: str, recipients: list[str], body: str) -> bytes:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = SENDER
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = f"<{abs(hash(subject))}.test@school.example>"
    msg.set_content(body)
    msg.add_alternative(f"<p>{body}</p>", subtype="html")
    return bytes(msg)


def queue(
    engine: Engine,
    clock: FixedClock,
    *,
    due_at: datetime | None = None,
    recipients: list[str] | None = None,
    subject: str = "[monitord #1] HIGH pornography - A.P.",
    body: str = "Review the activity below.\n",
) -> int:
    """Put one message in the outbox, as the alert manager would."""
    rcpt = DSL if recipients is None else recipients
    message = mail(subject, rcpt, body)
    with engine.begin() as conn:
        return enqueue(
            conn,
            Outgoing(message, str(email.message_from_bytes(message)["Message-ID"]), subject),
            site_id="default",
            recipients=rcpt,
            severity="high",
            now=clock.now(),
            due=due_at,
        )


def outbox(engine: Engine, msg_id: int) -> dict[str, Any]:
    table = table_of(OutboxRow)
    with engine.connect() as conn:
        [row] = rows_as_dicts(conn.execute(select(table).where(table.c.id == msg_id)))
    return row


def audit(engine: Engine, action: str) -> list[dict[str, Any]]:
    table = table_of(AuditRow)
    with engine.connect() as conn:
        return rows_as_dicts(
            conn.execute(select(table).where(table.c.action == action).order_by(table.c.id))
        )


def lf(data: bytes) -> bytes:
    """SMTP carries CRLF; the outbox stores the message with LF."""
    return data.replace(b"\r\n", b"\n")


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    return msg


# --- to an SMTP server ------------------------------------------------------------------------


async def test_due_messages_are_sent_and_marked_once(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    first = queue(engine, clock, subject="[monitord #1] HIGH pornography - A.P.")
    second = queue(engine, clock, subject="[monitord #2] HIGH violence - B.P.")
    notifier = EmailNotifier(cfg)
    assert isinstance(notifier, SmtpNotifier)

    result = await deliver_due(engine, cfg, clock, notifier)

    where = f"smtp://127.0.0.1:{port}"
    assert result == DeliveryResult(sent=2, where=(where, where))
    assert [parse(e.original_content)["Subject"] for e in sink.received] == [
        "[monitord #1] HIGH pornography - A.P.",
        "[monitord #2] HIGH violence - B.P.",
    ]
    for msg_id in (first, second):
        row = outbox(engine, msg_id)
        assert row["status"] == "sent"
        assert row["attempts"] == 1
        assert row["sent_at"] == clock.now()
        assert row["delivered_to"] == where
        assert row["last_error"] is None
    assert [a["subject"] for a in audit(engine, "mail.sent")] == [
        f"outbox:{first}",
        f"outbox:{second}",
    ]

    clock.advance(timedelta(hours=2))
    again = await deliver_due(engine, cfg, clock, notifier, include_batched=True)
    assert again == DeliveryResult()
    assert len(sink.received) == 2
    assert outbox(engine, first)["sent_at"] == clock.now() - timedelta(hours=2)
    assert len(audit(engine, "mail.sent")) == 2


async def test_recipients_and_bytes_arrive_intact(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    body = (
        "Zoë looked up hxxps://bücher[.]example/straße 👍\n"
        ".a line that starts with a dot\n"
        ".\n"
        "a long line " + "x" * 1500 + "\n"
    )
    msg_id = queue(engine, clock, recipients=EVERYONE, body=body)
    stored = outbox(engine, msg_id)["message"]

    result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg))

    assert result.sent == 1
    [envelope] = sink.received
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == EVERYONE
    assert lf(envelope.original_content) == stored
    got = parse(lf(envelope.original_content))
    assert got["To"] == ", ".join(EVERYONE)
    text = got.get_body(("plain",))
    assert text is not None
    assert text.get_content() == body


async def test_an_alert_from_the_pipeline_reaches_the_dsl(
    cfg: Config, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    app = open_app(cfg, clock)
    try:
        stamp = (clock.now() - timedelta(minutes=2)).astimezone(TZ).strftime("%b %d %H:%M:%S")
        line = f"{stamp} dnsmasq[812]: query[A] www.pornhub.com from 10.0.0.99"
        record = RawRecord(Origin("dns", "dns-file", 0), line.encode(), clock.now())
        batch = app.processor.process("dnsmasq", load_parser("dnsmasq").session(), [record])
        assert batch.alerts_opened == 1

        result = await deliver_due(app.engine, cfg, clock, EmailNotifier(cfg))

        assert result.sent == 1
        [envelope] = sink.received
        assert envelope.rcpt_tos == DSL
        msg = parse(envelope.original_content)
        assert msg["Subject"] == "[monitord #1] HIGH pornography - unknown"
        assert msg["To"] == "dsl@school.example"
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        assert text is not None
        assert html is not None
        assert "www[.]pornhub[.]com" in text.get_content()
        assert "www[.]pornhub[.]com" in html.get_content()
        assert outbox(app.engine, 1)["status"] == "sent"
        [record] = audit(app.engine, "mail.sent")
        assert record["subject"] == "alert:1"  # in the alert's history
        assert json.loads(record["detail"])["outbox"] == 1
    finally:
        app.engine.dispose()


async def test_permanent_refusal_marks_failed_and_is_not_retried(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    sink.data_reply = "550 5.7.1 Message rejected by policy"
    msg_id = queue(engine, clock)

    result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg))

    assert result == DeliveryResult(failed=1)
    row = outbox(engine, msg_id)
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    assert row["sent_at"] is None
    assert "550" in row["last_error"]
    assert "rejected by policy" in row["last_error"]
    [failed] = audit(engine, "mail.failed")
    assert failed["subject"] == f"outbox:{msg_id}"
    assert "550" in json.loads(failed["detail"])["last_error"]

    sink.data_reply = "250 OK"
    clock.advance(timedelta(days=1))
    again = await deliver_due(engine, cfg, clock, EmailNotifier(cfg), include_batched=True)
    assert again == DeliveryResult()
    assert sink.attempts == 1
    assert sink.received == []
    assert outbox(engine, msg_id)["status"] == "failed"


async def test_every_recipient_refused_permanently_marks_failed(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    sink.rcpt_reply = "550 5.1.1 No such user here"
    msg_id = queue(engine, clock, recipients=["dsl@school.example", "head@school.example"])

    result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg))

    assert result == DeliveryResult(failed=1)
    row = outbox(engine, msg_id)
    assert row["status"] == "failed"
    assert "550" in row["last_error"]
    assert "No such user" in row["last_error"]
    clock.advance(timedelta(hours=2))
    assert await deliver_due(engine, cfg, clock, EmailNotifier(cfg)) == DeliveryResult()
    assert sink.attempts == 0


async def test_recipients_refused_partly_for_now_are_retried(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    sink.rcpt_replies = {
        "dsl@school.example": "550 5.1.1 No such user here",
        "head@school.example": "452 4.2.2 Mailbox full",
    }
    msg_id = queue(engine, clock, recipients=["dsl@school.example", "head@school.example"])
    result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg))
    assert result == DeliveryResult(retrying=1)
    row = outbox(engine, msg_id)
    assert (row["status"], row["attempts"]) == ("queued", 1)
    assert row["due_at"] == clock.now() + timedelta(minutes=1)


async def test_temporary_failure_stays_queued_with_backoff(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    sink.data_reply = "451 4.3.0 Mail server temporarily rejected message"
    msg_id = queue(engine, clock)
    notifier = EmailNotifier(cfg)

    result = await deliver_due(engine, cfg, clock, notifier)

    assert result == DeliveryResult(retrying=1)
    row = outbox(engine, msg_id)
    assert row["status"] == "queued"
    assert row["attempts"] == 1
    assert row["due_at"] == clock.now() + timedelta(minutes=1)
    assert "451" in row["last_error"]
    assert "temporarily rejected" in row["last_error"]
    assert audit(engine, "mail.failed") == []

    # Not due again yet: nothing is tried.
    assert await deliver_due(engine, cfg, clock, notifier) == DeliveryResult()
    assert sink.attempts == 1

    clock.advance(timedelta(minutes=1))
    assert await deliver_due(engine, cfg, clock, notifier) == DeliveryResult(retrying=1)
    row = outbox(engine, msg_id)
    assert (row["status"], row["attempts"]) == ("queued", 2)
    assert row["due_at"] == clock.now() + timedelta(minutes=2)

    sink.data_reply = "250 OK"
    clock.advance(timedelta(minutes=2))
    assert (await deliver_due(engine, cfg, clock, notifier)).sent == 1
    row = outbox(engine, msg_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
    assert sink.attempts == 3
    assert len(sink.received) == 1


def test_backoff_grows_to_an_hour() -> None:
    assert [backoff(n) for n in range(8)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)
    ]
    assert backoff(1000) == timedelta(hours=1)


async def test_server_down_then_up_delivers_exactly_once(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    msg_id = queue(engine, clock)
    notifier = EmailNotifier(cfg)

    down = await deliver_due(engine, cfg, clock, notifier)  # nothing listens on the port

    assert down == DeliveryResult(retrying=1)
    row = outbox(engine, msg_id)
    assert row["status"] == "queued"
    assert row["attempts"] == 1
    assert row["last_error"]
    assert row["due_at"] > clock.now()

    sink = start_server(port)
    assert await deliver_due(engine, cfg, clock, notifier) == DeliveryResult()
    assert sink.attempts == 0

    clock.advance(row["due_at"] - clock.now() + timedelta(seconds=1))
    up = await deliver_due(engine, cfg, clock, notifier)
    assert up.sent == 1
    clock.advance(timedelta(hours=1))
    assert await deliver_due(engine, cfg, clock, notifier, include_batched=True) == (
        DeliveryResult()
    )
    assert len(sink.received) == 1
    assert sink.attempts == 1
    row = outbox(engine, msg_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, None)


async def test_batched_message_waits_unless_included(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    next_hour = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    medium = queue(engine, clock, due_at=next_hour, subject="[monitord #3] MEDIUM gambling - A.P.")
    high = queue(engine, clock, subject="[monitord #4] HIGH pornography - A.P.")
    notifier = EmailNotifier(cfg)

    now = await deliver_due(engine, cfg, clock, notifier, include_batched=False)
    assert now.sent == 1
    assert outbox(engine, high)["status"] == "sent"
    assert outbox(engine, medium)["status"] == "queued"
    assert outbox(engine, medium)["attempts"] == 0

    flushed = await deliver_due(engine, cfg, clock, notifier, include_batched=True)
    assert flushed.sent == 1
    assert outbox(engine, medium)["status"] == "sent"
    assert [parse(e.original_content)["Subject"] for e in sink.received] == [
        "[monitord #4] HIGH pornography - A.P.",
        "[monitord #3] MEDIUM gambling - A.P.",
    ]


async def test_batched_message_goes_when_its_hour_comes(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    next_hour = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    medium = queue(engine, clock, due_at=next_hour)
    notifier = EmailNotifier(cfg)
    clock.advance(timedelta(minutes=59, seconds=59))
    assert await deliver_due(engine, cfg, clock, notifier) == DeliveryResult()
    clock.advance(timedelta(seconds=1))
    assert (await deliver_due(engine, cfg, clock, notifier)).sent == 1
    assert outbox(engine, medium)["sent_at"] == next_hour
    assert len(sink.received) == 1


async def test_no_recipients_fails_without_contacting_the_server(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    msg_id = queue(engine, clock, recipients=[])
    result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg))
    assert result == DeliveryResult(failed=1)
    row = outbox(engine, msg_id)
    assert row["status"] == "failed"
    assert "no recipients" in row["last_error"]
    assert sink.attempts == 0


# --- to the pickup folder ---------------------------------------------------------------------


async def test_without_smtp_host_pickup_writes_complete_eml(
    config: Config, clock: FixedClock
) -> None:
    assert config.settings.smtp.host == ""
    notifier = EmailNotifier(config)
    assert isinstance(notifier, PickupNotifier)
    app = open_app(config, clock)
    try:
        stamp = (clock.now() - timedelta(minutes=2)).astimezone(TZ).strftime("%b %d %H:%M:%S")
        lines = [
            f"{stamp} dnsmasq[812]: query[A] www.pornhub.com from 10.0.0.99",
            f"{stamp} dnsmasq[812]: query[A] bet365.com from 10.0.0.99",
        ]
        records = [
            RawRecord(Origin("dns", "dns-file", i * 100), line.encode(), clock.now())
            for i, line in enumerate(lines)
        ]
        assert (
            app.processor.process(
                "dnsmasq", load_parser("dnsmasq").session(), records
            ).alerts_opened
            == 2
        )

        now = await deliver_due(app.engine, config, clock, notifier)
        later = await deliver_due(app.engine, config, clock, notifier, include_batched=True)
        again = await deliver_due(app.engine, config, clock, notifier, include_batched=True)

        folder = config.pickup_dir
        first, second = folder / "000001.eml", folder / "000002.eml"
        assert now == DeliveryResult(sent=1, where=(str(first),))
        assert later == DeliveryResult(sent=1, where=(str(second),))
        assert again == DeliveryResult()
        assert sorted(p.name for p in folder.iterdir()) == ["000001.eml", "000002.eml"]
        assert first.read_bytes() == outbox(app.engine, 1)["message"]
        assert second.read_bytes() == outbox(app.engine, 2)["message"]
        assert outbox(app.engine, 1)["delivered_to"] == str(first)

        msg = parse(first.read_bytes())
        assert msg["Subject"] == "[monitord #1] HIGH pornography - unknown"
        assert msg["From"] == SENDER
        assert msg["To"] == "dsl@school.example"
        assert msg["Message-ID"] == "<alert-1.default.monitord@school.example>"
        assert msg["Date"] is not None
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        assert text is not None
        assert html is not None
        assert "Full details on the monitord server: monitord alerts show 1" in text.get_content()
        assert html.get_content().rstrip().endswith("</html>")
        assert parse(second.read_bytes())["Subject"] == "[monitord #2] MEDIUM gambling - unknown"
    finally:
        app.engine.dispose()


async def test_pickup_never_overwrites_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "pickup"
    folder.mkdir()
    (folder / "000002.eml").write_bytes(b"earlier\n")
    notifier = PickupNotifier(folder)
    first = (await notifier.send(b"Subject: one\n\n1\n", SENDER, DSL)).where
    second = (await notifier.send(b"Subject: two\n\n2\n", SENDER, DSL)).where
    assert Path(first).read_bytes() == b"Subject: one\n\n1\n"
    assert Path(second).read_bytes() == b"Subject: two\n\n2\n"
    assert (folder / "000002.eml").read_bytes() == b"earlier\n"
    assert len({first, second, str(folder / "000002.eml")}) == 3
    assert not list(folder.glob(".*"))


# --- TLS, authentication, partial refusals, the hourly cap ------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    """The server's certificate for 127.0.0.1, signed by the test's own authority."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


def site_config(folder: Path, port: int, settings: dict[str, str]) -> Config:
    """smtp_config with [smtp] keys set (values as TOML)."""
    cfg = smtp_config(folder, port)
    assert cfg.path is not None
    text = cfg.path.read_text(encoding="utf-8")
    for key, value in settings.items():
        line = next((ln for ln in text.splitlines() if ln.startswith(f"{key} = ")), None)
        if line is None:
            text = text.replace("[smtp]\n", f"[smtp]\n{key} = {value}\n", 1)
        else:
            text = text.replace(line, f"{key} = {value}", 1)
    cfg.path.write_text(text, encoding="utf-8")
    return load_config(cfg.path)


class Accounts:
    """An aiosmtpd authenticator with one account, counting the attempts."""

    def __init__(self, login: str, password: str) -> None:
        self.login = login.encode()
        self.password = password.encode()
        self.attempts = 0
        self.accepted = 0

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.attempts += 1
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.login,
            self.password,
        )
        self.accepted += ok
        return AuthResult(success=ok, handled=False)  # aiosmtpd sends the 235 or 535


@pytest.fixture
def start_tls_server(ca: trustme.CA) -> Iterator[Callable[..., Sink]]:
    controllers: list[Controller] = []

    def start(port: int, *, implicit: bool = False, auth: Accounts | None = None) -> Sink:
        sink = Sink()
        tls = server_tls(ca)
        kwargs: dict[str, Any] = {"ssl_context": tls} if implicit else {"tls_context": tls}
        if not implicit:
            kwargs["require_starttls"] = True
        if auth is not None:
            kwargs["authenticator"] = auth
            kwargs["auth_required"] = True
            # aiosmtpd counts only STARTTLS as TLS for AUTH; implicit TLS is TLS from the
            # first byte.
            kwargs["auth_require_tls"] = not implicit
        controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return sink

    yield start
    for controller in controllers:
        controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_with_the_schools_own_authority_and_a_password_file(
    tmp_path: Path,
    port: int,
    clock: FixedClock,
    ca: trustme.CA,
    start_tls_server: Callable[..., Sink],
    security: str,
) -> None:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    (tmp_path / "smtp-password").write_text("s3cret passw0rd\n", encoding="utf-8")
    accounts = Accounts("monitord", "s3cret passw0rd")
    sink = start_tls_server(port, implicit=security == "tls", auth=accounts)
    cfg = site_config(
        tmp_path / "site",
        port,
        {
            "security": f'"{security}"',
            "username": '"monitord"',
            "password_file": '"../smtp-password"',
            "ca_file": '"../ca.pem"',
        },
    )
    engine = open_store(cfg.database_url)
    try:
        msg_id = queue(engine, clock)
        result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg))
        assert result.sent == 1, outbox(engine, msg_id)["last_error"]
        assert (accounts.attempts, accounts.accepted) == (1, 1)
        [envelope] = sink.received
        assert envelope.rcpt_tos == DSL
    finally:
        engine.dispose()


async def test_a_certificate_from_an_unknown_authority_is_refused_and_retried(
    tmp_path: Path,
    port: int,
    clock: FixedClock,
    start_tls_server: Callable[..., Sink],
) -> None:
    sink = start_tls_server(port)
    cfg = site_config(tmp_path / "site", port, {"security": '"starttls"'})
    engine = open_store(cfg.database_url)
    try:
        msg_id = queue(engine, clock)
        assert await deliver_due(engine, cfg, clock, EmailNotifier(cfg)) == DeliveryResult(
            retrying=1
        )
        row = outbox(engine, msg_id)
        assert row["status"] == "queued"
        assert "CERTIFICATE_VERIFY_FAILED" in row["last_error"]
        assert sink.received == []
    finally:
        engine.dispose()


async def test_wrong_password_is_retried_not_dropped(
    tmp_path: Path,
    port: int,
    clock: FixedClock,
    ca: trustme.CA,
    start_tls_server: Callable[..., Sink],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    accounts = Accounts("monitord", "right")
    sink = start_tls_server(port, auth=accounts)
    cfg = site_config(
        tmp_path / "site",
        port,
        {"security": '"starttls"', "ca_file": '"../ca.pem"', "username": '"monitord"'},
    )
    engine = open_store(cfg.database_url)
    try:
        monkeypatch.setenv("MONITORD_SMTP_PASSWORD", "wrong")
        msg_id = queue(engine, clock)
        assert await deliver_due(engine, cfg, clock, EmailNotifier(cfg)) == DeliveryResult(
            retrying=1
        )
        row = outbox(engine, msg_id)
        assert (row["status"], row["attempts"]) == ("queued", 1)
        assert "535" in row["last_error"]

        monkeypatch.setenv("MONITORD_SMTP_PASSWORD", "right")  # the password is put right
        clock.advance(timedelta(minutes=1))
        assert (await deliver_due(engine, cfg, clock, EmailNotifier(cfg))).sent == 1
        assert accounts.accepted == 1
        assert len(sink.received) == 1
    finally:
        engine.dispose()


async def test_some_recipients_refused_is_recorded_not_hidden(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    sink = start_server(port)
    sink.rcpt_replies = {
        "head@school.example": "550 5.1.1 No such user here",
        "chair@school.example": "452 4.2.2 Mailbox full",
    }
    msg_id = queue(engine, clock, recipients=EVERYONE)
    result = await deliver_due(engine, cfg, clock, EmailNotifier(cfg))
    assert result.sent == 1
    [envelope] = sink.received
    assert envelope.rcpt_tos == ["dsl@school.example"]
    row = outbox(engine, msg_id)
    assert row["status"] == "sent"
    refused = json.loads(row["refused"])
    assert refused["head@school.example"].startswith("550")
    assert refused["chair@school.example"].startswith("452")
    [record] = audit(engine, "mail.refused")
    detail = json.loads(record["detail"])
    assert detail["refused"] == refused
    # The recipient refused for now gets the same message (same Message-ID) later.
    retry = outbox(engine, detail["retry"])
    assert retry["status"] == "queued"
    assert json.loads(retry["recipients"]) == ["chair@school.example"]
    assert retry["message_id"] == row["message_id"]
    assert retry["message"] == row["message"]
    assert retry["due_at"] == clock.now() + timedelta(minutes=1)
    sink.rcpt_replies = {}
    clock.advance(timedelta(minutes=1))
    assert (await deliver_due(engine, cfg, clock, EmailNotifier(cfg))).sent == 1
    first, again = sink.received
    assert again.rcpt_tos == ["chair@school.example"]
    assert (
        parse(again.original_content)["Message-ID"] == parse(first.original_content)["Message-ID"]
    )


def set_severity(engine: Engine, msg_id: int, severity: str) -> None:
    table = table_of(OutboxRow)
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == msg_id).values(severity=severity))


def capped_config(folder: Path, port: int, cap: int) -> Config:
    """The SMTP config with at most ``cap`` alert mails an hour."""
    cfg = smtp_config(folder, port)
    assert cfg.path is not None
    with cfg.path.open("a", encoding="utf-8") as fh:
        fh.write(f"\n[alerts]\nmax_mails_per_hour = {cap}\n")
    return load_config(cfg.path)


async def test_hourly_cap_holds_the_rest_for_later_but_never_critical(
    tmp_path: Path, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    cfg = capped_config(tmp_path / "site", port, 2)
    engine = open_store(cfg.database_url)
    sink = start_server(port)
    notifier = EmailNotifier(cfg)
    try:
        high = [
            queue(engine, clock, subject=f"[monitord #{n}] HIGH violence - B.P.")
            for n in (1, 2, 3, 4)
        ]
        critical = queue(engine, clock, subject="[monitord #5] CRITICAL child_abuse - A.P.")
        set_severity(engine, critical, "critical")

        first = await deliver_due(engine, cfg, clock, notifier)
        assert (first.sent, first.waiting) == (3, 2)
        got = [parse(e.original_content)["Subject"] for e in sink.received]
        assert got[0] == "[monitord #5] CRITICAL child_abuse - A.P."  # first, and not counted
        assert [outbox(engine, m)["status"] for m in high] == ["sent", "sent", "queued", "queued"]

        # The cap is taken: a later critical still goes at once, the rest wait.
        clock.advance(timedelta(minutes=10))
        later = queue(engine, clock, subject="[monitord #6] CRITICAL child_abuse - C.D.")
        set_severity(engine, later, "critical")
        second = await deliver_due(engine, cfg, clock, notifier)
        assert (second.sent, second.waiting) == (1, 2)
        assert await deliver_due(engine, cfg, clock, notifier) == DeliveryResult(waiting=2)

        # An hour after the first mails the other two go; nothing was dropped.
        clock.advance(timedelta(minutes=51))
        third = await deliver_due(engine, cfg, clock, notifier)
        assert (third.sent, third.waiting) == (2, 0)
        assert len(sink.received) == 6
        assert len({parse(e.original_content)["Message-ID"] for e in sink.received}) == 6
    finally:
        engine.dispose()


async def test_a_flush_keeps_the_hourly_cap_but_not_for_critical_mail(
    tmp_path: Path, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    """``outbox flush`` sends batched mail before its time, not past the cap: a backlog
    after a mail server's outage reaches the DSL a cap's worth an hour."""
    cfg = capped_config(tmp_path / "site", port, 2)
    engine = open_store(cfg.database_url)
    sink = start_server(port)
    notifier = EmailNotifier(cfg)
    try:
        later = clock.now() + timedelta(hours=3)  # batched: not due for hours
        batched = [queue(engine, clock, due_at=later) for _ in range(4)]
        critical = [queue(engine, clock, due_at=later) for _ in range(3)]
        for msg in critical:
            set_severity(engine, msg, "critical")
        flushed = await deliver_due(engine, cfg, clock, notifier, include_batched=True)
        assert (flushed.sent, flushed.waiting) == (5, 2)
        assert [outbox(engine, m)["status"] for m in critical] == ["sent"] * 3
        assert [outbox(engine, m)["status"] for m in batched] == [
            "sent",
            "sent",
            "queued",
            "queued",
        ]
        again = await deliver_due(engine, cfg, clock, notifier, include_batched=True)
        assert again == DeliveryResult(waiting=2)
        clock.advance(timedelta(hours=1, seconds=1))
        last = await deliver_due(engine, cfg, clock, notifier, include_batched=True)
        assert (last.sent, last.waiting) == (2, 0)
        assert len(sink.received) == 7
    finally:
        engine.dispose()


async def killed_in(
    where: Any, name: str, engine: Engine, cfg: Config, clock: FixedClock, mp: pytest.MonkeyPatch
) -> None:
    """A delivery round that dies (as if killed) when it calls ``where.name``."""

    def crash(*args: Any) -> None:
        raise SystemExit("killed")

    with mp.context() as patch:
        patch.setattr(where, name, crash)
        with pytest.raises(SystemExit):
            await deliver_due(engine, cfg, clock, EmailNotifier(cfg))


async def test_a_message_sent_again_after_a_crash_is_the_same_message(
    cfg: Config,
    engine: Engine,
    clock: FixedClock,
    port: int,
    start_server: StartServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server has the message but monitord dies before it writes that down (the instant
    after the server's reply): the message goes again, byte for byte, so the reader's mail
    client sees one Message-ID twice."""
    sink = start_server(port)
    msg_id = queue(engine, clock)
    await killed_in(SentLog, "write", engine, cfg, clock, monkeypatch)
    assert outbox(engine, msg_id)["status"] == "queued"
    assert (await deliver_due(engine, cfg, clock, EmailNotifier(cfg))).sent == 1
    first, again = sink.received
    assert first.original_content == again.original_content
    assert outbox(engine, msg_id)["status"] == "sent"
    # Which message may have gone twice is known, and said.
    [record] = audit(engine, "mail.interrupted")
    message_id = outbox(engine, msg_id)["message_id"]
    assert json.loads(record["detail"]) == {"outbox": msg_id, "message_id": message_id}
    assert record["subject"] == f"outbox:{msg_id}"


async def test_a_crash_while_the_server_answers_quit_does_not_send_again(
    cfg: Config,
    engine: Engine,
    clock: FixedClock,
    port: int,
    start_server: StartServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server has accepted the message and monitord dies while it waits for the answer
    to QUIT (a slow or dying server): what was accepted was written down before QUIT, so the
    next round records it as sent and sends nothing."""
    sink = start_server(port)
    msg_id = queue(engine, clock)
    await killed_in(aiosmtplib.SMTP, "quit", engine, cfg, clock, monkeypatch)
    assert outbox(engine, msg_id)["status"] == "queued"

    assert await deliver_due(engine, cfg, clock, EmailNotifier(cfg)) == DeliveryResult()
    assert len(sink.received) == 1
    assert outbox(engine, msg_id)["status"] == "sent"
    assert audit(engine, "mail.interrupted") == []


async def test_a_message_that_went_nowhere_is_not_taken_for_interrupted(
    cfg: Config,
    engine: Engine,
    clock: FixedClock,
    port: int,
    start_server: StartServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A message the server refused for now, then a crash before that was recorded: it is
    retried as any refused message is, with nothing said of a second copy."""
    import alerting.delivery as delivery

    sink = start_server(port)
    sink.data_reply = "451 4.3.0 try again later"
    msg_id = queue(engine, clock)
    await killed_in(delivery, "_mark", engine, cfg, clock, monkeypatch)
    sink.data_reply = "250 2.0.0 OK"
    assert (await deliver_due(engine, cfg, clock, EmailNotifier(cfg))).sent == 1
    assert sink.attempts == 2
    assert len(sink.received) == 1
    assert outbox(engine, msg_id)["status"] == "sent"
    assert audit(engine, "mail.interrupted") == []
    assert sent_logs(cfg) == []


def sent_logs(cfg: Config) -> list[Path]:
    db = Path(cfg.database_url.removeprefix("sqlite:///"))
    return sorted(db.parent.glob(db.name + ".mail-sent.*"))


async def test_a_crash_before_the_store_records_the_mail_does_not_send_it_again(
    cfg: Config,
    engine: Engine,
    clock: FixedClock,
    port: int,
    start_server: StartServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server has the message and monitord dies while its record waits for the store
    (the pipeline holds SQLite's write lock while it stores a batch): the sent log has it, so
    the next round records it as sent, once, and sends nothing."""
    import alerting.delivery as delivery

    sink = start_server(port)
    msg_id = queue(engine, clock)
    await killed_in(delivery, "_mark", engine, cfg, clock, monkeypatch)
    assert outbox(engine, msg_id)["status"] == "queued"
    assert len(sent_logs(cfg)) == 1
    when = clock.now()
    clock.advance(timedelta(minutes=5))

    assert await deliver_due(engine, cfg, clock, EmailNotifier(cfg)) == DeliveryResult()
    assert len(sink.received) == 1
    row = outbox(engine, msg_id)
    assert (row["status"], row["attempts"], row["sent_at"]) == ("sent", 1, when)
    assert row["delivered_to"] == f"smtp://127.0.0.1:{port}"
    assert len(audit(engine, "mail.sent")) == 1
    assert sent_logs(cfg) == []


async def test_the_sent_log_of_a_process_still_running_is_left_to_it(
    cfg: Config, engine: Engine, clock: FixedClock, port: int, start_server: StartServer
) -> None:
    """Another monitord that is running (the daemon, while `outbox flush` runs) records its
    own sends; the log of a process that is gone is read by the next one, and a message in it
    twice is recorded once."""
    sink = start_server(port)
    msg_id = queue(engine, clock)
    sent_at = clock.now() - timedelta(minutes=1)
    values = {"status": "sent", "attempts": 1, "sent_at": sent_at, "delivered_to": "smtp://x"}
    ours = SentLog.of(engine)
    assert ours is not None
    dead = subprocess.Popen(["true"])
    dead.wait()  # its process id is nobody's now
    for pid, logged in ((os.getppid(), 999), (dead.pid, msg_id), (dead.pid, msg_id)):
        theirs = SentLog(ours.prefix)
        theirs.path = ours.prefix.with_name(f"{ours.prefix.name}{pid}")
        theirs.write(logged, None, values, [])

    assert await deliver_due(engine, cfg, clock, EmailNotifier(cfg)) == DeliveryResult()

    assert sink.received == []
    row = outbox(engine, msg_id)
    assert (row["status"], row["sent_at"], row["delivered_to"]) == ("sent", sent_at, "smtp://x")
    assert [a["subject"] for a in audit(engine, "mail.sent")] == [f"outbox:{msg_id}"]
    assert [p.name.rsplit(".", 1)[1] for p in sent_logs(cfg)] == [str(os.getppid())]
