"""Source health as a page: the technician and safeguarding staff see the daemon, the
sources, the mail waiting and the store; the Online Safety Group and governors do not."""

from __future__ import annotations

import pytest

from tests.monitord.web.school import Console
from tests.monitord.web.test_pages import sign_in


def test_the_technician_sees_source_health(console: Console) -> None:
    c, _ = sign_in(console, "tech", "/health")
    page = c.get("/health").text
    assert "Not running: no daemon has run here yet" in page
    # Five alerts mailed (the technical one was put in the store without mail).
    assert "Mail: 5 queued, 0 failed" in page
    assert "Alerts not closed: 0 critical, 5 high, 1 medium, 0 low." in page


@pytest.mark.parametrize("username", ["osg", "gov", "chair"])
def test_roles_without_it_are_refused(console: Console, username: str) -> None:
    sign_in(console, username, "/health", 403)
