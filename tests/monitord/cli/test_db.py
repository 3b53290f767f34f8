"""``monitord retention run`` and the store's commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from monitord.casework.totpkey import TotpKey, key_file
from monitord.cli.main import main
from monitord.service.initdir import init_dir
from monitord.settings.config import load_config
from monitord.store.database import make_engine, table_of, upgrade
from monitord.store.tables import AccountRow
from tests.stores import rows, use_store


def test_retention_run_dry_then_for_real_and_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    from tests.monitord.store.test_retention import _school

    cfg, _clock, _app = _school(tmp_path, store_url)
    assert cfg.path is not None
    config = str(cfg.path)
    # The store's data is from June and November 2026; "now" is today, so June is long gone.
    assert main(["--config", config, "retention", "run", "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True
    assert dry["removed"]["rejected"] >= 1  # June's, at least
    assert main(["--config", config, "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["last_retention"] is None
    assert main(["--config", config, "retention", "run"]) == 0
    shown = capsys.readouterr().out
    assert "removed" in shown
    assert "recorded in the audit trail" in shown
    assert main(["--config", config, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["last_retention"]["removed"] == dry["removed"]
    assert status["store"]["schema_current"] is True
    assert main(["--config", config, "status"]) == 0
    assert "last retention run:" in capsys.readouterr().out


SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 32 base32 characters, as accounts have


@pytest.mark.stores
def test_db_upgrade_encrypts_the_totp_secrets_kept_plain(
    tmp_path: Path, blank_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = init_dir(tmp_path / "site")[0]
    use_store(path, blank_url)
    cfg = load_config(path)
    engine = make_engine(cfg.database_url)
    upgrade(engine, "0016")  # accounts, their secrets in the clear
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(AccountRow)).values(
                username="helen.h", role="dsl", state="active", totp_secret=SECRET,
                password_hash="x", totp_step=0, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    engine.dispose()
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    result = capsys.readouterr()
    assert "database schema: 0016 -> " in result.out
    key = key_file(cfg)
    assert f"encrypted the two-factor secrets of 1 account(s) with the key in {key}" in result.err
    engine = make_engine(cfg.database_url)
    [(kept,)] = rows(engine, "SELECT totp_secret FROM accounts")
    assert kept.startswith("aesgcm1:")
    assert len(kept) > 64  # the column was widened for it
    with engine.connect() as conn:
        assert TotpKey(key).open(conn, "helen.h", kept) == SECRET
    engine.dispose()
