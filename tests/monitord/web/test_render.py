"""The console's HTML: everything from outside is escaped (in the package's templates and
in any template string), times shown in the school's zone, ages and words as a person
says them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitord.web.render import ACTIONS, ROLE_NAMES, Pages, age, plain

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def pages() -> Pages:
    return Pages(LONDON, "St Mary's & St John's")


def test_a_page_escapes_what_it_is_given(pages: Pages) -> None:
    r = pages.page("message.html.j2", 400, title=HOSTILE, text=f"{HOSTILE} & more")
    assert r.status_code == 400
    assert r.media_type == "text/html"
    body = bytes(r.body).decode()
    assert "<script>" not in body
    assert "<img" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body
    assert "&amp; more" in body
    assert "St Mary&#39;s &amp; St John&#39;s" in body  # the school's name too


def test_template_strings_are_escaped_too(pages: Pages) -> None:
    assert pages.env.from_string("{{ v }}").render(v=HOSTILE).startswith("&lt;script&gt;")
    filtered = pages.env.from_string("{{ v | words }}").render(v="<b>self_harm</b>")
    assert filtered == "&lt;b&gt;self harm&lt;/b&gt;"


def test_times_are_shown_in_the_schools_zone(pages: Pages) -> None:
    local = pages.env.filters["local"]
    # 11:30 UTC in July is 12:30 in London (BST); naive times are taken as UTC.
    assert local(datetime(2026, 7, 1, 11, 30, tzinfo=UTC)) == "Wed 01 Jul 2026 12:30"
    assert local("2026-01-15T09:05:00", "%H:%M") == "09:05"  # GMT in January
    assert local(None) == "-"


@pytest.mark.parametrize(
    ("ago", "said"),
    [
        (timedelta(seconds=30), "0 min"),
        (timedelta(minutes=59), "59 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=3, minutes=20), "3 h 20 min"),
        (timedelta(hours=47, minutes=59), "47 h 59 min"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=-1), "0 min"),  # a clock a little ahead is not a negative age
    ],
)
def test_age_as_a_person_says_it(ago: timedelta, said: str) -> None:
    assert age(NOW - ago, NOW) == said
    assert age((NOW - ago).isoformat(), NOW) == said


def test_words_roles_actions_and_lists(pages: Pages) -> None:
    f = pages.env.filters
    assert f["words"]("unauthorised_device") == "unauthorised device"
    assert f["words"](None) == "-"
    assert f["role"]("deputy_dsl") == "Deputy DSL"
    assert f["role"]("someone_new") == "someone_new"
    assert set(ROLE_NAMES) == {
        "dsl", "deputy_dsl", "headteacher", "chair", "technician", "osg", "governor"
    }  # fmt: skip
    assert f["action"]("alert.review") == "signed the second review"
    assert f["action"]("alert.unknown") == "alert.unknown"
    assert ACTIONS["alert.export"] == "exported the evidence"
    assert plain(["a@school.example", "b@school.example"]) == "a@school.example, b@school.example"
    assert plain(3) == "3"
    assert age(None, NOW) == "-"
