"""The annual filtering and monitoring review's page per role: the DSL, deputies,
headteacher and technician record one with the form (its CSRF token checked) and read them;
the chair and governors read them only; the Online Safety Group neither. A bad field is
named and the form keeps what was given."""

from __future__ import annotations

import re

import pytest

from monitord.casework.reviews import list_reviews
from tests.monitord.web.school import Console
from tests.monitord.web.test_pages import sign_in

FORM = {
    "date": "2026-11-18",
    "reviewer": ["helen.h", "tech", "sam.dsl"],
    "checked": ["roles", "tested", "monitoring"],
    "notes": "Went through the term's filtering checks together.",
    "changed": "Turned on SafeSearch for the guest network.",
    "next": "2027-11-01",
}


@pytest.mark.parametrize("who", ["sam.dsl", "dep", "helen.h", "tech"])
def test_who_records_a_review(console: Console, who: str) -> None:
    c, csrf = sign_in(console, who, "/reviews")
    page = c.get("/reviews").text
    assert '<a href="/reviews">Review</a>' in page
    assert "No review has been recorded yet." in page
    r = c.post("/reviews", data={**FORM, "csrf": csrf})
    assert (r.status_code, r.headers["location"]) == (303, "/reviews?done=1")
    page = c.get("/reviews?done=1").text
    assert "Review recorded." in page
    assert "Next review due by <strong>01 November 2027</strong>" in page
    assert (
        "Reviewed by Helen Head (Headteacher), Tariq Tech (Technician), Sam Someone (DSL)" in page
    )
    assert "Turned on SafeSearch for the guest network." in page
    [review] = list_reviews(console.school.app.engine)
    assert review.recorded_by == who
    [record] = console.school.audit("review.add")
    assert record["actor"] == who


@pytest.mark.parametrize("who", ["chair", "gov"])
def test_the_chair_and_governors_read_only(console: Console, who: str) -> None:
    tech, csrf = sign_in(console, "tech", "/reviews")
    tech.post("/reviews", data={**FORM, "csrf": csrf})
    c, own = sign_in(console, who, "/reviews")
    page = c.get("/reviews").text
    assert '<a href="/reviews">Review</a>' in page
    assert "Turned on SafeSearch for the guest network." in page
    assert "Record the review" not in page
    r = c.post("/reviews", data={**FORM, "csrf": own})
    assert r.status_code == 403
    assert len(list_reviews(console.school.app.engine)) == 1


def test_the_online_safety_group_is_refused(console: Console) -> None:
    c, csrf = sign_in(console, "osg", "/reviews", status=403)
    assert '<a href="/reviews">' not in c.get("/reviews").text
    assert c.post("/reviews", data={**FORM, "csrf": csrf}).status_code == 403
    assert list_reviews(console.school.app.engine) == []


def test_the_form_needs_its_token(console: Console) -> None:
    c, _ = sign_in(console, "sam.dsl", "/reviews")
    r = c.post("/reviews", data={**FORM, "csrf": "forged"})
    assert r.status_code == 403
    assert "nothing was recorded" in r.text
    assert list_reviews(console.school.app.engine) == []


def test_a_bad_field_is_named_and_the_form_kept(console: Console) -> None:
    c, csrf = sign_in(console, "sam.dsl", "/reviews")
    r = c.post("/reviews", data={**FORM, "reviewer": ["sam.dsl"], "csrf": csrf})
    assert r.status_code == 400
    assert "reviewers: name at least two accounts" in r.text
    assert "Turned on SafeSearch for the guest network.</textarea>" in r.text
    assert re.search(r'value="tested" checked', r.text)
    r = c.post("/reviews", data={**FORM, "next": "soon", "csrf": csrf})
    assert "next review: expected a date as YYYY-MM-DD" in r.text
    assert list_reviews(console.school.app.engine) == []
