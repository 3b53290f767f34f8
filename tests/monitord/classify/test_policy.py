from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitord.classify.policy import (
    DEFAULT_POLICY,
    DeviceAlertsTo,
    Policy,
    PolicyDoc,
    Row,
    load_policy,
)
from monitord.cli.main import main
from monitord.core.categories import CATEGORIES
from monitord.core.model import Device, Person, Severity
from monitord.settings.config import ConfigError

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


# --- the extended table: roles, year groups, times, ownership, exemptions ---------------------

INFANT = Person("ruby.r", "Ruby Reed", "pupil", "R", "RB")
YEAR1 = Person("oli.1", "Oliver Jones", "pupil", "1", "1A")
YEAR2 = Person("isla.2", "Isla Brown", "pupil", "2", "2A")
NO_YEAR = Person("new.p", "New Pupil", "pupil")
GOVERNOR = Person("gov1", "Gina Governor", "governor")
VOLUNTEER = Person("vol1", "Val Volunteer", "volunteer")
STAFF_PHONE = Device("PH-DO", "aa:bb:cc:00:01:01", "davids-phone", "staff_owned", "david.o")
VISITOR_PHONE = Device("V-1", "aa:bb:cc:00:02:01", None, "visitor_owned")
CLASS_IPAD = Device("IPAD-3", "aa:bb:cc:00:03:03", "ipad-3", "school_shared")

CALENDAR = """terms = [
    ["2026-09-03", "2026-10-23"],
    ["2026-11-02", "2026-12-18"],
    ["2027-01-05", "2027-02-12"],
    ["2027-02-22", "2027-03-26"],
    ["2027-04-12", "2027-05-28"],
    ["2027-06-07", "2027-07-21"],
]
inset_days = ["2026-09-01", "2026-09-02", "2027-01-04"]
closed_days = ["2027-05-03"]"""
EMPTY_CALENDAR = "terms = []\ninset_days = []\nclosed_days = []"

# All in the school's zone: the UTC times below are 10:15 local in summer time and 11:15 in
# winter, a lesson on a school day.
HALF_TERM = datetime(2026, 10, 28, 11, 15, tzinfo=UTC)  # Wednesday of October half term
CHRISTMAS = datetime(2026, 12, 23, 11, 15, tzinfo=UTC)  # Wednesday of the Christmas holiday
INSET_OUT_OF_TERM = datetime(2026, 9, 2, 9, 15, tzinfo=UTC)  # INSET day before term
FIRST_DAY = datetime(2026, 9, 3, 9, 15, tzinfo=UTC)
LAST_DAY = datetime(2026, 10, 23, 9, 15, tzinfo=UTC)
BANK_HOLIDAY = datetime(2027, 5, 3, 9, 15, tzinfo=UTC)  # closed day inside summer 1
BEFORE_CALENDAR = datetime(2026, 8, 19, 9, 15, tzinfo=UTC)
AFTER_CALENDAR = datetime(2027, 7, 28, 9, 15, tzinfo=UTC)


def _policy_text(*changes: tuple[str, str], append: str = "") -> str:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text + append


def _load(tmp_path: Path, *changes: tuple[str, str], append: str = "") -> Policy:
    path = tmp_path / "policy.toml"
    path.write_text(_policy_text(*changes, append=append), encoding="utf-8")
    return load_policy(path, TZ)


def _problems(tmp_path: Path, *changes: tuple[str, str], append: str = "") -> list[str]:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, *changes, append=append)
    return info.value.problems


@pytest.fixture
def calendar(tmp_path: Path) -> Policy:
    return _load(tmp_path, (EMPTY_CALENDAR, CALENDAR))


def test_default_policy_has_no_overrides_and_no_calendar(policy: Policy) -> None:
    assert policy.doc.year_groups == {}
    assert policy.doc.ownership == {}
    assert policy.doc.nominated == {}
    assert policy.doc.times.terms == []
    # No calendar: every weekday is a school day.
    assert policy.in_school_hours(HALF_TERM)
    assert policy.in_school_hours(CHRISTMAS)


@pytest.mark.parametrize(
    ("person", "severity", "column"),
    [
        (PUPIL, "high", "pupil"),
        (INFANT, "high", "pupil"),
        (GUEST, "high", "pupil"),
        (None, "high", "pupil"),
        (STAFF, "medium", "staff"),
        (HEAD, "medium", "staff"),
        (SUPPLY, "medium", "staff"),
        (GOVERNOR, "medium", "staff"),
        (VOLUNTEER, "medium", "staff"),
    ],
)
def test_every_role_reads_its_column(
    policy: Policy, person: Person | None, severity: str, column: str
) -> None:
    d = policy.decide("filter_bypass", person, None, LESSON)
    assert d.severity is Severity(severity)
    assert d.rule == f"severity.filter_bypass.{column} = {severity}"
    assert not d.exempt


