from __future__ import annotations

import pytest
from sqlalchemy import select

from monitord.agents import AgentError, add_agent, agent_for_token, list_agents, revoke_agent
from monitord.app import App
from monitord.store import table_of
from monitord.tables import AgentRow, AuditRow

pytestmark = pytest.mark.stores


def test_token_shown_once_stored_as_a_hash(app: App) -> None:
    now = app.clock.now()
    token = add_agent(app.engine, "y6-lt-07", "it.tech", now)
    with app.engine.connect() as conn:
        stored = conn.execute(select(table_of(AgentRow))).one()
        actions = [r.action for r in conn.execute(select(table_of(AuditRow)))]
    assert token not in str(tuple(stored))
    assert len(stored.token_sha256) == 64
    assert agent_for_token(app.engine, token, now) == "y6-lt-07"
    assert agent_for_token(app.engine, token + "x", now) is None
    assert actions == ["agent.add"]
    [info] = list_agents(app.engine)
    assert info.last_seen_at == now


def test_revoke_then_reissue(app: App) -> None:
    now = app.clock.now()
    old = add_agent(app.engine, "pc1", "it", now)
    with pytest.raises(AgentError, match="revoke it first"):
        add_agent(app.engine, "pc1", "it", now)
    revoke_agent(app.engine, "pc1", "it", now)
    assert agent_for_token(app.engine, old, now) is None
    new = add_agent(app.engine, "pc1", "it", now)
    assert agent_for_token(app.engine, new, now) == "pc1"
    with pytest.raises(AgentError, match="no active agent"):
        revoke_agent(app.engine, "nobody", "it", now)
    with pytest.raises(AgentError, match="letters, digits"):
        add_agent(app.engine, "../etc", "it", now)
