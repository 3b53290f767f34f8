"""``monitord sources``: where each configured source stands: position, lag, lines, events,
rejected lines, and when it last wrote."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from monitord.config import Config
from monitord.store import mine, table_of, utc
from monitord.tables import CheckpointRow, RejectedRow


@dataclass(frozen=True, slots=True)
class SourceState:
    name: str
    format: str
    path: str
    size: int | None
    position: int | None
    lag_bytes: int | None
    lines: int
    events: int
    rejected: int
    last_event_at: str | None
    last_read_at: str | None
    last_written_at: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat().replace("+00:00", "Z") if value else None


def source_states(cfg: Config, engine: Engine) -> list[SourceState]:
    ct, rt = table_of(CheckpointRow), table_of(RejectedRow)
    with engine.connect() as conn:
        checkpoints = {
            r.source: r for r in conn.execute(select(ct).where(mine(conn, ct.c.site_id)))
        }
        counts = conn.execute(
            select(rt.c.source, func.count()).where(mine(conn, rt.c.site_id)).group_by(rt.c.source)
        ).all()
    rejected: dict[str, int] = {str(name): int(n) for name, n in counts}
    out: list[SourceState] = []
    for src in cfg.settings.sources:
        path = cfg.resolve(src.path)
        st: os.stat_result | None
        try:
            st = os.stat(path)
        except OSError:
            st = None
        size = st.st_size if st else None
        written = datetime.fromtimestamp(st.st_mtime, UTC) if st else None
        cp = checkpoints.get(src.name)
        position = int(cp.offset) if cp else None
        same_file = cp is not None and st is not None and int(cp.inode) == st.st_ino
        lag = size - position if size is not None and position is not None and same_file else None
        out.append(
            SourceState(
                src.name,
                src.format,
                str(path),
                size,
                position,
                lag,
                int(cp.lines) if cp else 0,
                int(cp.events) if cp else 0,
                int(rejected.get(src.name, 0)),
                _iso(cp.last_event_at) if cp else None,
                _iso(cp.updated_at) if cp else None,
                _iso(written),
            )
        )
    return out