@pytest.mark.parametrize(
    ("at", "period"),
    [
        (datetime(2026, 11, 19, 7, 29, tzinfo=UTC), "after_school"),  # before school
        (datetime(2026, 11, 19, 7, 30, tzinfo=UTC), "school"),
        (datetime(2026, 11, 19, 10, 29, tzinfo=UTC), "school"),
        (datetime(2026, 11, 19, 10, 30, tzinfo=UTC), "break"),
        (datetime(2026, 11, 19, 10, 45, tzinfo=UTC), "school"),
        (datetime(2026, 11, 19, 12, 0, tzinfo=UTC), "break"),  # lunch
        (datetime(2026, 11, 19, 12, 59, tzinfo=UTC), "break"),
        (datetime(2026, 11, 19, 13, 0, tzinfo=UTC), "school"),
        (datetime(2026, 11, 19, 15, 29, tzinfo=UTC), "school"),
        (datetime(2026, 11, 19, 15, 30, tzinfo=UTC), "after_school"),
        (datetime(2026, 11, 19, 23, 0, tzinfo=UTC), "after_school"),
        (datetime(2026, 11, 21, 11, 0, tzinfo=UTC), "weekend"),  # Saturday
        (datetime(2026, 11, 22, 11, 0, tzinfo=UTC), "weekend"),  # Sunday
        (datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "after_school"),  # Monday, before school
        (HALF_TERM, "holiday"),
        (CHRISTMAS, "holiday"),
        (INSET_OUT_OF_TERM, "school"),
        (FIRST_DAY, "school"),
        (LAST_DAY, "school"),
        (BANK_HOLIDAY, "closed"),
        (BEFORE_CALENDAR, "school"),
        (AFTER_CALENDAR, "school"),
        (datetime(2027, 7, 31, 9, 15, tzinfo=UTC), "weekend"),
    ],
)
def test_periods_follow_the_school_calendar(calendar: Policy, at: datetime, period: str) -> None:
    assert calendar.period(at) == period
    assert calendar.is_free_time(at) is (period != "school")
    assert calendar.in_school_hours(at) is (period in ("school", "break"))


def test_calendar_dates_are_local_dates(calendar: Policy) -> None:
    # 23:30 UTC on Friday 23 October 2026 is 00:30 BST on Saturday: the weekend, not a lesson.
    assert calendar.period(datetime(2026, 10, 23, 23, 30, tzinfo=UTC)) == "weekend"
    # 23:30 UTC on Sunday 1 November (GMT) is still Sunday: term starts on the Monday.
    assert calendar.period(datetime(2026, 11, 1, 23, 30, tzinfo=UTC)) == "weekend"
    assert calendar.is_school_day(date(2026, 11, 2))
    assert not calendar.is_school_day(date(2026, 10, 30))
    assert calendar.is_school_day(date(2027, 1, 4))  # INSET day before spring 1
    assert not calendar.is_school_day(date(2027, 5, 3))


@pytest.mark.parametrize(
    ("at", "start"),
    [
        (datetime(2026, 11, 19, 6, 0, tzinfo=UTC), datetime(2026, 11, 19, 7, 30, tzinfo=UTC)),
        (LESSON, datetime(2026, 11, 20, 7, 30, tzinfo=UTC)),
        (datetime(2026, 11, 20, 16, 0, tzinfo=UTC), datetime(2026, 11, 23, 7, 30, tzinfo=UTC)),
        (datetime(2026, 10, 23, 16, 0, tzinfo=UTC), datetime(2026, 11, 2, 7, 30, tzinfo=UTC)),
        (CHRISTMAS, datetime(2027, 1, 4, 7, 30, tzinfo=UTC)),  # the INSET day
        (datetime(2027, 4, 30, 16, 0, tzinfo=UTC), datetime(2027, 5, 4, 6, 30, tzinfo=UTC)),
        (datetime(2026, 8, 28, 16, 0, tzinfo=UTC), datetime(2026, 8, 31, 6, 30, tzinfo=UTC)),
    ],
)
def test_next_school_start_skips_weekends_holidays_and_closed_days(
    calendar: Policy, at: datetime, start: datetime
) -> None:
    got = calendar.next_school_start(at)
    assert got == start
    assert got is not None
    assert got.tzinfo is UTC
    assert calendar.in_school_hours(got)
    assert not calendar.in_school_hours(got - timedelta(minutes=1))


def test_an_inset_day_on_a_weekend_is_a_school_day(tmp_path: Path) -> None:
    p = _load(tmp_path, ("inset_days = []", 'inset_days = ["2026-11-21"]'))
    assert p.period(datetime(2026, 11, 21, 11, 0, tzinfo=UTC)) == "school"
    assert p.period(datetime(2026, 11, 22, 11, 0, tzinfo=UTC)) == "weekend"


def test_weekends_can_be_school_days(tmp_path: Path) -> None:
    p = _load(tmp_path, ("weekend = true", "weekend = false"))
    assert p.period(SATURDAY) == "school"
    assert p.in_school_hours(SATURDAY)


def test_configured_times_replace_the_defaults(tmp_path: Path) -> None:
    p = _load(
        tmp_path,
        ('breaks = [["10:30", "10:45"], ["12:00", "13:00"]]', 'breaks = [["11:45", "12:45"]]'),
        ('after_school = ["15:30", "07:30"]', 'after_school = ["15:15", "08:00"]'),
    )
    assert p.period(datetime(2026, 11, 19, 10, 35, tzinfo=UTC)) == "school"
    assert p.period(datetime(2026, 11, 19, 12, 40, tzinfo=UTC)) == "break"
    assert p.period(datetime(2026, 11, 19, 15, 20, tzinfo=UTC)) == "after_school"
    assert p.period(datetime(2026, 11, 19, 7, 45, tzinfo=UTC)) == "after_school"
    d = p.decide("social_media", STAFF, None, datetime(2026, 11, 19, 12, 40, tzinfo=UTC))
    assert d.rule == "severity.social_media.staff_free_time = none (break 11:45-12:45)"


