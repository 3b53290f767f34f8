"""What a command leaves in the service's state: the folders and files it may leave, whom
they go to, and the audit trail's anchor written as it ends."""

from __future__ import annotations

import os
import pwd
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.casework.trail import anchor_file
from monitord.core.private import lookup_owner
from monitord.service.initdir import init_dir
from monitord.service.statefiles import (
    finish,
    login_name,
    missing_folders,
    owner_for,
    state_folders,
    state_paths,
)
from monitord.settings.config import Config, load_config
from monitord.store.database import audit, open_store

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def _site(tmp_path: Path) -> Config:
    return load_config(init_dir(tmp_path / "site")[0])


def test_a_login_name_comes_from_the_user_id_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUDO_USER", "someone-else")
    monkeypatch.setenv("USER", "someone-else")
    assert login_name(os.getuid()) == pwd.getpwuid(os.getuid()).pw_name
    assert login_name(2**31 - 2) == f"uid {2**31 - 2}"


def test_the_state_folders_and_paths_of_a_sqlite_site(tmp_path: Path) -> None:
    cfg = _site(tmp_path)
    var = tmp_path / "site" / "var"
    assert state_folders(cfg) == [
        var,
        var / "lists",
        var / "outbox-mail",
        var / "spool",
        var / "evidence",
    ]
    assert missing_folders(cfg) == [var / "evidence"]  # init makes the rest
    (var / "monitord.db.mail-sent.2026-11").touch()
    paths = state_paths(cfg)
    assert paths[0] == anchor_file(cfg)
    assert var / "monitord.db" in paths
    assert var / "monitord.db-wal" in paths
    assert var / "monitord.db.mail-sent.2026-11" in paths


def test_without_a_service_user_ones_own_folders_hand_nothing_over(tmp_path: Path) -> None:
    # Not root: the files are the user's; root in root's own folders: nothing to do.
    assert owner_for(_site(tmp_path)) is None


def test_finish_anchors_the_trail(tmp_path: Path) -> None:
    cfg = _site(tmp_path)
    engine = open_store(cfg.database_url)
    with engine.begin() as conn:
        audit(conn, "tester", "people_import", "roster.csv", now=NOW)
    engine.dispose()
    assert finish(cfg, None, "monitord people import", NOW) == []
    anchors = anchor_file(cfg).read_text(encoding="utf-8")
    assert "monitord people import" in anchors
    # Nothing new in the trail: the anchor is not written twice.
    assert finish(cfg, None, "monitord people import", NOW) == []
    assert anchor_file(cfg).read_text(encoding="utf-8") == anchors


def test_a_store_not_made_yet_is_not_anchored(tmp_path: Path) -> None:
    cfg = _site(tmp_path)
    assert finish(cfg, None, "monitord config check", NOW) == []
    assert not anchor_file(cfg).exists()
    assert not (tmp_path / "site" / "var" / "monitord.db").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files over needs root")
def test_root_leaves_the_service_user_its_files(tmp_path: Path) -> None:
    cfg = _site(tmp_path)
    nobody = lookup_owner("nobody")
    assert nobody is not None
    open_store(cfg.database_url).dispose()
    made = [tmp_path / "site" / "var" / "evidence"]
    made[0].mkdir()
    warnings = finish(cfg, nobody, "monitord db upgrade", NOW, made)
    assert warnings == []
    for p in (tmp_path / "site" / "var" / "monitord.db", made[0]):
        assert os.stat(p).st_uid == nobody.uid
