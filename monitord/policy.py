"""The school's policy: from a category, a person, a device and a time to a severity and the
people who must hear of it.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from monitord.categories import CATEGORIES, ILLEGAL
from monitord.config import ConfigError, Recipients
from monitord.model import Decision, Device, Person, Severity

DEFAULT_POLICY = Path(__file__).parent / "defaults" / "policy.toml"

SeverityName = Literal["none", "low", "medium", "high", "critical"]
STAFF_COLUMN = frozenset({"staff", "headteacher", "governor", "volunteer", "supply"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a time of day as HH:MM, got {value!r}") from None


class Times(_Strict):
    breaks: list[tuple[str, str]] = [("10:30", "10:45"), ("12:00", "13:00")]
    after_school: tuple[str, str] = ("15:30", "07:30")
    weekend: bool = True

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
    staff_free_time: SeverityName | None = None


class PolicyDoc(_Strict):
    times: Times = Times()
    severity: dict[str, Row]
    routing: dict[str, list[str]] = {}
    nominated: dict[str, list[str]] = {}

    @model_validator(mode="after")
    def _check(self) -> PolicyDoc:
        problems: list[str] = []
        for cat, row in self.severity.items():
            if cat not in CATEGORIES:
                problems.append(f"severity.{cat}: not a category id")
            elif cat in ILLEGAL and (
                row.pupil != "critical"
                or row.staff != "critical"
                or row.staff_free_time not in (None, "critical")
            ):
                problems.append(
                    f"severity.{cat}: {cat} is illegal content and stays critical for everyone; "
                    "no policy can lower it"
                )
        for cat in self.nominated:
            if cat in ILLEGAL:
                problems.append(f"nominated.{cat}: no one can be exempted from {cat}")
            elif cat not in CATEGORIES:
                problems.append(f"nominated.{cat}: not a category id")
        lists = set(Recipients.model_fields)
        for key, names in self.routing.items():
            for name in names:
                if name not in lists:
                    problems.append(
                        f"routing.{key}: {name!r} is not a [recipients] list "
                        f"(expected one of {', '.join(sorted(lists))})"
                    )
        missing = [c for c in CATEGORIES if c not in self.severity]
        if missing:
            problems.append(f"severity: no row for {', '.join(missing)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _in_window(now: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= now < end
    return now >= start or now < end


class Policy:
    """Decides severity and routing for a category match."""

    def __init__(self, doc: PolicyDoc, tz: ZoneInfo) -> None:
        self.doc = doc
        self.tz = tz
        self._breaks = [(_hhmm(a), _hhmm(b)) for a, b in doc.times.breaks]
        self._after = (_hhmm(doc.times.after_school[0]), _hhmm(doc.times.after_school[1]))

    def is_free_time(self, ts: datetime) -> bool:
        """Breaks, lunch, after school or the weekend, in the school's zone."""
        local = ts.astimezone(self.tz)
        if self.doc.times.weekend and local.weekday() >= 5:
            return True
        t = local.time()
        return _in_window(t, *self._after) or any(_in_window(t, a, b) for a, b in self._breaks)

    def in_school_hours(self, ts: datetime) -> bool:
        """A school day between the end of after-school and its start (breaks included)."""
        local = ts.astimezone(self.tz)
        if self.doc.times.weekend and local.weekday() >= 5:
            return False
        return not _in_window(local.time(), *self._after)

    def route(self, category: str, severity: Severity, role: str | None) -> tuple[str, ...]:
        routing = self.doc.routing
        key = role or "unknown"
        lists: list[str] = list(routing.get(category) or routing.get(key) or routing["unknown"])
        if severity is Severity.CRITICAL:
            for name in routing.get("critical", ()):
                if name == "headteacher" and role == "headteacher":
                    name = "chair"
                if name not in lists:
                    lists.append(name)
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
        staff = role in STAFF_COLUMN
        if staff:
            free = row.staff_free_time is not None and self.is_free_time(ts)
            name = row.staff_free_time if free and row.staff_free_time else row.staff
            column = "staff (break or after school)" if free else "staff"
        else:
            name, column = row.pupil, "pupil"
        severity = Severity(name)
        rule = f"severity.{category}.{column} = {name}"
        exempt = False
        if person and person.username in self.doc.nominated.get(category, ()):
            exempt = True
            rule += f"; {person.username} is nominated for {category}: exempt, use recorded"
            severity = Severity.NONE
        lists = self.route(category, severity, role)
        return Decision(category, severity, rule, lists, lists, exempt)


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
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            if loc:
                lines.append(f"{label}: {loc}: {msg}")
            else:
                lines.extend(f"{label}: {part}" for part in msg.split("; "))
        raise ConfigError(lines) from None


def load_policy(path: Path | None, tz: ZoneInfo) -> Policy:
    """The policy file named in the config, or the default policy shipped with monitord."""
    return Policy(_load_doc(path or DEFAULT_POLICY), tz)