@pytest.mark.parametrize(
    ("at", "severity", "when"),
    [
        (LESSON, "low", None),
        (datetime(2026, 11, 19, 10, 35, tzinfo=UTC), "none", "break 10:30-10:45"),
        (LUNCH, "none", "break 12:00-13:00"),
        (EVENING, "none", "after school 15:30-07:30"),
        (SATURDAY, "none", "weekend"),
        (HALF_TERM, "none", "holiday 2026-10-28"),
        (CHRISTMAS, "none", "holiday 2026-12-23"),
        (BANK_HOLIDAY, "none", "closed day 2027-05-03"),
        (INSET_OUT_OF_TERM, "low", None),
        (AFTER_CALENDAR, "low", None),
    ],
)
def test_staff_free_time_follows_the_calendar(
    calendar: Policy, at: datetime, severity: str, when: str | None
) -> None:
    d = calendar.decide("social_media", STAFF, None, at)
    assert d.severity is Severity(severity)
    if when is None:
        assert d.rule == "severity.social_media.staff = low"
    else:
        assert d.rule == f"severity.social_media.staff_free_time = none ({when})"
    # Pupils have no free-time column for social media: the same at every time.
    assert calendar.decide("social_media", PUPIL, None, at).severity is Severity.MEDIUM
    # Nor do staff for dating.
    assert calendar.decide("dating", STAFF, None, at).severity is Severity.LOW


def test_a_pupil_free_time_column(tmp_path: Path) -> None:
    p = _load(
        tmp_path,
        (
            'gaming = { pupil = "low", staff = "low", staff_free_time = "none" }',
            'gaming = { pupil = "medium", pupil_free_time = "low", staff = "low" }',
        ),
    )
    assert p.decide("gaming", PUPIL, None, LESSON).rule == "severity.gaming.pupil = medium"
    d = p.decide("gaming", PUPIL, None, LUNCH)
    assert d.severity is Severity.LOW
    assert d.rule == "severity.gaming.pupil_free_time = low (break 12:00-13:00)"
    # Staff have no free-time column for gaming any more.
    assert p.decide("gaming", STAFF, None, LUNCH).rule == "severity.gaming.staff = low"


YEAR_GROUPS = """
[year_groups.infant]
social_media = "high"
gaming = "medium"
gambling = "high"

[year_groups.1]
social_media = "low"

[year_groups.junior]
video_streaming = "none"
"""


@pytest.mark.parametrize(
    ("person", "category", "severity", "rule"),
    [
        (INFANT, "social_media", "high", "year_groups.infant.social_media = high"),
        (YEAR2, "social_media", "high", "year_groups.infant.social_media = high"),
        (YEAR1, "social_media", "low", "year_groups.1.social_media = low"),  # own table first
        (YEAR1, "gaming", "medium", "year_groups.infant.gaming = medium"),  # then its band
        (INFANT, "gambling", "high", "year_groups.infant.gambling = high"),
        (PUPIL, "social_media", "medium", None),  # Year 5: junior, no social_media key
        (PUPIL, "video_streaming", "none", "year_groups.junior.video_streaming = none"),
        (INFANT, "video_streaming", "low", None),
        (NO_YEAR, "social_media", "medium", None),
        (GUEST, "social_media", "medium", None),
        (None, "gaming", "low", None),
        (INFANT, "pornography", "high", None),
    ],
)
def test_year_group_overrides(
    tmp_path: Path, person: Person | None, category: str, severity: str, rule: str | None
) -> None:
    p = _load(tmp_path, append=YEAR_GROUPS)
    d = p.decide(category, person, None, LESSON)
    assert d.severity is Severity(severity)
    base = f"severity.{category}.pupil = {p.doc.severity[category].pupil}"
    assert d.rule == (f"{base}; {rule}" if rule else base)


def test_year_groups_never_touch_the_staff_column(tmp_path: Path) -> None:
    p = _load(tmp_path, append=YEAR_GROUPS)
    # A member of staff with a year group (a class teacher's roster line) still reads staff.
    teacher = Person("t.r", "Tara Reception", "staff", "R", "RB")
    d = p.decide("social_media", teacher, None, LESSON)
    assert (d.severity, d.rule) == (Severity.LOW, "severity.social_media.staff = low")


def test_the_issue_example_rule_names_every_cell(tmp_path: Path) -> None:
    p = _load(tmp_path, append=YEAR_GROUPS)
    d = p.decide("gambling", INFANT, CLASS_IPAD, LESSON)
    assert d.rule == "severity.gambling.pupil = medium; year_groups.infant.gambling = high"
    assert d.recipients == ("dsl",)


OWNERSHIP = """
[ownership.staff_owned]
social_media = "none"
messaging = "none"

[ownership.visitor_owned]
at_least = "medium"
shopping = "high"

[ownership.pupil_owned]
at_least = "high"
"""


