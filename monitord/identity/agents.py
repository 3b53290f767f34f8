"""Endpoint agents allowed to push reports: ``monitord agents add NAME --device DEVICE_ID``
prints a bearer token once; only its SHA-256 is stored, so a copy of the database gives no
one a working token.

Each agent is bound to one device of the devices file, and reports only for it: a report
must name that device's host name (or its device id) and, when it gives a MAC, the device's
MAC as the devices file has it now. An agent enrolled before agents were bound to devices
has no device and is refused until it is enrolled again with ``--device`` (which issues a
new token)."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from monitord.store.database import audit, mine, site_of, table_of, utc
from monitord.store.tables import AgentRow, DeviceRow

log = logging.getLogger("monitord.identity.agents")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class AgentError(Exception):
    """An agent request that cannot be carried out; the message says why."""


@dataclass(frozen=True, slots=True)
class AgentInfo:
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_seen_at: datetime | None
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class Enrolment:
    """An agent and the device it reports for, as the devices file describes it now.

    ``device_id`` is None for an agent enrolled before agents were bound to devices;
    ``known`` is False when its device is no longer (or not) in the devices file."""

    agent: str
    device_id: str | None
    hostname: str | None = None
    mac: str | None = None
    known: bool = False
    revoked: bool = False

    @property
    def names(self) -> frozenset[str]:
        """The host names a report from this device may give (first labels, lower case)."""
        found = {host_label(self.device_id)} if self.device_id else set()
        if self.hostname:
            found.add(host_label(self.hostname))
        return frozenset(found)


def host_label(hostname: str) -> str:
    """A host name as reports and the devices file are compared: lower case, first label."""
    return hostname.strip().lower().rstrip(".").split(".", 1)[0]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_agent(engine: Engine, name: str, actor: str, now: datetime, device: str) -> str:
    """Register ``name`` for ``device`` and return its new token (shown once, never
    stored). An active agent enrolled before agents were bound to devices is enrolled
    again (its old token stops working); any other active agent must be revoked first."""
    if not _NAME.match(name):
        raise AgentError(f"agent name {name!r}: letters, digits, '.', '_' and '-' only")
    table, dt = table_of(AgentRow), table_of(DeviceRow)
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        site = site_of(conn)
        found = conn.execute(
            select(dt.c.device_id).where(
                mine(conn, dt.c.site_id, site), dt.c.device_id == device, dt.c.active.is_(True)
            )
        ).first()
        if found is None:
            raise AgentError(
                f"no device {device!r} in the devices file: import it first "
                "(monitord devices import CSV)"
            )
        own = mine(conn, table.c.site_id, site) & (table.c.name == name)
        row = conn.execute(select(table).where(own)).first()
        if row is not None and row.revoked_at is None and row.device_id is not None:
            raise AgentError(f"agent {name!r} exists: revoke it first to issue a new token")
        values = {
            "token_sha256": token_hash(token),
            "created_at": now,
            "created_by": actor,
            "revoked_at": None,
            "last_seen_at": None,
            "device_id": device,
        }
        if row is None:
            conn.execute(table.insert().values(site_id=site, name=name, **values))
        else:
            conn.execute(update(table).where(own).values(**values))
        audit(conn, actor, "agent.add", f"agent:{name}", {"device": device}, now=now)
    return token


def revoke_agent(engine: Engine, name: str, actor: str, now: datetime) -> None:
    table = table_of(AgentRow)
    with engine.begin() as conn:
        result = conn.execute(
            update(table)
            .where(mine(conn, table.c.site_id), table.c.name == name)
            .where(table.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if not result.rowcount:
            raise AgentError(f"no active agent {name!r}")
        audit(conn, actor, "agent.revoke", f"agent:{name}", {}, now=now)


def list_agents(engine: Engine) -> list[AgentInfo]:
    table = table_of(AgentRow)
    with engine.connect() as conn:
        return [
            AgentInfo(
                r.name,
                utc(r.created_at),
                r.created_by,
                utc(r.revoked_at) if r.revoked_at else None,
                utc(r.last_seen_at) if r.last_seen_at else None,
                r.device_id,
            )
            for r in conn.execute(
                select(table).where(mine(conn, table.c.site_id)).order_by(table.c.name)
            )
        ]


def _enrolment(row: Any, device: Any) -> Enrolment:
    return Enrolment(
        str(row.name),
        row.device_id,
        device.hostname if device is not None else None,
        device.mac if device is not None else None,
        device is not None,
        row.revoked_at is not None,
    )


def enrolments(engine: Engine) -> dict[str, Enrolment]:
    """Every agent of this school (revoked ones too) with its device as it is now."""
    table, dt = table_of(AgentRow), table_of(DeviceRow)
    with engine.connect() as conn:
        site = site_of(conn)
        devices = {
            d.device_id: d
            for d in conn.execute(
                select(dt.c.device_id, dt.c.hostname, dt.c.mac).where(
                    mine(conn, dt.c.site_id, site), dt.c.active.is_(True)
                )
            )
        }
        return {
            r.name: _enrolment(r, devices.get(r.device_id))
            for r in conn.execute(
                select(table.c.name, table.c.device_id, table.c.revoked_at).where(
                    mine(conn, table.c.site_id, site)
                )
            )
        }


def agent_for_token(engine: Engine, token: str, now: datetime) -> Enrolment | None:
    """The active agent a token belongs to, with its device (and note that it was seen),
    or None."""
    if not token or len(token) > 256:
        return None
    table, dt = table_of(AgentRow), table_of(DeviceRow)
    digest = token_hash(token)
    with engine.begin() as conn:
        site = site_of(conn)
        row = conn.execute(
            select(table.c.name, table.c.token_sha256, table.c.device_id, table.c.revoked_at).where(
                mine(conn, table.c.site_id, site),
                table.c.token_sha256 == digest,
                table.c.revoked_at.is_(None),
            )
        ).first()
        if row is None or not secrets.compare_digest(row.token_sha256, digest):
            return None
        device = None
        if row.device_id is not None:
            device = conn.execute(
                select(dt.c.hostname, dt.c.mac).where(
                    mine(conn, dt.c.site_id, site),
                    dt.c.device_id == row.device_id,
                    dt.c.active.is_(True),
                )
            ).first()
        own = mine(conn, table.c.site_id, site) & (table.c.name == row.name)
        conn.execute(update(table).where(own).values(last_seen_at=now))
    return _enrolment(row, device)


def warn_unbound(engine: Engine) -> list[str]:
    """Log, once at start, each active agent that is bound to no device (its reports are
    refused); the names of those agents."""
    unbound = [e.agent for e in enrolments(engine).values() if not e.revoked and not e.device_id]
    for name in unbound:
        log.warning(
            "agent %s is bound to no device: its reports are refused until it is enrolled "
            "again with `monitord agents add %s --device DEVICE_ID`",
            name,
            name,
        )
    return unbound
