from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitord.categories import CATEGORIES
from monitord.config import ConfigError
from monitord.model import Person, Severity
from monitord.policy import DEFAULT_POLICY, Policy, load_policy

TZ = ZoneInfo("Europe/London")
PUPIL = Person("amelia.s", "Amelia Smith", "pupil", "5", "5B")
STAFF = Person("david.o", "David Owen", "staff")
HEAD = Person("sarah.m", "Sarah Mitchell", "headteacher")
SUPPLY = Person("supply1", "Supply One", "supply")
GUEST = Person("guest1", "Visitor", "guest")
# Thursday 19 November 2026 (GMT, so local time equals UTC).
LESSON = datetime(2026, 11, 19, 11, 15, tzinfo=UTC)
LUNCH = datetime(2026, 11, 19, 12, 30, tzinfo=UTC)
EVENING = datetime(2026, 11, 19, 19, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)


@pytest.fixture
def policy() -> Policy:
    return load_policy(None, TZ)


def test_default_policy_covers_every_category(policy: Policy) -> None:
    assert set(policy.doc.severity) == set(CATEGORIES)


@pytest.mark.parametrize(
    ("category", "person", "at", "severity"),
    [
        ("child_abuse", PUPIL, LESSON, "critical"),
        ("terrorist_content", STAFF, LUNCH, "critical"),
        ("self_harm", PUPIL, LESSON, "high"),
        ("pornography", STAFF, LESSON, "high"),
        ("filter_bypass", PUPIL, LESSON, "high"),
        ("filter_bypass", STAFF, LESSON, "medium"),
        ("dating", PUPIL, LESSON, "high"),
        ("dating", STAFF, LESSON, "low"),
        ("gambling", PUPIL, LESSON, "medium"),
        ("large_download", PUPIL, LESSON, "low"),
        ("social_media", PUPIL, LUNCH, "medium"),
        ("social_media", STAFF, LESSON, "low"),
        ("social_media", STAFF, LUNCH, "none"),
        ("social_media", STAFF, EVENING, "none"),
        ("social_media", STAFF, SATURDAY, "none"),
        ("gaming", STAFF, datetime(2026, 11, 19, 10, 35, tzinfo=UTC), "none"),
        ("video_streaming", STAFF, LESSON, "none"),
        ("video_streaming", PUPIL, LESSON, "low"),
        ("shopping", SUPPLY, LUNCH, "none"),
        ("dating", GUEST, LESSON, "high"),
        ("dating", None, LESSON, "high"),
    ],
)
def test_severity_table(
    policy: Policy, category: str, person: Person | None, at: datetime, severity: str
) -> None:
    assert policy.decide(category, person, None, at).severity is Severity(severity)


def test_breaks_follow_the_school_zone_in_summer(policy: Policy) -> None:
    # 12:30 BST is 11:30 UTC: lunch.
    assert policy.is_free_time(datetime(2026, 6, 18, 11, 30, tzinfo=UTC))
    # 11:15 UTC is 12:15 BST: lunch too; 09:15 UTC is 10:15 BST: a lesson.
    assert not policy.is_free_time(datetime(2026, 6, 18, 9, 15, tzinfo=UTC))


def test_routing(policy: Policy) -> None:
    assert policy.decide("gambling", PUPIL, None, LESSON).recipients == ("dsl",)
    assert policy.decide("gambling", STAFF, None, LESSON).recipients == ("headteacher",)
    assert policy.decide("gambling", SUPPLY, None, LESSON).recipients == ("headteacher",)
    assert policy.decide("gambling", HEAD, None, LESSON).recipients == ("chair",)
    assert policy.decide("gambling", None, None, LESSON).recipients == ("dsl",)
    assert policy.decide("child_abuse", PUPIL, None, LESSON).recipients == ("dsl", "headteacher")
    assert policy.decide("child_abuse", STAFF, None, LESSON).recipients == (
        "headteacher",
        "dsl",
    )
    head = policy.decide("child_abuse", HEAD, None, LESSON).recipients
    assert "headteacher" not in head
    assert set(head) == {"chair", "dsl"}
    assert policy.decide("monitoring_gap", None, None, LESSON).recipients == ("technician",)


def _policy_file(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_nominated_person_is_exempt_and_it_is_said(tmp_path: Path) -> None:
    path = _policy_file(
        tmp_path, '# filter_bypass = ["computing.lead"]', 'filter_bypass = ["david.o"]'
    )
    d = load_policy(path, TZ).decide("filter_bypass", STAFF, None, LESSON)
    assert d.exempt
    assert d.severity is Severity.NONE
    assert "nominated" in d.rule


def test_illegal_categories_cannot_be_lowered(tmp_path: Path) -> None:
    path = _policy_file(
        tmp_path,
        'child_abuse = { pupil = "critical", staff = "critical" }',
        'child_abuse = { pupil = "critical", staff = "none" }',
    )
    with pytest.raises(ConfigError) as info:
        load_policy(path, TZ)
    assert any("child_abuse is illegal content" in p for p in info.value.problems)


def test_illegal_categories_cannot_be_exempted(tmp_path: Path) -> None:
    path = _policy_file(
        tmp_path, '# filter_bypass = ["computing.lead"]', 'terrorist_content = ["x"]'
    )
    with pytest.raises(ConfigError) as info:
        load_policy(path, TZ)
    assert info.value.problems == [
        "policy.toml: nominated.terrorist_content: no one can be exempted from terrorist_content"
    ]


def test_policy_errors_are_named(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, 'gambling = { pupil = "medium"', 'gambling = { pupil = "loud"')
    text = path.read_text().replace('pupil = ["dsl"]', 'pupil = ["bursar"]')
    path.write_text(text + "\n[extra]\nx = 1\n")
    with pytest.raises(ConfigError) as info:
        load_policy(path, TZ)
    joined = "\n".join(info.value.problems)
    assert "policy.toml: severity.gambling.pupil:" in joined
    assert "policy.toml: extra: unknown key" in joined