@pytest.mark.parametrize(
    ("category", "person", "device", "at", "severity", "cells"),
    [
        # A member of staff's own phone on the guest network: social media is theirs.
        (
            "social_media",
            STAFF,
            STAFF_PHONE,
            LESSON,
            "none",
            ["ownership.staff_owned.social_media = none"],
        ),
        ("gaming", STAFF, STAFF_PHONE, LESSON, "low", []),
        ("social_media", STAFF, CLASS_IPAD, LESSON, "low", []),
        ("social_media", STAFF, None, LESSON, "low", []),
        # Anything from a visitor's device is at least medium ...
        (
            "video_streaming",
            GUEST,
            VISITOR_PHONE,
            LESSON,
            "medium",
            ["ownership.visitor_owned.at_least = medium (was low)"],
        ),
        (
            "video_streaming",
            STAFF,
            VISITOR_PHONE,
            LESSON,
            "medium",
            ["ownership.visitor_owned.at_least = medium (was none)"],
        ),
        (
            "video_streaming",
            None,
            VISITOR_PHONE,
            LESSON,
            "medium",
            ["ownership.visitor_owned.at_least = medium (was low)"],
        ),
        # ... and a floor that changes nothing is not named.
        ("pornography", GUEST, VISITOR_PHONE, LESSON, "high", []),
        (
            "shopping",
            GUEST,
            VISITOR_PHONE,
            LESSON,
            "high",
            ["ownership.visitor_owned.shopping = high"],
        ),
        # A floor raises free-time severities too.
        (
            "gaming",
            STAFF,
            VISITOR_PHONE,
            LUNCH,
            "medium",
            ["ownership.visitor_owned.at_least = medium (was none)"],
        ),
        (
            "gaming",
            PUPIL,
            Device("PH-P", None, None, "pupil_owned"),
            LESSON,
            "high",
            ["ownership.pupil_owned.at_least = high (was low)"],
        ),
    ],
)
def test_ownership_overrides(
    tmp_path: Path,
    category: str,
    person: Person | None,
    device: Device | None,
    at: datetime,
    severity: str,
    cells: list[str],
) -> None:
    p = _load(tmp_path, append=OWNERSHIP)
    d = p.decide(category, person, device, at)
    assert d.severity is Severity(severity)
    base = p.decide(category, person, None, at).rule
    assert d.rule == "; ".join([base, *cells])


def test_year_group_then_ownership_then_floor(tmp_path: Path) -> None:
    p = _load(tmp_path, append=YEAR_GROUPS + OWNERSHIP)
    # An infant on a staff member's phone: the ownership cell comes last and wins.
    d = p.decide("social_media", INFANT, STAFF_PHONE, LESSON)
    assert d.severity is Severity.NONE
    assert d.rule == (
        "severity.social_media.pupil = medium; year_groups.infant.social_media = high; "
        "ownership.staff_owned.social_media = none"
    )
    # A junior's video streaming on a visitor's device: year group lowers, the floor raises.
    d = p.decide("video_streaming", PUPIL, VISITOR_PHONE, LESSON)
    assert d.severity is Severity.MEDIUM
    assert d.rule == (
        "severity.video_streaming.pupil = low; year_groups.junior.video_streaming = none; "
        "ownership.visitor_owned.at_least = medium (was none)"
    )


# --- exemptions ---------------------------------------------------------------------------------


def test_an_exemption_is_recorded_with_the_cell_it_set_aside(tmp_path: Path) -> None:
    p = _load(
        tmp_path,
        ('# filter_bypass = ["computing.lead"]', 'filter_bypass = ["david.o", "sarah.m"]'),
    )
    d = p.decide("filter_bypass", STAFF, None, LESSON)
    assert (d.severity, d.exempt) == (Severity.NONE, True)
    assert d.rule == (
        "severity.filter_bypass.staff = medium; nominated.filter_bypass: david.o is nominated "
        "for filter_bypass: exempt, use recorded"
    )
    assert p.decide("filter_bypass", HEAD, None, EVENING).exempt
    # Only that category, and only those people.
    assert not p.decide("pornography", STAFF, None, LESSON).exempt
    other = p.decide("filter_bypass", SUPPLY, None, LESSON)
    assert (other.severity, other.exempt) == (Severity.MEDIUM, False)


def test_an_exemption_outranks_every_override(tmp_path: Path) -> None:
    p = _load(
        tmp_path,
        ('# filter_bypass = ["computing.lead"]', 'filter_bypass = ["david.o"]'),
        append='\n[ownership.visitor_owned]\nfilter_bypass = "high"\nat_least = "high"\n',
    )
    d = p.decide("filter_bypass", STAFF, VISITOR_PHONE, LESSON)
    assert (d.severity, d.exempt) == (Severity.NONE, True)
    assert d.rule.startswith(
        "severity.filter_bypass.staff = medium; ownership.visitor_owned.filter_bypass = high; "
        "nominated.filter_bypass: david.o"
    )


def test_a_pupil_or_guest_cannot_be_exempted(tmp_path: Path) -> None:
    p = _load(
        tmp_path,
        ('# filter_bypass = ["computing.lead"]', 'filter_bypass = ["amelia.s", "guest1"]'),
    )
    d = p.decide("filter_bypass", PUPIL, None, LESSON)
    assert (d.severity, d.exempt) == (Severity.HIGH, False)
    assert d.rule == (
        "severity.filter_bypass.pupil = high; nominated.filter_bypass names amelia.s, a pupil: "
        "only staff can be exempted, not exempt"
    )
    assert not p.decide("filter_bypass", GUEST, None, LESSON).exempt


