"""Evidence bundles: one alert, everything behind it, in a zip that holds up outside school.

``monitord evidence export ID -o FILE`` writes:

- ``alert.json``: the alert as ``alerts list --json`` shows it;
- ``events.json``: its events, each with its origin (source, file identity, byte offset), how
  monitord attributed it, its matches and the SHA-256 of its raw line;
- ``raw/NNNN-EVENT.log``: each event's line exactly as it was read, byte for byte;
- ``lists.json``: the versions (SHA-256) of the lists that matched;
- ``audit.json``: every audit record about the alert (with its school and the form of its
  hash), with its place in the hash chain, and whether the whole chain verified when the
  bundle was made;
- ``mail.json`` and ``mail/*.eml``: the mail sent about it;
- ``review-form.html``: the school's "record of reviewing devices / internet sites" form,
  filled in from the alert and its case work, printable;
- ``manifest.json`` and ``SHA256SUMS``: the SHA-256 of every file above
  (``sha256sum -c SHA256SUMS`` checks them).

With a password the zip is AES-256 encrypted (WinZip AES, which 7-Zip and most archive tools
open), as data sent to outside agencies must be. Every export is itself in the audit trail,
with the bundle's own SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyzipper  # type: ignore[import-untyped]
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Connection, Engine, select

from monitord.casework.accounts import Role, account_row
from monitord.casework.cases import OUTCOME_TEXT, CaseError, alert_json, first_reviewer
from monitord.core.defang import defang
from monitord.core.private import write_private
from monitord.settings.config import Config
from monitord.store.database import audit, mine, table_of, utc, verify_audit
from monitord.store.tables import (
    AlertEventRow,
    AlertRow,
    AuditRow,
    EventRow,
    ListVersionRow,
    MatchRow,
    OutboxRow,
    PersonRow,
)

_ENV = Environment(
    loader=PackageLoader("alerting", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
FORM = "review-form.html"
# The position the review form gives each account's role.
POSITIONS = {
    Role.DSL: "Designated Safeguarding Lead",
    Role.DEPUTY_DSL: "Deputy Designated Safeguarding Lead",
    Role.HEADTEACHER: "Headteacher",
    Role.CHAIR: "Chair of governors",
    Role.TECHNICIAN: "Technician",
    Role.OSG: "Online Safety Group",
    Role.GOVERNOR: "Governor",
}
# What a first reviewer does to an alert, in the form's words.
FIRST_ACTS = {
    "alert.ack": "acknowledged it",
    "alert.note": "added a note",
    "alert.assign": "assigned it",
    "alert.escalate": "escalated it",
    "alert.close": "closed it",
}


class EvidenceError(Exception):
    """An export that cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class Exported:
    path: Path
    sha256: str
    files: int
    events: int
    encrypted: bool


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat().replace("+00:00", "Z") if value else None


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Signer:
    """A reviewer as the form names them: who, in what position, what they did and when,
    and the account that did it when it was one (the sign-off is that account's)."""

    name: str
    position: str
    done: str
    account: str | None


def _signer(conn: Connection, site: str | None, username: str, done: str) -> Signer:
    """``username`` as an account (its full name and role), else as the roster has them."""
    row = account_row(conn, username.lower())
    if row is not None:
        full = str(row.full_name or "")
        name = f"{full} ({row.username})" if full else str(row.username)
        return Signer(name, POSITIONS.get(Role(row.role), str(row.role)), done, str(row.username))
    pt = table_of(PersonRow)
    person = conn.execute(
        select(pt.c.display_name, pt.c.role).where(
            mine(conn, pt.c.site_id, site), pt.c.username == username
        )
    ).first()
    if person is None:
        return Signer(username, "", done, None)
    return Signer(f"{person.display_name} ({username})", str(person.role), done, None)


def _first_done(history: list[dict[str, Any]], first: str, local: Any) -> str:
    """The first reviewer's first act on the alert, and when; else when it was given them."""
    for h in history:
        if h["actor"].casefold() == first.casefold() and h["action"] in FIRST_ACTS:
            return f"{FIRST_ACTS[h['action']]} in monitord {local(datetime.fromisoformat(h['ts']))}"
    for h in history:
        if h["action"] == "alert.assign" and h["detail"].get("assignee") == first:
            when = local(datetime.fromisoformat(h["ts"]))
            return f"was given it by {h['actor']} in monitord {when}"
    return ""


