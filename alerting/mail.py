"""Alert emails: Jinja2 templates (plain text and HTML, autoescaped), defanged indicators, and
subjects that carry no pupil's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from alerting.delivery import Outgoing
from alerting.mime import alternative
from monitord.core.defang import clean, defang
from monitord.core.model import Decision, Judged, Person, Severity
from monitord.settings.config import Config

_ENV = Environment(
    loader=PackageLoader("alerting", "templates"),
    # The templates are named *.html.j2: match that, or the HTML part is not escaped at all.
    autoescape=select_autoescape(["html", "html.j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    # The templates ship with the package: no file is looked at again once compiled.
    auto_reload=False,
)


class _Headers(HeaderRegistry):
    """The email package's header registry, cheaper: each header class is made once (the
    package makes a new class for every header it parses), and a header whose name and text
    were parsed lately is the same object again (headers are immutable strings), so the
    parts' Content-Type and the recipients are not parsed again for every mail."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._made: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        cls = self._classes.get(name.lower())
        if cls is None:
            cls = self._classes[name.lower()] = super().__getitem__(name)
        return cls

    def __call__(self, name: str, value: str) -> BaseHeader:
        if type(value) is not str:
            return super().__call__(name, value)
        key = (name, value)
        header = self._made.get(key)
        if header is None:
            if len(self._made) >= 1024:
                self._made.clear()
            header = self._made[key] = self[name](name, value)
        return header


# The mail's bytes are the email package's default policy's; only the headers' parsing is
# shared between mails.
POLICY = default.clone(header_factory=_Headers())

ADVICE = {
    Severity.CRITICAL: [
        "Do not open, view, copy, print or forward the content.",
        "Preserve the device: do not switch it off or let anyone use it; keep it secure.",
        "Refer to the police (call 999 if a child is at immediate risk) and to the LADO when "
        "a member of staff is involved.",
        "Record what you do in this alert: monitord alerts note ID TEXT.",
    ],
    Severity.HIGH: [
        "Review the activity below and speak with the person involved as your safeguarding "
        "procedure sets out.",
        "Record what you decide: monitord alerts ack ID, then note and close it.",
    ],
    Severity.MEDIUM: [
        "Review when convenient; record the outcome with monitord alerts close ID --outcome O.",
    ],
}


def initials(name: str | None, fallback: str | None) -> str:
    """Initials for a subject line: letters only, never the name itself."""
    source = name or fallback or ""
    parts = [p for p in re.split(r"[\s,._-]+", source) if p]
    letters = "".join(p[0] for p in parts if p[0].isalpha()).upper()[:3]
    return ".".join(letters) + "." if letters else "unknown"


@dataclass(frozen=True, slots=True)
class Nearby:
    """An event of the same person or device shortly before or after the alert's event."""

    ts: datetime
    kind: str
    indicator: str
    category: str | None
    blocked: bool
    this: bool = False  # the alert's own event, shown in its place among the others


@dataclass(frozen=True, slots=True)
class Update:
    """What an update mail says about the alert it follows up."""

    number: int  # 1 for the first update after the alert's first mail
    thread: str | None  # the Message-ID of the alert's first mail, if one went
    count: int
    first_seen: datetime
    last_seen: datetime
    raised_from: Severity | None = None  # the severity before, when this update raises it


@dataclass(frozen=True, slots=True)
class MailContext:
    cfg: Config
    alert_id: int
    alert: dict[str, Any]
    judged: Judged
    decision: Decision
    recipients: list[str]
    now: datetime
    nearby: tuple[Nearby, ...] = ()
    update: Update | None = None


def console_link(cfg: Config, alert_id: int) -> str | None:
    """The alert's page on the safeguarding console (``[web] base_url``), or None without
    one. The console's own address, from the config alone, so it is a real link: it is
    the one address in the mail that is never defanged."""
    base = cfg.settings.web.base_url.rstrip("/")
    return f"{base}/alerts/{alert_id}" if base else None