# --- routing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "usual", "critical"),
    [
        (PUPIL, ("dsl",), ("dsl", "headteacher")),
        (INFANT, ("dsl",), ("dsl", "headteacher")),
        (GUEST, ("dsl",), ("dsl", "headteacher")),
        (None, ("dsl",), ("dsl", "headteacher")),
        (STAFF, ("headteacher",), ("headteacher", "dsl")),
        (SUPPLY, ("headteacher",), ("headteacher", "dsl")),
        (GOVERNOR, ("headteacher",), ("headteacher", "dsl")),
        (VOLUNTEER, ("headteacher",), ("headteacher", "dsl")),
        (HEAD, ("chair",), ("chair", "dsl")),
    ],
)
def test_routing_by_role(
    policy: Policy,
    person: Person | None,
    usual: tuple[str, ...],
    critical: tuple[str, ...],
) -> None:
    assert policy.decide("pornography", person, None, LESSON).recipients == usual
    for cat in ("child_abuse", "terrorist_content"):
        d = policy.decide(cat, person, None, EVENING)
        assert d.recipients == critical
        assert d.roles_notified == critical
    # Routing does not depend on severity below critical, nor on time or device.
    assert policy.decide("gaming", person, VISITOR_PHONE, SATURDAY).recipients == usual


def test_the_headteacher_never_hears_of_themselves(tmp_path: Path) -> None:
    # Even a category routed to the headteacher by what it is.
    p = _load(tmp_path, ('monitoring_gap = ["technician"]', 'gambling = ["headteacher"]'))
    assert p.decide("gambling", PUPIL, None, LESSON).recipients == ("headteacher",)
    assert p.decide("gambling", HEAD, None, LESSON).recipients == ("chair",)
    for cat in ("child_abuse", "terrorist_content"):
        head = p.decide(cat, HEAD, None, LESSON).recipients
        assert "headteacher" not in head
        assert set(head) == {"dsl", "chair"}


def test_monitoring_gaps_go_to_the_technician(policy: Policy) -> None:
    d = policy.decide("monitoring_gap", None, None, LESSON)
    assert (d.severity, d.recipients) == (Severity.MEDIUM, ("technician",))


@pytest.mark.parametrize(
    ("devices_to", "recipients"),
    [("both", ("technician", "dsl")), ("technician", ("technician",)), ("dsl", ("dsl",))],
)
def test_unauthorised_devices_go_where_the_config_says(
    devices_to: DeviceAlertsTo, recipients: tuple[str, ...]
) -> None:
    """An unauthorised device names no person: its alert goes to the technician, to the
    lists routing names for nobody known (the DSL), or both."""
    p = load_policy(None, TZ, devices_to)
    d = p.decide("unauthorised_device", None, VISITOR_PHONE, LESSON)
    assert (d.severity, d.recipients) == (Severity.MEDIUM, recipients)
    # Only that category: the rest keep their routing.
    assert p.decide("pornography", None, None, LESSON).recipients == ("dsl",)
    assert p.decide("monitoring_gap", None, None, LESSON).recipients == ("technician",)


def test_a_policy_routing_devices_itself_keeps_it(tmp_path: Path) -> None:
    """A [routing] entry of the policy for unauthorised_device is what "dsl" keeps, and the
    technician is not named twice."""
    gap = 'monitoring_gap = ["technician"]'
    doc = _load(tmp_path, (gap, f'{gap}\nunauthorised_device = ["technician", "headteacher"]')).doc
    cases: list[tuple[DeviceAlertsTo, tuple[str, ...]]] = [
        ("both", ("technician", "headteacher")),
        ("dsl", ("technician", "headteacher")),
        ("technician", ("technician",)),
    ]
    for devices_to, recipients in cases:
        p = Policy(doc, TZ, devices_to)
        assert p.decide("unauthorised_device", None, None, LESSON).recipients == recipients


# --- the illegal categories ---------------------------------------------------------------------


ILLEGAL_LINE = (
    "policy.toml: {key}: {cat} is illegal content and stays critical for everyone; "
    "no policy can lower it (this says {value})"
)


@pytest.mark.parametrize(
    ("changes", "append", "expected"),
    [
        (
            [
                (
                    'child_abuse = { pupil = "critical", staff = "critical" }',
                    'child_abuse = { pupil = "critical", staff = "critical", '
                    'staff_free_time = "none" }',
                )
            ],
            "",
            [
                ILLEGAL_LINE.format(
                    key="severity.child_abuse.staff_free_time", cat="child_abuse", value="none"
                )
            ],
        ),
        (
            [
                (
                    'terrorist_content = { pupil = "critical", staff = "critical" }',
                    'terrorist_content = { pupil = "high", staff = "critical", '
                    'pupil_free_time = "low" }',
                )
            ],
            "",
            [
                ILLEGAL_LINE.format(
                    key="severity.terrorist_content.pupil", cat="terrorist_content", value="high"
                ),
                ILLEGAL_LINE.format(
                    key="severity.terrorist_content.pupil_free_time",
                    cat="terrorist_content",
                    value="low",
                ),
            ],
        ),
        (
            [],
            '\n[year_groups.infant]\nchild_abuse = "high"\n'
            '[year_groups.3]\nterrorist_content = "none"\n',
            [
                ILLEGAL_LINE.format(
                    key="year_groups.infant.child_abuse", cat="child_abuse", value="high"
                ),
                ILLEGAL_LINE.format(
                    key="year_groups.3.terrorist_content", cat="terrorist_content", value="none"
                ),
            ],
        ),
        (
            [],
            '\n[ownership.staff_owned]\nchild_abuse = "none"\n',
            [
                ILLEGAL_LINE.format(
                    key="ownership.staff_owned.child_abuse", cat="child_abuse", value="none"
                )
            ],
        ),
        (
            [('# filter_bypass = ["computing.lead"]', 'child_abuse = ["david.o"]')],
            "",
            ["policy.toml: nominated.child_abuse: no one can be exempted from child_abuse"],
        ),
        (
            [('critical = ["dsl", "headteacher"]', 'critical = ["headteacher"]')],
            "",
            [
                "policy.toml: routing.critical: must include 'dsl': critical alerts "
                "(child_abuse, terrorist_content) always go to the DSL"
            ],
        ),
    ],
    ids=["free-time", "pupil-columns", "year-groups", "ownership", "nominated", "routing"],
)
def test_no_knob_lowers_an_illegal_category(
    tmp_path: Path, changes: list[tuple[str, str]], append: str, expected: list[str]
) -> None:
    assert _problems(tmp_path, *changes, append=append) == expected


