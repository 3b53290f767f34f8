"""The devices page per role: the technician and the safeguarding staff see every device
with its agent and when the network last saw it, whom it is assigned to, the unauthorised
devices seen and the monitoring gaps, and nothing a person did; the chair, the Online
Safety Group and governors are refused and not offered the link."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from monitord.identity.agents import add_agent, agent_for_token
from monitord.settings.config import Source
from tests.monitord.web.school import Console
from tests.monitord.web.test_pages import sign_in

SEE = ["tech", "sam.dsl", "dep", "helen.h"]


def enrolled(console: Console) -> None:
    """Alice's laptop has an agent that reported an hour ago; a DNS log went quiet."""
    school = console.school
    engine, now = school.app.engine, school.clock.now()
    token = add_agent(engine, "alice-agent", "tech", now - timedelta(days=2), "LAP-ALICE")
    assert agent_for_token(engine, token, now - timedelta(hours=1)) is not None
    log = school.cfg.base_dir / "quiet.log"
    log.write_text("")
    three_hours_ago = (now - timedelta(hours=3)).timestamp()
    os.utime(log, (three_hours_ago, three_hours_ago))
    quiet = Source(name="office-dns", format="dnsmasq", path=str(log))
    school.cfg.settings = school.cfg.settings.model_copy(update={"sources": [quiet]})


@pytest.mark.stores
@pytest.mark.parametrize("who", SEE)
def test_who_sees_the_devices(console: Console, who: str) -> None:
    enrolled(console)
    c, _ = sign_in(console, who, "/devices")
    page = c.get("/devices").text
    assert '<a href="/devices">Devices</a>' in page
    assert "Known devices (5)" in page
    assert "<strong>LAP-ALICE</strong>" in page
    assert "assigned to alice.p" in page
    assert "<code>aa:bb:cc:00:00:01</code>" in page
    assert "agent alice-agent: last report " in page
    assert page.count("no agent enrolled") == 4
    assert page.count("on the network ") == 5
    # The unknown device the technician's alert is about, linked to its alert.
    assert "Unauthorised devices seen (1 open)" in page
    assert f'<a href="/alerts/{console.alert["device"]}">' in page
    assert "aa:bb:cc:dd:ee:ff · 10.0.0.200" in page
    assert "<strong>office-dns</strong> (dnsmasq): nothing written since" in page
    assert "limit 120 min" in page
    assert "<strong>Unauthorised device</strong>" in page
    assert "<strong>Monitoring gap</strong>" not in page
    # Nothing a person did: no alert about content, no domain looked up.
    assert "pornhub" not in page
    assert f'<a href="/alerts/{console.alert["alice.p"]}">' not in page


@pytest.mark.parametrize("who", ["chair", "osg", "gov"])
def test_other_roles_are_refused(console: Console, who: str) -> None:
    c, _ = sign_in(console, who, "/devices", status=403)
    page = c.get("/devices").text
    assert "LAP-ALICE" not in page
    assert '<a href="/devices">' not in page


def test_with_nothing_silent(console: Console) -> None:
    c, _ = sign_in(console, "tech", "/devices")
    page = c.get("/devices").text
    assert "No source is silent past its limit now." in page
    assert "No open monitoring gap alert." in page
