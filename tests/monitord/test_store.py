from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from monitord.store import (
    SchemaError,
    audit,
    current_revision,
    head_revision,
    make_engine,
    open_store,
    verify_audit,
)
from monitord.tables import is_model_table

T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def test_new_store_is_created_at_head_in_wal_mode(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path}/s/m.db")
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_migrations_describe_the_models(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path}/m.db")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _models_only})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def _models_only(name: str | None, kind: str, _parents: object) -> bool:
    """Leave out the text index the migrations make beside the models (FTS5 tables)."""
    return kind != "table" or name is None or is_model_table(name)


def test_a_database_behind_is_refused_with_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    open_store(url).dispose()
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(SchemaError, match="run `monitord db upgrade`"):
        open_store(url)


def test_foreign_database_is_not_touched(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE payroll (id INTEGER)")
    with pytest.raises(SchemaError):
        open_store(f"sqlite:///{tmp_path}/other.db")


def test_audit_chain_verifies_and_catches_an_edit(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path}/m.db")
    with engine.begin() as conn:
        for i in range(5):
            audit(
                conn,
                "dsl",
                "alert.note",
                f"alert:{i}",
                {"text": f"note {i}"},
                now=T0 + timedelta(minutes=i),
            )
    with engine.connect() as conn:
        assert verify_audit(conn) == (5, None)
    engine.dispose()
    # Someone edits a note directly in the SQLite file.
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.execute('UPDATE audit SET detail = \'{"text": "nothing to see"}\' WHERE id = 3')
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    with engine.connect() as conn:
        assert verify_audit(conn) == (2, 3)


def test_audit_chain_catches_a_deleted_record(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path}/m.db")
    with engine.begin() as conn:
        for i in range(4):
            audit(conn, "dsl", "alert.view", f"alert:{i}", now=T0)
    engine.dispose()
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.execute("DELETE FROM audit WHERE id = 2")
    with make_engine(f"sqlite:///{tmp_path}/m.db").connect() as conn:
        assert verify_audit(conn) == (1, 3)
