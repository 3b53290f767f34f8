"""``monitord sources``: where each configured source stands: position, lag, lines, events,
rejected lines, and when it last wrote."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from collectors.udpdrops import udp_drops_on_port
from monitord.settings.config import Config
from monitord.settings.listen import parse_listen
from monitord.store.database import mine, table_of, utc
from monitord.store.tables import CheckpointRow, RejectedRow, SourceCountRow


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
    # What the source passed over, by kind (program, refused, dropped) and name.
    passed_over: dict[str, dict[str, int]] = field(default_factory=dict)
    # A UDP listener: the datagrams the kernel has dropped on its socket since it opened.
    udp_drops: int | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat().replace("+00:00", "Z") if value else None


def passed_over_text(state: SourceState, most: int = 5) -> str:
    """``sshd 10, filterlog 3; refused 10.0.0.9 2; dropped kernel 40``: the commonest few."""
    parts = []
    for kind in ("program", "refused", "dropped"):
        named = sorted(state.passed_over.get(kind, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        if named:
            shown = ", ".join(f"{name} {n:,}" for name, n in named[:most])
            more = f", {len(named) - most} more" if len(named) > most else ""
            parts.append(("" if kind == "program" else f"{kind} ") + shown + more)
    if state.udp_drops:
        parts.append(f"kernel drops now {state.udp_drops:,}")
    return "; ".join(parts) or "-"


def source_states(cfg: Config, engine: Engine) -> list[SourceState]:
    ct, rt, sc = table_of(CheckpointRow), table_of(RejectedRow), table_of(SourceCountRow)
    with engine.connect() as conn:
        checkpoints = {
            r.source: r for r in conn.execute(select(ct).where(mine(conn, ct.c.site_id)))
        }
        counts = conn.execute(
            select(rt.c.source, func.count()).where(mine(conn, rt.c.site_id)).group_by(rt.c.source)
        ).all()
        passed = conn.execute(
            select(sc.c.source, sc.c.kind, sc.c.name, sc.c.count).where(mine(conn, sc.c.site_id))
        ).all()
    rejected: dict[str, int] = {str(name): int(n) for name, n in counts}
    over: dict[str, dict[str, dict[str, int]]] = {}
    for source, kind, name, n in passed:
        over.setdefault(source, {}).setdefault(kind, {})[name] = int(n)
    out: list[SourceState] = []
    for src in cfg.settings.sources:
        path = src.listen or cfg.resolve(src.path)
        st: os.stat_result | None = None
        drops = None
        if src.listen:
            address = parse_listen(src.listen)
            if address.scheme == "udp":
                drops = udp_drops_on_port(address.port)
        else:
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
                over.get(src.name, {}),
                drops,
            )
        )
    return out
