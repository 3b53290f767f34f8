"""An alert in words: the school's times, names, lists and flags read as a person would."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from monitord.casework.cases import AlertDetail
from monitord.cli.alertview import alert_lines, local

LONDON = ZoneInfo("Europe/London")
ALERT = {
    "id": 7,
    "created_at": "2026-06-18T09:05:00Z",
    "severity": "high",
    "category": "self_harm",
    "status": "acknowledged",
    "person": "jayden.s",
    "role": "pupil",
    "year_group": "6",
    "device": "Y6-LT-07",
    "ip": "10.20.6.7",
    "indicator": "how to hurt myself",
    "first_seen": "2026-06-18T09:01:02Z",
    "last_seen": "2026-06-18T09:01:02Z",
    "count": 1,
    "blocked": True,
    "sources": ["agent", "squid"],
    "recipients": ["dsl@school.example", "deputy@school.example"],
    "rule": "severity.self_harm.pupil = high",
    "assignee": "mrs.jones",
    "reviewer": None,
    "reviewed_at": None,
    "outcome": None,
}
HISTORY = [
    {"ts": "2026-06-18T09:05:00Z", "actor": "monitord", "action": "alert.create",
     "detail": {"severity": "high", "events": ["abc"], "state": {"status": "open"}}},
    {"ts": "2026-06-18T10:00:00Z", "actor": "mrs.jones", "action": "alert.ack", "detail": {}},
    {"ts": "2026-06-18T10:01:00Z", "actor": "mrs.jones", "action": "alert.note",
     "detail": {"text": "spoke to him", "at": "2026-06-18T10:00:30Z"}},
]  # fmt: skip


def test_the_alert_in_the_schools_time_with_names() -> None:
    detail = AlertDetail(ALERT, [], HISTORY)
    lines = alert_lines(detail, LONDON, {"jayden.s": "Jayden Smith"})
    text = "\n".join(lines)
    assert lines[0] == "Alert 7: high self_harm (Self-harm), acknowledged"
    assert "  person:      Jayden Smith (jayden.s), pupil, year 6" in lines
    assert "  device:      Y6-LT-07 at 10.20.6.7" in lines
    assert "  seen:        Thu 18 Jun 2026 10:01:02 BST, once" in lines
    assert "  blocked:     yes, by the school's filter" in lines
    assert "  sources:     agent, squid" in lines
    assert "  mailed to:   dsl@school.example, deputy@school.example" in lines
    assert "  assigned to: mrs.jones" in lines
    assert "  Thu 18 Jun 2026 10:05:00 BST  monitord  alert.create: severity high" in lines
    assert "  Thu 18 Jun 2026 11:00:00 BST  mrs.jones  alert.ack" in lines
    assert "text spoke to him; at Thu 18 Jun 2026 11:00:30 BST" in text
    assert "state" not in text


def test_someone_not_on_the_roster_and_times_not_given() -> None:
    alert = {**ALERT, "person": None, "role": None, "year_group": None, "count": 3}
    alert |= {"last_seen": "2026-06-18T09:30:00Z", "outcome": "no_concern"}
    lines = alert_lines(AlertDetail(alert, [], []), LONDON, {})
    assert "  person:      not known" in lines
    assert "  seen:        Thu 18 Jun 2026 10:01:02 to 10:30:00 BST, 3 times" in lines
    assert "  outcome:     No concern" in lines
    assert local(None, LONDON) == "-"
    assert local("not a time", LONDON) == "not a time"
