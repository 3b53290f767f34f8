"""Endpoint agents allowed to push reports: ``monitord agents add NAME`` prints a bearer token
once; only its SHA-256 is stored, so a copy of the database gives no one a working token."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from monitord.store import audit, mine, site_of, table_of, utc
from monitord.tables import AgentRow

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


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_agent(engine: Engine, name: str, actor: str, now: datetime) -> str:
    """Register ``name`` and return its new token (shown once, never stored)."""
    if not _NAME.match(name):
        raise AgentError(f"agent name {name!r}: letters, digits, '.', '_' and '-' only")
    table = table_of(AgentRow)
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        site = site_of(conn)
        own = mine(conn, table.c.site_id, site) & (table.c.name == name)
        row = conn.execute(select(table).where(own)).first()
        if row is not None and row.revoked_at is None:
            raise AgentError(f"agent {name!r} exists: revoke it first to issue a new token")
        values = {
            "token_sha256": token_hash(token),
            "created_at": now,
            "created_by": actor,
            "revoked_at": None,
            "last_seen_at": None,
        }
        if row is None:
            conn.execute(table.insert().values(site_id=site, name=name, **values))
        else:
            conn.execute(update(table).where(own).values(**values))
        audit(conn, actor, "agent.add", f"agent:{name}", {}, now=now)
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
            )
            for r in conn.execute(
                select(table).where(mine(conn, table.c.site_id)).order_by(table.c.name)
            )
        ]


def agent_for_token(engine: Engine, token: str, now: datetime) -> str | None:
    """The active agent a token belongs to (and note that it was seen), or None."""
    if not token or len(token) > 256:
        return None
    table = table_of(AgentRow)
    digest = token_hash(token)
    with engine.begin() as conn:
        site = site_of(conn)
        row = conn.execute(
            select(table.c.name, table.c.token_sha256).where(
                mine(conn, table.c.site_id, site),
                table.c.token_sha256 == digest,
                table.c.revoked_at.is_(None),
            )
        ).first()
        if row is None or not secrets.compare_digest(row.token_sha256, digest):
            return None
        own = mine(conn, table.c.site_id, site) & (table.c.name == row.name)
        conn.execute(update(table).where(own).values(last_seen_at=now))
    return str(row.name)