def test_every_offending_key_is_one_line(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        (
            'child_abuse = { pupil = "critical", staff = "critical" }',
            'child_abuse = { pupil = "none", staff = "none" }',
        ),
        ('# filter_bypass = ["computing.lead"]', 'terrorist_content = ["david.o"]'),
        append='\n[year_groups.R]\nchild_abuse = "low"\n[ownership.visitor_owned]\n'
        'terrorist_content = "medium"\n',
    )
    assert [p.split(": ")[1] for p in problems] == [
        "severity.child_abuse.pupil",
        "severity.child_abuse.staff",
        "year_groups.R.child_abuse",
        "ownership.visitor_owned.terrorist_content",
        "nominated.terrorist_content",
    ]
    assert all(p.startswith("policy.toml: ") for p in problems)


def test_saying_critical_again_is_allowed(tmp_path: Path) -> None:
    p = _load(
        tmp_path,
        append='\n[year_groups.infant]\nchild_abuse = "critical"\n'
        '[ownership.visitor_owned]\nterrorist_content = "critical"\nat_least = "high"\n',
    )
    assert p.decide("child_abuse", INFANT, None, LESSON).severity is Severity.CRITICAL


def _permissive(tmp_path: Path) -> Policy:
    """Every knob set as low as it will go for everything it may touch."""
    lowest = "\n".join(
        f'{c} = {{ pupil = "none", staff = "none", pupil_free_time = "none", '
        f'staff_free_time = "none" }}'
        for c in CATEGORIES
        if c not in ("child_abuse", "terrorist_content")
    )
    text = _policy_text()
    start = text.index("[severity]\n")
    end = text.index("\n\n", text.index("monitoring_gap = {"))
    text = (
        text[:start]
        + "[severity]\n"
        + 'child_abuse = { pupil = "critical", staff = "critical" }\n'
        + 'terrorist_content = { pupil = "critical", staff = "critical" }\n'
        + lowest
        + text[end:]
    )
    for table in ("[year_groups.infant]", "[year_groups.junior]", "[year_groups.R]"):
        text += f'\n{table}\nsocial_media = "none"\n'
    for own in ("school_single", "school_shared", "authorised", "pupil_owned", "staff_owned"):
        text += f'\n[ownership.{own}]\nsocial_media = "none"\nat_least = "none"\n'
    text = text.replace(
        '# filter_bypass = ["computing.lead"]',
        "\n".join(f'{c} = ["david.o", "sarah.m", "amelia.s"]' for c in ("gambling", "gaming")),
    )
    path = tmp_path / "permissive.toml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path, TZ)


@pytest.mark.parametrize("category", ["child_abuse", "terrorist_content"])
def test_illegal_categories_are_critical_for_everyone_everywhere_always(
    tmp_path: Path, category: str
) -> None:
    p = _permissive(tmp_path)
    assert p.decide("gambling", STAFF, None, LESSON).exempt  # the policy really is permissive
    devices = [None, STAFF_PHONE, VISITOR_PHONE, CLASS_IPAD, Device("P", None, None, "pupil_owned")]
    people = [PUPIL, INFANT, YEAR1, GUEST, None, STAFF, HEAD, SUPPLY, GOVERNOR, VOLUNTEER]
    for person in people:
        for device in devices:
            for at in (LESSON, LUNCH, EVENING, SATURDAY, HALF_TERM):
                d = p.decide(category, person, device, at)
                assert d.severity is Severity.CRITICAL, (person, device, at)
                assert not d.exempt
                assert "dsl" in d.recipients


def test_a_policy_built_without_the_loader_still_cannot_lower_them() -> None:
    doc = load_policy(None, TZ).doc
    rows = dict(doc.severity)
    rows["child_abuse"] = Row.model_construct(pupil="none", staff="none")
    routing = {**doc.routing, "critical": ["headteacher"], "staff": ["headteacher"]}
    forged = PolicyDoc.model_construct(
        **{
            **dict(doc),
            "severity": rows,
            "nominated": {"child_abuse": ["david.o"]},
            "routing": routing,
        }
    )
    p = Policy(forged, TZ)
    d = p.decide("child_abuse", STAFF, None, LESSON)
    assert (d.severity, d.exempt) == (Severity.CRITICAL, False)
    assert d.rule == (
        "severity.child_abuse.staff = none; child_abuse is illegal content: critical whatever "
        "the policy says; nominated.child_abuse names david.o: no one can be exempted from "
        "child_abuse, not exempt"
    )
    assert set(d.recipients) == {"dsl", "headteacher"}


