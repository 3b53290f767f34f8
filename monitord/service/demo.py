"""``monitord demo``: a school day through the whole pipeline, mail to a local SMTP sink.

No network and no server is needed: the store is SQLite in DIR, the SMTP server is an
aiosmtpd sink on the loopback address that saves what it receives into DIR/mailbox.
"""

from __future__ import annotations

import asyncio
import email
import shutil
import socket
import sys
from datetime import datetime
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from rich.console import Console
from rich.table import Table

from alerting.delivery import EmailNotifier, deliver_due
from monitord.casework.cases import list_alerts
from monitord.core.clock import SystemClock
from monitord.identity.roster import import_devices, import_people
from monitord.service.app import ingest_files, open_app
from monitord.service.demodata import write_day
from monitord.service.initdir import init_dir
from monitord.settings.config import Config, load_config

MARKER = ".monitord-demo"


class MailboxHandler:
    """Saves each message the sink receives as a numbered .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        (self.folder / f"{self.count:04d}.eml").write_bytes(envelope.original_content)
        return "250 Message accepted for delivery"


def _program() -> str:
    """How to run monitord again from here (it may be in a virtual environment)."""
    name = Path(sys.argv[0])
    return str(name) if name.name == "monitord" else "monitord"


def _is_tty() -> bool:
    return sys.stdout.isatty()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _prepare(folder: Path) -> None:
    if folder.exists():
        if not (folder / MARKER).exists() and any(folder.iterdir()):
            raise ValueError(f"{folder} exists and is not a monitord demo folder: not touching it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by monitord demo; safe to delete\n", encoding="utf-8")


def _local_hhmm(iso: str, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%H:%M")


def _roles(addresses: list[str], cfg: Config) -> list[str]:
    """Who an alert went to, by role (the DSL, the headteacher...), for the summary."""
    rcpt = cfg.settings.recipients
    names = {
        "dsl": "DSL",
        "headteacher": "headteacher",
        "chair": "chair of governors",
        "technician": "technician",
    }
    return [label for key, label in names.items() if set(getattr(rcpt, key)) & set(addresses)]


def _mail_index(mailbox: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(mailbox.glob("*.eml")):
        msg = email.message_from_bytes(p.read_bytes(), policy=default_policy)
        found[str(msg["Message-ID"])] = p
    return found


def run_demo(folder: Path, console: Console | None = None) -> int:
    out = console or Console(highlight=False, width=None if _is_tty() else 150)
    _prepare(folder)
    mailbox = folder / "mailbox"
    mailbox.mkdir()
    port = _free_port()
    controller = Controller(MailboxHandler(mailbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        return _run(folder, mailbox, port, out)
    finally:
        controller.stop()


def _run(folder: Path, mailbox: Path, port: int, out: Console) -> int:
    config_path = init_dir(folder)[0]
    text = config_path.read_text(encoding="utf-8")
    text = text.replace('host = ""', 'host = "127.0.0.1"').replace("port = 587", f"port = {port}")
    text = text.replace('security = "starttls"', 'security = "none"')
    text = text.replace('name = "Example Primary"', 'name = "Example Primary (demo)"')
    config_path.write_text(text, encoding="utf-8")
    cfg = load_config(config_path)
    clock = SystemClock()
    day = write_day(folder / "logs", clock.now(), cfg.tz)
    app = open_app(cfg, clock)
    people = import_people(app.engine, day.files["roster"], "demo", clock.now())
    devices = import_devices(app.engine, day.files["devices"], "demo", clock.now())
    # The pipeline's identity view is loaded at start; reopen it now the roster is in.
    app = open_app(cfg, clock)
    out.print(
        f"[bold]{cfg.settings.school.name}[/bold]: a school day, {day.day:%A %d %B %Y}\n"
        f"  roster {people.added} people, inventory {devices.added} devices"
    )
    runs = [("dnsmasq-leases", "leases"), ("dnsmasq", "dns"), ("squid", "proxy")]
    for fmt, key in runs:
        r = ingest_files(app, [day.files[key]], fmt, f"demo-{key}")
        out.print(
            f"  {fmt:15s} {r.lines:6d} lines -> {r.events:5d} events, {r.skipped:5d} without "
            f"an event, {r.rejected} rejected"
        )
    notifier = EmailNotifier(cfg)
    now = asyncio.run(deliver_due(app.engine, cfg, clock, notifier))
    later = asyncio.run(deliver_due(app.engine, cfg, clock, notifier, include_batched=True))
    out.print(
        f"  mail: {now.sent} sent at once (critical and high), {later.sent} batched "
        f"(medium; sent hourly, flushed now for the demo) to smtp://127.0.0.1:{port}"
    )
    mails = _mail_index(mailbox)
    table = Table(title="What monitord caught", show_lines=False)
    for col in ("#", "when", "who", "device", "category", "severity", "what", "sent to", "mail"):
        table.add_column(col, overflow="fold")
    from sqlalchemy import select

    from monitord.store.database import mine, table_of
    from monitord.store.tables import OutboxRow

    ot = table_of(OutboxRow)
    with app.engine.connect() as conn:
        query = select(ot).where(mine(conn, ot.c.site_id))
        msg_ids = {r.alert_id: r.message_id for r in conn.execute(query)}
    people_by = {m.username: m for m in day.members}
    for a in list_alerts(app.engine):
        who = "-"
        if a["person"]:
            m = people_by.get(a["person"])
            label = m.name if m else a["person"]
            detail = f"Year {a['year_group']}" if a["year_group"] else a["role"]
            who = f"{label} ({detail})"
        mail = mails.get(msg_ids.get(a["id"], ""))
        table.add_row(
            str(a["id"]),
            _local_hhmm(a["first_seen"], cfg.tz),
            who,
            a["device"] or a["ip"] or "-",
            a["category"],
            a["severity"],
            a["indicator"] + (" (blocked)" if a["blocked"] else "") + f" x{a['count']}",
            ", ".join(_roles(a["recipients"], cfg)),
            str(mail.relative_to(folder)) if mail else "-",
        )
    out.print(table)
    out.print(
        f"Store: {cfg.database_url}\nMail received by the sink: {mailbox}\n"
        f"Try: {_program()} --config {config_path} alerts show 1"
    )
    return 0
