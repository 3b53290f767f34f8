from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select, update

from monitord.identity.agents import (
    AgentError,
    add_agent,
    agent_for_token,
    enrolments,
    list_agents,
    revoke_agent,
    warn_unbound,
)
from monitord.identity.roster import import_devices, import_people
from monitord.service.app import App
from monitord.store.database import table_of
from monitord.store.tables import AgentRow, AuditRow

pytestmark = pytest.mark.stores

DEVICES = (
    "device_id,mac,hostname,ownership,assigned_to\n"
    "y6-lt-07,aa:00:00:00:00:07,Y6-LT-07,school_shared,\n"
    "pc1,aa:00:00:00:00:01,PC1,school_shared,\n"
    "head-lt,aa:00:00:00:00:99,HEAD-LT.school.local,school_single,s.head\n"
)


def with_devices(app: App, folder: Path) -> None:
    """The devices file every agent test enrols against."""
    people = folder / "people-for-agents.csv"
    people.write_text("username,display_name,role\ns.head,Sam Head,headteacher\n")
    import_people(app.engine, people, "it", app.clock.now())
    path = folder / "devices-for-agents.csv"
    path.write_text(DEVICES, encoding="utf-8")
    import_devices(app.engine, path, "it", app.clock.now())


def enrol(app: App, folder: Path, name: str = "y6-lt-07", device: str | None = None) -> str:
    """Import the devices and enrol ``name`` for ``device`` (by default its namesake)."""
    with_devices(app, folder)
    return add_agent(app.engine, name, "it", app.clock.now(), device or name)


def test_token_shown_once_stored_as_a_hash(app: App, tmp_path: Path) -> None:
    now = app.clock.now()
    token = enrol(app, tmp_path)
    with app.engine.connect() as conn:
        stored = conn.execute(select(table_of(AgentRow))).one()
        audit = [(r.action, r.detail) for r in conn.execute(select(table_of(AuditRow)))]
    assert token not in str(tuple(stored))
    assert len(stored.token_sha256) == 64
    found = agent_for_token(app.engine, token, now)
    assert found is not None
    assert (found.agent, found.device_id, found.hostname, found.mac) == (
        "y6-lt-07",
        "y6-lt-07",
        "Y6-LT-07",
        "aa:00:00:00:00:07",
    )
    assert found.names == {"y6-lt-07"}
    assert agent_for_token(app.engine, token + "x", now) is None
    assert ("agent.add", '{"device": "y6-lt-07"}') in audit
    [info] = list_agents(app.engine)
    assert (info.last_seen_at, info.device_id) == (now, "y6-lt-07")


def test_revoke_then_reissue(app: App, tmp_path: Path) -> None:
    now = app.clock.now()
    old = enrol(app, tmp_path, "pc1")
    with pytest.raises(AgentError, match="revoke it first"):
        add_agent(app.engine, "pc1", "it", now, "pc1")
    revoke_agent(app.engine, "pc1", "it", now)
    assert agent_for_token(app.engine, old, now) is None
    new = add_agent(app.engine, "pc1", "it", now, "pc1")
    assert getattr(agent_for_token(app.engine, new, now), "agent", None) == "pc1"
    with pytest.raises(AgentError, match="no active agent"):
        revoke_agent(app.engine, "nobody", "it", now)
    with pytest.raises(AgentError, match="letters, digits"):
        add_agent(app.engine, "../etc", "it", now, "pc1")


def test_an_agent_is_enrolled_only_for_a_device_in_the_devices_file(
    app: App, tmp_path: Path
) -> None:
    with_devices(app, tmp_path)
    with pytest.raises(AgentError, match="no device 'nosuch' in the devices file"):
        add_agent(app.engine, "pc1", "it", app.clock.now(), "nosuch")
    token = add_agent(app.engine, "head-agent", "it", app.clock.now(), "head-lt")
    found = agent_for_token(app.engine, token, app.clock.now())
    assert found is not None
    assert found.names == {"head-lt"}  # its device id and its host name's first label


def test_an_agent_enrolled_before_devices_is_refused_until_enrolled_again(
    app: App, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = app.clock.now()
    old = enrol(app, tmp_path, "pc1")
    table = table_of(AgentRow)
    with app.engine.begin() as conn:  # as migration 0012 leaves an agent added before it
        conn.execute(update(table).values(device_id=None))
    found = agent_for_token(app.engine, old, now)
    assert found is not None
    assert found.device_id is None
    assert not found.known
    caplog.set_level(logging.WARNING, logger="monitord.identity.agents")
    assert warn_unbound(app.engine) == ["pc1"]
    assert "agent pc1 is bound to no device" in caplog.text
    assert "monitord agents add pc1 --device DEVICE_ID" in caplog.text
    new = add_agent(app.engine, "pc1", "it", now, "pc1")  # enrolled again: a new token
    assert agent_for_token(app.engine, old, now) is None
    assert getattr(agent_for_token(app.engine, new, now), "device_id", None) == "pc1"
    assert warn_unbound(app.engine) == []
    assert enrolments(app.engine)["pc1"].known
