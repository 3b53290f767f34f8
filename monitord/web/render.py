"""The console's HTML: Jinja2 templates shipped in the package, escaped by default, with
the filters the pages use to show times in the school's zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from monitord.casework.cases import OUTCOME_TEXT
from monitord.store.database import utc


def _when(value: Any, tz: ZoneInfo, fmt: str) -> str:
    if value is None:
        return "-"
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return utc(ts).astimezone(tz).strftime(fmt)


def age(value: str | datetime | None, now: datetime) -> str:
    """How long ago, as a person says it: ``5 min``, ``3 h 20 min``, ``2 days``."""
    if value is None:
        return "-"
    then = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    seconds = int((now - utc(then)).total_seconds())
    minutes = max(seconds // 60, 0)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        h, m = divmod(minutes, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{minutes // 1440} days"


# What an alert's history shows of each record's detail (the rest is in the evidence bundle).
HISTORY_KEYS = (
    "severity",
    "count",
    "text",
    "assignee",
    "reviewer",
    "first_reviewer",
    "from",
    "to",
    "reason",
    "outcome",
    "recipients",
    "sha256",
)


# An alert's history in words.
ACTIONS = {
    "alert.create": "raised it",
    "alert.update": "added events",
    "alert.held": "held its mail",
    "alert.view": "viewed it",
    "alert.ack": "acknowledged it",
    "alert.note": "added a note",
    "alert.assign": "assigned it",
    "alert.review": "signed the second review",
    "alert.escalate": "escalated it",
    "alert.close": "closed it",
    "alert.reopen": "reopened it",
    "alert.export": "exported the evidence",
}


ROLE_NAMES = {
    "dsl": "DSL",
    "deputy_dsl": "Deputy DSL",
    "headteacher": "Headteacher",
    "chair": "Chair of governors",
    "technician": "Technician",
    "osg": "Online Safety Group",
    "governor": "Governor",
}


def plain(value: Any) -> str:
    """A detail's value as text: a list as its items."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


class Pages:
    def __init__(self, tz: ZoneInfo, school: str) -> None:
        self.tz = tz
        self.env = Environment(
            loader=PackageLoader("monitord.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["local"] = lambda v, fmt="%a %d %b %Y %H:%M": _when(v, tz, fmt)
        self.env.filters["words"] = lambda v: str(v or "-").replace("_", " ")
        self.env.filters["plain"] = plain
        self.env.filters["role"] = lambda v: ROLE_NAMES.get(str(v), str(v))
        self.env.filters["action"] = lambda v: ACTIONS.get(str(v), str(v))
        self.env.globals["school"] = school
        self.env.globals["outcomes"] = OUTCOME_TEXT
        self.env.globals["history_keys"] = HISTORY_KEYS

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status)
