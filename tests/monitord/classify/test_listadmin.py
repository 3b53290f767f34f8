"""lists remove, disable and enable: the states they leave, the totals before and after, the
audit record and the change-control mail queued with the change."""

from __future__ import annotations

import email
import json
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlalchemy import select

from alerting.listmail import change_mailer
from monitord.classify.engine import Classifier
from monitord.classify.listadmin import (
    ACTIVE,
    DISABLED,
    REMOVED,
    Counts,
    change_lists,
    list_states,
    select_lists,
)
from monitord.classify.lists import ListError, load_index, read_plain, store_list
from monitord.service.app import App
from monitord.store.database import table_of
from monitord.store.tables import AuditRow, OutboxRow


def _import(app: App, tmp_path: Path, name: str, category: str, lines: str) -> None:
    path = tmp_path / f"{name.replace('/', '_')}.txt"
    path.write_text(lines)
    content = read_plain(path, "domains", category, name)
    store_list(app.engine, app.cfg.lists_dir, content, "tech", app.clock.now())


def _states(app: App) -> dict[str, str]:
    with app.engine.connect() as conn:
        return {s.name: s.state for s in list_states(conn)}


def _mail(app: App) -> list[EmailMessage]:
    t = table_of(OutboxRow)
    with app.engine.connect() as conn:
        rows = conn.execute(select(t.c.message).order_by(t.c.id)).scalars().all()
    out = []
    for raw in rows:
        msg = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def _hosts(app: App, host: str) -> tuple[str, ...]:
    return Classifier(load_index(app.engine, None)).classify_host(host).categories


def test_disable_enable_and_remove_a_group_of_lists(app: App, tmp_path: Path) -> None:
    _import(app, tmp_path, "mine/gambling", "gambling", "bet.example\ncasino.example\n")
    _import(app, tmp_path, "mine/games", "gaming", "play.example\n")
    _import(app, tmp_path, "other", "drugs", "weed.example\n")
    mail = change_mailer(app.cfg)
    now = app.clock.now()

    change, mailed = change_lists(app.engine, "mine", "disable", "tech", now, mail)
    assert mailed == list(app.cfg.settings.recipients.headteacher)
    assert [c.name for c in change.lists] == ["mine/gambling", "mine/games"]
    assert change.before == Counts(3, 4, 0, 0)
    assert change.after == Counts(1, 1, 0, 0)
    assert _states(app) == {"mine/gambling": DISABLED, "mine/games": DISABLED, "other": ACTIVE}
    assert _hosts(app, "www.bet.example") == ()
    assert _hosts(app, "weed.example") == ("drugs",)

    # The change-control mail: who, what, and the counts before and after.
    (msg,) = _mail(app)
    assert msg["Subject"] == "[monitord] Filtering change: 2 lists disabled by tech"
    assert msg["To"] == ", ".join(mailed)
    body = msg.get_content()
    assert "tech disabled 2 lists on" in body
    assert "mine/gambling (gambling): 2 domains -> not in use" in body
    assert "domains                 4 -> 1" in body
    with app.engine.connect() as conn:
        rec = conn.execute(
            select(table_of(AuditRow)).where(table_of(AuditRow).c.action == "list.disable")
        ).one()
    assert rec.actor == "tech"
    assert rec.subject == "mine"
    detail = json.loads(rec.detail)
    assert detail["before"]["domains"] == 4
    assert detail["after"]["domains"] == 1
    assert detail["mailed_to"] == mailed

    # Disabling again changes nothing and says why.
    with pytest.raises(ListError, match="nothing to disable: the list is disabled"):
        change_lists(app.engine, "mine/games", "disable", "tech", now, mail)

    change, _ = change_lists(app.engine, "mine/gambling", "enable", "tech", now, mail)
    assert change.after == Counts(2, 3, 0, 0)
    assert _hosts(app, "www.bet.example") == ("gambling",)

    # Removing deletes the stored copy: it cannot be enabled, only imported again.
    stored = {s.name: s.path for s in list_states(app.engine.connect())}
    change, _ = change_lists(app.engine, "mine", "remove", "tech", now, mail)
    assert [c.name for c in change.lists] == ["mine/gambling", "mine/games"]
    assert change.after == Counts(1, 1, 0, 0)
    assert not Path(stored["mine/gambling"]).exists()
    assert _states(app)["mine/games"] == REMOVED
    with pytest.raises(ListError, match="nothing to enable: the list is removed"):
        change_lists(app.engine, "mine/games", "enable", "tech", now, mail)
    assert len(_mail(app)) == 3
    _import(app, tmp_path, "mine/games", "gaming", "play.example\n")
    assert _states(app)["mine/games"] == ACTIVE


def test_an_unknown_name_and_a_name_prefix_that_is_not_a_group(app: App, tmp_path: Path) -> None:
    _import(app, tmp_path, "mine", "gambling", "bet.example\n")
    with pytest.raises(ListError, match="no list named 'min'"):
        change_lists(app.engine, "min", "disable", "tech", app.clock.now())
    with app.engine.connect() as conn:
        assert [s.name for s in select_lists(list_states(conn), "mine/")] == ["mine"]


def test_no_headteacher_address_still_audits_the_change(app: App, tmp_path: Path) -> None:
    _import(app, tmp_path, "mine", "gambling", "bet.example\n")
    change, mailed = change_lists(app.engine, "mine", "disable", "tech", app.clock.now())
    assert mailed == []
    assert change.after.lists == 0
    assert _mail(app) == []
