"""Roster (people) and device inventory imports from CSV.

Re-importing updates rows and records what changed in the audit trail. Someone missing from a
new roster has left: they are marked inactive and kept, because past events still name them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select, update

from monitord.store import audit, insert_ignore, table_of
from monitord.tables import DeviceRow, PersonRow

ROLES = ("pupil", "staff", "headteacher", "governor", "volunteer", "supply", "guest")
YEAR_GROUPS = ("N", "R", "1", "2", "3", "4", "5", "6")
OWNERSHIP = (
    "school_single",
    "school_shared",
    "authorised",
    "pupil_owned",
    "staff_owned",
    "visitor_owned",
)
PEOPLE_HEADER = ("username", "display_name", "role", "year_group", "class", "email")
DEVICE_HEADER = ("device_id", "mac", "hostname", "ownership", "assigned_to")
_MAC = re.compile(r"^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


class ImportError_(Exception):
    """Problems with an import file, one line each naming the file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int
    retired: int


def _read_csv(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ImportError_([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ImportError_([f"{path}: not UTF-8 text (save the export as CSV UTF-8)"]) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        expected = ",".join(required)
        raise ImportError_(
            [f"{path}: line 1: missing column(s) {', '.join(missing)} (expected {expected})"]
        )
    reader.fieldnames = header
    return [
        (i, {k: (v or "").strip() for k, v in row.items() if k is not None})
        for i, row in enumerate(reader, start=2)
    ]


def normalise_mac(value: str) -> str | None:
    v = value.strip().lower()
    if not _MAC.match(v):
        return None
    return v.replace("-", ":")


def _people_rows(path: Path, now: datetime) -> list[dict[str, object]]:
    problems: list[str] = []
    rows: dict[str, dict[str, object]] = {}
    for line, r in _read_csv(path, PEOPLE_HEADER[:3]):
        username = r.get("username", "").lower()
        role = r.get("role", "").lower()
        year = r.get("year_group", "").upper() or None
        if not username:
            problems.append(f"{path}: line {line}: username is empty")
            continue
        if role not in ROLES:
            problems.append(f"{path}: line {line}: role {role!r} is not one of {', '.join(ROLES)}")
            continue
        if year is not None and year not in YEAR_GROUPS:
            problems.append(
                f"{path}: line {line}: year_group {year!r} is not one of {', '.join(YEAR_GROUPS)}"
            )
            continue
        if username in rows:
            problems.append(f"{path}: line {line}: username {username!r} appears twice")
            continue
        rows[username] = {
            "username": username,
            "display_name": r.get("display_name") or username,
            "role": role,
            "year_group": year,
            "class_name": r.get("class") or None,
            "email": r.get("email") or None,
            "active": True,
            "updated_at": now,
        }
    if problems:
        raise ImportError_(problems)
    return list(rows.values())


def _device_rows(path: Path, now: datetime) -> list[dict[str, object]]:
    problems: list[str] = []
    rows: dict[str, dict[str, object]] = {}
    for line, r in _read_csv(path, DEVICE_HEADER[:4]):
        device_id = r.get("device_id", "")
        ownership = r.get("ownership", "").lower()
        mac_text = r.get("mac", "")
        mac = normalise_mac(mac_text) if mac_text else None
        if not device_id:
            problems.append(f"{path}: line {line}: device_id is empty")
            continue
        if mac_text and mac is None:
            problems.append(f"{path}: line {line}: mac {mac_text!r} is not a MAC address")
            continue
        if ownership not in OWNERSHIP:
            problems.append(
                f"{path}: line {line}: ownership {ownership!r} is not one of {', '.join(OWNERSHIP)}"
            )
            continue
        if device_id in rows:
            problems.append(f"{path}: line {line}: device_id {device_id!r} appears twice")
            continue
        rows[device_id] = {
            "device_id": device_id,
            "mac": mac,
            "hostname": r.get("hostname") or None,
            "ownership": ownership,
            "assigned_to": (r.get("assigned_to") or "").lower() or None,
            "active": True,
            "updated_at": now,
        }
    if problems:
        raise ImportError_(problems)
    return list(rows.values())


def _apply(
    engine: Engine,
    model: type[PersonRow] | type[DeviceRow],
    key: str,
    rows: list[dict[str, object]],
    actor: str,
    what: str,
    now: datetime,
) -> ImportResult:
    table = table_of(model)
    compare = [c for c in rows[0] if c != "updated_at"] if rows else []
    with engine.begin() as conn:
        existing = {r._mapping[key]: dict(r._mapping) for r in conn.execute(select(table))}
        new = [r for r in rows if r[key] not in existing]
        changed: list[dict[str, object]] = []
        unchanged = 0
        for r in rows:
            old = existing.get(r[key])
            if old is None:
                continue
            diff = {c: (old[c], r[c]) for c in compare if old[c] != r[c]}
            if diff:
                changed.append(r)
                conn.execute(update(table).where(table.c[key] == r[key]).values(**r))
                audit(conn, actor, f"{what}.update", str(r[key]), {"changed": diff}, now=now)
            else:
                unchanged += 1
        insert_ignore(conn, table, new)
        for r in new:
            audit(conn, actor, f"{what}.add", str(r[key]), {}, now=now)
        seen = {r[key] for r in rows}
        retired = [k for k, v in existing.items() if k not in seen and v["active"]]
        for k in retired:
            conn.execute(
                update(table).where(table.c[key] == k).values(active=False, updated_at=now)
            )
            audit(conn, actor, f"{what}.retire", str(k), {}, now=now)
    return ImportResult(len(new), len(changed), unchanged, len(retired))


def import_people(engine: Engine, path: Path, actor: str, now: datetime) -> ImportResult:
    return _apply(engine, PersonRow, "username", _people_rows(path, now), actor, "person", now)


def import_devices(engine: Engine, path: Path, actor: str, now: datetime) -> ImportResult:
    return _apply(engine, DeviceRow, "device_id", _device_rows(path, now), actor, "device", now)
