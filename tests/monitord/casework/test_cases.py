"""Case work on alerts: acknowledging, assigning, notes, a second senior person's review
before a referral or a critical alert is closed, and escalation mailed in the alert's thread;
every step in the audit trail."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitord.casework.cases import (
    CaseError,
    ack,
    assign,
    close,
    escalate,
    note,
    review,
    show_alert,
)
from monitord.core.clock import FixedClock
from tests.alerting.test_manager import (
    School,
    at,
    parse,
)

pytestmark = pytest.mark.stores


def critical_alert(school: School, clock: FixedClock) -> int:
    school.lookups(
        ("alice.p", "csam-test.invalid", at(clock, 40)),
        ("alice.p", "www.bbc.co.uk", at(clock, 41)),
        ("alice.p", "cdn.csam-test.invalid", at(clock, 42)),
    )
    [alert] = school.alerts(category="child_abuse")
    assert alert["count"] == 2
    return int(alert["id"])


def actions(school: School, alert_id: int) -> list[str]:
    return [
        h["action"]
        for h in show_alert(school.app.engine, alert_id, "test", school.clock.now()).history
    ]


def test_a_critical_alert_closes_only_after_a_second_reviewer(
    school: School, clock: FixedClock
) -> None:
    engine = school.app.engine
    alert_id = critical_alert(school, clock)
    now = clock.now()
    with pytest.raises(CaseError, match="needs a second reviewer's sign-off"):
        close(engine, alert_id, "dsl", "no_concern", now)
    with pytest.raises(CaseError, match="no first reviewer yet"):
        review(engine, alert_id, "dsl", "helen.h", now)
    assign(engine, alert_id, "dsl", "dsl.jones", now)
    with pytest.raises(CaseError, match="must be a second person's"):
        review(engine, alert_id, "dsl.jones", "DSL.Jones", now)
    note(engine, alert_id, "dsl.jones", "device seized and locked in the safe", now)
    review(engine, alert_id, "dsl.jones", "helen.h", now)
    close(engine, alert_id, "dsl.jones", "referred_police", now)
    [alert] = school.alerts(id=alert_id)
    assert (alert["status"], alert["assignee"], alert["reviewer"]) == (
        "closed",
        "dsl.jones",
        "helen.h",
    )
    assert alert["reviewed_at"] == now
    assert actions(school, alert_id)[-4:] == [
        "alert.assign",
        "alert.note",
        "alert.review",
        "alert.close",
    ]


def test_a_referral_needs_a_review_but_an_internal_outcome_does_not(
    school: School, clock: FixedClock
) -> None:
    engine = school.app.engine
    school.lookup("alice.p", "pornhub.com")
    school.lookup("ben.p", "pornhub.com")
    [alice, ben] = [a["id"] for a in school.alerts()]
    with pytest.raises(CaseError, match="referred_local_authority needs a second reviewer"):
        close(engine, alice, "dsl", "referred_local_authority", clock.now())
    ack(engine, alice, "dsl", clock.now())  # the acknowledger is the first reviewer
    with pytest.raises(CaseError, match="must be a second person's"):
        review(engine, alice, "head", "dsl", clock.now())
    with pytest.raises(CaseError, match="head: is not on this school's roster as staff"):
        review(engine, alice, "dsl", "head", clock.now())
    with pytest.raises(CaseError, match=r"ben\.p: is pupil on this school's roster"):
        review(engine, alice, "dsl", "ben.p", clock.now())
    review(engine, alice, "dsl", "Helen.H", clock.now())  # the roster's spelling is kept
    assert school.alerts()[0]["reviewer"] == "helen.h"
    close(engine, alice, "dsl", "referred_local_authority", clock.now())
    close(engine, ben, "dsl", "internal_action", clock.now())
    assert [a["status"] for a in school.alerts()] == ["closed", "closed"]


def test_escalation_mails_the_new_recipients_in_the_alerts_thread(
    school: School, clock: FixedClock
) -> None:
    from alerting.manager import AlertManager

    engine = school.app.engine
    school.lookup("alice.p", "pornhub.com")
    school.mark_sent()
    [alert] = school.alerts()
    manager = AlertManager(school.cfg, clock)

    def mail(conn: Any, alert_id: int, before: str) -> None:
        manager.mail_escalation(conn, alert_id, before, "dsl", "disclosure in class")

    assert escalate(
        engine, alert["id"], "dsl", "critical", "disclosure in class", clock.now(), mail
    ) == ("high", "critical")
    [raised] = school.alerts()
    assert raised["severity"] == "critical"
    assert json.loads(raised["recipients"]) == ["dsl@school.example", "head@school.example"]
    first, update = school.outbox()
    assert (update["severity"], update["thread"], update["due_at"]) == (
        "critical",
        first["message_id"],
        clock.now(),
    )
    msg = parse(update["message"])
    assert msg["Subject"] == f"Re: [monitord #{alert['id']}] CRITICAL pornography - A.P."
    assert msg["In-Reply-To"] == first["message_id"]
    assert msg["To"] == "dsl@school.example, head@school.example"
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "dsl escalated this alert: disclosure in class" in text
    assert "Preserve the device" in text
    [record] = school.audit("alert.escalate")
    detail = json.loads(record["detail"])
    assert detail.pop("state")["severity"] == "critical"  # the alert as the record left it
    assert detail == {
        "from": "high",
        "to": "critical",
        "reason": "disclosure in class",
    }
    with pytest.raises(CaseError, match="already critical"):
        escalate(engine, alert["id"], "dsl", "high", "again", clock.now(), mail)