def _collect(
    conn: Connection, cfg: Config, alert_id: int, first: str | None, now: datetime
) -> dict[str, bytes]:
    """Every file of the bundle but the manifest, by name; ``first``: the first reviewer."""
    at, aet, et, mt = (
        table_of(AlertRow),
        table_of(AlertEventRow),
        table_of(EventRow),
        table_of(MatchRow),
    )
    audt, ot, lv, pt = (
        table_of(AuditRow),
        table_of(OutboxRow),
        table_of(ListVersionRow),
        table_of(PersonRow),
    )
    row = conn.execute(select(at).where(mine(conn, at.c.site_id), at.c.id == alert_id)).first()
    if row is None:
        raise CaseError(f"no alert {alert_id}")
    alert = alert_json(row)
    files: dict[str, bytes] = {"alert.json": _json(alert)}
    tz = cfg.tz

    def local(ts: datetime) -> str:
        return utc(ts).astimezone(tz).strftime("%d/%m/%Y %H:%M:%S %Z")

    events: list[dict[str, Any]] = []
    sites: dict[str, dict[str, Any]] = {}
    list_names: set[str] = set()
    query = (
        select(et)
        .join(aet, aet.c.event_id == et.c.id)
        .where(aet.c.alert_id == alert_id, mine(conn, et.c.site_id, row.site_id))
        .order_by(et.c.ts, et.c.id)
    )
    for n, ev in enumerate(conn.execute(query), start=1):
        raw = bytes(ev.raw)
        name = f"raw/{n:04d}-{ev.id}.log"
        files[name] = raw
        matches = [
            {
                "category": m.category,
                "list": m.list_name,
                "entry": m.entry,
                "score": m.score,
                "allow": bool(m.allow),
            }
            for m in conn.execute(select(mt).where(mt.c.event_id == ev.id).order_by(mt.c.id))
        ]
        list_names.update(m["list"] for m in matches)
        events.append(
            {
                "id": ev.id,
                "ts": _iso(ev.ts),
                "source": ev.source,
                "format": ev.fmt,
                "kind": ev.kind,
                "client_ip": ev.client_ip,
                "client_mac": ev.client_mac,
                "user": ev.user,
                "username": ev.username,
                "device_id": ev.device_id,
                "hostname": ev.hostname,
                "agent": ev.agent,  # the endpoint agent that reported it, if one did
                "domain": ev.domain,
                "url": ev.url,
                "text": ev.text,
                "action": ev.action,
                "blocked": bool(ev.blocked),
                "filter_category": ev.filter_category,  # the school's filter's own
                "attribution": ev.attribution,
                "category": ev.category,
                "severity": ev.severity,
                "file_id": ev.file_id,
                "offset": int(ev.offset),
                "raw_file": name,
                "raw_sha256": _sha(raw),
                "matches": matches,
            }
        )
        shown = ev.url or ev.domain or ev.text or ev.hostname or "?"
        site = sites.setdefault(
            shown,
            {
                "indicator": defang(shown, 500),
                "device": ev.device_id or ev.client_ip or "unknown device",
                "count": 0,
                "first": local(ev.ts),
                "blocked": False,
                "reasons": [],
            },
        )
        site["count"] += 1
        site["blocked"] = site["blocked"] or bool(ev.blocked)
        for m in matches:
            if m["allow"]:
                continue
            reason = f"{m['category']}: {defang(m['entry'], 300)} on list {m['list']}"
            if reason not in site["reasons"]:
                site["reasons"].append(reason)
    files["events.json"] = _json(events)

    history = [
        {
            "id": int(h.id),
            "ts": _iso(h.ts),
            "actor": h.actor,
            "action": h.action,
            "subject": h.subject,
            "detail": json.loads(h.detail),
            "site": h.site_id,
            "version": int(h.version),  # the form of its hash (1: the site hashed too)
            "prev_hash": h.prev_hash,
            "hash": h.hash,
        }
        for h in conn.execute(
            select(audt).where(audt.c.subject == f"alert:{alert_id}").order_by(audt.c.id)
        )
    ]
    checked, broken = verify_audit(conn)
    chain = (
        f"verified: {checked} records, none changed"
        if broken is None
        else f"BROKEN at record {broken} ({checked} records before it verified)"
    )
    files["audit.json"] = _json(
        {"chain": {"records": checked, "broken_at": broken}, "records": history}
    )

    at_alert: dict[str, str] = {}
    for h in history:
        if h["action"] == "alert.create":
            at_alert = dict(h["detail"].get("lists", {}))
    versions = [
        {
            "name": v.name,
            "category": v.category,
            "sha256": v.sha256,
            "imported_at": _iso(v.imported_at),
            "imported_by": v.imported_by,
            "source": v.source,
            "active": bool(v.active),
        }
        for v in conn.execute(
            select(lv).where(lv.c.name.in_(sorted(list_names))).order_by(lv.c.name, lv.c.id)
        )
    ]
    files["lists.json"] = _json({"when_the_alert_was_made": at_alert, "imported": versions})

    mails = []
    for n, sent in enumerate(
        conn.execute(
            select(ot)
            .where(mine(conn, ot.c.site_id, row.site_id), ot.c.alert_id == alert_id)
            .order_by(ot.c.id)
        ),
        start=1,
    ):
        name = f"mail/{n:02d}-outbox-{sent.id}.eml"
        files[name] = bytes(sent.message)
        mails.append(
            {
                "outbox": int(sent.id),
                "file": name,
                "message_id": sent.message_id,
                "thread": sent.thread,
                "subject": sent.subject,
                "recipients": json.loads(sent.recipients),
                "status": sent.status,
                "created_at": _iso(sent.created_at),
                "sent_at": _iso(sent.sent_at),
                "delivered_to": sent.delivered_to,
                "refused": json.loads(sent.refused) if sent.refused else None,
                "last_error": sent.last_error,
            }
        )
    files["mail.json"] = _json(mails)

    person = None
    if row.person:
        own = mine(conn, pt.c.site_id, row.site_id)
        person = conn.execute(select(pt).where(own, pt.c.username == row.person)).first()
    if person is not None:
        who = f"{person.display_name} ({person.username}), {person.role}"
        who += f", Year {person.year_group}" if person.year_group else ""
        who += f", class {person.class_name}" if person.class_name else ""
    else:
        who = f"{row.person} (not on the roster)" if row.person else "not known"
    notes = [
        {"when": local(datetime.fromisoformat(h["ts"])), "actor": h["actor"], "text": text}
        for h in history
        if h["action"] == "alert.note" and (text := str(h["detail"].get("text", "")))
    ]
    form = {
        "school": cfg.settings.school.name,
        "alert": alert,
        "prepared": local(now),
        "date": utc(row.created_at).astimezone(tz).strftime("%d/%m/%Y"),
        "first_seen": local(row.first_seen),
        "last_seen": local(row.last_seen),
        "who": who,
        "device": row.device or row.ip or "unknown",
        "first": _signer(conn, row.site_id, first, _first_done(history, first, local))
        if first
        else None,
        "second": _signer(
            conn, row.site_id, row.reviewer, f"signed off in monitord {local(row.reviewed_at)}"
        )
        if row.reviewer and row.reviewed_at
        else None,
        "sites": [{**s, "reason": "; ".join(s["reasons"]) or "-"} for s in sites.values()],
        "outcome": OUTCOME_TEXT.get(row.outcome or "", row.outcome),
        "notes": notes,
        "audit_first": history[0]["id"] if history else "-",
        "audit_last": history[-1]["id"] if history else "-",
        "chain": chain,
    }
    files[FORM] = _ENV.get_template("review_form.html.j2").render(**form).encode()
    return files


