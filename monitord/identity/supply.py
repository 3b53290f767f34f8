"""Supply and student teachers: the shared logins (Supply1, Supply2) and who used them when.

The office records each visit, by ``monitord supply checkin Supply1 --name ... --class ...``
or by importing a CSV (``login,name,class,date``), and the identity layer then names the real
person behind the shared login for that school day, saying that it knows through the
check-in. A login can only be checked in if the roster lists it with the role ``supply``: a
pupil's or a teacher's own login can never be mapped to someone else. A second check-in of
the same login for the same day replaces the first (a correction); both stay in the table and
in the audit trail.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from monitord.identity.roster import ImportError_, read_csv
from monitord.store.database import audit, mine, site_of, table_of, utc
from monitord.store.tables import PersonRow, SupplyVisitRow

VISIT_HEADER = ("login", "name", "class", "date")
MAX_NAME = 256
MAX_CLASS = 64
REFRESH_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Visit:
    login: str
    day: date
    name: str
    class_name: str | None
    recorded_at: datetime
    recorded_by: str
    source: str


def _supply_logins(conn: Connection) -> dict[str, bool]:
    """Every login the roster gives the role ``supply``, and whether it is active."""
    pt = table_of(PersonRow)
    own = mine(conn, pt.c.site_id)
    rows = conn.execute(select(pt.c.username, pt.c.active).where(own, pt.c.role == "supply"))
    return {r.username: bool(r.active) for r in rows}


def _check(
    login: str, name: str, class_name: str, supply: dict[str, bool], where: str
) -> list[str]:
    problems = []
    if not login:
        problems.append(f"{where}login is empty")
    elif login not in supply:
        problems.append(
            f"{where}{login!r} is not a supply login on the roster "
            "(import a roster that lists it with role supply)"
        )
    elif not supply[login]:
        problems.append(f"{where}{login!r} has left the roster (it is marked inactive)")
    if not name.strip():
        problems.append(f"{where}name is empty (the real person's name)")
    elif len(name) > MAX_NAME:
        problems.append(f"{where}name is longer than {MAX_NAME} characters")
    if not class_name.strip():
        problems.append(f"{where}class is empty (the class they are covering)")
    elif len(class_name) > MAX_CLASS:
        problems.append(f"{where}class is longer than {MAX_CLASS} characters")
    return problems


def _record(conn: Connection, visit: Visit) -> None:
    conn.execute(
        table_of(SupplyVisitRow)
        .insert()
        .values(
            site_id=site_of(conn),
            login=visit.login,
            day=visit.day,
            name=visit.name,
            class_name=visit.class_name,
            recorded_at=visit.recorded_at,
            recorded_by=visit.recorded_by,
            source=visit.source,
        )
    )
    audit(
        conn,
        visit.recorded_by,
        "supply.checkin",
        visit.login,
        {
            "day": visit.day.isoformat(),
            "name": visit.name,
            "class": visit.class_name,
            "source": visit.source,
        },
        now=visit.recorded_at,
    )


def checkin(
    engine: Engine,
    login: str,
    name: str,
    class_name: str,
    day: date,
    actor: str,
    now: datetime,
) -> Visit:
    """Record that ``name`` uses the shared ``login`` on ``day``, covering ``class_name``."""
    login = login.strip().lower()
    with engine.begin() as conn:
        problems = _check(login, name, class_name, _supply_logins(conn), "")
        if problems:
            raise ImportError_(problems)
        visit = Visit(login, day, " ".join(name.split()), class_name.strip(), now, actor, "checkin")
        _record(conn, visit)
    return visit


def import_visits(engine: Engine, path: Path, actor: str, now: datetime, tz: ZoneInfo) -> int:
    """Record every visit in a CSV (``login,name,class,date``; an empty date is today).
    Nothing is recorded unless every line is good."""
    rows = read_csv(path, VISIT_HEADER[:3])
    today = now.astimezone(tz).date()
    with engine.begin() as conn:
        supply = _supply_logins(conn)
        problems: list[str] = []
        visits: list[Visit] = []
        for line, r in rows:
            where = f"{path}: line {line}: "
            login = r.get("login", "").lower()
            found = _check(login, r.get("name", ""), r.get("class", ""), supply, where)
            try:
                day = date.fromisoformat(r["date"]) if r.get("date") else today
            except ValueError:
                found.append(f"{where}date {r['date']!r} is not a date (expected YYYY-MM-DD)")
                day = today
            if found:
                problems += found
                continue
            visits.append(
                Visit(
                    login,
                    day,
                    " ".join(r["name"].split()),
                    r["class"],
                    now,
                    actor,
                    f"import {path.name}",
                )
            )
        if problems:
            raise ImportError_(problems)
        for visit in visits:
            _record(conn, visit)
    return len(visits)


def visits_on(conn: Connection, day: date) -> dict[str, Visit]:
    """Each login's visit on ``day``: the latest recorded, when there are several."""
    vt = table_of(SupplyVisitRow)
    out: dict[str, Visit] = {}
    own = mine(conn, vt.c.site_id) & (vt.c.day == day)
    for r in conn.execute(select(vt).where(own).order_by(vt.c.recorded_at, vt.c.id)):
        out[r.login] = Visit(
            r.login, r.day, r.name, r.class_name, utc(r.recorded_at), r.recorded_by, r.source
        )
    return out


class VisitBook:
    """The visits the identity layer consults. With a store, a day's visits are read when
    first asked for and read again when older than ``refresh`` seconds, so a check-in made
    at the office while the daemon runs is seen within that time."""

    def __init__(self, engine: Engine | None = None, refresh: float = REFRESH_SECONDS) -> None:
        self.engine = engine
        self.refresh = refresh
        self._days: dict[date, tuple[float, dict[str, Visit]]] = {}

    def add(self, visit: Visit) -> None:
        """A visit known without the store (tests, the demo)."""
        read_at, visits = self._days.get(visit.day, (float("inf"), {}))
        visits[visit.login] = visit
        self._days[visit.day] = (read_at, visits)

    def get(self, login: str, day: date) -> Visit | None:
        known = self._days.get(day)
        now = time.monotonic()
        if self.engine is not None and (known is None or now - known[0] > self.refresh):
            with self.engine.connect() as conn:
                visits = visits_on(conn, day)
            known = (now, visits)
            self._days[day] = known
            if len(self._days) > 400:  # keep about a year of days
                del self._days[min(self._days)]
        return known[1].get(login) if known is not None else None
