"""The school's policy: from a category, a person, a device and a time to a severity and the
people who must hear of it.

A decision is built in this order, and its ``rule`` names every table cell that took part:

1. ``severity.<category>.<column>``: the pupil column (pupils, guests, no one known) or the
   staff column (staff, headteacher, governors, volunteers, supply); ``<column>_free_time``
   instead when the row has one and the time is free time (a break, lunch, after school, a
   weekend, a holiday or a closed day of the school calendar);
2. ``year_groups.<year group or band>.<category>``: replaces it for a pupil of that year group
   (a year group's own table before its band's);
3. ``ownership.<ownership>.<category>``: replaces it for an event from a device of that
   ownership; then ``ownership.<ownership>.at_least`` raises anything below it;
4. ``nominated.<category>``: a member of staff named there is exempt (severity ``none``,
   ``exempt=True``, and the alert manager records the use).

``child_abuse`` and ``terrorist_content`` are critical whoever, wherever and whenever: no cell
may say otherwise (the file is refused, one line per offending key) and no one can be exempted.
"""

from __future__ import annotations

import copy
import tomllib
from bisect import bisect_right
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from monitord.core.categories import CATEGORIES, ILLEGAL
from monitord.core.model import Decision, Device, Person, Severity
from monitord.core.paths import DEFAULTS
from monitord.identity.roster import OWNERSHIP, ROLES, YEAR_GROUPS
from monitord.settings.config import Config, ConfigError
from monitord.settings.sections import Recipients

DEFAULT_POLICY = DEFAULTS / "policy.toml"

SeverityName = Literal["none", "low", "medium", "high", "critical"]
STAFF_COLUMN = frozenset({"staff", "headteacher", "governor", "volunteer", "supply"})

# Year group bands a [year_groups] table may name instead of a single year group.
YEAR_BANDS: dict[str, tuple[str, ...]] = {
    "infant": ("N", "R", "1", "2"),
    "junior": ("3", "4", "5", "6"),
}
# The key of an [ownership.<ownership>] table that is a floor, not a category.
AT_LEAST = "at_least"
# Keys of [routing] that are neither roles nor categories.
ROUTING_SPECIAL = ("unknown", "critical")
DEFAULT_ROUTING: dict[str, list[str]] = {
    "pupil": ["dsl"],
    "guest": ["dsl"],
    "unknown": ["dsl"],
    "staff": ["headteacher"],
    "supply": ["headteacher"],
    "volunteer": ["headteacher"],
    "governor": ["headteacher"],
    "headteacher": ["chair"],
    "critical": ["dsl", "headteacher"],
    "monitoring_gap": ["technician"],
}

# Who hears of unauthorised_device alerts (the config's [alerts] unauthorised_devices_to):
# the technician, the lists the routing names (the DSL's, for a device nobody is tied to),
# or both.
DeviceAlertsTo = Literal["technician", "dsl", "both"]
UNAUTHORISED = "unauthorised_device"

# What Policy.period returns.
Period = Literal["school", "break", "after_school", "weekend", "holiday", "closed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a time of day as HH:MM, got {value!r}") from None


def _rank(name: str) -> int:
    return Severity(name).rank