def manifest(files: Mapping[str, bytes], head: Mapping[str, Any]) -> dict[str, bytes]:
    """manifest.json and SHA256SUMS for the files."""
    listing = {name: {"sha256": _sha(data), "bytes": len(data)} for name, data in files.items()}
    sums = "".join(f"{v['sha256']}  {name}\n" for name, v in listing.items())
    return {
        "manifest.json": _json({**head, "files": listing}),
        "SHA256SUMS": sums.encode(),
    }


def _zip(files: Mapping[str, bytes], when: datetime, password: str | None) -> bytes:
    buffer = io.BytesIO()
    stamp = when.timetuple()[:6]
    if password is None:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as plain:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                plain.writestr(info, data)
        return buffer.getvalue()
    with pyzipper.AESZipFile(
        buffer, "w", compression=zipfile.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as secret:
        secret.setpassword(password.encode())
        for name, data in files.items():
            secret.writestr(name, data)
    return buffer.getvalue()


def export_bundle(
    engine: Engine,
    cfg: Config,
    alert_id: int,
    out: Path,
    actor: str,
    now: datetime,
    password: str | None = None,
) -> Exported:
    """Write the evidence bundle of one alert to ``out`` (never over an existing file) and
    record the export in the audit trail."""
    if password is not None and len(password) < 8:
        raise EvidenceError("the bundle's password must be at least 8 characters long")
    if out.exists():
        raise EvidenceError(f"{out} already exists: not overwriting evidence")
    if not out.parent.is_dir():
        raise EvidenceError(f"{out.parent}: no such folder")
    first = first_reviewer(engine, alert_id)
    with engine.connect() as conn:
        files = _collect(conn, cfg, alert_id, first, now)
    head = {
        "bundle": "monitord evidence/1",
        "alert": alert_id,
        "school": cfg.settings.school.name,
        "made_at": _iso(now),
        "made_by": actor,
    }
    files.update(manifest(files, head))
    data = _zip(files, now.astimezone(cfg.tz), password)
    digest = _sha(data)
    events = sum(1 for name in files if name.startswith("raw/"))
    with engine.begin() as conn:
        audit(
            conn,
            actor,
            "alert.export",
            f"alert:{alert_id}",
            {
                "file": str(out.resolve()),
                "sha256": digest,
                "manifest_sha256": _sha(files["manifest.json"]),
                "files": len(files),
                "encrypted": password is not None,
            },
            now=now,
        )
        # 0600, through a temporary file that follows no link; never over an existing file.
        try:
            write_private(out, data, replace=False)
        except FileExistsError:
            raise EvidenceError(f"{out} already exists: not overwriting evidence") from None
    return Exported(out, digest, len(files), events, password is not None)