# --- validation: every problem named by its key -------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "append", "expected"),
    [
        (
            [],
            '\n[year_groups.infants]\ngaming = "medium"\n',
            "year_groups.infants: not a year group or band "
            "(expected one of infant, junior, N, R, 1, 2, 3, 4, 5, 6)",
        ),
        (
            [],
            '\n[year_groups.7]\ngaming = "medium"\n',
            "year_groups.7: not a year group or band "
            "(expected one of infant, junior, N, R, 1, 2, 3, 4, 5, 6)",
        ),
        (
            [],
            '\n[year_groups.infant]\ntiktok = "high"\n',
            "year_groups.infant.tiktok: not a category id",
        ),
        (
            [],
            '\n[year_groups.infant]\ngaming = "loud"\n',
            "year_groups.infant.gaming: Input should be",
        ),
        (
            [],
            '\n[ownership.borrowed]\ngaming = "high"\n',
            "ownership.borrowed: not a device ownership (expected one of school_single, "
            "school_shared, authorised, pupil_owned, staff_owned, visitor_owned)",
        ),
        (
            [],
            '\n[ownership.staff_owned]\nsocial = "none"\n',
            "ownership.staff_owned.social: not a category id",
        ),
        (
            [],
            '\n[ownership.visitor_owned]\nat_least = "urgent"\n',
            "ownership.visitor_owned.at_least: Input should be",
        ),
        (
            [],
            '\n[ownership.visitor_owned]\nat_least = "medium"\ngaming = "low"\n',
            "ownership.visitor_owned.gaming: low is below "
            "ownership.visitor_owned.at_least = medium, which would raise it anyway",
        ),
        (
            [("terms = []", 'terms = [["2026-09-03", "2026-13-01"]]')],
            "",
            "times.terms.0.1: Input should be a valid date",
        ),
        (
            [("terms = []", 'terms = [["2026-10-23", "2026-09-03"]]')],
            "",
            "times.terms.0: starts on 2026-10-23 after it ends on 2026-09-03",
        ),
        (
            [
                (
                    "terms = []",
                    'terms = [["2026-11-02", "2026-12-18"], ["2026-09-03", "2026-11-02"]]',
                )
            ],
            "",
            "times.terms.0: overlaps times.terms.1 (2026-09-03 to 2026-11-02)",
        ),
        ([("terms = []", 'terms = [["2026-09-03"]]')], "", "times.terms.0.1: Field required"),
        (
            [("inset_days = []", 'inset_days = ["2026-9-1"]')],
            "",
            "times.inset_days.0: Input should be a valid date",
        ),
        (
            [
                ("inset_days = []", 'inset_days = ["2027-05-03"]'),
                ("closed_days = []", 'closed_days = ["2027-05-03"]'),
            ],
            "",
            "times.closed_days.0: 2027-05-03 is also in times.inset_days",
        ),
        (
            [
                (
                    'breaks = [["10:30", "10:45"], ["12:00", "13:00"]]',
                    'breaks = [["10:30", "10:45"], ["13:00", "12:00"]]',
                )
            ],
            "",
            "times.breaks.1: a break must end after it starts (13:00-12:00)",
        ),
        (
            [('breaks = [["10:30", "10:45"], ["12:00", "13:00"]]', 'breaks = [["10:30", "noon"]]')],
            "",
            "times.breaks: expected a time of day as HH:MM, got 'noon'",
        ),
        ([("weekend = true", "weekend = true\nterm = []")], "", "times.term: unknown key"),
        (
            [('staff = ["headteacher"]', 'staf = ["headteacher"]')],
            "",
            "routing.staf: not a role, a category id, 'unknown' or 'critical' "
            "(roles: pupil, staff, headteacher, governor, volunteer, supply, guest)",
        ),
        (
            [('unknown = ["dsl"]\n', "")],
            "",
            "routing.unknown: missing; it must name at least one list",
        ),
        (
            [('headteacher = ["chair"]', 'headteacher = ["headteacher"]')],
            "",
            "routing.headteacher: an alert about the headteacher never goes to the "
            "headteacher (use 'chair')",
        ),
        (
            [('# filter_bypass = ["computing.lead"]', 'gaming = [""]')],
            "",
            "nominated.gaming.0: an empty user name",
        ),
        (
            [('# filter_bypass = ["computing.lead"]', 'games = ["david.o"]')],
            "",
            "nominated.games: not a category id",
        ),
        (
            [
                (
                    'gaming = { pupil = "low", staff = "low", staff_free_time = "none" }',
                    'gaming = { pupil = "low", staff = "low", free_time = "none" }',
                )
            ],
            "",
            "severity.gaming.free_time: unknown key",
        ),
    ],
)
def test_policy_problems_name_their_key(
    tmp_path: Path, changes: list[tuple[str, str]], append: str, expected: str
) -> None:
    problems = _problems(tmp_path, *changes, append=append)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"policy.toml: {expected}"), problems[0]