class Times(_Strict):
    breaks: list[tuple[str, str]] = [("10:30", "10:45"), ("12:00", "13:00")]
    after_school: tuple[str, str] = ("15:30", "07:30")
    weekend: bool = True
    # The school calendar, as local dates. No terms: every day but the weekend is a school day.
    terms: list[tuple[date, date]] = []
    inset_days: list[date] = []
    closed_days: list[date] = []

    @field_validator("breaks")
    @classmethod
    def _check_breaks(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for start, end in value:
            _hhmm(start), _hhmm(end)
        return value

    @field_validator("after_school")
    @classmethod
    def _check_after(cls, value: tuple[str, str]) -> tuple[str, str]:
        _hhmm(value[0]), _hhmm(value[1])
        return value


class Row(_Strict):
    pupil: SeverityName
    staff: SeverityName
    pupil_free_time: SeverityName | None = None
    staff_free_time: SeverityName | None = None


def _illegal(path: str, cat: str, value: str) -> str:
    return (
        f"{path}: {cat} is illegal content and stays critical for everyone; "
        f"no policy can lower it (this says {value})"
    )


def _times_problems(t: Times) -> list[str]:
    problems: list[str] = []
    for i, (start, end) in enumerate(t.breaks):
        if _hhmm(start) >= _hhmm(end):
            problems.append(f"times.breaks.{i}: a break must end after it starts ({start}-{end})")
    if _hhmm(t.after_school[0]) == _hhmm(t.after_school[1]):
        problems.append("times.after_school: starts and ends at the same time")
    for i, (first, last) in enumerate(t.terms):
        if first > last:
            problems.append(f"times.terms.{i}: starts on {first} after it ends on {last}")
    order = sorted(range(len(t.terms)), key=lambda i: t.terms[i][0])
    for before, after in pairwise(order):
        if t.terms[after][0] <= t.terms[before][1]:
            problems.append(
                f"times.terms.{after}: overlaps times.terms.{before} "
                f"({t.terms[before][0]} to {t.terms[before][1]})"
            )
    inset = set(t.inset_days)
    for i, day in enumerate(t.closed_days):
        if day in inset:
            problems.append(f"times.closed_days.{i}: {day} is also in times.inset_days")
    return problems


class PolicyDoc(_Strict):
    times: Times = Times()
    severity: dict[str, Row]
    year_groups: dict[str, dict[str, SeverityName]] = {}
    ownership: dict[str, dict[str, SeverityName]] = {}
    routing: dict[str, list[str]] = DEFAULT_ROUTING
    nominated: dict[str, list[str]] = {}

    @model_validator(mode="after")
    def _check(self) -> PolicyDoc:
        problems = _times_problems(self.times)
        for cat, row in self.severity.items():
            if cat not in CATEGORIES:
                problems.append(f"severity.{cat}: not a category id")
            elif cat in ILLEGAL:
                for column, value in row.model_dump().items():
                    if value not in (None, "critical"):
                        problems.append(_illegal(f"severity.{cat}.{column}", cat, value))
        missing = [c for c in CATEGORIES if c not in self.severity]
        if missing:
            problems.append(f"severity: no row for {', '.join(missing)}")

        groups = (*YEAR_BANDS, *YEAR_GROUPS)
        for key, table in self.year_groups.items():
            if key not in groups:
                problems.append(
                    f"year_groups.{key}: not a year group or band "
                    f"(expected one of {', '.join(groups)})"
                )
            for cat, value in table.items():
                problems.extend(self._cell(f"year_groups.{key}.{cat}", cat, value))

        for key, table in self.ownership.items():
            if key not in OWNERSHIP:
                problems.append(
                    f"ownership.{key}: not a device ownership "
                    f"(expected one of {', '.join(OWNERSHIP)})"
                )
            floor = table.get(AT_LEAST)
            for cat, value in table.items():
                if cat == AT_LEAST:
                    continue
                problems.extend(self._cell(f"ownership.{key}.{cat}", cat, value))
                if floor is not None and _rank(value) < _rank(floor) and cat in CATEGORIES:
                    problems.append(
                        f"ownership.{key}.{cat}: {value} is below ownership.{key}.at_least "
                        f"= {floor}, which would raise it anyway"
                    )

        for cat, names in self.nominated.items():
            if cat in ILLEGAL:
                problems.append(f"nominated.{cat}: no one can be exempted from {cat}")
            elif cat not in CATEGORIES:
                problems.append(f"nominated.{cat}: not a category id")
            for i, name in enumerate(names):
                if not name.strip():
                    problems.append(f"nominated.{cat}.{i}: an empty user name")

        problems.extend(_routing_problems(self.routing))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @staticmethod
    def _cell(path: str, cat: str, value: str) -> list[str]:
        if cat not in CATEGORIES:
            return [f"{path}: not a category id"]
        if cat in ILLEGAL and value != "critical":
            return [_illegal(path, cat, value)]
        return []


def _routing_problems(routing: dict[str, list[str]]) -> list[str]:
    problems: list[str] = []
    lists = set(Recipients.model_fields)
    keys = (*ROLES, *ROUTING_SPECIAL)
    for key, names in routing.items():
        if key not in keys and key not in CATEGORIES:
            problems.append(
                f"routing.{key}: not a role, a category id, 'unknown' or 'critical' "
                f"(roles: {', '.join(ROLES)})"
            )
        for name in names:
            if name not in lists:
                problems.append(
                    f"routing.{key}: {name!r} is not a [recipients] list "
                    f"(expected one of {', '.join(sorted(lists))})"
                )
    for key in ROUTING_SPECIAL:
        if not routing.get(key):
            problems.append(f"routing.{key}: missing; it must name at least one list")
    if routing.get("critical") and "dsl" not in routing["critical"]:
        problems.append(
            "routing.critical: must include 'dsl': critical alerts (child_abuse, "
            "terrorist_content) always go to the DSL"
        )
    if "headteacher" in routing.get("headteacher", ()):
        problems.append(
            "routing.headteacher: an alert about the headteacher never goes to the "
            "headteacher (use 'chair')"
        )
    return problems


def _in_window(now: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= now < end
    return now >= start or now < end


class Policy:
    """Decides severity and routing for a category match."""

    def __init__(self, doc: PolicyDoc, tz: ZoneInfo, devices_to: DeviceAlertsTo = "both") -> None:
        self.doc = doc
        self.tz = tz
        self.devices_to = devices_to
        self._breaks = [(_hhmm(a), _hhmm(b)) for a, b in doc.times.breaks]
        self._after = (_hhmm(doc.times.after_school[0]), _hhmm(doc.times.after_school[1]))
        self._terms = sorted(doc.times.terms)
        self._term_starts = [start for start, _ in self._terms]
        self._calendar = (
            (self._terms[0][0], max(end for _, end in self._terms)) if self._terms else None
        )
        self._inset = frozenset(doc.times.inset_days)
        self._closed = frozenset(doc.times.closed_days)
        # For each year group, the [year_groups] tables that apply, the most specific first.
        self._year_tables: dict[str, list[tuple[str, dict[str, SeverityName]]]] = {}
        for year in YEAR_GROUPS:
            keys = [year, *(band for band, years in YEAR_BANDS.items() if year in years)]
            self._year_tables[year] = [
                (k, doc.year_groups[k]) for k in keys if k in doc.year_groups
            ]

    # --- the school calendar ----------------------------------------------------------------

    def _in_term(self, day: date) -> bool:
        """Inside a term. A day before the first term or after the last is outside what the
        calendar covers and counts as term time, so that a calendar nobody extended does not
        quietly turn the next school year into a holiday."""
        if self._calendar is None or not self._calendar[0] <= day <= self._calendar[1]:
            return True
        i = bisect_right(self._term_starts, day) - 1
        return i >= 0 and day <= self._terms[i][1]

    def _day_kind(self, day: date) -> Period:
        """``school``, or why the school is shut: ``weekend``, ``holiday`` or ``closed``."""
        if day in self._inset:
            return "school"
        if day in self._closed:
            return "closed"
        if self.doc.times.weekend and day.weekday() >= 5:
            return "weekend"
        return "school" if self._in_term(day) else "holiday"

    def is_school_day(self, day: date) -> bool:
        """A local date the school is open: a weekday (unless weekends are off) in a term, or
        an INSET day, and not a closed day."""
        return self._day_kind(day) == "school"

    def period(self, ts: datetime) -> Period:
        """What part of the school calendar ``ts`` falls in, in the school's zone:
        ``weekend``, ``holiday`` or ``closed`` on a day the school is shut; otherwise
        ``after_school`` (which runs until school starts in the morning), ``break`` (breaks
        and lunch) or ``school``."""
        local = ts.astimezone(self.tz)
        kind = self._day_kind(local.date())
        if kind != "school":
            return kind
        t = local.time()
        if _in_window(t, *self._after):
            return "after_school"
        if any(_in_window(t, a, b) for a, b in self._breaks):
            return "break"
        return "school"

    def is_free_time(self, ts: datetime) -> bool:
        """Breaks, lunch, after school, the weekend, holidays and closed days, in the school's
        zone."""
        return self.period(ts) != "school"

    def in_school_hours(self, ts: datetime) -> bool:
        """A school day between the end of after-school and its start (breaks included)."""
        return self.period(ts) in ("school", "break")

    def next_school_start(self, ts: datetime) -> datetime | None:
        """When school hours next begin after ``ts``: the end of the after-school window on
        the next school day (today's if it is still to come), across weekends, holidays and
        closed days. In ``ts``'s zone; None if no day in the next year is a school day."""
        local = ts.astimezone(self.tz)
        for days in range(367):
            day = local.date() + timedelta(days=days)
            if self.is_school_day(day):
                start = datetime.combine(day, self._after[1], self.tz)
                if start > ts:
                    return start.astimezone(ts.tzinfo)
        return None

    def _period_label(self, ts: datetime) -> str:
        local = ts.astimezone(self.tz)
        match self.period(ts):
            case "break":
                t = local.time()
                for (a, b), (sa, sb) in zip(self._breaks, self.doc.times.breaks, strict=True):
                    if _in_window(t, a, b):
                        return f"break {sa}-{sb}"
                return "break"
            case "after_school":
                start, end = self.doc.times.after_school
                return f"after school {start}-{end}"
            case "closed":
                return f"closed day {local.date()}"
            case "holiday":
                return f"holiday {local.date()}"
            case other:
                return other

    # --- decisions --------------------------------------------------------------------------

    def route(self, category: str, severity: Severity, role: str | None) -> tuple[str, ...]:
        routing = self.doc.routing
        key = role or "unknown"
        lists: list[str] = list(routing.get(category) or routing.get(key) or routing["unknown"])
        if category == UNAUTHORISED and self.devices_to != "dsl":
            kept = [x for x in lists if x != "technician"] if self.devices_to == "both" else []
            lists = ["technician", *kept]
        if severity is Severity.CRITICAL:
            for name in routing.get("critical", ()):
                if name == "headteacher" and role == "headteacher":
                    name = "chair"
                if name not in lists:
                    lists.append(name)
        if category in ILLEGAL and "dsl" not in lists:
            lists.append("dsl")
        if role == "headteacher" and "headteacher" in lists:
            lists.remove("headteacher")  # nothing about the headteacher goes to the headteacher
            if "chair" not in lists:
                lists.append("chair")
        return tuple(lists)

    def decide(
        self, category: str, person: Person | None, device: Device | None, ts: datetime
    ) -> Decision:
        row = self.doc.severity[category]
        role = person.role if person else None
        column = "staff" if role in STAFF_COLUMN else "pupil"
        free_value = row.staff_free_time if column == "staff" else row.pupil_free_time
        if free_value is not None and self.is_free_time(ts):
            name: str = free_value
            cells = [f"severity.{category}.{column}_free_time = {name} ({self._period_label(ts)})"]
        else:
            name = row.staff if column == "staff" else row.pupil
            cells = [f"severity.{category}.{column} = {name}"]

        if column == "pupil" and person is not None and person.year_group:
            for key, table in self._year_tables.get(person.year_group, ()):
                if category in table:
                    name = table[category]
                    cells.append(f"year_groups.{key}.{category} = {name}")
                    break

        if device is not None:
            table = self.doc.ownership.get(device.ownership, {})
            if category in table:
                name = table[category]
                cells.append(f"ownership.{device.ownership}.{category} = {name}")
            floor = table.get(AT_LEAST)
            if floor is not None and _rank(floor) > _rank(name):
                cells.append(f"ownership.{device.ownership}.at_least = {floor} (was {name})")
                name = floor

        severity = Severity(name)
        if category in ILLEGAL and severity is not Severity.CRITICAL:
            # The loader refuses such a file; this holds for a PolicyDoc built any other way.
            severity = Severity.CRITICAL
            cells.append(f"{category} is illegal content: critical whatever the policy says")

        exempt = False
        if person is not None and person.username in self.doc.nominated.get(category, ()):
            if role in STAFF_COLUMN and category not in ILLEGAL:
                exempt = True
                severity = Severity.NONE
                cells.append(
                    f"nominated.{category}: {person.username} is nominated for {category}: "
                    "exempt, use recorded"
                )
            elif category in ILLEGAL:
                cells.append(
                    f"nominated.{category} names {person.username}: no one can be exempted "
                    f"from {category}, not exempt"
                )
            else:
                cells.append(
                    f"nominated.{category} names {person.username}, a {role}: only staff can "
                    "be exempted, not exempt"
                )
        lists = self.route(category, severity, role)
        return Decision(category, severity, "; ".join(cells), lists, lists, exempt)


def _error_lines(label: str, exc: ValidationError, *, whole_only: bool = False) -> list[str]:
    """One line a problem, each naming its key; ``whole_only``: only the problems found by
    reading the policy as a whole (categories, routing, illegal rows), not single values."""
    lines = []
    for err in exc.errors():
        if whole_only and err["loc"]:
            continue
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        if loc:
            lines.append(f"{label}: {loc}: {msg}")
        else:
            lines.extend(f"{label}: {part}" for part in msg.split("\n"))
    return lines


def _without_bad_values(data: dict[str, Any], exc: ValidationError) -> dict[str, Any]:
    """``data`` with each value the validation refused put right, so that the checks of the
    policy as a whole can still run: a severity that is not one becomes "critical" (which no
    whole-policy check objects to), anything else is left out (its default applies)."""
    fixed: dict[str, Any] = copy.deepcopy(data)
    for err in exc.errors():
        loc = list(err["loc"])
        # The nearest table holding the bad value by name (lists are left out whole).
        while loc and not isinstance(loc[-1], str):
            loc.pop()
        parent: Any = fixed
        for key in loc[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not loc or not isinstance(parent, dict) or loc[-1] not in parent:
            continue
        if err["type"] == "literal_error" and len(loc) == len(err["loc"]):
            parent[loc[-1]] = "critical"
        else:
            del parent[loc[-1]]
    return fixed


def _load_doc(path: Path) -> PolicyDoc:
    label = path.name
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: policy file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{label}: not valid TOML: {exc}"]) from None
    try:
        return PolicyDoc.model_validate(data)
    except ValidationError as exc:
        lines = _error_lines(label, exc)
        # A refused value stops pydantic before the checks of the whole policy: run them on
        # the rest, so that one bad severity does not hide a misspelt category beside it.
        try:
            PolicyDoc.model_validate(_without_bad_values(data, exc))
        except ValidationError as again:
            lines += [x for x in _error_lines(label, again, whole_only=True) if x not in lines]
        raise ConfigError(lines) from None


def policy_named_in(config: Path) -> Path | None:
    """The policy file a config file names, read from its text alone (for checking it when
    the rest of the config has problems); None for the default policy, or if unreadable."""
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    section = data.get("policy")
    name = section.get("file") if isinstance(section, dict) else None
    if not isinstance(name, str) or not name:
        return None
    return config.resolve().parent / name


def load_policy(path: Path | None, tz: ZoneInfo, devices_to: DeviceAlertsTo = "both") -> Policy:
    """The policy file named in the config, or the default policy shipped with monitord."""
    return Policy(_load_doc(path or DEFAULT_POLICY), tz, devices_to)


def policy_of(cfg: Config) -> Policy:
    """The policy a config names, with the routing its [alerts] section adds."""
    return load_policy(cfg.policy_file, cfg.tz, cfg.settings.alerts.unauthorised_devices_to)
