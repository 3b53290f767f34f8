"""Who sees which alert in the console, role by role: the DSL and deputies every alert but
their own, the headteacher all but a headteacher's, the chair only the headteacher's, the
technician only technical ones, the Online Safety Group and governors none; nobody an alert
about a roster person they are."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitord.casework.accounts import Account, Role
from monitord.web.gate import Viewer
from monitord.web.roles import (
    ALERT_ROLES,
    TECHNICAL,
    About,
    may_see,
    sees_alerts,
    sees_assignment,
    visible,
)

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

# One alert of each kind the rule tells apart.
ALERTS = {
    "pupil": {"id": 1, "person": "Alice.P", "role": "pupil", "category": "pornography"},
    "staff": {"id": 2, "person": "bob.s", "role": "staff", "category": "gambling"},
    "head": {"id": 3, "person": "helen.h", "role": "headteacher", "category": "pornography"},
    "device": {"id": 4, "person": None, "role": None, "category": "unauthorised_device"},
    "gap": {"id": 5, "person": None, "role": None, "category": "monitoring_gap"},
    "nobody": {"id": 6, "person": None, "role": None, "category": "self_harm"},
}


def viewer(role: Role, username: str = "someone.else", *people: str) -> Viewer:
    account = Account(
        username=username,
        role=role,
        full_name="",
        email="",
        state="active",
        disabled=False,
        two_factor=True,
        created_at=WHEN,
        updated_at=WHEN,
    )
    return Viewer(account, frozenset({username, *people}))


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        (Role.DSL, {"pupil", "staff", "head", "device", "gap", "nobody"}),
        (Role.DEPUTY_DSL, {"pupil", "staff", "head", "device", "gap", "nobody"}),
        (Role.HEADTEACHER, {"pupil", "staff", "device", "gap", "nobody"}),
        (Role.CHAIR, {"head"}),
        (Role.TECHNICIAN, {"device", "gap"}),
        (Role.OSG, set()),
        (Role.GOVERNOR, set()),
    ],
)
def test_each_role_sees_its_alerts(role: Role, sees: set[str]) -> None:
    v = viewer(role)
    assert {kind for kind, alert in ALERTS.items() if may_see(v, About.of(alert))} == sees
    assert [a["id"] for a in visible(v, list(ALERTS.values()))] == sorted(
        ALERTS[k]["id"] for k in sees
    )
    assert sees_alerts(v) is (role in ALERT_ROLES)


@pytest.mark.parametrize("role", [Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.CHAIR])
def test_nobody_sees_an_alert_about_themselves(role: Role) -> None:
    about_head = About.of(ALERTS["head"])
    # By the account's own user name, or as the roster person the account is.
    assert not may_see(viewer(role, "helen.h"), about_head)
    assert not may_see(viewer(role, "hh.admin", "helen.h"), about_head)
    about_staff = About.of(ALERTS["staff"])
    assert not may_see(viewer(role, "b.smith", "bob.s"), about_staff)


def test_the_person_is_compared_without_case() -> None:
    about = About.of(ALERTS["pupil"])
    assert about == About("alice.p", "pupil", "pornography")
    assert not may_see(viewer(Role.DSL, "alice.p"), about)
    assert About.of({"person": "", "role": None, "category": "self_harm"}).person is None


def test_the_technical_categories_are_about_no_ones_content() -> None:
    assert frozenset({"unauthorised_device", "monitoring_gap"}) == TECHNICAL
    technician = viewer(Role.TECHNICIAN)
    for category in TECHNICAL:
        # Even with a person attached, a technical alert is the technician's.
        assert may_see(technician, About("ben.p", "pupil", category))
    assert not may_see(technician, About(None, None, "self_harm"))


@pytest.mark.parametrize("role", list(Role))
def test_who_sees_whom_a_device_is_assigned_to(role: Role) -> None:
    allowed = {Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.TECHNICIAN}
    assert sees_assignment(viewer(role)) is (role in allowed)
