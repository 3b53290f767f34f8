"""Watching the watchers: a source that goes quiet for longer than its ``max_silence`` during
school hours raises a ``monitoring_gap`` event for the technician.

A gap is a record like any other, so it goes through the same pipeline: stored with its
reason, judged by policy (routed to the technician), and kept as evidence that monitoring
was not working then. Its id comes from the source and the moment the silence began, so
checking every minute raises one event per silence, not one per check.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors.parsers.base import LineParser, ParseContext
from monitord.core.model import Event, EventKind, Origin, Parsed, RawRecord, reject
from monitord.settings.config import Config

GAP = "monitoring_gap"


@dataclass(frozen=True, slots=True)
class Silence:
    source: str
    fmt: str
    path: Path
    since: datetime
    limit: timedelta


def last_written(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    except OSError:
        return None


def watched_files(cfg: Config) -> list[tuple[str, str, Path, timedelta]]:
    """The sources that follow a file, with their silence limits (a capture's silence is
    not a file's, left for the capture to report)."""
    return [
        (s.name, s.format, cfg.resolve(s.path), s.max_silence)
        for s in cfg.settings.sources
        if s.path
    ]


def find_silences(
    sources: Sequence[tuple[str, str, Path, timedelta]],
    now: datetime,
    started: datetime,
) -> list[Silence]:
    """Sources whose file has not been written for longer than their limit. A missing file
    counts as silent since monitord started."""
    out: list[Silence] = []
    for name, fmt, path, limit in sources:
        since = last_written(path) or started
        if now - since > limit:
            out.append(Silence(name, fmt, path, since, limit))
    return out


def gap_record(s: Silence, now: datetime) -> RawRecord:
    """The record of one silence, identified by its source and when it began."""
    body = {
        "source": s.source,
        "format": s.fmt,
        "path": str(s.path),
        "silent_since": s.since.isoformat(),
        "limit_seconds": int(s.limit.total_seconds()),
        "noticed_at": now.isoformat(),
    }
    data = json.dumps(body, sort_keys=True).encode()
    # No file of its own: the source's name is part of what the gap is.
    origin = Origin(s.source, GAP, int(s.since.timestamp()), str(s.path), scope=s.source)
    return RawRecord(origin, data, now, now)


def parse_gap(line: str, ctx: ParseContext) -> Parsed:
    try:
        body = json.loads(line)
        since = datetime.fromisoformat(body["silent_since"])
        noticed = datetime.fromisoformat(body["noticed_at"])
        limit = timedelta(seconds=int(body["limit_seconds"]))
        source, fmt = str(body["source"]), str(body["format"])
    except (ValueError, KeyError, TypeError) as exc:
        return reject(f"not a monitoring gap record: {exc}")
    hours = limit.total_seconds() / 3600
    text = (
        f"source {source} ({fmt}) has written nothing since "
        f"{since.astimezone(ctx.tz):%a %d %b %H:%M %Z} (limit {hours:g} h)"
    )
    return Parsed(
        events=(
            Event(
                kind=EventKind.HEALTH,
                ts=noticed,
                hostname=source,
                text=text,
                category=GAP,
            ),
        )
    )


PARSER = LineParser("health", parse_gap)
