"""Who may see what: the console's one rule about alerts, used by every page and the API.

- the DSL and deputies: every alert, except one about themselves;
- the headteacher: alerts about staff and pupils (every alert not about a headteacher),
  never their own;
- the chair of governors: only alerts about the headteacher;
- the technician: the technical alerts (unauthorised devices, monitoring gaps), never an
  alert about a person's content;
- the Online Safety Group and governors: no alert at all, only the anonymous digest and
  the governors' report.

"About themselves" means about any roster person the account is (by user name or email).
The rule itself is the accounts core's (``may_see_alert``), which the command line's
``--as`` uses too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitord.casework.accounts import TECHNICAL_CATEGORIES, Role, may_see_alert
from monitord.web.gate import Viewer

# Alerts about the school's network and its logs rather than about what a person did.
TECHNICAL = TECHNICAL_CATEGORIES
# The roles that see some alerts (and work on those they see).
ALERT_ROLES = frozenset({Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.CHAIR, Role.TECHNICIAN})
# The roles that see the school's devices, the unauthorised ones and the monitoring gaps.
DEVICE_ROLES = frozenset({Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.TECHNICIAN})
# The roles that see whom a device is assigned to: the safeguarding staff, and the
# technician, who puts attribution right (a user name only, never what the person did).
ASSIGNMENT_ROLES = DEVICE_ROLES


@dataclass(frozen=True, slots=True)
class About:
    """What the rule reads of an alert: whom it is about and what kind it is."""

    person: str | None
    role: str | None
    category: str

    @classmethod
    def of(cls, alert: Mapping[str, Any]) -> About:
        person = alert.get("person")
        return cls(str(person).lower() if person else None, alert.get("role"), alert["category"])


def sees_alerts(viewer: Viewer) -> bool:
    """Whether the account's role sees any alert at all (the API's 403 otherwise)."""
    return viewer.role in ALERT_ROLES


def sees_assignment(viewer: Viewer) -> bool:
    """Whether the account may see which person a device is assigned to."""
    return viewer.role in ASSIGNMENT_ROLES


def may_see(viewer: Viewer, alert: About) -> bool:
    """May this account see (and so work on) this alert? The accounts core's rule
    (``may_see_alert``): by role, and never an alert about a roster person the account is."""
    return may_see_alert(viewer.account, alert.person, alert.role, alert.category, viewer.people)


def visible(viewer: Viewer, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if may_see(viewer, About.of(a))]