def test_dates_may_be_toml_dates(tmp_path: Path) -> None:
    p = _load(
        tmp_path,
        ("terms = []", "terms = [[2026-09-03, 2026-10-23], [2026-11-02, 2026-12-18]]"),
        ("closed_days = []", "closed_days = [2026-11-20]"),
    )
    assert p.period(HALF_TERM) == "holiday"
    assert p.period(datetime(2026, 11, 20, 11, 0, tzinfo=UTC)) == "closed"


def _uncomment_examples(text: str) -> str:
    """The default policy with every commented example after "for example:" switched on."""
    out: list[str] = []
    on = False
    for line in text.splitlines():
        if on and line.startswith("# "):
            out.append(line[2:])
            continue
        on = line.startswith("# ") and line.lower().rstrip().endswith("for example:")
        if line in ("terms = []", "inset_days = []", "closed_days = []"):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def test_the_documented_examples_load_and_do_what_they_say(tmp_path: Path) -> None:
    text = _uncomment_examples(DEFAULT_POLICY.read_text(encoding="utf-8"))
    assert "\n[year_groups.infant]\nsocial_media = " in text
    assert "\n[ownership.visitor_owned]\nat_least = " in text
    assert "\nterms = [\n" in text
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    p = load_policy(path, TZ)
    assert p.decide("social_media", INFANT, None, LESSON).severity is Severity.HIGH
    assert p.decide("gaming", YEAR2, None, LESSON).severity is Severity.MEDIUM
    assert p.decide("messaging", Person("y6", "Y Six", "pupil", "6"), None, LESSON).severity is (
        Severity.LOW
    )
    assert p.decide("social_media", STAFF, STAFF_PHONE, LESSON).severity is Severity.NONE
    assert p.decide("video_streaming", GUEST, VISITOR_PHONE, LESSON).severity is Severity.MEDIUM
    assert p.period(HALF_TERM) == "holiday"
    assert p.period(INSET_OUT_OF_TERM) == "school"
    assert p.period(BANK_HOLIDAY) == "closed"


# --- monitord config check, end to end ----------------------------------------------------------


def _site(tmp_path: Path, policy_text: str) -> Path:
    (tmp_path / "policy.toml").write_text(policy_text, encoding="utf-8")
    config = tmp_path / "monitord.toml"
    config.write_text(
        '[recipients]\ndsl = ["dsl@school.example"]\nheadteacher = ["head@school.example"]\n'
        '[policy]\nfile = "policy.toml"\n',
        encoding="utf-8",
    )
    return config


def test_config_check_accepts_the_default_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _site(tmp_path, _policy_text())
    assert main(["--config", str(config), "config", "check"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"{config}: ok (0 sources)"
    # The site names no technician, which config check warns of; nothing about the policy.
    assert [line for line in captured.err.splitlines() if "polic" in line] == []


def test_config_check_refuses_every_attempt_on_an_illegal_category(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _site(
        tmp_path,
        _policy_text(
            (
                'child_abuse = { pupil = "critical", staff = "critical" }',
                'child_abuse = { pupil = "critical", staff = "critical", staff_free_time = "low" }',
            ),
            ('# filter_bypass = ["computing.lead"]', 'terrorist_content = ["computing.lead"]'),
            append='\n[year_groups.infant]\nchild_abuse = "high"\n'
            '[ownership.staff_owned]\nterrorist_content = "none"\n',
        ),
    )
    assert main(["--config", str(config), "config", "check"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        ILLEGAL_LINE.format(
            key="severity.child_abuse.staff_free_time", cat="child_abuse", value="low"
        ),
        ILLEGAL_LINE.format(key="year_groups.infant.child_abuse", cat="child_abuse", value="high"),
        ILLEGAL_LINE.format(
            key="ownership.staff_owned.terrorist_content", cat="terrorist_content", value="none"
        ),
        "policy.toml: nominated.terrorist_content: no one can be exempted from terrorist_content",
    ]


def test_config_check_names_every_problem_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused value no longer hides the checks of the policy as a whole (a misspelt
    category beside a bad severity), and the config's own problems no longer hide the
    policy's."""
    config = _site(
        tmp_path,
        _policy_text(
            (
                'self_harm = { pupil = "high", staff = "high" }',
                'self_harm = { pupil = "hihg", staff = "high" }\n'
                'sucide = { pupil = "high", staff = "high" }',
            ),
            append='\n[year_groups.infant]\nchild_abuse = "high"\ngaming = "loud"\n',
        ),
    )
    assert main(["--config", str(config), "config", "check"]) == 1
    first = capsys.readouterr().err.splitlines()
    assert first == [
        "policy.toml: severity.self_harm.pupil: Input should be 'none', 'low', 'medium', "
        "'high' or 'critical'",
        "policy.toml: year_groups.infant.gaming: Input should be 'none', 'low', 'medium', "
        "'high' or 'critical'",
        "policy.toml: severity.sucide: not a category id",
        "policy.toml: year_groups.infant.child_abuse: child_abuse is illegal content and stays "
        "critical for everyone; no policy can lower it (this says high)",
    ]
    config.write_text(config.read_text() + '[school]\ntimezone = "Mars/Base"\nnmae = "x"\n')
    assert main(["--config", str(config), "config", "check"]) == 1
    both = capsys.readouterr().err.splitlines()
    assert both[:2] == [
        "monitord.toml: school.timezone: unknown time zone 'Mars/Base' (expected e.g. "
        "Europe/London)",
        "monitord.toml: school.nmae: unknown key",
    ]
    assert both[2:] == first
