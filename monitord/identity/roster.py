"""Roster (people) and device inventory imports from CSV.

Re-importing updates rows and records what changed in the audit trail. Someone missing from a
new roster has left: they are marked inactive and kept, because past events still name them.
A school whose MIS exports pupils and staff separately imports each with its scope: only the
people of that scope who are missing from the file have left (a staff row in a pupils' file is
refused). A merge adds and updates and marks no one as left.

The roster's header names come from the config's ``[roster.columns]`` (defaults: the DESIGN
header), so a SIMS or Arbor export can be imported as it is: names written ``Surname,
Forename`` are turned round, separate forename and surname columns are joined, and year groups
written ``Year 6`` or ``Reception`` become ``6`` and ``R``.

A MAC may be written as most tools print it (``aa:bb:cc:dd:ee:ff``, ``AA-BB-CC-DD-EE-FF``,
Cisco's ``aabb.ccdd.eeff``, ``aabbcc-ddeeff``, bare ``aabbccddeeff``) and is stored as
``aa:bb:cc:dd:ee:ff``. One MAC on two devices, and a device assigned to someone the roster does
not list, are refused.

The devices file may add two columns to the DESIGN header: ``ip``, an address reserved for the
device (kept as history in ``reservations``: a changed reservation ends the old one at the
import), and ``location``, where a shared device lives.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine, select, update

from monitord.settings.sections import Roster
from monitord.store.database import audit, insert_ignore, mine, site_of, table_of
from monitord.store.tables import DeviceRow, PersonRow, ReservationRow

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
# The roles each scope of a partial roster covers: the people an MIS's pupil export or staff
# export lists.
SCOPES: dict[str, tuple[str, ...]] = {
    "pupils": ("pupil",),
    "staff": ("staff", "headteacher", "governor", "volunteer", "supply"),
}
Scope = Literal["pupils", "staff"]
PEOPLE_HEADER = ("username", "display_name", "role", "year_group", "class", "email")
DEVICE_HEADER = ("device_id", "mac", "hostname", "ownership", "assigned_to")
DEVICE_OPTIONAL = ("ip", "location")
# A reservation first known at an import is taken to have held since before any log.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
# Ways a MAC is written: six groups of one or two hex digits (colons or hyphens, one kind),
# three groups of four (Cisco's dots, or hyphens), two groups of six, or twelve digits.
_MAC_FORMS = (
    re.compile(r"([0-9a-f]{1,2})([:-])([0-9a-f]{1,2})(?:\2([0-9a-f]{1,2})){4}"),
    re.compile(r"[0-9a-f]{4}([.-])[0-9a-f]{4}\1[0-9a-f]{4}"),
    re.compile(r"[0-9a-f]{6}[:-][0-9a-f]{6}"),
    re.compile(r"[0-9a-f]{12}"),
)
_YEAR = re.compile(r"^(?:year|yr|y)?\s*(\d{1,2}|r|n)$")
_YEAR_WORDS = {"reception": "R", "rec": "R", "nursery": "N", "nur": "N"}


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


def read_csv(
    path: Path, required: Sequence[str], names: Mapping[str, str] | None = None
) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV file keyed by field. ``names`` maps a field to its header in the file
    (any case); a field not in it is its own header name."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ImportError_([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ImportError_([f"{path}: not UTF-8 text (save the export as CSV UTF-8)"]) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    names = {k: v.strip().lower() for k, v in (names or {}).items()}
    field_of = {h: h for h in header}
    for field, name in names.items():
        if name in field_of:
            field_of[name] = field
    missing = [names.get(c, c) for c in required if names.get(c, c) not in header]
    if missing:
        expected = ",".join(names.get(c, c) for c in required)
        raise ImportError_(
            [f"{path}: line 1: missing column(s) {', '.join(missing)} (expected {expected})"]
        )
    reader.fieldnames = [field_of[h] for h in header]
    return [
        (i, {k: (v or "").strip() for k, v in row.items() if k is not None})
        for i, row in enumerate(reader, start=2)
    ]


def person_name(value: str) -> str:
    """``Surname, Forename`` (as MIS exports write names) to ``Forename Surname``."""
    surname, comma, forename = value.partition(",")
    if not comma or "," in forename or not surname.strip() or not forename.strip():
        return " ".join(value.split())
    return f"{' '.join(forename.split())} {' '.join(surname.split())}"


def year_group(value: str) -> str | None:
    """``6``, ``Year 6``, ``Y6``, ``R``, ``Reception``, ``N``, ``Nursery`` to the roster's
    year group; None for a value that is none of them."""
    v = " ".join(value.lower().split())
    if v in _YEAR_WORDS:
        return _YEAR_WORDS[v]
    m = _YEAR.match(v)
    if m is None:
        return None
    g = m.group(1).upper().lstrip("0") or "0"
    return g if g in YEAR_GROUPS else None


def normalise_mac(value: str) -> str | None:
    """A MAC in any of the spellings above as ``aa:bb:cc:dd:ee:ff``; None for anything else."""
    v = value.strip().lower()
    if _MAC_FORMS[0].fullmatch(v):
        digits = "".join(part.zfill(2) for part in re.split(r"[:-]", v))
    elif any(form.fullmatch(v) for form in _MAC_FORMS[1:]):
        digits = re.sub(r"[.:-]", "", v)
    else:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _people_rows(
    path: Path, now: datetime, roster: Roster | None, scope: Scope | None = None
) -> list[dict[str, object]]:
    roster = roster or Roster()
    cols = roster.columns
    names = {
        "username": cols.username,
        "display_name": cols.display_name,
        "role": cols.role,
        "year_group": cols.year_group,
        "class": cols.class_name,
        "email": cols.email,
    }
    split = bool(cols.forename and cols.surname)
    if split:
        names |= {"forename": cols.forename, "surname": cols.surname}
    required = ["username"]
    required += ["forename", "surname"] if split else ["display_name"]
    if roster.default_role is None:
        required.append("role")
    problems: list[str] = []
    rows: dict[str, dict[str, object]] = {}
    for line, r in read_csv(path, required, names):
        username = r.get("username", "").lower()
        role = r.get("role", "").lower() or (roster.default_role or "")
        year_text = r.get("year_group", "")
        year = year_group(year_text) if year_text else None
        if not username:
            problems.append(f"{path}: line {line}: username is empty")
            continue
        if role not in ROLES:
            problems.append(f"{path}: line {line}: role {role!r} is not one of {', '.join(ROLES)}")
            continue
        if year_text and year is None:
            problems.append(
                f"{path}: line {line}: year_group {year_text!r} is not one of "
                f"{', '.join(YEAR_GROUPS)}"
            )
            continue
        if scope is not None and role not in SCOPES[scope]:
            problems.append(
                f"{path}: line {line}: role {role!r} is not in scope {scope} "
                f"(expected {', '.join(SCOPES[scope])}; is this the right file?)"
            )
            continue
        if username in rows:
            problems.append(f"{path}: line {line}: username {username!r} appears twice")
            continue
        name = person_name(r.get("display_name", ""))
        if not name and split:
            name = " ".join(p for p in (r.get("forename", ""), r.get("surname", "")) if p)
        rows[username] = {
            "username": username,
            "display_name": name or username,
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


def _device_rows(path: Path, now: datetime, people: set[str]) -> list[dict[str, object]]:
    """The devices file's rows; ``people``: the usernames on the roster, whom a device may
    be assigned to."""
    problems: list[str] = []
    rows: dict[str, dict[str, object]] = {}
    reserved: dict[str, str] = {}
    macs: dict[str, tuple[str, int]] = {}
    for line, r in read_csv(path, DEVICE_HEADER[:4]):
        device_id = r.get("device_id", "")
        ownership = r.get("ownership", "").lower()
        mac_text = r.get("mac", "")
        mac = normalise_mac(mac_text) if mac_text else None
        ip_text = r.get("ip", "")
        assigned_to = (r.get("assigned_to") or "").lower() or None
        if not device_id:
            problems.append(f"{path}: line {line}: device_id is empty")
            continue
        if mac_text and mac is None:
            problems.append(
                f"{path}: line {line}: mac {mac_text!r} is not a MAC address "
                "(expected e.g. aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff)"
            )
            continue
        try:
            ip = str(ipaddress.ip_address(ip_text)) if ip_text else None
        except ValueError:
            problems.append(f"{path}: line {line}: ip {ip_text!r} is not an IP address")
            continue
        if ownership not in OWNERSHIP:
            problems.append(
                f"{path}: line {line}: ownership {ownership!r} is not one of {', '.join(OWNERSHIP)}"
            )
            continue
        if device_id in rows:
            problems.append(f"{path}: line {line}: device_id {device_id!r} appears twice")
            continue
        if mac is not None and mac in macs:
            other, other_line = macs[mac]
            problems.append(
                f"{path}: line {line}: mac {mac} is already device {other!r}'s "
                f"(line {other_line}); a MAC belongs to one device"
            )
            continue
        if assigned_to is not None and assigned_to not in people:
            problems.append(
                f"{path}: line {line}: assigned_to {assigned_to!r} is not on the roster "
                "(import the people first, or correct the user name)"
            )
            continue
        if ip is not None and ip in reserved:
            problems.append(
                f"{path}: line {line}: ip {ip} is already reserved for {reserved[ip]!r}"
            )
            continue
        if ip is not None:
            reserved[ip] = device_id
        if mac is not None:
            macs[mac] = (device_id, line)
        rows[device_id] = {
            "device_id": device_id,
            "mac": mac,
            "hostname": r.get("hostname") or None,
            "ownership": ownership,
            "assigned_to": assigned_to,
            "ip": ip,
            "location": r.get("location") or None,
            "active": True,
            "updated_at": now,
        }
    if problems:
        raise ImportError_(problems)
    return list(rows.values())


def _apply(
    conn: Connection,
    model: type[PersonRow] | type[DeviceRow],
    key: str,
    rows: list[dict[str, object]],
    actor: str,
    what: str,
    now: datetime,
    leavers: tuple[str, ...] | None = (),
) -> ImportResult:
    """Add, update and retire rows; ``leavers``: the roles of the people who have left when
    the file does not list them (``()``: everyone's, ``None``: no one's)."""
    table = table_of(model)
    site = site_of(conn)
    own = mine(conn, table.c.site_id, site)
    rows = [{**r, "site_id": site} for r in rows]
    compare = [c for c in rows[0] if c != "updated_at"] if rows else []
    existing = {r._mapping[key]: dict(r._mapping) for r in conn.execute(select(table).where(own))}
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
            conn.execute(update(table).where(own, table.c[key] == r[key]).values(**r))
            audit(conn, actor, f"{what}.update", str(r[key]), {"changed": diff}, now=now)
        else:
            unchanged += 1
    insert_ignore(conn, table, new)
    for r in new:
        audit(conn, actor, f"{what}.add", str(r[key]), {}, now=now)
    seen = {r[key] for r in rows}
    retired = [
        k
        for k, v in existing.items()
        if k not in seen
        and v["active"]
        and leavers is not None
        and (not leavers or v.get("role") in leavers)
    ]
    for k in retired:
        conn.execute(
            update(table).where(own, table.c[key] == k).values(active=False, updated_at=now)
        )
        audit(conn, actor, f"{what}.retire", str(k), {}, now=now)
    return ImportResult(len(new), len(changed), unchanged, len(retired))


def _sync_reservations(conn: Connection, rows: list[dict[str, object]], now: datetime) -> None:
    """Keep ``reservations`` in step with the devices file: a new or changed reservation
    starts now (or, the first time anything is known of the device and the address, at
    the beginning), and one that changed, went or whose device left ends now."""
    rt = table_of(ReservationRow)
    site = site_of(conn)
    history = list(conn.execute(select(rt).where(mine(conn, rt.c.site_id, site))))
    known_ips = {r.ip for r in history}
    known_devices = {r.device_id for r in history}
    open_by_device = {r.device_id: r for r in history if r.ends is None}
    wanted = {str(r["device_id"]): r["ip"] for r in rows if r["ip"]}
    for device_id, current in open_by_device.items():
        if wanted.get(device_id) != current.ip:
            conn.execute(update(rt).where(rt.c.id == current.id).values(ends=now))
    for device_id, ip in wanted.items():
        held = open_by_device.get(device_id)
        if held is not None and held.ip == ip:
            continue
        fresh = ip not in known_ips and device_id not in known_devices
        conn.execute(
            rt.insert().values(
                site_id=site, device_id=device_id, ip=ip, starts=BEGINNING if fresh else now
            )
        )


def import_people(
    engine: Engine,
    path: Path,
    actor: str,
    now: datetime,
    roster: Roster | None = None,
    *,
    scope: Scope | None = None,
    merge: bool = False,
) -> ImportResult:
    """Import the roster; ``roster`` (the config's ``[roster]``) names the file's columns.
    The file is the whole school, or with ``scope`` its pupils or its staff (only people of
    that scope not in it have left); with ``merge`` no one has left."""
    rows = _people_rows(path, now, roster, scope)
    leavers = None if merge else SCOPES[scope] if scope is not None else ()
    with engine.begin() as conn:
        return _apply(conn, PersonRow, "username", rows, actor, "person", now, leavers)


def import_devices(engine: Engine, path: Path, actor: str, now: datetime) -> ImportResult:
    """Import the device inventory; a device may be assigned only to someone on the
    roster."""
    with engine.begin() as conn:
        pt = table_of(PersonRow)
        people = set(conn.execute(select(pt.c.username).where(mine(conn, pt.c.site_id))).scalars())
        rows = _device_rows(path, now, people)
        result = _apply(conn, DeviceRow, "device_id", rows, actor, "device", now)
        _sync_reservations(conn, rows, now)
    return result