def message_id(cfg: Config, alert_id: int, update: int = 0) -> str:
    """The alert's first mail is ``<alert-ID.site.monitord@domain>``; its n-th update adds
    ``.n`` after the id. The same alert and number always give the same id."""
    domain = cfg.settings.smtp.sender.rpartition("@")[2] or "monitord.local"
    site = re.sub(r"[^A-Za-z0-9-]", "-", cfg.settings.school.site_id)
    number = f".{update}" if update else ""
    return f"<alert-{alert_id}{number}.{site}.monitord@{clean(domain, 200)}>"


def build_alert_message(ctx: MailContext) -> EmailMessage:
    """The alert's mail as a message of the email package."""
    return message_of(*_alert_mail(ctx))


def alert_outgoing(ctx: MailContext) -> Outgoing:
    """The alert's mail as the outbox keeps it: the bytes of ``build_alert_message``'s
    message, written directly where ``alternative`` knows them (nearly every alert mail)."""
    headers, text, html = _alert_mail(ctx)
    raw = alternative(headers, text, html)
    if raw is None:
        return Outgoing.of(message_of(headers, text, html))
    named = dict(headers)
    return Outgoing(raw, named["Message-ID"], named["Subject"])


def message_of(headers: list[tuple[str, str]], text: str, html: str) -> EmailMessage:
    """The mail of these headers, a plain text part and an HTML alternative, as the email
    package makes it."""
    msg = EmailMessage(policy=POLICY)
    for name, value in headers:
        msg[name] = value
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def _alert_mail(ctx: MailContext) -> tuple[list[tuple[str, str]], str, str]:
    """The alert mail's headers, plain text and HTML."""
    cfg = ctx.cfg
    j = ctx.judged
    person = j.attribution.person
    device = j.attribution.device
    tz = cfg.tz
    sev = ctx.decision.severity
    who_initials = initials(person.display_name if person else None, j.event.user)
    subject = (
        f"[monitord #{ctx.alert_id}] {sev.value.upper()} {ctx.decision.category} - {who_initials}"
    )
    upd = ctx.update
    if upd is not None and upd.thread is not None:
        subject = "Re: " + subject  # mail clients that thread by subject keep updates together

    def local(ts: datetime, fmt: str = "%A %d %B %Y, %H:%M:%S %Z") -> str:
        return ts.astimezone(tz).strftime(fmt)

    data = {
        "school": clean(cfg.settings.school.name, 200),
        "alert_id": ctx.alert_id,
        "severity": sev.value,
        "category": ctx.decision.category,
        "person": clean(person.display_name) if person else None,
        "username": clean(person.username if person else j.event.user or "") or None,
        "role": person.role if person else None,
        "year_group": person.year_group if person else None,
        "class_name": clean(person.class_name) if person and person.class_name else None,
        "device": clean(device.device_id) if device else None,
        "ownership": device.ownership if device else None,
        "ip": clean(j.event.client_ip or ""),
        "when": local(j.event.ts),
        "indicator": defang(ctx.alert["indicator"]),
        "blocked": j.event.blocked,
        # The school's filter's own category and verdict, beside monitord's category.
        "filter_category": clean(j.event.filter_category, 128) if j.event.filter_category else None,
        "filter_action": clean(j.event.action or "", 64) or None,
        "source": clean(j.origin.source),
        "fmt": j.fmt,
        "matches": [
            {
                "category": m.category,
                "list": clean(m.list_name),
                "entry": defang(m.entry),
                "allow": m.allow,
            }
            for m in j.matches
        ],
        "rule": clean(ctx.decision.rule),
        "attribution": clean(j.attribution.reason),
        "advice": [a.replace("ID", str(ctx.alert_id)) for a in ADVICE.get(sev, [])],
        "link": console_link(cfg, ctx.alert_id),
        "evidence": f"alert {ctx.alert_id}, event {j.event_id}, {clean(j.origin.source)} "
        f"file {clean(j.origin.file_id)} offset {j.origin.offset}",
        "nearby": [
            {
                "when": local(n.ts, "%H:%M:%S"),
                "kind": n.kind,
                "indicator": defang(n.indicator, 300),
                "category": n.category,
                "blocked": n.blocked,
                "this": n.this,
            }
            for n in ctx.nearby
        ],
        "update": None
        if upd is None
        else {
            "number": upd.number,
            "count": upd.count,
            "first_seen": local(upd.first_seen),
            "last_seen": local(upd.last_seen),
            "raised_from": upd.raised_from.value if upd.raised_from else None,
        },
    }
    headers = [
        ("Subject", clean(subject, 200)),
        ("From", cfg.settings.smtp.sender),
        ("To", ", ".join(ctx.recipients) if ctx.recipients else "undisclosed-recipients:;"),
        ("Date", format_datetime(ctx.now)),
        ("Message-ID", message_id(cfg, ctx.alert_id, upd.number if upd else 0)),
    ]
    if upd is not None and upd.thread is not None:
        headers += [("In-Reply-To", upd.thread), ("References", upd.thread)]
    headers += [("X-Monitord-Alert", str(ctx.alert_id)), ("X-Monitord-Severity", sev.value)]
    if sev is Severity.CRITICAL:
        headers += [("Importance", "high"), ("X-Priority", "1")]
    text = _ENV.get_template("alert.txt.j2").render(**data)
    html = _ENV.get_template("alert.html.j2").render(**data)
    return headers, text, html


