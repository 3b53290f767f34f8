"""Screenshots agents send as evidence: which agent sent each, the per-agent quota
(``[agents] screenshot_quota``), and their removal with the reports that carried them.

A screenshot is kept once under its SHA-256 (``evidence/screenshots/ab/abcd...``); each agent
that sent it has a row in ``screenshots`` with its size, which counts toward that agent's
quota. A screenshot report stores an event (kind ``screenshot``, ``text`` the SHA-256). When
retention has removed every report that carried a screenshot, the screenshot's rows and its
file go too; so does a picture uploaded that no report names, once a day has passed.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, func, select, text

from monitord.store.database import mine, site_of, table_of
from monitord.store.tables import EventRow, ScreenshotRow

SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A picture may come before the report that names it (an upload, then the spool file), so
# nothing younger than this is removed for want of a report.
GRACE = timedelta(days=1)


def shot_path(evidence: Path, digest: str) -> Path:
    """Where the screenshot with this SHA-256 is kept (the digest checked by the caller)."""
    return evidence / "screenshots" / digest[:2] / digest


def usage(engine: Engine, agent: str) -> int:
    """The bytes of screenshots ``agent`` has sent that are still kept."""
    st = table_of(ScreenshotRow)
    with engine.connect() as conn:
        total = conn.execute(
            select(func.coalesce(func.sum(st.c.bytes), 0)).where(
                mine(conn, st.c.site_id), st.c.agent == agent
            )
        ).scalar_one()
    return int(total)


def admit(
    engine: Engine, agent: str, digest: str, size: int, quota: int, now: datetime
) -> str | None:
    """Count a screenshot toward ``agent``'s quota, or say why it is refused. The same
    picture sent again by the same agent counts once."""
    st = table_of(ScreenshotRow)
    with engine.begin() as conn:
        site = mine(conn, st.c.site_id)
        own = site & (st.c.agent == agent) & (st.c.sha256 == digest)
        if conn.execute(select(st.c.sha256).where(own)).first() is not None:
            return None
        used = conn.execute(
            select(func.coalesce(func.sum(st.c.bytes), 0)).where(site, st.c.agent == agent)
        ).scalar_one()
        if int(used) + size > quota:
            return (
                f"agent {agent!r}'s screenshots take {int(used)} bytes of its quota of {quota}: "
                f"no room for {size} more ([agents] screenshot_quota)"
            )
        conn.execute(
            st.insert().values(
                site_id=site_of(conn),
                sha256=digest,
                agent=agent,
                bytes=size,
                stored_at=now,
            )
        )
    return None


def sweep(
    engine: Engine, evidence: Path, now: datetime, kept_from: datetime, *, dry_run: bool = False
) -> int:
    """Remove (or count) the screenshots that no report from ``kept_from`` on (retention's
    cut for events) carries: their rows and files. Returns how many pictures went."""
    st, et = table_of(ScreenshotRow), table_of(EventRow)
    gone = 0
    with engine.begin() as conn:
        digests = sorted(
            {
                r.sha256
                for r in conn.execute(
                    select(st.c.sha256).where(
                        mine(conn, st.c.site_id), st.c.stored_at < now - GRACE
                    )
                )
            }
        )
        for digest in digests:
            carried = conn.execute(
                select(et.c.id)
                .where(
                    mine(conn, et.c.site_id),
                    text("kind = 'screenshot'"),
                    et.c.text == digest,
                    et.c.ts >= kept_from,
                )
                .limit(1)
            ).first()
            if carried is not None:
                continue
            gone += 1
            if dry_run:
                continue
            conn.execute(delete(st).where(mine(conn, st.c.site_id), st.c.sha256 == digest))
            if SHA256.match(digest):
                with contextlib.suppress(FileNotFoundError):
                    shot_path(evidence, digest).unlink()
    return gone