@dataclass(frozen=True, slots=True)
class Escalation:
    """An alert raised by hand, and what its update mail says."""

    alert: dict[str, Any]  # the alert's stored row, after the change
    person: Person | None
    before: Severity
    actor: str
    reason: str
    number: int  # how many different mails went about the alert before this one
    thread: str | None
    recipients: list[str]
    now: datetime


def build_escalation_message(cfg: Config, e: Escalation) -> EmailMessage:
    a = e.alert
    sev = Severity(a["severity"])
    person = e.person
    tz = cfg.tz

    def local(ts: datetime) -> str:
        return ts.astimezone(tz).strftime("%A %d %B %Y, %H:%M:%S %Z")

    who = initials(person.display_name if person else None, a["person"])
    subject = f"[monitord #{a['id']}] {sev.value.upper()} {a['category']} - {who}"
    data = {
        "school": clean(cfg.settings.school.name, 200),
        "alert_id": a["id"],
        "severity": sev.value,
        "before": e.before.value,
        "category": a["category"],
        "actor": clean(e.actor, 200),
        "reason": clean(e.reason),
        "person": clean(person.display_name) if person else None,
        "username": clean(a["person"]) if a["person"] else None,
        "role": a["role"],
        "year_group": a["year_group"],
        "class_name": clean(person.class_name) if person and person.class_name else None,
        "device": clean(a["device"]) if a["device"] else None,
        "ip": clean(a["ip"] or ""),
        "indicator": defang(a["indicator"]),
        "count": a["count"],
        "first_seen": local(a["first_seen"]),
        "last_seen": local(a["last_seen"]),
        "advice": [x.replace("ID", str(a["id"])) for x in ADVICE.get(sev, [])],
        "link": console_link(cfg, int(a["id"])),
    }
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = clean(("Re: " if e.thread else "") + subject, 200)
    msg["From"] = cfg.settings.smtp.sender
    msg["To"] = ", ".join(e.recipients) if e.recipients else "undisclosed-recipients:;"
    msg["Date"] = format_datetime(e.now)
    msg["Message-ID"] = message_id(cfg, int(a["id"]), e.number)
    if e.thread:
        msg["In-Reply-To"] = e.thread
        msg["References"] = e.thread
    msg["X-Monitord-Alert"] = str(a["id"])
    msg["X-Monitord-Severity"] = sev.value
    if sev is Severity.CRITICAL:
        msg["Importance"] = "high"
        msg["X-Priority"] = "1"
    msg.set_content(_ENV.get_template("escalation.txt.j2").render(**data))
    msg.add_alternative(_ENV.get_template("escalation.html.j2").render(**data), subtype="html")
    return msg
